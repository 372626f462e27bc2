"""messages.Sender for Zalo: rendered turns out through the API, with typed failures.

The sender renders a turn, remembers the choices it offers (before sending: the citizen
may answer "1" the moment the message arrives), and sends each message with the current
access token, renewing it once when Zalo says it expired. Answers in a conversation are
retried briefly (`RetryPolicy`); notices and broadcasts are not, since the delivery engine
retries them later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.zalo.api import ZaloApi
from bot.channels.zalo.choices import ZaloChoiceStore
from bot.channels.zalo.errors import TOKEN_ERRORS, ZaloApiError, send_error_for
from bot.channels.zalo.rendering import render_turn
from bot.channels.zalo.tokens import ZaloTokenStore
from bot.config import ZaloConfig
from bot.messages import Channel, RateLimited, Reply, SendError, TransientSendError
from bot.storage.database import StorageUnavailable


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How replies in a conversation are retried when Zalo is briefly unreachable."""

    attempts: int = 4
    first_delay: float = 0.5
    max_delay: float = 8.0
    max_rate_wait: float = 5.0


class ZaloSender:
    """messages.Sender for Zalo: text messages with numbered choices, typed failures."""

    def __init__(self, api: ZaloApi, tokens: ZaloTokenStore, choices: ZaloChoiceStore) -> None:
        self._api = api
        self._tokens = tokens
        self._choices = choices

    @property
    def channel(self) -> Channel:
        return Channel.ZALO

    @property
    def tokens(self) -> ZaloTokenStore:
        return self._tokens

    async def send(self, chat_id: str, reply: Reply) -> None:
        await self.send_turn(chat_id, [reply])

    async def send_turn(
        self, chat_id: str, replies: Sequence[Reply], *, retry: RetryPolicy | None = None
    ) -> None:
        """Send the replies of one turn (choices numbered across them); SendError on failure."""
        messages, choices = render_turn(replies)
        if not messages:
            return
        try:
            # Before sending: the citizen may answer "1" the moment the message arrives.
            await self._choices.remember(chat_id, choices)
        except StorageUnavailable as exc:
            if retry is None:
                # A notice or broadcast: the delivery engine tries again later.
                raise TransientSendError(str(exc)) from exc
            # An answer to the citizen goes out anyway (a number typed back is then read
            # as text); the outage is logged once where it was raised.
        for text in messages:
            if retry is None:
                await self._send_text(chat_id, text)
            else:
                await self._send_text_retrying(chat_id, text, retry)

    async def _send_text_retrying(self, chat_id: str, text: str, retry: RetryPolicy) -> None:
        delay = retry.first_delay
        for attempt in range(1, retry.attempts + 1):
            try:
                await self._send_text(chat_id, text)
                return
            except RateLimited as exc:
                if exc.retry_after > retry.max_rate_wait or attempt == retry.attempts:
                    raise
                wait = exc.retry_after
            except TransientSendError:
                if attempt == retry.attempts:
                    raise
                wait = delay
                delay = min(delay * 2, retry.max_delay)
            await asyncio.sleep(wait)

    async def _send_text(self, chat_id: str, text: str) -> None:
        try:
            tokens = await self._tokens.current()
            try:
                await self._api.send_text(tokens.access_token, chat_id, text)
            except ZaloApiError as exc:
                if exc.code not in TOKEN_ERRORS:
                    raise
                # Expired or revoked early: renew once (unless another sender just did).
                tokens = await self._tokens.refresh(tokens.generation)
                await self._api.send_text(tokens.access_token, chat_id, text)
        except SendError:
            raise
        except Exception as exc:
            raise send_error_for(exc) from exc


def build_zalo_sender(
    config: ZaloConfig,
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    *,
    choices: ZaloChoiceStore | None = None,
    clock: Callable[[], float] = time.time,
) -> ZaloSender:
    """A sender on `session`; the token pair is the one kept in the bot's database, so
    several senders (the server's, `bot broadcast`'s) never use a refresh token twice."""
    api = ZaloApi(config, session)
    tokens = ZaloTokenStore(engine, config, api, clock=clock)
    return ZaloSender(api, tokens, choices or ZaloChoiceStore(engine, clock=clock))


@asynccontextmanager
async def open_zalo_sender(config: ZaloConfig, engine: AsyncEngine) -> AsyncIterator[ZaloSender]:
    """A sender with its own HTTP connections, for use outside `bot run` (`bot broadcast`)."""
    async with aiohttp.ClientSession() as session:
        yield build_zalo_sender(config, engine, session)
