"""What an engine emits: one row of timestamps per patient, plus capacity logs.

Engines emit facts; metrics (:mod:`sim.metrics`) and invariant checks
(:mod:`sim.model.invariants`) are pure functions of them. An engine hands the
rows to a :class:`Sink` as patients leave (the metric accumulator is one), or
returns whole :class:`Record` s for checks and tests. Times are hours since
t = 0 (see :mod:`sim.calendar`); ``NaN`` means "did not happen (yet)". A
patient still in a bed at the end of the run has ``bed_start`` but a ``NaN``
``bed_end``.

Columns (all 1-D numpy arrays of the same length):

=====================  =====================================================
``cohort``             index into ``cohort_names``
``origin``             :class:`sim.codes.Origin`: 0 new A&E attendance (would-be),
                       1 direct admission, 2 readmission, 3 starting state
``parent``             row of the discharge that led to a readmission, else -1
``t_arrival``          would-be attendance, referral or readmission time
``avoidable``          drawn into the avoidable share (planned avoidance)
``avoid_lost``         :class:`sim.codes.AvoidLost`: 0 not lost, 1 service closed, 2 full
``ur_start/ur_end``    urgent community response episode (avoided attendance)
``ed_arrival``         arrival in A&E (NaN if avoided or not via A&E)
``ed_start``           treatment place (cubicle) taken
``ed_decision``        decision made
``ed_outcome``         :class:`sim.codes.EdOutcome`: -1 none, 0 home, 1 SDEC, 2 admit
``ed_departure``       left A&E (home, to SDEC, to a bed, or diverted)
``sdec_refused``       referred to SDEC but it was closed or full: admitted
``sdec_start/sdec_end``SDEC episode
``sdec_admit``         SDEC episode ended in an admission to a bed
``bed_request``        asked for an acute bed
``diverted``           time sent to another system for want of a bed
``bed_start``          took an acute bed (0 for the starting state)
``t_fit``              medically fit: treatment over, discharge pathway begins
``pathway``            :class:`sim.codes.Pathway`: -1 none, 0..3 for P0..P3
``bed_end``            left the acute bed
``comm_start/comm_end`` P1-P3 community episode
=====================  =====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..scenario.params import ModelParams

FLOAT_COLUMNS = (
    "t_arrival",
    "ur_start",
    "ur_end",
    "ed_arrival",
    "ed_start",
    "ed_decision",
    "ed_departure",
    "sdec_start",
    "sdec_end",
    "bed_request",
    "diverted",
    "bed_start",
    "t_fit",
    "bed_end",
    "comm_start",
    "comm_end",
)
INT_COLUMNS = ("cohort", "origin", "parent", "avoid_lost", "ed_outcome", "pathway")
BOOL_COLUMNS = ("avoidable", "sdec_refused", "sdec_admit")
COLUMNS = INT_COLUMNS + BOOL_COLUMNS + FLOAT_COLUMNS


@dataclass(frozen=True)
class CapacityLog:
    """Capacity of one pool over time: ``values[i]`` holds from ``times_h[i]``."""

    times_h: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Record:
    """Everything one replication of one scenario produced."""

    params: ModelParams = field(repr=False)
    replication: int
    patients: dict[str, np.ndarray] = field(repr=False)
    capacity: dict[str, CapacityLog] = field(repr=False)
    """``acute``, ``sdec``, ``ed`` and each configured community service."""
    in_system_at_end: dict[str, int] = field(default_factory=dict)
    """Live counts the engine held at the end (for the conservation check)."""

    @property
    def n(self) -> int:
        return len(self.patients["origin"])

    def __getitem__(self, column: str) -> np.ndarray:
        return self.patients[column]


class Sink(Protocol):
    """Where a streaming engine hands what happened, as it happens.

    ``rep`` holds each row's position (0..R-1) among the replications the sink
    was made for. Patient rows come once each, when the patient leaves (or at
    the end, for those still inside), in any order and any number of chunks;
    acute-bed events come in time order per replication.
    """

    def add_patients(self, rep: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Complete patient rows (the columns above; ``parent`` is not read)."""

    def add_acute_events(self, rep: np.ndarray, times: np.ndarray, deltas: np.ndarray) -> None:
        """Changes of acute-bed occupancy: ``deltas[i]`` beds taken (+1) or freed (-1)."""


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
