"""The dossier feature's tables in the bot's own database (not the center's).

State lives here rather than in memory because several bot processes may share it (web
chat, Telegram webhook workers): the lookup limits, the verified chats, the subscriptions
and the notification outbox must be the same for all of them.

    dossier_lookup_audit     every lookup: who, when, which code, the outcome (never the
                             verification value)
    dossier_requesters       per user: failed attempts and the growing lockout
    dossier_access_grants    chats that have verified a dossier (no re-verification)
    dossier_failed_lookups   every failed attempt (and every attempt in flight): which
                             code, from which chat and network address; the guard counts
                             them per dossier, per address and overall
    dossier_subscriptions    chats to notify of a dossier's changes
    dossier_watch_cursors    how far the watcher has read the source's changes
    dossier_changes          changes that have subscribers (the outbox's content)
    dossier_deliveries       one row per (subscription, change): pending / sending /
                             delivered / abandoned, so each change is sent once
    dossier_push_nonces      signatures of accepted pushes, to reject replays

Timestamps are stored as naive UTC: SQLite keeps no zone, and one rule for both engines
keeps comparisons right.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.storage.database import metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
_ID = BigInteger().with_variant(Integer, "sqlite")

lookup_audit = Table(
    "dossier_lookup_audit",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("outcome", String(24), nullable=False),
    Index("ix_dossier_lookup_audit_user_at", "channel", "user_id", "at"),
)

requesters = Table(
    "dossier_requesters",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("failed_count", Integer, nullable=False, default=0),
    Column("lockout_level", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),
    Column("last_failure_at", DateTime),
)

access_grants = Table(
    "dossier_access_grants",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("granted_at", DateTime, nullable=False),
    Column("last_status", SmallInteger),
)

failed_lookups = Table(
    "dossier_failed_lookups",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("code", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    # The web chat's client address; "" on channels that have none (Telegram, Zalo).
    Column("address", String(64), nullable=False),
    # The wait this failure imposed on further attempts at the code (None: none yet).
    Column("dossier_wait_until", DateTime),
    Index("ix_dossier_failed_lookups_code_at", "code", "at"),
    Index("ix_dossier_failed_lookups_address_at", "address", "at"),
    Index("ix_dossier_failed_lookups_at", "at"),
)

subscriptions = Table(
    "dossier_subscriptions",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("end_reason", String(16)),
    UniqueConstraint("channel", "chat_id", "code"),
    Index("ix_dossier_subscriptions_code", "code"),
)

watch_cursors = Table(
    "dossier_watch_cursors",
    metadata,
    Column("source_key", String(64), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

changes = Table(
    "dossier_changes",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("source_key", String(64), nullable=False),
    Column("change_key", String(200), nullable=False),
    Column("code", String(64), nullable=False),
    Column("changed_at", DateTime),
    Column("status", SmallInteger),
    Column("view_json", Text, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("source_key", "change_key"),
)

deliveries = Table(
    "dossier_deliveries",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("subscription_id", _ID, ForeignKey("dossier_subscriptions.id"), nullable=False),
    Column("change_id", _ID, ForeignKey("dossier_changes.id"), nullable=False),
    # pending -> sending (claimed by one process until claimed_until) -> delivered,
    # or back to pending after a failure, or abandoned after too many.
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_until", DateTime),
    Column("delivered_at", DateTime),
    Column("last_error", Text),
    UniqueConstraint("subscription_id", "change_id"),
    Index("ix_dossier_deliveries_state_id", "state", "id"),
)

push_nonces = Table(
    "dossier_push_nonces",
    metadata,
    Column("signature", String(64), primary_key=True),
    Column("received_at", DateTime, nullable=False),
    Index("ix_dossier_push_nonces_received_at", "received_at"),
)


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """An aware moment as the naive UTC datetime these tables store."""
    if moment.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def from_utc_naive(stored: dt.datetime) -> dt.datetime:
    return stored.replace(tzinfo=dt.UTC)
