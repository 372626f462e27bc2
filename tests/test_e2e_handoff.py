"""A person instead of the bot, end to end: "gặp cán bộ" in office hours hands the chat to
the staff Telegram group, staff answer by replying there, and the answer reaches the citizen
on the web chat (over a real WebSocket), Telegram or Zalo; outside office hours and on
holidays the bot says when the center opens and how to reach a person; a hand-off survives
a restart and ends by itself after the timeout. The bot runs whole (`running_bot`) against
the fake Bot API and the fake Zalo OA over HTTP, with a fixed clock."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import TelegramCitizen, ZaloCitizen, base_config, zalo_config_for
from fakes import FakeTelegramBotApi, FakeZaloApi, Fault, SentMessage
from playwright.async_api import Page, ViewportSize, async_playwright, expect
from sqlalchemy import select

from bot import texts
from bot.app import RunningBot, running_bot
from bot.config import Config, HandoffConfig, TelegramConfig
from bot.storage.database import create_engine
from bot.storage.handoff_tables import handoffs

GROUP = -100777
STAFF = 9001
VN = dt.timezone(dt.timedelta(hours=7))
# Monday 7/9/2026, 09:00 in Vietnam: office hours.
MONDAY_MORNING = dt.datetime(2026, 9, 7, 9, 0, tzinfo=VN)
OPEN = texts.HANDOFF_STARTED.split("{")[0]
CLOSED = texts.HUMAN_CLOSED.split(".")[0]


def clock_from(start: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that starts at `start` and then runs as real time does."""
    began = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - began)


@pytest.fixture
def config(tmp_path: Path, project_root: Path) -> Config:
    return base_config(tmp_path, project_root)


def with_staff_group(
    config: Config, api: FakeTelegramBotApi, timeout_minutes: float = 30.0
) -> Config:
    return dataclasses.replace(
        config,
        telegram=TelegramConfig(
            token=api.token, base_url=api.base_url, base_file_url=api.base_file_url
        ),
        handoff=HandoffConfig(staff_group_id=GROUP, timeout_minutes=timeout_minutes),
    )


@asynccontextmanager
async def bot_at(
    config: Config, moment: dt.datetime, api: FakeTelegramBotApi
) -> AsyncIterator[RunningBot]:
    async with running_bot(config, port=0, clock=clock_from(moment)) as running:
        assert running.telegram is not None
        await running.telegram.wait_running()
        yield running


@asynccontextmanager
async def staffed_bot(
    config: Config, moment: dt.datetime = MONDAY_MORNING
) -> AsyncIterator[tuple[FakeTelegramBotApi, StaffGroup, RunningBot]]:
    """The running bot at `moment`, with a staff group on the fake Bot API."""
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        async with bot_at(with_staff_group(config, api), moment, api) as running:
            yield api, StaffGroup(api), running


class StaffGroup:
    """Staff in the Telegram group: they read what the bot posts and reply to it."""

    def __init__(self, api: FakeTelegramBotApi) -> None:
        self.api = api

    async def receives(self, containing: str) -> SentMessage:
        def found() -> SentMessage | None:
            return next(
                (m for m in self.api.messages_to(GROUP) if containing in m.plain_text), None
            )

        await self.api.wait_until(lambda: found() is not None)
        message = found()
        assert message is not None
        return message

    def reply(self, to: SentMessage, text: str) -> None:
        self.api.add_message(
            GROUP, text, user_id=STAFF, first_name="Hoa", chat_type="supergroup", reply_to=to
        )


class WebCitizen:
    """A citizen on the web chat page, over a real WebSocket to the running bot."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.chat_id = ""
        self.seen: list[str] = []

    @classmethod
    @asynccontextmanager
    async def connected(
        cls, running: RunningBot, chat_id: str | None = None
    ) -> AsyncIterator[WebCitizen]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(running.web_url + "/ws") as socket,
        ):
            citizen = cls(socket)
            await socket.send_json({"type": "hello", "chat_id": chat_id, "resume": True})
            session_frame = await socket.receive_json(timeout=10)
            citizen.chat_id = session_frame["chat_id"]
            yield citizen

    async def expect(self, containing: str, within: float = 10.0) -> str:
        """Read frames until a reply containing `containing` (earlier ones are kept)."""
        for text in self.seen:
            if containing in text:
                self.seen.remove(text)
                return text
        deadline = time.monotonic() + within
        while True:
            try:
                frame: dict[str, Any] = await self.socket.receive_json(
                    timeout=max(0.1, deadline - time.monotonic())
                )
            except TimeoutError:
                raise AssertionError(f"no reply with {containing!r}; got {self.seen}") from None
            # A reload shows the chat's history first: its replies count too.
            if frame.get("type") == "history":
                replies = [m for e in frame["exchanges"] for m in e if m["type"] == "reply"]
            elif frame.get("type") == "reply":
                replies = [frame]
            else:
                continue
            for reply in replies:
                text = "\n".join(
                    line
                    for section in reply["sections"]
                    for line in ([section["heading"]] if section["heading"] else [])
                    + section["lines"]
                )
                if containing in text:
                    return text
                self.seen.append(text)

    async def say(self, text: str, expect: str) -> str:
        await self.socket.send_json({"type": "text", "text": text})
        return await self.expect(expect)


async def stored_handoffs(config: Config) -> list[Any]:
    engine = create_engine(config.storage.url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(select(handoffs))).all())
    finally:
        await engine.dispose()


async def test_web_citizen_talks_to_staff_in_office_hours(config: Config) -> None:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        config = with_staff_group(config, api)
        async with bot_at(config, MONDAY_MORNING, api) as running:
            staff = StaffGroup(api)
            async with WebCitizen.connected(running) as citizen:
                started = await citizen.say("tôi muốn gặp cán bộ", OPEN)
                assert "#1" in started
                opened = await staff.receives("#1 · Web chat: người dân muốn gặp cán bộ")
                assert citizen.chat_id not in opened.plain_text

                question = "Cho tôi hỏi hồ sơ đất đai của tôi cần bổ sung gì?"
                await citizen.socket.send_json({"type": "text", "text": question})
                forwarded = await staff.receives(question)
                assert forwarded.plain_text.startswith("💬 #1 · Web chat")
                # Forwarded, not answered by the bot: nothing about procedures.
                assert not api.messages_to(GROUP)[-1].buttons

                staff.reply(forwarded, "Chào bạn, bạn bổ sung bản sao sổ hộ khẩu nhé.")
                answer = await citizen.expect("bổ sung bản sao sổ hộ khẩu")
                assert answer.startswith(texts.HANDOFF_STAFF_ANSWER)

                # Staff can also answer by replying to the first notice of the hand-off.
                staff.reply(opened, "Bạn cần gì thêm không?")
                await citizen.expect("Bạn cần gì thêm không?")

                await citizen.say("kết thúc", texts.HANDOFF_ENDED_BY_CITIZEN)
                await staff.receives("#1 · Web chat: người dân đã kết thúc")
                # Back to the bot: a question is answered by the matcher again.
                await citizen.say("làm hộ chiếu", "hộ chiếu")
                before = len(api.messages_to(GROUP))
                # A late staff reply does not reach the citizen; staff are told.
                staff.reply(forwarded, "Còn đó không bạn?")
                await staff.receives(texts.STAFF_HANDOFF_GONE.format(number=1)[:30])
                assert len(api.messages_to(GROUP)) == before + 1
    [row] = await stored_handoffs(config)
    assert (row.channel, row.closed_by) == ("web", "citizen")
    assert (row.citizen_messages, row.staff_messages) == (1, 2)


async def test_telegram_citizen_and_staff_ending_with_xong(config: Config) -> None:
    async with staffed_bot(config) as (api, staff, _running):
        citizen = TelegramCitizen(api, 501)
        await citizen.say("/start", texts.MENU_ASK)
        started = await citizen.say("nói chuyện với người", OPEN)
        assert texts.BUTTON_END_HANDOFF in [b["text"] for row in started.buttons for b in row]
        await staff.receives("#1 · Telegram")
        # "gặp cán bộ" again goes to staff like any message of the hand-off.
        api.add_message(501, "gặp cán bộ", first_name="Lan")
        await staff.receives("💬 #1 · Telegram")

        api.add_message(501, "Hồ sơ của tôi nộp hôm thứ Sáu", first_name="Lan")
        forwarded = await staff.receives("Hồ sơ của tôi nộp hôm thứ Sáu")
        assert "Lan" not in forwarded.plain_text and "501" not in forwarded.plain_text
        staff.reply(forwarded, "Hồ sơ đang được thẩm định, bạn chờ thêm 2 ngày nhé.")
        await citizen._answer(0, "Hồ sơ đang được thẩm định")

        # A staff command that is not a reply to a hand-off: how to use it.
        api.add_message(GROUP, "/xong", user_id=STAFF, chat_type="supergroup")
        await staff.receives(texts.STAFF_HANDOFF_REPLY_HOW[:30])
        # Chatter in the group is not answered; /xong in reply ends the hand-off.
        before = len(api.messages_to(GROUP))
        api.add_message(GROUP, "Ai trực chiều nay?", user_id=STAFF, chat_type="supergroup")
        staff.reply(forwarded, "/xong")
        await staff.receives("✅ #1 · Telegram: đã kết thúc (Hoa)")
        await citizen._answer(0, texts.HANDOFF_ENDED_BY_STAFF[:40])
        assert len(api.messages_to(GROUP)) == before + 1
        # The next message goes to the bot again, not to staff.
        before = len(api.messages_to(GROUP))
        await citizen.say("làm hộ chiếu", "hộ chiếu")
        assert len(api.messages_to(GROUP)) == before

        # A second hand-off, ended by the citizen's button.
        again = await citizen.say("gặp cán bộ", OPEN)
        assert "#2" in again.plain_text
        await citizen.press(again, texts.BUTTON_END_HANDOFF, texts.HANDOFF_ENDED_BY_CITIZEN)
        await staff.receives("✅ #2 · Telegram: người dân đã kết thúc")
        await citizen.say("/ketthuc", texts.NOT_IN_HANDOFF)
    first, second = await stored_handoffs(config)
    assert (first.channel, first.chat_id, first.closed_by) == ("telegram", "501", "staff")
    assert (second.chat_id, second.closed_by) == ("501", "citizen")


async def test_a_question_the_bot_cannot_answer_goes_to_staff_with_one_tap(
    config: Config,
) -> None:
    """A declined question is not a dead end: in office hours its reply offers "Hỏi cán
    bộ", which opens a hand-off and passes that question to staff as asked."""
    question = "tui muốn xin phép mở lò ấp vịt con bán cho bà con"
    async with staffed_bot(config) as (api, staff, _running):
        citizen = TelegramCitizen(api, 502)
        declined = await citizen.say(question, texts.DECLINE_NO_MATCH_ASK_STAFF[:30])
        labels = [b["text"] for row in declined.buttons for b in row]
        assert labels[0] == texts.BUTTON_ASK_STAFF
        opened = await citizen.press(declined, texts.BUTTON_ASK_STAFF, OPEN)
        assert "#1" in opened.plain_text
        await staff.receives("#1 · Telegram: người dân muốn gặp cán bộ")
        forwarded = await staff.receives(question)
        assert forwarded.plain_text.startswith("💬 #1 · Telegram")
        assert texts.STAFF_HANDOFF_UNANSWERED in forwarded.plain_text
        staff.reply(forwarded, "Bạn cần giấy chứng nhận đủ điều kiện chăn nuôi.")
        await citizen._answer(0, "đủ điều kiện chăn nuôi")


@pytest.mark.browser
@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_the_web_page_hands_a_declined_question_to_staff(
    config: Config, chromium_path: str, size: str
) -> None:
    """The web page in headless Chromium: the declined question's "Hỏi cán bộ" button
    is shown and works at both sizes (screenshots with WEB_CHAT_SCREENSHOTS=folder)."""
    question = "tui muốn xin phép mở lò ấp vịt con bán cho bà con"
    viewport: ViewportSize = (
        {"width": 390, "height": 844} if size == "phone" else {"width": 1366, "height": 900}
    )
    async with staffed_bot(config) as (_api, staff, running), async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium_path, args=["--headless", "--no-sandbox"]
        )
        try:
            page = await (await browser.new_context(viewport=viewport)).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(running.web_url + "/")
            question_box = page.get_by_label("Câu hỏi của bạn")
            await question_box.fill(question)
            await question_box.press("Enter")
            declined = page.locator(".msg.bot", has_text=texts.DECLINE_NO_MATCH_ASK_STAFF)
            await expect(declined.last).to_be_visible()
            ask_staff = declined.last.get_by_role("button", name=texts.BUTTON_ASK_STAFF)
            await expect(ask_staff).to_be_visible()
            await screenshot_if_asked(page, f"ask-staff-offered-{size}")
            await ask_staff.click()
            await expect(page.locator(".msg.bot", has_text=OPEN).last).to_be_visible()
            await screenshot_if_asked(page, f"ask-staff-opened-{size}")
            forwarded = await staff.receives(question)
            assert forwarded.plain_text.startswith("💬 #1 · Web chat")
            assert errors == []
        finally:
            await browser.close()


async def screenshot_if_asked(page: Page, name: str) -> None:
    folder = os.environ.get("WEB_CHAT_SCREENSHOTS", "")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


async def test_outside_office_hours_a_declined_question_offers_no_staff(
    config: Config,
) -> None:
    saturday_evening = dt.datetime(2026, 9, 5, 19, 0, tzinfo=VN)
    async with staffed_bot(config, saturday_evening) as (api, _staff, _running):
        citizen = TelegramCitizen(api, 503)
        declined = await citizen.say(
            "tui muốn xin phép mở lò ấp vịt con bán cho bà con",
            texts.DECLINE_NO_MATCH.split("\n")[0],
        )
        labels = [b["text"] for row in declined.buttons for b in row]
        assert texts.BUTTON_ASK_STAFF not in labels
        assert texts.DECLINE_NO_MATCH_ASK_STAFF not in declined.plain_text


@asynccontextmanager
async def zalo_handoff(
    config: Config, user_id: str
) -> AsyncIterator[tuple[FakeZaloApi, StaffGroup, ZaloCitizen]]:
    """A running bot with a staff group and Zalo; the follower `user_id` has asked for a
    person and the hand-off is open."""
    async with FakeTelegramBotApi() as api, FakeZaloApi() as zalo:
        api.wait_limit = 20.0
        zalo.wait_limit = 20.0
        config = dataclasses.replace(with_staff_group(config, api), zalo=zalo_config_for(zalo))
        async with bot_at(config, MONDAY_MORNING, api) as running:
            citizen = ZaloCitizen(zalo, running.web_url + config.zalo.webhook_path, user_id)
            await citizen.say("gặp cán bộ", OPEN)
            yield zalo, StaffGroup(api), citizen


async def test_zalo_citizen_gets_the_staff_answer(config: Config) -> None:
    async with zalo_handoff(config, "zu-42") as (zalo, staff, citizen):
        event = zalo.user_text("zu-42", "Tôi muốn hỏi về lệ phí trước bạ")
        assert await zalo.deliver(citizen.webhook_url, event) == 200
        forwarded = await staff.receives("lệ phí trước bạ")
        assert forwarded.plain_text.startswith("💬 #1 · Zalo")
        staff.reply(forwarded, "Lệ phí trước bạ nhà đất là 0,5% giá tính.")

        def answered() -> bool:
            return any("0,5% giá tính" in m.text for m in zalo.messages_to("zu-42"))

        await zalo.wait_until(answered)


async def test_a_number_typed_to_staff_is_text_not_the_end_button(config: Config) -> None:
    """Zalo's buttons are numbered choices; the hand-off's "N. Kết thúc ..." holds for the
    next message only, so a citizen answering the staff member with that number is heard,
    not cut off."""
    async with zalo_handoff(config, "zu-7") as (zalo, staff, citizen):
        offered = re.search(
            rf"(\d+)\. {re.escape(texts.BUTTON_END_HANDOFF)}", zalo.messages_to("zu-7")[-1].text
        )
        assert offered is not None
        number = offered.group(1)
        event = zalo.user_text("zu-7", "Cho hỏi nộp bản sao mấy bộ")
        assert await zalo.deliver(citizen.webhook_url, event) == 200
        await staff.receives("nộp bản sao mấy bộ")
        assert await zalo.deliver(citizen.webhook_url, zalo.user_text("zu-7", number)) == 200

        def relayed_number() -> bool:
            return any(
                m.plain_text.startswith("💬 #1 · Zalo") and m.plain_text.splitlines()[-1] == number
                for m in staff.api.messages_to(GROUP)
            )

        await staff.api.wait_until(relayed_number)
        assert not any(
            texts.HANDOFF_ENDED_BY_CITIZEN[:30] in m.text for m in zalo.messages_to("zu-7")
        )


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        # Saturday 5/9/2026 afternoon (Saturdays open in the morning): Monday.
        (dt.datetime(2026, 9, 5, 14, 0, tzinfo=VN), "7h30 Thứ Hai, 07/09/2026"),
        # Monday at lunch: this afternoon.
        (dt.datetime(2026, 9, 7, 12, 0, tzinfo=VN), "13h30 hôm nay"),
        # Wednesday 2/9/2026 at 09:00, Quốc khánh: a holiday counts as closed.
        (dt.datetime(2026, 9, 2, 9, 0, tzinfo=VN), "7h30 Thứ Năm, 03/09/2026"),
    ],
)
async def test_outside_office_hours_the_bot_says_when_and_how(
    config: Config, moment: dt.datetime, opening: str
) -> None:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        config = with_staff_group(config, api)
        async with bot_at(config, moment, api) as running:
            async with WebCitizen.connected(running) as citizen:
                told = await citizen.say("gặp cán bộ", CLOSED)
                assert opening in told
                assert config.center.hotline in told
            citizen_tg = TelegramCitizen(api, 777)
            await citizen_tg.say("cho tôi nói chuyện với người thật", opening)
            assert api.messages_to(GROUP) == []
    assert await stored_handoffs(config) == []


@pytest.mark.parametrize("moment", [MONDAY_MORNING, MONDAY_MORNING + dt.timedelta(hours=10)])
async def test_without_a_staff_group_the_hotline_is_given(
    config: Config, moment: dt.datetime
) -> None:
    async with (
        running_bot(config, port=0, clock=clock_from(moment)) as running,
        WebCitizen.connected(running) as citizen,
    ):
        if moment == MONDAY_MORNING:
            told = await citizen.say("gặp cán bộ", texts.HUMAN_UNAVAILABLE[:30])
        else:  # 19:00: when the center opens, and no promise of a chat with staff
            told = await citizen.say("gặp cán bộ", "7h30 Thứ Ba, 08/09/2026")
            assert told.startswith(texts.HUMAN_CLOSED_CALL.split(".")[0])
            assert "nhắn “gặp cán bộ”" not in told
        assert config.center.hotline in told


async def test_a_handoff_survives_a_restart(config: Config) -> None:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        config = with_staff_group(config, api)
        async with (
            bot_at(config, MONDAY_MORNING, api) as running,
            WebCitizen.connected(running) as citizen,
        ):
            await citizen.say("gặp cán bộ", OPEN)
            chat_id = citizen.chat_id
        # A new process (same database); the page reconnects with its chat id.
        async with bot_at(config, MONDAY_MORNING + dt.timedelta(minutes=5), api) as running:
            staff = StaffGroup(api)
            async with WebCitizen.connected(running, chat_id) as citizen:
                await citizen.socket.send_json({"type": "text", "text": "Còn ai ở đó không?"})
                forwarded = await staff.receives("Còn ai ở đó không?")
                assert forwarded.plain_text.startswith("💬 #1 · Web chat")
            # The page is closed when staff answer: the reload shows the answer (stored with
            # the chat's history).
            staff.reply(forwarded, "Có, tôi đây.")
            for _ in range(100):
                [row] = await stored_handoffs(config)
                if row.staff_messages:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)  # the relay is sent right after the count
            async with WebCitizen.connected(running, chat_id) as citizen:
                await citizen.expect("Có, tôi đây.")


async def test_a_silent_handoff_ends_by_itself(config: Config) -> None:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        # 0.03 minutes: 1.8 seconds; checked every 0.45 s.
        config = with_staff_group(config, api, timeout_minutes=0.03)
        async with bot_at(config, MONDAY_MORNING, api) as running:
            staff = StaffGroup(api)
            async with WebCitizen.connected(running) as citizen:
                await citizen.say("gặp cán bộ", OPEN)
                told = await citizen.expect(texts.HANDOFF_TIMED_OUT[:40], within=15.0)
                assert "0.03" in told
                await staff.receives("⌛ #1 · Web chat: tự kết thúc")
                before = len(api.messages_to(GROUP))
                await citizen.say("làm hộ chiếu", "hộ chiếu")
                assert len(api.messages_to(GROUP)) == before
    [row] = await stored_handoffs(config)
    assert row.closed_by == "timeout"


async def test_a_staff_group_the_bot_cannot_reach_is_said(config: Config) -> None:
    async with FakeTelegramBotApi() as api:
        api.wait_limit = 20.0
        config = with_staff_group(config, api)
        async with bot_at(config, MONDAY_MORNING, api) as running:
            # The bot was removed from the group, or the id in the config is wrong.
            api.set_chat_fault(GROUP, Fault.chat_not_found())
            async with WebCitizen.connected(running) as citizen:
                await citizen.say("gặp cán bộ", OPEN)
                told = await citizen.expect(texts.HANDOFF_NOT_DELIVERED[:30])
                assert config.center.hotline in told
                await citizen.say("Alo?", texts.HANDOFF_NOT_DELIVERED[:30])
                # The citizen can still leave, and is answered by the bot again.
                await citizen.say("kết thúc", texts.HANDOFF_ENDED_BY_CITIZEN)
                await citizen.say("làm hộ chiếu", "hộ chiếu")
