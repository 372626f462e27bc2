"""Life events: the situations citizens describe, and the procedures each one leads to.

People rarely name a procedure. They say what happened ("vợ tui mới sanh", "tờ 500 nghìn
bị chuột cắn", "khách ở nhờ nhà tui mấy bữa") and expect to be told what to do. The
national portal and GOV.UK-style services group procedures by such events; here they are
reviewed data files, `procedures/_events/*.toml`, one `[[event]]` table each:

    [[event]]
    id = "family.birth"
    title = "Có con mới sinh"                 # what the citizen reads above the choices
    says = ["(mới|vừa) (sinh|sanh|đẻ) (con|em bé)", "vợ (sinh|sanh)", ...]
    procedures = ["1.001193", "2.000986"]     # national codes, the usual case first
    refer = "..."                             # optional: where the matter belongs when
                                              # no procedure of the catalogue handles it

A phrase matches a message when its words occur in it in this order, with at most
`MAX_GAP` other words between two of them, compared without diacritics or case;
"(a|b c)" is one word (or consecutive words) out of several; "(a|)" makes a word
optional (not the first). A phrase of parts joined by " + " ("(chồng|vợ) mất + (bảo
hiểm xã hội|bhxh)") matches when every part does, each in its own order, the parts
anywhere in the message: a long story says who died in one sentence and asks about the
insurance in another.

`EventFinder.find` is pure and cheap (phrases are looked up by their first word).
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from bot.catalogue.files import Problem, Severity
from bot.catalogue.model import Catalogue, SourceLocation, code_shape
from bot.search.normalize import words as written_words

# Other words allowed between two consecutive words of a phrase: "vợ tui mới sanh" fits
# "vợ sanh", "thuê phòng trọ gần trường để đi học" fits "thuê trọ ... đi học", while
# words of different sentences rarely stand this close. (Measured: 3 finds more of what
# long messages describe with no more out-of-scope messages matched; 4 starts to pair
# words of unrelated clauses.)
MAX_GAP = 3
# Procedures an event may offer: they become choices, and a phone shows about five.
MAX_EVENT_PROCEDURES = 8
# Joins the parts of a phrase that may stand anywhere in a message, in any order.
PART_SEPARATOR = " + "

T = TypeVar("T")
Alternative = tuple[str, ...]  # folded words that follow each other
Slot = tuple[Alternative, ...]  # any one of these
# Per slot, per alternative, its spellings as written (see written_slots).
Spellings = tuple[tuple[tuple[Alternative, ...], ...], ...]


@dataclass(frozen=True, slots=True)
class EventPhrase:
    text: str
    slots: tuple[Slot, ...]
    # Per slot, per alternative, its spellings as written with their marks ("thuế", not
    # "thuê"); () when marks are not checked.
    written: Spellings = ()
    # A phrase of parts ("(chồng|vợ) mất + (bảo hiểm xã hội|bhxh)"): how many of the slots
    # each part has. Each part matches in order somewhere in the message; the parts in
    # any order, at any distance. () for a phrase of one part.
    parts: tuple[int, ...] = ()

    @property
    def words(self) -> int:
        """How many words the shortest reading has: longer phrases are surer evidence."""
        return sum(min(len(alternative) for alternative in slot) for slot in self.slots)


@dataclass(frozen=True, slots=True)
class LifeEvent:
    id: str
    title: str
    phrases: tuple[EventPhrase, ...]
    codes: tuple[str, ...]
    refer: str = ""
    location: SourceLocation = field(default_factory=lambda: SourceLocation(""))


@dataclass(frozen=True, slots=True)
class EventHit:
    """An event a message describes: the phrase that matched and where (word positions)."""

    event: LifeEvent
    phrase: EventPhrase
    start: int
    end: int  # one past the last matched word

    @property
    def span(self) -> int:
        return self.end - self.start


class LifeEventError(Exception):
    """An events file cannot be used; the message is `file:line: what is wrong`."""


# --- reading ------------------------------------------------------------------------------

_GROUP = re.compile(r"\(([^()]*)\)|([^\s()]+)")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TOML_LINE = re.compile(r"at line (\d+)")
_EVENT_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*event[ \t]*\]\]", re.MULTILINE)


def parse_phrase(text: str) -> tuple[Slot, ...] | None:
    """The slots of a phrase, None when it is malformed (unbalanced or empty group)."""
    parsed = _parsed(text)
    return tuple(tuple(slot) for slot in parsed) if parsed else None


def written_slots(text: str) -> Spellings:
    """For a well-formed phrase (see parse_phrase), each alternative of each slot as
    written, with its marks: "thuế" (tax) is not "thuê" (rent), "lào" not "cù lao".
    Spellings that fold alike ("(thuế|thuê)") share their alternative."""
    parsed = _parsed(text)
    return tuple(tuple(tuple(found) for found in slot.values()) for slot in parsed or ())


def _parsed(text: str) -> list[dict[Alternative, list[Alternative]]] | None:
    """Per slot, its alternatives (folded) with the spellings written for each; None when
    the phrase is malformed."""
    if text.count("(") != text.count(")"):
        return None
    slots: list[dict[Alternative, list[Alternative]]] = []
    for match in _GROUP.finditer(text):
        group, word = match.group(1), match.group(2)
        if group is None:
            slots.extend({(f,): [(a or f,)]} for f, a in written_words(word, written=True))
            continue
        # "(a|b|)": an empty alternative makes the word optional, except first.
        spellings: dict[Alternative, list[Alternative]] = {}
        for raw in group.split("|"):
            pairs = written_words(raw, written=True)
            if raw.strip() and not pairs:
                return None  # an alternative of punctuation only
            folded = tuple(f for f, _ in pairs)
            spellings.setdefault(folded, []).append(tuple(a or f for f, a in pairs))
        if not any(spellings) or (not slots and () in spellings):
            return None
        slots.append(spellings)
    return slots or None


def read_life_events(folder: Path) -> tuple[tuple[LifeEvent, ...], list[Problem]]:
    """Every event of the `*.toml` files in `folder` (none when it does not exist), and
    the problems found, each with `file:line`. Broken entries are left out."""
    if not folder.is_dir():
        return (), []
    events: list[LifeEvent] = []
    problems: list[Problem] = []
    seen: dict[str, SourceLocation] = {}
    for path in sorted(folder.glob("*.toml")):
        found, file_problems = _read_file(path)
        problems.extend(file_problems)
        for event in found:
            if event.id in seen:
                problems.append(
                    Problem(event.location, f"event id '{event.id}' also at {seen[event.id]}")
                )
                continue
            seen[event.id] = event.location
            events.append(event)
    return tuple(events), problems


def load_life_events(folder: Path) -> tuple[LifeEvent, ...]:
    """The events of `folder`; raises LifeEventError on the first error."""
    events, problems = read_life_events(folder)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise LifeEventError(str(errors[0]))
    return events


def check_life_events(folder: Path, catalogue: Catalogue | None = None) -> list[Problem]:
    """Every problem of the events files. (Events are written for the national catalogue;
    one whose procedures a smaller catalogue lacks is simply never offered there.)"""
    return read_life_events(folder)[1]


def _read_file(path: Path) -> tuple[list[LifeEvent], list[Problem]]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(SourceLocation(where), f"cannot read events file: {exc}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else 1
        return [], [Problem(SourceLocation(where, line), f"not valid TOML: {exc}")]
    problems: list[Problem] = []
    unknown = [key for key in data if key != "event"]
    if unknown:
        problems.append(
            Problem(SourceLocation(where), f"unknown key '{unknown[0]}' (only [[event]] tables)")
        )
    tables = data.get("event", [])
    if not isinstance(tables, list):
        return [], [*problems, Problem(SourceLocation(where), "'event' must be [[event]] tables")]
    starts = [text.count("\n", 0, m.start()) + 1 for m in _EVENT_HEADER.finditer(text)]
    events: list[LifeEvent] = []
    for number, table in enumerate(tables):
        line = starts[number] if number < len(starts) else 1
        event = _event(table, SourceLocation(where, line), problems)
        if event is not None:
            events.append(event)
    return events, problems


def _event(table: Any, location: SourceLocation, problems: list[Problem]) -> LifeEvent | None:
    def problem(message: str, severity: Severity = Severity.ERROR) -> None:
        problems.append(Problem(location, message, severity))

    if not isinstance(table, dict):
        problem("an [[event]] must be a table")
        return None
    event_id = table.get("id")
    if not isinstance(event_id, str) or not _ID.match(event_id):
        problem("event needs an id of lower-case letters, digits, '.', '-' ('family.birth')")
        return None
    title = table.get("title")
    if not isinstance(title, str) or not title.strip():
        problem(f"event '{event_id}' needs a title")
        return None
    says = _strings(table.get("says"))
    if not says:
        problem(f"event '{event_id}' needs says = [phrases]")
        return None
    phrases: list[EventPhrase] = []
    for text in says:
        phrase = _event_phrase(text)
        if phrase is None:
            problem(f"event '{event_id}': phrase {text!r} is malformed (check the brackets)")
            continue
        phrases.append(phrase)
    codes = _strings(table.get("procedures")) or []
    bad = [code for code in codes if code_shape(code) == "malformed"]
    if bad:
        problem(f"event '{event_id}': '{bad[0]}' is not a procedure code (e.g. 1.001193)")
        codes = [code for code in codes if code not in bad]
    refer = table.get("refer", "")
    if not isinstance(refer, str):
        problem(f"event '{event_id}': refer must be a sentence")
        refer = ""
    if not codes and not refer.strip():
        problem(f"event '{event_id}' needs procedures = [codes] or a refer sentence")
        return None
    if len(codes) > MAX_EVENT_PROCEDURES:
        problem(
            f"event '{event_id}' lists {len(codes)} procedures; at most "
            f"{MAX_EVENT_PROCEDURES} fit a phone: split the event",
            Severity.WARNING,
        )
    unknown = set(table) - {"id", "title", "says", "procedures", "refer"}
    if unknown:
        problem(f"event '{event_id}': unknown key '{sorted(unknown)[0]}'", Severity.WARNING)
    if not phrases:
        return None
    return LifeEvent(
        event_id,
        title.strip(),
        tuple(phrases),
        tuple(dict.fromkeys(codes)),
        refer.strip(),
        location,
    )


def _event_phrase(text: str) -> EventPhrase | None:
    """An event's phrase: one part, or parts joined by " + " (see EventPhrase.parts)."""
    texts = [part.strip() for part in text.split(PART_SEPARATOR)]
    parsed = [parse_phrase(part) for part in texts]
    if any(slots is None for slots in parsed):
        return None
    parts = [slots for slots in parsed if slots is not None]
    slots = tuple(slot for part in parts for slot in part)
    written = tuple(spelling for part in texts for spelling in written_slots(part))
    sizes = tuple(len(part) for part in parts) if len(parts) > 1 else ()
    return EventPhrase(text, slots, written, sizes)


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return [v.strip() for v in value if v.strip()]


# --- finding ------------------------------------------------------------------------------


class _PhraseIndex(Generic[T]):
    """Phrases found by which of their required slots a message's words fill.

    Trying phrases one by one cost more than the rest of the search (thousands of phrases,
    hundreds sharing common words such as "làm", "giấy", "mất"). Each alternative of a
    required slot has a number, and each word knows the alternatives it belongs to; a
    message's words complete the alternatives all of whose words it holds ("chứng thực"
    needs both "chung" and "thuc", so the common "chung" alone completes nothing), a
    completed alternative fills its slot, and only the phrases whose every required slot
    is filled are matched word by word, in order. In numpy: a few array operations per
    message instead of a loop over phrases."""

    def __init__(
        self, phrases: Iterable[tuple[T, tuple[Slot, ...], Spellings, tuple[int, ...]]]
    ) -> None:
        entries = list(phrases)
        # Phrases share most alternatives ("(tiền|tờ tiền)", "(bị|lỡ)"): each distinct
        # alternative is counted once per message and knows the slots it fills.
        alternative_ids: dict[Alternative, int] = {}
        slots_of_alternative: list[list[int]] = []
        phrase_of_slot: list[int] = []
        required_count: list[int] = []
        for number, (_payload, slots, _spellings, _parts) in enumerate(entries):
            required = [slot for slot in slots if () not in slot]
            for slot in required:
                slot_id = len(phrase_of_slot)
                phrase_of_slot.append(number)
                for alternative in slot:
                    alternative_id = alternative_ids.setdefault(alternative, len(alternative_ids))
                    if alternative_id == len(slots_of_alternative):
                        slots_of_alternative.append([])
                    slots_of_alternative[alternative_id].append(slot_id)
            required_count.append(len(required))
        alternatives_by_word: dict[str, list[int]] = defaultdict(list)
        for alternative, alternative_id in alternative_ids.items():
            for word in set(alternative):
                alternatives_by_word[word].append(alternative_id)
        self._entries = entries
        self._alternatives_by_word = {
            word: np.asarray(ids, dtype=np.int32) for word, ids in alternatives_by_word.items()
        }
        # Counts are compared with bincount's output: the same integer type (np.intp)
        # saves a conversion of the whole array per message.
        self._alternative_words = np.asarray(
            [len(set(alternative)) for alternative in alternative_ids], dtype=np.intp
        )
        # The slots of alternative i are _alternative_slots[_slot_starts[i]:_slot_starts[i + 1]].
        self._slot_starts = np.cumsum(
            [0, *(len(found) for found in slots_of_alternative)], dtype=np.intp
        )
        self._alternative_slots = np.asarray(
            [slot for found in slots_of_alternative for slot in found], dtype=np.intp
        )
        self._phrase_of_slot = np.asarray(phrase_of_slot, dtype=np.intp)
        self._required_count = np.asarray(required_count, dtype=np.intp)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def matches(
        self, words: Sequence[str], accents: Sequence[str] = ()
    ) -> Iterable[tuple[T, tuple[Slot, ...], int, int]]:
        """(payload, slots, start, end) of every phrase found in `words` (folded), with
        the marks typed on them (`accents`, see _first_span) where known."""
        held = [
            ids
            for word in frozenset(words)
            if (ids := self._alternatives_by_word.get(word)) is not None
        ]
        if not held:
            return
        words_held = np.bincount(np.concatenate(held), minlength=len(self._alternative_words))
        completed = np.flatnonzero(words_held == self._alternative_words)
        if not len(completed):
            return
        # The slots of the completed alternatives, gathered from their ranges at once.
        firsts = self._slot_starts[completed]
        lengths = self._slot_starts[completed + 1] - firsts
        shifts = np.repeat(firsts - (np.cumsum(lengths) - lengths), lengths)
        filled = self._alternative_slots[shifts + np.arange(len(shifts))]
        # Two alternatives may fill one slot ("(sinh|sanh) con" in "sinh ... sanh"): a
        # slot counts once.
        is_filled = np.zeros(len(self._phrase_of_slot), dtype=bool)
        is_filled[filled] = True
        counts = np.bincount(
            self._phrase_of_slot[np.flatnonzero(is_filled)], minlength=len(self._required_count)
        )
        complete = np.flatnonzero(counts == self._required_count)
        if not len(complete):
            return
        starts: dict[str, list[int]] = defaultdict(list)
        for position, word in enumerate(words):
            starts[word].append(position)
        for number in complete.tolist():
            payload, slots, spellings, parts = self._entries[number]
            span = _parts_span(slots, parts, words, starts, spellings, accents)
            if span is not None:
                yield payload, slots, span[0], span[1]


class EventFinder:
    """The events a message describes; built once, then `find` from any channel."""

    def __init__(self, events: Iterable[LifeEvent]) -> None:
        self.events = tuple(events)
        self._phrases: _PhraseIndex[tuple[LifeEvent, EventPhrase]] = _PhraseIndex(
            ((event, phrase), phrase.slots, phrase.written, phrase.parts)
            for event in self.events
            for phrase in event.phrases
        )

    def __bool__(self) -> bool:
        return bool(self.events)

    def find(self, words: Sequence[str], accents: Sequence[str] = ()) -> list[EventHit]:
        """The best hit of each event described in `words` (folded; `accents`: the marks
        typed on them, "" where unknown), longest phrase first."""
        best: dict[str, EventHit] = {}
        for (event, phrase), _slots, start, end in self._phrases.matches(words, accents):
            hit = EventHit(event, phrase, start, end)
            known = best.get(event.id)
            if known is None or (phrase.words, -hit.span) > (known.phrase.words, -known.span):
                best[event.id] = hit
        return sorted(best.values(), key=lambda h: (-h.phrase.words, h.span, h.start))


def _parts_span(
    slots: Sequence[Slot],
    parts: Sequence[int],
    words: Sequence[str],
    starts: Mapping[str, Sequence[int]],
    spellings: Spellings = (),
    accents: Sequence[str] = (),
) -> tuple[int, int] | None:
    """(start, end) of the phrase in `words`: of its one part (_first_span), or from the
    first to the last of its parts, each found on its own; None if one is missing."""
    if not parts:
        return _first_span(slots, words, starts, spellings, accents)
    first, last = len(words), 0
    at = 0
    for size in parts:
        span = _first_span(
            slots[at : at + size],
            words,
            starts,
            spellings[at : at + size] if spellings else (),
            accents,
        )
        if span is None:
            return None
        first, last = min(first, span[0]), max(last, span[1])
        at += size
    return first, last


def _first_span(
    slots: Sequence[Slot],
    words: Sequence[str],
    starts: Mapping[str, Sequence[int]],
    spellings: Spellings = (),
    accents: Sequence[str] = (),
) -> tuple[int, int] | None:
    """(start, end) of the earliest match of the phrase in `words`, the shortest there;
    None if it does not match. Every start is followed at once, slot by slot, through the
    positions where each alternative occurs (`starts`: word -> its positions); a partial
    match keeps each end it can have (an optional word taken or left out leads on
    differently). With the phrase's `spellings` and the marks the citizen typed
    (`accents`, "" where none), a word typed with other marks than the phrase's is another
    word ("thuê phòng trọ" is not "thuế phòng trọ")."""

    check = bool(spellings) and bool(accents)
    states: set[tuple[int, int]] = set()  # (start of the match, end so far)
    for number, alternative in enumerate(slots[0]):
        for at in starts.get(alternative[0], ()) if alternative else ():
            end = at + len(alternative)
            if tuple(words[at:end]) == alternative and (
                not check or _marks_agree(accents[at:end], spellings[0][number])
            ):
                states.add((at, end))
    for slot_number in range(1, len(slots)):
        slot = slots[slot_number]
        following = set(states) if () in slot else set()
        for start, previous in states:
            for number, alternative in enumerate(slot):
                if not alternative:
                    continue
                for at in starts.get(alternative[0], ()):
                    if previous <= at <= previous + MAX_GAP:
                        end = at + len(alternative)
                        if tuple(words[at:end]) == alternative and (
                            not check
                            or _marks_agree(accents[at:end], spellings[slot_number][number])
                        ):
                            following.add((start, end))
        if not following:
            return None
        states = following
    return min(states) if states else None


def _marks_agree(typed: Sequence[str], spellings: Sequence[Alternative]) -> bool:
    """Whether the words typed (their marks, "" where none) may be one of the spellings:
    a word typed with marks must have the spelling's marks; one typed without may be any."""
    return any(
        all(
            not accented or accented == written
            for accented, written in zip(typed, spelling, strict=True)
        )
        for spelling in spellings
    )


class PhraseFinder:
    """Phrases in the events' syntax ("(a|b) c", gaps allowed), by kind: which kind a
    message says first. For what people ask of the center itself (bot.search.vocabulary
    [conversation]: where their dossier is, the center's hours, a person to talk to) and
    for questions that ask for advice or a price ([decline] advice)."""

    def __init__(self, phrases_by_kind: Mapping[str, Sequence[str]]) -> None:
        self._phrases: _PhraseIndex[str] = _PhraseIndex(
            (kind, slots, written_slots(text), ())
            for kind, phrases in phrases_by_kind.items()
            for text in phrases
            if (slots := parse_phrase(text)) is not None
        )

    def find(
        self, words: Sequence[str], accents: Sequence[str] = ()
    ) -> tuple[str, int, int] | None:
        """(kind, start, end) of the phrase found first in the message (`words` folded;
        `accents`: the marks typed on them where known, see _first_span), None when none
        is."""
        found = [
            (start, end, kind)
            for kind, _slots, start, end in self._phrases.matches(words, accents)
        ]
        if not found:
            return None
        start, end, kind = min(found)
        return kind, start, end
