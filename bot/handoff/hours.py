"""The center's office hours: when staff can answer a citizen in the chat.

Monday to Friday follow `[center.office_hours] weekdays` on working days of the civil
service calendar (bot.dossiers.working_days: Vietnam's public holidays and the province's
days off are closed, a make-up Saturday opens as a weekday); other Saturdays follow
`saturday` unless a holiday falls on them; Sundays are closed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.config import Config, OfficePeriod, parse_periods
from bot.dossiers.working_days import WorkingCalendar

_SATURDAY, _SUNDAY = 5, 6
# Looking further ahead than this for the next opening means the hours are empty.
_SEARCH_DAYS = 60


@dataclass(frozen=True)
class OfficeHours:
    weekdays: tuple[OfficePeriod, ...]
    saturday: tuple[OfficePeriod, ...]
    calendar: WorkingCalendar
    zone: dt.tzinfo

    @classmethod
    def from_config(cls, config: Config) -> OfficeHours:
        hours = config.center.office_hours
        zone = dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))
        return cls(
            # Validated when the config was loaded (bot.config.checks.validate).
            parse_periods(hours.weekdays),
            parse_periods(hours.saturday),
            WorkingCalendar.from_config(config.dossiers),
            zone,
        )

    def periods_on(self, day: dt.date) -> tuple[OfficePeriod, ...]:
        if self.calendar.is_working_day(day):
            return self.weekdays  # Monday-Friday, or a make-up Saturday
        if day.weekday() == _SATURDAY and not self.calendar.is_holiday(day):
            return self.saturday
        return ()

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.zone)
        moment = local.time().replace(tzinfo=None)
        return any(start <= moment < end for start, end in self.periods_on(local.date()))

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment the center opens after `now`, in local time (None: never, the
        hours are empty)."""
        local = now.astimezone(self.zone)
        for offset in range(_SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, _end in self.periods_on(day):
                opening = dt.datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None
