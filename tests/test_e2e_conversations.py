"""Whole conversations with the whole bot (`bot.app.running_bot`) on every channel.

Telegram (long polling and webhook) runs python-telegram-bot against the fake Bot API,
Zalo receives signed (and refuses unsigned) events from the fake OA API, and the web chat
is used in headless Chromium. Each conversation goes the same way: the greeting, a
question without diacritics, a follow-up about the fee, "không phải" (not this one) and
picking another procedure, a dossier lookup with its verification (demo dossiers), and an
unknown question. Expected wording comes from bot.texts, so rewording does not break
these tests; the procedure asked about comes from the shipped catalogue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from e2e_support import (
    DemoDossier,
    TelegramCitizen,
    ZaloCitizen,
    base_config,
    demo_dossier,
    telegram_config_for,
    zalo_config_for,
)
from fakes import FakeTelegramBotApi, FakeZaloApi
from playwright.async_api import Page, async_playwright, expect

from bot import texts
from bot.app import RunningBot, running_bot
from bot.config import (
    BroadcastConfig,
    Config,
    TelegramConfig,
)

QUESTION = "lam giay khai sinh can gi"  # no diacritics
PROCEDURE = "Đăng ký khai sinh"
FEE_FOLLOW_UP = "còn lệ phí thì sao?"
NOT_THIS_ONE = "không phải"
UNKNOWN_QUESTION = "thủ tục đăng ký thi hoa hậu"
NO_MATCH = texts.DECLINE_NO_MATCH.split("\n")[0]
GREETING = texts.GREETING.split("\n")[0].format(center_name=Config().center.name)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def config(tmp_path: Path, project_root: Path) -> Config:
    # The staff token shows /healthz's details.
    config = base_config(tmp_path, project_root)
    return dataclasses.replace(config, broadcast=BroadcastConfig(api_token="staff-token"))


@pytest.fixture
async def dossier(config: Config) -> DemoDossier:
    """A demo dossier in progress, created the way `bot demo` does."""
    return await demo_dossier(config)


async def health_of(running: RunningBot) -> dict[str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            running.web_url + "/healthz",
            headers={"Authorization": f"Bearer {running.core.config.broadcast.api_token}"},
        ) as response,
    ):
        body = await response.json()
    return {name: value["state"] for name, value in body["components"].items()}


# --- Telegram -------------------------------------------------------------------------------


async def telegram_conversation(api: FakeTelegramBotApi, dossier: DemoDossier) -> None:
    citizen = TelegramCitizen(api, 4242)
    greeting = await citizen.say("/start", GREETING)
    assert [b["text"] for b in greeting.buttons[0]][:2] == [texts.MENU_ASK, texts.MENU_DOSSIER]

    answer = await citizen.say(QUESTION, texts.HEADING_DOCUMENTS)
    assert answer.plain_text.startswith(PROCEDURE)
    assert "<b>" in answer.text  # headings in bold
    fee = await citizen.say(FEE_FOLLOW_UP, texts.HEADING_FEE)
    assert fee.plain_text.startswith(PROCEDURE)

    others = await citizen.say(NOT_THIS_ONE, texts.CLARIFY_OTHERS)
    other = others.buttons[0][0]["text"]
    name = other.rstrip("…")  # long procedure names are shortened on buttons
    assert other != PROCEDURE
    picked = await citizen.press(others, other, name)
    assert picked.plain_text.startswith(name)

    await citizen.say(dossier.code, texts.VERIFY_PHONE.format(code=dossier.code))
    found = await citizen.say(dossier.phone_last4, texts.DOSSIER_HEADING.format(code=dossier.code))
    assert dossier.procedure in found.plain_text
    assert texts.STATUS_PLAIN[4] in found.plain_text

    await citizen.say(UNKNOWN_QUESTION, NO_MATCH)
    assert all(m.parse_mode == "HTML" for m in api.messages_to(4242))


async def test_telegram_long_polling_conversation(config: Config, dossier: DemoDossier) -> None:
    async with FakeTelegramBotApi() as api:
        telegram = telegram_config_for(api)
        async with running_bot(dataclasses.replace(config, telegram=telegram)) as running:
            assert running.telegram is not None
            await running.telegram.wait_running()
            await telegram_conversation(api, dossier)
            assert (await health_of(running))["telegram"] == "ok"
        assert api.calls["getUpdates"] > 0
        assert api.webhook_url == ""


async def test_telegram_webhook_conversation(config: Config, dossier: DemoDossier) -> None:
    async with FakeTelegramBotApi() as api:
        telegram = TelegramConfig(
            token=api.token,
            base_url=api.base_url,
            base_file_url=api.base_file_url,
            mode="webhook",
            secret_token="e2e-secret",
        )
        async with running_bot(dataclasses.replace(config, telegram=telegram)) as running:
            assert running.telegram is not None
            await running.telegram.wait_running()
            assert api.webhook_url == running.web_url + telegram.webhook_path
            await telegram_conversation(api, dossier)
            async with aiohttp.ClientSession() as session:
                forged = await session.post(api.webhook_url, json={"update_id": 1})
                assert forged.status == 401
        assert api.calls["getUpdates"] == 0
        assert {delivery.status for delivery in api.webhook_deliveries} == {200}


# --- Zalo -------------------------------------------------------------------------------------


async def test_zalo_conversation_with_signed_events(config: Config, dossier: DemoDossier) -> None:
    async with FakeZaloApi() as zalo:
        zalo_config = zalo_config_for(zalo)
        async with running_bot(dataclasses.replace(config, zalo=zalo_config)) as running:
            webhook = running.web_url + zalo_config.webhook_path
            citizen = ZaloCitizen(zalo, webhook, "zalo-user-1")

            # Unsigned or forged events are refused and never answered.
            forged = zalo.user_text("zalo-user-1", QUESTION)
            assert await zalo.deliver(webhook, forged, signed=False) == 401
            assert await zalo.deliver(webhook, forged, signature="mac=" + "f" * 64) == 401

            greeting = await citizen.send(zalo.follow("zalo-user-1"), GREETING)
            assert f"1. {texts.MENU_ASK}" in greeting
            answer = await citizen.say(QUESTION, texts.HEADING_DOCUMENTS)
            assert answer.startswith(PROCEDURE)
            assert "<b>" not in answer
            fee = await citizen.say(FEE_FOLLOW_UP, texts.HEADING_FEE)
            assert fee.startswith(PROCEDURE)
            others = await citizen.say(NOT_THIS_ONE, texts.CLARIFY_OTHERS)
            first_choice = next(line for line in others.split("\n") if line.startswith("1. "))
            other = first_choice.removeprefix("1. ").rstrip("…")
            picked = await citizen.say("1", other)
            assert picked.startswith(other)
            await citizen.say(dossier.code, texts.VERIFY_PHONE.format(code=dossier.code))
            found = await citizen.say(
                dossier.phone_last4, texts.DOSSIER_HEADING.format(code=dossier.code)
            )
            assert texts.STATUS_PLAIN[4] in found
            await citizen.say(UNKNOWN_QUESTION, NO_MATCH)

            assert (await health_of(running))["zalo"] == "ok"
        assert QUESTION not in [m.text for m in zalo.sent]
        assert all(m.user_id == "zalo-user-1" for m in zalo.sent)


# --- the web chat in Chromium -----------------------------------------------------------------


async def bot_says(page: Page, containing: str) -> None:
    await expect(page.locator(".msg.bot", has_text=containing).last).to_be_visible()


async def ask(page: Page, text: str, expect_text: str) -> None:
    count = await page.locator(".msg.bot").count()
    question = page.get_by_label("Câu hỏi của bạn")
    await question.fill(text)
    await question.press("Enter")
    await expect(page.locator(".msg.bot").nth(count)).to_be_visible()
    await bot_says(page, expect_text)


@asynccontextmanager
async def web_chat_on_a_phone(config: Config, chromium_path: str) -> AsyncIterator[Page]:
    """The running bot's web chat in headless Chromium at a phone's size, greeted; fails
    the test on any script error in the page."""
    errors: list[str] = []
    async with running_bot(config) as running, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(running.web_url + "/")
            await bot_says(page, GREETING)
            yield page
        finally:
            await browser.close()
    assert errors == []


@pytest.mark.browser
async def test_web_chat_conversation_in_chromium(
    config: Config, dossier: DemoDossier, chromium_path: str
) -> None:
    async with web_chat_on_a_phone(config, chromium_path) as page:
        await ask(page, QUESTION, texts.HEADING_DOCUMENTS)
        answer = page.locator(".msg.bot").last
        await expect(answer.locator("strong.heading").first).to_have_text(PROCEDURE)
        await ask(page, FEE_FOLLOW_UP, texts.HEADING_FEE)
        await ask(page, NOT_THIS_ONE, texts.CLARIFY_OTHERS)
        choice = page.locator(".msg.bot").last.locator("button.choice").first
        other = (await choice.inner_text()).rstrip("…")
        await choice.click()
        await expect(
            page.locator(".msg.bot").last.locator("strong.heading").first
        ).to_contain_text(other)

        await ask(page, dossier.code, texts.VERIFY_PHONE.format(code=dossier.code))
        await ask(page, dossier.phone_last4, texts.DOSSIER_HEADING.format(code=dossier.code))
        await bot_says(page, texts.STATUS_PLAIN[4])
        await ask(page, UNKNOWN_QUESTION, NO_MATCH)

        # A reload keeps the conversation's context: the follow-up still knows the
        # procedure asked about before.
        await ask(page, QUESTION, texts.HEADING_DOCUMENTS)
        await page.reload()
        await bot_says(page, GREETING)
        await ask(page, FEE_FOLLOW_UP, texts.HEADING_FEE)
        await bot_says(page, PROCEDURE)
