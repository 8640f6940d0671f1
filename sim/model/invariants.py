"""Invariants every run must satisfy, checked on the record.

* conservation: every patient who arrived has left or is still in the system,
  and the engine's own live counts at the end agree with the record;
* timestamps run forwards for each patient (no negative waits);
* capacity: no place is taken while the pool is full (a capacity cut drains,
  never evicts) and never while a schedule is closed; for P1 in visits, no start takes
  more visits a day than are free (reconstructed with :func:`visit_events`);
* first come, first served: beds are taken in the order they were asked for,
  community places in the order patients became fit.

:func:`check` returns the list of violations, each naming the invariant and
the simulated time it first fails at (hours from t = 0 and the calendar
date); :func:`assert_ok` raises :class:`InvariantError`. Tests run these on
every engine run (``LEFTSHIFT_CHECK=1``, set by the test suite); ``--check``
on ``leftshift run``, ``compare`` and ``sweep`` runs them on either engine.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..clock import stepfn
from ..clock.calendar import Calendar
from ..codes import EPS_HOURS, SERVICES, EdOutcome, Origin, Pathway
from ..errors import InvariantError
from . import rules
from .record import Record

_ORDER = (
    ("t_arrival", "ed_arrival"),
    ("t_arrival", "ur_start"),
    ("ur_start", "ur_end"),
    ("ed_arrival", "ed_start"),
    ("ed_start", "ed_decision"),
    ("ed_decision", "ed_departure"),
    ("ed_decision", "sdec_start"),
    ("sdec_start", "sdec_end"),
    ("sdec_end", "bed_request"),
    ("ed_decision", "bed_request"),
    ("bed_request", "bed_start"),
    ("bed_request", "diverted"),
    ("bed_start", "t_fit"),
    ("t_fit", "bed_end"),
    ("bed_end", "comm_start"),
    ("comm_start", "comm_end"),
    ("t_fit", "assess_start"),
    ("assess_start", "assess_end"),
    ("assess_end", "broker_start"),
    ("t_fit", "broker_start"),
    ("broker_start", "broker_end"),
    ("assess_end", "bed_end"),
    ("broker_end", "bed_end"),
)


def _when(cal: Calendar, t: float) -> str:
    """A simulated time as a message gives it: hours from t = 0 and the calendar day."""
    if not np.isfinite(t):
        return "at an unknown time"
    day = cal.sim_start + dt.timedelta(hours=float(t))
    return f"first at t = {t:,.1f} h ({day:%Y-%m-%d %H:%M})"


def _pool_breaches(
    starts: np.ndarray, ends: np.ndarray, cap_t: np.ndarray, cap_v: np.ndarray, end_h: float
) -> tuple[int, float]:
    """Starts that happened while the pool was already at or above capacity, and the first."""
    starts = starts[~np.isnan(starts)]
    ends = ends[~np.isnan(ends)]
    # at equal times releases happen first, then starts (a freed place is reused)
    times = np.concatenate((ends, starts))
    kind = np.concatenate((np.zeros(len(ends)), np.ones(len(starts))))
    order = np.lexsort((kind, times))
    times, kind = times[order], kind[order]
    delta = np.where(kind == 1, 1, -1)
    before = np.cumsum(delta) - delta
    cap = cap_v[np.searchsorted(cap_t, times + EPS_HOURS, side="right") - 1]
    is_start = kind == 1
    # starts at t = 0 are the starting state, placed before capacity applies
    bad = (before >= cap) & is_start & (times > 0)
    return int(bad.sum()), float(times[bad].min()) if bad.any() else np.nan


def visit_events(patients: dict[str, np.ndarray], final: int) -> tuple[np.ndarray, np.ndarray]:
    """P1's visits a day taken and given back, from the record (P1 counted in visits):
    ``(times, deltas)`` in time order (at equal times those given back first). A patient
    takes ``visits_p1`` at ``comm_start``, gives one back at each step down (the days of
    :func:`sim.model.rules.visit_step_day`, found as the engines find them: 24 h x the days
    between steps added to the last) and the rest at ``comm_end``."""
    times: list[float] = []
    deltas: list[int] = []
    on = (patients["pathway"] == Pathway.P1) & ~np.isnan(patients["comm_start"])
    for i in np.flatnonzero(on & (patients["visits_p1"] > 0)):
        start, end = float(patients["comm_start"][i]), float(patients["comm_end"][i])
        initial, days = int(patients["visits_p1"][i]), int(patients["visit_days"][i])
        times.append(start)
        deltas.append(initial)
        held, t, last, step = initial, start, 0, 1
        while (day := rules.visit_step_day(step, initial, final, days)) >= 0:
            t = t + 24.0 * (day - last)
            times.append(t)
            deltas.append(-1)
            held, last, step = held - 1, day, step + 1
        if not np.isnan(end):
            times.append(end)
            deltas.append(-held)
    t_arr, d_arr = np.array(times, dtype=float), np.array(deltas, dtype=np.int64)
    order = np.lexsort((d_arr, t_arr))
    return t_arr[order], d_arr[order]


def _visit_breaches(
    times: np.ndarray, deltas: np.ndarray, cap_t: np.ndarray, cap_v: np.ndarray, end_h: float
) -> tuple[int, float]:
    """Starts after which P1's visits a day in use passed its capacity, and the first
    (events at or after ``end_h`` never happened)."""
    happened = times < end_h
    times, deltas = times[happened], deltas[happened]
    after = np.cumsum(deltas)
    cap = cap_v[np.searchsorted(cap_t, times + EPS_HOURS, side="right") - 1]
    bad = (deltas > 0) & (after > cap)
    return int(bad.sum()), float(times[bad].min()) if bad.any() else np.nan


def _idle_while_waiting(
    starts: np.ndarray,
    ends: np.ndarray,
    asked: np.ndarray,
    got: np.ndarray,
    cap_t: np.ndarray,
    cap_v: np.ndarray,
    end_h: float,
) -> tuple[float, float]:
    """Hours during which someone waited while the pool had a free place, and the first."""
    used = stepfn.counting(starts, ends, end_h)
    queue = stepfn.counting(asked, got, end_h)
    times, u, q = stepfn.combine(used, queue)
    capacity = cap_v[np.searchsorted(cap_t, times, side="right") - 1]
    width = np.diff(np.append(times, end_h))
    idle = (q > 0) & (u < capacity) & (width > 0)
    return float(width[idle].sum()), float(times[idle].min()) if idle.any() else np.nan


def _in_schedule(t: np.ndarray, open_by_hour: np.ndarray) -> np.ndarray:
    """Whether each time falls in an open hour of a schedule over the run (its last hour's
    for the end itself, as :func:`sim.model.rules.schedule_hour` rules)."""
    hour = np.minimum(np.floor(t + EPS_HOURS).astype(np.int64), len(open_by_hour) - 1)
    return open_by_hour[hour]


def check(record: Record) -> list[str]:
    """Every invariant the record breaks, as ``"invariant: what (first at t = ... h (date))"``."""
    P = record.patients
    params = record.params
    cal = params.calendar
    end = cal.end_h
    problems: list[str] = []

    for first, then in _ORDER:
        a, b = P[first], P[then]
        bad = ~np.isnan(a) & ~np.isnan(b) & (b < a - 1e-9)
        if bad.any():
            problems.append(
                f"order: {int(bad.sum())} patients have {then} before {first} "
                f"({_when(cal, float(b[bad].min()))})"
            )

    # conservation: everyone who arrived left, or is somewhere in the system at the end
    in_ed = ~np.isnan(P["ed_arrival"]) & np.isnan(P["ed_departure"])
    in_bed = ~np.isnan(P["bed_start"]) & np.isnan(P["bed_end"])
    queued = ~np.isnan(P["bed_request"]) & np.isnan(P["bed_start"]) & np.isnan(P["diverted"])
    in_sdec = ~np.isnan(P["sdec_start"]) & np.isnan(P["sdec_end"])
    in_urgent = ~np.isnan(P["ur_start"]) & np.isnan(P["ur_end"])
    in_comm = ~np.isnan(P["comm_start"]) & np.isnan(P["comm_end"])
    in_stage = {
        "assessment": ~np.isnan(P["assess_start"]) & np.isnan(P["assess_end"]),
        "brokerage": ~np.isnan(P["broker_start"]) & np.isnan(P["broker_end"]),
    }
    live = record.in_system_at_end
    counted = {
        "ed": int(in_ed.sum()),
        "acute": int(in_bed.sum()),
        "sdec": int(in_sdec.sum()),
        "urgent_response": int(in_urgent.sum()),
    }
    for k in (1, 2, 3):
        counted[f"p{k}"] = int((in_comm & (P["pathway"] == k)).sum())
    for name, held in in_stage.items():
        counted[name] = int(held.sum())
    at_end = f"at the end, t = {end:,.1f} h"
    for name, n in counted.items():
        if name in live and live[name] != n:
            problems.append(
                f"conservation: engine holds {live[name]} in {name}, record {n} ({at_end})"
            )
    if "acute_queue" in live and live["acute_queue"] != int(queued.sum()):
        problems.append(
            f"conservation: engine bed queue {live['acute_queue']}, record {int(queued.sum())} "
            f"({at_end})"
        )
    gone = (
        ~np.isnan(P["ed_departure"])
        | ~np.isnan(P["ur_end"])
        | ~np.isnan(P["bed_end"])
        | ~np.isnan(P["diverted"])
        | ~np.isnan(P["sdec_end"])
        | ~np.isnan(P["comm_end"])
    )
    nowhere = ~(in_ed | in_bed | queued | in_sdec | in_urgent | in_comm | gone)
    if nowhere.any():
        problems.append(
            f"conservation: {int(nowhere.sum())} patients neither left nor in system "
            f"({_when(cal, float(P['t_arrival'][nowhere].min()))}, their earliest arrival)"
        )

    # capacity: no place taken while full
    pools = {
        "acute": (P["bed_start"], P["bed_end"]),
        "sdec": (P["sdec_start"], P["sdec_end"]),
        "ed": (
            P["ed_start"],
            np.where(
                params.boarding_holds_cubicle
                & ((P["ed_outcome"] == EdOutcome.ADMIT) | P["sdec_refused"]),
                P["ed_departure"],
                np.where(
                    np.isnan(P["ed_decision"]),
                    np.nan,
                    np.where(
                        (P["ed_outcome"] == EdOutcome.ADMIT) | P["sdec_refused"],
                        P["ed_decision"],
                        P["ed_departure"],
                    ),
                ),
            ),
        ),
        "urgent_response": (P["ur_start"], P["ur_end"]),
        "assessment": (P["assess_start"], P["assess_end"]),
        "brokerage": (P["broker_start"], P["broker_end"]),
    }
    for k in (1, 2, 3):
        on = P["pathway"] == k
        pools[f"p{k}"] = (
            np.where(on, P["comm_start"], np.nan),
            np.where(on, P["comm_end"], np.nan),
        )
    visits = params.p1_visits
    if visits is not None:  # P1's capacity is visits a day: check the visits, not the patients
        pools.pop("p1")
        visit_log = record.capacity["p1"]
        times, deltas = visit_events(P, visits.final_per_day)
        n, first_t = _visit_breaches(times, deltas, visit_log.times_h, visit_log.values, end)
        if n:
            problems.append(
                f"capacity: {n} P1 starts took more visits a day than were free "
                f"({_when(cal, first_t)})"
            )
        held = int(deltas[times < end].sum())
        if "p1_visits" in live and live["p1_visits"] != held:
            problems.append(
                f"conservation: engine holds {live['p1_visits']} P1 visits a day, record "
                f"{held} ({at_end})"
            )
    for name, (starts, ends) in pools.items():
        log = record.capacity.get(name)
        if log is None:
            continue
        n, first_t = _pool_breaches(starts, ends, log.times_h, log.values, end)
        if n:
            problems.append(f"capacity: {n} {name} places taken while full ({_when(cal, first_t)})")

    # work conserving: nobody waits for a bed or a cubicle while one is free
    bed_leave = np.where(np.isnan(P["bed_start"]), P["diverted"], P["bed_start"])
    waits = {
        "acute": (P["bed_request"], bed_leave),
        "ed": (P["ed_arrival"], P["ed_start"]),
    }
    for name, (asked, got) in waits.items():
        log = record.capacity.get(name)
        if log is None or not np.isfinite(log.values).any():
            continue
        starts, ends = pools[name]
        hours, first_t = _idle_while_waiting(starts, ends, asked, got, log.times_h, log.values, end)
        if hours > 1e-6:
            problems.append(
                f"work conserving: {name} places idle for {hours:.3g} h while patients waited "
                f"({_when(cal, first_t)})"
            )

    # schedules
    checks = [("sdec", P["sdec_start"], params.sdec_open_by_hour)]
    for s, spec in zip(SERVICES, params.services, strict=True):
        if spec is None:
            continue
        t = (
            P["ur_start"]
            if s == "urgent_response"
            else np.where(P["pathway"] == int(s[1]), P["comm_start"], np.nan)
        )
        checks.append((s, t, spec.accepts_by_hour))
    for stage, column in zip(params.stages, ("assess", "broker"), strict=True):
        if stage is None:
            continue
        start, stop = P[f"{column}_start"], P[f"{column}_end"]
        checks.append((f"{stage.name} case", start, stage.open_by_hour))
        # a case ends in an open hour, or at the very end of one
        worked = ~np.isnan(stop) & (stop > start)
        last = np.where(worked, stop - 1e-6, np.nan)
        checks.append((f"{stage.name} case-end", last, stage.open_by_hour))
    p0_exit = np.where(P["pathway"] == Pathway.P0, P["bed_end"], np.nan)
    checks.append(("P0 discharge", p0_exit, params.discharge_open_by_hour))
    for name, t, open_by_hour in checks:
        t = t[~np.isnan(t) & (t > 0)]
        bad = ~_in_schedule(t, open_by_hour)
        if bad.any():
            problems.append(
                f"schedule: {int(bad.sum())} {name} starts outside its open hours "
                f"({_when(cal, float(t[bad].min()))})"
            )

    # first come, first served
    got_bed = ~np.isnan(P["bed_start"]) & (P["origin"] != Origin.INITIAL)
    order = np.argsort(P["bed_request"][got_bed], kind="stable")
    starts = P["bed_start"][got_bed][order]
    jumped = np.diff(starts) < -1e-9
    if jumped.any():
        problems.append(
            "FCFS: a later bed request took a bed before an earlier one "
            f"({_when(cal, float(starts[1:][jumped].min()))})"
        )
    for k in (1, 2, 3):
        on = (P["pathway"] == k) & ~np.isnan(P["comm_start"]) & ~np.isnan(P["bed_start"])
        # the service's queue is joined once the last discharge stage is over
        ready = np.fmax(P["t_fit"], np.fmax(P["assess_end"], P["broker_end"]))[on]
        order = np.lexsort((P["t_fit"][on], ready))
        taken = P["comm_start"][on][order]
        jumped = np.diff(taken) < -1e-9
        if jumped.any():
            problems.append(
                f"FCFS: P{k} places not taken in the order patients became fit "
                f"({_when(cal, float(taken[1:][jumped].min()))})"
            )
    return problems


def assert_ok(record: Record) -> None:
    """Raise :class:`InvariantError` listing every invariant the record breaks."""
    problems = check(record)
    if problems:
        raise InvariantError(record.params.scenario_name, record.replication, problems)
