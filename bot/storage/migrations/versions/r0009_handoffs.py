"""Chats handed to staff are recorded (handoffs).

A citizen who asks for a person in office hours is handed to the staff group; the row
says which chat staff answer and when the hand-off ended.

Revision 0009, after 0008 (Zalo events seen).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(16), nullable=True),
        sa.Column("citizen_messages", sa.Integer(), nullable=False),
        sa.Column("staff_messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
    )
    op.create_index("ix_handoffs_open", "handoffs", ["closed_at", "last_activity_at"])
    op.create_index("ix_handoffs_chat", "handoffs", ["channel", "chat_id"])


def downgrade() -> None:
    op.drop_table("handoffs")
