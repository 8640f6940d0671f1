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

Both engines feed the same compiled functions: the compiled engine calls
:func:`tally_patient` and :func:`tally_bed_event` from its event loop as
patients leave and beds change; the SimPy engine hands its rows in chunks to
:func:`tally_rows` and its bed events to :func:`tally_bed_events`, through
:class:`sim.metrics.accumulator.MetricAccumulator`. Fed the same patients in
the same order, they give the same sums to the last bit. Turning sums into
metrics and tables is :mod:`sim.metrics`'s work.

Attribution: a count belongs to the period of its event; stays and queues
are integrated over the observed window (after warm-up); a patient still
waiting at the end counts where the outcome is already known (five hours in
A&E is a 4-hour breach) and is left out where it is not.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..codes import EPS_HOURS, HOURS_PER_DAY, HOURS_PER_WEEK, SERVICES, EdOutcome, Origin
from ..jit import jit
from ..scenario.params import ModelParams

HOUR_4 = 4.0
HOUR_12 = 12.0
DAY = float(HOURS_PER_DAY)

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
)
"""Counting processes reported day by day (``daily.parquet``), in this order (a
community service's only if it is configured), followed by ``delayed``,
``acute_capacity`` and ``acute_occupancy``."""

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
(direct admissions, the starting state)."""


def count_kinds(n_cohorts: int) -> dict[str, int]:
    """The tallied counts, each with its number of codes (see :func:`tally_patient`)."""
    return {
        "ed_arrival": 4 * n_cohorts,
        "t_arrival": 14,
        "ed_decision": 8,
        "sdec_start": 2,
        "bed_start": 9,
        "diverted": 1,
        "t_fit": 4,
        "comm_start": 4,
        "ur_start": 1,
        "ed_time": 2 * ED_LEFT_CODES + 2,
    }


class Geometry(NamedTuple):
    """The shape of one scenario's tally: the same for every replication."""

    warm_h: float
    end_h: float
    days: int
    """D: whole days in the observed window; day slots 1..D, 0 before it, D + 1 after."""
    n_fy: int
    fy_of_day: np.ndarray
    offset_h: float
    """Hour of the week at t = 0."""
    n_cohorts: int
    # daily series (-1 where a series is not kept)
    s_acute: int
    s_queue: int
    s_boarding: int
    s_ed: int
    s_sdec: int
    s_wait: np.ndarray
    """waiting_discharge_p0..p3."""
    s_community: np.ndarray
    """community_in_use for urgent response, p1, p2, p3 (-1 if not configured)."""
    s_direct: int
    n_series: int
    week_of_series: np.ndarray
    """Each daily series' hour-of-week profile (-1 if it has none)."""
    n_week: int
    # counts: offsets into one array of codes per financial year
    c_ed_arrival: int
    c_t_arrival: int
    c_ed_decision: int
    c_sdec_start: int
    c_bed_start: int
    c_diverted: int
    c_t_fit: int
    c_comm_start: int
    c_ur_start: int
    c_ed_time: int
    n_codes: int
    # acute occupancy levels, by segment of constant capacity within a financial year
    n_seg: int
    seg_of_slot: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    seg_cap: np.ndarray
    seg_fy: np.ndarray
    bed_cap_by_day: np.ndarray


class Tally(NamedTuple):
    """One replication's running sums (every array its own, so replications never share)."""

    flows: np.ndarray
    """[series, day slot] net arrivals into the series on that day."""
    hours: np.ndarray
    """[series, day slot] their hours to the next midnight (departures with sign -1)."""
    week_weeks: np.ndarray
    """[profile] sum over stay ends of +-week number (see :func:`_week_end`)."""
    week_ends: np.ndarray
    """[profile, hour of week] +-1 for each stay end in that hour."""
    week_fraction: np.ndarray
    """[profile, hour of week] +-the fraction of that hour gone at the stay end."""
    counts: np.ndarray
    """[financial year, code] counts of events (offsets in :class:`Geometry`)."""
    ed_hours: np.ndarray
    """[financial year] hours in A&E of those who left, by arrival."""
    community_wait: np.ndarray
    """[financial year, pathway] days from fit to community start, summed."""
    level_hours: np.ndarray
    """[segment, level] hours the acute occupancy spent at each level."""
    level: np.ndarray
    """[1] the acute occupancy level now."""
    level_t: np.ndarray
    """[1] the time of the last change of level."""


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
    services = [s for s in SERVICES if params.service(s) is not None]
    series = [
        s for s in DAILY_SERIES if not s.startswith("community_in_use_") or s[17:] in services
    ] + ["direct_waiting"]
    index = {name: i for i, name in enumerate(series)}
    week = np.full(len(series), -1, dtype=np.int64)
    for k, name in enumerate(HOUR_OF_WEEK_SERIES):
        week[index[name]] = k
    kinds = count_kinds(len(params.cohorts))
    offsets = np.concatenate(([0], np.cumsum(list(kinds.values())))).astype(int)
    c = dict(zip(kinds, offsets[:-1].tolist(), strict=True))

    # acute occupancy segments: constant capacity within one financial year
    day_starts = cal.day_starts()[:days]
    cap_index = np.searchsorted(params.beds.times_h, day_starts, side="right") - 1
    cap_by_day = np.asarray(params.beds.values, dtype=float)[np.maximum(cap_index, 0)]
    change = np.ones(days, dtype=bool)
    change[1:] = (fy_of_day[1:] != fy_of_day[:-1]) | (cap_by_day[1:] != cap_by_day[:-1])
    seg_of_day = np.cumsum(change) - 1
    n_seg = int(change.sum())
    first = np.flatnonzero(change)
    seg_start = warm + DAY * first
    return Geometry(
        warm_h=float(warm),
        end_h=float(end),
        days=days,
        n_fy=len(fys),
        fy_of_day=fy_of_day,
        offset_h=float(cal.week_offset_h),
        n_cohorts=len(params.cohorts),
        s_acute=index["acute_occupied"],
        s_queue=index["bed_queue"],
        s_boarding=index["boarding"],
        s_ed=index["ed_in_department"],
        s_sdec=index["sdec_in_use"],
        s_wait=np.array([index[f"waiting_discharge_p{k}"] for k in range(4)], dtype=np.int64),
        s_community=np.array(
            [index.get(f"community_in_use_{s}", -1) for s in SERVICES], dtype=np.int64
        ),
        s_direct=index["direct_waiting"],
        n_series=len(series),
        week_of_series=week,
        n_week=len(HOUR_OF_WEEK_SERIES),
        c_ed_arrival=c["ed_arrival"],
        c_t_arrival=c["t_arrival"],
        c_ed_decision=c["ed_decision"],
        c_sdec_start=c["sdec_start"],
        c_bed_start=c["bed_start"],
        c_diverted=c["diverted"],
        c_t_fit=c["t_fit"],
        c_comm_start=c["comm_start"],
        c_ur_start=c["ur_start"],
        c_ed_time=c["ed_time"],
        n_codes=int(offsets[-1]),
        n_seg=n_seg,
        seg_of_slot=np.concatenate(([n_seg], seg_of_day, [n_seg])).astype(np.int64),
        seg_start=seg_start,
        seg_end=np.append(seg_start[1:], end),
        seg_cap=cap_by_day[first],
        seg_fy=fy_of_day[first],
        bed_cap_by_day=cap_by_day,
    )


def series_names(params: ModelParams) -> list[str]:
    """The daily series a tally keeps, in its order (the last, ``direct_waiting``, is not shown)."""
    services = [s for s in SERVICES if params.service(s) is not None]
    kept = [s for s in DAILY_SERIES if not s.startswith("community_in_use_") or s[17:] in services]
    return [*kept, "direct_waiting"]


def levels_needed(params: ModelParams, initial_beds: int = 0) -> int:
    """Occupancy levels to keep hours for: one more than the most beds that can be occupied.

    Beds are taken only while fewer than the capacity are in use, so with
    finite capacities the level never passes the largest of them (or the
    starting state); with unlimited beds there is no such bound, and a level
    beyond the array makes the engine say so (it then runs again with more).
    """
    beds = np.asarray(params.beds.values, dtype=float)
    finite = beds[np.isfinite(beds)]
    top = max(int(finite.max(initial=0.0)), initial_beds)
    return top + 1 if finite.size == beds.size else top + 1 + 256


def new_tally(g: Geometry, n_levels: int) -> Tally:
    """An empty tally for one replication."""
    slots = g.days + 2
    return Tally(
        flows=np.zeros((g.n_series, slots), dtype=np.int64),
        hours=np.zeros((g.n_series, slots)),
        week_weeks=np.zeros(g.n_week),
        week_ends=np.zeros((g.n_week, HOURS_PER_WEEK)),
        week_fraction=np.zeros((g.n_week, HOURS_PER_WEEK)),
        counts=np.zeros((max(g.n_fy, 1), g.n_codes), dtype=np.int64),
        ed_hours=np.zeros(max(g.n_fy, 1)),
        community_wait=np.zeros((max(g.n_fy, 1), 4)),
        level_hours=np.zeros((g.n_seg, n_levels)),
        level=np.zeros(1, dtype=np.int64),
        level_t=np.zeros(1),
    )


# --- the compiled sums ----------------------------------------------------------------------


@jit
def _slot(g: Geometry, t: float) -> tuple[int, float]:
    """Day slot of ``t`` (0 before the window, D + 1 after it or NaN) and hours to midnight.

    ``t - warm`` is exact (both are on the same scale of hours) and the division
    is correctly rounded, so ``t`` is in day ``j`` exactly when
    ``warm + 24 j <= t < warm + 24 (j + 1)``, the comparison the periods make.
    """
    x = t if t < g.end_h else g.end_h  # NaN compares False: a stay still open at the end
    x -= g.warm_h
    day = math.floor(x / DAY)
    day = max(day, -1)
    return day + 1, (day + 1) * DAY - x


@jit
def _week_end(g: Geometry, tally: Tally, profile: int, t: float, sign: float) -> None:
    """One end of a stay in an hour-of-week profile.

    An interval ``[s, e)`` spends in hour-of-week bin ``b`` the hours
    ``G_b(e) - G_b(s)``, where ``G_b(t)`` is the time bin ``b`` has had since
    a Monday midnight before the run: ``w + clip(x - b, 0, 1)`` for ``t`` at
    hour ``x`` (0 <= x < 168) of week ``w``. So each end adds (sign +1 at the
    end, -1 at the start) ``w`` to every bin, 1 to every bin below ``floor(x)``
    and ``x - floor(x)`` to bin ``floor(x)``: three running sums, the middle
    one kept as a count at ``floor(x)`` and summed from the top at the end.
    """
    v = t + g.offset_h
    week = math.floor(v / HOURS_PER_WEEK)
    x = v - week * HOURS_PER_WEEK
    hour = min(int(x), HOURS_PER_WEEK - 1)
    tally.week_weeks[profile] += sign * week
    tally.week_ends[profile, hour] += sign
    tally.week_fraction[profile, hour] += sign * (x - hour)


@jit
def _interval(g: Geometry, tally: Tally, series: int, start: float, end: float) -> None:
    """Add the stay ``[start, end)`` (``end`` NaN: still there) to a daily series' diary."""
    if not start < g.end_h or start == end:  # never started, or lasted no time
        return
    s_slot, s_hours = _slot(g, start)
    tally.flows[series, s_slot] += 1
    tally.hours[series, s_slot] += s_hours
    e_slot, e_hours = _slot(g, end)
    if e_slot <= g.days:
        tally.flows[series, e_slot] -= 1
        tally.hours[series, e_slot] -= e_hours
    profile = g.week_of_series[series]
    if profile >= 0:
        a = start if start > g.warm_h else g.warm_h
        b = end if end < g.end_h else g.end_h
        if b > a:  # the observed part of the stay
            _week_end(g, tally, profile, b, 1.0)
            _week_end(g, tally, profile, a, -1.0)


@jit
def _fy(g: Geometry, t: float) -> int:
    """Financial year index of ``t``, or -1 outside the observed window (or NaN)."""
    if not (t >= g.warm_h and t < g.end_h):
        return -1
    if g.n_fy <= 1:
        return 0
    return g.fy_of_day[int((t - g.warm_h) / DAY)]


@jit
def _ed_time_code(stay: float, within: bool, admitted: bool, known: bool) -> int:
    """The A&E time histogram's code: a bin of 15 minutes by outcome group, or still there.

    Bin ``k`` holds stays of more than ``k/4`` and at most ``(k + 1)/4`` hours
    (bin 0 from zero), bin 96 more than 24 hours; it is forced to agree with
    ``within`` (the 4-hour metric's own test) so the two count alike.
    """
    if math.isnan(stay):
        return 2 * ED_LEFT_CODES + (1 if known else 0)
    b = math.ceil((stay - EPS_HOURS) / ED_BIN_HOURS) - 1
    b = min(max(b, 0), ED_BINS)
    b = min(b, ED_FOUR_HOUR_BIN - 1) if within else max(b, ED_FOUR_HOUR_BIN)
    return b + (ED_LEFT_CODES if admitted else 0)


@jit
def tally_patient(
    g: Geometry,
    tally: Tally,
    cohort: int,
    origin: int,
    avoid_lost: int,
    ed_outcome: int,
    pathway: int,
    avoidable: bool,
    sdec_refused: bool,
    sdec_admit: bool,
    t_arrival: float,
    ur_start: float,
    ur_end: float,
    ed_arrival: float,
    ed_decision: float,
    ed_departure: float,
    sdec_start: float,
    sdec_end: float,
    bed_request: float,
    diverted: float,
    bed_start: float,
    t_fit: float,
    bed_end: float,
    comm_start: float,
    comm_end: float,
) -> None:
    """Add one patient's row (the columns of :mod:`sim.model.record`) to the tally."""
    c = tally.counts
    admitted = ed_outcome == EdOutcome.ADMIT or sdec_refused

    # A&E: time in the department, 4 hours, the time histogram
    _interval(g, tally, g.s_ed, ed_arrival, ed_departure)
    fy = _fy(g, ed_arrival)
    if fy >= 0:
        left = not math.isnan(ed_departure)
        stay = ed_departure - ed_arrival
        within = stay <= HOUR_4 + EPS_HOURS  # NaN compares False: a breach
        known = (g.end_h - ed_arrival) > HOUR_4
        state = (2 + (1 if within else 0)) if left else (1 if known else 0)
        c[fy, g.c_ed_arrival + cohort * 4 + state] += 1
        c[fy, g.c_ed_time + _ed_time_code(stay, within, admitted, known)] += 1
        if left:
            tally.ed_hours[fy] += stay

    # would-be attendances and avoidance
    fy = _fy(g, t_arrival)
    if fy >= 0:
        code = ARRIVAL_CODE[min(max(origin, 0), 3)]
        if avoidable and origin == Origin.ED:
            achieved = 0 if math.isnan(ur_start) else 1
            code = 1 + 2 * achieved + 4 * min(max(avoid_lost, 0), 2)
        c[fy, g.c_t_arrival + code] += 1

    # beds: those who asked for one, and the starting state
    if not math.isnan(bed_request) or not math.isnan(bed_start):
        leave = bed_start if not math.isnan(bed_start) else diverted  # took a bed, or diverted
        _interval(g, tally, g.s_acute, bed_start, bed_end)
        _interval(g, tally, g.s_queue, bed_request, leave)
        if admitted:
            _interval(g, tally, g.s_boarding, ed_decision, ed_departure)
        if math.isnan(ed_arrival) or sdec_admit:
            _interval(g, tally, g.s_direct, bed_request, leave)
        if 0 <= pathway <= 3:
            _interval(g, tally, g.s_wait[pathway], t_fit, bed_end)
        fy = _fy(g, ed_decision)
        if fy >= 0:
            gone = g.end_h if math.isnan(ed_departure) else ed_departure
            code = (1 if admitted else 0) + (2 if gone - ed_decision > HOUR_12 else 0)
            code += 4 if sdec_refused else 0
            c[fy, g.c_ed_decision + code] += 1
        fy = _fy(g, bed_start)
        if fy >= 0:
            if origin == Origin.INITIAL:
                code = 8
            else:
                stay_end = g.end_h - EPS_HOURS if math.isnan(bed_end) else bed_end
                overnight = math.floor(stay_end / DAY) > math.floor(bed_start / DAY)
                waited = (bed_start - bed_request) > EPS_HOURS
                code = (1 if origin == Origin.DIRECT else 0) + (2 if overnight else 0)
                code += 4 if waited else 0
            c[fy, g.c_bed_start + code] += 1
        fy = _fy(g, diverted)
        if fy >= 0:
            c[fy, g.c_diverted] += 1
        fy = _fy(g, t_fit)
        if fy >= 0:
            delayed = math.isnan(bed_end) or (bed_end - t_fit > EPS_HOURS)
            code = pathway if (1 <= pathway <= 3 and delayed) else 0
            c[fy, g.c_t_fit + code] += 1

    if not math.isnan(sdec_start):
        _interval(g, tally, g.s_sdec, sdec_start, sdec_end)
        fy = _fy(g, sdec_start)
        if fy >= 0:
            c[fy, g.c_sdec_start + (1 if sdec_admit else 0)] += 1

    if not math.isnan(comm_start):
        if 1 <= pathway <= 3 and g.s_community[pathway] >= 0:
            _interval(g, tally, g.s_community[pathway], comm_start, comm_end)
        fy = _fy(g, comm_start)
        if fy >= 0:
            code = pathway if (1 <= pathway <= 3 and origin != Origin.INITIAL) else 0
            c[fy, g.c_comm_start + code] += 1
            if code > 0:
                tally.community_wait[fy, code] += (comm_start - t_fit) / DAY

    if not math.isnan(ur_start):
        if g.s_community[0] >= 0:
            _interval(g, tally, g.s_community[0], ur_start, ur_end)
        fy = _fy(g, ur_start)
        if fy >= 0:
            c[fy, g.c_ur_start] += 1


@jit
def _level_time(g: Geometry, tally: Tally, t0: float, t1: float, level: int) -> None:
    """Add the hours ``[t0, t1)`` spent at ``level`` to their capacity segments."""
    if not t1 > max(t0, g.warm_h):
        return
    seg0 = g.seg_of_slot[_slot(g, t0)[0]]
    seg1 = g.seg_of_slot[_slot(g, t1)[0]]
    if seg0 == seg1 and seg0 < g.n_seg:
        tally.level_hours[seg0, level] += t1 - t0
        return
    for k in range(g.n_seg):
        overlap = min(t1, g.seg_end[k]) - max(t0, g.seg_start[k])
        if overlap > 0:
            tally.level_hours[k, level] += overlap


LEVEL_OK = 0
LEVEL_TOO_HIGH = 1
"""The new level passes the levels kept: start again with more (:func:`levels_needed`)."""
LEVEL_NEGATIVE = 2
"""More beds freed than taken: events are missing or out of order."""


@jit
def tally_bed_event(g: Geometry, tally: Tally, t: float, delta: int) -> int:
    """A change of acute occupancy: ``delta`` beds taken (+) or freed (-) at ``t``.

    Events must come in time order (a time a hair earlier than the last one
    seen is moved up to it). Returns :data:`LEVEL_OK`, or, with nothing
    added, :data:`LEVEL_TOO_HIGH` or :data:`LEVEL_NEGATIVE`.
    """
    level = tally.level[0]
    if level + delta >= tally.level_hours.shape[1]:
        return LEVEL_TOO_HIGH
    if level + delta < 0:
        return LEVEL_NEGATIVE
    t = min(max(t, tally.level_t[0]), g.end_h)
    _level_time(g, tally, tally.level_t[0], t, level)
    tally.level[0] = level + delta
    tally.level_t[0] = t
    return LEVEL_OK


@jit
def tally_close(g: Geometry, tally: Tally) -> None:
    """The last stretch at the final occupancy level, to the end of the run."""
    _level_time(g, tally, tally.level_t[0], g.end_h, tally.level[0])
    tally.level_t[0] = g.end_h


@jit
def tally_rows(
    g: Geometry,
    tally: Tally,
    ints: np.ndarray,
    flags: np.ndarray,
    times: np.ndarray,
) -> None:
    """Add rows of one replication: ``ints`` [n, 5] (cohort, origin, avoid_lost, ed_outcome,
    pathway), ``flags`` [n, 3] (avoidable, sdec_refused, sdec_admit), ``times`` [n, 15]
    (the times of :data:`TIME_COLUMNS`)."""
    for i in range(ints.shape[0]):
        tally_patient(
            g,
            tally,
            ints[i, 0],
            ints[i, 1],
            ints[i, 2],
            ints[i, 3],
            ints[i, 4],
            flags[i, 0],
            flags[i, 1],
            flags[i, 2],
            times[i, 0],
            times[i, 1],
            times[i, 2],
            times[i, 3],
            times[i, 4],
            times[i, 5],
            times[i, 6],
            times[i, 7],
            times[i, 8],
            times[i, 9],
            times[i, 10],
            times[i, 11],
            times[i, 12],
            times[i, 13],
            times[i, 14],
        )


@jit
def tally_bed_events(
    g: Geometry, tally: Tally, times: np.ndarray, deltas: np.ndarray
) -> tuple[int, int]:
    """Add bed events in time order: (events added, the status that stopped it or LEVEL_OK)."""
    for i in range(len(times)):
        status = tally_bed_event(g, tally, times[i], deltas[i])
        if status != LEVEL_OK:
            return i, status
    return len(times), LEVEL_OK


INT_COLUMNS = ("cohort", "origin", "avoid_lost", "ed_outcome", "pathway")
FLAG_COLUMNS = ("avoidable", "sdec_refused", "sdec_admit")
TIME_COLUMNS = (
    "t_arrival",
    "ur_start",
    "ur_end",
    "ed_arrival",
    "ed_decision",
    "ed_departure",
    "sdec_start",
    "sdec_end",
    "bed_request",
    "diverted",
    "bed_start",
    "t_fit",
    "bed_end",
    "comm_start",
    "comm_end",
)
"""The record columns a tally reads, in the order :func:`tally_rows` takes them."""
