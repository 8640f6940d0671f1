"""Calibration to observed series by history matching (docs/uncertainty.md, "Calibration").

Given a scenario whose uncertain inputs (:mod:`sim.scenario.uncertain`) are the priors,
and observed values (``observed.csv``), each wave:

1. draws ``N`` points in the inputs' current ranges (a Latin hypercube in quantile
   space, one column per input or group from its own named stream, as
   :mod:`sim.experiments.uncertainty` draws them; wave ``w`` uses streams
   ``calibrate/<w>/<key>``);
2. runs each with ``M`` replications (common random numbers, the compiled engine by
   default) and takes, for every observation, the model's mean ``E`` over replications
   and its variance ``V_model`` (the run-to-run variance pooled over the wave's draws,
   divided by ``M``);
3. computes each observation's implausibility
   ``I = |observed - E| / sqrt(V_obs + V_model + V_disc)`` (``V_obs`` the observation's
   ``sd`` squared; ``V_disc`` the model discrepancy, ``(discrepancy x observed)^2``) and
   keeps the draws whose largest ``I`` is at most the cut-off (3, Pukelsheim's three-sigma
   rule);
4. narrows each input's range to the span of the kept draws' quantiles (widened by one
   stratum, ``1 / N``, on each side), for the next wave; a wave that keeps no draw ends
   the calibration with the wave before it (the first keeping none is an error).

The calibrated ranges are the last wave's: each input becomes a uniform range over the
span of its non-implausible values, written as a scenario file that extends the original
(``uncertainty`` can run it). ``observed.csv`` has columns ``series, period, value`` and
optionally ``sd``: ``series`` a daily series of docs/metrics.md ("Daily series", e.g.
``acute_occupied``, ``delayed``) with ``period`` a day (``2016-05-01``) or a month
(``2016-05``, the mean of its days), or a metric (``attendances``, ``ed_4h_share``,
``delayed_bed_days``) with ``period`` a financial year (``2016/17``).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..codes import SERVICES
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..metrics import catalogue
from ..runs.outputs import claim, text_writer
from ..runs.parallel import imap, workers_for
from ..runs.runner import run_scenario_batch
from ..scenario.files import read_csv_rows
from ..scenario.messages import show_value
from ..scenario.schema import Scenario, load_scenario
from ..scenario.uncertain import UncertainInput, unit_draws

CUTOFF = 3.0
"""The implausibility cut-off: Pukelsheim's three-sigma rule for a unimodal distribution."""

SECOND_LARGEST_FROM = 5
"""From this many observations a draw is judged by its second-largest implausibility (with
many outputs noise alone puts the largest past the cut-off too often); with fewer, by the
largest, so that every observation counts."""

OBSERVED_COLUMNS = ("series", "period", "value", "sd")

DAILY_SERIES = catalogue.DAILY_TABLE_SERIES
"""The daily series an observation may name (docs/metrics.md, "Daily series")."""


@dataclass(frozen=True)
class Observation:
    series: str
    period: str
    value: float
    sd: float
    kind: str
    """``day``, ``month`` or ``year`` (a metric by financial year)."""


def read_observed(path: str | Path, metrics: Sequence[str]) -> list[Observation]:
    """The observations of ``observed.csv``; a problem names the file, line, column, value."""
    path = Path(path)
    shown = str(path)
    problems: list[str] = []
    rows = read_csv_rows(path, shown, OBSERVED_COLUMNS, 3)
    out = []
    for line, row in rows:
        where = f"{shown}: line {line}"
        series, period = row["series"], row["period"]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", period):
            kind = "day"
        elif re.fullmatch(r"\d{4}-\d{2}", period):
            kind = "month"
        elif re.fullmatch(r"\d{4}/\d{2}", period):
            kind = "year"
        else:
            problems.append(
                f"{where}: period must be a day (2016-05-01), a month (2016-05) or a financial "
                f"year (2016/17), got {period!r}"
            )
            continue
        if kind == "year" and series not in metrics:
            problems.append(
                f"{where}: series with a financial year must name a metric (docs/metrics.md), "
                f"got {series!r}"
            )
            continue
        if kind != "year" and series not in DAILY_SERIES:
            problems.append(
                f"{where}: series with a day or month must be one of {', '.join(DAILY_SERIES)}, "
                f"got {series!r}"
            )
            continue
        try:
            value = float(row["value"])
            sd = float(row.get("sd") or 0.0)
        except ValueError:
            problems.append(
                f"{where}: value and sd must be numbers, got {row['value']!r}, {row.get('sd')!r}"
            )
            continue
        if not (math.isfinite(value) and math.isfinite(sd) and sd >= 0):
            problems.append(f"{where}: value must be finite and sd >= 0, got {value:g}, {sd:g}")
            continue
        out.append(Observation(series, period, value, sd, kind))
    if not out and not problems:
        problems.append(f"{shown}: has no rows")
    if problems:
        raise ScenarioError(problems)
    return out


def model_values(tables: Any, observations: Sequence[Observation]) -> np.ndarray:
    """Per replication (rows) and observation (columns): the model's value."""
    metrics = tables.metrics
    daily = tables.daily
    reps = sorted(metrics["replication"].unique())
    out = np.full((len(reps), len(observations)), np.nan)
    by_metric = metrics.set_index(["metric", "period", "replication"])["value"]
    by_day = by_month = pd.Series(dtype=float)
    if len(daily):
        daily = daily.assign(
            day=pd.to_datetime(daily["date"]).dt.strftime("%Y-%m-%d"),
            series=daily["series"].astype(str),
        )
        daily["month"] = daily["day"].str[:7]
        by_day = daily.set_index(["series", "day", "replication"])["value"]
        by_month = daily.groupby(["series", "month", "replication"])["value"].mean()
    for j, o in enumerate(observations):
        for i, r in enumerate(reps):
            key = (o.series, o.period, r)
            source = by_metric if o.kind == "year" else by_day if o.kind == "day" else by_month
            with contextlib.suppress(KeyError):
                out[i, j] = float(source.loc[key])
    return out


def _missing(observations: Sequence[Observation], values: np.ndarray) -> list[str]:
    return [
        f"{o.series} {o.period}"
        for o, v in zip(observations, values.T, strict=True)
        if np.isnan(v).all()
    ]


def implausibility(
    observed: np.ndarray,
    sd: np.ndarray,
    runs: np.ndarray,
    discrepancy: float,
    rank: int = 1,
) -> np.ndarray:
    """Per draw, the ``rank``-th largest implausibility over the observations (1: the
    largest). ``runs`` is (draws, replications, observations)."""
    mean = runs.mean(axis=1)
    reps = runs.shape[1]
    # the run-to-run variance pooled over the draws (one draw's few replications would
    # give an estimate too noisy to divide by), over the replications of a mean
    pooled = np.nanmean(runs.var(axis=1, ddof=1), axis=0) if reps > 1 else np.zeros(mean.shape[1])
    v_model = np.broadcast_to(pooled / reps, mean.shape)
    v = sd**2 + v_model + (discrepancy * observed) ** 2
    v = np.where(v > 0, v, 1e-12)
    each = np.abs(observed - mean) / np.sqrt(v)
    k = min(rank, each.shape[1])
    return -np.sort(-each, axis=1)[:, k - 1]


@dataclass(frozen=True)
class CalibrationResult:
    scenario: Scenario
    waves: pd.DataFrame
    """Per wave, draw and input: the quantile, the value, the implausibility, kept."""
    ranges: pd.DataFrame
    """Per input: prior and calibrated low and high."""
    backtest: pd.DataFrame
    """Per observation: observed, and the kept draws' model mean, 5% and 95%."""
    calibrated_file: Path | None


def calibrate(
    scenario: Scenario | str | Path,
    observed: str | Path | Sequence[Observation],
    *,
    draws: int = 60,
    waves: int = 3,
    reps: int = 2,
    cutoff: float = CUTOFF,
    discrepancy: float = 0.0,
    rank: int | None = None,
    seed: int | None = None,
    engine: str = DEFAULT_ENGINE,
    workers: int | None = None,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationResult:
    """History-match the scenario's uncertain inputs to the observations (module docstring)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    inputs = list(scenario.uncertain)
    if not inputs:
        raise ScenarioError(
            [f"{scenario.source}: no uncertain input to calibrate (see docs/uncertainty.md)"]
        )
    refused = [i.key for i in inputs if i.key.startswith("changes[")]
    if refused:
        raise ScenarioError(
            [
                f"{scenario.source}: {k}: calibrate cannot write a calibrated range back into a "
                "dated change; give the input outside [[changes]]"
                for k in refused
            ]
        )
    if draws < 4 or waves < 1 or reps < 1:
        raise ScenarioError(
            [f"draws must be >= 4, waves and reps >= 1, got {draws}, {waves}, {reps}"]
        )
    services = [s for s in SERVICES if scenario.service(s) is not None]
    metric_names = catalogue.names(list(scenario.cohorts), services)
    obs = (
        list(observed)
        if not isinstance(observed, str | Path)
        else read_observed(observed, metric_names)
    )
    if rank is None:
        rank = 2 if len(obs) >= SECOND_LARGEST_FROM else 1
    seed = scenario.run.seed if seed is None else seed
    keys = sorted({i.draw_key for i in inputs})
    lows = dict.fromkeys(keys, 0.0)
    highs = dict.fromkeys(keys, 1.0)
    observed_v = np.array([o.value for o in obs])
    sd = np.array([o.sd for o in obs])
    rows: list[tuple[Any, ...]] = []
    kept_runs: np.ndarray | None = None
    done = 0
    for wave in range(waves):
        unit = unit_draws(keys, draws, seed, f"calibrate/{wave}/")
        u = {k: lows[k] + unit[k] * (highs[k] - lows[k]) for k in keys}
        values = [
            {i.key: i.ppf([u[i.draw_key][d]])[0].item() for i in inputs} for d in range(draws)
        ]
        scenarios = [scenario.with_values(v) for v in values]
        runs = np.full((draws, reps, len(obs)), np.nan)
        with workers_for(workers, scheduler) as run_on:
            tasks = ((s, seed, list(range(reps)), engine, False, None, True) for s in scenarios)
            for d, tables in imap(run_on, run_scenario_batch, tasks):
                runs[d] = model_values(tables, obs)
                done += 1
                if progress is not None:
                    progress(done, draws * waves)
        missing = _missing(obs, runs[0])
        if missing:
            raise ScenarioError(
                [f"observed: {m} is not in the model's run (check its dates)" for m in missing]
            )
        imp = implausibility(observed_v, sd, runs, discrepancy, rank)
        kept = imp <= cutoff
        if wave > 0 and not kept.any():
            waves = wave  # a narrower wave found nothing: the last wave's ranges stand
            break
        for d in range(draws):
            for i in inputs:
                rows.append(
                    (
                        wave,
                        d,
                        i.key,
                        i.draw_key,
                        float(u[i.draw_key][d]),
                        float(values[d][i.key]),
                        float(imp[d]),
                        bool(kept[d]),
                    )
                )
        if not kept.any():
            raise ScenarioError(
                [
                    f"wave {wave + 1}: no draw is consistent with the observations (smallest "
                    f"implausibility {imp.min():.2f} > {cutoff:g}); widen the inputs' ranges, "
                    "add their sd, or allow a model discrepancy (--discrepancy)"
                ]
            )
        kept_runs = runs[kept]
        step = 1.0 / draws
        for k in keys:
            span = u[k][kept]
            width = highs[k] - lows[k]
            lows[k], highs[k] = (
                max(lows[k], float(span.min()) - step * width),
                min(highs[k], float(span.max()) + step * width),
            )
    assert kept_runs is not None
    table = pd.DataFrame(
        rows,
        columns=[
            "wave",
            "draw",
            "input",
            "draw_key",
            "quantile",
            "value",
            "implausibility",
            "kept",
        ],
    )
    last = table[(table["wave"] == waves - 1) & table["kept"]]
    if not len(table) or table["wave"].max() > waves - 1:
        table = table[table["wave"] <= waves - 1]
    ranges = []
    for i in inputs:
        prior = i.ppf([0.0, 1.0]) if i.form in ("uniform", "triangular") else i.ppf([0.001, 0.999])
        mine = last[last["input"] == i.key]["value"]
        ranges.append(
            (
                i.key,
                i.describe(),
                float(prior[0]),
                float(prior[1]),
                float(mine.min()),
                float(mine.max()),
            )
        )
    ranges_t = pd.DataFrame(
        ranges, columns=["input", "prior", "prior_low", "prior_high", "low", "high"]
    )
    means = kept_runs.mean(axis=1)
    back = pd.DataFrame(
        {
            "series": [o.series for o in obs],
            "period": [o.period for o in obs],
            "observed": observed_v,
            "sd": sd,
            "model_mean": means.mean(axis=0),
            "model_p05": np.quantile(means, 0.05, axis=0),
            "model_p95": np.quantile(means, 0.95, axis=0),
        }
    )
    return CalibrationResult(scenario, table, ranges_t, back, None)


def _toml_value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v)
    return str(v)


def calibrated_text(result: CalibrationResult, extends: str) -> str:
    """A scenario file that extends the original with each input's calibrated range."""
    s = result.scenario
    by_key = {i.key: i for i in s.uncertain}
    lines = [
        "# Calibrated ranges from `leftshift calibrate` (history matching; docs/uncertainty.md):",
        "# each input is uniform over the span of its non-implausible values in the last wave.",
        f'extends = "{extends}"',
        "",
    ]
    lists: dict[str, list[Any]] = {}
    for r in result.ranges.to_dict("records"):
        item: UncertainInput = by_key[str(r["input"])]
        low, high = float(r["low"]), float(r["high"])
        if high <= low:
            high = low + max(abs(low) * 1e-6, 1e-9)
        table: dict[str, Any] = {"uncertain": "uniform", "low": low, "high": high}
        if item.integer:
            table.update(
                low=math.floor(low), high=max(math.ceil(high), math.floor(low) + 1), integer=True
            )
        match = re.fullmatch(r"(.+)\[(\d+)\]", item.key)
        if match:
            name, index = match[1], int(match[2])
            if name not in lists:
                node: Any = s.raw
                for part in name.split("."):
                    node = node[part]
                lists[name] = list(node)
            lists[name][index] = table
            continue
        lines.append(f"# prior {r['prior']}")
        lines.append(f"{item.key} = {_toml_value(table)}")
    for name, values in lists.items():
        lines.append(f"{name} = {_toml_value(values)}")
    return "\n".join(lines) + "\n"


def write_calibration(
    result: CalibrationResult,
    out: str | Path,
    scenario_path: str | Path,
    overwrite: bool = False,
    extra: dict[str, Callable[[Path], None]] | None = None,
) -> Path:
    """Write the tables and the calibrated scenario file in ``out``, with ``extra`` files
    (the command adds the back-test chart, drawn by :mod:`sim.present`)."""
    out = Path(out)
    target = out / "calibrated.toml"
    extends = os.path.relpath(Path(scenario_path).resolve(), out.resolve())
    text = calibrated_text(result, extends)
    with claim(out, "calibration", overwrite=overwrite, command="calibrate") as folder:
        files: dict[str, Callable[[Path], None]] = {
            "calibrated.toml": text_writer(text),
            "waves.csv": lambda p: result.waves.to_csv(p, index=False),
            "ranges.csv": lambda p: result.ranges.to_csv(p, index=False),
            "backtest.csv": lambda p: result.backtest.to_csv(p, index=False),
        }
        files.update(extra or {})
        folder.write(files)
    return target


def describe_ranges(ranges: pd.DataFrame) -> list[str]:
    return [
        f"{r.input}: {show_value(r.prior_low)}-{show_value(r.prior_high)} -> "
        f"{show_value(r.low)}-{show_value(r.high)}"
        for r in ranges.itertuples()
    ]
