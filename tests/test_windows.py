"""The fast engine runs a replication window by window (issue #9: memory flat in the
horizon): the kernel pauses at each window's end, and when a cohort's readmissions' draws
run out, and goes on where it stopped. With windows of a few dozen patients and draws held
for a handful of readmissions at a time, so that it pauses hundreds of times, mid-queue
and mid-stay, the records must still equal the SimPy engine's, patient for patient."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from conftest import CONFIGS
from test_all_features import _everything
from test_fast_engine import SHORT, _run, assert_identical

from sim.codes import Origin
from sim.engines import compiled, kernel
from sim.scenario.params import CostParams, build_params
from sim.scenario.schema import Scenario, load_scenario


@pytest.fixture
def tiny_windows(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Windows of 40 arrivals, readmissions' draws one at a time; counts the kernel's stops."""
    monkeypatch.setattr(compiled, "WINDOW_PATIENTS", 40)
    monkeypatch.setattr(compiled, "_readmissions_expected", lambda *_: 1)
    monkeypatch.setattr(compiled, "SPARE_GROWTH", 1)
    stops: Counter[str] = Counter()
    real = kernel.run_replication

    def counted(*args: Any) -> None:
        real(*args)
        out = args[-22]  # before the working room's 21 arrays
        stops[kernel.STATUS[int(out[kernel.O_STATUS])]] += 1

    monkeypatch.setattr(kernel, "run_replication", counted)
    return stops


def test_every_feature_paused_hundreds_of_times_gives_identical_patients(
    tiny_windows: Counter[str],
) -> None:
    params = build_params(Scenario.from_dict(_everything()))
    records = assert_identical(params, seed=11, reps=2)
    assert sum(r.n for r in records) > 1000
    assert tiny_windows["paused"] > 80  # at windows' ends
    assert tiny_windows["need"] > 5  # for readmissions' draws
    assert tiny_windows["ok"] >= 2


def test_the_baseline_in_windows_gives_identical_patients(tiny_windows: Counter[str]) -> None:
    compiled.WINDOW_PATIENTS = 1000  # restored by the fixture
    params = build_params(load_scenario(CONFIGS / "baseline.toml").override(SHORT))
    assert_identical(params, seed=5, reps=1)
    assert tiny_windows["paused"] > 8


def test_points_sharing_patients_read_the_same_windows(tiny_windows: Counter[str]) -> None:
    """run_points keeps a replication's draws for every point, in one window whose tables
    every point reads as they are (no pause at windows' ends, only for readmissions'
    draws): each point's tables are those it gives alone."""
    from sim.engines import registry
    from sim.metrics.accumulator import MetricAccumulator

    data = _everything()
    points = []
    for beds in (46, 40):
        data["acute"]["beds"] = beds
        points.append(build_params(Scenario.from_dict(data)))
    sinks = [MetricAccumulator(p, [0, 1], CostParams.free(p)) for p in points]
    registry.get("fast").run_points(points, 11, [0, 1], sinks, threads=1)
    assert tiny_windows["paused"] == 0
    assert tiny_windows["need"] > 5
    for params, sink in zip(points, sinks, strict=True):
        alone = _run("fast", params, 11, [0, 1])[1]
        assert sink.finish().metrics.equals(alone.metrics)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_a_window_holds_enough_readmissions_draws_for_every_config(
    path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readmissions' draws a window holds (``_readmissions_expected``, an upper bound
    from the scenario) cover what each window of every config takes, so no run pauses for
    more; and are not many times more than it takes, since what a window leaves unused is
    drawn for nothing and copied into the next (4.7x the baseline's need, before the bound
    counted the 30-day risk on those who may take a bed only)."""
    monkeypatch.setattr(compiled, "WINDOW_PATIENTS", 20_000)  # several windows, short runs
    held, taken = Counter[int](), Counter[int]()
    stops: Counter[str] = Counter()
    real_next = compiled.Reader.next

    def counted(self: Any, status: int, ws: Any, table: Any) -> Any:
        stops[kernel.STATUS[status]] += 1
        if status == kernel.PAUSED:
            draw_pos = ws.arrays[compiled.W_DRAW_POS]
            for g in range(Origin.READMISSION, len(self.spare), 4):
                held[g] += int(self.spare[g])
                taken[g] += int(draw_pos[g] - self.draw_off[g])
        return real_next(self, status, ws, table)

    monkeypatch.setattr(compiled.Reader, "next", counted)
    params = build_params(load_scenario(path).override({"run.horizon_years": 0.5}))
    _run("fast", params, 3, [0, 1])
    assert stops["paused"] >= 4
    assert stops["need"] == 0
    judged = [g for g in held if taken[g] > 2000]  # enough taken to judge the bound by
    for g in judged:
        assert held[g] < 4 * taken[g], (g, held[g], taken[g])
    if path.stem == "baseline":
        assert judged
