"""The web chat's recent exchanges (web_chat_history) and the tokens of "follow this
dossier on Telegram" links (dossier_follow_tokens).

Revision 0010, after 0009 (hand-offs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_chat_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("messages", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_chat_history"),
    )
    op.create_index("ix_web_chat_history_chat_id_id", "web_chat_history", ["chat_id", "id"])
    op.create_index("ix_web_chat_history_at", "web_chat_history", ["at"])
    op.create_table(
        "dossier_follow_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_dossier_follow_tokens"),
    )
    op.create_index("ix_dossier_follow_tokens_expires_at", "dossier_follow_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("dossier_follow_tokens")
    op.drop_table("web_chat_history")
