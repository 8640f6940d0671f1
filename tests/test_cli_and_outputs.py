"""The command line and the files a run writes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

import sim
from sim.cli import main
from sim.errors import OutputError

SMALL = f'''extends = "{CONFIGS / "baseline.toml"}"
name = "tiny"
[run]
warm_up_days = 10
horizon_years = 0.1
reps = 2
'''


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SMALL)
    return path


def test_run_writes_its_files_with_their_columns(tiny, tmp_path):
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(tiny), "--out", str(out), "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "Results in" in result.output
    assert "A&E attendances" in result.output
    # off a terminal (a log, CI) progress comes as lines: the last says every replication is done
    assert "tiny: 2/2 replications (" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".leftshift.lock",
        "daily.parquet",
        "ed_time.parquet",
        "hour_of_week.parquet",
        "leftshift.json",
        "replications.parquet",
        "report.html",
        "scenario.json",
        "summary.csv",
    ]
    marker = json.loads((out / "leftshift.json").read_text())
    assert marker["kind"] == "run"
    assert marker["version"] == sim.__version__
    assert marker["files"] == [
        "daily.parquet",
        "ed_time.parquet",
        "hour_of_week.parquet",
        "replications.parquet",
        "report.html",
        "scenario.json",
        "summary.csv",
    ]
    assert marker["command"]  # the command line as typed (here, the test runner's)
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == [
        "scenario",
        "metric",
        "period",
        "mean",
        "ci_low",
        "ci_high",
        "n_reps",
    ]
    assert set(summary.period) == {"all", "2016/17"}
    assert summary.n_reps.isin([0, 2]).all()  # 0: no observations, shown as NaN
    assert summary.loc[summary.n_reps == 0, "mean"].isna().all()
    assert (summary.n_reps == 2).mean() > 0.9
    reps = pd.read_parquet(out / "replications.parquet")
    assert list(reps.columns) == ["scenario", "replication", "metric", "period", "value"]
    daily = pd.read_parquet(out / "daily.parquet")
    assert list(daily.columns) == ["scenario", "replication", "date", "series", "value"]
    assert daily.date.min() == pd.Timestamp("2016-04-01")
    how = pd.read_parquet(out / "hour_of_week.parquet")
    assert list(how.columns) == ["scenario", "replication", "series", "weekday", "hour", "value"]
    ed = pd.read_parquet(out / "ed_time.parquet")
    assert list(ed.columns) == [
        "scenario",
        "replication",
        "period",
        "outcome",
        "hours_from",
        "hours_to",
        "attendances",
    ]
    meta = json.loads((out / "scenario.json").read_text())
    assert meta["seed"] == 5
    assert meta["reps"] == 2
    assert meta["version"] == sim.__version__
    resolved = meta["scenarios"][0]["resolved"]
    assert resolved["acute"]["beds"] == 415
    assert resolved["run"]["horizon_years"] == 0.1


def test_files_hold_the_same_tables_as_the_api(tiny, tmp_path):
    out = tmp_path / "results"
    CliRunner().invoke(main, ["run", str(tiny), "--out", str(out), "--seed", "5", "-q"])
    results = sim.run(sim.load_scenario(tiny), seed=5)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "replications.parquet"), results.replications
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out / "daily.parquet"), results.daily)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "summary.csv"), results.summary, check_exact=False, rtol=1e-12
    )
    # what the command keeps once the files are written: the summary, not the long tables
    light = results.without_long_tables()
    assert light.daily.empty
    assert list(light.daily.columns) == list(results.daily.columns)
    assert light.hour_of_week is not None
    assert light.hour_of_week.empty
    assert light.summary is results.summary
    assert not results.daily.empty


def test_a_run_reports_every_catalogued_metric(tiny):
    from sim.codes import SERVICES
    from sim.metrics import catalogue

    scenario = sim.load_scenario(tiny)
    results = sim.run(scenario, reps=1, seed=1)
    services = [s for s in SERVICES if scenario.service(s) is not None]
    assert set(results.summary.metric) == set(catalogue.names(list(scenario.cohorts), services))


def test_validate_reports_ok(baseline_path):
    result = CliRunner().invoke(main, ["validate", str(baseline_path)])
    assert result.exit_code == 0
    assert "ok (baseline: 3 cohorts" in result.output


def test_unknown_engine_is_a_usage_error(tiny):
    result = CliRunner().invoke(main, ["run", str(tiny), "--engine", "warp"])
    assert result.exit_code == 2


def test_unknown_engine_is_refused_with_the_choices(tiny, tmp_path):
    result = CliRunner().invoke(
        main, ["run", str(tiny), "--engine", "warp", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "'fast'" in result.stderr
    assert "'simpy'" in result.stderr
    assert not (tmp_path / "o").exists()


def test_fast_engine_runs_from_the_command_line(tiny, tmp_path):
    result = CliRunner().invoke(
        main, ["run", str(tiny), "--engine", "fast", "--reps", "3", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "summary.csv").exists()


def test_compiling_the_fast_engine_is_said_before_the_run(tiny, tmp_path, monkeypatch):
    """A first use compiles for 16-48 s: the command says so instead of sitting at
    0%. (Here the compilation is only pretended: the kernel still loads from the cache.)"""
    from sim.engines import compiled

    monkeypatch.setattr(compiled, "_prepared", threading.Event())
    monkeypatch.setattr(compiled, "_cached", lambda: False)
    result = CliRunner().invoke(main, ["run", str(tiny), "--reps", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    said = result.output.index("compiling it (once on this machine")
    assert said < result.output.index("replications")
    assert compiled._prepared.is_set()


def test_a_quiet_run_says_nothing_of_compiling(tiny, tmp_path, monkeypatch):
    from sim.engines import compiled

    monkeypatch.setattr(compiled, "_prepared", threading.Event())
    monkeypatch.setattr(compiled, "_cached", lambda: False)
    result = CliRunner().invoke(main, ["run", str(tiny), "-q", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "compiling" not in result.output


def test_console_script_is_installed():
    done = subprocess.run(
        [Path(sys.executable).parent / "leftshift", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sim.__version__ in done.stdout


def test_quiet_run_prints_only_the_folder(tiny, tmp_path):
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(tiny), "--out", str(out), "-q", "--no-report"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert not (out / "report.html").exists()


def test_a_report_that_cannot_be_written_keeps_the_results_and_exits_1(tiny, tmp_path, monkeypatch):
    import sim.present.report

    def fail(folder, png=False):
        raise OutputError(f"could not save to {folder}/report.html: No space left on device")

    monkeypatch.setattr(sim.present.report, "write_report", fail)
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(tiny), "--out", str(out), "-q"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: no report written (could not save to {out}/report.html: No space left on "
        f"device); the results in {out} are saved"
    ]
    assert (out / "summary.csv").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["compare", "{tiny}"], "error: compare needs at least two scenario files"),
        (
            ["search", "{tiny}", "--vary", "acute.beds", "--low", "1", "--high", "2"]
            + ["--metric", "diverted"],
            "error: give one target: --at-most X or --at-least X",
        ),
        (
            ["search", "{tiny}", "--vary", "acute.beds", "--low", "1", "--high", "2"]
            + ["--metric", "diverted", "--at-most", "1", "--at-least", "0"],
            "error: give one target: --at-most X or --at-least X",
        ),
        (["run", "{tiny}", "--workers", "2", "--scheduler", "tcp://x:1"], "not both"),
        (["run", "{tiny}", "--reps", "0"], "Invalid value for '--reps'"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(args, expected, tiny, tmp_path):
    out = tmp_path / "o"
    command = [a.format(tiny=tiny) for a in args] + ["--out", str(out)]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert expected in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("function", "value", "kind", "shown"),
    [
        ("fmt", float("nan"), "count", "-"),
        ("fmt", 0.8421, "share", "84.2%"),
        ("fmt", 1.234, "days", "1.23"),
        ("fmt", 2.5, "hours", "2.50"),
        ("fmt", 12_345_678.0, "gbp", "£12.3m"),
        ("fmt", 94_324.4, "count", "94,324"),
        ("fmt_diff", float("nan"), "count", "-"),
        ("fmt_diff", 0.021, "share", "+2.1 pp"),
        ("fmt_diff", -0.5, "days", "-0.50"),
        ("fmt_diff", -2_500_000.0, "gbp", "-£2.5m"),
        ("fmt_diff", 1200.0, "count", "+1,200"),
    ],
)
def test_table_cells_carry_their_units(function, value, kind, shown):
    from sim.present import format

    assert getattr(format, function)(value, kind) == shown


def test_numbers_and_relative_changes_read_well():
    from sim.present.format import fmt_number, fmt_rel

    assert fmt_number(41_970.2) == "41,970"
    assert fmt_number(0.123456) == "0.1235"
    assert fmt_rel(-0.052) == " (-5.2%)"
    assert fmt_rel(float("inf")) == ""
    assert fmt_rel(None) == ""


def test_a_sweep_too_big_for_the_screen_prints_no_table():
    from types import SimpleNamespace

    from sim.present.console import sweep_table

    many = SimpleNamespace(experiment=None, points=list(range(41)))
    assert sweep_table(many) is None  # the CLI then prints the summary line only


def test_log_progress_says_a_line_at_most_every_interval_and_always_the_last() -> None:
    from rich.console import Console

    from sim.present.progress import LogProgress

    console = Console(record=True, width=200)
    bar = LogProgress(console, every=3600)
    task = bar.add_task("sweep", total=10, unit="points")
    for done in range(1, 11):
        bar.update(task, completed=done)
    lines = console.export_text().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("sweep: 1/10 points (")
    assert "left" in lines[0]
    assert lines[1].startswith("sweep: 10/10 points (")
    assert "left" not in lines[1]
