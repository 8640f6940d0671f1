"""Scenarios that differ only in capacities and prices draw the same patients (issue #9).

:data:`sim.model.demand.SAME_PATIENTS` names the scenario keys the drawing never reads, so a
sweep of places or beds may draw each replication's patients once for all its points
(:meth:`CompiledEngine.run_points`). Held here: each key, changed, leaves every drawn array
the same, bit for bit; a key outside the list changes them (the check can fail); each point
of ``run_points`` gives exactly what ``run`` gives it alone, also when a point needs more
readmissions than were drawn; and a sweep gives the same table with its points grouped or
one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import small_system
from test_all_features import _everything
from test_fast_engine import _differences
from test_fuzz_inputs import toml_dumps

from sim.engines import compiled, kernel
from sim.engines.compiled import CompiledEngine, Reader, Source, scenario_arrays
from sim.experiments.sweep import run_sweep
from sim.metrics.accumulator import MetricAccumulator
from sim.model.demand import SAME_PATIENTS, same_patients
from sim.runs import runner
from sim.scenario.params import build_costs, build_params
from sim.scenario.schema import Scenario

CHANGED = {  # a concrete key under each pattern of SAME_PATIENTS, and a new value
    "name": "another",
    "description": "another system",
    "ed.cubicles": 3,
    "sdec.chairs": 0,
    "acute.beds": 9,
    "acute.escalation.beds": 1,
    "acute.escalation.open_at_queue": 7,
    "acute.opel.level_2_occupancy": 0.5,
    "community.urgent_response.places": 0,
    "community.p2.places": 1,
    "community.p3.places": "unlimited",
    "costs.acute_bed_day_gbp": 1,
}


def _patients(data: dict[str, Any], replication: int = 2) -> dict[str, np.ndarray]:
    """Every array the kernel's first call gets of a replication: its first window's
    arrivals and draws (the small system's whole run) and the starting state."""
    params = build_params(Scenario.from_dict(data))
    source = Source(params, scenario_arrays(params), 5, replication)
    names = ("arr_t", "arr_off", "table", "draw_off", "window")
    drawn = dict(zip(names, Reader(source).first(), strict=True))
    start = ("init_kind", "init_k", "init_cohort", "init_left")
    return drawn | {name: getattr(source, name) for name in start}


def _apply(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    return Scenario.from_dict(data).override({path: value}).to_dict()


def test_every_pattern_has_a_changed_key_here() -> None:
    import fnmatch

    for pattern in SAME_PATIENTS:
        assert any(fnmatch.fnmatchcase(path, pattern) for path in CHANGED), pattern


@pytest.mark.parametrize("path", sorted(CHANGED))
def test_a_capacity_or_price_leaves_every_drawn_array_the_same(path: str) -> None:
    base = _everything()
    assert same_patients([path])
    before, after = _patients(base), _patients(_apply(base, path, CHANGED[path]))
    for name, a in before.items():
        assert np.array_equal(a, after[name]), f"{path} changed {name}"


def test_p1_places_leave_the_patients_the_same() -> None:
    base = small_system()
    before, after = _patients(base), _patients(_apply(base, "community.p1.places", 1))
    for name, a in before.items():
        assert np.array_equal(a, after[name]), name


def test_a_stay_is_not_a_capacity() -> None:
    path = "cohorts.older.treatment_los_days"
    assert not same_patients([path, "acute.beds"])
    base = small_system()
    changed = _apply(base, path, {"dist": "exponential", "mean": 2.0})
    assert not np.array_equal(_patients(base)["table"], _patients(changed)["table"])


def _points(places: list[int]) -> list[dict[str, Any]]:
    return [small_system(**{"community.p1.places": p, "acute.beds": 40 + p}) for p in places]


def _run_points(points: list[dict[str, Any]], reps: list[int]) -> tuple[list, list]:
    params = [build_params(Scenario.from_dict(d)) for d in points]
    sinks = [
        MetricAccumulator(p, reps, build_costs(Scenario.from_dict(d), p))
        for p, d in zip(params, points, strict=True)
    ]
    records = CompiledEngine().run_points(params, 3, reps, sinks, keep_records=True, threads=2)
    return records, [sink.finish().metrics for sink in sinks]


def _run_alone(point: dict[str, Any], reps: list[int]) -> tuple[list, pd.DataFrame]:
    scenario = Scenario.from_dict(point)
    params = build_params(scenario)
    sink = MetricAccumulator(params, reps, build_costs(scenario, params))
    records = CompiledEngine().run(params, 3, reps, sink, keep_records=True, threads=1)
    return records, sink.finish().metrics


def _each_as_alone(points: list[dict[str, Any]], reps: list[int]) -> list[pd.DataFrame]:
    """Run the points together; assert each gives what it gives alone; their tables."""
    together, tables = _run_points(points, reps)
    for point, records, table in zip(points, together, tables, strict=True):
        alone, alone_table = _run_alone(point, reps)
        for a, b in zip(records, alone, strict=True):
            assert not list(_differences(a, b))
        pd.testing.assert_frame_equal(table, alone_table)
    return tables


def test_each_point_gives_what_it_gives_alone() -> None:
    tables = _each_as_alone(_points([0, 2, 5]), [0, 4, 7])
    # the points differ: the check above compared runs that could differ
    assert not tables[0]["value"].equals(tables[2]["value"])


def test_a_point_that_runs_out_of_readmissions_draws_more(monkeypatch) -> None:
    """Points share a replication's kept draws; one whose readmissions outrun them pauses
    for more (drawn once, read by every point after) and still gives what it gives alone."""
    real, stops = kernel.run_replication, {"need": 0}

    def counted(*args: Any) -> None:
        real(*args)
        stops["need"] += int(args[-22][kernel.O_STATUS]) == kernel.NEED_DRAWS  # out

    monkeypatch.setattr(compiled, "_readmissions_expected", lambda *_: 1)
    monkeypatch.setattr(kernel, "run_replication", counted)
    _each_as_alone(_points([0, 6]), [1, 2])
    assert stops["need"] > 4


def test_a_sweep_gives_the_same_table_grouped_or_point_by_point(tmp_path, monkeypatch) -> None:
    base = tmp_path / "base.toml"
    base.write_text(toml_dumps(small_system()))
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        f'name = "grouped"\nscenario = "{base}"\nengine = "fast"\nreps = 3\n'
        'metrics = ["delayed_bed_days", "acute_occupancy_mean"]\n\n'
        '[[vary]]\npath = "community.p1.places"\nvalues = [0, 1, 3, 6, 9]\n\n'
        '[[vary]]\npath = "acute.beds"\nvalues = [38, 44]\n'
    )
    grouped = run_sweep(spec, tmp_path / "grouped")
    scenarios = grouped.experiment.scenarios
    assert runner.point_groups("fast", scenarios, range(10)) == [list(range(8)), [8, 9]]
    assert runner.point_groups("simpy", scenarios, range(10)) == [[k] for k in range(10)]
    monkeypatch.setattr(runner, "POINTS_PER_TASK", 1)
    alone = run_sweep(spec, tmp_path / "alone")
    pd.testing.assert_frame_equal(grouped.replications, alone.replications)
    assert grouped.replications["point"].nunique() == 10


def test_points_that_differ_in_a_stay_run_one_by_one() -> None:
    base = Scenario.from_dict(small_system())
    stays = [
        base.override({"cohorts.older.treatment_los_days": {"dist": "exponential", "mean": m}})
        for m in (1.0, 2.0)
    ]
    places = [base.override({"community.p1.places": p}, name=f"p{p}") for p in (1, 2, 3)]
    assert runner.point_groups("fast", stays, [0, 1]) == [[0], [1]]
    assert runner.point_groups("fast", places, [0, 1, 2]) == [[0, 1, 2]]
    assert runner.point_groups("fast", places, [2, 0]) == [[2, 0]]
