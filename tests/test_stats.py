"""Staff statistics: figures gathered from the records, the subscribers, the broadcast
jobs and the dossier lookup audit; the terminal table, the PNG chart and `bot stats`."""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from broadcast_support import RecordingSender, fast_settings, seed_subscribers, write_config
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import staff_texts
from bot.__main__ import main
from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import BroadcastRequest, Requester
from bot.broadcast.service import BroadcastService, StaffPolicy
from bot.broadcast.subscriptions import SubscriberState, SubscriptionStore
from bot.catalogue.model import Catalogue, Level, Procedure
from bot.messages import Channel, ChatRef, RecipientBlocked
from bot.stats import (
    ChartLabels,
    QuestionDecision,
    StatsRecorder,
    collect_statistics,
    format_statistics,
    render_chart,
)
from bot.stats.report import StaffStatistics
from bot.storage.database import connect, create_engine
from bot.storage.dossier_tables import lookup_audit
from bot.storage.schema import ensure_schema

TODAY = dt.date(2025, 3, 10)
CATALOGUE = Catalogue(
    (
        Procedure("1.001193", "Đăng ký khai sinh", "Hộ tịch", (Level.COMMUNE,)),
        Procedure("1.000656", "Đăng ký khai tử", "Hộ tịch", (Level.COMMUNE,)),
    )
)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 3, 1, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam

    def __call__(self) -> dt.datetime:
        return self.now

    def on(self, day: dt.date) -> Clock:
        self.now = dt.datetime.combine(day, dt.time(3, 0), dt.UTC)
        return self


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    yield engine
    await engine.dispose()


async def seed_records(engine: AsyncEngine) -> None:
    clock = Clock()
    recorder = StatsRecorder(engine, clock=clock)
    ann, binh = ChatRef(Channel.TELEGRAM, "1"), ChatRef(Channel.ZALO, "2")
    clock.on(dt.date(2025, 3, 8))
    for _ in range(3):
        await recorder.record_question(ann, "khai sinh", QuestionDecision.ANSWER, "1.001193")
    await recorder.record_question(ann, "khai tử", QuestionDecision.ANSWER, "1.000656")
    await recorder.record_question(binh, "giấy tờ gì", QuestionDecision.CLARIFY)
    await recorder.record_question(binh, "Làm lại sổ hộ khẩu", QuestionDecision.DECLINE)
    clock.on(dt.date(2025, 3, 10))
    await recorder.record_question(ann, "lam lai so ho khau", QuestionDecision.DECLINE)
    await recorder.record_question(ann, "đổi bằng lái quốc tế", QuestionDecision.DECLINE)
    await recorder.record_question(binh, "khai sinh", QuestionDecision.ANSWER, "1.001193")
    # Before the period: not counted.
    clock.on(dt.date(2025, 1, 1))
    await recorder.record_question(ann, "cũ", QuestionDecision.DECLINE)

    clock.on(dt.date(2025, 3, 9))
    await recorder.record_answer_feedback(ann, "1.001193", helpful=True)
    await recorder.record_answer_feedback(binh, "1.001193", helpful=True)
    await recorder.record_answer_feedback(binh, "1.000656", helpful=False)
    await recorder.record_rating(ann, "D-1", 5)
    await recorder.record_rating(binh, "D-2", 4)
    clock.on(dt.date(2025, 3, 10))
    await recorder.record_rating(ann, "D-3", 2, "Phải đi lại hai lần")

    async with connect(engine, begin=True) as connection:
        at = dt.datetime(2025, 3, 9, 2, 0)  # naive UTC, as the dossier feature keeps it
        await connection.execute(
            lookup_audit.insert(),
            [
                {"at": at, "channel": "telegram", "chat_id": "1", "user_id": "1",
                 "code": code, "outcome": outcome}
                for code, outcome in [("D-1", "found"), ("D-1", "found"), ("X", "not_found")]
            ],
        )  # fmt: skip


async def seed_subscribers_and_a_broadcast(engine: AsyncEngine) -> None:
    await seed_subscribers(engine, Channel.TELEGRAM, ["10", "11", "12"])
    await seed_subscribers(engine, Channel.ZALO, ["z1"])
    store = SubscriptionStore(engine, {})
    await store.opt_out(ChatRef(Channel.TELEGRAM, "12"))
    service = BroadcastService(
        engine, store, StaffPolicy(frozenset(), api_enabled=False), channels=[Channel.TELEGRAM]
    )
    job_id = await service.start(Requester.operator("t"), BroadcastRequest("x"))
    sender = RecordingSender()
    sender.always["11"] = RecipientBlocked("blocked")
    await DeliveryWorker(engine, [sender], fast_settings()).run(until_job_finished=job_id)


async def test_statistics_of_a_period(engine: AsyncEngine) -> None:
    await seed_records(engine)
    await seed_subscribers_and_a_broadcast(engine)
    stats = await collect_statistics(engine, 7, today=TODAY, catalogue=CATALOGUE)

    assert (stats.since, stats.until, stats.days) == (dt.date(2025, 3, 4), TODAY, 7)
    per_day = {day.day: day for day in stats.questions_per_day}
    assert len(per_day) == 7 and per_day[dt.date(2025, 3, 5)].total == 0
    march_8 = per_day[dt.date(2025, 3, 8)]
    assert (march_8.answered, march_8.clarified, march_8.declined) == (4, 1, 1)
    assert per_day[TODAY].total == 3
    assert (stats.questions, stats.answered, stats.declined) == (9, 5, 3)

    top = [(p.code, p.count, p.name) for p in stats.top_procedures]
    assert top == [("1.001193", 4, "Đăng ký khai sinh"), ("1.000656", 1, "Đăng ký khai tử")]
    # Variants of one question are grouped under its latest wording.
    unanswered = [(q.text, q.count) for q in stats.unanswered]
    assert unanswered == [("lam lai so ho khau", 2), ("đổi bằng lái quốc tế", 1)]

    assert (stats.feedback.helpful, stats.feedback.not_helpful) == (2, 1)
    assert stats.feedback.helpful_share == pytest.approx(2 / 3)
    assert [p.code for p in stats.feedback.least_helpful] == ["1.000656"]

    satisfaction = stats.satisfaction
    assert (satisfaction.ratings, satisfaction.satisfied) == (3, 2)
    assert satisfaction.satisfied_share == pytest.approx(2 / 3)
    assert satisfaction.average == pytest.approx(11 / 3)
    assert [(d.day, d.ratings, d.satisfied) for d in satisfaction.by_day] == [
        (dt.date(2025, 3, 9), 2, 2),
        (TODAY, 1, 0),
    ]
    assert satisfaction.recent_comments == (("D-3", 2, "Phải đi lại hai lần"),)

    assert (stats.lookups.total, stats.lookups.dossiers) == (3, 2)
    assert stats.lookups.by_outcome == {"found": 2, "not_found": 1}

    telegram = stats.subscribers[Channel.TELEGRAM]
    assert telegram[SubscriberState.ACTIVE] == 1  # 10; 11 blocked by the broadcast
    assert telegram[SubscriberState.BLOCKED] == 1
    assert telegram[SubscriberState.OPTED_OUT] == 1
    # The broadcast was created "now", outside the seeded March period.
    assert stats.broadcasts.jobs == 0
    now = await collect_statistics(engine, 1)
    assert (now.broadcasts.jobs, now.broadcasts.recipients) == (1, 2)
    assert (now.broadcasts.sent, now.broadcasts.blocked) == (1, 1)

    table = format_statistics(stats)
    assert "Câu hỏi: 9 (trả lời được 55,6%, chưa trả lời được 33,3%)" in table
    assert "08/03/2025" in table and "Đăng ký khai sinh" in table
    assert "2 lần  lam lai so ho khau" in table
    assert "66,7% hài lòng (4–5 sao), điểm trung bình 3,67/5" in table
    assert "Tra cứu hồ sơ: 3 lượt, 2 hồ sơ khác nhau\n    tìm thấy 2, không có hồ sơ 1" in table
    lines = table.splitlines()
    heading = lines.index("Người nhận thông báo    đang nhận  đã hủy  đã chặn")
    telegram_row = lines[heading + 1]
    assert telegram_row.split() == ["telegram", "1", "1", "1"]
    assert len(telegram_row) == len(lines[heading])  # figures end under their headings
    assert all(len(line) <= 99 for line in table.splitlines())


async def test_an_empty_database_gives_an_empty_report(engine: AsyncEngine) -> None:
    stats = await collect_statistics(engine, 30, today=TODAY)
    assert stats.is_empty
    assert stats.satisfaction.satisfied_share is None
    table = format_statistics(stats)
    assert "Câu hỏi: chưa có" in table and "Hài lòng: chưa có đánh giá" in table
    assert png_size(render_chart(stats)) == (800, 600)


async def test_long_periods_are_shown_by_week(engine: AsyncEngine) -> None:
    await seed_records(engine)
    stats = await collect_statistics(engine, 90, today=TODAY)
    table = format_statistics(stats)
    assert "Tuần từ" in table
    assert "03/03/2025" in table  # the Monday of the week of 8 March
    assert "08/03/2025" not in table


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_chart_is_a_png_with_custom_labels(engine: AsyncEngine) -> None:
    await seed_records(engine)
    stats: StaffStatistics = await collect_statistics(engine, 7, today=TODAY)
    vietnamese = render_chart(stats)
    other = render_chart(stats, ChartLabels(questions_title="Số câu hỏi mỗi ngày"))
    assert png_size(vietnamese) == png_size(other) == (800, 600)
    assert vietnamese != other
    assert ChartLabels().questions_title == staff_texts.CHART_QUESTIONS_TITLE
    one_day = await collect_statistics(engine, 1, today=TODAY)
    assert png_size(render_chart(one_day)) == (800, 600)


def test_bot_stats_prints_the_table_and_writes_the_chart(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def prepare() -> None:
        engine = create_engine(sqlite_url)
        await ensure_schema(engine)
        recorder = StatsRecorder(engine)
        await recorder.record_question(
            ChatRef(Channel.TELEGRAM, "1"), "xin cấp phép karaoke", QuestionDecision.DECLINE
        )
        await engine.dispose()

    asyncio.run(prepare())
    config = write_config(tmp_path / "config.toml", database_url=sqlite_url)
    chart = tmp_path / "stats.png"
    code = main(["--config", str(config), "stats", "--days", "7", "--chart", str(chart)])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 lần  xin cấp phép karaoke" in out
    assert f"Đã vẽ biểu đồ vào {chart}" in out
    assert png_size(chart.read_bytes()) == (800, 600)
    assert main(["--config", str(config), "stats", "--days", "0"]) == 2
