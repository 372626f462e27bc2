"""The web chat page in real headless Chromium, on a phone-sized screen.

Checks what only a browser shows: the page renders replies (headings bold, text never
interpreted as HTML, buttons clickable, links, images), keeps its chat id across a reload,
loads nothing from elsewhere, passes its own Content-Security-Policy (a blocked inline
script would leave the page dead and log an error), and can be used by keyboard and
through its accessible names.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

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
from bot.channels.web_history import WebHistory
from bot.config import WebConfig
from bot.storage.database import create_engine
from bot.storage.schema import ensure_schema

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
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
# Set to a folder to keep a screenshot of each checked layout (to look at them).
SCREENSHOTS = os.environ.get("WEB_CHAT_SCREENSHOTS", "")


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


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


async def serve(
    dialogue: ScriptedDialogue, config: WebConfig, history: WebHistory | None = None
) -> WebServer:
    web_chat = WebChat(
        dialogue, config, title="Trung tâm Phục vụ hành chính công", history=history
    )
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


async def open_chat(
    browser: Browser, server: WebServer, viewport: ViewportSize = PHONE
) -> tuple[Page, PageLog]:
    phone = viewport == PHONE
    context = await browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
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


async def visible_part(page: Page, selector: str) -> tuple[float, float]:
    """Where the element's top and bottom are relative to the scrolled view (pixels)."""
    box = await page.locator(selector).evaluate(
        """node => {
            const view = document.getElementById("scroller").getBoundingClientRect();
            const own = node.getBoundingClientRect();
            return [own.top - view.top, own.bottom - view.top];
        }"""
    )
    return float(box[0]), float(box[1])


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_long_answer_is_shown_from_its_start(
    browser: Browser, server: WebServer, viewport: ViewportSize
) -> None:
    page, log = await open_chat(browser, server, viewport)
    await expect(page.locator(".msg.bot")).to_have_count(1)
    question = page.get_by_label("Câu hỏi của bạn")
    for text in ("hỏi một", "hỏi hai", "long"):
        await question.fill(text)
        await question.press("Enter")
        await expect(page.locator(".msg.user").last).to_contain_text(text)
    answer = page.locator(".msg.bot").last
    await expect(answer.locator("strong.heading")).to_have_text("Danh sách dài")
    await expect(page.locator("#typing")).to_have_text("")

    view_height = await page.locator("#scroller").evaluate("node => node.clientHeight")
    top, bottom = await visible_part(page, ".msg.bot:last-child")
    assert bottom - top > view_height, "the answer is taller than the view"
    # Its start at the top of the view (below the view's padding), its title readable.
    assert 0 <= top <= 20
    heading_top, _ = await visible_part(page, ".msg.bot:last-child strong.heading")
    assert 0 <= heading_top < 40
    name = "phone" if viewport == PHONE else "desktop"
    await screenshot(page, f"{name}-long-answer-start")

    # A short answer after it: the view follows to the end, input and answer on screen.
    answers = await page.locator(".msg.bot").count()
    await question.fill("hỏi ba")
    await question.press("Enter")
    # Until the new answer comes, the last one is the long answer (300 paragraphs).
    await expect(page.locator(".msg.bot")).to_have_count(answers + 1)
    await expect(page.locator(".msg.bot").last.locator("p")).to_have_text("hỏi ba")
    await expect(page.locator("#typing")).to_have_text("")
    top, bottom = await visible_part(page, ".msg.bot:last-child")
    assert top >= 0 and bottom <= view_height
    assert await page.locator("#scroller").evaluate(
        "node => node.scrollHeight - node.scrollTop - node.clientHeight < 2"
    )
    assert log.errors == []


async def test_on_a_desktop_the_input_is_as_wide_as_the_messages(
    browser: Browser, server: WebServer
) -> None:
    page, log = await open_chat(browser, server, DESKTOP)
    await expect(page.locator(".msg.bot")).to_have_count(1)
    question = page.get_by_label("Câu hỏi của bạn")
    await question.fill("làm giấy khai sinh cần gì")
    await question.press("Enter")
    await expect(page.locator(".msg.bot")).to_have_count(2)

    column = await page.locator("#log").bounding_box()
    field = await question.bounding_box()
    send = await page.get_by_role("button", name="Gửi").bounding_box()
    assert column is not None and field is not None and send is not None
    # The 48rem column, centred: the input starts where the messages start and the send
    # button ends where they end (to a pixel), on a screen much wider than the column.
    assert column["width"] == pytest.approx(48 * 16, abs=1)
    assert field["x"] == pytest.approx(column["x"], abs=1)
    assert send["x"] + send["width"] == pytest.approx(column["x"] + column["width"], abs=1)
    user = await page.locator(".msg.user").last.bounding_box()
    assert user is not None
    assert user["x"] + user["width"] == pytest.approx(column["x"] + column["width"], abs=1)
    await screenshot(page, "desktop-column")

    # On a phone the same rule leaves 1rem on each side.
    phone, _ = await open_chat(browser, server, PHONE)
    await expect(phone.locator(".msg.bot")).to_have_count(1)
    column = await phone.locator("#log").bounding_box()
    field = await phone.get_by_label("Câu hỏi của bạn").bounding_box()
    assert column is not None and field is not None
    assert field["x"] == pytest.approx(column["x"], abs=1) == pytest.approx(16, abs=1)
    await screenshot(phone, "phone-column")
    assert log.errors == []


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_reload_shows_the_conversation_again(
    browser: Browser, dialogue: ScriptedDialogue, sqlite_url: str, viewport: ViewportSize
) -> None:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    server = await serve(dialogue, WebConfig(), WebHistory(engine, exchanges=20))
    try:
        page, log = await open_chat(browser, server, viewport)
        question = page.get_by_label("Câu hỏi của bạn")
        for text in ("làm giấy khai sinh cần gì", "hồ sơ 000.00.12.H58 số cuối 5633"):
            await question.fill(text)
            await question.press("Enter")
            await expect(page.locator(".msg.user").last).to_contain_text(text)
        await expect(page.locator(".msg.bot")).to_have_count(3)
        await expect(page.locator("#typing")).to_have_text("")

        await page.reload()
        bot_messages = page.locator(".msg.bot")
        await expect(bot_messages).to_have_count(3)
        await expect(bot_messages.first.locator("strong.heading")).to_have_text("Xin chào!")
        await expect(page.locator(".msg.user")).to_have_text(
            ["Bạn: làm giấy khai sinh cần gì", "Bạn: hồ sơ •••.••.••.H•• số cuối ••••"]
        )
        await expect(bot_messages.last).to_contain_text("NGUYỄN V** A")
        # The buttons of an earlier answer still work; the view shows the latest message.
        await bot_messages.nth(1).get_by_role("button", name="Lệ phí").click()
        await expect(bot_messages).to_have_count(4)
        await expect(bot_messages.last).to_contain_text("Bạn chọn: Lệ phí [part:fee]")
        name = "phone" if viewport == PHONE else "desktop"
        await screenshot(page, f"{name}-after-reload")
        assert [m.text for m in dialogue.received].count("/start") == 1

        # Another browser (its own storage) starts its own chat: greeted, sees nothing.
        other, _ = await open_chat(browser, server, viewport)
        await expect(other.locator(".msg.bot")).to_have_count(1)
        await expect(other.locator(".msg.bot")).to_contain_text("Xin chào!")
        await expect(other.locator(".msg.user")).to_have_count(0)
        assert log.errors == []
    finally:
        await server.stop()
        await engine.dispose()
