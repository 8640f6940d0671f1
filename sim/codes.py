"""The model's vocabulary, named once: codes stored in the per-patient record, and time units.

Every module that writes or reads a code uses these names, never the bare
integers, so ``rows["ed_outcome"] == EdOutcome.ADMIT`` reads as what it means.
The integers are what the record stores (``int64`` columns) and what a
compiled kernel compares: ``IntEnum`` members are plain integers to numpy and
numba alike.

The module is the leaf of leaves: it imports nothing of leftshift's.
"""

from __future__ import annotations

from enum import IntEnum

# --- time ------------------------------------------------------------------------------------

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 168
DAYS_PER_YEAR = 365.25
"""Days in a year, for annual rates (a Julian year: leap years on average)."""
HOURS_PER_YEAR = DAYS_PER_YEAR * HOURS_PER_DAY
EPS_HOURS = 1e-7
"""Events that land within this many hours of an hour boundary count as on it:
floating-point sums of hours can fall a hair short of the boundary."""
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""Day names, Monday first (hour of week 0 is Monday 00:00-01:00)."""


# --- the per-patient record ------------------------------------------------------------------


class Origin(IntEnum):
    """How a patient entered the system (the record's ``origin``)."""

    ED = 0
    """A new would-be A&E attendance (before admission avoidance)."""
    DIRECT = 1
    """A direct admission (GP or other referral) to the bed queue."""
    READMISSION = 2
    """A re-attendance after discharge home."""
    INITIAL = 3
    """Part of the starting state at t = 0."""

    @property
    def key(self) -> str:
        """The name in stream names: ``"ed"``, ``"direct"``, ``"readmission"``, ``"initial"``."""
        return self.name.lower()


class EdOutcome(IntEnum):
    """The decision in A&E (the record's ``ed_outcome``)."""

    NONE = -1
    """No decision (not through A&E, or not decided yet)."""
    HOME = 0
    SDEC = 1
    ADMIT = 2


class AvoidLost(IntEnum):
    """Why a planned avoidance was lost (the record's ``avoid_lost``)."""

    NOT_LOST = 0
    CLOSED = 1
    """The urgent response service was not accepting at that hour."""
    FULL = 2
    """It was open, but every place was taken."""


class Service(IntEnum):
    """Community services, in their fixed order (the index of ``ModelParams.services``)."""

    URGENT_RESPONSE = 0
    P1 = 1
    P2 = 2
    P3 = 3

    @property
    def key(self) -> str:
        """The scenario's name for it: ``urgent_response``, ``p1``, ``p2``, ``p3``."""
        return self.name.lower()


class Pathway(IntEnum):
    """Discharge pathway from an acute bed (the record's ``pathway``).

    P1-P3 are taken by the community service of the same number.
    """

    NONE = -1
    P0 = 0
    """Home, within ward discharge hours."""
    P1 = 1
    """Home with care or reablement."""
    P2 = 2
    """An intermediate care bed."""
    P3 = 3
    """A care home place."""


class Route(IntEnum):
    """The route home after an episode of care, which sets the readmission risk.

    P0-P3 are the discharge pathways; ``URGENT_RESPONSE`` an avoided
    attendance cared for at home. ``NONE``: sent home from A&E or SDEC, with no
    readmission risk configured.
    """

    NONE = -1
    P0 = 0
    P1 = 1
    P2 = 2
    P3 = 3
    URGENT_RESPONSE = 4


SERVICES = tuple(s.key for s in Service)
"""``("urgent_response", "p1", "p2", "p3")``: community services, in order."""
PATHWAYS = tuple(p.name.lower() for p in Pathway if p >= 0)
"""``("p0", "p1", "p2", "p3")``."""
ORIGINS = tuple(o.key for o in Origin)
"""``("ed", "direct", "readmission", "initial")``."""
ROUTES = (*PATHWAYS, "urgent_response")
"""Routes home with a readmission risk, in ``Route`` order."""

SERVICE_NAMES = {
    "urgent_response": "Urgent response",
    "p1": "P1 home care / reablement",
    "p2": "P2 intermediate care",
    "p3": "P3 care home",
}
"""Each community service as a legend or a heading names it."""
