"""Where an engine hands what happened, as it happens: the :class:`Sink` contract.

The metric accumulator (:class:`sim.metrics.accumulator.MetricAccumulator`)
is the sink every run uses. A streaming engine gives it patient rows and bed
events in chunks; a compiled engine writes into each replication's
:class:`~sim.model.tally.Tally` directly, with the same compiled functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from .tally import Geometry, Tally


class Sink(Protocol):
    """The running sums of replications ``0..R-1`` (positions) of one scenario.

    ``rep`` holds each row's position among the replications the sink was
    made for. Patient rows come once each, when the patient leaves (or at the
    end, for those still inside), in any order and any number of chunks;
    acute-bed events come in time order per replication.
    """

    geometry: Geometry
    """The shape of every replication's tally."""

    def add_patients(self, rep: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Complete patient rows (the columns of :mod:`sim.model.record`; ``parent`` unread)."""

    def add_acute_events(self, rep: np.ndarray, times: np.ndarray, deltas: np.ndarray) -> None:
        """Changes of acute-bed occupancy: ``deltas[i]`` beds taken (+1) or freed (-1)."""

    def add_escalation(self, position: int, times: np.ndarray, beds: np.ndarray) -> None:
        """A replication's escalation log, once, at its end: ``beds[i]`` escalation beds
        open from ``times[i]``."""

    def tally(self, position: int) -> Tally:
        """The running sums of the replication at ``position``, to write into."""

    def fresh_tally(self, position: int, n_levels: int = 0) -> Tally:
        """Empty sums at ``position`` with at least ``n_levels`` occupancy levels (for an
        engine that starts a replication again)."""
