"""Zalo Official Account channel: a signed webhook in, the OA message API out.

Zalo posts events to `[zalo] webhook_path`; each is checked against `X-ZEvent-Signature`
("mac=" + sha256 hex of app id + raw body + the body's `timestamp` + OA secret key, as
Zalo documents), refused when stale, acknowledged at once (Zalo expects an answer within
a few seconds) and then processed in the background. `user_send_text`, `user_send_image`
(the picture is downloaded from the URL in the signed event, at most `MAX_PHOTO_BYTES`),
`follow` and `unfollow` are understood; other events are acknowledged and ignored.

Replies go through `POST {api_base}/v3.0/oa/message/cs` with the OA access token. Zalo
shows plain text only (2,000 characters per message), so headings are plain lines and
buttons become numbered choices; the choices offered last are kept per citizen in the
bot's database, so that a reply of "2" presses the second button even after a restart or
on another bot process.

The access token lives about 25 hours and is renewed with the refresh token, which Zalo
accepts exactly once. The current pair is kept in the bot's database; one renewal at a
time is guaranteed across coroutines (a lock) and across processes (a lease claimed with
compare-and-swap on the row's generation), so a refresh token is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.channels.chat_locks import ChatLocks
from bot.channels.health import ComponentHealth
from bot.channels.numbered_choices import (
    Choice,
    NumberedReply,
    all_choices,
    number_replies,
    pick_choice,
)
from bot.channels.photo_bytes import read_photo
from bot.channels.text_split import split_text
from bot.config import ZaloConfig
from bot.inbound import UnreadableJson, read_json, storable_incoming
from bot.messages import (
    EVENT_FOLLOW,
    EVENT_UNFOLLOW,
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
    SendError,
    TransientSendError,
)
from bot.storage.database import StorageUnavailable, connect
from bot.storage.upserts import insert_ignoring_duplicates, upsert
from bot.storage.zalo_tables import zalo_choices, zalo_seen_events, zalo_tokens

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000  # Zalo OA text message limit
SIGNATURE_HEADER = "X-ZEvent-Signature"
# An event holds at most a 2,000-character text and a few attachment URLs.
MAX_EVENT_BYTES = 64 * 1024
# Renew the access token this long before Zalo says it expires.
REFRESH_MARGIN_SECONDS = 15 * 60.0
# A renewal in progress holds the row for at most this long (it must outlast the HTTP
# timeout, or a second process could send the same refresh token).
REFRESH_LEASE_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 10.0
_TOKEN_CACHE_SECONDS = 30.0
_RECENT_EVENTS = 2048

# Zalo OA API error codes (developers.zalo.me, "Bảng mã lỗi"; the same sets as other
# production integrations use).
TOKEN_ERRORS = frozenset({-216, -124})  # access token invalid / expired
BLOCKED_ERRORS = frozenset({-213, -217, -227})  # not following, blocked the OA, inactive user
RATE_ERRORS = frozenset({-32})  # request rate exceeded
OUTSIDE_WINDOW_ERRORS = frozenset({-230, -232, -244})  # no recent interaction; restricted
NIGHT_ERROR = -234  # customer-service messages are not delivered from 22:00 to 06:00
RETRYABLE_ERRORS = frozenset({-100})  # Zalo's "unknown error"
_VIETNAM = dt.timezone(dt.timedelta(hours=7))


# --- errors -----------------------------------------------------------------------------


class ZaloApiError(Exception):
    """Zalo answered with an error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code
        self.message = message


class ZaloHttpError(Exception):
    """Zalo answered with an HTTP error status (5xx, 429)."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"Zalo answered HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class ZaloAuthError(Exception):
    """Zalo refused to renew the access token (refresh token used, expired or revoked):
    staff must authorise the OA again and put the new pair in the config."""


def _seconds_until_morning(now: float) -> float:
    local = dt.datetime.fromtimestamp(now, _VIETNAM)
    morning = local.replace(hour=6, minute=0, second=0, microsecond=0)
    if local >= morning:
        morning += dt.timedelta(days=1)
    return (morning - local).total_seconds()


def send_error_for(exc: Exception, *, now: float | None = None) -> SendError:
    """The messages.SendError for a failure of the Zalo API (see Sender's contract)."""
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, ZaloApiError):
        if exc.code in BLOCKED_ERRORS:
            return RecipientBlocked(str(exc))
        if exc.code in RATE_ERRORS:
            return RateLimited(60.0, str(exc))  # Zalo's quotas are counted per minute
        if exc.code == NIGHT_ERROR:
            return RateLimited(_seconds_until_morning(now or time.time()), str(exc))
        if exc.code in RETRYABLE_ERRORS:
            return TransientSendError(str(exc))
        return PermanentSendError(str(exc))
    if isinstance(exc, ZaloHttpError):
        if exc.status == 429:
            return RateLimited(exc.retry_after or 60.0, str(exc))
        if exc.status >= 500:
            return TransientSendError(str(exc))
        return PermanentSendError(str(exc))
    if isinstance(exc, ZaloAuthError):
        # Not the recipient's fault: once staff configure a new pair, sending works again.
        return TransientSendError(str(exc))
    if isinstance(exc, aiohttp.ClientError | TimeoutError | StorageUnavailable):
        # A timeout waiting for the answer: the request may have reached Zalo.
        maybe_delivered = isinstance(exc, TimeoutError)
        return TransientSendError(f"{type(exc).__name__}: {exc}", maybe_delivered=maybe_delivered)
    return PermanentSendError(f"{type(exc).__name__}: {exc}")


# --- the HTTP API -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: float | None


class ZaloApi:
    """The two Zalo calls the bot makes, over the given aiohttp session."""

    def __init__(
        self,
        config: ZaloConfig,
        session: aiohttp.ClientSession,
        *,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._config = config
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send_text(self, access_token: str, user_id: str, text: str) -> str:
        """Send a customer-service text message; returns Zalo's message id."""
        url = self._config.api_base.rstrip("/") + "/v3.0/oa/message/cs"
        payload = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        async with self._session.post(
            url, json=payload, headers={"access_token": access_token}, timeout=self._timeout
        ) as response:
            if response.status >= 400:
                retry_after = response.headers.get("Retry-After")
                raise ZaloHttpError(
                    response.status,
                    float(retry_after) if retry_after and retry_after.isdigit() else None,
                )
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ZaloApiError(0, "unreadable answer")
        code = int(body.get("error") or 0)
        if code != 0:
            raise ZaloApiError(code, str(body.get("message", "")))
        data = body.get("data")
        return str(data.get("message_id", "")) if isinstance(data, dict) else ""

    async def refresh_access_token(self, refresh_token: str) -> IssuedTokens:
        """Trade the (single-use) refresh token for a new pair."""
        url = self._config.oauth_base.rstrip("/") + "/v4/oa/access_token"
        form = {
            "app_id": self._config.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        async with self._session.post(
            url,
            data=form,
            headers={"secret_key": self._config.app_secret_key},
            timeout=self._timeout,
        ) as response:
            if response.status >= 500:
                raise ZaloHttpError(response.status)
            body = await response.json(content_type=None)
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        if not isinstance(body, dict) or not body.get("access_token"):
            reason = ""
            if isinstance(body, dict):
                name = body.get("error_name") or body.get("message", "")
                reason = f"{body.get('error', '')} {name}"
            raise ZaloAuthError(f"Zalo refused to renew the access token: {reason.strip()}")
        expires_in = body.get("expires_in")
        return IssuedTokens(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or refresh_token),
            expires_in=float(expires_in) if expires_in not in (None, "") else None,
        )


# --- the token pair in the bot's database -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ZaloTokens:
    access_token: str
    refresh_token: str
    expires_at: float | None
    generation: int


def _fingerprint(config: ZaloConfig) -> str:
    pair = f"{config.access_token}\n{config.refresh_token}".encode()
    return hashlib.sha256(pair).hexdigest()[:32]


class ZaloTokenStore:
    """The OA's access/refresh token pair, kept in the bot's database and renewed in time."""

    def __init__(
        self,
        engine: AsyncEngine,
        config: ZaloConfig,
        api: ZaloApi,
        *,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        lease_seconds: float = REFRESH_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._config = config
        self._api = api
        self._margin = refresh_margin
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._owner = secrets.token_hex(8)
        self._lock = asyncio.Lock()
        self._cached: ZaloTokens | None = None
        self._cached_at = 0.0
        # The generation whose refresh token Zalo refused: not sent again (it cannot
        # start working), until a new pair appears in the database or the config.
        self._refused: tuple[int, str] | None = None

    async def current(self) -> ZaloTokens:
        """The pair to use now, renewed first when it expires within the margin."""
        tokens = self._cached
        if tokens is None or time.monotonic() - self._cached_at > _TOKEN_CACHE_SECONDS:
            tokens = await self._load()
        if tokens.expires_at is not None and tokens.expires_at - self._clock() < self._margin:
            tokens = await self.refresh(tokens.generation)
        return tokens

    async def refresh(self, stale_generation: int) -> ZaloTokens:
        """Renew the pair of `stale_generation`, unless someone already has; the new pair.

        Raises ZaloAuthError when Zalo refuses the refresh token, and aiohttp/timeout
        errors when Zalo cannot be reached (the lease is released for a later attempt).
        """
        async with self._lock:
            while True:
                tokens = await self._load()
                if tokens.generation != stale_generation:
                    return tokens
                if self._refused is not None and self._refused[0] == tokens.generation:
                    raise ZaloAuthError(self._refused[1])
                if await self._claim(tokens.generation):
                    break
                # Another process is renewing: its lease ends with the new pair stored (or
                # expires if it died), so wait and look again.
                await asyncio.sleep(0.1)
            try:
                issued = await self._api.refresh_access_token(tokens.refresh_token)
            except ZaloAuthError as exc:
                self._refused = (tokens.generation, str(exc))
                await self._release()
                raise
            except BaseException:
                await self._release()
                raise
            return await self._store(issued, tokens.generation)

    async def _load(self) -> ZaloTokens:
        fingerprint = _fingerprint(self._config)
        row = await self._select()
        if row is None:
            await self._seed(fingerprint)
            row = await self._select()
            assert row is not None
        elif row.seeded_from != fingerprint:
            log.info("Zalo: a new token pair is configured; it replaces the stored one")
            async with connect(self._engine, begin=True) as connection:
                await connection.execute(
                    update(zalo_tokens)
                    .where(
                        zalo_tokens.c.app_id == self._config.app_id,
                        zalo_tokens.c.seeded_from == row.seeded_from,
                    )
                    .values(
                        access_token=self._config.access_token,
                        refresh_token=self._config.refresh_token,
                        expires_at=self._configured_expiry(),
                        seeded_from=fingerprint,
                        generation=zalo_tokens.c.generation + 1,
                        lease_owner=None,
                        lease_until=None,
                        updated_at=self._clock(),
                    )
                )
            row = await self._select()
            assert row is not None
        tokens = ZaloTokens(
            access_token=row.access_token,
            refresh_token=row.refresh_token,
            expires_at=row.expires_at,
            generation=row.generation,
        )
        self._cached, self._cached_at = tokens, time.monotonic()
        return tokens

    def _configured_expiry(self) -> float | None:
        # Unknown age: used until Zalo says it expired. Without an access token at all,
        # "already expired" makes the first use renew it.
        return None if self._config.access_token else 0.0

    async def _select(self) -> Any:
        async with connect(self._engine) as connection:
            result = await connection.execute(
                select(zalo_tokens).where(zalo_tokens.c.app_id == self._config.app_id)
            )
            return result.first()

    async def _seed(self, fingerprint: str) -> None:
        try:
            async with connect(self._engine, begin=True) as connection:
                await connection.execute(
                    zalo_tokens.insert().values(
                        app_id=self._config.app_id,
                        access_token=self._config.access_token,
                        refresh_token=self._config.refresh_token,
                        expires_at=self._configured_expiry(),
                        seeded_from=fingerprint,
                        generation=0,
                        updated_at=self._clock(),
                    )
                )
        except IntegrityError:
            pass  # another process seeded it first

    async def _claim(self, generation: int) -> bool:
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(zalo_tokens)
                .where(
                    zalo_tokens.c.app_id == self._config.app_id,
                    zalo_tokens.c.generation == generation,
                    (zalo_tokens.c.lease_until.is_(None)) | (zalo_tokens.c.lease_until < now),
                )
                .values(lease_owner=self._owner, lease_until=now + self._lease_seconds)
            )
            return result.rowcount == 1

    async def _release(self) -> None:
        with contextlib.suppress(StorageUnavailable):
            async with connect(self._engine, begin=True) as connection:
                await connection.execute(
                    update(zalo_tokens)
                    .where(
                        zalo_tokens.c.app_id == self._config.app_id,
                        zalo_tokens.c.lease_owner == self._owner,
                    )
                    .values(lease_owner=None, lease_until=None)
                )

    async def _store(self, issued: IssuedTokens, generation: int) -> ZaloTokens:
        now = self._clock()
        expires_at = now + issued.expires_in if issued.expires_in is not None else None
        async with connect(self._engine, begin=True) as connection:
            # Conditioned on the generation only, not on still holding the lease: the old
            # refresh token is spent now, so the new pair must be kept whatever happened.
            await connection.execute(
                update(zalo_tokens)
                .where(
                    zalo_tokens.c.app_id == self._config.app_id,
                    zalo_tokens.c.generation == generation,
                )
                .values(
                    access_token=issued.access_token,
                    refresh_token=issued.refresh_token,
                    expires_at=expires_at,
                    generation=generation + 1,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
        log.info("Zalo access token renewed (generation %d)", generation + 1)
        return await self._load()


# --- the numbered choices offered last, per citizen --------------------------------------


class ZaloChoiceStore:
    """The numbered choices each citizen was offered last (so "2" can press button 2)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    async def remember(self, user_id: str, choices: Sequence[Choice]) -> None:
        async with connect(self._engine, begin=True) as connection:
            if not choices:
                await connection.execute(
                    delete(zalo_choices).where(zalo_choices.c.user_id == user_id)
                )
                return
            encoded = json.dumps(
                [[c.number, c.label, c.action] for c in choices], ensure_ascii=False
            )
            await connection.execute(
                upsert(
                    connection, zalo_choices, key=("user_id",), update=("choices", "updated_at")
                ),
                {"user_id": user_id, "choices": encoded, "updated_at": self._clock()},
            )

    async def recall(self, user_id: str) -> tuple[Choice, ...]:
        async with connect(self._engine) as connection:
            result = await connection.execute(
                select(zalo_choices.c.choices).where(zalo_choices.c.user_id == user_id)
            )
            encoded = result.scalar()
        if not encoded:
            return ()
        return tuple(
            Choice(int(n), str(label), str(action)) for n, label, action in json.loads(encoded)
        )


class ZaloSeenEvents:
    """The events already taken, in the database: Zalo redelivers an event it thinks was
    not received, and a signed event can be replayed within `max_event_age_seconds`; each
    is answered once, also after a restart and when several bot processes share the
    webhook. Rows older than `keep_seconds` are deleted (such an event is refused as stale
    anyway), at most once a minute. While the database is down, a memory of the recent
    ones stands in (the outage is logged where it was raised)."""

    def __init__(
        self,
        engine: AsyncEngine,
        keep_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._keep_seconds = keep_seconds
        self._clock = clock
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._pruned_at = 0.0

    async def first_time(self, key: str) -> bool:
        """True the first time `key` is seen (and from then on it is remembered)."""
        if len(key) > 128:
            key = hashlib.sha256(key.encode()).hexdigest()
        if key in self._recent:
            return False
        now = self._clock()
        try:
            async with connect(self._engine, begin=True) as connection:
                row = {"event_key": key, "seen_at": now}
                fresh = await insert_ignoring_duplicates(connection, zalo_seen_events, [row]) > 0
                if now - self._pruned_at >= 60.0:
                    self._pruned_at = now
                    await connection.execute(
                        delete(zalo_seen_events).where(
                            zalo_seen_events.c.seen_at < now - self._keep_seconds
                        )
                    )
        except StorageUnavailable:
            fresh = True
        self._recent[key] = None
        if len(self._recent) > _RECENT_EVENTS:
            self._recent.popitem(last=False)
        return fresh


# --- rendering and sending --------------------------------------------------------------


def render_turn(
    replies: Sequence[Reply], limit: int = TEXT_LIMIT
) -> tuple[list[str], tuple[Choice, ...]]:
    """The replies of one turn as Zalo text messages, and the numbered choices offered."""
    numbered = number_replies(replies)
    last_with_choices = max(
        (index for index, item in enumerate(numbered) if item.choices), default=-1
    )
    messages: list[str] = []
    for index, item in enumerate(numbered):
        lines = list(item.lines)
        if index == last_with_choices:
            lines.append(texts.ZALO_CHOICE_HINT)
        if item.reply.image is not None and not lines:
            continue  # images need Zalo's upload API; the text carries the answer
        messages.extend(split_text("\n".join(lines), limit))
    return messages, all_choices(numbered)


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


# --- translating events -----------------------------------------------------------------


def incoming_from_event(event: dict[str, Any]) -> Incoming | None:
    """The Incoming for a Zalo webhook event, or None for events the bot does not use."""
    name = event.get("event_name")
    received_at = dt.datetime.now(dt.UTC)
    with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
        received_at = dt.datetime.fromtimestamp(int(event["timestamp"]) / 1000, dt.UTC)
    if name in ("user_send_text", "user_send_image"):
        sender, message = event.get("sender"), event.get("message")
        if not isinstance(sender, dict) or not isinstance(message, dict):
            return None
        # An image's caption, if any, is its text.
        user_id, text = str(sender.get("id") or ""), message.get("text", "")
        if not user_id or not isinstance(text, str):
            return None
        return storable_incoming(
            Incoming(
                chat=ChatRef(Channel.ZALO, user_id),
                user_id=user_id,
                text=text,
                received_at=received_at,
            )
        )
    if name in ("follow", "unfollow"):
        follower = event.get("follower")
        user_id = str(follower.get("id") or "") if isinstance(follower, dict) else ""
        if not user_id:
            return None
        return storable_incoming(
            Incoming(
                chat=ChatRef(Channel.ZALO, user_id),
                user_id=user_id,
                action=EVENT_FOLLOW if name == "follow" else EVENT_UNFOLLOW,
                received_at=received_at,
                is_first_contact=name == "follow",
            )
        )
    return None


def image_url_of(event: dict[str, Any]) -> str | None:
    """The picture's URL in a `user_send_image` event (its first image attachment)."""
    if event.get("event_name") != "user_send_image":
        return None
    message = event.get("message")
    attachments = message.get("attachments") if isinstance(message, dict) else None
    for attachment in attachments if isinstance(attachments, list) else []:
        payload = attachment.get("payload") if isinstance(attachment, dict) else None
        url = payload.get("url") if isinstance(payload, dict) else None
        if attachment.get("type") == "image" and isinstance(url, str) and url:
            return url
    return ""


async def download_photo(session: aiohttp.ClientSession, url: str) -> Photo:
    """The picture at `url` (from a signed event), at most MAX_PHOTO_BYTES, or why not."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning("Zalo image not fetched: not an http(s) URL: %.80r", url)
        return Photo(problem=PhotoProblem.NOT_RECEIVED)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    try:
        async with session.get(url, timeout=timeout) as response:
            if response.status != 200:
                log.warning("Zalo image not fetched: HTTP %d", response.status)
                return Photo(problem=PhotoProblem.NOT_RECEIVED)
            return await read_photo(response.content, response.content_length)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Zalo image not fetched: %s: %s", type(exc).__name__, exc)
        return Photo(problem=PhotoProblem.NOT_RECEIVED)


def expected_signature(config: ZaloConfig, body: bytes, timestamp: str) -> str:
    digest = hashlib.sha256(
        config.app_id.encode() + body + timestamp.encode() + config.oa_secret_key.encode()
    ).hexdigest()
    return f"mac={digest}"


def signature_valid(config: ZaloConfig, body: bytes, timestamp: str, supplied: str) -> bool:
    expected = expected_signature(config, body, timestamp)
    supplied = supplied.strip()
    if not supplied.startswith("mac="):
        supplied = "mac=" + supplied
    return hmac.compare_digest(expected.encode(), supplied.lower().encode())


# --- the channel ------------------------------------------------------------------------


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
        if not await self._seen.first_time(_event_key(event, timestamp)):
            return web.Response(status=200)
        task = asyncio.create_task(self._process(event), name="zalo-event")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

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


def _event_key(event: dict[str, Any], timestamp: str) -> str:
    """What makes an event the same one again: its msg_id, else name, time and user."""
    message = event.get("message")
    msg_id = message.get("msg_id") if isinstance(message, dict) else None
    who = event.get("follower") or event.get("sender")
    if msg_id:
        return f"msg:{msg_id}"
    return f"{event.get('event_name')}:{timestamp}:{who}"


__all__ = [
    "IssuedTokens",
    "NumberedReply",
    "RetryPolicy",
    "ZaloApi",
    "ZaloApiError",
    "ZaloAuthError",
    "ZaloChannel",
    "ZaloChoiceStore",
    "ZaloHttpError",
    "ZaloSeenEvents",
    "ZaloSender",
    "ZaloTokenStore",
    "ZaloTokens",
    "download_photo",
    "expected_signature",
    "image_url_of",
    "incoming_from_event",
    "render_turn",
    "send_error_for",
    "signature_valid",
]
