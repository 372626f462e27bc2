"""The schema of the bot's database across versions: created new at the newest revision,
old databases (also ones made before migrations) migrated without losing a row, the
revisions agreeing with the models, and every command refusing an old schema in one line.
Each on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, MetaData, String, Text, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import main
from bot.config import load_config
from bot.core import open_core
from bot.storage.broadcast_tables import jobs, outbox
from bot.storage.database import connect, create_engine, metadata
from bot.storage.schema import (
    MIGRATION_OPTIONS,
    SchemaError,
    SchemaOutdated,
    alembic_config,
    ensure_schema,
    head_revision,
    schema_connection,
)

LEGACY_SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "legacy_schema"
REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010"]
ROWS_PER_TABLE = 2


async def in_thread(function: Callable[[list[str]], int], argv: list[str]) -> int:
    """A command's main() from a test's event loop (it runs one of its own)."""
    return await asyncio.to_thread(function, argv)


def write_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    """A config file with the database at `url`; `extra` is more TOML after its [storage]."""
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n{extra}', encoding="utf-8")
    return path


async def run_alembic(url: str, action: str, revision: str) -> None:
    """`alembic upgrade|downgrade REVISION` on `url`, as a developer would run it."""

    def run(connection: Connection) -> None:
        getattr(command, action)(alembic_config(connection), revision)

    async with schema_connection(url) as connection:
        await connection.run_sync(run)


async def differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate finds between the models and the database (empty: they agree)."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts=dict(MIGRATION_OPTIONS))
        return list(compare_metadata(context, metadata))

    async with connect(engine) as connection:
        return await connection.run_sync(compare)


async def recorded_revision(engine: AsyncEngine) -> tuple[str, ...]:
    def read(connection: Connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with connect(engine) as connection:
        return await connection.run_sync(read)


async def forget_revision(engine: AsyncEngine) -> None:
    """What a database made before migrations looks like: no revision recorded."""
    async with connect(engine, begin=True) as connection:
        await connection.exec_driver_sql("DROP TABLE alembic_version")


async def build_legacy(engine: AsyncEngine, name: str) -> None:
    dialect = engine.dialect.name
    script = (LEGACY_SCHEMAS / f"{name}.{dialect}.sql").read_text(encoding="utf-8")
    lines = [line for line in script.splitlines() if not line.startswith("--")]
    async with connect(engine, begin=True) as connection:
        for statement in "\n".join(lines).split(";"):
            if statement.strip():
                await connection.exec_driver_sql(statement)


def value_for(column: Any, table: str, n: int) -> Any:
    """A value of the column's type for row n (1-based): integers are n, so that foreign
    keys refer to the row of the same number."""
    kind = column.type
    if isinstance(kind, Boolean):
        return n % 2 == 0
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, Float):
        return n + 0.25
    if isinstance(kind, DateTime):
        moment = dt.datetime(2026, 11, 20 + n, 9, 30, 15, 250000)
        return moment.replace(tzinfo=dt.UTC) if kind.timezone else moment
    if isinstance(kind, Date):
        return dt.date(2026, 11, 20 + n)
    if isinstance(kind, String | Text):
        text = f"{column.name} {n} – ghi chú tiếng Việt của {table}"
        length = getattr(kind, "length", None)
        return text[:length] if length else text
    raise AssertionError(f"no sample value for {table}.{column.name}: {kind!r}")


async def fill_every_table(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Two rows in every table of the database; returns them per table."""
    reflected = MetaData()
    async with connect(engine) as connection:
        await connection.run_sync(reflected.reflect)
    written: dict[str, list[dict[str, Any]]] = {}
    async with connect(engine, begin=True) as connection:
        for table in reflected.sorted_tables:
            # Ids the database assigns, as in use (on PostgreSQL a sequence counts them).
            assigned = table.autoincrement_column
            rows = [
                {
                    c.name: value_for(c, table.name, n)
                    for c in table.columns
                    if assigned is None or c.name != assigned.name
                }
                for n in range(1, ROWS_PER_TABLE + 1)
            ]
            for row in rows:
                await connection.execute(table.insert(), row)
            if assigned is not None:
                rows = [{assigned.name: n} | row for n, row in enumerate(rows, start=1)]
            written[table.name] = rows
    return written


async def read_every_table(engine: AsyncEngine, names: Sequence[str]) -> dict[str, list[Any]]:
    reflected = MetaData()
    async with connect(engine) as connection:
        await connection.run_sync(reflected.reflect)
        found: dict[str, list[Any]] = {}
        for name in names:
            table = reflected.tables[name]
            order = list(table.primary_key.columns)
            rows = await connection.execute(select(table).order_by(*order))
            found[name] = [dict(row._mapping) for row in rows]
    return found


@pytest.fixture
async def bare_engine(database_url: str) -> Any:
    """An engine on an empty database (no tables)."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_a_new_database_is_created_at_the_newest_revision(bare_engine: AsyncEngine) -> None:
    change = await ensure_schema(bare_engine)
    assert change.created and change.after == head_revision() == REVISIONS[-1]
    assert await recorded_revision(bare_engine) == (head_revision(),)
    assert await differences(bare_engine) == []
    again = await ensure_schema(bare_engine)
    assert not again.created and not again.migrated


async def test_the_revisions_build_what_the_models_declare(
    bare_engine: AsyncEngine, database_url: str
) -> None:
    await run_alembic(database_url, "upgrade", "head")
    assert await differences(bare_engine) == []
    # Downgrades are for developers; they must undo their upgrade.
    await run_alembic(database_url, "downgrade", "base")
    assert await recorded_revision(bare_engine) == ()
    await run_alembic(database_url, "upgrade", "head")
    assert await differences(bare_engine) == []


async def test_the_oldest_schema_with_data_in_every_table_migrates_without_loss(
    bare_engine: AsyncEngine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await build_legacy(bare_engine, "e5ad8fd")
    written = await fill_every_table(bare_engine)
    assert len(written) == 15  # every table of revision 0001
    config = write_config(tmp_path, database_url)

    assert await in_thread(main, ["--config", str(config), "migrate"]) == 0
    out = capsys.readouterr().out
    assert "(made before the bot had migrations) from schema revision 0001 to 0010" in out
    assert "0003  Broadcast jobs keep the caller's idempotency key" in out

    after = await read_every_table(bare_engine, sorted(written))
    for name, rows in written.items():
        added = {k: v for row in after[name] for k, v in row.items() if k not in rows[0]}
        assert [{k: row[k] for k in rows[0]} for row in after[name]] == rows, name
        assert set(added.values()) <= {None}, name  # columns added later are empty
    assert await differences(bare_engine) == []
    assert await recorded_revision(bare_engine) == ("0010",)

    # The migrated tables work as the new version uses them: ids go on, keys are unique.
    async with connect(bare_engine, begin=True) as connection:
        new_job = {
            "text": "Thông báo",
            "audience": "all",
            "channels": "telegram",
            "requested_by": "staff",
            "state": "running",
            "total": 0,
            "created_at": dt.datetime.now(dt.UTC),
            "request_key": "retry-1",
        }
        result = await connection.execute(jobs.insert().returning(jobs.c.id), new_job)
        assert result.scalar_one() == ROWS_PER_TABLE + 1
        outbox_rows = (await connection.execute(select(outbox.c.finished_by))).all()
        assert [row.finished_by for row in outbox_rows] == [None, None]
    with pytest.raises(IntegrityError, match="request_key"):
        async with connect(bare_engine, begin=True) as connection:
            await connection.execute(jobs.insert(), new_job)

    assert await in_thread(main, ["--config", str(config), "migrate"]) == 0
    assert "schema revision 0010, the newest: nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize("revision", REVISIONS)
async def test_a_database_made_before_migrations_is_recognised_by_what_it_holds(
    bare_engine: AsyncEngine, database_url: str, revision: str
) -> None:
    await run_alembic(database_url, "upgrade", revision)
    await forget_revision(bare_engine)
    if revision == head_revision():
        # Today's databases, made by create_all: nothing to migrate, nothing refused.
        change = await ensure_schema(bare_engine)
        assert change.legacy and not change.migrated
    else:
        with pytest.raises(
            SchemaOutdated, match=f"made before the bot had migrations, revision {revision}"
        ):
            await ensure_schema(bare_engine)
        change = await ensure_schema(bare_engine, migrate=True)
        assert (change.before, change.legacy) == (revision, True)
        assert change.applied == tuple(REVISIONS[REVISIONS.index(revision) + 1 :])
    assert await recorded_revision(bare_engine) == (head_revision(),)
    assert await differences(bare_engine) == []


async def test_a_database_that_is_not_one_the_bot_made_is_refused(
    bare_engine: AsyncEngine, database_url: str
) -> None:
    await run_alembic(database_url, "upgrade", "0003")
    await forget_revision(bare_engine)
    async with connect(bare_engine, begin=True) as connection:
        await connection.exec_driver_sql("DROP TABLE chat_contexts")
    with pytest.raises(SchemaError, match="not chat_contexts; it was not made by a released"):
        await ensure_schema(bare_engine, migrate=True)


async def test_a_database_of_a_newer_bot_is_refused(bare_engine: AsyncEngine) -> None:
    await ensure_schema(bare_engine)
    async with connect(bare_engine, begin=True) as connection:
        await connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(SchemaError, match="revision 0099, which this version of the bot does not"):
        await ensure_schema(bare_engine, migrate=True)


def test_commands_refuse_an_old_schema_in_one_line_unless_told_to_migrate(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not a coroutine: `bot run` runs its own event loop, and only the main thread may set
    # its signal handlers.
    async def revision_now() -> tuple[str, ...]:
        engine = create_engine(database_url)
        try:
            return await recorded_revision(engine)
        finally:
            await engine.dispose()

    asyncio.run(run_alembic(database_url, "upgrade", "0003"))
    config = write_config(tmp_path, database_url, '[dossiers]\nsource = "none"\n')
    for args in (["run"], ["chat"], ["stats"], ["broadcast", "list"], ["teach", "lessons"]):
        assert main([*args, "--config", str(config)]) == 1, args
        message = capsys.readouterr().err
        assert message.count("\n") == 1, message
        assert "revision 0003, needs 0010" in message and "run `bot migrate`" in message
        assert "[storage] auto_migrate = true" in message
    assert asyncio.run(revision_now()) == ("0003",)  # refused: left as it was

    async def start_migrating() -> None:
        migrating = write_config(
            tmp_path, database_url, 'auto_migrate = true\n[dossiers]\nsource = "none"\n'
        )
        async with open_core(load_config(migrating)):
            pass

    asyncio.run(start_migrating())
    assert asyncio.run(revision_now()) == ("0010",)


async def test_processes_starting_together_create_the_schema_once(database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        changes = await asyncio.gather(*(ensure_schema(engine) for engine in engines))
        assert sum(change.created for change in changes) == 1
        assert await recorded_revision(engines[0]) == (head_revision(),)
    finally:
        for engine in engines:
            await engine.dispose()
