"""Longer statistical checks, run by `make test-all` (marked slow)."""

from __future__ import annotations

import pytest

import sim

pytestmark = pytest.mark.slow


def test_baseline_over_five_years_of_do_nothing_growth(baseline_path):
    scenario = sim.load_scenario(baseline_path).override({"run.horizon_years": 5})
    results = sim.run(scenario, reps=3, seed=5)
    s = results.summary.set_index(["metric", "period"])
    first = s.loc[("attendances_would_be", "2016/17"), "mean"]
    last = s.loc[("attendances_would_be", "2020/21"), "mean"]
    # cohort growth 3.2% (frail older) and 2% (others), weighted by volume
    expected = (13700 * 1.032**4 + 80300 * 1.02**4) / 94000
    assert last / first == pytest.approx(expected, rel=0.02)
    assert (
        s.loc[("acute_occupancy_mean", "2020/21"), "mean"]
        > s.loc[("acute_occupancy_mean", "2016/17"), "mean"]
    )
