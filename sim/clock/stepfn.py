"""Step functions of time, for the invariant checks and tests.

A step function is ``(times, values)``: ``values[i]`` holds on
``[times[i], times[i + 1])`` and the last value holds to the end of the run;
``times[0]`` is 0. The invariant checks (:mod:`sim.invariants`) use them to
line up occupancy and queues over a whole record. Reported metrics do not:
:mod:`sim.metrics` streams rows into per-day and per-period sums instead.
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


def combine(a: Step, b: Step) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both step functions on the union of their breakpoints: (times, a, b)."""
    times = np.union1d(a[0], b[0])
    va = a[1][np.searchsorted(a[0], times, side="right") - 1]
    vb = b[1][np.searchsorted(b[0], times, side="right") - 1]
    return times, va, vb


def window_mean(step: Step, start: float, end: float, end_h: float) -> float:
    """Time-weighted mean over ``[start, end)`` (NaN for an empty window)."""
    if end <= start:
        return float("nan")
    times, values = step
    edges = np.append(times, max(end_h, times[-1]))
    cumulative = np.concatenate(([0.0], np.cumsum(values * np.diff(edges))))
    both = np.interp([start, end], edges, cumulative)
    return float((both[1] - both[0]) / (end - start))
