"""Recording what citizens asked and how satisfied they were, for staff statistics.

The dialogue calls `StatsRecorder` after each question, each "helpful / not helpful"
press and each dossier rating. Recording must never cost a citizen an answer, so callers
catch StorageUnavailable; nothing here raises anything else for valid input.

Question texts are kept so that staff can read the questions the bot could not answer and
improve the catalogue's aliases. Long digit runs (phone, ID and bank numbers, which
citizens sometimes type) are masked before storing: statistics need the words, not them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.messages import ChatRef
from bot.storage.database import connect, erased_id, is_erased
from bot.storage.stats_tables import answer_feedback, questions, ratings
from bot.storage.upserts import upsert
from bot.storage.write_behind import WriteBehind

# Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact.
CENTER_TIMEZONE = dt.timezone(dt.timedelta(hours=7), "ICT")

MAX_TEXT_CHARS = 1000
# A second press under the same answer within this time replaces the first (a citizen
# correcting a mis-tap), instead of counting twice.
FEEDBACK_MERGE_WINDOW = dt.timedelta(hours=1)
# 9 or more digits, possibly grouped with spaces, dots or dashes ("0912 345 678"):
# procedure codes such as 1.001193 have 7 and are kept.
_PERSONAL_NUMBER = re.compile(r"\d(?:[ .\-]?\d){8,}")
_DIGIT = re.compile(r"\d")

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class QuestionDecision(StrEnum):
    ANSWER = "answer"  # one procedure was confident enough to answer
    CLARIFY = "clarify"  # candidates offered as choices
    DECLINE = "decline"  # no match: the bot said what it can do (an "unanswered" question)
    # "Không phải": the citizen turned down the procedure (`procedure_code`) the bot gave
    # for this question; recorded beside the question's own row.
    REJECTED = "rejected"


class InvalidRating(ValueError):
    """A satisfaction score outside 1-5."""


def mask_personal_numbers(text: str) -> str:
    """`text` with long digit runs replaced by '#' (one per digit), other text kept; a text
    without letters is masked whole ("5633": the end of a phone number, not a question)."""
    if not any(ch.isalpha() for ch in text):
        return _DIGIT.sub("#", text)
    return _PERSONAL_NUMBER.sub(lambda m: _DIGIT.sub("#", m.group()), text)


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CENTER_TIMEZONE).date()


class StatsRecorder:
    """Writes the statistics records; one instance per process, shared by the channels."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._queued: WriteBehind[int, dict[str, Any]] = WriteBehind(
            engine, _insert_questions, name="question records", table=questions.name
        )
        self._queue_numbers = itertools.count()

    def _question_row(
        self,
        chat: ChatRef,
        text: str,
        decision: QuestionDecision,
        procedure_code: str | None,
        normalized: str,
        followup: bool,
    ) -> dict[str, Any]:
        now = self._clock()
        return {
            "asked_at": now,
            "day": local_day(now),
            "channel": chat.channel.value,
            "chat_id": chat.chat_id,
            "text": mask_personal_numbers(text.strip())[:MAX_TEXT_CHARS],
            "normalized": mask_personal_numbers(normalized)[:MAX_TEXT_CHARS],
            "decision": decision.value,
            "procedure_code": procedure_code,
            "followup": followup,
        }

    async def record_question(
        self,
        chat: ChatRef,
        text: str,
        decision: QuestionDecision,
        procedure_code: str | None = None,
        *,
        normalized: str = "",
        followup: bool = False,
    ) -> int:
        """Record one handled question now; returns its id."""
        row = self._question_row(chat, text, decision, procedure_code, normalized, followup)
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                questions.insert().values(**row).returning(questions.c.id)
            )
            return int(result.scalar_one())

    def queue_question(
        self,
        chat: ChatRef,
        text: str,
        decision: QuestionDecision,
        procedure_code: str | None = None,
        *,
        normalized: str = "",
        followup: bool = False,
    ) -> None:
        """Record a question write-behind (bot.storage.write_behind): the conversation does
        not wait for it; it is written within a moment, with other turns' records."""
        row = self._question_row(chat, text, decision, procedure_code, normalized, followup)
        self._queued.put(next(self._queue_numbers), row)

    @property
    def queued(self) -> int:
        """Question records not written yet (health checks, tests)."""
        return self._queued.queued

    async def flush(self) -> None:
        """Write queued records now (raises StorageUnavailable; they stay queued)."""
        await self._queued.flush()

    async def close(self) -> None:
        """Write what is queued; called once at shutdown."""
        await self._queued.close()

    async def record_answer_feedback(
        self, chat: ChatRef, procedure_code: str, helpful: bool
    ) -> None:
        """ "Helpful / not helpful" under a procedure answer; a quick second press replaces."""
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            recent = (
                await connection.execute(
                    select(answer_feedback.c.id)
                    .where(
                        answer_feedback.c.channel == chat.channel.value,
                        answer_feedback.c.chat_id == chat.chat_id,
                        answer_feedback.c.procedure_code == procedure_code,
                        answer_feedback.c.given_at >= now - FEEDBACK_MERGE_WINDOW,
                    )
                    .order_by(answer_feedback.c.given_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if recent is not None:
                await connection.execute(
                    update(answer_feedback)
                    .where(answer_feedback.c.id == recent)
                    .values(helpful=helpful, given_at=now, day=local_day(now))
                )
                return
            await connection.execute(
                answer_feedback.insert().values(
                    given_at=now,
                    day=local_day(now),
                    channel=chat.channel.value,
                    chat_id=chat.chat_id,
                    procedure_code=procedure_code,
                    helpful=helpful,
                )
            )

    async def record_rating(
        self, chat: ChatRef, dossier_code: str, score: int, comment: str = ""
    ) -> None:
        """A 1-5 satisfaction rating of a dossier; rating the same dossier again replaces it."""
        if isinstance(score, bool) or not 1 <= score <= 5:
            raise InvalidRating(f"a rating is 1 to 5, got {score!r}")
        now = self._clock()
        values = {
            "rated_at": now,
            "day": local_day(now),
            "channel": chat.channel.value,
            "chat_id": chat.chat_id,
            "dossier_code": dossier_code,
            "score": score,
            "comment": mask_personal_numbers(comment.strip())[:MAX_TEXT_CHARS],
        }
        async with connect(self._engine, begin=True) as connection:
            await connection.execute(
                upsert(
                    connection,
                    ratings,
                    key=("channel", "chat_id", "dossier_code"),
                    update=("rated_at", "day", "score", "comment"),
                ),
                values,
            )

    async def add_rating_comment(self, chat: ChatRef, dossier_code: str, comment: str) -> bool:
        """The comment a citizen typed after rating; False when there is no such rating."""
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(ratings)
                .where(
                    and_(
                        ratings.c.channel == chat.channel.value,
                        ratings.c.chat_id == chat.chat_id,
                        ratings.c.dossier_code == dossier_code,
                    )
                )
                .values(comment=mask_personal_numbers(comment.strip())[:MAX_TEXT_CHARS])
            )
        return bool(result.rowcount)


async def _insert_questions(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await connection.execute(questions.insert(), rows)


async def forget_personal_data(connection: AsyncConnection, before: dt.datetime) -> int:
    """Erase question texts, chat ids and rating comments recorded before `before` (aware).

    The rows stay, so counts per day, per procedure and per decision, helpfulness and
    satisfaction rates are unchanged; only what could identify or describe a person goes.
    A chat id becomes `erased_id` of its row, so ratings stay unique per (channel, chat,
    dossier). Returns the rows erased.
    """
    erased = 0
    for table, moment, extra in (
        (questions, questions.c.asked_at, {"text": "", "normalized": ""}),
        (answer_feedback, answer_feedback.c.given_at, {}),
        (ratings, ratings.c.rated_at, {"comment": ""}),
    ):
        statement = (
            update(table)
            .where(moment < before, ~is_erased(table.c.chat_id))
            .values(chat_id=erased_id(table.c.id), **extra)
        )
        erased += (await connection.execute(statement)).rowcount
    return erased
