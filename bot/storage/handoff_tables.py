"""The `handoffs` table: chats handed to staff (bot.handoff.store)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table

from bot.storage.database import metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
_ID = BigInteger().with_variant(Integer, "sqlite")

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(128), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    # The last message either way: the timeout counts from it.
    Column("last_activity_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    # "citizen", "staff" or "timeout"; None while open.
    Column("closed_by", String(16)),
    Column("citizen_messages", Integer, nullable=False, default=0),
    Column("staff_messages", Integer, nullable=False, default=0),
    Index("ix_handoffs_open", "closed_at", "last_activity_at"),
    Index("ix_handoffs_chat", "channel", "chat_id"),
)
