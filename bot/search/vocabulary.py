"""The domain vocabulary: how citizens say things, mapped to the words the catalogue uses.

It lives in a reviewed data file (`procedures/_vocabulary.toml`) that the center's staff
extend without touching code; `bot catalogue check` runs `check_vocabulary` on it. The
sections:

    [terms]        "what citizens write" = "catalogue words" (or a list of alternatives):
                   abbreviations (cccd), everyday names (sổ đỏ), regional words (mần)
    [aliases]      "1.001193" = ["everyday name", ...]: extra names of one procedure
    [qualifiers]   words that mark a special case of a procedure; the plain case is
                   preferred unless the question says them: who = [...] (who applies:
                   "tổ chức", "nước ngoài"), how = [...] ("lưu động", "liên thông"),
                   what = [...] (what is done: "cấp lại", "gia hạn"), and citizens =
                   [...] ("hộ gia đình", "cá nhân"): a name that says one of these is
                   for citizens, and its "who" qualifiers are not held against it;
                   staff_agencies = [...]: handling agencies whose procedures serve their
                   own force's members (a police welfare department), offered only when
                   the question names one of members = [...] ("công an", "chiến sĩ")
    [fillers]      phrases = [...]: words that carry no meaning for matching ("cho em hỏi");
                   context = [...]: words that are usually context, not the subject
                   (family members, places): they still match, but weigh little
    [decline]      greeting / small_talk / complaint / private_data = [...]: phrases that
                   mark a message the bot should not answer with a procedure;
                   elsewhere = [...]: services of other agencies that this catalogue does
                   not hold ("trợ cấp thất nghiệp"), answered as "no such procedure here";
                   done = [...]: a procedure already done ("xong rồi"): what the message
                   asks after it must name a procedure itself to be answered;
                   advice = [...]: questions asking for advice, a recommendation or a
                   market price ("hãng nào tốt", "nên mua ... hay"), in the life events'
                   phrase syntax: in the clause that asks, the message is not a procedure
                   question unless that clause names the procedure itself
    [conversation] dossier_status / center_info / thanks / human = [...]: what people
                   ask of the center itself (where their dossier is, its hours, a person
                   to talk to), in the life events' phrase syntax: "(a|b) c", words in
                   order with up to three others between them

Every value is matched without diacritics and case, so "sổ đỏ" also covers "so do".

Beside the file, the folder `_events/` holds the life events (bot.search.events): the
situations citizens describe and the procedures each leads to; `_taught.toml` holds the
questions staff taught (bot.search.lessons). Both are read with the vocabulary; a broken
entry is logged and left out, like a broken procedure file.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.catalogue.files import Problem, Severity
from bot.catalogue.model import Catalogue, SourceLocation, code_shape
from bot.search.confidence import (
    CONFIDENCE_FILE,
    ConfidenceError,
    ConfidenceModel,
    read_confidence,
)
from bot.search.events import LifeEvent, check_life_events, parse_phrase, read_life_events
from bot.search.lessons import TAUGHT_FILE, Lesson, read_taught_file
from bot.search.normalize import tokens

log = logging.getLogger(__name__)

EVENTS_FOLDER = "_events"


class VocabularyError(Exception):
    """The vocabulary file cannot be used; the message is `file:line: what is wrong`."""


@dataclass(frozen=True, slots=True)
class Term:
    """One [terms] entry: a citizen's phrase and the catalogue phrases it stands for."""

    phrase: str
    meanings: tuple[str, ...]
    line: int = 1


DECLINE_KINDS = (
    "greeting",
    "small_talk",
    "complaint",
    "private_data",
    "elsewhere",
    "done",
    "advice",
)
# Decline kinds written in the life events' phrase syntax, like [conversation].
PHRASE_SYNTAX_DECLINE_KINDS = ("advice",)
# What people ask of the center itself, not of a procedure (bot.search.matcher answers
# these before searching): their dossier, the center's address and hours, thanks, a person.
CONVERSATION_KINDS = ("dossier_status", "center_info", "thanks", "human")
QUALIFIER_KINDS = ("who", "how", "what", "citizens", "staff_agencies", "members")


@dataclass(frozen=True)
class Vocabulary:
    terms: tuple[Term, ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # QUALIFIER_KINDS -> phrases
    qualifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fillers: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    # DECLINE_KINDS -> phrases
    decline: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # CONVERSATION_KINDS -> phrases in the life events' syntax ("hồ sơ (của tôi|của em)")
    conversation: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    events: tuple[LifeEvent, ...] = ()
    lessons: tuple[Lesson, ...] = ()  # what staff taught, exported for review
    confidence: ConfidenceModel | None = None  # fitted decision model (bot.search.confidence)
    source: str = ""


_SECTIONS = {
    "terms": 'a table of "phrase" = "catalogue words" (or a list of them)',
    "aliases": 'a table of "procedure code" = ["everyday name", ...]',
    "qualifiers": "a table with " + ", ".join(f"{kind} = [...]" for kind in QUALIFIER_KINDS),
    "fillers": "a table with phrases = [...] and context = [...]",
    "decline": "a table with " + ", ".join(f"{kind} = [...]" for kind in DECLINE_KINDS),
    "conversation": "a table with " + ", ".join(f"{kind} = [...]" for kind in CONVERSATION_KINDS),
}
_LIST_SECTION_KEYS = {
    "qualifiers": QUALIFIER_KINDS,
    "fillers": ("phrases", "context"),
    "decline": DECLINE_KINDS,
    "conversation": CONVERSATION_KINDS,
}
_TOML_LINE = re.compile(r"at line (\d+)")


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and validate the vocabulary file; raises VocabularyError on its first error."""
    vocabulary, problems = _read(path)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise VocabularyError(str(errors[0]))
    assert vocabulary is not None  # no errors means it was built
    events, event_problems = read_life_events(path.parent / EVENTS_FOLDER)
    for problem in event_problems:
        if problem.severity is Severity.ERROR:
            log.warning("life event left out: %s", problem)
    lessons, lesson_problems = read_taught_file(path.parent / TAUGHT_FILE)
    for problem in lesson_problems:
        log.warning("taught question left out: %s", problem)
    try:
        confidence = read_confidence(path.parent / CONFIDENCE_FILE)
    except ConfidenceError as exc:
        # The fixed score floors still decide; staff are told to fit the model again.
        log.warning("confidence model not used: %s", exc)
        confidence = None
    return dataclasses.replace(
        vocabulary, events=events, lessons=tuple(lessons), confidence=confidence
    )


def check_vocabulary(path: Path, catalogue: Catalogue | None = None) -> list[Problem]:
    """Every problem of the vocabulary file, each with `file:line`.

    With a catalogue, [aliases] entries that name a code the catalogue lacks are errors.
    """
    vocabulary, problems = _read(path)
    problems.extend(check_life_events(path.parent / EVENTS_FOLDER, catalogue))
    problems.extend(read_taught_file(path.parent / TAUGHT_FILE)[1])
    try:
        read_confidence(path.parent / CONFIDENCE_FILE)
    except ConfidenceError as exc:
        problems.append(Problem(SourceLocation(str(path.parent / CONFIDENCE_FILE)), str(exc)))
    if vocabulary is None or catalogue is None:
        return problems
    for code in vocabulary.aliases:
        if catalogue.get(code) is None:
            line = _line_of(_text_of(path), f'"{code}"', "aliases")
            problems.append(
                Problem(
                    SourceLocation(str(path), line),
                    f"[aliases] names procedure {code}, which is not in the catalogue",
                )
            )
    return problems


def _text_of(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _read(path: Path) -> tuple[Vocabulary | None, list[Problem]]:
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(SourceLocation(where), f"cannot read vocabulary: {exc.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(SourceLocation(where, line), "not valid UTF-8 text")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else 1
        return None, [Problem(SourceLocation(where, line), f"not valid TOML: {exc}")]
    parser = _Parser(where, text)
    vocabulary = parser.parse(data)
    return vocabulary, parser.problems


class _Parser:
    """Builds a Vocabulary from TOML data, collecting problems instead of stopping."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(SourceLocation(self.path, line), message, severity))

    def parse(self, data: Mapping[str, Any]) -> Vocabulary:
        for key, value in data.items():
            if key not in _SECTIONS:
                known = ", ".join(f"[{name}]" for name in _SECTIONS)
                self.problem(_line_of(self.text, key), f"unknown section '{key}' (known: {known})")
            elif not isinstance(value, dict):
                self.problem(_line_of(self.text, key), f"'{key}' must be {_SECTIONS[key]}")
        terms = self._terms(_table(data, "terms"))
        aliases = self._aliases(_table(data, "aliases"))
        lists = {
            section: self._lists(section, _table(data, section)) for section in _LIST_SECTION_KEYS
        }
        return Vocabulary(
            terms=terms,
            aliases=aliases,
            qualifiers={kind: lists["qualifiers"].get(kind, ()) for kind in QUALIFIER_KINDS},
            fillers=lists["fillers"].get("phrases", ()),
            context=lists["fillers"].get("context", ()),
            decline={kind: lists["decline"].get(kind, ()) for kind in DECLINE_KINDS},
            conversation={
                kind: lists["conversation"].get(kind, ()) for kind in CONVERSATION_KINDS
            },
            source=self.path,
        )

    def _terms(self, table: Mapping[str, Any]) -> tuple[Term, ...]:
        terms: list[Term] = []
        seen: dict[tuple[str, ...], str] = {}
        for phrase, value in table.items():
            line = _line_of(self.text, phrase, "terms")
            meanings = _strings(value)
            if meanings is None or not meanings:
                self.problem(
                    line,
                    f"[terms] '{phrase}' must be a non-empty string or a list of them",
                )
                continue
            key = tuple(tokens(phrase))
            if not key:
                self.problem(line, f"[terms] '{phrase}' has no letters or digits to match")
                continue
            if any(not tokens(meaning) for meaning in meanings):
                self.problem(line, f"[terms] '{phrase}' has a meaning with no words")
                continue
            if key in seen:
                self.problem(
                    line,
                    f"[terms] '{phrase}' matches the same words as '{seen[key]}' "
                    "(entries are compared without diacritics); merge them",
                    Severity.WARNING,
                )
            seen[key] = phrase
            if all(tuple(tokens(meaning)) == key for meaning in meanings):
                self.problem(line, f"[terms] '{phrase}' only maps to itself", Severity.WARNING)
            terms.append(Term(phrase, tuple(meanings), line))
        return tuple(terms)

    def _aliases(self, table: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        aliases: dict[str, tuple[str, ...]] = {}
        for code, value in table.items():
            line = _line_of(self.text, f'"{code}"', "aliases")
            if code_shape(code) == "malformed":
                self.problem(line, f"[aliases] '{code}' is not a procedure code (e.g. 1.001193)")
                continue
            names = _strings(value)
            if not names:
                self.problem(line, f"[aliases] '{code}' must be a list of everyday names")
                continue
            aliases[code] = tuple(names)
        return aliases

    def _lists(self, section: str, table: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        lists: dict[str, tuple[str, ...]] = {}
        allowed = _LIST_SECTION_KEYS[section]
        for key, value in table.items():
            line = _line_of(self.text, key, section)
            if key not in allowed:
                self.problem(
                    line,
                    f"unknown key '{key}' in [{section}] (known: {', '.join(allowed)})",
                )
                continue
            phrases = _strings(value)
            if phrases is None:
                self.problem(line, f"[{section}] {key} must be a list of strings")
                continue
            empty = [p for p in phrases if not tokens(p)]
            if empty:
                self.problem(line, f"[{section}] {key} has an entry with no words: {empty[0]!r}")
                continue
            if section == "conversation" or (
                section == "decline" and key in PHRASE_SYNTAX_DECLINE_KINDS
            ):
                broken = [p for p in phrases if parse_phrase(p) is None]
                if broken:
                    self.problem(line, f"[{section}] {key}: {broken[0]!r} is malformed")
                    continue
            lists[key] = tuple(phrases)
        return lists


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str] | None:
    """The value as a list of stripped strings, or None when it is not string(s)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return [v.strip() for v in value if v.strip()]


def _line_of(text: str, key: str, section: str | None = None) -> int:
    """The line of `key` (as a TOML key or table header), searched after `[section]`."""
    start = 0
    if section is not None:
        header = re.search(rf"^[ \t]*\[[ \t]*{re.escape(section)}[ \t]*\]", text, re.MULTILINE)
        if header:
            start = header.end()
    bare = re.escape(key.strip('"'))
    # [ \t], not \s: a match must not start on an earlier, empty line.
    pattern = re.compile(
        rf"^[ \t]*(?:\"{bare}\"|'{bare}'|{bare})[ \t]*=|^[ \t]*\[[ \t]*{bare}[ \t]*\]",
        re.MULTILINE,
    )
    match = pattern.search(text, start)
    if match is None and start:
        match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1
