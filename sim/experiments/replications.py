"""How many replications a run needs for a chosen precision (Law 2015, section 9.4.1)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import analysis
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..runs.results import Results
from ..runs.runner import runner_for
from ..scenario.schema import Scenario


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
    engine: str = DEFAULT_ENGINE,
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
    run = runner_for(engine, workers, scheduler, check)
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
