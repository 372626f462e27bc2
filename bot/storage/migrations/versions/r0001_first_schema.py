"""The first released schema: chat contexts, broadcasts, Zalo tokens and choices, dossiers.

Revision 0001, the first. The tables as `metadata.create_all` made them at commit e5ad8fd,
the first version that had every feature's tables; databases made then carry no revision
and are recognised by what they hold (bot/storage/schema.py). Written out here rather
than taken from the models, which have changed since.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_contexts",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id", name="pk_chat_contexts"),
    )

    op.create_table(
        "broadcast_subscribers",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("preference", sa.String(16), nullable=False),
        sa.Column("all_topics", sa.Boolean(), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("unreachable_reason", sa.String(200), nullable=True),
        sa.Column("subscribed_at", _UTC, nullable=True),
        sa.Column("opted_out_at", _UTC, nullable=True),
        sa.Column("unreachable_at", _UTC, nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id", name="pk_broadcast_subscribers"),
    )
    op.create_index(
        "ix_broadcast_subscribers_audience", "broadcast_subscribers", ["preference", "reachable"]
    )
    op.create_table(
        "broadcast_subscriber_topics",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "channel", "chat_id", "topic", name="pk_broadcast_subscriber_topics"
        ),
    )
    op.create_index(
        "ix_broadcast_subscriber_topics_topic", "broadcast_subscriber_topics", ["topic"]
    )
    op.create_table(
        "broadcast_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(64), nullable=False),
        sa.Column("channels", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.Column("cancelled_at", _UTC, nullable=True),
        sa.Column("cancelled_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_jobs"),
    )
    op.create_index("ix_broadcast_jobs_state", "broadcast_jobs", ["state"])
    op.create_table(
        "broadcast_outbox",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("throttled", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", _UTC, nullable=True),
        sa.Column("reclaimed", sa.Integer(), nullable=False),
        sa.Column("sent_at", _UTC, nullable=True),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_outbox"),
        sa.UniqueConstraint("job_id", "channel", "chat_id", name="uq_broadcast_outbox_recipient"),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["broadcast_jobs.id"],
            name="fk_broadcast_outbox_job_id_broadcast_jobs",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_broadcast_outbox_claim", "broadcast_outbox", ["job_id", "channel", "state", "id"]
    )
    op.create_index("ix_broadcast_outbox_claimed_by", "broadcast_outbox", ["claimed_by"])

    op.create_table(
        "zalo_oa_tokens",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("seeded_from", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name="pk_zalo_oa_tokens"),
    )
    op.create_table(
        "zalo_pending_choices",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_zalo_pending_choices"),
    )

    op.create_table(
        "dossier_lookup_audit",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_lookup_audit"),
    )
    op.create_index(
        "ix_dossier_lookup_audit_user_at", "dossier_lookup_audit", ["channel", "user_id", "at"]
    )
    op.create_table(
        "dossier_requesters",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("lockout_level", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("channel", "user_id", name="pk_dossier_requesters"),
    )
    op.create_table(
        "dossier_access_grants",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("last_status", sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint("channel", "chat_id", "code", name="pk_dossier_access_grants"),
    )
    op.create_table(
        "dossier_subscriptions",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_subscriptions"),
        sa.UniqueConstraint("channel", "chat_id", "code", name="uq_dossier_subscriptions_channel"),
    )
    op.create_index("ix_dossier_subscriptions_code", "dossier_subscriptions", ["code"])
    op.create_table(
        "dossier_watch_cursors",
        sa.Column("source_key", sa.String(64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_key", name="pk_dossier_watch_cursors"),
    )
    op.create_table(
        "dossier_changes",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("source_key", sa.String(64), nullable=False),
        sa.Column("change_key", sa.String(200), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=True),
        sa.Column("view_json", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_changes"),
        sa.UniqueConstraint("source_key", "change_key", name="uq_dossier_changes_source_key"),
    )
    op.create_table(
        "dossier_deliveries",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("subscription_id", _BIG_ID, nullable=False),
        sa.Column("change_id", _BIG_ID, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_deliveries"),
        sa.UniqueConstraint(
            "subscription_id", "change_id", name="uq_dossier_deliveries_subscription_id"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["dossier_subscriptions.id"],
            name="fk_dossier_deliveries_subscription_id_dossier_subscriptions",
        ),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["dossier_changes.id"],
            name="fk_dossier_deliveries_change_id_dossier_changes",
        ),
    )
    op.create_index("ix_dossier_deliveries_state_id", "dossier_deliveries", ["state", "id"])
    op.create_table(
        "dossier_push_nonces",
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("signature", name="pk_dossier_push_nonces"),
    )
    op.create_index("ix_dossier_push_nonces_received_at", "dossier_push_nonces", ["received_at"])


def downgrade() -> None:
    # Children before the tables they refer to.
    for table in (
        "dossier_push_nonces",
        "dossier_deliveries",
        "dossier_changes",
        "dossier_watch_cursors",
        "dossier_subscriptions",
        "dossier_access_grants",
        "dossier_requesters",
        "dossier_lookup_audit",
        "zalo_pending_choices",
        "zalo_oa_tokens",
        "broadcast_outbox",
        "broadcast_jobs",
        "broadcast_subscriber_topics",
        "broadcast_subscribers",
        "chat_contexts",
    ):
        op.drop_table(table)
