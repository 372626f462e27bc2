"""Notices for a dossier looked up on the web chat: a link that opens the center's Telegram
bot with the dossier already followed, end to end.

The whole bot (`running_bot`) with Telegram on the fake Bot API: a citizen looks a demo
dossier up on the web chat (over its WebSocket, and in Chromium for the screenshots),
presses "Báo tôi khi có thay đổi", gets a t.me link holding a single-use token (never the
receipt code), and "/start <token>" in Telegram subscribes that chat: the dossier's next
change reaches it. The token works once, for `[web] follow_link_minutes`, and only for a
chat that verified the dossier.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from e2e_support import DemoDossier, TelegramCitizen, base_config, demo_dossier
from fakes import FakeTelegramBotApi
from playwright.async_api import ViewportSize, async_playwright, expect
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.app import RunningBot, running_bot
from bot.config import Config, TelegramConfig
from bot.dossiers import bundled
from bot.dossiers.follow_links import FollowLinks
from bot.dossiers.receipt_codes import ReceiptCode
from bot.dossiers.service import DossierService, Found
from bot.messages import Channel, ChatRef
from bot.storage.database import create_engine
from bot.storage.web_tables import follow_tokens

BOT_USERNAME = "TTPVHCC_test_bot"
OA_URL = "https://zalo.me/1234567890123456789"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SCREENSHOTS = os.environ.get("WEB_CHAT_SCREENSHOTS", "")


@pytest.fixture
def config(tmp_path: Path, project_root: Path) -> Config:
    config = base_config(tmp_path, project_root)
    web = dataclasses.replace(config.web, telegram_bot_username=BOT_USERNAME, zalo_oa_url=OA_URL)
    # The watcher polls the one-stop system often, so that a change arrives within the test.
    dossiers = dataclasses.replace(config.dossiers, watch_interval_seconds=0.2)
    return dataclasses.replace(config, web=web, dossiers=dossiers)


@asynccontextmanager
async def bot_with_telegram(
    config: Config,
) -> AsyncIterator[tuple[RunningBot, FakeTelegramBotApi]]:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        telegram = TelegramConfig(
            token=api.token, base_url=api.base_url, base_file_url=api.base_file_url
        )
        async with running_bot(dataclasses.replace(config, telegram=telegram)) as running:
            assert running.telegram is not None
            await running.telegram.wait_running()
            yield running, api


class WebCitizen:
    """A citizen on the web chat, through its WebSocket (real HTTP)."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket

    async def turn(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        await self.socket.send_json(message)
        replies = []
        while (answer := await self.socket.receive_json(timeout=15))["type"] != "done":
            replies.append(answer)
        return replies

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.turn({"type": "text", "text": text})

    async def press(self, replies: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
        [action] = [
            b["action"]
            for r in replies
            for row in r["buttons"]
            for b in row
            if b["label"] == label and b["action"]
        ]
        return await self.turn({"type": "button", "action": action, "label": label})


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(
        line
        for reply in replies
        for section in reply["sections"]
        for line in [section["heading"], *section["lines"]]
        if line
    )


def url_buttons(replies: list[dict[str, Any]]) -> dict[str, str]:
    return {b["label"]: b["url"] for r in replies for row in r["buttons"] for b in row if b["url"]}


@asynccontextmanager
async def web_citizen(running: RunningBot) -> AsyncIterator[WebCitizen]:
    async with aiohttp.ClientSession() as session:
        url = running.web_url.replace("http://", "ws://") + "/ws"
        async with session.ws_connect(url) as socket:
            citizen = WebCitizen(socket)
            await citizen.turn({"type": "hello", "chat_id": None, "resume": False})
            yield citizen


async def follow_offer(citizen: WebCitizen, dossier: DemoDossier) -> list[dict[str, Any]]:
    """Look the dossier up on the web chat and press "notify me": the offer."""
    assert texts.VERIFY_PHONE.format(code=dossier.code) in text_of(await citizen.say(dossier.code))
    found = await citizen.say(dossier.phone_last4)
    assert texts.DOSSIER_HEADING.format(code=dossier.code) in text_of(found)
    return await citizen.press(found, texts.BUTTON_WATCH)


def token_of(telegram_url: str) -> str:
    parts = urlsplit(telegram_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", f"/{BOT_USERNAME}")
    [token] = parse_qs(parts.query)["start"]
    return token


async def change_status(config: Config, dossier: DemoDossier) -> None:
    """The one-stop system records a new step: the result is ready (status 9)."""
    engine = create_engine(config.dossiers.sql.url)
    zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
    now = dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
    async with engine.begin() as connection:
        await connection.execute(
            update(bundled.dossiers)
            .where(bundled.dossiers.c.code == dossier.code)
            .values(status=9)
        )
        await connection.execute(
            insert(bundled.dossier_history).values(
                dossier_code=dossier.code, at=now, status=9, step="Có kết quả"
            )
        )
    await engine.dispose()


async def test_a_dossier_looked_up_on_the_web_is_followed_on_telegram_through_the_link(
    config: Config,
) -> None:
    dossier = await demo_dossier(config)
    async with bot_with_telegram(config) as (running, api), web_citizen(running) as web:
        offer = await follow_offer(web, dossier)
        said = text_of(offer)
        assert texts.WATCH_ELSEWHERE_HEADING.format(code=dossier.code) in said
        assert "30 phút" in said and dossier.code in said  # the Zalo steps name the code
        links = url_buttons(offer)
        assert links[texts.BUTTON_OPEN_ZALO] == OA_URL
        telegram_url = links[texts.BUTTON_OPEN_TELEGRAM]
        token = token_of(telegram_url)
        # Telegram's limits for a start parameter; the receipt code is nowhere in the link.
        assert len(token) <= 64 and token.replace("_", "").replace("-", "").isalnum()
        assert dossier.code not in telegram_url
        digits = dossier.code.replace(".", "")
        assert digits not in telegram_url and dossier.code.split(".")[-1] not in token

        # Telegram opens the bot; pressing Start sends "/start <token>".
        lan = TelegramCitizen(api, 4343)
        await lan.say(f"/start {token}", texts.FOLLOW_LINK_DONE.format(code=dossier.code))
        # This chat may now see the dossier without the digits, as the web chat could.
        await lan.say(dossier.code, texts.DOSSIER_HEADING.format(code=dossier.code))

        # The link works once: another chat (a forwarded link) gets nothing.
        other = TelegramCitizen(api, 5454)
        await other.say(f"/start {token}", texts.FOLLOW_LINK_EXPIRED.split(".")[0])
        await other.say(dossier.code, texts.VERIFY_PHONE.format(code=dossier.code))
        # A made-up token neither.
        await other.say("/start f_" + "A" * 22, texts.FOLLOW_LINK_EXPIRED.split(".")[0])
        # Any other start parameter is an ordinary /start: the greeting.
        await other.say("/start thongbao", texts.MENU_ASK)

        # The dossier changes: the subscribed Telegram chat is told, the other is not.
        await change_status(config, dossier)
        notice = await lan._answer(0, texts.DOSSIER_UPDATE_HEADING.format(code=dossier.code))
        assert texts.STATUS_PLAIN[9] in notice.plain_text
        assert not any(
            texts.DOSSIER_UPDATE_HEADING.format(code=dossier.code) in m.plain_text
            for m in api.messages_to(5454)
        )

        # The center's notices from the web menu: the bot and the OA, to open.
        menu = await web.turn({"type": "button", "action": "menu:notices", "label": "x"})
        assert texts.NOTICES_ELSEWHERE in text_of(menu)
        assert url_buttons(menu) == {
            texts.BUTTON_OPEN_TELEGRAM: f"https://t.me/{BOT_USERNAME}",
            texts.BUTTON_OPEN_ZALO: OA_URL,
        }


async def test_without_links_configured_the_web_chat_offers_no_notices(
    tmp_path: Path, project_root: Path
) -> None:
    config = base_config(tmp_path, project_root)
    dossier = await demo_dossier(config)
    async with running_bot(config) as running, web_citizen(running) as web:
        await web.say(dossier.code)
        found = await web.say(dossier.phone_last4)
        labels = [b["label"] for r in found for row in r["buttons"] for b in row]
        assert texts.BUTTON_WATCH not in labels
        assert text_of(await web.say("/thongbao")) == texts.NOTICES_NOT_AVAILABLE


# --- the tokens themselves ------------------------------------------------------------------


@pytest.fixture
async def service(
    engine: AsyncEngine, tmp_path: Path, project_root: Path
) -> AsyncIterator[DossierService]:
    config = base_config(tmp_path, project_root)
    await demo_dossier(config)
    service = DossierService.from_config(config.dossiers, config.center, engine)
    yield service
    await service.close()


async def test_a_token_needs_a_verified_chat_works_once_and_expires(
    engine: AsyncEngine, service: DossierService, tmp_path: Path, project_root: Path
) -> None:
    dossier = await demo_dossier(base_config(tmp_path, project_root))
    links = FollowLinks(engine, service, dt.timedelta(minutes=30))
    web = ChatRef(Channel.WEB, "web-chat-digest")
    now = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    code = service.find_code(dossier.code, now)
    assert isinstance(code, ReceiptCode)

    assert await links.issue(web, dossier.code, now) is None  # not verified yet
    found = await service.lookup(web, "u", code, dossier.phone_last4, now=now)
    assert isinstance(found, Found)

    first = await links.issue(web, dossier.code, now)
    second = await links.issue(web, dossier.code, now)
    assert first and second and first != second
    async with engine.connect() as connection:
        stored = (await connection.execute(select(follow_tokens.c.token_hash))).scalars().all()
    assert first not in stored and second not in stored  # only digests are kept

    redeemed = await links.redeem(first, now + dt.timedelta(minutes=29))
    assert redeemed is not None and (redeemed.code, redeemed.source) == (dossier.code, web)
    assert await links.redeem(first, now + dt.timedelta(minutes=29)) is None  # once
    assert await links.redeem(second, now + dt.timedelta(minutes=30, seconds=1)) is None
    assert await links.redeem("f_short", now) is None
    assert await links.redeem(first.upper(), now) is None

    # Expired tokens are dropped when new ones are made.
    await links.issue(web, dossier.code, now + dt.timedelta(hours=1))
    async with engine.connect() as connection:
        left = (await connection.execute(select(follow_tokens.c.expires_at))).scalars().all()
    assert len(left) == 1


@pytest.mark.browser
@pytest.mark.parametrize(
    "viewport",
    [{"width": 390, "height": 844}, {"width": 1366, "height": 900}],
    ids=["phone", "desktop"],
)
async def test_the_follow_offer_in_chromium(
    config: Config, chromium_path: str, viewport: ViewportSize
) -> None:
    dossier = await demo_dossier(config)
    errors: list[str] = []
    async with running_bot(config) as running, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(viewport=viewport)).new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(running.web_url + "/")
            question = page.get_by_label("Câu hỏi của bạn")
            for text in (dossier.code, dossier.phone_last4):
                await question.fill(text)
                await question.press("Enter")
                await expect(page.locator(".msg.user").last).to_contain_text(text)
                await expect(page.locator("#typing")).to_have_text("")
            await page.get_by_role("button", name=texts.BUTTON_WATCH).click()
            telegram = page.get_by_role("link", name=texts.BUTTON_OPEN_TELEGRAM)
            await expect(telegram).to_have_attribute(
                "href", re.compile(rf"^https://t\.me/{BOT_USERNAME}\?start=f_[A-Za-z0-9_-]{{22}}$")
            )
            await expect(telegram).to_have_attribute("target", "_blank")
            zalo = page.get_by_role("link", name=texts.BUTTON_OPEN_ZALO)
            await expect(zalo).to_have_attribute("href", OA_URL)
            await expect(page.locator(".msg.bot").last).to_be_in_viewport()
            if SCREENSHOTS:
                name = "phone" if viewport["width"] < 500 else "desktop"
                await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-follow-offer.png"))
        finally:
            await browser.close()
    assert errors == []


async def test_with_only_the_zalo_oa_configured_the_offer_is_zalo_alone(
    tmp_path: Path, project_root: Path
) -> None:
    config = base_config(tmp_path, project_root)
    config = dataclasses.replace(config, web=dataclasses.replace(config.web, zalo_oa_url=OA_URL))
    dossier = await demo_dossier(config)
    async with running_bot(config) as running, web_citizen(running) as web:
        offer = await follow_offer(web, dossier)
    assert url_buttons(offer) == {texts.BUTTON_OPEN_ZALO: OA_URL}
    said = text_of(offer)
    assert "Telegram" not in said and "Zalo" in said
    engine = create_engine(config.storage.url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(select(follow_tokens))).all() == []
    finally:
        await engine.dispose()
