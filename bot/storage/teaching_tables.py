"""The lessons staff taught, in the bot's database (shared by every bot process).

A lesson that is forgotten is marked `removed` rather than deleted, with a new
`taught_at`: processes notice a change by the latest `taught_at` and the row count.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text

from bot.storage.broadcast_tables import UtcDateTime
from bot.storage.database import metadata

# Questions are compared by their folded words (bot.search.lessons.lesson_key), cut here:
# the matcher reads no more of a message than this either.
MAX_KEY_CHARS = 400

lessons = Table(
    "taught_lessons",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("question_key", String(MAX_KEY_CHARS), nullable=False, unique=True),
    Column("question", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # bot.search.lessons.LessonKind
    Column("target", String(64), nullable=False, default=""),
    Column("taught_by", String(80), nullable=False, default=""),
    Column("taught_at", UtcDateTime, nullable=False),
    Column("removed", Boolean, nullable=False, default=False),
)
