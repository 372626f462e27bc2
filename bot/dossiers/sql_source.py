"""The dossier source for the center's one-stop database, through SQLAlchemy (read-only).

Centers run different vendors' systems, so nothing is hard-wired: four configured queries
(`dossiers.sql.*`) return columns named by the contract in `bot.dossiers.contract`, and the
vendor's status labels are mapped by `dossiers.status_labels`. With every query left empty
the bundled schema's queries are used (`bot.dossiers.bundled`, what `bot demo` creates).
With a lookup query but no history or changed-since query, history is empty and the watcher
has nothing to poll (pushes still work).

Cursors are opaque strings to the rest of the bot, but the driver sees them with the type
the query returned (an integer id, a timestamp, text): asyncpg refuses a text parameter
compared with a bigint or timestamp column, so the type travels inside the string.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import CursorResult, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import DossierConfig, DossierSqlConfig
from bot.dossiers import bundled
from bot.dossiers.contract import (
    CHANGE_COLUMNS,
    HISTORY_COLUMNS,
    LOOKUP_COLUMNS,
    ContractReader,
    require_columns,
)
from bot.dossiers.model import ChangePage, Dossier, HistoryEntry, StatusMapping
from bot.dossiers.source import PROBE_CODE, SourceMisconfigured, SourceUnavailable
from bot.storage.database import create_engine, redacted

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Changes fetched per round trip; the watcher keeps asking while pages come back full.
CHANGE_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class SqlQueries:
    lookup: str
    history: str
    changed_since: str
    change_head: str

    @classmethod
    def bundled(cls) -> SqlQueries:
        return cls(
            bundled.LOOKUP_QUERY,
            bundled.HISTORY_QUERY,
            bundled.CHANGED_SINCE_QUERY,
            bundled.CHANGE_HEAD_QUERY,
        )

    @classmethod
    def from_config(cls, config: DossierSqlConfig) -> SqlQueries:
        """The configured queries; all empty selects the bundled ones."""
        configured = (
            config.lookup_query,
            config.history_query,
            config.changed_since_query,
            config.change_head_query,
        )
        if not any(q.strip() for q in configured):
            return cls.bundled()
        if not config.lookup_query.strip():
            raise SourceMisconfigured(
                "dossiers.sql.lookup_query is empty while other dossier queries are set; "
                "set it, or leave all of them empty for the bundled schema"
            )
        if bool(config.changed_since_query.strip()) != bool(config.change_head_query.strip()):
            raise SourceMisconfigured(
                "dossiers.sql.changed_since_query and change_head_query go together; "
                "set both (for notifications) or neither"
            )
        return cls(*configured)


def encode_cursor(value: Any) -> str:
    """A cursor value from the database as a string that keeps its type."""
    if isinstance(value, bool):
        return f"i:{int(value)}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, decimal.Decimal):
        return f"d:{value}"
    if isinstance(value, float):
        return f"f:{value!r}"
    if isinstance(value, dt.datetime):
        return f"t:{value.isoformat()}"
    if isinstance(value, dt.date):
        return f"D:{value.isoformat()}"
    return f"s:{value}"


def decode_cursor(cursor: str) -> Any:
    kind, _, body = cursor.partition(":")
    try:
        if kind == "i":
            return int(body)
        if kind == "d":
            return decimal.Decimal(body)
        if kind == "f":
            return float(body)
        if kind == "t":
            return dt.datetime.fromisoformat(body)
        if kind == "D":
            return dt.date.fromisoformat(body)
    except (ValueError, decimal.InvalidOperation):
        pass
    else:
        if kind == "s":
            return body
    raise SourceMisconfigured(f"stored change cursor {cursor!r} is not one this source wrote")


class SqlDossierSource:
    """Reads dossiers with the configured queries from any SQLAlchemy async database."""

    def __init__(
        self,
        engine: AsyncEngine,
        queries: SqlQueries,
        reader: ContractReader,
        *,
        owns_engine: bool = True,
        page_size: int = CHANGE_PAGE_SIZE,
    ) -> None:
        self._engine = engine
        self._queries = queries
        self._lookup = text(queries.lookup)
        self._history = text(queries.history) if queries.history.strip() else None
        self._changed = text(queries.changed_since) if queries.changed_since.strip() else None
        self._head = text(queries.change_head) if queries.change_head.strip() else None
        self._reader = reader
        self._owns_engine = owns_engine
        self._page_size = page_size
        self._name = f"dossier database {redacted(str(engine.url))}"

    @classmethod
    def from_config(cls, config: DossierConfig) -> SqlDossierSource:
        return cls.for_engine(create_engine(config.sql.url), config)

    @classmethod
    def for_engine(
        cls, engine: AsyncEngine, config: DossierConfig, *, owns_engine: bool = True
    ) -> SqlDossierSource:
        reader = ContractReader(
            StatusMapping(config.status_labels),
            dt.timezone(dt.timedelta(hours=config.utc_offset_hours)),
            f"dossier database {redacted(str(engine.url))}",
        )
        return cls(engine, SqlQueries.from_config(config.sql), reader, owns_engine=owns_engine)

    async def lookup(self, code: str) -> Dossier | None:
        rows = await self._fetch(self._lookup, {"code": code}, "lookup")
        return self._reader.dossier(rows[0]) if rows else None

    async def history(self, code: str) -> list[HistoryEntry]:
        if self._history is None:
            return []
        rows = await self._fetch(self._history, {"code": code}, "history")
        return [self._reader.history_entry(row) for row in rows]

    async def changed_since(self, cursor: str | None) -> ChangePage:
        if self._changed is None or self._head is None:
            return ChangePage((), cursor or "")
        if cursor is None:
            rows = await self._fetch(self._head, {}, "change head")
            head = next(iter(rows[0].values()), None) if rows else None
            if head is None:
                raise SourceMisconfigured(
                    f"{self._name}: the change head query returned no value; make it return "
                    "one non-NULL column (e.g. SELECT COALESCE(MAX(id), 0) ...)"
                )
            return ChangePage((), encode_cursor(head))
        parameters = {"cursor": decode_cursor(cursor), "limit": self._page_size}
        rows = await self._fetch(self._changed, parameters, "changed-since")
        rows = rows[: self._page_size]
        changes = tuple(self._reader.change(row) for row in rows)
        next_cursor = encode_cursor(rows[-1]["cursor"]) if rows else cursor
        return ChangePage(changes, next_cursor)

    async def check(self) -> None:
        """Run every configured query once, matching nothing, and compare the columns it
        returns with the contract, so that a misconfigured query stops start-up rather than
        the first citizen's lookup."""
        columns = await self._columns(self._lookup, {"code": PROBE_CODE}, "lookup")
        self._check_columns("lookup", columns, ("code", "status"), LOOKUP_COLUMNS)
        if self._history is not None:
            columns = await self._columns(self._history, {"code": PROBE_CODE}, "history")
            self._check_columns("history", columns, ("at", "status"), HISTORY_COLUMNS)
        if self._changed is not None and self._head is not None:
            head = await self.changed_since(None)
            parameters = {"cursor": decode_cursor(head.cursor), "limit": 0}
            columns = await self._columns(self._changed, parameters, "changed-since")
            self._check_columns(
                "changed-since", columns, ("cursor", "code", "status"), CHANGE_COLUMNS
            )

    def _check_columns(
        self, query: str, columns: list[str], required: tuple[str, ...], known: tuple[str, ...]
    ) -> None:
        require_columns(self._name, query, columns, required)
        # Extra columns are allowed (a vendor's SELECT * ...), but one close to a contract
        # name is most likely a misspelt alias whose value would silently go missing.
        for column in columns:
            if column in known:
                continue
            close = difflib.get_close_matches(column, known, n=1, cutoff=0.75)
            if close and close[0] not in columns:
                log.warning(
                    "%s: the %s query returns a column %r, not in the contract; did you mean %r?",
                    self._name,
                    query,
                    column,
                    close[0],
                )

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    async def _columns(
        self, statement: Any, parameters: Mapping[str, Any], query: str
    ) -> list[str]:
        return await self._execute(statement, parameters, query, _column_names)

    async def _fetch(
        self, statement: Any, parameters: Mapping[str, Any], query: str
    ) -> list[Mapping[str, Any]]:
        return await self._execute(statement, parameters, query, _rows)

    async def _execute(
        self,
        statement: Any,
        parameters: Mapping[str, Any],
        query: str,
        read: Callable[[CursorResult[Any]], _T],
    ) -> _T:
        try:
            # A plain connection rolls back when closed: nothing is ever written.
            async with self._engine.connect() as connection:
                return read(await connection.execute(statement, dict(parameters)))
        except (SQLAlchemyError, OSError) as exc:
            if _is_query_mistake(exc):
                raise SourceMisconfigured(
                    f"{self._name}: the {query} query fails: {_first_line(exc)}"
                ) from exc
            raise SourceUnavailable(f"{self._name}: {_first_line(exc)}") from exc


def _is_query_mistake(exc: BaseException) -> bool:
    """The query itself is wrong (as opposed to the database being down or locked).

    PostgreSQL and most drivers say so with ProgrammingError; SQLite reports syntax errors
    and unknown columns as OperationalError, told apart by the message. A missing table is
    left an outage on SQLite: it is what a database not created yet looks like.
    """
    if isinstance(exc, ProgrammingError):
        return True
    if isinstance(exc, OperationalError):
        message = str(exc.orig if exc.orig is not None else exc)
        return "syntax error" in message or "no such column" in message
    return False


def _rows(result: CursorResult[Any]) -> list[Mapping[str, Any]]:
    return [dict(row) for row in result.mappings().all()]


def _column_names(result: CursorResult[Any]) -> list[str]:
    names = [str(key) for key in result.keys()]  # noqa: SIM118 (a Result, not a dict)
    result.close()
    return names


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
