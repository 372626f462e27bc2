"""`bot teach`: staff say what the questions the bot missed meant.

    bot teach list [--days N]                   questions declined or turned down, most
                                                frequent first, each with its #ROW and the
                                                bot's best guesses
    bot teach add QUESTION|#ROW --procedure CODE | --event ID | --not-ours
    bot teach lessons                           what has been taught (id, question, meaning)
    bot teach forget ID                         take a lesson back
    bot teach export [--into FILE]              write every lesson to the reviewed file
                                                (default: _taught.toml beside the vocabulary)

A lesson is stored in the bot's database: every running bot process uses it within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config
from bot.search import Decision, Matcher
from bot.search.lessons import TAUGHT_FILE, LessonKind, Lessons, taught_file_text
from bot.storage.database import StorageError, StorageUnavailable, create_engine
from bot.storage.schema import SchemaError, ensure_schema
from bot.teaching.store import (
    LessonStore,
    NothingToTeach,
    asked_question,
    questions_to_teach,
)

GUESSES = 3


class TeachError(Exception):
    """What staff asked cannot be done; the message says why (exit status 2)."""


def run_teach(config: Config, matcher: Matcher, args: argparse.Namespace, out: TextIO) -> int:
    """The `bot teach` command on the configured catalogue's matcher; the exit status."""
    try:
        return asyncio.run(_run(config, matcher, args, out))
    except TeachError as exc:
        print(f"bot teach: {exc}", file=sys.stderr)
        return 2
    except (StorageError, StorageUnavailable) as exc:
        print(f"bot teach: the bot's database: {exc}", file=sys.stderr)
        return 1
    except SchemaError as exc:
        print(f"bot teach: {exc}", file=sys.stderr)
        return 1


async def _run(config: Config, matcher: Matcher, args: argparse.Namespace, out: TextIO) -> int:
    engine = create_engine(config.storage.url)
    try:
        await ensure_schema(engine, migrate=config.storage.auto_migrate)
        store = LessonStore(engine, matcher.vocabulary.lessons, refresh_seconds=0)
        action = args.action
        if action == "list":
            await _list(engine, store, matcher, args.days, out)
        elif action == "add":
            await _add(engine, store, matcher, args, out)
        elif action == "lessons":
            await _lessons(store, out)
        elif action == "forget":
            if not await store.forget(_number(args.question, "lesson id")):
                raise TeachError(f"no lesson {args.question} (see `bot teach lessons`)")
            print(f"Lesson {args.question} taken back.", file=out)
        else:
            await _export(store, config, args.into, out)
        return 0
    finally:
        await engine.dispose()


async def _list(
    engine: AsyncEngine, store: LessonStore, matcher: Matcher, days: int, out: TextIO
) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=max(days, 1))
    found = await questions_to_teach(engine, since, taught=await store.current())
    if not found:
        print(f"No declined or turned-down questions in the last {days} days.", file=out)
        return
    for question in found:
        print(f"#{question.row_id}  ({question.count}x)  {question.text}", file=out)
        if question.turned_down:
            print(f"    turned down: {', '.join(question.turned_down)}", file=out)
        guesses = [c.procedure for c in matcher.search(question.text).candidates[:GUESSES]]
        for procedure in guesses:
            print(f"    guess: {procedure.code}  {procedure.name[:90]}", file=out)
    print(
        "\nTeach one: bot teach add '#ROW' --procedure CODE | --event ID | --not-ours",
        file=out,
    )


async def _add(
    engine: AsyncEngine,
    store: LessonStore,
    matcher: Matcher,
    args: argparse.Namespace,
    out: TextIO,
) -> None:
    question = str(args.question or "").strip()
    if question.startswith("#"):
        found = await asked_question(engine, _number(question[1:], "#ROW"))
        if found is None:
            raise TeachError(f"no question {question} (see `bot teach list`)")
        question = found
    kind, target = _meaning(args, matcher)
    try:
        lesson = await store.teach(question, kind, target, taught_by="cli")
    except NothingToTeach:
        raise TeachError("the question has no words to recognise it by") from None
    result = matcher.search(question, await store.current())
    print(f"Taught: «{lesson.question}» -> {_meaning_text(kind, target, matcher)}", file=out)
    if result.decision is Decision.DECLINE:
        print("The bot now declines it.", file=out)
    else:
        shown = ", ".join(c.procedure.code for c in result.shown)
        print(f"The bot now shows: {shown}", file=out)


def _meaning(args: argparse.Namespace, matcher: Matcher) -> tuple[LessonKind, str]:
    given = [x for x in (args.procedure, args.event) if x] + (["-"] if args.not_ours else [])
    if len(given) != 1:
        raise TeachError("give exactly one of --procedure CODE, --event ID, --not-ours")
    if args.not_ours:
        return LessonKind.NOT_OURS, ""
    if args.procedure:
        code = args.procedure.strip()
        catalogue = matcher.catalogue
        if catalogue.get(code) is None and not any(
            p.code.startswith(f"{code}.") for p in catalogue.procedures
        ):
            raise TeachError(f"procedure {code} is not in the catalogue")
        return LessonKind.PROCEDURE, code
    event = args.event.strip()
    known = {e.id for e in matcher.vocabulary.events}
    if event not in known:
        raise TeachError(f"no life event '{event}' (the ids are in the _events files)")
    return LessonKind.EVENT, event


def _meaning_text(kind: LessonKind, target: str, matcher: Matcher) -> str:
    if kind is LessonKind.NOT_OURS:
        return "not a matter of the center"
    if kind is LessonKind.EVENT:
        titles = {e.id: e.title for e in matcher.vocabulary.events}
        return f"life event {target} ({titles.get(target, '')})"
    procedure = matcher.catalogue.get(target)
    return f"{target} {procedure.name if procedure else ''}".strip()


async def _lessons(store: LessonStore, out: TextIO) -> None:
    stored = await store.stored()
    if not stored:
        print("No lessons in the database yet.", file=out)
    for item in stored:
        lesson = item.lesson
        meaning = lesson.target or "not ours"
        when = item.taught_at.strftime("%Y-%m-%d")
        line = f"{item.id:>5}  {when}  {lesson.kind.value:9} {meaning:22} {lesson.question}"
        print(line, file=out)


async def _export(store: LessonStore, config: Config, into: str | None, out: TextIO) -> None:
    lessons: Lessons = await store.current()
    path = Path(into) if into else config.catalogue.vocabulary.parent / TAUGHT_FILE
    text = taught_file_text(lessons.all())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TeachError(f"cannot write {path}: {exc.strerror}") from None
    print(f"{len(lessons)} lessons written to {path}", file=out)


def _number(text: str, what: str) -> int:
    try:
        value = int(str(text).lstrip("#"))
    except ValueError:
        raise TeachError(f"{what} must be a number, not {text!r}") from None
    if value < 1 or value > 2**62:
        raise TeachError(f"{what} {text!r} is out of range")
    return value
