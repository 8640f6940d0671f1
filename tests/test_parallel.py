"""The same tables whether replications run here, on local processes or on a Dask cluster."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, small_system

import sim
from sim.cli import main
from sim.engines.registry import available
from sim.errors import ScenarioError
from sim.runs import runner
from sim.runs.parallel import SerialExecutor, imap, workers_for
from sim.runs.runner import (
    _concat_by_column,
    batch_size,
    replication_batches,
    simulated_days,
)
from sim.scenario.schema import Scenario, load_scenario


@pytest.fixture(scope="module")
def pair() -> list[Scenario]:
    base = Scenario.from_dict(small_system(**{"run.horizon_years": 0.15}))
    return [base, base.override({"community.p2.places": 8}, name="more_p2")]


@pytest.fixture(scope="module")
def serial(pair) -> sim.Results:
    return sim.run_experiment(pair, reps=4, seed=9)


def _assert_same(a: sim.Results, b: sim.Results) -> None:
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.replications, b.replications)
    pd.testing.assert_frame_equal(a.daily, b.daily)


def test_two_local_processes_give_the_serial_tables(pair, serial):
    _assert_same(serial, sim.run_experiment(pair, reps=4, seed=9, workers=2))


def test_a_dask_local_cluster_gives_the_serial_tables(pair, serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        on_cluster = sim.run_experiment(pair, reps=4, seed=9, scheduler=cluster.scheduler_address)
        assert len(cluster.scheduler_info["workers"]) == 2
    _assert_same(serial, on_cluster)


def test_the_experiment_is_each_scenario_run_alone(pair, serial):
    """Scenarios inside, seeds outside: each scenario's rows are its own run's rows."""
    alone = sim.run(pair[1], reps=4, seed=9)
    rows = serial.replications[serial.replications.scenario == "more_p2"].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, alone.replications)
    assert list(dict.fromkeys(serial.summary.scenario)) == ["small", "more_p2"]


def test_added_replications_continue_the_same_streams(pair, serial):
    later = sim.run_experiment(pair[:1], reps=2, seed=9, first_replication=2).replications
    first = serial.replications
    expected = first[(first.scenario == "small") & (first.replication >= 2)]
    pd.testing.assert_frame_equal(later, expected.reset_index(drop=True))


def test_cli_run_with_two_workers_writes_the_serial_files(tmp_path):
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(
        f'extends = "{CONFIGS / "baseline.toml"}"\nname = "tiny"\n'
        "[run]\nwarm_up_days = 5\nhorizon_years = 0.05\nreps = 3\n"
    )
    outs = {}
    for label, extra in (("serial", []), ("two", ["--workers", "2"])):
        outs[label] = tmp_path / label
        result = CliRunner().invoke(
            main, ["run", str(tiny), "--out", str(outs[label]), "--seed", "4", "-q", *extra]
        )
        assert result.exit_code == 0, result.output
    for name in ("replications.parquet", "daily.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(outs["serial"] / name), pd.read_parquet(outs["two"] / name)
        )
    assert (outs["serial"] / "summary.csv").read_text() == (outs["two"] / "summary.csv").read_text()


def test_the_fast_engine_gives_the_same_tables_whatever_its_batches():
    """Serially one batch of four replications; on two workers two batches of two."""
    if "fast" not in available():
        pytest.skip("the fast engine is not built")
    scenario = Scenario.from_dict(
        small_system(**{"run.horizon_years": 0.05, "run.warm_up_days": 5})
    )
    serial = sim.run_experiment([scenario], reps=4, seed=9, engine="fast")
    _assert_same(serial, sim.run_experiment([scenario], reps=4, seed=9, engine="fast", workers=2))


def test_batches_put_together_by_column_are_one_concatenation_and_released():
    """The daily table is put together a column at a time (memory): the same frame as one
    ``pd.concat``, dtypes and all (categorical, datetime, float32), and the parts let go."""
    names = pd.CategoricalDtype(["a", "b"])
    parts = [
        pd.DataFrame(
            {
                "scenario": pd.Categorical.from_codes(np.full(n, k % 2), dtype=names),
                "replication": np.arange(n, dtype=np.int64) + 10 * k,
                "date": pd.date_range("2024-04-01", periods=n, freq="D").to_numpy(),
                "value": np.linspace(0, 1, n, dtype=np.float32) + k,
            }
        )
        for k, n in enumerate((3, 1, 4))
    ]
    expected = pd.concat(parts, ignore_index=True)
    held = list(parts)
    pd.testing.assert_frame_equal(_concat_by_column(held), expected)
    assert held == []
    if sys.platform == "linux" and platform.libc_ver()[0] == "glibc":  # freed pages go back
        assert runner._malloc_trim() is not None
    assert expected["value"].dtype == np.float32
    assert isinstance(expected["scenario"].dtype, pd.CategoricalDtype)


def test_batches_per_engine():
    assert batch_size("simpy", reps=10, slots=2) == 1
    assert batch_size("fast", reps=10, slots=2) == 5  # one scenario: split over the workers
    # 25 tasks of 8 sweep points: at most 250 replications' tallies a task, split evenly
    assert batch_size("fast", reps=100, slots=1, scenarios=25) == 100
    assert batch_size("fast", reps=100, slots=1, scenarios=25, together=8) == 25
    assert batch_size("fast", reps=3, slots=8) == 1
    assert batch_size("fast", reps=10, slots=2, scenarios=2) == 10  # a scenario per worker
    assert batch_size("fast", reps=10, slots=8, scenarios=3) == 4
    assert batch_size("fast", reps=10, slots=2, scenarios=50) == 10  # a sweep: whole points
    assert replication_batches(5, 2) == [[0, 1], [2, 3], [4]]


def test_longer_runs_get_fewer_replications_a_task():
    """A batch holds its replications' daily sums side by side: 250 at one year after the
    baseline's 450-day warm-up, and at five years about a third of that (evenly split),
    so its sums take about the same memory whatever the horizon."""
    baseline = load_scenario(CONFIGS / "baseline.toml")
    one = simulated_days(baseline.override({"run.horizon_years": 1.0}))
    five = simulated_days(baseline.override({"run.horizon_years": 5.0}))
    assert (one, five) == (450 + 366, 450 + 1827)  # 365.25 days a year, whole days up
    assert batch_size("fast", reps=1000, slots=1, scenarios=25, days=one) == 250
    at_five = batch_size("fast", reps=1000, slots=1, scenarios=25, days=five)  # 1000 / 12
    assert at_five * five <= 250 * one
    assert at_five == 84
    assert batch_size("fast", reps=1000, slots=1, scenarios=25, together=8, days=five) == 16
    assert batch_size("fast", reps=1000, slots=1, scenarios=25, days=50 * 366) == 16  # a floor


def _square(x: int) -> int:
    return x * x


def test_imap_yields_every_task_once_tagged_with_its_index():
    with workers_for(workers=2) as run_on:
        got = dict(imap(run_on, _square, ((k,) for k in range(7))))
    assert got == {k: k * k for k in range(7)}


def test_serial_pool_runs_in_this_process():
    with workers_for() as run_on:
        assert isinstance(run_on.executor, SerialExecutor)
        assert dict(imap(run_on, os.getpid, [()])) == {0: os.getpid()}


def _fail(x: int) -> int:
    raise RuntimeError(f"task {x} failed")


def test_a_failing_task_raises_in_the_caller():
    with workers_for() as run_on, pytest.raises(RuntimeError, match="task 0 failed"):
        list(imap(run_on, _fail, [(0,), (1,)]))


def test_where_options_are_checked():
    with pytest.raises(ScenarioError, match="workers must be >= 1"), workers_for(workers=0):
        pass
    with (
        pytest.raises(ScenarioError, match="not both"),
        workers_for(workers=2, scheduler="tcp://x:1"),
    ):
        pass


def test_an_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    with (
        pytest.raises(
            ScenarioError,
            match=r"cannot reach a Dask scheduler at 'tcp://127.0.0.1:9' \(Connection refused\)",
        ),
        workers_for(scheduler="tcp://127.0.0.1:9", connect_timeout=1),
    ):
        pass
