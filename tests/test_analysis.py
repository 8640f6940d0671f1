"""Output analysis: t intervals, paired comparisons, MSER-5, precision (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis import (
    clip_counts,
    compare,
    mser,
    net_cost,
    relative_half_width,
    summarise,
    t_interval,
    unpaired_interval,
)


def _long(values: dict[str, list[float]], metric: str = "m", period: str = "all") -> pd.DataFrame:
    rows = [
        (name, rep, metric, period, v)
        for name, series in values.items()
        for rep, v in enumerate(series)
    ]
    return pd.DataFrame(rows, columns=["scenario", "replication", "metric", "period", "value"])


def test_t_interval_matches_the_textbook_formula():
    x = np.array([3.0, 5.0, 4.0, 6.0, 2.0])
    mean, low, high = t_interval(x, level=0.9)
    half = stats.t.ppf(0.95, 4) * x.std(ddof=1) / np.sqrt(5)
    assert mean == pytest.approx(4.0)
    assert (low, high) == pytest.approx((4.0 - half, 4.0 + half))


def test_t_interval_covers_the_true_mean_at_its_level():
    """95% intervals of normal samples cover the mean in 95% of samples (binomial bounds)."""
    rng = np.random.default_rng(5)
    n_trials = 2000
    covered = 0
    for _ in range(n_trials):
        _, low, high = t_interval(rng.normal(10.0, 3.0, size=6))
        covered += low <= 10.0 <= high
    sd = np.sqrt(0.95 * 0.05 / n_trials)
    assert abs(covered / n_trials - 0.95) < 4 * sd


def test_paired_difference_is_the_t_interval_of_replication_differences():
    a = [10.0, 12.0, 9.0, 14.0]
    b = [9.0, 11.5, 8.0, 13.0]
    table = compare(_long({"a": a, "b": b}), against="a")
    row = table[table.scenario == "b"].iloc[0]
    mean, low, high = t_interval(np.subtract(b, a))
    assert (row["diff"], row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx(
        (mean, low, high)
    )
    assert row["rel_change"] == pytest.approx(mean / np.mean(a))
    comparator = table[table.scenario == "a"].iloc[0]
    assert np.isnan(comparator["diff"])


def test_identical_values_differ_by_exactly_zero():
    a = [10.3, 12.1, 9.7]
    row = compare(_long({"a": a, "a_copy": list(a)}), against="a").iloc[1]
    assert row["diff"] == 0.0
    assert row["diff_ci_low"] == 0.0
    assert row["diff_ci_high"] == 0.0


def test_pairing_narrows_the_interval_when_scenarios_share_noise():
    """With a shared replication effect, the paired CI is far narrower than Welch's."""
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 10, size=10)
    a = 100 + shared + rng.normal(0, 1, size=10)
    b = 95 + shared + rng.normal(0, 1, size=10)
    row = compare(_long({"a": list(a), "b": list(b)}), against="a").iloc[1]
    _, welch_low, welch_high = unpaired_interval(a, b)
    assert row["diff_ci_high"] - row["diff_ci_low"] < (welch_high - welch_low) / 3
    assert row["diff_ci_low"] < -5 < row["diff_ci_high"]


def test_welch_interval_against_scipy():
    a = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    b = np.array([2.0, 4.0, 7.0])
    diff, low, high = unpaired_interval(a, b, level=0.95)
    test = stats.ttest_ind(b, a, equal_var=False)
    ci = test.confidence_interval(0.95)
    assert diff == pytest.approx(b.mean() - a.mean())
    assert (low, high) == pytest.approx((ci.low, ci.high))


def test_change_against_the_baseline_year_is_paired_by_replication():
    frames = [
        _long({"plan": [100.0, 110.0, 90.0]}, period="2016/17"),
        _long({"plan": [80.0, 90.0, 69.0]}, period="2017/18"),
        _long({"plan": [180.0, 200.0, 159.0]}, period="all"),
    ]
    frame = pd.concat(frames, ignore_index=True)
    table = compare(frame, against="plan", baseline_year="2016/17")
    later = table[table.period == "2017/18"].iloc[0]
    mean, low, high = t_interval(np.array([-20.0, -20.0, -21.0]))
    assert (later["vs_baseline"], later["vs_baseline_ci_low"], later["vs_baseline_ci_high"]) == (
        pytest.approx((mean, low, high))
    )
    assert later["rel_vs_baseline"] == pytest.approx(mean / 100.0)
    assert table[table.period == "2016/17"].iloc[0]["vs_baseline"] == 0.0
    assert np.isnan(table[table.period == "all"].iloc[0]["vs_baseline"])


def test_every_scenario_is_measured_from_the_comparators_baseline_year():
    # the plan's levers already act in 2016/17 (95, 104, 85 against do nothing's 100, 110, 90)
    frames = [
        _long({"do_nothing": [100.0, 110.0, 90.0], "plan": [95.0, 104.0, 85.0]}, period="2016/17"),
        _long({"do_nothing": [102.0, 113.0, 92.0], "plan": [80.0, 90.0, 69.0]}, period="2017/18"),
    ]
    table = compare(pd.concat(frames, ignore_index=True), "do_nothing", baseline_year="2016/17")
    row = table.set_index(["scenario", "period"])
    # plan 2017/18 minus do nothing 2016/17, replication by replication: -20, -20, -21
    assert row.loc[("plan", "2017/18"), "vs_baseline"] == pytest.approx(-61 / 3)
    assert row.loc[("plan", "2017/18"), "rel_vs_baseline"] == pytest.approx(-61 / 3 / 100)
    # its own base year is a change too: -5, -6, -5, not 0
    assert row.loc[("plan", "2016/17"), "vs_baseline"] == pytest.approx(-16 / 3)
    # do nothing against itself: +2, +3, +2
    assert row.loc[("do_nothing", "2017/18"), "vs_baseline"] == pytest.approx(7 / 3)
    assert (table["baseline_year"] == "2016/17").all()


def test_compare_rejects_an_unknown_comparator():
    with pytest.raises(ValueError, match="against must name a scenario"):
        compare(_long({"a": [1.0, 2.0]}), against="b")


def test_mser_finds_the_end_of_a_linear_transient():
    """A ramp over the first 50 observations, then noise: MSER-5 cuts near 50."""
    rng = np.random.default_rng(3)
    ramp = np.linspace(0, 100, 50, endpoint=False)
    series = np.concatenate([ramp, 100 + rng.normal(0, 1, size=450)])
    found = mser(series)
    assert found.batch == 5
    assert found.truncate % 5 == 0
    assert 40 <= found.truncate <= 60
    assert found.reliable


def test_mser_keeps_a_stationary_series_whole_and_flags_a_rising_one():
    rng = np.random.default_rng(4)
    assert mser(rng.normal(0, 1, size=400)).truncate <= 20
    rising = mser(np.arange(200.0))
    assert not rising.reliable


def test_mser_needs_enough_data():
    with pytest.raises(ValueError, match="at least 20"):
        mser(np.ones(19))


def test_clip_counts_labels_what_it_cut():
    summary = summarise(_long({"a": [0.0, 0.0, 30.0]}, metric="ed_12h_waits"))
    assert summary["ci_low"].iloc[0] < 0  # the symmetric interval of a skewed count
    clipped = clip_counts(summary, ["ed_12h_waits"])
    assert clipped["ci_low"].iloc[0] == 0.0
    assert clipped["ci_low_clipped"].iloc[0]
    assert clipped["ci_high"].iloc[0] == summary["ci_high"].iloc[0]


def test_relative_half_width():
    summary = pd.DataFrame(
        {"mean": [10.0, 0.0, 0.0], "ci_low": [9.0, 0.0, -1.0], "ci_high": [11.0, 0.0, 1.0]}
    )
    rel = relative_half_width(summary)
    assert rel.iloc[0] == pytest.approx(0.1)
    assert rel.iloc[1] == 0.0
    assert np.isnan(rel.iloc[2])


def _costs(scenario: str, totals: list[float], invested: list[float]) -> pd.DataFrame:
    years = ["2016/17", "2017/18", "2018/19"]
    frames = []
    for year, total, money in zip(years, totals, invested, strict=True):
        frames.append(_long({scenario: [total, total + 10]}, "cost_total", year))
        frames.append(_long({scenario: [money, money]}, "cost_investment", year))
    return pd.concat(frames, ignore_index=True)


def test_net_cost_cumulates_from_the_plans_first_year_with_the_base_year_apart():
    frame = pd.concat(
        [
            _costs("do_nothing", [100, 100, 100], [0, 0, 0]),
            # the plan already costs 30 more in its base year; 50 more, then 20 less
            _costs("plan", [130, 150, 80], [0, 40, 40]),
        ],
        ignore_index=True,
    )
    table = net_cost(frame, "do_nothing", baseline_year="2016/17")
    rep0 = table[table.replication == 0].set_index("period")
    assert list(rep0["plan_year"]) == [0, 1, 2]
    assert rep0.loc["2016/17", "net_gbp"] == 30  # shown apart
    assert np.isnan(rep0.loc["2016/17", "cumulative_gbp"])  # and not counted
    assert rep0.loc["2017/18", "cumulative_gbp"] == 50
    assert rep0.loc["2018/19", "cumulative_gbp"] == 30  # 50 - 20
    assert rep0.loc["2018/19", "cumulative_investment_gbp"] == 80
    assert set(table.scenario) == {"plan"}


def test_net_cost_discounts_each_plan_year_after_the_first():
    frame = pd.concat(
        [
            _costs("do_nothing", [100, 100, 100], [0, 0, 0]),
            _costs("plan", [130, 150, 80], [0, 0, 0]),
        ],
        ignore_index=True,
    )
    table = net_cost(frame, "do_nothing", baseline_year="2016/17", discount_rate=0.035)
    rep1 = table[table.replication == 1].set_index("period")
    assert rep1.loc["2017/18", "discounted_gbp"] == 50  # year 1 is the present: undiscounted
    assert rep1.loc["2018/19", "discounted_gbp"] == pytest.approx(-20 / 1.035)  # -19.32
    assert rep1.loc["2018/19", "cumulative_gbp"] == pytest.approx(50 - 20 / 1.035)  # 30.68
    # without a baseline year every year is a plan year, counted from the first
    every = net_cost(frame, "do_nothing").set_index(["replication", "period"])
    assert every.loc[(0, "2018/19"), "cumulative_gbp"] == 60  # 30 + 50 - 20
