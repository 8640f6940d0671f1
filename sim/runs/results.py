"""Results: the tables a run produces, and how they reach the disk and come back.

:class:`Results` holds a run's (or comparison's) tables in memory, the same
ones :meth:`Results.save` writes to its folder (claimed through
:mod:`sim.runs.outputs`: one kind of result a folder, every file written
whole) and :func:`load_results` reads back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ReportError
from ..scenario.schema import Scenario
from .outputs import claim, kind_of, text_writer


def _writer(name: str, content: pd.DataFrame | str) -> Callable[[Path], None]:
    """How to write ``content`` to a file called ``name``: text, CSV or parquet."""
    if isinstance(content, str):
        return text_writer(content)
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

    def event_log(self, shape: str = "vidigi") -> pd.DataFrame:
        """Every patient's events in these results' replications, after the warm-up.

        ``shape`` is ``"vidigi"`` (``entity_id, event_type, event, time, run_number,
        pathway, resource_id``; ``time`` in hours since the end of the warm-up) or
        ``"bupar"`` (an activity log: ``case_id, activity, activity_instance_id,
        resource_id, start, complete, run_number``); :mod:`sim.runs.events`
        describes both. The replications are run again in this process keeping
        each patient's record (the same seed gives the same patients, so the
        events are those behind these tables); with several scenarios, a
        ``scenario`` column comes first.
        """
        from .events import event_log

        reps = int(self.meta.get("reps", 0))
        first = int(self.meta.get("first_replication", 0))
        replications = range(first, first + reps)
        seed = int(self.meta.get("seed", 0))
        engine = str(self.meta.get("engine", "fast"))
        frames = [event_log(s, seed, replications, engine, shape=shape) for s in self.scenarios]
        if len(self.scenarios) == 1:
            return frames[0]
        for s, frame in zip(self.scenarios, frames, strict=True):
            frame.insert(0, "scenario", s.name)
        return pd.concat(frames, ignore_index=True)

    def save_event_log(self, out: str | Path) -> list[Path]:
        """Write :meth:`event_log` as ``events_vidigi.csv`` and ``events_bupar.csv`` into the
        results folder ``out``; return their paths."""
        files = {
            "events_vidigi.csv": self.event_log("vidigi"),
            "events_bupar.csv": self.event_log("bupar"),
        }
        with claim(out, None) as folder:
            folder.write({name: _writer(name, table) for name, table in files.items()})
            return [folder.path / name for name in files]

    def save(
        self,
        out: str | Path,
        extra: Mapping[str, pd.DataFrame | str] | None = None,
        *,
        kind: str = "run",
        overwrite: bool = False,
    ) -> Path:
        """Write summary.csv, replications.parquet, daily.parquet, scenario.json and, when
        present, hour_of_week.parquet and ed_time.parquet into the folder ``out``.

        ``extra`` adds tables by file name (``.csv`` or ``.parquet``), such as a
        comparison, or text (a ``str``, written as UTF-8: notes, findings).
        ``kind`` is what the folder then holds (``run`` or ``comparison``): a
        folder holding another kind's results is refused
        (:class:`~sim.errors.OutputError`) unless ``overwrite``; the files an
        earlier result of the folder wrote and this one does not are removed.
        Every file is written whole under a temporary name before any is moved
        into place, so an interrupted or failed save leaves no half-written file
        and the folder's earlier files as they were.
        """
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
        with claim(out, kind, overwrite=overwrite) as folder:
            folder.write(
                {name: _writer(name, table) for name, table in tables.items()},
                kept=(
                    f"{folder.path}'s earlier files are as they were and nothing of this run "
                    "was saved (the same seed and replications give the same results again)"
                ),
            )
            return folder.path


def load_results(folder: str | Path) -> Results:
    """The :class:`Results` a run or comparison saved in ``folder`` (``Results.save``).

    The tables are those saved (``hour_of_week`` and ``ed_time`` are ``None`` for
    a folder saved without them); ``meta`` is ``scenario.json`` without its
    scenarios; ``scenarios`` are rebuilt from their resolved parameters. Raises
    :class:`~sim.errors.ReportError` naming the file for a folder that holds no
    run or comparison, or a file that is missing or cannot be read.
    """
    from ..scenario.schema import Scenario

    path = Path(folder)
    kind = kind_of(path)
    if kind not in ("run", "comparison"):
        what = f"holds a {kind}" if kind else "holds no leftshift results"
        raise ReportError(f"{path}: {what}, not a run or comparison")
    provenance = read_json(path / "scenario.json")
    meta = {k: v for k, v in provenance.items() if k != "scenarios"}
    scenarios = tuple(
        Scenario.from_dict(s["resolved"], source=s.get("source", "<scenario>"))
        for s in provenance.get("scenarios", [])
    )
    return Results(
        read_table(path / "summary.csv"),
        read_table(path / "replications.parquet"),
        read_table(path / "daily.parquet"),
        meta,
        scenarios,
        hour_of_week=read_table(path / "hour_of_week.parquet", optional=True),
        ed_time=read_table(path / "ed_time.parquet", optional=True),
    )


def read_json(path: Path) -> dict[str, Any]:
    """A saved JSON file; :class:`~sim.errors.ReportError` naming it if it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot be read ({_reason(exc)})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: cannot be read (not a JSON object)")
    return data


def read_table(path: Path, optional: bool = False, **options: Any) -> pd.DataFrame | Any:
    """A saved CSV or parquet table (``options`` go to the pandas reader); ``None`` for a
    missing ``optional`` one; :class:`~sim.errors.ReportError` naming the file otherwise."""
    if not path.exists():
        if optional:
            return None
        raise ReportError(f"{path}: missing")
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=[""], **options)
        return pd.read_parquet(path, **options)
    except Exception as exc:  # pyarrow and pandas raise many types for a damaged file
        raise ReportError(f"{path}: cannot be read ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
