"""Per-chat conversation context, kept in the bot's database.

Context lives in the database rather than in memory so that follow-ups ("còn lệ phí thì
sao?") work after a restart and when several bot processes share the load. It is small
JSON: the last procedure answered, the ranked candidates of the last question, and what
the bot is waiting for (a verification value, a rating comment).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.messages import ChatRef
from bot.storage.context_tables import chat_contexts
from bot.storage.database import RowLookup, connect
from bot.storage.upserts import upsert
from bot.storage.write_behind import DEFAULT_DELAY_SECONDS, WriteBehind

log = logging.getLogger(__name__)


# A context older than this is stale: "mất bao lâu" a day later should not be answered
# for yesterday's procedure without the citizen saying which one.
CONTEXT_TTL = dt.timedelta(hours=6)
# Dossiers a chat may rate: a family looks up a few at most.
MAX_DOSSIER_CODES = 10


@dataclass(frozen=True, slots=True)
class ChatContext:
    procedure_code: str | None = None
    candidate_codes: tuple[str, ...] = ()
    rejected_codes: tuple[str, ...] = ()
    shown_codes: tuple[str, ...] = ()  # the choices last offered
    last_question: str = ""
    last_intent: str = "general"
    # What the next free-text message answers: "verification" (of `pending_code`),
    # "rating_comment" (for `pending_code`), or None for a new question.
    awaiting: str | None = None
    pending_code: str | None = None
    greeted: bool = False
    # Receipt codes this chat looked up (found), newest last, at most MAX_DOSSIER_CODES:
    # a rating is taken only for one of them. Kept when the rest goes stale: the rating
    # buttons come with the "returned" notice, days after the lookup.
    dossier_codes: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def with_dossier(self, code: str) -> ChatContext:
        """This context, remembering that the chat looked up `code`."""
        codes = (*(c for c in self.dossier_codes if c != code), code)
        return dataclasses.replace(self, dossier_codes=codes[-MAX_DOSSIER_CODES:])

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
        for key in ("candidate_codes", "rejected_codes", "shown_codes", "dossier_codes"):
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
_Key = tuple[str, str]
_Saved = dict[str, object]


class ContextStore:
    """Chat contexts in the bot's database, saved write-behind.

    `save` returns at once; the context is written within a moment together with the
    other chats' saves (bot.storage.write_behind), and `load` sees it before that. If the
    process dies meanwhile, at most the last moment's contexts are lost (a follow-up then
    asks which procedure is meant). `load` reads the database on every message (on a
    connection kept for it, bot.storage.database.RowLookup), so it sees what another bot
    process wrote. `close` writes what is pending.
    """

    def __init__(self, engine: AsyncEngine, flush_delay: float = DEFAULT_DELAY_SECONDS) -> None:
        self._engine = engine
        self._saves: WriteBehind[_Key, _Saved] = WriteBehind(
            engine,
            _write_contexts,
            name="chat contexts",
            table=chat_contexts.name,
            delay=flush_delay,
        )
        self._rows = RowLookup(engine, _LOAD)

    async def load(self, chat: ChatRef, now: dt.datetime) -> ChatContext:
        key = (chat.channel.value, chat.chat_id)
        unwritten = self._saves.pending(key)
        if unwritten is not None:
            data, updated_at = str(unwritten["data"]), unwritten["updated_at"]
        else:
            row = await self._rows.first({"channel": key[0], "chat_id": key[1]})
            if row is None:
                return ChatContext()
            data, updated_at = row
        assert isinstance(updated_at, dt.datetime)
        context = ChatContext.from_json(data)
        if updated_at.tzinfo is None:  # SQLite returns naive datetimes
            updated_at = updated_at.replace(tzinfo=dt.UTC)
        if now - updated_at > CONTEXT_TTL:
            # Keep only what is not about the last question.
            return ChatContext(greeted=context.greeted, dossier_codes=context.dossier_codes)
        return context

    async def save(self, chat: ChatRef, context: ChatContext, now: dt.datetime) -> None:
        key = (chat.channel.value, chat.chat_id)
        row: _Saved = {
            "channel": key[0],
            "chat_id": key[1],
            "data": context.to_json(),
            "updated_at": now,
        }
        self._saves.put(key, row)

    @property
    def queued(self) -> int:
        """Saves not written yet (health checks, tests)."""
        return self._saves.queued

    async def flush(self) -> None:
        """Write pending saves now (raises StorageUnavailable; they stay pending)."""
        await self._saves.flush()

    async def close(self) -> None:
        await self._saves.close()
        await self._rows.close()

    async def forget(self, chat: ChatRef) -> None:
        key = (chat.channel.value, chat.chat_id)
        self._saves.discard(key)
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                delete(chat_contexts).where(
                    chat_contexts.c.channel == key[0],
                    chat_contexts.c.chat_id == key[1],
                )
            )


async def _write_contexts(connection: AsyncConnection, rows: list[_Saved]) -> None:
    statement = upsert(
        connection, chat_contexts, key=("channel", "chat_id"), update=("data", "updated_at")
    )
    await connection.execute(statement, rows)


async def forget_contexts(connection: AsyncConnection, before: dt.datetime) -> int:
    """Delete conversation contexts last used before `before` (aware): the last question a
    citizen asked and the chat id. (A context is stale after CONTEXT_TTL anyway; an old row
    only remembers that the chat was greeted, so a citizen back after it is greeted again.)
    Returns the rows deleted."""
    result = await connection.execute(
        delete(chat_contexts).where(chat_contexts.c.updated_at < before.astimezone(dt.UTC))
    )
    return int(result.rowcount)
