"""Probability distributions for durations (lengths of stay, episodes, delays).

Each distribution is a small frozen object that checks its own parameters
when built, prints readably, knows its analytic ``mean`` and ``variance`` and
samples with a caller's ``numpy.random.Generator`` (never global state). The
same call samples one value (``size=None``) or an array of any shape.

In a scenario file a distribution is a table whose ``dist`` key names the
family, and the key that holds it carries the unit::

    treatment_los_days = { dist = "lognormal", mu = 0.469, sigma = 1.692 }
    time_to_decision_minutes = { dist = "lognormal", mean = 180, sd = 120 }
    episode_days = { dist = "gamma", mean = 21, sd = 14 }
    delay_days = { dist = "uniform", low = 0, high = 30 }
    chairs_hours = { dist = "fixed", value = 6 }
    outcome_days = { dist = "empirical", values = [1, 2, 5], weights = [0.5, 0.3, 0.2] }

The loader converts every distribution once into the engine's clock unit
(hours) with :meth:`scaled`.

``sample_residual`` draws the *remaining* duration of an episode already under
way when observed at a random moment (the equilibrium residual, with mean
E[X^2] / 2E[X]); the starting state uses it so that "today's occupied beds"
are not all freshly admitted.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Size = int | tuple[int, ...] | None


def _shown(x: float) -> str:
    """A number for a message (one too large for a float is said so, not printed whole)."""
    try:
        return str(float(x)) if isinstance(x, int) and abs(x) > 2**53 else str(x)
    except OverflowError:
        return "a number too large to hold"


def _pop_moments(data: Any, native: tuple[str, str]) -> tuple[dict[str, Any], float, float] | None:
    """For a family given by ``mean`` and ``sd`` instead of its own parameters:
    the table without them, and the checked mean and sd. None if not given so."""
    if not isinstance(data, dict) or ("mean" not in data and "sd" not in data):
        return None
    if any(key in data for key in native):
        raise ValueError(f"give either mean and sd, or {native[0]} and {native[1]}, not both")
    rest = dict(data)
    mean, sd = rest.pop("mean", None), rest.pop("sd", None)
    if mean is None or sd is None:
        raise ValueError("give both mean and sd")
    if not isinstance(mean, int | float) or not isinstance(sd, int | float):
        raise ValueError(f"mean and sd must be numbers, got mean={mean!r}, sd={sd!r}")
    try:  # a whole number too large for a float is not finite either
        finite = math.isfinite(mean) and math.isfinite(sd)
    except OverflowError:
        finite = False
    if not (finite and mean > 0 and sd > 0):
        raise ValueError(
            f"mean and sd must be finite and > 0, got mean={_shown(mean)}, sd={_shown(sd)}"
        )
    return rest, float(mean), float(sd)


def _moments_or_native(native: tuple[str, str]) -> Any:
    """The JSON Schema of a family given either by ``mean`` and ``sd`` or by ``native``
    (what :func:`_pop_moments` accepts), for editors and ``leftshift schema``."""

    def edit(schema: dict[str, Any]) -> None:
        schema["properties"]["mean"] = {"type": "number", "exclusiveMinimum": 0}
        schema["properties"]["sd"] = {"type": "number", "exclusiveMinimum": 0}
        schema.pop("required", None)
        schema["oneOf"] = [
            {"required": ["mean", "sd"], "not": {"anyOf": [{"required": [n]} for n in native]}},
            {
                "required": list(native),
                "not": {"anyOf": [{"required": ["mean"]}, {"required": ["sd"]}]},
            },
        ]

    return edit


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        raise NotImplementedError

    def sample_residual(self, rng: np.random.Generator, size: Size = None) -> Any:
        """Remaining duration seen at a random moment of a renewal process."""
        return rng.random(size) * self._length_biased(rng, size)

    def _length_biased(self, rng: np.random.Generator, size: Size) -> Any:
        raise NotImplementedError

    def scaled(self, factor: float) -> Distribution:
        """The distribution of ``factor * X`` (used to convert units)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.model_dump(exclude={"dist"}).items()
        )
        return f"{type(self).__name__}({params})"

    __str__ = __repr__


class Exponential(_Dist):
    """Exponential with the given mean."""

    dist: Literal["exponential"] = "exponential"
    mean_value: float = Field(alias="mean", gt=0)

    model_config = ConfigDict(populate_by_name=True)

    @property
    def mean(self) -> float:
        return self.mean_value

    @property
    def variance(self) -> float:
        return self.mean_value**2

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        return rng.exponential(self.mean_value, size)

    def sample_residual(self, rng: np.random.Generator, size: Size = None) -> Any:
        return self.sample(rng, size)  # memoryless

    def scaled(self, factor: float) -> Exponential:
        return Exponential(mean_value=self.mean_value * factor)

    def __repr__(self) -> str:
        return f"Exponential(mean={self.mean_value:g})"


class Lognormal(_Dist):
    """Lognormal: give either ``mean`` and ``sd`` or ``mu`` and ``sigma`` (of log X)."""

    model_config = ConfigDict(json_schema_extra=_moments_or_native(("mu", "sigma")))

    dist: Literal["lognormal"] = "lognormal"
    mu: float
    sigma: float = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_moments(cls, data: Any) -> Any:
        moments = _pop_moments(data, ("mu", "sigma"))
        if moments is None:
            return data
        data, mean, sd = moments
        sigma2 = math.log1p((sd / mean) ** 2)
        return {**data, "mu": math.log(mean) - sigma2 / 2, "sigma": math.sqrt(sigma2)}

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def variance(self) -> float:
        return (math.exp(self.sigma**2) - 1) * math.exp(2 * self.mu + self.sigma**2)

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        return rng.lognormal(self.mu, self.sigma, size)

    def _length_biased(self, rng: np.random.Generator, size: Size) -> Any:
        return rng.lognormal(self.mu + self.sigma**2, self.sigma, size)

    def scaled(self, factor: float) -> Lognormal:
        return Lognormal(mu=self.mu + math.log(factor), sigma=self.sigma)

    def __repr__(self) -> str:
        return f"Lognormal(mu={self.mu:.4g}, sigma={self.sigma:.4g}; mean={self.mean:.4g})"


class Gamma(_Dist):
    """Gamma: give either ``mean`` and ``sd`` or ``shape`` and ``scale``."""

    model_config = ConfigDict(json_schema_extra=_moments_or_native(("shape", "scale")))

    dist: Literal["gamma"] = "gamma"
    shape: float = Field(gt=0)
    scale: float = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_moments(cls, data: Any) -> Any:
        moments = _pop_moments(data, ("shape", "scale"))
        if moments is None:
            return data
        data, mean, sd = moments
        return {**data, "shape": (mean / sd) ** 2, "scale": sd**2 / mean}

    @property
    def mean(self) -> float:
        return self.shape * self.scale

    @property
    def variance(self) -> float:
        return self.shape * self.scale**2

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        return rng.gamma(self.shape, self.scale, size)

    def _length_biased(self, rng: np.random.Generator, size: Size) -> Any:
        return rng.gamma(self.shape + 1, self.scale, size)

    def scaled(self, factor: float) -> Gamma:
        return Gamma(shape=self.shape, scale=self.scale * factor)


class Fixed(_Dist):
    """Always the same value (for deterministic checks)."""

    dist: Literal["fixed"] = "fixed"
    value: float = Field(ge=0)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        if size is None:
            return float(self.value)
        return np.full(size, float(self.value))

    def _length_biased(self, rng: np.random.Generator, size: Size) -> Any:
        return self.sample(rng, size)

    def scaled(self, factor: float) -> Fixed:
        return Fixed(value=self.value * factor)


class Uniform(_Dist):
    """Uniform on [low, high]."""

    dist: Literal["uniform"] = "uniform"
    low: float = Field(ge=0)
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.high > self.low:
            raise ValueError(f"high must be > low, got low={self.low}, high={self.high}")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        return rng.uniform(self.low, self.high, size)

    def _length_biased(self, rng: np.random.Generator, size: Size) -> Any:
        # density proportional to x on [low, high]: invert its CDF
        u = rng.random(size)
        return np.sqrt(self.low**2 + u * (self.high**2 - self.low**2))

    def scaled(self, factor: float) -> Uniform:
        return Uniform(low=self.low * factor, high=self.high * factor)


class Empirical(_Dist):
    """A discrete distribution over observed ``values`` with optional ``weights``."""

    dist: Literal["empirical"] = "empirical"
    values: tuple[Annotated[float, Field(ge=0)], ...] = Field(min_length=1)
    weights: tuple[Annotated[float, Field(ge=0)], ...] | None = None

    @model_validator(mode="after")
    def _check_weights(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights must match values in length, got {len(self.weights)} weights "
                    f"for {len(self.values)} values"
                )
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    @property
    def _p(self) -> np.ndarray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights)
        return w / w.sum()

    @property
    def mean(self) -> float:
        return float(np.dot(self._p, self.values))

    @property
    def variance(self) -> float:
        v = np.asarray(self.values)
        return float(np.dot(self._p, (v - self.mean) ** 2))

    def sample(self, rng: np.random.Generator, size: Size = None) -> Any:
        # inverse CDF on one uniform per draw, so one value or an array alike
        cdf = np.cumsum(self._p)
        index = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
        out = np.asarray(self.values)[np.minimum(index, len(self.values) - 1)]
        return float(out) if size is None else out

    def _length_biased(self, rng: np.random.Generator, size: Size) -> Any:
        biased = self._p * np.asarray(self.values)
        if biased.sum() <= 0:
            return self.sample(rng, size)
        return Empirical(values=self.values, weights=tuple(biased)).sample(rng, size)

    def scaled(self, factor: float) -> Empirical:
        return Empirical(values=tuple(v * factor for v in self.values), weights=self.weights)


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Fixed | Uniform | Empirical,
    Field(discriminator="dist"),
]
"""Any distribution, chosen in a scenario file by its ``dist`` key."""

DIST_NAMES = ("exponential", "lognormal", "gamma", "fixed", "uniform", "empirical")
