"""Case mix (issue #11 item 6): an avoidable sub-cohort, and SDEC referrals that wait for it
to open.

``cohorts.X.avoidable = { share, p_admit, treatment_los_days }`` makes a share of a cohort's
new would-be attendances avoidable-type patients with their own admission probability and
stay; avoidance takes only from them, and the rest of the cohort's probability and stay are
derived so the whole cohort keeps its own (docs/model.md, "Case mix").
``sdec.refused_stay = "wait"`` sends a referral that finds SDEC closed home, to come back
when it opens and take a chair first come, first served. The checks: both engines give the
same patients on scenarios using each (and both); a sub-cohort that changes nothing gives
today's record; the admitted share and the stays of each type against their parameters; a
referral made while SDEC is closed starts at its next opening; errors name key and value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DETERMINISTIC, small_system
from test_engine import UNLIMITED_EVERYWHERE, record_of
from test_fast_engine import _column, _run, assert_identical

from sim.codes import EdOutcome, Origin
from sim.errors import ScenarioError
from sim.model.demand import Attr, draw_attributes
from sim.model.record import COLUMNS
from sim.rng.streams import Streams
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario, load_scenario, rest_los_scale, rest_p_admit

SHORT = {"run.horizon_years": 0.12, "run.warm_up_days": 5}
SUB_COHORT: dict[str, Any] = {
    "cohorts.older.avoidable": {
        "share": 0.3,
        "p_admit": 0.3,
        "treatment_los_days": {"dist": "lognormal", "mean": 3, "sd": 3},
    },
    "cohorts.older.avoidable_share": 0.15,
    "community.urgent_response.places": 4,
}
WAIT: dict[str, Any] = {"sdec.refused_stay": "wait", "sdec.chairs": 1, "sdec.p_admit": 0.3}


def _scenario(**changes: Any) -> Scenario:
    return Scenario.from_dict(small_system(**{**SHORT, "acute.beds": 55, **changes}))


@pytest.mark.parametrize(
    "changes",
    [
        SUB_COHORT,
        {  # with a dated change of the cohort's admission probability and stay
            **SUB_COHORT,
            "changes": [
                {
                    "from": "2016-05-01",
                    "set": {
                        "cohorts.older.p_admit": 0.45,
                        "cohorts.older.treatment_los_days": {"dist": "gamma", "mean": 6, "sd": 5},
                    },
                }
            ],
        },
        WAIT,
        {**SUB_COHORT, **WAIT, "ed.cubicles": 6, "ed.boarding_holds_cubicle": True},
    ],
    ids=["sub_cohort", "sub_cohort_dated", "sdec_wait", "both"],
)
def test_case_mix_gives_identical_patients(changes: dict[str, Any]) -> None:
    records = assert_identical(build_params(_scenario(**changes)), seed=7, reps=2)
    new = _column(records, "origin") == Origin.ED
    kind = _column(records, "avoidable_type")
    if "cohorts.older.avoidable" in changes:
        older = new & (_column(records, "cohort") == 0)
        assert kind[older].sum() > 100
        assert not kind[new & (_column(records, "cohort") == 1)].any()  # adults have none
        # avoidance takes only avoidable-type patients, and some are lost for want of a place
        avoided = ~np.isnan(_column(records, "ur_start")) & new
        assert avoided.sum() > 20
        assert kind[avoided].all()
        assert kind[_column(records, "avoidable")].all()
    if "sdec.refused_stay" in changes:
        waited = _column(records, "sdec_waited")
        assert waited.sum() > 30
        assert (_column(records, "sdec_refused") & waited).sum() == 0
        # SDEC full while open still admits (the referral does not wait for a chair)
        assert _column(records, "sdec_refused").sum() > 5
        # they left A&E at the decision and took a chair later, at or after an opening
        done = waited & ~np.isnan(_column(records, "sdec_start"))
        decision, start = _column(records, "ed_decision"), _column(records, "sdec_start")
        assert (_column(records, "ed_departure")[waited] == decision[waited]).all()
        assert (start[done] > decision[done]).all()


def test_a_sub_cohort_that_changes_nothing_gives_todays_patients() -> None:
    """A sub-cohort with the cohort's own admission probability and a fixed stay equal to the
    cohort's: the rest keep the cohort's values (factor 1), so every patient is as without it
    (the type uniform is the avoidance uniform, drawn either way); only the new flag differs."""
    fixed = {"dist": "fixed", "value": 2.5}
    base = {
        "cohorts.older.treatment_los_days": fixed,
        "cohorts.older.avoidable_share": 0.2,
        "acute.beds": 50,
    }
    same = {"share": 0.4, "p_admit": 0.5, "treatment_los_days": fixed}
    before, _ = record_of(small_system(**base))
    after, params = record_of(small_system(**base, **{"cohorts.older.avoidable": same}))
    assert params.cohorts[0].rest_los_scale == 1.0
    assert params.cohorts[0].p_admit_by_type == (0.5, 0.5)
    for column in COLUMNS:
        if column != "avoidable_type":
            np.testing.assert_array_equal(before[column], after[column], err_msg=column)
    assert after["avoidable_type"].sum() > before["avoidable_type"].sum() > 0


def test_default_scenarios_leave_the_new_columns_unset() -> None:
    record, _ = record_of(small_system(**SHORT))
    assert not record["sdec_waited"].any()
    # without a sub-cohort the avoidable-type patients are the planned avoidances
    np.testing.assert_array_equal(record["avoidable_type"], record["avoidable"])


def test_each_type_is_admitted_and_stays_as_its_parameters_say() -> None:
    """With unlimited capacity: the admitted share of each type's attendances is its admission
    probability within a binomial 4-sd band, the rest's derived so the cohort keeps 0.5; the
    stays are the sub-cohort's own and the cohort's times the derived factor, exactly."""
    share, sub_admit, p_admit, los, sub_los = 0.4, 0.3, 0.5, 5.0, 1.0
    data = small_system(**UNLIMITED_EVERYWHERE)
    older = data["cohorts"]["older"]
    older.update(
        p_admit=p_admit,
        avoidable_share=0.0,
        treatment_los_days={"dist": "fixed", "value": los},
        avoidable={
            "share": share,
            "p_admit": sub_admit,
            "treatment_los_days": {"dist": "fixed", "value": sub_los},
        },
        treatment_los_days_by_pathway={},
    )
    record, params = record_of(data)
    new = (record["origin"] == Origin.ED) & (record["cohort"] == 0)
    decided = new & (record["ed_outcome"] != EdOutcome.NONE)
    admitted = record["ed_outcome"] == EdOutcome.ADMIT
    kind = record["avoidable_type"]
    rest = rest_p_admit(p_admit, share, sub_admit)
    assert rest == pytest.approx((0.5 - 0.12) / 0.6)
    for chosen, p in ((kind, sub_admit), (~kind, rest), (np.ones_like(kind), p_admit)):
        group = decided & chosen
        n = int(group.sum())
        assert n > 300
        assert abs(admitted[group].mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert abs(kind[new].mean() - share) < 4 * np.sqrt(share * (1 - share) / new.sum())
    stay = (record["t_fit"] - record["bed_start"]) / 24
    in_bed = new & admitted & ~np.isnan(record["t_fit"])
    scale = rest_los_scale(p_admit, los, share, sub_admit, sub_los)
    assert scale == pytest.approx((2.5 - 0.12) / (0.38 * 5))
    assert np.allclose(stay[in_bed & kind], sub_los)
    assert np.allclose(stay[in_bed & ~kind], los * scale)
    # the cohort's mean stay of an admission (analytic: the mixture keeps 5 days)
    mean = (sub_admit * share * sub_los + rest * (1 - share) * los * scale) / p_admit
    assert mean == pytest.approx(los)
    # re-attendances and direct admissions keep the cohort's values
    others = (record["cohort"] == 0) & (record["origin"] == Origin.DIRECT)
    others &= ~np.isnan(record["t_fit"])
    assert others.sum() > 50
    assert np.allclose(stay[others], los)


def test_the_rest_keeps_the_cohort_mean_when_pathways_have_their_own_stays() -> None:
    """With ``treatment_los_days_by_pathway``, P1's own stay is not rescaled, so the factor on
    the others' stay is solved over pathways. By hand: shares p0 0.6, p1 0.25, p2 0.1, p3
    0.05; P1 stays 10 days, the rest of the pathways 2; the cohort's mean M = 0.75 x 2 + 0.25
    x 10 = 4. The sub-cohort (share 0.4, p_admit 0.3, 1 day) leaves the rest p_admit 0.38
    (of the 0.5) and the factor (0.5 x 4 - 0.4 x 0.3 x 1 - 0.38 x 0.25 x 10) / (0.38 x 0.75 x
    2) = 0.93 / 0.57. On the record every stay is its type's and pathway's, exactly."""
    share, sub_admit, p_admit = 0.4, 0.3, 0.5
    data = small_system(**UNLIMITED_EVERYWHERE)
    older = data["cohorts"]["older"]
    older.update(
        p_admit=p_admit,
        avoidable_share=0.0,
        treatment_los_days={"dist": "fixed", "value": 2.0},
        treatment_los_days_by_pathway={"p1": {"dist": "fixed", "value": 10.0}},
        avoidable={
            "share": share,
            "p_admit": sub_admit,
            "treatment_los_days": {"dist": "fixed", "value": 1.0},
        },
    )
    record, params = record_of(data)
    scale = params.phase(0).cohorts[0].rest_los_scale
    assert scale == pytest.approx(0.93 / 0.57)
    rest = p_admit - share * sub_admit
    mean = share * sub_admit * 1.0 + rest * (0.75 * 2.0 * scale + 0.25 * 10.0)
    assert mean == pytest.approx(p_admit * 4.0)  # the cohort's admitted mean stay, kept
    new = (record["origin"] == Origin.ED) & (record["cohort"] == 0)
    admitted = new & (record["ed_outcome"] == EdOutcome.ADMIT) & ~np.isnan(record["t_fit"])
    stay = (record["t_fit"] - record["bed_start"]) / 24
    kind, p1 = record["avoidable_type"], record["pathway"] == 1
    for chosen, value in ((kind, 1.0), (~kind & p1, 10.0), (~kind & ~p1, 2.0 * scale)):
        assert (admitted & chosen).sum() > 30
        assert np.allclose(stay[admitted & chosen], value)


def test_bed_days_per_avoidable_attendance_follows_the_sub_cohort() -> None:
    """The metric of what an avoidance saves: the bed days of avoidable-type attendances,
    per attendance, on the record (p_admit x stay, analytic with fixed stays)."""
    data = small_system(**UNLIMITED_EVERYWHERE, **{"run.horizon_years": 0.5})
    data["cohorts"]["older"].update(
        avoidable_share=0.0,
        treatment_los_days={"dist": "fixed", "value": 5.0},
        treatment_los_days_by_pathway={},
        avoidable={
            "share": 0.4,
            "p_admit": 0.3,
            "treatment_los_days": {"dist": "fixed", "value": 1.0},
        },
    )
    data["sdec"]["p_admit"] = 0.0
    params = build_params(Scenario.from_dict(data))
    _, tables = _run("fast", params, 3, [0, 1])
    m = tables.metrics
    per = m[(m.metric == "bed_days_per_avoidable_attendance") & (m.period == "all")]["value"]
    n = m[(m.metric == "avoidable_attendances") & (m.period == "all")]["value"]
    assert (n > 300).all()
    # p_admit x stay, within 4 binomial sd of the admitted share (times the stay)
    band = 4 * np.sqrt(0.3 * 0.7 / n.to_numpy()) * 1.0
    assert (np.abs(per.to_numpy() - 0.3 * 1.0) < band).all()


def test_a_referral_made_while_sdec_is_closed_starts_at_its_next_opening() -> None:
    """Deterministic: unlimited chairs open 08:00-20:00; a referral decided in closed hours
    (22:00, say) leaves A&E at the decision and starts SDEC at the next opening hour; one in
    open hours starts at once; nobody is admitted for want of SDEC."""
    data = small_system(**{**DETERMINISTIC, "sdec.refused_stay": "wait"})
    record, params = record_of(data)
    referred = record["ed_outcome"] == EdOutcome.SDEC
    decision, start = record["ed_decision"], record["sdec_start"]
    open_by_hour = params.sdec_open_by_hour
    started = referred & ~np.isnan(start)
    assert started.sum() > 100
    assert not record["sdec_refused"].any()
    closed_at = ~open_by_hour[np.floor(decision[started] + 1e-7).astype(int)]
    assert 20 < closed_at.sum() < started.sum()
    for t, s, closed in zip(decision[started], start[started], closed_at, strict=True):
        if closed:  # the first open whole hour after the decision
            nxt = int(np.floor(t)) + 1
            while not open_by_hour[nxt]:
                nxt += 1
            assert s == nxt
            assert nxt % 24 == 8
        else:
            assert s == t
    np.testing.assert_array_equal(record["sdec_waited"][started], closed_at)
    assert (record["ed_departure"][started] == decision[started]).all()
    # 22:00 by hand: the opening is 10 hours later
    at_ten = started & (np.floor(decision) % 24 == 22)
    assert at_ten.any()
    assert (np.floor(start[at_ten]) - np.floor(decision[at_ten]) == 10).all()


def test_sdec_wait_metrics() -> None:
    data = small_system(**{**DETERMINISTIC, "sdec.refused_stay": "wait"})
    params = build_params(Scenario.from_dict(data))
    records, tables = _run("simpy", params, 1, [0])
    m = tables.metrics
    row = m[(m.metric == "sdec_waited") & (m.period == "all")]["value"].iloc[0]
    hours = m[(m.metric == "sdec_wait_mean_hours") & (m.period == "all")]["value"].iloc[0]
    record = records[0]
    warm = params.calendar.warm_up_h
    seen = record["sdec_waited"] & (record["ed_arrival"] >= warm)
    assert row == seen.sum() > 10
    done = seen & ~np.isnan(record["sdec_start"])
    assert hours == pytest.approx(np.mean((record["sdec_start"] - record["ed_decision"])[done]))
    assert 0 < hours <= 12


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"cohorts.older.avoidable": {**SUB_COHORT["cohorts.older.avoidable"], "share": 1}},
            r"cohorts\.older\.avoidable\.share must be < 1, got 1",
        ),
        (
            {**SUB_COHORT, "cohorts.older.avoidable_share": [0.1, 0.35]},
            r"cohorts\.older\.avoidable_share must be <= avoidable\.share \(0\.3\)",
        ),
        (
            {
                "cohorts.older.avoidable": {
                    "share": 0.5,
                    "p_admit": 0.5,
                    "treatment_los_days": {"dist": "fixed", "value": 12},
                }
            },
            r"cohorts\.older\.avoidable\.treatment_los_days\.mean has a mean whose bed days .* "
            r"got 12",
        ),
        (
            {"cohorts.older.avoidable": {**SUB_COHORT["cohorts.older.avoidable"], "p_admit": 0.95}},
            r"cohorts\.older\.avoidable\.p_admit must be <= 1 - p_sdec \(0\.9\), got 0\.95",
        ),
        (
            {
                **SUB_COHORT,
                "changes": [
                    {
                        "from": "2016-05-01",
                        "set": {"cohorts.older.avoidable": SUB_COHORT["cohorts.older.avoidable"]},
                    }
                ],
            },
            r"cohorts\.older\.avoidable cannot change at a date",
        ),
        ({"sdec.refused_stay": "later"}, r"sdec\.refused_stay .*'later'"),
    ],
    ids=["share_one", "plan_above_sub_cohort", "stay_too_long", "outcomes", "dated", "stay"],
)
def test_bad_case_mix_is_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        _scenario(**changes)


def test_the_case_study_sub_cohort_gives_identical_patients_and_keeps_the_cohort() -> None:
    path = Path(__file__).parents[1] / "experiments" / "left_shift" / "case_mix.toml"
    scenario = load_scenario(path).override(
        {"run.horizon_years": 0.08, "run.warm_up_days": 0, "run.start_date": "2017-03-20"}
    )
    params = build_params(scenario)
    for phase in range(params.n_phases):  # the plan's p_admit changes on 2017-04-01
        frail = params.phase(phase).cohorts[0]
        sub, rest = frail.p_admit_by_type
        assert 0.35 * sub + 0.65 * rest == pytest.approx(frail.p_admit)
    records = assert_identical(params, seed=2, reps=1)
    assert _column(records, "avoidable_type").sum() > 300


def test_a_sub_cohort_draws_only_its_own_streams() -> None:
    """Setting a sub-cohort draws its stay (``los_avoidable``) and the avoidance uniform and
    urgent-response episode even where the plan's share is 0; every other draw of the table
    is what it was, and a cohort without one draws neither (old scenarios are unchanged)."""
    plain = {"cohorts.older.avoidable_share": 0.0}
    with_sub = {**plain, "cohorts.older.avoidable": SUB_COHORT["cohorts.older.avoidable"]}
    tables = []
    for changes in (plain, with_sub):
        params = build_params(_scenario(**changes))
        older = params.cohorts[0]
        tables.append(draw_attributes(params, older, "ed", Streams(5, 0), n=500))
    before, after = tables
    own = [Attr.U_AVOID, Attr.UR_EPISODE_H, Attr.LOS_AVOIDABLE_H]
    assert (before[Attr.U_AVOID] == 1.0).all()  # not drawn: never below a share
    assert (before[Attr.LOS_AVOIDABLE_H] == 0.0).all()
    share = (after[Attr.U_AVOID] < 0.3).mean()  # binomial, 500 draws: 4 sd is 0.08
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 500)
    assert (after[Attr.LOS_AVOIDABLE_H] > 0).all()
    others = [row for row in range(before.shape[0]) if row not in own]
    np.testing.assert_array_equal(before[others], after[others])
