"""Lessons staff taught the bot (taught_lessons): what a missed question meant.

Revision 0006, after 0005 (commit 9e0e1bd).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taught_lessons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("question_key", sa.String(400), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("taught_by", sa.String(80), nullable=False),
        sa.Column("taught_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_taught_lessons"),
        sa.UniqueConstraint("question_key", name="uq_taught_lessons_question_key"),
    )


def downgrade() -> None:
    op.drop_table("taught_lessons")
