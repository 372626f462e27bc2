"""A fake Telegram Bot API server: a real aiohttp server on 127.0.0.1 for python-telegram-bot.

It answers the methods the bot uses (getMe, getUpdates with long polling, sendMessage,
sendPhoto, answerCallbackQuery, editMessageText, setWebhook/deleteWebhook/getWebhookInfo),
checks what Telegram checks (HTML entities, 4,096/1,024-character limits, 64-byte callback
data), records every message it accepts with a precise monotonic timestamp, and lets a
test enqueue updates and script failures per chat (429 with retry_after, 403, 400 chat not
found, 5xx, delays). When a webhook is set, queued updates are POSTed to it with the
secret-token header, as Telegram does.

    async with FakeTelegramBotApi() as api:
        app = Application.builder().token(api.token).base_url(api.base_url)...
        api.add_message(chat_id=42, text="hello")
        sent = await api.wait_for_sent(1, chat_id=42)
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from .server import FakePlatformServer

_R = TypeVar("_R")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "span", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z-]*)((?:\s[^<>]*)?)>")
# Outside tags: a raw "<" or ">", or an "&" that does not start a known entity.
_BAD_PLAIN = re.compile(r"[<>]|&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
# Methods Telegram accepts that the fake only acknowledges.
_ACKNOWLEDGED = frozenset(
    {"setMyCommands", "deleteMyCommands", "setChatMenuButton", "sendChatAction", "close"}
)


@dataclass(frozen=True, slots=True)
class Fault:
    """How the fake answers one request instead of succeeding (or before succeeding).

    `delay` is slept first; with `status` 200 the request then succeeds (a slow Telegram).
    A client that gives up during the delay sees a timeout although the message was sent,
    exactly as with the real Telegram.
    """

    status: int = 200
    description: str = ""
    retry_after: int | None = None
    delay: float = 0.0

    @classmethod
    def flood(cls, retry_after: int) -> Fault:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    @classmethod
    def blocked(cls) -> Fault:
        return cls(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def chat_not_found(cls) -> Fault:
        return cls(400, "Bad Request: chat not found")

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status, "Internal Server Error")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(200, "", None, seconds)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the fake accepted (sendMessage, sendPhoto, editMessageText)."""

    method: str
    chat_id: str
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: Mapping[str, Any] | None
    at: float  # time.monotonic() when accepted
    photo_bytes: int = 0

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return [list(row) for row in self.reply_markup.get("inline_keyboard", [])]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]

    @property
    def plain_text(self) -> str:
        """The text as the citizen sees it (tags removed, entities decoded)."""
        if self.parse_mode == "HTML":
            return html.unescape(_TAG.sub("", self.text))
        return self.text


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    update_id: int
    status: int  # 0 when the bot's server could not be reached
    at: float


class TelegramApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def check_html(text: str, limit: int) -> str | None:
    """Telegram's complaint about `text` sent with parse_mode HTML, or None when it is fine."""
    stack: list[str] = []
    plain: list[str] = []
    position = 0
    for match in _TAG.finditer(text):
        problem = _check_plain(text[position : match.start()], position)
        if problem:
            return problem
        plain.append(text[position : match.start()])
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _ALLOWED_TAGS:
            return f'Bad Request: can\'t parse entities: unsupported start tag "{name}"'
        if closing:
            if not stack or stack[-1] != name:
                return f'Bad Request: can\'t parse entities: unexpected end tag "{name}"'
            stack.pop()
        else:
            stack.append(name)
        position = match.end()
    problem = _check_plain(text[position:], position)
    if problem:
        return problem
    plain.append(text[position:])
    if stack:
        return f"Bad Request: can't parse entities: can't find end tag for \"{stack[-1]}\""
    visible = html.unescape("".join(plain))
    if not visible.strip():
        return "Bad Request: message text is empty"
    if len(visible.encode("utf-16-le")) // 2 > limit:
        return "Bad Request: message is too long"
    return None


def _check_plain(chunk: str, offset: int) -> str | None:
    bad = _BAD_PLAIN.search(chunk)
    if bad is None:
        return None
    char = bad.group(0)[0]
    if char == "&":
        return f"Bad Request: can't parse entities: bad entity at {offset + bad.start()}"
    return f"Bad Request: can't parse entities: unexpected '{char}' at {offset + bad.start()}"


def _check_markup(markup: Mapping[str, Any] | None) -> str | None:
    if markup is None:
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return "Bad Request: BUTTON_DATA_INVALID"
            url = button.get("url")
            if url is not None and not re.match(r"(https?|tg)://", str(url)):
                return "Bad Request: inline keyboard button URL is invalid"
            if data is None and url is None:
                return "Bad Request: can't parse inline keyboard button"
    return None


class FakeTelegramBotApi(FakePlatformServer):
    """The fake server; use as `async with`, or call start() and stop()."""

    platform_name = "Telegram"

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_username: str = "center_test_bot",
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Center bot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.sent: list[SentMessage] = []
        self.answered_callbacks: list[str] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.calls: Counter[str] = Counter()
        self.webhook_url = ""
        self.webhook_secret = ""
        self._pending: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._file_numbers = itertools.count(1)
        # file_id -> (file_path, bytes, file_size reported)
        self._files: dict[str, tuple[str, bytes, int]] = {}
        self.downloaded: list[str] = []  # file paths fetched from the file URL
        self._chat_faults: dict[str, deque[Fault]] = {}
        self._persistent_faults: dict[str, Fault] = {}
        self._method_faults: dict[str, deque[Fault]] = {}
        self._flood_limit: tuple[int, float] | None = None
        self._accepted_times: deque[float] = deque()
        self._closing = asyncio.Event()
        self._delivery_task: asyncio.Task[None] | None = None
        # How long wait_for_sent / wait_until wait before raising TimeoutError.

    # --- lifetime -----------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return app

    async def stop(self) -> None:
        self._closing.set()
        self._notify()
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
        await super().stop()

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder.base_url / [telegram] base_url."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    # --- updates from "citizens" ---------------------------------------------------------

    def add_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Citizen",
        chat_type: str = "private",
        reply_to: SentMessage | None = None,
    ) -> int:
        """Queue a text message from a citizen (or staff in a group); returns its
        update_id. `reply_to`: a message the bot sent, which this one replies to."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": first_name}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type, first_name),
            "from": user,
            "text": text,
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to.message_id,
                "date": int(time.time()),
                "chat": self._chat(chat_id, chat_type, first_name),
                "from": self.bot_user,
                "text": reply_to.plain_text,
            }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._enqueue({"message": message})

    def add_photo(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str = "",
        as_document: bool = False,
        declared_size: int | None = None,
        first_name: str = "Citizen",
    ) -> int:
        """Queue a photo from a citizen (Telegram's sizes: a thumbnail and the photo itself;
        or an image sent as a file); its bytes are served by getFile and the file URL.
        `declared_size` is the file_size Telegram reports (default: the real size)."""
        user = {"id": chat_id, "is_bot": False, "first_name": first_name}
        size = len(data) if declared_size is None else declared_size
        file_id = self._store_file(data, size)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, "private", first_name),
            "from": user,
        }
        if as_document:
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_name": "phieu-hen.jpg",
                "mime_type": "image/jpeg",
                "file_size": size,
            }
        else:
            thumbnail = self._store_file(data[:100], 100)
            message["photo"] = [
                {"file_id": thumbnail, "file_unique_id": f"u-{thumbnail}", "width": 90,
                 "height": 67, "file_size": 100},
                {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1280,
                 "height": 960, "file_size": size},
            ]  # fmt: skip
        if caption:
            message["caption"] = caption
        return self._enqueue({"message": message})

    def _store_file(self, data: bytes, size: int) -> str:
        file_id = f"file-{next(self._file_numbers)}"
        self._files[file_id] = (f"photos/{file_id}.jpg", data, size)
        return file_id

    def add_callback_query(
        self,
        chat_id: int,
        data: str,
        *,
        message: SentMessage | None = None,
        user_id: int | None = None,
        first_name: str = "Citizen",
    ) -> str:
        """Queue a button press on `message` (default: the last message sent to the chat)."""
        if message is None:
            message = self.messages_to(chat_id)[-1]
        query_id = f"cbq-{next(self._callback_ids)}"
        query_message: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id, "private", first_name),
            "from": self.bot_user,
            "text": message.plain_text,
        }
        if message.reply_markup:
            query_message["reply_markup"] = dict(message.reply_markup)
        self._enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {"id": user_id or chat_id, "is_bot": False, "first_name": first_name},
                    "chat_instance": f"ci-{chat_id}",
                    "message": query_message,
                    "data": data,
                }
            }
        )
        return query_id

    def add_membership_change(
        self, chat_id: int, *, old: str = "member", new: str = "kicked", first_name: str = "Ann"
    ) -> int:
        """Queue a my_chat_member update: the citizen blocked (kicked) or restarted the bot."""
        user = {"id": chat_id, "is_bot": False, "first_name": first_name}

        def member(status: str) -> dict[str, Any]:
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"user": self.bot_user, "status": status, **extra}

        return self._enqueue(
            {
                "my_chat_member": {
                    "chat": self._chat(chat_id, "private", first_name),
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    @staticmethod
    def _chat(chat_id: int, chat_type: str, first_name: str) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "Group"
        return chat

    def _enqueue(self, body: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._pending.append({"update_id": update_id, **body})
        self._notify()
        self._ensure_delivery()
        return update_id

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    # --- scripting failures --------------------------------------------------------------

    def script_faults(self, chat_id: int | str, *faults: Fault) -> None:
        """The next requests for `chat_id` get these faults, one per request, in order."""
        self._chat_faults.setdefault(str(chat_id), deque()).extend(faults)

    def set_chat_fault(self, chat_id: int | str, fault: Fault | None) -> None:
        """Every request for `chat_id` gets `fault` (None clears it): a blocked chat."""
        if fault is None:
            self._persistent_faults.pop(str(chat_id), None)
        else:
            self._persistent_faults[str(chat_id)] = fault

    def script_method_faults(self, method: str, *faults: Fault) -> None:
        """The next calls of `method` (e.g. "getMe") get these faults, in order."""
        self._method_faults.setdefault(method, deque()).extend(faults)

    def set_flood_limit(self, messages: int, per_seconds: float = 1.0) -> None:
        """Answer 429 (retry_after 1) when more messages than this arrive in the window."""
        self._flood_limit = (messages, per_seconds)

    # --- inspecting ---------------------------------------------------------------------

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        key = str(chat_id)
        return [message for message in self.sent if message.chat_id == key]

    def max_rate(self, window: float = 1.0, chat_id: int | str | None = None) -> int:
        """The most messages accepted within any `window` seconds (optionally for one chat)."""
        times = sorted(m.at for m in self.sent if chat_id is None or m.chat_id == str(chat_id))
        best = 0
        start = 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    async def wait_for_sent(
        self, count: int, *, chat_id: int | str | None = None
    ) -> list[SentMessage]:
        """Wait (up to `wait_limit` seconds) until `count` messages were sent (to `chat_id`)."""

        def ready() -> list[SentMessage] | None:
            found = self.sent if chat_id is None else self.messages_to(chat_id)
            return found if len(found) >= count else None

        return await self._wait(ready, f"{count} message(s) to {chat_id or 'anyone'}")

    # --- the HTTP API -------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.calls[method] += 1
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _read_params(request)
        try:
            fault = self._fault_for(method, params)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status != 200:
                    raise TelegramApiError(fault.status, fault.description, fault.retry_after)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                if method in _ACKNOWLEDGED:
                    return _ok(True)
                return _error(404, "Not Found")
            result = await handler(params)
        except TelegramApiError as exc:
            return _error(exc.status, exc.description, exc.retry_after)
        return _ok(result)

    def _fault_for(self, method: str, params: Mapping[str, Any]) -> Fault | None:
        scripted = self._method_faults.get(method)
        if scripted:
            return scripted.popleft()
        chat_id = params.get("chat_id")
        if chat_id is None:
            return None
        key = str(chat_id)
        queue = self._chat_faults.get(key)
        if queue:
            return queue.popleft()
        return self._persistent_faults.get(key)

    async def _api_getMe(self, params: Mapping[str, Any]) -> Any:
        return self.bot_user

    async def _api_getFile(self, params: Mapping[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self._files:
            raise TelegramApiError(400, "Bad Request: invalid file_id")
        path, _, size = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": size,
            "file_path": path,
        }

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for stored_path, data, _ in self._files.values():
            if stored_path == path:
                self.downloaded.append(path)
                self._notify()
                return web.Response(body=data, content_type="image/jpeg")
        return web.Response(status=404)

    async def _api_getUpdates(self, params: Mapping[str, Any]) -> Any:
        if self.webhook_url:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()  # confirmed by the offset
        deadline = time.monotonic() + timeout
        while not self._pending and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        return list(itertools.islice(self._pending, limit))

    async def _api_sendMessage(self, params: Mapping[str, Any]) -> Any:
        text = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        markup = _json_param(params.get("reply_markup"))
        problem = self._check_text(text, parse_mode, TEXT_LIMIT) or _check_markup(markup)
        if problem:
            raise TelegramApiError(400, problem)
        return self._accept("sendMessage", params, text, parse_mode, markup)

    async def _api_sendPhoto(self, params: Mapping[str, Any]) -> Any:
        photo = params.get("photo")
        data = photo.file.read() if isinstance(photo, web.FileField) else b""
        if not data and not isinstance(photo, str):
            raise TelegramApiError(400, "Bad Request: there is no photo in the request")
        caption = str(params.get("caption") or "")
        parse_mode = params.get("parse_mode")
        markup = _json_param(params.get("reply_markup"))
        problem = _check_markup(markup)
        if caption and not problem:
            problem = self._check_text(caption, parse_mode, CAPTION_LIMIT)
            if problem == "Bad Request: message is too long":
                problem = "Bad Request: message caption is too long"
        if problem:
            raise TelegramApiError(400, problem)
        return self._accept("sendPhoto", params, caption, parse_mode, markup, len(data))

    async def _api_editMessageText(self, params: Mapping[str, Any]) -> Any:
        text = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        markup = _json_param(params.get("reply_markup"))
        problem = self._check_text(text, parse_mode, TEXT_LIMIT) or _check_markup(markup)
        if problem:
            raise TelegramApiError(400, problem)
        return self._accept("editMessageText", params, text, parse_mode, markup)

    async def _api_answerCallbackQuery(self, params: Mapping[str, Any]) -> Any:
        self.answered_callbacks.append(str(params.get("callback_query_id")))
        self._notify()
        return True

    async def _api_setWebhook(self, params: Mapping[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            raise TelegramApiError(400, "Bad Request: bad webhook: invalid URL")
        self.webhook_url = url
        self.webhook_secret = str(params.get("secret_token") or "")
        if _truthy(params.get("drop_pending_updates")):
            self._pending.clear()
        self._ensure_delivery()
        self._notify()
        return True

    async def _api_deleteWebhook(self, params: Mapping[str, Any]) -> Any:
        self.webhook_url = ""
        self.webhook_secret = ""
        if _truthy(params.get("drop_pending_updates")):
            self._pending.clear()
        self._notify()
        return True

    async def _api_getWebhookInfo(self, params: Mapping[str, Any]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _check_text(self, text: str, parse_mode: Any, limit: int) -> str | None:
        if parse_mode == "HTML":
            return check_html(text, limit)
        if not text.strip():
            return "Bad Request: message text is empty"
        if len(text.encode("utf-16-le")) // 2 > limit:
            return "Bad Request: message is too long"
        return None

    def _accept(
        self,
        method: str,
        params: Mapping[str, Any],
        text: str,
        parse_mode: Any,
        markup: Mapping[str, Any] | None,
        photo_bytes: int = 0,
    ) -> dict[str, Any]:
        now = time.monotonic()
        if self._flood_limit is not None:
            limit, window = self._flood_limit
            while self._accepted_times and now - self._accepted_times[0] >= window:
                self._accepted_times.popleft()
            if len(self._accepted_times) >= limit:
                raise TelegramApiError(429, "Too Many Requests: retry after 1", 1)
            self._accepted_times.append(now)
        chat_id = str(params.get("chat_id"))
        if method == "editMessageText":
            message_id = int(params.get("message_id") or 0)
        else:
            message_id = next(self._message_ids)
        self.sent.append(
            SentMessage(
                method=method,
                chat_id=chat_id,
                message_id=message_id,
                text=text,
                parse_mode=str(parse_mode) if parse_mode else None,
                reply_markup=markup,
                at=now,
                photo_bytes=photo_bytes,
            )
        )
        self._notify()
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": _chat_id_value(chat_id), "type": "private", "first_name": "Citizen"},
            "from": self.bot_user,
        }
        if method == "sendPhoto":
            result["photo"] = [
                {"file_id": f"photo-{message_id}", "file_unique_id": f"u{message_id}",
                 "width": 640, "height": 480}
            ]  # fmt: skip
            if text:
                result["caption"] = html.unescape(_TAG.sub("", text))
        else:
            result["text"] = html.unescape(_TAG.sub("", text)) if parse_mode == "HTML" else text
        if markup is not None:
            result["reply_markup"] = dict(markup)
        return result

    # --- webhook delivery ---------------------------------------------------------------

    def _ensure_delivery(self) -> None:
        if not self.webhook_url or self._session is None:
            return
        if self._delivery_task is None or self._delivery_task.done():
            self._delivery_task = asyncio.create_task(self._deliver_loop())

    async def _deliver_loop(self) -> None:
        assert self._session is not None
        while self.webhook_url and self._pending and not self._closing.is_set():
            update = self._pending[0]
            headers = {"Content-Type": "application/json"}
            if self.webhook_secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
            status = 0
            try:
                async with self._session.post(
                    self.webhook_url, data=json.dumps(update), headers=headers
                ) as response:
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            self.webhook_deliveries.append(
                WebhookDelivery(update["update_id"], status, time.monotonic())
            )
            self._notify()
            if 200 <= status < 300:
                if self._pending and self._pending[0] is update:
                    self._pending.popleft()
            else:
                await asyncio.sleep(0.2)  # Telegram retries a failing webhook later


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            params[key] = value
    return params


def _json_param(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    parsed = json.loads(str(value))
    return parsed if isinstance(parsed, dict) else None


def _truthy(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _chat_id_value(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


__all__ = [
    "FakeTelegramBotApi",
    "Fault",
    "SentMessage",
    "WebhookDelivery",
    "check_html",
]
