"""The tally: what each patient adds to one replication's running sums, compiled once.

Picture a clerk with one tally sheet per replication and one column per
reporting period. Each patient who has left (or is still inside when the run
ends) hands over a card of timestamps; the clerk makes a tick in the column of
the period in which each event happened (an attendance by arrival time, an
admission by the time the bed was taken, a 12-hour wait by the time of the
decision to admit). For stays, queues and occupancy the clerk keeps a diary
with one line per day: how many people came in and went out that day, and how
many hours before midnight each did so. From those two numbers alone every
day's time-weighted mean follows, and so does every period's total, because
periods are whole days. For the hour-of-week profiles the clerk keeps three
running sums per series (see :func:`_week_end`). The occupancy percentile and
the time above 92% or full need the acute occupancy *level* over time: for
those the engine reports each change of the level, in time order, and the
clerk keeps the hours spent at each level in each stretch of constant bed
capacity within a financial year.

Both engines feed the same compiled functions, :func:`tally_rows` and
:func:`tally_bed_events`: the compiled engine from its event loop, with the
rows and bed events it holds a thousand at a time; the SimPy engine with its
chunks, through :class:`sim.metrics.accumulator.MetricAccumulator`. Fed the
same patients in the same order, they give the same sums to the last bit.
Turning sums into metrics and tables is :mod:`sim.metrics`'s work.

Every helper, :func:`tally_patient` included, is compiled into its caller
(``inline``: a call between compiled functions copies each array argument
onto the stack, which cost the tally as much as its work). The
compiled functions take plain arrays: the geometry as one array of
whole numbers and one of times (:class:`Geometry`), the sums as the seven
arrays of :class:`Tally`, a patient as one row of times
(:class:`~sim.model.record.Time`) and one of codes
(:class:`~sim.model.record.Code`). (A tuple of many arrays costs an atomic
reference count per array each time numba passes it; a few arrays cost
nothing.)

Attribution: a count belongs to the period of its event; stays and queues
are integrated over the observed window (after warm-up); a patient still
waiting at the end counts where the outcome is already known (five hours in
A&E is a 4-hour breach) and is left out where it is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..codes import EPS_HOURS, HOURS_PER_DAY, HOURS_PER_WEEK, SERVICES, EdOutcome, Origin
from ..jit import inline, jit
from ..scenario.params import ModelParams
from . import rules
from .record import Code, Time

HOUR_4 = 4.0
HOUR_12 = 12.0
DAY = float(HOURS_PER_DAY)
_visit_step_day = inline(rules.visit_step_day)
LONG_STAY_HOURS = 21.0 * DAY
"""A bed's time past day 21 of a stay is long-stay bed time (NHS "super-stranded": 21 days
or more; HSJ 2018 puts it at 17-19% of beds)."""

DAILY_SERIES = (
    "acute_occupied",
    "bed_queue",
    "boarding",
    "ed_in_department",
    "sdec_in_use",
    "waiting_discharge_p0",
    "waiting_discharge_p1",
    "waiting_discharge_p2",
    "waiting_discharge_p3",
    "community_in_use_urgent_response",
    "community_in_use_p1",
    "community_in_use_p2",
    "community_in_use_p3",
    "acute_long_stay",
    "waiting_assessment_p1",
    "waiting_assessment_p2",
    "waiting_assessment_p3",
    "waiting_brokerage_p1",
    "waiting_brokerage_p2",
    "waiting_brokerage_p3",
    "visits_in_use_p1",
    "escalation_beds_open",
)
"""Counting processes reported day by day (``daily.parquet``), in this order (a
community service's only if it is configured; a discharge stage's fit patients, from
fit to the stage's end, only if the stage is configured; P1's visits a day in use only
if P1 counts visits; escalation beds open only if ``[acute.escalation]`` is), followed by
the derived series of :data:`sim.metrics.catalogue.DERIVED_DAILY_SERIES`."""

HOUR_OF_WEEK_SERIES = (
    "acute_occupied",
    "waiting_discharge_p1",
    "waiting_discharge_p2",
    "waiting_discharge_p3",
    "boarding",
    "ed_in_department",
)
"""Counting processes profiled by hour of the week (``hour_of_week.parquet``), followed
by ``delayed`` (P1-P3 together)."""

ED_BIN_HOURS = 0.25
ED_BINS = 96
"""Time in A&E is counted in 15-minute bins up to 24 hours, then one bin for longer."""
ED_LEFT_CODES = ED_BINS + 1
"""Bins for those who left A&E, per outcome group (not admitted, admitted)."""
ED_FOUR_HOUR_BIN = round(HOUR_4 / ED_BIN_HOURS)
"""The first bin of stays over 4 hours."""

ARRIVAL_CODE = (0, 13, 12, 13)
"""``t_arrival`` count code by origin: 0-11 new would-be attendances (refined by
avoidance: 1 planned + 2 achieved + 4 x lost reason), 12 readmissions, 13 neither
(direct admissions, the starting state); 14 is a readmission that is a 30-day emergency
readmission (set by the record's ``readmission_30d``)."""

COUNTS = (
    "ed_arrival",
    "t_arrival",
    "ed_decision",
    "sdec_start",
    "bed_start",
    "diverted",
    "t_fit",
    "comm_start",
    "ur_start",
    "ed_time",
    "stage_wait",
)
"""The tallied counts, each a block of codes per financial year (see :func:`tally_patient`)."""
C_ED_ARRIVAL, C_T_ARRIVAL, C_ED_DECISION, C_SDEC_START, C_BED_START = range(5)
C_DIVERTED, C_T_FIT, C_COMM_START, C_UR_START, C_ED_TIME = range(5, 10)


def count_kinds(n_cohorts: int) -> dict[str, int]:
    """Each tallied count with its number of codes."""
    sizes = (4 * n_cohorts, 15, 8, 2, 9, 1, 7, 4, 1, 2 * ED_LEFT_CODES + 2, 9)
    return dict(zip(COUNTS, sizes, strict=True))


# The geometry's whole numbers: scalars first, then the arrays at the offsets they name.
G_DAYS = 0
"""D: whole days in the observed window; day slots 1..D, 0 before it, D + 1 after."""
G_N_FY = 1
G_N_SEG = 2
G_S_ACUTE, G_S_QUEUE, G_S_BOARDING, G_S_ED, G_S_SDEC, G_S_DIRECT = range(3, 9)
"""Daily series numbers."""
G_S_WAIT = 9
"""4 slots: waiting_discharge_p0..p3."""
G_S_COMMUNITY = 13
"""4 slots: community_in_use of each service in SERVICES order (-1 if not configured)."""
G_COUNT = 17
"""10 slots: the first code of each count of COUNTS."""
G_FY_OF_DAY = 27
"""Where the financial year of each day starts."""
G_WEEK_OF_SERIES = 28
"""Where each daily series' hour-of-week profile (-1: none) starts."""
G_SEG_OF_SLOT = 29
"""Where each day slot's capacity segment (n_seg outside the window) starts."""
G_S_LONG_STAY = 30
"""Daily series number of ``acute_long_stay``: beds held by stays past day 21."""
G_S_STAGE = 31
"""6 slots: waiting_<stage>_p1..p3 for assessment, then brokerage (-1 if not configured)."""
G_C_STAGE = 37
"""The first code of the ``stage_wait`` count (kept apart from ``G_COUNT``'s ten): patients
fit who waited at a stage (0 assessment, 1 brokerage, 2 the place) x 3 + pathway - 1, in the
year they became fit."""
G_S_VISITS = 38
"""Daily series number of ``visits_in_use_p1`` (-1 unless P1 counts visits)."""
G_VISIT_FINAL = 39
"""The visits a day a P1 patient's need falls to (``final_per_day``; 0 without visits)."""
G_S_ESCALATION = 40
"""Daily series number of ``escalation_beds_open`` (-1 if not configured)."""
G_SIZE = 41

# The sums' columns (``Tally.sums``)
S_ED_HOURS = 0
"""Hours in A&E of those who left."""
S_COMMUNITY_WAIT = 1
"""4 columns: days from fit to community start by pathway code (the first unused)."""
S_AVOIDABLE_ATTENDED, S_AVOIDABLE_BED_DAYS = 5, 6
"""Avoidable-type patients (record ``avoidable_type``) who attended A&E, in the year they
arrived there, and the bed days of the stays that followed (to the end of the run if still
in a bed): what an avoided attendance of the same kind would have saved."""
S_SDEC_WAITED, S_SDEC_WAITED_STARTED, S_SDEC_WAIT_HOURS = 7, 8, 9
"""Referrals that waited for SDEC to open (record ``sdec_waited``), in the year they arrived in
A&E; those of them who took a chair; and their hours from the decision to the chair."""
S_ESCALATIONS = 10
"""Escalation openings, by the year they opened."""
N_SUMS = 11

# The geometry's times
F_WARM, F_END, F_OFFSET = range(3)
"""Start and end of the observed window, hour of the week at t = 0."""
F_SEG = 3
"""n_seg segment starts, then n_seg segment ends."""


@dataclass(frozen=True)
class Geometry:
    """The shape of one scenario's tally: the same for every replication."""

    whole: np.ndarray
    """int64: the ``G_*`` scalars and arrays."""
    times: np.ndarray
    """float64: the ``F_*`` times."""
    series: tuple[str, ...]
    """The daily series kept, in order (the last, ``direct_waiting``, is not shown)."""
    seg_cap: np.ndarray
    """Beds open in each segment of constant capacity within a financial year."""
    seg_fy: np.ndarray
    bed_cap_by_day: np.ndarray
    n_codes: int
    """Codes of all counts together (a tally's ``counts`` columns)."""

    @property
    def days(self) -> int:
        return int(self.whole[G_DAYS])

    @property
    def n_fy(self) -> int:
        return int(self.whole[G_N_FY])

    @property
    def n_seg(self) -> int:
        return int(self.whole[G_N_SEG])

    def count_start(self, name: str) -> int:
        if name == "stage_wait":
            return int(self.whole[G_C_STAGE])
        return int(self.whole[G_COUNT + COUNTS.index(name)])


class Tally(NamedTuple):
    """One replication's running sums (its own arrays: replications never share one)."""

    flows: np.ndarray
    """int64 [series, day slot]: net arrivals into the series on that day."""
    hours: np.ndarray
    """float64 [series, day slot]: their hours to the next midnight (departures with -1)."""
    week: np.ndarray
    """float64 [profile, 1 + 2 x 168]: the running sums of :func:`_week_end`: week numbers,
    then stay ends by hour of week, then fractions of the hour gone."""
    counts: np.ndarray
    """int64 [financial year, code]: counts of events (blocks of COUNTS)."""
    sums: np.ndarray
    """float64 [financial year, N_SUMS]: the ``S_*`` columns (hours in A&E, days from fit to
    community start, avoidable-type attendances and their bed days, waits for SDEC,
    escalation openings)."""
    level_hours: np.ndarray
    """float64 [segment, level]: hours the acute occupancy spent at each level."""
    level: np.ndarray
    """float64 [2]: the acute occupancy level now, and the time it last changed."""


def series_names(params: ModelParams) -> list[str]:
    """The daily series a tally keeps, in its order (the last, ``direct_waiting``, is not shown)."""
    services = [s for s in SERVICES if params.service(s) is not None]
    stages = [g.name for g in params.stages if g is not None]
    kept = [
        s
        for s in DAILY_SERIES
        if (not s.startswith("community_in_use_") or s[17:] in services)
        and (not s.startswith(("waiting_assessment_", "waiting_brokerage_")) or s[8:-3] in stages)
        and (s != "visits_in_use_p1" or params.p1_visits is not None)
        and (s != "escalation_beds_open" or params.escalation is not None)
    ]
    return [*kept, "direct_waiting"]


def geometry(params: ModelParams) -> Geometry:
    """The tally's shape for one scenario (periods, series kept, capacity segments)."""
    cal = params.calendar
    warm, end = cal.warm_up_h, cal.end_h
    days = round((end - warm) / DAY)
    fys = cal.periods[1:]
    day_mid = warm + DAY * (np.arange(days) + 0.5)
    fy_of_day = np.zeros(days, dtype=np.int64)
    for f, period in enumerate(fys):
        fy_of_day[(day_mid >= period.start_h) & (day_mid < period.end_h)] = f
    series = series_names(params)
    index = {name: i for i, name in enumerate(series)}
    week = np.full(len(series), -1, dtype=np.int64)
    for k, name in enumerate(HOUR_OF_WEEK_SERIES):
        week[index[name]] = k
    sizes = list(count_kinds(len(params.cohorts)).values())
    count_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))

    # acute occupancy segments: constant capacity within one financial year
    day_starts = cal.day_starts()[:days]
    cap_index = np.searchsorted(params.beds.times_h, day_starts, side="right") - 1
    cap_by_day = np.asarray(params.beds.values, dtype=float)[np.maximum(cap_index, 0)]
    change = np.ones(days, dtype=bool)
    change[1:] = (fy_of_day[1:] != fy_of_day[:-1]) | (cap_by_day[1:] != cap_by_day[:-1])
    n_seg = int(change.sum())
    first = np.flatnonzero(change)
    seg_of_slot = np.concatenate(([n_seg], np.cumsum(change) - 1, [n_seg]))
    seg_start = warm + DAY * first

    scalars = np.zeros(G_SIZE, dtype=np.int64)
    scalars[G_DAYS], scalars[G_N_FY], scalars[G_N_SEG] = days, len(fys), n_seg
    for slot, name in (
        (G_S_ACUTE, "acute_occupied"),
        (G_S_QUEUE, "bed_queue"),
        (G_S_BOARDING, "boarding"),
        (G_S_ED, "ed_in_department"),
        (G_S_SDEC, "sdec_in_use"),
        (G_S_DIRECT, "direct_waiting"),
        (G_S_LONG_STAY, "acute_long_stay"),
    ):
        scalars[slot] = index[name]
    for k in range(4):
        scalars[G_S_WAIT + k] = index[f"waiting_discharge_p{k}"]
        scalars[G_S_COMMUNITY + k] = index.get(f"community_in_use_{SERVICES[k]}", -1)
    for g, stage in enumerate(("assessment", "brokerage")):
        for k in (1, 2, 3):
            scalars[G_S_STAGE + 3 * g + k - 1] = index.get(f"waiting_{stage}_p{k}", -1)
    scalars[G_S_VISITS] = index.get("visits_in_use_p1", -1)
    visits = params.p1_visits
    scalars[G_VISIT_FINAL] = 0 if visits is None else visits.final_per_day
    scalars[G_COUNT : G_COUNT + len(COUNTS) - 1] = count_starts[:-1]
    scalars[G_C_STAGE] = count_starts[-1]
    scalars[G_S_ESCALATION] = index.get("escalation_beds_open", -1)
    scalars[G_FY_OF_DAY] = G_SIZE
    scalars[G_WEEK_OF_SERIES] = G_SIZE + days
    scalars[G_SEG_OF_SLOT] = G_SIZE + days + len(series)
    whole = np.concatenate((scalars, fy_of_day, week, seg_of_slot)).astype(np.int64)
    times = np.concatenate(([warm, end, cal.week_offset_h], seg_start, [*seg_start[1:], end]))
    return Geometry(
        whole=whole,
        times=times.astype(np.float64),
        series=tuple(series),
        seg_cap=cap_by_day[first],
        seg_fy=fy_of_day[first],
        bed_cap_by_day=cap_by_day,
        n_codes=int(sum(sizes)),
    )


def levels_needed(params: ModelParams, initial_beds: int = 0) -> int:
    """Occupancy levels to keep hours for: one more than the most beds that can be occupied.

    Beds are taken only while fewer than the capacity are in use, so with
    finite capacities the level never passes the largest of them (or the
    starting state); with unlimited beds there is no such bound, and a level
    beyond the array makes the caller keep more (or start again with more).
    """
    beds = np.asarray(params.beds.values, dtype=float)
    if params.escalation is not None:
        beds = beds + params.escalation.beds
    finite = beds[np.isfinite(beds)]
    top = max(int(finite.max(initial=0.0)), initial_beds)
    return top + 1 if finite.size == beds.size else top + 1 + 256


def new_tally(g: Geometry, n_levels: int, replications: int | None = None) -> Tally:
    """An empty tally for one replication; or, with ``replications``, the tallies of that
    many side by side, each array with a leading replication axis (replication ``r``'s
    tally is :func:`tally_at` of them: views, so its sums need no gathering)."""
    n_fy = max(g.n_fy, 1)
    lead = () if replications is None else (replications,)
    return Tally(
        flows=np.zeros((*lead, len(g.series), g.days + 2), dtype=np.int64),
        hours=np.zeros((*lead, len(g.series), g.days + 2)),
        week=np.zeros((*lead, len(HOUR_OF_WEEK_SERIES), 1 + 2 * HOURS_PER_WEEK)),
        counts=np.zeros((*lead, n_fy, g.n_codes), dtype=np.int64),
        sums=np.zeros((*lead, n_fy, N_SUMS)),
        level_hours=np.zeros((*lead, g.n_seg, n_levels)),
        level=np.zeros((*lead, 2)),
    )


def tally_at(tallies: Tally, r: int) -> Tally:
    """Replication ``r``'s tally among tallies side by side (views into them)."""
    return Tally(*(a[r] for a in tallies))


def week_hours(week: np.ndarray) -> np.ndarray:
    """Patient-hours in each hour of the week [..., profile, 168] from tallies' running sums
    ``week`` [..., profile, 1 + 2 x 168]."""
    weeks = week[..., 0]
    ends = week[..., 1 : 1 + HOURS_PER_WEEK]
    fraction = week[..., 1 + HOURS_PER_WEEK :]
    above = np.cumsum(ends[..., ::-1], axis=-1)[..., ::-1] - ends  # ends in later bins
    return weeks[..., None] + above + fraction


# --- the compiled sums ----------------------------------------------------------------------


@inline
def _floor_div(x: float, d: float, inv_d: float) -> int:
    """``floor(x / d)`` exactly, for a whole number ``d``: a multiplication, then a correction.

    (The exact quotient, where ``floor(fl(x / d))`` may be one off when ``x``
    lies within an ulp of a multiple of ``d``; and a division costs several
    multiplications.)
    """
    q = np.floor(x * inv_d)  # corrected as a float: a conversion to a whole number saved
    if (q + 1.0) * d <= x:
        q += 1.0
    elif q * d > x:
        q -= 1.0
    return int(q)


@inline
def _slot(gf: np.ndarray, t: float) -> tuple[int, float]:
    """Day slot of ``t`` (0 before the window, D + 1 after it or NaN) and hours to midnight.

    ``t`` is in day ``j`` exactly when ``warm + 24 j <= t < warm + 24 (j + 1)``,
    the comparison the periods make.
    """
    end = gf[F_END]
    x = t if t < end else end  # NaN compares False: a stay still open at the end
    x -= gf[F_WARM]
    day = max(_floor_div(x, DAY, 1.0 / DAY), -1)
    return day + 1, (day + 1) * DAY - x


@inline
def _fy_of_slot(gi: np.ndarray, slot: int) -> int:
    """Financial year index of a day slot, or -1 outside the observed window."""
    if slot <= 0 or slot > gi[G_DAYS]:
        return -1
    return gi[gi[G_FY_OF_DAY] + slot - 1]


@inline
def _fy(gi: np.ndarray, gf: np.ndarray, t: float) -> int:
    """Financial year index of ``t``, or -1 outside the observed window (or NaN)."""
    return _fy_of_slot(gi, _slot(gf, t)[0])


@inline
def _week_end(gf: np.ndarray, week: np.ndarray, profile: int, t: float, sign: float) -> None:
    """One end of a stay in an hour-of-week profile.

    An interval ``[s, e)`` spends in hour-of-week bin ``b`` the hours
    ``G_b(e) - G_b(s)``, where ``G_b(t)`` is the time bin ``b`` has had since
    a Monday midnight before the run: ``w + clip(x - b, 0, 1)`` for ``t`` at
    hour ``x`` (0 <= x < 168) of week ``w``. So each end adds (sign +1 at the
    end, -1 at the start) ``w`` to every bin, 1 to every bin below ``floor(x)``
    and ``x - floor(x)`` to bin ``floor(x)``: three running sums, the middle
    one kept as a count at ``floor(x)`` and summed from the top at the end.
    """
    v = t + gf[F_OFFSET]
    w = _floor_div(v, float(HOURS_PER_WEEK), 1.0 / HOURS_PER_WEEK)
    x = v - w * HOURS_PER_WEEK
    hour = min(int(x), HOURS_PER_WEEK - 1)
    week[profile, 0] += sign * w
    week[profile, 1 + hour] += sign
    week[profile, 1 + HOURS_PER_WEEK + hour] += sign * (x - hour)


@inline
def _interval(
    gi: np.ndarray,
    gf: np.ndarray,
    flows: np.ndarray,
    hours: np.ndarray,
    week: np.ndarray,
    series: int,
    start: float,
    end: float,
) -> int:
    """Add the stay ``[start, end)`` (``end`` NaN: still there) to a daily series' diary;
    return the day slot of its start (D + 1 if it never started)."""
    end_h = gf[F_END]
    if not start < end_h:  # never started
        return gi[G_DAYS] + 1
    s_slot, s_hours = _slot(gf, start)
    if start == end:  # lasted no time
        return s_slot
    flows[series, s_slot] += 1
    hours[series, s_slot] += s_hours
    e_slot, e_hours = _slot(gf, end)
    if e_slot <= gi[G_DAYS]:
        flows[series, e_slot] -= 1
        hours[series, e_slot] -= e_hours
    profile = gi[gi[G_WEEK_OF_SERIES] + series]
    if profile >= 0:
        warm = gf[F_WARM]
        a = start if start > warm else warm
        b = end if end < end_h else end_h
        if b > a:  # the observed part of the stay
            _week_end(gf, week, profile, b, 1.0)
            _week_end(gf, week, profile, a, -1.0)
    return s_slot


@inline
def _ed_time_code(stay: float, within: bool, admitted: bool, known: bool) -> int:
    """The A&E time histogram's code: a bin of 15 minutes by outcome group, or still there.

    Bin ``k`` holds stays of more than ``k/4`` and at most ``(k + 1)/4`` hours
    (bin 0 from zero), bin 96 more than 24 hours; it is forced to agree with
    ``within`` (the 4-hour metric's own test) so the two count alike.
    """
    if math.isnan(stay):
        return 2 * ED_LEFT_CODES + (1 if known else 0)
    b = math.ceil((stay - EPS_HOURS) * (1.0 / ED_BIN_HOURS)) - 1  # exact: 1/0.25 = 4
    b = min(max(b, 0), ED_BINS)
    b = min(b, ED_FOUR_HOUR_BIN - 1) if within else max(b, ED_FOUR_HOUR_BIN)
    return b + (ED_LEFT_CODES if admitted else 0)


@inline
def tally_patient(
    gi: np.ndarray,
    gf: np.ndarray,
    flows: np.ndarray,
    hours: np.ndarray,
    week: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    i: int,
) -> None:
    """Add one patient to the tally: row ``i`` of ``times`` (:class:`~sim.model.record.Time`
    columns) and of ``codes`` (:class:`~sim.model.record.Code` columns)."""
    cohort, origin, pathway = codes[i, Code.COHORT], codes[i, Code.ORIGIN], codes[i, Code.PATHWAY]
    sdec_refused, sdec_admit = codes[i, Code.SDEC_REFUSED] != 0, codes[i, Code.SDEC_ADMIT] != 0
    admitted = codes[i, Code.ED_OUTCOME] == EdOutcome.ADMIT or sdec_refused
    ed_arrival, ed_departure = times[i, Time.ED_ARRIVAL], times[i, Time.ED_DEPARTURE]
    end_h = gf[F_END]
    at = G_COUNT  # the counts' first codes

    # A&E: time in the department, 4 hours, the time histogram
    slot = _interval(gi, gf, flows, hours, week, gi[G_S_ED], ed_arrival, ed_departure)
    fy = _fy_of_slot(gi, slot)
    if fy >= 0:
        left = not math.isnan(ed_departure)
        stay = ed_departure - ed_arrival
        within = stay <= HOUR_4 + EPS_HOURS  # NaN compares False: a breach
        known = (end_h - ed_arrival) > HOUR_4
        state = (2 + (1 if within else 0)) if left else (1 if known else 0)
        counts[fy, gi[at + C_ED_ARRIVAL] + cohort * 4 + state] += 1
        counts[fy, gi[at + C_ED_TIME] + _ed_time_code(stay, within, admitted, known)] += 1
        if left:
            sums[fy, S_ED_HOURS] += stay
        if codes[i, Code.AVOIDABLE_TYPE] != 0:
            sums[fy, S_AVOIDABLE_ATTENDED] += 1.0
            bed_start = times[i, Time.BED_START]
            if not math.isnan(bed_start):
                bed_end = times[i, Time.BED_END]
                stay_end = end_h if math.isnan(bed_end) else bed_end
                sums[fy, S_AVOIDABLE_BED_DAYS] += (stay_end - bed_start) / DAY
        if codes[i, Code.SDEC_WAITED] != 0:
            sums[fy, S_SDEC_WAITED] += 1.0  # A&E was left at the decision: the same year
            sdec_start = times[i, Time.SDEC_START]
            if not math.isnan(sdec_start):
                sums[fy, S_SDEC_WAITED_STARTED] += 1.0
                sums[fy, S_SDEC_WAIT_HOURS] += sdec_start - times[i, Time.ED_DECISION]

    # would-be attendances and avoidance
    t_arrival = times[i, Time.T_ARRIVAL]
    if t_arrival != ed_arrival:  # else the year is the one just found
        fy = _fy(gi, gf, t_arrival)
    if fy >= 0:
        code = ARRIVAL_CODE[min(max(origin, 0), 3)]
        if origin == Origin.READMISSION and codes[i, Code.READMISSION_30D] != 0:
            code = 14  # a 30-day emergency readmission, apart from re-attendances (12)
        if codes[i, Code.AVOIDABLE] != 0 and origin == Origin.ED:
            achieved = 0 if math.isnan(times[i, Time.UR_START]) else 1
            code = 1 + 2 * achieved + 4 * min(max(codes[i, Code.AVOID_LOST], 0), 2)
        counts[fy, gi[at + C_T_ARRIVAL] + code] += 1

    # beds: those who asked for one, and the starting state
    bed_request, bed_start = times[i, Time.BED_REQUEST], times[i, Time.BED_START]
    if not math.isnan(bed_request) or not math.isnan(bed_start):
        bed_end, diverted = times[i, Time.BED_END], times[i, Time.DIVERTED]
        t_fit, decision = times[i, Time.T_FIT], times[i, Time.ED_DECISION]
        leave = bed_start if not math.isnan(bed_start) else diverted  # a bed, or diverted
        slot = _interval(gi, gf, flows, hours, week, gi[G_S_ACUTE], bed_start, bed_end)
        long_from = bed_start + LONG_STAY_HOURS
        if math.isnan(bed_end) or bed_end > long_from:  # a stay past day 21 (or still there)
            _interval(gi, gf, flows, hours, week, gi[G_S_LONG_STAY], long_from, bed_end)
        _interval(gi, gf, flows, hours, week, gi[G_S_QUEUE], bed_request, leave)
        if admitted:
            _interval(gi, gf, flows, hours, week, gi[G_S_BOARDING], decision, ed_departure)
        if math.isnan(ed_arrival) or sdec_admit:
            _interval(gi, gf, flows, hours, week, gi[G_S_DIRECT], bed_request, leave)
        if 0 <= pathway <= 3:
            _interval(gi, gf, flows, hours, week, gi[G_S_WAIT + pathway], t_fit, bed_end)
        if 1 <= pathway <= 3:
            _stages(gi, gf, flows, hours, week, counts, times, i, origin, pathway)
        fy = _fy(gi, gf, decision)
        if fy >= 0:
            gone = end_h if math.isnan(ed_departure) else ed_departure
            code = (1 if admitted else 0) + (2 if gone - decision > HOUR_12 else 0)
            code += 4 if sdec_refused else 0
            counts[fy, gi[at + C_ED_DECISION] + code] += 1
        fy = _fy_of_slot(gi, slot)
        if fy >= 0:
            if origin == Origin.INITIAL:
                code = 8
            else:
                stay_end = end_h - EPS_HOURS if math.isnan(bed_end) else bed_end
                overnight = _floor_div(stay_end, DAY, 1.0 / DAY) > _floor_div(
                    bed_start, DAY, 1.0 / DAY
                )
                waited = (bed_start - bed_request) > EPS_HOURS
                code = (1 if origin == Origin.DIRECT else 0) + (2 if overnight else 0)
                code += 4 if waited else 0
            counts[fy, gi[at + C_BED_START] + code] += 1
        fy = _fy(gi, gf, diverted)
        if fy >= 0:
            counts[fy, gi[at + C_DIVERTED]] += 1
        fy = _fy(gi, gf, t_fit)
        if fy >= 0 and origin != Origin.INITIAL:  # the starting state was fit before the run
            delayed = math.isnan(bed_end) or (bed_end - t_fit > EPS_HOURS)
            code = 0  # P0; P1-P3 delayed: 1-3; P1-P3 not delayed: 4-6
            if 1 <= pathway <= 3:
                code = pathway if delayed else 3 + pathway
            counts[fy, gi[at + C_T_FIT] + code] += 1

    sdec_start = times[i, Time.SDEC_START]
    if not math.isnan(sdec_start):
        slot = _interval(
            gi, gf, flows, hours, week, gi[G_S_SDEC], sdec_start, times[i, Time.SDEC_END]
        )
        fy = _fy_of_slot(gi, slot)
        if fy >= 0:
            counts[fy, gi[at + C_SDEC_START] + (1 if sdec_admit else 0)] += 1

    comm_start = times[i, Time.COMM_START]
    if not math.isnan(comm_start):
        if 1 <= pathway <= 3:
            series = gi[G_S_COMMUNITY + pathway]
            if series >= 0:
                _interval(gi, gf, flows, hours, week, series, comm_start, times[i, Time.COMM_END])
            if pathway == 1 and gi[G_S_VISITS] >= 0:
                _visits(gi, gf, flows, hours, week, times, codes, i)
        fy = _fy(gi, gf, comm_start)
        if fy >= 0:
            code = pathway if (1 <= pathway <= 3 and origin != Origin.INITIAL) else 0
            counts[fy, gi[at + C_COMM_START] + code] += 1
            if code > 0:
                sums[fy, S_COMMUNITY_WAIT + code] += (comm_start - times[i, Time.T_FIT]) / DAY

    ur_start = times[i, Time.UR_START]
    if not math.isnan(ur_start):
        series = gi[G_S_COMMUNITY]
        if series >= 0:
            _interval(gi, gf, flows, hours, week, series, ur_start, times[i, Time.UR_END])
        fy = _fy(gi, gf, ur_start)
        if fy >= 0 and origin != Origin.INITIAL:  # an episode under way at the start: not begun
            counts[fy, gi[at + C_UR_START]] += 1


@inline
def _visits(
    gi: np.ndarray,
    gf: np.ndarray,
    flows: np.ndarray,
    hours: np.ndarray,
    week: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    i: int,
) -> None:
    """A P1 patient's visits a day in use (``visits_in_use_p1``): each visit they gave up
    at a step down from the start to the step (the step's time found as the engines find it,
    24 h x the days between steps added to the last), the rest to the episode's end."""
    start, end = times[i, Time.COMM_START], times[i, Time.COMM_END]
    initial, days = codes[i, Code.VISITS_P1], codes[i, Code.VISIT_DAYS]
    series = gi[G_S_VISITS]
    held = initial
    t, last = start, 0
    step = 1
    while True:
        day = _visit_step_day(step, initial, gi[G_VISIT_FINAL], days)
        if day < 0:
            break
        t = t + 24.0 * (day - last)
        if not math.isnan(end) and not t < end:  # never: the steps come before the end
            break
        _interval(gi, gf, flows, hours, week, series, start, t)
        held -= 1
        last = day
        step += 1
    for _ in range(held):
        _interval(gi, gf, flows, hours, week, series, start, end)


@inline
def _stages(
    gi: np.ndarray,
    gf: np.ndarray,
    flows: np.ndarray,
    hours: np.ndarray,
    week: np.ndarray,
    counts: np.ndarray,
    times: np.ndarray,
    i: int,
    origin: int,
    pathway: int,
) -> None:
    """A fit P1-P3 patient's delay by discharge stage: from fit to the end of assessment,
    from there to the end of brokerage (each a daily series, if the stage is configured),
    the rest waiting for the place; and, in the year they became fit, whether they waited
    at each (``stage_wait``)."""
    t_fit, bed_end = times[i, Time.T_FIT], times[i, Time.BED_END]
    if math.isnan(t_fit):
        return
    start = t_fit
    fy = _fy(gi, gf, t_fit) if origin != Origin.INITIAL else -1
    for g in range(2):
        end = times[i, Time.ASSESS_END if g == 0 else Time.BROKER_END]
        series = gi[G_S_STAGE + 3 * g + pathway - 1]
        if series < 0:
            continue
        _interval(gi, gf, flows, hours, week, series, start, end)
        if fy >= 0 and (math.isnan(end) or end - start > EPS_HOURS):
            counts[fy, gi[G_C_STAGE] + 3 * g + pathway - 1] += 1
        if math.isnan(end):
            return  # still at this stage at the end of the run
        start = end
    if fy >= 0 and (math.isnan(bed_end) or bed_end - start > EPS_HOURS):
        counts[fy, gi[G_C_STAGE] + 6 + pathway - 1] += 1


@inline
def _level_time(
    gi: np.ndarray, gf: np.ndarray, level_hours: np.ndarray, t0: float, t1: float, level: int
) -> None:
    """Add the hours ``[t0, t1)`` spent at ``level`` to their capacity segments."""
    if not t1 > max(t0, gf[F_WARM]):
        return
    n_seg = gi[G_N_SEG]
    at = gi[G_SEG_OF_SLOT]
    seg0 = gi[at + _slot(gf, t0)[0]]
    seg1 = gi[at + _slot(gf, t1)[0]]
    if seg0 == seg1 and seg0 < n_seg:
        level_hours[seg0, level] += t1 - t0
        return
    for k in range(n_seg):
        overlap = min(t1, gf[F_SEG + n_seg + k]) - max(t0, gf[F_SEG + k])
        if overlap > 0:
            level_hours[k, level] += overlap


LEVEL_OK = 0
LEVEL_TOO_HIGH = 1
"""The new level passes the levels kept: keep more (:func:`levels_needed`)."""
LEVEL_NEGATIVE = 2
"""More beds freed than taken: events are missing or out of order."""


@inline
def tally_bed_event(
    gi: np.ndarray,
    gf: np.ndarray,
    level_hours: np.ndarray,
    level: np.ndarray,
    t: float,
    delta: int,
) -> int:
    """A change of acute occupancy: ``delta`` beds taken (+) or freed (-) at ``t``.

    Events must come in time order (a time a hair earlier than the last one
    seen is moved up to it). Returns :data:`LEVEL_OK`, or, with nothing
    added, :data:`LEVEL_TOO_HIGH` or :data:`LEVEL_NEGATIVE`.
    """
    now = int(level[0])
    if now + delta >= level_hours.shape[1]:
        return LEVEL_TOO_HIGH
    if now + delta < 0:
        return LEVEL_NEGATIVE
    t = min(max(t, level[1]), gf[F_END])
    _level_time(gi, gf, level_hours, level[1], t, now)
    level[0] = now + delta
    level[1] = t
    return LEVEL_OK


@jit
def tally_close(gi: np.ndarray, gf: np.ndarray, level_hours: np.ndarray, level: np.ndarray) -> None:
    """The last stretch at the final occupancy level, to the end of the run."""
    _level_time(gi, gf, level_hours, level[1], gf[F_END], int(level[0]))
    level[1] = gf[F_END]


@jit
def tally_rows(
    gi: np.ndarray,
    gf: np.ndarray,
    flows: np.ndarray,
    hours: np.ndarray,
    week: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    n: int,
) -> None:
    """Add the first ``n`` rows of ``times`` [., Time] and ``codes`` [., Code]."""
    for i in range(n):
        tally_patient(gi, gf, flows, hours, week, counts, sums, times, codes, i)


@jit
def tally_bed_events(
    gi: np.ndarray,
    gf: np.ndarray,
    level_hours: np.ndarray,
    level: np.ndarray,
    times: np.ndarray,
    deltas: np.ndarray,
    n: int,
) -> tuple[int, int]:
    """Add the first ``n`` bed events, in time order: (events added, LEVEL_OK or the status
    that stopped it)."""
    for i in range(n):
        status = tally_bed_event(gi, gf, level_hours, level, times[i], deltas[i])
        if status != LEVEL_OK:
            return i, status
    return n, LEVEL_OK


@jit
def tally_escalation(
    gi: np.ndarray,
    gf: np.ndarray,
    flows: np.ndarray,
    hours: np.ndarray,
    week: np.ndarray,
    sums: np.ndarray,
    times: np.ndarray,
    beds: np.ndarray,
    n: int,
) -> None:
    """Add a replication's escalation log: ``beds[i]`` escalation beds open from
    ``times[i]`` (the first ``n`` entries, in time order; the last holds to the end).

    Each stretch with beds open adds that many beds to the ``escalation_beds_open``
    diary (bed days open, paid for, occupied or not); each opening (beds open after
    none) counts in ``sums[year, S_ESCALATIONS]`` of the year it opened in.
    """
    series = gi[G_S_ESCALATION]
    if series < 0:
        return
    for i in range(n):
        if beds[i] <= 0:
            continue
        end = times[i + 1] if i + 1 < n else np.nan
        for _ in range(int(beds[i])):
            _interval(gi, gf, flows, hours, week, series, times[i], end)
        if i == 0 or beds[i - 1] <= 0:
            fy = _fy(gi, gf, times[i])
            if fy >= 0:
                sums[fy, S_ESCALATIONS] += 1.0


@jit
def day_integrals(
    flows: np.ndarray, hours: np.ndarray, days: int, first: np.ndarray, by_period: np.ndarray
) -> None:
    """Each series' patient-hours in each day, over ``hours`` [..., series, days + 2] in
    place, and their sums over each period into ``by_period`` [..., series, 1 + len(first)]
    (:func:`period_sums`). ``hours[..., d + 1]`` becomes the patients in the system at day
    ``d``'s midnight (the running sum of ``flows``) x 24 plus the hours it held. One pass
    for every replication and series, where numpy took five over each, and the sums read
    each row's days while they are still in the cache; ``hours`` is spent after."""
    h = hours.reshape(-1, hours.shape[-1])
    f = flows.reshape(-1, flows.shape[-1])
    out = by_period.reshape(-1, by_period.shape[-1])
    for row in range(h.shape[0]):
        level = 0
        for d in range(days):
            level += f[row, d]
            h[row, d + 1] = level * DAY + h[row, d + 1]
        _period_sums_row(h[row, 1 : days + 1], first, out[row])


@inline
def _period_sums_row(x: np.ndarray, first: np.ndarray, out: np.ndarray) -> None:
    """One row of :func:`period_sums`: ``out[0]`` the sum of ``x``, ``out[1 + k]`` that of
    the days from ``first[k]`` to ``first[k + 1]`` (the last to the end)."""
    days = len(x)
    n = len(first)
    total = 0.0
    for d in range(first[0] if n else days):  # days before the first financial year
        total += x[d]
    for k in range(n):
        stop = first[k + 1] if k + 1 < n else days
        even, odd = 0.0, 0.0  # two running sums: one add waits for the last of its own only
        d = first[k]
        while d + 1 < stop:
            even += x[d]
            odd += x[d + 1]
            d += 2
        if d < stop:
            even += x[d]
        out[1 + k] = even + odd
        total += even + odd
    out[0] = total


@jit
def period_sums(by_day: np.ndarray, first: np.ndarray, out: np.ndarray) -> None:
    """Sums over the days of each period, ``by_day`` [rows, days] -> ``out`` [rows, 1 + n]:
    all of them, then each financial year's, from its first day ``first[k]`` to the next's
    (the last to the end). Compiled, one pass: numpy's sum and ``reduceat`` took two over
    each row, and were a fifth of the metrics' cost per simulated day (3 December 2026)."""
    for row in range(by_day.shape[0]):
        _period_sums_row(by_day[row], first, out[row])


@jit
def opel_levels(
    occupancy: np.ndarray,
    queue: np.ndarray,
    escalated: np.ndarray,
    level_2: float,
    level_3: float,
    level_4_queue: float,
    out: np.ndarray,
) -> None:
    """:func:`sim.metrics.accumulator.opel_level`'s rule, day by day over flat arrays into
    ``out``: one pass, where numpy's took eight over [replications, days]."""
    for i in range(len(out)):
        if queue[i] >= level_4_queue - 1e-12:
            out[i] = 4.0
        elif occupancy[i] >= level_3 - 1e-12 or escalated[i]:
            out[i] = 3.0
        elif occupancy[i] >= level_2 - 1e-12:
            out[i] = 2.0
        else:
            out[i] = 1.0
