"""Several bot processes on one PostgreSQL deliver the same job together: rows are claimed
with FOR UPDATE SKIP LOCKED, so each recipient gets the notice exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from broadcast_support import RecordingSender, seed_subscribers, start_bot, write_config
from fakes.telegram_api import FakeTelegramBotApi, Fault
from sqlalchemy import func, select

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy, job_report
from bot.broadcast.settings import DeliverySettings
from bot.broadcast.subscriptions import SubscriptionStore, utc_now
from bot.messages import Channel
from bot.storage.broadcast_tables import outbox, workers
from bot.storage.database import BROADCAST_WORKERS_LOCK, connect, create_engine, lock_transaction
from bot.storage.schema import ensure_schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STAFF = Requester.chat_user(Channel.TELEGRAM, "1")
RATE = 120.0


async def test_two_processes_share_one_job_without_duplicates(
    tmp_path: Path, postgres_url: str
) -> None:
    engine = create_engine(postgres_url)
    await ensure_schema(engine)
    chat_ids = [str(900_000 + i) for i in range(1000)]
    chats = await seed_subscribers(engine, Channel.TELEGRAM, chat_ids)
    service = BroadcastService(
        engine,
        SubscriptionStore(engine, {}),
        StaffPolicy(frozenset({1}), api_enabled=False),
        channels=[Channel.TELEGRAM],
    )
    job_id = await service.start(STAFF, BroadcastRequest("Lịch nghỉ Tết Nguyên đán"))
    async with FakeTelegramBotApi() as api:
        for chat in chats:
            api.set_chat_fault(chat, Fault.slow(0.01))
        config = write_config(
            tmp_path / "config.toml",
            database_url=postgres_url,
            telegram={"token": api.token, "base_url": api.base_url, "rate_per_second": RATE},
        )
        processes = [
            await start_bot(config, "broadcast", "resume", str(job_id), cwd=tmp_path)
            for _ in range(2)
        ]
        outputs = asyncio.gather(*(process.communicate() for process in processes))
        results = await asyncio.wait_for(outputs, 120)
        for process, (_, stderr) in zip(processes, results, strict=True):
            assert process.returncode == 0, stderr.decode()
        await asyncio.sleep(0.1)

    received = Counter(m.chat_id for m in api.sent)
    assert set(received) == set(chats)
    assert max(received.values()) == 1, "no recipient got the notice twice"
    # The two processes shared the configured rate: together no more than RATE a second,
    # where each, unaware of the other, would send RATE (2 x RATE in all). Each paces its
    # half on its own clock; the fake stamps requests when its event loop, shared with this
    # test and busy with both, gets to them, which can bunch a few of them: hence the small
    # tolerance here. The single-process limit is checked exactly in
    # test_broadcast_platforms.py.
    assert api.max_rate(1.0) <= RATE * 1.06
    async with connect(engine) as connection:
        workers: dict[str, int] = dict(
            (await connection.execute(
                select(outbox.c.finished_by, func.count())
                .where(outbox.c.job_id == job_id)
                .group_by(outbox.c.finished_by)
            )).all()
        )  # fmt: skip
    assert len(workers) == 2, f"both processes delivered: {workers}"
    report = await job_report(engine, job_id)
    assert (report.progress.state, report.progress.sent) == ("done", 1000)
    assert report.possible_duplicates == 0
    await engine.dispose()


async def test_a_worker_joining_while_another_joins_sees_it(postgres_url: str) -> None:
    """Two workers recording themselves at the same moment: without a lock, each
    transaction misses the other's uncommitted row and both take the whole rate (this
    happened: 230 sends in one second against a limit of 120)."""
    engine = create_engine(postgres_url)
    await ensure_schema(engine)
    sender = RecordingSender(channel=Channel.TELEGRAM)
    worker = DeliveryWorker(engine, [sender], DeliverySettings(), worker_id="joining")
    async with connect(engine, begin=True) as other:
        # Another worker, mid-join: it holds the lock and has written its row.
        await lock_transaction(other, BROADCAST_WORKERS_LOCK)
        await other.execute(
            workers.insert().values(worker_id="other", channels="telegram", seen_at=utc_now())
        )
        joining = asyncio.create_task(worker._record_membership())
        await asyncio.sleep(0.3)
        assert not joining.done(), "the joining worker waits for the other's transaction"
    try:
        assert await asyncio.wait_for(joining, 10) == 1, "then it sees the other worker"
    finally:
        async with connect(engine, begin=True) as connection:
            await connection.execute(
                workers.delete().where(workers.c.worker_id.in_(["other", "joining"]))
            )
        await engine.dispose()
