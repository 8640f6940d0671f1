"""Event logs: every patient's path through the system, in the shapes other tools read.

The per-patient record (:mod:`sim.model.record`) holds each patient's
timestamps. This module turns them into the two shapes the NHS modelling
community's tools read:

* **vidigi** (animated process maps from an event log): one row per event,
  ``entity_id, event_type, event, time, run_number, pathway, resource_id``.
  ``event_type`` is ``arrival_departure`` (events ``arrival`` and
  ``depart``), ``queue`` (``<stage>_wait_begins``), ``resource_use``
  (``<stage>_begins``, with the ``resource_id`` of the place taken) or
  ``resource_use_end`` (``<stage>_ends``). ``time`` is in hours since the end
  of the warm-up; ``pathway`` is the patient's cohort.
* **bupaR** (process mining in R): an activity log, one row per activity
  instance, ``case_id, activity, activity_instance_id, resource_id, start,
  complete, run_number``, timestamps as ISO dates and times on the
  scenario's calendar (``bupaR::activitylog(log, case_id = "case_id",
  activity_id = "activity", resource_id = "resource_id", timestamps =
  c("start", "complete"))``).

Stages, in order: ``urgent_response`` (an avoided attendance), ``ed`` (an A&E
cubicle), ``sdec``, ``bed`` (an acute bed, waited for from the bed request)
and the community services ``p1``-``p3`` (waited for from the moment the
patient is medically fit). Patients who arrived during the warm-up, and the
starting state, are left out: the log covers patients who arrived in the
reported period, from arrival to departure (or the end of the run). A
``resource_id`` is the place's number within its pool (1, 2, ...), given
first-free when the place is taken: the record says how many places were in
use, not which, so this numbering is one consistent with it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..engines import registry
from ..errors import ScenarioError
from ..metrics.accumulator import MetricAccumulator
from ..model.record import Record
from ..scenario.params import CostParams, build_params
from ..scenario.schema import Scenario

VIDIGI_COLUMNS = [
    "entity_id",
    "event_type",
    "event",
    "time",
    "run_number",
    "pathway",
    "resource_id",
]
BUPAR_COLUMNS = [
    "case_id",
    "activity",
    "activity_instance_id",
    "resource_id",
    "start",
    "complete",
    "run_number",
]

STAGES = (
    # stage, waits from, starts, ends
    ("urgent_response", None, "ur_start", "ur_end"),
    ("ed", "ed_arrival", "ed_start", "ed_departure"),
    ("sdec", None, "sdec_start", "sdec_end"),
    ("bed", "bed_request", "bed_start", "bed_end"),
    ("p1", "t_fit", "comm_start", "comm_end"),
    ("p2", "t_fit", "comm_start", "comm_end"),
    ("p3", "t_fit", "comm_start", "comm_end"),
)
"""Each stage's columns in the record: when its wait begins, its use starts and ends."""

_END_COLUMNS = ("ur_end", "ed_departure", "sdec_end", "bed_end", "comm_end", "diverted")


def place_numbers(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A place number (1, 2, ...) for each stay ``[starts[i], ends[i])`` in one pool: the
    lowest free when the stay starts (an ``ends`` of NaN holds the place to the end)."""
    order = np.argsort(starts, kind="stable")
    numbers = np.zeros(len(starts), dtype=np.int64)
    busy: list[tuple[float, int]] = []  # (frees at, number)
    free: list[int] = []
    top = 0
    for i in order:
        while busy and busy[0][0] <= starts[i]:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            number = heapq.heappop(free)
        else:
            top += 1
            number = top
        numbers[i] = number
        heapq.heappush(busy, (np.inf if np.isnan(ends[i]) else float(ends[i]), number))
    return numbers


def _in_stage(stage: str, patients: dict[str, np.ndarray]) -> np.ndarray:
    used = ~np.isnan(patients[STAGES_BY_NAME[stage][1]])
    if stage in ("p1", "p2", "p3"):
        used &= patients["pathway"] == int(stage[1])
    return used


STAGES_BY_NAME = {stage: (wait, start, end) for stage, wait, start, end in STAGES}


def vidigi_events(record: Record) -> pd.DataFrame:
    """One replication's events in vidigi's shape (see the module docstring)."""
    p = record.patients
    warm_up_h = record.params.calendar.warm_up_h
    keep = p["t_arrival"] >= warm_up_h
    ids = np.flatnonzero(keep)
    cohorts = np.asarray(record.params.cohort_names, dtype=object)
    frames = []

    def add(rows: np.ndarray, event_type: str, event: str, t: np.ndarray, place: object) -> None:
        frames.append(
            pd.DataFrame(
                {
                    "entity_id": rows,
                    "event_type": event_type,
                    "event": event,
                    "time": t - warm_up_h,
                    "resource_id": place,
                }
            )
        )

    add(ids, "arrival_departure", "arrival", p["t_arrival"][ids], pd.NA)
    for stage, wait, start, end in STAGES:
        used = _in_stage(stage, p)
        numbers = np.zeros(len(used), dtype=np.int64)
        numbers[used] = place_numbers(p[start][used], p[end][used])
        rows = np.flatnonzero(used & keep)
        if wait is not None:
            waited = rows[~np.isnan(p[wait][rows])]
            add(waited, "queue", f"{stage}_wait_begins", p[wait][waited], pd.NA)
        add(rows, "resource_use", f"{stage}_begins", p[start][rows], numbers[rows])
        ended = rows[~np.isnan(p[end][rows])]
        add(ended, "resource_use_end", f"{stage}_ends", p[end][ended], numbers[ended])
    left = np.fmax.reduce([p[c] for c in _END_COLUMNS])  # NaN only if none happened
    gone = ids[~np.isnan(left[ids]) & _left_the_system(p, ids)]
    add(gone, "arrival_departure", "depart", left[gone], pd.NA)
    events = pd.concat(frames, ignore_index=True)
    events["run_number"] = record.replication
    events["pathway"] = cohorts[p["cohort"][events["entity_id"].to_numpy()]]
    events["resource_id"] = events["resource_id"].astype("Int64")
    # by patient, then time; an event's stage order breaks ties (a stage ends before the
    # next begins at the same hour)
    events = events.sort_values(["entity_id", "time"], kind="stable").reset_index(drop=True)
    return events[VIDIGI_COLUMNS]


def _left_the_system(p: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Whether each patient had left by the end of the run (no stay still open)."""
    still = np.zeros(len(rows), dtype=bool)
    for _stage, _wait, start, end in STAGES:
        still |= ~np.isnan(p[start][rows]) & np.isnan(p[end][rows])
    fit_waiting = ~np.isnan(p["t_fit"][rows]) & np.isnan(p["bed_end"][rows])
    return ~(still | fit_waiting)


def bupar_activities(vidigi: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """The activities of a vidigi event log as bupaR's activity log; ``start`` is the
    date and time of the end of the warm-up (``time`` 0)."""
    begins = vidigi[vidigi["event_type"] == "resource_use"]
    ends = vidigi[vidigi["event_type"] == "resource_use_end"]
    key = ["run_number", "entity_id", "stage"]
    begins = begins.assign(stage=begins["event"].str.removesuffix("_begins"))
    ends = ends.assign(stage=ends["event"].str.removesuffix("_ends"))
    done = begins.merge(ends[[*key, "time"]], on=key, suffixes=("", "_end"))
    hours = pd.to_timedelta(1, unit="h")
    activities = pd.DataFrame(
        {
            "case_id": done["run_number"].astype(str) + "-" + done["entity_id"].astype(str),
            "activity": done["stage"],
            "resource_id": done["stage"] + " " + done["resource_id"].astype(str),
            "start": (start + done["time"] * hours).dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "complete": (start + done["time_end"] * hours).dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "run_number": done["run_number"],
        }
    )
    activities = activities.sort_values(["run_number", "start"], kind="stable")
    activities.insert(2, "activity_instance_id", np.arange(1, len(activities) + 1))
    return activities.reset_index(drop=True)[BUPAR_COLUMNS]


def records(
    scenario: Scenario, seed: int, replications: Sequence[int], engine: str
) -> list[Record]:
    """The per-patient records of some replications of ``scenario``, run in this process."""
    params = build_params(scenario)
    reps = list(replications)
    sink = MetricAccumulator(params, reps, CostParams.free(params))
    return registry.get_for(engine, params).run(params, seed, reps, sink, keep_records=True)


def event_log(
    scenario: Scenario,
    seed: int,
    replications: Sequence[int],
    engine: str,
    shape: str = "vidigi",
) -> pd.DataFrame:
    """The events of ``replications`` of ``scenario`` in vidigi's or bupaR's ``shape``."""
    if shape not in ("vidigi", "bupar"):
        raise ScenarioError([f"shape must be vidigi or bupar, got {shape!r}"])
    found = records(scenario, seed, replications, engine)
    vidigi = pd.concat([vidigi_events(r) for r in found], ignore_index=True)
    if shape == "vidigi":
        return vidigi
    calendar = found[0].params.calendar if found else build_params(scenario).calendar
    return bupar_activities(vidigi, pd.Timestamp(calendar.start_date))
