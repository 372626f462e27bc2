"""Statistics: the questions citizens asked, "helpful?" presses and dossier ratings.

Revision 0004, after 0003 (commit 1815733).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stats_questions",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("asked_at", _UTC, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("procedure_code", sa.String(64), nullable=True),
        sa.Column("followup", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stats_questions"),
    )
    op.create_index("ix_stats_questions_day", "stats_questions", ["day", "decision"])
    op.create_index("ix_stats_questions_procedure", "stats_questions", ["procedure_code"])
    op.create_table(
        "stats_answer_feedback",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("given_at", _UTC, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("procedure_code", sa.String(64), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stats_answer_feedback"),
    )
    op.create_index("ix_stats_answer_feedback_day", "stats_answer_feedback", ["day"])
    op.create_index(
        "ix_stats_answer_feedback_chat",
        "stats_answer_feedback",
        ["channel", "chat_id", "procedure_code"],
    )
    op.create_table(
        "stats_ratings",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("rated_at", _UTC, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("dossier_code", sa.String(64), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stats_ratings"),
        sa.UniqueConstraint("channel", "chat_id", "dossier_code", name="uq_stats_ratings_dossier"),
    )
    op.create_index("ix_stats_ratings_day", "stats_ratings", ["day"])


def downgrade() -> None:
    for table in ("stats_ratings", "stats_answer_feedback", "stats_questions"):
        op.drop_table(table)
