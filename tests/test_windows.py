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
