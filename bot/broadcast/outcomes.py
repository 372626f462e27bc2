"""The outcome of one send (what a failed try means), and the writer that records them.

An outcome is what became of one claimed row: `sent`, `blocked` (and the chat made
unreachable, so no later broadcast selects it), `failed`, `cancelled`, or back to
`pending` with a later `next_attempt_at`. Only a row still claimed by this worker is
updated: a row taken over after an expired lease belongs to its new worker.

`OutcomeWriter` commits them in batches (group commit); a send's slot is held until its
outcome is committed, which is what bounds the messages a crash may send twice (see
delivery.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.claims import ClaimedRow
from bot.broadcast.database_errors import DATABASE_ERRORS, log_database_error
from bot.broadcast.settings import DeliverySettings
from bot.broadcast.subscriptions import Clock
from bot.inbound import storable_text
from bot.messages import (
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    TransientSendError,
)
from bot.storage.broadcast_tables import OutboxState, outbox, subscribers
from bot.storage.database import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    row: ClaimedRow
    state: OutboxState
    attempts: int
    throttled: int
    next_attempt_at: datetime
    sent_at: datetime | None = None
    error: str | None = None
    # 1 when this try may have delivered the message unknown to us (it timed out).
    maybe_delivered: int = 0

    @classmethod
    def final(
        cls,
        row: ClaimedRow,
        state: OutboxState,
        error: str,
        now: datetime,
        throttled: int | None = None,
    ) -> Outcome:
        """The row ends in `state` without a try counted (blocked, refused, cancelled)."""
        return cls(
            row,
            state,
            row.attempts,
            row.throttled if throttled is None else throttled,
            now,
            error=error,
        )

    @classmethod
    def retry_later(cls, row: ClaimedRow, seconds: float, now: datetime) -> Outcome:
        """Hand the row back unsent (no try is counted)."""
        return cls(
            row,
            OutboxState.PENDING,
            row.attempts,
            row.throttled,
            now + timedelta(seconds=seconds),
        )


# What a sender raises when a send did not go through; anything else is a bug in it.
EXPECTED_SEND_ERRORS = (
    RecipientBlocked,
    RateLimited,
    PermanentSendError,
    TransientSendError,
    TimeoutError,
)


def outcome_of_failure(
    row: ClaimedRow, exc: Exception, settings: DeliverySettings, now: datetime
) -> Outcome:
    """What a try that raised `exc` means for the row.

    Blocked: the chat is gone. 429: the recipient waits `retry_after`, not counted as a
    try (until `max_throttled`). Refused: failed. Anything else (network error, 5xx,
    timeout, a bug in the sender): retried with backoff until `max_attempts`; a timeout or
    a transient error that may have reached the platform marks a possible duplicate.
    """
    if isinstance(exc, RecipientBlocked):
        return Outcome.final(row, OutboxState.BLOCKED, str(exc) or "blocked", now)
    if isinstance(exc, RateLimited):
        throttled = row.throttled + 1
        if throttled > settings.max_throttled:
            return Outcome.final(row, OutboxState.FAILED, f"429 {throttled} times", now, throttled)
        return Outcome(
            row,
            OutboxState.PENDING,
            row.attempts,
            throttled,
            now + timedelta(seconds=exc.retry_after),
            error=str(exc),
        )
    if isinstance(exc, PermanentSendError):
        return Outcome.final(row, OutboxState.FAILED, str(exc) or "refused", now)
    error = str(exc) or type(exc).__name__
    attempts = row.attempts + 1
    maybe = isinstance(exc, TimeoutError) or (
        isinstance(exc, TransientSendError) and exc.maybe_delivered
    )
    if attempts >= settings.max_attempts:
        return Outcome(
            row,
            OutboxState.FAILED,
            attempts,
            row.throttled,
            now,
            error=f"{error} (after {attempts} tries)",
            maybe_delivered=int(maybe),
        )
    return Outcome(
        row,
        OutboxState.PENDING,
        attempts,
        row.throttled,
        now + timedelta(seconds=settings.backoff(attempts)),
        error=error,
        maybe_delivered=int(maybe),
    )


class OutcomeWriter:
    """Commits outcomes in batches (group commit); `submit` returns once committed.

    A database outage does not lose outcomes: the batch is retried until it commits (the
    sends' slots stay taken meanwhile, so nothing more is sent). Only when stopping does
    the writer give up after `GIVE_UP_WHEN_CLOSING` tries; those rows stay claimed and are
    taken over after their lease, like a crash.
    """

    GIVE_UP_WHEN_CLOSING = 8

    def __init__(self, engine: AsyncEngine, worker_id: str, clock: Clock) -> None:
        self._engine = engine
        self._worker_id = worker_id
        self._clock = clock
        self._items: list[tuple[Outcome, asyncio.Future[None] | None]] = []
        self._writing: list[tuple[Outcome, asyncio.Future[None] | None]] = []
        self._ready = asyncio.Event()
        self._closing = False

    async def submit(self, outcome: Outcome) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._items.append((storable(outcome), future))
        self._ready.set()
        await future

    def submit_nowait(self, outcome: Outcome) -> None:
        self._items.append((storable(outcome), None))
        self._ready.set()

    def close(self) -> None:
        self._closing = True
        self._ready.set()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            # Whatever stopped the writer, nobody may wait for it forever.
            for _, future in self._writing + self._items:
                if future is not None and not future.done():
                    future.set_exception(RuntimeError("the outcome writer stopped"))
            self._items = []

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._items:
                batch, self._items = self._items, []
                self._writing = batch
                try:
                    await self._write([outcome for outcome, _ in batch])
                except DATABASE_ERRORS as exc:
                    failures += 1
                    log_database_error(
                        f"cannot record {len(batch)} outcomes (try {failures})", exc
                    )
                    if self._closing and failures >= self.GIVE_UP_WHEN_CLOSING:
                        log.error("stopping without recording %d outcomes", len(batch))
                        _resolve(batch)
                        continue
                    self._items = batch + self._items
                    await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                    continue
                failures = 0
                _resolve(batch)
            if self._closing and not self._items:
                return

    async def _write(self, batch: Sequence[Outcome]) -> None:
        # Rows are locked in id order, like every other statement that locks several.
        batch = sorted(batch, key=lambda outcome: outcome.row.row_id)
        now = self._clock()
        rows = [
            {
                "b_id": o.row.row_id,
                "b_me": self._worker_id,
                "b_state": o.state.value,
                "b_attempts": o.attempts,
                "b_throttled": o.throttled,
                "b_next": o.next_attempt_at,
                "b_sent_at": o.sent_at,
                "b_finished_at": None if o.state is OutboxState.PENDING else now,
                "b_finished_by": None if o.state is OutboxState.PENDING else self._worker_id,
                "b_error": o.error[:300] if o.error else None,
                "b_maybe": o.maybe_delivered,
            }
            for o in batch
        ]
        # Only a row still claimed by this worker is updated: a row taken over after an
        # expired lease belongs to its new worker.
        statement = (
            update(outbox)
            .where(
                outbox.c.id == bindparam("b_id"),
                outbox.c.claimed_by == bindparam("b_me"),
                outbox.c.state == OutboxState.SENDING.value,
            )
            .values(
                state=bindparam("b_state"),
                attempts=bindparam("b_attempts"),
                throttled=bindparam("b_throttled"),
                next_attempt_at=bindparam("b_next"),
                sent_at=bindparam("b_sent_at"),
                finished_at=bindparam("b_finished_at"),
                finished_by=bindparam("b_finished_by"),
                last_error=bindparam("b_error"),
                reclaimed=outbox.c.reclaimed + bindparam("b_maybe"),
                claimed_by=None,
                claimed_at=None,
            )
        )
        blocked = [
            {
                "b_channel": o.row.channel.value,
                "b_chat": o.row.chat_id,
                "b_reason": (o.error or "blocked")[:200],
                "b_at": now,
            }
            for o in sorted(batch, key=lambda o: (o.row.channel.value, o.row.chat_id))
            if o.state is OutboxState.BLOCKED
        ]
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(statement, rows)
            if blocked:
                # The chat blocked the bot or is gone: no later broadcast selects it.
                await connection.execute(
                    update(subscribers)
                    .where(
                        subscribers.c.channel == bindparam("b_channel"),
                        subscribers.c.chat_id == bindparam("b_chat"),
                    )
                    .values(
                        reachable=False,
                        unreachable_reason=bindparam("b_reason"),
                        unreachable_at=bindparam("b_at"),
                        updated_at=bindparam("b_at"),
                    ),
                    blocked,
                )


def storable(outcome: Outcome) -> Outcome:
    """`outcome` with its error text storable (bot.inbound): the text is what a platform
    answered, and a NUL or lone surrogate in it would make the database refuse the batch,
    which is retried until it commits, holding every other outcome (issue 13)."""
    if not outcome.error:
        return outcome
    return dataclasses.replace(outcome, error=storable_text(outcome.error, limit=1000))


def _resolve(batch: Sequence[tuple[Outcome, asyncio.Future[None] | None]]) -> None:
    for _, future in batch:
        if future is not None and not future.done():
            future.set_result(None)
