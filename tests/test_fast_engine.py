"""The fast engine against the SimPy reference engine.

Two kinds of check:

* exact: with deterministic durations and unlimited capacity nobody queues, so
  both engines must give every patient identical times (same streams, same
  patients), schedules and readmissions included;
* statistical: on every scenario in ``configs/`` and on small systems that
  exercise diversion, a starting state, capacity changes and boarding, every
  headline metric's mean from the fast engine lies within max(3 combined
  standard errors, 1% relative) of the SimPy engine's. Both engines see the
  same patients, so the unpaired standard error is a generous yardstick.

Every run here also checks the fast engine's invariants (conservation,
capacity, schedules, FCFS, work conservation): tests set LEFTSHIFT_CHECK.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS, small_system

import sim
from sim.engines.reference import simulate
from sim.engines.vectorised import FastEngine
from sim.errors import ScenarioError
from sim.metrics import catalogue
from sim.model.record import BOOL_COLUMNS, FLOAT_COLUMNS, INT_COLUMNS
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario, load_scenario

HEADLINE = [
    *catalogue.HEADLINES,
    "avoidance_lost",
    "ed_time_mean_hours",
    "sdec_refused",
    "delayed_bed_days_p1",
    "delayed_bed_days_p2",
    "delayed_bed_days_p3",
    "community_occupancy_p1",
]
"""The headline metrics, and some that sit under them, held between the engines."""

FIXED = {"dist": "fixed"}
DETERMINISTIC = {
    "ed.cubicles": "unlimited",
    "ed.time_to_decision_minutes": {**FIXED, "value": 95},
    "sdec.chairs": "unlimited",
    "sdec.episode_hours": {**FIXED, "value": 4.5},
    "acute.beds": "unlimited",
    "cohorts.older.treatment_los_days": {**FIXED, "value": 2.3},
    "cohorts.adults.treatment_los_days": {**FIXED, "value": 0.02},  # under an hour
    "community.urgent_response.places": "unlimited",
    "community.urgent_response.episode_days": {**FIXED, "value": 1.5},
    "community.p1.places": "unlimited",
    "community.p1.episode_days": {**FIXED, "value": 10},
    "community.p2.places": "unlimited",
    "community.p2.episode_days": {**FIXED, "value": 20},
    "community.p3.places": "unlimited",
    "community.p3.episode_days": {**FIXED, "value": 30},
    "readmission.delay_days": {**FIXED, "value": 6},
}


def test_deterministic_unlimited_system_gives_identical_patients() -> None:
    scenario = Scenario.from_dict(small_system(**DETERMINISTIC))
    params = build_params(scenario)
    fast = FastEngine(params, 5, [0, 1], collect=True).run()
    assert fast is not None
    for rep, f in enumerate(fast):
        s = simulate(params, 5, rep)
        assert f.n == s.n > 3000
        for name in INT_COLUMNS + BOOL_COLUMNS:
            assert np.array_equal(f[name], s[name]), name
        for name in FLOAT_COLUMNS:
            both_nan = np.isnan(f[name]) & np.isnan(s[name])
            close = np.isclose(f[name], s[name], rtol=0, atol=1e-9)
            assert np.all(both_nan | close), name
        # the schedules were exercised: SDEC and urgent response closed at night,
        # P1-P3 waited for office hours, P0 for ward discharge hours
        assert (f["avoid_lost"] == 1).sum() > 0
        assert (f["sdec_refused"]).sum() > 0
        assert np.nanmax(f["comm_start"] - f["t_fit"]) > 12
        assert (f["origin"] == 2).sum() > 10


def _beds_then_community(diversion: int | None, accepts: str) -> Scenario:
    """Direct admissions -> tight beds -> tight P1 places, stays and episodes of hours.

    Beds are freed and retaken within the hour by patients who leave for a P1
    place, who are fit (or discharged home) within the hour their bed was taken,
    or whose P1 episode ends within the hour it began.
    """
    data = {
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
def test_queues_for_beds_and_community_give_identical_patients(
    diversion: int | None, accepts: str
) -> None:
    """Both engines serve first come first served at exact times, so with the same
    patients every time agrees even when everyone queues (no loss pool involved)."""
    params = build_params(_beds_then_community(diversion, accepts))
    fast = FastEngine(params, 7, [0, 1], collect=True).run()
    assert fast is not None
    for rep, f in enumerate(fast):
        s = simulate(params, 7, rep)
        assert f.n == s.n > 300
        for name in FLOAT_COLUMNS:
            both_nan = np.isnan(f[name]) & np.isnan(s[name])
            close = np.isclose(f[name], s[name], rtol=0, atol=1e-9)
            assert np.all(both_nan | close), name
        # the in-hour chains were exercised
        assert (f["comm_start"] > f["t_fit"]).sum() > 30
        assert (f["bed_start"] > f["bed_request"]).sum() > 30
        assert (np.floor(f["bed_start"]) == np.floor(f["comm_start"])).sum() > 5
        assert (np.floor(f["comm_start"]) == np.floor(f["comm_end"])).sum() > 20


def _means(results: sim.Results) -> pd.DataFrame:
    reps = results.replications
    reps = reps[(reps.period == "all") & reps.metric.isin(HEADLINE)]
    return reps.groupby("metric")["value"].agg(["mean", "std", "count"])


def _assert_parity(scenario: Scenario, reps: int, seed: int = 3) -> None:
    a = _means(sim.run(scenario, reps=reps, seed=seed, engine="fast"))
    b = _means(sim.run(scenario, reps=reps, seed=seed, engine="simpy"))
    assert set(a.index) == set(b.index)
    problems = []
    for metric in a.index:
        fa, sb = a.loc[metric], b.loc[metric]
        se = math.sqrt(fa["std"] ** 2 / fa["count"] + sb["std"] ** 2 / sb["count"])
        allowed = max(3 * se, 0.01 * abs(sb["mean"]), 1e-9)
        if not abs(fa["mean"] - sb["mean"]) <= allowed:
            problems.append(
                f"{metric}: fast {fa['mean']:.4g} simpy {sb['mean']:.4g} (+/- {allowed:.3g})"
            )
    assert not problems, "\n".join(problems)


SHORT = {"run.horizon_years": 0.1, "run.warm_up_days": 30}


@pytest.mark.no_cover  # whole configs: their lines are covered by the small systems below
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_parity_on_every_config_short(path: Path) -> None:
    scenario = load_scenario(path).override(SHORT)
    _assert_parity(scenario, reps=6)


SMALL_VARIANTS = {
    "small_system": {},
    "diversion": {"acute.beds": 40, "acute.diversion_queue_threshold": 2},
    "tight_beds": {"acute.beds": 48},
    "capacity_changes": {
        "acute.capacity_changes": [
            {"date": "2016-05-01", "beds": 45},
            {"date": "2016-06-01", "beds": 70},
        ],
        "community.p1.capacity_changes": [{"date": "2016-05-15", "places": 6}],
    },
}


@pytest.mark.parametrize("changes", SMALL_VARIANTS.values(), ids=SMALL_VARIANTS.keys())
def test_parity_on_small_systems(changes: dict) -> None:
    _assert_parity(Scenario.from_dict(small_system(**changes)), reps=8)


def test_parity_from_a_starting_state() -> None:
    data = small_system(**{"run.warm_up_days": 0, "acute.beds": 60})
    data["initial_state"] = {
        "acute_treating": 40,
        "delayed": {"p1": 5, "p2": 3},
        "community_in_use": {"urgent_response": 2, "p1": 12, "p3": 4},
    }
    _assert_parity(Scenario.from_dict(data), reps=8)


def test_refuses_what_it_cannot_run_naming_the_feature(tmp_path: Path) -> None:
    scenario = Scenario.from_dict(small_system(**{"ed.boarding_holds_cubicle": True}))
    with pytest.raises(ScenarioError, match="ed.boarding_holds_cubicle"):
        sim.run(scenario, reps=1, engine="fast")
    path = tmp_path / "holds.toml"
    base = (CONFIGS / "baseline.toml").as_posix()
    path.write_text(f'extends = "{base}"\n[ed]\nboarding_holds_cubicle = true\n')
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--engine", "fast", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "fast engine cannot run ed.boarding_holds_cubicle" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_a_replication_does_not_depend_on_its_batch() -> None:
    scenario = Scenario.from_dict(small_system())
    params = build_params(scenario)
    together = sim.runs.runner.run_batch(params, 9, [0, 1, 2], engine="fast")[0]
    alone = sim.runs.runner.run_batch(params, 9, [1], engine="fast")[0]
    pd.testing.assert_frame_equal(
        together[together.replication == 1].reset_index(drop=True), alone.reset_index(drop=True)
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_parity_on_every_config_full_horizon(path: Path) -> None:
    _assert_parity(load_scenario(path), reps=30)


def test_fast_engine_runs_without_simpy() -> None:
    """The fast engine needs numpy only: it must not import the SimPy engine."""
    code = (
        "import sys; sys.modules['simpy'] = None\n"
        "sys.path.insert(0, 'tests')\n"
        "from conftest import small_system\n"
        "from sim.scenario.schema import Scenario\n"
        "from sim.scenario.params import build_params\n"
        "from sim.engines.vectorised import FastEngine\n"
        "params = build_params(Scenario.from_dict(small_system()))\n"
        "FastEngine(params, 1, [0, 1]).run()\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_large_runs_are_split_into_bounded_batches() -> None:
    from sim.runs.runner import MAX_BATCH, batch_size

    assert batch_size("fast", reps=1000, slots=1) == MAX_BATCH == 250  # memory per batch
    assert batch_size("fast", reps=300, slots=1) == 150  # split evenly
    assert batch_size("fast", reps=10, slots=2) == 5  # small runs as before
