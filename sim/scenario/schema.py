"""The scenario schema: TOML data in, one frozen, validated :class:`Scenario` out.

A scenario describes a local health system (demand by cohort, A&E, SDEC,
acute beds, community services, costs) and how to run it (``[run]``). Every
key is typed and carries its unit in its name (``los_days``,
``time_to_decision_minutes``, ``amount_gbp``); unknown keys are errors::

    base = load_scenario("configs/baseline.toml")
    more_p2 = base.override({"community.p2.places": 120})

The schema is written with pydantic; :mod:`sim.scenario.messages` turns its
errors into one line per problem (``configs/x.toml: acute.beds must be >= 0,
got -5``) and :mod:`sim.scenario.files` reads files and follows ``extends``.
See docs/scenario.md for every key.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
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

from ..clock.calendar import Calendar
from ..clock.schedule import Schedule
from ..codes import HOURS_PER_DAY, HOURS_PER_WEEK, SERVICES
from ..errors import ScenarioError
from ..rng.distributions import Distribution, Fixed, Uniform
from . import uncertain
from .files import resolve_file, set_dotted
from .messages import NAME_PATTERN, at_key, format_errors, show_value
from .uncertain import UncertainInput, apply, lift

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
Identifier = Annotated[str, Field(pattern=NAME_PATTERN, max_length=40)]


class StrictModel(BaseModel):
    """The base of every scenario table: frozen, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        validate_default=True,
        strict=False,
        use_attribute_docstrings=True,  # a key's docstring is its description in the schema
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


class RunSpec(StrictModel):
    """How to run: calendar, warm-up, replications and seed."""

    start_date: dt.date = Field(default=dt.date(2016, 4, 4), ge=FIRST_DATE, le=LAST_DATE)
    """First reported day; the warm-up runs before it."""
    warm_up_days: int = Field(default=0, ge=0, le=3650)
    """Days simulated from empty before start_date and not reported (set it from leftshift warmup).
    Days simulated from empty before start_date and not reported (set it from leftshift warmup)."""
    horizon_years: float = Field(default=1.0, gt=0, le=50)
    """Calendar years reported from start_date."""
    reps: int = Field(default=10, ge=1, le=100_000)
    """Replications (--reps overrides)."""
    seed: int = Field(default=1, ge=0, lt=2**63)
    """Base seed of the named random streams (--seed overrides)."""
    bank_holidays: bool = True
    """Weekday rotas (schedules open on no weekend hour, e.g. Mon-Fri 09:00-17:00) close on
    English bank holidays, as at weekends."""


class ArrivalProfile(StrictModel):
    """Shape of arrivals over the week: 168 hourly weights, or day x hour weights.

    Weights need not sum to one; they are normalised. A zero weight means no
    arrivals in that hour.
    """

    hour_of_week: tuple[Weight, ...] | None = None
    """168 weights, Monday 00:00 first: the week's arrival shape written out."""
    day_of_week: tuple[Weight, ...] | None = None
    """7 weights, Monday first; multiplied by hour_of_day."""
    hour_of_day: tuple[Weight, ...] | None = None
    """24 weights, midnight first; multiplied by day_of_week."""

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


class PathwayMix(StrictModel):
    """Shares of discharges by pathway (must sum to 1)."""

    p0: Probability = 1.0
    """Share discharged home with no new support (P0)."""
    p1: Probability = 0.0
    """Share needing support at home (P1, home care or reablement)."""
    p2: Probability = 0.0
    """Share needing a rehabilitation or short-term care bed (P2)."""
    p3: Probability = 0.0
    """Share needing a care home place (P3)."""

    @model_validator(mode="after")
    def _sums_to_one(self) -> PathwayMix:
        total = self.p0 + self.p1 + self.p2 + self.p3
        if abs(total - 1) > 1e-6:
            raise ValueError(f"pathway shares must sum to 1, got {total:g}")
        return self


class LosByPathway(StrictModel):
    """Time in an acute bed until medically fit, in days, for the patients of one discharge
    pathway; a pathway left out takes the cohort's ``treatment_los_days``."""

    p1: Duration | None = None
    """Treatment stay of patients who will leave on P1 (support at home), in days."""
    p2: Duration | None = None
    """Treatment stay of patients who will leave on P2 (a rehabilitation bed), in days."""
    p3: Duration | None = None
    """Treatment stay of patients who will leave on P3 (a care home), in days."""


class AvoidableSubCohort(StrictModel):
    """The patients of a cohort a community team could care for at home (case mix): a share
    of its new would-be attendances with their own admission probability and treatment stay.
    Avoidance (``avoidable_share``) takes only from them; the rest of the cohort's admission
    probability and stay are derived so that the whole cohort keeps its ``p_admit`` and mean
    ``treatment_los_days`` (docs/model.md, "Case mix")."""

    share: Annotated[float, Field(gt=0, lt=1)]
    """Share of the cohort's new would-be attendances that are avoidable-type patients."""
    p_admit: Probability
    """Share of their A&E decisions that admit to a bed."""
    treatment_los_days: Duration
    """Their time in an acute bed until medically fit, in days (a distribution)."""


class ReadmissionRisk(StrictModel):
    """Probability of an emergency re-attendance after discharge, by route home."""

    p0: Probability = 0.0
    """Probability of coming back to A&E after a P0 discharge."""
    p1: Probability = 0.0
    """Probability of coming back after a P1 episode ends."""
    p2: Probability = 0.0
    """Probability of coming back after a P2 episode ends."""
    p3: Probability = 0.0
    """Probability of coming back after a P3 episode ends."""
    urgent_response: Probability = 0.0
    """Probability of coming back after an urgent response episode ends."""


class EmergencyReadmissionRisk(StrictModel):
    """Probability of a 30-day emergency readmission after a hospital discharge, by route home
    (counted from leaving the acute bed, as the NHS counts it)."""

    p0: Probability = 0.0
    """Probability of an emergency readmission within 30 days of a P0 discharge."""
    p1: Probability = 0.0
    """The same after leaving the bed for P1 (not from the end of the P1 episode)."""
    p2: Probability = 0.0
    """The same after leaving the bed for P2."""
    p3: Probability = 0.0
    """The same after leaving the bed for P3."""


class Cohort(StrictModel):
    """A population group with its own demand, acuity and discharge needs."""

    label: str = ""
    """Readable name for tables and charts."""
    attendances_per_year: PerYear
    """New would-be A&E attendances a year, before avoidance (readmissions come on top)."""
    direct_admissions_per_year: PerYear = 0.0
    """GP and other direct admissions a year."""
    growth_per_year: float = Field(default=0.0, ge=-0.5, le=1.0)
    """Do-nothing demand growth, compounded by financial year (0.02 is 2% a year)."""
    arrival_profile: str = "flat"
    """Weekly shape of would-be attendances: a name in demand.profiles, or flat."""
    direct_profile: str = "flat"
    """Weekly shape of direct admissions: a name in demand.profiles, or flat."""
    month_multipliers: MonthMultipliers | None = None
    """12 numbers, January first: this cohort's seasonal shape (overrides
    demand.month_multipliers)."""
    p_admit: Probability
    """Share of A&E decisions that admit to a bed."""
    p_sdec: Probability = 0.0
    """Share of A&E decisions that refer to SDEC (home otherwise)."""
    treatment_los_days: Duration
    """Time in an acute bed until medically fit, in days (a distribution)."""
    pathway: PathwayMix = PathwayMix()
    """Discharge pathway shares p0-p3, summing to 1."""
    treatment_los_days_by_pathway: LosByPathway = LosByPathway()
    """Treatment stays of the patients of pathways p1-p3 apart from the cohort's (case mix)."""
    p_readmit: ReadmissionRisk = ReadmissionRisk()
    """Re-attendance at A&E after care ends, by route home (not a readmission as the NHS counts
    it: the patient re-decides at A&E)."""
    p_readmit_30d: EmergencyReadmissionRisk = EmergencyReadmissionRisk()
    """30-day emergency readmission by route home, from leaving the bed, straight to a bed."""
    avoidable_share: Probability | tuple[Probability, ...] = 0.0
    """Share of would-be attendances the urgent response could care for at home: one value, or a
    list by financial year of the run."""
    avoidable: AvoidableSubCohort | None = None
    """The avoidable-type patients (case mix): avoidance takes only from them (unset: a random
    slice of the whole cohort, as before)."""

    def own_stays(self, unit: float = 1.0) -> tuple[float, float]:
        """The share of discharges whose pathway has a treatment stay of its own
        (``treatment_los_days_by_pathway``) and those stays' share-weighted mean (times
        ``unit``; 0 when none): what :func:`rest_los_scale` leaves unscaled."""
        parts = [
            (getattr(self.pathway, k), d.mean * unit)
            for k in ("p1", "p2", "p3")
            if (d := getattr(self.treatment_los_days_by_pathway, k)) is not None
        ]
        share = sum(w for w, _ in parts)
        return share, (sum(w * m for w, m in parts) / share if share > 0 else 0.0)

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


def _check_sub_cohort(name: str, cohort: Cohort) -> None:
    """The avoidable sub-cohort leaves the rest of the cohort a probability and a stay
    (:func:`rest_p_admit`, :func:`rest_los_scale`), and avoidance takes only from it."""
    sub = cohort.avoidable
    if sub is None:
        return
    shares = cohort.avoidable_share
    top = max(shares) if isinstance(shares, tuple) else shares
    if top > sub.share + 1e-12:
        raise at_key(
            f"cohorts.{name}.avoidable_share",
            f"must be <= avoidable.share ({sub.share:g}): avoidance takes only "
            "avoidable-type patients",
            shares,
        )
    if sub.p_admit + cohort.p_sdec > 1 + 1e-9:
        raise at_key(
            f"cohorts.{name}.avoidable.p_admit",
            f"must be <= 1 - p_sdec ({1 - cohort.p_sdec:g})",
            sub.p_admit,
        )
    rest = rest_p_admit(cohort.p_admit, sub.share, sub.p_admit)
    if rest < -1e-12 or rest + cohort.p_sdec > 1 + 1e-9:
        raise at_key(
            f"cohorts.{name}.avoidable.p_admit",
            f"must leave the rest of the cohort a p_admit in [0, 1 - p_sdec] so that the "
            f"cohort's stays {cohort.p_admit:g}, but leaves it {rest:.4g}",
            sub.p_admit,
        )
    scale = rest_los_scale(
        cohort.p_admit,
        cohort.treatment_los_days.mean,
        sub.share,
        sub.p_admit,
        sub.treatment_los_days.mean,
        cohort.own_stays(),
    )
    if not scale > 0:
        raise at_key(
            f"cohorts.{name}.avoidable.treatment_los_days.mean",
            f"has a mean whose bed days (share x p_admit x mean) reach the cohort's "
            f"own (p_admit x treatment_los_days mean = "
            f"{cohort.p_admit * cohort.treatment_los_days.mean:.4g}), leaving the rest "
            "no stay",
            sub.treatment_los_days.mean,
        )


def rest_p_admit(p_admit: float, share: float, sub_p_admit: float) -> float:
    """The admission probability of a cohort's patients outside its avoidable sub-cohort, so
    that the whole cohort's is ``p_admit``: ``(p_admit - share x sub_p_admit) / (1 - share)``."""
    return (p_admit - share * sub_p_admit) / (1 - share)


def rest_los_scale(
    p_admit: float,
    los_mean: float,
    share: float,
    sub_p_admit: float,
    sub_los_mean: float,
    own: tuple[float, float] = (0.0, 0.0),
) -> float:
    """The factor on the cohort's treatment stay of its admitted patients outside the avoidable
    sub-cohort, so that the admitted patients' mean stay is the cohort's.

    ``own`` is (share of discharges whose pathway has a stay of its own, their share-weighted
    mean stay) from ``treatment_los_days_by_pathway`` (:meth:`Cohort.own_stays`): those stays
    are not rescaled, so the factor falls on the others' ``los_mean``. With ``o, m_o = own``,
    the cohort's mean is ``M = (1 - o) x los_mean + o x m_o`` and ``p_admit x M = share x
    sub_p_admit x sub_los_mean + (p_admit - share x sub_p_admit) x ((1 - o) x los_mean x
    scale + o x m_o)``. 1 when the rest is never admitted or nothing is rescaled."""
    o, m_o = own
    rest = p_admit - share * sub_p_admit
    scaled = rest * (1 - o) * los_mean
    if rest <= 0 or scaled <= 0:
        return 1.0
    cohort_mean = (1 - o) * los_mean + o * m_o
    return (p_admit * cohort_mean - share * sub_p_admit * sub_los_mean - rest * o * m_o) / scaled


MAX_PER_PERIOD = 10_000_000
"""Largest count in one day or week of a demand series."""

PerPeriod = Annotated[float, Field(ge=0, le=MAX_PER_PERIOD)]


class CohortSeries(StrictModel):
    """One cohort's arrivals, period by period from the series' ``start``."""

    attendances: tuple[PerPeriod, ...]
    """Would-be A&E attendances in each period of the series."""
    direct_admissions: tuple[PerPeriod, ...] | None = None
    """Direct admissions in each period of the series (absent: the annual volume applies)."""


class DemandSeries(StrictModel):
    """Demand as observed or forecast counts by day or week, instead of a profile x growth.

    Written in a scenario as ``[demand.series] file = "demand.csv"`` (and ``period``);
    the file is read with the scenario (:func:`sim.scenario.files.read_series`) into
    ``start`` and ``cohorts``. Within a period, arrivals follow the cohort's profile;
    outside the series' periods, its ``attendances_per_year`` x profile x growth.
    """

    file: str = ""
    """The CSV file the counts came from (columns date, cohort, attendances and optionally
    direct_admissions), relative to the scenario file."""
    period: Literal["day", "week"] = "day"
    """What one row of the file counts: a day, or a week from its date."""
    start: dt.date | None = Field(default=None, ge=FIRST_DATE, le=LAST_DATE)
    """The first day of the first period (read from the file)."""
    cohorts: dict[Identifier, CohortSeries] = {}
    """Each cohort's counts (read from the file)."""

    @property
    def period_days(self) -> int:
        return 7 if self.period == "week" else 1

    @model_validator(mode="after")
    def _same_length(self) -> DemandSeries:
        if self.start is None or not self.cohorts:
            raise ValueError(
                "needs its counts: give file = a CSV beside the scenario file (read by "
                "load_scenario), or start and cohorts"
            )
        lengths = {len(c.attendances) for c in self.cohorts.values()} | {
            len(c.direct_admissions) for c in self.cohorts.values() if c.direct_admissions
        }
        if len(lengths) > 1:
            raise ValueError(f"every cohort needs the same periods, got {sorted(lengths)} periods")
        return self


class Demand(StrictModel):
    month_multipliers: MonthMultipliers = (1.0,) * 12
    """12 numbers, January first: the seasonal shape, normalised to a mean of 1 over the year."""
    profiles: dict[Identifier, ArrivalProfile] = {}
    """Named weekly arrival shapes that cohorts refer to."""
    series: DemandSeries | None = None
    """Counts by day or week from a CSV file, for the cohorts it names (docs/scenario.md)."""


class ED(StrictModel):
    """The emergency department: treatment places and time to a decision."""

    cubicles: Capacity = UNLIMITED
    """A&E treatment places (a whole number, or unlimited)."""
    time_to_decision_minutes: Duration
    """From taking a cubicle to the decision, in minutes (a distribution); sent home, and any
    outcome without its own below."""
    boarding_holds_cubicle: bool = False
    """Whether admitted patients keep their cubicle while they wait for a bed."""
    admit_time_to_decision_minutes: Duration | None = None
    """From taking a cubicle to a decision to admit, in minutes (unset: the shared time)."""
    sdec_time_to_decision_minutes: Duration | None = None
    """From taking a cubicle to a referral to SDEC, in minutes (unset: the shared time)."""

    @field_validator("cubicles")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 1:
            raise ValueError(f'must be >= 1 or "{UNLIMITED}", got {v}')
        return v


class SDEC(StrictModel):
    """Same-day emergency care: chairs, opening hours, episode length, outcome."""

    chairs: Capacity = 0
    """Same-day emergency care places."""
    open: ScheduleSpec = "every day 08:00-20:00"
    """When SDEC takes referrals, e.g. 'every day 08:00-20:00'."""
    episode_hours: Duration = Field(default_factory=lambda: Fixed(value=6))
    """Length of an SDEC episode, in hours (a distribution)."""
    p_admit: Probability = 0.0
    """Share of SDEC episodes that end in a bed."""
    counts_as_admission: bool = True
    """Whether SDEC episodes count in admissions_nhs, as NHS counting does."""
    refused_stay: Literal["cohort", "sdec", "wait"] = "cohort"
    """A referral finding SDEC closed or full stays its cohort's stay, or 'sdec': its episode;
    or 'wait': one finding it closed goes home and comes back when it opens (full: the cohort's
    stay)."""

    @field_validator("chairs")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v


class BedChange(StrictModel):
    date: dt.date
    """The day the new number of beds holds from."""
    beds: Capacity
    """Open beds from that day (a cut drains, never evicts)."""

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


class OpelThresholds(StrictModel):
    """The thresholds of the daily OPEL-like level (``[acute.opel]``; docs/metrics.md,
    ``opel_level``). OPEL levels are set locally, so a trust can give its own; the defaults are
    this model's [A]: 85% where risks become discernible and 92% where regular shortages are
    expected (Bagust, Place & Posnett, BMJ 1999), and a bed queue as if one patient waited for a
    bed all day."""

    level_2_occupancy: float = Field(default=0.85, gt=0, le=2)
    """A day is at level 2 from this mean occupancy of the core beds (a share)."""
    level_3_occupancy: float = Field(default=0.92, gt=0, le=2)
    """A day is at level 3 from this mean occupancy, or with escalation beds open in it."""
    level_4_queue: float = Field(default=1.0, gt=0, le=MAX_PLACES)
    """A day is at level 4 from this mean number of admissions waiting for a bed."""

    @model_validator(mode="after")
    def _rising(self) -> OpelThresholds:
        if self.level_3_occupancy < self.level_2_occupancy:
            raise ValueError(
                f"level_3_occupancy must be >= level_2_occupancy "
                f"({self.level_2_occupancy:g}), got {self.level_3_occupancy:g}"
            )
        return self


class Escalation(StrictModel):
    """Escalation beds (``[acute.escalation]``): extra beds the site opens at a review when the
    core beds' occupancy or the bed queue passes a trigger, and closes at a review once the
    occupancy falls back below a lower one (docs/model.md, "Escalation beds")."""

    beds: int = Field(ge=1, le=MAX_PLACES)
    """Extra beds opened together, on top of ``acute.beds``."""
    open_at_occupancy: float | None = Field(default=None, gt=0, le=1)
    """Open when occupied beds reach this share of the core beds (``acute.beds``); unset: no
    occupancy trigger."""
    open_at_queue: int | None = Field(default=None, ge=1, le=MAX_PLACES)
    """Open when this many admissions wait for a bed; unset: no queue trigger."""
    close_below_occupancy: float = Field(gt=0, le=1)
    """Close when occupied beds (escalation beds' patients too) fall below this share of the
    core beds: at most 1, so closing never evicts anyone."""
    review_hours: tuple[int, ...] = tuple(range(HOURS_PER_DAY))
    """Whole hours of the day (0-23) at which the site reviews, every day, e.g. the bed
    meetings ``[8, 14, 20]``; every hour unless given."""

    @field_validator("review_hours")
    @classmethod
    def _hours_of_day(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v:
            raise ValueError("must list at least one hour of the day (0-23), got []")
        bad = [h for h in v if not 0 <= h < HOURS_PER_DAY]
        if bad:
            raise ValueError(f"must be whole hours of the day 0-23, got {bad[0]}")
        if len(set(v)) != len(v):
            raise ValueError(f"must not repeat an hour, got {list(v)}")
        return tuple(sorted(v))

    @model_validator(mode="after")
    def _triggers(self) -> Escalation:
        if self.open_at_occupancy is None and self.open_at_queue is None:
            raise ValueError(
                "needs open_at_occupancy or open_at_queue (or both) to open, got neither"
            )
        if self.open_at_occupancy is not None and (
            self.close_below_occupancy >= self.open_at_occupancy
        ):
            raise at_key(
                "acute.escalation.close_below_occupancy",
                f"must be below open_at_occupancy ({self.open_at_occupancy:g}), or the beds "
                "would close at the review that opens them",
                self.close_below_occupancy,
            )
        return self


class Acute(StrictModel):
    """The acute bed pool."""

    beds: Capacity
    """Open acute beds."""
    capacity_changes: tuple[BedChange, ...] = ()
    """Dated changes of open beds: escalation, winter beds, closures."""
    discharge_hours: ScheduleSpec = "24/7"
    """When P0 patients may leave the ward, e.g. 'every day 08:00-20:00'."""
    diversion_queue_threshold: int | None = Field(default=None, ge=0, le=MAX_PLACES)
    """Divert when no bed is free and this many already wait (0: a loss system; unset: never)."""
    escalation: Escalation | None = None
    """Escalation beds opened and closed at triggers (unset: none)."""
    opel: OpelThresholds = OpelThresholds()
    """Thresholds of the daily OPEL-like level (defaults [A])."""

    @field_validator("beds")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Acute:
        _dates_increase(self.capacity_changes, "capacity_changes")
        if self.escalation is not None:
            for what, beds in [("beds", self.beds)] + [
                (f"capacity_changes[{i}].beds", c.beds) for i, c in enumerate(self.capacity_changes)
            ]:
                if beds == "unlimited":
                    raise at_key(
                        f"acute.{what}",
                        "must be a number of beds when [acute.escalation] is given (its "
                        "triggers are shares of the core beds)",
                        beds,
                    )
        return self


class Workforce(StrictModel):
    """Community capacity derived from staff.

    Each support worker takes ``supervision_fte_per_support_fte`` of a qualified
    worker's time, so places = (qualified - supervision) x caseload per
    qualified FTE + support x caseload per support FTE, rounded down.
    """

    qualified_fte: Annotated[float, Field(ge=0, le=MAX_PLACES)]
    """Qualified staff, full-time equivalents."""
    support_fte: Annotated[float, Field(ge=0, le=MAX_PLACES)] = 0.0
    """Support workers, full-time equivalents."""
    caseload_per_qualified_fte: Annotated[float, Field(ge=0, le=1000)]
    """Patients one qualified FTE carries at a time."""
    caseload_per_support_fte: Annotated[float, Field(ge=0, le=1000)] = 0.0
    """Patients one support FTE carries at a time."""
    supervision_fte_per_support_fte: float = Field(default=0.0, ge=0, le=1)
    """Qualified time each support worker takes in supervision (FTE per FTE)."""

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


class _PlacesOrWorkforce(StrictModel):
    """Capacity given directly (``places``) or derived from staff (``workforce``)."""

    places: Capacity | None = None
    """Patients the service can hold at once (a whole number or unlimited), or give workforce
    instead."""
    workforce: Workforce | None = None
    """Staff whose caseloads give the places, instead of places."""

    @model_validator(mode="after")
    def _exactly_one(self) -> _PlacesOrWorkforce:
        if getattr(self, "visits", None) is not None:
            if self.places is not None or self.workforce is not None:
                raise ValueError(
                    "visits replaces places and workforce: give visits, or places or "
                    "workforce, not both"
                )
            return self
        if (self.places is None) == (self.workforce is None):
            raise ValueError("needs exactly one of places or workforce")
        if isinstance(self.places, int) and self.places < 0:
            raise ValueError(f"places must be >= 0, got {self.places}")
        return self

    @property
    def capacity(self) -> int | Literal["unlimited"]:
        """Patients at once; for a service in visits, visits a day (:attr:`Visits.per_day`)."""
        visits: Visits | None = getattr(self, "visits", None)
        if visits is not None:
            return visits.per_day
        if self.workforce is not None:
            return self.workforce.places
        assert self.places is not None
        return self.places


class PlacesChange(_PlacesOrWorkforce):
    date: dt.date
    """The day the new capacity holds from."""


CONTRACTED_HOURS_PER_FTE_WEEK = 37.5
"""A full-time working week in hours [A: the NHS Agenda for Change standard week; not in
the project's sourced figures]."""


class Staffing(StrictModel):
    """The rota that keeps a service accepting new patients in its ``accepts`` hours.

    Give either the staff on duty in each open hour (the FTE follows) or the FTE
    (the cover follows), never both::

        FTE   = open hours a week x staff_per_open_hour / contracted_hours_per_fte_week
        cover = fte x contracted_hours_per_fte_week / open hours a week

    So a service that moves from Mon-Fri 09:00-17:00 (40 hours a week) to every
    day 08:00-20:00 (84 hours) needs 84 / 40 = 2.1 times the FTE for the same
    cover, or spreads a fixed FTE 2.1 times thinner. The staff cost,
    FTE x ``cost_per_fte_year_gbp`` a financial year, comes on top of the
    service's place-day or episode costs (those pay for the care).
    """

    staff_per_open_hour: Annotated[float, Field(ge=0, le=MAX_PLACES)] | None = None
    """Staff on duty in every open hour (or give fte)."""
    fte: Annotated[float, Field(ge=0, le=MAX_PLACES)] | None = None
    """A fixed establishment, full-time equivalents (or give staff_per_open_hour)."""
    contracted_hours_per_fte_week: Annotated[float, Field(gt=0, le=HOURS_PER_WEEK)] = (
        CONTRACTED_HOURS_PER_FTE_WEEK
    )
    """A full-time week in hours."""
    cost_per_fte_year_gbp: Gbp = 0.0
    """Pounds for one FTE for a financial year, on-costs included."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Staffing:
        if (self.staff_per_open_hour is None) == (self.fte is None):
            raise ValueError("needs exactly one of staff_per_open_hour or fte")
        return self


class Visits(StrictModel):
    """A home-care service's capacity in visits a day (IPACS's P1 model), instead of places.

    The service delivers ``staff x visits_per_staff_day`` visits a day (rounded down to a
    whole visit). Each patient needs ``initial_per_day`` visits a day (a distribution,
    rounded to a whole visit and held within ``final_per_day``..``max_per_day``), falling
    by one visit at a time, at whole days of the episode, to ``final_per_day``: the steps
    are spread evenly over the episode's whole days, at most one a day. A patient starts
    only when the service accepts (``accepts``) and its free visits cover their initial
    need; the queue is first come, first served, so a patient needing more than is free
    holds up those behind (head-of-line blocking). Each step down frees a visit for the
    queue at once.
    """

    staff: Annotated[float, Field(ge=0, le=MAX_PLACES)]
    """Staff delivering visits (FTE; may change at a date)."""
    visits_per_staff_day: Annotated[float, Field(gt=0, le=100)]
    """Visits one staff member delivers a day (may change at a date)."""
    initial_per_day: Distribution = Field(default_factory=lambda: Fixed(value=4))
    """Visits a day a patient needs at the start (a distribution, rounded to a whole visit)."""
    final_per_day: Annotated[int, Field(ge=1, le=100)] = 1
    """Visits a day a patient's need falls to (the floor)."""
    max_per_day: Annotated[int, Field(ge=1, le=100)] = 8
    """The most visits a day a patient can need: initial draws above it are held to it."""

    @property
    def per_day(self) -> int:
        """Visits the service delivers a day (its capacity)."""
        return math.floor(self.staff * self.visits_per_staff_day + 1e-9)

    @model_validator(mode="after")
    def _consistent(self) -> Visits:
        if self.max_per_day < self.final_per_day:
            raise ValueError(
                f"max_per_day must be >= final_per_day, got {self.max_per_day} < "
                f"{self.final_per_day}"
            )
        if 0 < self.per_day < self.max_per_day:
            raise ValueError(
                f"staff x visits_per_staff_day ({self.per_day} visits a day) must be at least "
                f"max_per_day ({self.max_per_day}), or 0 (closed), or a patient needing "
                f"{self.max_per_day} would wait for ever, got staff = {self.staff:g}"
            )
        return self


class CommunityService(_PlacesOrWorkforce):
    """A community service: places, when it takes new patients, episode length."""

    accepts: ScheduleSpec = "24/7"
    """When the service takes new patients, e.g. 'Mon-Fri 09:00-17:00'."""
    episode_days: Duration
    """Length of an episode of care, in days (a distribution)."""
    capacity_changes: tuple[PlacesChange, ...] = ()
    """Dated changes of places or workforce: investment ramps or cuts."""
    cost_basis: Literal["occupied", "commissioned"] = "occupied"
    """What the place-day cost is paid on: places occupied, or places commissioned (paid empty or
    full)."""
    staffing: Staffing | None = None
    """The rota that keeps the service accepting in its hours: it gives FTE and staff cost."""
    visits: Visits | None = None
    """Capacity in visits a day instead of places (P1 only): see :class:`Visits`."""

    @model_validator(mode="after")
    def _ordered(self) -> CommunityService:
        _dates_increase(self.capacity_changes, "capacity_changes")
        if self.visits is not None and self.cost_basis == "commissioned":
            raise ValueError(
                'cost_basis = "commissioned" pays for places, and a service in visits has '
                'none: pay it by use ("occupied", its patient-days)'
            )
        if self.visits is not None and self.capacity_changes:
            raise ValueError(
                "capacity_changes dates places or workforce, and a service in visits has "
                "neither: date changes of visits.staff or visits.visits_per_staff_day in "
                "[[changes]] instead"
            )
        return self


class Community(StrictModel):
    urgent_response: CommunityService | None = None
    """Urgent community response: cares at home for avoidable would-be attendances."""
    p1: CommunityService | None = None
    """Pathway 1: support at home after discharge."""
    p2: CommunityService | None = None
    """Pathway 2: rehabilitation or short-term care beds."""
    p3: CommunityService | None = None
    """Pathway 3: care home places."""

    @model_validator(mode="after")
    def _visits_for_p1(self) -> Community:
        for name in ("urgent_response", "p2", "p3"):
            service = getattr(self, name)
            if service is not None and service.visits is not None:
                raise at_key(
                    f"community.{name}.visits",
                    f"capacity in visits is for P1 home care only: give {name} places or workforce",
                    dict(service.visits),
                )
        return self


class DischargeStage(StrictModel):
    """One stage a P1-P3 discharge passes before the service accepts the patient.

    A case starts only while the stage works (``hours``) and a place is free
    (``capacity`` concurrent cases); its ``duration_hours`` counts working
    hours only (the clock stops while the stage is closed), so a case never
    starts or ends outside the stage's hours. The patient waits in the acute
    bed throughout (delayed bed days).
    """

    capacity: Capacity = UNLIMITED
    """Cases the stage works on at once (a team's caseload), or "unlimited"."""
    hours: ScheduleSpec = "24/7"
    """When the stage works, e.g. 'every day 08:00-20:00' or 'Mon-Fri 09:00-17:00'."""
    duration_hours: Duration = Field(default_factory=lambda: Fixed(value=0))
    """Working hours a case takes (a distribution; the clock stops while the stage is closed)."""

    @field_validator("capacity")
    @classmethod
    def _non_negative(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v


class Discharge(StrictModel):
    """Stages of a P1-P3 discharge before the community service's own acceptance.

    Without stages a fit P1-P3 patient waits only for a place at an hour the
    service accepts (the single stage); with them, assessment, then brokerage,
    then the service.
    """

    assessment: DischargeStage | None = None
    """Assessment by the discharge or social-work team (first stage)."""
    brokerage: DischargeStage | None = None
    """Brokerage: commissioning the package or place, when provider offices are open."""


class Readmission(StrictModel):
    delay_days: Duration = Field(default_factory=lambda: Uniform(low=0, high=30))
    """Time from the end of care to re-attendance, in days (a distribution)."""
    emergency_delay_days: Duration = Field(default_factory=lambda: Uniform(low=0, high=30))
    """Time from leaving the bed to a 30-day emergency readmission, in days (at most 30)."""

    @model_validator(mode="after")
    def _within_30_days(self) -> Readmission:
        delay = self.emergency_delay_days
        top = getattr(delay, "high", getattr(delay, "value", None))
        if top is None or top > 30:
            raise ValueError(
                "emergency_delay_days must stay within 30 days (a fixed value or a uniform "
                f"with high <= 30), got {delay!r}"
            )
        return self


class ServiceCounts(StrictModel):
    urgent_response: Count = 0
    """Urgent response places in use at the start."""
    p1: Count = 0
    """P1 places in use at the start."""
    p2: Count = 0
    """P2 places in use at the start."""
    p3: Count = 0
    """P3 places in use at the start."""


class DelayedCounts(StrictModel):
    p1: Count = 0
    """Fit patients waiting in beds for P1 at the start."""
    p2: Count = 0
    """Fit patients waiting in beds for P2 at the start."""
    p3: Count = 0
    """Fit patients waiting in beds for P3 at the start."""


class InitialState(StrictModel):
    """Today's position: patients already in beds and in community services at t = 0."""

    acute_treating: Count = 0
    """Patients in beds, still in treatment, at the start."""
    delayed: DelayedCounts = DelayedCounts()
    """Fit patients waiting in beds for each pathway at the start."""
    community_in_use: ServiceCounts = ServiceCounts()
    """Community places in use at the start."""


PaysFor = Literal[
    "community.urgent_response",
    "community.p1",
    "community.p2",
    "community.p3",
    "community.urgent_response.staffing",
    "community.p1.staffing",
    "community.p2.staffing",
    "community.p3.staffing",
]
"""What an investment line can pay for: a whole service (its episodes, place days and
staff), or only a service's staff (``[community.SERVICE.staffing]``)."""


class Investment(StrictModel):
    """Money dated to a financial year, and what it buys.

    ``pays_for`` names the capacity the money buys; in that financial year the
    named charges (a service's episodes, place days and staff, or its staff
    alone) are not counted again, so the same money is never counted twice.
    """

    financial_year: Annotated[str, Field(pattern=r"^\d{4}/\d{2}$")]
    """The financial year the money is spent in, e.g. '2017/18'."""
    amount_gbp: Gbp
    """Amount in pounds."""
    label: str = "investment"
    """What the money is, for tables."""
    pays_for: tuple[PaysFor, ...] = ()
    """What the money buys that year ('community.p1', 'community.p1.staffing'): those charges are
    not counted again."""

    @field_validator("pays_for")
    @classmethod
    def _no_repeats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            if v.count(item) > 1:
                raise ValueError(f"names {item!r} twice")
            if item.endswith(".staffing") and item.removesuffix(".staffing") in v:
                raise ValueError(
                    f"names both {item.removesuffix('.staffing')!r} and {item!r}: "
                    "the service's staff are part of the service"
                )
        return v


class PlaceDayCosts(StrictModel):
    urgent_response: Gbp = 0.0
    """Pounds per urgent response place day (or pay it by episode, not both)."""
    p1: Gbp = 0.0
    """Pounds per P1 place day."""
    p2: Gbp = 0.0
    """Pounds per P2 place day."""
    p3: Gbp = 0.0
    """Pounds per P3 place day."""


class Costs(StrictModel):
    """Unit costs in pounds sterling, at the ``price_base`` they are quoted in."""

    ed_attendance_admitted_gbp: Gbp = 0.0
    """Pounds per A&E attendance that is admitted."""
    ed_attendance_not_admitted_gbp: Gbp = 0.0
    """Pounds per A&E attendance not admitted."""
    sdec_episode_gbp: Gbp = 0.0
    """Pounds per SDEC episode."""
    acute_bed_day_gbp: Gbp = 0.0
    """Pounds per acute bed day in treatment."""
    delayed_bed_day_gbp: Gbp = 0.0
    """Pounds per bed day of a fit patient waiting to leave."""
    urgent_response_episode_gbp: Gbp = 0.0
    """Pounds per urgent response episode (or pay it by place day, not both)."""
    diversion_gbp: Gbp = 0.0
    """Pounds per patient diverted for want of a bed."""
    escalation_bed_day_gbp: Gbp = 0.0
    """Pounds per escalation bed day open (staffed and paid for, occupied or not)."""
    community_place_day_gbp: PlaceDayCosts = PlaceDayCosts()
    """Pounds per community place day, by service."""
    investment: tuple[Investment, ...] = ()
    """Money put in, by financial year."""
    price_base: Annotated[str, Field(max_length=100)] = ""
    """The prices' base, as text a report shows ("2017/18 prices"); empty: not stated."""
    discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    """A yearly rate by which net cost against the comparator is discounted, from the
    plan's first year (0.035 is 3.5%); 0: not discounted."""

    @model_validator(mode="after")
    def _urgent_response_costed_once(self) -> Costs:
        # an episode price and a place-day price would pay for the same care twice
        per_day = self.community_place_day_gbp.urgent_response
        if per_day > 0 and self.urgent_response_episode_gbp > 0:
            raise at_key(
                "costs.community_place_day_gbp.urgent_response",
                "must be 0 when costs.urgent_response_episode_gbp is given "
                "(a service is paid by place days or by episodes, never both)",
                per_day,
            )
        return self


class Plan(StrictModel):
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


CHANGE_KEY_PATTERN = r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$"


class Change(StrictModel):
    """A dated change: from ``from`` on, each dotted key of ``set`` takes the value given.

    A plan is its scenario plus a timeline of changes (docs/scenario.md, "Dated
    changes")::

        [[changes]]
        from = 2017-04-01
        set = { "community.p1.accepts" = "every day 08:00-20:00", "sdec.chairs" = 20 }
    """

    model_config = ConfigDict(populate_by_name=True)  # the rest from StrictModel

    from_date: dt.date = Field(alias="from", ge=FIRST_DATE, le=LAST_DATE)
    """The first day the new values hold (from its midnight)."""
    values: dict[Annotated[str, Field(pattern=CHANGE_KEY_PATTERN, max_length=200)], Any] = Field(
        alias="set", min_length=1
    )
    """Dotted keys of the scenario and their new values, validated as the keys themselves."""
    label: Annotated[str, Field(max_length=200)] = ""
    """What the change is, for tables."""


CHANGE_REFUSED: tuple[tuple[str, str], ...] = (
    ("name", "names the scenario for the whole run"),
    ("description", "describes the scenario for the whole run"),
    ("run", "says how to run, not what the system is"),
    ("plan", "says how the run is reported"),
    ("initial_state", "is the position at the start of the run"),
    ("changes", "cannot be nested"),
    ("extends", "is read with the file"),
    ("costs.investment", "is dated already, by its financial_year"),
    ("costs.price_base", "is the price base of the whole run"),
    ("costs.discount_rate", "is how the whole run is discounted"),
    ("demand.series", "is dated already, period by period"),
    (
        "ed.boarding_holds_cubicle",
        "cannot change at a date: a boarder's cubicle would depend on when they were admitted",
    ),
    ("sdec.counts_as_admission", "is how the whole run counts admissions"),
    (
        "cohorts.*.treatment_los_days_by_pathway",
        "cannot change at a date (yet): date a change of the cohort's treatment_los_days",
    ),
    (
        "cohorts.*.avoidable",
        "cannot change at a date: a patient's type is drawn once, on arrival",
    ),
    (
        "sdec.refused_stay",
        "is how the whole run treats a referral that finds SDEC closed or full",
    ),
    ("community.*.cost_basis", "is how the whole run pays for the service"),
    ("acute.capacity_changes", "is a timeline already: date bed changes as changes of acute.beds"),
    (
        "acute.escalation",
        "cannot change at a date (yet): its beds open and close by their own triggers; date "
        "changes of acute.beds instead",
    ),
    ("acute.opel", "is how the whole run grades its days"),
    (
        "community.*.capacity_changes",
        "is a timeline already: date them as changes of the service's places or workforce",
    ),
    (
        "community.p1.visits.initial_per_day",
        "cannot change at a date: each patient's need is drawn once, on arrival",
    ),
    (
        "community.p1.visits.final_per_day",
        "cannot change at a date: it sets the step-downs of episodes under way",
    ),
    (
        "community.p1.visits.max_per_day",
        "cannot change at a date: each patient's need is drawn once, on arrival",
    ),
)
"""Keys a dated change may not set, and why."""


class Scenario(StrictModel):
    """A validated, frozen scenario. Build with :func:`load_scenario` or :meth:`from_dict`."""

    name: Annotated[str, Field(max_length=100)] = ""
    """Names the scenario in tables and its default output folder (outputs/<name>)."""
    description: Annotated[str, Field(max_length=10_000)] = ""
    """What the scenario is, in a sentence or two, for reports."""
    run: RunSpec = RunSpec()
    """How to run: calendar, warm-up, replications and seed."""
    demand: Demand = Demand()
    """Seasonal and weekly shapes of demand, and demand as a dated series."""
    cohorts: dict[Identifier, Cohort] = Field(min_length=1)
    """Population groups, each with its own demand, acuity and discharge needs."""
    ed: ED
    """The emergency department."""
    sdec: SDEC = SDEC()
    """Same-day emergency care."""
    acute: Acute
    """The acute bed pool."""
    community: Community = Community()
    """Community services: urgent response and discharge pathways P1-P3."""
    discharge: Discharge = Discharge()
    """Stages of a P1-P3 discharge (assessment, brokerage) before the service accepts."""
    readmission: Readmission = Readmission()
    """When discharged patients come back."""
    initial_state: InitialState = InitialState()
    """Today's position: patients in beds and community places at the start."""
    costs: Costs = Costs()
    """Unit costs, investment, price base and discounting."""
    plan: Plan = Plan()
    """How a plan reports its changes: baseline year and its own projection."""
    changes: tuple[Change, ...] = ()
    """Dated changes to any value of the system, in date order (docs/scenario.md)."""

    _source: str = PrivateAttr(default="<scenario>")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _uncertain: tuple[UncertainInput, ...] = PrivateAttr(default=())
    _phases: tuple[tuple[dt.date | None, Scenario], ...] = PrivateAttr(default=())

    @field_validator("name")
    @classmethod
    def _usable_as_folder(cls, v: str) -> str:
        if any(ch in v for ch in "/\\") or v in (".", "..") or not v.isprintable():
            raise ValueError("must be printable text with no / or \\ (it names the output folder)")
        return v

    @model_validator(mode="after")
    def _investment_pays_for_what_exists(self) -> Scenario:
        for i, item in enumerate(self.costs.investment):
            for named in item.pays_for:
                service = self.service(named.split(".")[1])
                if service is None:
                    raise at_key(
                        f"costs.investment[{i}].pays_for",
                        f"must name a configured service (no [{named.removesuffix('.staffing')}])",
                        named,
                    )
                if named.endswith(".staffing") and service.staffing is None:
                    raise at_key(
                        f"costs.investment[{i}].pays_for",
                        f"must name staff that exist (no [{named}])",
                        named,
                    )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        series = self.demand.series
        if series is not None:
            for name, counted in series.cohorts.items():
                if name not in self.cohorts:
                    raise at_key(
                        "demand.series.cohorts",
                        f"must name cohorts of the scenario ({', '.join(self.cohorts)})",
                        name,
                    )
                cohort = self.cohorts[name]
                assert series.start is not None  # validated
                for key, profile_name, values in (
                    ("attendances", cohort.arrival_profile, counted.attendances),
                    ("direct_admissions", cohort.direct_profile, counted.direct_admissions or ()),
                ):
                    profile = self.demand.profiles.get(profile_name)
                    weights = [1.0] * HOURS_PER_WEEK if profile is None else profile.weights()
                    # a profile has arrivals in some hour of every week, so only a day can
                    # fall where it has none
                    empty_days = {d for d in range(7) if not any(weights[d * 24 : d * 24 + 24])}
                    if series.period_days != 1 or not empty_days:
                        continue
                    for i, value in enumerate(values):
                        first = series.start + dt.timedelta(days=i)
                        if value > 0 and first.weekday() in empty_days:
                            raise at_key(
                                f"demand.series.cohorts.{name}.{key}[{i}] ({first})",
                                f"must be 0: the profile {profile_name!r} has no arrivals then",
                                value,
                            )
        known = set(self.demand.profiles) | {"flat"}
        for name, cohort in self.cohorts.items():
            for key in ("arrival_profile", "direct_profile"):
                profile = getattr(cohort, key)
                if profile not in known:
                    raise at_key(
                        f"cohorts.{name}.{key}",
                        f"must name a profile in demand.profiles ({', '.join(sorted(known))})",
                        profile,
                    )
            for pathway in ("p1", "p2", "p3"):
                if (
                    getattr(cohort.pathway, pathway) > 0
                    and getattr(self.community, pathway) is None
                ):
                    raise at_key(
                        f"cohorts.{name}.pathway.{pathway}",
                        f"needs a [community.{pathway}] service",
                        getattr(cohort.pathway, pathway),
                    )
            shares = cohort.avoidable_share
            if (max(shares) if isinstance(shares, tuple) else shares) > 0 and (
                self.community.urgent_response is None
            ):
                raise at_key(
                    f"cohorts.{name}.avoidable_share",
                    "needs a [community.urgent_response] service",
                    shares,
                )
            _check_sub_cohort(name, cohort)
        state = self.initial_state
        for service in SERVICES:
            in_use = getattr(state.community_in_use, service)
            spec = getattr(self.community, service)
            if in_use and spec is None:
                raise at_key(
                    f"initial_state.community_in_use.{service}",
                    f"needs a [community.{service}] service",
                    in_use,
                )
        p1 = self.community.p1
        if state.community_in_use.p1 and p1 is not None and p1.visits is not None:
            raise at_key(
                "initial_state.community_in_use.p1",
                "cannot place patients in a P1 service counted in visits (their need under "
                "way is not known): start them delayed instead (initial_state.delayed.p1)",
                state.community_in_use.p1,
            )
        for pathway in ("p1", "p2", "p3"):
            if getattr(state.delayed, pathway) and getattr(self.community, pathway) is None:
                raise at_key(
                    f"initial_state.delayed.{pathway}",
                    f"needs a [community.{pathway}] service",
                    getattr(state.delayed, pathway),
                )
        occupied = state.acute_treating + state.delayed.p1 + state.delayed.p2 + state.delayed.p3
        # a starting state may hold more than today's capacity, as real positions do: the
        # excess drains, as after a capacity cut (nobody is admitted until a place is free)
        year = self.plan.baseline_year
        if year is not None:
            years = _reported_years(self.run)
            if year not in years:
                raise at_key(
                    "plan.baseline_year",
                    f"must be a financial year the run reports ({', '.join(years)})",
                    year,
                )
        dates = [change.from_date for change in self.changes]
        for i in range(1, len(dates)):
            if dates[i] <= dates[i - 1]:
                raise at_key(
                    f"changes[{i}].from",
                    f"must come after the change before it ({dates[i - 1]})",
                    dates[i],
                )
        if occupied and self.run.warm_up_days:
            raise at_key(
                "run.warm_up_days",
                "must be 0 when an initial_state is given "
                "(start from today's position or warm up from empty, not both)",
                self.run.warm_up_days,
            )
        return self

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
        """Validate a plain dict (already merged with anything it extends).

        Uncertain values (:mod:`sim.scenario.uncertain`) are lifted out first: the scenario
        holds their means (the nominal scenario) and :attr:`uncertain` lists them, each
        checked to give a valid scenario at the ends of its range.
        """
        raw, inputs = lift(data, source)
        if raw.get("name") is None or raw.get("name") == "":
            raw["name"] = Path(source).stem if not source.startswith("<") else "scenario"
        try:
            scenario = cls.model_validate(raw)
        except ValidationError as exc:
            raise ScenarioError(format_errors(exc, source, raw, cls)) from None
        scenario._source = source
        scenario._raw = raw
        scenario._phases = _phases(scenario, raw, source)
        scenario._uncertain = inputs
        if inputs:
            _check_ranges(raw, inputs, source)
        return scenario

    @property
    def source(self) -> str:
        return self._source

    @property
    def raw(self) -> dict[str, Any]:
        """The merged data it was validated from (uncertain values at their means), a copy."""
        return copy.deepcopy(self._raw)

    @property
    def uncertain(self) -> tuple[UncertainInput, ...]:
        """The uncertain inputs of the file it was read from (none for a scenario made by
        :meth:`override` or :meth:`with_values`)."""
        return self._uncertain

    def with_values(self, values: Mapping[str, float | int], name: str | None = None) -> Scenario:
        """The scenario with uncertain inputs set to ``values`` (input key -> value): one
        draw. Unlike :meth:`override`, a value keeps the dated changes that set its key."""
        raw = apply(self._raw, values)
        if name is not None:
            raw["name"] = name
        return Scenario.from_dict(raw, source=self._source)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (the merged file, every default filled in)."""
        return self.model_dump(mode="json", by_alias=True)

    def override(self, changes: Mapping[str, Any], name: str | None = None) -> Scenario:
        """A new scenario with dotted keys replaced, validated again.

        >>> base.override({"acute.beds": 500, "community.p1.accepts": "24/7"})

        An overridden key holds for the whole run: the dated changes (``[[changes]]``) stop
        setting it, or anything inside it (a change left with nothing to set is dropped).
        """
        raw = copy.deepcopy(self._raw)
        for dotted, value in changes.items():
            set_dotted(raw, dotted, value, self._source)
            _undate(raw, dotted)
        if name is not None:
            raw["name"] = name
        return Scenario.from_dict(raw, source=self._source)

    @property
    def phases(self) -> tuple[tuple[dt.date | None, Scenario], ...]:
        """The system from one dated change to the next: ``(from, scenario)`` pairs, the first
        ``(None, the scenario before any change)``; each scenario has no changes of its own.
        A scenario without changes has one phase, itself."""
        return self._phases or ((None, self),)

    # --- convenience ----------------------------------------------------------------------

    def service(self, name: str) -> CommunityService | None:
        return getattr(self.community, name)


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted keys; a distribution table (with ``dist``) stays whole."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and "dist" not in value:
            out.update(flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def differences(a: Scenario, b: Scenario) -> list[str]:
    """The dotted keys at which two scenarios differ (every default filled in)."""
    x, y = flatten(a.to_dict()), flatten(b.to_dict())
    return sorted(k for k in x.keys() | y.keys() if x.get(k, None) != y.get(k, None))


RANGE_ENDS = (0.001, 0.999)
"""The quantiles at which each uncertain input is checked to give a valid scenario."""


def _check_ranges(raw: dict[str, Any], inputs: Sequence[UncertainInput], source: str) -> None:
    """Each uncertain input, on its own at either end of its range, gives a valid scenario."""
    problems: list[str] = []
    for item in inputs:
        for q, value in zip(RANGE_ENDS, item.ppf(list(RANGE_ENDS)), strict=True):
            try:
                Scenario.from_dict(apply(raw, {item.key: value}), source=source)
            except ScenarioError as err:
                for message in err.messages:
                    problems.append(
                        f"{source}: {item.key} = {item.describe()} must give a valid scenario "
                        f"over its range; at its {q:.1%} quantile ({value:g}): "
                        f"{message.removeprefix(source + ': ')}"
                    )
                break
    if problems:
        raise ScenarioError(problems)


def _undate(raw: dict[str, Any], dotted: str) -> None:
    """Remove ``dotted`` and the keys inside it from the dated changes in ``raw``."""
    changes = raw.get("changes")
    if dotted == "changes" or not isinstance(changes, list):
        return
    kept = []
    for change in changes:
        values = change.get("set") if isinstance(change, dict) else None
        if isinstance(values, dict):
            change["set"] = {
                k: v for k, v in values.items() if k != dotted and not k.startswith(dotted + ".")
            }
            if not change["set"]:
                continue
        kept.append(change)
    raw["changes"] = kept


def _phases(
    scenario: Scenario, raw: Mapping[str, Any], source: str
) -> tuple[tuple[dt.date | None, Scenario], ...]:
    """Each phase's scenario: the one before it with the change's keys set, validated; and
    every key a change may not set (:data:`CHANGE_REFUSED`) refused, naming the change."""
    if not scenario.changes:
        return ()
    data = copy.deepcopy(dict(raw))
    data.pop("changes", None)
    first = Scenario.model_validate(data)
    first._source = source
    phases: list[tuple[dt.date | None, Scenario]] = [(None, first)]
    problems: list[str] = []
    for i, change in enumerate(scenario.changes):
        where = f"{source}: changes[{i}] (from {change.from_date})"
        for key, value in change.values.items():
            refused = _refused(key, first)
            if refused is not None:
                problems.append(f"{where}: {key} {refused}, got {show_value(value)}")
                continue
            if key.split(".")[0] == "costs" and (change.from_date.month, change.from_date.day) != (
                4,
                1,
            ):
                problems.append(
                    f"{where}: {key} may change only from 1 April (prices hold for a financial "
                    f"year), got {show_value(value)}"
                )
                continue
            try:
                set_dotted(data, key, value, source)
            except ScenarioError as exc:
                problems += [m.replace(f"{source}: ", f"{where}: ", 1) for m in exc.messages]
        if problems:
            continue
        try:
            phase = Scenario.model_validate(data)
        except ValidationError as exc:
            problems += [
                m.replace(f"{source}: ", f"{where}: ", 1)
                for m in format_errors(exc, source, data, Scenario)
            ]
            continue
        problems += [f"{where}: {m}" for m in _same_shape(first, phase, change)]
        phase._source = source
        phases.append((change.from_date, phase))
    if problems:
        raise ScenarioError(problems)
    return tuple(phases)


def _refused(key: str, scenario: Scenario) -> str | None:
    """Why a dated change may not set ``key`` (None if it may): a key of
    :data:`CHANGE_REFUSED` or one inside it, or a cohort or service the scenario lacks
    (a table that holds a refused key is checked once set, by :func:`_same_shape`)."""
    parts = key.split(".")
    for pattern, why in CHANGE_REFUSED:
        wanted = pattern.split(".")
        if len(parts) >= len(wanted) and all(
            w in ("*", p) for w, p in zip(wanted, parts, strict=False)
        ):
            return why
    if parts[0] == "cohorts" and len(parts) > 1 and parts[1] not in scenario.cohorts:
        return (
            f"names no cohort of the scenario ({', '.join(scenario.cohorts)}): a change "
            "cannot add one"
        )
    if (
        parts[0] == "community"
        and len(parts) > 1
        and parts[1] in SERVICES
        and scenario.service(parts[1]) is None
    ):
        return (
            f"names a service the scenario does not have: give [community.{parts[1]}] from "
            "the start (places = 0 until it opens)"
        )
    if (
        parts[0] == "discharge"
        and len(parts) > 1
        and parts[1] in ("assessment", "brokerage")
        and getattr(scenario.discharge, parts[1]) is None
    ):
        return (
            f"names a discharge stage the scenario does not have: give [discharge.{parts[1]}] "
            "from the start (24/7, unlimited and no duration is today's single stage)"
        )
    return None


def _at(model: Any, path: Sequence[str]) -> list[tuple[str, Any]]:
    """The values at a dotted path of :data:`CHANGE_REFUSED` (``*`` for every cohort or
    service), with their concrete keys."""
    if not path:
        return [("", model)]
    head, rest = path[0], path[1:]
    if isinstance(model, Mapping):
        items = list(model.items()) if head == "*" else [(head, model.get(head))]
    elif head == "*":
        items = [(name, getattr(model, name, None)) for name in type(model).model_fields]
    else:
        items = [(head, getattr(model, head, None))]
    found = []
    for name, value in items:
        if value is None:
            continue
        found += [(f"{name}.{k}".rstrip("."), v) for k, v in _at(value, rest)]
    return found


def _same_shape(first: Scenario, phase: Scenario, change: Change) -> list[str]:
    """A change alters values, not what the system is made of: the same cohorts and
    services, and no capacity dated twice (by a change and by ``capacity_changes``)."""
    problems = []
    keys = ", ".join(change.values)
    for pattern, why in CHANGE_REFUSED:
        old = dict(_at(first, pattern.split(".")))
        for key, value in _at(phase, pattern.split(".")):
            if key in old and old[key] != value:
                problems.append(f"{keys} would change {key}, which {why}")
    if list(phase.cohorts) != list(first.cohorts):
        problems.append(
            f"{keys} must not add or remove a cohort ({', '.join(first.cohorts)} at the start, "
            f"{', '.join(phase.cohorts)} after)"
        )
    for stage in ("assessment", "brokerage"):
        if (getattr(first.discharge, stage) is None) != (getattr(phase.discharge, stage) is None):
            problems.append(
                f"discharge.{stage} must not be added or removed by a change (give it from "
                "the start: 24/7, unlimited and no duration is today's single stage)"
            )
    for name in SERVICES:
        before, after = first.service(name), phase.service(name)
        if (before is None) != (after is None):
            problems.append(
                f"community.{name} must not be added or removed by a change "
                "(give it from the start, with places = 0 until it opens)"
            )
        elif (
            before is not None
            and after is not None
            and (before.visits is None) != (after.visits is None)
        ):
            problems.append(
                f"community.{name}.visits must not be added or removed by a change (a service "
                "counts places or visits for the whole run)"
            )
        elif (
            before is not None
            and after is not None
            and before.capacity_changes
            and after.capacity != before.capacity
        ):
            problems.append(
                f"community.{name}'s places must not change at a date while "
                f"community.{name}.capacity_changes is given (date them in one place)"
            )
    if first.acute.capacity_changes and phase.acute.beds != first.acute.beds:
        problems.append(
            "acute.beds must not change at a date while acute.capacity_changes is given "
            "(date them in one place)"
        )
    return problems


def _reported_years(run: RunSpec) -> list[str]:
    """Financial years the run reports, e.g. ['2016/17', '2017/18']."""
    periods = Calendar(run.start_date, run.warm_up_days, run.horizon_years).periods
    return [p.label for p in periods if p.label != "all"]


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


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _may_be_uncertain(node: Any) -> Any:
    """``node`` with every number (or whole number) also accepting an uncertain value's
    table, as loading does."""
    if isinstance(node, list):
        return [_may_be_uncertain(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _may_be_uncertain(v) for k, v in node.items()}
    if out.get("type") in ("number", "integer"):
        keep = {k: out.pop(k) for k in ("description", "title", "default") if k in out}
        return {**keep, "anyOf": [out, {"$ref": "#/$defs/Uncertain"}]}
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (its TOML read as JSON), for editors and tools.

    Made from :class:`Scenario` itself, so it cannot drift from what
    :func:`load_scenario` accepts; rules that need more than one key at a time
    (a pathway mix summing to 1, dates in order) are checked only on loading.
    A file with ``extends`` holds only what differs, so a schema check sees
    it whole once merged (``leftshift schema`` documents this in its output).
    """
    schema = _may_be_uncertain(Scenario.model_json_schema(mode="validation"))
    schema.setdefault("$defs", {})["Uncertain"] = uncertain.json_schema()
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "Another scenario file this one starts from (a relative path); "
        "tables merge key by key.",
    }
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "leftshift scenario",
        "description": "A leftshift scenario file (docs/scenario.md). Keys carry their unit "
        "in their name; shares are fractions between 0 and 1. A file with extends is "
        "checked whole, once merged with the file it extends.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
