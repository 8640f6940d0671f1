"""Textbook queueing results the validation suite holds the engines to.

Pure functions of the inputs (rates per day, stays in days), no simulation:
Erlang B and C (M/G/c/c, M/M/c), the finite waiting room M/M/c/K, and the
expected occupancy of an M_t/G/infinity system started empty. References:
Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*
(4th ed.), sections 2.3-2.5; Eick, Massey & Whitt (1993), "The physics of the
M_t/G/infinity queue", Operations Research 41(4).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/G/c/c with offered load ``a`` erlangs (stable recursion)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load ``a < c`` erlangs."""
    if not a < c:
        raise ValueError(f"M/M/c needs a < c, got a = {a}, c = {c}")
    b = erlang_b(c, a)
    return c * b / (c - a * (1 - b))


def mmc(c: int, per_day: float, stay_days: float) -> dict[str, float]:
    """M/M/c: P(wait), mean wait in queue (days), mean queue and mean busy servers."""
    a = per_day * stay_days
    p_wait = erlang_c(c, a)
    wq = p_wait / (c / stay_days - per_day)
    return {"p_wait": p_wait, "wait_days": wq, "queue": per_day * wq, "busy": a}


def mmck(c: int, k: int, per_day: float, stay_days: float) -> dict[str, float]:
    """M/M/c/K with ``k`` waiting places (K = c + k): blocking, mean queue, busy servers.

    A patient who finds every server busy and ``k`` already waiting is lost.
    """
    a = per_day * stay_days
    n = np.arange(c + k + 1)
    log_p = np.where(
        n <= c,
        n * math.log(a) - np.array([math.lgamma(m + 1) for m in np.minimum(n, c)]),
        c * math.log(a) - math.lgamma(c + 1) + (n - c) * math.log(a / c),
    )
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    blocking = float(p[-1])
    queue = float(((n - c).clip(min=0) * p).sum())
    return {"blocking": blocking, "queue": queue, "busy": a * (1 - blocking)}


def lognormal_limited_mean(mu: float, sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> E[min(X, x)]`` for X lognormal(mu, sigma): the integral of the survival function."""

    def g(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            log_x = np.log(np.where(x > 0, x, np.nan))
        head = math.exp(mu + sigma**2 / 2) * stats.norm.cdf((log_x - mu - sigma**2) / sigma)
        tail = x * stats.norm.sf((log_x - mu) / sigma)
        return np.where(x > 0, head + tail, 0.0)

    return g


def mt_g_infinity_mean(rate_per_hour: np.ndarray, limited_mean: Callable, times_h: np.ndarray):
    """Expected number in an M_t/G/infinity system started empty at t = 0.

    ``rate_per_hour[j]`` is the arrival rate over hour ``[j, j + 1)``; the
    number present at time t is Poisson with mean the integral over u of
    lambda(t - u) S(u) du, which for a rate constant within each hour is
    ``sum_j rate[j] * (G(t - j) - G(t - j - 1))`` with ``G(x) = E[min(X, x)]``
    (hours) and G = 0 below zero.
    """
    times_h = np.asarray(times_h, dtype=float)
    out = np.empty(len(times_h))
    for i, t in enumerate(times_h):
        j = np.arange(int(math.ceil(t)))
        upper = limited_mean(t - j)
        lower = limited_mean(np.maximum(t - j - 1, 0.0))
        out[i] = float((rate_per_hour[j] * (upper - lower)).sum())
    return out
