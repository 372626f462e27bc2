"""Broadcast outbox rows record which delivery worker wrote their outcome (finished_by).

Revision 0002, after 0001 (commit 41064bc).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("broadcast_outbox", sa.Column("finished_by", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast_outbox") as table:
        table.drop_column("finished_by")
