"""Erasing personal data after `[storage] personal_data_days`, on SQLite and PostgreSQL:
texts and chat ids go, the counts staff statistics need stay, records still in use stay."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from e2e_support import base_config
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import running_bot
from bot.config import ConfigError, load_config
from bot.messages import Channel, ChatRef
from bot.retention import RetentionSweeper, forget_personal_data
from bot.stats.records import QuestionDecision, StatsRecorder
from bot.stats.report import collect_statistics
from bot.storage.context_tables import chat_contexts
from bot.storage.database import connect, create_engine
from bot.storage.dossier_tables import (
    access_grants,
    changes,
    deliveries,
    lookup_audit,
    requesters,
    subscriptions,
)
from bot.storage.handoff_tables import handoffs
from bot.storage.schema import ensure_schema
from bot.storage.stats_tables import answer_feedback, questions, ratings

NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=400)
RECENT = NOW - dt.timedelta(days=3)
CUTOFF = NOW - dt.timedelta(days=365)
TODAY = dt.date(2026, 11, 28)


def naive(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=None)


async def insert(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids = []
    async with connect(engine, begin=True) as connection:
        for row in rows:
            result = await connection.execute(table.insert().values(**row))
            if result.inserted_primary_key and "id" in table.c:
                ids.append(int(result.inserted_primary_key[0]))
    return ids


async def column(engine: AsyncEngine, *columns: Any) -> list[tuple[Any, ...]]:
    async with connect(engine) as connection:
        rows = await connection.execute(select(*columns).order_by(*columns))
        return [tuple(row) for row in rows]


async def seed_statistics(engine: AsyncEngine) -> None:
    for when, chat in ((OLD, "111"), (OLD, "222"), (RECENT, "333")):
        recorder = StatsRecorder(engine, clock=lambda when=when: when)  # type: ignore[misc]
        ref = ChatRef(Channel.TELEGRAM, chat)
        await recorder.record_question(ref, f"hỏi thời tiết {chat}", QuestionDecision.DECLINE)
        await recorder.record_question(
            ref, "làm khai sinh cần gì", QuestionDecision.ANSWER, "1.001193"
        )
        await recorder.record_answer_feedback(ref, "1.001193", helpful=True)
        # Two chats rating the same dossier: still unique once their ids are erased.
        await recorder.record_rating(ref, "000.00.12.H58-251120-0001", 5, f"cảm ơn {chat}")
        await recorder.close()


async def test_statistics_lose_texts_and_chat_ids_but_keep_counts(engine: AsyncEngine) -> None:
    await seed_statistics(engine)
    old_days = (OLD.date() - dt.timedelta(days=1), OLD.date() + dt.timedelta(days=1))
    before = await collect_statistics(engine, 3, today=old_days[1])
    assert sorted(u.text for u in before.unanswered) == ["hỏi thời tiết 111", "hỏi thời tiết 222"]

    erased = await forget_personal_data(engine, CUTOFF)
    assert erased.statistics == 2 * 2 + 2 + 2  # questions, feedback, ratings of two chats

    texts = await column(engine, questions.c.text, questions.c.chat_id)
    assert ("hỏi thời tiết 333", "333") in texts
    assert all(text == "" and chat.startswith("#") for text, chat in texts if chat != "333")
    assert {chat for (chat,) in await column(engine, answer_feedback.c.chat_id)} >= {"333"}
    rating_rows = await column(engine, ratings.c.chat_id, ratings.c.comment, ratings.c.score)
    assert ("333", "cảm ơn 333", 5) in rating_rows
    assert sorted(comment for _, comment, _ in rating_rows) == ["", "", "cảm ơn 333"]

    after = await collect_statistics(engine, 3, today=old_days[1])
    assert after.questions == before.questions == 4
    assert after.answered == before.answered
    assert after.feedback == before.feedback
    assert after.satisfaction.ratings == before.satisfaction.ratings
    assert after.unanswered == (), "erased texts are not listed as empty questions"
    recent = await collect_statistics(engine, 7, today=TODAY)
    assert [u.text for u in recent.unanswered] == ["hỏi thời tiết 333"]

    again = await forget_personal_data(engine, CUTOFF)
    assert again.total == 0, "erasing twice finds nothing more"


async def test_dossier_records_go_unless_still_in_use(engine: AsyncEngine) -> None:
    code, other = "000.00.12.H58-251120-0001", "000.00.12.H58-251120-0002"
    await insert(
        engine,
        lookup_audit,
        [
            {"at": naive(t), "channel": "telegram", "chat_id": c, "user_id": c, "code": code,
             "outcome": "found"}
            for t, c in ((OLD, "111"), (RECENT, "333"))
        ],
    )  # fmt: skip
    followed, dropped = await insert(
        engine,
        subscriptions,
        [
            {"channel": "telegram", "chat_id": "111", "code": code, "created_at": naive(OLD)},
            {"channel": "telegram", "chat_id": "222", "code": other, "created_at": naive(OLD),
             "ended_at": naive(OLD), "end_reason": "returned"},
        ],
    )  # fmt: skip
    await insert(
        engine,
        access_grants,
        [
            {"channel": "telegram", "chat_id": "111", "code": code, "granted_at": naive(OLD)},
            {"channel": "telegram", "chat_id": "222", "code": other, "granted_at": naive(OLD)},
            {"channel": "telegram", "chat_id": "333", "code": code, "granted_at": naive(RECENT)},
        ],
    )
    await insert(
        engine,
        requesters,
        [
            {"channel": "telegram", "user_id": "111", "failed_count": 2,
             "last_failure_at": naive(OLD)},
            {"channel": "telegram", "user_id": "333", "failed_count": 3, "lockout_level": 1,
             "last_failure_at": naive(RECENT), "locked_until": naive(NOW)},
        ],
    )  # fmt: skip
    done_change, waiting_change = await insert(
        engine,
        changes,
        [
            {"source_key": "s", "change_key": key, "code": c, "status": 9,
             "view_json": '{"applicant_name": "Nguyễn Văn A"}', "recorded_at": naive(OLD)}
            for key, c in (("1", other), ("2", code))
        ],
    )  # fmt: skip
    await insert(
        engine,
        deliveries,
        [
            {"subscription_id": dropped, "change_id": done_change, "state": "delivered",
             "delivered_at": naive(OLD)},
            {"subscription_id": followed, "change_id": waiting_change, "state": "pending"},
        ],
    )  # fmt: skip

    erased = await forget_personal_data(engine, CUTOFF)

    audit = await column(
        engine, lookup_audit.c.user_id, lookup_audit.c.chat_id, lookup_audit.c.code
    )
    assert ("333", "333", code) in audit
    erased_user, erased_chat, erased_code = next(row for row in audit if row[0] != "333")
    assert erased_user.startswith("#") and erased_chat.startswith("#")
    assert erased_code == code
    assert len(audit) == 2, "the audit keeps its rows for the lookup statistics"
    grants = await column(engine, access_grants.c.chat_id)
    assert grants == [("111",), ("333",)], "a followed dossier and a recent grant stay"
    assert await column(engine, requesters.c.user_id) == [("333",)]
    assert await column(engine, changes.c.change_key) == [("2",)], "an undelivered change stays"
    assert await column(engine, deliveries.c.state) == [("pending",)]
    assert await column(engine, subscriptions.c.chat_id) == [("111",)]
    assert erased.dossiers == 1 + 1 + 1 + 1 + 1 + 1  # audit, grant, requester, delivery...


async def test_old_conversation_contexts_are_deleted(engine: AsyncEngine) -> None:
    await insert(
        engine,
        chat_contexts,
        [
            {"channel": "web", "chat_id": chat, "data": "{}", "updated_at": when}
            for chat, when in (("old", OLD), ("new", RECENT))
        ],
    )
    erased = await forget_personal_data(engine, CUTOFF)
    assert erased.contexts == 1
    assert await column(engine, chat_contexts.c.chat_id) == [("new",)]


async def test_old_closed_handoffs_are_deleted_open_ones_stay(engine: AsyncEngine) -> None:
    rows: list[dict[str, Any]] = [
        {"chat_id": "closed-long-ago", "closed_at": naive(OLD)},
        {"chat_id": "closed-recently", "closed_at": naive(RECENT)},
        {"chat_id": "still-open", "closed_at": None},
    ]
    await insert(
        engine,
        handoffs,
        [
            {
                "channel": "web",
                "opened_at": naive(OLD),
                "last_activity_at": naive(OLD),
                "citizen_messages": 1,
                "staff_messages": 1,
                **row,
            }
            for row in rows
        ],
    )
    erased = await forget_personal_data(engine, CUTOFF)
    assert erased.handoffs == 1
    remaining = await column(engine, handoffs.c.chat_id)
    assert sorted(remaining) == [("closed-recently",), ("still-open",)]


async def test_the_running_bot_erases_at_start_up(tmp_path: Path, project_root: Path) -> None:
    config = base_config(tmp_path, project_root)
    config = dataclasses.replace(
        config,
        storage=dataclasses.replace(config.storage, personal_data_days=30),
        dossiers=dataclasses.replace(config.dossiers, source="none"),
    )
    engine = create_engine(config.storage.url)
    await ensure_schema(engine)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    recorder = StatsRecorder(engine, clock=lambda: long_ago)
    await recorder.record_question(
        ChatRef(Channel.WEB, "w1"), "số điện thoại của chủ tịch", QuestionDecision.DECLINE
    )
    try:
        async with running_bot(config):
            for _ in range(100):
                if await column(engine, questions.c.text) == [("",)]:
                    break
                await asyncio.sleep(0.05)
            assert await column(engine, questions.c.text) == [("",)]
    finally:
        await engine.dispose()


async def test_sweeper_survives_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    sweeper = RetentionSweeper(engine, 30, interval_seconds=0.05)
    sweeper.start()
    await asyncio.sleep(0.3)
    await sweeper.stop()
    await engine.dispose()
    # Retried several times, the outage logged once (bot.storage.outage).
    assert caplog.text.count("is unavailable") == 1


def test_a_negative_retention_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[storage]\npersonal_data_days = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[storage\] personal_data_days: expected a number"):
        load_config(path, environ={})
