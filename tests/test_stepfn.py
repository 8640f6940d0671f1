"""Step functions (used by the invariant checks): occupancy counting and means, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sim.clock import stepfn


def test_counting_open_intervals():
    starts = np.array([0.0, 1.0, 2.0, np.nan])
    ends = np.array([3.0, np.nan, 2.5, 1.0])
    times, values = stepfn.counting(starts, ends, end_h=10)
    assert times.tolist() == [0.0, 1.0, 2.0, 2.5, 3.0]
    assert values.tolist() == [1, 2, 3, 2, 1]


def test_window_mean():
    step = (np.array([0.0, 2.0, 6.0]), np.array([1.0, 3.0, 0.0]))
    assert stepfn.window_mean(step, 0, 10, 10) == pytest.approx((2 * 1 + 4 * 3) / 10)
    assert stepfn.window_mean(step, 1, 3, 10) == pytest.approx((1 + 3) / 2)
    assert np.isnan(stepfn.window_mean(step, 3, 3, 10))


def test_combine_aligns_two_step_functions():
    a = (np.array([0.0, 5.0]), np.array([1.0, 2.0]))
    b = (np.array([0.0, 3.0]), np.array([10.0, 20.0]))
    times, va, vb = stepfn.combine(a, b)
    assert times.tolist() == [0, 3, 5]
    assert va.tolist() == [1, 1, 2]
    assert vb.tolist() == [10, 20, 20]
