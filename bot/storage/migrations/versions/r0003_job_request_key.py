"""Broadcast jobs keep the caller's idempotency key (request_key, unique).

A retried request to the HTTP API with the same key never starts a second job.

Revision 0003, after 0002 (commit 7600f3a).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot add a constraint to a table: batch mode copies the table into a new one
    # that has it (bot.storage.schema turns foreign keys off meanwhile, or dropping the old
    # table would delete the outbox rows of every job through ON DELETE CASCADE).
    with op.batch_alter_table("broadcast_jobs") as table:
        table.add_column(sa.Column("request_key", sa.String(200), nullable=True))
        table.create_unique_constraint("uq_broadcast_jobs_request_key", ["request_key"])


def downgrade() -> None:
    with op.batch_alter_table("broadcast_jobs") as table:
        table.drop_constraint("uq_broadcast_jobs_request_key", type_="unique")
        table.drop_column("request_key")
