"""Every exception leftshift raises on purpose, in one place.

* :class:`ScenarioError`: bad input (a scenario, experiment file, option or
  argument), one message per problem naming the file, the key, the rule and
  the value; the command line prints each and exits with code 2.
* :class:`InvariantError`: a run broke an invariant (``--check``); exit code 3.
* :class:`ReportError`: a folder that holds no results a report can be built from,
  or a saved file that cannot be read; exit code 2.
* :class:`OutputError`: an output folder that cannot be written, is another kind's
  or is in use, or a save that failed; says what was kept. Exit code 2 before
  anything ran, 1 after.
* :class:`ClusterError`: a Dask cluster that cannot do the work (no workers, another
  leftshift version on them); exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ScenarioError(ValueError):
    """A scenario (or other input) that cannot be read or is not valid; one message per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


class InvariantError(AssertionError):
    """A run broke an invariant: ``problems`` lists them for ``replication`` of ``scenario``."""

    def __init__(self, scenario: str, replication: int, problems: list[str]) -> None:
        self.scenario = scenario
        self.replication = replication
        self.problems = list(problems)
        super().__init__(
            f"invariants broken in scenario {scenario!r}, replication {replication}:\n  "
            + "\n  ".join(self.problems)
        )

    def __reduce__(self) -> tuple[Any, ...]:  # so it crosses to and from worker processes
        return (InvariantError, (self.scenario, self.replication, self.problems))


class ReportError(Exception):
    """A folder that does not hold results a report can be built from."""


class OutputError(Exception):
    """An output folder that cannot be used, or a save that failed (``kept`` says what is safe).

    ``ran`` is false when nothing had been simulated yet (a bad ``--out``: exit code 2)
    and true when results were lost or only partly saved (exit code 1).
    """

    def __init__(self, message: str, kept: str = "", ran: bool = False) -> None:
        self.message = message
        self.kept = kept
        self.ran = ran
        super().__init__(f"{message}; {kept}" if kept else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (OutputError, (self.message, self.kept, self.ran))


class ClusterError(RuntimeError):
    """A Dask cluster that cannot run the work: no workers, or another leftshift version."""
