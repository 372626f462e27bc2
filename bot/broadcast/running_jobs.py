"""The job SQL of a delivery worker: which jobs run, sweeping cancelled ones, closing done ones.

A worker serves every `running` job (or only one, for `bot broadcast`); whoever notices
first that a running job has no row left `pending` or `sending` marks it `done`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.broadcast_tables import JobState, OutboxState, jobs, outbox
from bot.storage.database import connect


async def running_jobs(engine: AsyncEngine, only_job: int | None) -> dict[int, str]:
    """Running jobs (or only `only_job`, if it runs): id -> the notice's text."""
    query = select(jobs.c.id, jobs.c.text).where(jobs.c.state == JobState.RUNNING.value)
    if only_job is not None:
        query = query.where(jobs.c.id == only_job)
    async with connect(engine) as connection:
        return {int(row.id): str(row.text) for row in (await connection.execute(query))}


async def sweep_cancelled_jobs(
    engine: AsyncEngine, job_ids: Collection[int], now: datetime
) -> None:
    """Rows of a cancelled job put back to `pending` by a late retry end as cancelled."""
    async with connect(engine, begin=True) as connection:
        await connection.execute(
            update(outbox)
            .where(
                outbox.c.job_id.in_(job_ids),
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.job_id.in_(
                    select(jobs.c.id).where(jobs.c.state == JobState.CANCELLED.value)
                ),
            )
            .values(state=OutboxState.CANCELLED.value, finished_at=now)
        )


async def close_job_if_finished(engine: AsyncEngine, job_id: int, now: datetime) -> bool:
    """Mark a running job done when none of its rows is pending or being sent."""
    async with connect(engine, begin=True) as connection:
        left = (
            await connection.execute(
                select(outbox.c.id)
                .where(
                    outbox.c.job_id == job_id,
                    outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
                )
                .limit(1)
            )
        ).first()
        if left is not None:
            return False
        last = (
            await connection.execute(
                select(func.max(outbox.c.finished_at)).where(outbox.c.job_id == job_id)
            )
        ).scalar()
        result = await connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value)
            .values(state=JobState.DONE.value, finished_at=last or now)
        )
    return bool(result.rowcount)
