"""Multi-year runs on the real calendar, and costs by component and financial year."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_system

import sim
from sim.analysis import t_interval
from sim.scenario.schema import Scenario


def by_rep(results: sim.Results, metric: str, period: str) -> np.ndarray:
    r = results.replications
    return (
        r[(r.metric == metric) & (r.period == period)]
        .sort_values("replication")["value"]
        .to_numpy()
    )


@pytest.mark.no_cover  # a long statistical run; quick tests cover its lines
def test_do_nothing_demand_grows_by_the_configured_rate():
    growth = 0.05
    data = small_system(
        **{
            "run.start_date": "2016-04-01",
            "run.horizon_years": 3,
            "run.warm_up_days": 0,
            "acute.beds": "unlimited",
        }
    )
    for cohort in data["cohorts"].values():
        cohort["growth_per_year"] = growth
    # from empty with unlimited beds: occupancy climbs on purpose, and arrivals do not care
    results = sim.run_experiment([Scenario.from_dict(data)], reps=4, seed=12, drift=False)
    ratio = by_rep(results, "attendances_would_be", "2018/19") / by_rep(
        results, "attendances_would_be", "2016/17"
    )
    mean, low, high = t_interval(ratio)
    assert low <= (1 + growth) ** 2 <= high, (mean, low, high)


def test_investment_lands_in_its_financial_year_and_in_the_total():
    data = small_system(
        **{"run.start_date": "2016-04-01", "run.horizon_years": 2, "run.warm_up_days": 0}
    )
    data["costs"]["investment"] = [
        {"financial_year": "2017/18", "amount_gbp": 1_000_000},
        {"financial_year": "2030/31", "amount_gbp": 5},
    ]
    results = sim.run(Scenario.from_dict(data), reps=1, seed=1)
    assert by_rep(results, "cost_investment", "2016/17")[0] == 0
    assert by_rep(results, "cost_investment", "2017/18")[0] == 1_000_000
    assert by_rep(results, "cost_investment", "all")[0] == 1_000_000  # 2030/31 is outside the run
    parts = [m for m in set(results.summary.metric) if m.startswith("cost_") and m != "cost_total"]
    total = sum(by_rep(results, m, "all")[0] for m in parts)
    assert by_rep(results, "cost_total", "all")[0] == pytest.approx(total)


def test_commissioned_places_are_paid_for_empty_or_full():
    occupied = small_system(**{"community.p2.places": 50})
    commissioned = small_system(
        **{"community.p2.places": 50, "community.p2.cost_basis": "commissioned"}
    )
    a = sim.run(Scenario.from_dict(occupied), reps=1, seed=3)
    b = sim.run(Scenario.from_dict(commissioned), reps=1, seed=3)
    days = by_rep(a, "observed_days", "all")[0]
    assert by_rep(b, "cost_community_p2", "all")[0] == pytest.approx(50 * days * 150)
    used = by_rep(a, "community_in_use_p2", "all")[0]
    assert by_rep(a, "cost_community_p2", "all")[0] == pytest.approx(used * days * 150)
    assert used < 50
