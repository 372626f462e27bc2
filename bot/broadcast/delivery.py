"""The delivery engine: sends a job's outbox rows under each channel's limits, crash-safely.

How a recipient is delivered
----------------------------
Each job has one outbox row per recipient (state `pending`). A delivery process (the
`bot run` server, `bot broadcast`/`resume` on the command line, or several of them on
one PostgreSQL) runs a `DeliveryWorker`, which for each channel:

1. claims a small batch of due rows: `pending` rows whose `next_attempt_at` has come, and
   `sending` rows whose claim has expired, are set to `sending` with this worker's id and
   the time (`claimed_by`, `claimed_at`) in one statement. On PostgreSQL the rows are
   picked with `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the
   same row; SQLite has a single writer, so the same UPDATE ... RETURNING is atomic there.
   Rows whose chat has opted out (or blocked the bot) since the job started are closed
   as `opted_out` (or `blocked`) without sending: opting out always wins.
2. sends each row under the channel's rate limit (limiter.py) with at most `concurrency`
   sends in flight in the process, split between channels;
3. records the outcome, `sent` / `blocked` (and the chat made unreachable, so no later
   broadcast selects it) / `failed` / back to `pending` with a later `next_attempt_at`
   (429: that recipient waits `retry_after`, the channel pauses for it but at most
   `max_pause_seconds`, so one chat's long ban does not hold up the others; network
   error, timeout or 5xx: exponential backoff up to `max_attempts`), and only then frees
   the slot.

A worker renews its claims every `lease_seconds / 6` and never starts a send on a row
whose claim could have expired (it leaves `send_timeout_seconds` + one renewal period of
margin), so a live worker's rows are never taken over. Rows of a stopped worker that
were claimed but not sent are released at once on a clean stop. After a crash they are
taken over when their lease expires (`lease_seconds`, default 60 s), or at once by a
worker on the same machine that sees the holder's process is gone (worker ids carry the
host, PID namespace and pid; see `dead_local_workers`), as when systemd restarts the bot.

Several processes share each channel's rate: every worker records itself every
`MEMBERSHIP_SECONDS` in `broadcast_workers`, and sends on a channel at the configured
rate divided by the number of live workers on that channel. A worker that joins others
waits until they have lowered their share (and a full limiter window has passed) before
its first send, so the platform never sees more than the configured rate in total.

Crash bound: a message is sent twice only if its process died after the platform
accepted it and before the outcome was committed. A slot is held from the start of the
send until that commit, so at most `broadcast.concurrency` messages per crashed process
may be sent twice. Every other recipient is sent exactly once and none is lost: each
row ends in a final state (`sent`, `failed`, `blocked`, `opted_out`, `cancelled`).
Each take-over is counted in the row's `reclaimed`, and so is each send that timed out
(the platform may have delivered it without our hearing back); a row sent after one of
them is reported as a "possible duplicate".
(Worker clocks must agree within a few seconds, as NTP ensures, for leases to hold.)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import math
import os
import random
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.broadcast.limiter import PerChatSpacing, RateLimiter
from bot.broadcast.model import BROADCAST_CHANNELS
from bot.broadcast.subscriptions import Clock, SubscriberState, state_of, utc_now
from bot.config import Config
from bot.inbound import storable_text
from bot.messages import (
    Channel,
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    Reply,
    Sender,
    TransientSendError,
)
from bot.storage.broadcast_tables import JobState, OutboxState, jobs, outbox, subscribers, workers
from bot.storage.database import (
    BROADCAST_WORKERS_LOCK,
    StorageUnavailable,
    connect,
    lock_transaction,
)
from bot.storage.upserts import upsert

log = logging.getLogger(__name__)

NoticeRenderer = Callable[[str], Reply]


# How often a worker records that it is alive and re-reads how many share its channels.
MEMBERSHIP_SECONDS = 1.0
# A worker not seen for this long no longer counts (it crashed); the others speed up.
MEMBERSHIP_TIMEOUT_SECONDS = 3 * MEMBERSHIP_SECONDS
# A worker takes a larger share only this long after it saw a worker go: a little over
# the limiter's window, so the gone worker's last sends are out of the platform's count.
SPEED_UP_AFTER_SECONDS = 1.1


# Errors a delivery loop survives: outages, and statement failures such as PostgreSQL's
# "deadlock detected" or a serialization failure, which a retry resolves.
DATABASE_ERRORS = (StorageUnavailable, DBAPIError)


def _log_database_error(what: str, exc: BaseException) -> None:
    if isinstance(exc, StorageUnavailable):
        # The outage itself is logged once, where it was raised (bot.storage.outage).
        log.debug("%s: %s", what, exc)
    else:
        log.error("%s", what, exc_info=exc)


def plain_notice(text: str) -> Reply:
    """The notice as plain text; the composition root passes one with heading and footer."""
    return Reply.text(text)


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    rate_per_second: float
    per_chat_interval_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    limits: Mapping[Channel, ChannelLimits] = field(default_factory=dict)
    concurrency: int = 8
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    send_timeout_seconds: float = 15.0
    lease_seconds: float = 60.0
    # 429 answers one recipient may get before it counts as failed: a guard against a
    # platform that keeps answering 429 for one chat, not a limit reached in practice.
    max_throttled: int = 20
    # The longest a 429 pauses the whole channel; the recipient that got it waits its full
    # `retry_after` (a chat's own flood ban can be minutes long).
    max_pause_seconds: float = 10.0
    # How often an idle worker looks for due rows and new jobs.
    idle_poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("broadcast concurrency must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("broadcast max_attempts must be at least 1")
        if self.usable_claim_seconds < 1.0:
            raise ValueError(
                "broadcast lease_seconds is too short: it must exceed send_timeout_seconds "
                f"by a sixth of itself plus a second (lease {self.lease_seconds}, "
                f"send timeout {self.send_timeout_seconds})"
            )

    @classmethod
    def from_config(cls, config: Config) -> DeliverySettings:
        b = config.broadcast
        return cls(
            limits={
                Channel.TELEGRAM: ChannelLimits(
                    config.telegram.rate_per_second, config.telegram.per_chat_interval_seconds
                ),
                Channel.ZALO: ChannelLimits(config.zalo.rate_per_second),
            },
            concurrency=b.concurrency,
            max_attempts=b.max_attempts,
            retry_base_seconds=b.retry_base_seconds,
            retry_max_seconds=b.retry_max_seconds,
            send_timeout_seconds=b.send_timeout_seconds,
            lease_seconds=b.lease_seconds,
            max_pause_seconds=b.max_pause_seconds,
        )

    @property
    def heartbeat_seconds(self) -> float:
        return self.lease_seconds / 6

    @property
    def usable_claim_seconds(self) -> float:
        """How long after its claim (or last renewal) a row may still start sending."""
        return self.lease_seconds - self.send_timeout_seconds - self.heartbeat_seconds

    def limits_for(self, channel: Channel) -> ChannelLimits:
        return self.limits.get(channel, ChannelLimits(rate_per_second=10.0))

    def backoff(self, attempts: int) -> float:
        """Seconds before try `attempts + 1`: doubling from the base, capped, half jittered."""
        delay: float = min(
            self.retry_max_seconds, self.retry_base_seconds * 2.0 ** max(attempts - 1, 0)
        )
        return delay / 2 + random.uniform(0, delay / 2)


@functools.cache
def _local_prefix() -> str:
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
    prefix = _local_prefix() or f"{socket.gethostname()[:40]}/-/"
    return f"{prefix}{os.getpid()}/{secrets.token_hex(3)}"


def dead_local_workers(worker_ids: Iterable[str]) -> set[str]:
    """The workers of this machine (same host and PID namespace) whose process is gone.

    Their claims need not wait for the lease: a process restarted after a crash takes
    them over at once. Workers elsewhere, or whose pid is alive (perhaps reused), are left
    to the lease.
    """
    prefix = _local_prefix()
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


@dataclass(slots=True)
class _Claimed:
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


@dataclass(frozen=True, slots=True)
class _Outcome:
    row: _Claimed
    state: OutboxState
    attempts: int
    throttled: int
    next_attempt_at: datetime
    sent_at: datetime | None = None
    error: str | None = None
    # 1 when this try may have delivered the message unknown to us (it timed out).
    maybe_delivered: int = 0


class _OutcomeWriter:
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
        self._items: list[tuple[_Outcome, asyncio.Future[None] | None]] = []
        self._writing: list[tuple[_Outcome, asyncio.Future[None] | None]] = []
        self._ready = asyncio.Event()
        self._closing = False

    async def submit(self, outcome: _Outcome) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._items.append((_storable(outcome), future))
        self._ready.set()
        await future

    def submit_nowait(self, outcome: _Outcome) -> None:
        self._items.append((_storable(outcome), None))
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
                    _log_database_error(
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

    async def _write(self, batch: Sequence[_Outcome]) -> None:
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


def _storable(outcome: _Outcome) -> _Outcome:
    """`outcome` with its error text storable (bot.inbound): the text is what a platform
    answered, and a NUL or lone surrogate in it would make the database refuse the batch,
    which is retried until it commits, holding every other outcome (issue 13)."""
    if not outcome.error:
        return outcome
    return dataclasses.replace(outcome, error=storable_text(outcome.error, limit=1000))


def _resolve(batch: Sequence[tuple[_Outcome, asyncio.Future[None] | None]]) -> None:
    for _, future in batch:
        if future is not None and not future.done():
            future.set_result(None)


class _Lane:
    """One channel's part of a worker: its queue of claimed rows, limits and slots."""

    def __init__(self, sender: Sender, limits: ChannelLimits, slots: int) -> None:
        self.channel = sender.channel
        self.sender = sender
        self.limits = limits
        self.limiter = RateLimiter(limits.rate_per_second)
        self.spacing = PerChatSpacing(limits.per_chat_interval_seconds)
        self.slots = asyncio.Semaphore(slots)
        self.queue: deque[_Claimed] = deque()
        self.has_rows = asyncio.Event()  # for the dispatcher
        self.needs_rows = asyncio.Event()  # for the prefetcher (queue low, or woken)
        # Prefetch about half a second of sends, but enough to keep every slot busy.
        self.high_water = max(2 * slots, min(500, int(limits.rate_per_second / 2)))
        self.low_water = max(1, self.high_water // 2)
        self.idle = True  # the last claim found nothing due
        self._faster: tuple[float, float] | None = None  # (rate, since) not applied yet

    def share_rate(self, rate: float) -> None:
        """Take this lane's share of the channel's rate, as the live workers split it.

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


class DeliveryWorker:
    """Delivers the outbox rows of running jobs (or of one job) until stopped.

    `run()` serves every running job until `stop()` (the `bot run` server);
    `run(until_job_finished=J)` returns once job J is done or cancelled (the CLI).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        senders: Iterable[Sender],
        settings: DeliverySettings,
        *,
        worker_id: str | None = None,
        render: NoticeRenderer = plain_notice,
        only_job: int | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.worker_id = worker_id or default_worker_id()
        self._render = render
        self._only_job = only_job
        self._clock = clock
        by_channel = {sender.channel: sender for sender in senders}
        unknown = [c for c in by_channel if c not in BROADCAST_CHANNELS]
        if unknown:
            raise ValueError(f"channels cannot carry notices: {unknown}")
        # Split the process's `concurrency` between channels so that the total in flight,
        # hence the crash bound, is `concurrency` (or one per channel if it is smaller).
        share, extra = divmod(settings.concurrency, max(len(by_channel), 1))
        self._lanes = [
            _Lane(sender, settings.limits_for(channel), max(1, share + (1 if i < extra else 0)))
            for i, (channel, sender) in enumerate(sorted(by_channel.items()))
        ]
        self._writer = _OutcomeWriter(engine, self.worker_id, clock)
        self._running_jobs: dict[int, Reply] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._renewal_mono = 0.0  # when the last successful claim renewal started
        # Workers of this machine that died holding claims (see dead_local_workers).
        self._dead_workers: frozenset[str] = frozenset()
        self._dead_checked_mono = -math.inf
        self._in_flight: set[asyncio.Task[None]] = set()
        self.sent = 0

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(lane.channel for lane in self._lanes)

    @property
    def active_jobs(self) -> tuple[int, ...]:
        """Running jobs this worker is delivering (for /healthz and logs)."""
        return tuple(sorted(self._running_jobs))

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wake(self) -> None:
        """A job was started or resumed: look for work now rather than at the next poll."""
        self._wake.set()
        for lane in self._lanes:
            lane.needs_rows.set()

    def stop(self) -> None:
        """Stop claiming; sends in flight finish and unsent claims are released."""
        self._stopping.set()
        self.wake()
        for lane in self._lanes:
            lane.has_rows.set()

    async def run(self, *, until_job_finished: int | None = None) -> None:
        """Deliver until `stop()` (or until job `until_job_finished` is over)."""
        if not self._lanes:
            raise ValueError("no sender to deliver with")
        self._stopping.clear()
        await self._join()
        writer = asyncio.create_task(self._writer.run(), name="broadcast-writer")
        helpers = [
            asyncio.create_task(self._renew_claims(), name="broadcast-renew"),
            asyncio.create_task(self._watch_jobs(until_job_finished), name="broadcast-jobs"),
            asyncio.create_task(self._keep_membership(), name="broadcast-members"),
        ]
        lanes: list[asyncio.Task[None]] = []
        for lane in self._lanes:
            lanes.append(asyncio.create_task(self._prefetch(lane), name=f"claim-{lane.channel}"))
            lanes.append(asyncio.create_task(self._dispatch(lane), name=f"send-{lane.channel}"))
        stopping = asyncio.create_task(self._stopping.wait())
        failed: BaseException | None = None
        try:
            done, _ = await asyncio.wait(
                [stopping, writer, *helpers, *lanes], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task is not stopping and not task.cancelled() and task.exception():
                    failed = task.exception()
        finally:
            # Order matters: stop taking rows, let sends in flight record their outcome,
            # release what was claimed but not sent, then flush the writer.
            self.stop()
            await _finish(lanes)
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            self._release_queued()
            await _finish([*helpers, stopping], cancel=True)
            self._writer.close()
            await writer
            await self._leave()
        if failed is not None:
            raise failed

    # --- sharing the rate with other processes -----------------------------------------

    async def _join(self) -> None:
        """Record this worker; if others send on its channels, wait until they slow down."""
        try:
            others = await self._record_membership()
        except DATABASE_ERRORS as exc:
            _log_database_error("cannot record the broadcast worker", exc)
            return
        if others:
            # They lower their share at their next membership round; then one limiter
            # window must pass so that their earlier sends leave the platform's count.
            await self._wait_for(self._stopping, 1.5 * MEMBERSHIP_SECONDS + 1.1)

    async def _keep_membership(self) -> None:
        while not self._stopping.is_set():
            await self._wait_for(self._stopping, MEMBERSHIP_SECONDS)
            if self._stopping.is_set():
                return
            try:
                await self._record_membership()
            except DATABASE_ERRORS as exc:
                _log_database_error("cannot record the broadcast worker", exc)

    async def _record_membership(self) -> int:
        """Say this worker is alive; set each lane's share of the rate; other workers."""
        now = self._clock()
        values = {
            "worker_id": self.worker_id,
            "channels": ",".join(lane.channel.value for lane in self._lanes),
            "seen_at": now,
        }
        async with connect(self._engine, begin=True) as connection:
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
        gone = dead_local_workers(str(worker_id) for worker_id, _ in alive)
        alive = [row for row in alive if row.worker_id not in gone]
        others = 0
        for lane in self._lanes:
            sharing = sum(1 for _, channels in alive if lane.channel.value in channels.split(","))
            lane.share_rate(lane.limits.rate_per_second / max(sharing, 1))
            others = max(others, sharing - 1)
        return others

    async def _leave(self) -> None:
        with contextlib.suppress(*DATABASE_ERRORS):
            async with connect(self._engine, begin=True) as connection:
                await connection.execute(
                    delete(workers).where(workers.c.worker_id == self.worker_id)
                )

    # --- jobs --------------------------------------------------------------------------

    async def _watch_jobs(self, until_job_finished: int | None) -> None:
        """Keep the set of running jobs fresh; mark finished ones done; end the run for J."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._refresh_jobs()
                await self._find_dead_workers()
                if await self._close_finished_jobs():
                    await self._refresh_jobs()
                failures = 0
            except DATABASE_ERRORS as exc:
                failures += 1
                _log_database_error(f"broadcast worker cannot read jobs (try {failures})", exc)
            if (
                until_job_finished is not None
                and failures == 0
                and until_job_finished not in self._running_jobs
            ):
                self.stop()
                return
            await self._wait_for(self._wake, self._settings.idle_poll_seconds)

    async def _refresh_jobs(self) -> None:
        query = select(jobs.c.id, jobs.c.text).where(jobs.c.state == JobState.RUNNING.value)
        if self._only_job is not None:
            query = query.where(jobs.c.id == self._only_job)
        async with connect(self._engine) as connection:
            running = {int(row.id): str(row.text) for row in (await connection.execute(query))}
        gone = set(self._running_jobs) - set(running)
        new = set(running) - set(self._running_jobs)
        for job_id in gone:
            del self._running_jobs[job_id]
        for job_id in new:
            self._running_jobs[job_id] = self._render(running[job_id])
        if gone:
            await self._sweep_cancelled_jobs(gone)
        if new:
            for lane in self._lanes:
                lane.needs_rows.set()

    async def _find_dead_workers(self) -> None:
        """Look (at start, then every renewal period) for claims of dead local workers."""
        now = time.monotonic()
        recently = now - self._dead_checked_mono < self._settings.heartbeat_seconds
        if not self._running_jobs or recently:
            return
        self._dead_checked_mono = now
        prefix = _local_prefix()
        if not prefix:
            return
        async with connect(self._engine) as connection:
            holders = (
                await connection.execute(
                    select(outbox.c.claimed_by)
                    .where(
                        outbox.c.job_id.in_(list(self._running_jobs)),
                        outbox.c.state == OutboxState.SENDING.value,
                        outbox.c.claimed_by.startswith(prefix, autoescape=True),
                        outbox.c.claimed_by != self.worker_id,
                    )
                    .distinct()
                )
            ).scalars()
            dead = dead_local_workers(str(holder) for holder in holders)
        if dead - self._dead_workers:
            log.warning(
                "taking over the recipients held by %d stopped process(es) on this machine: %s",
                len(dead - self._dead_workers),
                ", ".join(sorted(dead - self._dead_workers)),
            )
            for lane in self._lanes:
                lane.needs_rows.set()
        self._dead_workers = frozenset(dead)

    async def _sweep_cancelled_jobs(self, job_ids: set[int]) -> None:
        """Rows of a cancelled job put back to `pending` by a late retry end as cancelled."""
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                update(outbox)
                .where(
                    outbox.c.job_id.in_(job_ids),
                    outbox.c.state == OutboxState.PENDING.value,
                    outbox.c.job_id.in_(
                        select(jobs.c.id).where(jobs.c.state == JobState.CANCELLED.value)
                    ),
                )
                .values(state=OutboxState.CANCELLED.value, finished_at=self._clock())
            )

    async def _close_finished_jobs(self) -> bool:
        """Mark running jobs with no row left done (whoever notices first); True if any."""
        if not self._running_jobs or self._in_flight:
            return False
        if not all(lane.idle and not lane.queue for lane in self._lanes):
            return False
        closed = False
        for job_id in list(self._running_jobs):
            closed |= await close_job_if_finished(self._engine, job_id, self._clock())
        return closed

    # --- claims ------------------------------------------------------------------------

    async def _prefetch(self, lane: _Lane) -> None:
        failures = 0
        while not self._stopping.is_set():
            job_ids = list(self._running_jobs)
            if not job_ids or len(lane.queue) > lane.low_water:
                if not job_ids:
                    lane.idle = True
                await self._wait_for(lane.needs_rows, self._settings.idle_poll_seconds)
                continue
            try:
                claimed = await self._claim(lane, job_ids, lane.high_water - len(lane.queue))
                failures = 0
            except DATABASE_ERRORS as exc:
                failures += 1
                what = f"cannot claim {lane.channel} recipients (try {failures})"
                _log_database_error(what, exc)
                await self._wait_for(self._stopping, min(5.0, 0.2 * 2**failures))
                continue
            if self._stopping.is_set():
                # Claimed while stopping: hand them straight back.
                for row in claimed:
                    self._writer.submit_nowait(self._retry_later(row, 0.0))
                return
            if claimed:
                lane.idle = False
                lane.queue.extend(claimed)
                lane.has_rows.set()
            else:
                lane.idle = True
                await self._wait_for(lane.needs_rows, self._settings.idle_poll_seconds)

    async def _claim(self, lane: _Lane, job_ids: list[int], limit: int) -> list[_Claimed]:
        claimed_mono = time.monotonic()
        now = self._clock()
        stale = now - timedelta(seconds=self._settings.lease_seconds)
        due = or_(
            and_(
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.next_attempt_at <= now,
            ),
            and_(outbox.c.state == OutboxState.SENDING.value, outbox.c.claimed_at < stale),
        )
        if self._dead_workers:
            due = or_(
                due,
                and_(
                    outbox.c.state == OutboxState.SENDING.value,
                    outbox.c.claimed_by.in_(sorted(self._dead_workers)),
                ),
            )
        candidates = (
            select(outbox.c.id)
            .where(outbox.c.job_id.in_(job_ids), outbox.c.channel == lane.channel.value, due)
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
                claimed_by=self.worker_id,
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
        async with connect(self._engine, begin=True) as connection:
            rows = (await connection.execute(claim)).all()
            if not rows:
                return []
            left_audience = await _close_rows_left_audience(connection, lane.channel, rows, now)
        committed_mono = time.monotonic()
        return [
            _Claimed(
                row_id=int(row.id),
                job_id=int(row.job_id),
                channel=lane.channel,
                chat_id=str(row.chat_id),
                attempts=int(row.attempts),
                throttled=int(row.throttled),
                claimed_mono=claimed_mono,
                committed_mono=committed_mono,
            )
            for row in sorted(rows, key=lambda r: int(r.id))
            if int(row.id) not in left_audience
        ]

    async def _renew_claims(self) -> None:
        """Keep this worker's claims fresh so that no other worker takes them over."""
        while not self._stopping.is_set():
            await self._wait_for(self._stopping, self._settings.heartbeat_seconds)
            if self._stopping.is_set():
                return
            started = time.monotonic()
            # Rows the outcome writer holds are skipped, not waited for: locking them in
            # another order than the writer does would deadlock on PostgreSQL, and they
            # are leaving `sending` anyway.
            mine = (
                select(outbox.c.id)
                .where(
                    outbox.c.claimed_by == self.worker_id,
                    outbox.c.state == OutboxState.SENDING.value,
                )
                .with_for_update(skip_locked=True)
            )
            try:
                async with connect(self._engine, begin=True) as connection:
                    await connection.execute(
                        update(outbox)
                        .where(outbox.c.id.in_(mine.scalar_subquery()))
                        .values(claimed_at=self._clock())
                    )
            except DATABASE_ERRORS as exc:
                _log_database_error("cannot renew broadcast claims", exc)
                continue
            self._renewal_mono = started

    def _lease_start(self, row: _Claimed) -> float:
        """When the row's claim was last written: its claim, or a renewal after it."""
        if row.committed_mono <= self._renewal_mono:
            return self._renewal_mono
        return row.claimed_mono

    # --- sending -----------------------------------------------------------------------

    async def _dispatch(self, lane: _Lane) -> None:
        while True:
            while not lane.queue and not self._stopping.is_set():
                lane.has_rows.clear()
                await lane.has_rows.wait()
            if self._stopping.is_set():
                return
            row = lane.queue.popleft()
            if len(lane.queue) <= lane.low_water:
                lane.needs_rows.set()
            if not self._may_start(row):
                continue
            wait = lane.spacing.wait_needed(row.chat_id)
            if wait > 0:
                self._writer.submit_nowait(self._retry_later(row, wait))
                continue
            # Slot first, then the limiter: a send starts right when the limiter allows,
            # never later in a bunch with others.
            await lane.slots.acquire()
            try:
                await lane.limiter.acquire()
            except BaseException:
                lane.slots.release()
                raise
            # That wait may have been long (a 429 pause): look at the row again.
            if self._stopping.is_set():
                lane.slots.release()
                lane.queue.appendleft(row)
                return
            if not self._may_start(row):
                lane.slots.release()
                continue
            lane.spacing.record(row.chat_id)
            task = asyncio.create_task(self._send(lane, row))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    def _may_start(self, row: _Claimed) -> bool:
        """False (and the row handed back) when its job stopped or its claim is too old."""
        if row.job_id not in self._running_jobs:
            self._writer.submit_nowait(self._final(row, OutboxState.CANCELLED, "job stopped"))
            return False
        age = time.monotonic() - self._lease_start(row)
        if age >= self._settings.usable_claim_seconds:
            self._writer.submit_nowait(self._retry_later(row, 0.0))
            return False
        return True

    async def _send(self, lane: _Lane, row: _Claimed) -> None:
        try:
            outcome = await self._try_send(lane, row)
            if outcome.state is OutboxState.SENT:
                self.sent += 1
            await self._writer.submit(outcome)
        finally:
            lane.slots.release()

    async def _try_send(self, lane: _Lane, row: _Claimed) -> _Outcome:
        notice = self._running_jobs.get(row.job_id)
        if notice is None:
            return self._final(row, OutboxState.CANCELLED, "job stopped")
        settings = self._settings
        try:
            async with asyncio.timeout(settings.send_timeout_seconds):
                await lane.sender.send(row.chat_id, notice)
        except RecipientBlocked as exc:
            return self._final(row, OutboxState.BLOCKED, str(exc) or "blocked")
        except RateLimited as exc:
            # The platform counts every request we make: stop the whole channel a while,
            # but not for as long as one chat's ban may be; that chat waits it out alone.
            lane.limiter.pause(min(exc.retry_after, settings.max_pause_seconds))
            throttled = row.throttled + 1
            if throttled > settings.max_throttled:
                return self._final(row, OutboxState.FAILED, f"429 {throttled} times", throttled)
            return _Outcome(
                row,
                OutboxState.PENDING,
                row.attempts,
                throttled,
                self._clock() + timedelta(seconds=exc.retry_after),
                error=str(exc),
            )
        except PermanentSendError as exc:
            return self._final(row, OutboxState.FAILED, str(exc) or "refused")
        except Exception as exc:
            if not isinstance(exc, TransientSendError | TimeoutError):
                # A bug in a sender must not lose the recipient: retried like a network error.
                log.exception("unexpected error sending to %s:%s", lane.channel, row.chat_id)
            error = str(exc) or type(exc).__name__
            attempts = row.attempts + 1
            maybe = isinstance(exc, TimeoutError) or (
                isinstance(exc, TransientSendError) and exc.maybe_delivered
            )
            if attempts >= settings.max_attempts:
                return _Outcome(
                    row,
                    OutboxState.FAILED,
                    attempts,
                    row.throttled,
                    self._clock(),
                    error=f"{error} (after {attempts} tries)",
                    maybe_delivered=int(maybe),
                )
            return _Outcome(
                row,
                OutboxState.PENDING,
                attempts,
                row.throttled,
                self._clock() + timedelta(seconds=settings.backoff(attempts)),
                error=error,
                maybe_delivered=int(maybe),
            )
        now = self._clock()
        return _Outcome(row, OutboxState.SENT, row.attempts, row.throttled, now, sent_at=now)

    def _final(
        self, row: _Claimed, state: OutboxState, error: str, throttled: int | None = None
    ) -> _Outcome:
        return _Outcome(
            row,
            state,
            row.attempts,
            row.throttled if throttled is None else throttled,
            self._clock(),
            error=error,
        )

    def _retry_later(self, row: _Claimed, seconds: float) -> _Outcome:
        """Hand the row back unsent (no try is counted)."""
        return _Outcome(
            row,
            OutboxState.PENDING,
            row.attempts,
            row.throttled,
            self._clock() + timedelta(seconds=seconds),
        )

    def _release_queued(self) -> None:
        for lane in self._lanes:
            while lane.queue:
                self._writer.submit_nowait(self._retry_later(lane.queue.popleft(), 0.0))

    async def _wait_for(self, event: asyncio.Event, seconds: float) -> None:
        """Wait for `event` at most `seconds`, then clear it (except `stopping`)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        if event is not self._stopping:
            event.clear()


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


async def _finish(tasks: Sequence[asyncio.Task[Any]], *, cancel: bool = False) -> None:
    if cancel:
        for task in tasks:
            task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("broadcast worker task failed", exc_info=result)
