"""The rules both engines apply, each written once as a function of plain numbers.

The SimPy reference engine calls these functions as they are; the compiled
engine compiles the very same functions with numba (``njit(rule)``), so a
rule cannot drift between the engines. Each takes numbers and sequences
(lists in Python, numpy arrays in a kernel) and uses only what numba
compiles: arithmetic, ``math.floor``, indexing.

No rule calls another (a kernel compiles each on its own). Times are hours
since t = 0; schedules come hour by hour over the run
(:func:`sim.clock.schedule.over_run`: the week repeated, with the bank
holidays closed). An event within ``EPS_HOURS`` of an hour boundary counts as
on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..codes import EPS_HOURS, EdOutcome

EPS_BEDS = 1e-9
"""A share of beds within this many beds of a whole number of beds counts as that number."""

Values = Sequence[Any] | np.ndarray
"""A list (the SimPy engine) or an array (a kernel) of numbers or flags."""


def hour_of_run(t: float, n_hours: int) -> int:
    """The whole hour of the run that ``t`` falls in (the last one for the end itself)."""
    return min(math.floor(t), n_hours - 1)


def phase_at(t: float, phase_by_hour: Values) -> int:
    """The phase of the run (dated changes) in force at ``t``: that of the hour
    :func:`schedule_hour` gives, as a dated change of a schedule takes effect with it."""
    return phase_by_hour[min(math.floor(t + EPS_HOURS), len(phase_by_hour) - 1)]


def avoidable_share(shares_by_fy: Values, fy_by_hour: Values, hour: int) -> float:
    """The cohort's avoidable share in an hour of the run (:func:`hour_of_run`): by
    financial year of the run, clamped at the ends."""
    fy = fy_by_hour[hour]
    return shares_by_fy[min(max(fy, 0), len(shares_by_fy) - 1)]


def ed_outcome(u: float, p_admit: float, p_sdec: float) -> int:
    """The A&E decision for a patient whose outcome uniform is ``u``."""
    if u < p_admit:
        return EdOutcome.ADMIT
    if u < p_admit + p_sdec:
        return EdOutcome.SDEC
    return EdOutcome.HOME


def decision_attribute(outcome: int, by_outcome: bool, home: int, admit: int, sdec: int) -> int:
    """Which attribute holds the time to a decision with this ``outcome``: the shared one
    (``home``) unless the scenario gives decisions by outcome their own (exit block: a
    decision to admit takes longer), then that of a decision to admit or to refer to SDEC.

    The outcome is known when the patient takes a cubicle: it depends only on their
    outcome uniform and the probabilities of the phase they arrived in."""
    if by_outcome and outcome == EdOutcome.ADMIT:
        return admit
    if by_outcome and outcome == EdOutcome.SDEC:
        return sdec
    return home


def refused_sdec_stay(los: float, episode: float, u_sdec_admit: float, p_admit: float) -> float:
    """The bed stay (hours) of an SDEC referral admitted because SDEC was closed or full, when
    the scenario gives it an SDEC-type stay (``sdec.refused_stay = "sdec"``): the SDEC episode
    it would have had, then its cohort's stay ``los`` only if that episode would have ended in
    a bed (its SDEC-admission uniform below ``sdec.p_admit``)."""
    if u_sdec_admit < p_admit:
        return episode + los
    return episode


def treatment_stay(
    los: float, own: float, avoidable_los: float, avoidable_type: bool, rest_scale: float
) -> float:
    """A treatment stay (hours), by case mix. An avoidable-type patient of a cohort with an
    avoidable sub-cohort (``avoidable_type``) stays the sub-cohort's ``avoidable_los``;
    otherwise the patient's pathway's own draw ``own`` where their cohort gives the pathway one
    (``treatment_los_days_by_pathway``; -1 where it does not), else the cohort's ``los`` times
    ``rest_scale`` (1 without a sub-cohort; with one, the factor that keeps the cohort's mean
    stay, :func:`sim.scenario.schema.rest_los_scale`)."""
    if avoidable_type:
        return avoidable_los
    if own >= 0:
        return own
    return los * rest_scale


def admit_probability(
    p_admit: float, p_by_type: Values, sub_cohort: bool, avoidable_type: bool
) -> float:
    """The admission probability of a patient's A&E decision: the cohort's ``p_admit``, or, for
    a new attendance of a cohort with an avoidable sub-cohort (``sub_cohort``), that of the
    sub-cohort (``p_by_type[0]``) or of the rest of the cohort (``p_by_type[1]``)."""
    if not sub_cohort:
        return p_admit
    if avoidable_type:
        return p_by_type[0]
    return p_by_type[1]


def schedule_hour(t: float, n_hours: int) -> int:
    """The hour of the run whose schedule applies at ``t``: a schedule over the run (one
    flag an hour, :func:`sim.clock.schedule.over_run`) is open at ``t`` when
    ``open_by_hour[schedule_hour(t, n)]``; the last hour's for the end itself."""
    return min(math.floor(t + EPS_HOURS), n_hours - 1)


def p0_discharge_delay(t: float, wait_by_hour: Values) -> float:
    """Hours a P0 patient fit at ``t`` waits for ward discharge hours: 0 if they are open.

    ``wait_by_hour[h]`` is the whole hours from hour ``h`` of the run to the next
    open hour. Otherwise the patient leaves at the start of the next open hour,
    so the delay is at least 1 - EPS_HOURS (at the end of the run if none opens).
    """
    hour = min(math.floor(t + EPS_HOURS), len(wait_by_hour) - 1)
    wait = wait_by_hour[hour]
    if wait == 0:
        return 0.0
    return hour + wait - t


def readmitted(u: float, p_readmit: Values, route: int) -> bool:
    """Whether a patient home by ``route`` (:class:`sim.codes.Route`) is readmitted."""
    return route >= 0 and u < p_readmit[route]


def hours_to_next_opening(hour: int, opens: Values) -> int:
    """Whole hours from hour ``hour`` of the run to the next at which a schedule opens.

    ``opens[h]`` marks the hours of the run at which the schedule opens after
    being closed. With no opening left, the hours to the end of the run (or one
    hour, from the end itself): nothing opens there.
    """
    step = 1
    while hour + step < len(opens) and not opens[hour + step]:
        step += 1
    return step


def working_end(t: float, duration: float, open_by_hour: Values) -> float:
    """When a case of ``duration`` working hours started at ``t`` (in an open hour of the
    schedule ``open_by_hour``, one flag an hour of the run) ends: the clock runs only in open
    hours, so the end is in an open hour too (or at its end). ``t + duration`` when no closed
    hour intervenes; the end of the run caps the walk (the rest runs on from there)."""
    n = len(open_by_hour)
    hour = min(math.floor(t + EPS_HOURS), n - 1)
    now = t
    left = duration
    while True:
        if open_by_hour[hour]:
            room = hour + 1 - now
            if left <= room or hour == n - 1:
                return now + left
            left -= room
        elif hour == n - 1:
            return now + left
        hour += 1
        now = float(hour)


def visit_days(episode_h: float) -> int:
    """The whole days of a P1 episode in visits (``episode_h`` hours): the days over which
    the patient's need steps down."""
    return math.floor(episode_h / 24.0)


def visit_step_day(step: int, initial: int, final: int, days: int) -> int:
    """The day of the episode (0 its start) on which a patient's visits a day fall for the
    ``step``-th time (1, 2, ..., ``initial - final``): the ``initial - final + 1`` levels
    spread evenly over the episode's ``days`` whole days, at most one step a day. A step on
    or after day ``days`` does not happen (the episode ends first): -1. Whole numbers only,
    so both engines find the same days."""
    levels = initial - final + 1
    day = max(step, (step * days) // levels)
    return day if step < levels and day < days else -1


def escalation_open(
    is_open: bool,
    occupied: int,
    queue: int,
    core_beds: float,
    open_at_occupancy: float,
    open_at_queue: int,
    close_below_occupancy: float,
) -> bool:
    """Whether escalation beds are open after a review (``[acute.escalation]``).

    Closed, they open when ``occupied`` beds reach ``open_at_occupancy`` of the
    ``core_beds`` or ``queue`` admissions wait for a bed, whichever trigger is set
    (-1: not set). Open, they close when ``occupied`` (their own patients too)
    falls below ``close_below_occupancy`` of the core beds, and stay open otherwise:
    the gap between the two triggers keeps a review from undoing the last. A share
    within ``EPS_BEDS`` of a whole bed counts as reached, so that 0.95 of 100 beds
    is 95 beds, whatever the floating point.
    """
    if is_open:
        return not occupied < close_below_occupancy * core_beds - EPS_BEDS
    if open_at_occupancy >= 0 and occupied >= open_at_occupancy * core_beds - EPS_BEDS:
        return True
    return open_at_queue >= 0 and queue >= open_at_queue
