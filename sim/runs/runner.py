"""Running replications and saving what they produce.

``run(scenario, reps=, seed=, engine=)`` runs a scenario's replications and
returns a :class:`Results`: three pandas tables, the same ones written to disk.
``run_experiment(scenarios, ...)`` does the same for several scenarios at
once, with the same replications (common random numbers), optionally on
local worker processes or a Dask cluster (:mod:`sim.parallel`).

* ``summary``: scenario, metric, period, mean, ci_low, ci_high, n_reps
* ``replications``: scenario, replication, metric, period, value
* ``daily``: scenario, replication, date, series, value
* ``hour_of_week``: scenario, replication, series, weekday, hour, value
* ``ed_time``: scenario, replication, period, outcome, hours_from, hours_to, attendances

Replication ``r`` always uses the streams of ``(seed, r)``, whatever else is
run, so results do not depend on the order or place replications run in.
The runner holds no state between calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import functools
import logging
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..analysis import summarise
from ..codes import DAYS_PER_YEAR
from ..engines import registry
from ..engines.registry import DEFAULT_ENGINE
from ..errors import ScenarioError
from ..metrics.accumulator import MetricAccumulator, Tables
from ..model.demand import same_patients
from ..model.invariants import assert_ok
from ..scenario.params import CostParams, ModelParams, build_costs, build_params
from ..scenario.schema import Scenario, differences
from .drift import warn_of_drift
from .parallel import imap, workers_for
from .provenance import provenance
from .results import Results

log = logging.getLogger(__name__)


def concat_tables(parts: Sequence[Tables]) -> Tables:
    """The tables of several batches, one after another."""
    return Tables(*(pd.concat(frames, ignore_index=True) for frames in zip(*parts, strict=True)))


def check_by_default() -> bool:
    """Invariant checks are on when LEFTSHIFT_CHECK is set (the test suite sets it)."""
    return os.environ.get("LEFTSHIFT_CHECK", "") not in ("", "0", "false", "no")


def run_batch(
    params: ModelParams,
    seed: int,
    replications: Sequence[int],
    engine: str = DEFAULT_ENGINE,
    check: bool = False,
    costs: CostParams | None = None,
    daily: bool = True,
) -> Tables:
    """Some replications of one scenario: its tables, without the scenario column.

    ``daily=False``: the metrics only (the other tables empty; the daily one never built).

    ``costs`` defaults to none at all (every cost metric 0): give
    :func:`~sim.scenario.params.build_costs` of the scenario for its costs.
    With ``check``, every replication's invariants are verified
    (:class:`~sim.errors.InvariantError` if one breaks).
    """
    chosen = registry.get_for(engine, params)
    replications = list(replications)
    sink = MetricAccumulator(params, replications, costs or CostParams.free(params))
    for record in chosen.run(params, seed, replications, sink, keep_records=check):
        assert_ok(record)
    return sink.finish(daily=daily)


MAX_BATCH = 250
"""Most replications one task runs, at :data:`BATCH_DAYS` simulated days each or fewer."""

BATCH_DAYS = 816
"""The run length (days, warm-up included) at which a task may hold :data:`MAX_BATCH`
replications: the baseline's, one year (366 days, whole days up) after its 450-day warm-up.
A batch holds each replication's daily sums side by side (about 0.1 MB a simulated year
on the baseline), so a longer run gets fewer replications a task and the batch's sums
stay the same size whatever the horizon (``docs/engines.md``, "Memory")."""


def simulated_days(scenario: Scenario) -> int:
    """Days a replication of ``scenario`` simulates: its warm-up and its horizon."""
    return scenario.run.warm_up_days + math.ceil(scenario.run.horizon_years * DAYS_PER_YEAR)


PROGRESS_STEPS = 20
"""A large run is cut into at least this many tasks, so progress moves and a sweep point
that fails loses little."""

MIN_BATCH = 16
"""Fewest replications a batched engine's task runs when cutting for progress: a task
pays about 25 ms (scenario arrays, its tables), a fast replication of the baseline
about 50 ms on each of two threads, so 16 keeps the fixed cost near 3%."""


POINTS_PER_TASK = 8
"""Sweep points one task runs together when they draw the same patients (a sweep of
capacities or prices: :func:`~sim.model.demand.same_patients`), each replication's patients
drawn once for all of them. Drawing is a third of a baseline replication on the fast engine:
shared by 8 points, a point costs about 1.45x less (measured 2 December 2026)."""


def point_groups(
    engine: str, scenarios: Sequence[Scenario], todo: Sequence[int]
) -> list[list[int]]:
    """Sweep points ``todo`` (indices into ``scenarios``) in tasks' groups, in order: up to
    :data:`POINTS_PER_TASK` together while each differs from its group's first only at keys
    that leave the patients the same (:func:`~sim.model.demand.same_patients`), one by one
    on an engine that runs one replication at a time."""
    size = 1 if registry.get(engine).one_at_a_time else POINTS_PER_TASK
    groups: list[list[int]] = []
    for k in todo:
        group = groups[-1] if groups else None
        if (
            group is not None
            and len(group) < size
            and same_patients(differences(scenarios[group[0]], scenarios[k]))
        ):
            group.append(k)
        else:
            groups.append([k])
    return groups


def batch_size(
    engine: str,
    reps: int,
    slots: int,
    scenarios: int = 1,
    together: int = 1,
    days: int = BATCH_DAYS,
) -> int:
    """Replications per task, for ``scenarios`` scenarios (or tasks' groups of up to
    ``together`` sweep points, :func:`point_groups`) sharing ``slots`` workers, each
    replication ``days`` long (:func:`simulated_days`).

    The SimPy engine runs one replication at a time, so one replication per
    task balances the load best and updates progress most often. The fast
    engine runs a task's replications on threads and pays a fixed cost per
    task, so each scenario's replications are split only as far as it takes to
    give every worker a task (not at all when there are at least as many
    scenarios, or sweep points, as workers), then into at least
    ``PROGRESS_STEPS`` tasks of no fewer than ``MIN_BATCH``, and never into
    batches of more than ``MAX_BATCH`` replications' tallies of ``BATCH_DAYS`` days in a
    task (memory: a task of ``together`` points holds that many per replication, and a
    run of twice the days half the replications, down to ``MIN_BATCH`` replications).
    """
    if registry.get(engine).one_at_a_time:
        return 1
    splits = max(1, math.ceil(max(slots, 1) / max(scenarios, 1)))
    size = max(1, math.ceil(reps / splits))
    size = min(size, max(MIN_BATCH, math.ceil(reps * scenarios / PROGRESS_STEPS)))
    most = MAX_BATCH * BATCH_DAYS // (max(together, 1) * max(days, BATCH_DAYS))
    most = max(MIN_BATCH, most)
    if size > most:  # memory: split evenly into batches of at most that many
        size = math.ceil(size / math.ceil(size / most))
    return size


def replication_batches(reps: int, size: int) -> list[list[int]]:
    """Replications ``0..reps-1`` in consecutive batches of ``size``."""
    return [list(range(start, min(start + size, reps))) for start in range(0, reps, size)]


def run_scenario_batch(
    scenario: Scenario,
    seed: int,
    replications: Sequence[int],
    engine: str,
    check: bool,
    metrics: Sequence[str] | None = None,
    daily: bool = True,
) -> Tables:
    """One task for a worker: some replications of one scenario.

    Takes the scenario rather than its engine parameters because it is a
    hundred times smaller to send to a worker, and building the parameters
    takes milliseconds. ``metrics`` keeps only those metrics (a sweep keeps a
    few); ``daily=False`` drops the daily series, the hour-of-week profiles
    and the A&E time histogram.
    """
    params = build_params(scenario)
    costs = build_costs(scenario, params)
    return _keep(run_batch(params, seed, replications, engine, check, costs, daily=daily), metrics)


def run_points_batch(
    scenarios: Sequence[Scenario],
    seed: int,
    replications: Sequence[int],
    engine: str,
    check: bool,
    metrics: Sequence[str] | None = None,
    daily: bool = True,
) -> list[Tables]:
    """:func:`run_scenario_batch` for each of ``scenarios``, which must draw the same
    patients (:func:`sim.model.demand.same_patients`: a sweep's points when it varies only
    capacities and prices): the engine draws each replication's patients once for all."""
    params = [build_params(scenario) for scenario in scenarios]
    chosen = registry.get(engine)
    for p in params:
        registry.get_for(engine, p)  # refused by name if the engine cannot run one
    replications = list(replications)
    sinks = [
        MetricAccumulator(p, replications, build_costs(scenario, p))
        for p, scenario in zip(params, scenarios, strict=True)
    ]
    for records in chosen.run_points(params, seed, replications, sinks, keep_records=check):
        for record in records:
            assert_ok(record)
    return [_keep(sink.finish(daily=daily), metrics) for sink in sinks]


def _keep(tables: Tables, metrics: Sequence[str] | None) -> Tables:
    """Only ``metrics`` of the tables' metrics (all of them if None)."""
    if metrics is None:
        return tables
    kept = tables.metrics["metric"].isin(list(metrics))
    return tables._replace(metrics=tables.metrics[kept].reset_index(drop=True))


def _check_run(reps: int, seed: int, engine: str) -> None:
    if reps < 1:
        raise ScenarioError([f"reps must be >= 1, got {reps}"])
    if seed < 0:
        raise ScenarioError([f"seed must be >= 0, got {seed}"])
    registry.get(engine)


def run_experiment(
    scenarios: Scenario | Sequence[Scenario],
    reps: int | None = None,
    seed: int | None = None,
    engine: str = DEFAULT_ENGINE,
    workers: int | None = None,
    scheduler: Any = None,
    check: bool | None = None,
    progress: Callable[[int], None] | None = None,
    first_replication: int = 0,
    drift: bool = True,
) -> Results:
    """Run the same replications of one or more scenarios; return their tables together.

    ``reps`` is the number of replications (each a whole run of the scenario's
    horizon, ``[run] horizon_years`` after ``warm_up_days``); ``seed`` the base
    seed (an int >= 0); ``engine`` ``"fast"`` (compiled, the default) or
    ``"simpy"`` (the reference); ``check=True`` verifies every replication's invariants and
    raises :class:`sim.invariants.InvariantError` if one breaks (default: on
    when the environment sets ``LEFTSHIFT_CHECK``). The returned
    :class:`Results` holds, per scenario: ``summary`` (scenario, metric,
    period, mean, ci_low, ci_high, n_reps: Student-t 95% intervals over
    replications), ``replications`` (scenario, replication, metric, period,
    value) and ``daily`` (scenario, replication, date, series, value). Periods
    are ``all`` and NHS financial years (``2016/17``); each metric's unit
    (count, days, hours, GBP, or a share between 0 and 1) is in docs/metrics.md.

    Seeds on the outside, scenarios on the inside: replication ``r`` of every
    scenario uses the streams of ``(seed, r)``, so the scenarios see the same
    patients (common random numbers) and their differences are not noise.
    ``reps`` and ``seed`` default to the first scenario's ``[run]`` table.

    ``workers=N`` runs on ``N`` local processes; ``scheduler`` (an address like
    ``tcp://host:8786`` or a ``distributed.Client``) runs on a Dask cluster;
    neither runs in this process. The tables are identical in every case.
    ``progress`` is called with the number of replications finished so far
    (over all scenarios). ``first_replication`` runs replications
    ``first_replication .. first_replication + reps - 1`` instead of ``0 ..
    reps - 1``, to add replications to an earlier run.

    Each reported financial year is checked for drift its scenario's demand does not
    explain (:mod:`sim.runs.drift`): a :class:`~sim.runs.drift.DriftWarning` names the
    series and figures (``drift=False``: not checked, as for a run from empty on purpose).
    """
    listed = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    if not listed:
        raise ScenarioError(["run_experiment needs at least one scenario"])
    names = [s.name for s in listed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(
            [
                f"scenario names must differ, got {', '.join(map(repr, repeated))} more than "
                "once (set name = ... in the files)"
            ]
        )
    reps = listed[0].run.reps if reps is None else reps
    seed = listed[0].run.seed if seed is None else seed
    _check_run(reps, seed, engine)
    if first_replication < 0:
        raise ScenarioError([f"first_replication must be >= 0, got {first_replication}"])
    check = check_by_default() if check is None else check
    with workers_for(workers, scheduler) as run_on:
        log.info(
            "%d replications of %d scenario%s on %s",
            reps,
            len(listed),
            "" if len(listed) == 1 else "s",
            run_on.where,
        )
        batches = [
            [first_replication + r for r in batch]
            for batch in replication_batches(
                reps,
                batch_size(
                    engine,
                    reps,
                    run_on.slots,
                    len(listed),
                    days=max(simulated_days(scenario) for scenario in listed),
                ),
            )
        ]
        # seeds outside, scenarios inside: partial progress covers every scenario evenly
        tasks = [(k, batch) for batch in batches for k in range(len(listed))]
        done: dict[int, Tables] = {}
        finished = 0
        for index, frames in imap(
            run_on,
            run_scenario_batch,
            ((listed[k], seed, batch, engine, check) for k, batch in tasks),
        ):
            done[index] = frames
            finished += len(tasks[index][1])
            if progress is not None:
                progress(finished)
    replications, daily, hour_of_week, ed_time = _by_scenario(done, tasks, names)
    meta: dict[str, Any] = {
        "seed": seed,
        "reps": reps,
        "engine": engine,
        "version": __version__,
        "run_date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "provenance": provenance([s.source for s in listed]),
    }
    if first_replication:
        meta["first_replication"] = first_replication
    if drift:
        warn_of_drift(tuple(listed), daily)
    return Results(
        summarise(replications),
        replications,
        daily,
        meta,
        tuple(listed),
        hour_of_week=hour_of_week,
        ed_time=ed_time,
    )


def _by_scenario(
    done: dict[int, Tables], tasks: Sequence[tuple[int, Sequence[int]]], names: Sequence[str]
) -> Tables:
    """The batches' tables in one set, scenario by scenario in replication order.

    At 1,000 replications x 5 years the daily table has 33 million rows (720 MB), so
    every extra copy costs hundreds of MB: it is put together a column at a time, each
    batch's column released once copied (:func:`_concat_by_column`), so the peak is the
    table and one column of it, not the table twice (1,940 -> 1,350 MB measured, 2 December
    2026). Its ``scenario`` column is categorical (a byte a row).
    """
    daily_names = pd.CategoricalDtype(list(names))
    parts: list[list[pd.DataFrame]] = [[] for _ in Tables._fields]
    for k, name in enumerate(names):
        for i in [i for i, (kk, _) in enumerate(tasks) if kk == k]:  # in replication order
            for kind, frame in enumerate(done.pop(i)):
                if kind == Tables._fields.index("daily"):
                    codes = np.full(len(frame), k, dtype=np.int32)
                    frame.insert(
                        0,
                        "scenario",
                        pd.Series(
                            pd.Categorical.from_codes(codes, dtype=daily_names), index=frame.index
                        ),
                    )
                else:
                    frame.insert(0, "scenario", name)
                parts[kind].append(frame)
    daily = Tables._fields.index("daily")
    return Tables(
        *(
            _concat_by_column(frames) if kind == daily else pd.concat(frames, ignore_index=True)
            for kind, frames in enumerate(parts)
        )
    )


def _concat_by_column(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)`` of frames with the same columns, built a
    column at a time, each part's column released as soon as it is copied (``frames`` is
    emptied: the caller must hold no other reference to them for the memory to go)."""
    columns = list(frames[0].columns)
    held = [[frame[c] for frame in frames] for c in columns]
    frames.clear()
    out: dict[str, pd.Series] = {}
    for c, pieces in zip(columns, held, strict=True):
        out[c] = pd.concat(pieces, ignore_index=True)
        pieces.clear()
        release_freed_memory()
    return pd.DataFrame(out, copy=False)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Give the pages of freed memory back to the system (glibc: ``malloc_trim``).

    A batch's columns of the daily table (15 MB each at 50 replications x 5 years) come
    from the heap once glibc has raised its mmap threshold, and freeing them leaves holes
    that the whole table's columns, each one large mapping, cannot reuse: without this the
    pieces stayed resident beside the table they were copied into (1,000 replications x 5
    years of the baseline: +780 MB while putting it together, +260 MB with it, 3 December
    2026)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def prepare_engine(
    engine: str = DEFAULT_ENGINE, status: Callable[[str], None] | None = None
) -> float:
    """Get ``engine`` ready to run and return the seconds it took: the fast engine compiles
    on its first use on a machine (16-48 s measured on 2-core machines, 2-3 December
    2026) and loads from its cache after that (about a second). ``status`` is told what
    is happening when it will take a while, so a command line or the app can say so
    before any progress bar starts; :func:`run` prepares by itself if need be."""
    return registry.get(engine).prepare(status)


def runner_for(
    engine: str, workers: int | None, scheduler: Any, check: bool | None
) -> Callable[..., Results]:
    """:func:`run_experiment` with where and how to run fixed; callers give what to run."""
    return functools.partial(
        run_experiment, engine=engine, workers=workers, scheduler=scheduler, check=check
    )


def run(
    scenario: Scenario,
    reps: int | None = None,
    seed: int | None = None,
    engine: str = DEFAULT_ENGINE,
    check: bool | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    scheduler: Any = None,
) -> Results:
    """Run a scenario's replications (defaults from its ``[run]`` table).

    ``reps`` replications from base ``seed`` on ``engine`` (``"simpy"`` or
    ``"fast"``), in this process or on ``workers`` local processes or a Dask
    ``scheduler`` (the numbers are the same). ``check=True`` verifies the
    invariants (conservation, capacity, schedules, first come first served,
    no negative waits). ``progress`` is called with the number of replications
    finished so far. Returns :class:`Results`: ``summary``, ``replications``
    and ``daily`` tables, metrics in the units of docs/metrics.md (counts,
    days, hours, GBP; shares as fractions between 0 and 1). The same as
    :func:`run_experiment` with one scenario.
    """
    return run_experiment(
        [scenario],
        reps=reps,
        seed=seed,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        check=check,
        progress=progress,
    )
