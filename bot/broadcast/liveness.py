"""Which delivery workers are alive: worker ids, dead local processes, the membership table.

Worker ids are `host/pid-namespace/pid/random`, so a worker can tell that another one on
the same machine is gone (its process no longer exists) and take its claims over at once
instead of waiting for their lease, as when systemd restarts the bot after a crash.

Every worker records itself every `MEMBERSHIP_SECONDS` in `broadcast_workers`
(`record_alive`); one not seen for `MEMBERSHIP_TIMEOUT_SECONDS` no longer counts. The
live workers and their channels are what rate_sharing.py divides each channel's rate by.
`DeadLocalHolders` finds the dead local workers that still hold claims.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.broadcast_tables import OutboxState, outbox, workers
from bot.storage.database import BROADCAST_WORKERS_LOCK, connect, lock_transaction
from bot.storage.upserts import upsert

log = logging.getLogger(__name__)

# How often a worker records that it is alive and re-reads how many share its channels.
MEMBERSHIP_SECONDS = 1.0
# A worker not seen for this long no longer counts (it crashed); the others speed up.
MEMBERSHIP_TIMEOUT_SECONDS = 3 * MEMBERSHIP_SECONDS


@functools.cache
def local_prefix() -> str:
    """`host/pid-namespace/`: workers with this prefix run on this machine, and their
    process ids mean something here. Empty when the namespace cannot be known."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        return ""
    digits = "".join(ch for ch in namespace if ch.isdigit())
    return f"{socket.gethostname()[:40]}/{digits}/" if digits else ""


def default_worker_id() -> str:
    """`host/pid-namespace/pid/random`, unique per worker and telling where it runs."""
    prefix = local_prefix() or f"{socket.gethostname()[:40]}/-/"
    return f"{prefix}{os.getpid()}/{secrets.token_hex(3)}"


def dead_local_workers(worker_ids: Iterable[str]) -> set[str]:
    """The workers of this machine (same host and PID namespace) whose process is gone.

    Their claims need not wait for the lease: a process restarted after a crash takes
    them over at once. Workers elsewhere, or whose pid is alive (perhaps reused), are left
    to the lease.
    """
    prefix = local_prefix()
    dead: set[str] = set()
    if not prefix:
        return dead
    for worker_id in worker_ids:
        if not worker_id.startswith(prefix):
            continue
        pid_text = worker_id[len(prefix) :].split("/", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            dead.add(worker_id)
        except PermissionError:
            pass  # alive, under another user
    return dead


async def record_alive(
    engine: AsyncEngine, worker_id: str, channels: Iterable[str], now: datetime
) -> list[tuple[str, list[str]]]:
    """Say this worker is alive on `channels`; the live workers (itself too), each with
    its channels."""
    values = {"worker_id": worker_id, "channels": ",".join(channels), "seen_at": now}
    async with connect(engine, begin=True) as connection:
        # One worker at a time: two joining together, each in a transaction that cannot
        # see the other's uncommitted row, would both take the whole rate.
        await lock_transaction(connection, BROADCAST_WORKERS_LOCK)
        await connection.execute(
            upsert(connection, workers, key=("worker_id",), update=("seen_at",)), values
        )
        # Rows of workers gone for a day are only clutter.
        await connection.execute(
            delete(workers).where(workers.c.seen_at < now - timedelta(days=1))
        )
        alive = (
            await connection.execute(
                select(workers.c.worker_id, workers.c.channels).where(
                    workers.c.seen_at >= now - timedelta(seconds=MEMBERSHIP_TIMEOUT_SECONDS)
                )
            )
        ).all()
    # A process of this machine that is gone (killed) shares nothing any more.
    gone = dead_local_workers(str(worker) for worker, _ in alive)
    return [
        (str(worker), str(listed).split(","))
        for worker, listed in alive
        if str(worker) not in gone
    ]


async def forget(engine: AsyncEngine, worker_id: str) -> None:
    """This worker stops: it no longer takes a share of any channel's rate."""
    async with connect(engine, begin=True) as connection:
        await connection.execute(delete(workers).where(workers.c.worker_id == worker_id))


class DeadLocalHolders:
    """The workers of this machine that died holding claims on rows of running jobs.

    Their rows are claimed again at once (claims.py), without waiting for the lease.
    Looked for at start, then at most once per `period_seconds` (a renewal period).
    """

    def __init__(self, engine: AsyncEngine, worker_id: str, period_seconds: float) -> None:
        self._engine = engine
        self._worker_id = worker_id
        self._period = period_seconds
        self._checked_mono = -math.inf
        self.workers: frozenset[str] = frozenset()

    async def look(self, job_ids: Collection[int]) -> bool:
        """Look again if it is time; True when a worker was found dead that was not before."""
        now = time.monotonic()
        if not job_ids or now - self._checked_mono < self._period:
            return False
        self._checked_mono = now
        prefix = local_prefix()
        if not prefix:
            return False
        holders = await _local_claim_holders(self._engine, job_ids, prefix, self._worker_id)
        dead = dead_local_workers(holders)
        new = dead - self.workers
        if new:
            log.warning(
                "taking over the recipients held by %d stopped process(es) on this machine: %s",
                len(new),
                ", ".join(sorted(new)),
            )
        self.workers = frozenset(dead)
        return bool(new)


async def _local_claim_holders(
    engine: AsyncEngine, job_ids: Collection[int], prefix: str, worker_id: str
) -> list[str]:
    """The other workers whose id starts with `prefix` (this machine) that hold rows."""
    async with connect(engine) as connection:
        holders = (
            await connection.execute(
                select(outbox.c.claimed_by)
                .where(
                    outbox.c.job_id.in_(list(job_ids)),
                    outbox.c.state == OutboxState.SENDING.value,
                    outbox.c.claimed_by.startswith(prefix, autoescape=True),
                    outbox.c.claimed_by != worker_id,
                )
                .distinct()
            )
        ).scalars()
        return [str(holder) for holder in holders]
