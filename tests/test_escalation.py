"""Escalation beds (``[acute.escalation]``) and the OPEL-like level.

Extra beds open at a review when the core beds' occupancy (or the bed queue) reaches a
trigger and close at a review once occupancy falls below a lower one (docs/model.md,
"Escalation beds"). The checks: a hand-worked run with fixed arrivals and stays shows
the beds open at exactly the review that sees the trigger, serve the queue at once and
close without evicting; both engines give the same patients and the same escalation log
on stochastic scenarios (with dated bed changes too); no bed is taken beyond the beds
open; a scenario without the table draws and reports what it did before; bad values are
refused by file, key, rule and value; the beds' days open are costed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import single_unit, small_system
from test_fast_engine import _column, _run, assert_identical

from sim.engines import compiled, reference
from sim.errors import ScenarioError
from sim.metrics.accumulator import opel_level
from sim.model import rules
from sim.model.invariants import check
from sim.scenario.params import build_costs, build_params
from sim.scenario.schema import Scenario

LOS_DAYS = 0.51
"""A fixed stay of 12.24 hours: no departure falls on a whole-hour review."""
ARRIVALS_H = (0.5, 0.6, 0.7, 0.8, 0.9, 1.2)
"""Six direct admissions in the first hours, for four core beds."""


def _fixed_unit(**escalation: Any) -> dict[str, Any]:
    data = single_unit(beds=4, per_day=1.0, warm_up_days=0, years=0.02, reps=1)
    data["cohorts"]["patients"]["treatment_los_days"] = {"dist": "fixed", "value": LOS_DAYS}
    data["acute"]["escalation"] = {"beds": 2, **escalation}
    data["costs"] = {"escalation_bed_day_gbp": 346}
    return data


@pytest.fixture
def fixed_arrivals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both engines' arrival streams give :data:`ARRIVALS_H`, whatever the rate."""

    def arrivals(rate: Any, rng: Any, cum: Any = None, guide: Any = None) -> Iterator[np.ndarray]:
        yield np.array(ARRIVALS_H)

    monkeypatch.setattr(reference, "arrival_times", arrivals)
    monkeypatch.setattr(compiled, "arrival_times", arrivals)


def _log(record: Any) -> list[tuple[float, float]]:
    log = record.capacity["acute_escalation"]
    return list(zip(log.times_h.tolist(), log.values.tolist(), strict=True))  # noqa: PD011


@pytest.mark.parametrize(
    ("escalation", "opened_h", "closed_h", "bed_start"),
    [
        # four core beds full at the 01:00 review: open; the fifth patient, waiting since
        # 00:54, takes a new bed at 01:00, the sixth one at once at 01:12. At the 13:00
        # review three are left (< 0.9 x 4): close; nobody is moved
        (
            {"open_at_occupancy": 1.0, "close_below_occupancy": 0.9},
            1.0,
            13.0,
            [0.5, 0.6, 0.7, 0.8, 1.0, 1.2],
        ),
        # a queue of two first at the 02:00 review: both waiting take the new beds then; at
        # 14:00 those two are still in (2 is not below 0.5 x 4); at 15:00 nobody is
        (
            {"open_at_queue": 2, "close_below_occupancy": 0.5},
            2.0,
            15.0,
            [0.5, 0.6, 0.7, 0.8, 2.0, 2.0],
        ),
        # bed meetings at 08:00 and 20:00 only: the queue waits for the 08:00 meeting; at the
        # 20:00 one the two it let in are still there (until 20:14), so the beds stay open
        # until the next morning's
        (
            {"open_at_queue": 1, "close_below_occupancy": 0.5, "review_hours": [20, 8]},
            8.0,
            32.0,
            [0.5, 0.6, 0.7, 0.8, 8.0, 8.0],
        ),
    ],
    ids=["occupancy", "queue", "bed_meetings"],
)
def test_beds_open_and_close_at_the_trigger_review(
    fixed_arrivals: None,
    escalation: dict[str, Any],
    opened_h: float,
    closed_h: float,
    bed_start: list[float],
) -> None:
    scenario = Scenario.from_dict(_fixed_unit(**escalation))
    params = build_params(scenario)
    los_h = LOS_DAYS * 24
    for engine in ("simpy", "fast"):
        (record,), tables = _costed_run(engine, scenario, seed=1, reps=[0])
        assert _log(record) == [(0.0, 0.0), (opened_h, 2.0), (closed_h, 0.0)], engine
        np.testing.assert_array_equal(record.patients["t_arrival"], ARRIVALS_H)
        np.testing.assert_array_equal(record.patients["bed_start"], bed_start)
        # closing never evicts: every stay runs its fixed length
        np.testing.assert_allclose(
            record.patients["bed_end"] - record.patients["bed_start"], los_h, rtol=1e-12
        )
        acute = record.capacity["acute"]
        assert acute.times_h.tolist() == [0.0, opened_h, closed_h]
        assert acute.values.tolist() == [4.0, 6.0, 4.0]  # noqa: PD011
        assert check(record) == []
        value = _all_period(tables.metrics)
        bed_days = 2 * (closed_h - opened_h) / 24  # open, occupied or not
        assert value["escalation_bed_days"] == pytest.approx(bed_days, rel=1e-12)
        assert value["escalation_openings"] == 1
        assert value["cost_escalation_bed_days"] == pytest.approx(346 * bed_days, rel=1e-12)
        days_open = 1 if closed_h <= 24 else 2
        assert value["escalation_days_share"] == pytest.approx(days_open / value["observed_days"])
        assert value["cost_total"] == pytest.approx(346 * bed_days, rel=1e-12)
        daily = tables.daily[tables.daily["series"] == "escalation_beds_open"]["value"]
        np.testing.assert_allclose(daily.sum(), bed_days, rtol=1e-6)  # stored in float32
        assert daily.iloc[0] == pytest.approx(2 * (min(closed_h, 24) - opened_h) / 24, rel=1e-6)
    assert params.escalation is not None


def _costed_run(engine: str, scenario: Scenario, seed: int, reps: list[int]) -> tuple[Any, Any]:
    """Records and tables of one engine's run, with the scenario's own costs."""
    from sim.engines import registry
    from sim.metrics.accumulator import MetricAccumulator

    params = build_params(scenario)
    sink = MetricAccumulator(params, reps, build_costs(scenario, params))
    records = registry.get(engine).run(params, seed, reps, sink, keep_records=True)
    return records, sink.finish()


def _all_period(metrics: pd.DataFrame) -> pd.Series:
    return metrics[metrics["period"] == "all"].set_index("metric")["value"]


def test_the_rule_opens_at_either_trigger_and_closes_below_the_lower_share() -> None:
    def review(is_open: bool, occupied: int, queue: int) -> bool:
        return rules.escalation_open(is_open, occupied, queue, 100.0, 0.95, 3, 0.9)

    assert not review(False, 94, 2)
    assert review(False, 95, 0)  # 0.95 x 100 is 95 beds, whatever the floating point
    assert review(False, 10, 3)  # the queue alone opens them
    assert review(True, 90, 0)  # not below 90: stays open
    assert not review(True, 89, 0)
    assert review(True, 89, 1) is False  # the queue does not hold them open
    # no occupancy trigger (-1): only the queue opens them
    assert not rules.escalation_open(False, 100, 0, 100.0, -1.0, 1, 0.5)
    assert rules.escalation_open(False, 0, 1, 100.0, -1.0, 1, 0.5)
    # 0.29 x 100 is 28.999999999999996 in floating point: 29 beds still reach it
    assert rules.escalation_open(False, 29, 0, 100.0, 0.29, -1, 0.1)


def test_opel_level_by_its_documented_thresholds() -> None:
    occupancy = np.array([0.5, 0.85, 0.91, 0.92, 0.5, 0.99, 0.5])
    queue = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.99, 1.0])
    escalated = np.array([False, False, False, False, True, False, False])
    defaults = build_params(Scenario.from_dict(small_system())).opel
    assert defaults == (0.85, 0.92, 1.0)  # docs/metrics.md's thresholds, the schema's defaults
    assert opel_level(occupancy, queue, escalated, defaults).tolist() == [1, 2, 2, 3, 3, 3, 4]
    # a trust's own thresholds move the same days
    own = (0.9, 0.95, 0.5)
    assert opel_level(occupancy, queue, escalated, own).tolist() == [1, 1, 2, 2, 3, 4, 4]


@pytest.mark.parametrize(
    ("opel", "levels"),
    [
        ({"level_2_occupancy": 2, "level_3_occupancy": 2, "level_4_queue": 10_000}, {1}),
        ({"level_2_occupancy": 0.01, "level_3_occupancy": 0.02}, {3, 4}),
    ],
    ids=["never_pressed", "always_pressed"],
)
def test_a_scenarios_own_opel_thresholds_grade_its_days(
    opel: dict[str, float], levels: set[int]
) -> None:
    """``acute.opel`` reaches the daily series: thresholds no day reaches leave every day at
    level 1; thresholds every day passes put every day at 3 or above."""
    data = small_system(**{"run.horizon_years": 0.05, "run.warm_up_days": 20})
    data["acute"]["opel"] = opel
    params = build_params(Scenario.from_dict(data))
    _, tables = _run("fast", params, 1, [0])
    daily = tables.daily[tables.daily["series"] == "opel_level"]["value"]
    assert len(daily) > 10
    assert set(daily.astype(int)) <= levels


def test_opel_thresholds_must_rise() -> None:
    data = small_system()
    data["acute"]["opel"] = {"level_2_occupancy": 0.95, "level_3_occupancy": 0.9}
    with pytest.raises(ScenarioError, match=r"acute\.opel.*level_3_occupancy must be >= "):
        Scenario.from_dict(data)


ESCALATING = {
    "run.horizon_years": 0.15,
    "run.warm_up_days": 5,
    "acute.beds": 44,
    "acute.escalation": {
        "beds": 6,
        "open_at_occupancy": 0.98,
        "open_at_queue": 2,
        "close_below_occupancy": 0.9,
    },
    "costs.escalation_bed_day_gbp": 346,
}


@pytest.mark.parametrize(
    "more",
    [
        {},
        {"acute.escalation.review_hours": [8, 14, 20], "acute.escalation.open_at_occupancy": 1.0},
        {
            "changes": [
                {"from": "2016-05-01", "set": {"acute.beds": 40}},
                {"from": "2016-05-20", "set": {"acute.beds": 48, "sdec.chairs": 4}},
            ]
        },
    ],
    ids=["hourly", "bed_meetings", "dated_beds"],
)
def test_both_engines_give_the_same_patients_and_escalation_log(more: dict[str, Any]) -> None:
    data = small_system(**{**ESCALATING, **more})
    escalation = data["acute"]["escalation"]
    for key in ("review_hours", "open_at_occupancy"):
        if f"acute.escalation.{key}" in data:  # small_system sets dotted keys as tables
            escalation[key] = data.pop(f"acute.escalation.{key}")
    params = build_params(Scenario.from_dict(data))
    simpy = assert_identical(params, seed=4, reps=2)
    fast, _ = _run("fast", params, 4, [0, 1])
    for a, b in zip(simpy, fast, strict=True):
        assert _log(a) == _log(b)
        for name in ("acute", "acute_escalation"):
            np.testing.assert_array_equal(a.capacity[name].times_h, b.capacity[name].times_h)
            np.testing.assert_array_equal(a.capacity[name].values, b.capacity[name].values)
        assert check(a) == []
    openings = sum(int((r.capacity["acute_escalation"].values > 0).sum()) for r in simpy)  # noqa: PD011
    assert openings >= 4  # the scenario escalates, and more than once
    assert (_column(simpy, "bed_start") > 0).sum() > 500


def _occupancy_never_above_open_beds(record: Any) -> None:
    """At every bed taken, the beds in use (after it) are within the beds open then."""
    p = record.patients
    starts, ends = p["bed_start"], p["bed_end"]
    times = np.concatenate((starts[~np.isnan(starts)], ends[~np.isnan(ends)]))
    delta = np.concatenate((np.ones((~np.isnan(starts)).sum()), -np.ones((~np.isnan(ends)).sum())))
    order = np.lexsort((delta, times))  # at equal times, departures first
    in_use = np.cumsum(delta[order])
    log = record.capacity["acute"]
    open_beds = log.values[np.searchsorted(log.times_h, times[order], side="right") - 1]  # noqa: PD011
    taken = delta[order] > 0
    assert (in_use[taken] <= open_beds[taken]).all()


def test_occupancy_never_passes_the_beds_open_and_the_rule_holds_at_every_review() -> None:
    """An oracle from the record alone: at each review hour, the beds occupied and the
    queue (before anyone the review lets in) give the rule's answer, and the log follows it.
    Discharge 24/7 and continuous stays: nothing but the review's own grants falls on it."""
    data = single_unit(beds=20, per_day=9.0, years=0.3, warm_up_days=0, reps=2)
    data["cohorts"]["patients"]["treatment_los_days"] = {"dist": "lognormal", "mean": 2, "sd": 2}
    data["acute"]["escalation"] = {
        "beds": 4,
        "open_at_occupancy": 0.95,
        "open_at_queue": 1,
        "close_below_occupancy": 0.8,
        "review_hours": [0, 8, 16],
    }
    params = build_params(Scenario.from_dict(data))
    e = params.escalation
    assert e is not None
    for engine in ("simpy", "fast"):
        records, _ = _run(engine, params, 9, [0, 1])
        for record in records:
            _occupancy_never_above_open_beds(record)
            p = record.patients
            expected, is_open = [(0.0, 0.0)], False
            for t in np.flatnonzero(e.review_by_hour)[1:].astype(float):
                in_bed = (p["bed_start"] < t) & ~(p["bed_end"] <= t)
                waiting = (p["bed_request"] < t) & ~(p["bed_start"] < t)
                now = rules.escalation_open(
                    is_open,
                    int(in_bed.sum()),
                    int(waiting.sum()),
                    20.0,
                    e.open_at_occupancy,
                    e.open_at_queue,
                    e.close_below_occupancy,
                )
                if now != is_open:
                    expected.append((t, 4.0 if now else 0.0))
                is_open = now
            assert _log(record) == expected, engine
            assert len(expected) > 6


def test_a_table_that_never_opens_changes_nothing_and_none_reports_zeros() -> None:
    """Defaults: without [acute.escalation] (or with one that never triggers) the patients
    and every metric are as before, and the escalation metrics are zero; no new draw."""
    base = small_system(**{"run.horizon_years": 0.1, "run.warm_up_days": 5, "acute.beds": 50})
    never = small_system(
        **{
            "run.horizon_years": 0.1,
            "run.warm_up_days": 5,
            "acute.beds": 50,
            "acute.escalation": {"beds": 5, "open_at_queue": 10_000, "close_below_occupancy": 0.5},
        }
    )
    for engine in ("simpy", "fast"):
        (a, *_), one = _run(engine, build_params(Scenario.from_dict(base)), 6, [0])
        (b, *_), two = _run(engine, build_params(Scenario.from_dict(never)), 6, [0])
        assert a.n == b.n
        for column, x in a.patients.items():
            np.testing.assert_array_equal(x, b.patients[column], err_msg=column)
        assert "acute_escalation" not in a.capacity
        assert _log(b) == [(0.0, 0.0)]
        pd.testing.assert_frame_equal(one.metrics, two.metrics, check_exact=True)
        value = _all_period(one.metrics)
        for name in ("escalation_bed_days", "escalation_openings", "cost_escalation_bed_days"):
            assert value[name] == 0
        assert "escalation_beds_open" not in set(one.daily["series"])
        assert "escalation_beds_open" in set(two.daily["series"])
        assert set(one.daily["series"]) >= {"opel_level"}


@pytest.mark.parametrize(
    ("escalation", "message"),
    [
        (
            {"beds": 4, "open_at_occupancy": 0.9, "close_below_occupancy": 0.95},
            "acute.escalation.close_below_occupancy must be below open_at_occupancy (0.9)",
        ),
        (
            {"beds": 4, "close_below_occupancy": 0.8},
            "acute.escalation needs open_at_occupancy or open_at_queue (or both) to open, got "
            "neither",
        ),
        (
            {"beds": 0, "open_at_queue": 1, "close_below_occupancy": 0.8},
            "acute.escalation.beds must be >= 1, got 0",
        ),
        (
            {"beds": 4, "open_at_queue": 1, "close_below_occupancy": 1.2},
            "acute.escalation.close_below_occupancy must be <= 1, got 1.2",
        ),
        (
            {"beds": 4, "open_at_queue": 1, "close_below_occupancy": 0.8, "review_hours": [8, 24]},
            "acute.escalation.review_hours must be whole hours of the day 0-23, got 24",
        ),
        (
            {"beds": 4, "open_at_queue": 1, "close_below_occupancy": 0.8, "every": "hour"},
            "acute.escalation.every is not a known key",
        ),
    ],
    ids=["close_above_open", "no_trigger", "no_beds", "close_above_one", "hour_24", "unknown"],
)
def test_bad_escalation_names_file_key_rule_and_value(
    escalation: dict[str, Any], message: str
) -> None:
    data = single_unit()
    data["acute"]["escalation"] = escalation
    with pytest.raises(ScenarioError, match="^test.toml: " + _escaped(message)):
        Scenario.from_dict(data, source="test.toml")


def test_escalation_needs_counted_core_beds_and_is_not_dated() -> None:
    data = single_unit(beds="unlimited")
    data["acute"]["escalation"] = {"beds": 2, "open_at_queue": 1, "close_below_occupancy": 0.5}
    with pytest.raises(ScenarioError, match=r"acute\.beds must be a number of beds when"):
        Scenario.from_dict(data, source="test.toml")
    dated = single_unit()
    dated["acute"]["escalation"] = {"beds": 2, "open_at_queue": 1, "close_below_occupancy": 0.5}
    dated["changes"] = [{"from": "2016-06-01", "set": {"acute.escalation.beds": 4}}]
    with pytest.raises(ScenarioError, match=r"acute\.escalation\.beds cannot change at a date"):
        Scenario.from_dict(dated, source="test.toml")


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_the_report_charts_escalation_where_it_is_configured(tmp_path: Any) -> None:
    from sim.experiments.compare import compare
    from sim.present import charts
    from sim.present.report import figures, load_saved

    base = Scenario.from_dict(small_system(**{**ESCALATING, "run.horizon_years": 0.1}))
    none = base.override({"name": "no_escalation", "acute.escalation": None})
    result = compare([base, none], reps=2, seed=4)
    daily = result.results.daily
    spec = charts.escalation(daily).to_dict()
    rows = [row for rows in spec["datasets"].values() for row in rows]
    shares = pd.DataFrame([r for r in rows if "share" in r])
    # each scenario's week: its replication-days split across the levels
    np.testing.assert_allclose(shares.groupby(["scenario", "date"])["share"].sum(), 1.0)
    assert set(shares["scenario"]) == {"small", "no_escalation"}
    beds = pd.DataFrame([r for r in rows if "share" not in r and "value" in r])
    assert set(beds["scenario"]) == {"small"}  # only the scenario that has the beds
    assert 0 < beds["value"].max() <= 6 + 1e-6
    with_beds = load_saved(result.save(tmp_path / "both"))
    assert "escalation" in [f.slug for f in figures(with_beds)]
    without = load_saved(compare([none], reps=1, seed=4).save(tmp_path / "none"))
    assert "escalation" not in [f.slug for f in figures(without)]
