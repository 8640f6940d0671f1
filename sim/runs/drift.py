"""Drift in a run's reported periods that its own demand does not explain.

A warm-up that is too short shows as a trend inside the reported window: the
baseline with 120 days' warm-up climbed from about 330 to 370 occupied beds
through 2016/17 with no growth inside the year. After every run, for each
reported financial year of at least :data:`MIN_PERIOD_DAYS`, each watched
daily series (acute occupancy, delayed patients P1-P3, each used community
service's occupancy) is compared between the first and the last quarter of
the year, replication by replication:

* the **change** is the paired difference, last quarter minus first, with its
  :data:`LEVEL` Student-t interval over replications;
* what the scenario's demand **explains**: the relative change in the acute
  bed-day load its demand implies (arrivals by cohort x the share admitted x
  mean treatment stay, with growth, month multipliers and avoided shares),
  the largest of last quarter against first and first quarter against the
  quarter before it (a step in demand at the start of the year, as yearly
  growth makes, is still working through the year). For occupancy series
  that relative change scales the first quarter's level (Little's law); a
  queue (``delayed``) moves faster than its demand near capacity, so for it
  the change is multiplied by ``(2 - rho) / (1 - rho)``, the elasticity of an
  M/M/1 queue's length, with ``rho`` the busiest P1-P3 service's utilisation
  (capped at :data:`MAX_RHO`);
* the series **drifts** when the whole interval lies outside the explained
  band widened by :data:`TOLERANCE` of the first quarter's level (so that
  differences too small to matter never warn).

A period with a dated capacity change from the quarter before it to its end
is not checked (a capacity change moves every series, by more than demand
would); nor are runs of one replication (no interval). The check reads only
the daily table and the scenario's demand, so it costs a groupby.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..codes import HOURS_PER_DAY, SERVICES
from ..scenario.params import ModelParams, build_params
from ..scenario.schema import Scenario

MIN_PERIOD_DAYS = 120
"""Shorter periods are not checked: their quarters are too short to compare."""
LEVEL = 0.95
"""Confidence of the interval of the change (the tolerance, not a stricter level, keeps
several series and years from warning by chance: a slow drift is hard enough to see)."""
TOLERANCE = 0.02
"""A drift must exceed what demand explains by this share of the first quarter's level."""
MAX_RHO = 0.95
"""The utilisation at which a queue's elasticity stops growing (20)."""
QUEUES = frozenset({"delayed"})


class DriftWarning(UserWarning):
    """A reported period trends by more than the scenario's demand explains (see
    :mod:`sim.runs.drift`): usually a warm-up too short for the scenario."""


@dataclass(frozen=True)
class Drift:
    """One series' unexplained trend in one period."""

    scenario: str
    period: str
    series: str
    first: float
    """Mean over the first quarter of the period (and over replications)."""
    last: float
    change_low: float
    change_high: float
    explained: float
    """The change demand explains (signed, in the series' units)."""

    def describe(self) -> str:
        change = self.last - self.first
        return (
            f"{self.scenario}, {self.period}: {self.series} moves from {self.first:,.1f} "
            f"(first quarter) to {self.last:,.1f} (last quarter), {change:+,.1f} "
            f"({LEVEL:.0%} CI {self.change_low:+,.1f} to {self.change_high:+,.1f}); the "
            f"scenario's demand explains {self.explained:+,.1f}. A warm-up too short? "
            "See leftshift warmup."
        )


def watched_series(daily: pd.DataFrame) -> list[str]:
    """Acute occupancy, delayed patients and each community service's occupancy that is
    used, of the series in ``daily``."""
    known = set(daily["series"].unique())
    out = [s for s in ("acute_occupied", "delayed") if s in known]
    for name in SERVICES:
        series = f"community_in_use_{name}"
        if series in known and daily.loc[daily["series"] == series, "value"].to_numpy().any():
            out.append(series)
    return out


def find_drift(scenario: Scenario, daily: pd.DataFrame) -> list[Drift]:
    """Each watched series' unexplained trend in each checked period of one scenario's
    daily table (scenario, replication, date, series, value)."""
    if daily.empty or daily["replication"].nunique() < 2:
        return []
    from scipy import stats  # here, not at import: the command line starts without it

    params = build_params(scenario)
    cal = params.calendar
    series = watched_series(daily)
    # only the rows read, found with masks a byte a row: the daily table of a large run is
    # 33 million rows, and a copy of it held 400 MB more at the run's peak; indices and
    # days of the watched rows, 16 bytes each, took the check's own peak from +260 to
    # +570 MB (1,000 x 5 years, 3 December 2026)
    watched = _rows_of(daily["series"], series)
    dates = daily["date"].to_numpy()  # the column itself, not a copy
    start = np.datetime64(cal.start_date, "D")

    def between(first: int, end: int) -> np.ndarray:
        """The watched rows dated from day ``first`` (from the start) to before ``end``."""
        inside = dates >= start + np.timedelta64(first, "D")
        inside &= dates < start + np.timedelta64(end, "D")
        inside &= watched
        return inside

    load = _bed_day_load(params)
    changes = _capacity_change_hours(params)
    found: list[Drift] = []
    for period in cal.periods[1:]:
        if period.days < MIN_PERIOD_DAYS:
            continue
        first_day = round((period.start_h - cal.warm_up_h) / HOURS_PER_DAY)
        n = round(period.days)
        q = n // 4
        windows_h = [period.start_h + HOURS_PER_DAY * k for k in (-q, 0, q, n - q, n)]
        if any(windows_h[0] <= t < windows_h[-1] for t in changes):
            continue
        before, first, last = (
            _mean(load, windows_h[0], windows_h[1]),
            _mean(load, windows_h[1], windows_h[2]),
            _mean(load, windows_h[3], windows_h[4]),
        )
        rel = _largest_signed(last / first - 1, first / before - 1 if before > 0 else 0.0)
        first_rows = np.flatnonzero(between(first_day, first_day + q))
        last_rows = np.flatnonzero(between(first_day + n - q, first_day + n))
        rows = np.concatenate([first_rows, last_rows])
        means = pd.DataFrame(
            {
                "replication": daily["replication"].to_numpy()[rows],
                "series": daily["series"].array[rows],  # categorical stays so: a byte a row
                "value": daily["value"].to_numpy()[rows].astype(float),
                "quarter": (np.arange(len(rows)) >= len(first_rows)).astype(np.int64),
            }
        )
        table = means.pivot_table(
            index=["series", "replication"],
            columns="quarter",
            values="value",
            aggfunc="mean",
            observed=True,  # the watched series only, not every category
        )
        for name in series:
            if name not in table.index.get_level_values(0):
                continue
            own = table.xs(name, level="series")
            q1, q4 = own[0].to_numpy(), own[1].to_numpy()
            diff = q4 - q1
            half = (
                stats.t.ppf(0.5 + LEVEL / 2, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
            )
            low, high = diff.mean() - half, diff.mean() + half
            level = float(q1.mean())
            elasticity = 1.0
            if name in QUEUES:
                elasticity = _queue_elasticity(params, table, windows_h[-1] - 1)
            explained = rel * elasticity * level
            slack = TOLERANCE * abs(level)
            if low > max(0.0, explained) + slack or high < min(0.0, explained) - slack:
                found.append(
                    Drift(
                        scenario.name,
                        period.label,
                        name,
                        level,
                        float(q4.mean()),
                        float(low),
                        float(high),
                        float(explained),
                    )
                )
    return found


def warn_of_drift(scenarios: tuple[Scenario, ...], daily: pd.DataFrame) -> list[Drift]:
    """:func:`find_drift` for each scenario of a run, each finding a :class:`DriftWarning`."""
    found: list[Drift] = []
    for scenario in scenarios:
        own = daily
        if "scenario" in daily:
            mine = (daily["scenario"] == scenario.name).to_numpy()
            own = daily if mine.all() else daily[mine]  # one scenario's run: no copy of it
        found += find_drift(scenario, own)
    for drift in found:
        warnings.warn(drift.describe(), DriftWarning, stacklevel=3)
    return found


def _rows_of(column: pd.Series, values: list[str]) -> np.ndarray:
    """``column.isin(values)`` as a numpy mask, a byte a row for a categorical column
    (``isin`` itself held ten bytes a row: 330 MB at 33 million rows)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        wanted = column.cat.categories.isin(values)
        codes = column.cat.codes.to_numpy()
        return np.append(wanted, False)[codes]  # code -1 (missing) is the appended False
    return column.isin(values).to_numpy()


def _bed_day_load(params: ModelParams) -> np.ndarray:
    """Per hour of the run: the acute bed hours a year its demand implies (the rate of
    admissions by cohort x mean treatment stay)."""
    fy = params.calendar.hourly("fy_index")
    total = np.zeros(params.calendar.n_hours)
    for c in params.cohorts:
        avoided = c.avoidable_by_fy[np.clip(fy, 0, len(c.avoidable_by_fy) - 1)]
        admitted = c.p_admit + c.p_sdec * params.sdec_p_admit
        total += (c.ed_rate_h * (1 - avoided) * admitted + c.direct_rate_h) * c.los_mean_h
    return total


def _capacity_change_hours(params: ModelParams) -> list[float]:
    """When any acute or community capacity changes (hours since t = 0)."""
    times = list(params.beds.times_h[1:])
    for service in params.services:
        if service is not None:
            times += list(service.capacity.times_h[1:])
    return [float(t) for t in times]


def _mean(load: np.ndarray, start_h: float, end_h: float) -> float:
    a, b = max(int(start_h), 0), min(int(end_h), len(load))
    return float(load[a:b].mean()) if b > a else float(load[: max(b, 1)].mean())


def _largest_signed(*values: float) -> float:
    return max(values, key=abs)


def _queue_elasticity(params: ModelParams, table: pd.DataFrame, at_h: float) -> float:
    """``(2 - rho) / (1 - rho)``: how much faster an M/M/1 queue's length moves than its
    load, with ``rho`` the busiest P1-P3 service's mean utilisation in the last quarter
    (its capacity does not change in a checked period)."""
    rho = 0.0
    for name in ("p1", "p2", "p3"):
        service = params.service(name)
        key = f"community_in_use_{name}"
        if service is None or key not in table.index.get_level_values(0):
            continue
        timeline = service.capacity
        at = np.searchsorted(timeline.times_h, at_h, side="right") - 1
        places = float(timeline.values[at])  # noqa: PD011 (a Timeline, not a frame)
        if 0 < places < np.inf:
            rho = max(rho, float(table.xs(key, level="series")[1].mean()) / places)
    rho = min(rho, MAX_RHO)
    return (2 - rho) / (1 - rho)
