"""Hostile text on every channel must not stop the bot from saving anyone's conversation
(issue 13), with the whole bot (`bot.app.running_bot`) on SQLite and on PostgreSQL.

The attack: five messages holding a lone surrogate (the JSON text "\\ud800", which JSON
allows and Python decodes to a string UTF-8 cannot encode), then another citizen's normal
question, through the web chat, Telegram (the fake Bot API) and Zalo (signed events). The
other citizen's chat context must be written within one batch interval and the log must
show no "not written, will retry" loop.

Then a property test sends arbitrary Unicode (surrogates, NUL, RTL marks, zero-width
characters, emoji, 10,000 characters) through each entry point - web chat, Telegram, Zalo
webhook, dossier push, broadcast API, the terminal chat - and checks after each example
that nothing escaped, other chats' contexts and statistics rows are written and the
write-behind queues are empty.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import base_config, demo_dossier, telegram_config_for, zalo_config_for
from fakes import FakeTelegramBotApi, FakeZaloApi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import texts
from bot.app import RunningBot, running_bot
from bot.channels.console import run_console
from bot.channels.web import MAX_FRAME_BYTES, chat_ref
from bot.config import BroadcastConfig, Config, StorageConfig, WebConfig
from bot.dossiers.push import sign_push
from bot.storage.context_tables import chat_contexts
from bot.storage.stats_tables import questions
from bot.storage.write_behind import DEFAULT_DELAY_SECONDS

QUESTION = "lam giay khai sinh can gi"
POISON = "\ud800"
RETRY_LINE = "not written, will retry"
API_TOKEN = "hostile-text-api-token-0123456789"
PUSH_SECRET = "hostile-text-push-secret"
# The write itself takes a few milliseconds more than the batch interval; the machine
# running the tests is shared, hence the margin.
WRITE_MARGIN_SECONDS = 0.25
# Nested far deeper than Python's recursion limit, and within every size limit.
DEEP_FRAME = "[" * 20_000 + "]" * 20_000


@dataclass(repr=False)
class World:
    running: RunningBot
    config: Config
    telegram: FakeTelegramBotApi
    zalo: FakeZaloApi
    session: aiohttp.ClientSession

    def __repr__(self) -> str:
        # Hypothesis prints the test's arguments when an example fails: keep it short.
        return f"World({self.running.web_url}, {self.config.storage.url})"

    @property
    def zalo_webhook(self) -> str:
        return self.running.web_url + self.config.zalo.webhook_path


@asynccontextmanager
async def hostile_world(
    database_url: str, tmp_path: Path, project_root: Path
) -> AsyncIterator[World]:
    config = dataclasses.replace(
        base_config(tmp_path, project_root),
        storage=StorageConfig(url=database_url),
        # Many messages from one address in little time: the rate limits are not tested here.
        web=WebConfig(
            host="127.0.0.1",
            port=0,
            messages_per_minute=100_000,
            messages_per_minute_per_address=0,
        ),
        broadcast=BroadcastConfig(api_token=API_TOKEN),
    )
    config = dataclasses.replace(
        config, dossiers=dataclasses.replace(config.dossiers, push_secret=PUSH_SECRET)
    )
    await demo_dossier(config)
    async with FakeTelegramBotApi() as telegram, FakeZaloApi() as zalo:
        config = dataclasses.replace(
            config, telegram=telegram_config_for(telegram), zalo=zalo_config_for(zalo)
        )
        async with running_bot(config, port=0) as running, aiohttp.ClientSession() as session:
            assert running.telegram is not None
            await running.telegram.wait_running()
            yield World(running, config, telegram, zalo, session)


@pytest.fixture
async def world(database_url: str, tmp_path: Path, project_root: Path) -> AsyncIterator[World]:
    async with hostile_world(database_url, tmp_path, project_root) as world:
        yield world


# --- the channels, as a citizen (or a client system) uses them ---------------------------


def as_json(value: Any) -> str:
    """JSON as a client sends it: escapes keep lone surrogates (UTF-8 cannot carry them)."""
    return json.dumps(value, ensure_ascii=True)


async def web_turn(socket: aiohttp.ClientWebSocketResponse, frame: str) -> list[dict[str, Any]]:
    """Send a frame; the messages up to the end of the turn (done, or a notice)."""
    await socket.send_str(frame)
    messages: list[dict[str, Any]] = []
    while True:
        message = await socket.receive_json(timeout=10)
        messages.append(message)
        if message["type"] in ("done", "notice"):
            return messages


@asynccontextmanager
async def web_chat(world: World, chat_id: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with world.session.ws_connect(world.running.web_url + "/ws") as socket:
        await socket.send_str(as_json({"type": "hello", "chat_id": chat_id, "resume": True}))
        assert (await socket.receive_json(timeout=10))["type"] == "session"
        yield socket


async def telegram_say(world: World, chat_id: int, text: str, name: str = "Lan") -> None:
    """A Telegram message; returns once the bot answered it."""
    seen = len(world.telegram.messages_to(chat_id))
    world.telegram.add_message(chat_id, text, first_name=name)
    await world.telegram.wait_until(lambda: len(world.telegram.messages_to(chat_id)) > seen)


async def zalo_post(world: World, event: dict[str, Any]) -> int:
    """A signed Zalo event whose body is escaped JSON (as Zalo could send it)."""
    body = as_json(event).encode()
    headers = {
        "Content-Type": "application/json",
        "X-ZEvent-Signature": world.zalo.signature(body, str(event["timestamp"])),
    }
    async with world.session.post(world.zalo_webhook, data=body, headers=headers) as response:
        return response.status


async def zalo_say(world: World, user_id: str, text: str) -> int:
    """A Zalo text; once accepted (200), returns when the bot answered it."""
    seen = len(world.zalo.messages_to(user_id))
    status = await zalo_post(world, world.zalo.user_text(user_id, text))
    if status == 200:
        await world.zalo.wait_until(lambda: len(world.zalo.messages_to(user_id)) > seen)
    return status


async def push(world: World, body: bytes) -> tuple[int, Any]:
    url = world.running.web_url + world.config.dossiers.push_path
    headers = {"Content-Type": "application/json", **sign_push(PUSH_SECRET, body)}
    async with world.session.post(url, data=body, headers=headers) as response:
        return response.status, await response.json()


async def broadcast_preview(world: World, body: str) -> tuple[int, Any]:
    url = world.running.web_url + "/api/broadcasts/preview"
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    async with world.session.post(url, data=body.encode(), headers=headers) as response:
        return response.status, await response.json()


# --- what must hold ------------------------------------------------------------------------


async def row_count(world: World, table: Any, chat_id: str) -> int:
    async with world.running.core.engine.connect() as connection:
        statement = select(func.count()).select_from(table).where(table.c.chat_id == chat_id)
        return int((await connection.execute(statement)).scalar_one())


async def written_within(
    world: World, chat_id: str, seconds: float, table: Any = chat_contexts
) -> float | None:
    """How long until a row of `chat_id` is in `table` (None: not within `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await row_count(world, table, chat_id):
            return time.monotonic() - started
        await asyncio.sleep(0.005)
    return None


async def queues_empty(world: World, seconds: float = 2.0) -> bool:
    core = world.running.core
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if core.contexts.queued == 0 and core.recorder.queued == 0:
            return True
        await asyncio.sleep(0.01)
    return False


def retry_lines(caplog: pytest.LogCaptureFixture) -> int:
    return sum(RETRY_LINE in record.getMessage() for record in caplog.records)


def escaped_errors(caplog: pytest.LogCaptureFixture, since: int) -> list[str]:
    """ERROR records of the bot since record number `since` (an exception that escaped a
    handler is logged at ERROR by every channel), but the dossier source's start-up note."""
    return [
        record.getMessage()
        for record in caplog.records[since:]
        if record.levelno >= logging.ERROR and not record.name.startswith("bot.dossiers.source")
    ]


# --- the attack of issue 13, on each channel -------------------------------------------------


async def attack_web(world: World) -> Callable[[str], Awaitable[None]]:
    async with web_chat(world, "attacker_web_0000000000") as socket:
        for _ in range(5):
            await web_turn(socket, '{"type": "text", "text": "\\ud800"}')

    async def citizen(chat_id: str) -> None:
        async with web_chat(world, chat_id) as socket:
            await web_turn(socket, as_json({"type": "text", "text": QUESTION}))

    return citizen


async def attack_telegram(world: World) -> Callable[[str], Awaitable[None]]:
    for _ in range(5):
        await telegram_say(world, 6660001, POISON, name=POISON)

    async def citizen(chat_id: str) -> None:
        await telegram_say(world, int(chat_id), QUESTION)

    return citizen


async def attack_zalo(world: World) -> Callable[[str], Awaitable[None]]:
    for _ in range(5):
        assert await zalo_say(world, "attacker-zalo", POISON) == 200

    async def citizen(chat_id: str) -> None:
        assert await zalo_say(world, chat_id, QUESTION) == 200

    return citizen


ATTACKS = {"web": attack_web, "telegram": attack_telegram, "zalo": attack_zalo}
CITIZENS = {"web": "citizen_web_000000000000", "telegram": "7770001", "zalo": "citizen-zalo"}


@pytest.mark.slow
@pytest.mark.parametrize("channel", list(ATTACKS))
async def test_lone_surrogates_do_not_hold_another_chats_context(
    world: World, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    citizen = await ATTACKS[channel](world)
    chat_id = CITIZENS[channel]

    await citizen(chat_id)  # returns once the answer is received
    if channel == "web":  # the dialogue knows it by a digest of the page's secret id
        chat_id = chat_ref(chat_id).chat_id
    delay = await written_within(world, chat_id, seconds=5.0)
    # A retry loop would log a line a second: give it the time to show.
    await asyncio.sleep(1.5)

    assert delay is not None, "the other citizen's context was not written"
    assert delay <= DEFAULT_DELAY_SECONDS + WRITE_MARGIN_SECONDS, f"written after {delay:.3f} s"
    assert await row_count(world, questions, chat_id) == 1
    assert retry_lines(caplog) == 0
    assert await queues_empty(world)
    assert escaped_errors(caplog, 0) == []
    print(f"{channel}: other chat's context written {delay * 1000:.0f} ms after the answer")


async def test_a_bad_web_frame_is_answered_and_the_chat_goes_on(world: World) -> None:
    async with web_chat(world, "frames_000000000000000") as socket:
        for frame in (DEEP_FRAME, "not json", "[1, 2]", '{"type": "text"'):
            assert await web_turn(socket, frame) == [
                {"type": "notice", "text": texts.WEB_BAD_MESSAGE}
            ]
        answer = await web_turn(socket, as_json({"type": "text", "text": QUESTION}))
    assert answer[-1] == {"type": "done"}
    assert any(m["type"] == "reply" for m in answer)


async def test_bad_webhook_bodies_get_400_with_a_json_error(world: World) -> None:
    status, body = await broadcast_preview(world, DEEP_FRAME)
    assert status == 400 and "nested deeper" in body["error"]
    status, body = await push(world, b"[" * 50_000)
    assert status == 400 and body["result"] == "bad_body"
    deep_event = {"timestamp": "1", "x": json.loads("[" * 40 + "]" * 40)}
    assert await zalo_post(world, deep_event) == 400
    # ...and the next request is served as usual.
    assert await zalo_say(world, "after-bad-bodies", QUESTION) == 200
    status, body = await broadcast_preview(world, as_json({"text": "Thông báo \ud800"}))
    assert status == 200 and "\ufffd" in body["notice"]


# --- arbitrary Unicode through every entry point ---------------------------------------------

SPECIAL = [
    POISON,
    "\udfff\ud800",
    "a\x00b",
    "\x00",
    "\u200fمرحبا\u200e",
    "\u200b\u200c\u200d\ufeff",
    "👨\u200d👩\u200d👧 đăng ký khai sinh",
    "\x1b[2J\x07\x7f\x85",
    "/start \ud800",
    "",
]
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
HOSTILE_TEXT = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(ANY_CHARACTER, max_size=300),
    # 10,000 characters (Hypothesis draws short texts; a pattern is repeated to the length).
    st.text(ANY_CHARACTER, min_size=1, max_size=12).map(
        lambda piece: (piece * (10_000 // len(piece) + 1))[:10_000]
    ),
)
_examples = itertools.count()


async def through_every_channel(world: World, hostile: str, number: int) -> None:
    """`hostile` through each entry point, as the citizen (or system) at the other end."""
    frame = as_json({"type": "text", "text": hostile})
    async with web_chat(world, f"hostile_web_{number:012d}") as socket:
        if len(frame.encode()) <= MAX_FRAME_BYTES:
            turn = await web_turn(socket, frame)
            assert turn[-1]["type"] in ("done", "notice")
            button = as_json({"type": "button", "action": hostile[:64], "label": hostile[:200]})
            assert (await web_turn(socket, button))[-1]["type"] in ("done", "notice")
        else:  # more than any person types: aiohttp hangs up (1009, message too big)
            await socket.send_str(frame)
            assert (await socket.receive(timeout=10)).type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            )

    if hostile:  # Telegram has no empty text messages
        await telegram_say(world, 5_000_000 + number, hostile, name=hostile[:64] or "x")

    assert await zalo_say(world, f"hostile-zalo-{number}", hostile) in (200, 400)

    change = {"change_id": hostile[:200] or "x", "code": hostile, "status": hostile}
    # `example` makes each body new: the same signed body twice is a replay (409).
    status, _ = await push(world, as_json({"example": number, "changes": [change]}).encode())
    assert status in (202, 400), status

    status, _ = await broadcast_preview(world, as_json({"text": hostile, "audience": hostile}))
    assert status in (200, 409, 413, 422)

    out = io.StringIO()
    await run_console(
        world.running.core.dialogue,
        input_stream=io.StringIO(hostile + "\n" + QUESTION + "\n"),
        output_stream=out,
        chat_id=f"hostile-console-{number}",
        greet=False,
    )
    assert out.getvalue()


async def other_chats_are_written(world: World, number: int) -> None:
    """Normal questions on three channels after the hostile ones: contexts and statistics
    rows written at once, the write-behind queues empty."""
    web_id, telegram_id, zalo_id = (
        f"normal_web_{number:012d}",
        str(8_000_000 + number),
        f"normal-zalo-{number}",
    )
    async with web_chat(world, web_id) as socket:
        await web_turn(socket, as_json({"type": "text", "text": QUESTION}))
    await telegram_say(world, int(telegram_id), QUESTION)
    assert await zalo_say(world, zalo_id, QUESTION) == 200
    # The dialogue knows a web chat by a digest of the page's secret id.
    for chat_id in (chat_ref(web_id).chat_id, telegram_id, zalo_id):
        assert await written_within(world, chat_id, seconds=2.0) is not None, chat_id
        assert await written_within(world, chat_id, seconds=2.0, table=questions) is not None
    assert await queues_empty(world)


@pytest.mark.slow
# Hypothesis describes each example; a 10,000-character text makes a long description.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(hostile=HOSTILE_TEXT)
async def test_arbitrary_unicode_through_every_channel(
    world: World, caplog: pytest.LogCaptureFixture, hostile: str
) -> None:
    # One bot for all examples (starting it takes seconds): each example uses new chats.
    caplog.set_level(logging.INFO)
    number = next(_examples)
    since = len(caplog.records)

    await through_every_channel(world, hostile, number)
    await other_chats_are_written(world, number)

    assert escaped_errors(caplog, since) == []
    assert retry_lines(caplog) == 0


async def test_large_bodies_are_read_whole(world: World) -> None:
    # Found by the property test above: a body larger than one network chunk was read cut,
    # so a valid signature did not check out (401) and the JSON did not parse (400).
    note = "Hồ sơ đã được chuyển sang bước thẩm định. " * 8000  # about 400 kB as JSON
    changes = [{"change_id": "big-1", "code": "000.00.00.H00-261205-0001", "status": note}]
    status, body = await push(world, as_json({"changes": changes}).encode())
    assert status == 202, body
    # The broadcast API reads its body the same way: a long notice is refused as too long
    # (422, naming the limit), not as unreadable.
    notice = "Thông báo: " + "x" * 40_000
    status, body = await broadcast_preview(world, as_json({"text": notice}))
    assert status == 422 and "2000" in body["error"].replace(",", "")
