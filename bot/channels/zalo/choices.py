"""The numbered choices each citizen was offered last, in the bot's database.

Zalo shows plain text only, so buttons become numbered choices; keeping the last ones
per citizen in the database lets a reply of "2" press the second button even after a
restart or on another bot process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.numbered_choices import Choice
from bot.storage.database import connect
from bot.storage.upserts import upsert
from bot.storage.zalo_tables import zalo_choices


class ZaloChoiceStore:
    """The numbered choices each citizen was offered last (so "2" can press button 2)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    async def remember(self, user_id: str, choices: Sequence[Choice]) -> None:
        async with connect(self._engine, begin=True) as connection:
            if not choices:
                await connection.execute(
                    delete(zalo_choices).where(zalo_choices.c.user_id == user_id)
                )
                return
            encoded = json.dumps(
                [[c.number, c.label, c.action] for c in choices], ensure_ascii=False
            )
            await connection.execute(
                upsert(
                    connection, zalo_choices, key=("user_id",), update=("choices", "updated_at")
                ),
                {"user_id": user_id, "choices": encoded, "updated_at": self._clock()},
            )

    async def recall(self, user_id: str) -> tuple[Choice, ...]:
        async with connect(self._engine) as connection:
            result = await connection.execute(
                select(zalo_choices.c.choices).where(zalo_choices.c.user_id == user_id)
            )
            encoded = result.scalar()
        if not encoded:
            return ()
        return tuple(
            Choice(int(n), str(label), str(action)) for n, label, action in json.loads(encoded)
        )
