"""Two-level experiments: what the uncertain inputs do to the answer (docs/uncertainty.md).

``N`` parameter draws, each run with ``M`` replications, for one or more scenario
files compared:

* draws: a Latin hypercube over the uncertain inputs (:mod:`sim.scenario.uncertain`),
  one column per input (or per ``group``), each column from ``scipy.stats.qmc`` seeded
  by its own named stream ``uncertainty/<key>``, so adding an input never moves the
  draws of another, and never the patients (their streams are the replications');
* common random numbers: draw ``i`` of every file takes the same quantile of an input
  matched by key (or group), and every draw and file runs replications ``0..M-1`` of the
  same seed, so a plan is compared with do nothing under the same unknowns and the same
  patients;
* the runs are a sweep (:func:`sim.experiments.sweep.run_sweep`): one point per draw and
  file, so they are resumable and parallel (local processes or Dask) as sweeps are.

The results (:func:`analyse`):

* ``distribution``: per scenario, metric and period, the distribution of the draw means
  over draws (mean, 5% and 95%) and the split of its variance into input and
  run-to-run parts, by the one-way random-effects ANOVA estimator: with ``ybar_i`` the
  mean of draw ``i``'s ``M`` replications, ``MSB = M var(ybar_i)`` and ``MSW`` the mean
  within-draw variance, ``var_run = MSW`` and ``var_input = max(0, (MSB - MSW) / M)``
  (``M = 1`` cannot split them: both are left empty);
* ``targets``: for each ``[plan.projected]`` target, the share of draws in which the
  plan meets it (a reduction at least as large as the target's, or a rise at least as
  large for a positive one), against the baseline year and against the comparator
  (``projected_vs_comparator``), with its Monte Carlo error ``sqrt(p (1 - p) / N)`` and
  a Wilson 95% interval (not empty when no draw, or every draw, meets it);
* ``sensitivity``: each input's partial rank correlation coefficient (PRCC) with each
  metric's draw mean, ranked by size (the tornado chart).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..codes import SERVICES
from ..engines import registry
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..metrics import catalogue
from ..runs.outputs import claim, text_writer
from ..scenario.params import build_params
from ..scenario.schema import Scenario, load_scenario
from ..scenario.uncertain import unit_draws
from .sweep import Experiment, ExperimentSpec, SweepResults, run_sweep

DEFAULT_METRICS = (
    "attendances",
    "admissions_nhs",
    "acute_occupancy_mean",
    "delayed_bed_days",
    "cost_total",
)
"""Metrics kept when none are named: the plan's targets' metrics are always added."""

STREAM_PREFIX = "uncertainty/"
"""Named streams of the draws: ``uncertainty/<input key>`` or ``uncertainty/group:<name>``."""

TABLES = ("draws", "distribution", "targets", "sensitivity")
"""The tables an uncertainty experiment writes (each as CSV and parquet)."""


@dataclass(frozen=True)
class UncertaintyExperiment(Experiment):
    """A sweep whose points are (draw, scenario) pairs; see the module docstring."""

    files: tuple[str, ...] = ()
    nominal: tuple[Scenario, ...] = ()
    draws: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per scenario, draw and input: scenario, draw, input, draw_key, quantile, value."""
    against: str | None = None
    n_draws: int = 0

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.nominal]

    def _resolved(self) -> dict[str, Any]:
        out = super()._resolved()
        out["files"] = [s.to_dict() for s in self.nominal]
        out["inputs"] = {s.name: [(i.key, i.describe()) for i in s.uncertain] for s in self.nominal}
        out["draws_hash"] = hashlib.sha256(self.draws.to_csv(index=False).encode()).hexdigest()
        return out


def _draw_table(
    scenarios: Sequence[Scenario], n: int, seed: int
) -> tuple[pd.DataFrame, dict[str, list[dict[str, Any]]]]:
    keys = sorted({i.draw_key for s in scenarios for i in s.uncertain})
    units = unit_draws(keys, n, seed, STREAM_PREFIX)
    rows = []
    values: dict[str, list[dict[str, Any]]] = {}
    for s in scenarios:
        per_draw: list[dict[str, Any]] = [{} for _ in range(n)]
        for item in s.uncertain:
            u = units[item.draw_key]
            drawn = item.ppf(u)
            for d in range(n):
                value = drawn[d].item()
                per_draw[d][item.key] = value
                rows.append((s.name, d, item.key, item.draw_key, float(u[d]), float(value)))
        values[s.name] = per_draw
    table = pd.DataFrame(
        rows, columns=["scenario", "draw", "input", "draw_key", "quantile", "value"]
    )
    return table.sort_values(["scenario", "draw"], kind="stable").reset_index(drop=True), values


def _plan_metrics(scenarios: Sequence[Scenario]) -> list[str]:
    out: list[str] = []
    for s in scenarios:
        for metric in (*s.plan.projected, *s.plan.projected_vs_comparator):
            if metric not in out:
                out.append(metric)
    return out


def load_uncertainty(
    files: Sequence[str | Path | Scenario],
    *,
    draws: int,
    reps: int,
    seed: int | None = None,
    engine: str = DEFAULT_ENGINE,
    metrics: Sequence[str] | None = None,
    against: str | None = None,
) -> UncertaintyExperiment:
    """Read the files, make ``draws`` draws of their uncertain inputs and the scenario of
    every draw and file; raise ScenarioError naming file, key, rule and value."""
    if not files:
        raise ScenarioError(["give at least one scenario file"])
    if draws < 2:
        raise ScenarioError([f"--draws must be >= 2 (a distribution needs draws), got {draws}"])
    if reps < 1:
        raise ScenarioError([f"--reps must be >= 1, got {reps}"])
    nominal = [f if isinstance(f, Scenario) else load_scenario(f) for f in files]
    names = [s.name for s in nominal]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError([f"each scenario needs its own name, got {', '.join(repeated)} twice"])
    if not any(s.uncertain for s in nominal):
        raise ScenarioError(
            [
                f"{', '.join(s.source for s in nominal)}: no uncertain input (a value like "
                '{ uncertain = "beta", mean = 0.5, sd = 0.03 }; see docs/uncertainty.md)'
            ]
        )
    if against is not None and against not in names:
        raise ScenarioError(
            [f"--against must name one of the scenarios ({', '.join(names)}), got {against!r}"]
        )
    seed = nominal[0].run.seed if seed is None else seed
    table, values = _draw_table(nominal, draws, seed)
    try:
        registry.get_for(engine, build_params(nominal[0]))  # an engine that cannot run it says so
    except ScenarioError as err:
        raise ScenarioError([f"{nominal[0].source}: engine: {m}" for m in err.messages]) from None
    services = [name for name in SERVICES if nominal[0].service(name) is not None]
    known = catalogue.names(list(nominal[0].cohorts), services)
    wanted = list(metrics) if metrics else [m for m in DEFAULT_METRICS if m in known]
    for m in _plan_metrics(nominal):
        if m not in wanted:
            wanted.append(m)
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise ScenarioError(
            [f"--metric must name a metric (see docs/metrics.md), got {m!r}" for m in unknown]
        )
    spec = ExperimentSpec.model_validate(
        {
            "name": "uncertainty",
            "scenario": nominal[0].source,
            "reps": reps,
            "seed": seed,
            "engine": engine,
            "metrics": wanted,
            "vary": [
                {"path": "draw", "values": list(range(draws))},
                {"path": "scenario", "values": names},
            ],
        }
    )
    points: list[dict[str, Any]] = []
    scenarios: list[Scenario] = []
    for d in range(draws):
        for s in nominal:
            points.append({"draw": d, "scenario": s.name})
            scenarios.append(s.with_values(values[s.name][d]) if s.uncertain else s)
    return UncertaintyExperiment(
        spec,
        nominal[0].source,
        nominal[0],
        tuple(points),
        tuple(scenarios),
        reps,
        seed,
        files=tuple(s.source for s in nominal),
        nominal=tuple(nominal),
        draws=table,
        against=against if against is not None else (names[0] if len(names) > 1 else None),
        n_draws=draws,
    )


# --- analysis ---------------------------------------------------------------------------------


def draw_means(experiment: UncertaintyExperiment, replications: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, draw, metric and period: the mean and variance over replications."""
    points = experiment.points_table()[["point", "draw", "scenario"]]
    points = points.astype({"draw": "int64", "scenario": "str"})
    joined = replications.merge(points, on="point")
    grouped = joined.groupby(["scenario", "draw", "metric", "period"], sort=False)["value"]
    out = grouped.agg(mean="mean", var="var", n="count").reset_index()
    return out


def variance_split(means: np.ndarray, variances: np.ndarray, reps: int) -> tuple[float, float]:
    """The one-way random-effects ANOVA estimator: (input variance, run-to-run variance) of
    draw means ``means`` (each of ``reps`` replications, within-draw variances
    ``variances``). NaN for both when ``reps`` is 1."""
    if reps < 2 or len(means) < 2:
        return math.nan, math.nan
    msb = reps * float(np.var(means, ddof=1))
    msw = float(np.mean(variances))
    return max(0.0, (msb - msw) / reps), msw


def distribution(means: pd.DataFrame, reps: int) -> pd.DataFrame:
    """Per scenario, metric and period: the draw means' mean, 5% and 95%, and the split of
    their variance (see the module docstring)."""
    rows = []
    for (scenario, metric, period), g in means.groupby(
        ["scenario", "metric", "period"], sort=False
    ):
        y = g["mean"].to_numpy(float)
        v_in, v_run = variance_split(y, g["var"].to_numpy(float), reps)
        total = v_in + v_run
        rows.append(
            (
                scenario,
                metric,
                period,
                float(np.mean(y)),
                float(np.quantile(y, 0.05)),
                float(np.quantile(y, 0.95)),
                float(np.var(y, ddof=1)),
                v_in,
                v_run,
                v_in / total if total > 0 else math.nan,
                len(y),
                reps,
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "metric",
            "period",
            "mean",
            "p05",
            "p95",
            "var_draw_means",
            "var_input",
            "var_run",
            "input_share",
            "n_draws",
            "n_reps",
        ],
    )


def meets(change: np.ndarray, target: float) -> np.ndarray:
    """Whether each change meets a target: a fall at least as large as a negative target's,
    a rise at least as large as a positive one's."""
    return change <= target if target < 0 else change >= target


def targets(experiment: UncertaintyExperiment, means: pd.DataFrame) -> pd.DataFrame:
    """The probability that each plan meets each of its projected targets, with its Monte
    Carlo error, against its baseline year and against the comparator."""
    wide = means.set_index(["scenario", "metric", "period", "draw"])["mean"].sort_index()
    rows = []
    for s in experiment.nominal:
        plan = s.plan
        comparator = experiment.against if experiment.against != s.name else None
        for against, table in (
            ("baseline_year", plan.projected),
            ("comparator", plan.projected_vs_comparator),
        ):
            if against == "comparator" and comparator is None:
                continue
            for metric, years in table.items():
                for year, target in sorted(years.items()):
                    try:
                        value = wide.loc[(s.name, metric, year)].sort_index()
                        if against == "baseline_year":
                            base_name = comparator or s.name
                            base = wide.loc[
                                (base_name, metric, str(plan.baseline_year))
                            ].sort_index()
                            base_label = f"{base_name} {plan.baseline_year}"
                        else:
                            assert comparator is not None
                            base = wide.loc[(comparator, metric, year)].sort_index()
                            base_label = f"{comparator}, same year"
                    except KeyError:
                        continue  # the year is not in the run
                    change = (value.to_numpy() / base.to_numpy()) - 1
                    ok = meets(change, float(target))
                    p = float(ok.mean())
                    n = len(ok)
                    low, high = wilson(int(ok.sum()), n)
                    rows.append(
                        (
                            s.name,
                            metric,
                            year,
                            against,
                            base_label,
                            float(target),
                            float(np.mean(change)),
                            float(np.quantile(change, 0.05)),
                            float(np.quantile(change, 0.95)),
                            p,
                            math.sqrt(p * (1 - p) / n),
                            low,
                            high,
                            n,
                        )
                    )
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "metric",
            "period",
            "against",
            "base",
            "target",
            "change_mean",
            "change_p05",
            "change_p95",
            "p_meet",
            "p_meet_se",
            "p_meet_ci_low",
            "p_meet_ci_high",
            "n_draws",
        ],
    )


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score 95% interval of a share ``k / n``: unlike ``p +/- 2 SE`` it is not
    empty when no draw (or every draw) meets the target."""
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, axis=0)


def prcc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Partial rank correlation of each column of ``x`` with ``y`` (the others held out):
    from the inverse of the rank correlation matrix, ``-P[j, y] / sqrt(P[j, j] P[y, y])``.
    NaN for every column when there are too few draws (``n <= columns + 1``)."""
    n, k = x.shape
    if n <= k + 1 or np.ptp(y) == 0:
        return np.full(k, math.nan)
    ranks = _ranks(np.column_stack([x, y]))
    corr = np.corrcoef(ranks, rowvar=False)
    p = np.linalg.pinv(corr)
    return np.array([-p[j, k] / math.sqrt(p[j, j] * p[k, k]) for j in range(k)])


def sensitivity(experiment: UncertaintyExperiment, means: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, metric and period: each input's PRCC with the draw mean, and its rank
    by size (1: matters most). Inputs of one group share a draw, so they share a row
    (named by the group)."""
    rows = []
    draws = experiment.draws
    for s in experiment.nominal:
        mine = draws[draws["scenario"] == s.name]
        if mine.empty:
            continue
        # one quantile per draw and key: the table is already unique on them
        by_key = mine.pivot_table(
            index="draw", columns="draw_key", values="quantile", aggfunc="first"
        )
        labels = {
            key: ", ".join(sorted(mine.loc[mine["draw_key"] == key, "input"].unique()))
            for key in by_key.columns
        }
        x = by_key.sort_index().to_numpy(float)
        for (metric, period), g in means[means["scenario"] == s.name].groupby(
            ["metric", "period"], sort=False
        ):
            y = g.set_index("draw")["mean"].sort_index().to_numpy(float)
            coefficients = prcc(x, y)
            order = np.argsort(-np.abs(np.nan_to_num(coefficients, nan=-1.0)))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(1, len(order) + 1)
            for j, key in enumerate(by_key.columns):
                rows.append(
                    (s.name, metric, period, key, labels[key], float(coefficients[j]), int(rank[j]))
                )
    return pd.DataFrame(
        rows, columns=["scenario", "metric", "period", "draw_key", "inputs", "prcc", "rank"]
    )


@dataclass(frozen=True)
class UncertaintyResults:
    """What an uncertainty experiment wrote, as tables (see the module docstring)."""

    experiment: UncertaintyExperiment
    sweep: SweepResults
    draws: pd.DataFrame
    distribution: pd.DataFrame
    targets: pd.DataFrame
    sensitivity: pd.DataFrame

    @property
    def elapsed_s(self) -> float:
        return self.sweep.elapsed_s


def analyse(
    experiment: UncertaintyExperiment, replications: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The tables of :data:`TABLES` from the replications of a finished experiment."""
    means = draw_means(experiment, replications)
    return {
        "draws": experiment.draws,
        "distribution": distribution(means, experiment.reps),
        "targets": targets(experiment, means),
        "sensitivity": sensitivity(experiment, means),
    }


def _table_writers(stem: str, table: pd.DataFrame) -> dict[str, Callable[[Path], None]]:
    def csv(path: Path) -> None:
        table.to_csv(path, index=False)

    def parquet(path: Path) -> None:
        table.to_parquet(path, index=False)

    return {f"{stem}.csv": csv, f"{stem}.parquet": parquet}


def run_uncertainty(
    experiment: UncertaintyExperiment,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    resume: bool = False,
    overwrite: bool = False,
    check: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> UncertaintyResults:
    """Run every draw of every file (a sweep in ``out``: resumable with ``resume=True``) and
    write the tables of :data:`TABLES` as CSV and parquet in ``out/uncertainty/``."""
    with claim(out, "sweep", overwrite=overwrite) as folder:
        results = run_sweep(
            experiment,
            out,
            workers=workers,
            scheduler=scheduler,
            resume=resume,
            overwrite=overwrite,
            check=check,
            progress=progress,
        )
        tables = analyse(experiment, results.replications)
        writers: dict[str, Callable[[Path], None]] = {}
        for name, table in tables.items():
            writers.update(_table_writers(f"uncertainty/{name}", table))
        meta = {
            "files": list(experiment.files),
            "scenarios": experiment.names,
            "against": experiment.against,
            "draws": experiment.n_draws,
            "reps": experiment.reps,
            "seed": experiment.seed,
            "inputs": {
                s.name: {i.key: i.describe() for i in s.uncertain} for s in experiment.nominal
            },
            "metric_labels": {m: catalogue.label(m) for m in experiment.spec.metrics},
        }
        writers["uncertainty/uncertainty.json"] = text_writer(json.dumps(meta, indent=2))
        (Path(out) / "uncertainty").mkdir(exist_ok=True)
        folder.write(writers)
    return UncertaintyResults(
        experiment,
        results,
        tables["draws"],
        tables["distribution"],
        tables["targets"],
        tables["sensitivity"],
    )
