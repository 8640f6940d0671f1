"""The simulation clock on a real calendar.

The clock unit of both engines is the **hour**. Time ``t = 0`` is midnight at
the start of the warm-up, ``warm_up_days`` before the scenario's
``start_date``; results are reported from ``start_date`` for
``horizon_years`` (calendar years, so 2016-04-01 + 5 years ends at
2021-04-01). Weekdays, months and NHS financial years (1 April to 31 March,
written ``2016/17``) are therefore real calendar values.

``hour_of_week(t) = (weekday(t=0) * 24 + floor(t)) mod 168`` with Monday
00:00-01:00 as hour 0.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..codes import EPS_HOURS, HOURS_PER_DAY, HOURS_PER_WEEK


def fy_start_year(day: dt.date) -> int:
    """The calendar year in which the financial year containing ``day`` began."""
    return day.year if day.month >= 4 else day.year - 1


def fy_label(start_year: int) -> str:
    """NHS financial year label, e.g. 2016 -> '2016/17'."""
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def add_years(day: dt.date, years: float) -> dt.date:
    """``day`` plus whole calendar years, plus any fraction of a year in days."""
    whole = math.floor(years)
    try:
        shifted = day.replace(year=day.year + whole)
    except ValueError:  # 29 February in a year that has none
        shifted = day.replace(year=day.year + whole, day=28)
    return shifted + dt.timedelta(days=round((years - whole) * 365.25))


@dataclass(frozen=True)
class Period:
    """A reporting period: a financial year (clipped to the run) or the whole run."""

    label: str
    start_h: float
    end_h: float

    @property
    def days(self) -> float:
        return (self.end_h - self.start_h) / HOURS_PER_DAY


@dataclass(frozen=True)
class Calendar:
    """Maps simulation hours to calendar values for one run."""

    start_date: dt.date
    warm_up_days: int
    horizon_years: float

    @property
    def sim_start(self) -> dt.date:
        return self.start_date - dt.timedelta(days=self.warm_up_days)

    @property
    def end_date(self) -> dt.date:
        return add_years(self.start_date, self.horizon_years)

    @property
    def warm_up_h(self) -> float:
        return float(self.warm_up_days * HOURS_PER_DAY)

    @property
    def end_h(self) -> float:
        return float((self.end_date - self.sim_start).days * HOURS_PER_DAY)

    @property
    def n_hours(self) -> int:
        return int(self.end_h)

    @property
    def week_offset_h(self) -> int:
        """Hour of the week at t = 0."""
        return self.sim_start.weekday() * HOURS_PER_DAY

    def hours_at(self, day: dt.date) -> float:
        """Simulation time of midnight at the start of ``day``."""
        return float((day - self.sim_start).days * HOURS_PER_DAY)

    def date_at(self, t: float) -> dt.date:
        return self.sim_start + dt.timedelta(days=math.floor((t + EPS_HOURS) / HOURS_PER_DAY))

    def hour_of_week(self, t: float) -> int:
        return (self.week_offset_h + math.floor(t + EPS_HOURS)) % HOURS_PER_WEEK

    def hour_of_week_array(self, t: np.ndarray) -> np.ndarray:
        return (self.week_offset_h + np.floor(np.asarray(t) + EPS_HOURS).astype(np.int64)) % (
            HOURS_PER_WEEK
        )

    @cached_property
    def _hourly(self) -> dict[str, np.ndarray]:
        """Per hour of the run: hour of week, month (0-11) and financial-year index."""
        n_days = self.n_hours // HOURS_PER_DAY
        days = [self.sim_start + dt.timedelta(days=d) for d in range(n_days)]
        month = np.repeat(np.array([d.month - 1 for d in days], dtype=np.int8), HOURS_PER_DAY)
        first_fy = fy_start_year(self.start_date)
        fy = np.repeat(np.array([fy_start_year(d) - first_fy for d in days], np.int16), 24)
        how = (self.week_offset_h + np.arange(n_days * HOURS_PER_DAY)) % HOURS_PER_WEEK
        return {"month": month, "fy_index": fy, "hour_of_week": how}

    def hourly(self, name: str) -> np.ndarray:
        """One of ``month``, ``fy_index`` (0 = the year of ``start_date``) or ``hour_of_week``."""
        return self._hourly[name]

    def fy_index_at(self, t: float) -> int:
        """Financial-year index at ``t``: 0 for the year containing ``start_date``."""
        index = self._hourly["fy_index"]
        return int(index[min(max(math.floor(t + EPS_HOURS), 0), len(index) - 1)])

    @cached_property
    def periods(self) -> tuple[Period, ...]:
        """``all`` (the observed window) then each financial year within it."""
        out = [Period("all", self.warm_up_h, self.end_h)]
        year = fy_start_year(self.start_date)
        while True:
            fy_start = max(self.hours_at(dt.date(year, 4, 1)), self.warm_up_h)
            fy_end = min(self.hours_at(dt.date(year + 1, 4, 1)), self.end_h)
            if fy_start >= self.end_h:
                break
            out.append(Period(fy_label(year), fy_start, fy_end))
            year += 1
        return tuple(out)

    def day_starts(self) -> np.ndarray:
        """Simulation times of each midnight in the observed window (and its end)."""
        return np.arange(self.warm_up_h, self.end_h + 0.5, HOURS_PER_DAY)
