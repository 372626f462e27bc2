"""The Telegram channel's lifecycle: the python-telegram-bot Application, long polling or a
webhook on our aiohttp server, the update handlers and the conversation's replies.

Translating updates (incoming.py), rendering replies (rendering.py) and sending them
(sender.py) live apart; this module wires them to the bot's `ConversationHandler` and owns
the connection to Telegram and its health.

    start() ──▶ getMe (retried with backoff) ──▶ polling: deleteWebhook + getUpdates loop
                                              └─▶ webhook: setWebhook(url, secret_token)
    update ──▶ Incoming ──▶ handler.handle() ──▶ replies rendered, sent with retries
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, InvalidToken, RetryAfter, TelegramError
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
from bot.channels.telegram.incoming import (
    download_photo,
    incoming_from_callback,
    incoming_from_membership,
    incoming_from_message,
)
from bot.channels.telegram.retry import RetryPolicy, period_seconds, retrying
from bot.channels.telegram.sender import EditTargets, TelegramSender, deliver_reply
from bot.channels.telegram.transport import AiohttpTelegramRequest
from bot.config import ConfigError, TelegramConfig
from bot.inbound import read_json
from bot.messages import ConversationHandler, Incoming, Reply

log = logging.getLogger(__name__)

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
                wait = period_seconds(exc.retry_after)
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
                await retrying(self._retry, attempt)
            except TelegramError as exc:
                log.warning("reply to %s not delivered: %s", incoming.chat, exc)
                return

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        where = ""
        if isinstance(update, Update) and update.effective_chat is not None:
            where = f" in chat telegram:{update.effective_chat.id}"
        log.error("error while handling a Telegram update%s", where, exc_info=context.error)
