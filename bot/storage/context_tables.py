"""The table of chat contexts (bot.dialogue.context keeps them): declared with the
storage that owns every table, so that the schema needs nothing from the dialogue."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text

from bot.storage.database import metadata

chat_contexts = Table(
    "chat_contexts",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("chat_id", String(128), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
