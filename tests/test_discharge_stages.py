"""Staged discharge for P1-P3 (``[discharge]``): assessment, then brokerage, then the service.

Each stage is a pool of cases with its own capacity, working hours and a duration in
working hours (docs/model.md, "Staged discharge"). The checks here are on the
per-patient record: both engines give the same patients on scenarios that queue at
every stage; no case starts or ends outside its stage's hours; stages open 24/7, unlimited
and with no duration give today's single-stage results exactly; delay by stage adds up to
the delayed bed days.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import small_system
from test_fast_engine import _column, _differences, _run, assert_identical

from sim.errors import ScenarioError
from sim.model import rules
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario

SHORT = {"run.horizon_years": 0.12, "run.warm_up_days": 5}
EVENING = "every day 08:00-20:00"
OFFICE = "Mon-Fri 09:00-17:00"


def _staged(**more: Any) -> dict[str, Any]:
    """The small system with capacity-limited stages of their own hours and durations."""
    return small_system(
        **{
            **SHORT,
            "acute.beds": 90,
            "discharge.assessment": {
                "capacity": 2,
                "hours": EVENING,
                "duration_hours": {"dist": "exponential", "mean": 3},
            },
            "discharge.brokerage": {
                "capacity": 1,
                "hours": OFFICE,
                "duration_hours": {"dist": "gamma", "mean": 2, "sd": 1.5},
            },
            **more,
        },
    )


def _open_at(t: np.ndarray, open_by_hour: np.ndarray) -> np.ndarray:
    hour = np.minimum(np.floor(t + 1e-7).astype(np.int64), len(open_by_hour) - 1)
    return open_by_hour[hour]


def test_working_end_stops_the_clock_while_closed() -> None:
    # open 9-17 each day of a two-day run: 3 working hours from 16:00 end at 11:00 next day
    day = [0] * 9 + [1] * 8 + [0] * 7
    hours = day * 2
    assert rules.working_end(16.0, 3.0, hours) == 24 + 11.0
    assert rules.working_end(10.0, 2.5, hours) == 12.5  # no closed hour intervenes
    assert rules.working_end(16.5, 0.5, hours) == 17.0  # ends at the close itself
    assert rules.working_end(10.0, 0.0, hours) == 10.0
    # past the run's end: one working hour to 17:00, the rest from the start of its last hour
    assert rules.working_end(40.0, 100.0, hours) == 47 + (100 - 1)


def test_stages_that_queue_give_identical_patients_and_keep_their_hours() -> None:
    params = build_params(Scenario.from_dict(_staged()))
    records = assert_identical(params, seed=5, reps=2)
    assess_start, assess_end = _column(records, "assess_start"), _column(records, "assess_end")
    broker_start, broker_end = _column(records, "broker_start"), _column(records, "broker_end")
    t_fit = _column(records, "t_fit")
    pathway = _column(records, "pathway")
    on = (pathway >= 1) & ~np.isnan(assess_start)
    assert on.sum() > 50
    # the scenario queues at both stages and waits for their hours
    assert (assess_start[on] > t_fit[on] + 1e-9).sum() > 20
    done = ~np.isnan(broker_start)
    assert (broker_start[done] > assess_end[done] + 1e-9).sum() > 20
    # no case starts outside its stage's hours, nor ends outside them (or at their close)
    assessment, brokerage = params.stages
    assert assessment is not None
    assert brokerage is not None
    for start, end, stage in (
        (assess_start, assess_end, assessment),
        (broker_start, broker_end, brokerage),
    ):
        started = ~np.isnan(start)
        assert _open_at(start[started], stage.open_by_hour).all()
        worked = ~np.isnan(end) & (end > start)
        assert worked.sum() > 20
        assert _open_at(end[worked] - 1e-6, stage.open_by_hour).all()
    # nobody passes brokerage before assessment, nor leaves the bed before brokerage
    bed_end = _column(records, "bed_end")
    gone = done & ~np.isnan(bed_end) & ~np.isnan(broker_end)
    assert (broker_start[done] >= assess_end[done]).all()
    assert (bed_end[gone] >= broker_end[gone]).all()
    # P0 patients pass no stage
    assert np.isnan(assess_start[pathway == 0]).all()


def test_dated_stage_hours_and_capacity_give_identical_patients() -> None:
    data = _staged(
        changes=[
            {
                "from": "2016-05-01",
                "set": {
                    "discharge.brokerage.hours": "every day 09:00-17:00",
                    "discharge.assessment.capacity": 4,
                    "discharge.brokerage.duration_hours": {"dist": "fixed", "value": 1},
                },
            }
        ]
    )
    params = build_params(Scenario.from_dict(data))
    records = assert_identical(params, seed=2, reps=1)
    start = _column(records, "broker_start")
    weekend = (np.floor((start + params.calendar.week_offset_h) / 24) % 7 >= 5) & ~np.isnan(start)
    after = start >= params.phase_starts_h[1]
    assert (weekend & after).sum() > 0  # brokerage works at weekends once the change holds
    assert not (weekend & ~after).any()


def test_open_unlimited_instant_stages_equal_the_single_stage_exactly() -> None:
    base = small_system(**SHORT)
    instant = {"capacity": "unlimited", "hours": "24/7"}
    staged = small_system(
        **SHORT, **{"discharge.assessment": instant, "discharge.brokerage": instant}
    )
    for engine in ("simpy", "fast"):
        one, one_tables = _run(engine, build_params(Scenario.from_dict(base)), 4, [0, 1])
        two, two_tables = _run(engine, build_params(Scenario.from_dict(staged)), 4, [0, 1])
        for a, b in zip(one, two, strict=True):
            assert _differences(a, b, skip=("assess_", "broker_"), live=False) == [], engine
            fit = (b.patients["pathway"] >= 1) & ~np.isnan(b.patients["t_fit"])
            np.testing.assert_array_equal(b.patients["assess_end"][fit], b.patients["t_fit"][fit])
        m1, m2 = one_tables.metrics, two_tables.metrics
        shared = m1[m1["metric"].isin(set(m1["metric"]))]
        merged = shared.merge(m2, on=[c for c in m1.columns if c != "value"], how="left")
        np.testing.assert_array_equal(merged["value_x"].to_numpy(), merged["value_y"].to_numpy())
        # all the delay is waiting for a place; none at the instant stages
        rows = m2[m2["period"] == "all"].set_index(["replication", "metric"])["value"]
        for r in (0, 1):
            assert rows[(r, "delay_assessment_bed_days")] == 0
            assert rows[(r, "delay_place_bed_days")] == pytest.approx(
                rows[(r, "delayed_bed_days")], rel=1e-12
            )
            assert rows[(r, "delay_place_patients")] == rows[(r, "delayed_discharges")]


def test_delay_by_stage_adds_up_to_the_delayed_bed_days() -> None:
    params = build_params(Scenario.from_dict(_staged()))
    _, tables = _run("fast", params, 5, [0, 1])
    rows = tables.metrics[tables.metrics["period"] == "all"].set_index(["replication", "metric"])
    value = rows["value"]
    for r in (0, 1):
        stages = [value[(r, f"delay_{s}_bed_days")] for s in ("assessment", "brokerage", "place")]
        assert min(stages) > 0
        assert sum(stages) == pytest.approx(value[(r, "delayed_bed_days")], rel=1e-9)
        for k in (1, 2, 3):
            by_pathway = sum(
                value[(r, f"delay_{s}_bed_days_p{k}")] for s in ("assessment", "brokerage", "place")
            )
            assert by_pathway == pytest.approx(value[(r, f"delayed_bed_days_p{k}")], rel=1e-9)
        assert value[(r, "delay_brokerage_patients")] > 0


def test_a_change_cannot_add_a_stage() -> None:
    data = small_system(
        changes=[{"from": "2016-05-01", "set": {"discharge.brokerage.hours": "24/7"}}]
    )
    with pytest.raises(ScenarioError, match=r"discharge.brokerage.hours names a discharge stage"):
        Scenario.from_dict(data)


def test_a_bad_stage_value_names_its_key() -> None:
    with pytest.raises(ScenarioError, match=r"discharge\.assessment\.capacity"):
        Scenario.from_dict(small_system(**{"discharge.assessment": {"capacity": -1}}))
    with pytest.raises(ScenarioError, match=r"discharge\.brokerage\.hours"):
        Scenario.from_dict(small_system(**{"discharge.brokerage": {"hours": "Mon-Fri 9-5pm"}}))


def test_a_starting_state_passes_the_stages_in_both_engines_alike() -> None:
    data = _staged(
        **{
            "run.warm_up_days": 0,
            "initial_state": {
                "acute_treating": 30,
                "delayed": {"p1": 6, "p2": 3, "p3": 2},
                "community_in_use": {"p1": 5},
            },
            "cohorts.older.p_readmit_30d": {"p0": 0.137, "p1": 0.2},
        }
    )
    records = assert_identical(build_params(Scenario.from_dict(data)), seed=8, reps=1)
    initial = _column(records, "origin") == 3
    started = initial & ~np.isnan(_column(records, "assess_start"))
    assert started.sum() >= 11  # the delayed patients of the starting state pass them too
    assert _column(records, "readmission_30d").sum() > 10
