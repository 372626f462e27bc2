"""The claim SQL: which outbox rows a worker takes and keeps, and how long a claim holds.

`claim_due_rows` sets a small batch of due rows to `sending` with this worker's id and
the time, in one statement: `pending` rows whose `next_attempt_at` has come, `sending`
rows whose claim has expired (their worker stopped renewing it) or whose worker is a
dead process of this machine. On PostgreSQL the rows are picked with
`SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same row;
SQLite has a single writer, so the same UPDATE ... RETURNING is atomic there. Rows whose
chat has opted out (or blocked the bot) since the job started are closed as `opted_out`
(or `blocked`) without sending: opting out always wins.

`renew_claims` keeps a live worker's claims fresh (every lease/6) so that no other
worker takes them over, and `ClaimAges` never lets a send start on a row whose claim
could expire before the send ends (the lease rule: `usable_claim_seconds` in bot.config).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.broadcast.subscriptions import SubscriberState, state_of
from bot.messages import Channel
from bot.storage.broadcast_tables import OutboxState, outbox, subscribers
from bot.storage.database import connect


@dataclass(slots=True)
class ClaimedRow:
    row_id: int
    job_id: int
    channel: Channel
    chat_id: str
    attempts: int
    throttled: int
    # Monotonic times: before the claim statement (the claimed_at written) and after
    # its commit (a renewal that starts later covers this row).
    claimed_mono: float
    committed_mono: float


async def claim_due_rows(
    engine: AsyncEngine,
    *,
    worker_id: str,
    channel: Channel,
    job_ids: Sequence[int],
    limit: int,
    clock: Callable[[], datetime],
    lease_seconds: float,
    dead_workers: Collection[str],
) -> list[ClaimedRow]:
    """Claim up to `limit` due rows of `job_ids` on `channel`, in id order."""
    # Monotonic time first: the lease is counted from no later than the claimed_at written.
    claimed_mono = time.monotonic()
    now = clock()
    stale = now - timedelta(seconds=lease_seconds)
    due = or_(
        and_(
            outbox.c.state == OutboxState.PENDING.value,
            outbox.c.next_attempt_at <= now,
        ),
        and_(outbox.c.state == OutboxState.SENDING.value, outbox.c.claimed_at < stale),
    )
    if dead_workers:
        due = or_(
            due,
            and_(
                outbox.c.state == OutboxState.SENDING.value,
                outbox.c.claimed_by.in_(sorted(dead_workers)),
            ),
        )
    candidates = (
        select(outbox.c.id)
        .where(outbox.c.job_id.in_(job_ids), outbox.c.channel == channel.value, due)
        .order_by(outbox.c.id)
        .limit(limit)
        # SQLite renders no FOR UPDATE; its single writer makes the UPDATE atomic.
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(outbox)
        .where(outbox.c.id.in_(candidates.scalar_subquery()))
        .values(
            state=OutboxState.SENDING.value,
            claimed_by=worker_id,
            claimed_at=now,
            # A `sending` row claimed again was held by a worker that died.
            reclaimed=case(
                (outbox.c.state == OutboxState.SENDING.value, outbox.c.reclaimed + 1),
                else_=outbox.c.reclaimed,
            ),
        )
        .returning(
            outbox.c.id,
            outbox.c.job_id,
            outbox.c.chat_id,
            outbox.c.attempts,
            outbox.c.throttled,
        )
    )
    async with connect(engine, begin=True) as connection:
        rows = (await connection.execute(claim)).all()
        if not rows:
            return []
        left_audience = await _close_rows_left_audience(connection, channel, rows, now)
    committed_mono = time.monotonic()
    return [
        ClaimedRow(
            row_id=int(row.id),
            job_id=int(row.job_id),
            channel=channel,
            chat_id=str(row.chat_id),
            attempts=int(row.attempts),
            throttled=int(row.throttled),
            claimed_mono=claimed_mono,
            committed_mono=committed_mono,
        )
        for row in sorted(rows, key=lambda r: int(r.id))
        if int(row.id) not in left_audience
    ]


async def _close_rows_left_audience(
    connection: AsyncConnection, channel: Channel, rows: Sequence[Row[Any]], now: datetime
) -> set[int]:
    """Close claimed rows whose chat opted out or became unreachable since the job began.

    Opting out always wins, even over a job that was already running. Returns their ids.
    """
    chat_ids = sorted({str(row.chat_id) for row in rows})
    current = {
        str(chat): state_of(preference, bool(reachable))
        for chat, preference, reachable in (
            await connection.execute(
                select(
                    subscribers.c.chat_id, subscribers.c.preference, subscribers.c.reachable
                ).where(
                    subscribers.c.channel == channel.value, subscribers.c.chat_id.in_(chat_ids)
                )
            )
        ).all()
    }
    closed: dict[OutboxState, list[int]] = {}
    for row in rows:
        state = current.get(str(row.chat_id), SubscriberState.OPTED_OUT)
        if state is SubscriberState.OPTED_OUT:
            closed.setdefault(OutboxState.OPTED_OUT, []).append(int(row.id))
        elif state is SubscriberState.BLOCKED:
            closed.setdefault(OutboxState.BLOCKED, []).append(int(row.id))
    for final_state, ids in closed.items():
        await connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(
                state=final_state.value,
                claimed_by=None,
                claimed_at=None,
                finished_at=now,
                last_error="left the audience before its turn",
            )
        )
    return {row_id for ids in closed.values() for row_id in ids}


async def renew_claims(engine: AsyncEngine, worker_id: str, now: datetime) -> None:
    """Write `now` as the claim time of every row this worker has `sending`."""
    # Rows the outcome writer holds are skipped, not waited for: locking them in another
    # order than the writer does would deadlock on PostgreSQL, and they are leaving
    # `sending` anyway.
    mine = (
        select(outbox.c.id)
        .where(outbox.c.claimed_by == worker_id, outbox.c.state == OutboxState.SENDING.value)
        .with_for_update(skip_locked=True)
    )
    async with connect(engine, begin=True) as connection:
        await connection.execute(
            update(outbox).where(outbox.c.id.in_(mine.scalar_subquery())).values(claimed_at=now)
        )


class ClaimAges:
    """When this worker last renewed its claims, and whether a claimed row may still start.

    Times are monotonic. A row's claim was last written at its claim, or at a renewal
    that started after the claim committed (a renewal that started earlier may not have
    covered it).
    """

    def __init__(self, usable_seconds: float) -> None:
        self._usable = usable_seconds  # DeliverySettings.usable_claim_seconds
        self._renewal_mono = 0.0  # when the last successful claim renewal started

    def renewed(self, started_mono: float) -> None:
        """A renewal that started at `started_mono` committed."""
        self._renewal_mono = started_mono

    def lease_start(self, claimed_mono: float, committed_mono: float) -> float:
        """When the row's claim was last written: its claim, or a renewal after it."""
        if committed_mono <= self._renewal_mono:
            return self._renewal_mono
        return claimed_mono

    def may_start(self, claimed_mono: float, committed_mono: float, now_mono: float) -> bool:
        """False when the claim could expire before a send started now would end."""
        return now_mono - self.lease_start(claimed_mono, committed_mono) < self._usable
