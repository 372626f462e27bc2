"""Every table of the bot's database, and the schema made ready for this version of the bot.

Every table is declared here in storage, one module per feature (`broadcast_tables`,
`dossier_tables`, `context_tables`, ...), on the shared `bot.storage.database.metadata`,
and the features import their tables from storage; this module is the one place that
knows them all, so that every command creates (and checks) the same schema whichever
features it loads. Storage thus imports nothing above it: the features stand on it, not
it on them. A new table: its module here, its place in TABLES, and a revision.

The schema's versions are Alembic revisions (bot/storage/migrations/versions), recorded
in the database's `alembic_version` table:

    ensure_schema(engine)               every command that opens the database, at start:
                                        a new database is created at the newest revision,
                                        an older one refused with SchemaOutdated
    ensure_schema(engine, migrate=True) `bot migrate` and [storage] auto_migrate: an older
                                        database is migrated to the newest revision

Databases made before the bot had migrations carry no revision; what they hold tells
which revision they match (`_legacy_revision`). Schema work runs in one transaction that
holds a lock, so processes starting together create or migrate the database once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, event, inspect
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage import broadcast_tables as broadcast
from bot.storage import dossier_tables as dossiers
from bot.storage import handoff_tables as handoff
from bot.storage import stats_tables as stats
from bot.storage import teaching_tables as teaching
from bot.storage import web_tables as web
from bot.storage import zalo_tables as zalo
from bot.storage.context_tables import chat_contexts
from bot.storage.database import (
    SCHEMA_LOCK,
    connect,
    create_engine,
    lock_transaction,
    metadata,
)

log = logging.getLogger(__name__)

TABLES: tuple[Table, ...] = (
    chat_contexts,
    broadcast.subscribers,
    broadcast.subscriber_topics,
    broadcast.jobs,
    broadcast.outbox,
    broadcast.workers,
    dossiers.lookup_audit,
    dossiers.requesters,
    dossiers.access_grants,
    dossiers.failed_lookups,
    dossiers.subscriptions,
    dossiers.watch_cursors,
    dossiers.changes,
    dossiers.deliveries,
    dossiers.push_nonces,
    stats.questions,
    stats.answer_feedback,
    stats.ratings,
    zalo.zalo_tokens,
    zalo.zalo_choices,
    zalo.zalo_seen_events,
    teaching.lessons,
    handoff.handoffs,
    web.web_history,
    web.follow_tokens,
)

# A table declared on the shared metadata but missing above would have no migration.
_unlisted = sorted(set(metadata.tables) - {table.name for table in TABLES})
if _unlisted:
    raise RuntimeError(f"tables missing from bot.storage.schema.TABLES: {', '.join(_unlisted)}")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# How Alembic runs and compares (env.py): batch mode, because SQLite alters a table by
# copying it; types compared too, so that autogenerate sees a changed column type.
MIGRATION_OPTIONS: Mapping[str, Any] = {
    "target_metadata": metadata,
    "render_as_batch": True,
    "compare_type": True,
}


class SchemaError(Exception):
    """The database's schema cannot be used by this version of the bot; the message (one
    line) says why and what to do."""


class SchemaOutdated(SchemaError):
    """The database's schema is older than this version of the bot: `bot migrate`."""


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """What ensure_schema found and did."""

    before: str | None  # the revision found; None for a new database
    after: str  # the revision now (the newest)
    legacy: bool = False  # made before the bot had migrations (no revision recorded)
    applied: tuple[str, ...] = ()  # the revisions run, oldest first

    @property
    def created(self) -> bool:
        return self.before is None

    @property
    def migrated(self) -> bool:
        return self.before is not None and self.before != self.after


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's configuration for the bot's revisions, found beside this module (so the
    bot runs from any folder and from an installed package); `connection` is the one the
    revisions run on."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision: the schema of this version of the bot."""
    head = _scripts().get_current_head()
    assert head is not None, "bot/storage/migrations/versions holds no revision"
    return head


def revision_summary(revision: str) -> str:
    """The first line of a revision's description."""
    script = _scripts().get_revision(revision)
    doc = script.doc if script is not None else ""
    return doc.strip().splitlines()[0] if doc.strip() else revision


async def ensure_schema(engine: AsyncEngine, *, migrate: bool = False) -> SchemaChange:
    """Make the database ready for this version of the bot, or say why it is not.

    A database without any of the bot's tables is created at the newest revision; one at
    the newest revision is left as it is. An older one is migrated when `migrate`, else
    SchemaOutdated says to run `bot migrate`. SchemaError for a database made by a newer
    version of the bot, or one that does not hold what its revision says.
    """
    where = engine.url.render_as_string(hide_password=True)
    async with schema_connection(engine.url) as connection:
        change = await connection.run_sync(_ensure, migrate, where)
    if change.created:
        log.info("database %s created at schema revision %s", where, change.after)
    elif change.migrated:
        log.warning(
            "database %s migrated from schema revision %s to %s",
            where,
            change.before,
            change.after,
        )
    return change


@asynccontextmanager
async def schema_connection(url: URL | str) -> AsyncIterator[AsyncConnection]:
    """A connection for schema work: in a transaction that holds the schema lock, and on
    SQLite one that really is a transaction for DDL too, with foreign keys off."""
    engine = create_engine(
        url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_for_schema_work)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    try:
        async with connect(engine, begin=True) as connection:
            await lock_transaction(connection, SCHEMA_LOCK)
            yield connection
    finally:
        await engine.dispose()


def _sqlite_for_schema_work(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 begins transactions before INSERT/UPDATE/DELETE only, so CREATE,
    # DROP and ALTER would each commit on their own: a migration failing half-way would
    # leave half a schema. With its transaction handling off, _sqlite_begin_immediate
    # begins one for everything. Foreign keys off (they can only be switched outside a
    # transaction): a migration that copies a table (batch mode) drops the old one, which
    # would otherwise delete, through ON DELETE CASCADE, the rows that refer to it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    # IMMEDIATE takes the write lock now: a second process waits (busy_timeout) and then
    # finds the schema ready, instead of both creating it.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure(connection: Connection, migrate: bool, where: str) -> SchemaChange:
    head = head_revision()
    context = MigrationContext.configure(connection)
    recorded = context.get_current_heads()
    present = set(inspect(connection).get_table_names()) & set(metadata.tables)
    if not recorded and not present:
        metadata.create_all(connection)
        context.stamp(_scripts(), head)
        return SchemaChange(before=None, after=head)
    if len(recorded) > 1:
        raise SchemaError(f"{where}: several schema revisions recorded ({', '.join(recorded)})")
    legacy = not recorded
    found = recorded[0] if recorded else _legacy_revision(connection, present, where)
    if found == head:
        if legacy:
            # Made before migrations by this very schema: only the revision was missing.
            context.stamp(_scripts(), head)
        return SchemaChange(before=head, after=head, legacy=legacy)
    if found not in _revisions_up_to(head):
        raise SchemaError(
            f"{where}: the database has schema revision {found}, which this version of the "
            f"bot does not know (its newest is {head}): it was made by a newer version"
        )
    if not migrate:
        made = "made before the bot had migrations, " if legacy else ""
        raise SchemaOutdated(
            f"{where}: the database's schema is older than this version of the bot "
            f"({made}revision {found}, needs {head}); back it up and run `bot migrate` "
            "(or set [storage] auto_migrate = true)"
        )
    if legacy:
        context.stamp(_scripts(), found)
    command.upgrade(alembic_config(connection), head)
    applied = tuple(reversed([s.revision for s in _scripts().iterate_revisions(head, found)]))
    return SchemaChange(before=found, after=head, legacy=legacy, applied=applied)


@functools.cache
def _revisions_up_to(head: str) -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions("base", head))


# Databases made before migrations (by `metadata.create_all`) carry no revision. Each
# revision after the first left a mark they show: the revision a database matches is the
# newest whose mark it has, and it must have the marks of the earlier ones too. Later
# revisions need no mark (databases made since record their revision), except one for a
# change a version without migrations already made.
_FIRST_TABLES = frozenset(
    {
        "chat_contexts",
        "broadcast_subscribers",
        "broadcast_subscriber_topics",
        "broadcast_jobs",
        "broadcast_outbox",
        "zalo_oa_tokens",
        "zalo_pending_choices",
        "dossier_lookup_audit",
        "dossier_requesters",
        "dossier_access_grants",
        "dossier_subscriptions",
        "dossier_watch_cursors",
        "dossier_changes",
        "dossier_deliveries",
        "dossier_push_nonces",
    }
)
_LEGACY_MARKS: tuple[tuple[str, str, str | None], ...] = (
    # (revision, table, column): the table has the column (or, for None, exists)
    ("0002", "broadcast_outbox", "finished_by"),
    ("0003", "broadcast_jobs", "request_key"),
    ("0004", "stats_questions", None),
    ("0004", "stats_answer_feedback", None),
    ("0004", "stats_ratings", None),
    ("0005", "broadcast_workers", None),
    ("0006", "taught_lessons", None),
    ("0007", "dossier_failed_lookups", None),
    ("0008", "zalo_seen_events", None),
    ("0009", "handoffs", None),
    ("0010", "web_chat_history", None),
)


def _legacy_revision(connection: Connection, present: set[str], where: str) -> str:
    """The revision a database made before migrations matches."""
    if not present >= _FIRST_TABLES:
        missing = ", ".join(sorted(_FIRST_TABLES - present))
        raise SchemaError(
            f"{where}: the database holds some of the bot's tables but not {missing}; it was "
            "not made by a released version of the bot"
        )
    inspector = inspect(connection)

    def shows(table: str, column: str | None) -> bool:
        if table not in present:
            return False
        return column is None or any(c["name"] == column for c in inspector.get_columns(table))

    marks = [
        (revision, table, column, shows(table, column))
        for revision, table, column in _LEGACY_MARKS
    ]
    found = max((revision for revision, _, _, shown in marks if shown), default="0001")
    lacking = [
        f"{table}.{column}" if column else table
        for revision, table, column, shown in marks
        if revision <= found and not shown
    ]
    if lacking:
        raise SchemaError(
            f"{where}: the database looks like schema revision {found} but lacks "
            f"{', '.join(lacking)}; it was not made by a released version of the bot"
        )
    return found
