"""Staff teach the bot: lessons match the question they were taught on however it is typed,
live in the bot's database for every process, survive a restart, and export to the reviewed
file; `bot teach` runs as its own process beside a running bot."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.config import CatalogueConfig, Config, DossierConfig, StorageConfig
from bot.core import open_core
from bot.messages import Channel, ChatRef, Incoming, Reply
from bot.search.lessons import (
    Lesson,
    LessonKind,
    Lessons,
    read_taught_file,
    taught_file_text,
)
from bot.stats.records import QuestionDecision, StatsRecorder
from bot.storage.database import create_engine
from bot.storage.schema import ensure_schema
from bot.teaching import store as store_module
from bot.teaching.store import LessonStore, NothingToTeach, questions_to_teach

ROOT = Path(__file__).resolve().parent.parent
# Declined by the shipped catalogue as it stands (a nickname nobody wrote down); here it
# means the criminal record certificate.
MISSED = "cho hỏi giấy tím xin ở đâu"
CRIMINAL_RECORD = "3.000333"


def test_a_lesson_matches_its_question_typed_otherwise() -> None:
    lessons = Lessons([Lesson("tờ 500 nghìn bị chuột cắn đổi ở đâu", LessonKind.NOT_OURS)])
    for typed in (
        "tờ 500 nghìn bị chuột cắn đổi ở đâu",
        "TO 500 NGHIN BI CHUOT CAN DOI O DAU???",
        "to 500 nghin bi chuot can, doi o dau a",
        "đổi ở đâu tờ 500 nghìn bị chuột cắn",
    ):
        assert lessons.find(typed) is not None, typed
    for other in (
        "tờ 500 nghìn bị rách",
        "thẻ bhyt bị chuột cắn",
        "tờ 500 nghìn bị chuột cắn đổi ở đâu, còn giấy khai sinh bị mối ăn thì làm lại sao",
        "",
    ):
        assert lessons.find(other) is None, other


def test_a_later_lesson_on_the_same_question_replaces_the_earlier() -> None:
    lessons = Lessons(
        [
            Lesson("xin giấy trong sạch", LessonKind.NOT_OURS),
            Lesson("Xin giấy trong sạch!", LessonKind.PROCEDURE, CRIMINAL_RECORD),
        ]
    )
    assert len(lessons) == 1
    found = lessons.find("xin giay trong sach")
    assert found is not None and found.target == CRIMINAL_RECORD


def test_the_reviewed_file_round_trips_and_reports_problems(tmp_path: Path) -> None:
    taught = [
        Lesson("tờ tiền bị rách", LessonKind.NOT_OURS, taught_by="cli"),
        Lesson('giấy "trong sạch"', LessonKind.PROCEDURE, CRIMINAL_RECORD),
        Lesson("vợ mới sanh", LessonKind.EVENT, "family.birth", "telegram:9"),
    ]
    path = tmp_path / "_taught.toml"
    path.write_text(taught_file_text(taught), encoding="utf-8")
    read, problems = read_taught_file(path)
    assert problems == []
    assert sorted(read, key=lambda lesson: lesson.key) == sorted(taught, key=lambda x: x.key)
    assert path.read_text(encoding="utf-8").splitlines().count("[[lesson]]") == 3

    path.write_text(
        '[[lesson]]\nquestion = "a b"\n\n[[lesson]]\nquestion = "c"\nprocedure = "x"\n\n'
        '[[lesson]]\nquestion = "d"\nnot_ours = true\n',
        encoding="utf-8",
    )
    read, problems = read_taught_file(path)
    assert [lesson.question for lesson in read] == ["d"]
    assert [str(p).split(": ", 1)[0] for p in problems] == [f"{path}:1", f"{path}:4"]
    assert "exactly one of" in str(problems[0]) and "not a procedure code" in str(problems[1])
    path.write_text("[[lesson]\n", encoding="utf-8")
    assert "cannot read" in str(read_taught_file(path)[1][0])
    assert read_taught_file(tmp_path / "none.toml") == ([], [])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_lesson_reaches_another_process_within_its_refresh(engine: AsyncEngine) -> None:
    clock = Clock()
    here = LessonStore(engine, refresh_seconds=3.0, monotonic=clock)
    there = LessonStore(engine, refresh_seconds=3.0, monotonic=clock)
    assert (await there.current()).find(MISSED) is None
    await here.teach(MISSED, LessonKind.PROCEDURE, CRIMINAL_RECORD, taught_by="cli")
    assert (await here.current()).find(MISSED) is not None  # at once where it was taught
    assert (await there.current()).find(MISSED) is None  # the other reads again later...
    clock.now += 3.5
    found = (await there.current()).find(MISSED)
    assert found is not None and found.target == CRIMINAL_RECORD  # ...within seconds

    # Teaching the same question again replaces the lesson; forgetting takes it back.
    await here.teach(MISSED.upper(), LessonKind.NOT_OURS, "ignored", taught_by="cli")
    stored = await here.stored()
    assert [(s.lesson.kind, s.lesson.target) for s in stored] == [(LessonKind.NOT_OURS, "")]
    assert await here.forget(stored[0].id)
    assert not await here.forget(stored[0].id)
    clock.now += 3.5
    assert (await there.current()).find(MISSED) is None
    with pytest.raises(NothingToTeach):
        await here.teach("?!", LessonKind.NOT_OURS)


async def test_the_files_lessons_are_the_base_and_the_database_overrides(
    engine: AsyncEngine,
) -> None:
    base = [Lesson(MISSED, LessonKind.NOT_OURS), Lesson("tiền rách", LessonKind.NOT_OURS)]
    store = LessonStore(engine, base)
    assert len(await store.current()) == 2
    await store.teach(MISSED, LessonKind.PROCEDURE, CRIMINAL_RECORD)
    lessons = await store.current()
    found = lessons.find(MISSED)
    assert len(lessons) == 2 and found is not None and found.kind is LessonKind.PROCEDURE


async def test_a_database_outage_keeps_the_last_lessons(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await ensure_schema(engine)
    clock = Clock()
    store = LessonStore(engine, refresh_seconds=1.0, monotonic=clock)
    await store.teach(MISSED, LessonKind.PROCEDURE, CRIMINAL_RECORD)
    await engine.dispose()
    (tmp_path / "bot.sqlite3").unlink()
    (tmp_path / "bot.sqlite3").mkdir()  # the file is now unreadable as a database
    try:
        for _ in range(3):
            clock.now += 2
            assert (await store.current()).find(MISSED) is not None
    finally:
        # Let aiosqlite's worker threads of the failed connections finish inside this
        # test's event loop (they report back to it).
        await engine.dispose()
        await asyncio.sleep(0.1)
    warnings = [r for r in caplog.records if "is unavailable" in r.message]
    assert len(warnings) == 1  # once per outage (bot.storage.outage)


async def test_questions_to_teach_are_the_missed_ones_grouped(engine: AsyncEngine) -> None:
    import datetime as dt

    recorder = StatsRecorder(engine)
    chat = ChatRef(Channel.WEB, "c")
    for text, decision, code in (
        (MISSED, QuestionDecision.DECLINE, None),
        ("Cho hỏi GIẤY TÍM xin ở đâu?", QuestionDecision.DECLINE, None),
        ("đăng ký xe", QuestionDecision.REJECTED, "1.013067"),
        ("đăng ký xe", QuestionDecision.ANSWER, "1.013067"),
        ("làm khai sinh", QuestionDecision.ANSWER, "1.001193"),
    ):
        recorder.queue_question(chat, text, decision, code)
    await recorder.close()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    found = await questions_to_teach(engine, since)
    assert [(q.count, q.turned_down) for q in found] == [(2, ()), (1, ("1.013067",))]
    assert found[0].text == "Cho hỏi GIẤY TÍM xin ở đâu?"  # the latest
    taught = Lessons([Lesson(MISSED, LessonKind.NOT_OURS)])
    assert [q.text for q in await questions_to_teach(engine, since, taught=taught)] == [
        "đăng ký xe"
    ]


# --- end to end: a running bot, and `bot teach` in another process ------------------------


def bot_config(database_url: str) -> Config:
    return dataclasses.replace(
        Config(),
        catalogue=CatalogueConfig(ROOT / "procedures", ROOT / "procedures" / "_vocabulary.toml"),
        storage=StorageConfig(url=database_url),
        dossiers=DossierConfig(source="none"),
    )


def text_of(replies: Sequence[Reply]) -> str:
    return "\n".join(r.plain_text() for r in replies)


def teach_command(
    tmp_path: Path, database_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{database_url}"\n[dossiers]\nsource = "none"\n'
        f'[catalogue]\npath = "{ROOT / "procedures"}"\n'
        f'vocabulary = "{ROOT / "procedures" / "_vocabulary.toml"}"\n',
        encoding="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", "teach", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_a_declined_question_is_answered_after_teaching_in_another_process(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "REFRESH_SECONDS", 0.2)
    config = bot_config(database_url)
    chat = ChatRef(Channel.WEB, "citizen")
    async with open_core(config) as core:
        await core.dialogue.handle(Incoming(chat, "citizen", "/start"))
        before = await core.dialogue.handle(Incoming(chat, "citizen", MISSED))
        assert "chưa tìm được thủ tục" in text_of(before).lower()
        await core.recorder.flush()

        listed = await asyncio.to_thread(teach_command, tmp_path, database_url, "list")
        assert listed.returncode == 0, listed.stderr
        row = next(line for line in listed.stdout.splitlines() if MISSED in line)
        row_id = row.split()[0]  # "#12"
        taught = await asyncio.to_thread(
            teach_command, tmp_path, database_url, "add", row_id, "--procedure", CRIMINAL_RECORD
        )
        assert taught.returncode == 0, taught.stderr
        assert f"The bot now shows: {CRIMINAL_RECORD}" in taught.stdout

        await asyncio.sleep(0.3)  # the running bot reads the lessons again
        after = await core.dialogue.handle(Incoming(chat, "citizen", MISSED))
        assert "Lý lịch tư pháp" in text_of(after)
        typed_otherwise = await core.dialogue.handle(
            Incoming(chat, "citizen", "cho hoi giay tim xin o dau a")
        )
        assert "Lý lịch tư pháp" in text_of(typed_otherwise)

    async with open_core(config) as restarted:  # kept in the database
        again = await restarted.dialogue.handle(Incoming(chat, "citizen", MISSED))
        assert "Lý lịch tư pháp" in text_of(again)

    exported = await asyncio.to_thread(
        teach_command, tmp_path, database_url, "export", "--into", str(tmp_path / "t.toml")
    )
    assert exported.returncode == 0, exported.stderr
    lessons, problems = read_taught_file(tmp_path / "t.toml")
    assert problems == [] and [(x.question, x.target) for x in lessons] == [
        (MISSED, CRIMINAL_RECORD)
    ]


def test_bot_teach_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    for args, message in (
        (("add", "x y", "--procedure", "9.999999"), "procedure 9.999999 is not in the catalogue"),
        (("add", "x y", "--event", "no.such"), "no life event 'no.such'"),
        (("add", "x y"), "give exactly one of"),
        (("add", "#abc", "--not-ours"), "#ROW must be a number"),
        (("add", "#999", "--not-ours"), "no question #999"),
        (("forget", "999"), "no lesson 999"),
    ):
        result = teach_command(tmp_path, url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)


async def test_not_ours_lessons_get_their_own_reply(tmp_path: Path) -> None:
    config = bot_config(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    chat = ChatRef(Channel.WEB, "c")
    async with open_core(config) as core:
        await core.lessons.teach("tờ 500 nghìn bị chuột cắn", LessonKind.NOT_OURS)
        await core.dialogue.handle(Incoming(chat, "c", "/start"))
        replies = await core.dialogue.handle(Incoming(chat, "c", "to 500 nghin bi chuot can"))
        assert text_of(replies) == texts.DECLINE_NOT_OURS.format(
            hotline=core.config.center.hotline
        )
