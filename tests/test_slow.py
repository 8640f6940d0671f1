"""Longer statistical checks, run by `make test-all` (marked slow)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import single_unit
from test_theory import erlang_c, per_rep

import sim
from sim.analysis import t_interval

pytestmark = pytest.mark.slow


def test_erlang_c_at_high_utilisation():
    c, per_day = 20, 18.0  # utilisation 0.9: long, correlated queues need long runs
    p_wait = erlang_c(c, per_day)
    mean_wait_days = p_wait / (c - per_day)
    data = single_unit(beds=c, per_day=per_day, years=10, warm_up_days=60)

    def measure(record, params):
        asked = record["bed_request"]
        rows = (asked >= params.calendar.warm_up_h) & ~np.isnan(record["bed_start"])
        return ((record["bed_start"] - asked)[rows] / 24).mean()

    mean, low, high = t_interval(per_rep(data, reps=20, seed=909, measure=measure))
    assert low <= mean_wait_days <= high, (mean_wait_days, low, high)


def test_baseline_over_five_years_of_do_nothing_growth(baseline_path):
    scenario = sim.load_scenario(baseline_path).override({"run.horizon_years": 5})
    results = sim.run(scenario, reps=3, seed=5)
    s = results.summary.set_index(["metric", "period"])
    first = s.loc[("attendances_would_be", "2016/17"), "mean"]
    last = s.loc[("attendances_would_be", "2020/21"), "mean"]
    # cohort growth 3.2% (frail older) and 2% (others), weighted by volume
    expected = (13200 * 1.032**4 + 77200 * 1.02**4) / 90400
    assert last / first == pytest.approx(expected, rel=0.02)
    assert (
        s.loc[("acute_occupancy_mean", "2020/21"), "mean"]
        > s.loc[("acute_occupancy_mean", "2016/17"), "mean"]
    )
