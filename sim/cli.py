"""The ``leftshift`` command.

    leftshift run configs/baseline.toml [--reps N] [--seed S] [--out DIR] [--engine simpy]
    leftshift compare A.toml B.toml [C.toml ...] [--against A] [--out DIR]
    leftshift sweep experiments/p1_p2_delays.toml [--workers N] [--resume] [--out DIR]
    leftshift search A.toml --vary community.p1.places --low 80 --high 200 \
        --metric delayed_bed_days --at-most 3000
    leftshift report outputs/baseline [--png]
    leftshift validate configs/*.toml experiments/*.toml

``run``, ``compare``, ``sweep`` and ``search`` take ``--workers N`` (local
processes) or ``--scheduler tcp://host:port`` (a Dask cluster); the numbers
are the same whichever runs them. ``run``, ``compare`` and ``sweep`` also
write ``report.html`` (tables and charts in one file that works offline)
beside their results; ``report`` rebuilds it from a results folder.

A scenario that cannot be read or is not valid gives one line per problem,
naming the file, the key, the rule and the value, and exit code 2; nothing is
written. ``--check`` (on ``run``, ``compare`` and ``sweep``, either engine)
verifies every replication's invariants: conservation, capacity, schedules,
first come first served and time running forwards (no negative waits). A
broken invariant gives one line per problem, naming the invariant, the
scenario, the replication and the simulated time it first failed at, and exit
code 3; no results are written.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .config import Scenario, ScenarioError, load_scenario
from .experiment import Comparison, capacity_search, compare, max_evaluations
from .invariants import InvariantError
from .runner import ENGINES, PLANNED_ENGINES, Results, run
from .sweep import SweepResults, load_experiment, run_sweep

EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 3

# (metric, label, format): the headline table printed after a run
HEADLINES = [
    ("attendances", "A&E attendances", "count"),
    ("avoided_attendances", "Attendances avoided (urgent response)", "count"),
    ("ed_4h_share", "A&E: seen within 4 hours", "share"),
    ("ed_12h_waits", "A&E: 12-hour waits from decision to admit", "count"),
    ("sdec_episodes", "SDEC episodes", "count"),
    ("admissions_nhs", "Emergency admissions (counting rule)", "count"),
    ("admissions_overnight", "Overnight admissions", "count"),
    ("emergency_bed_days", "Emergency bed days", "count"),
    ("acute_occupancy_mean", "Acute occupancy, mean", "share"),
    ("acute_occupancy_p95", "Acute occupancy, 95th percentile", "share"),
    ("acute_time_at_or_above_92", "Time at or above 92% occupancy", "share"),
    ("admission_wait_share", "Admissions that waited for a bed", "share"),
    ("diverted", "Diverted for want of a bed", "count"),
    ("delayed_bed_days", "Delayed bed days (P1-P3)", "count"),
    ("community_wait_days_p1", "P1 wait from fit to start (days)", "days"),
    ("community_wait_days_p2", "P2 wait from fit to start (days)", "days"),
    ("community_wait_days_p3", "P3 wait from fit to start (days)", "days"),
    ("readmissions", "Readmissions", "count"),
    ("cost_total", "Total cost", "money"),
]


def _fmt(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "days":
        return f"{value:.2f}"
    if kind == "money":
        return f"£{value / 1e6:,.1f}m"
    return f"{value:,.0f}"


def _cell(mean: Any, low: Any, high: Any, kind: str, diff: bool = False) -> str:
    """A mean (or a difference) over its CI, dimmed; no CI line when there is none."""
    show = _fmt_diff if diff else _fmt
    cell = show(mean, kind)
    if not pd.isna(low):
        cell += f"\n[dim]{show(low, kind)} to {show(high, kind)}[/dim]"
    return cell


def _table_console() -> Console:
    """Standard output; as wide as a file or pipe needs, since wide tables would fold."""
    console = Console()
    return console if console.is_terminal else Console(width=220)


def _fmt_diff(value: float, kind: str) -> str:
    """A signed difference: percentage points for shares."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "share":
        return f"{100 * value:+.1f} pp"
    if kind == "days":
        return f"{value:+.2f}"
    if kind == "money":
        return f"{'-' if value < 0 else '+'}£{abs(value) / 1e6:,.1f}m"
    return f"{value:+,.0f}"


def _fmt_number(value: float) -> str:
    """Whole numbers with separators when large, four significant figures when small."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _fmt_rel(value: float) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f" ({100 * value:+.1f}%)"


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
            left = f", about {_duration(now * (t['total'] - completed) / completed)} left"
        name = f"{t['name']}: " if t["name"] else ""
        self.console.print(
            f"{name}{completed:,}/{t['total']:,} {t['unit']} ({_duration(now)}{left})",
            markup=False,
            highlight=False,
        )


def _duration(seconds: float) -> str:
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


def _shown_periods(summary: pd.DataFrame) -> list[str]:
    """Periods to show: each financial year, and the whole run when it is more than one."""
    periods = list(dict.fromkeys(summary["period"]))
    days = summary[summary.metric == "observed_days"].groupby("period")["mean"].first()
    if len(periods) == 2 and days.get(periods[0]) == days.get(periods[1]):
        periods = periods[1:]  # one financial year is the whole run: show it once
    return periods


def summary_table(results: Results, title: str) -> Table:
    """Headline metrics: mean and 95% CI for the whole run and each financial year."""
    s = results.summary
    periods = _shown_periods(s)
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("metric")
    for period in periods:
        table.add_column("whole run" if period == "all" else period, justify="right")
    indexed: dict[Any, dict[Any, Any]] = s.set_index(["metric", "period"]).to_dict("index")
    for metric, label, kind in HEADLINES:
        if (metric, "all") not in indexed:
            continue
        cells = []
        for period in periods:
            row = indexed[(metric, period)]
            cells.append(_cell(row["mean"], row["ci_low"], row["ci_high"], kind))
        table.add_row(label, *cells)
    return table


def _fail(err: ScenarioError | InvariantError) -> None:
    if isinstance(err, InvariantError):
        for problem in err.problems:
            click.echo(
                f"error: check failed: scenario {err.scenario!r}, replication "
                f"{err.replication}: {problem}",
                err=True,
            )
        sys.exit(EXIT_CHECK_FAILED)
    for message in err.messages:
        click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _where_options(command: Any) -> Any:
    """--workers and --scheduler: where replications run (never what they give)."""
    command = click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786.",
    )(command)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Local worker processes (default: run in this process).",
    )(command)


def _check_and_quiet_options(command: Any) -> Any:
    command = click.option(
        "--quiet", "-q", is_flag=True, help="No progress bar or table; print the output folder."
    )(command)
    return click.option(
        "--check",
        is_flag=True,
        help="Check every replication's invariants: conservation, capacity, schedules, "
        "first come first served, no negative waits. A failure names the invariant, "
        "replication and time, and exits with code 3.",
    )(command)


def _report_options(command: Any) -> Any:
    """--png and --no-report: what is drawn after the results are saved."""
    command = click.option(
        "--no-report", is_flag=True, help="Do not write report.html beside the results."
    )(command)
    return click.option(
        "--png", is_flag=True, help="Also write each chart as PNG and SVG in charts/."
    )(command)


def _write_report(folder: Path, png: bool, skip: bool = False) -> Path | None:
    """report.html in a results folder; a failure to draw is reported, never loses results."""
    if skip:
        return None
    from .report import ReportError, write_report

    try:
        return write_report(folder, png=png)
    except (ReportError, OSError, ValueError) as err:
        click.echo(f"warning: no report written: {err}", err=True)
        return None


def _say_report(path: Path | None, png: bool) -> None:
    if path is not None:
        extra = f" (charts as PNG and SVG in {path.parent / 'charts'}/)" if png else ""
        click.echo(f"Report: {path}{extra}")


def _engine_option(command: Any) -> Any:
    return click.option(
        "--engine",
        type=click.Choice(sorted([*ENGINES, *PLANNED_ENGINES])),
        default="simpy",
        show_default=True,
        help="Simulation engine.",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leftshift")
def main() -> None:
    """leftshift: test a 'shift care left' plan before betting on it."""


@main.command("run")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--reps", type=click.IntRange(min=1), help="Replications (default: the scenario's [run] reps)."
)
@click.option(
    "--seed", type=click.IntRange(min=0), help="Base seed (default: the scenario's [run] seed)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/<scenario name>).",
)
@_engine_option
@_where_options
@_check_and_quiet_options
@_report_options
def run_command(
    scenario_file: Path,
    reps: int | None,
    seed: int | None,
    out: Path | None,
    engine: str,
    workers: int | None,
    scheduler: str | None,
    check: bool,
    quiet: bool,
    png: bool,
    no_report: bool,
) -> None:
    """Run a scenario's replications and write summary, replications, daily series."""
    console = Console(stderr=True)
    try:
        scenario = load_scenario(scenario_file)
        n_reps = scenario.run.reps if reps is None else reps
        started = time.perf_counter()
        with progress_bar(console, quiet) as bar:
            task = bar.add_task(scenario.name, total=n_reps, unit="replications")
            results = run(
                scenario,
                reps=reps,
                seed=seed,
                engine=engine,
                check=check or None,
                progress=lambda done: bar.update(task, completed=done),
                workers=workers,
                scheduler=scheduler,
            )
        elapsed = time.perf_counter() - started
    except (ScenarioError, InvariantError) as err:
        _fail(err)
        return
    folder = results.save(out if out is not None else Path("outputs") / scenario.name)
    results = results.without_long_tables()  # saved; the report reads what it draws
    report_path = _write_report(folder, png, no_report)
    if quiet:
        click.echo(str(folder))
        return
    stdout = Console()
    meta = results.meta
    stdout.print(
        summary_table(
            results,
            f"{scenario.name}: {meta['reps']} replications, seed {meta['seed']}, engine {engine} "
            f"(mean, 95% CI)",
        )
    )
    stdout.print(f"{meta['reps']} replications in {elapsed:.1f} s. Results in {folder}/")
    _say_report(report_path, png)


@main.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """Check scenario and experiment files; print one line per problem."""
    failed = False
    for path in files:
        try:
            if _is_experiment(path):
                experiment = load_experiment(path)
                click.echo(
                    f"{path}: ok ({experiment.name}: {len(experiment.points)} points x "
                    f"{experiment.reps} replications of {experiment.base.name}, "
                    f"engine {experiment.spec.engine})"
                )
                continue
            scenario = load_scenario(path)
        except ScenarioError as err:
            failed = True
            for message in err.messages:
                click.echo(f"error: {message}", err=True)
            continue
        run_spec = scenario.run
        click.echo(
            f"{path}: ok ({scenario.name}: {len(scenario.cohorts)} cohorts, from "
            f"{run_spec.start_date} for {run_spec.horizon_years:g} years, "
            f"{run_spec.reps} replications)"
        )
    if failed:
        sys.exit(EXIT_BAD_INPUT)


def _is_experiment(path: Path) -> bool:
    """An experiment file has [[vary]]; anything unreadable is left to the scenario loader."""
    try:
        return "vary" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and TOMLDecodeError too
        return False


# --- compare -----------------------------------------------------------------------------------


def _pick_comparator(against: str | None, files: tuple[Path, ...], names: list[str]) -> str:
    """The comparator's scenario name, from a name, a file as given, or a file's stem."""
    if against is None:
        return names[0]
    for path, name in zip(files, names, strict=True):
        if against in (name, str(path), path.stem, path.name):
            return name
    raise ScenarioError(
        [f"--against must name one of the scenarios ({', '.join(names)}), got {against!r}"]
    )


def comparison_table(comparison: Comparison, title: str) -> Table:
    """Headline metrics: each scenario's mean and CI, the paired change against the
    comparator, and the change against each scenario's baseline year."""
    t = comparison.table
    results = comparison.results
    names = list(dict.fromkeys(t["scenario"]))
    others = [n for n in names if n != comparison.against]
    with_year = [s for s in results.scenarios if s.plan.baseline_year is not None]
    periods = _shown_periods(results.summary)
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("period")
    for name in names:
        table.add_column(
            name + (" (comparator)" if name == comparison.against else ""), justify="right"
        )
    for name in others:
        table.add_column(f"{name}\nvs {comparison.against}", justify="right")
    for scenario in with_year:
        table.add_column(f"{scenario.name}\nvs {scenario.plan.baseline_year}", justify="right")
    indexed: dict[Any, dict[Any, Any]] = t.set_index(["metric", "period", "scenario"]).to_dict(
        "index"
    )
    for metric, label, kind in HEADLINES:
        for period in periods:
            if (metric, period, comparison.against) not in indexed:
                continue
            cells = []
            for name in names:
                row = indexed[(metric, period, name)]
                cells.append(_cell(row["mean"], row["ci_low"], row["ci_high"], kind))
            for name in others:
                row = indexed[(metric, period, name)]
                cell = _cell(row["diff"], row["diff_ci_low"], row["diff_ci_high"], kind, diff=True)
                head, _, rest = cell.partition("\n")
                cells.append(head + _fmt_rel(row["rel_change"]) + (f"\n{rest}" if rest else ""))
            for scenario in with_year:
                row = indexed[(metric, period, scenario.name)]
                cell = _cell(
                    row["vs_baseline"],
                    row["vs_baseline_ci_low"],
                    row["vs_baseline_ci_high"],
                    kind,
                    diff=True,
                )
                head, _, rest = cell.partition("\n")
                cells.append(
                    head + _fmt_rel(row["rel_vs_baseline"]) + (f"\n{rest}" if rest else "")
                )
            shown = "whole run" if period == "all" else period
            table.add_row(label, shown, *cells)
    return table


@main.command("compare")
@click.argument(
    "scenario_files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--against",
    help="The comparator: a scenario name or file (default: the first file).",
)
@click.option(
    "--reps", type=click.IntRange(min=1), help="Replications (default: the first file's)."
)
@click.option("--seed", type=click.IntRange(min=0), help="Base seed (default: the first file's).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/compare-<names>).",
)
@_engine_option
@_where_options
@_check_and_quiet_options
@_report_options
def compare_command(
    scenario_files: tuple[Path, ...],
    against: str | None,
    reps: int | None,
    seed: int | None,
    out: Path | None,
    engine: str,
    workers: int | None,
    scheduler: str | None,
    check: bool,
    quiet: bool,
    png: bool,
    no_report: bool,
) -> None:
    """Compare scenarios on the same replications, paired against a comparator."""
    console = Console(stderr=True)
    try:
        errors: list[str] = []
        scenarios: list[Scenario] = []
        for path in scenario_files:
            try:
                scenarios.append(load_scenario(path))
            except ScenarioError as err:
                errors.extend(err.messages)
        if errors:
            raise ScenarioError(errors)
        if len(scenarios) < 2:
            raise ScenarioError(["compare needs at least two scenario files"])
        names = [s.name for s in scenarios]
        comparator = _pick_comparator(against, scenario_files, names)
        n_reps = scenarios[0].run.reps if reps is None else reps
        started = time.perf_counter()
        with progress_bar(console, quiet) as bar:
            task = bar.add_task(
                " vs ".join(names), total=n_reps * len(scenarios), unit="replications"
            )
            comparison = compare(
                scenarios,
                against=comparator,
                reps=reps,
                seed=seed,
                engine=engine,
                workers=workers,
                scheduler=scheduler,
                check=check or None,
                progress=lambda done: bar.update(task, completed=done),
            )
        elapsed = time.perf_counter() - started
    except (ScenarioError, InvariantError) as err:
        _fail(err)
        return
    default = Path("outputs") / ("compare-" + "-".join(names))[:120]
    folder = comparison.save(out if out is not None else default)
    comparison = dataclasses.replace(comparison, results=comparison.results.without_long_tables())
    report_path = _write_report(folder, png, no_report)
    if quiet:
        click.echo(str(folder))
        return
    meta = comparison.results.meta
    _table_console().print(
        comparison_table(
            comparison,
            f"{meta['reps']} replications, seed {meta['seed']}, engine {engine}: mean (95% CI); "
            f"paired differences (95% CI) against {comparator}",
        )
    )
    click.echo(
        f"{meta['reps']} replications of {len(scenarios)} scenarios in {elapsed:.1f} s. "
        f"Results in {folder}/ (comparison.csv, summary.csv, ...)"
    )
    _say_report(report_path, png)


# --- sweep -------------------------------------------------------------------------------------


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
    kinds = {m: k for m, _, k in HEADLINES}
    indexed: dict[Any, dict[Any, Any]] = (
        s[s["period"] == period].set_index(["point", "metric"]).to_dict("index")
    )
    for _, point in results.points.iterrows():
        cells = [str(point["point"]), *(str(point[p]) for p in experiment.paths)]
        for metric in experiment.spec.metrics:
            kind = kinds.get(metric, "share" if metric.endswith(("_share", "_mean")) else "count")
            if metric.startswith("acute_occupancy") or metric.startswith("community_occupancy"):
                kind = "share"
            if (point["point"], metric) not in indexed:
                cells.append("-")
                continue
            row = indexed[(point["point"], metric)]
            cells.append(_cell(row["mean"], row["ci_low"], row["ci_high"], kind))
        table.add_row(*cells)
    return table


@main.command("sweep")
@click.argument("experiment_file", type=click.Path(dir_okay=False, path_type=Path))
@_where_options
@click.option("--resume", is_flag=True, help="Continue a sweep in --out, skipping points done.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/<experiment name>).",
)
@_check_and_quiet_options
@_report_options
def sweep_command(
    experiment_file: Path,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    out: Path | None,
    check: bool,
    quiet: bool,
    png: bool,
    no_report: bool,
) -> None:
    """Run every point of an experiment file; write results in parts as they finish."""
    console = Console(stderr=True)
    try:
        experiment = load_experiment(experiment_file)
        folder = out if out is not None else Path("outputs") / experiment.name
        n_points = len(experiment.points)
        with progress_bar(console, quiet) as bar:
            points_task = bar.add_task(experiment.name, total=n_points, unit="points")
            reps_task = bar.add_task("", total=n_points * experiment.reps, unit="replications")

            def report(points: int, reps: int) -> None:
                bar.update(points_task, completed=points)
                bar.update(reps_task, completed=reps)

            results = run_sweep(
                experiment,
                folder,
                workers=workers,
                scheduler=scheduler,
                resume=resume,
                check=check or None,
                progress=report,
            )
    except (ScenarioError, InvariantError) as err:
        _fail(err)
        return
    report_path = _write_report(folder, png, no_report)
    if quiet:
        click.echo(str(folder))
        return
    table = sweep_table(results)
    if table is not None:
        _table_console().print(table)
    ran = results.ran_points
    where = (
        f"Dask scheduler {scheduler}"
        if scheduler
        else f"{workers} local processes"
        if workers and workers > 1
        else "1 process"
    )
    rate = ran * experiment.reps / results.elapsed_s * 60 if results.elapsed_s > 0 else 0.0
    skipped = n_points - ran
    click.echo(
        f"{ran} points x {experiment.reps} replications in {results.elapsed_s:.1f} s on {where} "
        f"({rate:,.1f} point-replications a minute)"
        + (f"; {skipped} points were already done" if skipped else "")
        + f". Results in {folder}/"
    )
    _say_report(report_path, png)


# --- report ------------------------------------------------------------------------------------


@main.command("report")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--png", is_flag=True, help="Also write each chart as PNG and SVG in charts/.")
def report_command(folder: Path, png: bool) -> None:
    """Rebuild report.html from the results a run, compare or sweep saved in FOLDER."""
    from .report import ReportError, write_report

    try:
        path = write_report(folder, png=png)
    except ReportError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    _say_report(path, png)


# --- capacity search ----------------------------------------------------------------------------


@main.command("search")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--vary", "path", required=True, help="Dotted key of a capacity, e.g. community.p1.places."
)
@click.option("--low", type=int, required=True, help="Smallest value to consider.")
@click.option("--high", type=int, required=True, help="Largest value to consider.")
@click.option(
    "--metric", required=True, help="Metric to hold to the target, e.g. delayed_bed_days."
)
@click.option("--at-most", type=float, help="Target: the metric must be at most this.")
@click.option("--at-least", type=float, help="Target: the metric must be at least this.")
@click.option(
    "--period", default="all", show_default=True, help="Period: all or a year like 2016/17."
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="One-sided confidence that the target is met.",
)
@click.option(
    "--reps", type=click.IntRange(min=2), help="Replications per value (default: the file's)."
)
@click.option("--seed", type=click.IntRange(min=0), help="Base seed (default: the file's).")
@_engine_option
@_where_options
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Write search.csv here."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or table; print the answer.")
def search_command(
    scenario_file: Path,
    path: str,
    low: int,
    high: int,
    metric: str,
    at_most: float | None,
    at_least: float | None,
    period: str,
    confidence: float,
    reps: int | None,
    seed: int | None,
    engine: str,
    workers: int | None,
    scheduler: str | None,
    out: Path | None,
    quiet: bool,
) -> None:
    """The smallest capacity for which a metric meets a target, with stated confidence."""
    console = Console(stderr=True)
    try:
        if (at_most is None) == (at_least is None):
            raise ScenarioError(["give one target: --at-most X or --at-least X"])
        scenario = load_scenario(scenario_file)
        for value in (low, high):  # fail on a bad key or value before running anything
            scenario.override({path: value})
        target = at_most if at_most is not None else at_least
        assert target is not None
        with progress_bar(console, quiet) as bar:
            task = bar.add_task(path, total=max_evaluations(low, high), unit="values tried")
            found = capacity_search(
                scenario,
                path,
                metric,
                target,
                low=low,
                high=high,
                direction="at_most" if at_most is not None else "at_least",
                period=period,
                confidence=confidence,
                reps=reps,
                seed=seed,
                engine=engine,
                workers=workers,
                scheduler=scheduler,
                progress=lambda done: bar.update(task, completed=done),
            )
    except (ScenarioError, InvariantError) as err:
        _fail(err)
        return
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".search.csv.tmp"
        found.evaluations.to_csv(tmp, index=False)
        tmp.replace(out / "search.csv")
    if not quiet:
        table = Table(title=f"{scenario.name}: {metric} ({period})", title_justify="left")
        for column in ("value", "mean", "bound", "meets"):
            table.add_column(column, justify="right")
        for _, row in found.evaluations.sort_values("value").iterrows():
            table.add_row(
                str(row["value"]),
                _fmt_number(row["mean"]),
                _fmt_number(row["bound"]),
                str(row["meets"]),
            )
        Console().print(table)
    click.echo(found.describe())


if __name__ == "__main__":  # pragma: no cover
    main()
