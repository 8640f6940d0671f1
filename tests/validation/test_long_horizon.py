"""Long horizons: twenty years run to the end, keep their invariants, and fit in memory.

The scenario is the baseline system at 5% of its demand with no growth
(:func:`scenarios.quiet_baseline`): every unit, schedule and pathway is in use
and the system is stationary, so nothing *should* grow with the horizon but
the per-day outputs. Memory is measured in a fresh process per run
(``memory_probe.py``): peak resident set size, and the peak of Python
allocations traced during the run.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import small_system
from scenarios import quiet_baseline

from sim.engines import reference as engine_simpy
from sim.runs.runner import run_batch
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario

PROBE = Path(__file__).with_name("memory_probe.py")


def _twenty_years(engine: str) -> None:
    scenario = quiet_baseline(20, demand_share=0.01)
    params = build_params(scenario)
    # check=True runs sim.invariants on every replication's record: conservation,
    # occupancy <= capacity, schedules, first come first served, work conservation
    metrics, daily = run_batch(params, seed=1, replications=[0], engine=engine, check=True)[:2]
    start = scenario.run.start_date
    days = (start.replace(year=start.year + 20) - start).days
    everything = metrics[(metrics.period == "all")].set_index("metric")["value"]
    assert everything["observed_days"] == days
    years = sorted(set(metrics.period) - {"all"})
    assert len(years) == 20
    assert years[0] == "2016/17"
    assert years[-1] == "2035/36"
    assert daily["date"].nunique() == days
    assert dt.date.fromisoformat(str(daily["date"].max())[:10]) == start + dt.timedelta(days - 1)
    # stationary demand: the last year sees as many attendances as the first
    # (about 950 a year: a Poisson standard deviation of 3%)
    by_year = metrics[metrics.metric == "attendances"].set_index("period")["value"]
    assert by_year["2016/17"] > 800
    assert by_year["2035/36"] == pytest.approx(by_year["2016/17"], rel=0.12)


def test_twenty_years_simpy_completes_with_invariants() -> None:
    _twenty_years("simpy")


@pytest.mark.slow
def test_twenty_years_fast_completes_with_invariants() -> None:
    _twenty_years("fast")


def _probe(engine: str, years: float, trace: bool = False) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(PROBE), engine, str(years), *(["--trace"] if trace else [])],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_simpy_memory_does_not_grow_with_the_horizon() -> None:
    """Streaming (no invariant checks) keeps only patients in the system.

    Before the SimPy engine streamed its rows, 20 years took 503 MiB RSS
    against 183 MiB for 2 (114 against 15 MiB of traced allocations): every
    patient was kept to the end. What still grows is the per-day output (the
    daily series: 16 series x days) and the accumulator's per-day sums.
    """
    short, long = _probe("simpy", 2, trace=True), _probe("simpy", 20, trace=True)
    assert long["daily_rows"] == pytest.approx(10 * short["daily_rows"], rel=0.01)
    assert long["rss_mib"] < 1.4 * short["rss_mib"], (short, long)
    assert long["traced_peak_mib"] < 3.0 * short["traced_peak_mib"], (short, long)


@pytest.mark.slow
def test_fast_memory_does_not_grow_with_the_horizon() -> None:
    """The fast engine keeps live patients only (20 years in 2 minutes here: 137 vs 157 MiB)."""
    short, long = _probe("fast", 2), _probe("fast", 20)
    assert long["rss_mib"] < 1.4 * short["rss_mib"], (short, long)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {
            "acute.beds": 40,
            "acute.diversion_queue_threshold": 2,
            "run.warm_up_days": 0,
            "initial_state": {
                "acute_treating": 30,
                "delayed": {"p1": 3, "p2": 2},
                "community_in_use": {"p1": 5, "urgent_response": 1},
            },
        },
    ],
    ids=["small_system", "diversion_from_a_starting_state"],
)
def test_streaming_simpy_gives_the_tables_of_the_full_record(
    changes: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows handed on as patients leave, in many chunks, give the same metrics and daily series."""
    monkeypatch.setattr(engine_simpy, "STREAM_CHUNK", 300)
    data = small_system(**{"run.horizon_years": 0.06, **changes})
    params = build_params(Scenario.from_dict(data))
    streamed = run_batch(params, seed=3, replications=[0, 4], engine="simpy", check=False)
    recorded = run_batch(params, seed=3, replications=[0, 4], engine="simpy", check=True)
    for a, b in zip(streamed, recorded, strict=True):
        assert len(a) > 100
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-9)
