"""Metrics: a tally sheet that patient rows are added to, in any order, a chunk at a time.

Picture a clerk with one tally sheet per replication and one column per
reporting period. Each patient who has left (or is still inside when the run
ends) hands over a card of timestamps; the clerk makes a tick in the column of
the period in which each event happened (an attendance by arrival time, an
admission by the time the bed was taken, a 12-hour wait by the time of the
decision to admit). For stays, queues and occupancy the clerk keeps a diary
with one line per day: how many people came in and went out that day, and how
many hours before midnight each did so. From those two numbers alone every
day's time-weighted mean follows, and so does every period's total, because
periods are whole days. The cards can come in any order and in any number of
bundles; the sheet ends the same.

The one thing that cannot be rebuilt from unordered cards is the distribution
of the acute occupancy level over time (its 95th percentile, time at or above
92%, time full): for that the engine reports each change of the level, in time
order, to :meth:`MetricAccumulator.add_acute_events`, and the clerk keeps the
hours spent at each level in each stretch of constant bed capacity.

Everything is vectorised across replications: one :class:`MetricAccumulator`
holds replications ``0..R-1`` side by side, and adding a chunk of rows costs a
handful of numpy passes over the chunk, never a loop over rows or
replications. Memory does not grow with the number of patients, only with
replications x days.

Periods: ``all`` (the whole observed window, after warm-up) and each NHS
financial year within it (``2016/17``...); warm-up is a clip, never a reset.
A patient still waiting at the end of the run counts where the outcome is
already known (five hours in A&E is a 4-hour breach) and is left out where it
is not. The catalogue, with units and definitions, is in ``docs/metrics.md``;
the names there are a contract with the experiment, report and case-study code.

:func:`replication_metrics` and :func:`daily_series` are the same accumulator
fed with one :class:`~sim.record.Record`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..codes import (
    EPS_HOURS,
    HOURS_PER_DAY,
    HOURS_PER_WEEK,
    SERVICES,
    WEEKDAYS,
    EdOutcome,
    Origin,
    Service,
)
from ..model.record import COLUMNS, Record, acute_events
from ..scenario.params import CostParams, ModelParams, Timeline
from . import catalogue

HOUR_4 = 4.0
HOUR_12 = 12.0
_DAY = float(HOURS_PER_DAY)
_ONE = np.int32(1)  # a typed scalar keeps np.add.at on its fast path
# t_arrival count codes by origin: 0-11 new would-be attendances (refined by avoidance),
# 12 readmissions, 13 neither (direct admissions, the starting state)
_ARRIVAL_CODE = np.array([0, 13, 12, 13], dtype=np.intp)

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
"""Counting processes reported day by day (``daily.parquet``), in this order,
followed by ``delayed``, ``acute_capacity`` and ``acute_occupancy``."""

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
_ED_LEFT_CODES = ED_BINS + 1
ED_TIME_GROUPS = ("not admitted", "admitted", "still in A&E")
_ED_OUTCOME_OF_CODE = np.repeat(np.arange(3), [_ED_LEFT_CODES, _ED_LEFT_CODES, 2])

REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c != "parent")

DAILY_DTYPE = np.float32
"""Daily values are stored in single precision (7 significant digits, plenty for a daily
mean) to halve the largest table; every metric is computed in double precision."""
"""The patient columns :meth:`MetricAccumulator.add_patients` reads."""


def _scatter_add(
    into: np.ndarray, index: np.ndarray, weights: np.ndarray, counts: np.ndarray, sign: int = 1
) -> None:
    """``into[index] += sign * weights`` and ``counts[index] += sign``, repeats adding up.

    A chunk of events close in time touches a narrow band of the (day, replication)
    layout: a bincount over that band is then cheaper than ``np.add.at``.
    """
    if len(index) == 0:
        return
    low, high = int(index.min()), int(index.max())
    span = high - low + 1
    if span <= 4 * len(index) + 4096:
        shifted = index - low
        added = np.bincount(shifted, weights, minlength=span)
        band = into[low : high + 1]
        n = np.bincount(shifted, minlength=span).astype(counts.dtype, copy=False)
        counts_band = counts[low : high + 1]
        if sign > 0:
            band += added
            counts_band += n
        else:
            band -= added
            counts_band -= n
        return
    ufunc = np.add if sign > 0 else np.subtract
    ufunc.at(into, index, weights)
    ufunc.at(counts, index, _ONE)


def _scatter_hours(into: np.ndarray, index: np.ndarray, weights: np.ndarray) -> None:
    """``into[index] += weights``, repeated indices adding up (as :func:`_scatter_add`)."""
    if len(index) == 0:
        return
    low, high = int(index.min()), int(index.max())
    span = high - low + 1
    if span <= 4 * len(index) + 4096:
        into[low : high + 1] += np.bincount(index - low, weights, minlength=span)
    else:
        np.add.at(into, index, weights)


def _labels(
    names: Sequence[str], codes: np.ndarray
) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """``names[codes]`` in pandas' default string dtype, without a Python string per row.

    Tens of millions of daily rows make an object array of str slow to build and to
    convert; a dictionary-encoded arrow array cast to strings is built in C.
    """
    dtype = pd.Series(["x"]).dtype
    if pd.api.types.is_object_dtype(dtype):  # pandas before 3 keeps str in object columns
        return np.array(list(names), dtype=object)[codes]
    import pyarrow as pa

    labels = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(names), pa.string()))
    return pd.array(pa.chunked_array([labels.cast(pa.large_string())]), dtype=dtype)


def _ed_time_code(
    stay: np.ndarray, within: np.ndarray, admitted: np.ndarray, known: np.ndarray
) -> np.ndarray:
    """The A&E time histogram's code of each attendance (see :func:`ed_time_bins`).

    Bin ``k`` holds stays of more than ``k/4`` and at most ``(k + 1)/4`` hours
    (bin 0 from zero), bin 96 more than 24 hours; it is forced to agree with
    ``within`` (the 4-hour metric's own test) so the two count alike.
    """
    with np.errstate(invalid="ignore"):
        raw = np.ceil((stay - EPS_HOURS) / ED_BIN_HOURS) - 1
    bin_ = np.clip(np.nan_to_num(raw), 0, ED_BINS).astype(np.intp)
    four = round(HOUR_4 / ED_BIN_HOURS)
    bin_ = np.where(within, np.minimum(bin_, four - 1), np.maximum(bin_, four))
    code = bin_ + _ED_LEFT_CODES * admitted
    still = 2 * _ED_LEFT_CODES + known.astype(np.intp)  # still in A&E: under / over 4 h so far
    return np.where(np.isnan(stay), still, code)


def ed_time_bins() -> pd.DataFrame:
    """The A&E time histogram's bins by code: outcome, hours_from, hours_to.

    Attendances that left are counted by outcome (``admitted``: a decision to
    admit, or SDEC refused; ``not admitted``: home or SDEC) in bins of
    ``(hours_from, hours_to]``; those still in A&E at the end of the run are
    counted as ``still in A&E`` with the time so far (``0-4`` or ``4-inf``).
    """
    edges = np.arange(ED_BINS + 1) * ED_BIN_HOURS
    start = np.append(edges[:-1], edges[-1])
    stop = np.append(edges[1:], np.inf)
    return pd.DataFrame(
        {
            "outcome": np.repeat(ED_TIME_GROUPS, [_ED_LEFT_CODES, _ED_LEFT_CODES, 2]),
            "hours_from": np.concatenate((start, start, [0.0, HOUR_4])),
            "hours_to": np.concatenate((stop, stop, [HOUR_4, np.inf])),
        }
    )


def _capacity_by_day(timeline: Timeline, day_starts: np.ndarray) -> np.ndarray:
    """The capacity holding over each day (changes are dated, so they fall at midnight)."""
    index = np.searchsorted(timeline.times_h, day_starts, side="right") - 1
    return np.asarray(timeline.values, dtype=float)[np.maximum(index, 0)]


def _share(used: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Occupied / open places: 0 when unlimited; no places at all is full, or over-full if used."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(capacity > 0, used / capacity, np.where(used > 0, np.inf, 1.0))
    return np.where(np.isinf(capacity), 0.0, share)


class Tables(NamedTuple):
    """What a :class:`MetricAccumulator` (or an engine's batch) returns: four long tables.

    Each has a leading ``replication`` column (``scenario`` is added by the runner).
    """

    metrics: pd.DataFrame
    daily: pd.DataFrame
    hour_of_week: pd.DataFrame
    ed_time: pd.DataFrame


class _WeekProfile:
    """Patient-hours in each of the 168 hours of the week, per (series, replication).

    An interval ``[s, e)`` spends in hour-of-week bin ``b`` the hours
    ``G_b(e) - G_b(s)``, where ``G_b(t)`` is the time bin ``b`` has had since a
    Monday midnight before the run: ``w + clip(x - b, 0, 1)`` for ``t`` at hour
    ``x`` (0 <= x < 168) of week ``w``. So each end of an interval adds (with
    sign +1 at the end, -1 at the start) ``w`` to every bin, 1 to every bin
    below ``floor(x)`` and ``x - floor(x)`` to bin ``floor(x)``: three running
    sums, the middle one kept as a count at ``floor(x)`` and summed from the
    top at the end. Exact, and no loop over patients or hours.
    """

    def __init__(self, n_series: int, R: int, offset_h: float) -> None:
        self.R = R
        self.offset_h = offset_h
        self.weeks = np.zeros(n_series * R)
        self.ends = np.zeros(n_series * HOURS_PER_WEEK * R)
        self.fraction = np.zeros(n_series * HOURS_PER_WEEK * R)

    def _ends(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Week, hour-of-week bin and the fraction of that hour gone, of each time."""
        week, x = np.divmod(t + self.offset_h, float(HOURS_PER_WEEK))
        hour = np.minimum(x.astype(np.intp), HOURS_PER_WEEK - 1)
        return week, hour, x - hour

    def add(self, series: int, rep: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """Add the intervals ``[start, end)`` (already cut to the observed window)."""
        R = self.R
        for t, sign in ((end, 1.0), (start, -1.0)):
            week, hour, fraction = self._ends(t)
            self.weeks[series * R : (series + 1) * R] += sign * np.bincount(rep, week, minlength=R)
            key = (series * HOURS_PER_WEEK + hour) * R + rep
            _scatter_hours(self.ends, key, np.full(len(key), sign))
            _scatter_hours(self.fraction, key, sign * fraction)

    def hours(self) -> np.ndarray:
        """Patient-hours by [series, hour of week, replication]."""
        R = self.R
        shape = (-1, HOURS_PER_WEEK, R)
        ends = self.ends.reshape(shape)
        above = np.cumsum(ends[:, ::-1, :], axis=1)[:, ::-1, :] - ends  # ends in later bins
        return self.weeks.reshape(-1, 1, R) + above + self.fraction.reshape(shape)


class _Rows:
    """Some rows of a chunk: each column is gathered once, when first read."""

    def __init__(
        self, rep: np.ndarray, columns: Mapping[str, np.ndarray], rows: np.ndarray | None
    ) -> None:
        self.columns = columns
        self.rows = rows
        self.rep = rep if rows is None else rep[rows]
        self.cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            column = np.asarray(self.columns[name])
            self.cache[name] = column if self.rows is None else column[self.rows]
        return self.cache[name]


class MetricAccumulator:
    """Metrics of replications ``replications[0..R-1]`` of one scenario, fed in chunks.

    Feed it, in any order and any number of chunks:

    * :meth:`add_patients`: complete patient rows, each patient exactly once
      (a patient still in the system at the end is delivered at the end, with
      ``NaN`` for what has not happened);
    * :meth:`add_acute_events`: every change of the acute-bed occupancy level,
      in time order per replication.

    then call :meth:`finish` once. Capacities come from ``params`` (the same
    for every replication, and what the SimPy engine logs).
    """

    def __init__(self, params: ModelParams, replications: Sequence[int], costs: CostParams) -> None:
        self.params = params
        self.costs = costs
        self.replications = np.asarray(list(replications), dtype=np.int64)
        if self.replications.ndim != 1 or len(self.replications) == 0:
            raise ValueError(f"replications must be a non-empty sequence, got {replications!r}")
        self.R = R = len(self.replications)
        cal = params.calendar
        self.warm_h = cal.warm_up_h
        self.end_h = cal.end_h
        self.periods = cal.periods
        self.D = D = round((self.end_h - self.warm_h) / _DAY)
        self.day_starts = cal.day_starts()
        fys = self.periods[1:]
        self.nF = nF = len(fys)
        day_mid = self.warm_h + _DAY * (np.arange(D) + 0.5)
        self.fy_of_day = np.zeros(D, dtype=np.intp)
        for f, period in enumerate(fys):
            self.fy_of_day[(day_mid >= period.start_h) & (day_mid < period.end_h)] = f
        self.fy_first_day = np.array(
            [round((p.start_h - self.warm_h) / _DAY) for p in fys], dtype=np.intp
        )
        self.period_hours = np.array([p.end_h - p.start_h for p in self.periods])

        # counting processes: a diary of (net arrivals, hours to midnight) by (series, slot,
        # replication); slot 0 is before the observed window, slot j + 1 day j, slot D + 1 after
        self.services = [s for s in SERVICES if params.service(s) is not None]
        self.series = [
            s
            for s in DAILY_SERIES
            if not s.startswith("community_in_use_") or s[17:] in self.services
        ] + ["direct_waiting"]
        self.sidx = {name: i for i, name in enumerate(self.series)}
        S = len(self.series)
        self.W = D + 2
        self.flows = np.zeros(R * S * self.W, dtype=np.int32)
        self.hours = np.zeros(R * S * self.W, dtype=np.float64)
        self.pathway_series = [self.sidx[f"waiting_discharge_p{k}"] for k in range(4)]
        self.community_series = [self.sidx.get(f"community_in_use_p{k}", -1) for k in (1, 2, 3)]

        # event counts by (replication, financial year, code)
        self.n_cohorts = len(params.cohorts)
        self.codes = {
            "ed_arrival": 4 * self.n_cohorts,
            "t_arrival": 14,
            "ed_decision": 8,
            "sdec_start": 2,
            "bed_start": 9,
            "diverted": 1,
            "t_fit": 4,
            "comm_start": 4,
            "ur_start": 1,
            "ed_time": 2 * _ED_LEFT_CODES + 2,
        }
        self.counts = {name: np.zeros(R * nF * n, dtype=np.int64) for name, n in self.codes.items()}
        self.ed_hours = np.zeros(R * nF)
        self.community_wait_days = np.zeros(R * nF * 4)

        # acute occupancy: hours at each level, per (replication, segment of constant capacity
        # within one financial year)
        self.bed_days_cap = _capacity_by_day(params.beds, self.day_starts[:D])
        change = np.ones(D, dtype=bool)
        change[1:] = (self.fy_of_day[1:] != self.fy_of_day[:-1]) | (
            self.bed_days_cap[1:] != self.bed_days_cap[:-1]
        )
        seg_of_day = np.cumsum(change) - 1
        self.n_seg = n_seg = int(change.sum())
        first = np.flatnonzero(change)
        self.seg_start = self.warm_h + _DAY * first
        self.seg_end = np.append(self.seg_start[1:], self.end_h)
        self.seg_fy = self.fy_of_day[first]
        self.seg_cap = self.bed_days_cap[first]
        self.seg_of_slot = np.concatenate(([n_seg], seg_of_day, [n_seg])).astype(np.intp)
        beds = np.asarray(params.beds.values, dtype=float)
        finite = beds[np.isfinite(beds)]
        self.n_lev = int(max(finite.max(initial=0.0), 0)) + 16
        self.level_hours = np.zeros(R * n_seg * self.n_lev)
        self.level = np.zeros(R, dtype=np.int64)
        self.level_t = np.zeros(R)

        # hour-of-week profiles of some counting processes
        self.week_of_series = {self.sidx[name]: k for k, name in enumerate(HOUR_OF_WEEK_SERIES)}
        self.week = _WeekProfile(len(HOUR_OF_WEEK_SERIES), R, cal.week_offset_h)
        self.finished = False

    # --- feeding ----------------------------------------------------------------------------

    def _check(self, rep: np.ndarray) -> np.ndarray:
        if self.finished:
            raise RuntimeError("MetricAccumulator.finish() was already called")
        rep = np.asarray(rep)
        if rep.ndim != 1:
            raise ValueError(f"rep must be 1-D, got shape {rep.shape}")
        if len(rep) and (rep.min() < 0 or rep.max() >= self.R):
            raise ValueError(
                f"rep holds positions 0..{self.R - 1}, got {rep.min()}..{rep.max()} "
                "(positions in `replications`, not replication numbers)"
            )
        return rep.astype(np.intp, copy=False)

    def _slot(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Day slot of each time (0 before the window, D + 1 after it or NaN) and hours to midnight.

        ``t - warm`` is exact (both are whole or fractional hours on the same scale) and the
        division is correctly rounded, so a time is in day ``j`` exactly when
        ``warm + 24 j <= t < warm + 24 (j + 1)``, the comparison the period bounds make.
        """
        x = np.fmin(t, self.end_h)  # NaN (never happened) and the end itself go to slot D + 1
        x -= self.warm_h
        day = x / _DAY
        np.floor(day, out=day)
        np.maximum(day, -1.0, out=day)
        slot = day.astype(np.intp)
        slot += 1
        day += 1.0
        day *= _DAY
        day -= x  # hours from t to the next midnight
        return slot, day

    def add_patients(self, rep: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Add complete patient rows (the columns of :mod:`sim.record`; ``parent`` is not read).

        ``rep[i]`` is the position (0..R-1) of row ``i``'s replication. Rows may
        come in any order and any number of chunks, each patient exactly once.
        """
        rep = self._check(rep)
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"add_patients: missing columns {', '.join(missing)}")
        n = len(rep)
        for name in REQUIRED_COLUMNS:
            if len(columns[name]) != n:
                raise ValueError(
                    f"add_patients: column {name} has {len(columns[name])} rows, rep {n}"
                )
        if n == 0:
            return
        everyone = _Rows(rep, columns, None)
        # Most rows are A&E attendances that went home: the parts about beds, SDEC and
        # community care run on the rows they concern, so they cost in proportion to those.
        took_bed = ~np.isnan(everyone["bed_request"])
        took_bed |= ~np.isnan(everyone["bed_start"])  # the starting state asked for no bed
        self._emergency_department(everyone)
        self._beds(_Rows(rep, columns, np.flatnonzero(took_bed)))
        for column, part in (
            ("sdec_start", self._sdec),
            ("comm_start", self._community),
            ("ur_start", self._urgent_response),
        ):
            rows = np.flatnonzero(~np.isnan(everyone[column]))
            if len(rows):
                part(_Rows(rep, columns, rows))

    def _intervals(
        self,
        series: int,
        r: _Rows,
        start: str | np.ndarray,
        end: str | np.ndarray,
        keep: np.ndarray | None = None,
    ) -> None:
        """Add the stays ``[start, end)`` of rows ``r`` to the daily diary of ``series``."""
        t_start = r[start] if isinstance(start, str) else start
        t_end = r[end] if isinstance(end, str) else end
        # started before the end of the run (a NaN start never did) and lasted: an empty
        # interval adds nothing, and leaving it out keeps a day with none exactly zero
        on = t_start < self.end_h
        on &= t_start != t_end
        if keep is not None:
            on &= keep
        rows = np.flatnonzero(on)
        rep = r.rep[rows]
        base = series * self.W
        s_slot, s_hours = self._slot(t_start[rows])
        e_slot, e_hours = self._slot(t_end[rows])
        R = self.R
        _scatter_add(self.hours, (base + s_slot) * R + rep, s_hours, self.flows)
        k = (base + e_slot) * R + rep
        if len(e_slot) and e_slot.max() > self.D:  # some are still there at the end of the run
            ended = np.flatnonzero(e_slot <= self.D)
            k, e_hours = k[ended], e_hours[ended]
        _scatter_add(self.hours, k, e_hours, self.flows, sign=-1)
        if series in self.week_of_series:
            self._add_week(self.week_of_series[series], rep, t_start[rows], t_end[rows])

    def _add_week(self, series: int, rep: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """Add the observed part of stays ``[start, end)`` to an hour-of-week profile."""
        start = np.maximum(start, self.warm_h)
        end = np.fmin(end, self.end_h)  # NaN: still there at the end
        on = np.flatnonzero(end > start)
        self.week.add(series, rep[on], start[on], end[on])

    def _in_window(self, r: _Rows, column: str) -> tuple[np.ndarray | slice, np.ndarray]:
        """Rows of ``r`` whose event happened in the observed window, and their count bins."""
        t = r[column]
        rows: np.ndarray | slice
        if len(t) and t.min() >= self.warm_h and t.max() < self.end_h:
            rows = slice(None)  # all of them (and no NaN): no need to gather
        else:
            on = t >= self.warm_h
            on &= t < self.end_h
            rows = np.flatnonzero(on)
        key = r.rep[rows] * self.nF
        if self.nF > 1:
            day = ((t[rows] - self.warm_h) / _DAY).astype(np.intp)  # exact, as in _slot
            key += self.fy_of_day[day]
        return rows, key

    def _count(self, name: str, key: np.ndarray, code: np.ndarray | int = 0) -> None:
        counts = self.counts[name]
        counts += np.bincount(key * self.codes[name] + code, minlength=len(counts))

    def _emergency_department(self, r: _Rows) -> None:
        """Attendances, time in A&E, and would-be attendances (every row)."""
        self._intervals(self.sidx["ed_in_department"], r, "ed_arrival", "ed_departure")

        rows, key = self._in_window(r, "ed_arrival")
        arrival = r["ed_arrival"][rows]
        departure = r["ed_departure"][rows]
        left = ~np.isnan(departure)
        stay = departure - arrival
        within = stay <= HOUR_4 + EPS_HOURS  # NaN compares False: a breach
        known = (self.end_h - arrival) > HOUR_4
        state = np.where(left, 2 + within, known)
        self._count("ed_arrival", key, r["cohort"][rows] * 4 + state)
        admitted = (r["ed_outcome"][rows] == EdOutcome.ADMIT) | r["sdec_refused"][rows]
        self._count("ed_time", key, _ed_time_code(stay, within, admitted, known))
        hours = np.where(left, stay, 0.0)
        self.ed_hours += np.bincount(key, hours, minlength=len(self.ed_hours))

        rows, key = self._in_window(r, "t_arrival")
        origin = r["origin"][rows]
        code = _ARRIVAL_CODE[np.clip(origin, 0, 3)]
        planned = np.flatnonzero(r["avoidable"][rows] & (origin == Origin.ED))
        if len(planned):  # avoidance: planned (1), achieved (2), lost closed or full (4, 8)
            at = rows[planned] if isinstance(rows, np.ndarray) else planned
            achieved = ~np.isnan(r["ur_start"][at])
            code[planned] = 1 + 2 * achieved + 4 * np.clip(r["avoid_lost"][at], 0, 2)
        self._count("t_arrival", key, code)

    def _beds(self, r: _Rows) -> None:
        """Boarding, bed queues, admissions, stays and discharge (rows that asked for a bed)."""
        sidx = self.sidx
        end = self.end_h
        leave = np.fmin(r["bed_start"], r["diverted"])  # took a bed, or was diverted
        admitted_from_ed = (r["ed_outcome"] == EdOutcome.ADMIT) | r["sdec_refused"]
        pathway = r["pathway"]
        self._intervals(sidx["acute_occupied"], r, "bed_start", "bed_end")
        self._intervals(sidx["bed_queue"], r, "bed_request", leave)
        self._intervals(sidx["boarding"], r, "ed_decision", "ed_departure", admitted_from_ed)
        direct = np.isnan(r["ed_arrival"]) | r["sdec_admit"]
        self._intervals(sidx["direct_waiting"], r, "bed_request", leave, direct)
        for k, series in enumerate(self.pathway_series):
            self._intervals(series, r, "t_fit", "bed_end", pathway == k)

        rows, key = self._in_window(r, "ed_decision")
        gone = r["ed_departure"][rows]
        waited = np.where(np.isnan(gone), end, gone) - r["ed_decision"][rows]
        code = admitted_from_ed[rows] + 2 * (waited > HOUR_12) + 4 * r["sdec_refused"][rows]
        self._count("ed_decision", key, code)

        rows, key = self._in_window(r, "bed_start")
        start = r["bed_start"][rows]
        stay_end = r["bed_end"][rows]
        stay_end = np.where(np.isnan(stay_end), end - EPS_HOURS, stay_end)
        overnight = np.floor(stay_end / _DAY) > np.floor(start / _DAY)
        bed_wait = (start - r["bed_request"][rows]) > EPS_HOURS
        origin = r["origin"][rows]
        code = (origin == Origin.DIRECT) + 2 * overnight + 4 * bed_wait
        self._count("bed_start", key, np.where(origin != Origin.INITIAL, code, 8))

        rows, key = self._in_window(r, "diverted")
        self._count("diverted", key)

        rows, key = self._in_window(r, "t_fit")
        path = pathway[rows]
        still = r["bed_end"][rows]
        delayed = np.isnan(still) | (still - r["t_fit"][rows] > EPS_HOURS)
        self._count("t_fit", key, np.where((path >= 1) & (path <= 3) & delayed, path, 0))

    def _sdec(self, r: _Rows) -> None:
        self._intervals(self.sidx["sdec_in_use"], r, "sdec_start", "sdec_end")
        rows, key = self._in_window(r, "sdec_start")
        self._count("sdec_start", key, r["sdec_admit"][rows].astype(np.intp))

    def _community(self, r: _Rows) -> None:
        pathway = r["pathway"]
        for k, series in enumerate(self.community_series, start=1):
            if series >= 0:
                self._intervals(series, r, "comm_start", "comm_end", pathway == k)
        rows, key = self._in_window(r, "comm_start")
        path = pathway[rows]
        code = np.where((path >= 1) & (path <= 3) & (r["origin"][rows] != Origin.INITIAL), path, 0)
        self._count("comm_start", key, code)
        days = (r["comm_start"][rows] - r["t_fit"][rows]) / _DAY
        waits = self.community_wait_days
        waits += np.bincount(key * 4 + code, np.where(code > 0, days, 0.0), minlength=len(waits))

    def _urgent_response(self, r: _Rows) -> None:
        if "urgent_response" in self.services:
            self._intervals(self.sidx["community_in_use_urgent_response"], r, "ur_start", "ur_end")
        rows, key = self._in_window(r, "ur_start")
        self._count("ur_start", key)

    def add_acute_events(self, rep: np.ndarray, times: np.ndarray, deltas: np.ndarray) -> None:
        """Add changes of the acute occupancy level: ``deltas[i]`` beds taken (+) or freed (-).

        Within a chunk, each replication's events must be in time order; across
        chunks, a replication's events must come in time order too (a time a
        hair earlier than the last one seen is moved up to it). Events at the
        same time may come in any order. Chunks grouped by replication (``rep``
        non-decreasing) skip a sort.
        """
        rep = self._check(rep)
        t = np.asarray(times, dtype=float)
        d = np.asarray(deltas, dtype=np.int64)
        if not (len(rep) == len(t) == len(d)):
            raise ValueError(f"add_acute_events: lengths {len(rep)}, {len(t)}, {len(d)} differ")
        if len(rep) == 0:
            return
        if (np.diff(rep) < 0).any():
            small = np.int16 if self.R < 2**15 else np.int32
            order = np.argsort(rep.astype(small), kind="stable")  # radix sort for 16 bits
            rep, t, d = rep[order], t[order], d[order]
        t = np.minimum(np.maximum(t, self.level_t[rep]), self.end_h)
        first = np.ones(len(rep), dtype=bool)
        first[1:] = rep[1:] != rep[:-1]
        starts = np.flatnonzero(first)
        level = np.cumsum(d)
        level += np.repeat(
            self.level[rep[starts]] - (level[starts] - d[starts]),
            np.diff(np.append(starts, len(rep))),
        )
        before = np.empty_like(t)
        before[1:] = t[:-1]
        before[starts] = self.level_t[rep[starts]]
        self._add_level_time(rep, before, t, level - d)
        last = np.append(starts[1:], len(rep)) - 1
        self.level[rep[last]] = level[last]
        self.level_t[rep[last]] = t[last]

    def _add_level_time(
        self, rep: np.ndarray, t0: np.ndarray, t1: np.ndarray, level: np.ndarray
    ) -> None:
        """Add the hours ``[t0, t1)`` spent at ``level``, split by segment."""
        keep = np.flatnonzero(t1 > np.maximum(t0, self.warm_h))
        rep, t0, t1, level = rep[keep], t0[keep], t1[keep], level[keep]
        if len(level) == 0:
            return
        low, high = level.min(), level.max()
        if low < 0:
            raise ValueError(f"acute occupancy fell to {low}: events are missing or out of order")
        if high >= self.n_lev:
            self._grow_levels(int(high) + 1)
        n_seg, n_lev = self.n_seg, self.n_lev
        seg0 = self.seg_of_slot[self._slot(t0)[0]]
        seg1 = self.seg_of_slot[self._slot(t1)[0]]
        inside = (seg0 == seg1) & (seg0 < n_seg)
        R = self.R
        rows = np.flatnonzero(inside)
        key = (seg0[rows] * n_lev + level[rows]) * R + rep[rows]
        _scatter_hours(self.level_hours, key, t1[rows] - t0[rows])
        rows = np.flatnonzero(~inside)
        for k in range(n_seg):
            overlap = np.minimum(t1[rows], self.seg_end[k])
            overlap -= np.maximum(t0[rows], self.seg_start[k])
            on = overlap > 0
            key = (k * n_lev + level[rows][on]) * R + rep[rows][on]
            _scatter_hours(self.level_hours, key, overlap[on])

    def _grow_levels(self, needed: int) -> None:
        n_lev = max(needed, 2 * self.n_lev)
        grown = np.zeros((self.n_seg, n_lev, self.R))
        grown[:, : self.n_lev, :] = self.level_hours.reshape(self.n_seg, self.n_lev, self.R)
        self.level_hours = grown.ravel()
        self.n_lev = n_lev

    def add_record(self, record: Record, position: int = 0) -> None:
        """Add a whole SimPy record as replication ``position``: its rows and its bed events."""
        self.add_patients(np.full(record.n, position, dtype=np.intp), record.patients)
        times, deltas = acute_events(record.patients)
        self.add_acute_events(np.full(len(times), position, dtype=np.intp), times, deltas)

    # --- results ------------------------------------------------------------------------------

    def finish(self) -> Tables:
        """The long tables (:class:`Tables`), replications in the order given.

        metrics: replication, metric, period, value; daily: replication, date,
        series, value; hour_of_week: replication, series, weekday, hour, value;
        ed_time: replication, period, outcome, hours_from, hours_to,
        attendances. Call once: the accumulator is spent afterwards.
        """
        if self.finished:
            raise RuntimeError("MetricAccumulator.finish() was already called")
        every = np.arange(self.R)
        self._add_level_time(every, self.level_t.copy(), np.full(self.R, self.end_h), self.level)
        self.finished = True
        R, S, W, D = self.R, len(self.series), self.W, self.D
        names = [*self.series[:-1], "delayed", "acute_capacity", "acute_occupancy"]
        daily = np.empty((R, len(names), D), dtype=DAILY_DTYPE)
        flows = self.flows.reshape(S, W, R)
        hours = self.hours.reshape(S, W, R)
        totals: dict[str, np.ndarray] = {}
        self._day_integrals: dict[str, np.ndarray] = {}
        delayed = np.zeros((R, D))  # summed in double precision, then stored
        for s, name in enumerate(self.series):
            level = np.cumsum(flows[s, :D, :], axis=0, dtype=np.int64)  # in the system at midnight
            integral = (level * _DAY + hours[s, 1 : D + 1, :]).T  # patient-hours in each day
            totals[name] = self._per_period(integral)
            if name != "direct_waiting":
                daily[:, s, :] = integral / _DAY
            if name == "acute_occupied" or name.startswith("community_in_use_"):
                self._day_integrals[name] = integral
            if name in ("waiting_discharge_p1", "waiting_discharge_p2", "waiting_discharge_p3"):
                delayed += integral
        del flows, hours, level, integral
        self.flows, self.hours = np.zeros(0, dtype=np.int32), np.zeros(0)  # spent: free the diary
        metrics = self._metrics_frame(totals)

        daily[:, -3, :] = delayed / _DAY
        daily[:, -2, :] = self.bed_days_cap[None, :]
        daily[:, -1, :] = self._share_hours("acute_occupied", self.params.beds) / _DAY
        self._day_integrals = {}
        return Tables(
            metrics,
            self._daily_frame(names, daily),
            self._hour_of_week_frame(),
            self._ed_time_frame(),
        )

    def _daily_frame(self, names: list[str], daily: np.ndarray) -> pd.DataFrame:
        R, D = self.R, self.D
        if D < 1:
            return pd.DataFrame(columns=["replication", "date", "series", "value"])
        cal = self.params.calendar
        dates = pd.to_datetime(cal.sim_start) + pd.to_timedelta(
            self.day_starts[:-1] / _DAY, unit="D"
        )
        codes = np.tile(np.repeat(np.arange(len(names), dtype=np.int8), D), R)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications, len(names) * D),
                "date": np.tile(dates.to_numpy(), R * len(names)),
                # one byte a row: tens of millions of rows as strings took most of the memory
                "series": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(names)),
                "value": daily.ravel(),  # a view: the frame holds the array itself
            },
            copy=False,
        )

    def _hour_of_week_frame(self) -> pd.DataFrame:
        """Mean in each hour of the week over the observed window: replication, series,
        weekday, hour, value (patient-hours in that hour of the week / its hours)."""
        R = self.R
        hours = self.week.hours()  # [series, hour of week, replication]
        pathways = [HOUR_OF_WEEK_SERIES.index(f"waiting_discharge_p{k}") for k in (1, 2, 3)]
        delayed = hours[pathways].sum(axis=0, keepdims=True)
        hours = np.concatenate((hours, delayed))
        names = [*HOUR_OF_WEEK_SERIES, "delayed"]
        window = _WeekProfile(1, 1, self.week.offset_h)
        window.add(0, np.zeros(1, np.intp), np.array([self.warm_h]), np.array([self.end_h]))
        exposure = window.hours()[0, :, 0]  # hours of each hour of the week in the window
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(exposure[None, :, None] > 0, hours / exposure[None, :, None], np.nan)
        value = value.transpose(2, 0, 1)  # [replication, series, hour of week]
        how = np.tile(np.arange(HOURS_PER_WEEK), R * len(names))
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications, len(names) * HOURS_PER_WEEK),
                "series": _labels(
                    names, np.tile(np.repeat(np.arange(len(names)), HOURS_PER_WEEK), R)
                ),
                "weekday": _labels(WEEKDAYS, how // HOURS_PER_DAY),
                "hour": (how % HOURS_PER_DAY).astype(np.int64),
                "value": value.ravel(),
            },
            copy=False,
        )

    def _ed_time_frame(self) -> pd.DataFrame:
        """Attendances by time in A&E: replication, period, outcome, hours_from, hours_to,
        attendances (see :func:`ed_time_bins`), by arrival time as ``attendances``."""
        counts = self._counts("ed_time")  # [replication, period, code]
        R, n_periods, n_codes = counts.shape
        bins = ed_time_bins()
        code = np.tile(np.arange(n_codes), R * n_periods)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications, n_periods * n_codes),
                "period": _labels(
                    [p.label for p in self.periods],
                    np.tile(np.repeat(np.arange(n_periods), n_codes), R),
                ),
                "outcome": _labels(ED_TIME_GROUPS, _ED_OUTCOME_OF_CODE[code]),
                "hours_from": bins["hours_from"].to_numpy()[code],
                "hours_to": bins["hours_to"].to_numpy()[code],
                "attendances": counts.astype(np.int64).ravel(),
            },
            copy=False,
        )

    def _per_period(self, by_day: np.ndarray) -> np.ndarray:
        """Sum over the days of each period: [R, D] -> [R, 1 + financial years]."""
        out = np.zeros((self.R, 1 + self.nF))
        if self.D:
            out[:, 0] = by_day.sum(axis=1)
            out[:, 1:] = np.add.reduceat(by_day, self.fy_first_day, axis=1)
        return out

    def _counts(self, name: str) -> np.ndarray:
        """Counts [R, periods, codes], with ``all`` first."""
        n = self.codes[name]
        c = self.counts[name].reshape(self.R, self.nF, n).astype(float)
        return np.concatenate((c.sum(axis=1, keepdims=True), c), axis=1)

    def _sums(self, values: np.ndarray, n_codes: int = 1) -> np.ndarray:
        v = values.reshape(self.R, self.nF, n_codes)
        return np.concatenate((v.sum(axis=1, keepdims=True), v), axis=1)

    def _level_metrics(self) -> dict[str, np.ndarray]:
        """Occupancy p95, time at or above 92% and time full, from the hours at each level."""
        R, n_seg, n_lev = self.R, self.n_seg, self.n_lev
        hours = self.level_hours.reshape(n_seg, n_lev, R).transpose(2, 0, 1)
        share = _share(np.arange(n_lev, dtype=float)[None, :], self.seg_cap[:, None])
        out = {
            name: np.full((R, 1 + self.nF), np.nan)
            for name in ("acute_occupancy_p95", "acute_time_at_or_above_92", "acute_time_full")
        }
        bed_hours = np.zeros((R, 1 + self.nF))
        levels = np.arange(n_lev, dtype=float)
        for p in range(1 + self.nF):
            segs = np.arange(n_seg) if p == 0 else np.flatnonzero(self.seg_fy == p - 1)
            if len(segs) == 0:
                continue
            values = share[segs].ravel()
            weights = hours[:, segs, :].reshape(R, -1)
            bed_hours[:, p] = hours[:, segs, :] @ levels @ np.ones(len(segs))
            span = self.period_hours[p]
            with np.errstate(divide="ignore", invalid="ignore"):
                above = weights[:, values >= 0.92 - 1e-12].sum(axis=1) / span
                full = weights[:, values >= 1.0 - 1e-12].sum(axis=1) / span
            out["acute_time_at_or_above_92"][:, p] = above
            out["acute_time_full"][:, p] = full
            order = np.argsort(values, kind="stable")
            cumulative = np.cumsum(weights[:, order], axis=1)
            target = 0.95 * cumulative[:, -1]
            index = np.minimum((cumulative < target[:, None]).sum(axis=1), len(values) - 1)
            p95 = values[order][index]
            out["acute_occupancy_p95"][:, p] = np.where(cumulative[:, -1] > 0, p95, np.nan)
        out["_bed_hours"] = bed_hours
        return out

    def _metrics_frame(self, totals: dict[str, np.ndarray]) -> pd.DataFrame:
        params = self.params
        span = self.period_hours[None, :]
        R, n_periods = self.R, 1 + self.nF

        def mean(name: str) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return totals[name] / span

        def ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(den > 0, num / den, empty)

        m: dict[str, np.ndarray] = {}
        m["observed_days"] = np.broadcast_to(
            np.array([p.days for p in self.periods], dtype=float), (R, n_periods)
        )

        # demand and avoidance
        ed = self._counts("ed_arrival").reshape(R, n_periods, self.n_cohorts, 4)
        attended = ed.sum(axis=(2, 3))
        m["attendances"] = attended
        for cohort in params.cohorts:
            m[f"attendances_{cohort.name}"] = ed[:, :, cohort.index, :].sum(axis=2)
        arrivals = self._counts("t_arrival")
        code = np.arange(12)
        avoidable, achieved, lost = code % 2 == 1, (code // 2) % 2 == 1, code // 4
        m["attendances_would_be"] = arrivals[:, :, :12].sum(axis=2)
        planned = arrivals[:, :, :12][:, :, avoidable].sum(axis=2)
        done = arrivals[:, :, :12][:, :, avoidable & achieved].sum(axis=2)
        m["avoidance_planned"] = planned
        m["avoided_attendances"] = done
        m["avoidance_lost"] = planned - done
        m["avoidance_lost_closed"] = arrivals[:, :, :12][:, :, avoidable & (lost == 1)].sum(axis=2)
        m["avoidance_lost_full"] = arrivals[:, :, :12][:, :, avoidable & (lost == 2)].sum(axis=2)
        m["readmissions"] = arrivals[:, :, 12]

        # A&E
        by_state = ed.sum(axis=2)
        known = by_state[:, :, 1:].sum(axis=2)
        m["ed_4h_share"] = ratio(by_state[:, :, 3], known, np.nan)
        m["ed_time_mean_hours"] = ratio(
            self._sums(self.ed_hours)[:, :, 0], by_state[:, :, 2:].sum(axis=2), 0.0
        )
        decisions = self._counts("ed_decision")
        code = np.arange(8)
        from_ed = code % 2 == 1
        admitted_attendances = decisions[:, :, from_ed].sum(axis=2)
        m["ed_12h_waits"] = decisions[:, :, from_ed & ((code // 2) % 2 == 1)].sum(axis=2)
        m["boarding_hours"] = totals["boarding"]
        m["ed_in_department_mean"] = mean("ed_in_department")

        # SDEC and admissions
        sdec = self._counts("sdec_start")
        n_sdec = sdec.sum(axis=2)
        m["sdec_episodes"] = n_sdec
        m["sdec_refused"] = decisions[:, :, code >= 4].sum(axis=2)
        beds = self._counts("bed_start")[:, :, :8]
        code = np.arange(8)
        n_admitted = beds.sum(axis=2)
        incl = n_admitted + sdec[:, :, 0]
        m["admissions_bed"] = n_admitted
        m["admissions_direct"] = beds[:, :, code % 2 == 1].sum(axis=2)
        m["admissions_incl_sdec"] = incl
        m["admissions_nhs"] = incl if params.sdec_counts_as_admission else n_admitted
        m["admissions_overnight"] = beds[:, :, (code // 2) % 2 == 1].sum(axis=2)
        m["admission_wait_share"] = ratio(beds[:, :, code >= 4].sum(axis=2), n_admitted, 0.0)
        diverted = self._counts("diverted")[:, :, 0]
        m["diverted"] = diverted
        m["direct_wait_hours"] = totals["direct_waiting"]
        m["bed_queue_mean"] = mean("bed_queue")

        # acute beds
        bed_days = totals["acute_occupied"] / _DAY
        m["emergency_bed_days"] = bed_days
        m["acute_beds_occupied_mean"] = mean("acute_occupied")
        m["acute_occupancy_mean"] = self._share_mean("acute_occupied", self.params.beds)
        levels = self._level_metrics()
        bed_hours = levels.pop("_bed_hours")
        if not np.allclose(bed_hours, totals["acute_occupied"], rtol=1e-6, atol=1e-6):
            worst = int(np.argmax(np.abs(bed_hours - totals["acute_occupied"]).max(axis=1)))
            raise ValueError(
                "acute events disagree with the patients' bed_start/bed_end: replication "
                f"{self.replications[worst]} has {bed_hours[worst, 0]:.6g} bed-hours from events, "
                f"{totals['acute_occupied'][worst, 0]:.6g} from rows (were all events added?)"
            )
        m.update(levels)

        # discharge
        delayed_total: np.ndarray | float = 0.0
        for k in (1, 2, 3):
            days = totals[f"waiting_discharge_p{k}"] / _DAY
            delayed_total = delayed_total + days
            m[f"delayed_bed_days_p{k}"] = days
        m["delayed_bed_days"] = np.asarray(delayed_total)
        m["p0_discharge_wait_bed_days"] = totals["waiting_discharge_p0"] / _DAY
        fit = self._counts("t_fit")
        m["delayed_discharges"] = fit[:, :, 1:].sum(axis=2)
        for k in (1, 2, 3):
            m[f"delayed_discharges_p{k}"] = fit[:, :, k]

        # community
        starts = self._counts("comm_start")
        waits = self._sums(self.community_wait_days, 4)
        place_days: dict[str, np.ndarray] = {}
        for s in self.services:
            in_use = f"community_in_use_{s}"
            place_days[s] = totals[in_use] / _DAY
            m[in_use] = mean(in_use)
            service = params.service(s)
            assert service is not None
            m[f"community_occupancy_{s}"] = self._share_mean(in_use, service.capacity)
            if s != "urgent_response":
                k = int(s[1])
                m[f"community_starts_{s}"] = starts[:, :, k]
                m[f"community_wait_days_{s}"] = ratio(waits[:, :, k], starts[:, :, k], 0.0)

        # costs
        c = self.costs.costs
        costs = {
            "cost_ed": admitted_attendances * c.ed_attendance_admitted_gbp
            + (attended - admitted_attendances) * c.ed_attendance_not_admitted_gbp,
            "cost_sdec": n_sdec * c.sdec_episode_gbp,
            "cost_acute_bed_days": (bed_days - delayed_total) * c.acute_bed_day_gbp,
            "cost_delayed_bed_days": delayed_total * c.delayed_bed_day_gbp,
            "cost_urgent_response_episodes": self._counts("ur_start")[:, :, 0]
            * c.urgent_response_episode_gbp,
            "cost_diversion": diverted * c.diversion_gbp,
        }
        for s, used_days in place_days.items():
            service = params.service(s)
            assert service is not None
            days = used_days
            paid = self.costs.commissioned[Service[s.upper()]]
            if paid is not None:
                places = _capacity_by_day(paid, self.day_starts[: self.D])
                days = np.broadcast_to(self._per_period(places[None, :]), (R, n_periods))
            costs[f"cost_community_{s}"] = days * getattr(c.community_place_day_gbp, s)
        costs["cost_investment"] = np.broadcast_to(
            np.array([self._investment(p.label) for p in self.periods]), (R, n_periods)
        )
        m.update(costs)
        total: np.ndarray | float = 0.0
        for value in costs.values():
            total = total + value
        m["cost_total"] = np.asarray(total)

        names = catalogue.names(list(params.cohort_names), self.services)
        if set(names) != set(m):  # the catalogue is the contract: nothing more, nothing less
            raise AssertionError(
                f"metrics and catalogue differ: computed only {sorted(set(m) - set(names))}, "
                f"catalogued only {sorted(set(names) - set(m))}"
            )
        values = np.stack([np.broadcast_to(m[name], (R, n_periods)) for name in names], axis=2)
        n_metrics = len(names)
        n_rows = R * n_periods * n_metrics
        rows = np.arange(n_rows)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications, n_periods * n_metrics),
                "metric": _labels(names, rows % n_metrics),
                "period": _labels([p.label for p in self.periods], rows // n_metrics % n_periods),
                "value": values.astype(float).ravel(),
            },
            copy=False,
        )

    def _share_hours(self, series: str, capacity: Timeline) -> np.ndarray:
        """Hours-weighted in use / places for each day [R, D] (capacity is constant by day)."""
        by_day = self._day_integrals[series]
        places = _capacity_by_day(capacity, self.day_starts[: self.D])[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            share_hours = np.where(places > 0, by_day / places, np.where(by_day > 0, np.inf, _DAY))
        return np.where(np.isinf(places), 0.0, share_hours)

    def _investment(self, label: str) -> float:
        """Investment dated to the period's financial year (every observed year for ``all``)."""
        labels = {p.label for p in self.periods if p.label != "all"} if label == "all" else {label}
        return float(sum(v for fy, v in self.costs.investment_by_fy.items() if fy in labels))

    def _share_mean(self, series: str, capacity: Timeline) -> np.ndarray:
        """Time-weighted mean of in use / places over each period."""
        with np.errstate(invalid="ignore"):
            return self._per_period(self._share_hours(series, capacity)) / self.period_hours


def record_tables(record: Record, costs: CostParams) -> Tables:
    """The tables of one record: the accumulator fed with the whole record."""
    accumulator = MetricAccumulator(record.params, [record.replication], costs)
    accumulator.add_record(record)
    return accumulator.finish()


def replication_metrics(record: Record, costs: CostParams) -> pd.DataFrame:
    """One row per (metric, period) for one replication: replication, metric, period, value."""
    return record_tables(record, costs)[0]


def daily_series(record: Record) -> pd.DataFrame:
    """Daily time-weighted means (occupancy, queues, capacity) over the observed window.

    Long form: replication, date, series, value. ``acute_capacity`` is the bed
    capacity; ``delayed`` sums the P1-P3 patients waiting in acute beds.
    """
    return record_tables(record, CostParams.free(record.params))[1]
