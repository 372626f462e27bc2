"""Working days across Vietnam's holidays: Tết 2027 (by the lunar calendar) and National Day,
the Saturdays worked in exchange for a day off, and the province's own days from the config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config
from bot.dossiers.working_days import WorkingCalendar

VN = dt.timezone(dt.timedelta(hours=7))
NATIONAL = WorkingCalendar()


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_tet_2027_is_not_counted() -> None:
    # Tết Đinh Mùi: 29 Tết (Thu 4/2) to the fifth day (Wed 10/2) are days off.
    for off in ("2027-02-04", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10"):
        assert not NATIONAL.is_working_day(day(off)), off
    assert NATIONAL.is_working_day(day("2027-02-03"))
    assert NATIONAL.is_working_day(day("2027-02-11"))
    # Three working days from Wednesday 3/2: Thursday 11, Friday 12, Monday 15 February.
    assert NATIONAL.add_working_days(day("2027-02-03"), 3) == day("2027-02-15")
    assert NATIONAL.add_working_days(day("2027-02-15"), -3) == day("2027-02-03")
    assert NATIONAL.working_days_between(day("2027-02-03"), day("2027-02-15")) == 3
    plain = WorkingCalendar(national_holidays=False)
    assert plain.working_days_between(day("2027-02-03"), day("2027-02-15")) == 8


def test_a_dossier_due_before_tet_is_late_by_the_days_after_it() -> None:
    due = dt.datetime(2027, 2, 3, 17, 0, tzinfo=VN)
    lateness = NATIONAL.lateness(due, dt.datetime(2027, 2, 11, 9, 0, tzinfo=VN))
    assert (lateness.is_overdue, lateness.working_days_overdue) == (True, 1)
    ahead = NATIONAL.lateness(
        dt.datetime(2027, 2, 15, tzinfo=VN), dt.datetime(2027, 2, 3, 9, 0, tzinfo=VN)
    )
    assert (ahead.is_overdue, ahead.working_days_left) == (False, 3)


def test_national_day_and_the_saturday_worked_for_it() -> None:
    # 2027: 2/9 (Thursday) and 3/9 (Friday) off.
    assert not NATIONAL.is_working_day(day("2027-09-02"))
    assert not NATIONAL.is_working_day(day("2027-09-03"))
    assert NATIONAL.working_days_between(day("2027-09-01"), day("2027-09-06")) == 1
    # 2026: Monday 31/8 given off to join Tuesday 1/9 and Wednesday 2/9, worked on
    # Saturday 22/8 instead.
    assert NATIONAL.is_working_day(day("2026-08-22"))
    assert not NATIONAL.is_working_day(day("2026-08-29"))  # an ordinary Saturday
    for off in ("2026-08-31", "2026-09-01", "2026-09-02"):
        assert not NATIONAL.is_working_day(day(off)), off
    assert NATIONAL.add_working_days(day("2026-08-21"), 1) == day("2026-08-22")
    assert NATIONAL.add_working_days(day("2026-08-28"), 1) == day("2026-09-03")
    # Saturday 22, Monday 24 to Friday 28, Thursday 3 and Friday 4 September.
    assert NATIONAL.working_days_between(day("2026-08-21"), day("2026-09-04")) == 8


def test_the_provinces_own_days_off_and_working_saturdays() -> None:
    province = WorkingCalendar([day("2027-02-12")], working_saturdays=[day("2027-02-20")])
    assert not province.is_working_day(day("2027-02-12"))
    assert province.is_working_day(day("2027-02-20"))
    # From Wednesday 3/2: Thursday 11, (Friday 12 off), Monday 15 ... Friday 19, Saturday 20.
    assert province.add_working_days(day("2027-02-03"), 7) == day("2027-02-20")
    assert province.working_days_between(day("2027-02-03"), day("2027-02-22")) == 8


def test_the_calendar_follows_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[dossiers]\nholidays = [2027-02-12]\nworking_saturdays = [2027-02-20]\n",
        encoding="utf-8",
    )
    calendar = WorkingCalendar.from_config(load_config(path, environ={}).dossiers)
    assert calendar.add_working_days(day("2027-02-03"), 7) == day("2027-02-20")
    defaults = WorkingCalendar.from_config(Config().dossiers)
    assert not defaults.is_working_day(day("2027-02-08"))  # Tết without configuring it
    assert not defaults.is_working_day(day("2027-02-20"))


def test_a_working_saturday_that_is_not_a_saturday_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[dossiers]\nworking_saturdays = [2027-02-19]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[dossiers\] working_saturdays: expected Saturdays"):
        load_config(path, environ={})
