"""The bot's own database: engine creation, the shared table metadata, schema set-up.

Feature packages (dialogue context, dossier audit, broadcast outbox, ...) declare their
tables on `metadata` in their own modules; `create_schema` creates whatever is missing.
SQLAlchemy Core is used rather than the ORM: the stores are small and explicit SQL keeps
claims such as `FOR UPDATE SKIP LOCKED` visible.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

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


# Advisory lock key for schema creation ("tthcbot" in ASCII, as a number).
_LOCK = 0x7474686362_6F74


class StorageError(Exception):
    """The database URL is unusable (bad form, missing driver)."""


class StorageUnavailable(Exception):
    """The database could not be reached or failed; the message names the cause."""


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"not a database URL: {url!r}") from None
    return parsed


def redacted(url: str) -> str:
    """The URL with any password hidden, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


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


async def create_schema(engine: AsyncEngine) -> None:
    """Create the bot's tables that do not exist yet.

    Only tables declared by modules imported so far are known to `metadata`; the
    composition root (`bot.app.declare_tables`) imports every feature's table module first.
    """
    async with connect(engine, begin=True) as connection:
        if connection.dialect.name == "postgresql":
            # Several processes starting together would race to create the same tables
            # (duplicate key in pg_type); one at a time, the others then find them.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        await connection.run_sync(metadata.create_all)


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
    except (DBAPIError, PoolTimeout, OSError, ConnectionError) as exc:
        if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not _is_outage(exc):
            raise
        raise StorageUnavailable(f"{redacted(str(engine.url))}: {_cause(exc)}") from exc


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
