"""Engine throughput on the default scenario (pytest-benchmark; run with `make bench`).

Throughput is patient-replications per second of simulated flow: every patient
record the engine produced (would-be attendances, direct admissions,
readmissions), per second of wall time. Setup (loading and resolving the
scenario) is timed apart from the run, as Mesa's benchmarks do. Issue #4 adds
the fast engine and a ratio check against this one, measured in the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config import load_scenario
from sim.engine_simpy import simulate
from sim.params import build_params

BASELINE = Path(__file__).resolve().parents[1] / "configs" / "baseline.toml"


@pytest.fixture(scope="module")
def params():
    scenario = load_scenario(BASELINE).override({"run.horizon_years": 0.25, "run.warm_up_days": 30})
    return build_params(scenario)


@pytest.mark.bench
def test_simpy_throughput(benchmark, params):
    records = []

    def one_replication():
        records.append(simulate(params, seed=1, replication=len(records)))

    benchmark.pedantic(one_replication, rounds=3, iterations=1)
    patients = sum(r.n for r in records) / len(records)
    benchmark.extra_info["patients_per_replication"] = patients
    benchmark.extra_info["patients_per_second"] = patients / benchmark.stats["mean"]
    assert patients > 10_000


@pytest.mark.bench
def test_scenario_setup(benchmark):
    benchmark(lambda: build_params(load_scenario(BASELINE)))
