"""Every model feature at once, in both engines (issues #9, #11).

Each feature has an exact-parity test of its own; this one runs them together on the small
system, where they interact: exit block (decision times by outcome, boarders holding their
cubicle), SDEC referrals that wait for it to open, an avoidable sub-cohort and its
avoidance, P1-P3 stays by pathway, staged discharge with their own hours, P1 in visits,
escalation beds, 30-day readmissions and re-attendances, and dated changes of beds, staff
and a stage's capacity. The two engines must give the same record, patient for patient, and
the same tables; each feature must be exercised (a count that could be zero is checked
above zero), and the record must pass the invariants.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import small_system
from test_fast_engine import _column, assert_identical

from sim.model.invariants import check
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario


def _everything() -> dict[str, Any]:
    data = small_system(
        **{
            "run.horizon_years": 0.15,
            "run.warm_up_days": 10,
            "ed.cubicles": 6,
            "ed.boarding_holds_cubicle": True,
            "ed.admit_time_to_decision_minutes": {"dist": "lognormal", "mean": 200, "sd": 90},
            "sdec.refused_stay": "wait",
            "sdec.chairs": 2,
            "acute.beds": 46,
            "acute.escalation": {
                "beds": 5,
                "open_at_occupancy": 0.97,
                "open_at_queue": 2,
                "close_below_occupancy": 0.9,
                "review_hours": [8, 14, 20],
            },
            "costs.escalation_bed_day_gbp": 346,
            "discharge.assessment": {
                "capacity": 2,
                "hours": "every day 08:00-20:00",
                "duration_hours": {"dist": "exponential", "mean": 3},
            },
            "discharge.brokerage": {
                "capacity": 1,
                "hours": "Mon-Fri 09:00-17:00",
                "duration_hours": {"dist": "gamma", "mean": 2, "sd": 1.5},
            },
            "community.p1.visits": {"staff": 5, "visits_per_staff_day": 6},
            "changes": [
                {"from": "2016-05-01", "set": {"acute.beds": 42, "community.p1.visits.staff": 7}},
                {"from": "2016-05-20", "set": {"discharge.assessment.capacity": 3}},
            ],
        }
    )
    data["community"]["p1"].pop("places", None)
    older = data["cohorts"]["older"]
    older.update(
        avoidable_share=0.1,
        avoidable={
            "share": 0.3,
            "p_admit": 0.3,
            "treatment_los_days": {"dist": "lognormal", "mean": 2, "sd": 2},
        },
        treatment_los_days_by_pathway={"p1": {"dist": "lognormal", "mean": 8, "sd": 6}},
        p_readmit_30d={"p0": 0.1, "p1": 0.15, "p2": 0.15, "p3": 0.1},
    )
    return data


def test_every_feature_at_once_gives_identical_patients() -> None:
    params = build_params(Scenario.from_dict(_everything()))
    records = assert_identical(params, seed=11, reps=2)
    exercised = {
        "avoidance": _column(records, "avoidable").sum(),
        "avoidable-type attendances": _column(records, "avoidable_type").sum(),
        "SDEC waits": _column(records, "sdec_waited").sum(),
        "30-day readmissions": _column(records, "readmission_30d").sum(),
        "assessments": np.isfinite(_column(records, "assess_start")).sum(),
        "brokerage": np.isfinite(_column(records, "broker_start")).sum(),
        "P1 in visits": (_column(records, "visits_p1") > 0).sum(),
        "escalations": sum(
            int((r.capacity["acute_escalation"].values > 0).sum())  # noqa: PD011
            for r in records
        ),
    }
    idle = [name for name, n in exercised.items() if n == 0]
    assert not idle, f"features not exercised: {idle} ({exercised})"
    for record in records:
        assert check(record) == []
