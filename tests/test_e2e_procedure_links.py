"""A procedure answer's links and conditional documents on every channel, with the whole
bot (`bot.app.running_bot`) and the shipped catalogue.

Asked what birth registration needs, a citizen gets the common documents first, then the
documents that only some cases need under their case, and a link to the procedure's own
page on the national portal (where its forms are): a URL button on Telegram, a "label:
address" line on Zalo (which has no buttons), a link on the web chat.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from e2e_support import TelegramCitizen, ZaloCitizen, base_config, bot_on_telegram, zalo_config_for
from fakes import FakeTelegramBotApi, FakeZaloApi
from playwright.async_api import expect
from test_e2e_conversations import GREETING, ask, web_chat_on_a_phone

from bot import texts
from bot.app import running_bot
from bot.catalogue.files import read_procedure_file
from bot.config import Config

QUESTION = "lam giay khai sinh can gi"
PROCEDURE = "Đăng ký khai sinh"
CASE = "• Trẻ bị bỏ rơi: Biên bản về việc trẻ bị bỏ rơi"


@pytest.fixture
def config(tmp_path: Path, project_root: Path) -> Config:
    return base_config(tmp_path, project_root)


@pytest.fixture
def page_url(project_root: Path) -> str:
    procedure, _problems = read_procedure_file(
        project_root / "procedures" / "ho-tich" / "1.001193.toml"
    )
    assert procedure is not None and procedure.source_url
    return procedure.source_url


def assert_cases_follow_the_common_list(text: str) -> None:
    assert text.startswith(PROCEDURE)
    assert "Nộp tại UBND cấp xã" in text
    common = text.index("1. Tờ khai đăng ký khai sinh")
    cases = text.index(texts.HEADING_CASES)
    assert common < cases < text.index(CASE)
    assert "bỏ rơi" not in text[:cases]


async def test_telegram_shows_cases_and_a_link_button(config: Config, page_url: str) -> None:
    async with FakeTelegramBotApi() as api, bot_on_telegram(config, api):
        citizen = TelegramCitizen(api, 5151)
        await citizen.say("/start", GREETING)
        answer = await citizen.say(QUESTION, texts.HEADING_CASES)
    assert_cases_follow_the_common_list(answer.plain_text)
    links = [b for row in answer.buttons for b in row if "url" in b]
    assert links == [{"text": texts.BUTTON_PAGE_ONLINE, "url": page_url}]
    assert f"<b>{texts.HEADING_CASES}</b>" in answer.text


async def test_zalo_shows_cases_and_the_link_as_a_line(config: Config, page_url: str) -> None:
    async with FakeZaloApi() as zalo:
        settings = zalo_config_for(zalo)
        async with running_bot(dataclasses.replace(config, zalo=settings)) as running:
            citizen = ZaloCitizen(zalo, running.web_url + settings.webhook_path, "zalo-7")
            await citizen.send(zalo.follow("zalo-7"), GREETING)
            seen = len(zalo.messages_to("zalo-7"))
            link = f"{texts.BUTTON_PAGE_ONLINE}: {page_url}"
            await citizen.say(QUESTION, texts.HEADING_CASES)
            await zalo.wait_until(lambda: any(link in m.text for m in zalo.messages_to("zalo-7")))
            text = "\n".join(m.text for m in zalo.messages_to("zalo-7")[seen:])
    assert_cases_follow_the_common_list(text)
    assert text.index(CASE) < text.index(link)


@pytest.mark.browser
async def test_web_chat_shows_cases_and_a_link(
    config: Config, page_url: str, chromium_path: str
) -> None:
    async with web_chat_on_a_phone(config, chromium_path) as page:
        await ask(page, QUESTION, texts.HEADING_CASES)
        answer = page.locator(".msg.bot").last
        # The bubble starts with a label for screen readers ("Trợ lý:").
        shown = (await answer.inner_text()).removeprefix(f"{texts.WEB_BOT}:").lstrip()
        assert_cases_follow_the_common_list(shown)
        link = answer.locator("a.choice", has_text=texts.BUTTON_PAGE_ONLINE)
        await expect(link).to_have_attribute("href", page_url)
        await expect(link).to_have_attribute("target", "_blank")
        # The case list's heading is a heading, like the others.
        heading = answer.locator("strong.heading", has_text=texts.HEADING_CASES)
        await expect(heading).to_be_visible()
