"""Every exception leftshift raises on purpose, in one place.

* :class:`ScenarioError`: bad input (a scenario, experiment file, option or
  argument), one message per problem naming the file, the key, the rule and
  the value; the command line prints each and exits with code 2.
* :class:`InvariantError`: a run broke an invariant (``--check``); exit code 3.
* :class:`ReportError`: a folder that holds no results a report can be built from.
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
