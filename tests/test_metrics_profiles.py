"""Hour-of-week profiles and the A&E time histogram of :class:`sim.metrics.MetricAccumulator`.

Checked against hand-worked logs, against brute-force oracles that read the
calendar through pandas (not through the accumulator's week offset), against
the run's own whole-period metrics, against a schedule's logic (with
unlimited community places nobody is delayed while community care accepts,
and delays only build up while it is closed), and engine against engine.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS, DETERMINISTIC, single_unit, small_system
from test_metrics_streaming import _rows

import sim
from sim.codes import WEEKDAYS
from sim.engines.reference import simulate
from sim.metrics.accumulator import MetricAccumulator, Tables, record_tables
from sim.model.record import acute_events
from sim.runs.runner import run_batch
from sim.scenario.params import CostParams, build_params
from sim.scenario.schema import Scenario, load_scenario

THURSDAY = "2016-04-07"


def _hand_params(days: int = 14):
    """Two beds, direct admissions only, no warm-up, ``days`` observed days from a Thursday."""
    data = single_unit(beds=2, years=days / 365.25, warm_up_days=0)
    data["run"]["start_date"] = THURSDAY
    return build_params(Scenario.from_dict(data))


def _feed(params, rows) -> Tables:
    accumulator = MetricAccumulator(params, [0], CostParams.free(params))
    rep = np.zeros(len(rows["origin"]), dtype=int)
    accumulator.add_patients(rep, rows)
    times, deltas = acute_events(rows)
    accumulator.add_acute_events(np.zeros(len(times), dtype=int), times, deltas)
    return accumulator.finish()


def _profile(frame: pd.DataFrame, series: str, replication: int = 0) -> pd.Series:
    """One replication's profile as a Series indexed by (weekday, hour), Monday first."""
    rows = frame[(frame.series == series) & (frame.replication == replication)]
    rows = rows.set_index(["weekday", "hour"])["value"]
    order = pd.MultiIndex.from_product([WEEKDAYS, range(24)], names=["weekday", "hour"])
    return rows.reindex(order)


def _grid(frame: pd.DataFrame, series: str, replication: int = 0) -> np.ndarray:
    """One replication's profile as an array [weekday (Monday first), hour]."""
    return _profile(frame, series, replication).to_numpy().reshape(7, 24)


# --- hour of week: by hand ------------------------------------------------------------------


def test_hour_of_week_of_a_small_log_by_hand():
    """Two weeks from a Thursday: every hour of the week is seen twice (2 hours each)."""
    params = _hand_params(14)
    assert params.calendar.sim_start == dt.date(2016, 4, 7)  # a Thursday, t = 0
    week = 7 * 24
    # in a bed Thu 00:00 to Fri 06:00 of the first week; fit (P1, delayed) from Thu 10:00
    first = {"t_arrival": 0, "bed_request": 0, "bed_start": 0, "bed_end": 30}
    first |= {"t_fit": 10, "pathway": 1}
    # in a bed Thu 02:30 to 04:15 of the second week
    second = {"t_arrival": week + 2.5, "bed_request": week + 2.5, "bed_start": week + 2.5}
    second |= {"t_fit": week + 4.25, "bed_end": week + 4.25}
    rows = _rows(first, second)
    how = _feed(params, rows).hour_of_week
    assert len(how) == 7 * 168
    assert set(how.series) == {
        "acute_occupied",
        "delayed",
        "waiting_discharge_p1",
        "waiting_discharge_p2",
        "waiting_discharge_p3",
        "boarding",
        "ed_in_department",
    }
    THU, FRI = WEEKDAYS.index("Thu"), WEEKDAYS.index("Fri")
    want = np.zeros((7, 24))
    want[THU, :] = 0.5
    want[FRI, :6] = 0.5
    want[THU, 2:5] += np.array([0.5, 1.0, 0.25]) / 2
    np.testing.assert_allclose(_grid(how, "acute_occupied"), want, rtol=0, atol=1e-12)

    want = np.zeros((7, 24))
    want[THU, 10:] = 0.5
    want[FRI, :6] = 0.5
    np.testing.assert_allclose(_grid(how, "delayed"), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_grid(how, "waiting_discharge_p1"), want, rtol=0, atol=1e-12)
    assert not _grid(how, "waiting_discharge_p2").any()


def test_hour_of_week_leaves_out_the_warm_up_and_hours_never_seen():
    """A window shorter than a week has hours it never saw: NaN, not zero."""
    params = _hand_params(3)  # Thu, Fri, Sat
    rows = _rows({"t_arrival": 0, "bed_request": 0, "bed_start": 0, "bed_end": 72})
    occupied = _grid(_feed(params, rows).hour_of_week, "acute_occupied")
    seen = [WEEKDAYS.index(d) for d in ("Thu", "Fri", "Sat")]
    assert (occupied[seen] == 1.0).all()
    assert np.isnan(np.delete(occupied, seen, axis=0)).all()


# --- hour of week: a simulated record against an oracle and the whole-period metrics ----------


@pytest.fixture(scope="module")
def record():
    scenario = Scenario.from_dict(
        small_system(**{"run.start_date": THURSDAY, "run.horizon_years": 0.2})
    )
    return simulate(build_params(scenario), 3, 0)


def _hours_in_window(cal) -> pd.Series:
    """Hours of each (weekday, hour) in the observed window, counted on pandas' calendar."""
    first = pd.Timestamp(cal.start_date)
    stamps = pd.date_range(first, pd.Timestamp(cal.end_date), freq="h", inclusive="left")
    frame = pd.DataFrame(
        {"weekday": [WEEKDAYS[d] for d in stamps.day_of_week], "hour": stamps.hour}
    )
    return frame.groupby(["weekday", "hour"]).size().astype(float)


def _oracle(record, start: str, end: str, keep: np.ndarray) -> pd.Series:
    """Patient-hours by (weekday, hour): each stay walked hour by hour on pandas' calendar."""
    cal = record.params.calendar
    origin = pd.Timestamp(cal.sim_start)
    s = np.maximum(record[start][keep], cal.warm_up_h)
    e = np.fmin(record[end][keep], cal.end_h)
    hours: dict[tuple[str, int], float] = {}
    for a, b in zip(s, e, strict=True):
        for h in range(int(np.floor(a)), int(np.ceil(b))):
            overlap = min(h + 1.0, b) - max(float(h), a)
            if overlap > 0:
                stamp = origin + pd.Timedelta(hours=h)
                key = (WEEKDAYS[stamp.day_of_week], stamp.hour)
                hours[key] = hours.get(key, 0.0) + overlap
    return pd.Series(hours)


def test_hour_of_week_matches_an_hour_by_hour_oracle(record):
    tables = record_tables(record, CostParams.free(record.params))
    exposure = _hours_in_window(record.params.calendar)
    took_bed = ~np.isnan(record["bed_start"])
    delayed = took_bed & (record["pathway"] >= 1) & ~np.isnan(record["t_fit"])
    for series, start, end, keep in (
        ("acute_occupied", "bed_start", "bed_end", took_bed),
        ("delayed", "t_fit", "bed_end", delayed),
    ):
        want = (
            _oracle(record, start, end, keep).reindex(exposure.index, fill_value=0.0)
        ) / exposure
        got = _profile(tables.hour_of_week, series, record.replication).reindex(exposure.index)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("series", "metric", "hours_per_unit"),
    [
        ("acute_occupied", "acute_beds_occupied_mean", None),  # already a mean
        ("ed_in_department", "ed_in_department_mean", None),
        ("delayed", "delayed_bed_days", 24.0),  # a total, in bed days
        ("boarding", "boarding_hours", 1.0),  # a total, in patient-hours
        ("waiting_discharge_p2", "delayed_bed_days_p2", 24.0),
    ],
)
def test_hour_of_week_averages_to_the_whole_period_metric(record, series, metric, hours_per_unit):
    tables = record_tables(record, CostParams.free(record.params))
    exposure = _hours_in_window(record.params.calendar)
    profile = _profile(tables.hour_of_week, series, record.replication).reindex(exposure.index)
    mean = float((profile * exposure).sum() / exposure.sum())
    m = tables.metrics
    value = float(m[(m.metric == metric) & (m.period == "all")]["value"].iloc[0])
    if hours_per_unit is not None:
        value = value * hours_per_unit / exposure.sum()
    assert mean == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert mean > 0


# --- hour of week: the schedule's logic -----------------------------------------------------


def _open_hours_scenario() -> Scenario:
    """Unlimited community places that accept Mon-Fri 09:00-17:00, from a Thursday, every
    week alike (no bank holiday closes a weekday: the profile is the week's)."""
    changes = {
        **{k: v for k, v in DETERMINISTIC.items() if not k.startswith("acute.")},
        "run.start_date": THURSDAY,
        "run.bank_holidays": False,
        "run.horizon_years": 0.3,
        "acute.beds": "unlimited",
        "acute.discharge_hours": "24/7",
    }
    data = small_system(**changes)
    for k in ("p1", "p2", "p3"):
        data["community"][k]["accepts"] = "Mon-Fri 09:00-17:00"
    return Scenario.from_dict(data)


def _closed_stretches() -> list[list[tuple[str, int]]]:
    """The hours of the week when community care does not accept, as runs in time order."""
    hours = [(d, h) for d in WEEKDAYS for h in range(24)]
    closed = [not (d in WEEKDAYS[:5] and 9 <= h < 17) for d, h in hours]
    start = closed.index(False) + 8  # Mon 17:00: the first closing after an open stretch
    stretches, current = [], []
    for k in range(168):
        i = (start + k) % 168
        if closed[i]:
            current.append(hours[i])
        elif current:
            stretches.append(current)
            current = []
    return [*stretches, *([current] if current else [])]


def test_with_unlimited_places_delays_exist_only_while_community_care_is_closed():
    """Nobody waits while community care accepts and has places; while it is closed, fit
    patients only join the queue, so within each closed stretch the mean only grows."""
    params = build_params(_open_hours_scenario())
    how = run_batch(params, 5, [0, 1], engine="fast").hour_of_week
    for replication in (0, 1):
        delayed = _profile(how, "delayed", replication)
        open_hours = [(d, h) for d in WEEKDAYS[:5] for h in range(9, 17)]
        assert delayed.loc[open_hours].abs().max() < 1e-6
        stretches = _closed_stretches()
        assert len(stretches) == 5  # four weeknights and the weekend
        for stretch in stretches:
            values = delayed.loc[stretch].to_numpy()
            assert (np.diff(values) >= -1e-9).all(), stretch
            assert values[-1] > values[0] > 0
        assert delayed.loc[("Mon", 8)] == delayed.max()  # the weekend's queue, by Monday morning


# --- hour of week: engine against engine ----------------------------------------------------


def test_engines_give_the_same_profile_in_the_deterministic_case():
    params = build_params(_open_hours_scenario())
    fast = run_batch(params, 5, [0, 1], engine="fast").hour_of_week
    slow = run_batch(params, 5, [0, 1], engine="simpy").hour_of_week
    pd.testing.assert_frame_equal(fast, slow, rtol=0, atol=1e-6)


@pytest.mark.no_cover  # a long statistical run; quick tests cover its lines
def test_engines_agree_on_the_baseline_profile_within_its_ci():
    """Baseline, short: each weekday's mean of each series, fast against SimPy, within four
    combined standard errors of the replications (or 1%)."""
    scenario = load_scenario(CONFIGS / "baseline.toml").override(
        {"run.horizon_years": 0.1, "run.warm_up_days": 30}
    )
    params = build_params(scenario)
    frames = {e: run_batch(params, 3, range(5), engine=e).hour_of_week for e in ("fast", "simpy")}
    by_day = {
        e: f.groupby(["series", "weekday", "replication"], observed=True)["value"].mean()
        for e, f in frames.items()
    }
    stats = {
        e: v.groupby(level=["series", "weekday"], observed=True).agg(["mean", "var", "count"])
        for e, v in by_day.items()
    }
    a, b = stats["fast"], stats["simpy"]
    se = np.sqrt(a["var"] / a["count"] + b["var"] / b["count"])
    allowed = np.maximum(4 * se, 0.01 * b["mean"].abs())
    gap = (a["mean"] - b["mean"]).abs()
    assert (gap <= allowed).all(), pd.DataFrame({"gap": gap, "allowed": allowed})[gap > allowed]


# --- A&E time histogram -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ed_run() -> sim.Results:
    scenario = Scenario.from_dict(
        small_system(**{"run.horizon_years": 0.2, "acute.beds": "unlimited"})
    )
    return sim.run(scenario, reps=3, seed=2, engine="fast")


def _metric(results: sim.Results, metric: str) -> pd.Series:
    r = results.replications
    return r[r.metric == metric].set_index(["replication", "period"])["value"]


def test_ed_histogram_counts_every_attendance_by_period(ed_run):
    total = ed_run.ed_time.groupby(["replication", "period"])["attendances"].sum()
    attendances = _metric(ed_run, "attendances")
    assert set(ed_run.ed_time["period"]) == set(attendances.index.get_level_values("period"))
    pd.testing.assert_series_equal(
        total.astype(float).sort_index(), attendances.sort_index(), check_names=False
    )


def test_ed_histogram_gives_the_4h_share_exactly(ed_run):
    h = ed_run.ed_time
    left = h["outcome"] != "still in A&E"
    within = h["attendances"].where(left & (h["hours_to"] <= 4.0), 0)
    unknown = h["attendances"].where(~left & (h["hours_to"] <= 4.0), 0)  # under 4 h so far
    keys = [h["replication"], h["period"]]
    share = within.groupby(keys).sum() / (
        h["attendances"].groupby(keys).sum() - unknown.groupby(keys).sum()
    )
    four_hours = _metric(ed_run, "ed_4h_share")
    assert 0.3 < four_hours.min() < four_hours.max() < 0.99  # the test has breaches to count
    pd.testing.assert_series_equal(
        share.sort_index(), four_hours.sort_index(), check_names=False, rtol=0, atol=0
    )


def test_ed_histogram_mean_is_within_half_a_bin_of_the_mean_time(ed_run):
    h = ed_run.ed_time
    left = h[(h["outcome"] != "still in A&E") & (h["period"] == "all")]
    assert left.loc[np.isinf(left["hours_to"]), "attendances"].sum() == 0  # nothing over 24 h
    mid = (left["hours_from"] + left["hours_to"]) / 2
    mean = (mid * left["attendances"]).groupby(left["replication"]).sum() / left.groupby(
        "replication"
    )["attendances"].sum()
    want = _metric(ed_run, "ed_time_mean_hours").xs("all", level="period")
    assert (np.abs(mean - want) <= 0.125 + 1e-12).all()


def test_ed_histogram_splits_admitted_from_not_admitted(ed_run):
    h = ed_run.ed_time
    assert set(h["outcome"]) == {"admitted", "not admitted", "still in A&E"}
    by_outcome = h[h.period == "all"].groupby("outcome")["attendances"].sum()
    assert by_outcome["admitted"] > 0
    assert by_outcome["not admitted"] > by_outcome["admitted"]
