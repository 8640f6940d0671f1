"""Hour-of-week schedules: when a service is open or accepts new patients.

A week has 168 hours, numbered from Monday 00:00-01:00 (hour 0) to Sunday
23:00-24:00 (hour 167). A schedule says, for each of those hours, whether the
service is open. Planners write schedules as text, which reads like a rota on
a ward noticeboard::

    "24/7"
    "Mon-Fri 09:00-17:00"
    "every day 08:00-20:00"
    "Mon-Fri 08:00-20:00, Sat-Sun 10:00-16:00"
    "Fri 22:00-02:00"          (an evening that runs into Saturday)

or as a list of 168 zeros and ones. The resolution is one hour: a service
opening at 09:30 is not expressible, and saying so is an error rather than a
silent rounding.

The module is a leaf: it knows nothing of scenarios or engines (only the time units of
:mod:`sim.codes`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..codes import HOURS_PER_WEEK, WEEKDAYS

_DAY_INDEX = {name.lower(): i for i, name in enumerate(WEEKDAYS)}
_PART = re.compile(
    r"^(?P<days>[A-Za-z]+(?:\s*-\s*[A-Za-z]+)?|every day|daily)\s+"
    r"(?P<start>\d{1,2}):(?P<start_min>\d{2})\s*-\s*(?P<end>\d{1,2}):(?P<end_min>\d{2})$",
    re.IGNORECASE,
)


def _parse_days(text: str) -> list[int]:
    text = text.strip().lower()
    if text in ("every day", "daily"):
        return list(range(7))
    if "-" in text:
        first, last = (part.strip()[:3] for part in text.split("-"))
        if first not in _DAY_INDEX or last not in _DAY_INDEX:
            raise ValueError(f"unknown day name in {text!r} (use Mon, Tue, ... Sun)")
        a, b = _DAY_INDEX[first], _DAY_INDEX[last]
        return [(a + k) % 7 for k in range((b - a) % 7 + 1)]
    if text[:3] not in _DAY_INDEX:
        raise ValueError(f"unknown day name in {text!r} (use Mon, Tue, ... Sun)")
    return [_DAY_INDEX[text[:3]]]


def parse_schedule(text: str) -> np.ndarray:
    """Return the 168 open hours (bool) that a schedule text describes.

    Raises ValueError with a message that says what is wrong with the text.
    """
    text = text.strip()
    if text.lower() in ("24/7", "always"):
        return np.ones(HOURS_PER_WEEK, dtype=bool)
    if text.lower() in ("never", "closed"):
        return np.zeros(HOURS_PER_WEEK, dtype=bool)
    open_hours = np.zeros(HOURS_PER_WEEK, dtype=bool)
    for part in text.split(","):
        match = _PART.match(part.strip())
        if match is None:
            raise ValueError(
                f"cannot read schedule {part.strip()!r}: write e.g. 'Mon-Fri 09:00-17:00', "
                "'every day 08:00-20:00' or '24/7'"
            )
        if match["start_min"] != "00" or match["end_min"] != "00":
            raise ValueError(f"schedule {part.strip()!r} must start and end on the hour")
        start, end = int(match["start"]), int(match["end"])
        if start > 23 or end > 24:
            raise ValueError(f"schedule {part.strip()!r} has an hour outside 00:00-24:00")
        if start == end:
            raise ValueError(f"schedule {part.strip()!r} is open for no hours")
        length = end - start if end > start else end + 24 - start  # past midnight
        for day in _parse_days(match["days"]):
            first = day * 24 + start
            open_hours[[(first + k) % HOURS_PER_WEEK for k in range(length)]] = True
    return open_hours


@dataclass(frozen=True)
class Schedule:
    """An hour-of-week on/off pattern.

    ``open_hours[h]`` is True when the service is open in hour ``h`` of the week
    (0 = Monday 00:00-01:00).
    """

    open_hours: np.ndarray = field(repr=False)
    text: str = ""

    def __post_init__(self) -> None:
        hours = np.asarray(self.open_hours, dtype=bool)
        if hours.shape != (HOURS_PER_WEEK,):
            raise ValueError(f"a schedule needs {HOURS_PER_WEEK} hours, got shape {hours.shape}")
        hours.setflags(write=False)
        object.__setattr__(self, "open_hours", hours)

    @classmethod
    def parse(cls, spec: str | Sequence[int | bool]) -> Schedule:
        """Build from schedule text or from 168 zeros and ones."""
        if isinstance(spec, str):
            return cls(parse_schedule(spec), spec)
        values = list(spec)
        if len(values) != HOURS_PER_WEEK:
            raise ValueError(f"a schedule list needs {HOURS_PER_WEEK} values, got {len(values)}")
        if any(v not in (0, 1) for v in values):
            raise ValueError("a schedule list holds only 0 and 1")
        return cls(np.array(values, dtype=bool), "custom")

    @classmethod
    def always(cls) -> Schedule:
        return cls(np.ones(HOURS_PER_WEEK, dtype=bool), "24/7")

    def __repr__(self) -> str:
        return f"Schedule({self.text!r}, {int(self.open_hours.sum())} h/week)"

    @property
    def is_always_open(self) -> bool:
        return bool(self.open_hours.all())

    @property
    def hours_per_week(self) -> int:
        return int(self.open_hours.sum())

    @property
    def is_weekday_rota(self) -> bool:
        """Open on some weekday hours and on no weekend hour (a Mon-Fri rota): the kind of
        schedule that closes on bank holidays."""
        weekend = self.open_hours[5 * 24 :]
        return bool(self.open_hours.any() and not weekend.any())


# --- a schedule over a run: one flag an hour, so that single days can close ------------------


def over_run(
    schedule: Schedule, week_offset_h: int, n_hours: int, closed_days: Sequence[int] = ()
) -> np.ndarray:
    """Whether ``schedule`` is open in each of the run's ``n_hours`` hours (hour 0 is hour
    ``week_offset_h`` of the week), closed all day on each of ``closed_days`` (days of the
    run, counted from 0)."""
    how = (week_offset_h + np.arange(n_hours)) % HOURS_PER_WEEK
    open_run = schedule.open_hours[how].copy()
    for day in closed_days:
        open_run[max(day, 0) * 24 : max(day + 1, 0) * 24] = False
    return open_run


def run_openings(open_run: np.ndarray) -> np.ndarray:
    """The hours of a run at which a schedule opens after being closed (hour 0 never: an
    opening matters only to a queue, and there is none at the start)."""
    marks = np.zeros(len(open_run), dtype=bool)
    marks[1:] = open_run[1:] & ~open_run[:-1]
    return marks


def run_hours_until_open(open_run: np.ndarray) -> np.ndarray:
    """For each hour of a run, whole hours until the next open hour (0 where it is open);
    after the last open hour, the hours to the end of the run (nothing opens in it)."""
    n = len(open_run)
    hours = np.arange(n, dtype=np.int64)
    next_open = np.minimum.accumulate(np.where(open_run, hours, n)[::-1])[::-1]
    return next_open - hours
