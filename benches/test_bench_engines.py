"""Engine throughput on the default scenario, both engines in the same run.

Throughput is patient-replications per second of wall time, end to end: every
patient the engine simulated (would-be attendances, direct admissions,
readmissions, the starting state, warm-up included), through the metrics and
daily series, divided by the time taken. Only ratios measured in one run are
asserted: these machines are shared and noisy, absolute times mean little.

* ``make test`` runs the ``benchshort`` test: a short baseline run of both
  engines and a floor on their ratio (``MIN_RATIO``), a guard against
  regressions.
* ``make bench`` runs the rest and writes ``outputs/bench.json``: throughput of
  both engines at ``R`` = 200, scaling with replications (50-400) and horizon
  (0.1-0.4 years at ``R`` = 200), and the fast engine's peak memory (with
  metrics) for 200 replications over 0.5 and 2 years, each measured in a child
  process (``ru_maxrss``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.engines.reference import simulate
from sim.engines.vectorised import FastEngine
from sim.metrics.accumulator import MetricAccumulator, daily_series, replication_metrics
from sim.scenario.params import CostParams, ModelParams, build_params
from sim.scenario.schema import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "configs" / "baseline.toml"

MIN_RATIO = 6.0
"""The CI floor on fast/SimPy throughput in the short run (R = 100, where the
fast engine's per-hour cost still shows). Measured 8-10 on the shared 2-core
machine; issue #4 asks for 50 here and 100 at R >= 200, which the engine does
not reach (docs/engines.md, "Speed")."""


def baseline(years: float, warm_up_days: int = 30) -> ModelParams:
    scenario = load_scenario(BASELINE).override(
        {"run.horizon_years": years, "run.warm_up_days": warm_up_days}
    )
    return build_params(scenario)


def fast_throughput(params: ModelParams, reps: int, seed: int = 1) -> tuple[float, int]:
    """(patients per second, patients) for ``reps`` replications at once, with metrics."""
    started = time.perf_counter()
    sink = MetricAccumulator(params, range(reps), CostParams.free(params))
    engine = FastEngine(params, seed, range(reps), sink=sink)
    engine.run()
    sink.finish()
    patients = int(engine.serial.sum())
    return patients / (time.perf_counter() - started), patients


def simpy_throughput(params: ModelParams, reps: int, seed: int = 1) -> tuple[float, int]:
    started = time.perf_counter()
    patients = 0
    for rep in range(reps):
        record = simulate(params, seed, rep)
        replication_metrics(record, CostParams.free(params))
        daily_series(record)
        patients += record.n
    return patients / (time.perf_counter() - started), patients


@pytest.mark.benchshort
def test_fast_engine_keeps_its_lead_over_simpy() -> None:
    params = baseline(0.05)
    fast, n_fast = fast_throughput(params, reps=100)
    slow, n_slow = simpy_throughput(params, reps=2)
    ratio = fast / slow
    print(f"\nfast {fast:,.0f}/s ({n_fast:,} patients), simpy {slow:,.0f}/s: ratio {ratio:.1f}")
    assert n_fast > 40 * n_slow
    assert ratio >= MIN_RATIO, f"fast/SimPy throughput ratio {ratio:.1f} < {MIN_RATIO}"


@pytest.mark.bench
def test_throughput_both_engines(benchmark) -> None:  # type: ignore[no-untyped-def]
    params = baseline(0.25)
    slow, _ = simpy_throughput(params, reps=3)

    def run_fast() -> float:
        return fast_throughput(params, reps=200)[0]

    fast = benchmark.pedantic(run_fast, rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "fast_patients_per_s": fast,
            "simpy_patients_per_s": slow,
            "ratio": fast / slow,
            "reps": 200,
        }
    )
    assert fast > slow


@pytest.mark.bench
def test_scaling_with_replications_and_horizon(benchmark) -> None:  # type: ignore[no-untyped-def]
    def measure() -> dict[str, float]:
        out = {}
        for reps in (50, 100, 200, 400):
            out[f"reps_{reps}"] = fast_throughput(baseline(0.1), reps)[0]
        for years in (0.1, 0.2, 0.4):
            out[f"years_{years}"] = fast_throughput(baseline(years), 200)[0]
        return out

    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    # from R = 200 on, throughput per patient holds with more replications and a longer horizon
    assert result["reps_400"] >= 0.8 * result["reps_200"]
    assert result["years_0.4"] >= 0.8 * result["years_0.1"]


PEAK_SCRIPT = """
import json, resource, sys
from sim.scenario.schema import load_scenario
from sim.engines.vectorised import FastEngine
from sim.metrics.accumulator import MetricAccumulator
from sim.scenario.params import CostParams, build_params
reps, years, batch = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
params = build_params(load_scenario(sys.argv[4]).override({"run.horizon_years": years}))
for first in range(0, reps, batch):
    replications = range(first, min(first + batch, reps))
    sink = MetricAccumulator(params, replications, CostParams.free(params))
    FastEngine(params, 1, replications, sink=sink).run()
    sink.finish()
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_memory_mb(reps: int, years: float, batch: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(reps), str(years), str(batch), str(BASELINE)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"])


@pytest.mark.bench
def test_peak_memory_does_not_grow_with_horizon(benchmark) -> None:  # type: ignore[no-untyped-def]
    def measure() -> dict[str, float]:
        return {
            "peak_mb_200reps_0.5y": peak_memory_mb(200, 0.5, 200),
            "peak_mb_200reps_2y": peak_memory_mb(200, 2.0, 200),
        }

    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["peak_mb_200reps_2y"] < 1.5 * result["peak_mb_200reps_0.5y"]
