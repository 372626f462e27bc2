"""Writes gathered for a moment and committed together: one transaction for many turns.

Each conversation turn would otherwise commit its chat context and its question record
separately, and commits are what a turn waits for most (benchmarks/pipeline.py). Things
that may be written a few tens of milliseconds late without harm go through here: values
are `put`, written within `delay` seconds in one transaction with everything else put
meanwhile, and are readable before that through `pending`. When the database is down
they stay pending and are retried (one log line for the outage, one when it ends);
`close` writes what is left at shutdown.

A batch the database refuses for another reason (a value it cannot store) is written
again one row at a time: the row it refuses is logged once, with its table and the reason,
and dropped, and every other row is written. Retrying such a row could never succeed, and
it would hold every other chat's write behind it (issue 13).

What is lost in a crash is at most the last `delay` seconds of such writes, so nothing
that must not be lost (a dossier subscription, a broadcast outcome) goes through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.database import StorageUnavailable, connect

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Nobody types a follow-up within 50 ms of an answer, so a follow-up (even one handled by
# another bot process) finds the previous turn written.
DEFAULT_DELAY_SECONDS = 0.05
RETRY_DELAY_SECONDS = 1.0
# At shutdown the database gets a few more chances before pending writes are given up.
CLOSE_ATTEMPTS = 3

WriteBatch = Callable[[AsyncConnection, list[V]], Awaitable[None]]


class WriteBehind(Generic[K, V]):
    """Values written in batches shortly after they are put; the latest value per key wins."""

    def __init__(
        self,
        engine: AsyncEngine,
        write: WriteBatch[V],
        *,
        name: str,
        table: str = "",
        delay: float = DEFAULT_DELAY_SECONDS,
    ) -> None:
        self._engine = engine
        self._write = write
        self._name = name
        self._table = table or name
        self._delay = delay
        self._pending: dict[K, V] = {}
        self._writing: dict[K, V] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._failing = False

    def put(self, key: K, value: V) -> None:
        self._pending[key] = value
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_later(), name=f"{self._name}-flush")

    def pending(self, key: K) -> V | None:
        """The value put for `key` that is not written yet, if any."""
        if key in self._pending:
            return self._pending[key]
        return self._writing.get(key)

    def discard(self, key: K) -> None:
        self._pending.pop(key, None)

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay)
        while True:
            try:
                await self.flush()
                if self._pending:
                    # Put while the flush ran, these found this task running and started
                    # none: they are this task's to write (else they wait for the next put).
                    await asyncio.sleep(self._delay)
                    continue
                return
            except StorageUnavailable:
                # The outage is logged once where it was raised (bot.storage.outage).
                self._failing = True
            except Exception:
                log.exception("%s not written, will retry", self._name)
            await asyncio.sleep(RETRY_DELAY_SECONDS)

    @property
    def queued(self) -> int:
        """How many values are waiting to be written (pending or being written)."""
        return len(self._pending) + len(self._writing)

    async def flush(self) -> None:
        """Write everything pending now; raises StorageUnavailable (the values not written
        stay). Rows the database refuses are logged and dropped (the module's docstring)."""
        async with self._lock:
            if not self._pending:
                return
            self._writing, self._pending = self._pending, {}
            try:
                try:
                    await self._write_batch(list(self._writing.values()))
                except StorageUnavailable:
                    raise
                except Exception:
                    await self._write_one_by_one()
            except BaseException:
                # Values put meanwhile are newer than the ones that failed.
                self._pending = {**self._writing, **self._pending}
                raise
            finally:
                self._writing = {}
        if self._failing:
            log.info("%s written again", self._name)
            self._failing = False

    async def close(self) -> None:
        """Write what is pending; called once at shutdown."""
        task = self._task
        if task is not None and not task.done():
            if self._lock.locked():
                # A flush is under way: cancelling it mid-transaction could leave the
                # database locked for the final flush below. Let it finish.
                async with self._lock:
                    pass
            task.cancel()  # now only waiting (its first delay, or a retry delay)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for attempt in range(CLOSE_ATTEMPTS):
            try:
                await self.flush()
                return
            except StorageUnavailable as exc:
                if attempt == CLOSE_ATTEMPTS - 1:
                    log.error("%d %s lost at shutdown: %s", len(self._pending), self._name, exc)
                    return
                await asyncio.sleep(RETRY_DELAY_SECONDS / 2)

    async def _write_batch(self, values: list[V]) -> None:
        async with connect(self._engine, begin=True) as connection:
            await self._write(connection, values)

    async def _write_one_by_one(self) -> None:
        """Write `_writing` row by row, each in its own transaction (a refused statement
        aborts a PostgreSQL transaction); a refused row is logged and dropped. Raises
        StorageUnavailable when the database goes down meanwhile: what is not written yet
        stays in `_writing`."""
        for key, value in list(self._writing.items()):
            try:
                await self._write_batch([value])
            except StorageUnavailable:
                raise
            except Exception as exc:
                log.error(
                    "%s: a row refused by the database was dropped (table %s): %s",
                    self._name,
                    self._table,
                    _reason(exc),
                )
            del self._writing[key]


def _reason(exc: BaseException) -> str:
    """The first line of what the database (or its driver) said, without the statement."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
