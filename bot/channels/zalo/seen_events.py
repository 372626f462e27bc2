"""The webhook events already taken, so that each is answered once.

Zalo redelivers an event it thinks was not received, and a signed event can be replayed
while it is fresh; the keys of the events taken are kept in the `zalo_seen_events` table
(shared by all bot processes), with a memory of the recent ones in front of it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.database import StorageUnavailable, connect
from bot.storage.upserts import insert_ignoring_duplicates
from bot.storage.zalo_tables import zalo_seen_events

_RECENT_EVENTS = 2048


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
