"""Telegram channel: python-telegram-bot v22, long polling or a webhook on our aiohttp server.

The adapter only translates: a text message, a photo (downloaded with getFile: the largest
size within `MAX_PHOTO_BYTES`), a button press (callback query) or a change of the bot's
membership in a chat becomes an `Incoming`; each `Reply` becomes HTML messages
(every piece of text escaped, headings in <b>, split under Telegram's 4,096-character limit
at line boundaries) with an inline keyboard, or a photo.

Run with `bot run` and `[telegram] token` set (or BOT_TELEGRAM_TOKEN). `base_url` points the
bot at a local Bot API server; in webhook mode Telegram posts to `[telegram] webhook_path`
on the bot's own web server and must present `[telegram] secret_token`.

    start() ──▶ getMe (retried with backoff) ──▶ polling: deleteWebhook + getUpdates loop
                                              └─▶ webhook: setWebhook(url, secret_token)
    update ──▶ Incoming ──▶ handler.handle() ──▶ replies rendered, sent with retries
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import html
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from telegram import (
    Bot,
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.chat_locks import ChatLocks
from bot.channels.health import ComponentHealth, HealthState
from bot.channels.telegram_http import AiohttpTelegramRequest
from bot.channels.text_split import pack_lines, split_long_line, utf16_length
from bot.config import ConfigError, TelegramConfig
from bot.inbound import read_json, storable_incoming
from bot.messages import (
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
    MAX_PHOTO_BYTES,
    Channel,
    ChatRef,
    ConversationHandler,
    Incoming,
    PermanentSendError,
    Photo,
    PhotoProblem,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientSendError,
)

log = logging.getLogger(__name__)

# python-telegram-bot 22 warns (PTBDeprecationWarning) whenever a time period such as
# RetryAfter.retry_after is read as an int, including inside RetryAfter's own constructor;
# opting in to the future datetime.timedelta values is the documented way to avoid that.
# PTB reads the variable when a period is read, so setting it here (at import) is enough.
os.environ.setdefault("PTB_TIMEDELTA", "true")


# Telegram's documented limits (Bot API, sendMessage / sendPhoto / InlineKeyboardButton).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
# An inline keyboard needs a message to hang on; used when a reply has buttons and no text.
BUTTONS_ONLY_TEXT = "⬇️"
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# aiohttp's own limit for a request body; an update holds at most a 4,096-character text.
MAX_UPDATE_BYTES = 1024 * 1024
# Updates handled at once. Enough to keep answering while Telegram takes ~0.1 s per call
# (8 in flight ~ 80 updates/s, beyond Telegram's 30 messages/s); more only adds overhead
# in python-telegram-bot's connection pool (a bare echo bot against a local fake API:
# about 1,000 updates/s one at a time, 700 with 8 in flight, 370 with 256).
DEFAULT_CONCURRENT_UPDATES = 8
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]
_T = TypeVar("_T")


# --- rendering --------------------------------------------------------------------------


def render_html(reply: Reply, limit: int = TEXT_LIMIT) -> list[str]:
    """The reply's text as Telegram HTML messages, each within `limit` (UTF-16 units).

    Lines are escaped one by one and split before escaping when too long, so no cut falls
    inside an escape (`&amp;`) or a tag; headings are bold.
    """
    units: list[str] = []
    for section in reply.sections:
        if units:
            units.append("")
        if section.heading:
            units.extend(_rendered_pieces(section.heading, limit, bold=True))
        for line in section.lines:
            units.extend(_rendered_pieces(line, limit, bold=False))
    return pack_lines(units, limit)


def _rendered_pieces(line: str, limit: int, *, bold: bool) -> list[str]:
    def render(text: str) -> str:
        escaped = html.escape(text, quote=False)
        return f"<b>{escaped}</b>" if bold and escaped.strip() else escaped

    def measure(text: str) -> int:
        return utf16_length(render(text))

    return [render(piece) for piece in split_long_line(line, limit, measure)]


def keyboard_markup(reply: Reply) -> dict[str, Any] | None:
    """The reply's buttons as a Bot API InlineKeyboardMarkup (plain JSON): actions as callback
    data, links as URLs."""
    rows: list[list[dict[str, str]]] = []
    for row in reply.buttons:
        rendered: list[dict[str, str]] = []
        for button in row:
            if button.url:
                rendered.append({"text": button.label, "url": button.url})
            elif button.action and len(button.action.encode()) <= CALLBACK_DATA_LIMIT:
                rendered.append({"text": button.label, "callback_data": button.action})
            else:
                # Telegram rejects the whole message for one bad button (BUTTON_DATA_INVALID);
                # dropping the button keeps the answer.
                log.error("button %r dropped: action empty or over 64 bytes", button.label)
        if rendered:
            rows.append(rendered)
    return {"inline_keyboard": rows} if rows else None


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as python-telegram-bot's InlineKeyboardMarkup (see keyboard_markup)."""
    markup = keyboard_markup(reply)
    if markup is None:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(**button) for button in row] for row in markup["inline_keyboard"]]
    )


class EditTargets:
    """The last message sent per (chat, edit key), so that a reply with `edit_key` edits it.

    Kept in memory: after a restart the first update is sent as a new message, which then
    becomes the one edited. Bounded, oldest forgotten first.
    """

    def __init__(self, limit: int = 1000) -> None:
        self._limit = limit
        self._messages: OrderedDict[tuple[str, str], int] = OrderedDict()

    def get(self, chat_id: int | str, key: str) -> int | None:
        return self._messages.get((str(chat_id), key))

    def remember(self, chat_id: int | str, key: str, message_id: int) -> None:
        self._messages[(str(chat_id), key)] = message_id
        self._messages.move_to_end((str(chat_id), key))
        while len(self._messages) > self._limit:
            self._messages.popitem(last=False)


async def _send_text(
    bot: Bot, chat_id: int | str, text: str, markup: dict[str, Any] | None
) -> int:
    """sendMessage with HTML; the new message's id."""
    request = bot.request
    if isinstance(request, AiohttpTelegramRequest):
        # Straight to the Bot API (see telegram_http.post_json for what this saves). The
        # bot's python-telegram-bot Defaults and rate limiter are bypassed: it has neither.
        parameters: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
        if markup is not None:
            parameters["reply_markup"] = markup
        result = await request.post_json(f"{bot.base_url}/sendMessage", parameters)
        return int(result["message_id"])
    # Another transport (e.g. python-telegram-bot's default, in benchmarks/broadcast.py).
    sent = await bot.send_message(
        chat_id, text, parse_mode="HTML", reply_markup=_markup_object(markup)
    )
    return sent.message_id


async def _edit_text(
    bot: Bot, chat_id: int | str, message_id: int, text: str, markup: dict[str, Any] | None
) -> None:
    """editMessageText with HTML."""
    request = bot.request
    if isinstance(request, AiohttpTelegramRequest):
        parameters: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": "HTML",
        }
        if markup is not None:
            parameters["reply_markup"] = markup
        await request.post_json(f"{bot.base_url}/editMessageText", parameters)
        return
    await bot.edit_message_text(
        text,
        chat_id=chat_id,
        message_id=message_id,
        parse_mode="HTML",
        reply_markup=_markup_object(markup),
    )


def _markup_object(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    return None if markup is None else InlineKeyboardMarkup.de_json(markup, None)


async def _edit_in_place(
    bot: Bot,
    chat_id: int | str,
    reply: Reply,
    chunks: list[str],
    markup: dict[str, Any] | None,
    edits: EditTargets,
) -> bool:
    """Edit the keyed message instead of sending; False when a new message is needed."""
    message_id = edits.get(chat_id, reply.edit_key)
    if message_id is None or reply.image is not None or len(chunks) != 1:
        return False
    try:
        await _edit_text(bot, chat_id, message_id, chunks[0], markup)
    except BadRequest as exc:
        # "message is not modified" (same text as before) is fine; too old or deleted:
        # send it as a new message.
        return "not modified" in str(exc).lower()
    return True


async def deliver_reply(
    bot: Bot, chat_id: int | str, reply: Reply, edits: EditTargets | None = None
) -> None:
    """Send one reply as photo and/or HTML messages; Telegram errors propagate.

    With `edits`, a reply carrying an `edit_key` edits the message last sent with that key.
    """
    markup = keyboard_markup(reply)
    chunks = render_html(reply)
    if (
        edits is not None
        and reply.edit_key
        and await _edit_in_place(bot, chat_id, reply, chunks, markup, edits)
    ):
        return
    if reply.image is not None:
        caption_fits = len(chunks) == 1 and utf16_length(chunks[0]) <= CAPTION_LIMIT
        await bot.send_photo(
            chat_id,
            photo=reply.image.data,
            filename=reply.image.filename,
            caption=chunks[0] if caption_fits else None,
            parse_mode="HTML" if caption_fits else None,
            reply_markup=_markup_object(markup) if caption_fits or not chunks else None,
        )
        if caption_fits or not chunks:
            return
    if not chunks:
        if markup is None:
            return
        chunks = [BUTTONS_ONLY_TEXT]
    for index, chunk in enumerate(chunks):
        is_last = index == len(chunks) - 1
        message_id = await _send_text(bot, chat_id, chunk, markup if is_last else None)
        if is_last and edits is not None and reply.edit_key:
            edits.remember(chat_id, reply.edit_key, message_id)


# --- translating updates ----------------------------------------------------------------


def _command_text(text: str) -> str:
    """ "/start@CenterBot x" -> "/start x": in groups Telegram appends the bot's name."""
    if not text.startswith("/"):
        return text
    command, space, rest = text.partition(" ")
    return command.split("@", 1)[0] + space + rest


def incoming_from_message(message: Message, photo: Photo | None = None) -> Incoming | None:
    """A text message, or with `photo` a photo (its caption as the text)."""
    if message.text is None and photo is None:
        return None
    user = message.from_user
    text = _command_text(message.text or message.caption or "")
    quoted = message.reply_to_message
    return storable_incoming(
        Incoming(
            chat=ChatRef(Channel.TELEGRAM, str(message.chat.id)),
            user_id=str(user.id) if user else str(message.chat.id),
            text=text,
            display_name=user.full_name if user else "",
            received_at=message.date,
            is_first_contact=text == "/start" or text.startswith("/start "),
            quoted_text=(quoted.text or quoted.caption or "") if quoted is not None else "",
            photo=photo,
        )
    )


def photo_file(message: Message) -> tuple[str, int | None] | None:
    """(file id, size in bytes if known) of the picture to read: the largest size of a
    photo that is within MAX_PHOTO_BYTES (the smallest if none is), or an image sent as a
    file; None when the message has no picture."""
    if message.photo:
        sizes = sorted(message.photo, key=lambda size: size.width * size.height)
        fitting = [s for s in sizes if s.file_size is None or s.file_size <= MAX_PHOTO_BYTES]
        chosen = fitting[-1] if fitting else sizes[0]
        return chosen.file_id, chosen.file_size
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        return document.file_id, document.file_size
    return None


async def download_photo(bot: Bot, message: Message) -> Photo | None:
    """The message's picture, downloaded (getFile, then the file), or why it was not."""
    found = photo_file(message)
    if found is None:
        return None
    file_id, size = found
    if size is not None and size > MAX_PHOTO_BYTES:
        return Photo(problem=PhotoProblem.TOO_LARGE)
    try:
        file = await bot.get_file(file_id)
        if file.file_size is not None and file.file_size > MAX_PHOTO_BYTES:
            return Photo(problem=PhotoProblem.TOO_LARGE)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("photo in chat telegram:%s not downloaded: %s", message.chat.id, exc)
        return Photo(problem=PhotoProblem.NOT_RECEIVED)
    if len(data) > MAX_PHOTO_BYTES:
        return Photo(problem=PhotoProblem.TOO_LARGE)
    return Photo(data)


def incoming_from_callback(query: CallbackQuery) -> Incoming | None:
    if not query.data:
        return None
    message = query.message
    chat_id = message.chat.id if message is not None else query.from_user.id
    label = ""
    if isinstance(message, Message) and message.reply_markup is not None:
        for row in message.reply_markup.inline_keyboard:
            for button in row:
                if button.callback_data == query.data:
                    label = button.text
    return storable_incoming(
        Incoming(
            chat=ChatRef(Channel.TELEGRAM, str(chat_id)),
            user_id=str(query.from_user.id),
            text=label,
            action=query.data,
            display_name=query.from_user.full_name,
        )
    )


def incoming_from_membership(update: Update) -> Incoming | None:
    """The bot blocked/removed (unfollow) or unblocked/added again (follow) in a chat."""
    change = update.my_chat_member
    if change is None:
        return None
    old, new = change.old_chat_member.status, change.new_chat_member.status
    gone = (ChatMember.BANNED, ChatMember.LEFT)
    if new in gone and old not in gone:
        action = EVENT_UNFOLLOW
    elif old in gone and new not in gone:
        action = EVENT_FOLLOW
    else:
        return None
    return storable_incoming(
        Incoming(
            chat=ChatRef(Channel.TELEGRAM, str(change.chat.id)),
            user_id=str(change.from_user.id),
            action=action,
            display_name=change.from_user.full_name,
            received_at=change.date,
        )
    )


# --- sending outside a conversation -----------------------------------------------------


def _seconds(period: int | float | dt.timedelta) -> float:
    return period.total_seconds() if isinstance(period, dt.timedelta) else float(period)


def send_error_for(exc: TelegramError) -> Exception:
    """The messages.SendError for a Telegram error (see Sender's contract)."""
    if isinstance(exc, RetryAfter):
        return RateLimited(_seconds(exc.retry_after), str(exc))
    if isinstance(exc, Forbidden):
        # "bot was blocked by the user", "user is deactivated", "bot was kicked".
        return RecipientBlocked(str(exc))
    if isinstance(exc, BadRequest):
        text = str(exc).lower()
        if "chat not found" in text or "user not found" in text or "deactivated" in text:
            return RecipientBlocked(str(exc))
        return PermanentSendError(str(exc))
    if isinstance(exc, ChatMigrated):
        return PermanentSendError(f"chat migrated to {exc.new_chat_id}")
    if isinstance(exc, InvalidToken):
        # Not the recipient's fault: with a valid token configured, sending works again.
        return TransientSendError(f"Telegram rejected the bot token: {exc}")
    if isinstance(exc, TimedOut):
        # The request may have reached Telegram: a retry may deliver it twice.
        return TransientSendError(str(exc), maybe_delivered=True)
    if isinstance(exc, NetworkError):  # 5xx answers, connection errors
        return TransientSendError(str(exc))
    return PermanentSendError(str(exc))


class TelegramSender:
    """messages.Sender for Telegram: one reply to one chat, failures as typed SendErrors."""

    def __init__(self, bot: Bot, edits: EditTargets | None = None) -> None:
        self._bot = bot
        self._edits = edits if edits is not None else EditTargets()

    @property
    def channel(self) -> Channel:
        return Channel.TELEGRAM

    @property
    def bot(self) -> Bot:
        return self._bot

    async def send(self, chat_id: str, reply: Reply) -> None:
        try:
            await deliver_reply(self._bot, chat_id, reply, self._edits)
        except TelegramError as exc:
            raise send_error_for(exc) from exc


@asynccontextmanager
async def open_telegram_sender(config: TelegramConfig) -> AsyncIterator[TelegramSender]:
    """A sender with its own HTTP connections, for use outside `bot run` (`bot broadcast`)."""
    bot = Bot(
        config.token,
        base_url=config.base_url,
        base_file_url=config.base_file_url,
        request=AiohttpTelegramRequest(),
    )
    async with bot:
        yield TelegramSender(bot)


# --- the channel ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How replies and the connection to Telegram are retried when Telegram is unreachable."""

    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0
    # A reply that would have to wait longer than this for flood control is dropped (and
    # logged) rather than holding the conversation and shutdown that long.
    max_retry_after: float = 60.0
    connect_max_delay: float = 60.0


class TelegramChannel:
    """The Telegram bot: owns a python-telegram-bot Application and its lifetime.

    `start()` returns at once; connecting (getMe, then polling or setWebhook) happens in
    the background and is retried with backoff, so an unreachable Telegram never delays
    the other channels. In webhook mode, mount `handle_webhook` at `webhook_path`.
    """

    def __init__(
        self,
        config: TelegramConfig,
        handler: ConversationHandler,
        *,
        public_url: str = "",
        retry: RetryPolicy | None = None,
        concurrent_updates: int = DEFAULT_CONCURRENT_UPDATES,
    ) -> None:
        if not config.token:
            raise ConfigError("[telegram] token: required to start the Telegram channel")
        self._config = config
        self._handler = handler
        self._retry = retry or RetryPolicy()
        self._public_url = public_url
        self._webhook_url = ""
        if config.mode == "webhook" and not config.secret_token:
            raise ConfigError(
                "[telegram] secret_token: required in webhook mode, so that only "
                "Telegram can post updates"
            )
        builder = (
            Application.builder()
            .token(config.token)
            .base_url(config.base_url)
            .base_file_url(config.base_file_url)
            .concurrent_updates(concurrent_updates)
            .request(AiohttpTelegramRequest())
            # Long polling holds its connection for the poll's duration: a pool of its own.
            .get_updates_request(AiohttpTelegramRequest(connection_pool_size=1))
        )
        if config.mode == "webhook":
            builder = builder.updater(None)
        self._application: TelegramApplication = builder.build()
        self._application.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, self._on_message)
        )
        self._application.add_handler(
            MessageHandler(
                filters.UpdateType.MESSAGE & (filters.PHOTO | filters.Document.IMAGE),
                self._on_photo,
            )
        )
        self._application.add_handler(CallbackQueryHandler(self._on_callback))
        self._application.add_handler(
            ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        self._application.add_error_handler(self._on_error)
        self._chat_locks = ChatLocks()
        self._edits = EditTargets()
        self._sender = TelegramSender(self._application.bot, self._edits)
        self._health = ComponentHealth("starting", "not started")
        self._health_changed = asyncio.Event()
        self._last_poll_error_at = 0.0
        self._connect_task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        self._accepting = True

    @property
    def config(self) -> TelegramConfig:
        return self._config

    @property
    def application(self) -> TelegramApplication:
        return self._application

    @property
    def sender(self) -> TelegramSender:
        """Sends through the channel's own bot (shared connections); valid once running."""
        return self._sender

    @property
    def uses_webhook(self) -> bool:
        return self._config.mode == "webhook"

    @property
    def webhook_url(self) -> str:
        return self._webhook_url

    def health(self) -> ComponentHealth:
        recent_poll_error = time.monotonic() - self._last_poll_error_at < 60.0
        if self._health.state == "ok" and self._last_poll_error_at and recent_poll_error:
            return ComponentHealth("degraded", "getUpdates failing; python-telegram-bot retries")
        return self._health

    async def wait_running(self) -> None:
        """Wait until the bot is connected and receiving updates (tests, start-up banner)."""
        await self._running.wait()

    async def wait_for_health(self, *states: HealthState) -> ComponentHealth:
        """Wait until the channel's state is one of `states`; that state."""
        while self._health.state not in states:
            await self._health_changed.wait()
        return self._health

    def _set_health(self, health: ComponentHealth) -> None:
        self._health = health
        self._health_changed.set()
        self._health_changed = asyncio.Event()

    async def start(self, *, public_url: str | None = None) -> None:
        """Start connecting in the background; returns at once.

        In webhook mode the URL given to Telegram is `[telegram] webhook_url`, else
        `public_url` (given here or to the constructor: the web server's public address,
        known only once it listens when its port is chosen at random) + `webhook_path`.
        """
        if self._connect_task is not None:
            raise RuntimeError("the Telegram channel was already started")
        if self.uses_webhook:
            base = (public_url or self._public_url).rstrip("/")
            self._webhook_url = self._config.webhook_url or (
                base + self._config.webhook_path if base else ""
            )
            if not self._webhook_url:
                raise ConfigError(
                    "[telegram] webhook_url: required in webhook mode (or set [web] public_url)"
                )
        self._accepting = True
        self._connect_task = asyncio.create_task(self._connect(), name="telegram-connect")

    async def stop(self) -> None:
        """Stop receiving, finish the updates in flight (their answers are sent), disconnect."""
        self._accepting = False
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
        application = self._application
        updater = application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if application.running:
            await application.stop()
        # The webhook stays registered on purpose: Telegram keeps the updates that arrive
        # while we are down and delivers them when we are back.
        with contextlib.suppress(TelegramError, RuntimeError):
            await application.shutdown()
        # When getMe never succeeded the application does not count as initialised and
        # its shutdown() skips the bot, whose HTTP connections are open all the same.
        await application.bot.shutdown()
        self._running.clear()
        self._set_health(ComponentHealth("down", "stopped"))

    async def _connect(self) -> None:
        try:
            await self._with_connect_retry("getMe", self._application.initialize)
            if self.uses_webhook:
                await self._with_connect_retry("setWebhook", self._set_webhook)
            else:
                updater = self._application.updater
                assert updater is not None  # built with an updater in polling mode
                await self._with_connect_retry("start polling", self._start_polling)
            await self._application.start()
        except InvalidToken as exc:
            log.error("Telegram rejected the bot token; the Telegram channel is off: %s", exc)
            self._set_health(ComponentHealth("down", "Telegram rejected the bot token"))
            return
        except BadRequest as exc:
            log.error("Telegram refused the channel's set-up; the channel is off: %s", exc)
            self._set_health(ComponentHealth("down", f"Telegram refused the set-up: {exc}"))
            return
        self._set_health(
            ComponentHealth(
                "ok", f"webhook {self._webhook_url}" if self.uses_webhook else "long polling"
            )
        )
        self._running.set()
        log.info("Telegram channel running (%s)", self._health.detail)

    async def _set_webhook(self) -> None:
        await self._application.bot.set_webhook(
            url=self._webhook_url,
            secret_token=self._config.secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
        )

    async def _start_polling(self) -> None:
        updater = self._application.updater
        assert updater is not None
        await updater.start_polling(
            allowed_updates=list(ALLOWED_UPDATES),
            bootstrap_retries=0,
            error_callback=self._on_polling_error,
        )

    async def _with_connect_retry(self, what: str, action: Callable[[], Awaitable[Any]]) -> None:
        delay = 1.0
        while True:
            try:
                await action()
                return
            except (InvalidToken, BadRequest):
                raise
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
            except TelegramError as exc:
                wait = delay
                delay = min(delay * 2, self._retry.connect_max_delay)
                self._set_health(
                    ComponentHealth("degraded", f"{what} failed ({exc}); retrying in {wait:g}s")
                )
                log.warning("Telegram %s failed (%s); retrying in %gs", what, exc, wait)
            await asyncio.sleep(wait)

    def _on_polling_error(self, exc: TelegramError) -> None:
        self._last_poll_error_at = time.monotonic()
        log.warning("Telegram getUpdates failed: %s", exc)

    # --- webhook ------------------------------------------------------------------------

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for Telegram's webhook POSTs (mounted at `webhook_path`)."""
        supplied = request.headers.get(SECRET_TOKEN_HEADER)
        if supplied is None:
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(supplied.encode(), self._config.secret_token.encode()):
            log.warning("Telegram webhook: wrong secret token from %s", request.remote)
            return web.Response(status=403, text="wrong secret token")
        if not self._accepting:
            # Telegram retries later; the update is not lost while we restart.
            return web.Response(status=503, text="stopping")
        try:
            data = read_json(await request.read(), max_bytes=MAX_UPDATE_BYTES)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            update = Update.de_json(data, self._application.bot)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("Telegram webhook: unreadable update (%s)", exc)
            return web.Response(status=400, text="not an update")
        # Acknowledge at once, as python-telegram-bot's own webhook server does: the
        # application processes the queue concurrently and stop() drains it.
        await self._application.update_queue.put(update)
        return web.Response(status=200)

    # --- conversation -------------------------------------------------------------------

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        incoming = incoming_from_message(message) if message is not None else None
        if incoming is not None:
            await self._converse(incoming)

    async def _on_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        photo = await download_photo(self._application.bot, message)
        incoming = incoming_from_message(message, photo)
        if incoming is not None:
            await self._converse(incoming)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        # Answer first: the citizen's client shows a spinner on the button until we do.
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("callback query not answered (%s)", exc)
        incoming = incoming_from_callback(query)
        if incoming is not None:
            await self._converse(incoming)

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = incoming_from_membership(update)
        if incoming is None:
            return
        async with self._chat_locks.hold(incoming.chat.chat_id):
            # Only the subscription state changes here. No reply: after "unfollow" the chat
            # is closed to us, and after "follow" Telegram's client sends /start, which
            # greets - answering both would greet twice.
            await self._handler.handle(incoming)

    async def _converse(self, incoming: Incoming) -> None:
        async with self._chat_locks.hold(incoming.chat.chat_id):
            replies = await self._handler.handle(incoming)
            await self._send_replies(incoming, replies)

    async def _send_replies(self, incoming: Incoming, replies: Sequence[Reply]) -> None:
        bot = self._application.bot
        chat_id = incoming.chat.chat_id
        for reply in replies:

            async def attempt(reply: Reply = reply) -> None:
                await deliver_reply(bot, chat_id, reply, self._edits)

            try:
                await self._retrying(attempt)
            except TelegramError as exc:
                log.warning("reply to %s not delivered: %s", incoming.chat, exc)
                return

    async def _retrying(self, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """Run `attempt`, retrying network failures with backoff and honouring RetryAfter."""
        delay = self._retry.first_delay
        for number in range(1, self._retry.attempts + 1):
            try:
                return await attempt()
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                if wait > self._retry.max_retry_after or number == self._retry.attempts:
                    raise
            except (BadRequest, Forbidden, InvalidToken, ChatMigrated):
                raise
            except NetworkError:
                if number == self._retry.attempts:
                    raise
                wait = delay
                delay = min(delay * 2, self._retry.max_delay)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = ""
        if isinstance(update, Update) and update.effective_chat is not None:
            where = f" in chat telegram:{update.effective_chat.id}"
        log.error("error while handling a Telegram update%s", where, exc_info=context.error)
