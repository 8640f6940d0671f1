"""The SimPy reference engine: one patient, one process, every rule of docs/model.md.

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

Each patient is one SimPy process, :meth:`SimPyReplication._journey`, from
arrival to leaving (and, if readmitted, to the readmission). The engine is
written for clarity first and speed second: it is the reference the compiled
engine (:mod:`sim.engines.compiled`) must reproduce patient for patient. It
records facts (timestamps per patient, capacity changes) and computes no
metrics: :meth:`SimPyReplication.stream` hands each patient's row to a sink
(the metric accumulator) when the patient leaves, and every change of bed
occupancy as it happens, so memory holds only the patients in the system.

**Simultaneous events** follow one rule, which the compiled engine follows too
(docs/engines.md, "Simultaneous events"):

* events are handled in time order, and events at the same time in the order
  they were scheduled (SimPy's own order for timeouts);
* a patient who finds a free place takes it at once and carries on within the
  same event; one who must wait joins the queue, and when a place is granted
  (in queue order) carries on in a new event scheduled at that moment;
* a new patient's journey starts right after the event that created them
  (an arrival, or a readmission falling due), before any other event;
* a patient leaving a place records their own departure first; the freed
  place is then offered to the queue; then the patient's own next step is
  scheduled.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import simpy

from ..clock.schedule import run_openings
from ..codes import AvoidLost, EdOutcome, Origin, Pathway, Route
from ..model import rules
from ..model.demand import Attr, AttributeSource, arrival_times, initial_cohorts, versions
from ..model.record import BOOL_COLUMNS, COLUMNS, FLOAT_COLUMNS, CapacityLog, Record
from ..model.sink import Sink
from ..rng.streams import Streams
from ..scenario.params import CohortParams, ModelParams, Timeline

_NAN = math.nan
STREAM_CHUNK = 20_000
"""Patients (and bed events) buffered before a streaming engine hands them on."""

Journey = Generator[simpy.Event, Any, None]


class Patient:
    """One patient's timestamps. Unset attributes read as the class defaults."""

    cohort = -1
    origin = -1
    parent = -1
    avoid_lost: int = AvoidLost.NOT_LOST
    ed_outcome: int = EdOutcome.NONE
    pathway: int = Pathway.NONE
    avoidable = False
    avoidable_type = False
    sdec_refused = False
    sdec_waited = False
    sdec_admit = False
    readmission_30d = False
    t_arrival = ur_start = ur_end = ed_arrival = ed_start = ed_decision = ed_departure = _NAN
    sdec_start = sdec_end = bed_request = diverted = bed_start = t_fit = bed_end = _NAN
    comm_start = comm_end = _NAN
    assess_start = assess_end = broker_start = broker_end = _NAN
    visits_p1 = visit_days = 0
    row = -1

    def __init__(
        self, cohort: CohortParams, origin: int, t: float, attrs: list[float], phase: int
    ) -> None:
        self.cohort = cohort.index
        self.origin = origin
        self.t_arrival = t
        self.attrs = attrs
        """The patient's draws, by :class:`~sim.model.demand.Attr` (durations: by version)."""
        self.phase = phase
        """The phase of the run they arrived in: its probabilities apply to them."""


class Places:
    """Places (beds, chairs, cubicles, community places) with a first-come, first-served queue.

    A place is free while fewer than ``capacity`` are in use and, if the pool
    has a schedule, the current hour is open. :meth:`take` takes a free place
    at once; :meth:`wait` joins the queue. Waiting patients are granted places
    in the order they joined, whenever a place is released, the capacity rises
    or the schedule opens; a granted place is taken at the moment of the grant.
    A capacity cut never evicts: the pool drains as places are released.
    The capacity is the dated ``capacity`` plus any ``extra`` places opened
    (escalation beds, :meth:`set_extra`).
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: Timeline,
        open_by_hour: np.ndarray | None,
        queues: bool,
    ) -> None:
        self.env = env
        self.name = name
        self.capacity = self.base = float(capacity.values[0])
        self.extra = 0.0
        self.in_use = 0
        self.queue: deque[simpy.Event] = deque()
        always = open_by_hour is None or bool(open_by_hour.all())
        self._open_by_hour = None if always else open_by_hour
        self._open = None if self._open_by_hour is None else self._open_by_hour.tolist()
        self.log_t: list[float] = [0.0]
        self.log_c: list[float] = [self.capacity]
        for t, value in zip(capacity.times_h[1:], capacity.values[1:], strict=True):
            env.process(self._change_at(float(t), float(value)))
        if queues and self._open is not None:  # a pool nobody waits for gains nothing
            env.process(self._openings())

    def is_open(self) -> bool:
        return self._open is None or self._open[rules.schedule_hour(self.env.now, len(self._open))]

    def has_place(self) -> bool:
        return self.in_use < self.capacity and self.is_open()

    def take(self) -> bool:
        """Take a free place at once, if nobody is waiting and one is free and open."""
        if not self.queue and self.has_place():
            self.in_use += 1
            return True
        return False

    def wait(self) -> simpy.Event:
        """Join the queue; the event succeeds when a place is granted (and taken)."""
        event = self.env.event()
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

    def _change_at(self, t: float, value: float) -> Journey:
        yield self.env.timeout(t - self.env.now)
        self.base = value
        self._set_capacity()

    def set_extra(self, extra: float) -> None:
        """Open ``extra`` places on top of the dated capacity (0: close them; never evicts)."""
        self.extra = extra
        self._set_capacity()

    def _set_capacity(self) -> None:
        self.capacity = self.base + self.extra
        self.log_t.append(self.env.now)
        self.log_c.append(self.capacity)
        self._serve()

    def _openings(self) -> Journey:
        # Wake at each whole hour when the schedule opens. Only whole-hour delays
        # are added, so the wake-up times are exact in floating point.
        assert self._open_by_hour is not None
        opens = run_openings(self._open_by_hour)
        if not opens.any():
            return
        marks = opens.tolist()
        hour = 0
        while True:
            step = rules.hours_to_next_opening(hour, marks)
            hour += step
            yield self.env.timeout(step)
            self._serve()

    def capacity_log(self) -> CapacityLog:
        return CapacityLog(np.array(self.log_t), np.array(self.log_c))


class VisitPlaces(Places):
    """P1 home care counted in visits a day (``[community.p1.visits]``).

    ``capacity`` and ``in_use`` count visits a day; a patient takes as many as they
    need (:meth:`take`, :meth:`wait`) and gives them back one at a time as their need
    steps down, and the rest at the end (:meth:`release`). The queue is first come,
    first served: a patient is granted visits only when those free cover their need,
    and nobody behind them goes first (head-of-line blocking). ``patients`` counts the
    patients in the service.
    """

    def __init__(
        self, env: simpy.Environment, name: str, capacity: Timeline, open_by_hour: np.ndarray
    ) -> None:
        self.needs: deque[int] = deque()
        self.patients = 0
        super().__init__(env, name, capacity, open_by_hour, queues=True)

    def _fits(self, need: int) -> bool:
        """Whether ``need`` visits a day are free now (the kernel's test, written alike)."""
        return self.in_use + (need - 1) < self.capacity and self.is_open()

    def take(self, need: int = 1) -> bool:
        if not self.queue and self._fits(need):
            self.in_use += need
            self.patients += 1
            return True
        return False

    def wait(self, need: int = 1) -> simpy.Event:
        self.needs.append(need)
        return super().wait()

    def release(self, visits: int = 1, leaving: bool = False) -> None:
        """``visits`` a day given back (by a step down, or all that are left on ``leaving``),
        then offered to the queue."""
        self.in_use -= visits
        self.patients -= 1 if leaving else 0
        if self.queue:
            self._serve()

    def _serve(self) -> None:
        while self.queue and self._fits(self.needs[0]):
            self.in_use += self.needs.popleft()
            self.patients += 1
            self.queue.popleft().succeed()


class SimPyReplication:
    """One replication of one scenario.

    With a ``sink`` (a :class:`~sim.model.record.Sink`, such as the metric
    accumulator, this replication at ``position``), :meth:`stream` keeps no
    patient who has left unless ``keep`` asks for the whole record as well.
    """

    def __init__(
        self,
        params: ModelParams,
        seed: int,
        replication: int,
        sink: Sink | None = None,
        position: int = 0,
        keep: bool = True,
    ) -> None:
        self.p = params
        self.sink = sink
        self.position = position
        self.keep = keep or sink is None
        self.n_patients = 0
        self.live: dict[int, Patient] = {}
        self.finished: list[Patient] = []
        self.bed_t: list[float] = []
        self.bed_d: list[int] = []
        self.replication = replication
        self.streams = Streams(seed, replication)
        self.env = env = simpy.Environment()
        cal = params.calendar
        self.patients: list[Patient] = []
        self.cubicles = Places(env, "ed", params.ed_cubicles, None, queues=True)
        # a referral that finds SDEC closed may wait for it to open: then an opening serves them
        self.sdec = Places(
            env,
            "sdec",
            params.sdec_chairs,
            params.sdec_open_by_hour,
            queues=params.sdec_refused_wait,
        )
        self.beds = Places(env, "acute", params.beds, None, queues=True)
        self.services: list[Places | None] = [
            None
            if s is None
            else VisitPlaces(env, s.name, s.capacity, s.accepts_by_hour)
            if s.visits is not None
            else Places(env, s.name, s.capacity, accepts, queues=s.index > 0)
            for s, accepts in zip(params.services, params.accepts_by_hour, strict=True)
        ]
        self.visit_final = 0 if params.p1_visits is None else params.p1_visits.final_per_day
        self.stages: list[tuple[Places, Attr, list[bool] | None, str]] = [
            (
                Places(env, g.name, g.capacity, g.open_by_hour, queues=True),
                Attr.ASSESSMENT_H if g.index == 0 else Attr.BROKERAGE_H,
                None if bool(g.open_by_hour.all()) else g.open_by_hour.tolist(),
                "assess" if g.index == 0 else "broker",
            )
            for g in params.stages
            if g is not None
        ]
        self.discharge_wait = params.discharge_wait_h.tolist()
        self.fy_index = cal.hourly("fy_index").tolist()
        self.phase_by_hour = params.phase_by_hour.tolist()
        drawn = versions(params)
        self.rows = drawn.row.tolist()
        self.by_outcome = params.ed_decision_by_outcome
        self.episode_rows = drawn.episode.tolist()
        self.in_ed = 0
        self.escalation_t: list[float] = [0.0]
        self.escalation_beds: list[float] = [0.0]
        if params.escalation is not None:  # after every pool's processes, as the kernel
            env.process(self._escalation_reviews())
        self.sources: dict[tuple[int, int], AttributeSource] = {
            (c.index, origin): AttributeSource(params, c, origin.key, self.streams)
            for c in params.cohorts
            for origin in Origin
        }

    # --- arrivals --------------------------------------------------------------------------

    def _arrivals(self, cohort: CohortParams, origin: Origin) -> Journey:
        env = self.env
        rate = cohort.ed_rate_h if origin == Origin.ED else cohort.direct_rate_h
        name = "arrivals" if origin == Origin.ED else "direct_arrivals"
        for block in arrival_times(rate, self.streams(f"{name}/{cohort.name}")):
            for t in block.tolist():
                yield env.timeout(t - env.now)
                self._arrive(cohort, origin)

    def _phase(self) -> int:
        """The phase of the run in force now."""
        return rules.phase_at(self.env.now, self.phase_by_hour)

    def _rules(self, p: Patient) -> CohortParams:
        """The patient's cohort as it was in the phase they arrived in."""
        return self.p.phase(p.phase).cohorts[p.cohort]

    def _sub_cohort(self, p: Patient) -> bool:
        """Whether the patient is a new attendance of a cohort with an avoidable sub-cohort
        (case mix): then their type sets their admission probability and stay."""
        return p.origin == Origin.ED and self.p.cohorts[p.cohort].avoidable_type_share >= 0

    def _duration(self, p: Patient, attr: Attr) -> float:
        """A duration starting now: the patient's draw of the version in force now."""
        return p.attrs[self.rows[attr][self._phase()]]

    def _arrive(
        self, cohort: CohortParams, origin: int, parent: int = -1, emergency: bool = False
    ) -> None:
        """A new patient, now: registered, and their journey started."""
        attrs = self.sources[(cohort.index, origin)].next()
        p = Patient(cohort, origin, self.env.now, attrs, self._phase())
        p.parent = parent
        p.readmission_30d = emergency
        self._register(p)
        self.env.process(self._journey(p))

    def _journey(self, p: Patient) -> Journey:
        if p.origin == Origin.DIRECT or p.readmission_30d:  # straight to the bed queue
            yield from self._admission(p, from_ed=False)
        elif p.origin == Origin.READMISSION or not (yield from self._avoided(p)):
            yield from self._emergency_department(p)

    def _avoided(self, p: Patient) -> Generator[simpy.Event, Any, bool]:
        """A would-be attendance: cared for at home by urgent community response if possible.
        Of a cohort with an avoidable sub-cohort, avoidance takes only its patients: those whose
        avoidance uniform is below the sub-cohort's share (the plan's share is no larger)."""
        sub_share = self.p.cohorts[p.cohort].avoidable_type_share  # the same in every phase
        p.avoidable_type = p.attrs[Attr.U_AVOID] < sub_share
        hour = rules.hour_of_run(self.env.now, len(self.fy_index))
        c = self.p.phase(self.phase_by_hour[hour]).cohorts[p.cohort]  # the share by hour
        if p.attrs[Attr.U_AVOID] >= rules.avoidable_share(c.avoidable_by_fy, self.fy_index, hour):
            return False
        p.avoidable = True
        p.avoidable_type = True
        urgent = self.services[0]
        assert urgent is not None  # validated: avoidance needs the service
        if not urgent.is_open():
            p.avoid_lost = AvoidLost.CLOSED
            return False
        if not urgent.take():
            p.avoid_lost = AvoidLost.FULL
            return False
        p.ur_start = self.env.now
        yield self.env.timeout(self._duration(p, Attr.UR_EPISODE_H))
        yield from self._urgent_end(p)
        return True

    def _urgent_end(self, p: Patient) -> Journey:
        p.ur_end = self.env.now
        urgent = self.services[0]
        assert urgent is not None
        urgent.release()
        self._finish(p)
        yield from self._readmission(p, Route.URGENT_RESPONSE)

    # --- A&E and SDEC ---------------------------------------------------------------------

    def _emergency_department(self, p: Patient) -> Journey:
        env = self.env
        p.ed_arrival = env.now
        self.in_ed += 1
        if not self.cubicles.take():
            yield self.cubicles.wait()
        p.ed_start = env.now
        c = self._rules(p)
        p_admit = rules.admit_probability(
            c.p_admit, c.p_admit_by_type, self._sub_cohort(p), p.avoidable_type
        )
        outcome = rules.ed_outcome(p.attrs[Attr.U_OUTCOME], p_admit, c.p_sdec)
        decision = rules.decision_attribute(
            outcome,
            self.by_outcome,
            Attr.ED_DECISION_H,
            Attr.ED_DECISION_ADMIT_H,
            Attr.ED_DECISION_SDEC_H,
        )
        yield env.timeout(self._duration(p, Attr(decision)))
        p.ed_decision = env.now
        p.ed_outcome = outcome
        if p.ed_outcome == EdOutcome.HOME:
            self._leave_ed(p)
            self.cubicles.release()
            self._finish(p)
            return
        if p.ed_outcome == EdOutcome.SDEC:
            if self.sdec.take():
                self._leave_ed(p)
                self.cubicles.release()
                p.sdec_start = env.now
                yield env.timeout(self._duration(p, Attr.SDEC_EPISODE_H))
                yield from self._sdec_end(p)
                return
            if self.p.sdec_refused_wait and not self.sdec.is_open():
                # home, to come back when SDEC opens and take a chair first come, first served
                p.sdec_waited = True
                self._leave_ed(p)
                self.cubicles.release()
                yield self.sdec.wait()
                p.sdec_start = env.now
                yield env.timeout(self._duration(p, Attr.SDEC_EPISODE_H))
                yield from self._sdec_end(p)
                return
            p.sdec_refused = True
        # admitted: board in A&E until a bed is free
        if not self.p.boarding_holds_cubicle:
            self.cubicles.release()
        yield from self._admission(p, from_ed=True)

    def _leave_ed(self, p: Patient, boarded: bool = False) -> None:
        p.ed_departure = self.env.now
        self.in_ed -= 1
        if boarded and self.p.boarding_holds_cubicle:
            self.cubicles.release()

    def _sdec_end(self, p: Patient) -> Journey:
        p.sdec_end = self.env.now
        self.sdec.release()
        if p.attrs[Attr.U_SDEC_ADMIT] < self.p.phase(p.phase).sdec_p_admit:
            p.sdec_admit = True
            yield from self._admission(p, from_ed=False)
        else:
            self._finish(p)  # home the same day: no readmission risk is configured

    # --- acute beds and discharge ---------------------------------------------------------

    def _admission(self, p: Patient, from_ed: bool) -> Journey:
        beds = self.beds
        p.bed_request = self.env.now
        threshold = self.p.phase(self._phase()).diversion_threshold
        if threshold is not None and not beds.has_place() and len(beds.queue) >= threshold:
            p.diverted = self.env.now
            if from_ed:
                self._leave_ed(p, boarded=True)
            self._finish(p)
            return
        if not beds.take():
            yield beds.wait()
        p.bed_start = self.env.now
        self._bed_event(1)
        if from_ed:
            self._leave_ed(p, boarded=True)
        yield from self._stay(p)

    def _stay(self, p: Patient) -> Journey:
        env = self.env
        if math.isnan(p.t_fit):
            k = p.pathway if p.pathway >= 0 else int(p.attrs[self.rows[Attr.PATHWAY][p.phase]])
            # the stay of the pathway they will leave on, if it has its own
            own = self._duration(p, Attr(Attr.LOS_P1_H + k - 1)) if k > 0 else -1.0
            los = rules.treatment_stay(
                self._duration(p, Attr.LOS_H),
                own,
                self._duration(p, Attr.LOS_AVOIDABLE_H),
                p.avoidable_type and self._sub_cohort(p),
                self.p.phase(self._phase()).cohorts[p.cohort].rest_los_scale
                if self._sub_cohort(p)
                else 1.0,
            )
            if p.sdec_refused and self.p.sdec_refused_stay_sdec:
                los = rules.refused_sdec_stay(
                    los,
                    self._duration(p, Attr.SDEC_EPISODE_H),
                    p.attrs[Attr.U_SDEC_ADMIT],
                    self.p.phase(p.phase).sdec_p_admit,
                )
            yield env.timeout(los)
            p.t_fit = env.now
        if p.pathway < 0:
            p.pathway = int(p.attrs[self.rows[Attr.PATHWAY][p.phase]])  # their phase's mix
        if p.pathway == Pathway.P0:
            delay = rules.p0_discharge_delay(env.now, self.discharge_wait)
            if delay > 0:
                yield env.timeout(delay)
            self._leave_bed(p)
            self._finish(p)
            yield from self._readmission(p, Route.P0)
            return
        for stage in self.stages:
            yield from self._stage(p, *stage)
        service = self.services[p.pathway]
        assert service is not None  # validated: a pathway in use needs its service
        if isinstance(service, VisitPlaces):
            yield from self._visits(p, service)
            return
        if not service.take():
            yield service.wait()
        p.comm_start = env.now
        self._leave_bed(p)
        yield env.timeout(p.attrs[self.episode_rows[p.phase][self._phase()]])
        yield from self._community_end(p)

    def _visits(self, p: Patient, service: VisitPlaces) -> Journey:
        """A P1 episode counted in visits: the patient starts when their initial visits a
        day are free (and the service accepts), steps down one visit at a time on the days
        :func:`sim.model.rules.visit_step_day` gives, each step giving a visit back to the
        queue at once, and gives back the rest at the end."""
        env = self.env
        need = int(p.attrs[Attr.VISITS_P1])
        if not service.take(need):
            yield service.wait(need)
        p.comm_start = env.now
        self._leave_bed(p)
        episode = p.attrs[self.episode_rows[p.phase][self._phase()]]
        p.visits_p1, p.visit_days = need, rules.visit_days(episode)
        held, last, step = need, 0, 1
        while (day := rules.visit_step_day(step, need, self.visit_final, p.visit_days)) >= 0:
            yield env.timeout(24.0 * (day - last))
            held -= 1
            service.release(1)
            last, step = day, step + 1
        yield env.timeout(episode - 24.0 * last)
        p.comm_end = env.now
        service.release(held, leaving=True)
        self._finish(p)
        yield from self._readmission(p, p.pathway)

    def _stage(
        self, p: Patient, pool: Places, attr: Attr, open_by_hour: list[bool] | None, name: str
    ) -> Journey:
        """A discharge stage (assessment, brokerage): a case taken when the stage works and
        has room, lasting its working hours; a case with no duration ends at once."""
        env = self.env
        if not pool.take():
            yield pool.wait()
        setattr(p, f"{name}_start", env.now)
        hours = self._duration(p, attr)
        if hours > 0 and open_by_hour is None:
            yield env.timeout(hours)
        elif hours > 0 and open_by_hour is not None:  # the clock stops while closed
            yield env.timeout(rules.working_end(env.now, hours, open_by_hour) - env.now)
        setattr(p, f"{name}_end", env.now)
        pool.release()

    def _leave_bed(self, p: Patient) -> None:
        p.bed_end = self.env.now
        self._bed_event(-1)
        self.beds.release()
        self._emergency_readmission(p)

    def _emergency_readmission(self, p: Patient) -> None:
        """On leaving the bed: a 30-day emergency readmission with the pathway's probability,
        arriving later at the bed queue (a timer, as the patient's journey goes on)."""
        c = self._rules(p)
        if rules.readmitted(p.attrs[Attr.U_READMIT_30D], c.p_readmit_30d, p.pathway):
            timer = self.env.timeout(self._duration(p, Attr.READMIT_30D_DELAY_H))
            cohort, row = self.p.cohorts[p.cohort], p.row
            timer.callbacks.append(
                lambda _: self._arrive(cohort, Origin.READMISSION, parent=row, emergency=True)
            )

    def _community_end(self, p: Patient) -> Journey:
        p.comm_end = self.env.now
        service = self.services[p.pathway]
        assert service is not None
        service.release()
        self._finish(p)
        yield from self._readmission(p, p.pathway)

    # --- escalation beds ------------------------------------------------------------------

    def _escalation_reviews(self) -> Journey:
        """Review at each whole hour the scenario names (from hour 1): open or close the
        escalation beds by :func:`~sim.model.rules.escalation_open`. An opening offers the
        new beds to the bed queue at once; a closing never evicts (it drains)."""
        e = self.p.escalation
        assert e is not None
        marks = e.review_by_hour.tolist()
        if not any(marks):
            return
        beds = self.beds
        hour = 0
        while True:
            step = rules.hours_to_next_opening(hour, marks)
            hour += step
            yield self.env.timeout(step)
            was_open = beds.extra > 0
            now_open = rules.escalation_open(
                was_open,
                beds.in_use,
                len(beds.queue),
                beds.base,
                e.open_at_occupancy,
                e.open_at_queue,
                e.close_below_occupancy,
            )
            if now_open != was_open:
                self.escalation_t.append(self.env.now)
                self.escalation_beds.append(float(e.beds) if now_open else 0.0)
                beds.set_extra(self.escalation_beds[-1])

    # --- readmissions ---------------------------------------------------------------------

    def _readmission(self, p: Patient, route: int) -> Journey:
        """After the patient is home: a re-attendance with the route's probability, later."""
        c = self._rules(p)
        if rules.readmitted(p.attrs[Attr.U_READMIT], c.p_readmit, route):
            yield self.env.timeout(self._duration(p, Attr.READMIT_DELAY_H))
            self._arrive(self.p.cohorts[p.cohort], Origin.READMISSION, parent=p.row)

    # --- the record -----------------------------------------------------------------------

    def _register(self, p: Patient) -> None:
        p.row = self.n_patients
        self.n_patients += 1
        if self.keep:
            self.patients.append(p)
        if self.sink is not None:
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
        """Hand finished rows (in the order they left) and bed events (in time order) on."""
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
        """Place today's patients in beds and community places, then start their journeys."""
        started = []
        for kind, k, cohorts, remaining in initial_cohorts(self.p, self.streams):
            for i, index in enumerate(cohorts.tolist()):
                cohort = self.p.cohorts[index]
                attrs = self.sources[(index, Origin.INITIAL)].next()
                p = Patient(cohort, Origin.INITIAL, 0.0, attrs, self._phase())
                self._register(p)
                if kind == "treating":
                    p.bed_start = 0.0
                    self.beds.in_use += 1
                    self._bed_event(1)
                    started.append(self._stay(p))
                elif kind == "delayed":
                    assert remaining is not None
                    p.bed_start = p.t_fit = 0.0
                    p.pathway = k
                    for row in {r for rs in self.episode_rows for r in rs}:  # every version
                        p.attrs[row] = float(remaining[i])
                    self.beds.in_use += 1
                    self._bed_event(1)
                    started.append(self._stay(p))
                else:
                    service = self.services[k]
                    assert service is not None
                    assert remaining is not None
                    service.in_use += 1
                    if k == 0:
                        p.avoidable = True
                        p.ur_start = 0.0
                        started.append(self._in_urgent_response(p, float(remaining[i])))
                    else:
                        p.pathway = k
                        p.comm_start = 0.0
                        started.append(self._in_community(p, float(remaining[i])))
        for journey in started:  # every place is taken before anyone asks for one
            self.env.process(journey)

    def _in_urgent_response(self, p: Patient, remaining_h: float) -> Journey:
        yield self.env.timeout(remaining_h)
        yield from self._urgent_end(p)

    def _in_community(self, p: Patient, remaining_h: float) -> Journey:
        yield self.env.timeout(remaining_h)
        yield from self._community_end(p)

    # --- run ------------------------------------------------------------------------------

    def _simulate(self) -> None:
        env = self.env
        self._initial_state()
        for cohort in self.p.cohorts:
            if cohort.ed_rate_h.any():
                env.process(self._arrivals(cohort, Origin.ED))
            if cohort.direct_rate_h.any():
                env.process(self._arrivals(cohort, Origin.DIRECT))
        env.run(until=self.p.calendar.end_h)

    def run(self) -> Record:
        """Simulate and return every patient's row (memory grows with the horizon)."""
        if self.sink is not None:
            raise ValueError("an engine with a sink streams: call stream(), not run()")
        self._simulate()
        return self._record()

    def stream(self) -> Record | None:
        """Simulate, handing rows to the sink as patients leave, then those still inside
        (in the order they arrived); the whole record too if ``keep``."""
        if self.sink is None:
            raise ValueError("stream() needs a sink (such as a MetricAccumulator)")
        self._simulate()
        self.finished.extend(self.live.values())
        self.live = {}
        self._flush()
        if self.p.escalation is not None:
            log = self._escalation_log()
            self.sink.add_escalation(self.position, log.times_h, log.values)
        return self._record() if self.keep else None

    def _record(self) -> Record:
        columns = _columns(self.patients)
        pools = {"ed": self.cubicles, "sdec": self.sdec, "acute": self.beds}
        pools.update({s.name: s for s in self.services if s is not None})
        pools.update({pool.name: pool for pool, *_ in self.stages})
        capacity = {name: pool.capacity_log() for name, pool in pools.items()}
        if self.p.escalation is not None:
            capacity["acute_escalation"] = self._escalation_log()
        live = {
            "ed": self.in_ed,
            "acute": self.beds.in_use,
            "acute_queue": len(self.beds.queue),
            **{name: pool.in_use for name, pool in pools.items() if name not in ("ed", "acute")},
        }
        p1 = self.services[1]
        if isinstance(p1, VisitPlaces):  # patients in the service, and their visits a day
            live["p1"], live["p1_visits"] = p1.patients, p1.in_use
        return Record(
            params=self.p,
            replication=self.replication,
            patients=columns,
            capacity=capacity,
            in_system_at_end=live,
        )

    def _escalation_log(self) -> CapacityLog:
        """Escalation beds open from each time on (0 at the start)."""
        return CapacityLog(np.array(self.escalation_t), np.array(self.escalation_beds))


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
    """Run one replication with the SimPy engine and return its whole record."""
    return SimPyReplication(params, seed, replication).run()


class SimPyEngine:
    """The reference engine, as the runner uses it (:class:`sim.engines.base.Engine`)."""

    name = "simpy"
    summary = "the SimPy reference engine: one replication at a time, one process per patient"
    one_at_a_time = True

    def unsupported(self, params: ModelParams) -> list[str]:
        return []

    def prepare(self, status: Callable[[str], None] | None = None) -> float:
        return 0.0  # nothing to compile

    def run(
        self,
        params: ModelParams,
        seed: int,
        replications: Sequence[int],
        sink: Sink,
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[Record]:
        records = []
        for position, replication in enumerate(replications):
            one = SimPyReplication(params, seed, replication, sink, position, keep=keep_records)
            record = one.stream()
            if record is not None:
                records.append(record)
        return records

    def run_points(
        self,
        points: Sequence[ModelParams],
        seed: int,
        replications: Sequence[int],
        sinks: Sequence[Sink],
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[list[Record]]:
        """One point after another: the SimPy engine draws as it runs."""
        return [
            self.run(params, seed, replications, sink, keep_records, threads)
            for params, sink in zip(points, sinks, strict=True)
        ]
