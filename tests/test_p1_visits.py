"""P1 home care counted in visits a day (``[community.p1.visits]``, issue #11 item 5).

The service delivers staff x visits per staff-day visits a day; each patient needs a
number of visits a day that steps down, one visit at a time at whole days of the
episode, to a floor (docs/model.md, "P1 in visits"). The checks: the step-down rule by
hand; a deterministic run whose starts wait for free visits and are released by step
downs, to the hour; both engines give the same patients on a stochastic scenario whose
queue is busy (with a dated change of the staff); the visits in use, rebuilt from the
record, never pass the capacity and agree with the daily series; one visit a day with as
many visits as places is the place-based service exactly; bad values are named.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from conftest import small_system
from test_fast_engine import _column, _differences, _run, assert_identical

from sim.errors import ScenarioError
from sim.model import rules
from sim.model.invariants import check, visit_events
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario

SHORT = {"run.horizon_years": 0.12, "run.warm_up_days": 5}
IPACS_NEED = {"dist": "gamma", "mean": 4, "sd": 0.5}
"""Initial visits a day: IPACS's 4 (sd 0.5), reference/figures.md "P1 visit intensity"
(a gamma of that mean and sd, as no normal form exists; nearly normal at this shape)."""


def _in_visits(data: dict[str, Any], **visits: Any) -> dict[str, Any]:
    """``data`` with P1 counted in visits instead of places."""
    data = copy.deepcopy(data)
    p1 = data["community"]["p1"]
    p1.pop("places", None)
    p1["visits"] = visits
    return data


def _busy(**more: Any) -> dict[str, Any]:
    """The small system, P1 in visits (36 a day, IPACS needs) and its queue busy."""
    base = small_system(**{**SHORT, "acute.beds": 90, **more})
    return _in_visits(base, staff=6, visits_per_staff_day=6, initial_per_day=IPACS_NEED)


def test_step_down_days_by_hand() -> None:
    # 4 levels (4, 3, 2, 1 a day) over 20 whole days: steps on days 5, 10, 15
    assert [rules.visit_step_day(j, 4, 1, 20) for j in (1, 2, 3, 4)] == [5, 10, 15, -1]
    # a short episode: at most one step a day, none on or after its last day
    assert [rules.visit_step_day(j, 4, 1, 2) for j in (1, 2, 3)] == [1, -1, -1]
    assert rules.visit_step_day(1, 4, 1, 0) == -1
    # at the floor already: no step
    assert rules.visit_step_day(1, 2, 2, 30) == -1
    assert rules.visit_days(8 * 24.0) == 8
    assert rules.visit_days(8 * 24.0 - 1e-9) == 7


def _three_waiting() -> dict[str, Any]:
    """No arrivals; three P1 patients fit at t = 0, each needing 4 visits a day for a fixed
    8-day episode, from a service of 6 visits a day open 24/7."""
    data = small_system(
        **{
            "run.warm_up_days": 0,
            "run.horizon_years": 0.1,
            "cohorts.older.attendances_per_year": 0,
            "cohorts.older.direct_admissions_per_year": 0,
            "cohorts.adults.attendances_per_year": 0,
            "community.p1.accepts": "24/7",
            "community.p1.episode_days": {"dist": "fixed", "value": 8},
            "initial_state": {"acute_treating": 0, "delayed": {"p1": 3}},
        }
    )
    return _in_visits(
        data,
        staff=1,
        visits_per_staff_day=6,
        initial_per_day={"dist": "fixed", "value": 4},
        final_per_day=1,
        max_per_day=4,
    )


def test_starts_wait_for_free_visits_and_step_downs_release_them() -> None:
    params = build_params(Scenario.from_dict(_three_waiting()))
    records = assert_identical(params, seed=1, reps=1)
    p = records[0].patients
    order = np.argsort(p["comm_start"])
    # 4 + 4 > 6: the second waits until the first steps down twice (days 2 and 4 of its
    # 8-day episode, 4 levels: days max(j, 8j // 4)), the third until 6 - 2 - 2 >= 4
    np.testing.assert_array_equal(p["comm_start"][order], [0.0, 96.0, 192.0])
    np.testing.assert_array_equal(p["comm_end"][order], [192.0, 288.0, 384.0])
    np.testing.assert_array_equal(p["bed_end"][order], p["comm_start"][order])
    np.testing.assert_array_equal(p["visits_p1"][order], [4, 4, 4])
    np.testing.assert_array_equal(p["visit_days"][order], [8, 8, 8])
    # the visits a day in use, day by day, as worked out by hand from those steps
    hand = [4, 4, 3, 3, 6, 6, 4, 4, 6, 6, 4, 4, 2, 2, 1, 1, 0, 0]
    for engine in ("simpy", "fast"):
        _, tables = _run(engine, params, 1, [0])
        daily = tables.daily[tables.daily["series"] == "visits_in_use_p1"]["value"].to_numpy()
        np.testing.assert_allclose(daily[: len(hand)], hand, rtol=0, atol=1e-6)
        row = tables.metrics.set_index(["metric", "period"])["value"]
        assert row[("visits_delivered_p1", "all")] == pytest.approx(sum(hand), rel=1e-9)
        assert row[("community_starts_p1", "all")] == 0  # the starting state is not a start
    assert check(records[0]) == []


def test_a_busy_visit_queue_gives_identical_patients_in_both_engines() -> None:
    data = _busy(
        changes=[{"from": "2016-04-25", "set": {"community.p1.visits.staff": 8}}],
    )
    params = build_params(Scenario.from_dict(data))
    records = assert_identical(params, seed=5, reps=2)
    pathway, start = _column(records, "pathway"), _column(records, "comm_start")
    t_fit = _column(records, "t_fit")
    started = (pathway == 1) & ~np.isnan(start)
    assert started.sum() > 80
    waited = start[started] - t_fit[started] > 24.0
    assert waited.sum() > 30  # the queue is busy
    needs = _column(records, "visits_p1")[started]
    assert set(np.unique(needs)) >= {3, 4, 5}  # IPACS's 4, sd 0.5, to whole visits
    # capacity rose with the dated change of staff (36 -> 48 visits a day)
    log = records[0].capacity["p1"]
    np.testing.assert_array_equal(log.values, [36.0, 48.0])
    for record in records:
        assert check(record) == []


def test_visits_in_use_never_pass_the_capacity_and_agree_with_the_daily_series() -> None:
    params = build_params(Scenario.from_dict(_busy()))
    records, tables = _run("fast", params, 7, [0, 1])
    cal = params.calendar
    p1 = params.services[1]
    assert p1 is not None
    for record in records:
        times, deltas = visit_events(record.patients, final=1)
        level = np.cumsum(deltas)
        assert level.min() >= 0
        assert level.max() <= 36  # staff 6 x 6 visits a staff-day
        assert level.max() >= 33  # and the service runs near full
        assert record.in_system_at_end["p1_visits"] == level[times < cal.end_h][-1]
        # starts refused for want of enough visits, though some were free: patients waited
        # through open hours in which the service had visits to spare (head-of-line blocking)
        p = record.patients
        on = (p["pathway"] == 1) & ~np.isnan(p["comm_start"]) & (p["origin"] != 3)
        spare = 0
        for ready, start in zip(p["t_fit"][on], p["comm_start"][on], strict=True):
            inside = (times > ready) & (times < start)
            hours = np.floor(times[inside] + 1e-7).astype(np.int64)
            open_then = p1.accepts_by_hour[np.minimum(hours, len(p1.accepts_by_hour) - 1)]
            spare += int((level[inside][open_then] < 36).any())
        assert spare > 10
        # the daily series is the integral of those events over each observed day
        edges = cal.day_starts()
        grid = np.unique(np.concatenate((times, edges)))
        grid = grid[(grid >= edges[0]) & (grid <= edges[-1])]
        at = np.searchsorted(times, grid[:-1], side="right") - 1
        held = np.where(at >= 0, level[np.maximum(at, 0)], 0)
        area = np.zeros(len(edges) - 1)
        np.add.at(area, np.searchsorted(edges, grid[:-1], side="right") - 1, held * np.diff(grid))
        daily = tables.daily[
            (tables.daily["series"] == "visits_in_use_p1")
            & (tables.daily["replication"] == record.replication)
        ]["value"].to_numpy()
        assert len(daily) == len(area)
        np.testing.assert_allclose(daily, area / 24.0, rtol=1e-5, atol=1e-4)


def test_one_visit_a_day_with_as_many_visits_as_places_is_the_place_service_exactly() -> None:
    base = small_system(**SHORT)
    places = base["community"]["p1"]["places"]
    one = _in_visits(
        base,
        staff=places,
        visits_per_staff_day=1,
        initial_per_day={"dist": "fixed", "value": 1},
        max_per_day=1,
    )
    for engine in ("simpy", "fast"):
        plain, plain_tables = _run(engine, build_params(Scenario.from_dict(base)), 4, [0, 1])
        visits, visit_tables = _run(engine, build_params(Scenario.from_dict(one)), 4, [0, 1])
        for a, b in zip(plain, visits, strict=True):
            assert _differences(a, b, skip=("visit",), live=False) == [], engine
            assert (b.patients["visits_p1"][~np.isnan(b.patients["comm_start"])] <= 1).all()
        m1 = plain_tables.metrics.set_index(["replication", "metric", "period"])["value"]
        m2 = visit_tables.metrics.set_index(["replication", "metric", "period"])["value"]
        shared = m1.index.difference(
            m1.index[m1.index.get_level_values("metric").str.startswith("visits_")]
        )
        np.testing.assert_array_equal(m1[shared].to_numpy(), m2[shared].to_numpy())
        # one visit a day each: the visits in use are the patients
        np.testing.assert_array_equal(
            m2.xs("visits_in_use_p1", level="metric").to_numpy(),
            m2.xs("community_in_use_p1", level="metric").to_numpy(),
        )


def test_a_place_based_p1_draws_no_visits() -> None:
    params = build_params(Scenario.from_dict(small_system(**SHORT)))
    records, tables = _run("fast", params, 4, [0])
    assert (records[0].patients["visits_p1"] == 0).all()
    assert "visits_in_use_p1" not in set(tables.daily["series"])
    rows = tables.metrics.set_index(["metric", "period"])["value"]
    assert rows[("visits_delivered_p1", "all")] == 0


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data, source="x.toml")
    return str(caught.value)


VISITS = {"staff": 6, "visits_per_staff_day": 6}


def test_visits_and_places_together_are_refused_by_name() -> None:
    data = small_system(**SHORT)
    data["community"]["p1"]["visits"] = VISITS  # beside its places
    assert "x.toml: community.p1: visits replaces places and workforce" in _error(data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {
                "community.p2": {
                    "visits": VISITS,
                    "episode_days": {"dist": "fixed", "value": 30},
                }
            },
            "x.toml: community.p2.visits: capacity in visits is for P1 home care only",
        ),
        (
            {"community.p1.visits": {**VISITS, "staff": 1}},
            "community.p1.visits: staff x visits_per_staff_day (6 visits a day) must be at least "
            "max_per_day (8)",
        ),
        (
            {"community.p1.visits": {**VISITS, "final_per_day": 3, "max_per_day": 2}},
            "max_per_day must be >= final_per_day, got 2 < 3",
        ),
        (
            {"community.p1.visits": {**VISITS, "visits_per_staff_day": 0}},
            "community.p1.visits.visits_per_staff_day must be > 0, got 0",
        ),
        (
            {"community.p1.cost_basis": "commissioned"},
            'community.p1: cost_basis = "commissioned" pays for places',
        ),
        (
            {"initial_state": {"community_in_use": {"p1": 3}}},
            "initial_state.community_in_use.p1: cannot place patients in a P1 service counted "
            "in visits",
        ),
    ],
)
def test_a_bad_visits_value_names_file_key_rule_and_value(
    change: dict[str, Any], expected: str
) -> None:
    data = _in_visits(small_system(**SHORT), **VISITS)
    for dotted, value in change.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    assert expected in _error(data)


def test_a_change_may_not_date_a_patients_need_nor_switch_to_visits() -> None:
    data = _busy(
        changes=[{"from": "2016-05-01", "set": {"community.p1.visits.initial_per_day": 3}}]
    )
    assert (
        "community.p1.visits.initial_per_day cannot change at a date: each patient's need "
        "is drawn once, on arrival, got 3" in _error(data)
    )
    data = small_system(
        **SHORT, changes=[{"from": "2016-05-01", "set": {"community.p1.visits": VISITS}}]
    )
    assert "community.p1.visits must not be added or removed by a change" in _error(data)
