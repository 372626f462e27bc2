"""INSERT ... ON CONFLICT for the two databases the bot runs on, written once.

Standard SQL has no "insert or update" that both engines understand; PostgreSQL and SQLite
(3.24+) share the ON CONFLICT form, but SQLAlchemy builds it from each dialect's own
`insert`. The statements take their values at execution, one row or many:

    await connection.execute(upsert(connection, ratings, key=KEY, update=CHANGED), row)
    await insert_ignoring_duplicates(connection, push_nonces, rows)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


class UnsupportedDatabase(Exception):
    """The bot stores its data in SQLite or PostgreSQL only."""


def _dialect_insert(
    connection: AsyncConnection, table: Table
) -> postgresql.Insert | sqlite.Insert:
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDatabase(f"the bot's database must be SQLite or PostgreSQL, not {name}")


def upsert(
    connection: AsyncConnection, table: Table, *, key: Sequence[str], update: Iterable[str]
) -> Insert:
    """Insert a row; where one with the same `key` columns exists, set its `update` columns
    to the new row's values instead (the other columns keep theirs)."""
    statement = _dialect_insert(connection, table)
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in update},
    )


async def insert_ignoring_duplicates(
    connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert rows, skipping those that clash with a unique key; returns how many went in.

    ON CONFLICT DO NOTHING rather than catching IntegrityError: a failed statement aborts a
    PostgreSQL transaction, and callers share theirs with other writes (a cursor update).
    """
    if not rows:
        return 0
    statement = _dialect_insert(connection, table).on_conflict_do_nothing()
    inserted = 0
    # One row at a time: a many-row execution does not say how many rows went in.
    for row in rows:
        result = await connection.execute(statement, dict(row))
        inserted += max(result.rowcount, 0)
    return inserted
