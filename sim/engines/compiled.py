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

The first use on a machine compiles the kernel (about half a minute on a 2-core
machine; see :func:`prepare`), later processes load it from numba's cache in
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
    drawn: Versions
    """:func:`~sim.model.demand.versions` of the scenario, worked out once rather than per
    replication (it cost a fifth of a small system's drawing)."""

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
        drawn=drawn,
    )


@dataclass
class Patients:
    """One replication's patients, drawn before it runs."""

    arr_t: np.ndarray
    arr_off: np.ndarray
    arr_cohort: np.ndarray
    arr_origin: np.ndarray
    draws: np.ndarray
    draw_off: np.ndarray
    init_kind: np.ndarray
    init_k: np.ndarray
    init_cohort: np.ndarray
    init_left: np.ndarray
    readmit_factor: float
    """The readmissions drawn ahead, as a multiple of :func:`_readmissions_expected`."""

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.arr_t,
            self.arr_off,
            self.arr_cohort,
            self.arr_origin,
            self.draws,
            self.draw_off,
            self.init_kind,
            self.init_k,
            self.init_cohort,
            self.init_left,
        )


def _readmissions_expected(params: ModelParams, patients: int, cohort: int) -> int:
    """Readmissions to draw ahead for a cohort: more than its patients are likely to make."""
    p = max(
        float(c.p_readmit.max()) + float(c.p_readmit_30d.max())
        for c in (params.phase(i).cohorts[cohort] for i in range(params.n_phases))
    )
    if p <= 0:
        return 0
    return int(math.ceil(patients * p / max(1.0 - p, 0.05) * 1.25)) + 256


def draw_patients(
    params: ModelParams, s: Scenario, seed: int, replication: int, readmit_factor: float = 1.0
) -> Patients:
    """Every patient of one replication, from the streams of ``(seed, replication)``.

    Arrival times come from :func:`~sim.model.demand.arrival_times` and
    attributes from :func:`~sim.model.demand.draw_attributes`, as the SimPy
    engine draws them; the starting state's (residual durations) in blocks of
    ``BLOCK``, as it does, since those draws depend on the block size.
    """
    streams = Streams(seed, replication)
    times, cohorts, origins = [], [], []
    per_group = np.zeros((len(params.cohorts), 4), dtype=np.int64)
    for cohort, origin, name, rate, cum in s.streams:
        blocks = list(arrival_times(rate, streams(name), cum))
        t = np.concatenate(blocks) if blocks else np.zeros(0)
        times.append(t)
        cohorts.append(cohort)
        origins.append(origin)
        per_group[cohort, origin] += len(t)
    arr_off = np.zeros(len(times) + 1, dtype=np.int64)
    arr_off[1:] = np.cumsum([len(t) for t in times])

    groups = initial_cohorts(params, streams)
    kinds: list[int] = []
    ks: list[int] = []
    init_cohort: list[int] = []
    left: list[float] = []
    for kind, k, members, hours in groups:
        kinds += [_INITIAL_KIND[kind]] * len(members)
        ks += [k] * len(members)
        init_cohort += members.tolist()
        left += [0.0] * len(members) if hours is None else np.asarray(hours, dtype=float).tolist()
    for member in init_cohort:
        per_group[member, Origin.INITIAL] += 1

    for c in params.cohorts:
        patients = int(per_group[c.index].sum())
        per_group[c.index, Origin.READMISSION] = int(
            _readmissions_expected(params, patients, c.index) * readmit_factor
        )
    sizes = per_group.ravel()  # group cohort * 4 + origin
    draw_off = np.zeros(len(sizes) + 1, dtype=np.int64)
    draw_off[1:] = np.cumsum(sizes)
    # attribute by attribute, as draw_attributes writes them: no copy after the draws (the
    # kernel reads a patient's draws from len(Attr) places, each in order)
    rows = s.drawn
    draws = np.empty((rows.n_rows, int(draw_off[-1])))
    for c in params.cohorts:
        for origin in Origin:
            g = c.index * 4 + origin
            n = int(sizes[g])
            if n == 0:
                continue
            out = draws[:, draw_off[g] : draw_off[g + 1]]
            if origin == Origin.INITIAL:  # residual draws depend on the block: draw as SimPy
                for first in range(0, n, BLOCK):
                    block = np.empty((rows.n_rows, BLOCK))
                    draw_attributes(params, c, origin.key, streams, BLOCK, block, rows)
                    out[:, first : first + BLOCK] = block[:, : n - first]
            else:
                draw_attributes(params, c, origin.key, streams, n, out, rows)
    # a starting-state patient waiting for pathway k has the whole episode to come, drawn
    # with the starting state (init_left): it goes in their row, where the kernel reads it
    init_cohort_a = np.array(init_cohort, dtype=np.int64)
    init_kind_a = np.array(kinds, dtype=np.int64)
    init_left_a = np.array(left, dtype=np.float64)
    order = np.argsort(init_cohort_a, kind="stable")  # rows are taken in order, per cohort
    rank = np.empty(len(order), dtype=np.int64)
    ranked = init_cohort_a[order]
    rank[order] = np.arange(len(order)) - np.searchsorted(ranked, ranked, side="left")
    delayed = init_kind_a == _INITIAL_KIND["delayed"]
    at = draw_off[init_cohort_a * 4 + Origin.INITIAL] + rank
    for version in set(rows.episode.ravel().tolist()):  # every version of it
        draws[version, at[delayed]] = init_left_a[delayed]
    return Patients(
        arr_t=np.concatenate(times) if times else np.zeros(0),
        arr_off=arr_off,
        arr_cohort=np.array(cohorts, dtype=np.int64),
        arr_origin=np.array(origins, dtype=np.int64),
        draws=draws,
        draw_off=draw_off,
        init_kind=init_kind_a,
        init_k=np.array(ks, dtype=np.int64),
        init_cohort=init_cohort_a,
        init_left=init_left_a,
        readmit_factor=readmit_factor,
    )


@dataclass
class Room:
    """How much room the kernel's tables get; grown (for later replications too) when a
    replication needs more."""

    slots: int
    events: int
    readmit_factor: float = 1.0
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
            elif status == kernel.NO_DRAWS:
                self.readmit_factor *= 2


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
            e((2, events), f),  # ht: the near and the far heap
            e((2, events), i),  # hs
            e((2, events), i),  # hv
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
            e(rows, i),  # slot_of_row
        )
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


def run_one(
    params: ModelParams,
    s: Scenario,
    seed: int,
    replication: int,
    sink: Sink,
    position: int,
    room: Room,
    keep: bool,
    patients: Patients | None = None,
) -> Record | None:
    """One replication into ``sink`` at ``position`` (its record too, if ``keep``).

    ``patients``: the replication's, drawn already (:meth:`CompiledEngine.run_points`);
    drawn here if not, or if they hold fewer readmissions than the room asks.
    """
    g = sink.geometry
    n_levels = 0
    for _ in range(64):
        if patients is None or patients.readmit_factor < room.readmit_factor:
            patients = draw_patients(params, s, seed, replication, room.readmit_factor)
        t = sink.fresh_tally(position, n_levels)
        n_rows = patients.draws.shape[1] if keep else 0
        rec_t = np.full((n_rows, kernel.N_TIME), np.nan)
        rec_c = np.zeros((n_rows, kernel.N_CODE), dtype=np.int64)
        out = np.zeros(kernel.O_SIZE, dtype=np.int64)
        esc_t = np.zeros(int(s.esc_marks.sum()) + 2)
        esc_v = np.zeros(len(esc_t))
        slots, events = room.slots, room.events
        ws = _workspace(
            slots,
            events,
            patients.draws.shape[1],
            len(patients.draw_off) - 1,
            len(patients.arr_off) - 1,
        )
        cast(Any, kernel.run_replication)(  # its arguments are many arrays: see the kernel
            *s.arrays(),
            *patients.arrays(),
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
        if status == kernel.OK:
            escalation = None
            if params.escalation is not None:
                n_log = int(out[kernel.O_ESC_LOG])
                escalation = CapacityLog(esc_t[:n_log].copy(), esc_v[:n_log].copy())
                sink.add_escalation(position, escalation.times_h, escalation.values)
            return _record(params, replication, rec_t, rec_c, out, escalation) if keep else None
        if status == kernel.NEGATIVE_LEVEL:  # pragma: no cover - a bug, not a shortage
            raise RuntimeError(f"replication {replication}: acute occupancy fell below 0")
        if status == kernel.FULL_LEVELS:
            n_levels = 2 * t.level_hours.shape[1]
        elif (status, slots, events) == (status, room.slots, room.events):
            room.grow(status)  # another thread may have grown it already
    raise RuntimeError(f"replication {replication}: the kernel kept running out of room")


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
            factor = max(room.readmit_factor for room in rooms)
            patients = draw_patients(points[0], arrays[0], seed, r, factor)
            return [
                run_one(params, s, seed, r, sink, position, room, keep_records, patients)
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
    first use on a machine, or after an upgrade: about half a minute on a 2-core
    machine; loading takes about a second).
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


def main() -> None:  # pragma: no cover - run by make test before the suite
    """``python -m sim.engines.compiled``: compile (or load) the fast engine; say how long."""
    seconds = prepare()
    print(f"fast engine ready in {seconds:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
