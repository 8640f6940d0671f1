"""The engine contract: what every simulation engine offers the runner.

An engine turns a scenario in engine units (:class:`~sim.scenario.params.ModelParams`)
and a set of replications into facts: it streams each patient's row, as the
patient leaves, into a :class:`~sim.model.record.Sink` (the metric
accumulator), and on request also returns each replication's whole
:class:`~sim.model.record.Record` for invariant checks and tests. It computes
no metrics and draws its patients only from :mod:`sim.model.demand`, so every
engine sees the same patients for the same seed.

Adding an engine is one module with a class that satisfies :class:`Engine`,
plus one line in :mod:`sim.engines.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from ..model.record import Record
from ..model.sink import Sink
from ..scenario.params import ModelParams


class Engine(Protocol):
    """A simulation engine, as the runner, the command line and sweeps use it."""

    name: ClassVar[str]
    """How users choose it: ``engine = "..."``, ``--engine ...``."""
    summary: ClassVar[str]
    """One line for ``--help`` and the docs."""
    one_at_a_time: ClassVar[bool]
    """True if it runs replications one after another (the runner then gives each worker
    one replication per task); False if a batch of replications costs less per
    replication than one alone."""

    def unsupported(self, params: ModelParams) -> list[str]:
        """What in ``params`` this engine cannot run, each naming the scenario key ([] if all)."""
        ...

    def prepare(self, status: Callable[[str], None] | None = None) -> float:
        """Get ready to run (a compiled engine compiles, or loads its cache); the seconds it
        took. ``status`` is told what is happening when it may take a while, so that a
        command line does not sit silent. :meth:`run` prepares by itself if need be."""
        ...

    def run(
        self,
        params: ModelParams,
        seed: int,
        replications: Sequence[int],
        sink: Sink,
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[Record]:
        """Simulate ``replications`` (replication ``r`` from the streams of ``(seed, r)``).

        What happened goes into ``sink``, replication ``replications[i]`` at
        position ``i``. With ``keep_records`` it also returns each
        replication's :class:`Record` (memory grows with the horizon), else an
        empty list. ``threads`` caps the threads an engine that uses them may
        run on (None: its own choice). Replication ``r`` gives the same
        results whatever batch or thread it runs in.
        """
        ...

    def run_points(
        self,
        points: Sequence[ModelParams],
        seed: int,
        replications: Sequence[int],
        sinks: Sequence[Sink],
        keep_records: bool = False,
        threads: int | None = None,
    ) -> list[list[Record]]:
        """:meth:`run` for each of ``points`` (into ``sinks[j]``, records in list ``j``),
        scenarios that draw the same patients (:func:`sim.model.demand.same_patients`):
        an engine may draw each replication's patients once for all of them. Each
        point's results are exactly those :meth:`run` gives it alone."""
        ...
