"""Progress for long work: a bar with an estimate of time left on a terminal, lines in a log.

A long run under ``nohup`` or in CI has no terminal, where rich's bar draws
nothing; :class:`LogProgress` prints a line instead as work moves on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class Bar(Protocol):
    """What the commands use of a progress bar: rich's ``Progress`` or :class:`LogProgress`."""

    def add_task(self, description: str, /, *, total: int, unit: str) -> Any: ...

    def update(self, task_id: Any, /, *, completed: int) -> None: ...


class LogProgress:
    """Progress as plain lines, for a log (standard error not a terminal).

    The same ``add_task`` and ``update`` as a rich progress bar, which draws
    nothing off a terminal: a long run under ``nohup`` or in CI would otherwise
    say nothing for its whole length. A line when a task moves on, at most one
    every ``every`` seconds a task, and always its last.
    """

    def __init__(self, console: Console, every: float = 30.0) -> None:
        self.console = console
        self.every = every
        self.started = time.perf_counter()
        self.tasks: list[dict[str, Any]] = []

    def add_task(self, description: str, /, *, total: int, unit: str = "") -> int:
        self.tasks.append(
            {"name": description, "total": total, "unit": unit, "done": 0, "said": -self.every}
        )
        return len(self.tasks) - 1

    def update(self, task_id: int, /, *, completed: int) -> None:
        t = self.tasks[task_id]
        now = time.perf_counter() - self.started
        if completed == t["done"] or (completed < t["total"] and now - t["said"] < self.every):
            t["done"] = completed
            return
        t["done"], t["said"] = completed, now
        left = ""
        if 0 < completed < t["total"]:
            left = f", about {duration(now * (t['total'] - completed) / completed)} left"
        name = f"{t['name']}: " if t["name"] else ""
        self.console.print(
            f"{name}{completed:,}/{t['total']:,} {t['unit']} ({duration(now)}{left})",
            markup=False,
            highlight=False,
        )


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@contextmanager
def progress_bar(console: Console, quiet: bool) -> Iterator[Bar]:
    """A progress bar with ETA on a terminal; lines in a log; nothing when quiet."""
    if not quiet and not console.is_terminal:
        yield LogProgress(console)
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as bar:
        yield bar
