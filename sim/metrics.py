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

import numpy as np
import pandas as pd

from .calendar import EPS_HOURS, HOURS_PER_DAY
from .config import SERVICES
from .params import ModelParams, Timeline
from .record import COLUMNS, FLOAT_COLUMNS, Record

HOUR_4 = 4.0
HOUR_12 = 12.0
_DAY = float(HOURS_PER_DAY)

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

REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c != "parent")
"""The patient columns :meth:`MetricAccumulator.add_patients` reads."""


def _capacity_by_day(timeline: Timeline, day_starts: np.ndarray) -> np.ndarray:
    """The capacity holding over each day (changes are dated, so they fall at midnight)."""
    index = np.searchsorted(timeline.times_h, day_starts, side="right") - 1
    return np.asarray(timeline.values, dtype=float)[np.maximum(index, 0)]


def _share(used: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Occupied / open places: 0 when unlimited; no places at all is full, or over-full if used."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(capacity > 0, used / capacity, np.where(used > 0, np.inf, 1.0))
    return np.where(np.isinf(capacity), 0.0, share)


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

    def __init__(self, params: ModelParams, replications: Sequence[int]) -> None:
        self.params = params
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
        # slot 0: before the observed window; slot j + 1: day j; slot D + 1: after or never
        day_mid = self.warm_h + _DAY * (np.arange(D) + 0.5)
        self.fy_of_day = np.zeros(D, dtype=np.intp)
        for f, period in enumerate(fys):
            self.fy_of_day[(day_mid >= period.start_h) & (day_mid < period.end_h)] = f
        self.fy_of_slot = np.concatenate(([nF], self.fy_of_day, [nF])).astype(np.intp)
        self.fy_first_day = np.array(
            [round((p.start_h - self.warm_h) / _DAY) for p in fys], dtype=np.intp
        )
        self.period_hours = np.array([p.end_h - p.start_h for p in self.periods])

        # counting processes, each a daily diary of (net arrivals, hours-to-midnight sums)
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
        self.pathway_series = np.array(
            [self.sidx[f"waiting_discharge_p{k}"] for k in range(4)], dtype=np.intp
        )
        self.community_series = np.array(
            [self.sidx.get(f"community_in_use_p{k}", -1) for k in (1, 2, 3)], dtype=np.intp
        )

        # event counts by (replication, financial year (+ one bin for outside), code)
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
        }
        self.counts = {
            name: np.zeros(R * (nF + 1) * n, dtype=np.int64) for name, n in self.codes.items()
        }
        self.ed_hours = np.zeros(R * (nF + 1))
        self.community_wait_days = np.zeros(R * (nF + 1) * 4)

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
        if n == 0:
            return
        P = columns
        for name in REQUIRED_COLUMNS:
            if len(P[name]) != n:
                raise ValueError(f"add_patients: column {name} has {len(P[name])} rows, rep {n}")
        slots: dict[str, tuple[np.ndarray, np.ndarray]] = {}

        times = {name: np.asarray(P[name], dtype=float) for name in FLOAT_COLUMNS}
        times["bed_leave"] = np.fmin(P["bed_start"], P["diverted"])  # took a bed, or was diverted

        def slot(name: str) -> tuple[np.ndarray, np.ndarray]:
            if name not in slots:
                slots[name] = self._slot(times[name])
            return slots[name]

        ed_outcome = P["ed_outcome"]
        sdec_refused = P["sdec_refused"]
        admitted_from_ed = (ed_outcome == 2) | sdec_refused
        pathway = P["pathway"]

        # --- counting processes ---
        D = self.D
        flows, hours = self.flows, self.hours
        S, W = len(self.series), self.W

        def intervals(
            series: int | np.ndarray, start: str, end: str, keep: np.ndarray | None = None
        ) -> None:
            s_slot, s_hours = slot(start)
            e_slot, e_hours = slot(end)
            # started before the end of the run (a NaN start never did) and lasted: an empty
            # interval adds nothing, and leaving it out keeps a day with none exactly zero
            on = (s_slot <= D) & (times[start] != times[end])
            if keep is not None:
                on &= keep
            rows = np.flatnonzero(on)
            if isinstance(series, np.ndarray):
                series = series[rows]
            base = (rep[rows] * S + series) * W
            k = base + s_slot[rows]
            np.add.at(flows, k, 1)
            np.add.at(hours, k, s_hours[rows])
            k = base + e_slot[rows]
            np.subtract.at(flows, k, 1)
            np.subtract.at(hours, k, e_hours[rows])

        sidx = self.sidx
        intervals(sidx["acute_occupied"], "bed_start", "bed_end")
        intervals(sidx["bed_queue"], "bed_request", "bed_leave")
        intervals(sidx["boarding"], "ed_decision", "ed_departure", admitted_from_ed)
        intervals(sidx["ed_in_department"], "ed_arrival", "ed_departure")
        intervals(sidx["sdec_in_use"], "sdec_start", "sdec_end")
        valid = (pathway >= 0) & (pathway <= 3)
        intervals(self.pathway_series[np.where(valid, pathway, 0)], "t_fit", "bed_end", valid)
        if "urgent_response" in self.services:
            intervals(sidx["community_in_use_urgent_response"], "ur_start", "ur_end")
        community = self.community_series[np.clip(pathway - 1, 0, 2)]
        intervals(community, "comm_start", "comm_end", (pathway >= 1) & (community >= 0))
        direct = np.isnan(P["ed_arrival"]) | P["sdec_admit"]
        intervals(sidx["direct_waiting"], "bed_request", "bed_leave", direct)

        # --- counts, by the period of one event ---
        nF1 = self.nF + 1
        rep_base = rep * nF1
        end = self.end_h

        def rows_in_window(name: str) -> tuple[np.ndarray, np.ndarray]:
            s = slot(name)[0]
            rows = np.flatnonzero((s >= 1) & (s <= D))
            return rows, rep_base[rows] + self.fy_of_slot[s[rows]]

        def count(name: str, key: np.ndarray, code: np.ndarray | int = 0) -> None:
            n_codes = self.codes[name]
            self.counts[name] += np.bincount(key * n_codes + code, minlength=len(self.counts[name]))

        rows, key = rows_in_window("ed_arrival")
        arrival = P["ed_arrival"][rows]
        departure = P["ed_departure"][rows]
        left = ~np.isnan(departure)
        stay = departure - arrival
        within = stay <= HOUR_4 + EPS_HOURS  # NaN compares False: a breach
        known = (end - arrival) > HOUR_4
        state = np.where(left, 2 + within, known)
        count("ed_arrival", key, P["cohort"][rows] * 4 + state)
        self.ed_hours += np.bincount(key, np.where(left, stay, 0.0), minlength=len(self.ed_hours))

        rows, key = rows_in_window("t_arrival")
        origin = P["origin"][rows]
        code = (
            P["avoidable"][rows]
            + 2 * ~np.isnan(P["ur_start"][rows])
            + 4 * np.clip(P["avoid_lost"][rows], 0, 2)
        )
        count("t_arrival", key, np.where(origin == 0, code, np.where(origin == 2, 12, 13)))

        rows, key = rows_in_window("ed_decision")
        gone = P["ed_departure"][rows]
        waited = np.where(np.isnan(gone), end, gone) - P["ed_decision"][rows]
        code = admitted_from_ed[rows] + 2 * (waited > HOUR_12) + 4 * sdec_refused[rows]
        count("ed_decision", key, code)

        rows, key = rows_in_window("sdec_start")
        count("sdec_start", key, P["sdec_admit"][rows].astype(np.intp))

        rows, key = rows_in_window("bed_start")
        start = P["bed_start"][rows]
        stay_end = P["bed_end"][rows]
        stay_end = np.where(np.isnan(stay_end), end - EPS_HOURS, stay_end)
        overnight = np.floor(stay_end / _DAY) > np.floor(start / _DAY)
        bed_wait = (start - P["bed_request"][rows]) > EPS_HOURS
        origin = P["origin"][rows]
        code = (origin == 1) + 2 * overnight + 4 * bed_wait
        count("bed_start", key, np.where(origin != 3, code, 8))

        rows, key = rows_in_window("diverted")
        count("diverted", key)

        rows, key = rows_in_window("t_fit")
        k = pathway[rows]
        still = P["bed_end"][rows]
        delayed = np.isnan(still) | (still - P["t_fit"][rows] > EPS_HOURS)
        count("t_fit", key, np.where((k >= 1) & (k <= 3) & delayed, k, 0))

        rows, key = rows_in_window("comm_start")
        k = pathway[rows]
        code = np.where((k >= 1) & (k <= 3) & (P["origin"][rows] != 3), k, 0)
        count("comm_start", key, code)
        days = (P["comm_start"][rows] - P["t_fit"][rows]) / _DAY
        self.community_wait_days += np.bincount(
            key * 4 + code, np.where(code > 0, days, 0.0), minlength=len(self.community_wait_days)
        )

        rows, key = rows_in_window("ur_start")
        count("ur_start", key)

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
            order = np.argsort(rep, kind="stable")
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
        base = rep * n_seg
        rows = np.flatnonzero(inside)
        np.add.at(
            self.level_hours,
            (base[rows] + seg0[rows]) * n_lev + level[rows],
            t1[rows] - t0[rows],
        )
        rows = np.flatnonzero(~inside)
        for k in range(n_seg):
            overlap = np.minimum(t1[rows], self.seg_end[k]) - np.maximum(
                t0[rows], self.seg_start[k]
            )
            on = overlap > 0
            np.add.at(
                self.level_hours,
                (base[rows][on] + k) * n_lev + level[rows][on],
                overlap[on],
            )

    def _grow_levels(self, needed: int) -> None:
        n_lev = max(needed, 2 * self.n_lev)
        grown = np.zeros((self.R, self.n_seg, n_lev))
        grown[:, :, : self.n_lev] = self.level_hours.reshape(self.R, self.n_seg, self.n_lev)
        self.level_hours = grown.ravel()
        self.n_lev = n_lev

    def add_record(self, record: Record, position: int = 0) -> None:
        """Add a whole SimPy record as replication ``position``: its rows and its bed events."""
        self.add_patients(np.full(record.n, position, dtype=np.intp), record.patients)
        times, deltas = acute_events(record.patients)
        self.add_acute_events(np.full(len(times), position, dtype=np.intp), times, deltas)

    # --- results ------------------------------------------------------------------------------

    def finish(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(metrics, daily) long tables, replications in the order given.

        metrics: replication, metric, period, value; daily: replication, date,
        series, value. Call once: the accumulator is spent afterwards.
        """
        if self.finished:
            raise RuntimeError("MetricAccumulator.finish() was already called")
        every = np.arange(self.R)
        self._add_level_time(every, self.level_t.copy(), np.full(self.R, self.end_h), self.level)
        self.finished = True
        R, S, W, D = self.R, len(self.series), self.W, self.D
        names = [*self.series[:-1], "delayed", "acute_capacity", "acute_occupancy"]
        daily = np.empty((R, len(names), D))
        flows = self.flows.reshape(R, S, W)
        hours = self.hours.reshape(R, S, W)
        totals: dict[str, np.ndarray] = {}
        self._day_integrals: dict[str, np.ndarray] = {}
        for s, name in enumerate(self.series):
            level = np.cumsum(flows[:, s, :D], axis=1, dtype=np.int64)  # in the system at midnight
            integral = level * _DAY + hours[:, s, 1 : D + 1]  # patient-hours in each day
            totals[name] = self._per_period(integral)
            if name != "direct_waiting":
                daily[:, s, :] = integral / _DAY
            if name == "acute_occupied" or name.startswith("community_in_use_"):
                self._day_integrals[name] = integral
        self.flows, self.hours = np.zeros(0, dtype=np.int32), np.zeros(0)  # spent
        metrics = self._metrics_frame(totals)

        wd = [self.sidx[f"waiting_discharge_p{k}"] for k in (1, 2, 3)]
        daily[:, -3, :] = daily[:, wd[0], :] + daily[:, wd[1], :] + daily[:, wd[2], :]
        daily[:, -2, :] = self.bed_days_cap[None, :]
        daily[:, -1, :] = self._share_hours("acute_occupied", self.params.beds) / _DAY
        self._day_integrals = {}
        if D < 1:
            return metrics, pd.DataFrame(columns=["replication", "date", "series", "value"])
        cal = self.params.calendar
        dates = pd.to_datetime(cal.sim_start) + pd.to_timedelta(
            self.day_starts[:-1] / _DAY, unit="D"
        )
        frame = pd.DataFrame(
            {
                "replication": np.repeat(self.replications, len(names) * D),
                "date": np.tile(dates.to_numpy(), R * len(names)),
                "series": np.tile(np.repeat(np.array(names, dtype=object), D), R),
                "value": daily.ravel(),
            }
        )
        return metrics, frame

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
        c = self.counts[name].reshape(self.R, self.nF + 1, n)[:, : self.nF, :].astype(float)
        return np.concatenate((c.sum(axis=1, keepdims=True), c), axis=1)

    def _sums(self, values: np.ndarray, n_codes: int = 1) -> np.ndarray:
        v = values.reshape(self.R, self.nF + 1, n_codes)[:, : self.nF, :]
        return np.concatenate((v.sum(axis=1, keepdims=True), v), axis=1)

    def _level_metrics(self) -> dict[str, np.ndarray]:
        """Occupancy p95, time at or above 92% and time full, from the hours at each level."""
        R, n_seg, n_lev = self.R, self.n_seg, self.n_lev
        hours = self.level_hours.reshape(R, n_seg, n_lev)
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
        c = params.costs
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
            if service.cost_basis == "commissioned" and np.isfinite(service.capacity.values).all():
                places = _capacity_by_day(service.capacity, self.day_starts[: self.D])
                days = np.broadcast_to(self._per_period(places[None, :]), (R, n_periods))
            costs[f"cost_community_{s}"] = days * getattr(c.community_place_day_gbp, s)
        costs["cost_investment"] = np.broadcast_to(
            np.array([_investment(params, p.label) for p in self.periods]), (R, n_periods)
        )
        m.update(costs)
        total: np.ndarray | float = 0.0
        for value in costs.values():
            total = total + value
        m["cost_total"] = np.asarray(total)

        names = list(m)
        values = np.stack([np.broadcast_to(m[name], (R, n_periods)) for name in names], axis=2)
        n_metrics = len(names)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications, n_periods * n_metrics),
                "metric": np.tile(np.array(names, dtype=object), R * n_periods),
                "period": np.tile(
                    np.repeat(np.array([p.label for p in self.periods], dtype=object), n_metrics),
                    R,
                ),
                "value": values.astype(float).ravel(),
            }
        )

    def _share_hours(self, series: str, capacity: Timeline) -> np.ndarray:
        """Hours-weighted in use / places for each day [R, D] (capacity is constant by day)."""
        by_day = self._day_integrals[series]
        places = _capacity_by_day(capacity, self.day_starts[: self.D])[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            share_hours = np.where(places > 0, by_day / places, np.where(by_day > 0, np.inf, _DAY))
        return np.where(np.isinf(places), 0.0, share_hours)

    def _share_mean(self, series: str, capacity: Timeline) -> np.ndarray:
        """Time-weighted mean of in use / places over each period."""
        with np.errstate(invalid="ignore"):
            return self._per_period(self._share_hours(series, capacity)) / self.period_hours


def _investment(params: ModelParams, label: str) -> float:
    labels = {p.label for p in params.calendar.periods if p.label != "all"}
    if label != "all":
        labels = {label}
    return float(sum(i.amount_gbp for i in params.costs.investment if i.financial_year in labels))


def acute_events(patients: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One replication's acute occupancy changes from its rows: (times, deltas), by time."""
    start = patients["bed_start"]
    took = ~np.isnan(start)
    end = patients["bed_end"][took]
    times = np.concatenate((start[took], end[~np.isnan(end)]))
    deltas = np.concatenate(
        (np.ones(int(took.sum()), np.int64), -np.ones(int((~np.isnan(end)).sum()), np.int64))
    )
    order = np.argsort(times, kind="stable")
    return times[order], deltas[order]


def record_tables(record: Record) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics, daily) of one SimPy record: the accumulator fed with the whole record."""
    accumulator = MetricAccumulator(record.params, [record.replication])
    accumulator.add_record(record)
    return accumulator.finish()


def replication_metrics(record: Record) -> pd.DataFrame:
    """One row per (metric, period) for one replication: replication, metric, period, value."""
    return record_tables(record)[0]


def daily_series(record: Record) -> pd.DataFrame:
    """Daily time-weighted means (occupancy, queues, capacity) over the observed window.

    Long form: replication, date, series, value. ``acute_capacity`` is the bed
    capacity; ``delayed`` sums the P1-P3 patients waiting in acute beds.
    """
    return record_tables(record)[1]
