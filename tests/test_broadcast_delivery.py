"""The delivery engine's decisions, with an in-process scripted sender and real SQLite:
retries with backoff, 429 pauses, blocked chats unsubscribed, giving up, opt-out during a
job, cancel and resume, release on a clean stop."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import itertools
import os
import sys
from collections.abc import AsyncIterator

import pytest
from broadcast_support import RecordingSender, fast_settings, seed_subscribers
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.liveness import dead_local_workers, default_worker_id
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy
from bot.broadcast.subscriptions import SubscriberState, SubscriptionStore
from bot.messages import (
    Channel,
    ChatRef,
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    TransientSendError,
)
from bot.storage.broadcast_tables import OutboxState, outbox
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema

OPERATOR = Requester.operator("tester")


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


def service_for(engine: AsyncEngine, worker: DeliveryWorker | None = None) -> BroadcastService:
    return BroadcastService(
        engine,
        SubscriptionStore(engine, {"dat-dai": "Đất đai"}),
        StaffPolicy(frozenset({1}), api_enabled=False),
        on_job_started=(lambda _job: worker.wake()) if worker else None,
    )


async def outcomes(engine: AsyncEngine, job_id: int) -> dict[str, str]:
    async with connect(engine) as connection:
        rows = await connection.execute(
            select(outbox.c.chat_id, outbox.c.state).where(outbox.c.job_id == job_id)
        )
        return {str(chat): str(state) for chat, state in rows}


async def deliver(
    engine: AsyncEngine, job_id: int, *senders: RecordingSender, **settings: object
) -> DeliveryWorker:
    worker = DeliveryWorker(engine, senders, fast_settings(**settings))  # type: ignore[arg-type]
    await asyncio.wait_for(worker.run(until_job_finished=job_id), 30)
    return worker


async def test_every_recipient_ends_with_its_outcome(engine: AsyncEngine) -> None:
    chats = await seed_subscribers(engine, Channel.TELEGRAM, [str(i) for i in range(1, 41)])
    sender = RecordingSender()
    sender.script("2", TransientSendError("502 Bad Gateway"))  # then succeeds
    sender.script("3", RateLimited(0.2))  # pauses the channel, then succeeds
    sender.always["4"] = RecipientBlocked("Forbidden: bot was blocked by the user")
    sender.always["5"] = TransientSendError("timed out")  # never recovers
    sender.always["6"] = PermanentSendError("Bad Request: message is too long")
    service = service_for(engine)

    job_id = await service.start(OPERATOR, BroadcastRequest("Nghỉ lễ 2/9", channels=()))
    await deliver(engine, job_id, sender)

    states = await outcomes(engine, job_id)
    assert set(states) == set(chats)
    assert states["2"] == states["3"] == OutboxState.SENT
    assert states["4"] == OutboxState.BLOCKED
    assert states["5"] == states["6"] == OutboxState.FAILED
    assert {c for c, s in states.items() if s == OutboxState.SENT} == set(chats) - {"4", "5", "6"}
    assert sender.attempts.count("5") == 3  # max_attempts
    assert sender.attempts.count("6") == 1  # refused for good: never retried
    assert sender.attempts.count("4") == 1  # blocked: never retried
    assert all(sender.count_to(chat) <= 1 for chat in chats)
    store = SubscriptionStore(engine, {})
    blocked = await store.get(ChatRef(Channel.TELEGRAM, "4"))
    assert blocked is not None and blocked.state is SubscriberState.BLOCKED

    report = await service.report(OPERATOR, job_id)
    assert report.progress.state == "done"
    assert (report.progress.sent, report.progress.blocked, report.progress.failed) == (37, 1, 2)
    assert report.progress.left == 0
    assert report.duration is not None
    assert report.retries == 2 + 1 + 2  # chat 2 once, chat 3 one 429, chat 5 twice

    # The blocked chat is in no later audience.
    preview = await service.prepare(OPERATOR, BroadcastRequest("again"))
    assert preview.total == 39


async def test_a_429_pauses_the_whole_channel(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, ["a", "b", "c", "d"])
    sender = RecordingSender()
    sender.script("a", RateLimited(0.5))
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    await deliver(engine, job_id, sender, concurrency=1)
    first_429 = sender.attempts.index("a")
    paused_from = sender.attempt_times[first_429]
    # No request at all went to the channel until retry_after had passed.
    assert all(t >= paused_from + 0.5 for t in sender.attempt_times[first_429 + 1 :])
    assert sorted(d.chat_id for d in sender.sent) == ["a", "b", "c", "d"]


async def test_opting_out_during_a_job_wins(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, [str(i) for i in range(10)])
    store = SubscriptionStore(engine, {})
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    # After the job snapshot its audience, two citizens opt out and one blocks.
    await store.opt_out(ChatRef(Channel.TELEGRAM, "3"))
    await store.opt_out(ChatRef(Channel.TELEGRAM, "7"))
    await store.mark_unreachable(ChatRef(Channel.TELEGRAM, "8"), "unfollow")
    sender = RecordingSender()
    await deliver(engine, job_id, sender)
    states = await outcomes(engine, job_id)
    assert states["3"] == states["7"] == OutboxState.OPTED_OUT
    assert states["8"] == OutboxState.BLOCKED
    assert {d.chat_id for d in sender.sent} == {str(i) for i in range(10)} - {"3", "7", "8"}


async def test_cancel_stops_the_job_and_resume_finishes_it(engine: AsyncEngine) -> None:
    chats = await seed_subscribers(engine, Channel.TELEGRAM, [str(i) for i in range(60)])
    sender = RecordingSender(delay=0.01)
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    worker = DeliveryWorker(engine, [sender], fast_settings(rate=50, concurrency=2))
    running = asyncio.create_task(worker.run(until_job_finished=job_id))
    await sender.wait_for_sent(10)
    progress = await service.cancel(OPERATOR, job_id)
    assert progress.state == "cancelled"
    await asyncio.wait_for(running, 10)
    after_cancel = len(sender.sent)
    report = await service.report(OPERATOR, job_id)
    assert report.progress.cancelled > 0
    assert report.progress.sent == after_cancel
    assert report.progress.left == 0

    await service.resume(OPERATOR, job_id)
    await deliver(engine, job_id, sender)
    assert sorted({d.chat_id for d in sender.sent}) == sorted(chats)
    assert all(sender.count_to(chat) == 1 for chat in chats)
    final = await service.progress(OPERATOR, job_id)
    assert (final.state, final.sent, final.cancelled) == ("done", 60, 0)


async def test_a_clean_stop_releases_claimed_rows_at_once(engine: AsyncEngine) -> None:
    chats = await seed_subscribers(engine, Channel.TELEGRAM, [str(i) for i in range(200)])
    sender = RecordingSender()
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    first = DeliveryWorker(engine, [sender], fast_settings(rate=100, lease_seconds=600))
    running = asyncio.create_task(first.run())
    await sender.wait_for_sent(20)
    first.stop()
    await running
    async with connect(engine) as connection:
        held = (
            await connection.execute(
                select(outbox.c.id).where(outbox.c.state == OutboxState.SENDING.value)
            )
        ).all()
    assert held == []
    # With a 10-minute lease, finishing now proves nothing waited for a lease to expire.
    await deliver(engine, job_id, sender, lease_seconds=600)
    assert all(sender.count_to(chat) == 1 for chat in chats)


async def test_two_workers_share_the_job_and_the_rate(engine: AsyncEngine) -> None:
    chats = await seed_subscribers(engine, Channel.ZALO, [f"z{i}" for i in range(600)])
    sender = RecordingSender(channel=Channel.ZALO, delay=0.002)
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    workers = [DeliveryWorker(engine, [sender], fast_settings(rate=100)) for _ in range(2)]
    await asyncio.wait_for(
        asyncio.gather(*(w.run(until_job_finished=job_id) for w in workers)), 30
    )
    assert all(sender.count_to(chat) == 1 for chat in chats)
    assert all(w.sent > 0 for w in workers)
    # Together they kept the channel's rate, not twice it.
    starts = sorted(sender.attempt_times)
    assert (
        max(bisect.bisect_left(starts, start + 1.0) - index for index, start in enumerate(starts))
        <= 100
    )


async def test_retries_to_one_chat_keep_the_per_chat_interval(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, ["a", "b"])
    sender = RecordingSender()
    sender.script("a", TransientSendError("502"), TransientSendError("502"))
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    # Backoff (0.05 s) is shorter than the per-chat interval: the interval must win.
    await deliver(engine, job_id, sender, per_chat_interval=0.4, max_attempts=5)
    attempts = zip(sender.attempts, sender.attempt_times, strict=True)
    tries = [moment for chat, moment in attempts if chat == "a"]
    assert len(tries) == 3
    assert all(later - earlier >= 0.4 for earlier, later in itertools.pairwise(tries))
    assert sender.count_to("a") == 1


async def hold_rows(engine: AsyncEngine, job_id: int, worker_id: str) -> None:
    """Make every row of the job look claimed by `worker_id` just now (then it died)."""
    async with connect(engine, begin=True) as connection:
        await connection.execute(
            update(outbox)
            .where(outbox.c.job_id == job_id)
            .values(
                state=OutboxState.SENDING.value,
                claimed_by=worker_id,
                claimed_at=dt.datetime.now(dt.UTC),
            )
        )


async def test_claims_of_a_worker_elsewhere_are_taken_over_after_the_lease(
    engine: AsyncEngine,
) -> None:
    chats = await seed_subscribers(engine, Channel.TELEGRAM, ["a", "b", "c"])
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    await hold_rows(engine, job_id, "another-server/4026531836/4242/abcdef")
    sender = RecordingSender()
    worker = DeliveryWorker(engine, [sender], fast_settings(lease_seconds=2.5))
    running = asyncio.create_task(worker.run(until_job_finished=job_id))
    await asyncio.sleep(1.0)
    # Within the lease, the other server's claims are respected.
    assert sender.attempts == []
    await asyncio.wait_for(running, 20)
    assert sorted(d.chat_id for d in sender.sent) == chats
    report = await service.report(OPERATOR, job_id)
    assert report.possible_duplicates == 3


async def test_claims_of_a_dead_process_on_this_machine_are_taken_over_at_once(
    engine: AsyncEngine,
) -> None:
    chats = await seed_subscribers(engine, Channel.TELEGRAM, ["a", "b", "c"])
    service = service_for(engine)
    job_id = await service.start(OPERATOR, BroadcastRequest("x"))
    finished = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await finished.wait()  # its pid now belongs to no process
    prefix = default_worker_id().rsplit("/", 2)[0]
    await hold_rows(engine, job_id, f"{prefix}/{finished.pid}/abcdef")
    sender = RecordingSender()
    # A ten-minute lease: finishing at all shows nobody waited for it.
    worker = DeliveryWorker(engine, [sender], fast_settings(lease_seconds=600))
    await asyncio.wait_for(worker.run(until_job_finished=job_id), 20)
    assert sorted(d.chat_id for d in sender.sent) == chats
    # A live process's claims (this test's own pid) are left alone.
    assert dead_local_workers([f"{prefix}/{os.getpid()}/x"]) == set()
    assert dead_local_workers([f"{prefix}/{os.getppid()}/x"]) == set()
    assert dead_local_workers([f"elsewhere/1/{finished.pid}/x"]) == set()
