"""Recording questions, answer feedback and dossier ratings (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import Channel, ChatRef
from bot.stats import InvalidRating, QuestionDecision, StatsRecorder
from bot.stats.records import mask_personal_numbers
from bot.storage.database import connect
from bot.storage.stats_tables import answer_feedback, questions, ratings

ANN = ChatRef(Channel.TELEGRAM, "101")
BINH = ChatRef(Channel.ZALO, "z-202")


class Clock:
    def __init__(self) -> None:
        # 17:30 UTC on 1 March is 00:30 on 2 March in Vietnam.
        self.now = dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


async def test_questions_are_recorded_with_the_local_day(engine: AsyncEngine) -> None:
    clock = Clock()
    recorder = StatsRecorder(engine, clock=clock)
    first = await recorder.record_question(
        ANN, "  làm giấy khai sinh cần gì  ", QuestionDecision.ANSWER, "1.001193"
    )
    second = await recorder.record_question(
        BINH, "số tôi 0912 345 678, CCCD 001099012345", QuestionDecision.DECLINE,
        normalized="so toi 0912345678",
    )  # fmt: skip
    assert second > first
    async with connect(engine) as connection:
        rows = (await connection.execute(select(questions).order_by(questions.c.id))).all()
    assert rows[0].text == "làm giấy khai sinh cần gì"
    assert rows[0].day == dt.date(2025, 3, 2)
    assert rows[0].decision == "answer" and rows[0].procedure_code == "1.001193"
    assert rows[1].text == "số tôi #### ### ###, CCCD ############"
    assert rows[1].normalized == "so toi ##########"
    assert rows[1].procedure_code is None and rows[1].channel == "zalo"


def test_only_long_digit_runs_are_masked() -> None:
    assert mask_personal_numbers("thủ tục 1.001193 và 2.000815") == "thủ tục 1.001193 và 2.000815"
    assert mask_personal_numbers("gọi 0912-345-678 nhé") == "gọi ####-###-### nhé"
    assert mask_personal_numbers("năm 2024, 12 ngày") == "năm 2024, 12 ngày"
    # A message that is only a number is someone's digits, masked whole.
    assert mask_personal_numbers("5633") == "####"
    assert mask_personal_numbers(" 56-33 ") == " ##-## "


async def test_a_quick_second_press_replaces_the_first(engine: AsyncEngine) -> None:
    clock = Clock()
    recorder = StatsRecorder(engine, clock=clock)
    await recorder.record_answer_feedback(ANN, "1.001193", helpful=False)
    clock.now += dt.timedelta(minutes=1)
    await recorder.record_answer_feedback(ANN, "1.001193", helpful=True)  # corrected
    await recorder.record_answer_feedback(BINH, "1.001193", helpful=False)
    clock.now += dt.timedelta(days=2)
    await recorder.record_answer_feedback(ANN, "1.001193", helpful=True)  # a new answer
    async with connect(engine) as connection:
        rows = (
            await connection.execute(
                select(answer_feedback.c.chat_id, answer_feedback.c.helpful).order_by(
                    answer_feedback.c.id
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [("101", True), ("z-202", False), ("101", True)]


async def test_ratings_are_kept_with_the_dossier(engine: AsyncEngine) -> None:
    recorder = StatsRecorder(engine, clock=Clock())
    await recorder.record_rating(ANN, "H37.22-250301-0001", 2)
    assert await recorder.add_rating_comment(ANN, "H37.22-250301-0001", " Chờ lâu quá ")
    await recorder.record_rating(ANN, "H37.22-250301-0001", 4)  # changed their mind
    await recorder.record_rating(BINH, "H37.22-250301-0002", 5, "Cán bộ nhiệt tình")
    assert not await recorder.add_rating_comment(BINH, "no-such-dossier", "x")
    for bad in (0, 6, -1, True):
        with pytest.raises(InvalidRating):
            await recorder.record_rating(ANN, "H37.22-250301-0003", bad)
    async with connect(engine) as connection:
        rows = (
            await connection.execute(
                select(ratings.c.dossier_code, ratings.c.score, ratings.c.comment).order_by(
                    ratings.c.dossier_code
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("H37.22-250301-0001", 4, ""),
        ("H37.22-250301-0002", 5, "Cán bộ nhiệt tình"),
    ]
