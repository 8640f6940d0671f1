"""Output analysis: confidence intervals, paired comparisons, replication counts, warm-up.

Replications are independent, so a metric's mean over ``n`` replications has
a Student-t interval ``mean +/- t(0.975, n - 1) * sd / sqrt(n)``. With one
replication the interval is undefined (NaN): one run says nothing about its
own uncertainty.

The interval is symmetric, so for a rare, skewed count (12-hour waits in a
system that only sometimes gridlocks) its lower end can fall below zero with
few replications: the spread between replications is as large as the mean.
:func:`clip_counts` cuts such lower ends at zero for display, and says so.

**Paired comparison.** Scenarios run with common random numbers see the same
patients in replication ``r``, so the difference between two scenarios is
estimated replication by replication: ``d_r = x_r(B) - x_r(A)`` and a t
interval on the ``d_r``. The shared noise cancels, so the interval is much
narrower than one from two independent samples (:func:`unpaired_interval`,
Welch), and two identical scenarios differ by exactly zero.

**Warm-up.** :func:`mser` is the MSER-5 rule (White, 1997): batch a series
in fives, and truncate where the squared standard error of the remaining
mean is smallest, searching the first half only.

This module is pure: tables in, tables out. Running replications to meet a
precision or to measure a warm-up is in :mod:`sim.experiment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ["scenario", "metric", "period", "mean", "ci_low", "ci_high", "n_reps"]

COMPARISON_COLUMNS = [
    "metric",
    "period",
    "scenario",
    "mean",
    "ci_low",
    "ci_high",
    "n_reps",
    "against",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "rel_change",
    "baseline_year",
    "vs_baseline",
    "vs_baseline_ci_low",
    "vs_baseline_ci_high",
    "rel_vs_baseline",
]
"""Columns of :func:`compare`: each scenario's mean and CI; the paired difference
against the comparator (``diff``, its CI, ``rel_change = diff / comparator mean``);
and the paired change against the comparator's baseline year (one baseline for all)."""


def _t_quantile(level: float, dof: Any) -> Any:
    from scipy import stats  # imported on use: scipy.stats takes a second to import

    return stats.t.ppf(0.5 + level / 2, dof)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a sample's mean."""
    _check_level(level)
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(_t_quantile(level, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def unpaired_interval(
    a: np.ndarray, b: np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """(difference, low, high) of ``mean(b) - mean(a)`` from independent samples (Welch).

    What a comparison would give without common random numbers; for contrast
    with the paired interval, never used for scenarios that share streams.
    """
    _check_level(level)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    diff = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se2 = va + vb
    if se2 == 0:
        return diff, diff, diff
    dof = se2**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(_t_quantile(level, dof) * np.sqrt(se2))
    return diff, diff - half, diff + half


def summarise_by(
    frame: pd.DataFrame, keys: Sequence[str], column: str = "value", level: float = 0.95
) -> pd.DataFrame:
    """Per group of ``keys``: mean, ci_low, ci_high, n_reps of ``column``, as columns.

    Groups keep the order in which they first appear; NaN values are left out.
    """
    _check_level(level)
    return _t_table(frame, list(keys), column, level).reset_index()


def _t_table(frame: pd.DataFrame, keys: list[str], column: str, level: float) -> pd.DataFrame:
    """Per group: mean, ci_low, ci_high, n_reps of ``column`` (NaN values left out)."""
    grouped = frame.groupby(keys, sort=False)[column]
    n = grouped.count()
    mean = grouped.mean()
    sd = grouped.std(ddof=1)
    tq = pd.Series(_t_quantile(level, np.maximum(n - 1, 1)), index=n.index)
    half: pd.Series = (tq * sd / np.sqrt(n)).where(n > 1)
    return pd.DataFrame({"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_reps": n})


def summarise(replications: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per scenario, metric and period: mean, CI and number of replications.

    Rows keep the order in which metrics and periods first appear.
    """
    _check_level(level)
    if replications.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    out = _t_table(replications, ["scenario", "metric", "period"], "value", level).reset_index()
    return out[SUMMARY_COLUMNS]


def clip_counts(summary: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """The summary with ``ci_low`` cut at zero for the named count metrics.

    Adds a ``ci_low_clipped`` column (True where a lower end was cut), so the
    change is labelled wherever the table goes.
    """
    out = summary.copy()
    cut = out["metric"].isin(list(metrics)) & (out["ci_low"] < 0)
    out["ci_low"] = out["ci_low"].where(~cut, 0.0)
    out["ci_low_clipped"] = cut
    return out


def relative_half_width(summary: pd.DataFrame) -> pd.Series:
    """Half-width of each CI over the magnitude of its mean (0 when both are 0)."""
    half = (summary["ci_high"] - summary["ci_low"]) / 2
    magnitude = summary["mean"].abs()
    rel = half / magnitude.where(magnitude > 0)
    return rel.where(~((half == 0) & (magnitude == 0)), 0.0)


# --- paired comparison -----------------------------------------------------------------------


def _by_scenario(replications: pd.DataFrame) -> pd.DataFrame:
    """Values with one column per scenario, indexed by (metric, period, replication)."""
    return replications.pivot_table(
        index=["metric", "period", "replication"],
        columns="scenario",
        values="value",
        aggfunc="first",
        dropna=False,
        sort=False,
    )


def compare(
    replications: pd.DataFrame,
    against: str,
    baseline_year: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Each scenario against a comparator, per metric and period (columns: COMPARISON_COLUMNS).

    ``replications`` is a run's long table (scenario, replication, metric,
    period, value) with every scenario run on the same replications.
    Differences are paired by replication (common random numbers).
    ``baseline_year`` (``"2016/17"``) adds each year's change against the
    *comparator's* value in that year, paired by replication, for every
    scenario: one baseline, so a plan whose levers already act in its own
    baseline year is still measured from where do nothing stood (NaN for the
    period ``all``).
    """
    _check_level(level)
    scenarios = list(dict.fromkeys(replications["scenario"]))
    if against not in scenarios:
        raise ValueError(f"against must name a scenario ({', '.join(scenarios)}), got {against!r}")
    wide = _by_scenario(replications)
    keys = ["metric", "period"]
    flat = wide.reset_index()
    frames = []
    for name in scenarios:
        own = _t_table(flat, keys, name, level)
        own["scenario"] = name
        own["against"] = against
        if name == against:
            for column in ("diff", "diff_ci_low", "diff_ci_high", "rel_change"):
                own[column] = np.nan
        else:
            paired = flat[keys].assign(d=flat[name] - flat[against])
            diff = _t_table(paired, keys, "d", level)
            comparator_mean = _t_table(flat, keys, against, level)["mean"]
            own["diff"] = diff["mean"]
            own["diff_ci_low"] = diff["ci_low"]
            own["diff_ci_high"] = diff["ci_high"]
            own["rel_change"] = diff["mean"] / comparator_mean.where(comparator_mean != 0)
        own["baseline_year"] = baseline_year
        for column in ("vs_baseline", "vs_baseline_ci_low", "vs_baseline_ci_high"):
            own[column] = np.nan
        own["rel_vs_baseline"] = np.nan
        if baseline_year is not None:
            own.update(_against_year(flat, name, against, baseline_year, level))
        frames.append(own.reset_index())
    out = pd.concat(frames, ignore_index=True)
    order = {
        column: {v: i for i, v in enumerate(dict.fromkeys(values))}
        for column, values in (
            ("metric", replications["metric"]),
            ("period", replications["period"]),
            ("scenario", scenarios),
        )
    }
    out = out.sort_values(
        ["metric", "period", "scenario"],
        key=lambda col: col.map(order[str(col.name)]),
        kind="stable",
    )
    return out[COMPARISON_COLUMNS].reset_index(drop=True)


def _against_year(
    flat: pd.DataFrame, scenario: str, against: str, year: str, level: float
) -> pd.DataFrame:
    """Per metric and year: the scenario's paired change against the comparator's ``year``."""
    base = flat[flat["period"] == year].set_index(["metric", "replication"])[against]
    values = flat[["metric", "period", "replication", scenario]]
    yearly = values[values["period"] != "all"]
    joined = yearly.join(base.rename("base"), on=["metric", "replication"])
    change = joined.assign(d=joined[scenario] - joined["base"])
    table = _t_table(change, ["metric", "period"], "d", level)
    base_mean = base.groupby(level="metric", sort=False).mean()
    metric_base = base_mean.reindex(table.index.get_level_values("metric")).to_numpy()
    return pd.DataFrame(
        {
            "vs_baseline": table["mean"],
            "vs_baseline_ci_low": table["ci_low"],
            "vs_baseline_ci_high": table["ci_high"],
            "rel_vs_baseline": table["mean"] / np.where(metric_base != 0, metric_base, np.nan),
        },
        index=table.index,
    )


# --- net cost against the comparator -----------------------------------------------------------

NET_COST_COLUMNS = [
    "scenario",
    "replication",
    "period",
    "plan_year",
    "net_gbp",
    "discounted_gbp",
    "cumulative_gbp",
    "investment_gbp",
    "cumulative_investment_gbp",
]
"""Columns of :func:`net_cost`."""


def net_cost(
    replications: pd.DataFrame,
    against: str,
    baseline_year: str | None = None,
    discount_rate: float = 0.0,
) -> pd.DataFrame:
    """Each scenario's net cost against the comparator by financial year, and its running sum.

    Paired by replication: ``net_gbp`` is a scenario's ``cost_total`` minus the
    comparator's in the same replication and year. A plan is costed from its
    first year, the year after ``baseline_year``: that year is ``plan_year`` 1,
    the next 2, and so on; the baseline year is 0 and earlier years negative,
    shown with their own net cost but kept out of the running sums
    (``cumulative_gbp`` and ``cumulative_investment_gbp`` are NaN there).
    Without a baseline year every reported year is a plan year.
    ``discounted_gbp = net_gbp / (1 + discount_rate) ** (plan_year - 1)``: the
    first plan year is the present (year 0 of HM Treasury's Green Book
    convention) and is not discounted; the running sum is of the discounted
    values. Prices are as the unit costs give them (``costs.price_base``).
    ``investment_gbp`` is the scenario's ``cost_investment`` (part of its cost),
    undiscounted.
    """
    if not 0 <= discount_rate <= 1:
        raise ValueError(f"discount_rate must be between 0 and 1, got {discount_rate}")
    rows = replications[
        replications["metric"].isin(["cost_total", "cost_investment"])
        & (replications["period"] != "all")
    ]
    years = sorted(set(rows["period"]))
    wide = rows.pivot_table(
        index=["period", "replication"], columns=["metric", "scenario"], values="value"
    )
    if baseline_year is None:
        first = 0
    elif baseline_year in years:
        first = years.index(baseline_year) + 1
    else:
        raise ValueError(
            f"baseline_year must be a reported year ({', '.join(years)}), got {baseline_year!r}"
        )
    plan_year = {year: i - first + 1 for i, year in enumerate(years)}
    frames = []
    for name in dict.fromkeys(replications["scenario"]):
        if name == against or ("cost_total", name) not in wide:
            continue
        frame = pd.DataFrame(
            {
                "net_gbp": wide[("cost_total", name)] - wide[("cost_total", against)],
                "investment_gbp": wide.get(("cost_investment", name), 0.0),
            }
        ).reset_index()
        frame["scenario"] = name
        frame["plan_year"] = frame["period"].map(plan_year)
        in_plan = frame["plan_year"] >= 1
        factor = (1.0 + discount_rate) ** (frame["plan_year"] - 1).clip(lower=0)
        frame["discounted_gbp"] = np.where(in_plan, frame["net_gbp"] / factor, np.nan)
        frame = frame.sort_values(["replication", "plan_year"], kind="stable")
        for column, running in (
            ("discounted_gbp", "cumulative_gbp"),
            ("investment_gbp", "cumulative_investment_gbp"),
        ):
            kept = frame[column].where(in_plan, 0.0)
            frame[running] = kept.groupby(frame["replication"]).cumsum().where(in_plan)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=NET_COST_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return (
        out[NET_COST_COLUMNS]
        .sort_values(["scenario", "plan_year", "replication"], kind="stable")
        .reset_index(drop=True)
    )


# --- warm-up ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mser:
    """The MSER-5 truncation point of a series."""

    truncate: int
    """Observations to discard (a multiple of the batch size)."""
    batch: int
    statistic: np.ndarray
    """MSER of each candidate truncation, in batches (searched over the first half)."""
    reliable: bool
    """False when the minimum sits at the end of the search: the series is too short
    to show the end of its warm-up, so run longer."""


def mser(values: Sequence[float] | np.ndarray, batch: int = 5) -> Mser:
    """MSER-``batch`` (MSER-5 by default): how many leading observations to discard.

    The series is cut into batch means ``z_1..z_m``; for each ``d`` in the
    first half, ``MSER(d) = sum_{j > d} (z_j - mean_{j > d} z)^2 / (m - d)^2``,
    and the truncation is ``batch x argmin``.
    """
    y = np.asarray(values, dtype=float)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if np.isnan(y).any():
        raise ValueError("the series has missing values")
    m = len(y) // batch
    if m < 4:
        raise ValueError(f"needs at least {4 * batch} observations, got {len(y)}")
    z = y[: m * batch].reshape(m, batch).mean(axis=1)
    # tail sums from each d to the end, for the variance of the remaining batches
    tail = np.cumsum(z[::-1])[::-1]
    tail_sq = np.cumsum((z**2)[::-1])[::-1]
    count = m - np.arange(m)
    sse = tail_sq - tail**2 / count
    half = m // 2
    stat = np.maximum(sse[:half], 0.0) / count[:half] ** 2
    best = int(np.argmin(stat))
    return Mser(truncate=best * batch, batch=batch, statistic=stat, reliable=best < half - 1)
