"""Hand-offs to staff, kept in the bot's database (table `handoffs`, bot.storage.handoff_tables).

A row is opened when a citizen asks for a person during office hours and closed by the
citizen, by staff or by the timeout. Its id is the number staff see ("#12") in the staff
group; the row holds which chat to answer, never what was said, so nothing personal
outlives the conversation beyond the chat id (the row is deleted with the other chat ids
after `[storage] personal_data_days`, bot.retention).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.messages import Channel, ChatRef
from bot.storage.database import connect
from bot.storage.handoff_tables import handoffs


class ClosedBy(StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Handoff:
    number: int
    chat: ChatRef
    opened_at: dt.datetime
    last_activity_at: dt.datetime
    closed_at: dt.datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(stored: dt.datetime | None) -> dt.datetime | None:
    return None if stored is None else stored.replace(tzinfo=dt.UTC)


def _handoff(row: object) -> Handoff:
    opened, last = _aware(row.opened_at), _aware(row.last_activity_at)  # type: ignore[attr-defined]
    assert opened is not None and last is not None
    return Handoff(
        number=int(row.id),  # type: ignore[attr-defined]
        chat=ChatRef(Channel(row.channel), row.chat_id),  # type: ignore[attr-defined]
        opened_at=opened,
        last_activity_at=last,
        closed_at=_aware(row.closed_at),  # type: ignore[attr-defined]
    )


class HandoffStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open(self, chat: ChatRef, now: dt.datetime) -> Handoff:
        """A new hand-off for `chat`, or the one it already has open."""
        async with connect(self._engine, begin=True) as connection:
            row = (
                await connection.execute(
                    select(handoffs).where(
                        handoffs.c.channel == chat.channel.value,
                        handoffs.c.chat_id == chat.chat_id,
                        handoffs.c.closed_at.is_(None),
                    )
                )
            ).first()
            if row is not None:
                return _handoff(row)
            result = await connection.execute(
                insert(handoffs).values(
                    channel=chat.channel.value,
                    chat_id=chat.chat_id,
                    opened_at=_naive(now),
                    last_activity_at=_naive(now),
                    citizen_messages=0,
                    staff_messages=0,
                )
            )
            number = int(result.inserted_primary_key[0])  # type: ignore[index]
        return Handoff(number, chat, now, now, None)

    async def get(self, number: int) -> Handoff | None:
        async with connect(self._engine) as connection:
            row = (
                await connection.execute(select(handoffs).where(handoffs.c.id == number))
            ).first()
        return None if row is None else _handoff(row)

    async def touch(self, number: int, now: dt.datetime, *, by_staff: bool) -> bool:
        """Count a message on an open hand-off; False when it is closed (or unknown)."""
        counter = handoffs.c.staff_messages if by_staff else handoffs.c.citizen_messages
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(handoffs)
                .where(handoffs.c.id == number, handoffs.c.closed_at.is_(None))
                .values({handoffs.c.last_activity_at: _naive(now), counter: counter + 1})
            )
        return bool(result.rowcount)

    async def close(self, number: int, now: dt.datetime, by: ClosedBy) -> bool:
        """Close an open hand-off; False when it was closed already (by someone else)."""
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(handoffs)
                .where(handoffs.c.id == number, handoffs.c.closed_at.is_(None))
                .values(closed_at=_naive(now), closed_by=by.value)
            )
        return bool(result.rowcount)

    async def close_idle(self, now: dt.datetime, idle: dt.timedelta) -> list[Handoff]:
        """Close the hand-offs with no message since `now - idle`; returns those closed
        here (another process closing the same row at once gets it, not both)."""
        cutoff = _naive(now - idle)
        async with connect(self._engine) as connection:
            rows = (
                await connection.execute(
                    select(handoffs).where(
                        handoffs.c.closed_at.is_(None), handoffs.c.last_activity_at < cutoff
                    )
                )
            ).all()
        closed = []
        for row in rows:
            if await self.close(int(row.id), now, ClosedBy.TIMEOUT):
                closed.append(_handoff(row))
        return closed


async def forget_handoffs(connection: AsyncConnection, before: dt.datetime) -> int:
    """Delete the hand-offs closed before `before` (aware): their chat ids are personal
    data (bot.retention). Open ones stay. Returns the rows deleted."""
    result = await connection.execute(
        delete(handoffs).where(handoffs.c.closed_at < _naive(before))
    )
    return int(result.rowcount)
