"""Arrivals: an exact non-homogeneous Poisson process by hour of week, month and year."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import small_system
from scipy import stats

from sim.clock.calendar import Calendar
from sim.engines.reference import simulate
from sim.model.demand import arrival_times, cumulative_rate, invert_cumulative, search_guide
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario


def all_arrivals(rate: np.ndarray, seed: int = 3) -> np.ndarray:
    blocks = list(arrival_times(rate, np.random.default_rng(seed)))
    return np.concatenate(blocks) if blocks else np.array([])


def profile_with_gaps() -> np.ndarray:
    """168 weights with closed hours: every night 01:00-05:00 and all of Sunday."""
    weights = np.tile(np.r_[1.0, np.zeros(4), np.linspace(1, 3, 19)], 7)
    weights[6 * 24 :] = 0.0
    weights[2 * 24 + 10] = 6.0  # a spike: Wednesday 10:00-11:00
    return weights


def test_counts_by_hour_of_week_match_the_profile_chi_square():
    weights = profile_with_gaps()
    weeks = 300
    per_week = 400.0
    rate = np.tile(weights / weights.sum() * per_week, weeks)
    t = all_arrivals(rate)
    counts = np.bincount(np.floor(t).astype(int) % 168, minlength=168)
    open_hours = weights > 0
    assert counts[~open_hours].sum() == 0  # never an arrival in a zero-rate hour
    expected = weights[open_hours] / weights.sum() * counts.sum()  # the shape, given the total
    assert expected.min() > 5
    chi2, p = stats.chisquare(counts[open_hours], expected)
    assert p > 0.001, (chi2, p)
    assert counts.sum() == pytest.approx(per_week * weeks, rel=4 / np.sqrt(per_week * weeks))


def test_weekly_counts_are_poisson_dispersed():
    rate = np.tile(profile_with_gaps() / profile_with_gaps().sum() * 50, 400)
    t = all_arrivals(rate, seed=8)
    weekly = np.bincount(np.floor(t / 168).astype(int), minlength=400)
    # variance/mean of Poisson counts is 1; its sampling sd over 400 weeks is ~sqrt(2/399)
    assert weekly.var(ddof=1) / weekly.mean() == pytest.approx(1.0, abs=4 * np.sqrt(2 / 399))


def test_one_open_hour_puts_every_arrival_inside_it_uniformly():
    rate = np.zeros(168 * 50)
    rate[9::168] = 20.0  # Monday 09:00-10:00 only
    t = all_arrivals(rate)
    assert np.all(np.floor(t) % 168 == 9)
    position = t - np.floor(t)
    assert stats.kstest(position, "uniform").pvalue > 0.001


def test_inversion_is_exact_at_hour_boundaries_and_across_closed_hours():
    rate = np.array([2.0, 0.0, 0.0, 4.0])
    cum = cumulative_rate(rate)
    assert cum.tolist() == [0, 2, 2, 2, 6]
    t = invert_cumulative(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), cum, rate)
    # Lambda = 2 at the end of hour 0 maps to the first instant of the next open hour
    assert t.tolist() == [0.0, 0.5, 3.0, 3.25, 3.5]


def test_inversion_finds_the_hour_of_sparse_and_dense_points_as_a_search_does():
    """The gallop from one point's hour to the next lands where a search of the whole
    cumulative rate does: points hours apart, many in one hour, and across closed hours."""
    rng = np.random.default_rng(11)
    rate = rng.exponential(1.0, 5000) * (rng.random(5000) > 0.3)  # a third of hours closed
    cum = cumulative_rate(rate)
    for n in (3, 40, 20_000):  # months apart, days apart, several an hour
        points = np.sort(rng.uniform(0.0, cum[-1], n))
        hour = np.searchsorted(cum, points, side="right") - 1  # the last with cum <= point
        expected = hour + (points - cum[hour]) / rate[hour]
        assert np.array_equal(invert_cumulative(points, cum, rate), expected)
        # the guide only says where to start: none, or one pointing past the hour, the same
        guide = search_guide(cum)
        assert np.all(cum[guide] <= np.arange(len(guide)) * cum[-1] / len(guide))
        for other in (np.zeros(1, dtype=np.int64), np.minimum(guide + 7, len(cum) - 1)):
            assert np.array_equal(invert_cumulative(points, cum, rate, other), expected)
    # points at or past the total are outside the run, but the guide is not read past its
    # end for them: they land in the last hour, as a search of the whole rate puts them
    past = np.array([cum[-1], 1e300, np.inf])
    last = len(rate) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = last + (past - cum[last]) / rate[last]
    assert np.array_equal(invert_cumulative(past, cum, rate), expected, equal_nan=True)


def test_zero_rate_everywhere_gives_no_arrivals():
    assert len(all_arrivals(np.zeros(1000))) == 0


def test_month_multipliers_and_growth_shape_the_rate():
    data = small_system(
        **{"run.horizon_years": 2, "run.warm_up_days": 0, "run.start_date": "2016-04-01"}
    )
    months = [2.0] + [1.0] * 11  # January twice as busy
    data["demand"]["month_multipliers"] = months
    data["cohorts"]["adults"]["growth_per_year"] = 0.1
    params = build_params(Scenario.from_dict(data))
    rate = params.cohorts[1].ed_rate_h
    cal = params.calendar

    def mean_rate(day: dt.date) -> float:
        h = int(cal.hours_at(day))
        return rate[h : h + 168].mean()

    # growth: the second financial year runs 10% above the first
    assert mean_rate(dt.date(2017, 5, 1)) / mean_rate(dt.date(2016, 5, 2)) == pytest.approx(
        1.1, rel=1e-9
    )
    assert mean_rate(dt.date(2017, 1, 2)) / mean_rate(dt.date(2016, 11, 7)) == pytest.approx(2.0)
    # month multipliers are normalised, so a year still brings the annual volume
    first_year = rate[: int(cal.hours_at(dt.date(2017, 4, 1)))].sum()
    assert first_year == pytest.approx(12000 * 365 / 365.25, rel=0.005)


def test_engine_arrivals_follow_the_configured_weekly_profile():
    data = small_system(**{"run.horizon_years": 1, "run.warm_up_days": 0})
    data["demand"]["profiles"]["ed"] = {"hour_of_week": profile_with_gaps().tolist()}
    data["community"]["urgent_response"]["places"] = "unlimited"
    params = build_params(Scenario.from_dict(data))
    record = simulate(params, seed=5, replication=0)
    t = record["t_arrival"][record["origin"] == 0]
    how = params.calendar.hour_of_week_array(t)
    counts = np.bincount(how, minlength=168)
    weights = profile_with_gaps()
    assert counts[weights == 0].sum() == 0
    expected_share = weights[weights > 0] / weights.sum()
    chi2, p = stats.chisquare(counts[weights > 0], expected_share * counts.sum())
    assert p > 0.001, (chi2, p)


def test_calendar_offset_puts_monday_peak_on_the_real_monday():
    # 2016-04-01 was a Friday: a Monday-only profile must put arrivals on Mondays
    data = small_system(**{"run.start_date": "2016-04-01", "run.warm_up_days": 0})
    data["demand"]["profiles"]["ed"] = {
        "day_of_week": [1, 0, 0, 0, 0, 0, 0],
        "hour_of_day": [1] * 24,
    }
    params = build_params(Scenario.from_dict(data))
    t = all_arrivals(params.cohorts[1].ed_rate_h)
    days = {Calendar(dt.date(2016, 4, 1), 0, 0.25).date_at(x).weekday() for x in t}
    assert days == {0}
