"""The Zalo OA channel: the webhook handler, its background answers, its lifetime.

An event is verified (signature, age, not seen before), acknowledged at once (Zalo
expects an answer within a few seconds) and then answered in the background, one event
at a time per citizen: a number typed back presses the choice offered last, the dialogue
answers, and the sender delivers the turn. `stop()` refuses new events (503, so Zalo
retries them) and waits for those already acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.chat_locks import ChatLocks
from bot.channels.health import ComponentHealth
from bot.channels.numbered_choices import pick_choice
from bot.channels.zalo.choices import ZaloChoiceStore
from bot.channels.zalo.errors import ZaloAuthError
from bot.channels.zalo.seen_events import ZaloSeenEvents
from bot.channels.zalo.sender import RetryPolicy, ZaloSender, build_zalo_sender
from bot.channels.zalo.webhook import (
    MAX_EVENT_BYTES,
    SIGNATURE_HEADER,
    download_photo,
    event_key,
    image_url_of,
    incoming_from_event,
    signature_valid,
)
from bot.config import ZaloConfig
from bot.inbound import UnreadableJson, read_json
from bot.messages import (
    EVENT_UNFOLLOW,
    ConversationHandler,
    Incoming,
    Photo,
    PhotoProblem,
    SendError,
)
from bot.storage.database import StorageUnavailable

log = logging.getLogger(__name__)


class ZaloChannel:
    """The Zalo OA: webhook handler (`handle_webhook`), sender, token upkeep.

    `start()` opens the HTTP session (unless one is given); `stop()` refuses new events
    (503, so Zalo retries them) and waits for the events already acknowledged.
    """

    def __init__(
        self,
        config: ZaloConfig,
        handler: ConversationHandler,
        engine: AsyncEngine,
        *,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._handler = handler
        self._engine = engine
        self._given_session = session
        self._session: aiohttp.ClientSession | None = session
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sender: ZaloSender | None = None
        self._choices = ZaloChoiceStore(engine, clock=clock)
        self._chat_locks = ChatLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        # Twice the age limit: clocks of Zalo and of the bot's processes may differ a little.
        self._seen = ZaloSeenEvents(engine, 2.0 * config.max_event_age_seconds, clock=clock)
        self._accepting = False
        self._problem: tuple[float, str] | None = None
        self._auth_problem = ""
        # How long stop() waits for acknowledged events still being answered.
        self.drain_seconds = 30.0
        if session is not None:
            self._sender = self._build_sender(session)

    @property
    def config(self) -> ZaloConfig:
        return self._config

    @property
    def sender(self) -> ZaloSender:
        if self._sender is None:
            raise RuntimeError("start() the Zalo channel before sending")
        return self._sender

    @property
    def choices(self) -> ZaloChoiceStore:
        return self._choices

    @property
    def events_in_flight(self) -> int:
        return len(self._tasks)

    def _build_sender(self, session: aiohttp.ClientSession) -> ZaloSender:
        return build_zalo_sender(
            self._config, self._engine, session, choices=self._choices, clock=self._clock
        )

    def health(self) -> ComponentHealth:
        if self._auth_problem:
            return ComponentHealth("down", self._auth_problem)
        if not self._accepting:
            return ComponentHealth("down", "stopped")
        if self._problem is not None and time.monotonic() - self._problem[0] < 300:
            return ComponentHealth("degraded", self._problem[1])
        return ComponentHealth("ok", f"webhook {self._config.webhook_path}")

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._sender = self._build_sender(self._session)
        self._accepting = True

    async def stop(self) -> None:
        self._accepting = False
        await self.drain()
        if self._given_session is None and self._session is not None:
            await self._session.close()
            self._session = None
            self._sender = None

    async def drain(self) -> None:
        """Wait for the acknowledged events still being answered (at most `drain_seconds`)."""
        self._accepting = False
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.drain_seconds)
        for task in pending:
            log.warning("Zalo event still running at shutdown; cancelled")
            task.cancel()

    # --- webhook ------------------------------------------------------------------------

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for Zalo's event POSTs (mounted at `webhook_path`)."""
        supplied = request.headers.get(SIGNATURE_HEADER)
        if not supplied:
            return web.Response(status=401, text="missing signature")
        body = await request.read()
        try:
            event = read_json(body, max_bytes=MAX_EVENT_BYTES)
        except UnreadableJson as exc:
            log.warning("Zalo webhook: unreadable body from %s (%s)", request.remote, exc)
            return web.json_response({"error": f"unreadable body: {exc}"}, status=400)
        if not isinstance(event, dict):
            return web.Response(status=400, text="not an event")
        timestamp = str(event.get("timestamp", ""))
        if not signature_valid(self._config, body, timestamp, supplied):
            log.warning("Zalo webhook: bad signature from %s", request.remote)
            return web.Response(status=401, text="bad signature")
        try:
            age = abs(self._clock() - int(timestamp) / 1000)
        except ValueError:
            return web.Response(status=401, text="bad timestamp")
        if age > self._config.max_event_age_seconds:
            # A replay of an old, validly signed event.
            log.warning("Zalo webhook: stale event (%.0f s old) refused", age)
            return web.Response(status=401, text="stale event")
        if not self._accepting or self._sender is None:
            return web.Response(status=503, text="not running")
        if not await self._seen.first_time(event_key(event, timestamp)):
            return web.Response(status=200)
        task = asyncio.create_task(self._process(event), name="zalo-event")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

    async def _forget_choices(self, chat_id: str) -> None:
        # An outage is logged once where it was raised; a stale "1" is all it costs.
        with contextlib.suppress(StorageUnavailable):
            await self._choices.remember(chat_id, ())

    async def _process(self, event: dict[str, Any]) -> None:
        incoming = incoming_from_event(event)
        if incoming is None:
            log.debug("Zalo event %r ignored", event.get("event_name"))
            return
        image_url = image_url_of(event)
        if image_url is not None:
            photo = Photo(problem=PhotoProblem.NOT_RECEIVED)
            if image_url and self._session is not None:
                photo = await download_photo(self._session, image_url)
            incoming = dataclasses.replace(incoming, photo=photo)
        chat_id = incoming.chat.chat_id
        try:
            async with self._chat_locks.hold(chat_id):
                if incoming.action is None and incoming.photo is None:
                    try:
                        offered = await self._choices.recall(chat_id)
                    except StorageUnavailable:
                        offered = ()  # the outage is logged once where it was raised
                    choice = pick_choice(incoming.text, offered)
                    if choice is not None:
                        incoming = Incoming(
                            chat=incoming.chat,
                            user_id=incoming.user_id,
                            text=choice.label,
                            action=choice.action,
                            received_at=incoming.received_at,
                        )
                    elif offered:
                        # Offered choices hold for the next message only (a turn without
                        # a reply, like a message relayed in a hand-off, keeps them).
                        await self._forget_choices(chat_id)
                replies = await self._handler.handle(incoming)
                if incoming.action == EVENT_UNFOLLOW:
                    return  # the citizen left: Zalo would refuse any message
                await self.sender.send_turn(chat_id, replies, retry=self._retry)
            self._problem = None
        except ZaloAuthError as exc:
            self._auth_problem = str(exc)
            log.error("Zalo: %s", exc)
        except SendError as exc:
            self._problem = (time.monotonic(), f"reply not delivered: {exc}")
            if isinstance(exc.__cause__, ZaloAuthError):
                self._auth_problem = str(exc.__cause__)
            log.warning("Zalo reply to %s not delivered: %s", incoming.chat, exc)
        except Exception:
            self._problem = (time.monotonic(), "error while answering an event")
            log.exception("Zalo event for %s failed", incoming.chat)
