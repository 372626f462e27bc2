"""Erasing personal data once the retention period is over (`[storage] personal_data_days`).

The bot keeps what citizens wrote and which chat looked up which dossier only as long as
staff need it to improve answers and to investigate abuse. Each feature says what it erases
(and what it keeps for statistics): `bot.stats.records.forget_personal_data`,
`bot.dossiers.retention.forget_personal_data`, `bot.dialogue.context.forget_contexts`,
`bot.handoff.store.forget_handoffs`.
This runs them together, in one transaction, once at start-up and then daily.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.web_history import forget_web_history
from bot.dialogue.context import forget_contexts
from bot.dossiers import retention as dossier_retention
from bot.handoff.store import forget_handoffs
from bot.stats import records as stats_records
from bot.storage.database import StorageUnavailable, connect

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 24 * 3600.0
# After an outage, try again sooner than the next day.
RETRY_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Erased:
    statistics: int
    dossiers: int
    contexts: int
    handoffs: int

    @property
    def total(self) -> int:
        return self.statistics + self.dossiers + self.contexts + self.handoffs


async def forget_personal_data(engine: AsyncEngine, before: dt.datetime) -> Erased:
    """Erase personal data recorded before `before` (aware), in one transaction."""
    async with connect(engine, begin=True) as connection:
        return Erased(
            statistics=await stats_records.forget_personal_data(connection, before),
            dossiers=await dossier_retention.forget_personal_data(connection, before),
            # The web chat's recent exchanges are part of the conversation's context.
            contexts=await forget_contexts(connection, before)
            + await forget_web_history(connection, before),
            handoffs=await forget_handoffs(connection, before),
        )


class RetentionSweeper:
    """Runs `forget_personal_data` for records older than `days`, now and then daily."""

    def __init__(
        self,
        engine: AsyncEngine,
        days: int,
        *,
        clock: Callable[[], dt.datetime] = stats_records.utc_now,
        interval_seconds: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        if days < 1:
            raise ValueError(f"retention must be at least one day, got {days}")
        self._engine = engine
        self._period = dt.timedelta(days=days)
        self._clock = clock
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> Erased:
        """Erase now (raises StorageUnavailable when the database is down)."""
        erased = await forget_personal_data(self._engine, self._clock() - self._period)
        if erased.total:
            log.info(
                "erased personal data older than %d days: %d statistics rows, "
                "%d dossier records, %d conversation contexts, %d hand-offs to staff",
                self._period.days,
                erased.statistics,
                erased.dossiers,
                erased.contexts,
                erased.handoffs,
            )
        return erased

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
                delay = self._interval
            except StorageUnavailable:
                # The outage is logged once where it was raised (bot.storage.outage).
                delay = min(RETRY_SECONDS, self._interval)
            except Exception:
                # A failing statement must not end the daily sweep for good.
                log.exception("erasing old personal data failed; trying again later")
                delay = min(RETRY_SECONDS, self._interval)
            await asyncio.sleep(delay)
