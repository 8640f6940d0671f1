"""The bed pool against queueing theory (Erlang C, Erlang B, Little's law).

A scenario reduced to one bed pool with Poisson direct admissions is an
M/G/c queue. Each check states the analytic value and requires it to lie in
the 95% confidence interval of the replication means (fixed seed).
"""

from __future__ import annotations

import math

import numpy as np
from conftest import single_unit

from sim.analysis import t_interval
from sim.config import Scenario
from sim.engine_simpy import simulate
from sim.params import build_params


def erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    b = erlang_b(c, a)
    return c * b / (c - a * (1 - b))


def per_rep(data: dict, reps: int, seed: int, measure) -> np.ndarray:
    params = build_params(Scenario.from_dict(data))
    return np.array([measure(simulate(params, seed, r), params) for r in range(reps)])


def observed(record, params):
    """Rows admitted (or diverted) after warm-up."""
    asked = record["bed_request"]
    return ~np.isnan(asked) & (asked >= params.calendar.warm_up_h)


def test_erlang_c_mean_wait_and_probability_of_waiting():
    c, per_day, los_days = 10, 8.0, 1.0  # offered load 8 erlangs, utilisation 0.8
    a = per_day * los_days
    p_wait = erlang_c(c, a)  # 0.4092
    mean_wait_days = p_wait / (c / los_days - per_day)  # 0.2046 days
    data = single_unit(beds=c, per_day=per_day, years=3)

    def measure(record, params):
        rows = observed(record, params) & ~np.isnan(record["bed_start"])
        wait = (record["bed_start"] - record["bed_request"])[rows] / 24
        return wait.mean(), (wait > 1e-9).mean()

    values = per_rep(data, reps=12, seed=101, measure=measure)
    mean, low, high = t_interval(values[:, 0])
    assert low <= mean_wait_days <= high, (mean_wait_days, low, high)
    mean, low, high = t_interval(values[:, 1])
    assert low <= p_wait <= high, (p_wait, low, high)


def blocking(record, params):
    rows = observed(record, params)
    return (~np.isnan(record["diverted"][rows])).mean()


def test_erlang_b_blocking_with_exponential_stays():
    c, a = 10, 8.0
    data = single_unit(beds=c, per_day=a, years=3, diversion=0)
    mean, low, high = t_interval(per_rep(data, reps=12, seed=202, measure=blocking))
    assert low <= erlang_b(c, a) <= high, (erlang_b(c, a), low, high)  # 0.1217


def test_erlang_b_is_insensitive_to_a_lognormal_stay():
    c, a = 10, 8.0
    los = {"dist": "lognormal", "mean": 1.0, "sd": 1.5}
    data = single_unit(beds=c, per_day=a, years=3, diversion=0, los=los)
    mean, low, high = t_interval(per_rep(data, reps=12, seed=303, measure=blocking))
    assert low <= erlang_b(c, a) <= high, (erlang_b(c, a), low, high)


def test_littles_law_mean_occupancy_is_arrival_rate_times_mean_stay():
    per_day = 6.0
    los = {"dist": "gamma", "mean": 2.5, "sd": 4.0}
    data = single_unit(beds="unlimited", per_day=per_day, years=2, los=los, warm_up_days=60)

    def occupancy(record, params):
        from sim import stepfn

        step = stepfn.counting(record["bed_start"], record["bed_end"], params.calendar.end_h)
        return stepfn.window_mean(
            step, params.calendar.warm_up_h, params.calendar.end_h, params.calendar.end_h
        )

    mean, low, high = t_interval(per_rep(data, reps=12, seed=404, measure=occupancy))
    assert low <= per_day * 2.5 <= high, (per_day * 2.5, low, high)


def test_erlang_formulas_against_known_values():
    # textbook values: B(10, 8) = 0.1217, C(10, 8) = 0.4092
    assert math.isclose(erlang_b(10, 8.0), 0.12166, abs_tol=5e-5)
    assert math.isclose(erlang_c(10, 8.0), 0.40918, abs_tol=5e-5)
