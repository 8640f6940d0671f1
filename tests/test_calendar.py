"""The calendar: hours since t = 0 mapped to real weekdays, months and financial years."""

from __future__ import annotations

import datetime as dt

import pytest

from sim.clock.calendar import Calendar, add_years, fy_label, fy_start_year


def test_financial_years():
    assert fy_label(2016) == "2016/17"
    assert fy_label(1999) == "1999/00"
    assert fy_start_year(dt.date(2017, 3, 31)) == 2016
    assert fy_start_year(dt.date(2017, 4, 1)) == 2017


def test_warm_up_runs_before_the_start_date():
    cal = Calendar(dt.date(2016, 4, 1), warm_up_days=10, horizon_years=1)
    assert cal.sim_start == dt.date(2016, 3, 22)
    assert cal.warm_up_h == 240
    assert cal.end_date == dt.date(2017, 4, 1)
    assert cal.end_h == (365 + 10) * 24


def test_hour_of_week_follows_the_real_weekday():
    cal = Calendar(dt.date(2016, 4, 1), warm_up_days=0, horizon_years=1)  # a Friday
    assert cal.hour_of_week(0.0) == 4 * 24
    assert cal.hour_of_week(3 * 24 + 9.5) == 9  # Monday 09:30
    assert cal.hour_of_week(9 - 1e-9) == 4 * 24 + 9  # a hair short of 09:00 counts as 09:00


def test_periods_are_the_whole_run_then_clipped_financial_years():
    cal = Calendar(dt.date(2016, 10, 1), warm_up_days=30, horizon_years=1)
    labels = [(p.label, p.days) for p in cal.periods]
    assert labels == [("all", 365), ("2016/17", 182), ("2017/18", 183)]


def test_calendar_years_and_leap_days():
    assert add_years(dt.date(2016, 4, 1), 5) == dt.date(2021, 4, 1)
    assert add_years(dt.date(2016, 2, 29), 1) == dt.date(2017, 2, 28)
    assert add_years(dt.date(2016, 4, 1), 0.5) == dt.date(2016, 4, 1) + dt.timedelta(days=183)


@pytest.mark.parametrize("name", ["month", "fy_index", "hour_of_week"])
def test_hourly_tables_cover_the_run(name):
    cal = Calendar(dt.date(2016, 4, 1), warm_up_days=5, horizon_years=2)
    assert len(cal.hourly(name)) == cal.n_hours


def test_fy_index_is_minus_one_in_a_warm_up_before_the_first_year():
    cal = Calendar(dt.date(2016, 4, 1), warm_up_days=5, horizon_years=1)
    assert cal.fy_index_at(0.0) == -1
    assert cal.fy_index_at(cal.warm_up_h) == 0
