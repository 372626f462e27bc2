"""The upsert helpers on both databases: the named columns change, the others keep theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.database import connect, create_engine
from bot.storage.upserts import insert_ignoring_duplicates, upsert

scratch = MetaData()
notes = Table(
    "scratch_notes",
    scratch,
    Column("channel", String(16), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("text", String(64), nullable=False),
    Column("seen", Integer, nullable=False),
)


@pytest.fixture
async def scratch_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with connect(engine, begin=True) as connection:
        await connection.run_sync(scratch.create_all)
    yield engine
    await engine.dispose()


async def rows(engine: AsyncEngine) -> list[tuple[str, str, str, int]]:
    async with connect(engine) as connection:
        result = await connection.execute(select(notes).order_by(notes.c.chat_id))
        return [(r.channel, r.chat_id, r.text, r.seen) for r in result]


async def test_upsert_inserts_then_updates_only_the_named_columns(
    scratch_engine: AsyncEngine,
) -> None:
    first = [
        {"channel": "web", "chat_id": "a", "text": "one", "seen": 1},
        {"channel": "web", "chat_id": "b", "text": "two", "seen": 1},
    ]
    async with connect(scratch_engine, begin=True) as connection:
        statement = upsert(connection, notes, key=("channel", "chat_id"), update=("seen",))
        await connection.execute(statement, first)
        await connection.execute(
            statement, {"channel": "web", "chat_id": "a", "text": "changed", "seen": 5}
        )
    assert await rows(scratch_engine) == [("web", "a", "one", 5), ("web", "b", "two", 1)]


async def test_insert_ignoring_duplicates_counts_the_rows_that_went_in(
    scratch_engine: AsyncEngine,
) -> None:
    async with connect(scratch_engine, begin=True) as connection:
        row = {"channel": "zalo", "chat_id": "a", "text": "first", "seen": 1}
        assert await insert_ignoring_duplicates(connection, notes, [row]) == 1
        again = [
            {**row, "text": "second"},
            {"channel": "zalo", "chat_id": "b", "text": "new", "seen": 2},
        ]
        assert await insert_ignoring_duplicates(connection, notes, again) == 1
        assert await insert_ignoring_duplicates(connection, notes, []) == 0
    assert await rows(scratch_engine) == [("zalo", "a", "first", 1), ("zalo", "b", "new", 2)]
