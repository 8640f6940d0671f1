"""The vectorised numpy engine: many replications at once, hour by hour.

Design. Replications advance together in steps of one hour (``STEP_H``). The
state of every replication lives in numpy arrays with a leading replication
axis: a table of live patients (one row per patient, recycled when the
patient leaves), a FIFO queue per pool (a ring buffer per replication), the
places in use, and calendars of future events (ED decisions, SDEC and
community episode ends, medically-fit times, P0 discharges, readmissions),
kept as sorted arrays for the current day and an unsorted pool beyond it.

Within an hour, each pool is solved in closed form rather than event by
event. A first-come-first-served pool serves its queue in order; the ``j``-th
patient served takes the ``j``-th place to come free, so its start is
``max(request_j, slot_j)`` where the slots are the releases carried over from
the last hour, the places free at the start of the hour, then the hour's
releases in time order. Every timestamp is therefore exact, not rounded to the
step. Places freed again within the hour by patients who start in it (a
decision in A&E in under an hour, a P0 stay ending in the hour it began) are
found by fixed-point iteration: more places only bring starts forward, so it
settles in a few rounds. Schedules (SDEC, community acceptance, ward discharge
hours) open and close on whole hours, so an hour is wholly open or closed and
gating is exact too; capacity changes fall on midnights. Loss pools (urgent
response, SDEC) and diversion are decided request by request in time order
within the hour.

Acute beds and P1-P3 community places are coupled within the hour (a patient
leaving for a community place frees a bed at that moment; one who takes a bed
and is fit within the hour joins a community queue, or is discharged and frees
the bed again; a community episode may end within the hour it began), so they
are solved together by one fixed point over those in-hour events
(``FastEngine._acute``); nothing freed within the hour is carried to the next.

What remains approximate, and only within one hour: an SDEC chair or urgent
response place taken and freed within the same hour is offered again only in
the next hour. A scenario in which boarders keep their A&E cubicle
(``ed.boarding_holds_cubicle = true``) couples A&E and beds within the hour in
a way this scheme does not solve, so the engine refuses it, naming the key.

Patients and their attributes come from the same named streams as the SimPy
engine (:mod:`sim.demand`): the same seed gives the same arrivals and the
same patients, so with deterministic durations and unlimited capacity both
engines give identical per-patient times (a test holds them to it).

Metrics are accumulated as patients leave, by the same code that serves the
SimPy engine (:class:`sim.metrics.MetricAccumulator`), so memory does not
grow with the horizon. With ``collect=True`` the engine also returns one
:class:`~sim.record.Record` per replication, for invariant checks and tests.

Only numpy is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..clock.schedule import Schedule
from ..codes import EPS_HOURS, HOURS_PER_DAY, HOURS_PER_WEEK, EdOutcome, Origin
from ..errors import ScenarioError
from ..model.demand import (
    ATTRIBUTES,
    arrival_times,
    cumulative_rate,
    draw_attributes,
    initial_cohorts,
)
from ..model.record import BOOL_COLUMNS, COLUMNS, FLOAT_COLUMNS, CapacityLog, Record
from ..model.sink import Sink
from ..rng.streams import Streams
from ..scenario.params import ModelParams, Timeline

STEP_H = 1.0
"""The engine's step: one hour, the resolution of every schedule."""

ATTRIBUTE_BLOCK = 1024
"""Fewest patients' attributes drawn at a time per (replication, cohort, origin)."""

ED, DIRECT, READMISSION, INITIAL = Origin
HOME, SDEC, ADMIT = EdOutcome.HOME, EdOutcome.SDEC, EdOutcome.ADMIT
_INT_DEFAULTS = {
    "rep": 0,
    "cohort": 0,
    "origin": 0,
    "serial": -1,
    "parent": -1,
    "avoid_lost": 0,
    "ed_outcome": -1,
    "pathway": -1,
}


# --- small vectorised helpers --------------------------------------------------------------


def _rep_keys(rep: np.ndarray, n_reps: int) -> np.ndarray:
    """Replication (or group) numbers in the narrowest integer type: numpy sorts
    16-bit integers stably by radix, in linear time."""
    return rep.astype(np.int16 if n_reps < 2**15 else np.int32, copy=False)


def by_rep(
    rep: np.ndarray, t: np.ndarray, n_reps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order rows by (replication, time), stably: (order, counts per replication, rank).

    Ties in both keep their input order. Rows often come already in time order
    (arrivals, calendars), and then one linear radix sort by replication does.
    """
    n = len(t)
    if n > 1:
        if bool((t[1:] >= t[:-1]).all()):
            order = np.argsort(_rep_keys(rep, n_reps), kind="stable")
        else:
            by_t = np.argsort(t, kind="stable")
            order = by_t[np.argsort(_rep_keys(rep[by_t], n_reps), kind="stable")]
    else:
        order = np.arange(n)
    r = rep[order]
    counts = np.bincount(r, minlength=n_reps)
    first = np.cumsum(counts) - counts
    rank = np.arange(n) - first[r]
    return order, counts, rank


def padded(
    r: np.ndarray, rank: np.ndarray, values: np.ndarray, n_reps: int, fill: float
) -> np.ndarray:
    """Rows (already ordered by replication) as an [R, K] array padded with ``fill``."""
    width = int(rank.max()) + 1 if len(rank) else 0
    out = np.full((n_reps, width), fill, dtype=values.dtype if len(values) else float)
    out[r, rank] = values
    return out


class Queue:
    """One FIFO queue of patient ids per replication (ring buffers)."""

    def __init__(self, n_reps: int, size: int = 16) -> None:
        self.ids = np.full((n_reps, size), -1, dtype=np.int64)
        self.head = np.zeros(n_reps, dtype=np.int64)
        self.len = np.zeros(n_reps, dtype=np.int64)

    @property
    def size(self) -> int:
        return self.ids.shape[1]

    def copy(self) -> Queue:
        q = Queue.__new__(Queue)
        q.ids, q.head, q.len = self.ids.copy(), self.head.copy(), self.len.copy()
        return q

    def _grow(self, need: int) -> None:
        size = self.size
        new = max(2 * size, need)
        cols = (self.head[:, None] + np.arange(size)) % size
        ids = np.full((len(self.head), new), -1, dtype=np.int64)
        ids[:, :size] = np.take_along_axis(self.ids, cols, axis=1)
        self.ids, self.head = ids, np.zeros_like(self.head)

    def push(self, r: np.ndarray, rank: np.ndarray, ids: np.ndarray, counts: np.ndarray) -> None:
        """Append ids (ordered by replication, ``rank`` within it) at the tails."""
        if not len(ids):
            return
        need = int((self.len + counts).max())
        if need > self.size:
            self._grow(need)
        self.ids[r, (self.head[r] + self.len[r] + rank) % self.size] = ids
        self.len += counts

    def push_in_order(self, r: np.ndarray, ids: np.ndarray, key: np.ndarray) -> None:
        """Add ids, keeping each touched queue in order of ``key`` (per patient id)."""
        if not len(ids):
            return
        n_reps = len(self.head)
        counts = np.bincount(r, minlength=n_reps)
        rows = np.flatnonzero(counts)
        width = int(self.len[rows].max()) if len(rows) else 0
        cols = (self.head[rows, None] + np.arange(width)) % self.size
        old = np.take_along_axis(self.ids[rows], cols, axis=1)
        old_r = np.repeat(rows, width)
        old_ids = old.ravel()
        keep = np.arange(width)[None, :].repeat(len(rows), 0).ravel() < np.repeat(
            self.len[rows], width
        )
        all_r = np.concatenate((old_r[keep], r))
        all_ids = np.concatenate((old_ids[keep], ids))
        order, n, rank = by_rep(all_r, key[all_ids], n_reps)
        self.len[rows] = 0
        self.push(all_r[order], rank, all_ids[order], n)

    def pop(self, n: np.ndarray) -> None:
        self.head = (self.head + n) % self.size
        self.len -= n

    def push_one(self, mask: np.ndarray, ids: np.ndarray) -> None:
        if not mask.any():
            return
        if int(self.len.max()) + 1 > self.size:
            self._grow(int(self.len.max()) + 1)
        r = np.flatnonzero(mask)
        self.ids[r, (self.head[r] + self.len[r]) % self.size] = ids[r]
        self.len[r] += 1

    def pop_one(self, mask: np.ndarray) -> np.ndarray:
        r = np.flatnonzero(mask)
        out = np.full(len(self.head), -1, dtype=np.int64)
        out[r] = self.ids[r, self.head[r]]
        self.head[r] = (self.head[r] + 1) % self.size
        self.len[r] -= 1
        return out


class Events:
    """Future events of one kind (time, patient id), popped in time order.

    Events due in the current day are kept sorted; later ones wait, unsorted,
    until their day comes; events scheduled into the current day go to a
    small side list.
    """

    def __init__(self) -> None:
        self.far_t: list[np.ndarray] = []
        self.far_id: list[np.ndarray] = []
        self.near_t = np.empty(0)
        self.near_id = np.empty(0, dtype=np.int64)
        self.pos = 0
        self.new_t = np.empty(0)
        self.new_id = np.empty(0, dtype=np.int64)
        self.window_end = 0.0

    def push(self, t: np.ndarray, ids: np.ndarray) -> None:
        if not len(t):
            return
        near = t < self.window_end
        if near.any():
            self.new_t = np.concatenate((self.new_t, t[near]))
            self.new_id = np.concatenate((self.new_id, ids[near]))
        if not near.all():
            self.far_t.append(t[~near])
            self.far_id.append(ids[~near])

    def pop(self, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        """Every event before ``t_end``: (ids, times)."""
        stop = self.pos + int(np.searchsorted(self.near_t[self.pos :], t_end, side="left"))
        ids, t = self.near_id[self.pos : stop], self.near_t[self.pos : stop]
        self.pos = stop
        if len(self.new_t):
            due = self.new_t < t_end
            if due.any():
                ids = np.concatenate((ids, self.new_id[due]))
                t = np.concatenate((t, self.new_t[due]))
                self.new_t, self.new_id = self.new_t[~due], self.new_id[~due]
        return ids, t

    def advance(self, window_end: float) -> None:
        """Start a new day: bring the events before ``window_end`` forward, sorted."""
        far_t = [self.near_t[self.pos :], self.new_t, *self.far_t]
        far_id = [self.near_id[self.pos :], self.new_id, *self.far_id]
        t, ids = np.concatenate(far_t), np.concatenate(far_id)
        near = t < window_end
        order = np.argsort(t[near], kind="stable")
        self.near_t, self.near_id, self.pos = t[near][order], ids[near][order], 0
        self.new_t, self.new_id = np.empty(0), np.empty(0, dtype=np.int64)
        self.far_t, self.far_id = [t[~near]], [ids[~near]]
        self.window_end = window_end


class AttributeStore:
    """Pre-drawn patient attributes for one origin, per (replication, cohort).

    Group ``g = replication * n_cohorts + cohort`` owns rows ``off[g] ..
    off[g] + size[g]`` of ``data`` (one row per undrawn patient, one column per
    field of ``ATTRIBUTES``); its next patient is row ``off[g] + pos[g]``. Each
    cohort has its own block size, so a rare cohort does not hold as many rows
    as a common one. A group is refilled from its own streams when it runs
    short, so replications never share draws.
    """

    def __init__(
        self,
        params: ModelParams,
        origin: str,
        streams: Sequence[Streams],
        blocks: Sequence[int],
    ) -> None:
        self.params = params
        self.origin = origin
        self.streams = streams
        self.n_cohorts = len(params.cohorts)
        self.blocks = list(blocks)
        self.size = np.tile(np.asarray(self.blocks, dtype=np.int64), len(streams))
        self.off = np.cumsum(self.size) - self.size
        self.data = np.zeros((int(self.size.sum()), len(ATTRIBUTES)))
        n = len(self.size)
        self.pos = np.zeros(n, dtype=np.int64)
        self.fill = np.zeros(n, dtype=np.int64)

    def _refill(self, g: int, need: int) -> None:
        r, k = divmod(g, self.n_cohorts)
        keep = int(self.fill[g] - self.pos[g])
        target = max(self.blocks[k], need + keep)
        if target > self.size[g]:  # rare: a burst larger than a block
            extra = max(int(self.size[g]), target - int(self.size[g]))
            at = int(self.off[g] + self.size[g])
            self.data = np.insert(self.data, at, np.zeros((extra, len(ATTRIBUTES))), axis=0)
            self.size[g] += extra
            self.off[g + 1 :] += extra
        n_new = target - keep
        drawn = draw_attributes(
            self.params, self.params.cohorts[k], self.origin, self.streams[r], n_new
        )
        o, p = int(self.off[g]), int(self.pos[g])
        block = self.data[o : o + target]
        block[:keep] = self.data[o + p : o + p + keep]
        for j, f in enumerate(ATTRIBUTES):
            block[keep:, j] = getattr(drawn, f)
        self.pos[g], self.fill[g] = 0, target

    def take(self, group: np.ndarray, rank: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Attribute rows [n, len(ATTRIBUTES)] for patients of ``group`` (``rank`` within it)."""
        short = np.flatnonzero(self.fill - self.pos < counts)
        for g in short.tolist():
            self._refill(g, int(counts[g]))
        idx = (self.off + self.pos)[group] + rank
        self.pos += counts
        return self.data[idx]


class ArrivalFeed:
    """Arrival times of one NHPP stream, for every replication, a window at a time."""

    def __init__(self, rate_h: np.ndarray, streams: Sequence[Streams], name: str) -> None:
        cum = cumulative_rate(rate_h)  # one for all replications: it is as long as the run
        self.gens = [arrival_times(rate_h, s(name), cum) for s in streams]
        self.carry = [np.empty(0) for _ in streams]
        self.live = [True] * len(streams)

    def until(self, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        reps, times = [], []
        for r, gen in enumerate(self.gens):
            buf = self.carry[r]
            while self.live[r] and (not len(buf) or buf[-1] < t_end):
                try:
                    buf = np.concatenate((buf, next(gen)))
                except StopIteration:
                    self.live[r] = False
            k = int(np.searchsorted(buf, t_end, side="left"))
            if k:
                times.append(buf[:k])
                reps.append(np.full(k, r, dtype=np.int64))
            self.carry[r] = buf[k:]
        if not times:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(reps), np.concatenate(times)


def releases(r: np.ndarray, t: np.ndarray, n_reps: int) -> tuple[np.ndarray, np.ndarray]:
    """Release times as [R, K] sorted per replication (inf padded), and counts.

    Only the times matter here, not who frees the place, so rows are grouped by
    replication (a linear radix sort) and each row's few times sorted in place.
    """
    n = len(t)
    if n == 0:
        return np.empty((n_reps, 0)), np.zeros(n_reps)
    order = np.argsort(_rep_keys(r, n_reps), kind="stable")
    ro = r[order]
    counts = np.bincount(ro, minlength=n_reps)
    first = np.cumsum(counts) - counts
    rank = np.arange(n) - first[ro]
    out = np.full((n_reps, int(counts.max())), np.inf)
    out[ro, rank] = t[order]
    out.sort(axis=1)
    return out, counts.astype(float)


def hourly_capacity(timeline: Timeline, n_hours: int) -> np.ndarray:
    hours = np.arange(n_hours, dtype=float)
    idx = np.searchsorted(timeline.times_h, hours + EPS_HOURS, side="right") - 1
    return timeline.values[np.maximum(idx, 0)]


def hourly_open(schedule: Schedule | None, offset: int, n_hours: int) -> np.ndarray:
    if schedule is None:
        return np.ones(n_hours, dtype=bool)
    return schedule.open_hours[(offset + np.arange(n_hours)) % HOURS_PER_WEEK]


@dataclass
class FifoPlaces:
    """Places in use and a FIFO queue, per replication; capacity and opening per hour."""

    name: str
    capacity_h: np.ndarray
    open_h: np.ndarray
    in_use: np.ndarray
    queue: Queue

    @classmethod
    def make(cls, name: str, capacity_h: np.ndarray, open_h: np.ndarray, n_reps: int) -> FifoPlaces:
        return cls(name, capacity_h, open_h, np.zeros(n_reps), Queue(n_reps))

    def plan(
        self,
        h: int,
        t0: float,
        rel: np.ndarray,
        rel_first: np.ndarray,
        n_rel: np.ndarray,
        request_t: np.ndarray,
        queue: Queue | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Who in the queue starts, and when, given the releases ``rel`` (no change made).

        ``rel`` holds the release times ordered by (replication, time); those of
        replication ``r`` start at ``rel_first[r]``, ``n_rel[r]`` of them. Work is
        over the patients who start only (flat, not padded to the longest row).
        ``queue`` replaces the pool's own queue (a copy with patients added).
        Returns (patient id, start time, number started per row).
        """
        n_reps = len(self.in_use)
        if not self.open_h[h]:
            return _NONE_I, _NONE_F, np.zeros(n_reps, dtype=np.int64)
        q = self.queue if queue is None else queue
        cap = self.capacity_h[h]
        in_use = self.in_use
        free = np.maximum(cap - in_use, 0.0)
        deficit = np.maximum(in_use - cap, 0.0)
        slots = free + np.maximum(n_rel - deficit, 0.0)
        m = np.minimum(q.len, slots).astype(np.int64)
        total = int(m.sum())
        if total == 0:
            return _NONE_I, _NONE_F, m
        rows = np.repeat(np.arange(n_reps), m)
        j = np.arange(total) - (np.cumsum(m) - m)[rows]
        who = q.ids[rows, (q.head[rows] + j) % q.size]
        # the j-th place to come free: releases carried over from the last hour
        # (before t0), then the places free now (at t0), then this hour's releases;
        # the first `deficit` releases only bring a cut capacity down
        free_r = np.minimum(free, m).astype(np.int64)[rows]
        skip = deficit.astype(np.int64)[rows]
        before = np.bincount(
            np.repeat(np.arange(n_reps), n_rel.astype(np.int64))[rel < t0], minlength=n_reps
        )
        early = np.maximum(before[rows] - skip, 0)
        k = np.where(j < early, skip + j, skip + j - free_r)
        n_r = n_rel.astype(np.int64)[rows]
        from_rel = np.full(total, np.inf)
        has = (k >= 0) & (k < n_r)
        if len(rel):
            from_rel[has] = rel[rel_first[rows[has]] + k[has]]
        slot = np.where((j >= early) & (j < early + free_r), t0, from_rel)
        start = np.maximum(request_t[who], slot)
        return who, start, m

    def plan_from(
        self,
        h: int,
        t0: float,
        rel_r: np.ndarray,
        rel_t: np.ndarray,
        request_t: np.ndarray,
        queue: Queue | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`plan` with releases given as (replication, time) rows in any order."""
        if not self.open_h[h] or not (self.queue if queue is None else queue).len.any():
            return _NONE_I, _NONE_F, np.zeros(len(self.in_use), dtype=np.int64)
        order, n_rel, _rank = by_rep(rel_r, rel_t, len(self.in_use))
        return self.plan(h, t0, rel_t[order], np.cumsum(n_rel) - n_rel, n_rel, request_t, queue)

    def serve(
        self,
        h: int,
        t0: float,
        rel_rep: np.ndarray,
        rel_t: np.ndarray,
        request_t: np.ndarray,
        rep_of: np.ndarray,
        in_hour: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
        rounds: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Serve the queue with this hour's releases, and the places that those who
        start now free again within the hour (``in_hour(who, start)`` gives their
        ids and release times). Found by fixed-point iteration: more places only
        bring starts forward, so it settles in a few rounds. Returns (ids, starts,
        ids whose in-hour release is already counted).

        Each unsettled round adds at least one in-hour release by a patient who
        starts this hour, so it settles within (queue length + 1) rounds; by
        default it runs until it does (a cap of a few rounds left a place idle
        while the queue waited when stays of under an hour chained).
        """
        n_reps = len(self.in_use)
        if not self.open_h[h] or not self.queue.len.any():
            # nobody can start: only the releases change the places in use
            if len(rel_rep):
                self.in_use = self.in_use - np.bincount(rel_rep, minlength=n_reps)
            return _NONE_I, _NONE_F, _NONE_I
        extra_ids, extra_t = _NONE_I, _NONE_F
        if rounds is None:
            rounds = int(self.queue.len.sum()) + 2
        for _round in range(rounds):
            all_r = np.concatenate((rel_rep, rep_of[extra_ids]))
            all_t = np.concatenate((rel_t, extra_t))
            order, n_rel, _rank = by_rep(all_r, all_t, n_reps)
            who, start, m = self.plan(
                h, t0, all_t[order], np.cumsum(n_rel) - n_rel, n_rel, request_t
            )
            new_ids, new_t = in_hour(who, start)
            if len(new_t) == len(extra_t) and np.array_equal(np.sort(new_t), np.sort(extra_t)):
                break
            if (
                not len(extra_t)
                and bool((m == self.queue.len).all())
                and bool((start <= request_t[who]).all())
            ):
                # everyone queued starts the moment they asked: places freed again
                # within the hour cannot change any start, so this is the fixed point
                break
            extra_ids, extra_t = new_ids, new_t
        # count every real release this hour (a place freed earlier than planned
        # in an unsettled round is simply free from the next hour)
        n_all = np.bincount(np.concatenate((rel_rep, rep_of[new_ids])), minlength=n_reps)
        self.in_use = self.in_use - n_all + m
        self.queue.pop(m)
        return who, start, new_ids


_NONE_I = np.empty(0, dtype=np.int64)
_NONE_F = np.empty(0)


def _same(a_ids: np.ndarray, a_t: np.ndarray, b_ids: np.ndarray, b_t: np.ndarray) -> bool:
    """Whether two sets of (patient id, time) events are equal."""
    if len(a_ids) != len(b_ids):
        return False
    if not len(a_ids):
        return True
    oa, ob = np.argsort(a_ids), np.argsort(b_ids)
    return bool(np.array_equal(a_ids[oa], b_ids[ob]) and np.array_equal(a_t[oa], b_t[ob]))


UNSUPPORTED = {
    "ed.boarding_holds_cubicle": (
        lambda p: p.boarding_holds_cubicle,
        "admitted patients who keep their A&E cubicle while they board couple A&E and beds "
        "within the hour in a way the fast engine does not solve; use engine 'simpy'",
    ),
}


def unsupported(params: ModelParams) -> list[str]:
    """The scenario's features the fast engine refuses (each with the reason)."""
    return [f"{key} = true: {why}" for key, (used, why) in UNSUPPORTED.items() if used(params)]


class FastEngine:
    """Replications of one scenario, vectorised across replications."""

    def __init__(
        self,
        params: ModelParams,
        seed: int,
        replications: Sequence[int],
        sink: Sink | None = None,
        collect: bool = False,
    ) -> None:
        problems = unsupported(params)
        if problems:
            raise ScenarioError(
                [f"{params.scenario_name}: the fast engine cannot run {p}" for p in problems]
            )
        self.p = params
        self.replications = list(replications)
        self.R = R = len(self.replications)
        self.streams = [Streams(seed, r) for r in self.replications]
        cal = params.calendar
        self.n_hours = cal.n_hours
        self.end_h = cal.end_h
        self.offset = cal.week_offset_h
        self.sink = sink
        self.collect = collect
        self.collected: list[dict[str, np.ndarray]] = []
        self.fy_index = cal.hourly("fy_index")
        n = self.n_hours
        off = self.offset
        self.ed = FifoPlaces.make("ed", np.full(n, params.ed_cubicles), np.ones(n, bool), R)
        self.beds = FifoPlaces.make("acute", hourly_capacity(params.beds, n), np.ones(n, bool), R)
        self.sdec_cap = hourly_capacity(params.sdec_chairs, n)
        self.sdec_open = hourly_open(params.sdec_open, off, n)
        self.sdec_in_use = np.zeros(R)
        self.services: list[FifoPlaces | None] = []
        for s in params.services:
            if s is None:
                self.services.append(None)
            else:
                self.services.append(
                    FifoPlaces.make(
                        s.name, hourly_capacity(s.capacity, n), hourly_open(s.accepts, off, n), R
                    )
                )
        self.discharge_wait = params.discharge_wait_h.astype(float)
        # live patients
        self.cap = 0
        self.attr = np.zeros((0, len(ATTRIBUTES)))
        self.cols: dict[str, np.ndarray] = {}
        self.free = np.empty(0, dtype=np.int64)
        self._grow(max(1024, 64 * R))
        self.serial = np.zeros(R, dtype=np.int64)
        self.in_ed = np.zeros(R, dtype=np.int64)
        # calendars
        self.ev = {
            k: Events()
            for k in ("decision", "sdec_end", "ur_end", "fit", "p0_out", "comm_end", "readmit")
        }
        self.cubicle_later = (_NONE_I, _NONE_F)  # cubicle releases carried to the next hour
        self.fit_later = (_NONE_I, _NONE_F)  # the starting state's delayed patients
        self.acute_events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # demand
        self.feeds: list[tuple[int, int, ArrivalFeed]] = []
        for c in params.cohorts:
            if c.ed_rate_h.any():
                self.feeds.append(
                    (c.index, ED, ArrivalFeed(c.ed_rate_h, self.streams, f"arrivals/{c.name}"))
                )
            if c.direct_rate_h.any():
                self.feeds.append(
                    (
                        c.index,
                        DIRECT,
                        ArrivalFeed(c.direct_rate_h, self.streams, f"direct_arrivals/{c.name}"),
                    )
                )
        # draw about two weeks of each group's patients at a time, and at least
        # ATTRIBUTE_BLOCK (a draw costs about 100 us before its first patient)
        weekly = {
            ED: [c.ed_rate_h[: 24 * 7 * 2].sum() / 2 for c in params.cohorts],
            DIRECT: [c.direct_rate_h[: 24 * 7 * 2].sum() / 2 for c in params.cohorts],
        }
        least = {ED: ATTRIBUTE_BLOCK, DIRECT: ATTRIBUTE_BLOCK, READMISSION: ATTRIBUTE_BLOCK // 2}
        blocks = {
            origin: [int(min(max(2 * w, least[origin]), 4096)) for w in weekly[origin]]
            for origin in (ED, DIRECT)
        }
        blocks[READMISSION] = [least[READMISSION]] * len(params.cohorts)
        blocks[INITIAL] = [64] * len(params.cohorts)
        self.stores: dict[int, AttributeStore] = {
            origin: AttributeStore(params, origin.key, self.streams, blocks[origin])
            for origin in (ED, DIRECT, READMISSION, INITIAL)
        }
        self.cohort_p_admit = np.array([c.p_admit for c in params.cohorts])
        self.cohort_p_sdec = np.array([c.p_sdec for c in params.cohorts])
        self.p_readmit = np.array([c.p_readmit for c in params.cohorts])  # [cohort, route]
        self.avoid_share = [c.avoidable_by_fy for c in params.cohorts]
        self.arrivals = (_NONE_I, _NONE_F, _NONE_I, _NONE_I)  # rep, t, cohort, origin (sorted by t)
        self.arrivals_until = 0.0

    # --- patient table ---------------------------------------------------------------------

    def _grow(self, cap: int) -> None:
        old = self.cap
        for name in FLOAT_COLUMNS:
            self._extend(name, cap, np.nan, float)
        attr = np.zeros((cap, len(ATTRIBUTES)))
        if self.cap:
            attr[: self.cap] = self.attr
        self.attr = attr
        for j, name in enumerate(ATTRIBUTES):
            self.cols["pathway_attr" if name == "pathway" else name] = attr[:, j]
        for name, default in _INT_DEFAULTS.items():
            self._extend(name, cap, default, np.int64)
        for name in (*BOOL_COLUMNS, "done", "arrived", "_mark"):
            self._extend(name, cap, False, bool)
        self.free = np.concatenate((np.arange(cap - 1, old - 1, -1, dtype=np.int64), self.free))
        self.cap = cap

    def _extend(self, name: str, cap: int, default: float | bool, dtype: type) -> None:
        new: np.ndarray = np.full(cap, default, dtype=dtype)
        if name in self.cols:
            new[: self.cap] = self.cols[name]
        self.cols[name] = new

    def _alloc(self, n: int) -> np.ndarray:
        if n > len(self.free):
            self._grow(max(2 * self.cap, self.cap + n))
        ids = self.free[len(self.free) - n :][::-1]
        self.free = self.free[: len(self.free) - n]
        return ids

    def _register(self, ids: np.ndarray, rep: np.ndarray, t: np.ndarray) -> None:
        """Serial numbers in arrival order within each replication."""
        order, counts, rank = by_rep(rep, t, self.R)
        self.cols["serial"][ids[order]] = self.serial[rep[order]] + rank
        self.cols["arrived"][ids] = True
        self.serial += counts

    def _new(self, rep: np.ndarray, t: np.ndarray, cohort: np.ndarray, origin: int) -> np.ndarray:
        """New patients (rows already in time order within each replication)."""
        ids = self._alloc(len(rep))
        c = self.cols
        c["rep"][ids] = rep
        c["cohort"][ids] = cohort
        c["origin"][ids] = origin
        c["t_arrival"][ids] = t
        return ids

    def _attributes(self, ids: np.ndarray, origin: int) -> np.ndarray:
        """Give patients their attributes, in arrival order per (replication, cohort).

        Returns each patient's ``u_avoid`` (used on arrival only).
        """
        if not len(ids):
            return _NONE_F
        c = self.cols
        n_cohorts = len(self.p.cohorts)
        group = c["rep"][ids] * n_cohorts + c["cohort"][ids]
        order, counts, rank = by_rep(group, c["t_arrival"][ids], self.R * n_cohorts)
        rows = self.stores[origin].take(group[order], rank, counts)
        self.attr[ids[order]] = rows
        u_avoid = np.empty(len(ids))
        u_avoid[order] = rows[:, 0]
        return u_avoid

    def _done(self, ids: np.ndarray) -> None:
        self.cols["done"][ids] = True

    def _flush(self, final: bool = False) -> None:
        c = self.cols
        if final:
            ids = np.flatnonzero(c["arrived"])
        else:
            ids = np.flatnonzero(c["done"])
        if len(ids):
            rows = {name: c[name][ids] for name in COLUMNS}
            rows["parent"] = c["parent"][ids]
            rep = c["rep"][ids]
            if self.sink is not None:
                self.sink.add_patients(rep, rows)
            if self.collect:
                rows = dict(rows)
                rows["_rep"] = rep
                rows["_serial"] = c["serial"][ids]
                self.collected.append(rows)
        if final:
            return
        for name in FLOAT_COLUMNS:
            c[name][ids] = np.nan
        for name, default in _INT_DEFAULTS.items():
            c[name][ids] = default
        for name in (*BOOL_COLUMNS, "done", "arrived"):
            c[name][ids] = False
        self.free = np.concatenate((self.free, ids))

    # --- readmissions ----------------------------------------------------------------------

    def _maybe_readmit(self, ids: np.ndarray, route: np.ndarray | int) -> None:
        """Schedule re-attendances after discharge home by ``route`` (0-3 P0-P3, 4 urgent)."""
        self._done(ids)
        if not len(ids) or (isinstance(route, int) and route < 0):
            return  # route -1 (home from A&E or SDEC) never readmits
        c = self.cols
        if isinstance(route, int):
            p = self.p_readmit[c["cohort"][ids], route]
        else:
            p = np.where(route >= 0, self.p_readmit[c["cohort"][ids], np.maximum(route, 0)], 0.0)
        back = c["u_readmit"][ids] < p
        if not back.any():
            return
        parents = ids[back]
        home = self._home_time(parents)
        t = home + c["readmit_delay_h"][parents]
        keep = t < self.end_h
        parents, t = parents[keep], t[keep]
        kids = self._new(c["rep"][parents], t, c["cohort"][parents], READMISSION)
        c["parent"][kids] = c["serial"][parents]
        self.ev["readmit"].push(t, kids)

    def _home_time(self, ids: np.ndarray) -> np.ndarray:
        c = self.cols
        t = c["comm_end"][ids]
        for name in ("bed_end", "ur_end", "sdec_end", "ed_departure"):
            t = np.where(np.isnan(t), c[name][ids], t)
        return t

    # --- one run ---------------------------------------------------------------------------

    def run(self) -> list[Record] | None:
        self._initial_state()
        for h in range(self.n_hours):
            if h % HOURS_PER_DAY == 0:
                self._new_day(h)
            self._hour(h)
            if h % HOURS_PER_DAY == HOURS_PER_DAY - 1 or h == self.n_hours - 1:
                self._end_day(hold_from=float(h) if h < self.n_hours - 1 else np.inf)
        self._flush(final=True)
        return self._records() if self.collect else None

    def _new_day(self, h: int) -> None:
        end = float(min(h + HOURS_PER_DAY, self.n_hours))
        for ev in self.ev.values():
            ev.advance(end)
        if end > self.arrivals_until:
            self._load_arrivals(min(float(self.n_hours), float(h + 7 * HOURS_PER_DAY)))

    def _load_arrivals(self, until: float) -> None:
        reps, ts, cohorts, origins = (
            [self.arrivals[0]],
            [self.arrivals[1]],
            [self.arrivals[2]],
            [self.arrivals[3]],
        )
        for cohort, origin, feed in self.feeds:
            r, t = feed.until(until)
            reps.append(r)
            ts.append(t)
            cohorts.append(np.full(len(r), cohort, dtype=np.int64))
            origins.append(np.full(len(r), origin, dtype=np.int64))
        rep, t = np.concatenate(reps), np.concatenate(ts)
        order = np.argsort(t, kind="stable")
        self.arrivals = (
            rep[order],
            t[order],
            np.concatenate(cohorts)[order],
            np.concatenate(origins)[order],
        )
        self.arrivals_until = until

    def _end_day(self, hold_from: float = np.inf) -> None:
        """Hand the day's acute events to the sink, except those at or after ``hold_from``.

        Those wait for the next day's chunk: a bed taken or freed with a place
        carried over from the day's last hour is found in the next hour but
        timed in this one, and the sink needs each replication's events in time
        order across chunks (it would move an earlier one up to the last seen).
        """
        held: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if self.acute_events and self.sink is not None:
            rep = np.concatenate([e[0] for e in self.acute_events])
            t = np.concatenate([e[1] for e in self.acute_events])
            d = np.concatenate([e[2] for e in self.acute_events])
            late = t >= hold_from
            if late.any():
                held = [(rep[late], t[late], d[late])]
                rep, t, d = rep[~late], t[~late], d[~late]
            order = np.lexsort((t, rep))
            self.sink.add_acute_events(rep[order], t[order], d[order])
        self.acute_events = held
        self._flush()

    def _hour(self, h: int) -> None:
        t0, t1 = float(h), float(h + 1)
        c = self.cols
        ev = self.ev
        # 1. community episodes end; urgent response episodes end
        ids, t = ev["comm_end"].pop(t1)
        c["comm_end"][ids] = t
        comm_rel = {k: (_NONE_I, _NONE_F) for k in (1, 2, 3)}
        if len(ids):
            path = c["pathway"][ids]
            for k in (1, 2, 3):
                sel = path == k
                comm_rel[k] = (c["rep"][ids[sel]], t[sel])
            self._maybe_readmit(ids, path)
        ur_ids, ur_t = ev["ur_end"].pop(t1)
        c["ur_end"][ur_ids] = ur_t
        self._maybe_readmit(ur_ids, 4)
        # 2. patients become medically fit; P0 discharges within ward hours
        bed_rel_r: list[np.ndarray] = [_NONE_I]
        bed_rel_t: list[np.ndarray] = [_NONE_F]
        fit_ids, fit_t = ev["fit"].pop(t1)
        later_ids, later_t = self.fit_later  # the starting state's delayed patients
        if len(later_ids):
            fit_ids = np.concatenate((later_ids, fit_ids))
            fit_t = np.concatenate((later_t, fit_t))
            self.fit_later = (_NONE_I, _NONE_F)
        to_comm = self._fit(fit_ids, fit_t, t1, bed_rel_r, bed_rel_t)
        p0_ids, p0_t = ev["p0_out"].pop(t1)
        self._bed_out(p0_ids, p0_t, bed_rel_r, bed_rel_t)
        # 3. (community services take patients waiting in beds: with the beds, in 7)
        # 4. SDEC episodes end
        sd_ids, sd_t = ev["sdec_end"].pop(t1)
        sdec_rel = self._releases(c["rep"][sd_ids], sd_t)
        bed_requests: list[np.ndarray] = [_NONE_I]
        bed_req_t: list[np.ndarray] = [_NONE_F]
        self._sdec_end(sd_ids, sd_t, bed_requests, bed_req_t)
        # 5. arrivals: would-be attendances (with avoidance), readmissions, direct admissions
        a_rep, a_t, a_cohort, a_origin = self.arrivals
        n_due = int(np.searchsorted(a_t, t1, side="left"))
        due = slice(0, n_due)
        self.arrivals = tuple(x[n_due:] for x in self.arrivals)  # type: ignore[assignment]
        rd_ids, rd_t = ev["readmit"].pop(t1)
        ed_new = self._arrive(
            a_rep[due],
            a_t[due],
            a_cohort[due],
            a_origin[due],
            rd_ids,
            rd_t,
            ur_rel=(c["rep"][ur_ids], ur_t),
            h=h,
        )
        direct_ids = ed_new[1]
        ed_ids = ed_new[0]
        bed_requests.append(direct_ids)
        bed_req_t.append(c["t_arrival"][direct_ids])
        # 6. A&E: decisions due free cubicles; the queue is served
        dec_ids, dec_t = ev["decision"].pop(t1)
        cub_r, cub_t = [self.cubicle_later[0]], [self.cubicle_later[1]]
        self.cubicle_later = (_NONE_I, _NONE_F)
        self._enqueue(self.ed, ed_ids, c["ed_arrival"][ed_ids])
        sdec_state = sdec_rel
        self._decide(dec_ids, dec_t, cub_r, cub_t, bed_requests, bed_req_t, sdec_state)
        self._ed_serve(
            h,
            t0,
            t1,
            np.concatenate(cub_r),
            np.concatenate(cub_t),
            bed_requests,
            bed_req_t,
            sdec_rel,
        )
        self.sdec_in_use -= sdec_rel[1]
        # SDEC episodes begun and ended within this hour: the patient goes home or asks
        # for a bed now (popped in the next hour, the request was timed in this one and
        # served from the next, while beds were free); the chair is offered from the
        # next hour, as before
        sd_ids, sd_t = ev["sdec_end"].pop(t1)
        if len(sd_ids):
            self._sdec_end(sd_ids, sd_t, bed_requests, bed_req_t)
            self.sdec_in_use -= np.bincount(c["rep"][sd_ids], minlength=self.R)
        # 7. acute beds
        req = np.concatenate(bed_requests)
        req_t = np.concatenate(bed_req_t)
        c["bed_request"][req] = req_t
        rel_r = np.concatenate(bed_rel_r)
        rel_t = np.concatenate(bed_rel_t)
        self._acute(h, t0, t1, req, req_t, rel_r, rel_t, to_comm, comm_rel)

    def _acute(self, h, t0, t1, req, req_t, rel_r, rel_t, to_comm, comm_rel) -> None:  # type: ignore[no-untyped-def]
        """Acute beds and P1-P3 community places, solved together within the hour.

        They are coupled within the hour: a patient who takes a community place
        frees their bed at that moment; a patient who takes a bed and is fit within
        the hour joins the community queue in order of fit time (P1-P3) or, P0,
        may be discharged within it and free the bed again; a community episode
        that ends within the hour it began frees its place. Each round plans every
        pool in closed form (:meth:`FifoPlaces.plan`; beds with diversion request by
        request, :meth:`_plan_sequential`) given the previous round's in-hour
        events, until those events settle. An event at time t depends only on
        events before t (or at t, through a place freed and retaken at once), so
        each round settles at least one more moment of the hour in time order:
        the iteration ends, and its timestamps are those of the event-by-event
        model. A bed or place freed within the hour is never carried to the next.
        """
        c = self.cols
        R = self.R
        beds = self.beds
        sequential = self.p.diversion_threshold is not None
        if not sequential:
            self._enqueue(beds, req, req_t)
        pools = [(k, pool) for k in (1, 2, 3) if (pool := self.services[k]) is not None]
        if len(to_comm):
            path = c["pathway"][to_comm]
            for k, pool in pools:
                new = to_comm[path == k]
                self._enqueue(pool, new, c["t_fit"][new])
        t_fit = c["t_fit"]
        # the previous round's in-hour events: patients who took a bed and are fit
        # within the hour (P1-P3, who join a community queue), P0 patients among them
        # discharged within it, community episodes begun and ended within it
        late, late_t = _NONE_I, _NONE_F
        out, out_t = _NONE_I, _NONE_F
        ended: dict[int, tuple[np.ndarray, np.ndarray]] = {k: (_NONE_I, _NONE_F) for k, _ in pools}
        n = len(req) + int(beds.queue.len.sum()) + sum(int(p.queue.len.sum()) for _, p in pools)
        for _round in range(16 * n + 4):
            plans = {}
            free_r, free_t = [rel_r], [rel_t]  # beds freed this hour
            for k, pool in pools:
                queue = None
                if len(late):
                    mine = late[c["pathway_attr"][late] == k]
                    if len(mine):
                        queue = pool.queue.copy()
                        queue.push_in_order(c["rep"][mine], mine, t_fit)
                r_k, t_k = comm_rel[k]
                e_ids, e_t = ended[k]
                if len(e_ids):
                    r_k, t_k = np.concatenate((r_k, c["rep"][e_ids])), np.concatenate((t_k, e_t))
                who, start, m = pool.plan_from(h, t0, r_k, t_k, t_fit, queue)
                plans[k] = (queue, who, start, m, r_k)
                if len(who):
                    free_r.append(c["rep"][who])
                    free_t.append(start)
            if len(out):
                free_r.append(c["rep"][out])
                free_t.append(out_t)
            all_r, all_t = np.concatenate(free_r), np.concatenate(free_t)
            if sequential:
                bed_plan = self._plan_sequential(h, t0, req, req_t, all_r, all_t)
                who_b, start_b = bed_plan[0], bed_plan[1]
            else:
                who_b, start_b, m_b = beds.plan_from(h, t0, all_r, all_t, c["bed_request"])
            # this round's in-hour events
            new_late, new_late_t, new_out, new_out_t = _NONE_I, _NONE_F, _NONE_I, _NONE_F
            if len(who_b):
                fit = start_b + c["los_h"][who_b]
                now = fit < t1
                if now.any():
                    ids, fit = who_b[now], fit[now]
                    p0 = c["pathway_attr"][ids] == 0
                    leave = self._p0_out(fit[p0])
                    gone = leave < t1
                    new_out, new_out_t = ids[p0][gone], leave[gone]
                    new_late, new_late_t = ids[~p0], fit[~p0]
            new_ended = {}
            for k, _pool in pools:
                who, start = plans[k][1], plans[k][2]
                end = start + c["community_episode_h"][who]
                now = end < t1
                new_ended[k] = (who[now], end[now]) if now.any() else (_NONE_I, _NONE_F)
            if (
                _same(late, late_t, new_late, new_late_t)
                and _same(out, out_t, new_out, new_out_t)
                and all(_same(*ended[k], *new_ended[k]) for k, _ in pools)
            ):
                break
            t_fit[late] = np.nan  # the community queues are ordered by fit time
            t_fit[new_late] = new_late_t
            late, late_t, out, out_t, ended = new_late, new_late_t, new_out, new_out_t, new_ended
        else:
            raise RuntimeError(f"fast engine: beds and community places unsettled in hour {h}")
        # community places: commit the plans
        for k, pool in pools:
            queue, who, start, m, r_k = plans[k]
            if queue is not None:
                pool.queue = queue
            pool.in_use = pool.in_use - np.bincount(r_k, minlength=R) + m
            pool.queue.pop(m)
            if len(who):
                r = c["rep"][who]
                c["comm_start"][who] = start
                c["bed_end"][who] = start
                self.acute_events.append((r, start, -np.ones(len(r))))
                e_ids, e_t = ended[k]
                if len(e_ids):
                    c["comm_end"][e_ids] = e_t
                    self._maybe_readmit(e_ids, k)
                    keep = self._not_in(who, e_ids)
                    who, start = who[keep], start[keep]
                self.ev["comm_end"].push(start + c["community_episode_h"][who], who)
        # beds
        if sequential:
            who_b, start_b, gone_ids, gone_t, queue, in_use = bed_plan
            beds.queue, beds.in_use = queue, in_use
            if len(gone_ids):
                c["diverted"][gone_ids] = gone_t
                from_ed = ~np.isnan(c["ed_arrival"][gone_ids]) & ~c["sdec_admit"][gone_ids]
                self._leave_ed(gone_ids[from_ed], gone_t[from_ed])
                self._done(gone_ids)
        else:
            beds.in_use = beds.in_use - np.bincount(all_r, minlength=R) + m_b
            beds.queue.pop(m_b)
        if len(who_b):
            c["bed_start"][who_b] = start_b
            self.acute_events.append((c["rep"][who_b], start_b, np.ones(len(who_b))))
            from_ed = ~np.isnan(c["ed_arrival"][who_b]) & ~c["sdec_admit"][who_b]
            self._leave_ed(who_b[from_ed], start_b[from_ed])
            fit = start_b + c["los_h"][who_b]
            now = fit < t1
            self.ev["fit"].push(fit[~now], who_b[~now])
            if now.any():
                # P0 discharged within the hour leave now (their beds were counted
                # above); P1-P3 are already in their community queue
                self._fit(who_b[now], fit[now], t1, [], [])

    def _ed_serve(self, h, t0, t1, rel_r, rel_t, bed_requests, bed_req_t, sdec_state) -> None:  # type: ignore[no-untyped-def]
        """Serve the A&E queue with the cubicles freed this hour.

        Those who start and are decided within the hour free their cubicle again
        (home, SDEC, or admitted when boarders do not hold one): served in turn.
        """
        c = self.cols
        in_hour = self._ed_in_hour(t1)
        for _round in range(4):
            who, start, counted = self.ed.serve(
                h, t0, rel_r, rel_t, c["ed_arrival"], c["rep"], in_hour
            )
            if not len(who):
                return
            c["ed_start"][who] = start
            decision = start + c["ed_decision_h"][who]
            now = decision < t1
            self.ev["decision"].push(decision[~now], who[~now])
            order = np.argsort(decision[now], kind="stable")
            cub_r: list[np.ndarray] = [_NONE_I]
            cub_t: list[np.ndarray] = [_NONE_F]
            self._decide(
                who[now][order],
                decision[now][order],
                cub_r,
                cub_t,
                bed_requests,
                bed_req_t,
                sdec_state,
                counted,
            )
            rel_r, rel_t = np.concatenate(cub_r), np.concatenate(cub_t)
            if not len(rel_r):
                return
        # still unsettled: the rest are offered in the next hour
        r0, c0 = self.cubicle_later
        self.cubicle_later = (np.concatenate((r0, rel_r)), np.concatenate((c0, rel_t)))

    # --- stations --------------------------------------------------------------------------

    def _sdec_end(
        self, ids: np.ndarray, t: np.ndarray, bed_requests: list, bed_req_t: list
    ) -> None:
        """SDEC episodes end: the patient goes home or asks for a bed."""
        c = self.cols
        c["sdec_end"][ids] = t
        admit = c["u_sdec_admit"][ids] < self.p.sdec_p_admit
        c["sdec_admit"][ids[admit]] = True
        self._maybe_readmit(ids[~admit], -1)
        bed_requests.append(ids[admit])
        bed_req_t.append(t[admit])

    def _releases(self, r: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return releases(r, t, self.R)

    def _enqueue(self, pool: FifoPlaces, ids: np.ndarray, t: np.ndarray) -> None:
        if not len(ids):
            return
        rep = self.cols["rep"][ids]
        order, counts, rank = by_rep(rep, t, self.R)
        pool.queue.push(rep[order], rank, ids[order], counts)

    def _fit(
        self,
        ids: np.ndarray,
        t: np.ndarray,
        t1: float,
        rel_r: list,
        rel_t: list,
        rel_ids: list | None = None,
    ) -> np.ndarray:
        """Patients medically fit at ``t``: P0 leave in ward hours; P1-P3 wait for care."""
        c = self.cols
        c["t_fit"][ids] = t
        path = c["pathway_attr"][ids]
        c["pathway"][ids] = path
        p0 = path == 0
        ids0, t0 = ids[p0], t[p0]
        out = self._p0_out(t0)
        now = out < t1
        self._bed_out(ids0[now], out[now], rel_r, rel_t)
        if rel_ids is not None and now.any():
            rel_ids.append(ids0[now])
        self.ev["p0_out"].push(out[~now], ids0[~now])
        return ids[~p0]

    def _p0_out(self, fit: np.ndarray) -> np.ndarray:
        """When a P0 patient fit at ``fit`` leaves: then, or at the next ward discharge hour."""
        hour = np.floor(fit + EPS_HOURS)
        wait = self.discharge_wait[((self.offset + hour) % HOURS_PER_WEEK).astype(np.int64)]
        return np.where(wait > 0, hour + wait, fit)

    def _ed_in_hour(
        self, t1: float
    ) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Cubicles freed again within the hour by patients who start now."""
        c = self.cols

        def in_hour(who: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            decision = start + c["ed_decision_h"][who]
            frees = decision < t1
            return who[frees], decision[frees]

        return in_hour

    def _bed_out(self, ids: np.ndarray, t: np.ndarray, rel_r: list, rel_t: list) -> None:
        """P0 discharges home: the bed frees at ``t``."""
        if not len(ids):
            return
        c = self.cols
        c["bed_end"][ids] = t
        rel_r.append(c["rep"][ids])
        rel_t.append(t)
        self.acute_events.append((c["rep"][ids], t, -np.ones(len(ids))))
        self._maybe_readmit(ids, 0)

    def _arrive(
        self,
        rep: np.ndarray,
        t: np.ndarray,
        cohort: np.ndarray,
        origin: np.ndarray,
        rd_ids: np.ndarray,
        rd_t: np.ndarray,
        ur_rel: tuple[np.ndarray, np.ndarray],
        h: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """New arrivals this hour. Returns (A&E attendances, direct admissions) ids."""
        c = self.cols
        ed = origin == ED
        ed_ids = self._new(rep[ed], t[ed], cohort[ed], ED)
        dr = ~ed
        direct_ids = self._new(rep[dr], t[dr], cohort[dr], DIRECT)
        all_ids = np.concatenate((ed_ids, direct_ids, rd_ids))
        self._register(all_ids, c["rep"][all_ids], c["t_arrival"][all_ids])
        u_avoid = self._attributes(ed_ids, ED)
        self._attributes(direct_ids, DIRECT)
        self._attributes(rd_ids, READMISSION)
        # admission avoidance by urgent community response
        attend = ed_ids
        if len(ed_ids) and any(s.any() for s in self.avoid_share):
            fy = self.fy_index[
                np.minimum(
                    np.floor(c["t_arrival"][ed_ids]).astype(np.int64), len(self.fy_index) - 1
                )
            ]
            share = np.array([s[np.clip(fy, 0, len(s) - 1)] for s in self.avoid_share])
            share = share[c["cohort"][ed_ids], np.arange(len(ed_ids))]
            avoidable = u_avoid < share
            c["avoidable"][ed_ids[avoidable]] = True
            taken = self._urgent(ed_ids[avoidable], ur_rel, h)
            attend = np.setdiff1d(ed_ids, taken, assume_unique=True)
        elif self.services[0] is not None:
            self.services[0].in_use -= np.bincount(ur_rel[0], minlength=self.R)
        ed_all = np.concatenate((attend, rd_ids))
        c["ed_arrival"][ed_all] = c["t_arrival"][ed_all]
        self.in_ed += np.bincount(c["rep"][ed_all], minlength=self.R)
        return ed_all, direct_ids

    def _urgent(self, ids: np.ndarray, ur_rel: tuple[np.ndarray, np.ndarray], h: int) -> np.ndarray:
        """Urgent response takes avoidable patients if open and a place is free (no queue)."""
        pool = self.services[0]
        assert pool is not None
        c = self.cols
        rel, n_rel = self._releases(*ur_rel)
        t = c["t_arrival"][ids]
        rep = c["rep"][ids]
        order, counts, rank = by_rep(rep, t, self.R)
        ids, t, rep = ids[order], t[order], rep[order]
        T = padded(rep, rank, t, self.R, np.inf)
        taken = np.zeros(self.R)
        ok = np.zeros(T.shape, dtype=bool)
        cap = pool.capacity_h[h]
        is_open = bool(pool.open_h[h])
        for k in range(T.shape[1]):
            tk = T[:, k]
            released = (rel <= tk[:, None]).sum(axis=1)
            ok[:, k] = np.isfinite(tk) & is_open & (pool.in_use - released + taken < cap)
            taken += ok[:, k]
        pool.in_use += taken - n_rel
        got = ok[rep, rank]
        acc = ids[got]
        lost = ids[~got]
        c["avoid_lost"][lost] = 1 if not is_open else 2
        c["ur_start"][acc] = t[got]
        self.ev["ur_end"].push(t[got] + c["ur_episode_h"][acc], acc)
        return acc

    def _decide(
        self,
        ids: np.ndarray,
        t: np.ndarray,
        cub_r: list[np.ndarray],
        cub_t: list[np.ndarray],
        bed_requests: list[np.ndarray],
        bed_req_t: list[np.ndarray],
        sdec_state: tuple[np.ndarray, np.ndarray],
        counted: np.ndarray = _NONE_I,
    ) -> None:
        """Decisions in A&E: home, SDEC (if open with a chair free) or a bed."""
        if not len(ids):
            return
        c = self.cols
        c["ed_decision"][ids] = t
        cohort = c["cohort"][ids]
        u = c["u_outcome"][ids]
        pa = self.cohort_p_admit[cohort]
        admit = u < pa
        to_sdec = ~admit & (u < pa + self.cohort_p_sdec[cohort])
        home = ~admit & ~to_sdec
        c["ed_outcome"][ids[admit]] = ADMIT
        c["ed_outcome"][ids[to_sdec]] = SDEC
        c["ed_outcome"][ids[home]] = HOME
        took = self._sdec(ids[to_sdec], t[to_sdec], sdec_state)
        refused = ids[to_sdec][~took]
        c["sdec_refused"][refused] = True
        leave = np.concatenate((ids[home], ids[to_sdec][took]))
        leave_t = np.concatenate((t[home], t[to_sdec][took]))
        self._leave_ed(leave, leave_t)
        fresh = self._not_in(leave, counted)
        cub_r.append(c["rep"][leave[fresh]])
        cub_t.append(leave_t[fresh])
        self._maybe_readmit(ids[home], -1)
        admitted = np.concatenate((ids[admit], refused))
        admitted_t = np.concatenate((t[admit], t[to_sdec][~took]))
        fresh = self._not_in(admitted, counted)
        cub_r.append(c["rep"][admitted[fresh]])
        cub_t.append(admitted_t[fresh])
        bed_requests.append(admitted)
        bed_req_t.append(admitted_t)

    def _not_in(self, ids: np.ndarray, counted: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are not in ``counted`` (both patient ids), in linear time."""
        if not len(counted):
            return np.ones(len(ids), dtype=bool)
        mark = self.cols["_mark"]
        mark[counted] = True
        out = ~mark[ids]
        mark[counted] = False
        return out

    def _leave_ed(self, ids: np.ndarray, t: np.ndarray) -> None:
        self.cols["ed_departure"][ids] = t
        self.in_ed -= np.bincount(self.cols["rep"][ids], minlength=self.R)

    def _sdec(
        self, ids: np.ndarray, t: np.ndarray, state: tuple[np.ndarray, np.ndarray]
    ) -> np.ndarray:
        """SDEC takes referrals while open with a chair free (else they are admitted)."""
        c = self.cols
        rel, n_rel = state
        took = np.zeros(len(ids), dtype=bool)
        if not len(ids):
            return took
        rep = c["rep"][ids]
        order, counts, rank = by_rep(rep, t, self.R)
        # only the replications with a referral: [rows, width] in time order
        rows = np.flatnonzero(counts)
        row_of = np.zeros(self.R, dtype=np.int64)
        row_of[rows] = np.arange(len(rows))
        ci = row_of[rep[order]]
        t_o = t[order]
        hour = np.minimum(np.floor(t_o + EPS_HOURS).astype(np.int64), self.n_hours - 1)
        shape = (len(rows), int(rank.max()) + 1)
        T = np.full(shape, np.inf)
        T[ci, rank] = t_o
        open_now = np.zeros(shape, dtype=bool)
        open_now[ci, rank] = self.sdec_open[hour]
        cap = np.zeros(shape)
        cap[ci, rank] = self.sdec_cap[hour]
        rel_rows = rel[rows]
        in_use = self.sdec_in_use[rows]
        ok = np.zeros(shape, dtype=bool)
        for k in range(shape[1]):
            tk = T[:, k]
            released = (rel_rows <= tk[:, None]).sum(axis=1)
            ok[:, k] = np.isfinite(tk) & open_now[:, k] & (in_use - released < cap[:, k])
            in_use += ok[:, k]
        self.sdec_in_use[rows] = in_use
        took[order] = ok[ci, rank]
        acc = ids[took]
        c["sdec_start"][acc] = t[took]
        self.ev["sdec_end"].push(t[took] + c["sdec_episode_h"][acc], acc)
        return took

    def _plan_sequential(self, h, t0, req, req_t, rel_r, rel_t):  # type: ignore[no-untyped-def]
        """Requests and releases in time order; on copies of the queue and beds in use.

        Returns (started ids, start times, diverted ids, diversion times, queue, in use).
        """
        c = self.cols
        cap = self.beds.capacity_h[h]
        threshold = self.p.diversion_threshold
        q = self.beds.queue.copy()
        in_use = self.beds.in_use.copy()
        # kind 0 marks the hour's start (a capacity rise serves the queue at t0),
        # 1 a request, 2 a release; releases at the same time come first
        r_all = np.concatenate((np.arange(self.R), c["rep"][req], rel_r))
        t_all = np.concatenate((np.full(self.R, t0), req_t, rel_t))
        kind = np.concatenate(
            (np.zeros(self.R, np.int64), np.ones(len(req), np.int64), np.full(len(rel_r), 2))
        )
        who_all = np.concatenate((np.full(self.R, -1), req, np.full(len(rel_r), -1)))
        order, _counts, rank = by_rep(r_all, t_all + 1e-9 * (kind == 1), self.R)
        r_o = r_all[order]
        T = padded(r_o, rank, t_all[order], self.R, np.inf)
        K = padded(r_o, rank, kind[order], self.R, -1)
        W = padded(r_o, rank, who_all[order], self.R, -1)
        starts_w, starts_t, gone_w, gone_t = [_NONE_I], [_NONE_F], [_NONE_I], [_NONE_F]
        for k in range(T.shape[1]):
            tk, kk, wk = T[:, k], K[:, k], W[:, k]
            rel = kk == 2
            in_use -= rel
            serve = (kk == 0) | rel
            # serve queue heads while places are free: one per release, all on a capacity rise
            while True:
                can = serve & (q.len > 0) & (in_use < cap)
                if not can.any():
                    break
                head = q.pop_one(can)
                in_use += can
                starts_w.append(head[can])
                # a release carried from the last hour may predate the request
                starts_t.append(np.maximum(tk[can], c["bed_request"][head[can]]))
                serve = serve & (kk == 0)
            ask = kk == 1
            free = in_use < cap
            now = ask & (q.len == 0) & free
            in_use += now
            starts_w.append(wk[now])
            starts_t.append(tk[now])
            divert = ask & ~now & ~free & (q.len >= (threshold or 0))
            gone_w.append(wk[divert])
            gone_t.append(tk[divert])
            q.push_one(ask & ~now & ~divert, wk)
        return (
            np.concatenate(starts_w),
            np.concatenate(starts_t),
            np.concatenate(gone_w),
            np.concatenate(gone_t),
            q,
            in_use,
        )

    # --- starting state --------------------------------------------------------------------

    def _initial_state(self) -> None:
        p = self.p
        c = self.cols
        groups = [initial_cohorts(p, s) for s in self.streams]
        # groups[r] = list of (kind, pathway_or_service, cohort indices, residual durations)
        for slot in range(len(groups[0]) if groups else 0):
            kind, k = groups[0][slot][0], groups[0][slot][1]
            rep = np.concatenate(
                [np.full(len(g[slot][2]), r, dtype=np.int64) for r, g in enumerate(groups)]
            )
            if not len(rep):
                continue
            cohort = np.concatenate([g[slot][2] for g in groups])
            ids = self._new(rep, np.zeros(len(rep)), cohort, INITIAL)
            self._register(ids, rep, np.zeros(len(rep)))
            self._attributes(ids, INITIAL)
            if kind == "treating":
                c["bed_start"][ids] = 0.0
                self.beds.in_use += np.bincount(rep, minlength=self.R)
                self.acute_events.append((rep, np.zeros(len(rep)), np.ones(len(rep))))
                self.ev["fit"].push(c["los_h"][ids], ids)
            elif kind == "delayed":
                c["bed_start"][ids] = 0.0
                c["t_fit"][ids] = 0.0
                c["pathway"][ids] = k
                c["pathway_attr"][ids] = k
                c["community_episode_h"][ids] = np.concatenate([g[slot][3] for g in groups])
                self.beds.in_use += np.bincount(rep, minlength=self.R)
                self.acute_events.append((rep, np.zeros(len(rep)), np.ones(len(rep))))
                self.fit_later = (
                    np.concatenate((self.fit_later[0], ids)),
                    np.concatenate((self.fit_later[1], np.zeros(len(ids)))),
                )
            else:  # community places in use
                remaining = np.concatenate([g[slot][3] for g in groups])
                pool = self.services[k]
                assert pool is not None
                pool.in_use += np.bincount(rep, minlength=self.R)
                if k == 0:
                    c["avoidable"][ids] = True
                    c["ur_start"][ids] = 0.0
                    self.ev["ur_end"].push(remaining, ids)
                else:
                    c["pathway"][ids] = k
                    c["pathway_attr"][ids] = k
                    c["comm_start"][ids] = 0.0
                    self.ev["comm_end"].push(remaining, ids)

    # --- outputs ---------------------------------------------------------------------------

    def _live(self) -> dict[str, np.ndarray]:
        live = {
            "ed": self.in_ed.copy(),
            "acute": self.beds.in_use.copy(),
            "acute_queue": self.beds.queue.len.copy(),
            "sdec": self.sdec_in_use.copy(),
        }
        for s in self.services:
            if s is not None:
                live[s.name] = s.in_use.copy()
        return live

    def _records(self) -> list[Record]:
        rows = self.collected
        merged = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]} if rows else {}
        live = self._live()
        out = []
        caps = self._capacity_logs()
        for i, replication in enumerate(self.replications):
            if merged:
                sel = np.flatnonzero(merged["_rep"] == i)
                sel = sel[np.argsort(merged["_serial"][sel], kind="stable")]
            else:
                sel = np.empty(0, dtype=np.int64)
            patients: dict[str, np.ndarray] = {}
            for name in COLUMNS:
                values = merged[name][sel] if merged else np.empty(0)
                if name in FLOAT_COLUMNS:
                    patients[name] = values.astype(float)
                elif name in BOOL_COLUMNS:
                    patients[name] = values.astype(bool)
                else:
                    patients[name] = values.astype(np.int64)
            if merged:
                # parent: serial numbers are the rows once sorted
                patients["parent"] = merged["parent"][sel].astype(np.int64)
            out.append(
                Record(
                    params=self.p,
                    replication=replication,
                    patients=patients,
                    capacity=caps,
                    in_system_at_end={k: int(v[i]) for k, v in live.items()},
                )
            )
        return out

    def _capacity_logs(self) -> dict[str, CapacityLog]:
        p = self.p
        logs = {
            "ed": CapacityLog(np.array([0.0]), np.array([p.ed_cubicles])),
            "sdec": CapacityLog(p.sdec_chairs.times_h, p.sdec_chairs.values),
            "acute": CapacityLog(p.beds.times_h, p.beds.values),
        }
        for s in p.services:
            if s is not None:
                logs[s.name] = CapacityLog(s.capacity.times_h, s.capacity.values)
        return logs


class VectorisedEngine:
    """The fast engine, as the runner uses it (:class:`sim.engines.base.Engine`)."""

    name = "fast"
    summary = "the vectorised numpy engine: many replications at once, hour by hour"
    one_at_a_time = False

    def unsupported(self, params: ModelParams) -> list[str]:
        return unsupported(params)

    def run(
        self,
        params: ModelParams,
        seed: int,
        replications: Sequence[int],
        sink: Sink,
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[Record]:
        return FastEngine(params, seed, replications, sink=sink, collect=keep_records).run() or []
