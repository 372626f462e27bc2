"""The web chat as a sender: replies that answer no turn of the page (a staff member's
answer during a hand-off) reach every open connection of the chat, or are kept (in the
chat's stored history, else in memory) for the page's next connection with the same chat id
(a reload)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from fakes import ScriptedDialogue
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.server import create_web_app
from bot.channels.web import MAX_WAITING_REPLIES, WebChat, chat_ref
from bot.channels.web_history import WebHistory
from bot.config import WebConfig
from bot.messages import Channel, RecipientBlocked, Reply

ClientMaker = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
CHAT = "chat-id-for-push-tests-0001"
# What the dialogue (and a relay) knows the chat by: a digest of the page's chat id.
CHAT_REF = chat_ref(CHAT).chat_id


def chat_app() -> tuple[WebChat, web.Application]:
    web_chat = WebChat(ScriptedDialogue(), WebConfig())
    return web_chat, create_web_app(web_chat=web_chat, health=lambda: {})


def lines(frame: dict[str, object]) -> list[str]:
    sections = frame["sections"]
    assert isinstance(sections, list)
    return [line for section in sections for line in section["lines"]]


async def test_open_connections_of_the_chat_receive_it(aiohttp_client: ClientMaker) -> None:
    web_chat, app = chat_app()
    assert web_chat.channel is Channel.WEB
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws") as first, client.ws_connect("/ws") as second:
        for socket in (first, second):
            await socket.send_json({"type": "hello", "chat_id": CHAT, "resume": True})
            assert (await socket.receive_json(timeout=5))["chat_id"] == CHAT
        async with client.ws_connect("/ws") as other:
            await other.send_json(
                {"type": "hello", "chat_id": "another-chat-id-0002", "resume": True}
            )
            await other.receive_json(timeout=5)
            await web_chat.send(CHAT_REF, Reply.text("Cán bộ trả lời: chào bạn"))
            for socket in (first, second):
                frame = await socket.receive_json(timeout=5)
                assert frame["type"] == "reply"
                assert lines(frame) == ["Cán bộ trả lời: chào bạn"]
            with pytest.raises(TimeoutError):
                await other.receive_json(timeout=0.3)


async def test_a_closed_chat_gets_the_newest_replies_when_it_reconnects(
    aiohttp_client: ClientMaker,
) -> None:
    web_chat, app = chat_app()
    client = await aiohttp_client(app)
    for number in range(MAX_WAITING_REPLIES + 5):
        await web_chat.send(CHAT_REF, Reply.text(f"trả lời {number}"))
    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": CHAT, "resume": True})
        assert (await socket.receive_json(timeout=5))["type"] == "session"
        received = [lines(await socket.receive_json(timeout=5))[0] for _ in range(20)]
        assert received == [f"trả lời {n}" for n in range(5, MAX_WAITING_REPLIES + 5)]
    # Delivered once: a second reload gets nothing more.
    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": CHAT, "resume": True})
        await socket.receive_json(timeout=5)
        with pytest.raises(TimeoutError):
            await socket.receive_json(timeout=0.3)


async def test_waiting_replies_are_bounded_in_chats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.channels.web.MAX_WAITING_CHATS", 3)
    web_chat, _app = chat_app()
    for number in range(3):
        await web_chat.send(f"closed-chat-{number:02d}-xxxxxxxx", Reply.text("x"))
    with pytest.raises(RecipientBlocked):
        await web_chat.send("closed-chat-99-xxxxxxxx", Reply.text("x"))


async def test_a_reply_to_a_closed_page_is_kept_in_its_history_for_any_process(
    aiohttp_client: ClientMaker, engine: AsyncEngine
) -> None:
    """With the history on, a staff answer sent while the page is closed is stored: the
    page's next load shows it, even when another bot process (or the same one, restarted)
    serves that load."""
    sending = WebChat(ScriptedDialogue(), WebConfig(), history=WebHistory(engine, exchanges=5))
    await sending.send(CHAT_REF, Reply.text("Cán bộ trả lời: hồ sơ cần 2 bản sao"))

    serving = WebChat(ScriptedDialogue(), WebConfig(), history=WebHistory(engine, exchanges=5))
    client = await aiohttp_client(create_web_app(web_chat=serving, health=lambda: {}))
    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": CHAT, "resume": False})
        assert (await socket.receive_json(timeout=5))["type"] == "session"
        history = await socket.receive_json(timeout=5)
        assert history["type"] == "history"
        shown = [
            line
            for exchange in history["exchanges"]
            for message in exchange
            for section in message.get("sections", ())
            for line in section["lines"]
        ]
        assert shown == ["Cán bộ trả lời: hồ sơ cần 2 bản sao"]
        # Shown from the history: not sent a second time as a waiting reply.
        with pytest.raises(TimeoutError):
            await socket.receive_json(timeout=0.3)
