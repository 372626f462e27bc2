"""Helpers shared by the end-to-end tests: the bot's config on temporary databases, a demo
dossier, and citizens talking through the fake Bot API and the fake Zalo OA."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes import FakeTelegramBotApi, FakeZaloApi, SentMessage
from sqlalchemy import select

from bot.app import RunningBot, running_bot
from bot.commands.demo import create_demo
from bot.config import (
    Config,
    DossierSqlConfig,
    StorageConfig,
    TelegramConfig,
    WebConfig,
    ZaloConfig,
)
from bot.dossiers import bundled
from bot.dossiers.model import DossierStatus
from bot.storage.database import create_engine


@dataclass(frozen=True)
class DemoDossier:
    code: str
    phone_last4: str
    procedure: str


def base_config(tmp_path: Path, project_root: Path) -> Config:
    defaults = Config()
    return dataclasses.replace(
        defaults,
        catalogue=dataclasses.replace(
            defaults.catalogue,
            path=project_root / "procedures",
            vocabulary=project_root / "procedures" / "_vocabulary.toml",
        ),
        storage=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"),
        dossiers=dataclasses.replace(
            defaults.dossiers,
            sql=DossierSqlConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'dossiers.sqlite3'}"),
        ),
        web=WebConfig(host="127.0.0.1", port=0),
    )


def telegram_config_for(api: FakeTelegramBotApi) -> TelegramConfig:
    """[telegram] pointing the bot at the fake Bot API (long polling)."""
    return TelegramConfig(token=api.token, base_url=api.base_url, base_file_url=api.base_file_url)


@asynccontextmanager
async def bot_on_telegram(config: Config, api: FakeTelegramBotApi) -> AsyncIterator[RunningBot]:
    """The whole bot with Telegram (long polling on the fake Bot API), once it receives."""
    telegram = telegram_config_for(api)
    async with running_bot(dataclasses.replace(config, telegram=telegram), port=0) as running:
        assert running.telegram is not None
        await running.telegram.wait_running()
        yield running


def zalo_config_for(zalo: FakeZaloApi) -> ZaloConfig:
    """[zalo] with the fake OA's credentials and addresses."""
    return ZaloConfig(
        app_id=zalo.app_id,
        oa_secret_key=zalo.oa_secret_key,
        app_secret_key=zalo.app_secret_key,
        access_token=zalo.initial_access_token,
        refresh_token=zalo.initial_refresh_token,
        api_base=zalo.base_url,
        oauth_base=zalo.base_url,
    )


async def demo_dossier(
    config: Config, status: DossierStatus = DossierStatus.IN_PROGRESS
) -> DemoDossier:
    """A demo dossier with `status`, created the way `bot demo` does."""
    assert await create_demo(config, if_missing=False, count=20, out=io.StringIO()) == 0
    engine = create_engine(config.dossiers.sql.url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(bundled.dossiers).where(bundled.dossiers.c.status == int(status))
                )
            ).first()
    finally:
        await engine.dispose()
    assert row is not None
    return DemoDossier(row.code, row.applicant_phone[-4:], row.procedure_name)


class TelegramCitizen:
    """A citizen in one Telegram chat, talking through the fake Bot API."""

    def __init__(self, api: FakeTelegramBotApi, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id

    def _seen(self) -> int:
        return len(self.api.messages_to(self.chat_id))

    async def _answer(self, seen: int, containing: str) -> SentMessage:
        def found() -> bool:
            return any(
                containing in m.plain_text for m in self.api.messages_to(self.chat_id)[seen:]
            )

        await self.api.wait_until(found)
        return next(
            m for m in self.api.messages_to(self.chat_id)[seen:] if containing in m.plain_text
        )

    async def say(self, text: str, expect: str) -> SentMessage:
        seen = self._seen()
        self.api.add_message(self.chat_id, text, first_name="Lan")
        return await self._answer(seen, expect)

    async def send_photo(self, data: bytes, expect: str, **options: Any) -> SentMessage:
        """Send a photo (options as FakeTelegramBotApi.add_photo's) and wait for a reply."""
        seen = self._seen()
        self.api.add_photo(self.chat_id, data, **options)
        return await self._answer(seen, expect)

    async def press(self, message: SentMessage, label: str, expect: str) -> SentMessage:
        [data] = [b["callback_data"] for row in message.buttons for b in row if b["text"] == label]
        seen = self._seen()
        self.api.add_callback_query(self.chat_id, data, message=message)
        return await self._answer(seen, expect)


class ZaloCitizen:
    """A Zalo OA follower, sending signed events to the bot's webhook through the fake."""

    def __init__(self, zalo: FakeZaloApi, webhook_url: str, user_id: str) -> None:
        self.zalo = zalo
        self.webhook_url = webhook_url
        self.user_id = user_id

    async def send(self, event: dict[str, object], expect: str) -> str:
        seen = len(self.zalo.messages_to(self.user_id))
        assert await self.zalo.deliver(self.webhook_url, event) == 200

        def found() -> bool:
            return any(expect in m.text for m in self.zalo.messages_to(self.user_id)[seen:])

        await self.zalo.wait_until(found)
        return next(m.text for m in self.zalo.messages_to(self.user_id)[seen:] if expect in m.text)

    async def say(self, text: str, expect: str) -> str:
        return await self.send(self.zalo.user_text(self.user_id, text), expect)
