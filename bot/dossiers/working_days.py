"""Working days for deadlines: Monday to Friday, minus Vietnam's public holidays and the
province's own days off, plus the Saturdays worked in exchange for a day off.

Processing times of administrative procedures are set in working days (ngày làm việc), so
"how late is this dossier" is counted the same way. Saturdays are not working days for
deadlines even where the center opens on Saturday mornings (Decree 61/2018/NĐ-CP counts
working days by the civil service calendar), except a Saturday worked to make up for a
weekday given off (làm bù), as before 2/9/2026: Monday 31/8 off, Saturday 22/8 worked.

The national holidays come from the `holidays` package (Vietnam: Tết by the lunar
calendar, Hùng Kings' day, 30/4, 1/5, 2/9, and the days the government moves); the
province's extra days off and make-up Saturdays come from the config
(`[dossiers] holidays`, `working_saturdays`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import holidays as national_calendars

from bot.config import DossierConfig

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


@dataclass(frozen=True, slots=True)
class _Year:
    days_off: frozenset[dt.date]  # Monday to Friday only
    working_weekend_days: frozenset[dt.date]
    holidays: frozenset[dt.date]  # every day off, weekends included (office hours)


class WorkingCalendar:
    """Working days of the civil service calendar.

    `holidays` and `working_saturdays` are the province's own, on top of the national
    calendar (which `national_holidays=False` leaves out, for plain arithmetic).
    """

    def __init__(
        self,
        holidays: Iterable[dt.date] = (),
        *,
        working_saturdays: Iterable[dt.date] = (),
        national_holidays: bool = True,
    ) -> None:
        self._extra_days_off = frozenset(holidays)
        self._working_saturdays = frozenset(working_saturdays)
        self._national = national_holidays
        self._years: dict[int, _Year] = {}

    @classmethod
    def from_config(cls, config: DossierConfig) -> WorkingCalendar:
        return cls(config.holidays, working_saturdays=config.working_saturdays)

    def _year(self, year: int) -> _Year:
        known = self._years.get(year)
        if known is None:
            days_off = {day for day in self._extra_days_off if day.year == year}
            working = {day for day in self._working_saturdays if day.year == year}
            if self._national:
                national = national_calendars.country_holidays("VN", years=year)
                days_off.update(national)
                working.update(day for day in national.weekend_workdays if day.year == year)
            known = _Year(
                days_off=frozenset(day for day in days_off if day.weekday() < _SATURDAY),
                working_weekend_days=frozenset(working),
                holidays=frozenset(days_off),
            )
            self._years[year] = known
        return known

    def is_working_day(self, day: dt.date) -> bool:
        year = self._year(day.year)
        if day.weekday() >= _SATURDAY:
            return day in year.working_weekend_days
        return day not in year.days_off

    def is_holiday(self, day: dt.date) -> bool:
        """A public holiday or one of the province's days off, on any day of the week (a
        center open on Saturday mornings is closed on a holiday that falls on one)."""
        return day in self._year(day.year).holidays

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        if end <= start:
            return 0
        # Whole weeks at once keeps this cheap for long spans; days off are few.
        days = (end - start).days
        weeks, rest = divmod(days, 7)
        count = weeks * 5
        day = start + dt.timedelta(days=weeks * 7)
        for _ in range(rest):
            day += dt.timedelta(days=1)
            if day.weekday() < _SATURDAY:
                count += 1
        for number in range(start.year, end.year + 1):
            year = self._year(number)
            count -= sum(1 for d in year.days_off if start < d <= end)
            count += sum(1 for d in year.working_weekend_days if start < d <= end)
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
