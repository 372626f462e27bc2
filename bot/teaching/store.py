"""Lessons in the bot's database: taught and forgotten by staff, read by every process.

The dialogue asks `current()` for the lessons before each search. It reads the database
again at most every `refresh_seconds`, and then only the latest change time and the row
count unless they moved, so a lesson taught in one process (a staff button, `bot teach`
on the server) is used by the others within seconds, at no cost per message. The
reviewed file (`procedures/_taught.toml`) is the base; the database's lessons override it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.search.lessons import Lesson, LessonKind, Lessons, lesson_key
from bot.stats.records import QuestionDecision
from bot.storage.database import StorageUnavailable, connect
from bot.storage.stats_tables import questions
from bot.storage.teaching_tables import MAX_KEY_CHARS, lessons

log = logging.getLogger(__name__)

REFRESH_SECONDS = 3.0


class NothingToTeach(ValueError):
    """The question has no words to recognise it by."""


@dataclass(frozen=True, slots=True)
class StoredLesson:
    id: int
    lesson: Lesson
    taught_at: dt.datetime


class LessonStore:
    def __init__(
        self,
        engine: AsyncEngine,
        file_lessons: Sequence[Lesson] = (),
        *,
        refresh_seconds: float | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._file_lessons = tuple(file_lessons)
        self._refresh_seconds = REFRESH_SECONDS if refresh_seconds is None else refresh_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._snapshot = Lessons(self._file_lessons)
        self._version: tuple[object, int] | None = None
        self._checked_at: float | None = None

    async def current(self) -> Lessons:
        """The lessons now in force; the last ones known while the database is down."""
        now = self._monotonic()
        if self._checked_at is not None and now - self._checked_at < self._refresh_seconds:
            return self._snapshot
        self._checked_at = now
        # Down: the last known lessons (the outage is logged where it was raised).
        with contextlib.suppress(StorageUnavailable):
            await self._refresh()
        return self._snapshot

    async def _refresh(self, *, force: bool = False) -> None:
        async with connect(self._engine) as connection:
            version = (
                await connection.execute(
                    select(func.max(lessons.c.taught_at), func.count()).select_from(lessons)
                )
            ).one()
            key = (version[0], int(version[1]))
            if not force and key == self._version:
                return
            rows = (
                await connection.execute(
                    select(
                        lessons.c.question, lessons.c.kind, lessons.c.target, lessons.c.taught_by
                    )
                    .where(lessons.c.removed.is_(False))
                    .order_by(lessons.c.taught_at, lessons.c.id)
                )
            ).all()
        taught = [Lesson(q, LessonKind(kind), target, by) for q, kind, target, by in rows]
        self._snapshot = Lessons([*self._file_lessons, *taught])
        self._version = key

    async def teach(
        self, question: str, kind: LessonKind, target: str = "", *, taught_by: str = ""
    ) -> Lesson:
        """Store what `question` means (replacing an earlier lesson on it); in force at
        once here, and in other processes at their next refresh."""
        key = lesson_key(question)[:MAX_KEY_CHARS]
        if not key:
            raise NothingToTeach(question)
        target = "" if kind is LessonKind.NOT_OURS else target
        lesson = Lesson(question.strip(), kind, target, taught_by[:80])
        values = {
            "question": lesson.question,
            "kind": kind.value,
            "target": lesson.target,
            "taught_by": lesson.taught_by,
            "taught_at": self._clock(),
            "removed": False,
        }
        for attempt in range(2):
            try:
                async with connect(self._engine, begin=True) as connection:
                    changed = await connection.execute(
                        update(lessons).where(lessons.c.question_key == key).values(**values)
                    )
                    if changed.rowcount == 0:
                        await connection.execute(
                            lessons.insert().values(question_key=key, **values)
                        )
                break
            except IntegrityError:
                # Another process taught the same question at the same moment: update it.
                if attempt:
                    raise
        await self._refresh(force=True)
        return lesson

    async def forget(self, lesson_id: int) -> bool:
        """Take a lesson back; False when there is no such lesson."""
        async with connect(self._engine, begin=True) as connection:
            changed = await connection.execute(
                update(lessons)
                .where(lessons.c.id == lesson_id, lessons.c.removed.is_(False))
                .values(removed=True, taught_at=self._clock())
            )
        await self._refresh(force=True)
        return bool(changed.rowcount)

    async def stored(self) -> list[StoredLesson]:
        """The lessons in the database (not the file's), oldest first."""
        async with connect(self._engine) as connection:
            rows = (
                await connection.execute(
                    select(
                        lessons.c.id,
                        lessons.c.question,
                        lessons.c.kind,
                        lessons.c.target,
                        lessons.c.taught_by,
                        lessons.c.taught_at,
                    )
                    .where(lessons.c.removed.is_(False))
                    .order_by(lessons.c.taught_at, lessons.c.id)
                )
            ).all()
        return [
            StoredLesson(row_id, Lesson(q, LessonKind(kind), target, by), at)
            for row_id, q, kind, target, by, at in rows
        ]

    def all_lessons(self) -> tuple[Lesson, ...]:
        """The file's and the database's lessons as last read (for the export)."""
        return self._snapshot.all()


@dataclass(frozen=True, slots=True)
class QuestionToTeach:
    """A question citizens asked that the bot declined, or whose answer they turned down."""

    row_id: int  # of its latest asking, in the statistics (`bot teach add '#ROW'`)
    text: str
    count: int
    turned_down: tuple[str, ...]  # procedure codes citizens said were not it


async def questions_to_teach(
    engine: AsyncEngine,
    since: dt.datetime,
    *,
    limit: int = 20,
    taught: Lessons | None = None,
    scan: int = 5000,
) -> list[QuestionToTeach]:
    """The most frequent questions since `since` that were declined or turned down ("không
    phải"), variants of one question together, leaving out those already taught."""
    decisions = (QuestionDecision.DECLINE.value, QuestionDecision.REJECTED.value)
    async with connect(engine) as connection:
        rows = (
            await connection.execute(
                select(questions.c.id, questions.c.text, questions.c.procedure_code)
                .where(
                    questions.c.asked_at >= since,
                    questions.c.decision.in_(decisions),
                    questions.c.text != "",  # erased after the retention period
                )
                .order_by(questions.c.id.desc())
                .limit(scan)
            )
        ).all()
    grouped: dict[str, QuestionToTeach] = {}
    for row_id, text, code in rows:  # newest first
        key = lesson_key(text)
        if not key or (taught is not None and taught.find(text) is not None):
            continue
        known = grouped.get(key)
        codes = (code,) if code else ()
        if known is None:
            grouped[key] = QuestionToTeach(int(row_id), str(text), 1, codes)
        else:
            turned_down = known.turned_down + tuple(c for c in codes if c not in known.turned_down)
            grouped[key] = QuestionToTeach(known.row_id, known.text, known.count + 1, turned_down)
    ranked = sorted(grouped.values(), key=lambda q: (-q.count, -q.row_id))
    return ranked[:limit]


async def asked_question(engine: AsyncEngine, row_id: int) -> str | None:
    """The text of statistics row `row_id` (a question to teach), None if there is none."""
    async with connect(engine) as connection:
        text = (
            await connection.execute(select(questions.c.text).where(questions.c.id == row_id))
        ).scalar_one_or_none()
    return str(text) if text else None
