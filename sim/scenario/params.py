"""A scenario resolved into the engines' units: hours, hourly rates, capacity timelines.

Both engines read a :class:`ModelParams` built from the same validated
scenario, so units are converted in exactly one place:

* durations: ``*_days`` x 24, ``*_minutes`` / 60, ``*_hours`` as given;
* demand: an hourly arrival rate for every hour of the run,
  ``annual / 8766 x 168 x profile[hour_of_week] x month[m] / mean_month x (1 + growth)^fy``
  where ``fy`` counts financial years from the one holding ``start_date``
  (so the warm-up, in the year before, runs at last year's demand), and the
  month multipliers are normalised to a day-weighted mean of 1 so the annual
  volume stays the figure the planner typed; a demand series
  (``[demand.series]``) replaces the hours of its days or weeks: each period's
  count spread over its hours by the cohort's profile;
* capacities: a step function of time (``times_h``, ``values``), with
  ``inf`` for "unlimited" and a change dated before the run applying from t = 0;
* dated changes (``[[changes]]``): the run is cut into phases at their dates,
  each built from its own scenario (:attr:`Scenario.phases`); what varies hour
  by hour (arrival rates, schedules, capacities) is spliced from the phases into
  one run-long view, and the rest (probabilities, distributions) is read from
  the phase in force, :meth:`ModelParams.phase` (docs/scenario.md, "Dated changes").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..clock.calendar import Calendar
from ..clock.holidays import english_bank_holidays
from ..clock.schedule import Schedule, over_run, run_hours_until_open
from ..codes import HOURS_PER_DAY, HOURS_PER_WEEK, HOURS_PER_YEAR, PATHWAYS, ROUTES, SERVICES
from ..rng.distributions import Distribution
from .schema import (
    UNLIMITED,
    Cohort,
    Costs,
    Escalation,
    Scenario,
    Staffing,
    rest_los_scale,
    rest_p_admit,
)

_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)


def as_capacity(value: int | str) -> float:
    return math.inf if value == UNLIMITED else float(value)


@dataclass(frozen=True)
class Timeline:
    """A capacity that changes at given times: ``values[i]`` from ``times_h[i]``."""

    times_h: np.ndarray
    values: np.ndarray


def _timeline(initial: float, changes: list[tuple[float, float]]) -> Timeline:
    times, values = [0.0], [initial]
    for t, value in changes:
        if t <= 0:
            values[0] = value
        else:
            times.append(t)
            values.append(value)
    return Timeline(np.array(times), np.array(values, dtype=float))


@dataclass(frozen=True)
class CohortParams:
    name: str
    index: int
    ed_rate_h: np.ndarray
    """Would-be A&E attendances per hour, for every hour of the run."""
    direct_rate_h: np.ndarray
    p_admit: float
    p_sdec: float
    los_h: Distribution
    los_mean_h: float
    pathway_cdf: np.ndarray
    """Cumulative shares of p0..p3."""
    p_readmit: np.ndarray
    """Re-attendance probability by route home (:class:`sim.codes.Route`: p0-p3, urgent
    response)."""
    avoidable_by_fy: np.ndarray
    """Avoidable share by financial-year index of the run (clamped at the ends)."""
    los_by_pathway_h: tuple[Distribution | None, Distribution | None, Distribution | None] = (
        None,
        None,
        None,
    )
    """The treatment stay (hours) of the patients of P1, P2 and P3 where the cohort gives them
    their own (``treatment_los_days_by_pathway``); None: ``los_h``."""
    p_readmit_30d: np.ndarray = field(default_factory=lambda: np.zeros(4))
    """30-day emergency readmission probability by pathway p0-p3, from leaving the bed."""
    avoidable_type_share: float = -1.0
    """Share of new would-be attendances that are avoidable-type patients (``avoidable.share``,
    case mix); -1: the cohort has no avoidable sub-cohort."""
    p_admit_by_type: tuple[float, float] = (0.0, 0.0)
    """With a sub-cohort: the admission probability of its avoidable-type patients, then of
    the rest of the cohort's new attendances (:func:`sim.scenario.schema.rest_p_admit`)."""
    los_avoidable_h: Distribution | None = None
    """With a sub-cohort: its patients' treatment stay (hours)."""
    rest_los_scale: float = 1.0
    """With a sub-cohort: the factor on the treatment stay (``los_h``) of the rest of the
    cohort's new attendances (:func:`sim.scenario.schema.rest_los_scale`)."""


def _sub_cohort(c: Cohort, los_h: Distribution) -> dict[str, Any]:
    """A cohort's avoidable sub-cohort (case mix) as :class:`CohortParams` fields: none unset."""
    sub = c.avoidable
    if sub is None:
        return {}
    sub_los_h = sub.treatment_los_days.scaled(HOURS_PER_DAY)
    return {
        "avoidable_type_share": sub.share,
        "p_admit_by_type": (sub.p_admit, rest_p_admit(c.p_admit, sub.share, sub.p_admit)),
        "los_avoidable_h": sub_los_h,
        "rest_los_scale": rest_los_scale(
            c.p_admit,
            los_h.mean,
            sub.share,
            sub.p_admit,
            sub_los_h.mean,
            c.own_stays(HOURS_PER_DAY),
        ),
    }


def _scaled(d: Distribution | None, factor: float) -> Distribution | None:
    """``d`` in other units (None stays None)."""
    return None if d is None else d.scaled(factor)


def _splice(timelines: list[Timeline], starts_h: list[float]) -> Timeline:
    """One timeline from the phases': phase ``i``'s from ``starts_h[i]`` to the next start."""
    times: list[float] = []
    values: list[float] = []
    ends = [*starts_h[1:], math.inf]
    for timeline, start, end in zip(timelines, starts_h, ends, strict=True):
        at = int(np.searchsorted(timeline.times_h, start, side="right")) - 1
        pairs = [(start, float(timeline.values[max(at, 0)]))]
        pairs += [
            (float(t), float(v))
            for t, v in zip(timeline.times_h, timeline.values, strict=True)
            if start < t < end
        ]
        for t, v in pairs:
            if not values or v != values[-1]:
                times.append(t)
                values.append(v)
    return Timeline(np.array(times), np.array(values, dtype=float))


@dataclass(frozen=True)
class VisitParams:
    """A P1 service counted in visits a day (``[community.p1.visits]``): what a patient
    needs; the service's ``capacity`` is then visits a day."""

    initial_per_day: Distribution
    """Visits a day a patient needs at the start (drawn, rounded, held within the bounds)."""
    final_per_day: int
    """The floor the need steps down to."""
    max_per_day: int
    """The most a patient can need."""


@dataclass(frozen=True)
class ServiceParams:
    name: str
    index: int
    capacity: Timeline
    """Places; visits a day for a service counted in visits (:attr:`visits`)."""
    accepts_by_hour: np.ndarray
    """Whether the service takes new patients in each hour of the run (bank holidays closed
    for a weekday rota)."""
    episode_h: Distribution
    visits: VisitParams | None = None
    """The visits a patient needs, when the service counts visits rather than places."""


STAGES = ("assessment", "brokerage")
"""The stages of a P1-P3 discharge before the service accepts the patient, in order."""


@dataclass(frozen=True)
class StageParams:
    """A discharge stage (``[discharge.<name>]``): its capacity, working hours and duration."""

    name: str
    index: int
    """Its place in :data:`STAGES`."""
    capacity: Timeline
    open_by_hour: np.ndarray
    """Whether the stage works in each hour of the run (bank holidays closed for a weekday
    rota)."""
    duration_h: Distribution
    """Working hours a case takes."""


@dataclass(frozen=True)
class EscalationParams:
    """Escalation beds (``[acute.escalation]``): how many, the triggers, and the reviews."""

    beds: int
    open_at_occupancy: float
    """Share of the core beds occupied at which a review opens them; -1: no such trigger."""
    open_at_queue: int
    """Admissions waiting for a bed at which a review opens them; -1: no such trigger."""
    close_below_occupancy: float
    """Share of the core beds occupied below which a review closes them."""
    review_by_hour: np.ndarray
    """Whether the site reviews at the start of each hour of the run (one flag an hour)."""


@dataclass(frozen=True)
class ModelParams:
    """Everything an engine needs, in hours.

    With dated changes, the arrival rates, schedules (``*_by_hour``) and
    capacities (:class:`Timeline`) cover the whole run, changes included; the
    other values are those at the start, and an engine reads them from the phase
    in force, :meth:`phase` (``phase_by_hour``): a probability for a patient from
    the phase they arrived in, a duration from the phase its episode starts in.
    """

    scenario_name: str
    calendar: Calendar
    cohorts: tuple[CohortParams, ...]
    ed_cubicles: Timeline
    ed_decision_h: Distribution
    boarding_holds_cubicle: bool
    sdec_chairs: Timeline
    sdec_open_by_hour: np.ndarray
    """Whether SDEC is open in each hour of the run."""
    sdec_episode_h: Distribution
    sdec_p_admit: float
    sdec_counts_as_admission: bool
    beds: Timeline
    discharge_open_by_hour: np.ndarray
    """Whether wards discharge (P0) in each hour of the run."""
    diversion_threshold: int | None
    services: tuple[ServiceParams | None, ...]
    """Indexed as SERVICES: urgent_response, p1, p2, p3 (None when not configured)."""
    readmit_delay_h: Distribution
    readmit_30d_delay_h: Distribution
    """Time from leaving the bed to a 30-day emergency readmission."""
    initial_treating: int
    initial_delayed: tuple[int, int, int]
    initial_community: tuple[int, int, int, int]
    bank_holidays: tuple[dt.date, ...] = ()
    """The English bank holidays in the run on which weekday rotas close (none when the
    scenario's ``run.bank_holidays`` is off)."""
    phases: tuple[ModelParams, ...] = ()
    """With dated changes, each phase's own parameters (from its scenario, unspliced); empty
    when the scenario has none (its one phase is itself)."""
    phase_starts_h: tuple[int, ...] = (0,)
    """The hour of the run at which each phase begins (the first at 0)."""
    ed_decision_by_outcome_h: tuple[Distribution | None, Distribution | None] = (None, None)
    """Time to a decision to admit and to refer to SDEC (hours), where the scenario gives them
    their own (``ed.admit_time_to_decision_minutes``, ``ed.sdec_time_to_decision_minutes``);
    None: ``ed_decision_h``."""

    sdec_refused_stay_sdec: bool = False
    """Whether an SDEC referral admitted because SDEC was closed or full stays its SDEC
    episode (then the cohort's stay only if that episode would have ended in a bed), not the
    cohort's stay (``sdec.refused_stay``)."""
    sdec_refused_wait: bool = False
    """Whether an SDEC referral that finds SDEC closed goes home and comes back when it opens,
    to take a chair first come, first served (``sdec.refused_stay = "wait"``)."""

    stages: tuple[StageParams | None, ...] = (None, None)
    """The discharge stages, indexed as :data:`STAGES` (None when not configured)."""

    escalation: EscalationParams | None = None
    """Escalation beds (None when not configured)."""

    opel: tuple[float, float, float] = (0.85, 0.92, 1.0)
    """The OPEL-like level's thresholds: occupancy of levels 2 and 3, bed queue of level 4
    (``acute.opel``; :class:`sim.scenario.schema.OpelThresholds` gives the defaults)."""

    @property
    def ed_decision_outcome_h(self) -> tuple[Distribution, Distribution]:
        """The time to a decision to admit and to refer to SDEC (hours), own or shared."""
        admit, sdec = self.ed_decision_by_outcome_h
        return (admit or self.ed_decision_h, sdec or self.ed_decision_h)

    @property
    def ed_decision_by_outcome(self) -> bool:
        """Whether a decision's time depends on its outcome in any phase of the run (else every
        outcome's is ``ed_decision_h``, as before the outcome had its own)."""
        return any(
            d is not None
            for i in range(self.n_phases)
            for d in self.phase(i).ed_decision_by_outcome_h
        )

    @property
    def p1_visits(self) -> VisitParams | None:
        """What a P1 patient needs when P1 counts visits a day (None: it counts places)."""
        p1 = self.services[1]
        return None if p1 is None else p1.visits

    @property
    def cohort_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cohorts)

    @property
    def n_phases(self) -> int:
        return len(self.phase_starts_h)

    def phase(self, index: int) -> ModelParams:
        """The parameters in force in phase ``index`` (itself without dated changes)."""
        return self.phases[index] if self.phases else self

    @cached_property
    def phase_by_hour(self) -> np.ndarray:
        """The phase in force in each hour of the run."""
        out = np.zeros(self.calendar.n_hours, dtype=np.int64)
        for i, start in enumerate(self.phase_starts_h[1:], start=1):
            out[start:] = i
        return out

    def service(self, name: str) -> ServiceParams | None:
        return self.services[SERVICES.index(name)]

    @property
    def accepts_by_hour(self) -> tuple[np.ndarray | None, ...]:
        """Each community service's accepting hours over the run (None: not configured)."""
        return tuple(None if s is None else s.accepts_by_hour for s in self.services)

    @cached_property
    def discharge_wait_h(self) -> np.ndarray:
        """Whole hours from each hour of the run to the next P0 discharge hour."""
        return run_hours_until_open(self.discharge_open_by_hour)


def open_by_hour(
    schedule: Schedule, calendar: Calendar, bank_holidays: Sequence[dt.date]
) -> np.ndarray:
    """Whether ``schedule`` is open in each hour of the run: its week repeated, closed on
    the bank holidays if it is a weekday rota (:attr:`Schedule.is_weekday_rota`)."""
    closed = (
        [(day - calendar.sim_start).days for day in bank_holidays]
        if schedule.is_weekday_rota
        else []
    )
    return over_run(schedule, calendar.week_offset_h, calendar.n_hours, closed)


def _hourly_rate(
    annual: float, growth: float, profile: list[float], months: np.ndarray, cal: Calendar
) -> np.ndarray:
    if annual <= 0:
        return np.zeros(cal.n_hours)
    month_norm = months / (np.dot(months, _DAYS_IN_MONTH) / _DAYS_IN_MONTH.sum())
    if not np.isfinite(month_norm).all():  # all-zero multipliers: no arrivals at all
        return np.zeros(cal.n_hours)
    shape = np.asarray(profile) * HOURS_PER_WEEK
    base = annual / HOURS_PER_YEAR
    growth_factor = (1.0 + growth) ** cal.hourly("fy_index").astype(float)
    return (
        base * shape[cal.hourly("hour_of_week")] * month_norm[cal.hourly("month")] * growth_factor
    )


def _series_rate(
    rate: np.ndarray,
    counts: Sequence[float],
    start_h: float,
    period_h: int,
    profile: list[float],
    cal: Calendar,
) -> np.ndarray:
    """``rate`` with the hours of each period of a demand series replaced: the period's count
    spread over its hours by the profile (its weights over the period, made to sum to 1)."""
    out = rate.copy()
    shape = np.asarray(profile)
    hours = np.arange(period_h)
    for i, count in enumerate(counts):
        first = int(start_h) + i * period_h
        lo, hi = max(first, 0), min(first + period_h, cal.n_hours)
        if lo >= hi:
            continue
        weights = shape[(cal.week_offset_h + first + hours) % HOURS_PER_WEEK]
        total = float(weights.sum())
        out[lo:hi] = count * weights[lo - first : hi - first] / total if total > 0 else 0.0
    return out


def build_params(scenario: Scenario) -> ModelParams:
    """Resolve a validated scenario into engine units, its dated changes included."""
    phases = scenario.phases
    built = [_build_phase(phase) for _, phase in phases]
    if len(built) == 1:
        return built[0]
    cal = built[0].calendar
    starts = [0] + [
        int(min(max(cal.hours_at(day), 0.0), cal.n_hours)) for day, _ in phases[1:] if day
    ]
    # a change dated before the run replaces the phase before it; one at or after its end
    # never takes effect
    kept = [
        i
        for i in range(len(starts))
        if (i + 1 == len(starts) or starts[i + 1] > starts[i])
        and (i == 0 or starts[i] < cal.n_hours)
    ]
    built = [built[i] for i in kept]
    starts = [0] + [starts[i] for i in kept[1:]]
    if len(built) == 1:
        return built[0]
    return _spliced(built, starts)


def _spliced(phases: list[ModelParams], starts: list[int]) -> ModelParams:
    """The run-long view of the phases (see :class:`ModelParams`)."""
    first = phases[0]
    n = first.calendar.n_hours
    ends = [*starts[1:], n]

    def by_hour(arrays: list[np.ndarray]) -> np.ndarray:
        out = np.empty_like(arrays[0])
        for a, start, end in zip(arrays, starts, ends, strict=True):
            out[start:end] = a[start:end]
        return out

    def timeline(timelines: list[Timeline]) -> Timeline:
        return _splice(timelines, [float(t) for t in starts])

    cohorts = tuple(
        dataclasses.replace(
            c,
            ed_rate_h=by_hour([p.cohorts[c.index].ed_rate_h for p in phases]),
            direct_rate_h=by_hour([p.cohorts[c.index].direct_rate_h for p in phases]),
        )
        for c in first.cohorts
    )
    services = tuple(
        None
        if s is None
        else dataclasses.replace(
            s,
            capacity=timeline([p.services[s.index].capacity for p in phases]),  # type: ignore[union-attr]
            accepts_by_hour=by_hour(
                [p.services[s.index].accepts_by_hour for p in phases]  # type: ignore[union-attr]
            ),
        )
        for s in first.services
    )
    stages = tuple(
        None
        if g is None
        else dataclasses.replace(
            g,
            capacity=timeline([p.stages[g.index].capacity for p in phases]),  # type: ignore[union-attr]
            open_by_hour=by_hour(
                [p.stages[g.index].open_by_hour for p in phases]  # type: ignore[union-attr]
            ),
        )
        for g in first.stages
    )
    return dataclasses.replace(
        first,
        cohorts=cohorts,
        ed_cubicles=timeline([p.ed_cubicles for p in phases]),
        sdec_chairs=timeline([p.sdec_chairs for p in phases]),
        sdec_open_by_hour=by_hour([p.sdec_open_by_hour for p in phases]),
        beds=timeline([p.beds for p in phases]),
        discharge_open_by_hour=by_hour([p.discharge_open_by_hour for p in phases]),
        services=services,
        stages=stages,
        phases=tuple(phases),
        phase_starts_h=tuple(starts),
    )


def _build_phase(scenario: Scenario) -> ModelParams:
    """One phase's parameters (a scenario with no dated changes of its own)."""
    run = scenario.run
    cal = Calendar(run.start_date, run.warm_up_days, run.horizon_years)
    holidays = english_bank_holidays(cal.sim_start, cal.end_date) if run.bank_holidays else ()
    profiles = {name: p.weights() for name, p in scenario.demand.profiles.items()}
    profiles.setdefault("flat", [1.0 / HOURS_PER_WEEK] * HOURS_PER_WEEK)
    global_months = np.asarray(scenario.demand.month_multipliers, dtype=float)
    day = float(HOURS_PER_DAY)

    def schedule(spec: str | tuple[int, ...]) -> np.ndarray:
        return open_by_hour(Schedule.parse(spec), cal, holidays)

    series = scenario.demand.series
    cohorts = []
    for index, (name, c) in enumerate(scenario.cohorts.items()):
        months = np.asarray(c.month_multipliers, float) if c.month_multipliers else global_months
        shares = c.avoidable_share if isinstance(c.avoidable_share, tuple) else (c.avoidable_share,)
        los_h = c.treatment_los_days.scaled(day)
        ed_rate = _hourly_rate(
            c.attendances_per_year, c.growth_per_year, profiles[c.arrival_profile], months, cal
        )
        direct_rate = _hourly_rate(
            c.direct_admissions_per_year, c.growth_per_year, profiles[c.direct_profile], months, cal
        )
        counted = None if series is None else series.cohorts.get(name)
        if series is not None and series.start is not None and counted is not None:
            start_h = cal.hours_at(series.start)
            period_h = series.period_days * HOURS_PER_DAY
            ed_rate = _series_rate(
                ed_rate, counted.attendances, start_h, period_h, profiles[c.arrival_profile], cal
            )
            if counted.direct_admissions is not None:
                direct_rate = _series_rate(
                    direct_rate,
                    counted.direct_admissions,
                    start_h,
                    period_h,
                    profiles[c.direct_profile],
                    cal,
                )
        cohorts.append(
            CohortParams(
                name=name,
                index=index,
                ed_rate_h=ed_rate,
                direct_rate_h=direct_rate,
                p_admit=c.p_admit,
                p_sdec=c.p_sdec,
                los_h=los_h,
                los_mean_h=los_h.mean,
                los_by_pathway_h=(
                    _scaled(c.treatment_los_days_by_pathway.p1, day),
                    _scaled(c.treatment_los_days_by_pathway.p2, day),
                    _scaled(c.treatment_los_days_by_pathway.p3, day),
                ),
                pathway_cdf=np.cumsum([getattr(c.pathway, p) for p in PATHWAYS]),
                p_readmit=np.array([getattr(c.p_readmit, k) for k in ROUTES]),
                avoidable_by_fy=np.asarray(shares, dtype=float),
                p_readmit_30d=np.array([getattr(c.p_readmit_30d, k) for k in PATHWAYS]),
                **_sub_cohort(c, los_h),
            )
        )

    services: list[ServiceParams | None] = []
    for index, name in enumerate(SERVICES):
        spec = scenario.service(name)
        if spec is None:
            services.append(None)
            continue
        changes = [
            (cal.hours_at(ch.date), as_capacity(ch.capacity)) for ch in spec.capacity_changes
        ]
        services.append(
            ServiceParams(
                name=name,
                index=index,
                capacity=_timeline(as_capacity(spec.capacity), changes),
                accepts_by_hour=schedule(spec.accepts),
                episode_h=spec.episode_days.scaled(day),
                visits=None
                if spec.visits is None
                else VisitParams(
                    initial_per_day=spec.visits.initial_per_day,
                    final_per_day=spec.visits.final_per_day,
                    max_per_day=spec.visits.max_per_day,
                ),
            )
        )

    acute = scenario.acute
    state = scenario.initial_state
    return ModelParams(
        scenario_name=scenario.name,
        calendar=cal,
        cohorts=tuple(cohorts),
        ed_cubicles=_timeline(as_capacity(scenario.ed.cubicles), []),
        ed_decision_h=scenario.ed.time_to_decision_minutes.scaled(1 / 60),
        boarding_holds_cubicle=scenario.ed.boarding_holds_cubicle,
        ed_decision_by_outcome_h=(
            None
            if scenario.ed.admit_time_to_decision_minutes is None
            else scenario.ed.admit_time_to_decision_minutes.scaled(1 / 60),
            None
            if scenario.ed.sdec_time_to_decision_minutes is None
            else scenario.ed.sdec_time_to_decision_minutes.scaled(1 / 60),
        ),
        sdec_chairs=_timeline(as_capacity(scenario.sdec.chairs), []),
        sdec_open_by_hour=schedule(scenario.sdec.open),
        sdec_episode_h=scenario.sdec.episode_hours,
        sdec_p_admit=scenario.sdec.p_admit,
        sdec_counts_as_admission=scenario.sdec.counts_as_admission,
        sdec_refused_stay_sdec=scenario.sdec.refused_stay == "sdec",
        sdec_refused_wait=scenario.sdec.refused_stay == "wait",
        beds=_timeline(
            as_capacity(acute.beds),
            [(cal.hours_at(ch.date), as_capacity(ch.beds)) for ch in acute.capacity_changes],
        ),
        discharge_open_by_hour=schedule(acute.discharge_hours),
        diversion_threshold=acute.diversion_queue_threshold,
        services=tuple(services),
        readmit_delay_h=scenario.readmission.delay_days.scaled(day),
        readmit_30d_delay_h=scenario.readmission.emergency_delay_days.scaled(day),
        initial_treating=state.acute_treating,
        initial_delayed=(state.delayed.p1, state.delayed.p2, state.delayed.p3),
        initial_community=(
            state.community_in_use.urgent_response,
            state.community_in_use.p1,
            state.community_in_use.p2,
            state.community_in_use.p3,
        ),
        bank_holidays=holidays,
        stages=tuple(
            None
            if (spec := getattr(scenario.discharge, name)) is None
            else StageParams(
                name=name,
                index=index,
                capacity=_timeline(as_capacity(spec.capacity), []),
                open_by_hour=schedule(spec.hours),
                duration_h=spec.duration_hours,
            )
            for index, name in enumerate(STAGES)
        ),
        escalation=_escalation(acute.escalation, cal),
        opel=(acute.opel.level_2_occupancy, acute.opel.level_3_occupancy, acute.opel.level_4_queue),
    )


def _escalation(spec: Escalation | None, cal: Calendar) -> EscalationParams | None:
    if spec is None:
        return None
    hour_of_day = (np.arange(cal.n_hours) + cal.week_offset_h) % HOURS_PER_DAY
    return EscalationParams(
        beds=spec.beds,
        open_at_occupancy=-1.0 if spec.open_at_occupancy is None else spec.open_at_occupancy,
        open_at_queue=-1 if spec.open_at_queue is None else spec.open_at_queue,
        close_below_occupancy=spec.close_below_occupancy,
        review_by_hour=np.isin(hour_of_day, spec.review_hours),
    )


@dataclass(frozen=True)
class StaffParams:
    """A service's rota resolved: how many open hours a week, the FTE, the cover, the cost."""

    open_hours_per_week: int
    """Hours a week the service accepts new patients (its ``accepts`` schedule)."""
    fte: float
    """Whole-time equivalents: open hours x staff per open hour / contracted hours a week."""
    staff_per_open_hour: float
    """Staff on duty in each open hour (NaN when a fixed FTE has no open hour to cover)."""
    cost_per_year_gbp: float
    """FTE x cost per FTE-year: the staff cost of a whole financial year."""


def staff_params(hours_per_week: int, staffing: Staffing) -> StaffParams:
    """FTE and cover of a rota open ``hours_per_week`` hours a week (:class:`Staffing`)."""
    week = staffing.contracted_hours_per_fte_week
    if staffing.staff_per_open_hour is not None:
        cover = staffing.staff_per_open_hour
        fte = hours_per_week * cover / week
    else:
        assert staffing.fte is not None
        fte = staffing.fte
        cover = fte * week / hours_per_week if hours_per_week else math.nan
    return StaffParams(hours_per_week, fte, cover, fte * staffing.cost_per_fte_year_gbp)


@dataclass(frozen=True)
class CostParams:
    """What costing needs besides the metrics: unit costs, how each service is paid, investment.

    Kept apart from :class:`ModelParams`: engines never read costs, only the
    metrics do (:mod:`sim.metrics`).
    """

    costs: Costs
    """Unit costs (GBP) as the scenario gives them."""
    commissioned: tuple[Timeline | None, ...]
    """Indexed as ``SERVICES``: the capacity paid for, empty or full, of a service costed by
    commissioned places (``cost_basis = "commissioned"`` with finite places); None when it is
    costed by the place days used."""
    investment_by_fy: dict[str, float]
    """Scenario investment (GBP) by financial year label (``2016/17``)."""
    staffing: tuple[tuple[float, tuple[StaffParams | None, ...]], ...] = ()
    """The rotas over the run: ``(start_h, rotas)`` from each dated change on (the first
    from 0), ``rotas`` indexed as ``SERVICES`` (None: no ``staffing``); a rota holds from
    its start to the next one's, so a change of hours (``accepts``) changes the FTE."""
    paid_by_investment: dict[str, frozenset[str]] = field(default_factory=dict)
    """Financial year label -> what investment lines dated to it pay for
    (``community.p1``, ``community.p1.staffing``): those charges are not counted that year."""
    costs_by_fy: dict[str, Costs] = field(default_factory=dict)
    """Financial year label -> the unit costs of that year, where a dated change (on 1 April)
    gives the year prices other than ``costs``."""

    def prices(self, label: str) -> Costs:
        """The unit costs of a financial year (``2017/18``)."""
        return self.costs_by_fy.get(label, self.costs)

    @classmethod
    def free(cls, params: ModelParams) -> CostParams:
        """Nothing costs anything: for tables that need no costs (the daily series)."""
        return cls(Costs(), (None,) * len(params.services), {})

    def staff(self, service: str, phase: int = 0) -> StaffParams | None:
        """The rota of ``service`` in ``phase`` (0: before any dated change; None when it has
        no ``staffing``)."""
        return self.staffing[phase][1][SERVICES.index(service)] if self.staffing else None

    def staff_segments(self, service: str, end_h: float) -> list[tuple[float, float, StaffParams]]:
        """``(start_h, end_h, rota)`` of each stretch of the run ending at ``end_h`` in which
        ``service`` has a rota; stretches cut short by a later change are shortened, and a
        change dated before an earlier one's start leaves the earlier none."""
        k = SERVICES.index(service)
        starts = [start for start, _ in self.staffing] + [end_h]
        out = []
        for i, (start, rotas) in enumerate(self.staffing):
            stop = max(start, min(starts[i + 1 :]))
            rota = rotas[k]
            if rota is not None and stop > start:
                out.append((start, stop, rota))
        return out


def build_costs(scenario: Scenario, params: ModelParams | None = None) -> CostParams:
    """Resolve a scenario's costing (``params``: its :func:`build_params`, if already built)."""
    params = build_params(scenario) if params is None else params
    commissioned: list[Timeline | None] = []
    for name, service in zip(SERVICES, params.services, strict=True):
        spec = scenario.service(name)
        paid_by_places = (
            spec is not None
            and service is not None
            and spec.cost_basis == "commissioned"
            and bool(np.isfinite(service.capacity.values).all())
        )
        commissioned.append(service.capacity if paid_by_places and service else None)
    cal = params.calendar
    staffing = []
    for day, phase in scenario.phases:
        start = 0.0 if day is None else min(max(cal.hours_at(day), 0.0), float(cal.n_hours))
        rotas = []
        for name in SERVICES:
            spec = phase.service(name)
            rota = None if spec is None else spec.staffing
            hours = 0 if spec is None else Schedule.parse(spec.accepts).hours_per_week
            rotas.append(None if rota is None else staff_params(hours, rota))
        staffing.append((start, tuple(rotas)))
    by_fy: dict[str, float] = {}
    paid: dict[str, frozenset[str]] = {}
    for item in scenario.costs.investment:
        by_fy[item.financial_year] = by_fy.get(item.financial_year, 0.0) + item.amount_gbp
        paid[item.financial_year] = paid.get(item.financial_year, frozenset()) | set(item.pays_for)
    prices: dict[str, Costs] = {}
    phases = scenario.phases
    for period in cal.periods:
        if period.label == "all":
            continue
        first_day = dt.date(int(period.label[:4]), 4, 1)  # prices change only on 1 April
        in_force = [phase for day, phase in phases if day is None or day <= first_day][-1]
        if in_force.costs != scenario.costs:
            prices[period.label] = in_force.costs
    return CostParams(scenario.costs, tuple(commissioned), by_fy, tuple(staffing), paid, prices)
