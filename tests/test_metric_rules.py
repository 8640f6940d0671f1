"""Two rules every metric follows (docs/metrics.md): no observations is NaN (shown as "-"),
and the starting state counts in stocks, not in counts of events or waits."""

from __future__ import annotations

import numpy as np
from conftest import small_system

import sim
from sim.codes import EPS_HOURS, Origin
from sim.engines.reference import simulate
from sim.present.format import fmt
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario


def _value(results: sim.Results, name: str) -> np.ndarray:
    r = results.replications
    return r[(r.metric == name) & (r.period == "all")]["value"].to_numpy()


def test_a_wait_with_no_one_to_measure_is_nan_and_shows_as_a_dash():
    """P1 with no places: its patients wait for ever, nobody starts, so the mean wait is
    unknown (NaN, not 0 days), while the count of starts is a true 0 and the delay share
    is 1."""
    data = small_system(**{"community.p1.places": 0, "run.reps": 2})
    results = sim.run(Scenario.from_dict(data), seed=3)
    assert (_value(results, "community_starts_p1") == 0).all()
    assert np.isnan(_value(results, "community_wait_days_p1")).all()
    assert (_value(results, "delayed_discharges_p1") > 0).all()
    assert (_value(results, "delayed_share_p1") == 1).all()
    row = results.summary.query("metric == 'community_wait_days_p1' and period == 'all'")
    assert row["n_reps"].item() == 0
    assert fmt(row["mean"].item(), "days") == "-"
    # the shares next to it are measured
    assert (_value(results, "delayed_share_p2") <= 1).all()
    assert np.isfinite(_value(results, "sdec_loss_share")).all()


def test_the_starting_state_is_in_the_stocks_not_in_the_counts():
    """Forty patients already delayed for P1 at t = 0 fill bed days and delayed bed days,
    but their becoming fit (before the run) is no delayed discharge of the period, and an
    episode under way at the start is no episode started."""
    base = small_system(**{"run.warm_up_days": 0, "run.horizon_years": 0.05, "run.reps": 2})
    started = {**base, "initial_state": {"acute_treating": 0, "delayed": {"p1": 40}}}
    results = {
        name: sim.run(Scenario.from_dict(data), seed=2)
        for name, data in (("empty", base), ("started", started))
    }
    delayed_days = {k: _value(r, "delayed_bed_days") for k, r in results.items()}
    assert (delayed_days["started"] > delayed_days["empty"] + 40 * 1.0).all()  # a stock
    # counted from the record, the new patients fit on P1 who waited; the 40 were too
    params = build_params(Scenario.from_dict(started))
    record = simulate(params, 2, 0)
    fit_in_run = ~np.isnan(record["t_fit"]) & (record["pathway"] == 1)
    waited = np.isnan(record["bed_end"]) | (record["bed_end"] - record["t_fit"] > EPS_HOURS)
    new = record["origin"] != Origin.INITIAL
    assert (fit_in_run & waited & ~new).sum() == 40
    assert (
        _value(results["started"], "delayed_discharges_p1")[0] == (fit_in_run & waited & new).sum()
    )
    waiting = {**base, "initial_state": {"community_in_use": {"urgent_response": 3}}}
    waiting["costs"] = {**base["costs"], "urgent_response_episode_gbp": 250.0}
    with_episodes = sim.run(Scenario.from_dict(waiting), seed=2)
    # every episode started in the run is an avoided attendance; the three under way are not
    assert (_value(with_episodes, "avoided_attendances") > 0).all()
    assert (
        _value(with_episodes, "cost_urgent_response_episodes")
        == 250.0 * _value(with_episodes, "avoided_attendances")
    ).all()
