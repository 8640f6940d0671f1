"""Tables for the terminal: a run's headline metrics, a comparison, a sweep's points.

Rich tables built from the results' tables, with numbers formatted as
:mod:`sim.present.format` formats them and metrics named and ordered by
:mod:`sim.metrics.catalogue`, as the HTML report shows them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..experiments.compare import Comparison
from ..experiments.sweep import SweepResults
from ..metrics import catalogue
from ..runs.results import Results
from .format import fmt, fmt_diff, fmt_rel, interval, shown_periods

if TYPE_CHECKING:
    from ..experiments.uncertainty import UncertaintyResults


def _cell(mean: Any, low: Any, high: Any, unit: str, diff: bool = False) -> str:
    """A mean (or a difference) over its CI, dimmed; no CI line when there is none."""
    cell = (fmt_diff if diff else fmt)(mean, unit)
    shown = interval(low, high, unit, diff)
    return f"{cell}\n[dim]{shown}[/dim]" if shown else cell


def table_console() -> Console:
    """Standard output; as wide as a file or pipe needs, since wide tables would fold."""
    console = Console()
    return console if console.is_terminal else Console(width=220)


def summary_table(results: Results, title: str) -> Table:
    """Headline metrics: mean and 95% CI for the whole run and each financial year."""
    s = results.summary
    periods = shown_periods(s)
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("metric")
    for period in periods:
        table.add_column("whole run" if period == "all" else period, justify="right")
    indexed: dict[Any, dict[Any, Any]] = s.set_index(["metric", "period"]).to_dict("index")
    for metric in catalogue.headlines(s["metric"]):
        cells = []
        for period in periods:
            row = indexed[(metric.name, period)]
            cells.append(_cell(row["mean"], row["ci_low"], row["ci_high"], metric.unit))
        table.add_row(metric.label, *cells)
    return table


def comparison_table(comparison: Comparison, title: str) -> Table:
    """Headline metrics: each scenario's mean and CI, the paired change against the
    comparator, and every scenario's change against the comparator's baseline year."""
    t = comparison.table
    results = comparison.results
    names = list(dict.fromkeys(t["scenario"]))
    others = [n for n in names if n != comparison.against]
    year = comparison.baseline_year
    with_year = names if year is not None else []
    periods = shown_periods(results.summary)
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("period")
    for name in names:
        table.add_column(
            name + (" (comparator)" if name == comparison.against else ""), justify="right"
        )
    for name in others:
        table.add_column(f"{name}\nvs {comparison.against}", justify="right")
    for name in with_year:
        table.add_column(f"{name}\nvs {year} of {comparison.against}", justify="right")
    indexed: dict[Any, dict[Any, Any]] = t.set_index(["metric", "period", "scenario"]).to_dict(
        "index"
    )
    for metric in catalogue.headlines(t["metric"]):
        kind = metric.unit
        for period in periods:
            if (metric.name, period, comparison.against) not in indexed:
                continue
            cells = []
            for name in names:
                row = indexed[(metric.name, period, name)]
                cells.append(_cell(row["mean"], row["ci_low"], row["ci_high"], kind))
            for name in others:
                row = indexed[(metric.name, period, name)]
                cell = _cell(row["diff"], row["diff_ci_low"], row["diff_ci_high"], kind, diff=True)
                head, _, rest = cell.partition("\n")
                cells.append(head + fmt_rel(row["rel_change"]) + (f"\n{rest}" if rest else ""))
            for name in with_year:
                row = indexed[(metric.name, period, name)]
                cell = _cell(
                    row["vs_baseline"],
                    row["vs_baseline_ci_low"],
                    row["vs_baseline_ci_high"],
                    kind,
                    diff=True,
                )
                head, _, rest = cell.partition("\n")
                cells.append(head + fmt_rel(row["rel_vs_baseline"]) + (f"\n{rest}" if rest else ""))
            shown = "whole run" if period == "all" else period
            table.add_row(metric.label, shown, *cells)
    return table


def sweep_table(results: SweepResults, limit: int = 40) -> Table | None:
    """Each point's parameters and the kept metrics (whole run): mean and 95% CI."""
    experiment = results.experiment
    if len(results.points) > limit:
        return None
    s = results.summary
    periods = list(dict.fromkeys(s["period"]))
    period = "all" if "all" in periods else periods[0]
    table = Table(
        title=f"{experiment.name}: {len(results.points)} points x {experiment.reps} replications "
        f"({'whole run' if period == 'all' else period}; mean, 95% CI)",
        title_justify="left",
    )
    table.add_column("point", justify="right")
    for path in experiment.paths:
        table.add_column(path, justify="right")
    for metric in experiment.spec.metrics:
        table.add_column(metric, justify="right")
    indexed: dict[Any, dict[Any, Any]] = (
        s[s["period"] == period].set_index(["point", "metric"]).to_dict("index")
    )
    for _, point in results.points.iterrows():
        cells = [str(point["point"]), *(str(point[p]) for p in experiment.paths)]
        for metric in experiment.spec.metrics:
            kind = catalogue.unit(metric)
            if (point["point"], metric) not in indexed:
                cells.append("-")
                continue
            row = indexed[(point["point"], metric)]
            cells.append(_cell(row["mean"], row["ci_low"], row["ci_high"], kind))
        table.add_row(*cells)
    return table


def uncertainty_tables(results: UncertaintyResults) -> list[Table]:
    """An uncertainty experiment's targets (probability of meeting each, with its Monte Carlo
    error), its distributions over draws (whole run) and each metric's three top inputs."""
    experiment = results.experiment
    tables = []
    t = results.targets
    if len(t):
        table = Table(
            title=f"Probability of meeting each projected target ({experiment.n_draws} draws; "
            "Monte Carlo error)",
            title_justify="left",
        )
        for column in (
            "scenario",
            "metric",
            "year",
            "against",
            "target",
            "change (5-95%)",
            "P(meet)",
        ):
            table.add_column(
                column, justify="left" if column in ("scenario", "metric") else "right"
            )
        for row in t.itertuples():
            table.add_row(
                str(row.scenario),
                catalogue.label(str(row.metric)),
                str(row.period),
                str(row.base),
                f"{row.target:+.1%}",
                f"{row.change_mean:+.1%}\n"
                f"[dim]{row.change_p05:+.1%} to {row.change_p95:+.1%}[/dim]",
                f"{row.p_meet:.0%} ± {row.p_meet_se:.1%}\n[dim]95% CI {row.p_meet_ci_low:.1%} to "
                f"{row.p_meet_ci_high:.1%}[/dim]",
            )
        tables.append(table)
    d = results.distribution
    d = d[d["period"] == "all"]
    table = Table(
        title=f"Over {experiment.n_draws} draws x {experiment.reps} replications (whole run): "
        "mean, 5-95% of the draw means, share of variance from the inputs",
        title_justify="left",
    )
    for column in ("scenario", "metric", "mean", "5-95%", "input share", "top inputs (PRCC)"):
        table.add_column(
            column,
            justify="left" if column in ("scenario", "metric", "top inputs (PRCC)") else "right",
        )
    s = results.sensitivity
    for rec in d.to_dict("records"):
        unit = catalogue.unit(str(rec["metric"]))
        top = s[
            (s["scenario"] == rec["scenario"])
            & (s["metric"] == rec["metric"])
            & (s["period"] == "all")
        ]
        top = top.sort_values("rank").head(3)
        shown = ", ".join(
            f"{one['draw_key']} {one['prcc']:+.2f}"
            for one in top.to_dict("records")
            if not math.isnan(one["prcc"])
        )
        share = float(rec["input_share"])
        table.add_row(
            str(rec["scenario"]),
            catalogue.label(str(rec["metric"])),
            fmt(float(rec["mean"]), unit),
            f"{fmt(float(rec['p05']), unit)} to {fmt(float(rec['p95']), unit)}",
            "-" if math.isnan(share) else f"{share:.0%}",
            shown or "-",
        )
    tables.append(table)
    return tables
