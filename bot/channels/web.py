"""Web chat: one page (web_chat.html, no external assets) and a WebSocket at /ws.

The page keeps a random chat id in localStorage so that follow-up questions survive a
reload, and talks JSON over the WebSocket:

    page -> bot   {"type": "hello", "chat_id": "<id or null>", "resume": false}
                  {"type": "text", "text": "..."}
                  {"type": "button", "action": "...", "label": "..."}
    bot -> page   {"type": "session", "chat_id": "..."}
                  {"type": "history", "exchanges": [[<user>, <reply>, ...], ...]}
                  {"type": "reply", "sections": [{"heading": "", "lines": [...]}],
                   "buttons": [[{"label": "", "action": "", "url": ""}]], "image": null}
                  {"type": "notice", "text": "..."}      (rate limit, message too long)
                  {"type": "done"}                        (every answer to a turn was sent)

The page's chat id is a secret of that browser (144 random bits, from the server): the
dialogue, the logs, the statistics and staff see only a digest of it (`chat_ref`), so an id
seen there cannot open the chat, its dossier grants or its history. On a (re)load
(`"resume": false`) the page is sent the chat's last exchanges (`[web] history_exchanges`,
bot.channels.web_history), as `{"type": "user", "text": ...}` and reply messages, instead
of a new greeting; in the citizen's own messages of a turn answered with a dossier's details
(`Reply.private`), digits are kept masked (they may be the verification digits), and
such replies are kept without their link buttons.

Messages that do not answer the page's own turn (a staff member's answer during a hand-off,
bot.dialogue.handoff_flow) come as "reply" frames on every open connection of that chat
(`send`); when none is open, they are stored with the chat's history, which the next load
of that page shows (whichever bot process serves it, after a restart too), and wait in
memory for a page that only lost its connection (`"resume": true` shows no history): they
come right after its next "session", at most `MAX_WAITING_REPLIES` per chat.

A photo of the receipt slip (the page's camera button) goes over HTTP, not the WebSocket
(whose frames stay small): `POST /photo` with the chat id in `X-Chat-Id` and the picture as
the body (the page shrinks it to 2,000 px first); the answer is the turn's replies,
`{"type": "replies", "replies": [<reply>, ...]}`, or a notice with status 429.

Cross-site WebSocket hijacking is prevented by the Origin check (the page's own origin,
`[web] public_url`, or `[web] allowed_origins`); each connection may send at most
`[web] messages_per_minute` messages a minute, and all connections from one network address
together `messages_per_minute_per_address`, with at most `connections_per_address` open and
`chat_starts_per_minute_per_address` chats started (new chat ids and greetings) a minute.
A chat that said nothing but hello is not stored (Incoming.greeting_shown).

The page and the JSON it renders: bot.channels.web_page; the limits: bot.channels.web_limits.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import secrets
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from bot import inbound, texts
from bot.channels.chat_locks import ChatLocks
from bot.channels.health import ComponentHealth
from bot.channels.photo_bytes import read_photo
from bot.channels.web_history import PageMessage, WebHistory
from bot.channels.web_limits import AddressLimits, MessageRate
from bot.channels.web_page import ChatPage, kept_reply, reply_as_json, user_message
from bot.config import WebConfig
from bot.messages import (
    Channel,
    ChatRef,
    ConversationHandler,
    Incoming,
    RecipientBlocked,
    Reply,
)
from bot.storage.database import StorageUnavailable

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 1000
# A frame larger than this closes the connection (aiohttp answers 1009 "message too big").
# Room for a pasted 10,000-character Vietnamese text (up to 3 bytes a letter, as JSON), which
# gets the polite "too long" notice; only what no person types is hung up on.
MAX_FRAME_BYTES = 64 * 1024
_CHAT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Replies kept for a closed chat until the page reconnects (a reload), per chat and chats.
MAX_WAITING_REPLIES = 20
MAX_WAITING_CHATS = 1000


def chat_ref(chat_key: str) -> ChatRef:
    """The chat the dialogue sees for the page's secret chat id: a digest of it, so that
    what logs and staff see cannot be turned back into the key."""
    digest = hashlib.sha256(b"web-chat:" + chat_key.encode()).digest()
    return ChatRef(Channel.WEB, base64.urlsafe_b64encode(digest[:18]).decode())


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebChat:
    """The web chat page and its WebSocket; mount with `add_routes(app)`."""

    def __init__(
        self,
        handler: ConversationHandler,
        config: WebConfig,
        *,
        title: str = texts.WEB_PAGE_TITLE,
        max_text_chars: int = MAX_TEXT_CHARS,
        history: WebHistory | None = None,
    ) -> None:
        self._handler = handler
        self._history = history
        self._config = config
        self._page = ChatPage.load(title)
        self._max_text_chars = max_text_chars
        self._allowed_origins = {
            origin
            for origin in (_origin_of(url) for url in (config.public_url, *config.allowed_origins))
            if origin
        }
        self._sockets: set[web.WebSocketResponse] = set()
        self._addresses = AddressLimits(
            config.messages_per_minute_per_address,
            config.connections_per_address,
            config.chat_starts_per_minute_per_address,
        )
        self._chat_locks = ChatLocks()
        self._turns = 0
        public = urlsplit(config.public_url)
        sources = ["'self'"]
        if public.scheme in ("http", "https") and public.netloc:
            host = public.netloc.lower()
            sources += [f"wss://{host}"] if public.scheme == "https" else [f"ws://{host}"]
        self._connect_sources = " ".join(sources)
        self._by_chat: dict[str, set[web.WebSocketResponse]] = {}
        # A greeting not kept yet, per chat with an open page (see _turn).
        self._greetings: dict[str, tuple[list[Reply], dt.datetime]] = {}
        # Replies sent while no page of the chat was open, each with whether it was also
        # stored with the chat's history.
        self._waiting: dict[str, deque[tuple[Reply, bool]]] = {}

    @property
    def channel(self) -> Channel:
        return Channel.WEB

    async def send(self, chat_id: str, reply: Reply) -> None:
        """messages.Sender: to the chat's open connections, or kept for its next one."""
        sent = False
        for socket in list(self._by_chat.get(chat_id, ())):
            if socket.closed:
                continue
            try:
                await socket.send_json(reply_as_json(reply))
                sent = True
            except (ConnectionError, RuntimeError) as exc:
                log.info("web chat: a connection of %s closed while sending: %s", chat_id, exc)
        if sent:
            await self._remember(chat_id, None, [reply], dt.datetime.now(dt.UTC))
            return
        # No page open: kept with the chat's history, which the next load shows (from any
        # bot process, after a restart too), and in memory for a page that only lost its
        # connection for a moment (it reconnects without reloading the history).
        stored = await self._keep_unseen(chat_id, reply)
        if chat_id not in self._waiting and len(self._waiting) >= MAX_WAITING_CHATS:
            if stored:
                return
            raise RecipientBlocked("too many closed web chats with replies waiting")
        self._waiting.setdefault(chat_id, deque(maxlen=MAX_WAITING_REPLIES)).append(
            (reply, stored)
        )

    async def _join(
        self,
        socket: web.WebSocketResponse,
        chat: ChatRef,
        joined: list[ChatRef],
        *,
        history_shown: bool = False,
    ) -> None:
        """Join the chat's connections; replies that waited for it are sent, except those
        the history just shown already held."""
        joined.append(chat)
        self._by_chat.setdefault(chat.chat_id, set()).add(socket)
        waiting = [
            (reply, stored)
            for reply, stored in self._waiting.pop(chat.chat_id, ())
            if not (history_shown and stored)
        ]
        for reply, _stored in waiting:
            await socket.send_json(reply_as_json(reply))
        # Shown now, so kept for the next reload like the page's own exchanges.
        unstored = [reply for reply, stored in waiting if not stored]
        await self._remember(chat.chat_id, None, unstored, dt.datetime.now(dt.UTC))

    def _leave(self, socket: web.WebSocketResponse, chat: ChatRef) -> None:
        sockets = self._by_chat.get(chat.chat_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_chat[chat.chat_id]
                self._greetings.pop(chat.chat_id, None)

    @property
    def open_connections(self) -> int:
        return len(self._sockets)

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            "ok", f"{len(self._sockets)} open chats, {self._turns} messages answered"
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_get("/ws", self.websocket)
        app.router.add_post("/photo", self.photo_upload)

    async def close_all(self) -> None:
        """Close every open chat (on shutdown; the page reconnects to the next process)."""
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    # --- the page -------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        frame_ancestors = " ".join(["'self'", *sorted(self._allowed_origins)])
        policy = "; ".join(
            [
                "default-src 'none'",
                f"script-src {self._page.script_hash}",
                f"style-src {self._page.style_hash}",
                "img-src data:",
                # Never the request's Host header (anyone's to write, and it would be copied
                # into the policy): 'self', which covers ws(s) to the page's own host, and
                # the configured public address.
                f"connect-src {self._connect_sources}",
                f"frame-ancestors {frame_ancestors}",
                "base-uri 'none'",
                "form-action 'none'",
            ]
        )
        return web.Response(
            text=self._page.html,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": policy,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    # --- the WebSocket --------------------------------------------------------------------

    def origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            # Browsers always send Origin on WebSocket requests; a client without one is
            # not a browser page and cannot carry a citizen's session cross-site.
            return True
        own = f"{request.scheme}://{request.host}".lower()
        normalised = origin.strip().rstrip("/").lower()
        return normalised == own or normalised in self._allowed_origins

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_allowed(request):
            log.warning("web chat: refused WebSocket from origin %r", request.headers["Origin"])
            return web.Response(status=403, text="origin not allowed")
        address = self.client_address(request)
        if not self._addresses.connect(address):
            log.warning("web chat: refused a connection from %s: too many open", address)
            return web.Response(status=429, text="too many connections from this address")
        try:
            socket = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
            await socket.prepare(request)
            self._sockets.add(socket)
            try:
                await self._converse(socket, address)
            finally:
                self._sockets.discard(socket)
        finally:
            self._addresses.disconnect(address)
        return socket

    async def photo_upload(self, request: web.Request) -> web.Response:
        """A photo from the page's camera button: read like any message, answered at once."""
        if not self.origin_allowed(request):
            log.warning("web chat: refused a photo from origin %r", request.headers["Origin"])
            return web.Response(status=403, text="origin not allowed")
        chat_key = request.headers.get("X-Chat-Id", "")
        if not _CHAT_ID.fullmatch(chat_key):
            return web.Response(status=400, text="no chat")
        address = self.client_address(request)
        if not self._addresses.allow_message(address, time.monotonic()):
            notice = {"type": "notice", "text": texts.WEB_RATE_LIMITED}
            return web.json_response(notice, status=429)
        photo = await read_photo(request.content, request.content_length)
        chat = chat_ref(chat_key)
        # The camera button is on the page, which shows the conversation (its greeting).
        incoming = Incoming(
            chat, chat.chat_id, "", network_address=address, photo=photo, greeting_shown=True
        )
        async with self._chat_locks.hold(chat.chat_id):
            replies = list(await self._handler.handle(incoming))
            await self._remember(chat.chat_id, texts.WEB_PHOTO_SENT, replies, incoming.received_at)
        self._turns += 1
        return web.json_response(
            {"type": "replies", "replies": [reply_as_json(reply) for reply in replies]}
        )

    def client_address(self, request: web.Request) -> str:
        if self._config.trust_forwarded_for:
            forwarded = request.headers.get("X-Forwarded-For", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                return last
        return request.remote or "unknown"

    async def _converse(self, socket: web.WebSocketResponse, address: str) -> None:
        joined: list[ChatRef] = []
        try:
            await self._conversation(socket, address, joined)
        finally:
            for chat in joined:
                self._leave(socket, chat)

    async def _conversation(
        self, socket: web.WebSocketResponse, address: str, joined: list[ChatRef]
    ) -> None:
        """The connection's messages until it closes; the chat it joins goes in `joined`."""
        rate = MessageRate(self._config.messages_per_minute)
        chat: ChatRef | None = None
        # The page shows the conversation so far: greeted in this connection, or resumed.
        greeting_shown = False
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            message = _parse(frame.data)
            if message is None:
                # The connection goes on: the page's next frame is answered as usual.
                await socket.send_json({"type": "notice", "text": texts.WEB_BAD_MESSAGE})
                continue
            kind = message.get("type")
            if kind == "hello" and chat is None:
                greet = not message.get("resume")
                key, chat, is_new = self._chat_for(message.get("chat_id"))
                if (greet or is_new) and not self._addresses.allow_start(
                    address, time.monotonic()
                ):
                    # Greetings and new chats cost a turn each and ask nothing: a flood of
                    # them from one address is refused (the page shows the notice).
                    await socket.send_json({"type": "notice", "text": texts.WEB_RATE_LIMITED})
                    if is_new:
                        chat = None
                    else:
                        await socket.send_json({"type": "session", "chat_id": key})
                        await self._join(socket, chat, joined)
                    continue
                await socket.send_json({"type": "session", "chat_id": key})
                greeting_shown = True
                if greet:
                    # The page is empty after a (re)load: the conversation so far, or a
                    # greeting as Telegram's /start gives.
                    exchanges = [] if is_new else await self._recent(chat)
                    if exchanges:
                        await socket.send_json({"type": "history", "exchanges": exchanges})
                    # Replies that waited for this chat come after its history.
                    await self._join(socket, chat, joined, history_shown=bool(exchanges))
                    if not exchanges:
                        await self._turn(
                            socket,
                            Incoming(
                                chat,
                                chat.chat_id,
                                "/start",
                                is_first_contact=is_new,
                                network_address=address,
                                greeting_shown=True,
                            ),
                        )
                else:
                    await self._join(socket, chat, joined)
                continue
            if chat is None:
                if not self._addresses.allow_start(address, time.monotonic()):
                    await socket.send_json({"type": "notice", "text": texts.WEB_RATE_LIMITED})
                    continue
                key, chat, _ = self._chat_for(None)
                await socket.send_json({"type": "session", "chat_id": key})
                await self._join(socket, chat, joined)
            incoming = self._incoming(chat, message, address, greeting_shown)
            if incoming is None:
                await socket.send_json({"type": "notice", "text": texts.WEB_BAD_MESSAGE})
                continue
            now = time.monotonic()
            if not (rate.allow(now) and self._addresses.allow_message(address, now)):
                await socket.send_json({"type": "notice", "text": texts.WEB_RATE_LIMITED})
                continue
            if len(incoming.text) > self._max_text_chars:
                notice = texts.WEB_TOO_LONG.format(limit=self._max_text_chars)
                await socket.send_json({"type": "notice", "text": notice})
                continue
            await self._turn(socket, incoming)
            # Whatever the dialogue answered (a greeting first, if needed) is on the page.
            greeting_shown = True

    @staticmethod
    def _chat_for(supplied: Any) -> tuple[str, ChatRef, bool]:
        """(the page's secret chat id, the chat the dialogue sees, whether it is new)."""
        if isinstance(supplied, str) and _CHAT_ID.fullmatch(supplied):
            return supplied, chat_ref(supplied), False
        key = secrets.token_urlsafe(18)  # 144 random bits
        return key, chat_ref(key), True

    async def _recent(self, chat: ChatRef) -> list[list[PageMessage]]:
        if self._history is None:
            return []
        try:
            return await self._history.recent(chat.chat_id)
        except StorageUnavailable:
            return []  # the outage is logged once where it was raised (bot.storage.outage)
        except Exception:
            # Without its history the page still works: it greets instead.
            log.exception("web chat: history of %s not read", chat)
            return []

    async def _keep_unseen(self, chat_id: str, reply: Reply) -> bool:
        """Store a reply no page was open for in the chat's history; False when the
        history is off or cannot be written now."""
        return await self._record(chat_id, [kept_reply(reply)], dt.datetime.now(dt.UTC))

    async def _record(self, chat_id: str, messages: list[PageMessage], at: dt.datetime) -> bool:
        """Add messages to the chat's stored history; False when it is off or failed."""
        if self._history is None or not self._history.enabled:
            return False
        try:
            await self._history.record(chat_id, messages, at)
        except StorageUnavailable:
            return False  # the outage is logged once where it was raised (bot.storage.outage)
        except Exception:
            log.exception("web chat: exchange of web:%s not kept", chat_id)
            return False
        return True

    async def _remember(
        self, chat_id: str, shown: str | None, replies: list[Reply], at: dt.datetime
    ) -> None:
        """Keep the exchange for the page's next load (`shown`: what the page showed as the
        citizen's message; None for the greeting and for replies to no turn of the page)."""
        greeting = self._greetings.pop(chat_id, None)
        if self._history is None or not self._history.enabled or not replies:
            return
        if greeting is not None:
            await self._remember(chat_id, None, *greeting)
        messages = [] if shown is None else [user_message(shown, replies)]
        messages += [kept_reply(reply) for reply in replies]
        await self._record(chat_id, messages, at)

    @staticmethod
    def _incoming(
        chat: ChatRef, message: dict[str, Any], address: str, greeting_shown: bool
    ) -> Incoming | None:
        kind = message.get("type")
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str):
                return None
            # An empty message is answered too (the dialogue says what to type), not
            # dropped: a citizen who pressed send must see something happen.
            return Incoming(
                chat,
                chat.chat_id,
                text.strip(),
                network_address=address,
                greeting_shown=greeting_shown,
            )
        if kind == "button":
            action, label = message.get("action"), message.get("label", "")
            if not isinstance(action, str) or not action or not isinstance(label, str):
                return None
            return Incoming(
                chat,
                chat.chat_id,
                label[:200],
                action=action[:64],
                network_address=address,
                greeting_shown=greeting_shown,
            )
        return None

    async def _turn(self, socket: web.WebSocketResponse, incoming: Incoming) -> None:
        # What the page showed as the citizen's message: the text, or the button's label.
        shown = None if incoming.text == "/start" and incoming.action is None else incoming.text
        chat_id = incoming.chat.chat_id
        async with self._chat_locks.hold(chat_id):
            replies = list(await self._handler.handle(incoming))
            if shown is None and chat_id in self._by_chat:
                # A greeting alone is not kept (anyone can open chats by the thousand): it
                # goes into the history with whatever comes next while the page is open.
                self._greetings[chat_id] = (replies, incoming.received_at)
            else:
                await self._remember(chat_id, shown, replies, incoming.received_at)
        self._turns += 1
        for reply in replies:
            if socket.closed:
                return
            await socket.send_json(reply_as_json(reply))
        if not socket.closed:
            await socket.send_json({"type": "done"})


def _parse(data: str) -> dict[str, Any] | None:
    """The frame's JSON object, every string in it storable (bot.inbound: no lone surrogate,
    NUL or control character; their lengths are checked where they are used), or None."""
    try:
        message = inbound.read_json(data, max_bytes=MAX_FRAME_BYTES)
    except inbound.UnreadableJson as exc:
        log.info("web chat: unreadable frame (%s)", exc)
        return None
    return message if isinstance(message, dict) else None
