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

    def telegram_button(self, start: str = "") -> tuple[Button, ...]:
        """A row with the button that opens the bot (empty when not configured)."""
        if not self.telegram_bot_username:
            return ()
        return (Button(texts.BUTTON_OPEN_TELEGRAM, url=self.telegram_url(start)),)

    def zalo_button(self) -> tuple[Button, ...]:
        """A row with the button that opens the OA's page (empty when not configured)."""
        return (Button(texts.BUTTON_OPEN_ZALO, url=self.zalo_oa_url),) if self.zalo_oa_url else ()

    def buttons(self) -> tuple[tuple[Button, ...], ...]:
        return tuple(row for row in (self.telegram_button(), self.zalo_button()) if row)
