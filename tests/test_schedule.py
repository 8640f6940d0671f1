"""Hour-of-week schedules: parsing, wrap-around, and the helpers engines rely on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.clock.schedule import Schedule, parse_schedule
from sim.codes import WEEKDAYS


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


def test_openings_and_hours_until_open():
    schedule = Schedule.parse("Mon-Fri 09:00-17:00")
    assert schedule.transitions().tolist() == [d * 24 + 9 for d in range(5)]
    waits = schedule.hours_until_open()
    assert waits[9] == 0  # Monday 09:00 open
    assert waits[17] == 24 - 17 + 9  # Monday 17:00 -> Tuesday 09:00
    assert waits[4 * 24 + 17] == 7 + 48 + 9  # Friday 17:00 -> Monday 09:00


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
