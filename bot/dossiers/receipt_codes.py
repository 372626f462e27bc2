"""Recognising dossier receipt codes in what citizens type, and normalising them.

A receipt slip (phiếu tiếp nhận và hẹn trả kết quả) carries the dossier code. Two standard
forms are built in:

- `CodeForm.LEGAL`: `AAA.BB.CC.HNN-YYMMDD-NNNN`, the agency code of QCVN 102:2016/BTTTT
  (four dotted segments, the last a letter and two digits, e.g. `H58` for a province),
  the receipt date and a four-digit daily counter: `000.00.12.H58-251120-0001`.
- `CodeForm.MINISTRY`: `GNN.NN-YYYYMMDD-NNNNNNN`, used by ministries' systems, with an
  8-digit date and a 7-digit counter: `G09.20-20260609-0092637`.

A center whose system numbers dossiers differently lists regular expressions in
`dossiers.extra_code_patterns` (`CodeForm.CONFIGURED`); the match (or its named group
`code`, when the pattern has one) is the code, upper-cased with spaces removed.

Recognition accepts what people actually type: lower case, spaces around the parts or
instead of the dashes, en/em dashes, a missing dot (or a comma for a dot), a missing dash
between date and counter, a trailing full stop, and the code anywhere in a sentence. A code
whose every segment has its standard length is recognised whatever separates them, or
nothing does: "000 00 12 H58 261201 0001", "000.00.12.H58.261201.0001",
"00000 12 H58-261201-0001". It does not fire on procedure codes (`1.001193`,
`1.000028.000.00.00.H37`), phone numbers or dates: a candidate must have a dash-separated
date part and an agency part that contains a letter followed by two digits or at least three
dotted segments, and at most one of its three parts (agency, date, counter) may be off the
shape.

A candidate that looks like a code but is wrong (impossible date, counter of the wrong
length, ...) yields a `MalformedReceiptCode` naming the wrong part, what is wrong with it and
the expected shape; the dialogue turns that into a sentence.

    recognizer = ReceiptCodeRecognizer(config.dossiers.extra_code_patterns)
    match recognizer.find(text):
        case ReceiptCode() as code: ...
        case MalformedReceiptCode() as bad: ...
        case None: ...   # no code in the text
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class CodeForm(StrEnum):
    LEGAL = "legal"
    MINISTRY = "ministry"
    CONFIGURED = "configured"


class CodePart(StrEnum):
    """The part of a receipt code that is wrong."""

    AGENCY = "agency"
    DATE = "date"
    COUNTER = "counter"


class CodeProblem(StrEnum):
    """What is wrong with that part."""

    WRONG_SHAPE = "wrong_shape"  # agency part: not AAA.BB.CC.HNN / GNN.NN
    WRONG_LENGTH = "wrong_length"  # date or counter has too many or too few digits
    MISSING = "missing"  # the counter is absent
    IMPOSSIBLE_DATE = "impossible_date"  # e.g. month 13 or 30 February
    FUTURE_DATE = "future_date"  # a receipt cannot be dated after today
    ZERO_COUNTER = "zero_counter"  # counters start at 1


class InvalidCodePattern(ValueError):
    """A pattern in `dossiers.extra_code_patterns` is not a valid regular expression."""


@dataclass(frozen=True, slots=True)
class ReceiptCode:
    """A recognised code in its canonical spelling (`value`), as stored by the one-stop system."""

    value: str
    form: CodeForm
    agency: str = ""
    received_on: dt.date | None = None
    counter: str = ""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str, extra_patterns: Iterable[str] = ()) -> ReceiptCode:
        """The single code in `text`; raises ValueError when there is none or it is malformed.

        For tests, the demo and the command line; the dialogue uses `ReceiptCodeRecognizer`.
        """
        found = ReceiptCodeRecognizer(extra_patterns).find(text)
        if not isinstance(found, ReceiptCode):
            raise ValueError(f"not a valid receipt code: {text!r} ({found})")
        return found


@dataclass(frozen=True, slots=True)
class MalformedReceiptCode:
    """Something that looks like a receipt code but is wrong in `part`.

    `typed` is the candidate as the citizen wrote it, `wrong_value` the faulty part as typed
    (empty when missing), `expected_shape`/`example` the shape it was judged against.
    """

    typed: str
    form: CodeForm
    part: CodePart
    problem: CodeProblem
    wrong_value: str
    expected_shape: str
    example: str

    def __str__(self) -> str:
        return f"{self.part.value} {self.problem.value} in {self.typed!r}"


@dataclass(frozen=True, slots=True)
class _StandardShape:
    form: CodeForm
    compact_agency: re.Pattern[str]  # the agency part with dots and spaces removed
    segment_lengths: tuple[int, ...]  # to put the dots back
    date_digits: int
    counter_digits: int
    expected_shape: str
    example: str

    def canonical_agency(self, compact: str) -> str:
        segments: list[str] = []
        start = 0
        for length in self.segment_lengths:
            segments.append(compact[start : start + length])
            start += length
        return ".".join(segments)

    def parse_date(self, digits: str) -> dt.date | None:
        try:
            if self.date_digits == 6:
                return dt.date(2000 + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
            return dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
        except ValueError:
            return None


_LEGAL = _StandardShape(
    form=CodeForm.LEGAL,
    compact_agency=re.compile(r"[0-9A-Z]{3}[0-9]{4}[A-Z][0-9]{2}"),
    segment_lengths=(3, 2, 2, 3),
    date_digits=6,
    counter_digits=4,
    expected_shape="AAA.BB.CC.HNN-YYMMDD-NNNN",
    example="000.00.12.H58-251120-0001",
)
_MINISTRY = _StandardShape(
    form=CodeForm.MINISTRY,
    compact_agency=re.compile(r"[A-Z][0-9]{4}"),
    segment_lengths=(3, 2),
    date_digits=8,
    counter_digits=7,
    expected_shape="GNN.NN-YYYYMMDD-NNNNNNN",
    example="G09.20-20260609-0092637",
)
# Order matters for ties when judging a malformed candidate: the legal form is the one
# printed on provincial receipt slips, so it is the better guess of what was meant.
_STANDARD_SHAPES = (_LEGAL, _MINISTRY)

# Dashes people (and their phones' autocorrect) type between the parts.
_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−－", "-"))

_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

_CANDIDATE = re.compile(
    r"""
    (?<![0-9A-Z.\-])                      # not the tail of a longer token
    (?P<agency>[0-9A-Z](?:[0-9A-Z]|[ ]?[.,][ ]?(?=[0-9A-Z])){1,15})
    (?:[ ]*[-_/][ ]*|[ ]+)                # dash (or slash, underscore) or just spaces
    (?P<date>[0-9]{4,15})
    (?:(?:[ ]*[-_/][ ]*|[ ]+)(?P<counter>[0-9]{1,9}))?
    (?![0-9A-Z])
    """,
    re.VERBOSE,
)
# Every segment of a standard form at its length, any separators (or none) between them.
# Both forms are 20 characters without separators; the legal form's letter comes 8th, the
# ministry form's first, so one text never fits both.
_SEPARATOR = r"[ .,\-_/]{0,3}"
_STANDARD_SEGMENTS = re.compile(
    rf"""
    (?<![0-9A-Z])
    (?:
        (?P<legal>[0-9A-Z]{{3}}){_SEPARATOR}([0-9]{{2}}){_SEPARATOR}([0-9]{{2}}){_SEPARATOR}
        ([A-Z][0-9]{{2}}){_SEPARATOR}([0-9]{{6}}){_SEPARATOR}([0-9]{{4}})
      | (?P<ministry>[A-Z][0-9]{{2}}){_SEPARATOR}([0-9]{{2}}){_SEPARATOR}([0-9]{{8}})
        {_SEPARATOR}([0-9]{{7}})
    )
    (?![0-9A-Z])
    """,
    re.VERBOSE,
)
_AGENCY_LETTER_DIGITS = re.compile(r"[A-Z][0-9]{2}")
_AGENCY_SEPARATORS = re.compile(r"[ .,]")


class ReceiptCodeRecognizer:
    """Finds receipt codes in free text: the standard forms plus the configured patterns."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        compiled: list[re.Pattern[str]] = []
        for pattern in extra_patterns:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise InvalidCodePattern(
                    f"dossiers.extra_code_patterns: {pattern!r} is not a valid regular "
                    f"expression: {exc}"
                ) from None
        self._extra = tuple(compiled)

    def find(
        self, text: str, today: dt.date | None = None
    ) -> ReceiptCode | MalformedReceiptCode | None:
        """The first valid code in `text`, else the first malformed candidate, else None.

        With `today`, a receipt date after it (by more than a day, for time zones) is
        reported as `CodeProblem.FUTURE_DATE`.
        """
        found = self.find_all(text, today)
        for item in found:
            if isinstance(item, ReceiptCode):
                return item
        return found[0] if found else None

    def find_all(
        self, text: str, today: dt.date | None = None
    ) -> list[ReceiptCode | MalformedReceiptCode]:
        """Every code or malformed candidate in `text`, standard forms first, no duplicates."""
        valid: list[ReceiptCode] = []
        malformed: list[tuple[range, MalformedReceiptCode]] = []
        seen: set[str] = set()
        seen_malformed: set[str] = set()
        normalised = text.translate(_DASHES)
        # Only ASCII letters matter to the patterns, and str.upper() may change the length
        # of other characters (which would shift the spans compared below).
        upper = normalised.translate(_ASCII_UPPER)
        candidates: list[re.Match[str]] = []
        spans: list[range] = []
        # Codes with standard segments first, in their canonical spelling; their places are
        # blanked (same length) so that the looser pattern does not see them again.
        for standard in _STANDARD_SEGMENTS.finditer(upper):
            canonical = _canonical_spelling(standard)
            candidate = _CANDIDATE.fullmatch(canonical)
            if candidate is not None:
                candidates.append(candidate)
                spans.append(range(standard.start(), standard.end()))
                blank = " " * (standard.end() - standard.start())
                upper = upper[: standard.start()] + blank + upper[standard.end() :]
        looser = list(_CANDIDATE.finditer(upper))
        spans += [range(m.start(), m.end()) for m in looser]
        candidates += looser
        for span, candidate in sorted(zip(spans, candidates, strict=True), key=_by_start):
            judged = _judge(candidate, today)
            if isinstance(judged, ReceiptCode):
                if judged.value not in seen:
                    seen.add(judged.value)
                    valid.append(judged)
            elif judged is not None and judged.typed not in seen_malformed:
                seen_malformed.add(judged.typed)
                malformed.append((span, judged))
        for pattern in self._extra:
            for match in pattern.finditer(normalised):
                raw = match.group("code") if "code" in pattern.groupindex else match.group(0)
                value = re.sub(r"\s+", "", raw).upper()
                if not value:
                    continue
                # The center said this shape is valid: drop a standard candidate it overlaps.
                malformed = [
                    (span, bad)
                    for span, bad in malformed
                    if span.stop <= match.start() or span.start >= match.end()
                ]
                if value not in seen:
                    seen.add(value)
                    valid.append(ReceiptCode(value=value, form=CodeForm.CONFIGURED))
        return [*valid, *(bad for _, bad in malformed)]


def _canonical_spelling(standard: re.Match[str]) -> str:
    """A `_STANDARD_SEGMENTS` match with dots in the agency and dashes around the date."""
    segments = [group for group in standard.groups() if group is not None]
    *agency, date, counter = segments
    return f"{'.'.join(agency)}-{date}-{counter}"


def _by_start(item: tuple[range, re.Match[str]]) -> int:
    return item[0].start


def _judge(
    candidate: re.Match[str], today: dt.date | None
) -> ReceiptCode | MalformedReceiptCode | None:
    typed = candidate.group(0).strip()
    agency_typed = candidate.group("agency")
    compact = _AGENCY_SEPARATORS.sub("", agency_typed)
    dotted_segments = len(re.split(r"[.,]", agency_typed))
    if not (_AGENCY_LETTER_DIGITS.search(compact) or dotted_segments >= 3):
        return None  # a phone number, an amount, a date: not a code at all
    date = candidate.group("date")
    counter = candidate.group("counter") or ""
    if not counter:
        # "000.00.12.H58-2511200001": the dash between date and counter was left out.
        for shape in _STANDARD_SHAPES:
            if len(date) == shape.date_digits + shape.counter_digits:
                date, counter = date[: shape.date_digits], date[shape.date_digits :]
                break

    def score(shape: _StandardShape) -> int:
        return (
            bool(shape.compact_agency.fullmatch(compact))
            + (len(date) == shape.date_digits)
            + (len(counter) == shape.counter_digits)
        )

    shape = max(_STANDARD_SHAPES, key=score)  # max keeps the first on ties
    if score(shape) < 2:
        # One part wrong is a typo worth pointing out; two wrong is something else
        # ("phòng A12-3456", a model number), better left to the ordinary search.
        return None

    def malformed(part: CodePart, problem: CodeProblem, wrong: str) -> MalformedReceiptCode:
        return MalformedReceiptCode(
            typed=typed,
            form=shape.form,
            part=part,
            problem=problem,
            wrong_value=wrong,
            expected_shape=shape.expected_shape,
            example=shape.example,
        )

    if not shape.compact_agency.fullmatch(compact):
        return malformed(CodePart.AGENCY, CodeProblem.WRONG_SHAPE, agency_typed.strip())
    if len(date) != shape.date_digits:
        return malformed(CodePart.DATE, CodeProblem.WRONG_LENGTH, date)
    received_on = shape.parse_date(date)
    if received_on is None:
        return malformed(CodePart.DATE, CodeProblem.IMPOSSIBLE_DATE, date)
    if today is not None and received_on > today + dt.timedelta(days=1):
        return malformed(CodePart.DATE, CodeProblem.FUTURE_DATE, date)
    if not counter:
        return malformed(CodePart.COUNTER, CodeProblem.MISSING, "")
    if len(counter) != shape.counter_digits:
        return malformed(CodePart.COUNTER, CodeProblem.WRONG_LENGTH, counter)
    if int(counter) == 0:
        return malformed(CodePart.COUNTER, CodeProblem.ZERO_COUNTER, counter)
    agency = shape.canonical_agency(compact)
    return ReceiptCode(
        value=f"{agency}-{date}-{counter}",
        form=shape.form,
        agency=agency,
        received_on=received_on,
        counter=counter,
    )
