"""Office hours for hand-offs to staff: periods on working days, Saturdays, Vietnam's
public holidays and the province's own days off, and the next opening."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot.config import CenterConfig, Config, DossierConfig, OfficeHoursConfig, parse_periods
from bot.handoff.hours import OfficeHours

VN = dt.timezone(dt.timedelta(hours=7))


def hours(
    weekdays: str = "07:30-11:30,13:30-17:00", saturday: str = "", **dossiers: object
) -> OfficeHours:
    config = Config(
        center=CenterConfig(office_hours=OfficeHoursConfig(weekdays, saturday)),
        dossiers=dataclasses.replace(DossierConfig(), **dossiers),  # type: ignore[arg-type]
    )
    return OfficeHours.from_config(config)


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=VN)


def test_periods_parse_and_reject() -> None:
    assert parse_periods("07:00-11:30, 13:30-17:00") == (
        (dt.time(7), dt.time(11, 30)),
        (dt.time(13, 30), dt.time(17)),
    )
    assert parse_periods("") == ()
    for bad in ("7-11", "07:00-11:30,", "12:00-08:00", "08:00-12:00,11:00-13:00", "07:60-08:00"):
        with pytest.raises(ValueError):
            parse_periods(bad)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-09-07T07:29", False),  # Monday, before opening
        ("2026-09-07T07:30", True),
        ("2026-09-07T11:30", False),  # lunch
        ("2026-09-07T13:30", True),
        ("2026-09-07T16:59", True),
        ("2026-09-07T17:00", False),
        ("2026-09-05T09:00", False),  # Saturday, closed without Saturday hours
        ("2026-09-06T09:00", False),  # Sunday
        ("2026-09-02T09:00", False),  # Wednesday, Quốc khánh (national holiday)
        ("2026-04-30T09:00", False),  # Thursday, Ngày Giải phóng miền Nam
        ("2026-02-17T09:00", False),  # Tuesday, Tết Nguyên đán
    ],
)
def test_open_on_working_days_only(moment: str, is_open: bool) -> None:
    assert hours().is_open(local(moment)) is is_open


def test_the_clock_is_read_in_the_centers_zone() -> None:
    # 02:00 UTC is 09:00 in Vietnam, on Monday 7/9/2026.
    assert hours().is_open(dt.datetime(2026, 9, 7, 2, 0, tzinfo=dt.UTC))
    assert not hours().is_open(dt.datetime(2026, 9, 7, 11, 0, tzinfo=dt.UTC))


def test_saturday_mornings_and_a_holiday_on_a_saturday() -> None:
    saturdays = hours(saturday="07:30-11:30")
    assert saturdays.is_open(local("2026-09-05T09:00"))
    assert not saturdays.is_open(local("2026-09-05T14:00"))
    # A province's day off on a Saturday: closed.
    closed = hours(saturday="07:30-11:30", holidays=(dt.date(2026, 9, 12),))
    assert not closed.is_open(local("2026-09-12T09:00"))
    # 1/5/2027 (Labour Day) is a Saturday: closed too.
    assert saturdays.is_open(local("2027-05-08T09:00"))
    assert not saturdays.is_open(local("2027-05-01T09:00"))


def test_province_days_off_and_make_up_saturdays() -> None:
    province = hours(holidays=(dt.date(2026, 9, 8),), working_saturdays=(dt.date(2026, 9, 19),))
    assert not province.is_open(local("2026-09-08T09:00"))
    assert province.is_open(local("2026-09-19T14:00"))  # worked as a weekday, afternoon too


def test_next_opening_skips_nights_weekends_and_holidays() -> None:
    office = hours()
    assert office.next_opening(local("2026-09-07T12:00")) == local("2026-09-07T13:30")
    assert office.next_opening(local("2026-09-07T18:00")) == local("2026-09-08T07:30")
    # Friday evening: Monday morning.
    assert office.next_opening(local("2026-09-11T18:00")) == local("2026-09-14T07:30")
    # The evening of 1/9/2026, with 2/9 a holiday: 3/9, unless the government moved more.
    after_holiday = office.next_opening(local("2026-09-01T18:00"))
    assert after_holiday is not None and after_holiday.date() > dt.date(2026, 9, 2)
    assert not office.is_open(after_holiday - dt.timedelta(minutes=1))
    assert office.is_open(after_holiday)
    assert hours(weekdays="").next_opening(local("2026-09-07T12:00")) is None
