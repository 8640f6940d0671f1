"""Metric accumulator throughput and the cost of its tables (run with `make bench`).

* ``add_patients``: nanoseconds of CPU per patient row, 100,000-row chunks of 200
  replications, the rows of a mid-run stretch of the SimPy baseline as the fast
  engine delivers them (patients who finished in the same few days, every
  replication side by side);
* ``add_acute_events``: per event, chunks grouped by replication;
* ``finish``: 1,000 replications x 5 years, one simulated year of rows fed to
  each, and the peak resident memory of the process.

CPU time, not wall time, so other work on the machine moves the figures less.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import pytest

from sim.engines.reference import simulate
from sim.metrics.accumulator import MetricAccumulator
from sim.model.record import acute_events
from sim.scenario.params import CostParams, build_params
from sim.scenario.schema import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "configs" / "baseline.toml"
CHUNK_ROWS = 100_000


@pytest.fixture(scope="module")
def record():
    scenario = load_scenario(BASELINE).override({"run.horizon_years": 0.5, "run.warm_up_days": 60})
    return simulate(build_params(scenario), seed=1, replication=0)


@pytest.fixture(scope="module")
def five_years():
    return build_params(load_scenario(BASELINE).override({"run.horizon_years": 5}))


def _by_completion(record):
    """Rows in the order patients finished, as an engine flushes them."""
    P = record.patients
    names = ("t_arrival", "ed_departure", "sdec_end", "bed_end", "comm_end", "ur_end", "diverted")
    times = np.column_stack([P[c] for c in names])
    done = np.nanmax(np.where(np.isnan(times), -1.0, times), axis=1)
    order = np.argsort(done, kind="stable")
    return {c: v[order] for c, v in P.items()}


@pytest.mark.bench
def test_add_patients_ns_per_row(benchmark, record, five_years):
    R = 200
    rows = _by_completion(record)
    per_rep = CHUNK_ROWS // R
    start = record.n // 2
    chunks = []
    for k in range(start, start + 20 * per_rep, per_rep):
        part = {c: np.tile(v[k : k + per_rep], R) for c, v in rows.items()}
        chunks.append((np.repeat(np.arange(R), per_rep), part))
    accumulator = MetricAccumulator(five_years, range(R), CostParams.free(five_years))
    cpu = []

    def feed():
        for rep, part in chunks:
            t0 = time.process_time()
            accumulator.add_patients(rep, part)
            cpu.append((time.process_time() - t0) / len(rep) * 1e9)

    benchmark.pedantic(feed, rounds=3, iterations=1)
    benchmark.extra_info["cpu_ns_per_row_median"] = float(np.median(cpu))
    benchmark.extra_info["cpu_ns_per_row_min"] = float(np.min(cpu))


@pytest.mark.bench
def test_add_acute_events_ns_per_event(benchmark, record, five_years):
    R = 200
    times, deltas = acute_events(record.patients)
    per_rep = CHUNK_ROWS // R
    chunks = [
        (np.repeat(np.arange(R), len(t)), np.tile(t, R), np.tile(d, R))
        for t, d in (
            (times[k : k + per_rep], deltas[k : k + per_rep]) for k in range(0, len(times), per_rep)
        )
    ]
    cpu = []

    def feed():
        accumulator = MetricAccumulator(five_years, range(R), CostParams.free(five_years))
        t0 = time.process_time()
        for chunk in chunks:
            accumulator.add_acute_events(*chunk)
        cpu.append((time.process_time() - t0) / sum(len(c[0]) for c in chunks) * 1e9)

    benchmark.pedantic(feed, rounds=3, iterations=1)
    benchmark.extra_info["cpu_ns_per_event_median"] = float(np.median(cpu))


@pytest.mark.bench
def test_finish_1000_replications_5_years(benchmark, record, five_years):
    R = 1000
    rows = record.patients
    times, deltas = acute_events(rows)

    def setup():
        accumulator = MetricAccumulator(five_years, range(R), CostParams.free(five_years))
        per_chunk = max(1, CHUNK_ROWS // record.n)
        for first in range(0, R, per_chunk):
            reps = np.arange(first, min(R, first + per_chunk))
            part = {c: np.tile(v, len(reps)) for c, v in rows.items()}
            accumulator.add_patients(np.repeat(reps, record.n), part)
            accumulator.add_acute_events(
                np.repeat(reps, len(times)), np.tile(times, len(reps)), np.tile(deltas, len(reps))
            )
        return (accumulator,), {}

    benchmark.pedantic(lambda acc: acc.finish(), setup=setup, rounds=1, iterations=1)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info["peak_rss_mb"] = peak_mb
