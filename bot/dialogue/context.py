"""Per-chat conversation context, kept in the bot's database.

Context lives in the database rather than in memory so that follow-ups ("còn lệ phí thì
sao?") work after a restart and when several bot processes share the load. It is small
JSON: the last procedure answered, the ranked candidates of the last question, and what
the bot is waiting for (a verification value, a rating comment).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, DateTime, String, Table, Text, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import ChatRef
from bot.storage.database import StorageUnavailable, connect, metadata

log = logging.getLogger(__name__)

chat_contexts = Table(
    "chat_contexts",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("chat_id", String(128), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A context older than this is stale: "mất bao lâu" a day later should not be answered
# for yesterday's procedure without the citizen saying which one.
CONTEXT_TTL = dt.timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class ChatContext:
    procedure_code: str | None = None
    candidate_codes: tuple[str, ...] = ()
    rejected_codes: tuple[str, ...] = ()
    last_question: str = ""
    last_intent: str = "general"
    # What the next free-text message answers: "verification" (of `pending_code`),
    # "rating_comment" (for `pending_code`), or None for a new question.
    awaiting: str | None = None
    pending_code: str | None = None
    greeted: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChatContext:
        try:
            raw: Any = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(raw, dict):
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for key in ("candidate_codes", "rejected_codes"):
            if isinstance(values.get(key), list):
                values[key] = tuple(str(v) for v in values[key])
        try:
            return cls(**values)
        except TypeError:
            return cls()


_LOAD = select(chat_contexts.c.data, chat_contexts.c.updated_at).where(
    chat_contexts.c.channel == bindparam("channel"),
    chat_contexts.c.chat_id == bindparam("chat_id"),
)
# Saves are gathered for this long and written in one transaction: one commit for many
# turns instead of one each. Nobody types a follow-up within 50 ms of an answer, so the
# next message (even on another bot process) finds the context written.
FLUSH_DELAY_SECONDS = 0.05

_Key = tuple[str, str]


class ContextStore:
    """Chat contexts in the bot's database, saved write-behind.

    `save` returns at once; the context is written within FLUSH_DELAY_SECONDS together with
    the other chats' saves. `load` sees saves of this process that are not written yet.
    `close` writes what is pending (the composition root calls it on shutdown). When the
    database is down, pending saves are kept and retried with the next flush; if the
    process dies meanwhile, at most the last moments' contexts are lost (a follow-up then
    asks which procedure is meant), never a dossier or subscription.
    """

    def __init__(self, engine: AsyncEngine, flush_delay: float = FLUSH_DELAY_SECONDS) -> None:
        self._engine = engine
        self._flush_delay = flush_delay
        self._pending: dict[_Key, tuple[str, dt.datetime]] = {}
        self._writing: dict[_Key, tuple[str, dt.datetime]] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._failing = False

    async def load(self, chat: ChatRef, now: dt.datetime) -> ChatContext:
        key = (chat.channel.value, chat.chat_id)
        unwritten = self._pending.get(key) or self._writing.get(key)
        if unwritten is not None:
            data, updated_at = unwritten
        else:
            async with connect(self._engine) as connection:
                row = (
                    await connection.execute(_LOAD, {"channel": key[0], "chat_id": key[1]})
                ).first()
            if row is None:
                return ChatContext()
            data, updated_at = row.data, row.updated_at
        context = ChatContext.from_json(data)
        if updated_at.tzinfo is None:  # SQLite returns naive datetimes
            updated_at = updated_at.replace(tzinfo=dt.UTC)
        if now - updated_at > CONTEXT_TTL:
            # Keep only what is not about the last question.
            return ChatContext(greeted=context.greeted)
        return context

    async def save(self, chat: ChatRef, context: ChatContext, now: dt.datetime) -> None:
        self._pending[(chat.channel.value, chat.chat_id)] = (context.to_json(), now)
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.create_task(self._flush_later(), name="context-flush")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_delay)
        try:
            await self.flush()
        except StorageUnavailable as exc:
            if not self._failing:
                log.error("chat contexts not saved, will retry: %s", exc)
                self._failing = True
            if self._pending:
                self._flush_task = asyncio.create_task(self._retry_later())
        except Exception:
            log.exception("chat contexts not saved")

    async def _retry_later(self) -> None:
        await asyncio.sleep(max(self._flush_delay, 1.0))
        await self._flush_later()

    async def flush(self) -> None:
        """Write every pending save now (raises StorageUnavailable; the saves stay pending)."""
        async with self._write_lock:
            if not self._pending:
                return
            self._writing, self._pending = self._pending, {}
            rows = [
                {"channel": key[0], "chat_id": key[1], "data": data, "updated_at": at}
                for key, (data, at) in self._writing.items()
            ]
            try:
                async with connect(self._engine, begin=True) as connection:
                    insert = (
                        pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
                    )
                    statement = insert(chat_contexts)
                    statement = statement.on_conflict_do_update(
                        index_elements=[chat_contexts.c.channel, chat_contexts.c.chat_id],
                        set_={
                            "data": statement.excluded.data,
                            "updated_at": statement.excluded.updated_at,
                        },
                    )
                    await connection.execute(statement, rows)
            except BaseException:
                # Newer saves made meanwhile win over the ones that failed.
                self._pending = {**self._writing, **self._pending}
                raise
            finally:
                self._writing = {}
            if self._failing:
                log.warning("chat contexts saved again")
                self._failing = False

    async def close(self) -> None:
        """Write what is pending; called once at shutdown."""
        if self._flush_task is not None and not self._flush_task.done():
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
        try:
            await self.flush()
        except StorageUnavailable as exc:
            log.error("%d chat contexts lost at shutdown: %s", len(self._pending), exc)

    async def forget(self, chat: ChatRef) -> None:
        key = (chat.channel.value, chat.chat_id)
        self._pending.pop(key, None)
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                delete(chat_contexts).where(
                    chat_contexts.c.channel == key[0],
                    chat_contexts.c.chat_id == key[1],
                )
            )
