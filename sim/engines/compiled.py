"""The fast engine: the compiled event loop of :mod:`sim.engines.kernel`, replications on threads.

For each replication the engine draws the patients from the named streams of
:mod:`sim.model.demand`, exactly as the SimPy engine draws them (the arrival
times of every stream; a table of attributes per cohort and origin; the
starting state), hands them with the scenario's arrays to the compiled
kernel, and the kernel writes into the replication's tally (and its record,
when asked). Replications run on threads: the kernel releases the GIL, and
numpy's generators release it while they fill arrays, so two threads keep two
cores busy. Replication ``r`` gives the same rows whatever thread or batch
it runs in.

The first use on a machine compiles the kernel (16-48 s measured on 2-core
machines; see :func:`prepare`), later processes load it from numba's cache in
about a second (:mod:`sim.jit`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import numpy as np

from ..clock.schedule import run_openings
from ..codes import HOURS_PER_WEEK, Origin
from ..model.demand import (
    BLOCK,
    Attr,
    Versions,
    arrival_times,
    cumulative_rate,
    draw_attributes,
    initial_cohorts,
    search_guide,
    versions,
)
from ..model.record import BOOL_COLUMNS, CODE_COLUMNS, COLUMNS, FLOAT_COLUMNS, CapacityLog, Record
from ..model.sink import Sink
from ..rng.streams import Streams
from ..scenario.params import ModelParams, Timeline
from . import kernel
from .kernel import N_POOLS, P_BEDS, P_SDEC, P_STAGE, P_UR

_INITIAL_KIND = {"treating": 0, "delayed": 1, "community": 2}


def default_threads() -> int:
    """Threads to run replications on: the cores this process may use, or one inside a
    worker process (local or Dask), whose parent already shares the cores out.
    ``LEFTSHIFT_THREADS`` overrides."""
    if os.environ.get("LEFTSHIFT_THREADS"):
        return max(1, int(os.environ["LEFTSHIFT_THREADS"]))
    if multiprocessing.parent_process() is not None:
        return 1
    try:
        from distributed import get_worker

        get_worker()
        return 1
    except (ImportError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


@dataclass(frozen=True)
class Scenario:
    """The scenario's arrays, the same for every replication (the kernel only reads them)."""

    scal_f: np.ndarray
    scal_i: np.ndarray
    discharge_wait: np.ndarray
    p_admit: np.ndarray
    p_sdec: np.ndarray
    p_readmit: np.ndarray
    p_readmit_30d: np.ndarray
    avoid_by_hour: np.ndarray
    cap0: np.ndarray
    open_hours: np.ndarray
    opens: np.ndarray
    chg_pool: np.ndarray
    chg_t: np.ndarray
    chg_v: np.ndarray
    sdec_p_admit: np.ndarray
    thresholds: np.ndarray
    phase_by_hour: np.ndarray
    rows: np.ndarray
    episode_rows: np.ndarray
    esc_marks: np.ndarray
    """The escalation reviews' hours of the run (none without escalation)."""
    case_mix: np.ndarray
    """[phase, cohort, 4]: the avoidable sub-cohort's share (-1: none), its admission
    probability, the rest of the cohort's, and the rest's stay factor."""
    streams: tuple[tuple[int, Origin, str, np.ndarray, np.ndarray], ...]
    """(cohort, origin, stream name, hourly rate, cumulative rate), in the SimPy engine's order."""
    guides: tuple[np.ndarray, ...]
    """Each stream's :func:`~sim.model.demand.search_guide`, made once, not per replication."""
    drawn: Versions
    """:func:`~sim.model.demand.versions` of the scenario, worked out once rather than per
    replication (it cost a fifth of a small system's drawing)."""
    expected_by_hour: np.ndarray
    """The arrivals expected by each hour of the run, all streams together (where the
    windows end): summed once, not per replication, whose cost grew with the run's hours."""
    expected: np.ndarray
    """[cohort, 2]: each cohort's arrivals expected over the run, all of them and those at
    A&E (what the readmissions' draws a window holds are sized by)."""

    @cached_property
    def arr_cohort(self) -> np.ndarray:
        """Each arrival stream's cohort."""
        return np.array([c for c, *_ in self.streams], dtype=np.int64)

    @cached_property
    def arr_origin(self) -> np.ndarray:
        """Each arrival stream's origin."""
        return np.array([int(o) for _, o, *_ in self.streams], dtype=np.int64)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.scal_f,
            self.scal_i,
            self.discharge_wait,
            self.p_admit,
            self.p_sdec,
            self.p_readmit,
            self.p_readmit_30d,
            self.avoid_by_hour,
            self.cap0,
            self.open_hours,
            self.opens,
            self.chg_pool,
            self.chg_t,
            self.chg_v,
            self.sdec_p_admit,
            self.thresholds,
            self.phase_by_hour,
            self.rows,
            self.episode_rows,
            self.esc_marks,
            self.case_mix,
        )


def _pool_timelines(params: ModelParams) -> list[Timeline | None]:
    services = [None if s is None else s.capacity for s in params.services]
    stages = [None if g is None else g.capacity for g in params.stages]
    return [params.ed_cubicles, params.sdec_chairs, params.beds, *services, *stages]


def scenario_arrays(params: ModelParams) -> Scenario:
    """The kernel's view of a scenario."""
    cal = params.calendar
    cohorts = params.cohorts
    fy_by_hour = cal.hourly("fy_index").astype(np.int64)
    phases = [params.phase(i) for i in range(params.n_phases)]
    phase_by_hour = params.phase_by_hour
    # column 0: -1 if a cohort has no avoidable share in any year; then each hour's share
    avoid = np.zeros((len(cohorts), 1 + len(fy_by_hour)))
    hourly = np.empty(len(fy_by_hour))
    for c in cohorts:
        shares = [p.cohorts[c.index].avoidable_by_fy for p in phases]
        avoid[c.index, 0] = 0.0 if any(s.any() for s in shares) else -1.0
        for i, by_fy in enumerate(shares):  # each hour's from the phase it falls in
            kernel.avoidable_by_hour(np.asarray(by_fy, float), fy_by_hour, hourly)
            avoid[c.index, 1:][phase_by_hour == i] = hourly[phase_by_hour == i]
    timelines = _pool_timelines(params)
    cap0 = np.array([0.0 if t is None else float(t.values[0]) for t in timelines])
    n = cal.n_hours  # schedules hour by hour over the run; column n marks: always open, opens
    open_hours = np.ones((N_POOLS, n + 1), dtype=np.bool_)
    opens = np.zeros((N_POOLS, n + 1), dtype=np.bool_)
    # SDEC has a queue (served when it opens) only if a referral may wait for it to open
    by_hour = [(P_SDEC, params.sdec_open_by_hour, params.sdec_refused_wait)] + [
        (P_UR + k, accepts, k > 0)  # P1-P3 have queues, which an opening serves
        for k, accepts in enumerate(params.accepts_by_hour)
        if accepts is not None
    ]
    by_hour += [  # discharge stages have queues too
        (P_STAGE + g.index, g.open_by_hour, True) for g in params.stages if g is not None
    ]
    for pool, open_by_hour, queues in by_hour:
        always = bool(open_by_hour.all())
        open_hours[pool, :n] = open_by_hour
        open_hours[pool, n] = always
        if queues and not always:
            opens[pool, :n] = run_openings(open_by_hour)
            opens[pool, n] = opens[pool, :n].any()
    chg_pool, chg_t, chg_v = [], [], []
    for pool, timeline in enumerate(timelines):
        if timeline is None:
            continue
        for t, value in zip(timeline.times_h[1:], timeline.values[1:], strict=True):
            chg_pool.append(pool)
            chg_t.append(float(t))
            chg_v.append(float(value))
    streams = []
    for c in cohorts:
        for origin, rate, name in (
            (Origin.ED, c.ed_rate_h, "arrivals"),
            (Origin.DIRECT, c.direct_rate_h, "direct_arrivals"),
        ):
            if rate.any():
                streams.append((c.index, origin, f"{name}/{c.name}", rate, cumulative_rate(rate)))
    drawn = versions(params)
    e = params.escalation
    return Scenario(
        scal_f=np.array(
            [cal.end_h, -1.0 if e is None else e.open_at_occupancy]
            + [1.0 if e is None else e.close_below_occupancy]
        ),
        scal_i=np.array(
            [
                int(params.boarding_holds_cubicle),
                int(params.ed_decision_by_outcome),
                int(params.sdec_refused_stay_sdec),
                *(int(g is not None) for g in params.stages),
                int(params.p1_visits is not None),
                0 if params.p1_visits is None else params.p1_visits.final_per_day,
                0 if e is None else e.beds,
                -1 if e is None else e.open_at_queue,
                int(params.sdec_refused_wait),
            ],
            dtype=np.int64,
        ),
        discharge_wait=params.discharge_wait_h.astype(np.int64),
        p_admit=np.array([[c.p_admit for c in p.cohorts] for p in phases]),
        p_sdec=np.array([[c.p_sdec for c in p.cohorts] for p in phases]),
        p_readmit=np.array([[c.p_readmit for c in p.cohorts] for p in phases], dtype=np.float64),
        p_readmit_30d=np.array(
            [[c.p_readmit_30d for c in p.cohorts] for p in phases], dtype=np.float64
        ),
        avoid_by_hour=avoid,
        cap0=cap0,
        open_hours=open_hours,
        opens=opens,
        chg_pool=np.array(chg_pool, dtype=np.int64),
        chg_t=np.array(chg_t, dtype=np.float64),
        chg_v=np.array(chg_v, dtype=np.float64),
        sdec_p_admit=np.array([p.sdec_p_admit for p in phases]),
        thresholds=np.array(
            [-1 if p.diversion_threshold is None else p.diversion_threshold for p in phases],
            dtype=np.int64,
        ),
        phase_by_hour=phase_by_hour if params.n_phases > 1 else np.zeros(1, dtype=np.int64),
        rows=drawn.row,
        episode_rows=drawn.episode,
        esc_marks=np.zeros(0, dtype=np.bool_) if e is None else e.review_by_hour,
        case_mix=np.array(
            [
                [[c.avoidable_type_share, *c.p_admit_by_type, c.rest_los_scale] for c in p.cohorts]
                for p in phases
            ],
            dtype=np.float64,
        ),
        streams=tuple(streams),
        guides=tuple(search_guide(cum) for *_, cum in streams),
        drawn=drawn,
        expected_by_hour=sum((cum for *_, cum in streams), np.zeros(params.calendar.n_hours + 1)),
        expected=_expected(streams, len(params.cohorts)),
    )


def _expected(streams: list[tuple[int, Origin, str, np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Each cohort's arrivals expected over the run [cohort, (all, at A&E)]."""
    out = np.zeros((n, 2))
    for cohort, origin, _, _, cum in streams:
        out[cohort, 0] += float(cum[-1])
        if origin == Origin.ED:
            out[cohort, 1] += float(cum[-1])
    return out


WINDOW_PATIENTS = 1 << 17
"""Arrivals a window of a replication holds, about: the kernel runs a window, pauses,
and the driver brings the next window's arrivals and draws, so a replication's memory
holds one window's patients (22 numbers each, some 23 MB), not the whole run's. A
window costs a kernel call, a call of the drawing per cohort and origin, and copying what
the last window drew and did not use (held under the GIL); the baseline, with some
105,000 arrivals a year, runs a year and its warm-up in 2 windows, and a small system in
one. At 2^16 (4 windows) the baseline year cost 100 ms a replication on one thread and
56-62 ms on two; at 2^17, 87-95 and 45-52 (3 December 2026, alternating runs)."""


SPARE_GROWTH = 2
"""How much more of a cohort's readmissions' draws a window holds once they have run out."""


class _Tape:
    """Numbers drawn in chunks along their last axis (a stream's arrival times; a cohort and
    origin's columns of draws), read by position; with ``keep``, every chunk is kept, for
    other runs to read again from the start (:meth:`CompiledEngine.run_points`), else those
    wholly behind :meth:`forget`'s position are dropped."""

    def __init__(
        self,
        more: Callable[[int], np.ndarray | None],
        keep: bool,
        into: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.more = more  # the next chunk, at least n long where it can be; None: no more
        self.into = into  # or: draws the next out.shape[-1] into out
        self.keep = keep
        self.chunks: list[np.ndarray] = []
        self.first = 0  # the position of chunks[0]
        self.end = 0  # the position after the last chunk
        self.ended = False

    def extend(self, n: int) -> bool:
        """Draw another chunk (at least ``n`` for draws); False once there are no more."""
        chunk = None if self.ended else self.more(n)
        if chunk is None or chunk.shape[-1] == 0:
            self.ended = chunk is None
            return chunk is not None
        self.chunks.append(chunk)
        self.end += chunk.shape[-1]
        return True

    def last(self) -> float:
        return float(self.chunks[-1][-1]) if self.chunks else -math.inf

    def read(self, a: int, b: int, out: np.ndarray) -> None:
        """Positions ``[a, b)`` into ``out`` (drawn first if need be; with ``into``, those
        not drawn yet straight into ``out``, which holds them from then on)."""
        if self.into is not None and b > self.end:
            fresh = out[..., max(self.end - a, 0) :]
            self._read_drawn(a, min(b, self.end), out)
            self.into(fresh)
            self.chunks.append(fresh)
            self.end += fresh.shape[-1]
            return
        while self.end < b:
            if not self.extend(b - self.end):  # pragma: no cover - a caller's bug
                raise RuntimeError(f"a stream ended at {self.end}, asked for {b}")
        self._read_drawn(a, b, out)

    def _read_drawn(self, a: int, b: int, out: np.ndarray) -> None:
        at, done = self.first, 0
        for chunk in self.chunks:
            n = chunk.shape[-1]
            lo, hi = max(a - at, 0), min(b - at, n)
            if lo < hi:
                out[..., done : done + hi - lo] = chunk[..., lo:hi]
                done += hi - lo
            at += n

    def first_at_or_after(self, t: float) -> int:
        """The position of the first value at or after ``t`` (numbers sorted), drawn until
        there is one; the end if there is none."""
        while not self.ended and not self.last() >= t:
            self.extend(0)
        at = self.first
        for chunk in self.chunks:
            if chunk[-1] >= t:
                return at + int(np.searchsorted(chunk, t, side="left"))
            at += chunk.shape[-1]
        return self.end

    def forget(self, a: int) -> None:
        """Positions before ``a`` will not be read again: their chunks are dropped, and
        what is left is copied out of the tables of draws it was drawn into (views: the
        tables are done with once the next is made)."""
        if self.keep:
            return
        while self.chunks and self.first + self.chunks[0].shape[-1] <= a:
            self.first += self.chunks.pop(0).shape[-1]
        if self.chunks and self.first < a:
            self.chunks[0] = self.chunks[0][..., a - self.first :]
            self.first = a
        self.chunks = [c.copy() if c.base is not None else c for c in self.chunks]


class Source:
    """One replication's patients, from the streams of ``(seed, replication)``, as tapes
    (:class:`_Tape`) the kernel's windows read in order: each arrival stream's times and
    the draws of its cohort and origin (a patient's draws at the position of their
    arrival), each cohort's readmissions' draws, and the starting state, drawn whole.

    Arrival times come from :func:`~sim.model.demand.arrival_times` and attributes from
    :func:`~sim.model.demand.draw_attributes`, as the SimPy engine draws them; draws are
    sequence-consistent, so drawing them window by window gives the same patients. The
    starting state's (residual durations) in blocks of ``BLOCK``, as the SimPy engine draws
    them, since those draws depend on the block size.
    """

    def __init__(
        self,
        params: ModelParams,
        s: Scenario,
        seed: int,
        replication: int,
        keep: bool = False,
    ) -> None:
        self.params, self.s, self.replication, self.keep = params, s, replication, keep
        self.first_call: tuple[np.ndarray, ...] | None = None  # kept: every run's first
        streams = Streams(seed, replication)
        rows = s.drawn
        n_groups = len(params.cohorts) * 4

        def attributes(c: Any, origin: Origin) -> _Tape:
            def into(out: np.ndarray) -> None:
                draw_attributes(params, c, origin.key, streams, out.shape[1], out, rows)

            return _Tape(lambda n: None, keep, into)

        self.arrivals: list[_Tape] = []
        self.groups: list[_Tape | None] = [None] * n_groups
        for (cohort, origin, name, rate, cum), guide in zip(s.streams, s.guides, strict=True):
            blocks = arrival_times(rate, streams(name), cum, guide)

            def times(n: int, b: Iterator[np.ndarray] = blocks) -> np.ndarray | None:
                return next(b, None)  # a block of the stream's, whatever n

            self.arrivals.append(_Tape(times, keep))
            self.groups[cohort * 4 + origin] = attributes(params.cohorts[cohort], Origin(origin))
        for c in params.cohorts:
            self.groups[c.index * 4 + Origin.READMISSION] = attributes(c, Origin.READMISSION)
        self._initial(params, streams, rows, keep)
        # the windows' ends (hours): where the expected arrivals of every stream reach each
        # multiple of ``window``; one window (to the end) for a small system, and for a kept
        # source (every draw is kept anyway: one window, its tables read by every run)
        if keep:
            self.ends = [math.inf]
        else:
            window = WINDOW_PATIENTS
            total = s.expected_by_hour
            marks = np.arange(window, float(total[-1]) - window / 4, window)
            self.ends = [float(h) for h in np.searchsorted(total, marks)] + [math.inf]

    def _initial(self, params: ModelParams, streams: Streams, rows: Versions, keep: bool) -> None:
        """The starting state: its patients' kinds and their draws, a tape per cohort."""
        groups = initial_cohorts(params, streams)
        kinds: list[int] = []
        ks: list[int] = []
        init_cohort: list[int] = []
        left: list[float] = []
        for kind, k, members, hours in groups:
            kinds += [_INITIAL_KIND[kind]] * len(members)
            ks += [k] * len(members)
            init_cohort += members.tolist()
            left += [0.0] * len(members) if hours is None else np.asarray(hours, float).tolist()
        self.init_cohort = np.array(init_cohort, dtype=np.int64)
        self.init_kind = np.array(kinds, dtype=np.int64)
        self.init_k = np.array(ks, dtype=np.int64)
        self.init_left = np.array(left, dtype=np.float64)
        # a starting-state patient waiting for pathway k has the whole episode to come, drawn
        # with the starting state (init_left): it goes in their draws, where the kernel reads it
        order = np.argsort(self.init_cohort, kind="stable")  # rows taken in order, per cohort
        rank = np.empty(len(order), dtype=np.int64)
        ranked = self.init_cohort[order]
        rank[order] = np.arange(len(order)) - np.searchsorted(ranked, ranked, side="left")
        delayed = self.init_kind == _INITIAL_KIND["delayed"]
        for c in params.cohorts:
            n = int((self.init_cohort == c.index).sum())
            if n == 0:
                continue
            out = np.empty((rows.n_rows, n))
            for first in range(0, n, BLOCK):  # residual draws depend on the block: as SimPy
                block = np.empty((rows.n_rows, BLOCK))
                draw_attributes(params, c, Origin.INITIAL.key, streams, BLOCK, block, rows)
                out[:, first : first + BLOCK] = block[:, : n - first]
            mine = delayed & (self.init_cohort == c.index)
            for version in set(rows.episode.ravel().tolist()):  # every version of it
                out[version, rank[mine]] = self.init_left[mine]
            tape = _Tape(lambda n: None, keep)
            tape.chunks, tape.end = [out], n
            self.groups[c.index * 4 + Origin.INITIAL] = tape


class Reader:
    """One run's way through a :class:`Source`: each kernel call's arrivals and table of
    draws, from where the kernel's last call left them."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.window = 0  # the window the kernel runs in (an index into source.ends)
        n_groups = len(source.groups)
        self.arr_base = np.zeros(len(source.arrivals), dtype=np.int64)  # tape positions of
        self.draw_base = np.zeros(n_groups, dtype=np.int64)  # each call's first
        self.spare = np.zeros(n_groups, dtype=np.int64)  # readmissions' draws to hold
        self.arr_off = self.draw_off = np.zeros(0, dtype=np.int64)
        params = source.params
        expected = source.s.expected
        share = 1.0 if len(source.ends) == 1 else WINDOW_PATIENTS / expected[:, 0].sum()
        for c in params.cohorts:
            patients, attendances = expected[c.index] * share
            self.spare[c.index * 4 + Origin.READMISSION] = _readmissions_expected(
                params, attendances, patients, c.index
            )

    def first(self) -> tuple[np.ndarray, ...]:
        """The first call's arrivals and draws (the starting state's too). From a kept
        source, the same arrays for every run: the kernel only reads them, and a point of
        a sweep copying the replication's draws again cost +12% of the sweep's time and
        +175 MB a task (3 December 2026)."""
        source = self.source
        if not source.keep:
            return self._call(None, None, 0)
        if source.first_call is None:
            source.first_call = self._call(None, None, 0)
        else:
            self.arr_off, self.draw_off = source.first_call[1], source.first_call[3]
        return source.first_call

    def next(self, status: int, ws: Workspace, table: np.ndarray) -> tuple[np.ndarray, ...]:
        """The next call's, after a pause (``status``) of the kernel in working room ``ws``
        with the last call's ``table``. The patients inside keep their draws: copied from
        it into the next table's last ``ws.slots`` columns, each at its slot's."""
        st = ws.arrays[8]
        if status == kernel.PAUSED:
            self.window += 1
        elif status == kernel.NEED_DRAWS:
            need = int(st[kernel.S_NEED])
            self.spare[need] = max(SPARE_GROWTH * self.spare[need], 1)
        arr_pos, draw_pos = ws.arrays[W_ARR_POS], ws.arrays[W_DRAW_POS]
        out = self._call(arr_pos - self.arr_off[:-1], draw_pos - self.draw_off[:-1], ws.slots)
        new, draw_off = out[2], out[3]
        pm, free = ws.arrays[2], ws.arrays[3]
        inside = np.ones(ws.slots, dtype=bool)
        inside[free[: st[kernel.S_FREE]]] = False
        slots = np.flatnonzero(inside)
        kept = int(draw_off[-1]) + slots
        new[:, kept] = table[:, pm[slots, kernel.M_DRAW]]
        pm[slots, kernel.M_DRAW] = kept
        arr_pos[:] = out[1][:-1]
        draw_pos[:] = draw_off[:-1]
        return out

    def _call(
        self, arr_taken: np.ndarray | None, draw_taken: np.ndarray | None, kept: int
    ) -> tuple[np.ndarray, ...]:
        source = self.source
        if arr_taken is not None and draw_taken is not None:
            self.arr_base += arr_taken
            self.draw_base += draw_taken
        end = source.ends[self.window]
        # each stream: what the kernel has not taken, up to its first arrival at or after the
        # window's end (the stream's head while the kernel is paused)
        arr_end, more = [], np.zeros(1 + len(source.arrivals))
        more[0] = end
        for k, tape in enumerate(source.arrivals):
            head = tape.first_at_or_after(end)
            arr_end.append(min(head + 1, tape.end))
            more[1 + k] = float(not (tape.ended and arr_end[-1] == tape.end))
        counts = [end_k - int(self.arr_base[k]) for k, end_k in enumerate(arr_end)]
        arr_off = np.zeros(len(counts) + 1, dtype=np.int64)
        arr_off[1:] = np.cumsum(counts)
        arr_t = np.empty(int(arr_off[-1]))
        for k, tape in enumerate(source.arrivals):
            tape.forget(int(self.arr_base[k]))
            tape.read(int(self.arr_base[k]), arr_end[k], arr_t[arr_off[k] : arr_off[k + 1]])
        # each group's draws: an arrival stream's for its arrivals, readmissions' spare
        sizes = np.zeros(len(source.groups), dtype=np.int64)
        for k, (cohort, origin, *_) in enumerate(source.s.streams):
            sizes[cohort * 4 + origin] = counts[k]
        for g, group in enumerate(source.groups):
            if group is not None and g % 4 == Origin.READMISSION:
                sizes[g] = self.spare[g]
            elif group is not None and g % 4 == Origin.INITIAL:
                sizes[g] = group.end - int(self.draw_base[g])
        draw_off = np.zeros(len(sizes) + 1, dtype=np.int64)
        draw_off[1:] = np.cumsum(sizes)
        table = np.empty((source.s.drawn.n_rows, int(draw_off[-1]) + kept))
        for g, group in enumerate(source.groups):
            if group is not None:
                base = int(self.draw_base[g])
                group.forget(base)
                group.read(base, base + int(sizes[g]), table[:, draw_off[g] : draw_off[g + 1]])
        self.arr_off, self.draw_off = arr_off, draw_off
        return arr_t, arr_off, table, draw_off, more


def _readmissions_expected(
    params: ModelParams, attendances: float, patients: float, cohort: int
) -> int:
    """Readmissions' draws to hold for ``patients`` of a cohort (``attendances`` of them
    arriving at A&E, the rest admitted directly): more than they are likely to make (a
    window that needs more pauses for them).

    A re-attendance can follow anyone's leaving, a 30-day emergency readmission only a
    bed's: so those who may take a bed (all but the attendances that go home; an SDEC
    referral counted as admitted) times the larger 30-day risk, and everyone times the
    larger re-attendance risk, each at the riskiest phase, and then the readmissions'
    own. Counting the 30-day risk on every patient had held some 4.7 times what the
    baseline takes (24,900 draws a window for 5,300 used), drawn and, unused, copied at
    every window's end."""
    p_back, p_bed, to_bed = 0.0, 0.0, 0.0
    for i in range(params.n_phases):
        c = params.phase(i).cohorts[cohort]
        p_back = max(p_back, float(c.p_readmit.max()))
        p_bed = max(p_bed, float(c.p_readmit_30d.max()))
        admit = max(c.p_admit, *c.p_admit_by_type) + c.p_sdec
        to_bed = max(to_bed, min(admit, 1.0))
    p = p_back + p_bed
    if p <= 0:
        return 0
    beds = attendances * to_bed + (patients - attendances)
    first = patients * p_back + beds * p_bed
    return int(math.ceil(first / max(1.0 - p, 0.05) * 1.25)) + 256


@dataclass
class Room:
    """How much room the kernel's tables get; grown (for later replications too) when a
    replication needs more."""

    slots: int
    events: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_params(cls, params: ModelParams) -> Room:
        finite = [
            float(v)
            for t in _pool_timelines(params)
            if t is not None
            for v in t.values
            if math.isfinite(v)
        ]
        slots = 1 << max(12, math.ceil(math.log2(2 * sum(finite) + 1024)))
        return cls(slots, 2 * slots + 1024)

    def grow(self, status: int) -> None:
        with self.lock:
            if status == kernel.FULL_PATIENTS:
                self.slots *= 2
                self.events = max(self.events, 2 * self.slots + 1024)
            elif status == kernel.FULL_EVENTS:
                self.events *= 2


@dataclass
class Workspace:
    """The kernel's working room for one thread, reused from replication to replication."""

    slots: int
    events: int
    rows: int
    arrays: tuple[np.ndarray, ...]

    @classmethod
    def make(cls, slots: int, events: int, rows: int, groups: int, streams: int) -> Workspace:
        held = kernel.HELD + 64
        f, i = np.float64, np.int64
        e = np.empty
        arrays = (
            e((slots, kernel.N_TIME), f),  # pt
            e((slots, kernel.N_CODE), i),  # pc
            e((slots, kernel.N_M), i),  # pm
            e(slots, i),  # free
            e((N_POOLS, slots), i),  # qb
            e((3, events), f),  # ht: the near and the far heap, the events due now
            e((3, events), i),  # hs
            e((3, events), i),  # hv
            e(kernel.S_SIZE, i),  # st
            e(N_POOLS, f),  # cap
            e((N_POOLS, 4), i),  # pl
            e((held, kernel.N_TIME), f),  # ft
            e((held, kernel.N_CODE), i),  # fc
            e(held, f),  # bt
            e(held, i),  # bd
            e(groups, i),  # draw_pos
            e(streams, i),  # arr_pos
            e(streams, f),  # head_t
            e(streams, i),  # head_s
            e(rows, i),  # init_slots (the starting state's)
            e(slots, i),  # inside: the slots of those inside at the end
        )
        arrays[8][:] = 0  # st: nothing started
        return cls(slots, events, rows, arrays)


_workspaces = threading.local()


def _workspace(slots: int, events: int, rows: int, groups: int, streams: int) -> Workspace:
    """This thread's working room, grown if it is too small."""
    ws: Workspace | None = getattr(_workspaces, "ws", None)
    if (
        ws is None
        or ws.slots < slots
        or ws.events < events
        or ws.rows < rows
        or len(ws.arrays[15]) != groups
        or len(ws.arrays[16]) != streams
    ):
        ws = Workspace.make(slots, events, max(rows, 1), groups, streams)
        _workspaces.ws = ws
    return ws


W_DRAW_POS, W_ARR_POS = 15, 16
"""Where the workspace holds the groups' and the streams' positions."""


def run_one(
    params: ModelParams,
    s: Scenario,
    seed: int,
    replication: int,
    sink: Sink,
    position: int,
    room: Room,
    keep: bool,
    source: Source | None = None,
) -> Record | None:
    """One replication into ``sink`` at ``position`` (its record too, if ``keep``), window
    by window (:data:`WINDOW_PATIENTS`): the kernel pauses at each window's end, and at a
    cohort's readmissions when their draws run out, and goes on with the next.

    ``source``: the replication's patients, kept for several runs
    (:meth:`CompiledEngine.run_points`); drawn here if not.
    """
    g = sink.geometry
    n_levels = 0
    for _ in range(64):
        reader = Reader(source if source is not None else Source(params, s, seed, replication))
        t = sink.fresh_tally(position, n_levels)
        arr_t, arr_off, table, draw_off, window = reader.first()
        rows = table.shape[1]  # patients the call may create, at most (the starting state's too)
        n_init = len(reader.source.init_kind)
        rec_t = np.full((rows if keep else 0, kernel.N_TIME), np.nan)
        rec_c = np.zeros((rows if keep else 0, kernel.N_CODE), dtype=np.int64)
        out = np.zeros(kernel.O_SIZE, dtype=np.int64)
        esc_t = np.zeros(int(s.esc_marks.sum()) + 2)
        esc_v = np.zeros(len(esc_t))
        slots, events = room.slots, room.events
        ws = _workspace(slots, events, n_init, len(draw_off) - 1, len(arr_off) - 1)
        ws.arrays[8][kernel.S_STARTED] = 0  # st: a new replication
        while True:
            if keep and len(rec_t) < rows:
                rec_t, rec_c = _grown(rec_t, 2 * rows, np.nan), _grown(rec_c, 2 * rows, 0)
            cast(Any, kernel.run_replication)(  # its arguments are many arrays: see the kernel
                *s.arrays(),
                arr_t,
                arr_off,
                s.arr_cohort,
                s.arr_origin,
                table,
                draw_off,
                reader.source.init_kind,
                reader.source.init_k,
                reader.source.init_cohort,
                reader.source.init_left,
                window,
                g.whole,
                g.times,
                t.flows,
                t.hours,
                t.week,
                t.counts,
                t.sums,
                t.level_hours,
                t.level,
                rec_t,
                rec_c,
                esc_t,
                esc_v,
                out,
                *ws.arrays,
            )
            status = int(out[kernel.O_STATUS])
            if status not in (kernel.PAUSED, kernel.NEED_DRAWS):
                break
            arr_t, arr_off, table, draw_off, window = reader.next(status, ws, table)
            rows = int(ws.arrays[8][kernel.S_ROWS]) + table.shape[1]
        if status == kernel.OK:
            escalation = None
            if params.escalation is not None:
                n_log = int(out[kernel.O_ESC_LOG])
                escalation = CapacityLog(esc_t[:n_log].copy(), esc_v[:n_log].copy())
                sink.add_escalation(position, escalation.times_h, escalation.values)
            return _record(params, replication, rec_t, rec_c, out, escalation) if keep else None
        if status in (kernel.NEGATIVE_LEVEL, kernel.NO_DRAWS, kernel.NO_ARRIVALS):
            raise RuntimeError(  # pragma: no cover - a bug, not a shortage
                f"replication {replication}: the kernel stopped ({kernel.STATUS[status]})"
            )
        if status == kernel.FULL_LEVELS:
            n_levels = 2 * t.level_hours.shape[1]
        elif (status, slots, events) == (status, room.slots, room.events):
            room.grow(status)  # another thread may have grown it already
    raise RuntimeError(f"replication {replication}: the kernel kept running out of room")


def _grown(a: np.ndarray, rows: int, fill: float) -> np.ndarray:
    """``a`` with ``rows`` rows, the new ones ``fill``."""
    out = np.full((rows, a.shape[1]), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


def _record(
    params: ModelParams,
    replication: int,
    rec_t: np.ndarray,
    rec_c: np.ndarray,
    out: np.ndarray,
    escalation: CapacityLog | None,
) -> Record:
    n = int(out[kernel.O_ROWS])
    patients: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        if name in FLOAT_COLUMNS:
            patients[name] = rec_t[:n, FLOAT_COLUMNS.index(name)].copy()
        elif name in BOOL_COLUMNS:
            patients[name] = rec_c[:n, CODE_COLUMNS.index(name)] != 0
        else:
            patients[name] = rec_c[:n, CODE_COLUMNS.index(name)].copy()
    names = ["ed", "sdec", "acute", *(s.name if s else "" for s in params.services)]
    names += [g.name if g else "" for g in params.stages]
    capacity = {
        name: CapacityLog(np.asarray(t.times_h, dtype=float), np.asarray(t.values, dtype=float))
        for name, t in zip(names, _pool_timelines(params), strict=True)
        if t is not None
    }
    if escalation is not None:
        capacity["acute"] = _with_escalation(params.beds, escalation)
        capacity["acute_escalation"] = escalation
    use = out[kernel.O_USE : kernel.O_USE + N_POOLS]
    live = {
        "ed": int(out[kernel.O_IN_ED]),
        "acute": int(use[P_BEDS]),
        "acute_queue": int(out[kernel.O_BED_QUEUE]),
        "sdec": int(use[P_SDEC]),
    }
    for k, service in enumerate(params.services):
        if service is not None:
            live[service.name] = int(use[P_UR + k])
    for g in params.stages:
        if g is not None:
            live[g.name] = int(use[P_STAGE + g.index])
    if params.p1_visits is not None:  # patients in P1, and their visits a day
        live["p1"], live["p1_visits"] = int(out[kernel.O_P1_PATIENTS]), int(use[P_UR + 1])
    return Record(params, replication, patients, capacity, live)


def _with_escalation(beds: Timeline, escalation: CapacityLog) -> CapacityLog:
    """The acute beds' capacity log as the SimPy engine keeps it: each dated change and each
    escalation opening or closing, the core beds plus the escalation beds open (at the same
    time, the dated change first: it was scheduled first)."""
    changes = [
        (float(t), 0, float(v)) for t, v in zip(beds.times_h[1:], beds.values[1:], strict=True)
    ]
    changes += [
        (float(t), 1, float(v))
        for t, v in zip(escalation.times_h[1:], escalation.values[1:], strict=True)
    ]
    core, extra = float(beds.values[0]), 0.0
    times, values = [0.0], [core + extra]
    for t, kind, value in sorted(changes, key=lambda c: (c[0], c[1])):
        if kind == 0:
            core = value
        else:
            extra = value
        times.append(t)
        values.append(core + extra)
    return CapacityLog(np.array(times), np.array(values))


class CompiledEngine:
    """The fast engine, as the runner uses it (:class:`sim.engines.base.Engine`)."""

    name = "fast"
    summary = (
        "the compiled event loop: patient for patient as the SimPy engine, replications on threads"
    )
    one_at_a_time = False

    def unsupported(self, params: ModelParams) -> list[str]:
        return []

    def prepare(self, status: Callable[[str], None] | None = None) -> float:
        return prepare(status)

    def run(
        self,
        params: ModelParams,
        seed: int,
        replications: Sequence[int],
        sink: Sink,
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[Record]:
        prepare()
        s = scenario_arrays(params)
        room = Room.for_params(params)
        replications = list(replications)
        n_threads = min(threads or default_threads(), len(replications))

        def one(position: int) -> Record | None:
            return run_one(
                params, s, seed, replications[position], sink, position, room, keep_records
            )

        done = _on_threads(one, len(replications), n_threads)
        return [r for r in done if r is not None]

    def run_points(
        self,
        points: Sequence[ModelParams],
        seed: int,
        replications: Sequence[int],
        sinks: Sequence[Sink],
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[list[Record]]:
        """:meth:`run` for several scenarios that draw the same patients (a sweep's points
        that differ only in what :func:`~sim.model.demand.same_patients` allows), each
        replication's patients drawn once for all of them: each point's results are those
        :meth:`run` gives it, and drawing, a third of a baseline replication, is paid once."""
        prepare()
        arrays = [scenario_arrays(params) for params in points]
        rooms = [Room.for_params(params) for params in points]
        replications = list(replications)
        n_threads = min(threads or default_threads(), len(replications))

        def one(position: int) -> list[Record | None]:
            r = replications[position]
            source = Source(points[0], arrays[0], seed, r, keep=True)
            return [
                run_one(params, s, seed, r, sink, position, room, keep_records, source)
                for params, s, sink, room in zip(points, arrays, sinks, rooms, strict=True)
            ]

        done = _on_threads(one, len(replications), n_threads)
        return [[row[j] for row in done if row[j] is not None] for j in range(len(points))]


def _on_threads(one: Callable[[int], Any], n: int, n_threads: int) -> list[Any]:
    """``[one(i) for i in range(n)]``, on ``n_threads`` threads."""
    if n_threads <= 1:
        return [one(position) for position in range(n)]
    with _short_switch_interval(), ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(one, range(n)))


SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it, while replications run on
threads (Python's default is 0.005). A thread leaving the kernel, or between two numpy
fills of its draws, waits for the GIL while the other thread draws in Python; at the
default it waited long enough that two threads gave 1.55-1.65x one thread on the
baseline, at 0.5 ms 1.7-2.0x (measured 1 December 2026)."""

_switch_lock = threading.Lock()
_switch_users = [0, 0.0]  # runs on threads now; the interval to restore


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """:data:`SWITCH_INTERVAL` for as long as any run is on threads, then the user's own."""
    with _switch_lock:
        if _switch_users[0] == 0:
            _switch_users[1] = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL, _switch_users[1]))
        _switch_users[0] += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users[0] -= 1
            if _switch_users[0] == 0:
                sys.setswitchinterval(_switch_users[1])


_prepared = threading.Event()
_prepare_lock = threading.Lock()


def prepare(status: Callable[[str], None] | None = None) -> float:
    """Compile the kernel and the tally, or load them from numba's cache; the seconds it took.

    ``status`` is told when the kernel will be compiled rather than loaded (the
    first use on a machine, or after an upgrade: 16-48 s measured on 2-core
    machines; loading takes about a second).
    """
    if _prepared.is_set():
        return 0.0
    with _prepare_lock:
        if _prepared.is_set():
            return 0.0
        started = time.perf_counter()
        if status is not None and not _cached():
            status(
                "Preparing the fast engine: compiling it (once on this machine, about half"
                " a minute; later runs load it from the cache)"
            )
        _tiny_run()
        _prepared.set()
        return time.perf_counter() - started


def _cached() -> bool:
    """Whether numba's cache holds the kernel (an index file may still be stale: then it
    compiles after all, and the caller was told it would not)."""
    try:
        index = cast(Any, kernel.run_replication)._cache._cache_file._index_path
        return bool(os.path.exists(index))
    except AttributeError:  # pragma: no cover - numba's internals moved
        return False


def _tiny_run() -> None:
    """One call of each compiled entry point on empty inputs: compiles or loads them."""
    from ..model import tally

    i, b = np.int64, np.bool_
    z = np.zeros
    gi = np.zeros(tally.G_SIZE + 2, dtype=i)
    gi[tally.G_DAYS], gi[tally.G_SEG_OF_SLOT] = 0, tally.G_SIZE
    gf = np.array([0.0, 0.0, 0.0])
    kernel.run_replication(
        np.array([0.0, -1.0, 1.0]),
        np.array([0, 0, 0, 0, 0, 0, 0, 0, -1, 0], dtype=i),
        z(1, dtype=i),
        z((1, 1)),
        z((1, 1)),
        z((1, 1, 5)),
        z((1, 1, 4)),
        -np.ones((1, 2)),
        z(N_POOLS),
        np.ones((N_POOLS, 2), dtype=b),
        z((N_POOLS, 2), dtype=b),
        z(0, dtype=i),
        z(0),
        z(0),
        z(1),
        -np.ones(1, dtype=i),
        z(1, dtype=i),
        np.arange(len(Attr), dtype=i)[:, None],
        np.full((1, 1), Attr.COMMUNITY_EPISODE_H, dtype=i),
        z(0, dtype=b),
        -np.ones((1, 1, 4)),
        z(0),
        z(1, dtype=i),
        z(0, dtype=i),
        z(0, dtype=i),
        z((len(Attr), 0)),
        z(5, dtype=i),
        z(0, dtype=i),
        z(0, dtype=i),
        z(0, dtype=i),
        z(0),
        np.array([np.inf]),
        gi,
        gf,
        z((1, 2), dtype=i),
        z((1, 2)),
        z((6, 1 + 2 * HOURS_PER_WEEK)),
        z((1, 1), dtype=i),
        z((1, tally.N_SUMS)),
        z((0, 1)),
        z(2),
        z((0, kernel.N_TIME)),
        z((0, kernel.N_CODE), dtype=i),
        z(2),
        z(2),
        z(kernel.O_SIZE, dtype=i),
        *Workspace.make(16, 16, 1, 4, 0).arrays,
    )
    tally.tally_rows(
        gi, gf, z((1, 2), dtype=i), z((1, 2)), z((6, 337)), z((1, 1), dtype=i),
        z((1, tally.N_SUMS)), z((0, kernel.N_TIME)), z((0, kernel.N_CODE), dtype=i), 0,
    )  # fmt: skip
    tally.tally_escalation(
        gi, gf, z((1, 2), dtype=i), z((1, 2)), z((6, 337)), z((1, tally.N_SUMS)), z(1), z(1), 0
    )
    tally.tally_bed_events(gi, gf, z((0, 1)), z(2), z(0), z(0, dtype=i), 0)
    tally.tally_close(gi, gf, z((0, 1)), z(2))
    first = z(1, dtype=np.intp)
    tally.day_integrals(z((1, 1, 3), dtype=i), z((1, 1, 3)), 1, first, z((1, 1, 2)))
    tally.period_sums(z((1, 1)), first, z((1, 2)))
    tally.opel_levels(z(1), z(1), z(1, dtype=b), 0.85, 0.92, 1.0, z(1))


def main() -> None:  # pragma: no cover - run by make test before the suite
    """``python -m sim.engines.compiled``: compile (or load) the fast engine; say how long."""
    seconds = prepare()
    print(f"fast engine ready in {seconds:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
