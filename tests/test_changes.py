"""Dated changes (``[[changes]]``): the old behaviour before the date, the new after it.

Each test reads the record patient by patient, in both engines (which must stay
identical with changes in play), against the semantics of docs/scenario.md
("Dated changes"): a schedule or a capacity holds from the moment of the change
and never evicts; a probability applies to the patients who arrive after it; a
distribution to the episodes that start after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, small_system
from test_fast_engine import assert_identical

from sim.clock.schedule import Schedule
from sim.codes import EdOutcome, Origin
from sim.errors import ScenarioError
from sim.model.demand import Attr, draw_attributes, versions
from sim.model.record import Record
from sim.rng.streams import Streams
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario

EPISODE = {"dist": "fixed", "value": 3}
ROOMY = {
    "acute.beds": 90,
    "community.p1.places": 20,
    "community.p2.places": 20,
    "community.p3.places": 15,
}
"""Enough places that the small system admits patients throughout (it gridlocks without)."""
CHANGE_DAY = dt.date(2016, 5, 16)
"""A Monday inside the small system's run (2016-03-15 to 2016-07-04)."""


def dated(*changes: dict[str, Any], **base: Any) -> dict[str, Any]:
    """The small system with dated changes: each ``{"from": date, "set": {...}}``."""
    data = small_system(**base)
    data["changes"] = list(changes)
    return data


def _columns(records: list[Record]) -> dict[str, np.ndarray]:
    return {
        name: np.concatenate([r.patients[name] for r in records]) for name in records[0].patients
    }


def test_schedule_probability_and_distribution_change_at_the_date_in_both_engines() -> None:
    data = dated(
        {
            "from": CHANGE_DAY,
            "set": {
                "community.p1.accepts": "every day 20:00-22:00",
                "cohorts.adults.p_admit": 0.92,  # with p_sdec 0.08: nobody goes home
                "cohorts.older.treatment_los_days": {"dist": "fixed", "value": 2},
            },
        }
    )
    params = build_params(Scenario.from_dict(data))
    t0 = params.phase_starts_h[1]
    assert t0 == params.calendar.hours_at(CHANGE_DAY)
    P = _columns(assert_identical(params, reps=2))  # identical patient for patient

    # the schedule: P1 places taken within Mon-Fri 09:00-17:00 before, 20:00-22:00 after
    p1 = (P["pathway"] == 1) & (P["comm_start"] > 0)
    start = np.where(p1, P["comm_start"], 0.0)
    hour_of_week = (params.calendar.week_offset_h + np.floor(start + 1e-9).astype(int)) % 168
    office = np.array(Schedule.parse("Mon-Fri 09:00-17:00").open_hours)
    evening = np.array(Schedule.parse("every day 20:00-22:00").open_hours)
    before, after = p1 & (start < t0), p1 & (start >= t0)
    assert before.sum() > 20
    assert after.sum() > 20
    assert office[hour_of_week[before]].all()
    assert evening[hour_of_week[after]].all()

    # the probability: by the phase the patient arrived in, whenever the decision falls
    adults = (P["cohort"] == 1) & (P["origin"] == Origin.ED) & ~np.isnan(P["ed_decision"])
    home = P["ed_outcome"] == EdOutcome.HOME
    arrived_after = P["t_arrival"] >= t0
    assert not (adults & arrived_after & home).any()
    assert (adults & ~arrived_after & home).mean() / (adults & ~arrived_after).mean() > 0.6
    straddles = adults & ~arrived_after & (P["ed_decision"] >= t0)
    assert (straddles & home).any()  # decided after the date, on the old probability

    # the distribution: by the moment the stay starts
    older = (P["cohort"] == 0) & (P["origin"] != Origin.INITIAL) & ~np.isnan(P["t_fit"])
    stay = P["t_fit"] - P["bed_start"]
    started_after = P["bed_start"] >= t0
    assert (older & started_after).sum() > 50
    np.testing.assert_allclose(stay[older & started_after], 48.0, rtol=0, atol=1e-9)
    old_stays = stay[older & ~started_after]
    assert (np.abs(old_stays - 48.0) > 1e-6).all()
    assert ((P["bed_start"] < t0) & (P["t_fit"] > t0) & older).any()  # kept the old stay


def test_a_pathway_mix_applies_to_patients_arriving_after_it() -> None:
    """From the date no older patient needs P3 (their share goes to P1); one who arrived
    before keeps the old mix whenever they become fit; a P1 episode under the new
    distribution is one that starts after the date."""
    data = dated(
        {
            "from": CHANGE_DAY,
            "set": {
                "cohorts.older.pathway": {"p0": 0.6, "p1": 0.3, "p2": 0.1},
                "community.p1.episode_days": {"dist": "fixed", "value": 5},
            },
        },
        **ROOMY,
    )
    params = build_params(Scenario.from_dict(data))
    t0 = params.phase_starts_h[1]
    P = _columns(assert_identical(params, reps=2))
    older = (P["cohort"] == 0) & (P["origin"] != Origin.INITIAL) & (P["pathway"] >= 0)
    after, before = older & (P["t_arrival"] >= t0), older & (P["t_arrival"] < t0)
    assert not (after & (P["pathway"] == 3)).any()  # the new mix has no P3
    assert (before & (P["pathway"] == 3)).any()
    assert after.sum() > 200
    late_fit = before & (P["t_fit"] >= t0) & (P["pathway"] == 3)
    assert late_fit.any()  # fit after the date, on the mix they arrived under
    p1 = (P["pathway"] == 1) & ~np.isnan(P["comm_end"])
    episode = P["comm_end"] - P["comm_start"]
    new = p1 & (P["comm_start"] >= t0)
    assert new.sum() > 20
    np.testing.assert_allclose(episode[new], 120.0, rtol=0, atol=1e-9)
    assert (np.abs(episode[p1 & (P["comm_start"] < t0)] - 120.0) > 1e-6).all()


def test_capacity_changes_never_evict_and_hold_from_the_date() -> None:
    data = dated(
        {"from": CHANGE_DAY, "set": {"acute.beds": 40, "ed.cubicles": 5, "sdec.chairs": 4}},
        {"from": dt.date(2016, 6, 13), "set": {"acute.beds": 70}},
    )
    params = build_params(Scenario.from_dict(data))
    records = assert_identical(params, reps=2)
    t0, t1 = params.phase_starts_h[1:]
    for record in records:
        beds = record.capacity["acute"]
        assert beds.times_h.tolist() == [0.0, t0, t1]
        assert beds.values.tolist() == [60.0, 40.0, 70.0]
        assert record.capacity["ed"].values.tolist() == [8.0, 5.0]
        assert record.capacity["sdec"].values.tolist() == [2.0, 4.0]
    # nobody is moved out of a bed at the cut: more stay in beds than there are, and drain
    P = _columns(records[:1])
    end = np.where(np.isnan(P["bed_end"]), np.inf, P["bed_end"])
    in_bed_at_cut = int(((P["bed_start"] < t0) & (end > t0)).sum())
    assert in_bed_at_cut > 40
    admitted_after = P["bed_start"][(P["bed_start"] >= t0) & (P["bed_start"] < t1)]
    left_after = np.sort(end[(P["bed_start"] < t0) & (end > t0)])
    # the first admission after the cut waits for the occupancy to fall below 40
    assert admitted_after.min() >= left_after[in_bed_at_cut - 40] - 1e-9


def test_a_later_change_back_reuses_the_first_draws() -> None:
    """A duration drawn under two distributions comes from the same underlying numbers, and
    a change back to the first distribution reads the first draws again."""
    scaled = {"dist": "lognormal", "mean": 10, "sd": 12}  # the older cohort's, doubled
    first = small_system()["cohorts"]["older"]["treatment_los_days"]
    data = dated(
        {"from": CHANGE_DAY, "set": {"cohorts.older.treatment_los_days": scaled}},
        {"from": dt.date(2016, 6, 13), "set": {"cohorts.older.treatment_los_days": first}},
    )
    params = build_params(Scenario.from_dict(data))
    rows = versions(params)
    assert rows.row[Attr.LOS_H].tolist() == [Attr.LOS_H, rows.n_rows - 1, Attr.LOS_H]
    table = draw_attributes(params, params.cohorts[0], "ed", Streams(5, 0), 500, rows=rows)
    old, new = table[Attr.LOS_H], table[rows.row[Attr.LOS_H, 1]]
    # lognormal: doubling mean and sd doubles every draw of the same normal
    np.testing.assert_allclose(new, 2 * old, rtol=1e-12)
    plain = build_params(Scenario.from_dict(small_system()))
    unchanged = draw_attributes(plain, plain.cohorts[0], "ed", Streams(5, 0), 500)
    np.testing.assert_array_equal(unchanged, table[: len(Attr)])  # adding a change shifts none


def test_a_starting_state_above_capacity_drains_before_anyone_is_admitted() -> None:
    data = small_system(**{"run.warm_up_days": 0, "initial_state.acute_treating": 75})
    params = build_params(Scenario.from_dict(data))
    P = _columns(assert_identical(params, reps=2))  # both engines check every invariant
    admitted = (P["origin"] != Origin.INITIAL) & ~np.isnan(P["bed_start"])
    first_in = float(P["bed_start"][admitted].min())
    initial_out = np.sort(P["bed_end"][(P["origin"] == Origin.INITIAL) & ~np.isnan(P["bed_end"])])
    # with 75 in 60 beds, the 16th initial patient must leave before the first admission
    assert first_in >= initial_out[15] - 1e-9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run.seed": 3}, "changes[0] (from 2016-05-16): run.seed says how to run"),
        (
            {"cohorts.older.pathway.p1": 0.3},
            "cohorts.older.pathway: pathway shares must sum to 1",
        ),
        ({"acute.bedz": 3}, "acute.bedz is not a known key (did you mean 'beds'?)"),
        ({"acute.beds": -3}, "acute.beds must be >= 0, got -3"),
        ({"community.p1.accepts": "Mon-Fru"}, "community.p1.accepts: cannot read schedule"),
        ({"cohorts.newborn.p_admit": 0.3}, "cohorts.newborn.p_admit names no cohort"),
        ({"costs.acute_bed_day_gbp": 400}, "costs.acute_bed_day_gbp may change only from 1 April"),
        ({"costs.discount_rate": 0.1}, "costs.discount_rate is how the whole run is discounted"),
        (
            {"sdec.refused_stay": "sdec"},
            "sdec.refused_stay is how the whole run treats a referral that finds SDEC closed",
        ),
        (
            {"cohorts.older.treatment_los_days_by_pathway.p1": EPISODE},
            "cohorts.older.treatment_los_days_by_pathway.p1 cannot change at a date (yet)",
        ),
        (
            {"community.p1": {"places": 3, "cost_basis": "commissioned", "episode_days": EPISODE}},
            "would change community.p1.cost_basis",
        ),
    ],
)
def test_a_bad_change_names_the_file_the_change_the_key_and_the_value(
    change: dict[str, Any], message: str
) -> None:
    data = dated({"from": CHANGE_DAY, "set": change})
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data, source="plan.toml")
    text = str(caught.value)
    assert text.startswith("plan.toml: changes[0] (from 2016-05-16): ")
    assert message in text


def test_change_dates_must_increase_and_a_capacity_is_dated_in_one_place() -> None:
    data = dated(
        {"from": CHANGE_DAY, "set": {"acute.beds": 50}},
        {"from": CHANGE_DAY, "set": {"acute.beds": 55}},
    )
    with pytest.raises(ScenarioError, match=r"changes\[1\]\.from must come after"):
        Scenario.from_dict(data, source="plan.toml")
    twice = dated(
        {"from": CHANGE_DAY, "set": {"acute.beds": 50}},
        **{"acute.capacity_changes": [{"date": "2016-06-01", "beds": 45}]},
    )
    with pytest.raises(ScenarioError, match="acute.beds must not change at a date while"):
        Scenario.from_dict(twice, source="plan.toml")


def test_a_change_before_the_run_holds_from_the_start_and_one_after_it_never() -> None:
    early = Scenario.from_dict(dated({"from": dt.date(2015, 1, 1), "set": {"acute.beds": 50}}))
    params = build_params(early)
    assert params.n_phases == 1
    assert params.beds.values.tolist() == [50.0]
    late = Scenario.from_dict(dated({"from": dt.date(2030, 1, 1), "set": {"acute.beds": 50}}))
    assert build_params(late).beds.values.tolist() == [60.0]


def test_an_override_holds_for_the_whole_run() -> None:
    plan = Scenario.from_dict(
        dated({"from": CHANGE_DAY, "set": {"acute.beds": 40, "sdec.chairs": 4}})
    )
    beds = build_params(plan.override({"acute.beds": 70}))
    assert beds.beds.values.tolist() == [70.0]  # the change no longer sets it
    assert beds.sdec_chairs.values.tolist() == [2.0, 4.0]  # but still sets the rest
    assert plan.override({"acute": {"beds": 70}}).changes[0].values == {"sdec.chairs": 4}
    assert build_params(plan.override({"acute": {"beds": 70}})).beds.values.tolist() == [70.0]
    assert build_params(plan.override({"sdec.chairs": 2, "acute.beds": 60})).n_phases == 1


def test_a_file_changes_its_parents_change_on_the_same_date(tmp_path) -> None:
    from sim.scenario.schema import load_scenario

    parent = tmp_path / "plan.toml"
    parent.write_text(
        'extends = "' + str(ROOT / "configs" / "baseline.toml") + '"\n'
        "[[changes]]\nfrom = 2016-06-01\n"
        'set = { "sdec.chairs" = 20, "community.p1.accepts" = "24/7" }\n'
    )
    child = tmp_path / "variant.toml"
    child.write_text(
        'extends = "plan.toml"\n'
        "[[changes]]\nfrom = 2016-06-01\n"
        'set = { "community.p1.accepts" = "Mon-Fri 09:00-17:00" }\n'
        "[[changes]]\nfrom = 2016-05-01\n"
        'set = { "acute.discharge_hours" = "24/7" }\n'
    )
    changes = load_scenario(child).changes
    assert [c.from_date for c in changes] == [dt.date(2016, 5, 1), dt.date(2016, 6, 1)]
    assert changes[1].values == {"sdec.chairs": 20, "community.p1.accepts": "Mon-Fri 09:00-17:00"}


def test_unit_costs_change_from_a_financial_years_first_day() -> None:
    """A bed day at 346 in 2016/17 and 400 from 1 April 2017: each year's cost at its price,
    the whole run their sum (worked from the delayed bed days' own cost, which stays)."""
    import sim

    data = dated(
        {"from": dt.date(2017, 4, 1), "set": {"costs.delayed_bed_day_gbp": 500}},
        **{"run.start_date": "2016-04-01", "run.warm_up_days": 20, "run.horizon_years": 2},
    )
    results = sim.run_experiment([Scenario.from_dict(data)], reps=1, seed=3, drift=False)
    m = results.replications.pivot_table(index="metric", columns="period", values="value")
    delayed = m.loc["delayed_bed_days"]
    cost = m.loc["cost_delayed_bed_days"]
    assert delayed["2016/17"] > 0
    assert delayed["2017/18"] > 0
    assert cost["2016/17"] == pytest.approx(346 * delayed["2016/17"], rel=1e-12)
    assert cost["2017/18"] == pytest.approx(500 * delayed["2017/18"], rel=1e-12)
    assert cost["all"] == pytest.approx(cost["2016/17"] + cost["2017/18"], rel=1e-12)
    # another day than 1 April is refused, naming the change
    data["changes"][0]["from"] = dt.date(2017, 5, 1)
    with pytest.raises(
        ScenarioError, match=r"costs.delayed_bed_day_gbp may change only from 1 Apr"
    ):
        Scenario.from_dict(data, source="plan.toml")
