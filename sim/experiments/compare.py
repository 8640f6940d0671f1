"""Scenarios against a comparator ("do nothing"), paired by replication.

:func:`compare` runs scenarios on the same replications (common random
numbers) through :func:`sim.runs.runner.run_experiment`, so it takes the same
``workers`` and ``scheduler`` and its numbers do not depend on them, and
compares them with the pure functions of :mod:`sim.analysis`: against the
comparator, and against the baseline year.

There is one baseline year, the comparator's (``[plan] baseline_year`` of
"do nothing"), and every scenario's change against it is measured from the
comparator's values in that year. A plan's own base year may already hold its
levers (a changed SDEC, extended hours); measured from itself, its "change
against 2016/17" would start from a different place than do nothing's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import analysis
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..runs.results import Results
from ..runs.runner import runner_for
from ..scenario.schema import Scenario


@dataclass(frozen=True)
class Comparison:
    """Scenarios' results and their comparison table (``analysis.COMPARISON_COLUMNS``)."""

    results: Results
    table: pd.DataFrame
    against: str
    baseline_year: str | None = None
    """The one year every scenario's change is also measured against, at the comparator's
    values (None: no scenario names a ``[plan] baseline_year``)."""

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
        year = baseline_year(results.scenarios, against)
        table = analysis.compare(results.replications, against, year, level)
        return cls(results, table, against, year)

    def row(self, metric: str, scenario: str, period: str = "all") -> pd.Series:
        """One row of the table (for quick looks and tests)."""
        t = self.table
        rows = t[(t.metric == metric) & (t.period == period) & (t.scenario == scenario)]
        if len(rows) != 1:
            raise KeyError(f"{metric} / {period} / {scenario}: {len(rows)} rows")
        return rows.iloc[0]

    def save(self, out: str | Path, *, overwrite: bool = False) -> Path:
        """The run's files plus comparison.csv and comparison.parquet, written atomically, in
        a folder that then holds a comparison (see :meth:`Results.save`)."""
        return self.results.save(
            out,
            extra={"comparison.csv": self.table, "comparison.parquet": self.table},
            kind="comparison",
            overwrite=overwrite,
        )


def baseline_year(scenarios: Sequence[Scenario], against: str) -> str | None:
    """The comparator's ``[plan] baseline_year``; failing that, the one the others name.

    Scenarios that name different years are refused: changes against "the
    baseline year" must all start from one place.
    """
    named = {s.name: s.plan.baseline_year for s in scenarios if s.plan.baseline_year}
    years = set(named.values())
    if len(years) > 1:
        stated = ", ".join(f"{name} {year}" for name, year in named.items())
        raise ScenarioError(
            [
                "plan.baseline_year must be the same year in every compared scenario "
                f"(changes are measured from the comparator's), got {stated}"
            ]
        )
    comparator = next((s for s in scenarios if s.name == against), None)
    if comparator is not None and comparator.plan.baseline_year:
        return comparator.plan.baseline_year
    return next(iter(years), None)


def compare(
    scenarios: Sequence[Scenario],
    against: str | None = None,
    reps: int | None = None,
    seed: int | None = None,
    engine: str = DEFAULT_ENGINE,
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
    when the scenarios name a ``[plan] baseline_year`` (:func:`baseline_year`),
    every scenario's paired change against the comparator's value in that year.
    """
    names = [s.name for s in scenarios]
    if against is not None and against not in names:
        raise ScenarioError(
            [f"against must name one of the scenarios ({', '.join(names)}), got {against!r}"]
        )
    run = runner_for(engine, workers, scheduler, check)
    results = run(scenarios, reps=reps, seed=seed, progress=progress)
    return Comparison.from_results(results, against, level)
