"""Every table of the bot's database, and the schema made ready for this version of the bot.

The features declare their tables next to the code that uses them, on the shared
`bot.storage.database.metadata`; this module is the one place that knows them all, so
that every command creates (and checks) the same schema whichever features it loads.
The table modules import nothing but `bot.storage.database`, so importing them from here
makes no circle.

    TABLES                 every table, in no particular order
    ensure_schema(engine)  the tables that do not exist yet, created
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast import tables as broadcast
from bot.dialogue.context import chat_contexts
from bot.dossiers import tables as dossiers
from bot.stats import tables as stats
from bot.storage import zalo_tables as zalo
from bot.storage.database import SCHEMA_LOCK, connect, lock_transaction, metadata
from bot.teaching import tables as teaching

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
    teaching.lessons,
)

# A table declared on the shared metadata but missing above would have no migration.
_unlisted = sorted(set(metadata.tables) - {table.name for table in TABLES})
if _unlisted:
    raise RuntimeError(f"tables missing from bot.storage.schema.TABLES: {', '.join(_unlisted)}")


async def ensure_schema(engine: AsyncEngine) -> None:
    """Create the bot's tables that do not exist yet."""
    async with connect(engine, begin=True) as connection:
        # Several processes starting together would race to create the same tables
        # (duplicate key in pg_type); one at a time, the others then find them.
        await lock_transaction(connection, SCHEMA_LOCK)
        await connection.run_sync(metadata.create_all)
