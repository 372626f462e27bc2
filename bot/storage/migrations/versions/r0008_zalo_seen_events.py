"""Zalo events already taken are remembered in the database (zalo_seen_events).

A redelivered or replayed event (same msg_id) is answered once, also after a restart and
when several bot processes share the webhook; rows older than the event age limit are
pruned.

Revision 0008, after 0007.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zalo_seen_events",
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("event_key", name="pk_zalo_seen_events"),
    )
    op.create_index("ix_zalo_seen_events_seen_at", "zalo_seen_events", ["seen_at"])


def downgrade() -> None:
    op.drop_table("zalo_seen_events")
