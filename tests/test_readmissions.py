"""30-day emergency readmissions as the NHS counts them (``p_readmit_30d``).

From leaving the acute bed (P1-P3 too, not the end of the community episode), within
30 days, straight to the bed queue, counted in ``admissions_nhs``; re-attendance
(``p_readmit``) stays its own flow. The configured rate is checked on the record
against a binomial interval; both engines give the same patients.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small_system
from test_fast_engine import _column, _run, assert_identical

from sim.codes import Origin
from sim.errors import ScenarioError
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario

RISK = {"p0": 0.137, "p1": 0.2, "p2": 0.1, "p3": 0.05}
"""p0: the 13.7% 30-day emergency readmission rate (figures.md); the others [assumption]."""


def _scenario(**more: object) -> Scenario:
    return Scenario.from_dict(
        small_system(
            **{
                "run.horizon_years": 0.3,
                "run.warm_up_days": 5,
                "acute.beds": 120,
                "cohorts.older.p_readmit_30d": RISK,
                "cohorts.adults.p_readmit_30d": {"p0": RISK["p0"]},
                **more,
            }
        )
    )


def test_emergency_readmissions_give_identical_patients() -> None:
    records = assert_identical(build_params(_scenario()), seed=4, reps=2)
    flag = _column(records, "readmission_30d")
    assert flag.sum() > 100
    assert (_column(records, "origin")[flag] == Origin.READMISSION).all()
    assert np.isnan(_column(records, "ed_arrival")[flag]).all()  # never through A&E
    assert (~np.isnan(_column(records, "bed_request")[flag])).all()


def test_the_30_day_rate_from_the_record_is_the_configured_one() -> None:
    params = build_params(_scenario())
    records, tables = _run("fast", params, 9, list(range(8)))
    end = params.calendar.end_h
    for k, p in ((0, RISK["p0"]), (1, RISK["p1"])):
        left = n_back = 0
        for r in records:
            P = r.patients
            # discharges by pathway k whose 30 days end inside the run, of the older cohort
            out = (
                (P["pathway"] == k)
                & (P["cohort"] == 0)
                & (P["bed_end"] < end - 30 * 24)
                & (P["origin"] != Origin.INITIAL)
            )
            rows = np.flatnonzero(out)
            children = P["parent"][P["readmission_30d"]]
            back = np.isin(rows, children)
            gap = P["t_arrival"][P["readmission_30d"]] - P["bed_end"][children]
            assert (gap >= 0).all()
            assert (gap <= 30 * 24 + 1e-9).all()  # within 30 days
            left += len(rows)
            n_back += int(back.sum())
        rate = n_back / left
        half = 3.29 * math.sqrt(p * (1 - p) / left)  # a 99.9% binomial interval
        assert left > 300
        assert abs(rate - p) < half, (k, rate, p, left)
    m = tables.metrics
    rows = m[m["period"] == "all"].set_index(["replication", "metric"])["value"]
    for rep in (0, 1, 2):
        n = rows[(rep, "readmissions_30d")]
        assert n > 0
        assert rows[(rep, "readmissions")] == n + rows[(rep, "reattendances")]


def test_emergency_readmissions_are_admissions_not_attendances() -> None:
    unlimited = {"acute.beds": "unlimited"}  # each readmission takes a bed as it arrives
    none = {"cohorts.older.p_readmit_30d": {}, "cohorts.adults.p_readmit_30d": {}}
    without, with_ = (
        _run("fast", build_params(s), 9, [0])[1].metrics
        for s in (_scenario(**unlimited, **none), _scenario(**unlimited))
    )

    def value(m, name):
        return float(m[(m["period"] == "all") & (m["metric"] == name)]["value"].iloc[0])

    n = value(with_, "readmissions_30d")
    assert value(without, "readmissions_30d") == 0
    # the same new patients (own streams); the readmissions come on top, as admissions (less
    # those still waiting at the end; more for the re-attendances they make in turn)
    assert value(with_, "attendances_would_be") == value(without, "attendances_would_be")
    extra = value(with_, "admissions_nhs") - value(without, "admissions_nhs")
    assert extra >= 0.9 * n
    assert value(with_, "reattendances") == pytest.approx(value(without, "reattendances"), rel=0.2)


def test_a_readmission_delay_beyond_30_days_is_refused() -> None:
    with pytest.raises(ScenarioError, match="emergency_delay_days must stay within 30 days"):
        _scenario(**{"readmission.emergency_delay_days": {"dist": "uniform", "low": 0, "high": 40}})
