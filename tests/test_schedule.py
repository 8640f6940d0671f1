"""Schedules: parsing, wrap-around, bank holidays, and the run-long arrays engines read."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.clock.holidays import english_bank_holidays
from sim.clock.schedule import (
    Schedule,
    over_run,
    parse_schedule,
    run_hours_until_open,
    run_openings,
)
from sim.codes import WEEKDAYS
from sim.model import rules


def hours(schedule: np.ndarray) -> list[int]:
    return np.flatnonzero(schedule).tolist()


def test_weekday_office_hours():
    open_hours = parse_schedule("Mon-Fri 09:00-17:00")
    assert open_hours.sum() == 5 * 8
    assert hours(open_hours)[:8] == list(range(9, 17))  # Monday 09:00-17:00
    assert not open_hours[5 * 24 + 10]  # Saturday 10:00 closed


def test_every_day_and_24_7():
    assert parse_schedule("every day 08:00-20:00").sum() == 7 * 12
    assert parse_schedule("24/7").all()
    assert not parse_schedule("never").any()


def test_overnight_wraps_into_next_day_and_week():
    open_hours = parse_schedule("Sun 22:00-02:00")
    assert hours(open_hours) == [0, 1, 166, 167]  # Sunday 22-24, Monday 00-02


def test_several_parts_and_a_range_round_the_weekend():
    open_hours = parse_schedule("Sat-Mon 10:00-12:00, Wed 00:00-24:00")
    assert open_hours.sum() == 3 * 2 + 24
    assert open_hours[5 * 24 + 10]
    assert open_hours[6 * 24 + 11]
    assert open_hours[10]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mon-Fri 09:30-17:00", "must start and end on the hour"),
        ("Funday 09:00-17:00", "unknown day name"),
        ("weekdays nine to five", "cannot read schedule"),
        ("Mon 09:00-09:00", "open for no hours"),
        ("Mon 25:00-26:00", "outside 00:00-24:00"),
    ],
)
def test_bad_text_is_rejected_with_a_reason(text, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


def test_list_form_and_its_length():
    assert Schedule.parse([1] * 168).is_always_open
    with pytest.raises(ValueError, match="needs 168 values, got 24"):
        Schedule.parse([1] * 24)


def test_openings_and_hours_until_open_over_a_run():
    schedule = Schedule.parse("Mon-Fri 09:00-17:00")
    two_weeks = over_run(schedule, week_offset_h=0, n_hours=14 * 24)  # from a Monday 00:00
    opens = run_openings(two_weeks)
    assert np.flatnonzero(opens).tolist() == [d * 24 + 9 for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]
    waits = run_hours_until_open(two_weeks)
    assert waits[9] == 0  # Monday 09:00 open
    assert waits[17] == 24 - 17 + 9  # Monday 17:00 -> Tuesday 09:00
    assert waits[4 * 24 + 17] == 7 + 48 + 9  # Friday 17:00 -> Monday 09:00
    assert waits[11 * 24 + 17] == 14 * 24 - (11 * 24 + 17)  # nothing opens again: the end
    assert rules.hours_to_next_opening(11 * 24 + 9, opens.tolist()) == 14 * 24 - (11 * 24 + 9)


def test_a_week_starting_midweek_and_a_closed_day():
    schedule = Schedule.parse("Mon-Fri 09:00-17:00")
    run = over_run(schedule, week_offset_h=2 * 24, n_hours=7 * 24, closed_days=[1])  # Wed start
    assert run[9]  # Wednesday open
    assert not run[24 + 9]  # Thursday, the closed day
    assert not run[3 * 24 + 9]  # Saturday
    assert run[5 * 24 + 9]  # Monday
    assert rules.schedule_hour(24 + 9 - 1e-9, len(run)) == 24 + 9  # a hair short counts as on
    assert rules.schedule_hour(7 * 24, len(run)) == 7 * 24 - 1  # the end: the last hour


def test_weekday_rotas_are_the_schedules_that_close_on_bank_holidays():
    assert Schedule.parse("Mon-Fri 09:00-17:00").is_weekday_rota
    assert Schedule.parse("Mon-Fri 08:00-20:00, Mon 20:00-22:00").is_weekday_rota
    assert not Schedule.parse("every day 08:00-20:00").is_weekday_rota
    assert not Schedule.parse("Mon-Sat 09:00-17:00").is_weekday_rota
    assert not Schedule.parse("Fri 22:00-02:00").is_weekday_rota  # runs into Saturday
    assert not Schedule.parse("24/7").is_weekday_rota
    assert not Schedule.parse("never").is_weekday_rota


def test_english_bank_holidays_include_substitutes_and_one_offs():
    days = english_bank_holidays(dt.date(2016, 4, 1), dt.date(2023, 3, 31))
    assert dt.date(2016, 12, 26) in days  # Boxing Day
    assert dt.date(2016, 12, 27) in days  # for Christmas Day, a Sunday
    assert dt.date(2017, 4, 14) in days  # Good Friday 2017
    assert dt.date(2017, 4, 17) in days  # Easter Monday
    assert dt.date(2020, 5, 8) in days  # the early May holiday moved to VE day
    assert dt.date(2020, 5, 4) not in days
    assert dt.date(2022, 9, 19) in days  # a state funeral
    assert dt.date(2016, 3, 28) not in days  # outside the range
    assert list(days) == sorted(days)


@given(
    first=st.integers(0, 6),
    last=st.integers(0, 6),
    start=st.integers(0, 23),
    length=st.integers(1, 23),
)
def test_open_hours_count_days_times_length(first, last, start, length):
    end = (start + length) % 24 or 24
    text = f"{WEEKDAYS[first]}-{WEEKDAYS[last]} {start:02d}:00-{end:02d}:00"
    n_days = (last - first) % 7 + 1
    assert parse_schedule(text).sum() == min(n_days * length, 168)
