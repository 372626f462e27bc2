"""Crash safety: the delivering process (`bot broadcast`) is killed with SIGKILL in the
middle of a job against the fake Bot API; a new process resumes the job. Every recipient
gets the notice and at most `broadcast.concurrency` of them get it twice."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest
from broadcast_support import run_bot, seed_subscribers, start_bot, write_config
from fakes.telegram_api import FakeTelegramBotApi, Fault
from sqlalchemy import select

from bot.broadcast.service import job_report
from bot.messages import Channel
from bot.storage.broadcast_tables import jobs
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema

CONCURRENCY = 8
RECIPIENTS = 1000


@pytest.mark.slow
async def test_a_killed_delivery_resumes_without_loss_and_few_duplicates(
    tmp_path: Path, sqlite_url: str
) -> None:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    chats = await seed_subscribers(
        engine, Channel.TELEGRAM, [str(500_000 + i) for i in range(RECIPIENTS)]
    )
    notice = tmp_path / "notice.txt"
    notice.write_text("Từ 1/10, Trung tâm làm việc cả sáng thứ Bảy.", encoding="utf-8")
    async with FakeTelegramBotApi() as api:
        for chat in chats:
            # A slow platform keeps every slot busy, so the kill lands with sends in flight.
            api.set_chat_fault(chat, Fault.slow(0.03))
        config = write_config(
            tmp_path / "config.toml",
            database_url=sqlite_url,
            telegram={
                "token": api.token,
                "base_url": api.base_url,
                "base_file_url": api.base_file_url,
                "rate_per_second": 250.0,
                "staff_ids": [1],
            },
            # A ten-minute lease: the restarted process must see that the killed one is
            # gone and take its recipients over at once, not wait for the lease.
            broadcast={"concurrency": CONCURRENCY, "lease_seconds": 600.0},
        )
        first = await start_bot(
            config, "broadcast", "--text-file", str(notice), "--yes", cwd=tmp_path
        )
        api.wait_limit = 60
        await api.wait_until(lambda: len(api.sent) >= 300)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert first.returncode == -signal.SIGKILL
        at_kill = len(api.sent)
        assert at_kill < RECIPIENTS, "the job must be cut in the middle"

        async with connect(engine) as connection:
            job_id = (await connection.execute(select(jobs.c.id))).scalar_one()
        code, out, err = await run_bot(config, "broadcast", "resume", str(job_id), cwd=tmp_path)
        assert code == 0, err
        await asyncio.sleep(0.2)  # answers the fake was still writing

        received = Counter(m.chat_id for m in api.sent)
        assert set(received) == set(chats), "every recipient got the notice"
        duplicates = sum(n - 1 for n in received.values())
        assert duplicates <= CONCURRENCY
        report = await job_report(engine, job_id)
        assert report.progress.state == "done"
        assert report.progress.sent == RECIPIENTS
        # Every duplicate is among the rows reported as possibly sent twice.
        assert duplicates <= report.possible_duplicates
        assert f"Job #{job_id} (done)" in out
    await engine.dispose()
