"""Running replications and saving what they produce.

``run(scenario, reps=, seed=, engine=)`` runs a scenario's replications and
returns a :class:`Results`: three pandas tables, the same ones written to disk.

* ``summary``: scenario, metric, period, mean, ci_low, ci_high, n_reps
* ``replications``: scenario, replication, metric, period, value
* ``daily``: scenario, replication, date, series, value

Replication ``r`` always uses the streams of ``(seed, r)``, whatever else is
run, so results do not depend on the order or place replications run in.
The runner holds no state between calls.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .analysis import summarise
from .config import Scenario, ScenarioError
from .invariants import assert_ok
from .metrics import daily_series, replication_metrics
from .params import ModelParams, build_params

BatchEngine = Callable[[ModelParams, int, Sequence[int], bool], tuple[pd.DataFrame, pd.DataFrame]]
"""An engine runs a batch of replications of one scenario and returns two long
tables, each with a leading ``replication`` column: the metrics (replication,
metric, period, value) and the daily series (replication, date, series, value).

Replication ``r`` must give the same rows whatever batch it runs in: that is
what makes results independent of the number of workers."""


def _simpy(
    params: ModelParams, seed: int, replications: Sequence[int], check: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .engine_simpy import simulate

    metric_frames, daily_frames = [], []
    for replication in replications:
        record = simulate(params, seed, replication)
        if check:
            assert_ok(record)
        metric_frames.append(replication_metrics(record))
        daily_frames.append(daily_series(record))
    return pd.concat(metric_frames, ignore_index=True), pd.concat(daily_frames, ignore_index=True)


ENGINES: dict[str, BatchEngine] = {"simpy": _simpy}
PLANNED_ENGINES = {"fast": "the vectorised numpy engine is not built yet (issue #4)"}


def check_by_default() -> bool:
    """Invariant checks are on when LEFTSHIFT_CHECK is set (the test suite sets it)."""
    return os.environ.get("LEFTSHIFT_CHECK", "") not in ("", "0", "false", "no")


def get_engine(name: str) -> BatchEngine:
    if name in ENGINES:
        return ENGINES[name]
    if name in PLANNED_ENGINES:
        raise ScenarioError([f"engine '{name}' is not available: {PLANNED_ENGINES[name]}"])
    raise ScenarioError([f"engine must be one of {', '.join(ENGINES)}, got '{name}'"])


def run_batch(
    params: ModelParams,
    seed: int,
    replications: Sequence[int],
    engine: str = "simpy",
    check: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Some replications of one scenario: (metrics, daily), without the scenario column."""
    return get_engine(engine)(params, seed, list(replications), check)


@dataclass(frozen=True)
class Results:
    """Tables from one or more scenarios' replications."""

    summary: pd.DataFrame
    replications: pd.DataFrame
    daily: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    scenarios: tuple[Scenario, ...] = ()

    def value(self, metric: str, period: str = "all", scenario: str | None = None) -> float:
        """The mean of one metric (for quick looks and tests)."""
        s = self.summary
        rows = s[(s.metric == metric) & (s.period == period)]
        if scenario is not None:
            rows = rows[rows.scenario == scenario]
        if len(rows) != 1:
            raise KeyError(f"{metric} / {period} / {scenario}: {len(rows)} rows")
        return float(rows["mean"].iloc[0])

    def save(self, out: str | Path) -> Path:
        """Write summary.csv, replications.parquet, daily.parquet and scenario.json.

        Files are written to a temporary folder beside ``out`` and moved in
        only when all are complete, so an interrupted save leaves no
        half-written file.
        """
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        try:
            self.summary.to_csv(tmp / "summary.csv", index=False)
            self.replications.to_parquet(tmp / "replications.parquet", index=False)
            self.daily.to_parquet(tmp / "daily.parquet", index=False)
            provenance = {
                **self.meta,
                "scenarios": [
                    {"name": s.name, "source": s.source, "resolved": s.to_dict()}
                    for s in self.scenarios
                ],
            }
            (tmp / "scenario.json").write_text(json.dumps(provenance, indent=2, default=str))
            out.mkdir(exist_ok=True)
            for item in tmp.iterdir():
                os.replace(item, out / item.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def run(
    scenario: Scenario,
    reps: int | None = None,
    seed: int | None = None,
    engine: str = "simpy",
    check: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> Results:
    """Run a scenario's replications (defaults from its ``[run]`` table).

    ``progress`` is called with the number of replications finished so far.
    """
    reps = scenario.run.reps if reps is None else reps
    seed = scenario.run.seed if seed is None else seed
    if reps < 1:
        raise ScenarioError([f"reps must be >= 1, got {reps}"])
    if seed < 0:
        raise ScenarioError([f"seed must be >= 0, got {seed}"])
    get_engine(engine)
    check = check_by_default() if check is None else check
    params = build_params(scenario)
    metric_frames, daily_frames = [], []
    for rep in range(reps):
        metrics, daily = run_batch(params, seed, [rep], engine, check)
        metric_frames.append(metrics)
        daily_frames.append(daily)
        if progress is not None:
            progress(rep + 1)
    replications = pd.concat(metric_frames, ignore_index=True)
    replications.insert(0, "scenario", scenario.name)
    daily = pd.concat(daily_frames, ignore_index=True)
    daily.insert(0, "scenario", scenario.name)
    meta = {
        "seed": seed,
        "reps": reps,
        "engine": engine,
        "version": __version__,
        "run_date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return Results(summarise(replications), replications, daily, meta, (scenario,))
