"""The bed pool against queueing theory, on both engines.

Poisson direct admissions into one bed pool with P0 discharge at any hour
make the model an M/G/c system: Erlang C (queueing), Erlang B (loss, with
exponential and lognormal stays: insensitivity) and M/M/c/K (divert once the
queue is full). Each check: the analytic value within 3 standard errors of
the replication mean (fixed seeds); every run also checks the invariants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import theory
from checks import erlang_b_checks, erlang_c_checks, mmck_checks
from harness import ENGINES, assert_all, check, run
from scenarios import bed_pool

# Both engines give the same patients for the same replications; the fast one runs five
# times as many here, for a tighter check at a fraction of the SimPy engine's time.
SIZE = {"simpy": {"reps": 20, "days": 24}, "fast": {"reps": 100, "days": 24}}


def test_formulas_against_textbook_values() -> None:
    # B(10, 8) = 0.12166, C(10, 8) = 0.40918 (Gross et al., tables)
    assert math.isclose(theory.erlang_b(10, 8.0), 0.12166, abs_tol=5e-5)
    assert math.isclose(theory.erlang_c(10, 8.0), 0.40918, abs_tol=5e-5)
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda)
    one = theory.mmc(1, per_day=0.5, stay_days=1.0)
    assert math.isclose(one["p_wait"], 0.5)
    assert math.isclose(one["wait_days"], 1.0)
    # no waiting room: M/M/c/c is Erlang B; a huge one: M/M/c
    assert math.isclose(theory.mmck(10, 0, 8.0, 1.0)["blocking"], theory.erlang_b(10, 8.0))
    assert math.isclose(theory.mmck(10, 300, 8.0, 1.0)["queue"], theory.mmc(10, 8.0, 1.0)["queue"])
    with pytest.raises(ValueError, match="needs a < c"):
        theory.erlang_c(4, 4.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_erlang_c_wait_probability_mean_wait_and_queue(engine: str) -> None:
    assert_all(erlang_c_checks(engine, **SIZE[engine]))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("stay", ["exponential", "lognormal"])
def test_erlang_b_blocking_is_insensitive_to_the_stay_distribution(engine: str, stay: str) -> None:
    assert_all(erlang_b_checks(engine, stay, **SIZE[engine]))


@pytest.mark.parametrize("engine", ENGINES)
def test_finite_waiting_room_mmck_blocking_and_queue(engine: str) -> None:
    assert_all(mmck_checks(engine, **SIZE[engine]))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_queueing_checks_with_more_precision(engine: str) -> None:
    assert_all(
        erlang_c_checks(engine, reps=60, days=73)
        + erlang_b_checks(engine, "exponential", reps=60, days=73)
        + erlang_b_checks(engine, "lognormal", reps=60, days=73)
        + mmck_checks(engine, reps=60, days=73)
    )


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_erlang_c_at_high_utilisation(engine: str) -> None:
    """Utilisation 0.9: long, correlated queues need long runs (days-long stays)."""
    c, per_day = 20, 18.0
    expect = theory.mmc(c, per_day, 1.0)
    data = bed_pool(
        beds=c,
        per_day=per_day,
        los_days={"dist": "exponential", "mean": 1.0},
        days=3 * 365.25,
        warm_up_days=60,
    )
    r = run(data, engine, reps=20, seed=909)
    wait = r["direct_wait_hours"] / r["admissions_direct"] / 24
    assert_all([check("M/M/20 at 0.9, Wq (days)", engine, wait, expect["wait_days"])])
    assert np.all(r["admissions_direct"] > 5000)
