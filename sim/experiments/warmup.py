"""How long a scenario must warm up: run it from empty, held still, and see where it settles.

A run that starts empty fills its beds and community places over months: a
lognormal stay with sigma 1.7 has a fifth of its bed days in stays over 120
days, so occupancy keeps climbing long after the first weeks look full. The
diagnostic holds the scenario still (no demand growth, no dated capacity
changes, each avoidable share at its first year's value), runs it from empty
for ``days``, averages each daily series over the replications and applies
MSER-5 (White, 1997; :func:`sim.analysis.mser`) to each: acute occupancy,
delayed patients (P1-P3) and every configured community service's
occupancy. The recommended warm-up is the longest of the series' truncation
points plus a margin (:data:`MARGIN`), rounded up to :data:`ROUND_DAYS`.

Why a margin: MSER cuts where the bias left in the mean of the replications
stops being larger than their noise, not where it is gone. A heavy-tailed,
nearly full system approaches steady state slowly, so the cut moves later as
the noise falls: on the baseline it was 590 days with 8 replications over 4
years and 985 with 20 over 8. The same series is also cut on each half of
the replications apart: when a half needs more than the recommendation, the
estimate is not stable and the result says it is not reliable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import analysis
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..runs.runner import runner_for
from ..scenario.schema import SERVICES, Scenario

MARGIN = 0.25
"""Added to the longest truncation point, as a share of it."""
ROUND_DAYS = 30
"""The recommendation is rounded up to a multiple of this many days."""
MIN_DAYS = 365
"""The shortest diagnostic run: a year, so weekly and monthly patterns average out."""


@dataclass(frozen=True)
class WarmUp:
    """The outcome of :func:`suggest_warm_up`."""

    days: int
    """Recommended warm-up, in days from an empty system: the longest truncation point
    in :attr:`by_series` plus :data:`MARGIN`, rounded up to :data:`ROUND_DAYS`."""
    series: str
    """The series whose truncation point set :attr:`days`."""
    reliable: bool
    """False when some series' MSER minimum sat at the end of its search (the run was too
    short to show the end of its warm-up), the recommendation is over half the run, or a
    half of the replications needs longer than the recommendation (an unstable estimate)."""
    mser: analysis.Mser
    """MSER-5 of :attr:`series` over all replications."""
    by_series: pd.DataFrame
    """series, truncate_days (MSER-5 on all replications), truncate_days_halves (the longer of
    the two halves'), reliable (both MSER minima inside their search), settled_mean (the
    series' mean after its truncation)."""
    daily: pd.DataFrame = field(repr=False)
    """date, day (from empty), series, value: each series averaged over replications."""
    held_still: tuple[str, ...] = ()
    """What was switched off to make the scenario stationary, in words."""
    run_days: int = 0
    reps: int = 0

    def describe(self) -> str:
        """The recommendation in a sentence."""
        caveat = "" if self.reliable else " (not reliable: run longer, with more replications)"
        return (
            f"Recommended warm-up: {self.days} days, set by {self.series} "
            f"(MSER-5 truncation {self.mser.truncate} days + {MARGIN:.0%}, rounded up to "
            f"{ROUND_DAYS} days){caveat}"
        )


def held_still(scenario: Scenario) -> tuple[Scenario, tuple[str, ...]]:
    """``scenario`` without what moves over time, and what was switched off (in words).

    Demand growth (every ``cohorts.*.growth_per_year``), dated capacity changes
    (acute and community ``capacity_changes``) and an avoidable share that ramps
    by year (held at its first year's value) make a run non-stationary: a
    warm-up is measured without them.
    """
    changes: dict[str, Any] = {}
    said: list[str] = []
    grown = [n for n, c in scenario.cohorts.items() if c.growth_per_year]
    for name in grown:
        changes[f"cohorts.{name}.growth_per_year"] = 0.0
    if grown:
        said.append(f"demand growth set to 0 ({', '.join(grown)})")
    ramped = [n for n, c in scenario.cohorts.items() if isinstance(c.avoidable_share, tuple)]
    for name in ramped:
        share = scenario.cohorts[name].avoidable_share
        assert isinstance(share, tuple)
        changes[f"cohorts.{name}.avoidable_share"] = share[0]
    if ramped:
        said.append(f"avoidable shares held at their first year's ({', '.join(ramped)})")
    dropped = ["acute"] if scenario.acute.capacity_changes else []
    if dropped:
        changes["acute.capacity_changes"] = []
    for name in SERVICES:
        service = scenario.service(name)
        if service is not None and service.capacity_changes:
            changes[f"community.{name}.capacity_changes"] = []
            dropped.append(name)
    if dropped:
        said.append(f"dated capacity changes dropped ({', '.join(dropped)})")
    return (scenario.override(changes) if changes else scenario), tuple(said)


def warm_up_series(daily: pd.DataFrame) -> list[str]:
    """The series a warm-up is judged on, of those in a daily table: acute occupancy,
    delayed patients and each community service's occupancy (urgent response only when
    it is used: a service nobody enters has nothing to settle)."""
    known = set(daily["series"].unique())
    out = [s for s in ("acute_occupied", "delayed") if s in known]
    for name in SERVICES:
        series = f"community_in_use_{name}"
        if series in known and daily.loc[daily["series"] == series, "value"].any():
            out.append(series)
    return out


def suggest_warm_up(
    scenario: Scenario,
    series: str | Sequence[str] | None = None,
    reps: int = 10,
    days: int | None = None,
    *,
    seed: int | None = None,
    engine: str = DEFAULT_ENGINE,
    workers: int | None = None,
    scheduler: Any = None,
    check: bool | None = None,
    batch: int = 5,
    progress: Callable[[int], None] | None = None,
) -> WarmUp:
    """A warm-up for ``scenario``: run it from empty, held still, and apply MSER-5 to its series.

    The scenario runs without growth, dated capacity changes or ramps
    (:func:`held_still`) and with no warm-up for ``days`` (default: four
    times its configured warm-up plus its horizon, at least :data:`MIN_DAYS`:
    MSER searches the first half only). ``series`` is one daily series or
    several (default: :func:`warm_up_series`); each is averaged over the
    ``reps`` replications, and over each half of them, and truncated where
    MSER-5 says. The recommendation is the longest truncation plus
    :data:`MARGIN`, rounded up to :data:`ROUND_DAYS`.
    """
    if scenario.initial_state.acute_treating or any(
        scenario.initial_state.delayed.model_dump().values()
    ):
        raise ScenarioError(
            [
                f"{scenario.source}: initial_state is set: a run from today's position has no "
                "warm-up to suggest"
            ]
        )
    if reps < 2:
        raise ScenarioError([f"reps must be >= 2 (two halves are compared), got {reps}"])
    if days is None:
        horizon = round(scenario.run.horizon_years * 365.25)
        days = max(MIN_DAYS, 4 * scenario.run.warm_up_days + horizon)
    if days < 4 * batch:
        raise ScenarioError([f"days must be >= {4 * batch}, got {days}"])
    still, said = held_still(scenario)
    empty = still.override({"run.warm_up_days": 0, "run.horizon_years": days / 365.25})
    run = runner_for(engine, workers, scheduler, check)
    results = run([empty], reps=reps, seed=seed, progress=progress, drift=False)
    daily = results.daily
    known = list(dict.fromkeys(daily["series"]))
    if series is None:
        wanted = warm_up_series(daily)
    else:
        wanted = [series] if isinstance(series, str) else list(series)
    unknown = [s for s in wanted if s not in known]
    if unknown or not wanted:
        raise ScenarioError(
            [f"series must be among {', '.join(known)}, got {', '.join(map(repr, unknown))}"]
        )
    rows = daily[daily["series"].isin(wanted)]
    first = int(results.replications["replication"].min()) if len(results.replications) else 0
    half = rows["replication"] < first + reps // 2
    mean = _mean_by_day(rows)
    halves = [_mean_by_day(rows[half]), _mean_by_day(rows[~half])]
    table: list[dict[str, Any]] = []
    found: dict[str, analysis.Mser] = {}
    for name in wanted:
        values = mean.loc[mean["series"] == name, "value"].to_numpy()
        found[name] = analysis.mser(values, batch=batch)
        by_half = [
            analysis.mser(h.loc[h["series"] == name, "value"].to_numpy(), batch=batch)
            for h in halves
        ]
        table.append(
            {
                "series": name,
                "truncate_days": found[name].truncate,
                "truncate_days_halves": max(h.truncate for h in by_half),
                "reliable": found[name].reliable and all(h.reliable for h in by_half),
                "settled_mean": float(values[found[name].truncate :].mean()),
            }
        )
    by_series = pd.DataFrame(table)
    top = max(wanted, key=lambda name: found[name].truncate)
    longest = found[top].truncate
    recommended = ROUND_DAYS * math.ceil(longest * (1 + MARGIN) / ROUND_DAYS)
    reliable = (
        bool(by_series["reliable"].all())
        and recommended <= days // 2
        and int(by_series["truncate_days_halves"].max()) <= recommended
    )
    return WarmUp(
        days=recommended,
        series=top,
        reliable=reliable,
        mser=found[top],
        by_series=by_series,
        daily=mean,
        held_still=said,
        run_days=days,
        reps=reps,
    )


def _mean_by_day(rows: pd.DataFrame) -> pd.DataFrame:
    """date, day, series, value: each series' mean over the rows' replications, day by day."""
    mean = (
        rows.groupby(["series", "date"], sort=True, observed=True)["value"]
        .mean()
        .astype(float)
        .reset_index()
    )
    mean["day"] = mean.groupby("series", observed=True).cumcount()
    return mean[["date", "day", "series", "value"]]
