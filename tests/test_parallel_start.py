"""``workers=N`` from any way of starting Python, and Dask clusters that cannot do the work.

Each way of starting runs in its own interpreter: a script without a main
guard, the same script from standard input, ``python -c``, and a script that
sets the spawn start method (what Windows and macOS use). Each saves its
replications table, compared here, frame for frame, with the serial run.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import small_system

import sim
from sim.cli import main
from sim.errors import ClusterError, ScenarioError
from sim.runs import parallel
from sim.runs.parallel import imap, workers_for
from sim.scenario.schema import Scenario

SCENARIO = small_system(**{"run.horizon_years": 0.05, "run.warm_up_days": 5})

SCRIPT = """import json, sys
import sim
scenario = sim.Scenario.from_dict(json.loads({scenario!r}))
results = sim.run(scenario, reps=2, seed=3, workers=2)
results.replications.to_parquet({out!r})
"""


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    scenario = Scenario.from_dict(SCENARIO)
    return sim.run(scenario, reps=2, seed=3).replications


def _script(out: Path, prelude: str = "") -> str:
    return prelude + SCRIPT.format(scenario=json.dumps(SCENARIO), out=str(out))


@pytest.mark.parametrize(
    "how",
    [
        "script without a main guard",
        "stdin",
        "spawn",
        # like stdin, no __main__ file to re-run; each of these costs ~9 s of CPU
        pytest.param("python -c", marks=pytest.mark.slow),
    ],
)
def test_workers_from_any_way_of_starting_python_give_the_serial_frames(how, serial, tmp_path):
    out = tmp_path / "replications.parquet"
    script = tmp_path / "user_script.py"
    stdin = None
    if how == "spawn":
        prelude = "import multiprocessing\nmultiprocessing.set_start_method('spawn')\n"
        script.write_text(_script(out, prelude))
        command = [sys.executable, str(script)]
    elif how == "stdin":
        command, stdin = [sys.executable, "-"], _script(out)
    elif how == "python -c":
        command = [sys.executable, "-c", _script(out)]
    else:
        script.write_text(_script(out))
        command = [sys.executable, str(script)]
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial)


# --- Dask ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tcp://127.0.0.1:notaport", "scheduler must be an address like tcp://host:8786"),
        ("nonsense::", "scheduler must be an address like tcp://host:8786"),
        ("tcp://127.0.0.1:9", "scheduler: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'"),
    ],
)
def test_a_bad_scheduler_address_fails_at_once_in_one_line(tmp_path, address, message):
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml())
    started = time.monotonic()
    result = CliRunner().invoke(
        main, ["run", str(scenario), "--scheduler", address, "--out", str(tmp_path / "out")]
    )
    assert time.monotonic() - started < 10
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {message}" + _rest(message, address)]
    assert not (tmp_path / "out").exists()


def test_a_malformed_address_leaves_no_traceback_at_exit(tmp_path):
    """The address that used to print the error, hang 60 s, then a Client.__del__ traceback."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml())
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(scenario)]
        + ["--scheduler", "tcp://127.0.0.1:notaport", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    # the hang it guards against lasted 60 s; a loaded CI machine takes 20-30 s to start
    # Python and import dask, so the bound sits between the two
    assert time.monotonic() - started < 45
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: scheduler must be an address like tcp://host:8786, got 'tcp://127.0.0.1:notaport'"
    ]


def _toml() -> str:
    return (
        'extends = "' + str(Path(__file__).parents[1] / "configs" / "baseline.toml") + '"\n'
        'name = "tiny"\n[run]\nwarm_up_days = 5\nhorizon_years = 0.02\nreps = 2\n'
    )


def _rest(message: str, address: str) -> str:
    if "must be" in message:
        return f", got {address!r}"
    return " (Connection refused)"


def test_a_cluster_with_no_workers_says_it_is_waiting_then_gives_up(monkeypatch, caplog):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("LEFTSHIFT_DASK_WAIT_S", "2")
    monkeypatch.setattr(parallel, "POLL_S", 0.2)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        started = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="sim"),
            pytest.raises(ClusterError, match=r"has had no workers for 2 s with work waiting"),
            workers_for(scheduler=cluster.scheduler_address) as run_on,
        ):
            list(imap(run_on, abs, [(-1,)]))
        assert time.monotonic() - started < 15
    waiting = [
        r.getMessage() for r in caplog.records if "waiting for Dask workers" in r.getMessage()
    ]
    assert len(waiting) == 1
    assert "none are connected" in waiting[0]


def test_workers_running_another_leftshift_are_refused_on_connect(monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(parallel, "worker_version", lambda: "0.0.0-old")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        pytest.raises(ClusterError, match=r"run another leftshift version \(.* has 0\.0\.0-old\)"),
        workers_for(scheduler=cluster.scheduler_address),
    ):
        pass


def test_a_bad_dask_wait_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LEFTSHIFT_DASK_WAIT_S", "soon")
    with pytest.raises(ScenarioError, match="LEFTSHIFT_DASK_WAIT_S must be a number of seconds"):
        parallel.no_workers_timeout()


def test_verbose_says_what_happens(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml())
    # without -v nothing of this is said: other tests hold whole stderr to one line
    loud = CliRunner().invoke(
        main, ["-v", "run", str(scenario), "--out", str(tmp_path / "b"), "-q", "--no-report"]
    )
    assert loud.exit_code == 0
    assert f"info: {tmp_path / 'b'}: claimed for a run" in loud.stderr
    assert "info: 2 replications of 1 scenario on this process" in loud.stderr
