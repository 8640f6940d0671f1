"""What the app shows for a run: the report's headline table and charts, and the files to
take away (``report.html``, ``summary.csv``), from one run or comparison.

:func:`answer` runs through the public API (:func:`sim.run`, :func:`sim.compare`),
saves the results in a temporary folder as ``leftshift run`` and ``compare`` do, and
reads them back with the report's own reader, so the app's table is the report's
(:func:`sim.present.report.headline`); :func:`drawn` then builds the report's charts
(:func:`sim.present.report.figures`) and its page, which the planner sees a few seconds
after the headline. Nothing here knows of Streamlit: the page caches what these return.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.present.report import (
    REPORT,
    Figure,
    Saved,
    Table,
    figures,
    headline,
    load_saved,
    render_html,
    vega_javascript,
)


@dataclass(frozen=True)
class Answer:
    """A run's or comparison's results as the app shows them."""

    kind: str
    """``run`` or ``comparison``."""
    table: pd.DataFrame
    """The headline table: one row per metric (and period), one column per report column,
    each cell the value and, after a semicolon,, its 95% interval."""
    saved: Saved
    """The results as the report reads them from a folder (the folder itself is gone)."""
    summary: pd.DataFrame
    """``summary.csv``: scenario, metric, period, mean, ci_low, ci_high, n_reps."""
    comparison: pd.DataFrame | None
    summary_csv: bytes
    meta: dict[str, Any]
    """Seed, replications, engine, version, run date and provenance, as ``scenario.json``."""
    elapsed_s: float
    """Seconds the replications took (compiling apart)."""


def table_frame(table: Table) -> pd.DataFrame:
    """A report table as a frame: a heading carried down the periods it spans, each cell
    its value and, after a semicolon, its interval."""
    rows = []
    heading = ""
    for row in table.rows:
        heading = row.heading if row.heading is not None else heading
        cells = [f"{c.text}; {c.ci}" if c.ci else c.text for c in row.cells]
        rows.append([heading, *([row.period] if row.period is not None else []), *cells])
    width = max((len(r) for r in rows), default=len(table.head))
    return pd.DataFrame(rows, columns=table.head[:width])


def answer(
    scenario: sim.Scenario,
    comparator: sim.Scenario | None,
    reps: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> Answer:
    """Run ``scenario`` (against ``comparator``, paired by replication, when there is one)
    and gather what the app shows. ``progress`` is told the replications finished, of
    ``reps`` (times two in a comparison)."""
    started = time.perf_counter()
    comparison = None
    if comparator is None:
        results = sim.run(scenario, reps=reps, seed=seed, progress=progress)
    else:
        comparison = sim.compare(
            [comparator, scenario],
            against=comparator.name,
            reps=reps,
            seed=seed,
            progress=progress,
        )
        results = comparison.results
    elapsed = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="leftshift-app-"))
    try:
        out = folder / "results"
        if comparison is not None:
            comparison.save(out)
        else:
            results.save(out)
        saved = load_saved(out)
        return Answer(
            kind=saved.kind,
            table=table_frame(headline(saved)),
            saved=saved,
            summary=results.summary,
            comparison=None if comparison is None else comparison.table,
            summary_csv=(out / "summary.csv").read_bytes(),
            meta=dict(results.meta),
            elapsed_s=elapsed,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Drawn:
    """A run's charts and its ``report.html``: what takes seconds after the headline."""

    figures: list[Figure]
    report_html: bytes


def drawn(saved: Saved) -> Drawn:
    """The report's charts and the page :func:`sim.present.report.write_report` would write
    (the same builders, template and libraries; the charts drawn once for both)."""
    figs = figures(saved)
    return Drawn(figs, render_html(saved, figs, vega_javascript()).encode("utf-8"))


__all__ = ["REPORT", "Answer", "Drawn", "answer", "drawn", "table_frame"]
