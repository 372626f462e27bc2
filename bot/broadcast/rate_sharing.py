"""Sharing each channel's rate between the delivery workers that send on it.

Several processes (the server, `bot broadcast` runs, several servers on one PostgreSQL)
may deliver at once; the platform counts all their sends against one limit. Each worker
records itself every `MEMBERSHIP_SECONDS` (liveness.py) and sends on a channel at the
configured rate divided by the number of live workers on that channel. A worker that
joins others waits until they have lowered their share (and a full limiter window has
passed) before its first send, so the platform never sees more than the configured rate
in total. A worker that sees another go speeds up only a little later (`SPEED_UP_AFTER_SECONDS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.database_errors import DATABASE_ERRORS, log_database_error
from bot.broadcast.limiter import RateLimiter
from bot.broadcast.liveness import MEMBERSHIP_SECONDS, forget, record_alive
from bot.messages import Channel

# A worker takes a larger share only this long after it saw a worker go: a little over
# the limiter's window, so the gone worker's last sends are out of the platform's count.
SPEED_UP_AFTER_SECONDS = 1.1
# A joining worker waits for the others' next membership round, in which they lower
# their share, and then one limiter window so that their earlier sends leave the count.
JOIN_WAIT_SECONDS = 1.5 * MEMBERSHIP_SECONDS + 1.1


class RateShare:
    """One channel's limiter in one worker, set to its share of the configured rate."""

    def __init__(self, channel: Channel, limiter: RateLimiter, rate_per_second: float) -> None:
        self.channel = channel
        self.limiter = limiter
        self.rate_per_second = rate_per_second  # the channel's configured rate, in total
        self._faster: tuple[float, float] | None = None  # (rate, since) not applied yet

    def share_rate(self, rate: float) -> None:
        """Take this worker's share of the channel's rate, as the live workers split it.

        Slowing down is immediate. Speeding up (another worker stopped) waits a little
        over one limiter window, so that the other worker's last sends have left the
        platform's one-second count first.
        """
        now = time.monotonic()
        if rate <= self.limiter.rate_per_second:
            self.limiter.set_rate(rate)
            self._faster = None
        elif self._faster is None or self._faster[0] != rate:
            self._faster = (rate, now)
        elif now - self._faster[1] >= SPEED_UP_AFTER_SECONDS:
            self.limiter.set_rate(rate)
            self._faster = None


class WorkerMembership:
    """A worker's membership of the live workers, and its share of each channel's rate."""

    def __init__(
        self,
        engine: AsyncEngine,
        worker_id: str,
        shares: Sequence[RateShare],
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._worker_id = worker_id
        self._shares = shares
        self._clock = clock

    async def join(self, stopping: asyncio.Event) -> None:
        """Record this worker; if others send on its channels, wait until they slow down."""
        try:
            others = await self.record()
        except DATABASE_ERRORS as exc:
            log_database_error("cannot record the broadcast worker", exc)
            return
        if others:
            await _wait(stopping, JOIN_WAIT_SECONDS)

    async def keep(self, stopping: asyncio.Event) -> None:
        """Record this worker every `MEMBERSHIP_SECONDS` until `stopping`."""
        while not stopping.is_set():
            await _wait(stopping, MEMBERSHIP_SECONDS)
            if stopping.is_set():
                return
            try:
                await self.record()
            except DATABASE_ERRORS as exc:
                log_database_error("cannot record the broadcast worker", exc)

    async def leave(self) -> None:
        with contextlib.suppress(*DATABASE_ERRORS):
            await forget(self._engine, self._worker_id)

    async def record(self) -> int:
        """Say this worker is alive; set each channel's share of the rate; other workers."""
        alive = await record_alive(
            self._engine,
            self._worker_id,
            (share.channel.value for share in self._shares),
            self._clock(),
        )
        others = 0
        for share in self._shares:
            sharing = sum(1 for _, channels in alive if share.channel.value in channels)
            share.share_rate(share.rate_per_second / max(sharing, 1))
            others = max(others, sharing - 1)
        return others


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
