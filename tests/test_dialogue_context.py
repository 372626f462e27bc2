"""Per-chat context in the bot's database: survives a new store (restart), expires, upserts."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialogue.context import CONTEXT_TTL, ChatContext, ContextStore
from bot.messages import Channel, ChatRef
from bot.storage.database import StorageUnavailable, create_engine
from bot.storage.schema import ensure_schema

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
CHAT = ChatRef(Channel.TELEGRAM, "42")


async def load_elsewhere(engine: AsyncEngine, chat: ChatRef, now: dt.datetime) -> ChatContext:
    """What a store of its own (another bot process) loads."""
    store = ContextStore(engine)
    try:
        return await store.load(chat, now)
    finally:
        await store.close()


async def roundtrip(url: str) -> None:
    engine = create_engine(url)
    await ensure_schema(engine)
    store = ContextStore(engine)
    assert await store.load(CHAT, NOW) == ChatContext()
    context = ChatContext(
        procedure_code="1.001193",
        candidate_codes=("1.001193", "2.000986"),
        last_question="làm khai sinh",
        awaiting="verification",
        pending_code="000.00.12.H58-251120-0001",
        greeted=True,
    )
    await store.save(CHAT, context, NOW)
    await store.save(ChatRef(Channel.ZALO, "42"), ChatContext(greeted=True), NOW)
    # Saves are write-behind: visible to this store at once, written by close().
    assert await store.load(CHAT, NOW) == context
    await store.close()
    await engine.dispose()

    # A new engine and store, as after a restart or in another bot process.
    engine = create_engine(url)
    store = ContextStore(engine)
    assert await store.load(CHAT, NOW + dt.timedelta(minutes=5)) == context
    changed = ChatContext(procedure_code="1.000001", greeted=True).with_dossier("D-1")
    await store.save(CHAT, changed, NOW + dt.timedelta(minutes=6))
    await asyncio.sleep(0.2)  # the write-behind flush runs by itself
    assert await load_elsewhere(engine, CHAT, NOW + dt.timedelta(minutes=7)) == changed
    stale = await store.load(CHAT, NOW + CONTEXT_TTL + dt.timedelta(minutes=7))
    # The dossiers looked up stay (a "returned" notice's rating comes days later).
    assert stale == ChatContext(greeted=True, dossier_codes=("D-1",))
    await store.forget(CHAT)
    assert await store.load(CHAT, NOW) == ChatContext()
    assert await store.load(ChatRef(Channel.ZALO, "42"), NOW) == ChatContext(greeted=True)
    await store.close()
    await engine.dispose()


async def test_context_on_sqlite(sqlite_url: str) -> None:
    await roundtrip(sqlite_url)


@pytest.mark.postgres
async def test_context_on_postgres(postgres_url: str) -> None:
    await roundtrip(postgres_url)


def test_corrupt_json_gives_an_empty_context() -> None:
    assert ChatContext.from_json("{not json") == ChatContext()
    assert ChatContext.from_json("[1, 2]") == ChatContext()
    assert ChatContext.from_json('{"greeted": true, "unknown": 1}') == ChatContext(greeted=True)


async def test_unreachable_database_raises_storage_unavailable() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    with pytest.raises(StorageUnavailable, match=r"127\.0\.0\.1"):
        await ContextStore(engine).load(CHAT, NOW)
    await engine.dispose()


async def test_saves_survive_an_outage_and_are_written_when_it_ends(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    store = ContextStore(engine, flush_delay=0.01)
    database = tmp_path / "bot.sqlite3"
    hidden = tmp_path / "moved-away.sqlite3"
    await engine.dispose()
    database.rename(hidden)
    (tmp_path / "bot.sqlite3").mkdir()  # a folder where the file was: unopenable
    context = ChatContext(procedure_code="1.001193", greeted=True)
    await store.save(CHAT, context, NOW)
    await asyncio.sleep(0.1)
    # The database's outage log says it once (bot.storage.outage).
    assert "is unavailable" in caplog.text
    assert await store.load(CHAT, NOW) == context  # still pending, not lost
    (tmp_path / "bot.sqlite3").rmdir()
    hidden.rename(database)
    await store.close()
    assert await load_elsewhere(engine, CHAT, NOW) == context
    await engine.dispose()


@pytest.mark.postgres
async def test_processes_starting_together_create_the_schema_once(postgres_url: str) -> None:
    engines = [create_engine(postgres_url) for _ in range(4)]
    await asyncio.gather(*(ensure_schema(engine) for engine in engines))
    store = ContextStore(engines[0])
    await store.save(CHAT, ChatContext(greeted=True), NOW)
    await store.close()
    assert await load_elsewhere(engines[3], CHAT, NOW) == ChatContext(greeted=True)
    for engine in engines:
        await engine.dispose()


async def take_turns(url: str) -> None:
    """Two bot processes answering the same chat in turn: each load sees the other's save."""
    engines = [create_engine(url), create_engine(url)]
    await ensure_schema(engines[0])
    stores = [ContextStore(engine) for engine in engines]
    try:
        # Both stores read before either writes: their kept connections are open (and
        # must not keep a snapshot from this moment).
        for store in stores:
            assert await store.load(CHAT, NOW) == ChatContext()
        for turn in range(6):
            writer, reader = stores[turn % 2], stores[1 - turn % 2]
            context = ChatContext(procedure_code=f"1.00000{turn}", greeted=True)
            await writer.save(CHAT, context, NOW)
            await writer.flush()
            assert await reader.load(CHAT, NOW) == context
    finally:
        for store in stores:
            await store.close()
        for engine in engines:
            await engine.dispose()


async def test_processes_taking_turns_on_sqlite(sqlite_url: str) -> None:
    await take_turns(sqlite_url)


@pytest.mark.postgres
async def test_processes_taking_turns_on_postgres(postgres_url: str) -> None:
    await take_turns(postgres_url)


@pytest.mark.postgres
async def test_load_reconnects_after_the_server_dropped_the_connection(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    await ensure_schema(engine)
    store = ContextStore(engine)
    context = ChatContext(procedure_code="1.001193", greeted=True)
    await store.save(CHAT, context, NOW)
    await store.flush()
    assert await store.load(CHAT, NOW) == context
    # What a server restart does to every open connection, the kept one included.
    admin = create_engine(postgres_url)
    async with admin.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await admin.dispose()

    assert await store.load(CHAT, NOW) == context
    await store.close()
    await engine.dispose()


async def test_a_load_after_close_still_reads_the_database(sqlite_url: str) -> None:
    """A straggling message while the bot shuts down is answered with its context."""
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    store = ContextStore(engine)
    context = ChatContext(procedure_code="1.001193", greeted=True)
    await store.save(CHAT, context, NOW)
    await store.close()

    assert await store.load(CHAT, NOW) == context
    await engine.dispose()
