"""The broadcast tables in the bot's database: subscribers, their topics, jobs, the outbox.

    broadcast_subscribers        one row per chat that ever opted in (channel, chat_id)
    broadcast_subscriber_topics  the topics of a chat subscribed to some topics only
    broadcast_jobs               one row per notice sent by staff
    broadcast_outbox             one row per recipient of a job, with its delivery state
    broadcast_workers            delivery processes alive now, to share each channel's rate

Timestamps are stored in UTC (`UtcDateTime`) so that claims and leases compare the same
way on SQLite (which keeps no time zone) and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from bot.storage.database import metadata


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored in UTC; naive values read back from SQLite get UTC again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"an aware datetime is required, got {value!r}")
        utc = value.astimezone(dt.UTC)
        # SQLite stores the text without offset; keep it naive UTC so comparisons hold.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Preference(StrEnum):
    """What the citizen chose. Only an explicit opt-in makes a chat `subscribed`."""

    SUBSCRIBED = "subscribed"
    OPTED_OUT = "opted_out"


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting to be sent (first try or a retry at next_attempt_at)
    SENDING = "sending"  # claimed by a delivery process (claimed_by, claimed_at)
    SENT = "sent"
    FAILED = "failed"  # refused for good, or network failures up to max_attempts
    BLOCKED = "blocked"  # the chat blocked the bot or is gone; the chat is unsubscribed
    OPTED_OUT = "opted_out"  # the citizen opted out after the job started: not sent
    CANCELLED = "cancelled"  # staff cancelled the job before this recipient's turn


FINAL_STATES: frozenset[OutboxState] = frozenset(
    {
        OutboxState.SENT,
        OutboxState.FAILED,
        OutboxState.BLOCKED,
        OutboxState.OPTED_OUT,
        OutboxState.CANCELLED,
    }
)


class JobState(StrEnum):
    RUNNING = "running"
    CANCELLED = "cancelled"
    DONE = "done"


# Portable auto-increment 64-bit key: SQLite only auto-increments an INTEGER PRIMARY KEY.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

subscribers = Table(
    "broadcast_subscribers",
    metadata,
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("preference", String(16), nullable=False),
    # True: every topic (and notices without a topic); False: only the rows in
    # broadcast_subscriber_topics.
    Column("all_topics", Boolean, nullable=False, default=True),
    # False after Telegram 403 "bot was blocked" or Zalo "unfollow"; the preference is
    # kept, so a chat that comes back gets notices again only if it had opted in.
    Column("reachable", Boolean, nullable=False, default=True),
    Column("unreachable_reason", String(200), nullable=True),
    Column("subscribed_at", UtcDateTime, nullable=True),
    Column("opted_out_at", UtcDateTime, nullable=True),
    Column("unreachable_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("channel", "chat_id"),
)
Index("ix_broadcast_subscribers_audience", subscribers.c.preference, subscribers.c.reachable)

subscriber_topics = Table(
    "broadcast_subscriber_topics",
    metadata,
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("topic", String(64), nullable=False),
    PrimaryKeyConstraint("channel", "chat_id", "topic"),
)
Index("ix_broadcast_subscriber_topics_topic", subscriber_topics.c.topic)

jobs = Table(
    "broadcast_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("audience", String(64), nullable=False),
    # Comma-separated channel names the job was sent on.
    Column("channels", String(64), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("cancelled_by", String(200), nullable=True),
    # Set by callers that may retry a request (the HTTP API's Idempotency-Key): the same
    # key never starts a second job.
    Column("request_key", String(200), nullable=True, unique=True),
)
Index("ix_broadcast_jobs_state", jobs.c.state)

outbox = Table(
    "broadcast_outbox",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("broadcast_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    # Network/5xx failures so far (bounded by broadcast.max_attempts).
    Column("attempts", Integer, nullable=False, default=0),
    # 429 answers so far; they do not count as attempts (see delivery.py for the pause).
    Column("throttled", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_at", UtcDateTime, nullable=True),
    # Tries that may have delivered the message unknown to us: take-overs from a process
    # whose claim expired (it may have sent before dying) and sends that timed out. A row
    # sent after one of them may have reached the chat twice.
    Column("reclaimed", Integer, nullable=False, default=0),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    # The worker that recorded the final outcome (for audits, and to see sharing work).
    Column("finished_by", String(100), nullable=True),
    Column("last_error", String(300), nullable=True),
    UniqueConstraint("job_id", "channel", "chat_id", name="uq_broadcast_outbox_recipient"),
)
# The claim scans one job's due rows of one channel in id order.
Index(
    "ix_broadcast_outbox_claim",
    outbox.c.job_id,
    outbox.c.channel,
    outbox.c.state,
    outbox.c.id,
)
Index("ix_broadcast_outbox_claimed_by", outbox.c.claimed_by)

workers = Table(
    "broadcast_workers",
    metadata,
    Column("worker_id", String(100), primary_key=True),
    # Comma-separated channels this worker sends on.
    Column("channels", String(64), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)
