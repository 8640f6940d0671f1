"""The fast (compiled) engine against the SimPy reference engine: patient for patient.

Both engines draw the same patients from the same named streams and follow the
same rule for simultaneous events (docs/engines.md), so for any scenario and
seed every column of every patient's record must be *equal* (floats bit for
bit, NaN where the other has NaN), the patients in the system at the end must
agree, and the metric tables built from the two must be identical. No
tolerance anywhere.

The scenarios are chosen to reach the places where two event loops can part:
simultaneous events (fixed and zero durations, opening hours on the hour),
queues at every pool, diversion, capacity changes in the middle of a queue, a
starting state, boarding that holds a cubicle, and every scenario in
``configs/``. Each test also checks that its scenario did exercise what it is
there for, so a scenario that drifts into triviality fails.

Every run here also checks both engines' invariants (conservation, capacity,
schedules, FCFS, work conservation): tests set LEFTSHIFT_CHECK.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS, DETERMINISTIC, ROOT, small_system

import sim
from sim.codes import Origin
from sim.engines import registry
from sim.errors import ScenarioError
from sim.metrics.accumulator import MetricAccumulator
from sim.model.record import COLUMNS, Record
from sim.scenario.params import CostParams, ModelParams, build_params
from sim.scenario.schema import Scenario, load_scenario


def _run(engine: str, params: ModelParams, seed: int, reps: list[int], threads: int | None = None):
    sink = MetricAccumulator(params, reps, CostParams.free(params))
    records = registry.get(engine).run(params, seed, reps, sink, keep_records=True, threads=threads)
    return records, sink.finish()


def _differences(a: Record, b: Record, skip: tuple[str, ...] = (), live: bool = True) -> list[str]:
    """How two records differ, column by column (but the columns ``skip`` names), and in
    what the engine held at the end (with ``live``)."""
    if a.n != b.n:
        return [f"replication {a.replication}: {a.n} patients against {b.n}"]
    problems = []
    for column in COLUMNS:
        if column.startswith(skip):
            continue
        x, y = a.patients[column], b.patients[column]
        same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            problems.append(f"{column}: first differs at patient {row} ({x[row]!r} vs {y[row]!r})")
    if live and a.in_system_at_end != b.in_system_at_end:
        problems.append(f"in the system at the end: {a.in_system_at_end} vs {b.in_system_at_end}")
    return problems


def assert_identical(params: ModelParams, seed: int = 3, reps: int = 2) -> list[Record]:
    """The two engines give equal records and equal metric tables; the SimPy records."""
    replications = list(range(reps))
    simpy, simpy_tables = _run("simpy", params, seed, replications)
    fast, fast_tables = _run("fast", params, seed, replications)
    problems = [p for a, b in zip(simpy, fast, strict=True) for p in _differences(a, b)]
    assert not problems, "\n".join(problems)
    for name in ("metrics", "daily", "hour_of_week", "ed_time"):
        pd.testing.assert_frame_equal(
            getattr(simpy_tables, name), getattr(fast_tables, name), check_exact=True, obj=name
        )
    return simpy


def _column(records: list[Record], name: str) -> np.ndarray:
    return np.concatenate([r.patients[name] for r in records])


SHORT = {"run.horizon_years": 0.1, "run.warm_up_days": 10}


@pytest.mark.no_cover  # whole configs: the small systems below cover the same lines
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_config_gives_identical_patients(path: Path) -> None:
    records = assert_identical(build_params(load_scenario(path).override(SHORT)))
    assert sum(r.n for r in records) > 2000


SMALL_VARIANTS: dict[str, dict[str, Any]] = {
    "small_system": {},
    "diversion": {"acute.beds": 40, "acute.diversion_queue_threshold": 2},
    "tight_beds": {"acute.beds": 48},
    "tight_cubicles": {"ed.cubicles": 4, "sdec.chairs": 2},
    "boarding_holds_cubicle": {
        "ed.cubicles": 8,
        "acute.beds": 45,
        "ed.boarding_holds_cubicle": True,
    },
    "decision_time_by_outcome": {
        "ed.cubicles": 8,
        "acute.beds": 45,
        "ed.boarding_holds_cubicle": True,
        "ed.admit_time_to_decision_minutes": {"dist": "lognormal", "mean": 240, "sd": 120},
        "ed.sdec_time_to_decision_minutes": {"dist": "exponential", "mean": 90},
        "changes": [
            {
                "from": "2016-05-10",
                "set": {"ed.admit_time_to_decision_minutes": {"dist": "fixed", "value": 30}},
            }
        ],
    },
    "sdec_refused_stay": {
        "sdec.chairs": 1,
        "sdec.p_admit": 0.3,
        "sdec.refused_stay": "sdec",
        "acute.beds": 50,
    },
    "los_by_pathway": {
        "acute.beds": 50,
        "cohorts.older.treatment_los_days_by_pathway": {
            "p1": {"dist": "lognormal", "mean": 9, "sd": 8},
            "p3": {"dist": "fixed", "value": 12},
        },
        "cohorts.older.pathway": {"p0": 0.5, "p1": 0.3, "p2": 0.1, "p3": 0.1},
        "changes": [
            {"from": "2016-05-20", "set": {"cohorts.older.pathway": {"p0": 0.8, "p1": 0.2}}}
        ],
    },
    "deterministic_unlimited": DETERMINISTIC,
    "capacity_changes": {
        "acute.capacity_changes": [
            {"date": "2016-05-01", "beds": 45},
            {"date": "2016-06-01", "beds": 70},
        ],
        "community.p1.capacity_changes": [
            {"date": "2016-05-15", "places": 2},
            {"date": "2016-06-10", "places": 9},
        ],
    },
}


@pytest.mark.parametrize("changes", SMALL_VARIANTS.values(), ids=SMALL_VARIANTS.keys())
def test_small_systems_give_identical_patients(changes: dict[str, Any]) -> None:
    records = assert_identical(build_params(Scenario.from_dict(small_system(**changes))))
    waited_for_bed = _column(records, "bed_start") > _column(records, "bed_request")
    if isinstance(changes.get("acute.beds"), int):  # fewer beds than the small system's 60
        assert waited_for_bed.sum() > 0


@functools.cache
def _validation_scenarios() -> dict[str, Any]:
    """The validation suite's systems (tests/validation/scenarios.py), at the sizes its
    checks use, over a few weeks."""
    sys.path.insert(0, str(Path(__file__).with_name("validation")))
    import scenarios as v  # noqa: PLC0415

    exponential = {"dist": "exponential", "mean": 4 / 24}
    lognormal = {"dist": "lognormal", "mean": 4 / 24, "sd": 6 / 24}
    weekly = [1.0 + 0.8 * math.sin(2 * math.pi * h / 168) for h in range(168)]
    return {
        "erlang_c": v.bed_pool(beds=10, per_day=48.0, los_days=exponential, days=30),
        "erlang_b_lognormal": v.bed_pool(
            beds=10, per_day=48.0, los_days=lognormal, days=30, diversion=0
        ),
        "mmck": v.bed_pool(beds=10, per_day=48.0, los_days=exponential, days=30, diversion=4),
        "mt_g_infinity": v.bed_pool(
            beds="unlimited",
            per_day=48.0,
            los_days=lognormal,
            days=21,
            warm_up_days=0,
            profile=weekly,
        ),
        "tandem": v.acute_then_community(
            beds=10, places=14, per_day=6.0, los_days=1.0, episode_days=2.0, days=60
        ),
        "whole_system": v.whole_system(days=30),
        "quiet_baseline": v.quiet_baseline(0.2).to_dict(),
    }


@pytest.mark.parametrize("name", list(_validation_scenarios()))
def test_validation_scenarios_give_identical_patients(name: str) -> None:
    data = copy.deepcopy(_validation_scenarios()[name])
    records = assert_identical(build_params(Scenario.from_dict(data)))
    assert sum(r.n for r in records) > 500


def test_a_starting_state_gives_identical_patients() -> None:
    data = small_system(**{"run.warm_up_days": 0, "acute.beds": 60})
    data["initial_state"] = {
        "acute_treating": 40,
        "delayed": {"p1": 5, "p2": 3},
        "community_in_use": {"urgent_response": 2, "p1": 12, "p3": 4},
    }
    records = assert_identical(build_params(Scenario.from_dict(data)))
    assert (_column(records, "origin") == int(Origin.INITIAL)).sum() >= 2 * 66


FIXED = {"dist": "fixed"}
ON_THE_HOUR = {
    "ed.time_to_decision_minutes": {**FIXED, "value": 60},
    "sdec.episode_hours": {**FIXED, "value": 4},
    "acute.beds": 50,
    "cohorts.older.treatment_los_days": {**FIXED, "value": 2},
    "cohorts.adults.treatment_los_days": {**FIXED, "value": 0},
    "community.urgent_response.episode_days": {**FIXED, "value": 1},
    "community.p1.places": 6,
    "community.p1.episode_days": {**FIXED, "value": 7},
    "community.p2.episode_days": {**FIXED, "value": 14},
    "community.p3.episode_days": {**FIXED, "value": 28},
    "readmission.delay_days": {**FIXED, "value": 3},
}
"""Durations of whole hours and zero: ends of stays fall on the same instants as each other
and as the opening and closing of services, so the order of simultaneous events decides."""


def test_simultaneous_events_give_identical_patients() -> None:
    records = assert_identical(build_params(Scenario.from_dict(small_system(**ON_THE_HOUR))))
    times = np.concatenate([_column(records, c) for c in ("bed_end", "comm_start", "comm_end")])
    times = times[~np.isnan(times)]
    _, counts = np.unique(times, return_counts=True)
    assert (counts > 1).sum() > 100  # many instants shared by more than one event
    assert (_column(records, "bed_start") == _column(records, "bed_end")).sum() > 0  # zero stays


def _beds_then_community(diversion: int | None, accepts: str) -> Scenario:
    """Direct admissions -> tight beds -> tight P1 places, stays and episodes of hours."""
    data: dict[str, Any] = {
        "name": "beds_then_community",
        "run": {"start_date": "2016-04-04", "warm_up_days": 0, "horizon_years": 12 / 365.25},
        "cohorts": {
            "patients": {
                "attendances_per_year": 0,
                "direct_admissions_per_year": 30 * 365.25,
                "p_admit": 0.0,
                "treatment_los_days": {"dist": "exponential", "mean": 0.05},
                "pathway": {"p0": 0.4, "p1": 0.6},
            }
        },
        "ed": {"time_to_decision_minutes": {"dist": "fixed", "value": 0}},
        "acute": {"beds": 3, "discharge_hours": "every day 08:00-20:00"},
        "community": {
            "p1": {
                "places": 2,
                "accepts": accepts,
                "episode_days": {"dist": "exponential", "mean": 0.06},
            }
        },
    }
    if diversion is not None:
        data["acute"]["diversion_queue_threshold"] = diversion
    return Scenario.from_dict(data)


@pytest.mark.parametrize(
    ("diversion", "accepts"),
    [(None, "24/7"), (None, "Mon-Fri 09:00-17:00"), (6, "24/7")],
    ids=["fcfs", "office_hours", "diversion"],
)
def test_queues_everywhere_give_identical_patients(diversion: int | None, accepts: str) -> None:
    records = assert_identical(build_params(_beds_then_community(diversion, accepts)), seed=7)
    assert (_column(records, "comm_start") > _column(records, "t_fit")).sum() > 30
    assert (_column(records, "bed_start") > _column(records, "bed_request")).sum() > 30


def test_threads_and_batches_do_not_change_a_replication() -> None:
    params = build_params(Scenario.from_dict(small_system()))
    one, one_tables = _run("fast", params, 9, [0, 1, 2, 3], threads=1)
    two, two_tables = _run("fast", params, 9, [0, 1, 2, 3], threads=2)
    alone, _ = _run("fast", params, 9, [2])
    assert not [p for a, b in zip(one, two, strict=True) for p in _differences(a, b)]
    assert not _differences(one[2], alone[0])
    pd.testing.assert_frame_equal(one_tables.metrics, two_tables.metrics, check_exact=True)


def test_a_full_room_is_grown_and_the_replication_rerun() -> None:
    """The kernel's arrays are sized from the scenario's expected demand; a replication that
    overflows one is re-run in a larger room and gives the same patients."""
    from sim.engines import compiled

    params = build_params(Scenario.from_dict(small_system()))
    normal, _ = _run("fast", params, 4, [0])
    room = compiled.Room.for_params(params)
    room.slots, room.events = 16, 16
    sink = MetricAccumulator(params, [0], CostParams.free(params))
    scenario = compiled.scenario_arrays(params)
    with ThreadPoolExecutor(1) as thread:  # a fresh thread: its own (empty) workspace
        cramped = thread.submit(compiled.run_one, params, scenario, 4, 0, sink, 0, room, True)
        cramped = cramped.result()
    assert cramped is not None
    assert not _differences(normal[0], cramped)
    assert room.slots > 16
    assert room.events > 16


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_config_gives_identical_patients_over_its_whole_horizon(path: Path) -> None:
    assert_identical(build_params(load_scenario(path)), reps=3)


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


KERNEL_AS_PYTHON = """
import sys
sys.path.insert(0, 'tests')
from conftest import small_system
from test_fast_engine import assert_identical, _beds_then_community
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario
scenario = small_system(**{'run.horizon_years': 0.05, 'run.warm_up_days': 0, 'acute.beds': 48,
                           'ed.boarding_holds_cubicle': True, 'acute.diversion_queue_threshold': 3})
scenario['initial_state'] = {'acute_treating': 30, 'delayed': {'p1': 2}}
assert_identical(build_params(Scenario.from_dict(scenario)), reps=1)
assert_identical(build_params(_beds_then_community(None, 'Mon-Fri 09:00-17:00')), reps=1)
import datetime
dated = small_system(**{'run.horizon_years': 0.05, 'run.warm_up_days': 0})
dated['changes'] = [{'from': datetime.date(2016, 4, 15), 'set': {
    'acute.beds': 40, 'cohorts.older.p_admit': 0.7, 'acute.diversion_queue_threshold': 2,
    'cohorts.older.treatment_los_days': {'dist': 'fixed', 'value': 2},
    'cohorts.older.pathway': {'p0': 0.5, 'p1': 0.5},
    'community.p1.episode_days': {'dist': 'fixed', 'value': 3}}}]
assert_identical(build_params(Scenario.from_dict(dated)), reps=1)
print('identical')
"""


def test_the_kernel_run_as_python_gives_identical_patients() -> None:
    """With numba switched off the kernel and the tally run as plain Python, with Python's
    bounds checks on every index: the same patients, no index out of range. (This is also
    how coverage sees the compiled code's lines.)"""
    done = _python(KERNEL_AS_PYTHON, NUMBA_DISABLE_JIT="1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "identical" in done.stdout


@pytest.mark.slow  # compiles the kernel afresh: a minute
@pytest.mark.no_cover
def test_the_kernel_with_bounds_checks_gives_identical_patients(tmp_path: Path) -> None:
    """Compiled with numba's bounds checks (an index out of range raises instead of reading
    memory it should not): the same patients. Compiled afresh, into a throwaway cache."""
    done = _python(KERNEL_AS_PYTHON, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "identical" in done.stdout


def test_fast_engine_runs_without_simpy() -> None:
    """The fast engine needs numpy and numba only: it must not import the SimPy engine."""
    code = (
        "import sys; sys.modules['simpy'] = None\n"
        "sys.path.insert(0, 'tests')\n"
        "from conftest import small_system\n"
        "import sim\n"
        "from sim.scenario.schema import Scenario\n"
        "r = sim.run(Scenario.from_dict(small_system()), reps=2, engine='fast')\n"
        "assert 'simpy' not in sys.modules or sys.modules['simpy'] is None\n"
        "print(len(r.summary))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr


def test_an_engine_that_cannot_run_a_feature_refuses_it_by_name(partial_engine: str) -> None:
    """The contract: an engine lists what it cannot run; the run is refused naming the key."""
    holds = small_system(**{"ed.boarding_holds_cubicle": True})
    with pytest.raises(ScenarioError, match="small: the partial engine cannot run ed.boarding"):
        sim.run(Scenario.from_dict(holds), reps=1, engine=partial_engine)
    assert len(sim.run(Scenario.from_dict(small_system()), reps=1, engine=partial_engine).summary)


def test_prefetch_is_a_hint_that_reads_nothing() -> None:
    """sim.jit.prefetch compiles to the processor's prefetch instruction, and an index far
    past the end of the array neither faults nor changes anything (the kernel asks for a
    group's next columns, which may lie past its table); run as Python it does nothing."""
    import platform

    import numba

    from sim.jit import prefetch

    @numba.njit
    def hinted(a: np.ndarray, i: int) -> float:
        prefetch(a, i, 0)
        prefetch(a, 0, i)
        return a[0, 0] + a[1, 1]

    a = np.arange(4.0).reshape(2, 2)
    assert hinted(a, 1 << 40) == 3.0
    assert hinted.py_func(a, 1 << 40) == 3.0
    assert np.array_equal(a, np.arange(4.0).reshape(2, 2))
    code = "".join(hinted.inspect_asm().values()).lower()
    wanted = {"x86_64": "prefetch", "amd64": "prefetch", "aarch64": "prfm", "arm64": "prfm"}
    if platform.machine().lower() in wanted:
        assert wanted[platform.machine().lower()] in code


def test_every_module_compiled_in_is_in_the_cache_stamp() -> None:
    """numba checks only a cached function's own file: the stamp in sim.jit must cover every
    leftshift module whose constants or functions a compiled module takes in, or an edit
    there would leave a stale kernel in the cache."""
    import ast

    from sim import jit

    compiled = {"model/tally.py", "model/rules.py", "engines/kernel.py"}
    taken_in: set[str] = set()
    for module in compiled:
        path = jit.PACKAGE / module
        package = Path(module).parent.parts
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = list(package[: len(package) - (node.level - 1)])
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts] if node.module else [parts + [a.name] for a in node.names]
                for name in names:
                    target = "/".join(name)
                    if (jit.PACKAGE / f"{target}.py").exists():
                        taken_in.add(f"{target}.py")
    missing = (taken_in | compiled) - set(jit.COMPILED) - set(jit.NOT_COMPILED_IN)
    assert not missing, f"add to sim.jit.COMPILED: {sorted(missing)}"
    assert "model/demand.py" in taken_in  # the walk found the imports at all


def test_a_read_only_install_caches_in_the_users_cache_folder(monkeypatch, tmp_path) -> None:
    """Where the package's folders cannot be written (an install read-only to the user),
    the compiled code is cached under $XDG_CACHE_HOME/leftshift/numba, in the folders
    numba itself uses there; NUMBA_CACHE_DIR, if the user set it, wins."""
    from numba.core.caching import _CacheLocator

    from sim import jit

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jit._fallback_dir() is None  # this checkout is writable
    monkeypatch.setattr(jit, "_writable", lambda folder: False)
    fallback = jit._fallback_dir()
    assert fallback == tmp_path / "leftshift" / "numba"
    expected = {
        fallback / _CacheLocator.get_suitable_cache_subpath(str(jit.PACKAGE / m))
        for m in jit.COMPILED
    }
    assert set(jit._cache_folders(fallback)) == expected
    jit._clear_if_stale(fallback)  # writes the stamp where numba will look
    assert all((f / jit.STAMP).read_text().strip() == jit._sources_hash() for f in expected)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert jit._fallback_dir() == tmp_path / "mine"


def test_runs_on_threads_shorten_the_switch_interval_and_restore_it(monkeypatch) -> None:
    """While replications run on threads the GIL changes hands every 0.5 ms (a thread
    leaving the kernel waits less for one that is drawing); the user's interval after."""
    from sim.engines import compiled

    seen: list[float] = []
    run_one = compiled.run_one

    def spy(*args: Any) -> Any:
        seen.append(sys.getswitchinterval())
        return run_one(*args)

    monkeypatch.setattr(compiled, "run_one", spy)
    before = sys.getswitchinterval()
    params = build_params(Scenario.from_dict(small_system(**{"run.horizon_years": 0.02})))
    sink = MetricAccumulator(params, [0, 1], CostParams.free(params))
    compiled.CompiledEngine().run(params, 1, [0, 1], sink, threads=2)
    assert sys.getswitchinterval() == before
    assert compiled.SWITCH_INTERVAL in seen
