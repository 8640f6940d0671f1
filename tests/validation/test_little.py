"""Little's law, L = lambda W, on every unit of a whole system, on both engines.

A&E, SDEC, the acute beds (patients in treatment), urgent response and each
of P1-P3 (places in use, and patients delayed in acute beds waiting for
them), all from one run's own outputs: L is the unit's time-average
occupancy, lambda its entries per hour in the same window, W its mean time
(see :func:`checks.little_checks`). Tolerance: 3 combined standard errors.
"""

from __future__ import annotations

import pytest
from checks import little_checks
from harness import ENGINES, assert_all

# the same patients in both engines; the fast one runs five times as many replications
SIZE = {"simpy": {"reps": 6, "days": 24}, "fast": {"reps": 30, "days": 24}}


@pytest.mark.parametrize("engine", ENGINES)
def test_littles_law_on_every_unit(engine: str) -> None:
    checks = little_checks(engine, **SIZE[engine])
    assert len(checks) == 10  # A&E, SDEC, beds, urgent response, P1-P3 places and delays
    assert all(c.measured > 0.1 for c in checks), "every unit was used"
    assert_all(checks)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_littles_law_on_every_unit_long_run(engine: str) -> None:
    assert_all(little_checks(engine, reps=12, days=180))
