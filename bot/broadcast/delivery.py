"""The delivery engine: sends a job's outbox rows under each channel's limits, crash-safely.

How a recipient is delivered
----------------------------
Each job has one outbox row per recipient (state `pending`). A delivery process (the
`bot run` server, `bot broadcast`/`resume` on the command line, or several of them on
one PostgreSQL) runs a `DeliveryWorker`, which for each channel:

1. claims a small batch of due rows (claims.py): `pending` rows whose `next_attempt_at`
   has come, and `sending` rows whose claim has expired, are set to `sending` with this
   worker's id and the time, in one statement that concurrent workers cannot both win.
   Rows whose chat has opted out (or blocked the bot) since the job started are closed
   as `opted_out` (or `blocked`) without sending: opting out always wins.
2. sends each row under the channel's rate limit (limiter.py) with at most `concurrency`
   sends in flight in the process, split between channels;
3. records the outcome (outcomes.py), `sent` / `blocked` / `failed` / back to `pending`
   with a later `next_attempt_at` (429: that recipient waits `retry_after`, the channel
   pauses for it but at most `max_pause_seconds`, so one chat's long ban does not hold up
   the others; network error, timeout or 5xx: exponential backoff up to
   `max_attempts`), and only then frees the slot.

A worker renews its claims every `lease_seconds / 6` and never starts a send on a row
whose claim could have expired (it leaves `send_timeout_seconds` + one renewal period of
margin: the lease rule, written once in bot.config), so a live worker's rows are never
taken over. Rows of a stopped worker that were claimed but not sent are released at once
on a clean stop. After a crash they are taken over when their lease expires
(`lease_seconds`, default 60 s), or at once by a worker on the same machine that sees
the holder's process is gone (worker ids carry the host, PID namespace and pid; see
liveness.py), as when systemd restarts the bot.

Several processes share each channel's rate (rate_sharing.py): each sends on a channel at
the configured rate divided by the number of live workers on that channel.

Crash bound: a message is sent twice only if its process died after the platform
accepted it and before the outcome was committed. A slot is held from the start of the
send until that commit, so at most `broadcast.concurrency` messages per crashed process
may be sent twice. Every other recipient is sent exactly once and none is lost: each
row ends in a final state (`sent`, `failed`, `blocked`, `opted_out`, `cancelled`).
Each take-over is counted in the row's `reclaimed`, and so is each send that timed out
(the platform may have delivered it without our hearing back); a row sent after one of
them is reported as a "possible duplicate".
(Worker clocks must agree within a few seconds, as NTP ensures, for leases to hold.)

This module is the send loop; its parts live beside it (see the package's docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.claims import (
    ClaimAges,
    ClaimedRow,
    claim_due_rows,
    renew_claims,
)
from bot.broadcast.database_errors import DATABASE_ERRORS, log_database_error
from bot.broadcast.limiter import PerChatSpacing, RateLimiter
from bot.broadcast.liveness import DeadLocalHolders, default_worker_id
from bot.broadcast.model import BROADCAST_CHANNELS
from bot.broadcast.notice import NoticeRenderer, plain_notice
from bot.broadcast.outcomes import (
    EXPECTED_SEND_ERRORS,
    Outcome,
    OutcomeWriter,
    outcome_of_failure,
)
from bot.broadcast.rate_sharing import RateShare, WorkerMembership
from bot.broadcast.running_jobs import close_job_if_finished, running_jobs, sweep_cancelled_jobs
from bot.broadcast.settings import ChannelLimits, DeliverySettings
from bot.broadcast.subscriptions import Clock, utc_now
from bot.messages import Channel, RateLimited, Reply, Sender
from bot.storage.broadcast_tables import OutboxState

log = logging.getLogger(__name__)


class _Lane:
    """One channel's part of a worker: its queue of claimed rows, limits and slots."""

    def __init__(self, sender: Sender, limits: ChannelLimits, slots: int) -> None:
        self.channel = sender.channel
        self.sender = sender
        self.limits = limits
        self.limiter = RateLimiter(limits.rate_per_second)
        self.share = RateShare(self.channel, self.limiter, limits.rate_per_second)
        self.spacing = PerChatSpacing(limits.per_chat_interval_seconds)
        self.slots = asyncio.Semaphore(slots)
        self.queue: deque[ClaimedRow] = deque()
        self.has_rows = asyncio.Event()  # for the dispatcher
        self.needs_rows = asyncio.Event()  # for the prefetcher (queue low, or woken)
        # Prefetch about half a second of sends, but enough to keep every slot busy.
        self.high_water = max(2 * slots, min(500, int(limits.rate_per_second / 2)))
        self.low_water = max(1, self.high_water // 2)
        self.idle = True  # the last claim found nothing due


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
        self._writer = OutcomeWriter(engine, self.worker_id, clock)
        self._membership = WorkerMembership(
            engine, self.worker_id, [lane.share for lane in self._lanes], clock
        )
        self._claim_ages = ClaimAges(settings.usable_claim_seconds)
        self._running_jobs: dict[int, Reply] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        # Workers of this machine that died holding claims.
        self._dead = DeadLocalHolders(engine, self.worker_id, settings.heartbeat_seconds)
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
        await self._membership.join(self._stopping)
        writer = asyncio.create_task(self._writer.run(), name="broadcast-writer")
        helpers = [
            asyncio.create_task(self._renew_claims(), name="broadcast-renew"),
            asyncio.create_task(self._watch_jobs(until_job_finished), name="broadcast-jobs"),
            asyncio.create_task(self._membership.keep(self._stopping), name="broadcast-members"),
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
            await self._membership.leave()
        if failed is not None:
            raise failed

    async def _record_membership(self) -> int:
        """Say this worker is alive and set its share of each channel's rate (once, now);
        returns how many other workers share its busiest channel."""
        return await self._membership.record()

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
                log_database_error(f"broadcast worker cannot read jobs (try {failures})", exc)
            if (
                until_job_finished is not None
                and failures == 0
                and until_job_finished not in self._running_jobs
            ):
                self.stop()
                return
            await self._wait_for(self._wake, self._settings.idle_poll_seconds)

    async def _refresh_jobs(self) -> None:
        running = await running_jobs(self._engine, self._only_job)
        gone = set(self._running_jobs) - set(running)
        new = set(running) - set(self._running_jobs)
        for job_id in gone:
            del self._running_jobs[job_id]
        for job_id in new:
            self._running_jobs[job_id] = self._render(running[job_id])
        if gone:
            await sweep_cancelled_jobs(self._engine, gone, self._clock())
        if new:
            for lane in self._lanes:
                lane.needs_rows.set()

    async def _find_dead_workers(self) -> None:
        """Look (at start, then every renewal period) for claims of dead local workers."""
        if await self._dead.look(list(self._running_jobs)):
            for lane in self._lanes:
                lane.needs_rows.set()

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
                claimed = await claim_due_rows(
                    self._engine,
                    worker_id=self.worker_id,
                    channel=lane.channel,
                    job_ids=job_ids,
                    limit=lane.high_water - len(lane.queue),
                    clock=self._clock,
                    lease_seconds=self._settings.lease_seconds,
                    dead_workers=self._dead.workers,
                )
                failures = 0
            except DATABASE_ERRORS as exc:
                failures += 1
                what = f"cannot claim {lane.channel} recipients (try {failures})"
                log_database_error(what, exc)
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

    async def _renew_claims(self) -> None:
        """Keep this worker's claims fresh so that no other worker takes them over."""
        while not self._stopping.is_set():
            await self._wait_for(self._stopping, self._settings.heartbeat_seconds)
            if self._stopping.is_set():
                return
            started = time.monotonic()
            try:
                await renew_claims(self._engine, self.worker_id, self._clock())
            except DATABASE_ERRORS as exc:
                log_database_error("cannot renew broadcast claims", exc)
                continue
            self._claim_ages.renewed(started)

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

    def _may_start(self, row: ClaimedRow) -> bool:
        """False (and the row handed back) when its job stopped or its claim is too old."""
        if row.job_id not in self._running_jobs:
            self._writer.submit_nowait(self._final(row, OutboxState.CANCELLED, "job stopped"))
            return False
        if not self._claim_ages.may_start(row.claimed_mono, row.committed_mono, time.monotonic()):
            self._writer.submit_nowait(self._retry_later(row, 0.0))
            return False
        return True

    async def _send(self, lane: _Lane, row: ClaimedRow) -> None:
        try:
            outcome = await self._try_send(lane, row)
            if outcome.state is OutboxState.SENT:
                self.sent += 1
            await self._writer.submit(outcome)
        finally:
            lane.slots.release()

    async def _try_send(self, lane: _Lane, row: ClaimedRow) -> Outcome:
        notice = self._running_jobs.get(row.job_id)
        if notice is None:
            return self._final(row, OutboxState.CANCELLED, "job stopped")
        settings = self._settings
        try:
            async with asyncio.timeout(settings.send_timeout_seconds):
                await lane.sender.send(row.chat_id, notice)
        except Exception as exc:
            if isinstance(exc, RateLimited):
                # The platform counts every request we make: stop the whole channel a
                # while, but not for as long as one chat's ban may be; that chat waits it
                # out alone.
                lane.limiter.pause(min(exc.retry_after, settings.max_pause_seconds))
            elif not isinstance(exc, EXPECTED_SEND_ERRORS):
                # A bug in a sender must not lose the recipient: retried like a network error.
                log.exception("unexpected error sending to %s:%s", lane.channel, row.chat_id)
            return outcome_of_failure(row, exc, settings, self._clock())
        now = self._clock()
        return Outcome(row, OutboxState.SENT, row.attempts, row.throttled, now, sent_at=now)

    def _final(
        self, row: ClaimedRow, state: OutboxState, error: str, throttled: int | None = None
    ) -> Outcome:
        return Outcome.final(row, state, error, self._clock(), throttled)

    def _retry_later(self, row: ClaimedRow, seconds: float) -> Outcome:
        """Hand the row back unsent (no try is counted)."""
        return Outcome.retry_later(row, seconds, self._clock())

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


async def _finish(tasks: Sequence[asyncio.Task[Any]], *, cancel: bool = False) -> None:
    if cancel:
        for task in tasks:
            task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("broadcast worker task failed", exc_info=result)
