"""The sections of the channels citizens write through: [telegram], [zalo] and [web] (the
web chat and the bot's own web server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TelegramMode = Literal["polling", "webhook"]


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: TelegramMode = "polling"
    webhook_url: str = ""
    webhook_path: str = "/telegram"
    secret_token: str = ""
    staff_ids: tuple[int, ...] = ()
    # Telegram's documented limits: ~30 messages/s overall, 1 message/s per chat.
    rate_per_second: float = 30.0
    per_chat_interval_seconds: float = 1.0

    @property
    def enabled(self) -> bool:
        return bool(self.token)


@dataclass(frozen=True, slots=True)
class ZaloConfig:
    app_id: str = ""
    oa_secret_key: str = ""
    app_secret_key: str = ""
    access_token: str = ""
    refresh_token: str = ""
    api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    webhook_path: str = "/zalo/webhook"
    max_event_age_seconds: int = 300
    rate_per_second: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.oa_secret_key and self.access_token)


@dataclass(frozen=True, slots=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    # Origins allowed to open the chat WebSocket besides the page's own.
    allowed_origins: tuple[str, ...] = ()
    messages_per_minute: int = 20
    # All chats from one network address together (0 = no limit). Mobile carriers put many
    # phones behind one address, hence well above the per-connection limit.
    messages_per_minute_per_address: int = 200
    connections_per_address: int = 50
    # New chats and greetings (a page opened or reloaded) from one network address a
    # minute (0 = no limit): each costs a turn and asks nothing, so a flood of them is cut.
    chat_starts_per_minute_per_address: int = 60
    # Behind a reverse proxy every connection comes from the proxy: take the client's
    # address from the last X-Forwarded-For entry (the one the proxy added) instead.
    trust_forwarded_for: bool = False
    # Exchanges of each web chat kept to show again when the page is reloaded (0 = none).
    history_exchanges: int = 20
    # Where a web chat citizen gets notices (the web page cannot reach them once closed):
    # the Telegram bot's username (without "@"), for links that open it with the dossier
    # already followed, and the Zalo Official Account's page (https://zalo.me/...).
    telegram_bot_username: str = ""
    zalo_oa_url: str = ""
    # How long such a Telegram link works (it works once).
    follow_link_minutes: int = 30
