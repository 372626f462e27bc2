"""Dated content: fees, times and rules that apply only between two days.

An entry with `valid_until` stops being shown once that day has passed; one with
`valid_from` is shown as coming ("Từ 01/01/2027: ...") until then. `dated_problems` is what
`bot catalogue check` says about them so that staff update the catalogue in time:

    expired            valid_until has passed: the answer no longer shows it
    ending soon        valid_until is within `soon_days` and nothing takes over the day after
    undated period     a text says "đến hết 31/12/2023" (a day past or within `soon_days`)
                       and has no valid_until, so answers would give it as current after
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.catalogue.files import Problem, Severity
from bot.catalogue.model import Catalogue, Procedure, SourceLocation, Validity, validity_on

# Time enough to find out the new figure before the old one ends (fees change on 1 January
# and 1 July, announced weeks before).
SOON_DAYS = 60

# "đến hết ngày 31/12/2025", "áp dụng đến 31/12/2023", "hết hiệu lực từ 01/01/2026"
_PERIOD_END = re.compile(
    r"(?:đến hết|đến|tới hết|hết hiệu lực)\s+(?:ngày\s+)?(\d{1,2})/(\d{1,2})/(\d{4})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DatedEntry:
    """One entry of a procedure that can carry a validity period."""

    part: str  # "fees", "channels", "documents"
    label: str  # its text, for messages and for finding its line
    valid_from: dt.date | None
    valid_until: dt.date | None
    texts: tuple[str, ...]  # every text it shows, searched for undated periods


def entries(procedure: Procedure) -> Iterator[DatedEntry]:
    for fee in procedure.fees:
        yield DatedEntry("fees", fee.text, fee.valid_from, fee.valid_until, (fee.text,))
    for channel in procedure.channels:
        shown = (channel.fee, channel.time.text, channel.description)
        label = channel.fee or channel.method
        yield DatedEntry("channels", label, channel.valid_from, channel.valid_until, shown)
    for document in procedure.documents:
        yield DatedEntry(
            "documents",
            document.name,
            document.valid_from,
            document.valid_until,
            (document.name, document.case),
        )


def day_text(day: dt.date) -> str:
    """31/12/2025, as Vietnamese documents write dates."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def dated_problems(
    catalogue: Catalogue, today: dt.date, soon_days: int = SOON_DAYS
) -> list[Problem]:
    """Warnings about expired, soon-ending and undated-but-past entries, by file and line."""
    problems: list[Problem] = []
    for procedure in catalogue:
        location = catalogue.locations.get(procedure.code, SourceLocation(procedure.code))
        lines = _file_lines(location.path)
        dated = list(entries(procedure))
        seen: dict[str, int] = {}
        for entry in dated:
            # Two channels often share a fee text: the second is the second such line.
            seen[entry.label] = seen.get(entry.label, 0) + 1
            line = _line_of(lines, entry.label, location.line, seen[entry.label])
            at = SourceLocation(location.path, line)
            message = _entry_message(entry, dated, today, soon_days)
            if message:
                problems.append(Problem(at, message, Severity.WARNING))
        end = _period_end(procedure.conditions, today, soon_days)
        if end is not None:
            at = SourceLocation(location.path, _line_of(lines, "conditions =", 1))
            message = _undated_message("conditions", end, today)
            problems.append(Problem(at, message, Severity.WARNING))
    return problems


def _entry_message(
    entry: DatedEntry, siblings: Sequence[DatedEntry], today: dt.date, soon_days: int
) -> str:
    shown = _shorten(entry.label)
    state = validity_on(today, entry.valid_from, entry.valid_until)
    if state is Validity.EXPIRED and entry.valid_until is not None:
        return (
            f"{entry.part} '{shown}' expired on {day_text(entry.valid_until)} (valid_until): "
            "answers no longer show it; remove it, or enter what applies now"
        )
    if entry.valid_until is not None and state is Validity.CURRENT:
        left = (entry.valid_until - today).days
        next_day = entry.valid_until + dt.timedelta(days=1)
        taken_over = any(
            other.part == entry.part and other.valid_from == next_day for other in siblings
        )
        if left <= soon_days and not taken_over:
            return (
                f"{entry.part} '{shown}' ends on {day_text(entry.valid_until)}, in {left} days: "
                f"add what applies from {day_text(next_day)} (an entry with valid_from = "
                f"{next_day.isoformat()})"
            )
    if entry.valid_until is None:
        for text in entry.texts:
            end = _period_end(text, today, soon_days)
            if end is not None:
                return _undated_message(f"{entry.part} '{shown}'", end, today)
    return ""


def _undated_message(what: str, end: dt.date, today: dt.date) -> str:
    when = (
        f"that ended on {day_text(end)}"
        if end < today
        else f"that ends on {day_text(end)}, in {(end - today).days} days,"
    )
    return (
        f"{what} speaks of a period {when} but has no valid_until, so answers will give it "
        "as current after that day: rewrite it, or split it into entries with valid_from / "
        "valid_until"
    )


def _period_end(text: str, today: dt.date, soon_days: int) -> dt.date | None:
    """The first end of a period the text names that is past or within `soon_days`."""
    for match in _PERIOD_END.finditer(text):
        day, month, year = (int(part) for part in match.groups())
        try:
            end = dt.date(year, month, day)
        except ValueError:
            continue
        if (end - today).days <= soon_days:
            return end
    return None


def _file_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _line_of(lines: Sequence[str], text: str, default: int, occurrence: int = 1) -> int:
    """The line holding the start of `text` (as TOML writes it) for the `occurrence`-th
    time, or `default`."""
    needle = text[:40].replace("\\", "\\\\").replace('"', '\\"')
    if not needle:
        return default
    found = [number for number, line in enumerate(lines, start=1) if needle in line]
    if not found:
        return default
    return found[min(occurrence, len(found)) - 1]


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
