"""The bot's own database: engine creation, the shared table metadata, connections.

The tables of every feature (dialogue context, dossier audit, broadcast outbox, ...) are
declared on `metadata` in storage's `*_tables` modules; `bot.storage.schema` knows them all
and keeps the schema at this version's revision.
SQLAlchemy Core is used rather than the ORM: the stores are small and explicit SQL keeps
claims such as `FOR UPDATE SKIP LOCKED` visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Select, String, cast, event, literal, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.storage.outage import outage_log

log = logging.getLogger(__name__)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# Advisory lock keys on PostgreSQL ("tthcbot" in ASCII, as a number, then one per purpose).
SCHEMA_LOCK = 0x7474686362_6F74
BROADCAST_WORKERS_LOCK = SCHEMA_LOCK + 1
DOSSIER_GUARD_LOCK = SCHEMA_LOCK + 2


# An identifier erased after the retention period becomes "#" and its row's own id: no
# channel's chat or user ids start with "#", and erased ones stay distinct, so unique
# constraints still hold.
ERASED_PREFIX = "#"


def erased_id(row_id: ColumnElement[Any]) -> ColumnElement[str]:
    """The value an identifier of the row with `row_id` is erased to."""
    return literal(ERASED_PREFIX) + cast(row_id, String)


def is_erased(identifier: ColumnElement[Any]) -> ColumnElement[bool]:
    return identifier.startswith(ERASED_PREFIX)


class StorageError(Exception):
    """The database URL is unusable (bad form, missing driver)."""


class StorageUnavailable(Exception):
    """The database could not be reached or failed; the message names the cause.

    Already logged (once per outage, bot.storage.outage) where it was raised: whoever
    catches it need not log it again."""


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # ValueError: a port that is not a number. The message must not show the password.
        reason = "a port must be a number" if isinstance(exc, ValueError) else "not understood"
        raise StorageError(f"not a database URL ({reason}): {redacted(url)!r}") from None
    return parsed


# "scheme://user:password@" or "user:password@" at the start: what a password looks like in
# a URL that SQLAlchemy cannot parse (and so cannot render without it).
_PASSWORD_IN_URL = re.compile(r"(^|//)([^:/@\s]*):(?!//)([^@\s]*)@")


def redacted(url: str) -> str:
    """The URL with any password hidden, for logs and error messages (even when the URL is
    malformed)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\1\2:***@", url, count=1)


def create_engine(url: str, *, pool_size: int = 5, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; SQLite files get their folder, WAL and a busy timeout."""
    parsed = parse_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    options: dict[str, Any] = dict(kwargs)
    if is_sqlite:
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        options.setdefault("pool_size", pool_size)
        options.setdefault("pool_pre_ping", True)
    try:
        engine = create_async_engine(parsed, **options)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StorageError(
            f"no async driver for {redacted(url)}: {exc}; use e.g. sqlite+aiosqlite:// "
            "or postgresql+asyncpg://"
        ) from None
    except ArgumentError as exc:
        raise StorageError(f"unusable database URL {redacted(url)}: {exc}") from None
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web chat read while a broadcast writes; busy_timeout makes concurrent
    # writers wait instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


async def lock_transaction(connection: AsyncConnection, key: int) -> None:
    """Hold lock `key` until the transaction ends, so transactions with that key run one
    after the other and each sees what the previous one committed.

    PostgreSQL: an advisory transaction lock. SQLite needs none: it has a single writer,
    and a transaction that writes first holds the database until it ends.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@asynccontextmanager
async def connect(engine: AsyncEngine, *, begin: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection (in a transaction when `begin`), with outages raised as StorageUnavailable."""
    try:
        if begin:
            async with engine.begin() as connection:
                yield connection
        else:
            async with engine.connect() as connection:
                yield connection
    except _FAILURES as exc:
        unavailable = _as_unavailable(engine, exc)
        if unavailable is None:
            raise
        outage_log(engine).failed(_cause(exc))
        raise unavailable from exc
    outage_log(engine).succeeded()


# What a database call raises when the database is down (and when a statement is wrong).
_FAILURES = (DBAPIError, PoolTimeout, OSError, ConnectionError, sqlite3.Error)


def _as_unavailable(engine: AsyncEngine, exc: BaseException) -> StorageUnavailable | None:
    """StorageUnavailable for an outage; None for a mistake (bad SQL, a constraint)."""
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not _is_outage(exc):
        return None
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.OperationalError):
        return None
    return StorageUnavailable(f"{redacted(str(engine.url))}: {_cause(exc)}")


_Processor = Callable[[Any], Any] | None


class RowLookup:
    """One SELECT of at most one row, run often, on a connection kept open for it.

    For reads on every message (a chat's context). A pooled connection costs a checkout and
    a reset per read, and SQLAlchemy's aiosqlite adapter four trips to the driver's thread
    per statement: 0.28 ms of CPU per read of a chat context, 0.63 ms with 8 reads at once,
    when the pool overflows and opens and closes connections, a thread each (SQLite).
    Here the connection stays checked out and each read is a single statement outside any
    transaction, so it sees every commit made before it, by this process or another (SQLite
    in WAL mode, PostgreSQL in autocommit). On SQLite the statement goes to aiosqlite
    directly, one trip to its thread: 0.03-0.05 ms. A failed read gives the connection up;
    the next read opens another. Outages raise StorageUnavailable, as `connect` does.
    """

    def __init__(self, engine: AsyncEngine, statement: Select[Any]) -> None:
        self._engine = engine
        self._statement = statement
        self._connection: AsyncConnection | None = None
        self._sqlite: Any = None  # the kept connection's aiosqlite connection, on SQLite
        # Opening and closing, and statements off SQLite: one at a time on one connection.
        self._lock = asyncio.Lock()
        self._closed = False
        dialect = engine.dialect
        self._on_sqlite = dialect.driver == "aiosqlite"
        compiled = statement.compile(dialect=dialect)
        self._sql = str(compiled)
        self._names: Sequence[str] = compiled.positiontup or ()
        self._binds: list[_Processor] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self._names
        ]
        self._results: list[_Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    async def first(self, parameters: Mapping[str, Any]) -> Sequence[Any] | None:
        """The row for `parameters` (the statement's bound names), or None."""
        try:
            try:
                found = await self._first_kept(parameters)
            except _Closed:
                # A straggler while the bot shuts down: read the ordinary way.
                async with self._engine.connect() as connection:
                    row = (await connection.execute(self._statement, dict(parameters))).first()
                found = None if row is None else tuple(row)
        except _FAILURES as exc:
            unavailable = _as_unavailable(self._engine, exc)
            if unavailable is None:
                raise
            outage_log(self._engine).failed(_cause(exc))
            raise unavailable from exc
        outage_log(self._engine).succeeded()
        return found

    async def _first_kept(self, parameters: Mapping[str, Any]) -> Sequence[Any] | None:
        for attempt in range(2):
            try:
                if self._on_sqlite:
                    return await self._first_on_sqlite(parameters)
                return await self._first_in_autocommit(parameters)
            except _FAILURES as exc:
                # The kept connection died while idle (the server restarted): once more on
                # a new one, as a pool's pre-ping would have found out before using it.
                if attempt or not (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _first_on_sqlite(self, parameters: Mapping[str, Any]) -> Sequence[Any] | None:
        if self._sqlite is None:
            async with self._lock:
                if self._sqlite is None:
                    raw = await (await self._kept()).get_raw_connection()
                    self._sqlite = raw.driver_connection
        values = [
            parameters[name] if process is None else process(parameters[name])
            for name, process in zip(self._names, self._binds, strict=True)
        ]
        # Fetching every row ends the statement, and with it SQLite's read transaction: the
        # connection holds no snapshot between reads. Reads queue on aiosqlite's thread.
        try:
            rows = await self._sqlite.execute_fetchall(self._sql, values)
        except _FAILURES:
            await self._give_up()
            raise
        if not rows:
            return None
        return tuple(
            value if process is None else process(value)
            for value, process in zip(rows[0], self._results, strict=True)
        )

    async def _first_in_autocommit(self, parameters: Mapping[str, Any]) -> Sequence[Any] | None:
        async with self._lock:
            connection = await self._kept()
            try:
                row = (await connection.execute(self._statement, dict(parameters))).first()
            except _FAILURES:
                await self._give_up()
                raise
        return None if row is None else tuple(row)

    async def _kept(self) -> AsyncConnection:
        """The kept connection, opened when there is none (call with the lock held)."""
        if self._closed:
            raise _Closed
        if self._connection is None:
            connection = await self._engine.connect()
            if not self._on_sqlite:
                try:
                    connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                except BaseException:
                    await connection.close()
                    raise
            self._connection = connection
        return self._connection

    async def _give_up(self) -> None:
        connection, self._connection, self._sqlite = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        """Give the connection back; later reads (stragglers) use a pooled one each."""
        async with self._lock:
            self._closed = True
            connection, self._connection, self._sqlite = self._connection, None, None
            if connection is not None:
                with contextlib.suppress(*_FAILURES):
                    await connection.close()


class _Closed(Exception):
    """The RowLookup was closed while a read waited to open its connection."""


def _is_outage(exc: DBAPIError) -> bool:
    name = type(exc.orig).__name__ if exc.orig is not None else ""
    text = str(exc.orig or exc).lower()
    return (
        "OperationalError" in type(exc).__name__
        or "connect" in text
        or "unable to open" in text
        or "InterfaceError" in name
        or "CannotConnectNow" in name
        or "ConnectionDoesNotExist" in name
    )


def _cause(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
