"""Time-varying arrivals against the exact mean of M_t/G/infinity, on both engines.

Unlimited beds, direct admissions with a 168-hour profile (a daily sine and
quieter weekends) and lognormal stays, started empty: the expected number in
a bed at t is the integral of lambda(t - u) S(u) du (:mod:`theory`). Checked
by 6-hour block of the week, including the first week's fill from empty.
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import mt_g_infinity_checks, weekly_profile
from harness import ENGINES, assert_all
from scenarios import bed_pool

from sim.scenario.params import build_params
from sim.scenario.schema import Scenario


def test_engine_rates_are_the_profile_rates_the_analytic_mean_uses() -> None:
    profile = np.array(weekly_profile())
    data = bed_pool(
        beds="unlimited",
        per_day=48.0,
        los_days={"dist": "fixed", "value": 1},
        days=14,
        warm_up_days=0,
        profile=list(profile),
    )
    rate = build_params(Scenario.from_dict(data)).cohorts[0].direct_rate_h
    expected = 48.0 / 24 * 168 * profile / profile.sum()
    np.testing.assert_allclose(rate[:336], np.tile(expected, 2), rtol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_occupancy_follows_the_mt_g_infinity_mean(engine: str) -> None:
    checks = mt_g_infinity_checks(engine, reps=20, weeks=2)
    peak = max(checks, key=lambda c: c.expected)
    trough = min(checks, key=lambda c: c.expected)
    assert peak.expected > 1.8 * trough.expected  # the profile matters
    assert_all(checks)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_occupancy_follows_the_mt_g_infinity_mean_long_run(engine: str) -> None:
    assert_all(mt_g_infinity_checks(engine, reps=60, weeks=8))
