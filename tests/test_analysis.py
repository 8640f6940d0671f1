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


def test_change_against_the_baseline_year_is_paired_within_the_scenario():
    frames = [
        _long({"plan": [100.0, 110.0, 90.0]}, period="2016/17"),
        _long({"plan": [80.0, 90.0, 69.0]}, period="2017/18"),
        _long({"plan": [180.0, 200.0, 159.0]}, period="all"),
    ]
    frame = pd.concat(frames, ignore_index=True)
    table = compare(frame, against="plan", baseline_years={"plan": "2016/17"})
    later = table[table.period == "2017/18"].iloc[0]
    mean, low, high = t_interval(np.array([-20.0, -20.0, -21.0]))
    assert (later["vs_baseline"], later["vs_baseline_ci_low"], later["vs_baseline_ci_high"]) == (
        pytest.approx((mean, low, high))
    )
    assert later["rel_vs_baseline"] == pytest.approx(mean / 100.0)
    assert table[table.period == "2016/17"].iloc[0]["vs_baseline"] == 0.0
    assert np.isnan(table[table.period == "all"].iloc[0]["vs_baseline"])


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
