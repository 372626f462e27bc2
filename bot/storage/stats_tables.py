"""The statistics tables in the bot's database: questions, answer feedback, ratings.

    stats_questions        every question the bot handled: what was asked (personal
                           numbers masked), what it did (answer / clarify / decline)
    stats_answer_feedback  "helpful / not helpful" pressed under a procedure answer
    stats_ratings          1-5 satisfaction with a returned dossier, optional comment

Each row keeps the center's local `day` next to the UTC time, so that "questions per day"
is one portable GROUP BY on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.storage.broadcast_tables import UtcDateTime
from bot.storage.database import metadata

_BigId = BigInteger().with_variant(Integer(), "sqlite")

questions = Table(
    "stats_questions",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("asked_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    # The search's normalised form (folded, aliases applied), to group variants together.
    Column("normalized", Text, nullable=False, default=""),
    Column("decision", String(16), nullable=False),
    Column("procedure_code", String(64), nullable=True),
    # A follow-up about the procedure already shown ("còn lệ phí?").
    Column("followup", Boolean, nullable=False, default=False),
)
Index("ix_stats_questions_day", questions.c.day, questions.c.decision)
Index("ix_stats_questions_procedure", questions.c.procedure_code)

answer_feedback = Table(
    "stats_answer_feedback",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("given_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("procedure_code", String(64), nullable=False),
    Column("helpful", Boolean, nullable=False),
)
Index("ix_stats_answer_feedback_day", answer_feedback.c.day)
Index(
    "ix_stats_answer_feedback_chat",
    answer_feedback.c.channel,
    answer_feedback.c.chat_id,
    answer_feedback.c.procedure_code,
)

ratings = Table(
    "stats_ratings",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("rated_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("dossier_code", String(64), nullable=False),
    Column("score", SmallInteger, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    # One rating per citizen and dossier: rating again replaces the first.
    UniqueConstraint("channel", "chat_id", "dossier_code", name="uq_stats_ratings_dossier"),
)
Index("ix_stats_ratings_day", ratings.c.day)
