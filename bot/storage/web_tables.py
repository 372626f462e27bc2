"""The web chat's tables and the links that take a web chat's dossier to Telegram.

    web_chat_history        the last exchanges of each web chat, shown again when the
                            page is reloaded (bot/channels/web_history.py)
    dossier_follow_tokens   single-use, short-lived tokens of "follow this dossier on
                            Telegram" links (bot/dossiers/follow_links.py): the link holds
                            the token, never the receipt code

Declared here rather than beside their code so that the schema's owner,
bot/storage/schema.py, knows them without importing a channel.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text

from bot.storage.database import metadata

_ID = BigInteger().with_variant(Integer(), "sqlite")

web_history = Table(
    "web_chat_history",
    metadata,
    Column("id", _ID, primary_key=True),
    # The chat's id as the dialogue knows it (a digest of the page's secret key).
    Column("chat_id", String(64), nullable=False),
    Column("at", DateTime, nullable=False),  # naive UTC
    # JSON: the exchange's messages as the page draws them, [{"type": "user"...}, ...]
    Column("messages", Text, nullable=False),
    Index("ix_web_chat_history_chat_id_id", "chat_id", "id"),
    Index("ix_web_chat_history_at", "at"),
)

follow_tokens = Table(
    "dossier_follow_tokens",
    metadata,
    # SHA-256 of the token, hex: the database never holds a usable link.
    Column("token_hash", String(64), primary_key=True),
    Column("code", String(64), nullable=False),
    # The chat that verified the dossier and asked for the link.
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),  # naive UTC
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime, nullable=True),
    Index("ix_dossier_follow_tokens_expires_at", "expires_at"),
)
