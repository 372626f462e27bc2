"""Delivery processes record that they are alive (broadcast_workers).

Processes sending together share each channel's rate.

Revision 0005, after 0004 (commit 89b028d).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcast_workers",
        sa.Column("worker_id", sa.String(100), nullable=False),
        sa.Column("channels", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_broadcast_workers"),
    )


def downgrade() -> None:
    op.drop_table("broadcast_workers")
