"""Failed dossier verifications are recorded (dossier_failed_lookups).

The guard counts them per dossier, per address and overall, so that guessing the 4
digits makes the guesser wait.

Revision 0007, after 0006 (merge 5b8f6ae).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossier_failed_lookups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("dossier_wait_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_failed_lookups"),
    )
    op.create_index("ix_dossier_failed_lookups_code_at", "dossier_failed_lookups", ["code", "at"])
    op.create_index(
        "ix_dossier_failed_lookups_address_at", "dossier_failed_lookups", ["address", "at"]
    )
    op.create_index("ix_dossier_failed_lookups_at", "dossier_failed_lookups", ["at"])


def downgrade() -> None:
    op.drop_table("dossier_failed_lookups")
