"""Parameter sweeps: an experiment file, its points, and a resumable parquet dataset.

An experiment file (TOML, in ``experiments/``) names a base scenario, the
parameters to vary by dotted path, the replications and the metrics to keep::

    name = "p1_p2_delays"
    scenario = "../configs/baseline.toml"   # relative to this file
    reps = 3
    metrics = ["delayed_bed_days", "acute_occupancy_mean"]

    [set]                                   # applied to every point
    "run.horizon_years" = 1

    [[vary]]                                # a grid: these values
    path = "community.p1.places"
    values = [96, 108, 120]

    [[vary]]                                # a range: sampled by Latin hypercube
    path = "community.p2.places"
    low = 85
    high = 109
    integer = true

Parameters with ``values`` form a grid (every combination); parameters with
``low``/``high`` are sampled together by a Latin hypercube of ``samples``
points (``sample_seed``), crossed with the grid. Every point runs the same
replications ``0..reps-1`` with the same seed (common random numbers).

A sweep writes to its output folder as it goes::

    experiment.json         the resolved experiment, its points and a fingerprint
    points.csv              point, then one column per varied path
    replications/part-NNNNN.parquet   point, replication, metric, period, value
    summary.csv             per point, metric and period: mean and CI (at the end)

Each part file holds whole points and is written to a hidden temporary
file, then renamed (``os.replace``), so a reader never sees half a file. A
sweep killed at any moment (even SIGKILL) and run again with ``resume``
skips the points already on disk and runs the rest: it loses only the
points in flight, repeats none, and ends with the same tables as an
uninterrupted sweep.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from .._version import __version__
from ..analysis import summarise_by
from ..codes import SERVICES
from ..engines import registry
from ..engines.registry import DEFAULT_ENGINE
from ..errors import OutputError, ScenarioError
from ..metrics import catalogue
from ..runs.outputs import Folder, claim, text_writer
from ..runs.parallel import imap, workers_for
from ..runs.provenance import provenance
from ..runs.runner import (
    batch_size,
    check_by_default,
    point_groups,
    replication_batches,
    run_points_batch,
    simulated_days,
)
from ..scenario.files import read_toml
from ..scenario.messages import at_key, format_errors, show_value
from ..scenario.params import build_params
from ..scenario.schema import Scenario, StrictModel, flatten, load_scenario

REPLICATION_COLUMNS = ["point", "replication", "metric", "period", "value"]
PARTS = "replications"


class Vary(StrictModel):
    """One varied parameter: grid ``values``, or a ``low``-``high`` range to sample."""

    path: str = Field(min_length=1)
    grid: tuple[Any, ...] | None = Field(default=None, min_length=1, alias="values")
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> Vary:
        has_range = self.low is not None or self.high is not None
        if (self.grid is None) == (not has_range):
            raise ValueError("needs values (a grid) or low and high (a range), not both")
        if has_range:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both low and high")
            if self.low > self.high:
                raise ValueError(f"low must be <= high, got {self.low:g} > {self.high:g}")
        elif self.integer:
            raise ValueError("integer applies to a range (low, high), not to values")
        return self

    @property
    def is_range(self) -> bool:
        return self.grid is None


class ExperimentSpec(StrictModel):
    """The schema of an experiment file (see the module docstring and docs/experiments.md)."""

    name: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$", max_length=80)
    description: str = ""
    scenario: str = Field(min_length=1)
    reps: int | None = Field(default=None, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    engine: str = DEFAULT_ENGINE
    metrics: tuple[str, ...] = Field(min_length=1)
    periods: tuple[str, ...] | None = Field(default=None, min_length=1)
    fixed: dict[str, Any] = Field(default_factory=dict, alias="set")
    vary: tuple[Vary, ...] = Field(min_length=1)
    samples: int | None = Field(default=None, ge=1, le=1_000_000)
    sample_seed: int = Field(default=0, ge=0, lt=2**63)

    @model_validator(mode="after")
    def _samples_with_ranges(self) -> ExperimentSpec:
        ranges = any(v.is_range for v in self.vary)
        if ranges and self.samples is None:
            raise ValueError("@samples@ is required when a vary entry has a range (low, high)")
        if not ranges and self.samples is not None:
            raise at_key(
                "samples",
                "must be left out when no vary entry has a range (low, high)",
                self.samples,
            )
        paths = [v.path for v in self.vary]
        repeated = sorted({p for p in paths if paths.count(p) > 1})
        if repeated:
            raise at_key("vary", "must name each path once", ", ".join(repeated))
        return self


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: its spec, base scenario and the scenario of every point."""

    spec: ExperimentSpec
    source: str
    base: Scenario
    """The base scenario with ``[set]`` applied."""
    points: tuple[dict[str, Any], ...]
    """Per point, the value of each varied path."""
    scenarios: tuple[Scenario, ...]
    reps: int
    seed: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def paths(self) -> list[str]:
        return [v.path for v in self.spec.vary]

    def points_table(self) -> pd.DataFrame:
        table = pd.DataFrame(
            {path: [p[path] for p in self.points] for path in self.paths}, dtype=object
        )
        table.insert(0, "point", np.arange(len(self.points), dtype=np.int64))
        return table

    def fingerprint(self) -> str:
        """A hash of everything that decides the results (not of where they run)."""
        return hashlib.sha256(
            json.dumps(self._resolved(), sort_keys=True, default=str).encode()
        ).hexdigest()

    def _resolved(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(),
            "points": list(self.points),
            "reps": self.reps,
            "seed": self.seed,
            "engine": self.spec.engine,
            "metrics": list(self.spec.metrics),
            "periods": None if self.spec.periods is None else list(self.spec.periods),
        }


# --- reading and validating -----------------------------------------------------------------


_TOP_LEVEL = {f.alias or name for name, f in ExperimentSpec.model_fields.items()}


def _toml_order_hint(message: str) -> str:
    """In TOML a key after ``[[vary]]`` belongs to it: say so when a top-level key lands there."""
    for key in _TOP_LEVEL - {"name"}:
        if f"].{key} is not a known key" in message or f"set.{key} is not" in message:
            return message + " (top-level keys must come before the first [table] or [[vary]])"
    return message


def _strip(message: str, source: str) -> str:
    return message.removeprefix(f"{source}: ")


def _grid_and_samples(spec: ExperimentSpec) -> list[dict[str, Any]]:
    grid = [v for v in spec.vary if not v.is_range]
    ranges = [v for v in spec.vary if v.is_range]
    combos = list(itertools.product(*[v.grid or () for v in grid])) if grid else [()]
    samples: list[dict[str, Any]] = [{}]
    if ranges:
        from scipy.stats import qmc  # imported on use: scipy.stats is slow to import

        assert spec.samples is not None
        unit = qmc.LatinHypercube(d=len(ranges), rng=spec.sample_seed).random(n=spec.samples)
        samples = []
        for row in unit:
            sample: dict[str, Any] = {}
            for v, u in zip(ranges, row, strict=True):
                assert v.low is not None
                assert v.high is not None
                if v.integer:
                    lo, hi = math.ceil(v.low), math.floor(v.high)
                    sample[v.path] = int(min(hi, lo + math.floor(u * (hi - lo + 1))))
                else:
                    sample[v.path] = float(v.low + u * (v.high - v.low))
            samples.append(sample)
    order = [v.path for v in spec.vary]
    points = []
    for combo in combos:
        for sample in samples:
            point = {**{v.path: value for v, value in zip(grid, combo, strict=True)}, **sample}
            points.append({path: point[path] for path in order})
    return points


def _known_metrics(base: Scenario, engine: str) -> tuple[list[str], list[str]]:
    """The metric names and periods a run of ``base`` reports, from the catalogue.

    An engine that cannot run the scenario says so here, before anything is written.
    """
    params = build_params(base)
    registry.get_for(engine, params)
    services = [s for s in SERVICES if base.service(s) is not None]
    known = catalogue.names(list(base.cohorts), services)
    periods = ["all", *(p.label for p in params.calendar.periods[1:])]
    return known, periods


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; raise ScenarioError naming file, key, rule, value."""
    path = Path(path)
    source = str(path)
    raw = read_toml(path, source)
    if not raw.get("name"):
        raw["name"] = path.stem
    if isinstance(raw.get("set"), Mapping):
        raw["set"] = flatten(raw["set"])
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        messages = format_errors(exc, source, raw, root=ExperimentSpec)
        raise ScenarioError([_toml_order_hint(m) for m in messages]) from None
    errors: list[str] = []
    try:
        registry.get(spec.engine)
    except ScenarioError as err:
        errors.extend(f"{source}: {m}" for m in err.messages)
    scenario_path = path.parent / spec.scenario
    if not scenario_path.is_file():
        raise ScenarioError(
            [
                *errors,
                f"{source}: scenario must name an existing scenario file, got "
                f"{spec.scenario!r} (looked for {scenario_path})",
            ]
        )
    base = load_scenario(scenario_path)  # its own errors name the scenario file
    try:
        base = base.override(dict(spec.fixed))
    except ScenarioError as err:
        raise ScenarioError(
            [*errors, *(f"{source}: set: {_strip(m, base.source)}" for m in err.messages)]
        ) from None
    points = _grid_and_samples(spec)
    # each value on its own first, so an error names the vary entry and value that cause it
    for i, vary in enumerate(spec.vary):
        tried = vary.grid if vary.grid is not None else (vary.low, vary.high)
        for value in tried:
            shown = int(value) if vary.integer and value is not None else value
            try:
                base.override({vary.path: shown})
            except ScenarioError as err:
                where = f"{source}: vary[{i}] {vary.path} = {show_value(shown)}"
                errors.extend(f"{where}: {_strip(m, base.source)}" for m in err.messages)
    if errors:
        raise ScenarioError(list(dict.fromkeys(errors)))
    scenarios = []
    for k, point in enumerate(points):
        try:
            scenarios.append(base.override(point, name=f"{spec.name}_{k}"))
        except ScenarioError as err:
            shown = ", ".join(f"{p} = {show_value(v)}" for p, v in point.items())
            whole = [v.path for v in spec.vary if v.is_range and not v.integer]
            for m in err.messages:
                message = f"{source}: point {k} ({shown}): {_strip(m, base.source)}"
                if "must be a whole number" in m and any(p in m for p in whole):
                    message += " (add integer = true to its [[vary]] range)"
                errors.append(message)
            break  # the first failing point says what is wrong; the rest would repeat it
    if errors:
        raise ScenarioError(list(dict.fromkeys(errors)))
    try:
        known, periods = _known_metrics(base, spec.engine)
    except ScenarioError as err:
        raise ScenarioError([f"{source}: engine: {m}" for m in err.messages]) from None
    for i, metric in enumerate(spec.metrics):
        if metric not in known:
            close = difflib.get_close_matches(metric, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(
                f"{source}: metrics[{i}] must name a metric (see docs/metrics.md), "
                f"got {metric!r}{hint}"
            )
    for i, period in enumerate(spec.periods or ()):
        if period not in periods:
            errors.append(
                f"{source}: periods[{i}] must be one of {', '.join(periods)}, got {period!r}"
            )
    if errors:
        raise ScenarioError(errors)
    reps = base.run.reps if spec.reps is None else spec.reps
    seed = base.run.seed if spec.seed is None else spec.seed
    return Experiment(spec, source, base, tuple(points), tuple(scenarios), reps, seed)


# --- the output folder ------------------------------------------------------------------------


def _part_files(out: Path) -> list[Path]:
    folder = out / PARTS
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def load_replications(out: str | Path) -> pd.DataFrame:
    """The replications a sweep has written so far: point, replication, metric, period, value.

    Sorted by point, then replication, with each replication's rows in the
    order the engine reports them, so the frame does not depend on how the
    points were split into part files (or on an interruption and resume).
    """
    files = _part_files(Path(out))
    if not files:
        return pd.DataFrame(
            {
                "point": pd.Series(dtype="int64"),
                "replication": pd.Series(dtype="int64"),
                "metric": pd.Series(dtype="str"),
                "period": pd.Series(dtype="str"),
                "value": pd.Series(dtype="float64"),
            }
        )
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    frame = frame.sort_values(["point", "replication"], kind="stable").reset_index(drop=True)
    return frame[REPLICATION_COLUMNS]


@dataclass(frozen=True)
class SweepResults:
    """What a finished sweep wrote, as tables."""

    experiment: Experiment
    out: Path
    points: pd.DataFrame
    replications: pd.DataFrame
    summary: pd.DataFrame
    ran_points: int
    """Points run by this call (the rest were on disk already)."""
    elapsed_s: float


def summarise_sweep(experiment: Experiment, replications: pd.DataFrame) -> pd.DataFrame:
    """Per point, metric and period: mean and CI, with the point's parameter values."""
    table = summarise_by(replications, ["point", "metric", "period"])
    points = experiment.points_table()
    merged = points.merge(table, on="point", how="right")
    return merged[[*points.columns, "metric", "period", "mean", "ci_low", "ci_high", "n_reps"]]


def _start_folder(
    experiment: Experiment, folder: Folder, resume: bool, overwrite: bool
) -> set[int]:
    """Prepare a claimed sweep folder; return the points already done there."""
    out = folder.path
    manifest = out / "experiment.json"
    if resume and overwrite:
        raise ScenarioError(["give --resume or --overwrite, not both"])
    if folder.resuming and manifest.exists() and not overwrite:
        if not resume:
            raise OutputError(
                f"--out {out}: already holds a sweep; add --resume to continue it, "
                "--overwrite to start it again, or choose another --out"
            )
        try:
            found = json.loads(manifest.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            raise ScenarioError([f"{manifest}: cannot read the sweep's manifest"]) from None
        if found != experiment.fingerprint():
            raise OutputError(
                f"--out {out}: holds a different sweep (the experiment, its scenario or the "
                "code that builds it changed since it started); choose another --out, or add "
                "--overwrite to replace it"
            )
        folder.keep_previous()
        for stale in (out / PARTS).glob(".part-*.tmp"):  # a write cut short
            stale.unlink(missing_ok=True)
        done = load_replications(out)["point"].unique()
        return {int(p) for p in done}
    # another kind's files (with --overwrite), or a sweep killed before its manifest was
    # written: start afresh
    folder.clear_previous()
    points = experiment.points_table()
    manifest_data = {
        "name": experiment.name,
        "source": experiment.source,
        "description": experiment.spec.description,
        "fingerprint": experiment.fingerprint(),
        "version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "provenance": provenance([experiment.source, experiment.base.source]),
        **experiment._resolved(),
    }
    text = json.dumps(manifest_data, indent=2, default=str)
    folder.write(
        {
            "points.csv": lambda p: points.to_csv(p, index=False),
            "experiment.json": text_writer(text),
        }
    )
    (out / PARTS).mkdir(exist_ok=True)
    return set()


def run_sweep(
    experiment: Experiment | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    resume: bool = False,
    overwrite: bool = False,
    check: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
    flush_seconds: float = 1.0,
) -> SweepResults:
    """Run every point of an experiment, writing part files as points finish.

    ``experiment`` is an experiment file (docs/experiments.md) or a loaded
    :class:`Experiment`; ``out`` the folder for its parts (``resume=True``
    continues one, skipping the points done; ``overwrite=True`` replaces
    whatever result the folder holds). ``workers``, ``scheduler`` and
    ``check`` are as for :func:`sim.run`. Returns :class:`SweepResults`:
    ``points`` (point and each varied path's value), ``replications`` (point,
    replication, metric, period, value) and ``summary`` (the point's values,
    metric, period, mean, ci_low, ci_high, n_reps), metrics in the units of
    docs/metrics.md (counts, days, hours, GBP; shares as fractions). ``progress``
    is called with (points done, replications done), counting those already on
    disk when resuming. Finished points are written at
    least every ``flush_seconds`` (and at the end); 0 writes each point as
    it finishes. A save that fails (:class:`~sim.errors.OutputError`) keeps
    the points written before it, and ``resume=True`` continues from them.
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    with claim(out, "sweep", overwrite=overwrite) as folder:
        return _run_claimed(
            experiment,
            folder,
            workers,
            scheduler,
            resume,
            overwrite,
            check,
            progress,
            flush_seconds,
        )


def _run_claimed(
    experiment: Experiment,
    folder: Folder,
    workers: int | None,
    scheduler: Any,
    resume: bool,
    overwrite: bool,
    check: bool | None,
    progress: Callable[[int, int], None] | None,
    flush_seconds: float,
) -> SweepResults:
    out = folder.path
    started = time.perf_counter()
    done_points = _start_folder(experiment, folder, resume, overwrite)
    folder.kept = (
        f"the points finished before are saved in {out}; run the sweep again with --resume "
        "(resume=True) to continue from them"
    )
    todo = [k for k in range(len(experiment.points)) if k not in done_points]
    reps, seed, engine = experiment.reps, experiment.seed, experiment.spec.engine
    check = check_by_default() if check is None else check
    metrics = list(experiment.spec.metrics)
    periods = None if experiment.spec.periods is None else list(experiment.spec.periods)
    n_done = len(done_points)
    reps_done = n_done * reps
    if progress is not None:
        progress(n_done, reps_done)
    sequence = max((int(f.stem.split("-")[1]) for f in _part_files(out)), default=-1) + 1
    buffer: list[pd.DataFrame] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal sequence, last_flush
        if buffer:
            chunk = pd.concat(buffer, ignore_index=True)
            name = f"{PARTS}/part-{sequence:05d}.parquet"
            folder.write({name: lambda p: chunk.to_parquet(p, index=False)})
            sequence += 1
            buffer.clear()
        last_flush = time.monotonic()

    with workers_for(workers, scheduler) as run_on:
        groups = point_groups(engine, experiment.scenarios, todo)
        together = max((len(g) for g in groups), default=1)
        batches = replication_batches(
            reps,
            batch_size(
                engine,
                reps,
                run_on.slots,
                len(groups),
                together,
                days=max((simulated_days(experiment.scenarios[k]) for k in todo), default=0),
            ),
        )
        tasks = [(g, b) for g in range(len(groups)) for b in range(len(batches))]
        parts: dict[int, dict[int, pd.DataFrame]] = {}
        try:
            for index, tables in imap(
                run_on,
                run_points_batch,
                (
                    (
                        [experiment.scenarios[k] for k in groups[g]],
                        seed,
                        batches[b],
                        engine,
                        check,
                        metrics,
                        False,
                    )
                    for g, b in tasks
                ),
            ):
                g, b = tasks[index]
                for k, (rows, *_) in zip(groups[g], tables, strict=True):
                    if periods is not None:
                        rows = rows[rows["period"].isin(periods)].reset_index(drop=True)
                    parts.setdefault(k, {})[b] = rows
                    reps_done += len(batches[b])
                    if len(parts[k]) == len(batches):
                        mine = parts.pop(k)
                        frame = pd.concat([mine[i] for i in range(len(batches))], ignore_index=True)
                        frame.insert(0, "point", np.int64(k))
                        buffer.append(frame[REPLICATION_COLUMNS])
                        n_done += 1
                    if buffer and time.monotonic() - last_flush >= flush_seconds:
                        flush()
                if progress is not None:
                    progress(n_done, reps_done)
        finally:
            flush()  # whatever finished, also when interrupted (Ctrl-C) or a task fails
    replications = load_replications(out)
    summary = summarise_sweep(experiment, replications)
    folder.write({"summary.csv": lambda p: summary.to_csv(p, index=False)})
    return SweepResults(
        experiment,
        out,
        experiment.points_table(),
        replications,
        summary,
        len(todo),
        time.perf_counter() - started,
    )
