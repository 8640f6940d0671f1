"""Sweeps: experiment files, their points, part files, resume after SIGKILL."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.experiments.sweep import load_experiment, load_replications, run_sweep

LEFTSHIFT = Path(sys.executable).parent / "leftshift"

SCENARIO = f'''extends = "{CONFIGS / "baseline.toml"}"
name = "short"
[run]
warm_up_days = 5
horizon_years = 0.04
reps = 2
'''

EXPERIMENT = """name = "p1_p2"
scenario = "short.toml"
reps = 2
metrics = ["delayed_bed_days", "acute_occupancy_mean"]

[set]
run.warm_up_days = 4

[[vary]]
path = "community.p1.places"
values = [60, 108, 150]

[[vary]]
path = "community.p2.places"
values = [50, 97]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "short.toml").write_text(SCENARIO)
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    return tmp_path


def _experiment(folder: Path, text: str) -> Path:
    path = folder / "bad.toml"
    path.write_text(text)
    return path


def test_grid_points_are_every_combination_in_order(folder):
    experiment = load_experiment(folder / "exp.toml")
    assert experiment.points == (
        {"community.p1.places": 60, "community.p2.places": 50},
        {"community.p1.places": 60, "community.p2.places": 97},
        {"community.p1.places": 108, "community.p2.places": 50},
        {"community.p1.places": 108, "community.p2.places": 97},
        {"community.p1.places": 150, "community.p2.places": 50},
        {"community.p1.places": 150, "community.p2.places": 97},
    )
    assert experiment.reps == 2
    assert experiment.seed == sim.load_scenario(folder / "short.toml").run.seed
    assert experiment.base.run.warm_up_days == 4  # [set], nested keys
    assert experiment.scenarios[3].service("p1").places == 108
    assert experiment.scenarios[3].service("p2").places == 97


def test_latin_hypercube_puts_one_point_in_each_stratum(folder):
    text = EXPERIMENT.replace("reps = 2\n", "reps = 2\nsamples = 8\nsample_seed = 5\n")
    text = text.replace(
        'path = "community.p1.places"\nvalues = [60, 108, 150]',
        'path = "community.p1.places"\nlow = 60\nhigh = 139\ninteger = true',
    )
    text = text.replace(
        'path = "community.p2.places"\nvalues = [50, 97]',
        'path = "ed.time_to_decision_minutes.mean"\nlow = 40\nhigh = 120',
    )
    experiment = load_experiment(_experiment(folder, text))
    p1 = [p["community.p1.places"] for p in experiment.points]
    minutes = [p["ed.time_to_decision_minutes.mean"] for p in experiment.points]
    assert len(p1) == 8
    assert all(isinstance(v, int) for v in p1)
    assert sorted(v // 10 for v in p1) == list(range(6, 14))  # 80 whole values, 8 strata of 10
    assert sorted(int((v - 40) // 10) for v in minutes) == list(range(8))
    assert experiment.scenarios[0].ed.time_to_decision_minutes.mean == pytest.approx(minutes[0])
    assert load_experiment(_experiment(folder, text)).points == experiment.points  # seeded


def test_grid_crossed_with_samples(folder):
    text = EXPERIMENT.replace("reps = 2\n", "reps = 2\nsamples = 3\n")
    text = text.replace("values = [50, 97]", "low = 40\nhigh = 120\ninteger = true")
    experiment = load_experiment(_experiment(folder, text))
    assert len(experiment.points) == 9
    assert [p["community.p1.places"] for p in experiment.points] == [60] * 3 + [108] * 3 + [150] * 3
    firsts = [p["community.p2.places"] for p in experiment.points[:3]]
    assert [p["community.p2.places"] for p in experiment.points[3:6]] == firsts


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("reps = 2", "reps = 0"), "bad.toml: reps must be >= 1, got 0"),
        (
            ("reps = 2", "reps = 2\nrepz = 3"),
            "bad.toml: repz is not a known key (did you mean 'reps'?)",
        ),
        (
            ("values = [50, 97]", "values = [50, -3]"),
            "bad.toml: vary[1] community.p2.places = -3: community.p2: places must be >= 0, got -3",
        ),
        (
            ('path = "community.p2.places"', 'path = "community.p2.placez"'),
            "bad.toml: vary[1] community.p2.placez = 50: community.p2.placez is not a known key "
            "(did you mean 'places'?)",
        ),
        (
            ('"acute_occupancy_mean"', '"acute_occupancy_maen"'),
            "bad.toml: metrics[1] must name a metric (see docs/metrics.md), got "
            "'acute_occupancy_maen' (did you mean 'acute_occupancy_mean'?)",
        ),
        (
            ('scenario = "short.toml"', 'scenario = "nowhere.toml"'),
            "bad.toml: scenario must name an existing scenario file, got 'nowhere.toml'",
        ),
        (
            ("reps = 2\n", 'reps = 2\nengine = "warp"\n'),
            "bad.toml: engine must be one of simpy",
        ),
        (
            ("values = [50, 97]", "values = [50, 97]\nlow = 3"),
            "bad.toml: vary[1] needs values (a grid) or low and high (a range), not both",
        ),
        (
            ("values = [50, 97]", "low = 40\nhigh = 50"),
            "bad.toml: samples is required when a vary entry has a range (low, high)",
        ),
        (
            ("run.warm_up_days = 4", "run.warm_up_days = -4"),
            "bad.toml: set: run.warm_up_days must be >= 0, got -4",
        ),
        (
            ("values = [50, 97]", "values = [50, 97]\nsamples = 4"),
            "bad.toml: vary[1].samples is not a known key (did you mean 'values'?) "
            "(top-level keys must come before the first [table] or [[vary]])",
        ),
        (
            ("reps = 2\n", "reps = 2\nsamples = 2\n"),
            "bad.toml: samples must be left out when no vary entry has a range (low, high), got 2",
        ),
        (
            ("values = [60, 108, 150]", "values = []"),
            "bad.toml: vary[0].values must have at least 1 item(s), got []",
        ),
    ],
)
def test_bad_experiment_files_fail_with_one_clear_line_and_write_nothing(folder, change, message):
    path = _experiment(folder, EXPERIMENT.replace(*change))
    with pytest.raises(ScenarioError) as err:
        load_experiment(path)
    assert any(m.startswith(f"{path.parent}/{message}") for m in err.value.messages), (
        err.value.messages
    )
    out = folder / "out"
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert f"error: {path.parent}/{message}" in result.stderr
    assert not out.exists()
    assert CliRunner().invoke(main, ["validate", str(path)]).exit_code == 2


def test_a_fractional_range_on_a_whole_number_key_says_how_to_fix_it(folder):
    text = EXPERIMENT.replace("reps = 2\n", "reps = 2\nsamples = 2\n")
    text = text.replace("values = [50, 97]", "low = 40\nhigh = 120")
    with pytest.raises(ScenarioError) as err:
        load_experiment(_experiment(folder, text))
    (message,) = [m for m in err.value.messages if "whole number" in m]
    assert re.search(
        r"bad.toml: point 0 \(community.p1.places = 60, community.p2.places = [\d.]+\): "
        r"community.p2.places must be a whole number, got [\d.]+ "
        r"\(add integer = true to its \[\[vary\]\] range\)$",
        message,
    )


def test_an_engine_that_cannot_run_the_scenario_says_so_before_writing(folder, partial_engine):
    text = EXPERIMENT.replace("reps = 2\n", f'reps = 2\nengine = "{partial_engine}"\n')
    text = text.replace("[set]\n", "[set]\ned.boarding_holds_cubicle = true\n")
    path = _experiment(folder, text)
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(folder / "out")])
    assert result.exit_code == 2
    assert "bad.toml: engine: short: the partial engine cannot run ed.boarding_holds_cubicle" in (
        result.stderr
    )
    assert not (folder / "out").exists()


def test_validate_accepts_experiment_files():
    result = CliRunner().invoke(main, ["validate", str(ROOT / "experiments" / "p1_p2_delays.toml")])
    assert result.exit_code == 0, result.output
    assert "ok (p1_p2_delays: 9 points x 30 replications of baseline" in result.output


def test_a_sweep_point_is_a_run_of_that_scenario(folder):
    results = run_sweep(folder / "exp.toml", folder / "out")
    experiment = results.experiment
    alone = sim.run(experiment.scenarios[4], reps=2, seed=experiment.seed).replications
    kept = alone[alone.metric.isin(["delayed_bed_days", "acute_occupancy_mean"])]
    rows = results.replications[results.replications.point == 4].drop(columns="point")
    pd.testing.assert_frame_equal(
        rows.reset_index(drop=True), kept.drop(columns="scenario").reset_index(drop=True)
    )
    summary = pd.read_csv(folder / "out" / "summary.csv")
    assert list(summary.columns[:3]) == ["point", "community.p1.places", "community.p2.places"]
    assert len(summary) == 6 * 2 * 2  # points x metrics x periods (all, 2016/17)
    assert list(pd.read_csv(folder / "out" / "points.csv").point) == list(range(6))


def test_an_existing_sweep_needs_resume_and_a_changed_one_is_refused(folder):
    out = folder / "out"
    run_sweep(folder / "exp.toml", out)
    result = CliRunner().invoke(main, ["sweep", str(folder / "exp.toml"), "--out", str(out)])
    assert result.exit_code == 2
    assert "already holds a sweep; add --resume" in result.stderr
    again = CliRunner().invoke(
        main, ["sweep", str(folder / "exp.toml"), "--out", str(out), "--resume"]
    )
    assert again.exit_code == 0, again.output
    assert "0 points x 2 replications" in again.output
    assert "6 points were already done" in again.output
    (folder / "exp.toml").write_text(EXPERIMENT.replace("reps = 2", "reps = 3"))
    changed = CliRunner().invoke(
        main, ["sweep", str(folder / "exp.toml"), "--out", str(out), "--resume"]
    )
    assert changed.exit_code == 2
    assert "holds a different sweep" in changed.stderr


def test_a_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_tables(folder):
    """Kill -9 after the first part file; --resume keeps every part and adds the rest.
    (On the SimPy engine: the fast one finishes all six points before a part is due.)"""
    (folder / "exp.toml").write_text(EXPERIMENT.replace("reps = 2", 'reps = 2\nengine = "simpy"'))
    killed = folder / "killed"
    command = [str(LEFTSHIFT), "sweep", str(folder / "exp.toml"), "--out", str(killed), "-q"]
    parts = killed / "replications"
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 120
        while not list(parts.glob("part-*.parquet")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {p.name: p.read_bytes() for p in parts.glob("part-*.parquet")}
    done_before = set(load_replications(killed).point)
    assert 1 <= len(done_before) < 6, "the sweep should have been killed partway"
    assert not (killed / "summary.csv").exists()

    resumed = CliRunner().invoke(
        main, ["sweep", str(folder / "exp.toml"), "--out", str(killed)] + ["--resume", "-q"]
    )
    assert resumed.exit_code == 0, resumed.output
    whole = run_sweep(folder / "exp.toml", folder / "whole")

    # nothing lost: the parts written before the kill are untouched
    for name, data in before.items():
        assert (parts / name).read_bytes() == data
    # nothing repeated: every point is in exactly one part file
    seen: list[int] = []
    for part in sorted(parts.glob("part-*.parquet")):
        seen.extend(pd.read_parquet(part).point.unique())
    assert sorted(seen) == list(range(6))
    assert not list(parts.glob(".*"))
    pd.testing.assert_frame_equal(load_replications(killed), whole.replications)
    pd.testing.assert_frame_equal(
        pd.read_csv(killed / "summary.csv"), pd.read_csv(folder / "whole" / "summary.csv")
    )


def test_sweep_on_two_workers_gives_the_serial_tables(folder):
    serial = run_sweep(folder / "exp.toml", folder / "one")
    two = run_sweep(folder / "exp.toml", folder / "two", workers=2)
    pd.testing.assert_frame_equal(serial.replications, two.replications)
    pd.testing.assert_frame_equal(serial.summary, two.summary)


def test_sweep_on_a_dask_cluster_gives_the_serial_tables(folder):
    """The CLI's --scheduler path, on a real LocalCluster of two worker processes."""
    distributed = pytest.importorskip("distributed")
    serial = run_sweep(folder / "exp.toml", folder / "one")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        result = CliRunner().invoke(
            main,
            ["sweep", str(folder / "exp.toml"), "--out", str(folder / "dask")]
            + ["--scheduler", cluster.scheduler_address],
        )
    assert result.exit_code == 0, result.output
    assert f"on Dask scheduler {cluster.scheduler_address}" in result.output
    pd.testing.assert_frame_equal(serial.replications, load_replications(folder / "dask"))
    pd.testing.assert_frame_equal(
        pd.read_csv(folder / "one" / "summary.csv"), pd.read_csv(folder / "dask" / "summary.csv")
    )
