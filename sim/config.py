"""Scenario files: TOML in, one frozen, validated scenario out.

A scenario file describes a local health system (demand by cohort, A&E,
SDEC, acute beds, community services, costs) and how to run it (``[run]``).
Every key is typed and carries its unit in its name (``los_days``,
``time_to_decision_minutes``, ``amount_gbp``); unknown keys are errors.

A file may build on another with ``extends = "baseline.toml"`` (relative to
the file): tables merge key by key, anything else (numbers, strings, lists,
arrays of tables, distribution tables with a ``dist`` key) is replaced whole.
A variant in code is made the same way::

    base = load_scenario("configs/baseline.toml")
    more_p2 = base.override({"community.p2.places": 120})

Errors name the file, the key, the rule and the value::

    configs/x.toml: acute.beds must be >= 0, got -5

The schema is written with pydantic; :func:`format_errors` turns its errors
into those one-line messages. See docs/scenario.md for every key.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .calendar import Calendar
from .distributions import Distribution, Fixed, Uniform
from .schedule import HOURS_PER_WEEK, Schedule

SERVICES = ("urgent_response", "p1", "p2", "p3")
"""Community services, in a fixed order. p1-p3 take discharges on that pathway."""
PATHWAYS = ("p0", "p1", "p2", "p3")

UNLIMITED: Literal["unlimited"] = "unlimited"

# Upper bounds that no real system comes near: they keep absurd values (a typo,
# an exponent too many) from reaching the engines, which would run out of memory
# or overflow rather than fail cleanly.
MAX_PLACES = 1_000_000
"""Largest capacity (beds, places, cubicles) short of "unlimited"."""
MAX_PER_YEAR = 100_000_000
"""Largest annual volume of a cohort (all of England has about 25 million A&E attendances)."""
MAX_DURATION = 1_000_000
"""Largest mean of a duration distribution, in its key's unit (minutes, hours or days)."""
MAX_WEIGHT = 1_000_000
"""Largest profile weight or month multiplier (they are shares, normalised)."""
MAX_GBP = 1e12
"""Largest cost or investment, in pounds."""
MAX_COUNT = 10_000_000
"""Largest count in a starting state."""
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
"""The range of start dates (and so of calendars) the engines can represent."""


class ScenarioError(ValueError):
    """A scenario that cannot be read or is not valid; one message per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


def _unlimited_or_int(value: Any) -> Any:
    """A capacity: "unlimited" (or +inf), or a whole number up to MAX_PLACES.

    Every other value is refused here, with one message, rather than by each
    branch of the union (which would give two messages for one problem).
    """
    if isinstance(value, str) and value.strip().lower() == UNLIMITED:
        return UNLIMITED
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return UNLIMITED
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, float):  # a fraction, NaN or -inf
        raise ValueError("must be a whole number")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f'must be a whole number or "{UNLIMITED}"')
    if value > MAX_PLACES:
        raise ValueError(f'must be <= {MAX_PLACES:,} or "{UNLIMITED}"')
    return value


Capacity = Annotated[int | Literal["unlimited"], BeforeValidator(_unlimited_or_int)]
"""A number of places (>= 0), or "unlimited"."""

Probability = Annotated[float, Field(ge=0, le=1)]
PerYear = Annotated[float, Field(ge=0, le=MAX_PER_YEAR)]
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]
Gbp = Annotated[float, Field(ge=0, le=MAX_GBP)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Fraction = Annotated[float, Field(gt=-1, le=10)]
"""A relative change: -0.23 is 23% less, 0.5 is half as much again."""
_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=_NAME_PATTERN, max_length=40)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True, strict=False
    )


def _check_schedule(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        Schedule.parse(value)  # raises ValueError with a readable message
        return value if isinstance(value, str) else tuple(value)
    raise ValueError(
        f"must be schedule text like 'Mon-Fri 09:00-17:00' or {HOURS_PER_WEEK} zeros and ones"
    )


ScheduleSpec = Annotated[str | tuple[int, ...], BeforeValidator(_check_schedule)]


def _bounded_duration(dist: Any) -> Any:
    """A duration's mean must be finite and at most MAX_DURATION in its unit."""
    try:
        mean = float(dist.mean)
    except (OverflowError, ValueError):  # math.exp of a huge argument
        mean = math.inf
    try:
        variance = float(dist.variance)
    except (OverflowError, ValueError):
        variance = math.inf
    if not mean <= MAX_DURATION:
        raise ValueError(
            f"its mean must be at most {MAX_DURATION:,} in the key's unit, got {mean:g}"
        )
    if not math.isfinite(variance):
        raise ValueError(f"its variance must be finite, got {variance:g} (mean {mean:g})")
    return dist


Duration = Annotated[Distribution, AfterValidator(_bounded_duration)]
"""A distribution of a duration, with a finite mean and variance of sane size."""


class RunSpec(_Model):
    """How to run: calendar, warm-up, replications and seed."""

    start_date: dt.date = Field(default=dt.date(2016, 4, 4), ge=FIRST_DATE, le=LAST_DATE)
    warm_up_days: int = Field(default=0, ge=0, le=3650)
    horizon_years: float = Field(default=1.0, gt=0, le=50)
    reps: int = Field(default=10, ge=1, le=100_000)
    seed: int = Field(default=1, ge=0, lt=2**63)


class ArrivalProfile(_Model):
    """Shape of arrivals over the week: 168 hourly weights, or day x hour weights.

    Weights need not sum to one; they are normalised. A zero weight means no
    arrivals in that hour.
    """

    hour_of_week: tuple[Weight, ...] | None = None
    day_of_week: tuple[Weight, ...] | None = None
    hour_of_day: tuple[Weight, ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ArrivalProfile:
        if self.hour_of_week is not None:
            if self.day_of_week is not None or self.hour_of_day is not None:
                raise ValueError("give hour_of_week, or day_of_week with hour_of_day, not both")
            if len(self.hour_of_week) != HOURS_PER_WEEK:
                raise ValueError(
                    f"hour_of_week needs {HOURS_PER_WEEK} values, got {len(self.hour_of_week)}"
                )
            weights: Sequence[float] = self.hour_of_week
        else:
            if self.day_of_week is None or self.hour_of_day is None:
                raise ValueError("give hour_of_week, or both day_of_week and hour_of_day")
            if len(self.day_of_week) != 7:
                raise ValueError(f"day_of_week needs 7 values, got {len(self.day_of_week)}")
            if len(self.hour_of_day) != 24:
                raise ValueError(f"hour_of_day needs 24 values, got {len(self.hour_of_day)}")
            weights = [d * h for d in self.day_of_week for h in self.hour_of_day]
        if sum(weights) <= 0:
            raise ValueError("the profile's weights must not all be zero")
        return self

    def weights(self) -> list[float]:
        """168 shares of the week's arrivals, summing to 1."""
        if self.hour_of_week is not None:
            raw = list(self.hour_of_week)
        else:
            assert self.day_of_week is not None
            assert self.hour_of_day is not None
            raw = [d * h for d in self.day_of_week for h in self.hour_of_day]
        total = sum(raw)
        return [w / total for w in raw]


def _not_all_zero(values: tuple[float, ...]) -> tuple[float, ...]:
    if values and not any(values):
        raise ValueError("must not all be zero (they give the shape of the year)")
    return values


MonthMultipliers = Annotated[
    tuple[Weight, ...], Field(min_length=12, max_length=12), AfterValidator(_not_all_zero)
]


class PathwayMix(_Model):
    """Shares of discharges by pathway (must sum to 1)."""

    p0: Probability = 1.0
    p1: Probability = 0.0
    p2: Probability = 0.0
    p3: Probability = 0.0

    @model_validator(mode="after")
    def _sums_to_one(self) -> PathwayMix:
        total = self.p0 + self.p1 + self.p2 + self.p3
        if abs(total - 1) > 1e-6:
            raise ValueError(f"pathway shares must sum to 1, got {total:g}")
        return self


class ReadmissionRisk(_Model):
    """Probability of an emergency re-attendance after discharge, by route home."""

    p0: Probability = 0.0
    p1: Probability = 0.0
    p2: Probability = 0.0
    p3: Probability = 0.0
    urgent_response: Probability = 0.0


class Cohort(_Model):
    """A population group with its own demand, acuity and discharge needs."""

    label: str = ""
    attendances_per_year: PerYear
    direct_admissions_per_year: PerYear = 0.0
    growth_per_year: float = Field(default=0.0, ge=-0.5, le=1.0)
    arrival_profile: str = "flat"
    direct_profile: str = "flat"
    month_multipliers: MonthMultipliers | None = None
    p_admit: Probability
    p_sdec: Probability = 0.0
    treatment_los_days: Duration
    pathway: PathwayMix = PathwayMix()
    p_readmit: ReadmissionRisk = ReadmissionRisk()
    avoidable_share: Probability | tuple[Probability, ...] = 0.0

    @model_validator(mode="after")
    def _outcomes(self) -> Cohort:
        if self.p_admit + self.p_sdec > 1 + 1e-9:
            raise ValueError(
                f"p_admit + p_sdec must be <= 1, got {self.p_admit:g} + {self.p_sdec:g}"
            )
        if isinstance(self.avoidable_share, tuple) and not self.avoidable_share:
            raise ValueError("avoidable_share needs at least one value")
        return self

    def avoidable_share_in_year(self, fy_index: int) -> float:
        """Share avoidable in the given financial year of the run (0 = first; warm-up uses 0)."""
        shares = self.avoidable_share
        if not isinstance(shares, tuple):
            return float(shares)
        return float(shares[min(max(fy_index, 0), len(shares) - 1)])


class Demand(_Model):
    month_multipliers: MonthMultipliers = (1.0,) * 12
    profiles: dict[Identifier, ArrivalProfile] = {}


class ED(_Model):
    """The emergency department: treatment places and time to a decision."""

    cubicles: Capacity = UNLIMITED
    time_to_decision_minutes: Duration
    boarding_holds_cubicle: bool = False

    @field_validator("cubicles")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 1:
            raise ValueError(f'must be >= 1 or "{UNLIMITED}", got {v}')
        return v


class SDEC(_Model):
    """Same-day emergency care: chairs, opening hours, episode length, outcome."""

    chairs: Capacity = 0
    open: ScheduleSpec = "every day 08:00-20:00"
    episode_hours: Duration = Field(default_factory=lambda: Fixed(value=6))
    p_admit: Probability = 0.0
    counts_as_admission: bool = True

    @field_validator("chairs")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v


class BedChange(_Model):
    date: dt.date
    beds: Capacity

    @field_validator("beds")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v


def _dates_increase(changes: Sequence[Any], what: str) -> None:
    dates = [c.date for c in changes]
    if any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
        raise ValueError(f"{what} dates must be strictly increasing, got {[str(d) for d in dates]}")


class Acute(_Model):
    """The acute bed pool."""

    beds: Capacity
    capacity_changes: tuple[BedChange, ...] = ()
    discharge_hours: ScheduleSpec = "24/7"
    diversion_queue_threshold: int | None = Field(default=None, ge=0, le=MAX_PLACES)

    @field_validator("beds")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Acute:
        _dates_increase(self.capacity_changes, "capacity_changes")
        return self


class Workforce(_Model):
    """Community capacity derived from staff.

    Each support worker takes ``supervision_fte_per_support_fte`` of a qualified
    worker's time, so places = (qualified - supervision) x caseload per
    qualified FTE + support x caseload per support FTE, rounded down.
    """

    qualified_fte: Annotated[float, Field(ge=0, le=MAX_PLACES)]
    support_fte: Annotated[float, Field(ge=0, le=MAX_PLACES)] = 0.0
    caseload_per_qualified_fte: Annotated[float, Field(ge=0, le=1000)]
    caseload_per_support_fte: Annotated[float, Field(ge=0, le=1000)] = 0.0
    supervision_fte_per_support_fte: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _enough_supervisors(self) -> Workforce:
        needed = self.support_fte * self.supervision_fte_per_support_fte
        if needed > self.qualified_fte + 1e-9:
            raise ValueError(
                f"supervising {self.support_fte:g} support FTE needs {needed:g} qualified FTE, "
                f"got {self.qualified_fte:g}"
            )
        return self

    @property
    def places(self) -> int:
        free_qualified = (
            self.qualified_fte - self.support_fte * self.supervision_fte_per_support_fte
        )
        return math.floor(
            max(free_qualified, 0.0) * self.caseload_per_qualified_fte
            + self.support_fte * self.caseload_per_support_fte
            + 1e-9
        )


class _PlacesOrWorkforce(_Model):
    """Capacity given directly (``places``) or derived from staff (``workforce``)."""

    places: Capacity | None = None
    workforce: Workforce | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> _PlacesOrWorkforce:
        if (self.places is None) == (self.workforce is None):
            raise ValueError("needs exactly one of places or workforce")
        if isinstance(self.places, int) and self.places < 0:
            raise ValueError(f"places must be >= 0, got {self.places}")
        return self

    @property
    def capacity(self) -> int | Literal["unlimited"]:
        if self.workforce is not None:
            return self.workforce.places
        assert self.places is not None
        return self.places


class PlacesChange(_PlacesOrWorkforce):
    date: dt.date


class CommunityService(_PlacesOrWorkforce):
    """A community service: places, when it takes new patients, episode length."""

    accepts: ScheduleSpec = "24/7"
    episode_days: Duration
    capacity_changes: tuple[PlacesChange, ...] = ()
    cost_basis: Literal["occupied", "commissioned"] = "occupied"

    @model_validator(mode="after")
    def _ordered(self) -> CommunityService:
        _dates_increase(self.capacity_changes, "capacity_changes")
        return self


class Community(_Model):
    urgent_response: CommunityService | None = None
    p1: CommunityService | None = None
    p2: CommunityService | None = None
    p3: CommunityService | None = None


class Readmission(_Model):
    delay_days: Duration = Field(default_factory=lambda: Uniform(low=0, high=30))


class ServiceCounts(_Model):
    urgent_response: Count = 0
    p1: Count = 0
    p2: Count = 0
    p3: Count = 0


class DelayedCounts(_Model):
    p1: Count = 0
    p2: Count = 0
    p3: Count = 0


class InitialState(_Model):
    """Today's position: patients already in beds and in community services at t = 0."""

    acute_treating: Count = 0
    delayed: DelayedCounts = DelayedCounts()
    community_in_use: ServiceCounts = ServiceCounts()


class Investment(_Model):
    financial_year: Annotated[str, Field(pattern=r"^\d{4}/\d{2}$")]
    amount_gbp: Gbp
    label: str = "investment"


class PlaceDayCosts(_Model):
    urgent_response: Gbp = 0.0
    p1: Gbp = 0.0
    p2: Gbp = 0.0
    p3: Gbp = 0.0


class Costs(_Model):
    """Unit costs in pounds sterling."""

    ed_attendance_admitted_gbp: Gbp = 0.0
    ed_attendance_not_admitted_gbp: Gbp = 0.0
    sdec_episode_gbp: Gbp = 0.0
    acute_bed_day_gbp: Gbp = 0.0
    delayed_bed_day_gbp: Gbp = 0.0
    urgent_response_episode_gbp: Gbp = 0.0
    diversion_gbp: Gbp = 0.0
    community_place_day_gbp: PlaceDayCosts = PlaceDayCosts()
    investment: tuple[Investment, ...] = ()


class Plan(_Model):
    """How a plan reports its changes: against a baseline year as well as a comparator."""

    baseline_year: str | None = None
    """The financial year (``2016/17``) that changes are also reported against."""

    projected: dict[Identifier, dict[str, Fraction]] = {}
    """A plan's own projection: metric -> financial year -> change against
    ``baseline_year`` as a fraction (-0.23 is 23% fewer). Drawn beside the
    simulated trajectory; the model never uses it."""

    projected_vs_comparator: dict[Identifier, dict[str, Fraction]] = {}
    """The same, as the plan stated it against its comparator ("do nothing")."""

    @field_validator("baseline_year")
    @classmethod
    def _financial_year(cls, v: str | None) -> str | None:
        if v is not None:
            _check_financial_year(v)
        return v

    @field_validator("projected", "projected_vs_comparator")
    @classmethod
    def _projection_years(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for years in v.values():
            for year in years:
                _check_financial_year(year)
        return v

    @model_validator(mode="after")
    def _projection_needs_baseline(self) -> Plan:
        if self.projected and self.baseline_year is None:
            raise ValueError("projected needs baseline_year: the year its changes are against")
        return self


def _check_financial_year(v: str) -> None:
    if not re.fullmatch(r"\d{4}/\d{2}", v) or int(v[5:]) != (int(v[:4]) + 1) % 100:
        raise ValueError(f"must be a financial year like 2016/17, got {v!r}")


class Scenario(_Model):
    """A validated, frozen scenario. Build with :func:`load_scenario` or :meth:`from_dict`."""

    name: Annotated[str, Field(max_length=100)] = ""
    """Names the scenario in tables and its default output folder (outputs/<name>)."""
    description: Annotated[str, Field(max_length=10_000)] = ""
    run: RunSpec = RunSpec()
    demand: Demand = Demand()
    cohorts: dict[Identifier, Cohort] = Field(min_length=1)
    ed: ED
    sdec: SDEC = SDEC()
    acute: Acute
    community: Community = Community()
    readmission: Readmission = Readmission()
    initial_state: InitialState = InitialState()
    costs: Costs = Costs()
    plan: Plan = Plan()

    _source: str = PrivateAttr(default="<scenario>")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _usable_as_folder(cls, v: str) -> str:
        if any(ch in v for ch in "/\\") or v in (".", "..") or not v.isprintable():
            raise ValueError("must be printable text with no / or \\ (it names the output folder)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        known = set(self.demand.profiles) | {"flat"}
        for name, cohort in self.cohorts.items():
            for key in ("arrival_profile", "direct_profile"):
                profile = getattr(cohort, key)
                if profile not in known:
                    raise _at(
                        f"cohorts.{name}.{key}",
                        f"must name a profile in demand.profiles ({', '.join(sorted(known))})",
                        profile,
                    )
            for pathway in ("p1", "p2", "p3"):
                if (
                    getattr(cohort.pathway, pathway) > 0
                    and getattr(self.community, pathway) is None
                ):
                    raise _at(
                        f"cohorts.{name}.pathway.{pathway}",
                        f"needs a [community.{pathway}] service",
                        getattr(cohort.pathway, pathway),
                    )
            shares = cohort.avoidable_share
            if (max(shares) if isinstance(shares, tuple) else shares) > 0 and (
                self.community.urgent_response is None
            ):
                raise _at(
                    f"cohorts.{name}.avoidable_share",
                    "needs a [community.urgent_response] service",
                    shares,
                )
        state = self.initial_state
        for service in SERVICES:
            in_use = getattr(state.community_in_use, service)
            spec = getattr(self.community, service)
            if in_use and spec is None:
                raise _at(
                    f"initial_state.community_in_use.{service}",
                    f"needs a [community.{service}] service",
                    in_use,
                )
            if (
                in_use
                and spec is not None
                and spec.capacity != UNLIMITED
                and in_use > spec.capacity
            ):
                raise _at(
                    f"initial_state.community_in_use.{service}",
                    f"must be <= the service's places ({spec.capacity})",
                    in_use,
                )
        for pathway in ("p1", "p2", "p3"):
            if getattr(state.delayed, pathway) and getattr(self.community, pathway) is None:
                raise _at(
                    f"initial_state.delayed.{pathway}",
                    f"needs a [community.{pathway}] service",
                    getattr(state.delayed, pathway),
                )
        occupied = state.acute_treating + state.delayed.p1 + state.delayed.p2 + state.delayed.p3
        if occupied and isinstance(self.acute.beds, int) and occupied > self.acute.beds:
            raise _at(
                "initial_state",
                f"must occupy no more than acute.beds ({self.acute.beds})",
                occupied,
            )
        year = self.plan.baseline_year
        if year is not None:
            years = _reported_years(self.run)
            if year not in years:
                raise _at(
                    "plan.baseline_year",
                    f"must be a financial year the run reports ({', '.join(years)})",
                    year,
                )
        if occupied and self.run.warm_up_days:
            raise _at(
                "run.warm_up_days",
                "must be 0 when an initial_state is given "
                "(start from today's position or warm up from empty, not both)",
                self.run.warm_up_days,
            )
        return self

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
        """Validate a plain dict (already merged with anything it extends)."""
        raw = copy.deepcopy(dict(data))
        if raw.get("name") is None or raw.get("name") == "":
            raw["name"] = Path(source).stem if not source.startswith("<") else "scenario"
        try:
            scenario = cls.model_validate(raw)
        except ValidationError as exc:
            raise ScenarioError(format_errors(exc, source, raw)) from None
        scenario._source = source
        scenario._raw = raw
        return scenario

    @property
    def source(self) -> str:
        return self._source

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (the merged file, every default filled in)."""
        return self.model_dump(mode="json", by_alias=True)

    def override(self, changes: Mapping[str, Any], name: str | None = None) -> Scenario:
        """A new scenario with dotted keys replaced, validated again.

        >>> base.override({"acute.beds": 500, "community.p1.accepts": "24/7"})
        """
        raw = copy.deepcopy(self._raw)
        for dotted, value in changes.items():
            _set_dotted(raw, dotted, value, self._source)
        if name is not None:
            raw["name"] = name
        return Scenario.from_dict(raw, source=self._source)

    # --- convenience ----------------------------------------------------------------------

    def service(self, name: str) -> CommunityService | None:
        return getattr(self.community, name)


def _reported_years(run: RunSpec) -> list[str]:
    """Financial years the run reports, e.g. ['2016/17', '2017/18']."""
    periods = Calendar(run.start_date, run.warm_up_days, run.horizon_years).periods
    return [p.label for p in periods if p.label != "all"]


def _at(path: str, rule: str, value: Any) -> ValueError:
    return ValueError(f"@{path}@ {rule}, got {_show(value)}")


def _show(value: Any) -> str:
    """A value as a message shows it: short, whatever its size."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        if abs(value) < 10**15:
            return str(value)
        # str() of an int over 4300 digits raises; the size is what matters here
        digits = math.floor(value.bit_length() * math.log10(2)) + 1
        return f"a whole number of about {digits:,} digits"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        if len(value) > 8:
            return f"a list of {len(value)} values"
        return "[" + ", ".join(_show(v) for v in value) + "]"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_VERBS = {"must", "needs", "is", "occupies", "has"}

_RULES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "date_type": "must be a date like 2016-04-01",
    "date_parsing": "must be a date like 2016-04-01",
    "date_from_datetime_parsing": "must be a date like 2016-04-01",
    "date_from_datetime_inexact": "must be a date with no time of day",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_pattern_mismatch": "must match {pattern}",
    "string_too_long": "must be at most {max_length} characters",
    "literal_error": "must be one of {expected}",
    "union_tag_invalid": "must name a distribution: dist = one of {expected_tags}",
    "union_tag_not_found": "needs a 'dist' key naming the distribution",
}


def _walk(raw: Any, loc: Sequence[Any]) -> tuple[list[str], Any, bool]:
    """Follow a pydantic error location through the input, dropping non-key parts.

    Pydantic puts union tags and validator names into locations; only the
    parts that are real keys (or list indices) of the input make the path.
    """
    path: list[str] = []
    node: Any = raw
    found = True
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            path.append(str(part))
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            path.append(f"[{part}]")
            node = node[part]
        elif (isinstance(node, Mapping) or isinstance(part, int)) and (
            isinstance(part, str) and not _is_internal(part)
        ):
            path.append(part)  # a missing or unknown key names itself
            found = False
            node = None
        # else: an internal location part (tag name, validator) - skip it
    return path, node, found


def _is_internal(part: str) -> bool:
    return "[" in part or part in {
        "lognormal",
        "exponential",
        "gamma",
        "fixed",
        "uniform",
        "empirical",
        "int",
        "str",
        "literal['unlimited']",
        "tuple",
        "function-before",
        "function-after",
    }


def _join(path: Sequence[str]) -> str:
    return ".".join(path).replace(".[", "[") or "(top level)"


def format_errors(
    exc: ValidationError, source: str, raw: Mapping[str, Any], root: type[BaseModel] | None = None
) -> list[str]:
    """One message per problem: ``file: key.path rule, got value``.

    ``root`` is the model that was validated (a scenario by default); unknown
    keys are matched against its field names for a 'did you mean' hint.
    """
    messages: list[str] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        path, node, _ = _walk(raw, err["loc"])
        kind = err["type"]
        ctx = err.get("ctx") or {}
        where = _join(path)
        if kind == "extra_forbidden":
            parent = _walk(raw, err["loc"][:-1])[1]
            msg = f"{where} is not a known key"
            hint = _suggest(str(err["loc"][-1]), err, parent, root or Scenario)
            if hint and hint != str(err["loc"][-1]):
                msg += f" (did you mean '{hint}'?)"
        elif kind == "missing":
            msg = f"{where} is required"
        elif kind in ("value_error", "assertion_error"):
            text = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
            if text.startswith("@"):
                where, _, text = text[1:].partition("@ ")
            given = err.get("input")
            if ", got " not in text and not isinstance(given, Mapping) and _show(given) not in text:
                text += f", got {_show(err['input'])}"
            sep = " " if text.split(" ", 1)[0] in _VERBS else ": "
            msg = f"{where}{sep}{text}"
        elif kind == "union_tag_invalid":
            rule = _RULES[kind].format(**ctx)
            msg = f"{where} {rule}, got {_show(ctx.get('tag'))}"
        elif kind.startswith("date") and not isinstance(err.get("input"), str | dt.date):
            msg = f"{where} {_RULES['date_type']}, got {_show(err.get('input', node))}"
        elif kind in _RULES:
            shown = {
                k: (f"{v:g}" if isinstance(v, float) else f"{v:,}" if type(v) is int else v)
                for k, v in ctx.items()
            }
            try:
                rule = _RULES[kind].format(**shown)
            except (KeyError, IndexError):
                rule = _RULES[kind]
            if kind == "string_pattern_mismatch" and ctx.get("pattern") == _NAME_PATTERN:
                rule = "must be a lower-case name of letters, digits and _ (used in metric names)"
            msg = f"{where} {rule}, got {_show(err.get('input', node))}"
        else:
            msg = f"{where}: {err['msg']}, got {_show(err.get('input', node))}"
        if msg not in seen:
            seen.add(msg)
            messages.append(f"{source}: {msg}")
    return messages


def _suggest(key: str, err: Any, parent: Any, root: type[BaseModel]) -> str | None:
    """The nearest known key to an unknown one, from the model's field names."""
    names = _known_keys(err["loc"][:-1], root)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _known_keys(loc: Sequence[Any], root: type[BaseModel]) -> list[str]:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            if isinstance(part, str) and model is not None and hasattr(model, "model_fields"):
                # a dict of models (cohorts.NAME) or a union tag: look through it
                continue
            return []
        annotation = fields[part].annotation
        model = _inner_model(annotation)
    fields = getattr(model, "model_fields", None) or {}
    return [f.alias or name for name, f in fields.items()]


def _inner_model(annotation: Any) -> Any:
    """The model class inside Optional[...], tuple[...], dict[str, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# --- files ----------------------------------------------------------------------------------


MAX_FILE_BYTES = 10_000_000
"""A scenario file is a few kilobytes; anything this big is not one."""


def _read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(
                [f"{shown}: is not a scenario file (larger than {MAX_FILE_BYTES:,} bytes)"]
            )
        # utf-8-sig: Windows editors often start a UTF-8 file with a byte-order mark
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError([f"{shown}: no such file"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [f"{shown}: cannot read the file: it is not UTF-8 text (byte {exc.start})"]
        ) from None
    except OSError as exc:
        raise ScenarioError([f"{shown}: cannot read the file ({exc.strerror or exc})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{shown}: not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ScenarioError([f"{shown}: not valid TOML: lists or tables nested too deep"]) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ScenarioError([f"{shown}: not valid TOML: {exc}"]) from None


_ALTERNATIVES = (frozenset({"places", "workforce"}),)
"""Keys that replace one another: a child giving ``workforce`` drops the parent's ``places``."""


def _drop_replaced(table: dict[str, Any], given: Iterable[str]) -> None:
    """Remove from ``table`` the alternatives of the keys about to be ``given``."""
    for group in _ALTERNATIVES:
        named = group.intersection(given)
        if named:
            for other in group - named:
                table.pop(other, None)


def _merge(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; a distribution table (one with ``dist``) replaces whole."""
    out = copy.deepcopy(base)
    _drop_replaced(out, child.keys())
    for key, value in child.items():
        if isinstance(value, Mapping) and "dist" not in value and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A scenario file's data with everything it ``extends`` merged in."""
    path = Path(path)
    shown = str(path)
    real = path.resolve()
    if real in _chain:
        cycle = " -> ".join(str(p.name) for p in (*_chain, real))
        raise ScenarioError([f"{shown}: extends makes a cycle ({cycle})"])
    data = _read_toml(path, shown)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError([f"{shown}: extends must be a file name, got {_show(parent)}"])
    parent_path = path.parent / parent
    try:
        found = "\0" not in parent and parent_path.is_file()
    except OSError:  # a name too long for the file system
        found = False
    if not found:
        raise ScenarioError(
            [
                f"{shown}: extends must name an existing file, got {_show(parent)} "
                f"(looked for {_show(str(parent_path))})"
            ]
        )
    base = resolve_file(parent_path, (*_chain, real))
    base.pop("name", None)
    base.pop("description", None)
    return _merge(base, data)


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge and validate a scenario file; raise ScenarioError if it is not valid.

    ``path`` is a TOML file (docs/scenario.md); ``extends`` is followed
    relative to it. Keys carry their unit in their name (``*_days``,
    ``*_minutes``, ``*_hours``, ``*_gbp``, ``*_per_year``); probabilities and
    shares are fractions between 0 and 1. The returned :class:`Scenario` is
    frozen: make variants with :meth:`Scenario.override`. Each message of the
    ScenarioError names the file, the key, the rule and the value.
    """
    data = resolve_file(path)
    return Scenario.from_dict(data, source=str(path))


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ScenarioError([f"{source}: cannot override {dotted}: {where} is not a table"])
        node = nxt
    _drop_replaced(node, [parts[-1]])
    node[parts[-1]] = copy.deepcopy(value)
