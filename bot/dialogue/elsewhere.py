"""Where a citizen on a channel that cannot carry notices (the web chat) gets them: the
center's Telegram bot and Zalo Official Account, from `[web] telegram_bot_username` and
`[web] zalo_oa_url`."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.messages import Button


@dataclass(frozen=True, slots=True)
class ElsewhereLinks:
    telegram_bot_username: str = ""
    zalo_oa_url: str = ""

    @property
    def offered(self) -> bool:
        return bool(self.telegram_bot_username or self.zalo_oa_url)

    def telegram_url(self, start: str = "") -> str:
        """The bot's link; with `start`, Telegram sends the bot "/start <start>" when the
        citizen presses Start (deep linking: at most 64 characters of A-Z, a-z, 0-9, _ -)."""
        url = f"https://t.me/{self.telegram_bot_username}"
        return f"{url}?start={start}" if start else url

    def buttons(self, telegram_start: str = "") -> tuple[tuple[Button, ...], ...]:
        rows: list[tuple[Button, ...]] = []
        if self.telegram_bot_username:
            url = self.telegram_url(telegram_start)
            rows.append((Button(texts.BUTTON_OPEN_TELEGRAM, url=url),))
        if self.zalo_oa_url:
            rows.append((Button(texts.BUTTON_OPEN_ZALO, url=self.zalo_oa_url),))
        return tuple(rows)
