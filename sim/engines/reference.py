"""The SimPy reference engine: one patient, one process, every rule of MODEL.md.

Picture one week in a local system. Would-be A&E attendances arrive by cohort;
for those in the avoidable share, an urgent community response team may take
the patient at home if it is open and has a place. The rest queue for an A&E
cubicle, wait for a decision, and go home, to SDEC (if open and a chair is
free, else to a bed), or to a bed. Without a free bed they board in A&E, first
come first served with GP direct admissions, or are diverted once the queue is
long enough. After treatment the patient is medically fit and leaves by a
pathway: P0 home within ward discharge hours, P1-P3 only when the community
service has a place *and* accepts new patients at that hour; until then the
acute bed stays occupied (a delayed discharge). Some discharged patients come
back as readmissions.

The engine is written for clarity first and speed second: it is the reference
the fast engine is checked against. It records facts (timestamps per patient,
capacity changes) in a :class:`~sim.record.Record`; it computes no metrics.
:meth:`SimPyReplication.stream` instead hands each patient's row to a metric
accumulator when the patient leaves (and every change of bed occupancy as it
happens), so memory holds only the patients in the system, whatever the horizon.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import Any

import numpy as np
import simpy

from ..clock.schedule import Schedule
from ..codes import EPS_HOURS, HOURS_PER_WEEK, AvoidLost, EdOutcome, Origin, Pathway, Route
from ..model.demand import Attributes, AttributeSource, arrival_times, initial_cohorts
from ..model.record import (
    BOOL_COLUMNS,
    COLUMNS,
    FLOAT_COLUMNS,
    CapacityLog,
    Record,
    Sink,
    acute_events,
)
from ..rng.streams import Streams
from ..scenario.params import CohortParams, ModelParams, Timeline

ED, DIRECT, READMISSION, INITIAL = Origin
_NAN = math.nan
STREAM_CHUNK = 20_000
"""Patients (and bed events) buffered before a streaming engine hands them on."""


def _call(method: Callable[[Patient], None], patient: Patient, _event: simpy.Event) -> None:
    method(patient)


class Patient:
    """One patient's timestamps. Unset attributes read as the class defaults."""

    cohort = -1
    origin = -1
    parent = -1
    avoid_lost: int = AvoidLost.NOT_LOST
    ed_outcome: int = EdOutcome.NONE
    pathway: int = Pathway.NONE
    avoidable = False
    sdec_refused = False
    sdec_admit = False
    t_arrival = ur_start = ur_end = ed_arrival = ed_start = ed_decision = ed_departure = _NAN
    sdec_start = sdec_end = bed_request = diverted = bed_start = t_fit = bed_end = _NAN
    comm_start = comm_end = _NAN
    row = -1

    def __init__(self, cohort: CohortParams, origin: int, t: float, attrs: Attributes[float]):
        self.cohort = cohort.index
        self.origin = origin
        self.t_arrival = t
        self.params = cohort
        self.attrs = attrs


class Places:
    """Places (beds, chairs, cubicles, community places) with a FIFO queue.

    A place is granted while fewer than ``capacity`` are in use and, if the
    pool has a schedule, the current hour is open. A capacity cut never evicts:
    the pool drains as places are released. Waiting requests are served in
    the order they arrived whenever a place frees, the capacity rises or the
    schedule opens.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: Timeline,
        schedule: Schedule | None,
        week_offset_h: int,
    ) -> None:
        self.env = env
        self.name = name
        self.capacity = capacity.values[0]
        self.in_use = 0
        self.queue: deque[simpy.Event] = deque()
        self.schedule = None if schedule is None or schedule.is_always_open else schedule
        self._open = None if self.schedule is None else self.schedule.open_hours.tolist()
        self._offset = week_offset_h
        self.log_t: list[float] = [0.0]
        self.log_c: list[float] = [self.capacity]
        for t, value in zip(capacity.times_h[1:], capacity.values[1:], strict=True):
            env.process(self._change_at(float(t), float(value)))
        if self.schedule is not None:
            env.process(self._openings())

    def is_open(self) -> bool:
        if self._open is None:
            return True
        return self._open[(self._offset + math.floor(self.env.now + EPS_HOURS)) % HOURS_PER_WEEK]

    def has_place(self) -> bool:
        return self.in_use < self.capacity and self.is_open()

    def try_take(self) -> bool:
        """Take a place at once if one is free and open (no queueing)."""
        if not self.queue and self.has_place():
            self.in_use += 1
            return True
        return False

    def request(self) -> simpy.Event:
        event = self.env.event()
        if not self.queue and self.has_place():
            self.in_use += 1
            event.succeed()
        else:
            self.queue.append(event)
        return event

    def release(self) -> None:
        self.in_use -= 1
        if self.queue:
            self._serve()

    def _serve(self) -> None:
        while self.queue and self.in_use < self.capacity and self.is_open():
            self.in_use += 1
            self.queue.popleft().succeed()

    def _change_at(self, t: float, value: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(t - self.env.now)
        self.capacity = value
        self.log_t.append(self.env.now)
        self.log_c.append(value)
        self._serve()

    def _openings(self) -> Generator[simpy.Event, Any, None]:
        # Wake at each whole hour when the schedule opens. Only whole-hour delays
        # are added, so the wake-up times are exact in floating point.
        assert self.schedule is not None
        opens = set(self.schedule.transitions().tolist())
        if not opens:
            return
        hour = 0
        while True:
            step = 1
            while (self._offset + hour + step) % HOURS_PER_WEEK not in opens:
                step += 1
            hour += step
            yield self.env.timeout(step)
            self._serve()

    def capacity_log(self) -> CapacityLog:
        return CapacityLog(np.array(self.log_t), np.array(self.log_c))


class SimPyReplication:
    """One replication of one scenario.

    With a ``sink`` (a :class:`~sim.model.record.Sink`, such as the metric accumulator, this
    replication at ``position``), :meth:`stream` keeps no patient who has left.
    """

    def __init__(
        self,
        params: ModelParams,
        seed: int,
        replication: int,
        sink: Sink | None = None,
        position: int = 0,
    ) -> None:
        self.p = params
        self.sink = sink
        self.position = position
        self.n_patients = 0
        self.live: dict[int, Patient] = {}
        self.finished: list[Patient] = []
        self.bed_t: list[float] = []
        self.bed_d: list[int] = []
        self.replication = replication
        self.streams = Streams(seed, replication)
        self.env = env = simpy.Environment()
        cal = params.calendar
        offset = cal.week_offset_h
        self.offset = offset
        self.patients: list[Patient] = []
        inf = Timeline(np.array([0.0]), np.array([params.ed_cubicles]))
        self.cubicles = Places(env, "ed", inf, None, offset)
        self.sdec = Places(env, "sdec", params.sdec_chairs, params.sdec_open, offset)
        self.beds = Places(env, "acute", params.beds, None, offset)
        self.services: list[Places | None] = [
            None if s is None else Places(env, s.name, s.capacity, s.accepts, offset)
            for s in params.services
        ]
        self.discharge_wait = params.discharge_wait_h.tolist()
        self.fy_index = cal.hourly("fy_index")
        self.fy_index_last = len(self.fy_index) - 1
        self.in_ed = 0
        self.sources: dict[tuple[int, int], AttributeSource] = {
            (c.index, origin): AttributeSource(params, c, origin.key, self.streams)
            for c in params.cohorts
            for origin in (ED, DIRECT, READMISSION, INITIAL)
        }

    # --- arrivals --------------------------------------------------------------------------

    def _arrivals(self, cohort: CohortParams, origin: int) -> Generator[simpy.Event, Any, None]:
        env = self.env
        rate = cohort.ed_rate_h if origin == ED else cohort.direct_rate_h
        name = "arrivals" if origin == ED else "direct_arrivals"
        source = self.sources[(cohort.index, origin)]
        for block in arrival_times(rate, self.streams(f"{name}/{cohort.name}")):
            for t in block.tolist():
                yield env.timeout(t - env.now)
                patient = Patient(cohort, origin, env.now, source.next())
                self._register(patient)
                if origin == ED:
                    self._attend(patient)
                else:
                    env.process(self._admission(patient))

    def _attend(self, p: Patient) -> None:
        """A would-be attendance: avoided by urgent community response if possible."""
        env = self.env
        share = p.params.avoidable_by_fy
        fy = self.fy_index[min(math.floor(env.now), self.fy_index_last)]
        if p.attrs.u_avoid < share[min(max(fy, 0), len(share) - 1)]:
            p.avoidable = True
            urgent = self.services[0]
            assert urgent is not None  # validated: avoidance needs the service
            if not urgent.is_open():
                p.avoid_lost = AvoidLost.CLOSED
            elif not urgent.try_take():
                p.avoid_lost = AvoidLost.FULL
            else:
                p.ur_start = env.now
                env.timeout(p.attrs.ur_episode_h).callbacks.append(lambda _: self._urgent_end(p))
                return
        env.process(self._emergency_department(p))

    def _urgent_end(self, p: Patient) -> None:
        p.ur_end = self.env.now
        urgent = self.services[0]
        assert urgent is not None
        urgent.release()
        self._maybe_readmit(p, Route.URGENT_RESPONSE)
        self._finish(p)

    # --- A&E and SDEC ---------------------------------------------------------------------

    def _emergency_department(self, p: Patient) -> Generator[simpy.Event, Any, None]:
        env = self.env
        p.ed_arrival = env.now
        self.in_ed += 1
        yield self.cubicles.request()
        p.ed_start = env.now
        yield env.timeout(p.attrs.ed_decision_h)
        p.ed_decision = env.now
        u = p.attrs.u_outcome
        c = p.params
        if u < c.p_admit:
            p.ed_outcome = EdOutcome.ADMIT
        elif u < c.p_admit + c.p_sdec:
            p.ed_outcome = EdOutcome.SDEC
            if self.sdec.try_take():
                self.cubicles.release()
                self._leave_ed(p)
                p.sdec_start = env.now
                env.timeout(p.attrs.sdec_episode_h).callbacks.append(lambda _: self._sdec_end(p))
                return
            p.sdec_refused = True
        else:
            p.ed_outcome = EdOutcome.HOME
            self.cubicles.release()
            self._leave_ed(p)
            self._maybe_readmit(p, Route.NONE)
            self._finish(p)
            return
        # admitted: board in A&E until a bed is free
        if not self.p.boarding_holds_cubicle:
            self.cubicles.release()
        yield from self._admission(p, from_ed=True)

    def _leave_ed(self, p: Patient, boarded: bool = False) -> None:
        p.ed_departure = self.env.now
        self.in_ed -= 1
        if boarded and self.p.boarding_holds_cubicle:
            self.cubicles.release()

    def _sdec_end(self, p: Patient) -> None:
        p.sdec_end = self.env.now
        self.sdec.release()
        if p.attrs.u_sdec_admit < self.p.sdec_p_admit:
            p.sdec_admit = True
            self.env.process(self._admission(p))
        else:
            self._maybe_readmit(p, Route.NONE)
            self._finish(p)

    # --- acute beds and discharge ---------------------------------------------------------

    def _admission(self, p: Patient, from_ed: bool = False) -> Generator[simpy.Event, Any, None]:
        env = self.env
        beds = self.beds
        p.bed_request = env.now
        threshold = self.p.diversion_threshold
        if threshold is not None and not beds.has_place() and len(beds.queue) >= threshold:
            p.diverted = env.now
            if from_ed:
                self._leave_ed(p, boarded=True)
            self._finish(p)
            return
        yield beds.request()
        p.bed_start = env.now
        self._bed_event(1)
        if from_ed:
            self._leave_ed(p, boarded=True)
        yield from self._stay(p)

    def _stay(self, p: Patient) -> Generator[simpy.Event, Any, None]:
        env = self.env
        if math.isnan(p.t_fit):
            yield env.timeout(p.attrs.los_h)
            p.t_fit = env.now
        if p.pathway < 0:
            p.pathway = int(p.attrs.pathway)
        if p.pathway == Pathway.P0:
            hour = math.floor(env.now + EPS_HOURS)
            wait = self.discharge_wait[(self.offset + hour) % HOURS_PER_WEEK]
            if wait:
                yield env.timeout(hour + wait - env.now)
            self.beds.release()
            p.bed_end = env.now
            self._bed_event(-1)
            self._maybe_readmit(p, Route.P0)
            self._finish(p)
            return
        service = self.services[p.pathway]
        assert service is not None  # validated: a pathway in use needs its service
        yield service.request()
        self.beds.release()
        p.bed_end = env.now
        self._bed_event(-1)
        p.comm_start = env.now
        env.timeout(p.attrs.community_episode_h).callbacks.append(lambda _: self._community_end(p))

    def _community_end(self, p: Patient) -> None:
        p.comm_end = self.env.now
        service = self.services[p.pathway]
        assert service is not None
        service.release()
        self._maybe_readmit(p, p.pathway)
        self._finish(p)

    # --- readmissions ---------------------------------------------------------------------

    def _maybe_readmit(self, p: Patient, route: int) -> None:
        """After the patient is home: a re-attendance with the route's probability.

        ``route`` is the pathway 0-3, 4 for urgent response, -1 for none (sent
        home from A&E or SDEC: no readmission risk is configured for those).
        """
        if route < 0 or p.attrs.u_readmit >= p.params.p_readmit[route]:
            return
        self.env.timeout(p.attrs.readmit_delay_h).callbacks.append(lambda _: self._readmission(p))

    def _readmission(self, parent: Patient) -> None:
        c = parent.params
        p = Patient(c, READMISSION, self.env.now, self.sources[(c.index, READMISSION)].next())
        p.parent = parent.row
        self._register(p)
        self.env.process(self._emergency_department(p))

    def _register(self, p: Patient) -> None:
        p.row = self.n_patients
        self.n_patients += 1
        if self.sink is None:
            self.patients.append(p)
        else:
            self.live[p.row] = p

    def _finish(self, p: Patient) -> None:
        """The patient has left the system: a streaming engine hands the row on."""
        if self.sink is None:
            return
        del self.live[p.row]
        self.finished.append(p)
        if len(self.finished) >= STREAM_CHUNK:
            self._flush()

    def _bed_event(self, delta: int) -> None:
        if self.sink is None:
            return
        self.bed_t.append(self.env.now)
        self.bed_d.append(delta)
        if len(self.bed_t) >= STREAM_CHUNK:
            self._flush()

    def _flush(self) -> None:
        """Hand finished rows and bed events (in time order) to the sink."""
        assert self.sink is not None
        if self.finished:
            columns = _columns(self.finished)
            self.sink.add_patients(np.full(len(self.finished), self.position), columns)
            self.finished = []
        if self.bed_t:
            times = np.array(self.bed_t)
            self.sink.add_acute_events(
                np.full(len(times), self.position), times, np.array(self.bed_d, dtype=np.int64)
            )
            self.bed_t, self.bed_d = [], []

    # --- starting state -------------------------------------------------------------------

    def _initial_state(self) -> None:
        """Place today's patients: treating and delayed in beds, and in community places."""
        for kind, k, cohorts, remaining in initial_cohorts(self.p, self.streams):
            for i, index in enumerate(cohorts.tolist()):
                cohort = self.p.cohorts[index]
                p = Patient(cohort, INITIAL, 0.0, self.sources[(index, INITIAL)].next())
                self._register(p)
                if kind == "treating":
                    p.bed_start = 0.0
                    self.beds.in_use += 1
                    self._bed_event(1)
                    self.env.process(self._stay(p))
                elif kind == "delayed":
                    assert remaining is not None
                    p.bed_start = p.t_fit = 0.0
                    p.pathway = k
                    p.attrs = p.attrs._replace(community_episode_h=float(remaining[i]))
                    self.beds.in_use += 1
                    self._bed_event(1)
                    self.env.process(self._stay(p))
                else:
                    service = self.services[k]
                    assert service is not None
                    assert remaining is not None
                    service.in_use += 1
                    duration = float(remaining[i])
                    if k == 0:
                        p.avoidable = True
                        p.ur_start = 0.0
                        end = self._urgent_end
                    else:
                        p.pathway = k
                        p.comm_start = 0.0
                        end = self._community_end
                    self.env.timeout(duration).callbacks.append(partial(_call, end, p))

    # --- run ------------------------------------------------------------------------------

    def _simulate(self) -> None:
        env = self.env
        self._initial_state()
        for cohort in self.p.cohorts:
            if cohort.ed_rate_h.any():
                env.process(self._arrivals(cohort, ED))
            if cohort.direct_rate_h.any():
                env.process(self._arrivals(cohort, DIRECT))
        env.run(until=self.p.calendar.end_h)

    def run(self) -> Record:
        """Simulate and return every patient's row (memory grows with the horizon)."""
        if self.sink is not None:
            raise ValueError("an engine with a sink streams: call stream(), not run()")
        self._simulate()
        return self._record()

    def stream(self) -> None:
        """Simulate, handing rows to the sink as patients leave; then those still inside."""
        if self.sink is None:
            raise ValueError("stream() needs a sink (such as a MetricAccumulator)")
        self._simulate()
        self.finished.extend(self.live.values())
        self.live = {}
        self._flush()

    def _record(self) -> Record:
        columns = _columns(self.patients)
        pools = {"ed": self.cubicles, "sdec": self.sdec, "acute": self.beds}
        pools.update({s.name: s for s in self.services if s is not None})
        live = {
            "ed": self.in_ed,
            "acute": self.beds.in_use,
            "acute_queue": len(self.beds.queue),
            **{
                f"{name}": pool.in_use
                for name, pool in pools.items()
                if name not in ("ed", "acute")
            },
        }
        return Record(
            params=self.p,
            replication=self.replication,
            patients=columns,
            capacity={name: pool.capacity_log() for name, pool in pools.items()},
            in_system_at_end=live,
        )


def _columns(patients: list[Patient]) -> dict[str, np.ndarray]:
    """The record columns of some patients, in the order given."""
    columns: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        values = [getattr(p, name) for p in patients]
        if name in FLOAT_COLUMNS:
            columns[name] = np.array(values, dtype=float)
        elif name in BOOL_COLUMNS:
            columns[name] = np.array(values, dtype=bool)
        else:
            columns[name] = np.array(values, dtype=np.int64)
    return columns


def simulate(params: ModelParams, seed: int, replication: int) -> Record:
    """Run one replication with the SimPy engine."""
    return SimPyReplication(params, seed, replication).run()


class SimPyEngine:
    """The reference engine, as the runner uses it (:class:`sim.engines.base.Engine`)."""

    name = "simpy"
    summary = "the SimPy reference engine: one replication at a time, one process per patient"
    one_at_a_time = True

    def unsupported(self, params: ModelParams) -> list[str]:
        return []

    def run(
        self,
        params: ModelParams,
        seed: int,
        replications: Sequence[int],
        sink: Sink,
        keep_records: bool = False,
    ) -> list[Record]:
        records = []
        for position, replication in enumerate(replications):
            if not keep_records:  # stream: memory holds only the patients in the system
                SimPyReplication(params, seed, replication, sink=sink, position=position).stream()
                continue
            record = simulate(params, seed, replication)
            rep = np.full(record.n, position, dtype=np.intp)
            sink.add_patients(rep, record.patients)
            times, deltas = acute_events(record.patients)
            sink.add_acute_events(np.full(len(times), position, dtype=np.intp), times, deltas)
            records.append(record)
        return records
