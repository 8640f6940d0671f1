"""What an engine emits: one row of timestamps per patient, plus capacity logs.

Engines emit facts; metrics (:mod:`sim.metrics`) and invariant checks
(:mod:`sim.model.invariants`) are pure functions of them. An engine hands the
rows to a :class:`~sim.model.sink.Sink` as patients leave (the metric
accumulator is one), or returns whole :class:`Record` s for checks and tests. Times are hours since
t = 0 (see :mod:`sim.calendar`); ``NaN`` means "did not happen (yet)". A
patient still in a bed at the end of the run has ``bed_start`` but a ``NaN``
``bed_end``.

Columns (all 1-D numpy arrays of the same length; a compiled engine keeps a
patient as one row of :class:`Time` and one of :class:`Code`):

=====================  =====================================================
``cohort``             index into ``cohort_names``
``origin``             :class:`sim.codes.Origin`: 0 new A&E attendance (would-be),
                       1 direct admission, 2 readmission, 3 starting state
``parent``             row of the discharge that led to a readmission, else -1
``t_arrival``          would-be attendance, referral or readmission time
``avoidable``          drawn into the avoidable share (planned avoidance)
``avoidable_type``     a new would-be attendance a community team could take: of the cohort's
                       avoidable sub-cohort (``cohorts.X.avoidable``), else as ``avoidable``
``avoid_lost``         :class:`sim.codes.AvoidLost`: 0 not lost, 1 service closed, 2 full
``ur_start/ur_end``    urgent community response episode (avoided attendance)
``ed_arrival``         arrival in A&E (NaN if avoided or not via A&E)
``ed_start``           treatment place (cubicle) taken
``ed_decision``        decision made
``ed_outcome``         :class:`sim.codes.EdOutcome`: -1 none, 0 home, 1 SDEC, 2 admit
``ed_departure``       left A&E (home, to SDEC, to a bed, or diverted)
``sdec_refused``       referred to SDEC but it was closed or full: admitted
``sdec_waited``        referred to SDEC when it was closed: went home and came back when it
                       opened (``sdec.refused_stay = "wait"``); A&E was left at the decision
``sdec_start/sdec_end``SDEC episode
``sdec_admit``         SDEC episode ended in an admission to a bed
``readmission_30d``    a 30-day emergency readmission (origin 2, straight to the bed queue);
                       origin 2 without it is a re-attendance at A&E
``bed_request``        asked for an acute bed
``diverted``           time sent to another system for want of a bed
``bed_start``          took an acute bed (0 for the starting state)
``t_fit``              medically fit: treatment over, discharge pathway begins
``pathway``            :class:`sim.codes.Pathway`: -1 none, 0..3 for P0..P3
``bed_end``            left the acute bed
``comm_start/comm_end`` P1-P3 community episode
``assess_start/_end``  P1-P3 discharge assessment case (``[discharge.assessment]``)
``broker_start/_end``  P1-P3 brokerage case (``[discharge.brokerage]``)
``visits_p1``          visits a day a P1 patient needed at the start, when P1 counts
                       visits (``[community.p1.visits]``); else 0
``visit_days``         the whole days of that episode, over which the need steps down
                       (:func:`sim.model.rules.visit_step_day`); else 0
=====================  =====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ..scenario.params import ModelParams


class Time(IntEnum):
    """The time columns, in record order: also a compiled row's ``times`` indices."""

    T_ARRIVAL = 0
    UR_START = 1
    UR_END = 2
    ED_ARRIVAL = 3
    ED_START = 4
    ED_DECISION = 5
    ED_DEPARTURE = 6
    SDEC_START = 7
    SDEC_END = 8
    BED_REQUEST = 9
    DIVERTED = 10
    BED_START = 11
    T_FIT = 12
    BED_END = 13
    COMM_START = 14
    COMM_END = 15
    ASSESS_START = 16
    ASSESS_END = 17
    BROKER_START = 18
    BROKER_END = 19


class Code(IntEnum):
    """The whole-number and true/false columns, in record order: a compiled row's ``codes``
    indices (true/false stored as 1/0)."""

    COHORT = 0
    ORIGIN = 1
    PARENT = 2
    AVOID_LOST = 3
    ED_OUTCOME = 4
    PATHWAY = 5
    AVOIDABLE = 6
    SDEC_REFUSED = 7
    SDEC_ADMIT = 8
    READMISSION_30D = 9
    VISITS_P1 = 10
    VISIT_DAYS = 11
    AVOIDABLE_TYPE = 12
    SDEC_WAITED = 13


_BOOL_CODES = (
    Code.AVOIDABLE,
    Code.SDEC_REFUSED,
    Code.SDEC_ADMIT,
    Code.READMISSION_30D,
    Code.AVOIDABLE_TYPE,
    Code.SDEC_WAITED,
)
FLOAT_COLUMNS = tuple(c.name.lower() for c in Time)
INT_COLUMNS = tuple(c.name.lower() for c in Code if c not in _BOOL_CODES)
BOOL_COLUMNS = tuple(c.name.lower() for c in Code if c in _BOOL_CODES)
CODE_COLUMNS = tuple(c.name.lower() for c in Code)
"""The whole-number and true/false columns in :class:`Code` order (a compiled row's)."""
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
