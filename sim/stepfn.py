"""Step functions of time: occupancy, queues, capacity.

A step function is ``(times, values)``: ``values[i]`` holds on
``[times[i], times[i + 1])`` and the last value holds to the end of the run;
``times[0]`` is 0. Time-weighted means over any window come from the
cumulative integral, which is piecewise linear and therefore exact under
linear interpolation; that one mechanism serves reporting periods and days.
"""

from __future__ import annotations

import numpy as np

Step = tuple[np.ndarray, np.ndarray]


def counting(starts: np.ndarray, ends: np.ndarray, end_h: float) -> Step:
    """How many intervals ``[start, end)`` are open at each time.

    Intervals with a NaN start are ignored; a NaN end means still open at
    ``end_h``.
    """
    keep = ~np.isnan(starts)
    starts = starts[keep]
    ends = ends[keep]
    ends = ends[~np.isnan(ends)]
    times = np.concatenate(([0.0], starts, ends))
    deltas = np.concatenate(([0.0], np.ones(len(starts)), -np.ones(len(ends))))
    order = np.argsort(times, kind="stable")
    times, values = times[order], np.cumsum(deltas[order])
    last = np.r_[times[1:] != times[:-1], True]  # the value after all changes at a time
    return times[last], values[last]


def from_log(times: np.ndarray, values: np.ndarray) -> Step:
    """A step function from a log of (time, new value), the first at t = 0."""
    last = np.r_[times[1:] != times[:-1], True]
    return np.asarray(times, float)[last], np.asarray(values, float)[last]


def combine(a: Step, b: Step) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both step functions on the union of their breakpoints: (times, a, b)."""
    times = np.union1d(a[0], b[0])
    va = a[1][np.searchsorted(a[0], times, side="right") - 1]
    vb = b[1][np.searchsorted(b[0], times, side="right") - 1]
    return times, va, vb


def integral(step: Step, at: np.ndarray | float, end_h: float) -> np.ndarray:
    """Integral of the step function from 0 to each time in ``at`` (<= end_h)."""
    times, values = step
    edges = np.append(times, max(end_h, times[-1]))
    cumulative = np.concatenate(([0.0], np.cumsum(values * np.diff(edges))))
    return np.asarray(np.interp(at, edges, cumulative), dtype=float)


def window_mean(step: Step, start: float, end: float, end_h: float) -> float:
    if end <= start:
        return float("nan")
    both = integral(step, np.array([start, end]), end_h)
    return float((both[1] - both[0]) / (end - start))


def window_total(step: Step, start: float, end: float, end_h: float) -> float:
    both = integral(step, np.array([start, end]), end_h)
    return float(both[1] - both[0])


def window_quantile(step: Step, start: float, end: float, q: float) -> float:
    """Time-weighted quantile of the value over ``[start, end)``."""
    times, values = step
    lo = np.clip(times, start, end)
    hi = np.clip(np.append(times[1:], np.inf), start, end)
    weight = hi - lo
    keep = weight > 0
    if not keep.any():
        return float("nan")
    v, w = values[keep], weight[keep]
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(v[order][min(index, len(v) - 1)])


def value_at(step: Step, at: np.ndarray) -> np.ndarray:
    """The value holding at each time in ``at``."""
    times, values = step
    return values[np.searchsorted(times, at, side="right") - 1]


def daily_means(step: Step, day_starts: np.ndarray, end_h: float) -> np.ndarray:
    """Mean value over each day ``[day_starts[i], day_starts[i + 1])``."""
    cumulative = integral(step, day_starts, end_h)
    return np.diff(cumulative) / np.diff(day_starts)
