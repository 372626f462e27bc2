"""Several bot processes on one PostgreSQL deliver the same job together: rows are claimed
with FOR UPDATE SKIP LOCKED, so each recipient gets the notice exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from broadcast_support import seed_subscribers, start_bot, write_config
from fakes.telegram_api import FakeTelegramBotApi, Fault
from sqlalchemy import func, select

from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy, job_report
from bot.broadcast.subscriptions import SubscriptionStore
from bot.broadcast.tables import outbox
from bot.messages import Channel
from bot.storage.database import connect, create_engine, create_schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STAFF = Requester.chat_user(Channel.TELEGRAM, "1")
RATE = 120.0


async def test_two_processes_share_one_job_without_duplicates(
    tmp_path: Path, postgres_url: str
) -> None:
    engine = create_engine(postgres_url)
    await create_schema(engine)
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
    # The two processes shared the bot's rate (each alone would send at RATE: 2 x RATE
    # together). Each paces its half on its own clock; the fake stamps requests when its
    # event loop, shared with this test and busy with both, gets to them, which can bunch
    # a few of them: hence the small tolerance here. The single-process limit is checked
    # exactly in test_broadcast_platforms.py.
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
