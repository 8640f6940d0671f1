"""Numbers as tables show them: the command line, the HTML report and the app alike.

Every function takes a metric's unit from :mod:`sim.metrics.catalogue`
(``count``, ``share``, ``days``, ``hours``, ``staff``, ``gbp``). Shares are fractions,
shown as percentages; their differences are percentage points. A missing
value (``NaN``) shows as ``-``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: float, unit: str) -> str:
    """A mean as a table shows it: ``84.2%``, ``6,429``, ``1.25``, ``£3.1m``."""
    if _missing(value):
        return "-"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit in ("days", "hours", "staff"):
        return f"{value:.2f}"
    if unit == "gbp":
        return f"£{value / 1e6:,.1f}m"
    return f"{value:,.0f}"


def fmt_diff(value: float, unit: str) -> str:
    """A signed difference: ``+2.1 pp`` for shares, ``-£0.4m``, ``+1,203``."""
    if _missing(value):
        return "-"
    if unit == "share":
        return f"{100 * value:+.1f} pp"
    if unit in ("days", "hours", "staff"):
        return f"{value:+.2f}"
    if unit == "gbp":
        return f"{'-' if value < 0 else '+'}£{abs(value) / 1e6:,.1f}m"
    return f"{value:+,.0f}"


def fmt_rel(value: float) -> str:
    """A relative change in brackets, `` (+4.5%)``; empty when there is none."""
    if value is None or not math.isfinite(value):
        return ""
    return f" ({100 * value:+.1f}%)"


def fmt_number(value: float) -> str:
    """Whole numbers with separators when large, four significant figures when small."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def interval(low: float, high: float, unit: str, diff: bool = False) -> str:
    """A confidence interval, ``82.7% to 85.7%``; empty when there is none."""
    if pd.isna(low):
        return ""
    show = fmt_diff if diff else fmt
    return f"{show(low, unit)} to {show(high, unit)}"


def shown_periods(summary: pd.DataFrame) -> list[str]:
    """Periods a table shows: each financial year, and the whole run when it is more than one."""
    periods = list(dict.fromkeys(summary["period"]))
    days = summary[summary.metric == "observed_days"].groupby("period")["mean"].first()
    if len(periods) == 2 and days.get(periods[0]) == days.get(periods[1]):
        periods = periods[1:]  # one financial year is the whole run: show it once
    return periods


def period_label(period: str) -> str:
    """``whole run`` for ``all``, else the financial year as written."""
    return "whole run" if period == "all" else period
