"""Acute beds -> community service with blocking after service, against Ciw.

The same two-station network (Poisson admissions, exponential treatment and
episodes, P1 places with no waiting room so fit patients stay in their bed)
simulated by leftshift and by Ciw, an independent queueing-network library
(Type I blocking via ``queue_capacities = 0``). Each measure's means agree
within 3 combined standard errors of the two runs.
"""

from __future__ import annotations

import pytest
from checks import tandem_checks
from harness import assert_all


def test_tandem_with_blocking_after_service_matches_ciw_simpy() -> None:
    assert_all(tandem_checks("simpy", reps=12, days=100))


def test_tandem_with_blocking_after_service_matches_ciw_fast() -> None:
    assert_all(tandem_checks("fast", reps=12, days=100))


@pytest.mark.slow
def test_tandem_matches_ciw_long_run_simpy() -> None:
    assert_all(tandem_checks("simpy", reps=40, days=365))


@pytest.mark.slow
def test_tandem_matches_ciw_long_run_fast() -> None:
    assert_all(tandem_checks("fast", reps=40, days=365))
