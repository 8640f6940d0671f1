"""Experiments on scenarios: comparisons, replication counts, warm-up, capacity searches.

Each function runs replications through :func:`sim.runner.run_experiment`
(so it takes the same ``workers`` and ``scheduler``, and its numbers do not
depend on them) and analyses them with the pure functions of
:mod:`sim.analysis`.

* :func:`compare`: scenarios against a comparator ("do nothing"), paired by
  replication, and against each scenario's baseline year.
* :func:`replications_needed`: run replications until the chosen metrics'
  confidence intervals are as narrow as asked (relative half-width).
* :func:`suggest_warm_up`: run from empty and find where a daily series
  settles (MSER-5).
* :func:`capacity_search`: the smallest capacity for which a metric meets a
  target with stated confidence, by bisection with common random numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import analysis
from .config import Scenario, ScenarioError
from .runner import Results, run_experiment


def _runner(
    engine: str, workers: int | None, scheduler: Any, check: bool | None
) -> Callable[..., Results]:
    """run_experiment with where and how to run fixed; callers give what to run."""
    return functools.partial(
        run_experiment, engine=engine, workers=workers, scheduler=scheduler, check=check
    )


# --- comparison ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Scenarios' results and their comparison table (``analysis.COMPARISON_COLUMNS``)."""

    results: Results
    table: pd.DataFrame
    against: str

    @classmethod
    def from_results(
        cls, results: Results, against: str | None = None, level: float = 0.95
    ) -> Comparison:
        names = list(dict.fromkeys(results.replications["scenario"]))
        against = names[0] if against is None else against
        if against not in names:
            raise ScenarioError(
                [f"against must name one of the scenarios ({', '.join(names)}), got {against!r}"]
            )
        years = {s.name: s.plan.baseline_year for s in results.scenarios}
        table = analysis.compare(results.replications, against, years, level)
        return cls(results, table, against)

    def row(self, metric: str, scenario: str, period: str = "all") -> pd.Series:
        """One row of the table (for quick looks and tests)."""
        t = self.table
        rows = t[(t.metric == metric) & (t.period == period) & (t.scenario == scenario)]
        if len(rows) != 1:
            raise KeyError(f"{metric} / {period} / {scenario}: {len(rows)} rows")
        return rows.iloc[0]

    def save(self, out: Any) -> Any:
        """The run's files plus comparison.csv and comparison.parquet, written atomically."""
        return self.results.save(
            out, extra={"comparison.csv": self.table, "comparison.parquet": self.table}
        )


def compare(
    scenarios: Sequence[Scenario],
    against: str | None = None,
    reps: int | None = None,
    seed: int | None = None,
    engine: str = "simpy",
    workers: int | None = None,
    scheduler: Any = None,
    check: bool | None = None,
    progress: Callable[[int], None] | None = None,
    level: float = 0.95,
) -> Comparison:
    """Run scenarios on the same replications and compare each with ``against``.

    ``against`` names the comparator (default: the first scenario); ``reps``,
    ``seed``, ``engine``, ``workers``, ``scheduler`` and ``check`` are as for
    :func:`sim.run`; ``level`` is the confidence level of the intervals (0.95).
    Differences are in each metric's unit (counts, days, hours, GBP; shares as
    fractions, so a difference of 0.02 is 2 percentage points) and
    ``rel_change`` is a fraction of the comparator's mean. Per metric
    and period the table gives each scenario's mean and CI, the paired
    difference against the comparator with its CI and relative change, and,
    for scenarios with ``[plan] baseline_year``, the paired change against
    that year of the same scenario.
    """
    names = [s.name for s in scenarios]
    if against is not None and against not in names:
        raise ScenarioError(
            [f"against must name one of the scenarios ({', '.join(names)}), got {against!r}"]
        )
    run = _runner(engine, workers, scheduler, check)
    results = run(scenarios, reps=reps, seed=seed, progress=progress)
    return Comparison.from_results(results, against, level)


# --- how many replications ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicationCount:
    """The outcome of :func:`replications_needed`."""

    reps: int
    """Replications run; when ``met``, the first ``reps`` give the precision asked."""
    met: bool
    precision: pd.DataFrame
    """Per metric: mean, ci_low, ci_high, n_reps, rel_half_width, target, met."""
    history: tuple[tuple[int, float], ...]
    """(replications, worst relative half-width) after each round."""
    results: Results


def replications_needed(
    scenario: Scenario,
    metrics: Sequence[str],
    rel_precision: float = 0.05,
    *,
    period: str = "all",
    level: float = 0.95,
    initial: int = 5,
    max_reps: int = 200,
    seed: int | None = None,
    engine: str = "simpy",
    workers: int | None = None,
    scheduler: Any = None,
    check: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplicationCount:
    """How many replications give CIs no wider than ``rel_precision`` x |mean|.

    The sequential procedure of Law (2015, section 9.4.1): run ``initial``
    replications; while some metric's half-width exceeds the target, estimate
    the count that would meet it, ``n x (relative half-width / target)^2``,
    run the extra replications (never fewer than one more), and check again,
    up to ``max_reps``. Replications are added, never re-run, and replication
    ``r`` is the same whatever the count, so ``sim.run(scenario, reps=n)`` with
    the same seed reproduces the tables exactly.

    A metric whose mean and spread are both zero counts as met; one with a
    zero mean and a non-zero spread can never meet a relative target.
    """
    if not 0 < rel_precision < 1:
        raise ScenarioError([f"rel_precision must be between 0 and 1, got {rel_precision}"])
    if initial < 2:
        raise ScenarioError([f"initial must be >= 2 (a CI needs two replications), got {initial}"])
    if max_reps < initial:
        raise ScenarioError([f"max_reps must be >= initial ({initial}), got {max_reps}"])
    if not metrics:
        raise ScenarioError(["metrics must name at least one metric"])
    seed = scenario.run.seed if seed is None else seed
    run = _runner(engine, workers, scheduler, check)
    runs: list[Results] = []
    n = 0
    target_n = initial
    history: list[tuple[int, float]] = []
    while True:
        done_before = n

        def report(done: int, offset: int = done_before) -> None:
            if progress is not None:
                progress(offset + done)

        runs.append(
            run([scenario], reps=target_n - n, seed=seed, progress=report, first_replication=n)
        )
        n = target_n
        replications = pd.concat([r.replications for r in runs], ignore_index=True)
        table = _precision(replications, metrics, period, level, rel_precision)
        worst = float(table["rel_half_width"].max())
        history.append((n, worst))
        met = bool(table["met"].all())
        if met or n >= max_reps:
            break
        estimate = n * (worst / rel_precision) ** 2 if math.isfinite(worst) else max_reps
        target_n = min(max_reps, max(n + 1, math.ceil(estimate)))
    results = Results(
        analysis.summarise(replications, level),
        replications,
        pd.concat([r.daily for r in runs], ignore_index=True),
        {**runs[0].meta, "reps": n},
        (scenario,),
        hour_of_week=pd.concat([r.hour_of_week for r in runs], ignore_index=True),
        ed_time=pd.concat([r.ed_time for r in runs], ignore_index=True),
    )
    return ReplicationCount(n, met, table, tuple(history), results)


def _precision(
    replications: pd.DataFrame,
    metrics: Sequence[str],
    period: str,
    level: float,
    target: float,
) -> pd.DataFrame:
    summary = analysis.summarise(replications, level)
    known = set(summary["metric"])
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ScenarioError(
            [f"metrics: {m!r} is not a metric of this run (see docs/metrics.md)" for m in unknown]
        )
    periods = set(summary["period"])
    if period not in periods:
        raise ScenarioError([f"period must be one of {', '.join(sorted(periods))}, got {period!r}"])
    rows = summary[summary["metric"].isin(list(metrics)) & (summary["period"] == period)]
    rows = rows.drop(columns="scenario").reset_index(drop=True)
    rows["rel_half_width"] = analysis.relative_half_width(rows).fillna(math.inf)
    rows["target"] = target
    rows["met"] = rows["rel_half_width"] <= target
    return rows


# --- warm-up -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarmUp:
    """The outcome of :func:`suggest_warm_up`."""

    days: int
    """Suggested warm-up, in days from an empty system."""
    series: str
    reliable: bool
    """False when the run was too short to show the end of the warm-up."""
    mser: analysis.Mser
    daily: pd.DataFrame = field(repr=False)
    """date, value: the series averaged over replications (what MSER-5 saw)."""


def suggest_warm_up(
    scenario: Scenario,
    series: str = "acute_occupied",
    reps: int = 5,
    days: int | None = None,
    *,
    seed: int | None = None,
    engine: str = "simpy",
    workers: int | None = None,
    scheduler: Any = None,
    check: bool | None = None,
    batch: int = 5,
    progress: Callable[[int], None] | None = None,
) -> WarmUp:
    """A warm-up for ``scenario``: run it from empty and apply MSER-5 to a daily series.

    The scenario runs with no warm-up for ``days`` (default: its warm-up plus
    its horizon, at least a year); the daily series (``acute_occupied`` by
    default; any from the daily table, e.g. ``delayed``) is averaged over
    replications and truncated where MSER-5 says. Use a warm-up at least
    this long; slow-filling services (long P3 stays) may need a longer run
    than the default to show their end.
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
    if days is None:
        days = max(365, scenario.run.warm_up_days + round(scenario.run.horizon_years * 365.25))
    if days < 4 * batch:
        raise ScenarioError([f"days must be >= {4 * batch}, got {days}"])
    empty = scenario.override({"run.warm_up_days": 0, "run.horizon_years": days / 365.25})
    run = _runner(engine, workers, scheduler, check)
    results = run([empty], reps=reps, seed=seed, progress=progress)
    daily = results.daily
    known = list(dict.fromkeys(daily["series"]))
    if series not in known:
        raise ScenarioError([f"series must be one of {', '.join(known)}, got {series!r}"])
    mean = (
        daily[daily["series"] == series]
        .groupby("date", sort=True)["value"]
        .mean()
        .rename("value")
        .reset_index()
    )
    found = analysis.mser(mean["value"].to_numpy(), batch=batch)
    return WarmUp(found.truncate, series, found.reliable, found, mean)


# --- capacity search ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacitySearch:
    """The outcome of :func:`capacity_search`."""

    path: str
    metric: str
    period: str
    target: float
    direction: Literal["at_most", "at_least"]
    confidence: float
    value: int | None
    """The smallest value in the range that meets the target; None if none does."""
    evaluations: pd.DataFrame
    """One row per value tried, in the order tried: value, mean, bound, n_reps, meets."""

    def describe(self) -> str:
        sign = "<=" if self.direction == "at_most" else ">="
        goal = f"{self.metric} ({self.period}) {sign} {self.target:g}"
        conf = f"{100 * self.confidence:g}% one-sided confidence"
        if self.value is None:
            top = int(self.evaluations["value"].max())
            return f"no value of {self.path} up to {top} gives {goal} with {conf}"
        return f"{self.path} = {self.value} is the smallest value giving {goal} with {conf}"


def capacity_search(
    scenario: Scenario,
    path: str,
    metric: str,
    target: float,
    *,
    low: int,
    high: int,
    direction: Literal["at_most", "at_least"] = "at_most",
    period: str = "all",
    confidence: float = 0.95,
    reps: int | None = None,
    seed: int | None = None,
    engine: str = "simpy",
    workers: int | None = None,
    scheduler: Any = None,
    check: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> CapacitySearch:
    """The smallest whole ``path`` value in ``[low, high]`` for which ``metric`` meets ``target``.

    "Meets" means with one-sided ``confidence``: for ``at_most``, the upper
    bound ``mean + t(confidence, n - 1) sd / sqrt(n)`` is at most the target
    (for ``at_least``, the lower bound is at least it). Bisection over whole
    numbers: ``high`` first (if it fails, nothing in the range meets the
    target), then ``low``, then halves. Every value runs the same
    replications (common random numbers), which keeps the metric close to
    monotone in the capacity, as bisection assumes. ``progress`` is called
    with the number of values evaluated, at most ``2 + ceil(log2(high - low))``.
    """
    if direction not in ("at_most", "at_least"):
        raise ScenarioError([f"direction must be at_most or at_least, got {direction!r}"])
    if not 0.5 < confidence < 1:
        raise ScenarioError([f"confidence must be between 0.5 and 1, got {confidence}"])
    if low > high:
        raise ScenarioError([f"low must be <= high, got {low} > {high}"])
    rows: list[dict[str, Any]] = []
    cache: dict[int, bool] = {}
    run = _runner(engine, workers, scheduler, check)

    def meets(value: int) -> bool:
        if value in cache:
            return cache[value]
        variant = scenario.override({path: value}, name=f"{scenario.name}_{value}")
        results = run([variant], reps=reps, seed=seed)
        r = results.replications
        values = r[(r["metric"] == metric) & (r["period"] == period)]["value"].to_numpy()
        if len(values) == 0:
            raise ScenarioError(
                [f"metric {metric!r} with period {period!r} is not reported by this run"]
            )
        mean, lower, upper = analysis.t_interval(values, level=2 * confidence - 1)
        bound = upper if direction == "at_most" else lower
        ok = bool(bound <= target) if direction == "at_most" else bool(bound >= target)
        rows.append({"value": value, "mean": mean, "bound": bound, "n_reps": len(values)})
        rows[-1]["meets"] = ok
        cache[value] = ok
        if progress is not None:
            progress(len(rows))
        return ok

    found: int | None
    if not meets(high):
        found = None
    elif meets(low):
        found = low
    else:
        lo, hi = low, high  # lo fails, hi meets
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if meets(mid):
                hi = mid
            else:
                lo = mid
        found = hi
    evaluations = pd.DataFrame(rows, columns=["value", "mean", "bound", "n_reps", "meets"])
    return CapacitySearch(
        path, metric, period, float(target), direction, confidence, found, evaluations
    )


def max_evaluations(low: int, high: int) -> int:
    """The most values :func:`capacity_search` evaluates over ``[low, high]``."""
    return 2 + max(0, math.ceil(np.log2(max(high - low, 1))))
