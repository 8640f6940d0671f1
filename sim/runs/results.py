"""Results: the tables a run produces, and how they reach the disk whole or not at all.

:class:`Results` holds a run's (or comparison's) tables in memory, the same
ones :meth:`Results.save` writes to its folder. Every file leftshift writes
goes through :func:`write_together` (or :func:`atomic_write` for one file):
written under a hidden temporary name beside its target, flushed to disk,
then renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..scenario.schema import Scenario


def write_together(writes: Mapping[Path, Callable[[Path], None]]) -> None:
    """Write each file through a temporary beside it, then move all of them into place.

    ``writes`` maps each target to a function that writes the content to the
    path it is given. Nothing is moved until every file is complete and
    flushed, and a failure leaves no temporary behind.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, write in writes.items():
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            tmp = Path(name)
            staged.append((tmp, target))
            write(tmp)
            tmp.chmod(0o644)  # mkstemp makes files private; results are for sharing
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """One file, whole or not at all (see :func:`write_together`)."""
    write_together({target: write})


def _writer(name: str, content: pd.DataFrame | str) -> Callable[[Path], None]:
    """How to write ``content`` to a file called ``name``: text, CSV or parquet."""
    if isinstance(content, str):

        def text(path: Path) -> None:
            path.write_text(content, encoding="utf-8")

        return text
    if name.endswith(".csv"):
        return lambda path: content.to_csv(path, index=False)
    return lambda path: content.to_parquet(path, index=False)


@dataclass(frozen=True)
class Results:
    """Tables from one or more scenarios' replications."""

    summary: pd.DataFrame
    replications: pd.DataFrame
    daily: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    scenarios: tuple[Scenario, ...] = ()
    hour_of_week: pd.DataFrame | None = None
    """scenario, replication, series, weekday, hour, value (``None``: not kept)."""
    ed_time: pd.DataFrame | None = None
    """scenario, replication, period, outcome, hours_from, hours_to, attendances."""

    def without_long_tables(self) -> Results:
        """The same results without the daily, hour-of-week and A&E-time tables.

        For after :meth:`save`: the command line keeps only what its summary table
        needs while the report is drawn (at 1,000 replications x 5 years the daily
        table alone is about 600 MB).
        """
        return replace(
            self,
            daily=self.daily.iloc[:0].copy(),
            hour_of_week=None if self.hour_of_week is None else self.hour_of_week.iloc[:0].copy(),
            ed_time=None if self.ed_time is None else self.ed_time.iloc[:0].copy(),
        )

    def value(self, metric: str, period: str = "all", scenario: str | None = None) -> float:
        """The mean of one metric (for quick looks and tests)."""
        s = self.summary
        rows = s[(s.metric == metric) & (s.period == period)]
        if scenario is not None:
            rows = rows[rows.scenario == scenario]
        if len(rows) != 1:
            raise KeyError(f"{metric} / {period} / {scenario}: {len(rows)} rows")
        return float(rows["mean"].iloc[0])

    def save(self, out: str | Path, extra: Mapping[str, pd.DataFrame | str] | None = None) -> Path:
        """Write summary.csv, replications.parquet, daily.parquet, scenario.json and, when
        present, hour_of_week.parquet and ed_time.parquet into the folder ``out``.

        ``extra`` adds tables by file name (``.csv`` or ``.parquet``), such as a
        comparison, or text (a ``str``, written as UTF-8: notes, findings).
        Every file is written whole under a temporary name before any is moved
        into place (:func:`write_together`), so an interrupted save leaves no
        half-written file.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        provenance = {
            **self.meta,
            "scenarios": [
                {"name": s.name, "source": s.source, "resolved": s.to_dict()}
                for s in self.scenarios
            ],
        }
        tables: dict[str, pd.DataFrame | str] = {
            "summary.csv": self.summary,
            "replications.parquet": self.replications,
            "daily.parquet": self.daily,
        }
        for name, profile in (("hour_of_week", self.hour_of_week), ("ed_time", self.ed_time)):
            if profile is not None:
                tables[f"{name}.parquet"] = profile
        tables["scenario.json"] = json.dumps(provenance, indent=2, default=str)
        tables.update(extra or {})
        write_together({out / name: _writer(name, table) for name, table in tables.items()})
        return out
