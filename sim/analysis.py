"""Output analysis: replication means with t-based confidence intervals.

Replications are independent, so a metric's mean over ``n`` replications has
a Student-t interval ``mean +/- t(0.975, n - 1) * sd / sqrt(n)``. With one
replication the interval is undefined (NaN): one run says nothing about its
own uncertainty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = ["scenario", "metric", "period", "mean", "ci_low", "ci_high", "n_reps"]


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a sample's mean."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def summarise(replications: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per scenario, metric and period: mean, CI and number of replications.

    Rows keep the order in which metrics and periods first appear.
    """
    if replications.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    keys = ["scenario", "metric", "period"]
    grouped = replications.groupby(keys, sort=False)["value"]
    n = grouped.count()
    mean = grouped.mean()
    sd = grouped.std(ddof=1)
    tq = pd.Series(stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), index=n.index)
    half: pd.Series = (tq * sd / np.sqrt(n)).where(n > 1)
    out = pd.DataFrame(
        {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_reps": n}
    ).reset_index()
    return out[SUMMARY_COLUMNS]
