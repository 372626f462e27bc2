"""The broadcast service: what the Telegram staff flow, the CLI and the HTTP API call.

    prepare(requester, request)  -> BroadcastPreview   (audience size + the notice as sent)
    start(requester, request)    -> job id             (after the staff member confirmed)
    progress(requester, job)     -> JobProgress        (sent / failed / left)
    cancel(requester, job)       -> JobProgress        (remaining recipients -> cancelled)
    resume(requester, job)       -> JobProgress        (a cancelled job goes on)
    report(requester, job)       -> JobReport          (counts by outcome, duration)
    list_jobs(requester)         -> recent jobs

Every call checks the requester first and raises NotStaff (and logs it) for anyone who
is not staff, whichever entry point they came through. Delivery itself is done by
`DeliveryWorker`s (delivery.py); `start` and `resume` only write the job and its outbox
rows and call `on_job_started` so that a worker in this process begins at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.broadcast.model import (
    BROADCAST_CHANNELS,
    NOTICE_MAX_CHARS,
    BroadcastPreview,
    BroadcastRequest,
    ChannelNotAvailable,
    EmptyAudience,
    InvalidNotice,
    JobFinished,
    JobNotFound,
    JobProgress,
    JobReport,
    JobSummary,
    NotStaff,
    Requester,
    RequesterKind,
)
from bot.broadcast.notice import NoticeRenderer, plain_notice
from bot.broadcast.subscriptions import (
    Clock,
    SubscriptionStore,
    audience_condition,
    utc_now,
)
from bot.config import BroadcastConfig, TelegramConfig, ZaloConfig
from bot.messages import Channel
from bot.storage.broadcast_tables import JobState, OutboxState, jobs, outbox, subscribers
from bot.storage.database import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StaffPolicy:
    """Who may broadcast: Telegram users listed in config `telegram.staff_ids`, HTTP
    clients that showed the bearer token (only when one is configured), and the
    server's terminal operator."""

    telegram_staff_ids: frozenset[int]
    api_enabled: bool

    @classmethod
    def from_config(cls, telegram: TelegramConfig, broadcast: BroadcastConfig) -> StaffPolicy:
        return cls(frozenset(telegram.staff_ids), bool(broadcast.api_token))

    def allows(self, requester: Requester) -> bool:
        if requester.kind is RequesterKind.OPERATOR:
            return True
        if requester.kind is RequesterKind.API_CLIENT:
            return self.api_enabled
        if requester.channel is not Channel.TELEGRAM:
            return False
        try:
            return int(requester.name) in self.telegram_staff_ids
        except ValueError:
            return False


class BroadcastService:
    def __init__(
        self,
        engine: AsyncEngine,
        subscriptions: SubscriptionStore,
        staff: StaffPolicy,
        *,
        channels: Collection[Channel] = BROADCAST_CHANNELS,
        render: NoticeRenderer = plain_notice,
        on_job_started: Callable[[int], None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """`channels`: those with a sender in this deployment (configured credentials)."""
        self._engine = engine
        self._subscriptions = subscriptions
        self._staff = staff
        self._channels = tuple(c for c in BROADCAST_CHANNELS if c in set(channels))
        self._render = render
        self._on_job_started = on_job_started
        self._clock = clock

    @classmethod
    def from_config(
        cls,
        engine: AsyncEngine,
        broadcast: BroadcastConfig,
        telegram: TelegramConfig,
        zalo: ZaloConfig,
        *,
        channels: Collection[Channel] | None = None,
        render: NoticeRenderer = plain_notice,
        on_job_started: Callable[[int], None] | None = None,
    ) -> BroadcastService:
        """The service for these sections; `channels` default to those with credentials set."""
        if channels is None:
            channels = configured_channels(telegram, zalo)
        return cls(
            engine,
            SubscriptionStore(engine, broadcast.topics),
            StaffPolicy.from_config(telegram, broadcast),
            channels=channels,
            render=render,
            on_job_started=on_job_started,
        )

    @property
    def channels(self) -> tuple[Channel, ...]:
        return self._channels

    @property
    def topics(self) -> Mapping[str, str]:
        return self._subscriptions.topics

    def is_staff(self, requester: Requester) -> bool:
        return self._staff.allows(requester)

    def check_staff(self, requester: Requester, action: str) -> None:
        if not self._staff.allows(requester):
            log.warning("refused broadcast %s by %s: not staff", action, requester)
            raise NotStaff(requester)

    async def prepare(self, requester: Requester, request: BroadcastRequest) -> BroadcastPreview:
        """Check the request and count its audience; nothing is written."""
        self.check_staff(requester, "preview")
        request = self._checked(request)
        counts = await self._subscriptions.audience_counts(request.audience, request.channels)
        return BroadcastPreview(
            request=request,
            recipients=counts,
            notice=self._render(request.text),
            topic_label=self._subscriptions.topics.get(request.audience),
        )

    async def start(
        self,
        requester: Requester,
        request: BroadcastRequest,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Create the job and one outbox row per recipient now in the audience.

        With `idempotency_key`, a request repeated with the same key (a client retrying
        after a lost answer) returns the first job instead of sending the notice twice.
        """
        self.check_staff(requester, "start")
        request = self._checked(request)
        key = f"{requester.kind.value}:{idempotency_key}"[:200] if idempotency_key else None
        if key is not None:
            existing = await self._job_with_key(key)
            if existing is not None:
                return existing
        try:
            job_id, total = await self._create_job(requester, request, key)
        except IntegrityError:
            # The same key was used by a request running at the same moment.
            existing = await self._job_with_key(key) if key is not None else None
            if existing is None:
                raise
            return existing
        log.info(
            "broadcast job %d started by %s: %d recipients (%s on %s)",
            job_id,
            requester,
            total,
            request.audience,
            ",".join(c.value for c in request.channels),
        )
        if self._on_job_started is not None:
            self._on_job_started(job_id)
        return job_id

    async def _job_with_key(self, key: str) -> int | None:
        async with connect(self._engine) as connection:
            found = (
                await connection.execute(select(jobs.c.id).where(jobs.c.request_key == key))
            ).scalar_one_or_none()
        return None if found is None else int(found)

    async def _create_job(
        self, requester: Requester, request: BroadcastRequest, key: str | None
    ) -> tuple[int, int]:
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            job_id = (
                await connection.execute(
                    jobs.insert()
                    .values(
                        text=request.text,
                        audience=request.audience,
                        channels=",".join(c.value for c in request.channels),
                        requested_by=str(requester),
                        state=JobState.RUNNING.value,
                        total=0,
                        created_at=now,
                        request_key=key,
                    )
                    .returning(jobs.c.id)
                )
            ).scalar_one()
            recipients = (
                select(
                    literal(job_id).label("job_id"),
                    subscribers.c.channel,
                    subscribers.c.chat_id,
                    literal(OutboxState.PENDING.value).label("state"),
                    literal(0).label("attempts"),
                    literal(0).label("throttled"),
                    literal(0).label("reclaimed"),
                    literal(now, outbox.c.next_attempt_at.type).label("next_attempt_at"),
                )
                .where(
                    audience_condition(request.audience),
                    subscribers.c.channel.in_([c.value for c in request.channels]),
                )
                .order_by(subscribers.c.channel, subscribers.c.chat_id)
            )
            inserted = await connection.execute(
                outbox.insert().from_select(
                    [
                        "job_id",
                        "channel",
                        "chat_id",
                        "state",
                        "attempts",
                        "throttled",
                        "reclaimed",
                        "next_attempt_at",
                    ],
                    recipients,
                )
            )
            total = int(inserted.rowcount or 0)
            if total == 0:
                # Raising rolls the job back: no empty job is left behind.
                raise EmptyAudience(f"nobody subscribed to {request.audience!r}")
            await connection.execute(update(jobs).where(jobs.c.id == job_id).values(total=total))
        return int(job_id), total

    async def progress(self, requester: Requester, job_id: int) -> JobProgress:
        self.check_staff(requester, "progress")
        return await job_progress(self._engine, job_id)

    async def cancel(self, requester: Requester, job_id: int) -> JobProgress:
        """Stop a running job: recipients not yet sent end as cancelled.

        Sends already in flight finish and are recorded as they turn out.
        """
        self.check_staff(requester, "cancel")
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            state = await _job_state(connection, job_id)
            if state == JobState.DONE.value:
                raise JobFinished(job_id)
            await connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value)
                .values(
                    state=JobState.CANCELLED.value, cancelled_at=now, cancelled_by=str(requester)
                )
            )
            await connection.execute(
                update(outbox)
                .where(outbox.c.job_id == job_id, outbox.c.state == OutboxState.PENDING.value)
                .values(state=OutboxState.CANCELLED.value, finished_at=now)
            )
        log.info("broadcast job %d cancelled by %s", job_id, requester)
        return await job_progress(self._engine, job_id)

    async def resume(self, requester: Requester, job_id: int) -> JobProgress:
        """Go on with a cancelled job (its cancelled recipients become pending again).

        A running job needs no resume to go on after a crash: any worker picks it up, and
        recipients held by the crashed process come back when their lease expires.
        """
        self.check_staff(requester, "resume")
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            state = await _job_state(connection, job_id)
            if state == JobState.DONE.value:
                raise JobFinished(job_id)
            if state == JobState.CANCELLED.value:
                await connection.execute(
                    update(outbox)
                    .where(
                        outbox.c.job_id == job_id,
                        outbox.c.state == OutboxState.CANCELLED.value,
                    )
                    .values(state=OutboxState.PENDING.value, next_attempt_at=now, finished_at=None)
                )
                await connection.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(state=JobState.RUNNING.value, cancelled_at=None, cancelled_by=None)
                )
                log.info("broadcast job %d resumed by %s", job_id, requester)
        if self._on_job_started is not None:
            self._on_job_started(job_id)
        return await job_progress(self._engine, job_id)

    async def report(self, requester: Requester, job_id: int) -> JobReport:
        self.check_staff(requester, "report")
        return await job_report(self._engine, job_id)

    async def list_jobs(self, requester: Requester, limit: int = 20) -> list[JobSummary]:
        self.check_staff(requester, "list")
        return await recent_jobs(self._engine, limit)

    def _checked(self, request: BroadcastRequest) -> BroadcastRequest:
        text = request.text.strip()
        if not text:
            raise InvalidNotice("the notice is empty")
        if len(text) > NOTICE_MAX_CHARS:
            raise InvalidNotice(
                f"the notice has {len(text)} characters; at most {NOTICE_MAX_CHARS} fit in "
                "one message on every channel"
            )
        self._subscriptions.check_audience(request.audience)
        channels = request.channels or self._channels
        for channel in channels:
            if channel not in self._channels:
                raise ChannelNotAvailable(channel)
        if not channels:
            raise ChannelNotAvailable("none")
        ordered = tuple(c for c in BROADCAST_CHANNELS if c in set(channels))
        return BroadcastRequest(text=text, audience=request.audience, channels=ordered)


def configured_channels(telegram: TelegramConfig, zalo: ZaloConfig) -> tuple[Channel, ...]:
    """Broadcast channels whose credentials are set in their config sections."""
    enabled = {Channel.TELEGRAM: telegram.enabled, Channel.ZALO: zalo.enabled}
    return tuple(channel for channel in BROADCAST_CHANNELS if enabled[channel])


async def _job_state(connection: AsyncConnection, job_id: int) -> str:
    state = (
        await connection.execute(select(jobs.c.state).where(jobs.c.id == job_id))
    ).scalar_one_or_none()
    if state is None:
        raise JobNotFound(job_id)
    return str(state)


async def job_progress(engine: AsyncEngine, job_id: int) -> JobProgress:
    report = await job_report(engine, job_id)
    return report.progress


def _progress(job_id: int, state: str, total: int, counts: Mapping[str, int]) -> JobProgress:
    pending = counts.get(OutboxState.PENDING.value, 0)
    cancelled = counts.get(OutboxState.CANCELLED.value, 0)
    if state == JobState.CANCELLED.value:
        # A late retry may have put a row back to pending; it will not be sent.
        cancelled, pending = cancelled + pending, 0
    return JobProgress(
        job_id=job_id,
        state=state,
        total=total,
        sent=counts.get(OutboxState.SENT.value, 0),
        failed=counts.get(OutboxState.FAILED.value, 0),
        blocked=counts.get(OutboxState.BLOCKED.value, 0),
        opted_out=counts.get(OutboxState.OPTED_OUT.value, 0),
        cancelled=cancelled,
        pending=pending,
        sending=counts.get(OutboxState.SENDING.value, 0),
    )


async def job_report(engine: AsyncEngine, job_id: int) -> JobReport:
    """Counts by outcome (overall and per channel), timing and possible duplicates."""
    async with connect(engine) as connection:
        job = (await connection.execute(select(jobs).where(jobs.c.id == job_id))).first()
        if job is None:
            raise JobNotFound(job_id)
        rows = (
            await connection.execute(
                select(
                    outbox.c.channel,
                    outbox.c.state,
                    func.count(),
                    func.sum(outbox.c.attempts + outbox.c.throttled),
                    func.sum(outbox.c.reclaimed),
                )
                .where(outbox.c.job_id == job_id)
                .group_by(outbox.c.channel, outbox.c.state)
            )
        ).all()
        errors = (
            await connection.execute(
                select(outbox.c.last_error, func.count())
                .where(
                    outbox.c.job_id == job_id,
                    outbox.c.state.in_([OutboxState.FAILED.value, OutboxState.BLOCKED.value]),
                )
                .group_by(outbox.c.last_error)
                .order_by(func.count().desc())
                .limit(10)
            )
        ).all()
    overall: dict[str, int] = {}
    per_channel: dict[Channel, dict[str, int]] = {}
    retries = duplicates = 0
    for channel, state, count, tries, reclaimed in rows:
        overall[state] = overall.get(state, 0) + int(count)
        per_channel.setdefault(Channel(channel), {})[state] = int(count)
        retries += int(tries or 0)
        if state == OutboxState.SENT.value:
            # Sent after a try that may have delivered it already (bot.broadcast.delivery).
            duplicates += int(reclaimed or 0)
    channels = tuple(Channel(c) for c in str(job.channels).split(",") if c)
    return JobReport(
        job_id=job_id,
        text=str(job.text),
        audience=str(job.audience),
        channels=channels,
        requested_by=str(job.requested_by),
        progress=_progress(job_id, str(job.state), int(job.total), overall),
        by_channel={
            channel: _progress(job_id, str(job.state), sum(counts.values()), counts)
            for channel, counts in per_channel.items()
        },
        created_at=job.created_at,
        finished_at=job.finished_at or job.cancelled_at,
        cancelled_by=job.cancelled_by,
        retries=retries,
        possible_duplicates=duplicates,
        errors={str(error or "?"): int(count) for error, count in errors},
    )


async def recent_jobs(engine: AsyncEngine, limit: int = 20) -> list[JobSummary]:
    async with connect(engine) as connection:
        rows = (
            await connection.execute(select(jobs).order_by(jobs.c.id.desc()).limit(limit))
        ).all()
    return [
        JobSummary(
            job_id=int(row.id),
            state=str(row.state),
            audience=str(row.audience),
            total=int(row.total),
            requested_by=str(row.requested_by),
            created_at=row.created_at,
            text=str(row.text),
        )
        for row in rows
    ]
