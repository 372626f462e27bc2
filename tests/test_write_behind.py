"""bot.storage.write_behind on SQLite and PostgreSQL: a row the database refuses is logged
once and dropped while the rest of its batch is written; an outage keeps every row and
logs one line; a value put during a flush is written without waiting for another put."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage import write_behind
from bot.storage.context_tables import chat_contexts
from bot.storage.database import StorageUnavailable, create_engine
from bot.storage.schema import ensure_schema
from bot.storage.upserts import upsert
from bot.storage.write_behind import WriteBehind

Row = dict[str, object]
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
RETRY_LINE = "not written, will retry"


async def write_contexts(connection: AsyncConnection, rows: list[Row]) -> None:
    statement = upsert(
        connection, chat_contexts, key=("channel", "chat_id"), update=("data", "updated_at")
    )
    await connection.execute(statement, rows)


def row(chat_id: str, data: str = "{}") -> Row:
    return {"channel": "web", "chat_id": chat_id, "data": data, "updated_at": NOW}


async def stored(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as connection:
        result = await connection.execute(select(chat_contexts.c.chat_id, chat_contexts.c.data))
        return {chat_id: data for chat_id, data in result}


def lines(caplog: pytest.LogCaptureFixture, containing: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if containing in r.getMessage()]


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_refused_row_is_dropped_once_and_the_rest_of_the_batch_written(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    saves: WriteBehind[str, Row] = WriteBehind(
        engine, write_contexts, name="chat contexts", table="chat_contexts", delay=0.01
    )
    # A lone surrogate cannot be encoded by either driver; PostgreSQL also refuses NUL.
    poisoned = {"bad-surrogate": '{"q": "\ud800"}', "bad-nul": '{"q": "a\x00b"}'}
    for number in range(5):
        saves.put(f"good-{number}", row(f"good-{number}"))
    for chat_id, data in poisoned.items():
        saves.put(chat_id, row(chat_id, data))
    saves.put("good-last", row("good-last"))

    await wait_for(lambda: _nothing_queued(saves))
    await asyncio.sleep(0.1)  # a retry loop would show by now (and in the log)

    written = await stored(engine)
    assert {f"good-{n}" for n in range(5)} | {"good-last"} <= written.keys()
    assert "bad-surrogate" not in written
    refused = lines(caplog, "refused by the database was dropped")
    assert all("chat contexts" in line and "table chat_contexts" in line for line in refused)
    expected_refusals = 2 if engine.dialect.name == "postgresql" else 1
    assert len(refused) == expected_refusals
    assert "surrogates not allowed" in "\n".join(refused)
    assert lines(caplog, RETRY_LINE) == []
    assert saves.queued == 0
    await saves.close()


async def _nothing_queued(saves: WriteBehind[str, Row]) -> bool:
    # Not the rows in the database: the flush clears its batch a moment after the commit.
    return saves.queued == 0


async def test_an_outage_keeps_every_row_and_does_not_log_each_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(write_behind, "RETRY_DELAY_SECONDS", 0.02)
    # A database without the table: SQLite says "no such table", which counts as an outage
    # (the database is not usable yet), not as a refused row.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        saves: WriteBehind[str, Row] = WriteBehind(
            engine, write_contexts, name="chat contexts", table="chat_contexts", delay=0.01
        )
        for number in range(3):
            saves.put(f"chat-{number}", row(f"chat-{number}"))
        await asyncio.sleep(0.3)  # some fifteen retries

        assert saves.queued == 3
        # The outage is logged (once: where depends on the storage layer), not each retry.
        assert len(caplog.records) == 1, [r.getMessage() for r in caplog.records]
        assert lines(caplog, "dropped") == []
        with pytest.raises(StorageUnavailable):
            await saves.flush()

        await ensure_schema(engine)  # the database is back
        await wait_for(lambda: _nothing_queued(saves))
        assert set(await stored(engine)) == {"chat-0", "chat-1", "chat-2"}
        # At most one more line: the end of the outage.
        assert len(caplog.records) <= 2, [r.getMessage() for r in caplog.records]
        assert lines(caplog, "dropped") == []
        await saves.close()
    finally:
        await engine.dispose()


async def test_a_value_put_during_a_flush_is_written_without_another_put(
    engine: AsyncEngine,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_write(connection: AsyncConnection, rows: list[Row]) -> None:
        started.set()
        await release.wait()
        await write_contexts(connection, rows)

    saves: WriteBehind[str, Row] = WriteBehind(
        engine, slow_write, name="chat contexts", delay=0.01
    )
    saves.put("first", row("first"))
    await asyncio.wait_for(started.wait(), 5)
    saves.put("second", row("second"))  # the flush under way took "first" only
    release.set()

    await wait_for(lambda: _nothing_queued(saves), seconds=2.0)
    assert set(await stored(engine)) == {"first", "second"}
    await saves.close()


async def test_a_refused_row_does_not_stop_shutdown(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    saves: WriteBehind[str, Row] = WriteBehind(
        engine, write_contexts, name="chat contexts", delay=60.0
    )
    saves.put("bad", row("bad", "\ud800"))
    saves.put("good", row("good"))

    await saves.close()

    assert set(await stored(engine)) == {"good"}
    assert len(lines(caplog, "refused by the database was dropped")) == 1
    assert caplog.records[-1].levelno == logging.ERROR
