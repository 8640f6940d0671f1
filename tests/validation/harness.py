"""Run a validation scenario on either engine and read its replications.

Every run checks the engine's invariants (conservation, capacity, schedules,
first come first served) on each replication's record, as ``--check`` does.
Results are per replication, so a check can state a confidence interval from
the run itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import t_interval
from sim.engines import registry
from sim.metrics.accumulator import MetricAccumulator
from sim.model.invariants import assert_ok
from sim.model.record import Record
from sim.scenario.params import CostParams, ModelParams, build_params
from sim.scenario.schema import Scenario

ENGINES = tuple(registry.ENGINES)


@dataclass(frozen=True)
class Run:
    """One scenario's replications on one engine."""

    params: ModelParams
    metrics: pd.DataFrame
    """Period ``all``: one row per replication, one column per metric."""
    daily: pd.DataFrame
    """Long daily series: replication, date, series, value."""
    records: list[Record]

    def __getitem__(self, metric: str) -> np.ndarray:
        return self.metrics[metric].to_numpy(dtype=float)

    @property
    def hours(self) -> np.ndarray:
        """Observed hours of each replication."""
        return self["observed_days"] * 24.0

    def daily_mean(self, series: str) -> np.ndarray:
        """Time-weighted mean of a daily series over the observed window, per replication."""
        d = self.daily[self.daily.series == series]
        return d.groupby("replication")["value"].mean().to_numpy(dtype=float)


def run(data: dict[str, Any], engine: str, reps: int, seed: int) -> Run:
    """Replications ``0..reps-1`` of a scenario (a dict as in a TOML file), invariants checked."""
    params = build_params(Scenario.from_dict(data))
    replications = list(range(reps))
    sink = MetricAccumulator(params, replications, CostParams.free(params))
    records = registry.get(engine).run(params, seed, replications, sink, keep_records=True)
    metrics, daily = sink.finish()[:2]
    for record in records:
        assert_ok(record)
    wide = (
        metrics[metrics.period == "all"]
        .pivot_table(index="replication", columns="metric", values="value", aggfunc="first")
        .sort_index()
    )
    return Run(params, wide, daily, records)


@dataclass(frozen=True)
class Check:
    """One validation check: a measured mean against an analytic or peer value.

    Passes when ``|measured - expected| <= k * se`` (k = 3), where ``se`` is the
    standard error of the measured mean across replications, combined with
    the peer's when the expected value is itself a simulation estimate.
    """

    name: str
    engine: str
    expected: float
    measured: float
    se: float
    low: float
    high: float
    reps: int
    source: str = "analytic"
    expected_se: float = 0.0
    k: float = 3.0
    """Standard errors allowed (more than 3 for a family of many checks)."""

    @property
    def tolerance(self) -> float:
        return self.k * math.hypot(self.se, self.expected_se)

    @property
    def passed(self) -> bool:
        return abs(self.measured - self.expected) <= self.tolerance

    def __str__(self) -> str:
        peer = f" +/- {self.expected_se:.3g}" if self.expected_se else ""
        return (
            f"{self.name} [{self.engine}]: {self.source} {self.expected:.4g}{peer}, "
            f"measured {self.measured:.4g} (95% CI {self.low:.4g} to {self.high:.4g}, "
            f"{self.reps} reps), tolerance {self.tolerance:.3g}"
        )


def check(
    name: str,
    engine: str,
    values: np.ndarray,
    expected: float,
    source: str = "analytic",
    expected_se: float = 0.0,
    k: float = 3.0,
) -> Check:
    """A :class:`Check` of per-replication ``values`` against ``expected``."""
    values = np.asarray(values, dtype=float)
    mean, low, high = t_interval(values)
    se = float(values.std(ddof=1) / math.sqrt(len(values)))
    return Check(
        name, engine, float(expected), mean, se, low, high, len(values), source, expected_se, k
    )


def peer(name: str, engine: str, values: np.ndarray, peer_values: np.ndarray) -> Check:
    """A check against another simulation's replications (their SEs combined)."""
    peer_values = np.asarray(peer_values, dtype=float)
    se = float(peer_values.std(ddof=1) / math.sqrt(len(peer_values)))
    return check(name, engine, values, float(peer_values.mean()), "Ciw", se)


def assert_all(checks: list[Check]) -> None:
    failed = [str(c) for c in checks if not c.passed]
    assert not failed, "\n".join(failed)
