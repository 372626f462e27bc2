"""What staff taught the bot: a question it missed, and what that question meant.

Staff read the questions the bot declined or got wrong (`bot teach list`, `/day` in the
staff chat) and say what each meant: a procedure, a life event, or "not ours" (a matter
no procedure of the center handles). The running bot uses a lesson at once, in every
process (bot.teaching keeps them in the bot's database), and `bot teach export` writes
them to `procedures/_taught.toml` so that they are reviewed in a change like the rest of
the vocabulary:

    [[lesson]]
    question = "tờ 500 nghìn bị chuột cắn đổi ở đâu"
    procedure = "2.001077"          # or: event = "property-work.damaged-money"
                                    # or: not_ours = true

A lesson answers the question it was taught on and the same question typed otherwise:
without diacritics, with other spacing or punctuation, with a word or two more or less
("cho em hỏi", "ạ"), or in another order. `Lessons.find` is pure and cheap.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli_w
from rapidfuzz import fuzz, process

from bot.catalogue.files import Problem
from bot.catalogue.model import SourceLocation, code_shape
from bot.search.normalize import tokens

TAUGHT_FILE = "_taught.toml"

# How alike (0-100, rapidfuzz token_sort_ratio on the folded words) a question must be
# to a taught one to get its lesson: a few letters or a short word apart.
SIMILAR_AT = 88
# A question this much longer than the taught one is another question with more in it.
MAX_LENGTH_RATIO = 1.6


class LessonKind(StrEnum):
    PROCEDURE = "procedure"
    EVENT = "event"
    NOT_OURS = "not_ours"


@dataclass(frozen=True, slots=True)
class Lesson:
    question: str
    kind: LessonKind
    target: str = ""  # the procedure code or event id; "" when not ours
    taught_by: str = ""

    @property
    def key(self) -> str:
        return lesson_key(self.question)


def lesson_key(text: str) -> str:
    """How a question is compared: its folded words ("Tờ 500k, bị chuột cắn!" ->
    "to 500k bi chuot can")."""
    return " ".join(tokens(text))


class Lessons:
    """A snapshot of the lessons, for the matcher (immutable once built)."""

    def __init__(self, lessons: Iterable[Lesson] = ()) -> None:
        by_key: dict[str, Lesson] = {}
        for lesson in lessons:  # a later lesson on the same question replaces an earlier
            if lesson.key:
                by_key[lesson.key] = lesson
        self._by_key = by_key
        self._keys = list(by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def all(self) -> tuple[Lesson, ...]:
        return tuple(self._by_key.values())

    def find(self, text: str) -> Lesson | None:
        """The lesson for this question, None when none was taught on it."""
        if not self._keys:
            return None
        key = lesson_key(text)
        if not key:
            return None
        exact = self._by_key.get(key)
        if exact is not None:
            return exact
        found = process.extractOne(key, self._keys, scorer=fuzz.token_sort_ratio)
        if found is None or found[1] < SIMILAR_AT:
            return None
        taught = found[0]
        longer, shorter = max(len(key), len(taught)), max(min(len(key), len(taught)), 1)
        if longer / shorter > MAX_LENGTH_RATIO:
            return None
        return self._by_key[taught]


# --- the reviewed file --------------------------------------------------------------------


def read_taught_file(path: Path) -> tuple[list[Lesson], list[Problem]]:
    """The lessons of `path` (none when it does not exist) and its problems (file:line)."""
    if not path.is_file():
        return [], []
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [], [Problem(SourceLocation(where), f"cannot read taught questions: {exc}")]
    tables = data.get("lesson", [])
    if not isinstance(tables, list):
        return [], [Problem(SourceLocation(where), "'lesson' must be [[lesson]] tables")]
    lines = [
        n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[lesson]]"
    ]
    lessons: list[Lesson] = []
    problems: list[Problem] = []
    for number, table in enumerate(tables):
        location = SourceLocation(where, lines[number] if number < len(lines) else 1)
        lesson = _lesson(table)
        if isinstance(lesson, str):
            problems.append(Problem(location, lesson))
        else:
            lessons.append(lesson)
    return lessons, problems


def _lesson(table: Any) -> Lesson | str:
    """A lesson from one [[lesson]] table, or what is wrong with it."""
    if not isinstance(table, dict):
        return "a [[lesson]] must be a table"
    question = table.get("question")
    if not isinstance(question, str) or not lesson_key(question):
        return "a lesson needs the question it was taught on"
    taught_by = str(table.get("taught_by", ""))
    targets = [key for key in ("procedure", "event", "not_ours") if key in table]
    if len(targets) != 1:
        return f"lesson {question!r}: give exactly one of procedure, event, not_ours"
    if "not_ours" in table:
        if table["not_ours"] is not True:
            return f"lesson {question!r}: not_ours must be true"
        return Lesson(question, LessonKind.NOT_OURS, "", taught_by)
    if "procedure" in table:
        code = table["procedure"]
        if not isinstance(code, str) or code_shape(code) == "malformed":
            return f"lesson {question!r}: '{code}' is not a procedure code (e.g. 1.001193)"
        return Lesson(question, LessonKind.PROCEDURE, code, taught_by)
    event = table["event"]
    if not isinstance(event, str) or not event:
        return f"lesson {question!r}: event must be an event id"
    return Lesson(question, LessonKind.EVENT, event, taught_by)


def taught_file_text(lessons: Sequence[Lesson]) -> str:
    """The reviewed file's text: a header, then the lessons in question order."""
    header = (
        "# Questions the center's staff taught the bot (`bot teach`, /day in the staff chat),\n"
        "# exported with `bot teach export`. Each [[lesson]] is a question citizens asked and\n"
        "# what it meant: procedure = code, event = life event id, or not_ours = true. The bot\n"
        "# reads this file at start-up together with the lessons in its database.\n"
    )
    blocks: list[str] = []
    for lesson in sorted(lessons, key=lambda lesson: lesson.key):
        table: dict[str, Any] = {"question": lesson.question}
        if lesson.kind is LessonKind.PROCEDURE:
            table["procedure"] = lesson.target
        elif lesson.kind is LessonKind.EVENT:
            table["event"] = lesson.target
        else:
            table["not_ours"] = True
        if lesson.taught_by:
            table["taught_by"] = lesson.taught_by
        # One [[lesson]] table each (tomli_w would write a short list of them inline).
        blocks.append("[[lesson]]\n" + tomli_w.dumps(table))
    return header + "".join(f"\n{block}" for block in blocks)
