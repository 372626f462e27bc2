"""Per-chat context in the bot's database: survives a new store (restart), expires, upserts."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.dialogue.context import CONTEXT_TTL, ChatContext, ContextStore
from bot.messages import Channel, ChatRef
from bot.storage.database import StorageUnavailable, create_engine, create_schema

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
CHAT = ChatRef(Channel.TELEGRAM, "42")


async def roundtrip(url: str) -> None:
    engine = create_engine(url)
    await create_schema(engine)
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
    changed = ChatContext(procedure_code="1.000001", greeted=True)
    await store.save(CHAT, changed, NOW + dt.timedelta(minutes=6))
    await asyncio.sleep(0.2)  # the write-behind flush runs by itself
    assert await ContextStore(engine).load(CHAT, NOW + dt.timedelta(minutes=7)) == changed
    stale = await store.load(CHAT, NOW + CONTEXT_TTL + dt.timedelta(minutes=7))
    assert stale == ChatContext(greeted=True)
    await store.forget(CHAT)
    assert await store.load(CHAT, NOW) == ChatContext()
    assert await store.load(ChatRef(Channel.ZALO, "42"), NOW) == ChatContext(greeted=True)
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
    await create_schema(engine)
    store = ContextStore(engine, flush_delay=0.01)
    database = tmp_path / "bot.sqlite3"
    hidden = tmp_path / "moved-away.sqlite3"
    await engine.dispose()
    database.rename(hidden)
    (tmp_path / "bot.sqlite3").mkdir()  # a folder where the file was: unopenable
    context = ChatContext(procedure_code="1.001193", greeted=True)
    await store.save(CHAT, context, NOW)
    await asyncio.sleep(0.1)
    assert "chat contexts not written, will retry" in caplog.text
    assert await store.load(CHAT, NOW) == context  # still pending, not lost
    (tmp_path / "bot.sqlite3").rmdir()
    hidden.rename(database)
    await store.close()
    assert await ContextStore(engine).load(CHAT, NOW) == context
    await engine.dispose()


@pytest.mark.postgres
async def test_processes_starting_together_create_the_schema_once(postgres_url: str) -> None:
    engines = [create_engine(postgres_url) for _ in range(4)]
    await asyncio.gather(*(create_schema(engine) for engine in engines))
    store = ContextStore(engines[0])
    await store.save(CHAT, ChatContext(greeted=True), NOW)
    await store.close()
    assert await ContextStore(engines[3]).load(CHAT, NOW) == ChatContext(greeted=True)
    for engine in engines:
        await engine.dispose()
