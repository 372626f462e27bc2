"""A database outage is logged as one line when it starts and one when it ends, whatever
part of the bot meets it and however often; no tracebacks for connection errors.

The outage is made with a TCP proxy in front of the machine's PostgreSQL (tests/fakes):
the proxy is cut (open connections reset, new ones refused) and restored, the server itself
keeps running for the other tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from e2e_support import zalo_config_for
from fakes import FakeZaloApi, ScriptedDialogue
from fakes.tcp_proxy import TcpProxy
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.server import WebServer, create_web_app
from bot.channels.web import WebChat
from bot.channels.web_history import WebHistory
from bot.channels.zalo import ZaloChannel
from bot.config import WebConfig
from bot.dialogue.context import ChatContext, ContextStore
from bot.messages import Channel, ChatRef
from bot.storage.database import StorageUnavailable, connect, create_engine
from bot.storage.outage import OutageLog
from bot.storage.schema import ensure_schema

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def proxied(postgres_url: str) -> AsyncIterator[tuple[TcpProxy, AsyncEngine]]:
    direct = create_engine(postgres_url)
    await ensure_schema(direct)
    await direct.dispose()
    url = make_url(postgres_url)
    assert url.host is not None
    async with TcpProxy(url.host, url.port or 5432) as proxy:
        engine = create_engine(url.set(port=proxy.port).render_as_string(hide_password=False))
        yield proxy, engine
        await engine.dispose()


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.outage"]


async def test_an_outage_is_two_lines_whoever_meets_it(
    proxied: tuple[TcpProxy, AsyncEngine], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, engine = proxied
    contexts = ContextStore(engine, flush_delay=0.01)
    chat = ChatRef(Channel.WEB, "outage-chat-0001")
    caplog.set_level(logging.INFO)
    async with connect(engine) as connection:
        await connection.execute(text("SELECT 1"))
    await contexts.load(chat, NOW)

    await proxy.cut()
    failures = 0
    for _ in range(15):
        for call in (
            contexts.load(chat, NOW),
            contexts.flush(),
            _select_one(engine),
        ):
            try:
                await call
            except StorageUnavailable:
                failures += 1
        # Served from memory while the database is down: says nothing about it.
        await contexts.save(chat, ChatContext(last_question="q"), NOW)
        assert (await contexts.load(chat, NOW)).last_question == "q"
    during = outage_lines(caplog)
    await proxy.restore()
    await contexts.flush()
    await _select_one(engine)
    await _select_one(engine)
    await contexts.close()

    assert failures >= 30
    assert len(during) == 1, during
    assert "unavailable" in during[0] and "Connect call failed" in during[0]
    [down, up] = outage_lines(caplog)
    assert down == during[0]
    assert "available again" in up
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_port_with_nothing_listening_is_one_line(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with TcpProxy("127.0.0.1", 1) as nowhere:
        # The proxy's port, while it is cut, has nothing listening.
        await nowhere.cut()
        url = make_url(postgres_url).set(port=nowhere.port)
        engine = create_engine(url.render_as_string(hide_password=False))
        caplog.set_level(logging.INFO)
        for _ in range(5):
            with pytest.raises(StorageUnavailable):
                await _select_one(engine)
        assert len(outage_lines(caplog)) == 1
        await engine.dispose()


def test_outage_log_counts_and_times_the_outage(caplog: pytest.LogCaptureFixture) -> None:
    clock = iter([100.0, 112.4])
    outage = OutageLog("dossier API", clock=lambda: next(clock))
    caplog.set_level(logging.INFO)
    outage.succeeded()
    outage.failed("timeout")
    outage.failed("timeout")
    outage.failed("refused")
    outage.succeeded()
    outage.succeeded()

    assert outage_lines(caplog) == [
        "dossier API is unavailable: timeout (logged once; its return is logged too)",
        "dossier API is available again after 12 s (3 calls failed meanwhile)",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


async def _select_one(engine: AsyncEngine) -> None:
    async with connect(engine) as connection:
        await connection.execute(select(1))


async def test_the_web_chat_history_during_an_outage_is_not_a_traceback_a_message(
    proxied: tuple[TcpProxy, AsyncEngine],
    caplog: pytest.LogCaptureFixture,
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
) -> None:
    proxy, engine = proxied
    web_chat = WebChat(ScriptedDialogue(), WebConfig(), history=WebHistory(engine, exchanges=5))
    client = await aiohttp_client(create_web_app(web_chat=web_chat, health=dict))
    caplog.set_level(logging.INFO)
    await proxy.cut()
    for number in range(3):
        async with client.ws_connect("/ws") as socket:
            chat_id = f"outage-page-{number:02d}-abcdefgh"
            await socket.send_json({"type": "hello", "chat_id": chat_id, "resume": False})
            for text in ("một", "hai"):
                await socket.send_json({"type": "text", "text": text})
            done = 0
            while done < 3:  # the greeting and the two answers, without their history
                done += (await socket.receive_json(timeout=10))["type"] == "done"
    await proxy.restore()

    assert len(outage_lines(caplog)) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_zalo_answers_during_an_outage_with_one_line_logged(
    proxied: tuple[TcpProxy, AsyncEngine], caplog: pytest.LogCaptureFixture
) -> None:
    """The numbered choices live in the database: while it is down the answer still goes
    (a number typed back is read as text), and no event logs a line of its own."""
    proxy, engine = proxied
    dialogue = ScriptedDialogue()
    async with FakeZaloApi() as zalo:
        config = dataclasses.replace(zalo_config_for(zalo), webhook_path="/zalo/hook")
        channel = ZaloChannel(config, dialogue, engine)
        await channel.start()
        app = create_web_app(web_chat=WebChat(dialogue, WebConfig()), health=dict, zalo=channel)
        server = WebServer(app, "127.0.0.1", 0)
        await server.start()
        try:
            hook = server.url + "/zalo/hook"
            await zalo.deliver(hook, zalo.user_text("u1", "trước"))
            await zalo.wait_for_sent(1, user_id="u1")
            caplog.set_level(logging.INFO)
            await proxy.cut()
            for number in range(3):
                await zalo.deliver(hook, zalo.user_text("u1", f"câu {number}"))
            await zalo.wait_for_sent(4, user_id="u1")
            await proxy.restore()
        finally:
            await server.stop()
            await channel.stop()

    assert [m.text for m in dialogue.received][1:] == ["câu 0", "câu 1", "câu 2"]
    assert len(outage_lines(caplog)) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
