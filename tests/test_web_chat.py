"""The web chat's page and WebSocket, and /healthz, through aiohttp's test client.

The page itself (rendering, buttons, reload) is driven in real Chromium in
test_web_chat_browser.py; here: the JSON protocol, chat ids, the Origin check (a
cross-site page must not open a citizen's chat), the rate limit and size bounds.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from fakes import ScriptedDialogue
from fakes.dialogue import PNG_PIXEL
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.channels.health import ComponentHealth
from bot.channels.server import WebServer, create_web_app
from bot.channels.web import MAX_TEXT_CHARS, WebChat, chat_ref
from bot.channels.web_history import WebHistory
from bot.config import WebConfig
from bot.messages import Channel, Reply
from bot.retention import forget_personal_data
from bot.storage.web_tables import web_history

ClientMaker = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


STAFF = {"Authorization": "Bearer staff-token"}


def make_app(
    dialogue: ScriptedDialogue,
    config: WebConfig | None = None,
    health: dict[str, ComponentHealth] | None = None,
    history: WebHistory | None = None,
) -> web.Application:
    web_chat = WebChat(
        dialogue, config or WebConfig(), title="Trung tâm <Thử> & Test", history=history
    )
    return create_web_app(
        web_chat=web_chat, health=lambda: health or {}, health_token="staff-token"
    )


async def receive_turn(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Messages up to and including the "done" that ends a turn (or a notice)."""
    messages: list[dict[str, Any]] = []
    while True:
        message = await socket.receive_json(timeout=5)
        messages.append(message)
        if message["type"] in ("done", "notice"):
            return messages


async def test_page_is_self_contained_and_locked_down(aiohttp_client: ClientMaker) -> None:
    client = await aiohttp_client(make_app(ScriptedDialogue()))

    response = await client.get("/")
    page = await response.text()

    assert response.status == 200
    assert response.content_type == "text/html"
    assert "<title>Trung tâm &lt;Thử&gt; &amp; Test</title>" in page
    assert '<html lang="vi">' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external assets"
    policy = response.headers["Content-Security-Policy"]
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    # Its words come from bot/texts.py, escaped for where they go.
    assert "{{" not in page
    assert f'placeholder="{texts.WEB_INPUT_PLACEHOLDER}"' in page
    assert json.dumps(texts.WEB_RECONNECTING, ensure_ascii=False) in script.group(1)


async def test_new_visitor_gets_a_chat_id_and_a_greeting(aiohttp_client: ClientMaker) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue))

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": None, "resume": False})
        session = await socket.receive_json(timeout=5)
        greeting, done = await receive_turn(socket)

    assert session["type"] == "session"
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", session["chat_id"])
    assert greeting["sections"][0] == {
        "heading": "Xin chào!",
        "lines": ["Tôi là trợ lý của Trung tâm <PVHCC> & bạn."],
    }
    assert greeting["buttons"][1] == [
        {"label": "Cổng dịch vụ công", "action": "", "url": "https://dichvucong.gov.vn"}
    ]
    assert done == {"type": "done"}
    [incoming] = dialogue.received
    assert incoming.chat.channel is Channel.WEB
    # The dialogue (and logs, statistics, staff) see a digest of the page's secret id.
    assert incoming.chat == chat_ref(session["chat_id"])
    assert incoming.chat.chat_id != session["chat_id"]
    assert (incoming.text, incoming.is_first_contact) == ("/start", True)


async def test_returning_visitor_keeps_the_chat_and_a_reconnect_is_not_greeted(
    aiohttp_client: ClientMaker,
) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue))
    chat_id = "abcdefghijklmnop_QRSTUV-1"

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": chat_id, "resume": False})
        assert (await socket.receive_json(timeout=5))["chat_id"] == chat_id
        await receive_turn(socket)
    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": chat_id, "resume": True})
        assert (await socket.receive_json(timeout=5))["chat_id"] == chat_id
        await socket.send_json({"type": "text", "text": "  còn lệ phí?  "})
        [reply, _] = await receive_turn(socket)

    assert [(m.text, m.is_first_contact) for m in dialogue.received] == [
        ("/start", False),
        ("còn lệ phí?", False),
    ]
    assert {m.chat for m in dialogue.received} == {chat_ref(chat_id)}
    assert reply["sections"][0]["lines"] == ["còn lệ phí?"]


async def test_a_malformed_chat_id_is_replaced(aiohttp_client: ClientMaker) -> None:
    client = await aiohttp_client(make_app(ScriptedDialogue()))

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": "../../etc/passwd"})
        session = await socket.receive_json(timeout=5)

    assert session["chat_id"] != "../../etc/passwd"
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", session["chat_id"])


async def test_a_button_press_carries_its_action_and_label(aiohttp_client: ClientMaker) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue))

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "resume": True})
        await socket.receive_json(timeout=5)
        await socket.send_json({"type": "button", "action": "menu:ask", "label": "Hỏi thủ tục"})
        [reply, _] = await receive_turn(socket)
        await socket.send_json({"type": "text", "text": "image"})
        [picture, _] = await receive_turn(socket)

    assert (dialogue.received[0].action, dialogue.received[0].text) == ("menu:ask", "Hỏi thủ tục")
    assert reply["sections"][0]["lines"] == ["Bạn chọn: Hỏi thủ tục [menu:ask]"]
    assert picture["image"] == "data:image/png;base64," + base64.b64encode(PNG_PIXEL).decode()


@pytest.mark.parametrize(
    ("origin", "config", "allowed"),
    [
        ("https://evil.example", WebConfig(), False),
        ("null", WebConfig(), False),
        ("https://center.gov.vn", WebConfig(allowed_origins=("https://center.gov.vn",)), True),
        ("https://chat.center.gov.vn", WebConfig(public_url="https://chat.center.gov.vn/"), True),
        (
            "https://center.gov.vn.evil.example",
            WebConfig(allowed_origins=("https://center.gov.vn",)),
            False,
        ),
    ],
)
async def test_websocket_origin_check(
    aiohttp_client: ClientMaker, origin: str, config: WebConfig, allowed: bool
) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue, config))

    if allowed:
        async with client.ws_connect("/ws", headers={"Origin": origin}) as socket:
            await socket.send_json({"type": "hello"})
            assert (await socket.receive_json(timeout=5))["type"] == "session"
    else:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": origin})
        assert refused.value.status == 403
        assert dialogue.received == []


async def test_the_page_own_origin_is_allowed(aiohttp_client: ClientMaker) -> None:
    client = await aiohttp_client(make_app(ScriptedDialogue()))
    own = str(client.make_url("/")).rstrip("/")

    async with client.ws_connect("/ws", headers={"Origin": own}) as socket:
        await socket.send_json({"type": "hello"})
        assert (await socket.receive_json(timeout=5))["type"] == "session"


async def test_rate_limit_refuses_politely(aiohttp_client: ClientMaker) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue, WebConfig(messages_per_minute=3)))

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello"})
        await socket.receive_json(timeout=5)
        await receive_turn(socket)  # the greeting does not count
        for number in range(3):
            await socket.send_json({"type": "text", "text": f"question {number}"})
            assert (await receive_turn(socket))[-1] == {"type": "done"}
        await socket.send_json({"type": "text", "text": "one too many"})
        refusal = await receive_turn(socket)

    assert refusal == [{"type": "notice", "text": texts.WEB_RATE_LIMITED}]
    assert [m.text for m in dialogue.received][1:] == [f"question {n}" for n in range(3)]


async def ask(socket: aiohttp.ClientWebSocketResponse, text: str) -> dict[str, Any]:
    """Send a question; the last message of the turn ("done", or a notice)."""
    await socket.send_json({"type": "text", "text": text})
    return (await receive_turn(socket))[-1]


async def test_more_connections_do_not_get_round_the_limit(aiohttp_client: ClientMaker) -> None:
    dialogue = ScriptedDialogue()
    config = WebConfig(messages_per_minute=5, messages_per_minute_per_address=6)
    client = await aiohttp_client(make_app(dialogue, config))

    async with client.ws_connect("/ws") as first, client.ws_connect("/ws") as second:
        for socket in (first, second):
            await socket.send_json({"type": "hello", "resume": True})
            await socket.receive_json(timeout=5)
        outcomes = [await ask(socket, "q") for _ in range(4) for socket in (first, second)]

    assert [o["type"] for o in outcomes] == ["done"] * 6 + ["notice"] * 2
    assert outcomes[-1]["text"] == texts.WEB_RATE_LIMITED
    assert len(dialogue.received) == 6


async def test_reconnecting_does_not_restart_the_addresss_window(
    aiohttp_client: ClientMaker,
) -> None:
    """A script that opens a new chat every few messages still shares one window."""
    dialogue = ScriptedDialogue()
    config = WebConfig(messages_per_minute_per_address=4, trust_forwarded_for=True)
    client = await aiohttp_client(make_app(dialogue, config))
    outcomes = []
    for _ in range(3):
        headers = {"X-Forwarded-For": "198.51.100.4"}
        async with client.ws_connect("/ws", headers=headers) as socket:
            await socket.send_json({"type": "hello", "resume": True})
            await socket.receive_json(timeout=5)
            outcomes += [(await ask(socket, "q"))["type"] for _ in range(2)]

    assert outcomes == ["done"] * 4 + ["notice"] * 2
    assert {m.network_address for m in dialogue.received} == {"198.51.100.4"}


async def test_connections_per_address_are_bounded(aiohttp_client: ClientMaker) -> None:
    client = await aiohttp_client(
        make_app(ScriptedDialogue(), WebConfig(connections_per_address=2))
    )
    async with client.ws_connect("/ws"), client.ws_connect("/ws") as second:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 429
        await second.close()
        # A closed connection frees its place.
        async with client.ws_connect("/ws") as again:
            await again.send_json({"type": "hello", "resume": True})
            assert (await again.receive_json(timeout=5))["type"] == "session"


@pytest.mark.parametrize("trusted", [True, False])
async def test_forwarded_addresses_count_apart_only_when_trusted(
    aiohttp_client: ClientMaker, trusted: bool
) -> None:
    config = WebConfig(connections_per_address=1, trust_forwarded_for=trusted)
    client = await aiohttp_client(make_app(ScriptedDialogue(), config))

    def behind_proxy(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": f"203.0.113.9, {address}"}

    async with client.ws_connect("/ws", headers=behind_proxy("198.51.100.1")):
        if trusted:
            async with client.ws_connect("/ws", headers=behind_proxy("198.51.100.2")):
                pass
        else:
            # Untrusted, the header is anyone's to write: both come from the same peer.
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await client.ws_connect("/ws", headers=behind_proxy("198.51.100.2"))


async def test_an_empty_message_is_answered(aiohttp_client: ClientMaker) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue))

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "resume": True})
        await socket.receive_json(timeout=5)
        outcome = await ask(socket, "   ")

    assert outcome == {"type": "done"}
    assert [m.text for m in dialogue.received] == [""]


async def test_message_size_is_bounded(aiohttp_client: ClientMaker) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue))

    async with client.ws_connect("/ws") as socket:
        await socket.send_json({"type": "hello", "resume": True})
        await socket.receive_json(timeout=5)
        await socket.send_json({"type": "text", "text": "x" * (MAX_TEXT_CHARS + 1)})
        [notice] = await receive_turn(socket)
        await socket.send_str("not json")
        bad_frame = await socket.receive_json(timeout=5)
        # A pasted 10,000-character Vietnamese text is answered with the notice too.
        await socket.send_json({"type": "text", "text": "đăng ký khai sinh " * 600})
        [pasted] = await receive_turn(socket)
        await socket.send_str("y" * 70_000)  # over the frame limit: the server hangs up
        closing = await socket.receive(timeout=5)

    assert notice["type"] == "notice" and str(MAX_TEXT_CHARS) in notice["text"]
    assert pasted == notice
    assert bad_frame == {"type": "notice", "text": texts.WEB_BAD_MESSAGE}
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert dialogue.received == []


async def test_open_chats_are_closed_when_the_server_stops() -> None:
    dialogue = ScriptedDialogue()
    server = WebServer(make_app(dialogue), "127.0.0.1", 0, shutdown_timeout=2.0)
    await server.start()
    async with aiohttp.ClientSession() as session:
        socket = await session.ws_connect(f"{server.url}/ws")
        await socket.send_json({"type": "hello", "resume": True})
        await socket.receive_json(timeout=5)
        await server.stop()
        closing = await socket.receive(timeout=5)
        await socket.close()

    assert closing.type is WSMsgType.CLOSE
    assert closing.data == aiohttp.WSCloseCode.GOING_AWAY


@pytest.mark.parametrize(
    ("health", "status", "code"),
    [
        ({"web": ComponentHealth("ok"), "zalo": ComponentHealth("disabled")}, "ok", 200),
        ({"web": ComponentHealth("ok"), "telegram": ComponentHealth("degraded", "x")},
         "degraded", 200),
        ({"web": ComponentHealth("ok"), "dossiers": ComponentHealth("down", "db")}, "down", 503),
    ],
)  # fmt: skip
async def test_healthz_reports_each_component(
    aiohttp_client: ClientMaker, health: dict[str, ComponentHealth], status: str, code: int
) -> None:
    client = await aiohttp_client(make_app(ScriptedDialogue(), health=health))

    response = await client.get("/healthz", headers=STAFF)
    body = await response.json()

    assert response.status == code
    assert body["status"] == status
    assert body["components"] == {name: h.as_json() for name, h in health.items()}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "staff-token", "Basic staff-token", "Bearer "]
)
async def test_healthz_tells_anyone_only_the_status(
    aiohttp_client: ClientMaker, authorization: str | None
) -> None:
    """User names, hosts, file paths and raw errors are for staff (the API token) only."""
    health = {
        "database": ComponentHealth("ok", "postgresql+asyncpg://bot:***@db.internal/bot"),
        "dossiers": ComponentHealth("degraded", "no such table: dossiers (/srv/x.sqlite3)"),
    }
    client = await aiohttp_client(make_app(ScriptedDialogue(), health=health))
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await client.get("/healthz", headers=headers)

    assert response.status == 200
    assert await response.json() == {"status": "degraded"}


async def test_healthz_without_a_configured_token_shows_no_details(
    aiohttp_client: ClientMaker,
) -> None:
    web_chat = WebChat(ScriptedDialogue(), WebConfig())
    health = {"web": ComponentHealth("ok", "2 chats")}
    client = await aiohttp_client(create_web_app(web_chat=web_chat, health=lambda: health))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
        assert await (await client.get("/healthz", headers=headers)).json() == {"status": "ok"}


async def test_healthz_accepts_an_async_source(aiohttp_client: ClientMaker) -> None:
    async def report() -> dict[str, ComponentHealth]:
        return {"web": ComponentHealth("ok", "2 chats")}

    web_chat = WebChat(ScriptedDialogue(), WebConfig())
    app = create_web_app(web_chat=web_chat, health=report, health_token="staff-token")
    client = await aiohttp_client(app)

    body = await (await client.get("/healthz", headers=STAFF)).json()
    assert body == {"status": "ok", "components": {"web": {"state": "ok", "detail": "2 chats"}}}


async def test_extra_routes_are_mounted(aiohttp_client: ClientMaker) -> None:
    async def pong(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    def install(app: web.Application) -> None:
        app.router.add_post("/api/ping", pong)

    web_chat = WebChat(ScriptedDialogue(), WebConfig())
    app = create_web_app(web_chat=web_chat, health=dict, extra_routes=[install])
    client = await aiohttp_client(app)

    assert await (await client.post("/api/ping")).text() == "pong"


@pytest.mark.parametrize("trusted", [True, False])
async def test_greetings_and_new_chats_are_limited_per_address(
    aiohttp_client: ClientMaker, trusted: bool
) -> None:
    """Opening chats that only say hello, over and over, is cut after the address's
    allowance; a resumed chat is not counted, and a proxy's clients count apart only when
    the proxy is trusted."""
    dialogue = ScriptedDialogue()
    config = WebConfig(chat_starts_per_minute_per_address=3, trust_forwarded_for=trusted)
    client = await aiohttp_client(make_app(dialogue, config))

    def behind_proxy(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    firsts = []
    for _ in range(5):
        async with client.ws_connect("/ws", headers=behind_proxy("198.51.100.7")) as socket:
            await socket.send_json({"type": "hello", "chat_id": None, "resume": False})
            firsts.append(await socket.receive_json(timeout=5))
    assert [m["type"] for m in firsts] == ["session"] * 3 + ["notice"] * 2
    assert firsts[-1]["text"] == texts.WEB_RATE_LIMITED
    assert [m.text for m in dialogue.received] == ["/start"] * 3
    assert all(m.greeting_shown for m in dialogue.received)

    async with client.ws_connect("/ws", headers=behind_proxy("198.51.100.7")) as socket:
        # Refused a new chat, a message starts none either.
        await socket.send_json({"type": "text", "text": "hỏi"})
        assert await receive_turn(socket) == [{"type": "notice", "text": texts.WEB_RATE_LIMITED}]
        # A chat the page already shows goes on: not greeted, its questions answered.
        known = firsts[0]["chat_id"]
        await socket.send_json({"type": "hello", "chat_id": known, "resume": True})
        assert await socket.receive_json(timeout=5) == {"type": "session", "chat_id": known}
        assert (await ask(socket, "còn lệ phí?"))["type"] == "done"
    assert dialogue.received[-1].text == "còn lệ phí?"
    assert dialogue.received[-1].greeting_shown

    async with client.ws_connect("/ws", headers=behind_proxy("198.51.100.8")) as socket:
        await socket.send_json({"type": "hello", "chat_id": None, "resume": False})
        other = await socket.receive_json(timeout=5)
    assert other["type"] == ("session" if trusted else "notice")


async def test_the_host_header_is_not_copied_into_the_policy(
    aiohttp_client: ClientMaker,
) -> None:
    """The Host header is anyone's to write: copied into the policy it could add sources."""
    client = await aiohttp_client(make_app(ScriptedDialogue()))
    evil = {"Host": "evil.example; script-src * 'unsafe-inline'"}

    policy = (await client.get("/", headers=evil)).headers["Content-Security-Policy"]

    assert "evil" not in policy and "unsafe-inline" not in policy
    assert "connect-src 'self';" in policy
    configured = WebConfig(public_url="https://chat.example.gov.vn/hoi-dap")
    client = await aiohttp_client(make_app(ScriptedDialogue(), configured))
    policy = (await client.get("/", headers=evil)).headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://chat.example.gov.vn;" in policy
    assert "evil" not in policy


# --- the conversation shown again after a reload -----------------------------------------


async def open_session(
    client: TestClient[web.Request, web.Application], chat_id: str | None
) -> tuple[aiohttp.ClientWebSocketResponse, str, dict[str, Any]]:
    """A new page load: (the socket, the page's chat id, the first message after it)."""
    socket = await client.ws_connect("/ws")
    await socket.send_json({"type": "hello", "chat_id": chat_id, "resume": False})
    session = await socket.receive_json(timeout=5)
    return socket, session["chat_id"], await socket.receive_json(timeout=5)


async def stored_rows(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(web_history.c.chat_id, web_history.c.messages).order_by(web_history.c.id)
        )
        return [(row.chat_id, row.messages) for row in rows]


async def test_pages_that_only_said_hello_keep_no_history(
    aiohttp_client: ClientMaker, engine: AsyncEngine
) -> None:
    """A flood of page loads that say nothing stores nothing; the greeting is kept with the
    first thing the chat says, and is there on the next reload."""
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue, history=WebHistory(engine, exchanges=5)))
    for _ in range(10):
        socket, _, greeting = await open_session(client, None)
        assert greeting["sections"][0]["heading"] == "Xin chào!"
        await socket.close()
    assert await stored_rows(engine) == []

    socket, key, _ = await open_session(client, None)
    await receive_turn(socket)
    await socket.send_json({"type": "text", "text": "một"})
    await receive_turn(socket)
    await socket.close()
    assert len(await stored_rows(engine)) == 2
    socket, _, history = await open_session(client, key)
    await socket.close()
    greeting, asked = history["exchanges"]
    assert greeting[0]["sections"][0]["heading"] == "Xin chào!"
    assert asked[0] == {"type": "user", "text": "một"}


async def test_a_reload_shows_the_last_exchanges_instead_of_a_new_greeting(
    aiohttp_client: ClientMaker, engine: AsyncEngine
) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue, history=WebHistory(engine, exchanges=3)))

    socket, key, greeting = await open_session(client, None)
    assert greeting["sections"][0]["heading"] == "Xin chào!"
    await receive_turn(socket)
    for text in ("một", "hai"):
        await socket.send_json({"type": "text", "text": text})
        await receive_turn(socket)
    await socket.send_json({"type": "button", "action": "part:fee", "label": "Lệ phí"})
    await receive_turn(socket)
    await socket.close()

    socket, same_key, history = await open_session(client, key)
    await socket.close()

    assert same_key == key
    assert history["type"] == "history"
    # The last 3 exchanges (the greeting was the oldest of 4), as the page drew them.
    shown = [
        [(m["type"], m.get("text") or m["sections"]) for m in e] for e in history["exchanges"]
    ]
    assert shown == [
        [("user", "một"), ("reply", [{"heading": "Bạn hỏi", "lines": ["một"]}])],
        [("user", "hai"), ("reply", [{"heading": "Bạn hỏi", "lines": ["hai"]}])],
        [
            ("user", "Lệ phí"),
            ("reply", [{"heading": "", "lines": ["Bạn chọn: Lệ phí [part:fee]"]}]),
        ],
    ]
    assert history["exchanges"][0][1]["buttons"][0][0]["action"] == "part:fee"
    # Not greeted again; and the table holds no more than 3 exchanges of the chat.
    assert [m.text for m in dialogue.received] == ["/start", "một", "hai", "Lệ phí"]
    rows = await stored_rows(engine)
    assert len(rows) == 3 and {chat for chat, _ in rows} == {chat_ref(key).chat_id}


async def test_history_opens_only_with_the_pages_own_secret_id(
    aiohttp_client: ClientMaker, engine: AsyncEngine
) -> None:
    dialogue = ScriptedDialogue()
    client = await aiohttp_client(make_app(dialogue, history=WebHistory(engine, exchanges=20)))
    socket, key, _ = await open_session(client, None)
    await receive_turn(socket)
    await socket.send_json({"type": "text", "text": "hồ sơ 000.00.12.H58 số cuối 5633"})
    await receive_turn(socket)
    await socket.close()

    # The chat id logs and staff see (the digest), another random id, and a near miss: each
    # is a new chat that is greeted and shown nothing of the other's.
    for other in (chat_ref(key).chat_id, "A" * 24, key[:-1] + ("A" if key[-1] != "A" else "B")):
        socket, other_key, first = await open_session(client, other)
        await socket.close()
        assert other_key == other
        assert first["type"] == "reply" and first["sections"][0]["heading"] == "Xin chào!"

    socket, _, history = await open_session(client, key)
    await socket.close()
    assert history["type"] == "history"
    greeting, dossier = history["exchanges"]
    assert greeting[0]["sections"][0]["heading"] == "Xin chào!"
    # The private answer again, to the browser that holds the key; in the citizen's own
    # message the digits are masked (they may be the verification digits), also in the table.
    assert dossier[0] == {"type": "user", "text": "hồ sơ •••.••.••.H•• số cuối ••••"}
    assert dossier[1]["sections"][0]["lines"][0] == "Người nộp: NGUYỄN V** A"
    stored = " ".join(messages for _, messages in await stored_rows(engine))
    assert "5633" not in stored and "NGUYỄN V** A" in stored
    # Its link buttons (single-use tokens) are not kept; the others are.
    assert dossier[1]["buttons"] == [
        [{"label": "Xem quá trình xử lý", "action": "d:hist:x", "url": ""}]
    ]
    assert "single-use-token" not in stored


async def test_web_history_is_erased_with_other_personal_data(engine: AsyncEngine) -> None:
    history = WebHistory(engine, exchanges=20)
    now = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    await history.record("old-chat", [{"type": "user", "text": "cũ"}], now - dt.timedelta(days=40))
    await history.record("new-chat", [{"type": "user", "text": "mới"}], now)

    erased = await forget_personal_data(engine, now - dt.timedelta(days=30))

    assert erased.contexts >= 1
    assert await history.recent("old-chat") == []
    assert await history.recent("new-chat") == [[{"type": "user", "text": "mới"}]]


async def test_a_photo_is_kept_as_the_page_showed_it(
    aiohttp_client: ClientMaker, engine: AsyncEngine
) -> None:
    client = await aiohttp_client(
        make_app(ScriptedDialogue(), history=WebHistory(engine, exchanges=20))
    )
    socket, key, _ = await open_session(client, None)
    await receive_turn(socket)
    await socket.close()
    response = await client.post("/photo", data=PNG_PIXEL, headers={"X-Chat-Id": key})
    assert response.status == 200

    socket, _, history = await open_session(client, key)
    await socket.close()
    assert history["exchanges"][-1][0] == {"type": "user", "text": texts.WEB_PHOTO_SENT}


async def test_replies_to_no_turn_are_kept_once_for_the_next_reload(
    aiohttp_client: ClientMaker, engine: AsyncEngine
) -> None:
    """A staff member's answer during a hand-off (WebChat.send): shown live, or stored
    with the history the page's next load shows; kept once either way."""
    web_chat = WebChat(ScriptedDialogue(), WebConfig(), history=WebHistory(engine, exchanges=20))
    client = await aiohttp_client(create_web_app(web_chat=web_chat, health=dict))
    socket, key, _ = await open_session(client, None)
    await receive_turn(socket)
    chat_id = chat_ref(key).chat_id
    await web_chat.send(chat_id, Reply.text("Cán bộ: chào bạn"))
    assert (await socket.receive_json(timeout=5))["sections"][0]["lines"] == ["Cán bộ: chào bạn"]
    await socket.close()
    await web_chat.send(chat_id, Reply.text("Cán bộ: bạn còn đó không?"))

    socket, _, history = await open_session(client, key)
    with pytest.raises(TimeoutError):
        await socket.receive_json(timeout=0.3)
    await socket.close()
    assert [e[0]["sections"][0]["lines"][0] for e in history["exchanges"][1:]] == [
        "Cán bộ: chào bạn",
        "Cán bộ: bạn còn đó không?",
    ]

    socket, _, history = await open_session(client, key)
    with pytest.raises(TimeoutError):
        await socket.receive_json(timeout=0.3)
    await socket.close()
    assert [e[0]["sections"][0]["lines"][0] for e in history["exchanges"][1:]] == [
        "Cán bộ: chào bạn",
        "Cán bộ: bạn còn đó không?",
    ]
