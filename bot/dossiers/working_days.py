"""Working days for deadlines: Monday to Friday, minus the holidays listed in the config.

Processing times of administrative procedures are set in working days (ngày làm việc), so
"how late is this dossier" is counted the same way. Saturdays are not working days for
deadlines even where the center opens on Saturday mornings (Decree 61/2018/NĐ-CP counts
working days by the civil service calendar).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class Lateness:
    """How a dossier stands against its appointment date.

    `is_overdue` compares moments (an appointment without a time means the end of that day);
    `working_days_overdue` counts working days after the due date up to the reference date,
    so a dossier due on Friday and still open on Saturday is overdue by 0 working days.
    `working_days_left` counts working days from the reference date to the due date
    (0 on the due date itself) and is None once overdue.
    """

    is_overdue: bool
    working_days_overdue: int
    working_days_left: int | None


class WorkingCalendar:
    def __init__(self, holidays: Iterable[dt.date] = ()) -> None:
        self._holidays = frozenset(holidays)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < _SATURDAY and day not in self._holidays

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        if end <= start:
            return 0
        # Whole weeks at once keeps this cheap for long spans; holidays are few.
        days = (end - start).days
        weeks, rest = divmod(days, 7)
        count = weeks * 5
        day = start + dt.timedelta(days=weeks * 7)
        for _ in range(rest):
            day += dt.timedelta(days=1)
            if day.weekday() < _SATURDAY:
                count += 1
        count -= sum(1 for h in self._holidays if start < h <= end and h.weekday() < _SATURDAY)
        return count

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The date `count` working days after `day` (before it when negative)."""
        step = dt.timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def lateness(self, due_at: dt.datetime | None, reference: dt.datetime) -> Lateness:
        """Lateness at `reference` (now, or when the dossier was finished).

        `due_at` and `reference` must be in the same (local) time zone so that dates agree.
        """
        if due_at is None:
            return Lateness(is_overdue=False, working_days_overdue=0, working_days_left=None)
        due_moment = due_at
        if due_at.time() == dt.time(0, 0):
            # A date-only appointment: the citizen may come until the end of that day.
            due_moment = due_at + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        if reference > due_moment:
            late_days = self.working_days_between(due_at.date(), reference.date())
            return Lateness(
                is_overdue=True, working_days_overdue=late_days, working_days_left=None
            )
        left = self.working_days_between(reference.date(), due_at.date())
        return Lateness(is_overdue=False, working_days_overdue=0, working_days_left=left)
