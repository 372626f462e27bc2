"""The Zalo Official Account's tables in the bot's database.

    zalo_oa_tokens         the OA's access/refresh token pair, renewed under a lease so
                           that a single-use refresh token is never sent twice
    zalo_pending_choices   the numbered choices each citizen was offered last, so that a
                           reply of "2" presses the second button on any bot process
    zalo_seen_events       the events already taken, so that a redelivery (or a replay)
                           is answered once, after a restart and on any bot process

Declared here rather than in the channel (bot/channels/zalo/ uses them: tokens.py,
choices.py, seen_events.py) so that the schema's owner, bot/storage/schema.py, knows
them without importing a channel.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from bot.storage.database import metadata

zalo_tokens = Table(
    "zalo_oa_tokens",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    # Seconds since the epoch (UTC); NULL when unknown (a pair pasted into the config).
    Column("expires_at", Float, nullable=True),
    # Fingerprint of the pair in the config this row started from: a new pair in the
    # config (staff re-authorised the OA) replaces the stored one.
    Column("seeded_from", String(64), nullable=False),
    # +1 at every renewal; renewals compare-and-swap on it.
    Column("generation", Integer, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

zalo_choices = Table(
    "zalo_pending_choices",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("choices", Text, nullable=False),  # JSON: [[number, label, action], ...]
    Column("updated_at", Float, nullable=False),
)

zalo_seen_events = Table(
    "zalo_seen_events",
    metadata,
    # The event's msg_id, or event name, timestamp and user (SHA-256 when longer).
    Column("event_key", String(128), primary_key=True),
    Column("seen_at", Float, nullable=False),  # seconds since the epoch
    # Old rows are deleted by seen_at: an event older than max_event_age_seconds is
    # refused as stale anyway.
    Index("ix_zalo_seen_events_seen_at", "seen_at"),
)
