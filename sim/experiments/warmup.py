"""A warm-up for a scenario: run it from empty and find where a daily series settles (MSER-5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import analysis
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..runs.runner import runner_for
from ..scenario.schema import Scenario


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
    engine: str = DEFAULT_ENGINE,
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
    run = runner_for(engine, workers, scheduler, check)
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
