"""The web chat's recent exchanges, kept so that a reloaded page shows them again.

    history = WebHistory(engine, exchanges=20)
    await history.record(chat_id, [user_message, reply, ...], now)   # after each turn
    await history.recent(chat_id)            # [[message, ...], ...], oldest exchange first

One row per exchange (what the citizen sent and the bot's replies, as the page draws them);
only the last `exchanges` of a chat are kept, and `forget_web_history` erases rows older than
the retention period. The rows are found by the chat id the dialogue uses, a digest of the
page's secret key (bot.channels.web), so a chat id seen in a log or a staff view opens
nothing: only the browser that holds the key sees its history again.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.database import connect
from bot.storage.web_tables import web_history

PageMessage = dict[str, Any]


class WebHistory:
    def __init__(self, engine: AsyncEngine, exchanges: int) -> None:
        self._engine = engine
        self._exchanges = exchanges

    @property
    def enabled(self) -> bool:
        return self._exchanges > 0

    async def record(self, chat_id: str, messages: list[PageMessage], now: dt.datetime) -> None:
        """Keep one exchange, and forget the chat's exchanges beyond the last `exchanges`."""
        if not self.enabled or not messages:
            return
        at = now.astimezone(dt.UTC).replace(tzinfo=None)
        body = json.dumps(messages, ensure_ascii=False, separators=(",", ":"))
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                insert(web_history).values(chat_id=chat_id, at=at, messages=body)
            )
            kept = (
                select(web_history.c.id)
                .where(web_history.c.chat_id == chat_id)
                .order_by(web_history.c.id.desc())
                .limit(self._exchanges)
            )
            oldest_kept = (await connection.execute(kept)).scalars().all()[-1]
            await connection.execute(
                delete(web_history).where(
                    web_history.c.chat_id == chat_id, web_history.c.id < oldest_kept
                )
            )

    async def recent(self, chat_id: str) -> list[list[PageMessage]]:
        """The chat's last exchanges, oldest first."""
        if not self.enabled:
            return []
        async with connect(self._engine) as connection:
            rows = (
                await connection.execute(
                    select(web_history.c.messages)
                    .where(web_history.c.chat_id == chat_id)
                    .order_by(web_history.c.id.desc())
                    .limit(self._exchanges)
                )
            ).all()
        exchanges: list[list[PageMessage]] = []
        for row in reversed(rows):
            messages = json.loads(row.messages)
            if isinstance(messages, list):
                exchanges.append([m for m in messages if isinstance(m, dict)])
        return exchanges


async def forget_web_history(connection: AsyncConnection, before: dt.datetime) -> int:
    """Delete exchanges recorded before `before` (aware); returns the rows deleted."""
    result = await connection.execute(
        delete(web_history).where(
            web_history.c.at < before.astimezone(dt.UTC).replace(tzinfo=None)
        )
    )
    return int(result.rowcount)
