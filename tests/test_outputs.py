"""Output folders: one kind of result each, checked before running, written whole, one writer.

Each test is a failure from issue #14 re-run as a user would, with its documented outcome.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

import sim
from sim.cli import main
from sim.errors import OutputError, ReportError
from sim.experiments.sweep import load_replications, run_sweep
from sim.runs.outputs import LOCK, MARKER, claim, kind_of

TINY = f'''extends = "{CONFIGS / "baseline.toml"}"
name = "tiny"
[run]
warm_up_days = 5
horizon_years = 0.03
reps = 2
'''

OTHER = """extends = "tiny.toml"
name = "more_beds"
[acute]
beds = 480
"""

EXPERIMENT = """name = "beds"
scenario = "tiny.toml"
reps = 2
metrics = ["delayed_bed_days"]

[[vary]]
path = "acute.beds"
values = [430, 450, 470]
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "other.toml").write_text(OTHER)
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    return tmp_path


def _cli(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK)


# --- one kind of result a folder -----------------------------------------------------------------


def test_a_run_into_a_comparison_folder_is_refused_and_overwrite_replaces_it(files):
    out = files / "D"
    compared = _cli(
        "compare", files / "tiny.toml", files / "other.toml", "--out", out, "-q", "--no-report"
    )
    assert compared.exit_code == 0, compared.output
    (out / "report.html").write_text("<title>Comparison: tiny vs more beds</title>")
    before = (out / "comparison.csv").read_bytes()
    (out / "findings.html").write_text("<p>old findings</p>")  # as the case study adds
    refused = _cli("run", files / "tiny.toml", "--seed", 3, "--out", out, "-q")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: --out {out}: holds a comparison (")
    assert "a run cannot write there" in refused.stderr
    assert "--overwrite" in refused.stderr
    assert (out / "comparison.csv").read_bytes() == before  # nothing touched
    replaced = _cli("run", files / "tiny.toml", "--seed", 3, "--out", out, "-q", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert "comparison.csv" not in _listing(out)
    assert "comparison.parquet" not in _listing(out)
    assert "findings.html" not in _listing(out)
    assert kind_of(out) == "run"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>Scenario: tiny - leftshift report</title>" in page
    assert "old findings" not in page
    assert json.loads((out / "scenario.json").read_text())["seed"] == 3


def test_a_run_into_a_sweep_folder_is_refused_and_the_sweep_is_untouched(files):
    out = files / "S"
    assert _cli("sweep", files / "exp.toml", "--out", out, "-q", "--no-report").exit_code == 0
    summary = (out / "summary.csv").read_bytes()
    refused = _cli("run", files / "tiny.toml", "--out", out, "-q")
    assert refused.exit_code == 2
    assert "holds a sweep (" in refused.stderr
    assert (out / "summary.csv").read_bytes() == summary
    assert _cli("report", out).exit_code == 0  # still a sweep's report


def test_a_rerun_of_the_same_kind_leaves_nothing_of_the_last(files):
    out = files / "R"
    first = _cli("run", files / "tiny.toml", "--out", out, "-q", "--event-log", "--no-report")
    assert first.exit_code == 0, first.output
    (out / "report.html").write_text("an old report")  # as an earlier run with a report left
    assert {"events_vidigi.csv", "events_bupar.csv", "report.html"} <= set(_listing(out))
    again = _cli("run", files / "tiny.toml", "--out", out, "-q", "--no-report")
    assert again.exit_code == 0, again.output
    assert _listing(out) == [
        "daily.parquet",
        "ed_time.parquet",
        "hour_of_week.parquet",
        MARKER,
        "replications.parquet",
        "scenario.json",
        "summary.csv",
    ]
    assert "report.html" not in json.loads((out / MARKER).read_text())["files"]


def test_files_leftshift_did_not_write_are_never_touched(files):
    out = files / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _cli("run", files / "tiny.toml", "--out", out, "-q", "--no-report").exit_code == 0
    assert (
        _cli(
            "compare",
            files / "tiny.toml",
            files / "other.toml",
            "--out",
            out,
            "-q",
            "--overwrite",
            "--no-report",
        ).exit_code
        == 0
    )
    assert (out / "notes.txt").read_text() == "mine"


# --- checked before simulating, one line when saving fails ---------------------------------------


def test_an_output_folder_that_cannot_be_created_fails_before_running(files):
    result = _cli("run", files / "tiny.toml", "--out", files / "tiny.toml" / "out")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: --out {files / 'tiny.toml' / 'out'}: cannot create or write the output folder "
        "(Not a directory)"
    ]
    assert "replications" not in result.output  # nothing was simulated


def test_a_read_only_output_folder_fails_before_running(files, monkeypatch):
    """Root writes anywhere, so the read-only file system is the operating system's answer,
    mocked: the first file leftshift tries to make in the folder is refused."""
    import tempfile

    out = files / "ro"
    out.mkdir()

    def read_only(*args: object, **kwargs: object) -> object:
        raise OSError(errno.EROFS, "Read-only file system")

    ran = []
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    monkeypatch.setattr(sim.runs.runner, "run_scenario_batch", lambda *a: ran.append(a))
    for command in (
        ["run", files / "tiny.toml"],
        ["compare", files / "tiny.toml", files / "other.toml"],
        ["sweep", files / "exp.toml"],
        [
            "search",
            files / "tiny.toml",
            "--vary",
            "acute.beds",
            "--low",
            400,
            "--high",
            500,
            "--metric",
            "diverted",
            "--at-most",
            10,
        ],
    ):
        result = _cli(*command, "--out", out)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [
            f"error: --out {out}: cannot write to the output folder (Read-only file system)"
        ]
    assert ran == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_folder_without_write_permission_fails_before_running(files):  # pragma: no cover
    out = files / "locked"
    out.mkdir(mode=0o500)
    result = _cli("run", files / "tiny.toml", "--out", out)
    assert result.exit_code == 2
    assert "cannot create or write the output folder (Permission denied)" in result.stderr


def test_a_full_disk_while_saving_says_what_was_kept_and_half_writes_nothing(files, monkeypatch):
    out = files / "full"
    assert _cli("run", files / "tiny.toml", "--out", out, "-q", "--no-report").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(self: object, path: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    result = _cli("run", files / "tiny.toml", "--seed", 9, "--out", out, "-q")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: could not save to {out / 'replications.parquet'}: No space")
    assert "earlier files are as they were and nothing of this run was saved" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no half file, no temp


def test_a_sweep_whose_disk_fills_says_resume_continues_and_resumes_identically(files, monkeypatch):
    out = files / "sweep"
    real = pd.DataFrame.to_parquet
    calls = []

    def second_part_fails(self: pd.DataFrame, path: object, **kwargs: object) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, path, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", second_part_fails)
    with pytest.raises(OutputError) as failed:
        run_sweep(files / "exp.toml", out, flush_seconds=0)
    message = str(failed.value)
    assert message.startswith(f"could not save to {out / 'replications' / 'part-00001.parquet'}")
    assert "run the sweep again with --resume" in message
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)
    # the point whose part failed was written as the sweep stopped (a later write had room)
    assert set(load_replications(out).point) == {0, 1}
    resumed = run_sweep(files / "exp.toml", out, resume=True)
    assert resumed.ran_points == 1
    whole = run_sweep(files / "exp.toml", files / "whole")
    pd.testing.assert_frame_equal(resumed.replications, whole.replications)
    pd.testing.assert_frame_equal(resumed.summary, whole.summary)


# --- one writer at a time ------------------------------------------------------------------------


def test_a_second_writer_into_a_folder_is_refused(files):
    out = files / "busy"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom sim.runs.outputs import claim\n"
            f"with claim({str(out)!r}, 'run'):\n    print('held', flush=True)\n"
            "    sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        result = _cli("run", files / "tiny.toml", "--out", out, "-q")
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"error: --out {out}: another leftshift is writing to this folder; wait for it to "
            "finish or choose another --out"
        ]
    finally:
        holder.communicate("", timeout=30)
    assert _cli("run", files / "tiny.toml", "--out", out, "-q", "--no-report").exit_code == 0


def test_claims_nest_in_one_process_and_a_failed_command_leaves_no_folder(tmp_path):
    out = tmp_path / "a" / "b"
    with claim(out, "run") as outer, claim(out, "run") as inner:
        assert inner is outer
    assert not (tmp_path / "a").exists()  # nothing written: nothing left behind
    with (
        claim(out, "run"),
        pytest.raises(OutputError, match="a comparison cannot write there"),
        claim(out, "comparison"),
    ):
        pass


# --- the report ----------------------------------------------------------------------------------


@pytest.fixture
def saved(files) -> Path:
    out = files / "saved"
    assert _cli("run", files / "tiny.toml", "--out", out, "-q", "--no-report").exit_code == 0
    return out


def test_report_on_a_corrupt_parquet_file_is_one_line_and_exit_2(saved):
    (saved / "daily.parquet").write_bytes(b"PAR1 this is not parquet")
    result = _cli("report", saved)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {saved / 'daily.parquet'}: cannot be read (")


def test_report_on_a_folder_missing_a_table_names_it_and_exits_2(saved):
    (saved / "daily.parquet").unlink()
    result = _cli("report", saved)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {saved / 'daily.parquet'}: missing"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda f: None, "not a results folder (no leftshift.json, summary.csv or scenario.json)"),
        (lambda f: (f / "search.csv").write_text("value\n1\n"), "holds a capacity search"),
    ],
)
def test_report_on_a_folder_without_a_report_exits_2(tmp_path, setup, message):
    folder = tmp_path / "x"
    folder.mkdir()
    setup(folder)
    result = _cli("report", folder)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {folder}: {message}")


def test_a_report_that_cannot_be_written_exits_1(saved, monkeypatch):
    import tempfile

    def full(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    result = _cli("report", saved)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {saved}: cannot write to the output folder (No space left on device)"
    ]


# --- reading results back ------------------------------------------------------------------------


def test_load_results_gives_back_the_saved_tables(files):
    scenario = sim.load_scenario(files / "tiny.toml")
    results = sim.run(scenario, reps=2, seed=4)
    folder = results.save(files / "back")
    loaded = sim.load_results(folder)
    pd.testing.assert_frame_equal(loaded.summary, results.summary)
    pd.testing.assert_frame_equal(loaded.replications, results.replications)
    pd.testing.assert_frame_equal(loaded.daily, results.daily)
    assert loaded.meta["seed"] == 4
    assert loaded.scenarios[0].to_dict() == scenario.to_dict()
    assert loaded.value("acute_occupancy_mean") == results.value("acute_occupancy_mean")
    with pytest.raises(ReportError, match="holds no leftshift results"):
        sim.load_results(files)
