"""The ``leftshift`` command.

    leftshift run configs/baseline.toml [--reps N] [--seed S] [--out DIR] [--engine simpy]
    leftshift validate configs/*.toml

A scenario that cannot be read or is not valid gives one line per problem,
naming the file, the key, the rule and the value, and exit code 2; nothing is
written.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .config import ScenarioError, load_scenario
from .runner import ENGINES, PLANNED_ENGINES, Results, run

EXIT_BAD_INPUT = 2

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


def summary_table(results: Results, title: str) -> Table:
    """Headline metrics: mean and 95% CI for the whole run and each financial year."""
    s = results.summary
    periods = list(dict.fromkeys(s["period"]))
    days = s[s.metric == "observed_days"].groupby("period")["mean"].first()
    if len(periods) == 2 and days.get(periods[0]) == days.get(periods[1]):
        periods = periods[1:]  # one financial year is the whole run: show it once
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("metric")
    for period in periods:
        table.add_column("whole run" if period == "all" else period, justify="right")
    indexed = s.set_index(["metric", "period"])
    for metric, label, kind in HEADLINES:
        if (metric, "all") not in indexed.index:
            continue
        cells = []
        for period in periods:
            row = indexed.loc[(metric, period)]
            mean, low, high = row["mean"], row["ci_low"], row["ci_high"]
            cell = _fmt(mean, kind)
            if not pd.isna(low):
                cell += f"\n[dim]{_fmt(low, kind)} to {_fmt(high, kind)}[/dim]"
            cells.append(cell)
        table.add_row(label, *cells)
    return table


def _fail(err: ScenarioError) -> None:
    for message in err.messages:
        click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


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
@click.option(
    "--engine",
    type=click.Choice(sorted([*ENGINES, *PLANNED_ENGINES])),
    default="simpy",
    show_default=True,
    help="Simulation engine.",
)
@click.option("--check", is_flag=True, help="Check invariants (conservation, capacity, schedules).")
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar or table; print the output folder."
)
def run_command(
    scenario_file: Path,
    reps: int | None,
    seed: int | None,
    out: Path | None,
    engine: str,
    check: bool,
    quiet: bool,
) -> None:
    """Run a scenario's replications and write summary, replications, daily series."""
    console = Console(stderr=True)
    try:
        scenario = load_scenario(scenario_file)
        n_reps = scenario.run.reps if reps is None else reps
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("replications"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=quiet or not console.is_terminal,
        ) as bar:
            task = bar.add_task(scenario.name, total=n_reps)
            results = run(
                scenario,
                reps=reps,
                seed=seed,
                engine=engine,
                check=check or None,
                progress=lambda done: bar.update(task, completed=done),
            )
        elapsed = time.perf_counter() - started
    except ScenarioError as err:
        _fail(err)
        return
    folder = results.save(out if out is not None else Path("outputs") / scenario.name)
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


@main.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """Check scenario files; print one line per problem."""
    failed = False
    for path in files:
        try:
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


if __name__ == "__main__":  # pragma: no cover
    main()
