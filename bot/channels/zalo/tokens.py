"""The OA's access/refresh token pair, kept in the bot's database and renewed in time.

The access token lives about 25 hours and is renewed with the refresh token, which Zalo
accepts exactly once. The current pair is kept in the `zalo_tokens` row (seeded from the
config, replaced when the config names a new pair); one renewal at a time is guaranteed
across coroutines (a lock) and across processes (a lease claimed with compare-and-swap on
the row's generation), so a refresh token is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.zalo.api import IssuedTokens, ZaloApi
from bot.channels.zalo.errors import ZaloAuthError
from bot.config import ZaloConfig
from bot.storage.database import StorageUnavailable, connect
from bot.storage.zalo_tables import zalo_tokens

log = logging.getLogger(__name__)

# Renew the access token this long before Zalo says it expires.
REFRESH_MARGIN_SECONDS = 15 * 60.0
# A renewal in progress holds the row for at most this long (it must outlast the HTTP
# timeout, or a second process could send the same refresh token).
REFRESH_LEASE_SECONDS = 60.0
_TOKEN_CACHE_SECONDS = 30.0


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
