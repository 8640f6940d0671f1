"""Invariants every run must satisfy, checked on the record.

* conservation: every patient who arrived has left or is still in the system,
  and the engine's own live counts at the end agree with the record;
* timestamps run forwards for each patient (no negative waits);
* capacity: no place is taken while the pool is full (a capacity cut drains,
  never evicts) and never while a schedule is closed;
* first come, first served: beds are taken in the order they were asked for,
  community places in the order patients became fit.

:func:`check` returns the list of violations; :func:`assert_ok` raises.
Tests run these on every engine run (``LEFTSHIFT_CHECK=1``, set by the test
suite); ``leftshift run --check`` runs them too.
"""

from __future__ import annotations

import numpy as np

from . import stepfn
from .calendar import EPS_HOURS
from .config import SERVICES
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
)


class InvariantError(AssertionError):
    pass


def _pool_breaches(
    starts: np.ndarray, ends: np.ndarray, cap_t: np.ndarray, cap_v: np.ndarray, end_h: float
) -> int:
    """Starts that happened while the pool was already at or above capacity."""
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
    return int(((before >= cap) & is_start & (times > 0)).sum())


def _idle_while_waiting(
    starts: np.ndarray,
    ends: np.ndarray,
    asked: np.ndarray,
    got: np.ndarray,
    cap_t: np.ndarray,
    cap_v: np.ndarray,
    end_h: float,
) -> float:
    """Hours during which someone waited while the pool had a free place."""
    used = stepfn.counting(starts, ends, end_h)
    queue = stepfn.counting(asked, got, end_h)
    times, u, q = stepfn.combine(used, queue)
    capacity = cap_v[np.searchsorted(cap_t, times, side="right") - 1]
    width = np.diff(np.append(times, end_h))
    return float(width[(q > 0) & (u < capacity)].sum())


def _in_schedule(t: np.ndarray, open_hours: np.ndarray, offset: int) -> np.ndarray:
    hour = (offset + np.floor(t + EPS_HOURS).astype(np.int64)) % 168
    return open_hours[hour]


def check(record: Record) -> list[str]:
    P = record.patients
    params = record.params
    cal = params.calendar
    end = cal.end_h
    problems: list[str] = []

    for first, then in _ORDER:
        a, b = P[first], P[then]
        bad = ~np.isnan(a) & ~np.isnan(b) & (b < a - 1e-9)
        if bad.any():
            problems.append(f"{int(bad.sum())} patients have {then} before {first}")

    # conservation: everyone who arrived left, or is somewhere in the system at the end
    in_ed = ~np.isnan(P["ed_arrival"]) & np.isnan(P["ed_departure"])
    in_bed = ~np.isnan(P["bed_start"]) & np.isnan(P["bed_end"])
    queued = ~np.isnan(P["bed_request"]) & np.isnan(P["bed_start"]) & np.isnan(P["diverted"])
    in_sdec = ~np.isnan(P["sdec_start"]) & np.isnan(P["sdec_end"])
    in_urgent = ~np.isnan(P["ur_start"]) & np.isnan(P["ur_end"])
    in_comm = ~np.isnan(P["comm_start"]) & np.isnan(P["comm_end"])
    live = record.in_system_at_end
    counted = {
        "ed": int(in_ed.sum()),
        "acute": int(in_bed.sum()),
        "sdec": int(in_sdec.sum()),
        "urgent_response": int(in_urgent.sum()),
    }
    for k in (1, 2, 3):
        counted[f"p{k}"] = int((in_comm & (P["pathway"] == k)).sum())
    for name, n in counted.items():
        if name in live and live[name] != n:
            problems.append(f"conservation: engine holds {live[name]} in {name}, record {n}")
    if "acute_queue" in live and live["acute_queue"] != int(queued.sum()):
        problems.append(
            f"conservation: engine bed queue {live['acute_queue']}, record {int(queued.sum())}"
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
        problems.append(f"conservation: {int(nowhere.sum())} patients neither left nor in system")

    # capacity: no place taken while full
    pools = {
        "acute": (P["bed_start"], P["bed_end"]),
        "sdec": (P["sdec_start"], P["sdec_end"]),
        "ed": (
            P["ed_start"],
            np.where(
                params.boarding_holds_cubicle & ((P["ed_outcome"] == 2) | P["sdec_refused"]),
                P["ed_departure"],
                np.where(
                    np.isnan(P["ed_decision"]),
                    np.nan,
                    np.where(
                        (P["ed_outcome"] == 2) | P["sdec_refused"],
                        P["ed_decision"],
                        P["ed_departure"],
                    ),
                ),
            ),
        ),
        "urgent_response": (P["ur_start"], P["ur_end"]),
    }
    for k in (1, 2, 3):
        on = P["pathway"] == k
        pools[f"p{k}"] = (
            np.where(on, P["comm_start"], np.nan),
            np.where(on, P["comm_end"], np.nan),
        )
    for name, (starts, ends) in pools.items():
        log = record.capacity.get(name)
        if log is None:
            continue
        n = _pool_breaches(starts, ends, log.times_h, log.values, end)
        if n:
            problems.append(f"capacity: {n} {name} places taken while full")

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
        hours = _idle_while_waiting(starts, ends, asked, got, log.times_h, log.values, end)
        if hours > 1e-6:
            problems.append(
                f"work conserving: {name} places idle for {hours:.3g} h while patients waited"
            )

    # schedules
    offset = cal.week_offset_h
    checks = [("sdec", P["sdec_start"], params.sdec_open.open_hours)]
    for s, spec in zip(SERVICES, params.services, strict=True):
        if spec is None:
            continue
        t = (
            P["ur_start"]
            if s == "urgent_response"
            else np.where(P["pathway"] == int(s[1]), P["comm_start"], np.nan)
        )
        checks.append((s, t, spec.accepts.open_hours))
    p0_exit = np.where(P["pathway"] == 0, P["bed_end"], np.nan)
    checks.append(("P0 discharge", p0_exit, params.discharge_hours.open_hours))
    for name, t, open_hours in checks:
        t = t[~np.isnan(t) & (t > 0)]
        bad = ~_in_schedule(t, open_hours, offset)
        if bad.any():
            problems.append(f"schedule: {int(bad.sum())} {name} starts outside its open hours")

    # first come, first served
    got_bed = ~np.isnan(P["bed_start"]) & (P["origin"] != 3)
    order = np.argsort(P["bed_request"][got_bed], kind="stable")
    starts = P["bed_start"][got_bed][order]
    if (np.diff(starts) < -1e-9).any():
        problems.append("FCFS: a later bed request took a bed before an earlier one")
    for k in (1, 2, 3):
        on = (P["pathway"] == k) & ~np.isnan(P["comm_start"]) & ~np.isnan(P["bed_start"])
        order = np.argsort(P["t_fit"][on], kind="stable")
        if (np.diff(P["comm_start"][on][order]) < -1e-9).any():
            problems.append(f"FCFS: P{k} places not taken in the order patients became fit")
    return problems


def assert_ok(record: Record) -> None:
    problems = check(record)
    if problems:
        raise InvariantError(
            f"invariants broken in replication {record.replication}:\n  " + "\n  ".join(problems)
        )
