"""`bot broadcast` as staff run it: preview and confirmation, delivery with a report,
status / cancel / resume / list, and clear refusals, in a real subprocess against the fake
Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from broadcast_support import run_bot, seed_subscribers, write_config
from fakes.telegram_api import FakeTelegramBotApi
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService
from bot.config import load_config
from bot.messages import Channel
from bot.storage.broadcast_tables import jobs
from bot.storage.database import connect, create_engine
from bot.storage.schema import ensure_schema


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    await seed_subscribers(engine, Channel.TELEGRAM, ["11", "12", "13"])
    await seed_subscribers(engine, Channel.TELEGRAM, ["21"], topics=["dat-dai"])
    yield engine
    await engine.dispose()


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramBotApi]:
    async with FakeTelegramBotApi() as fake:
        yield fake


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str, api: FakeTelegramBotApi) -> Path:
    return write_config(
        tmp_path / "config.toml",
        database_url=sqlite_url,
        telegram={"token": api.token, "base_url": api.base_url},
        broadcast={"topics": {"dat-dai": "Đất đai", "ho-tich": "Hộ tịch"}},
    )


@pytest.fixture
def notice(tmp_path: Path) -> Path:
    path = tmp_path / "notice.txt"
    path.write_text("Ngày 2/9 Trung tâm nghỉ lễ.\nSáng 3/9 làm việc bình thường.", "utf-8")
    return path


async def job_count(engine: AsyncEngine) -> int:
    async with connect(engine) as connection:
        return int((await connection.execute(select(func.count()).select_from(jobs))).scalar_one())


async def test_send_shows_the_audience_and_needs_confirmation(
    engine: AsyncEngine, api: FakeTelegramBotApi, config: Path, notice: Path, tmp_path: Path
) -> None:
    code, out, _ = await run_bot(config, "broadcast", "--text-file", str(notice), cwd=tmp_path)
    assert code == 1
    assert "Ngày 2/9 Trung tâm nghỉ lễ." in out
    assert "Audience: all subscribers - telegram: 4 (total 4)" in out
    assert "add --yes" in out
    assert await job_count(engine) == 0 and api.sent == []

    code, out, err = await run_bot(
        config, "broadcast", "--text-file", str(notice), "--yes", "--audience", "dat-dai",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "Audience: topic Đất đai - telegram: 4 (total 4)" in out
    assert "Job #1 (done)" in out and "sent 4, failed 0, blocked 0" in out
    assert sorted(m.chat_id for m in api.sent) == ["11", "12", "13", "21"]
    shown = api.sent[0].plain_text
    assert shown.startswith(texts.NOTICE_HEADING.split("{")[0])
    assert "Sáng 3/9 làm việc bình thường." in shown and texts.NOTICE_FOOTER in shown


async def test_status_cancel_resume_and_list(
    engine: AsyncEngine, api: FakeTelegramBotApi, config: Path, notice: Path, tmp_path: Path
) -> None:
    loaded = load_config(config)
    service = BroadcastService.from_config(engine, loaded.broadcast, loaded.telegram, loaded.zalo)
    operator = Requester.operator("tester")
    job_id = await service.start(operator, BroadcastRequest("Giờ làm việc mới"))

    code, out, _ = await run_bot(config, "broadcast", "status", str(job_id), cwd=tmp_path)
    assert code == 0 and f"Job #{job_id} (running)" in out and "left 4" in out
    code, out, _ = await run_bot(config, "broadcast", "cancel", str(job_id), cwd=tmp_path)
    assert code == 0 and "cancelled" in out and "left 0" in out
    code, out, _ = await run_bot(config, "broadcast", "list", cwd=tmp_path)
    assert code == 0 and f"#{job_id}  cancelled" in out and "Giờ làm việc mới" in out
    assert api.sent == []

    code, out, err = await run_bot(config, "broadcast", "resume", str(job_id), cwd=tmp_path)
    assert code == 0, err
    assert f"Job #{job_id} (done)" in out and "sent 4" in out
    assert len(api.sent) == 4


async def test_refusals_are_clear(
    engine: AsyncEngine, config: Path, notice: Path, tmp_path: Path
) -> None:
    code, _, err = await run_bot(
        config, "broadcast", "--text-file", str(notice), "--audience", "xay-dung", "--yes",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 1 and "unknown audience 'xay-dung'" in err
    code, _, err = await run_bot(config, "broadcast", "--yes", cwd=tmp_path)
    assert code == 2 and "--text-file is required" in err
    code, _, err = await run_bot(config, "broadcast", "status", cwd=tmp_path)
    assert code == 2 and "give the job id" in err
    code, _, err = await run_bot(config, "broadcast", "status", "99", cwd=tmp_path)
    assert code == 1 and "no broadcast job 99" in err
    code, _, err = await run_bot(
        config, "broadcast", "--text-file", str(notice), "--channel", "zalo", "--yes",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 1 and "zalo" in err
    assert await job_count(engine) == 0


async def test_an_unusable_lease_is_a_config_error(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(
        tmp_path / "bad.toml",
        database_url=sqlite_url,
        broadcast={"lease_seconds": 10.0, "send_timeout_seconds": 15.0},
    )
    code, _, err = await run_bot(config, "broadcast", "list", cwd=tmp_path)
    assert code == 2
    assert "config error" in err and "[broadcast] lease_seconds: expected more than" in err
    assert "Traceback" not in err


async def test_a_notice_file_is_made_storable(
    engine: AsyncEngine, api: FakeTelegramBotApi, config: Path, tmp_path: Path
) -> None:
    # A NUL (PostgreSQL refuses it in text) and terminal control codes from a pasted file.
    notice = tmp_path / "pasted.txt"
    notice.write_text("Nghỉ lễ\x00 2/9\x1b[0m\x07\nSáng 3/9 làm việc.\t", "utf-8")

    code, _, err = await run_bot(
        config, "broadcast", "--text-file", str(notice), "--yes", cwd=tmp_path
    )

    assert code == 0, err
    async with connect(engine) as connection:
        stored = (await connection.execute(select(jobs.c.text))).scalar_one()
    assert stored == "Nghỉ lễ 2/9[0m\nSáng 3/9 làm việc."  # (the service strips the ends)
