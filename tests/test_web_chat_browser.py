"""The web chat page in real headless Chromium, on a phone-sized screen.

Checks what only a browser shows: the page renders replies (headings bold, text never
interpreted as HTML, buttons clickable, links, images), keeps its chat id across a reload,
loads nothing from elsewhere, passes its own Content-Security-Policy (a blocked inline
script would leave the page dead and log an error), and can be used by keyboard and
through its accessible names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes import ScriptedDialogue
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from bot import texts
from bot.channels.server import WebServer, create_web_app
from bot.channels.web import WebChat
from bot.config import WebConfig

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    return ScriptedDialogue()


async def serve(dialogue: ScriptedDialogue, config: WebConfig) -> WebServer:
    web_chat = WebChat(dialogue, config, title="Trung tâm Phục vụ hành chính công")
    server = WebServer(create_web_app(web_chat=web_chat, health=dict), "127.0.0.1", 0)
    await server.start()
    return server


@pytest.fixture
async def server(dialogue: ScriptedDialogue) -> AsyncIterator[WebServer]:
    running = await serve(dialogue, WebConfig())
    yield running
    await running.stop()


class PageLog:
    """Everything the page requested and complained about."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


async def open_chat(browser: Browser, server: WebServer) -> tuple[Page, PageLog]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    log = PageLog(page)
    await page.goto(server.url + "/")
    return page, log


async def test_a_conversation_on_a_phone(
    browser: Browser, server: WebServer, dialogue: ScriptedDialogue
) -> None:
    page, log = await open_chat(browser, server)
    greeting = page.locator(".msg.bot").first
    await expect(greeting.locator("strong.heading")).to_have_text("Xin chào!")
    # Text from the bot is text, never markup: "<PVHCC>" shows as typed.
    await expect(greeting).to_contain_text("Tôi là trợ lý của Trung tâm <PVHCC> & bạn.")
    assert await page.locator("pvhcc").count() == 0
    portal = page.get_by_role("link", name="Cổng dịch vụ công")
    await expect(portal).to_have_attribute("href", "https://dichvucong.gov.vn")
    await expect(portal).to_have_attribute("target", "_blank")

    question = page.get_by_label("Câu hỏi của bạn")
    await question.fill("lam giay khai sinh can gi")
    await question.press("Enter")
    await expect(page.locator(".msg.user").last).to_have_text("Bạn: lam giay khai sinh can gi")
    answer = page.locator(".msg.bot").nth(1)
    await expect(answer.locator("strong.heading")).to_have_text("Bạn hỏi")
    await answer.get_by_role("button", name="Lệ phí").click()
    await expect(page.locator(".msg.bot").nth(2)).to_contain_text("Bạn chọn: Lệ phí [part:fee]")

    assert [(m.text, m.action) for m in dialogue.received] == [
        ("/start", None),
        ("lam giay khai sinh can gi", None),
        ("Lệ phí", "part:fee"),
    ]
    assert dialogue.received[0].is_first_contact
    # Fits the phone: no sideways scrolling, the input on screen.
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    box = await question.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    assert log.errors == []
    assert all(url.startswith((server.url, "ws://127.0.0.1")) for url in log.requests)


async def test_the_chat_continues_after_a_reload(
    browser: Browser, server: WebServer, dialogue: ScriptedDialogue
) -> None:
    page, log = await open_chat(browser, server)
    await expect(page.locator(".msg.bot")).to_have_count(1)

    await page.reload()
    await expect(page.locator(".msg.bot")).to_have_count(1)
    await page.get_by_label("Câu hỏi của bạn").fill("còn lệ phí thì sao?")
    await page.get_by_role("button", name="Gửi").click()
    await expect(page.locator(".msg.bot")).to_have_count(2)

    first_visit, after_reload, follow_up = dialogue.received
    assert first_visit.is_first_contact and not after_reload.is_first_contact
    assert first_visit.chat == after_reload.chat == follow_up.chat
    assert follow_up.text == "còn lệ phí thì sao?"
    assert log.errors == []


async def test_buttons_work_from_the_keyboard_and_images_show(
    browser: Browser, server: WebServer, dialogue: ScriptedDialogue
) -> None:
    page, log = await open_chat(browser, server)
    ask = page.get_by_role("button", name="Hỏi thủ tục")
    await ask.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(".msg.bot")).to_have_count(2)
    assert dialogue.received[-1].action == "menu:ask"

    question = page.get_by_label("Câu hỏi của bạn")
    await question.fill("image")
    await question.press("Enter")
    image = page.locator(".msg.bot img")
    await expect(image).to_have_count(1)
    assert await image.evaluate("img => img.complete && img.naturalWidth === 1")
    assert log.errors == []


async def test_the_rate_limit_notice_is_shown(
    browser: Browser, dialogue: ScriptedDialogue
) -> None:
    server = await serve(dialogue, WebConfig(messages_per_minute=1))
    try:
        page, _ = await open_chat(browser, server)
        await expect(page.locator(".msg.bot")).to_have_count(1)
        question = page.get_by_label("Câu hỏi của bạn")
        for text in ("một", "hai"):
            await question.fill(text)
            await question.press("Enter")
        await expect(page.locator(".notice")).to_have_text(texts.WEB_RATE_LIMITED)
    finally:
        await server.stop()
    assert [m.text for m in dialogue.received] == ["/start", "một"]
