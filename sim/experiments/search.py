"""The smallest capacity for which a metric meets a target, with stated confidence.

Bisection over whole numbers with common random numbers (every value runs the
same replications), which keeps the metric close to monotone in the capacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import analysis
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..runs.runner import runner_for
from ..scenario.schema import Scenario


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
    engine: str = DEFAULT_ENGINE,
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
    run = runner_for(engine, workers, scheduler, check)

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
