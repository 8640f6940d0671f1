"""Distributions: parameters validated, moments analytic, samples agree with them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from sim.rng.distributions import (
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Uniform,
)

ADAPTER = TypeAdapter(Distribution)

CASES = [
    Exponential(mean=3.0),
    Lognormal(mean=6.7, sd=14.0),
    Lognormal(mu=0.469, sigma=1.0),
    Gamma(mean=5.0, sd=3.0),
    Gamma(shape=2.0, scale=1.5),
    Fixed(value=4.0),
    Uniform(low=0.0, high=30.0),
    Empirical(values=(1.0, 2.0, 5.0), weights=(0.5, 0.3, 0.2)),
]
N = 400_000


@pytest.mark.parametrize("dist", CASES, ids=repr)
def test_sample_mean_and_variance_match_the_analytic_moments(dist):
    x = dist.sample(np.random.default_rng(1), N)
    sd = math.sqrt(dist.variance)
    # 5 standard errors of the mean; variance within 5% (lognormal tails: 10%)
    assert abs(x.mean() - dist.mean) <= 5 * sd / math.sqrt(N) + 1e-12
    tolerance = 0.10 if isinstance(dist, Lognormal) else 0.05
    assert x.var() == pytest.approx(dist.variance, rel=tolerance, abs=1e-12)


@pytest.mark.parametrize("dist", CASES, ids=repr)
def test_residual_mean_is_the_equilibrium_excess(dist):
    """E[remaining] = E[X^2] / (2 E[X]) for an episode seen at a random moment."""
    expected = (dist.variance + dist.mean**2) / (2 * dist.mean)
    x = dist.sample_residual(np.random.default_rng(2), N)
    assert x.mean() == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("dist", CASES, ids=repr)
def test_scalar_and_array_paths_agree(dist):
    one = [dist.sample(np.random.default_rng(5)) for _ in range(1)]
    many = dist.sample(np.random.default_rng(5), 1)
    assert np.isscalar(one[0]) or np.ndim(one[0]) == 0
    assert float(one[0]) == pytest.approx(float(many[0]))
    assert dist.sample(np.random.default_rng(5), (3, 4)).shape == (3, 4)


@pytest.mark.parametrize("dist", CASES, ids=repr)
def test_scaling_converts_units(dist):
    hours = dist.scaled(24)
    assert hours.mean == pytest.approx(24 * dist.mean)
    assert hours.variance == pytest.approx(24**2 * dist.variance)


def test_lognormal_by_moments_matches_by_logs():
    by_moments = Lognormal(mean=10.0, sd=5.0)
    assert by_moments.mean == pytest.approx(10.0)
    assert math.sqrt(by_moments.variance) == pytest.approx(5.0)
    assert Lognormal(mu=by_moments.mu, sigma=by_moments.sigma).mean == pytest.approx(10.0)


def test_readable_repr():
    assert repr(Exponential(mean=2)) == "Exponential(mean=2)"
    assert repr(Lognormal(mu=0.469, sigma=1.692)) == "Lognormal(mu=0.469, sigma=1.692; mean=6.689)"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"dist": "exponential", "mean": -1}, "greater than 0"),
        ({"dist": "lognormal", "mean": 3, "mu": 1, "sigma": 1}, "not both"),
        ({"dist": "lognormal", "mean": 3}, "give both mean and sd"),
        ({"dist": "gamma", "mean": 3, "sd": 0}, "finite and > 0"),
        ({"dist": "uniform", "low": 5, "high": 2}, "high must be > low"),
        ({"dist": "empirical", "values": [1, 2], "weights": [1]}, "match values in length"),
        ({"dist": "fixed", "value": float("nan")}, "finite number"),
        ({"dist": "weibull", "shape": 1}, "does not match any of the expected tags"),
    ],
)
def test_bad_parameters_fail_when_built(table, message):
    with pytest.raises(ValidationError, match=message):
        ADAPTER.validate_python(table)
