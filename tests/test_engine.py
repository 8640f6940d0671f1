"""The SimPy reference engine: behaviour at the extremes, by rule, and deterministically.

Every run here also passes the invariant checks (conservation, capacity,
schedules, first come first served): conftest sets LEFTSHIFT_CHECK.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import single_unit, small_system

import sim
from sim.analysis import t_interval
from sim.clock import stepfn
from sim.clock.schedule import Schedule
from sim.codes import EPS_HOURS
from sim.engines.reference import simulate
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario


def record_of(data: dict, seed: int = 1, rep: int = 0):
    params = build_params(Scenario.from_dict(data))
    return simulate(params, seed, rep), params


def metric(results: sim.Results, name: str, period: str = "all") -> pd.Series:
    r = results.replications
    return r[(r.metric == name) & (r.period == period)].set_index("replication")["value"]


UNLIMITED_EVERYWHERE = {
    "ed.cubicles": "unlimited",
    "sdec.chairs": "unlimited",
    "sdec.open": "24/7",
    "acute.beds": "unlimited",
    "acute.discharge_hours": "24/7",
    "community.urgent_response.places": "unlimited",
    "community.urgent_response.accepts": "24/7",
    "community.p1.places": "unlimited",
    "community.p1.accepts": "24/7",
    "community.p2.places": "unlimited",
    "community.p2.accepts": "24/7",
    "community.p3.places": "unlimited",
    "community.p3.accepts": "24/7",
}


def test_unlimited_capacity_everywhere_gives_no_waits_and_no_delays():
    scenario = Scenario.from_dict(small_system(**UNLIMITED_EVERYWHERE))
    results = sim.run(scenario, reps=2, seed=3)
    for name in (
        "delayed_bed_days",
        "p0_discharge_wait_bed_days",
        "ed_12h_waits",
        "admission_wait_share",
        "avoidance_lost",
        "sdec_refused",
        "boarding_hours",
        "community_wait_days_p1",
        "community_wait_days_p2",
        "community_wait_days_p3",
    ):
        assert (metric(results, name) == 0).all(), name
    assert (metric(results, "avoided_attendances") > 0).all()
    record, _ = record_of(small_system(**UNLIMITED_EVERYWHERE))
    admitted = ~np.isnan(record["bed_start"])
    assert np.array_equal(record["bed_start"][admitted], record["bed_request"][admitted])
    ed = ~np.isnan(record["ed_start"])
    assert np.array_equal(record["ed_start"][ed], record["ed_arrival"][ed])


def test_zero_arrivals_give_zeros():
    data = small_system()
    for cohort in data["cohorts"].values():
        cohort["attendances_per_year"] = 0
        cohort["direct_admissions_per_year"] = 0
    results = sim.run(Scenario.from_dict(data), reps=2, seed=1)
    values = results.replications
    counts = values[
        ~values.metric.isin(["observed_days"])
        & ~values.metric.str.startswith("cost_")
        & ~values.metric.str.startswith("community_occupancy")
    ]
    assert (counts.value.fillna(0) == 0).all(), counts[counts.value != 0]
    assert (metric(results, "cost_total") == 0).all()


def test_avoidance_share_zero_avoids_nothing_and_one_with_room_avoids_all():
    none = sim.run(
        Scenario.from_dict(small_system(**{"cohorts.older.avoidable_share": 0.0})), reps=2, seed=2
    )
    assert (metric(none, "avoidance_planned") == 0).all()
    assert (metric(none, "avoided_attendances") == 0).all()
    everyone = small_system(
        **{
            "cohorts.older.avoidable_share": 1.0,
            "community.urgent_response.places": "unlimited",
            "community.urgent_response.accepts": "24/7",
        }
    )
    results = sim.run(Scenario.from_dict(everyone), reps=2, seed=2)
    assert (metric(results, "avoided_attendances") == metric(results, "avoidance_planned")).all()
    assert (metric(results, "avoidance_lost") == 0).all()


def test_avoidance_lost_out_of_hours_is_counted_as_closed():
    data = small_system(
        **{
            "cohorts.older.avoidable_share": 1.0,
            "community.urgent_response.places": "unlimited",
            "community.urgent_response.accepts": "Mon-Fri 09:00-17:00",
        }
    )
    record, params = record_of(data)
    planned = record["avoidable"] & (record["origin"] == 0)
    lost = record["avoid_lost"]
    hour = np.floor(record["t_arrival"] + EPS_HOURS).astype(int)
    open_now = params.accepts_by_hour[0][hour]  # office hours, bank holidays closed
    office = Schedule.parse("Mon-Fri 09:00-17:00").open_hours
    weekly = np.array(office)[params.calendar.hour_of_week_array(hour)]
    assert (weekly & ~open_now).any()  # some arrivals on a bank holiday's office hours
    assert np.all(lost[planned & open_now] == 0)  # a place is always free when open
    assert np.all(lost[planned & ~open_now] == 1)  # closed: lost for want of opening hours
    # weekday office hours are 40 of 168 hours; far fewer than half the planned are achieved
    assert 0.15 < (lost[planned] == 0).mean() < 0.5


def test_avoidance_ramps_by_financial_year():
    data = small_system(
        **{
            "run.start_date": "2016-04-01",
            "run.horizon_years": 2,
            "run.warm_up_days": 0,
            "cohorts.older.avoidable_share": [0.0, 0.5],
        }
    )
    results = sim.run(Scenario.from_dict(data), reps=1, seed=4)
    assert metric(results, "avoidance_planned", "2016/17").iloc[0] == 0
    planned = metric(results, "avoidance_planned", "2017/18").iloc[0]
    would_be = metric(results, "attendances_would_be", "2017/18")
    older_share = 4000 / 16000
    assert planned / would_be.iloc[0] == pytest.approx(0.5 * older_share, rel=0.1)


def test_p1_packages_start_only_in_acceptance_hours():
    record, params = record_of(small_system(**{"run.horizon_years": 0.5}))
    starts = record["comm_start"][(record["pathway"] == 1) & (record["comm_start"] > 0)]
    assert len(starts) > 50
    how = params.calendar.hour_of_week_array(starts)
    assert np.array(Schedule.parse("Mon-Fri 09:00-17:00").open_hours)[how].all()
    assert set(how // 24) <= {0, 1, 2, 3, 4}
    assert set(how % 24) <= set(range(9, 17))


def test_weekday_office_hours_give_more_delayed_bed_days_than_seven_day_commissioning():
    """Same places; only the hours at which P1-P3 accept new patients differ (paired runs)."""
    weekday = small_system(**{"run.horizon_years": 0.5})
    seven_day = small_system(
        **{
            "run.horizon_years": 0.5,
            "community.p1.accepts": "every day 08:00-20:00",
            "community.p2.accepts": "every day 08:00-20:00",
            "community.p3.accepts": "every day 08:00-20:00",
        }
    )
    a = sim.run(Scenario.from_dict(weekday), reps=6, seed=9)
    b = sim.run(Scenario.from_dict(seven_day), reps=6, seed=9)
    difference = metric(a, "delayed_bed_days") - metric(b, "delayed_bed_days")
    mean, low, high = t_interval(difference.to_numpy())
    assert low > 0, (mean, low, high)


def test_p0_discharges_wait_for_ward_discharge_hours():
    record, params = record_of(small_system())
    p0 = (record["pathway"] == 0) & ~np.isnan(record["bed_end"]) & (record["bed_end"] > 0)
    how = params.calendar.hour_of_week_array(record["bed_end"][p0])
    assert set(how % 24) <= set(range(8, 20))
    fit_at_night = (
        p0
        & ~params.discharge_open_by_hour[
            np.minimum(
                np.floor(np.nan_to_num(record["t_fit"])).astype(int), params.calendar.n_hours - 1
            )
        ]
    )
    assert fit_at_night.sum() > 10
    assert np.all(record["bed_end"][fit_at_night] > record["t_fit"][fit_at_night])


def test_a_capacity_cut_drains_and_never_evicts():
    data = single_unit(beds=40, per_day=12.0, years=0.5, los={"dist": "exponential", "mean": 3})
    data["acute"]["capacity_changes"] = [{"date": "2016-07-01", "beds": 20}]
    record, params = record_of(data, seed=4)
    cut = params.calendar.hours_at(pd.Timestamp("2016-07-01").date())
    times, occupied = stepfn.counting(record["bed_start"], record["bed_end"], params.calendar.end_h)
    before = occupied[np.searchsorted(times, cut, side="right") - 1]
    assert before > 20  # there was something to drain
    after = times >= cut
    rises = np.flatnonzero(after[1:] & (np.diff(occupied) > 0)) + 1
    # no admission while at or above the new capacity: every rise lands at or below 20
    assert np.all(occupied[rises] <= 20)
    # nobody left at the moment of the cut
    assert not np.any(np.isclose(record["bed_end"], cut))
    assert record.capacity["acute"].values.tolist() == [40, 20]  # noqa: PD011 (numpy, not pandas)


def test_diversion_past_a_queue_threshold_caps_the_queue():
    data = single_unit(beds=10, per_day=12.0, years=0.5, diversion=3)
    record, params = record_of(data, seed=6)
    times, queue = stepfn.counting(
        record["bed_request"],
        np.where(np.isnan(record["bed_start"]), record["diverted"], record["bed_start"]),
        params.calendar.end_h,
    )
    assert queue.max() == 3
    assert (~np.isnan(record["diverted"])).sum() > 0


def test_sdec_counting_rule_changes_only_the_count():
    counted = sim.run(Scenario.from_dict(small_system()), reps=2, seed=5)
    not_counted = sim.run(
        Scenario.from_dict(small_system(**{"sdec.counts_as_admission": False})), reps=2, seed=5
    )
    difference = metric(counted, "admissions_nhs") - metric(not_counted, "admissions_nhs")
    sdec_home = metric(counted, "admissions_incl_sdec") - metric(counted, "admissions_bed")
    assert (difference == sdec_home).all()
    assert (sdec_home > 0).all()
    assert (metric(counted, "admissions_bed") == metric(not_counted, "admissions_bed")).all()


def test_sdec_closed_or_full_sends_referrals_to_a_bed():
    data = small_system(**{"sdec.chairs": 0})
    results = sim.run(Scenario.from_dict(data), reps=1, seed=5)
    assert metric(results, "sdec_episodes").iloc[0] == 0
    assert metric(results, "sdec_refused").iloc[0] > 0


def test_deterministic_durations_give_exact_times_in_system():
    """Fixed durations and unlimited capacity: time in the system is the sum of the parts."""
    data = small_system(**UNLIMITED_EVERYWHERE)
    data["ed"]["time_to_decision_minutes"] = {"dist": "fixed", "value": 120}
    for cohort in data["cohorts"].values():
        cohort["treatment_los_days"] = {"dist": "fixed", "value": 2}
        cohort["p_sdec"] = 0.0
    data["community"]["p1"]["episode_days"] = {"dist": "fixed", "value": 10}
    record, _ = record_of(data)
    via_ed = (record["ed_outcome"] == 2) & ~np.isnan(record["bed_end"])
    stay = record["bed_end"][via_ed] - record["ed_arrival"][via_ed]
    assert np.allclose(stay, 2 + 48)
    p1 = (record["pathway"] == 1) & ~np.isnan(record["comm_end"]) & (record["bed_start"] > 0)
    assert np.allclose(record["comm_end"][p1] - record["bed_start"][p1], 48 + 240)
    home = record["ed_outcome"] == 0
    assert np.allclose(record["ed_departure"][home] - record["ed_arrival"][home], 2.0)


def test_each_outcome_takes_its_own_time_to_decision():
    """Exit block: a decision to admit (or to refer to SDEC) may take its own time; the
    outcome is the one the patient would have had anyway (its uniform is untouched)."""
    base = small_system(**UNLIMITED_EVERYWHERE)
    base["ed"]["time_to_decision_minutes"] = {"dist": "fixed", "value": 60}
    own = small_system(**UNLIMITED_EVERYWHERE)
    own["ed"]["time_to_decision_minutes"] = {"dist": "fixed", "value": 60}
    own["ed"]["admit_time_to_decision_minutes"] = {"dist": "fixed", "value": 300}
    own["ed"]["sdec_time_to_decision_minutes"] = {"dist": "fixed", "value": 120}
    before, _ = record_of(base)
    record, _ = record_of(own)
    via_ed = ~np.isnan(record["ed_decision"])
    outcome = record["ed_outcome"][via_ed]
    took = (record["ed_decision"] - record["ed_start"])[via_ed]
    for code, hours in ((0, 1.0), (1, 2.0), (2, 5.0)):
        assert (outcome == code).sum() > 50
        assert np.allclose(took[outcome == code], hours)
    first = np.flatnonzero(~np.isnan(before["ed_decision"]))[:200]
    assert (before["ed_outcome"][first] == record["ed_outcome"][first]).all()
    results = sim.run(Scenario.from_dict(own), reps=1, seed=1)
    assert metric(results, "ed_4h_share_admitted").iloc[0] == 0.0
    assert metric(results, "ed_4h_share_not_admitted").iloc[0] == 1.0
    # medians come from 15-minute bins: exact to a bin
    assert metric(results, "ed_time_median_hours_admitted").iloc[0] == pytest.approx(5.0, abs=0.25)
    assert 0.75 <= metric(results, "ed_time_median_hours_not_admitted").iloc[0] <= 2.0


def test_a_referral_finding_sdec_closed_may_stay_its_sdec_episode():
    data = small_system(**{**UNLIMITED_EVERYWHERE, "sdec.chairs": 0, "sdec.p_admit": 0.3})
    data["sdec"]["episode_hours"] = {"dist": "fixed", "value": 4.5}
    for cohort in data["cohorts"].values():
        cohort["treatment_los_days"] = {"dist": "fixed", "value": 2}
    record, _ = record_of(data)
    refused = record["sdec_refused"] & ~np.isnan(record["t_fit"])
    assert refused.sum() > 200
    assert np.allclose((record["t_fit"] - record["bed_start"])[refused], 48.0)
    data["sdec"]["refused_stay"] = "sdec"
    record, _ = record_of(data)
    refused = record["sdec_refused"] & ~np.isnan(record["t_fit"])
    stay = (record["t_fit"] - record["bed_start"])[refused]
    then_bed = np.isclose(stay, 4.5 + 48.0)  # their SDEC episode would have ended in a bed
    assert (then_bed | np.isclose(stay, 4.5)).all()
    n = len(stay)  # the share that would have gone on to a bed: sdec.p_admit, binomial 4 sd
    assert abs(then_bed.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)


def test_a_pathway_may_have_its_own_treatment_stay():
    """Case mix: the patients who will leave on P1 or P3 stay their pathway's own time; the
    others, and P2 (none given), the cohort's; pathways are dealt as without it."""
    data = small_system(**UNLIMITED_EVERYWHERE)
    for cohort in data["cohorts"].values():
        cohort["treatment_los_days"] = {"dist": "fixed", "value": 2}
    before, _ = record_of(data)
    data["cohorts"]["older"]["treatment_los_days_by_pathway"] = {
        "p1": {"dist": "fixed", "value": 5},
        "p3": {"dist": "fixed", "value": 12},
    }
    record, _ = record_of(data)
    older = (record["cohort"] == 0) & ~np.isnan(record["t_fit"]) & (record["bed_start"] > 0)
    stay = (record["t_fit"] - record["bed_start"])[older]
    pathway = record["pathway"][older]
    for k, days in ((0, 2), (1, 5), (2, 2), (3, 12)):
        assert (pathway == k).sum() > 5, k
        assert np.allclose(stay[pathway == k], 24.0 * days), k

    def dealt(r):  # new patients' pathways, by arrival (readmissions' timing moved)
        new = (r["cohort"] == 0) & (r["origin"] != 2) & (r["pathway"] >= 0)
        return dict(zip(r["t_arrival"][new].tolist(), r["pathway"][new].tolist(), strict=True))

    a, b = dealt(before), dealt(record)
    both = a.keys() & b.keys()
    assert len(both) > 300
    assert all(a[t] == b[t] for t in both)


def test_readmissions_follow_discharge_by_the_delay():
    data = single_unit(per_day=4.0, beds="unlimited", years=0.25)
    data["cohorts"]["patients"]["p_readmit"] = {"p0": 1.0}
    data["cohorts"]["patients"]["p_admit"] = 1.0
    data["readmission"] = {"delay_days": {"dist": "fixed", "value": 5}}
    record, _ = record_of(data)
    readmitted = np.flatnonzero(record["origin"] == 2)
    assert len(readmitted) > 100
    parents = record["parent"][readmitted]
    assert np.allclose(record["t_arrival"][readmitted], record["bed_end"][parents] + 120)
    assert np.all(record["cohort"][readmitted] == record["cohort"][parents])


def test_starting_state_places_todays_patients():
    data = small_system(**{"run.warm_up_days": 0, "acute.beds": 60})
    data["initial_state"] = {
        "acute_treating": 40,
        "delayed": {"p1": 5, "p2": 3},
        "community_in_use": {"p1": 12, "p3": 4},
    }
    record, params = record_of(data)
    initial = record["origin"] == 3
    assert initial.sum() == 40 + 8 + 16
    in_bed_at_0 = initial & (record["bed_start"] == 0)
    assert in_bed_at_0.sum() == 48
    delayed = initial & (record["t_fit"] == 0)
    assert sorted(record["pathway"][delayed].tolist()) == [1] * 5 + [2] * 3
    community = initial & (record["comm_start"] == 0)
    assert community.sum() == 16
    # the P1 service starts full, so today's delayed P1 patients wait for a place
    p1_wait = record["comm_start"][delayed & (record["pathway"] == 1)]
    assert np.all(np.isnan(p1_wait) | (p1_wait > 0))


def test_metrics_are_reported_per_financial_year_and_whole_run():
    data = small_system(**{"run.start_date": "2016-10-01", "run.horizon_years": 1})
    results = sim.run(Scenario.from_dict(data), reps=1, seed=1)
    periods = list(dict.fromkeys(results.summary.period))
    assert periods == ["all", "2016/17", "2017/18"]
    att = metric(results, "attendances", "all").iloc[0]
    parts = (
        metric(results, "attendances", "2016/17").iloc[0]
        + metric(results, "attendances", "2017/18").iloc[0]
    )
    assert att == parts
    days = [metric(results, "observed_days", p).iloc[0] for p in periods]
    assert days == [365, 182, 183]


def test_boarding_in_a_cubicle_blocks_the_emergency_department():
    """Exit block: boarded patients keep their cubicle until a bed is free, then release it."""
    tight = {"acute.beds": 40, "ed.cubicles": 8}
    free = sim.run(Scenario.from_dict(small_system(**tight)), reps=2, seed=8)
    blocked = sim.run(
        Scenario.from_dict(small_system(**tight, **{"ed.boarding_holds_cubicle": True})),
        reps=2,
        seed=8,
    )
    assert (metric(blocked, "ed_4h_share") < metric(free, "ed_4h_share")).all()
    record, _ = record_of(small_system(**tight, **{"ed.boarding_holds_cubicle": True}))
    assert (~np.isnan(record["bed_start"]) & (record["ed_outcome"] == 2)).sum() > 100


def test_bank_holidays_close_weekday_rotas_and_delays_pile_up_over_christmas():
    """P1-P3 accept Mon-Fri 09:00-17:00 in the small system: with bank holidays on, they
    also close on 26 and 27 December 2016 and 2 January 2017, so more patients wait in a
    bed for them over Christmas than with the option off (the same patients: common
    random numbers, paired by replication)."""
    window = {"run.start_date": "2016-11-21", "run.horizon_years": 0.12, "run.reps": 8}
    on = sim.run(Scenario.from_dict(small_system(**window)), seed=4)
    off = sim.run(
        Scenario.from_dict(small_system(**window, **{"run.bank_holidays": False})), seed=4
    )

    def christmas_delays(results: sim.Results) -> pd.Series:
        d = results.daily
        d = d[(d.series == "delayed") & (d.date >= "2016-12-24") & (d.date <= "2017-01-04")]
        return d.groupby("replication")["value"].sum()

    difference = christmas_delays(on) - christmas_delays(off)
    mean, lower, _ = t_interval(difference.to_numpy())
    assert lower > 0, (mean, lower)  # more delayed bed days with the bank holidays closed
    before = on.daily[on.daily.date < "2016-12-24"].set_index(["replication", "date", "series"])
    same = off.daily[off.daily.date < "2016-12-24"].set_index(["replication", "date", "series"])
    pd.testing.assert_series_equal(before["value"], same["value"])  # nothing differs before
