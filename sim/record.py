"""What an engine emits: one row of timestamps per patient, plus capacity logs.

Engines emit facts; metrics (:mod:`sim.metrics`) and invariant checks
(:mod:`sim.invariants`) are pure functions of them. Times are hours since
t = 0 (see :mod:`sim.calendar`); ``NaN`` means "did not happen (yet)". A
patient still in a bed at the end of the run has ``bed_start`` but a ``NaN``
``bed_end``.

Columns (all 1-D numpy arrays of the same length):

=====================  =====================================================
``cohort``             index into ``cohort_names``
``origin``             0 new A&E attendance (would-be), 1 direct admission,
                       2 readmission, 3 starting state (see ``ORIGINS``)
``parent``             row of the discharge that led to a readmission, else -1
``t_arrival``          would-be attendance, referral or readmission time
``avoidable``          drawn into the avoidable share (planned avoidance)
``avoid_lost``         0 not lost, 1 lost: service closed, 2 lost: service full
``ur_start/ur_end``    urgent community response episode (avoided attendance)
``ed_arrival``         arrival in A&E (NaN if avoided or not via A&E)
``ed_start``           treatment place (cubicle) taken
``ed_decision``        decision made
``ed_outcome``         -1 none, 0 home, 1 SDEC, 2 admit (see ``ED_OUTCOMES``)
``ed_departure``       left A&E (home, to SDEC, to a bed, or diverted)
``sdec_refused``       referred to SDEC but it was closed or full: admitted
``sdec_start/sdec_end``SDEC episode
``sdec_admit``         SDEC episode ended in an admission to a bed
``bed_request``        asked for an acute bed
``diverted``           time sent to another system for want of a bed
``bed_start``          took an acute bed (0 for the starting state)
``t_fit``              medically fit: treatment over, discharge pathway begins
``pathway``            -1 none, 0..3 for P0..P3
``bed_end``            left the acute bed
``comm_start/comm_end`` P1-P3 community episode
=====================  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .params import ModelParams

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
