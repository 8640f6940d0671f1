"""The ``leftshift`` command.

    leftshift run configs/baseline.toml [--reps N] [--seed S] [--out DIR] [--engine simpy]
    leftshift compare A.toml B.toml [C.toml ...] [--against A] [--out DIR]
    leftshift sweep experiments/p1_p2_delays.toml [--workers N] [--resume] [--out DIR]
    leftshift uncertainty do_nothing.toml plan.toml --draws 200 --reps 2 [--workers N]
    leftshift calibrate scenario.toml --observed observed.csv [--draws N --waves W --out DIR]
    leftshift search A.toml --vary community.p1.places --low 80 --high 200 \
        --metric delayed_bed_days --at-most 3000
    leftshift report outputs/baseline [--png]
    leftshift warmup configs/baseline.toml [--reps N] [--days D] [--seed S] [--out DIR]
    leftshift validate configs/*.toml experiments/*.toml
    leftshift schema [--out scenario.schema.json]
    leftshift app [--port 8501] [--address 127.0.0.1] [--configs configs]

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

An output folder holds one kind of result (a marker, ``leftshift.json``, says
which): another kind's folder is refused unless ``--overwrite`` is given. A
folder that cannot be created or written, or that another leftshift is
writing to, fails before anything runs (exit code 2). A save that fails (disk
full, permissions), a report that cannot be written and a Dask cluster that
cannot do the work give one line saying what was kept, and exit code 1.
``-v`` says more of what happens (``-vv`` for debugging).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import time
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click
from rich.console import Console
from rich.table import Table

from ._version import __version__
from .engines import registry
from .errors import ClusterError, InvariantError, OutputError, ReportError, ScenarioError
from .experiments.compare import compare
from .experiments.search import capacity_search, max_evaluations
from .experiments.sweep import load_experiment, run_sweep
from .experiments.warmup import suggest_warm_up
from .present.console import comparison_table, summary_table, sweep_table, table_console
from .present.format import fmt_number
from .present.progress import progress_bar
from .runs.drift import DriftWarning
from .runs.outputs import atomic_write, claim, text_writer
from .runs.runner import prepare_engine, run
from .scenario.schema import Scenario, json_schema, load_scenario

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 3

Failure = ScenarioError | InvariantError | OutputError | ClusterError | ReportError
"""What a command turns into one line and an exit code, never a traceback."""

log = logging.getLogger("sim")


def _fail(err: Failure) -> None:
    if isinstance(err, OutputError):
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_FAILED if err.ran else EXIT_BAD_INPUT)
    if isinstance(err, ClusterError):
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_FAILED)
    if isinstance(err, ReportError):
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_BAD_INPUT)
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


def _prepare(console: Console, quiet: bool, engine: str) -> None:
    """Get the engine ready before any progress bar starts: compiling the fast engine on
    first use takes 16-48 s (measured), which a bar at 0% would hide."""

    def say(message: str) -> None:
        if not quiet:
            console.print(message, markup=False, highlight=False)

    seconds = prepare_engine(engine, say)
    if seconds > 5:
        say(f"Fast engine ready ({seconds:.0f} s).")


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


class Written(NamedTuple):
    """What became of a command's report: where it is, or that it failed."""

    path: Path | None
    failed: bool = False


T = TypeVar("T")


def _points_with_progress(
    console: Console,
    quiet: bool,
    bars: tuple[str, int, int],
    saved: str,
    run: Callable[[Callable[[int, int], None]], T],
) -> T:
    """``run(progress)`` under two bars, points and replications (``bars``: the first's label,
    the points, the replications a point); a cluster that fails says what is ``saved`` and
    that ``--resume`` continues."""
    label, n_points, reps = bars
    with progress_bar(console, quiet) as bar:
        points_task = bar.add_task(label, total=n_points, unit="points")
        reps_task = bar.add_task("", total=n_points * reps, unit="replications")

        def report(points: int, done: int) -> None:
            bar.update(points_task, completed=points)
            bar.update(reps_task, completed=done)

        try:
            return run(report)
        except ClusterError as err:
            raise ClusterError(f"{err}; {saved}: add --resume to continue") from None


def _write_report(folder: Path, png: bool, skip: bool = False) -> Written:
    """report.html in a results folder; a failure to draw is said in one line and never
    loses the results (:func:`_say_report` then exits with code 1)."""
    if skip:
        return Written(None)
    from .present.report import write_report

    try:
        return Written(write_report(folder, png=png))
    except (ReportError, OutputError, ValueError) as err:
        log.debug("the report failed", exc_info=True)
        reason = err.message if isinstance(err, OutputError) else str(err)
        click.echo(
            f"error: no report written ({reason}); the results in {folder} are saved", err=True
        )
        return Written(None, failed=True)


def _say_report(written: Written, png: bool) -> None:
    """Say where the report is; exit with code 1 (after everything else is said) if it
    could not be written."""
    if written.failed:
        sys.exit(EXIT_FAILED)
    if written.path is not None:
        extra = f" (charts as PNG and SVG in {written.path.parent / 'charts'}/)" if png else ""
        click.echo(f"Report: {written.path}{extra}")


def _overwrite_option(command: Any) -> Any:
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace whatever result the output folder holds (of another kind too).",
    )(command)


def _seed_option(command: Any) -> Any:
    return click.option(
        "--seed", type=click.IntRange(min=0), help="Base seed (default: the scenario's [run] seed)."
    )(command)


def _engine_option(command: Any) -> Any:
    return click.option(
        "--engine",
        type=click.Choice(registry.available()),
        default=registry.DEFAULT_ENGINE,
        show_default=True,
        help="Simulation engine.",
    )(command)


class _OneLine(logging.Handler):
    """Log records as the command's other messages read (``warning: ...``), on standard
    error as it is when each is said: a progress bar on a terminal keeps them above it."""

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        sys.stderr.write(text + "\n")  # looked up now: a live progress bar proxies it
        sys.stderr.flush()


def setup_logging(verbose: int) -> None:
    """Warnings always; ``-v`` adds what happens (info), ``-vv`` debugging detail."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logger = logging.getLogger("sim")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _OneLine)]
    logger.addHandler(_OneLine())
    logger.setLevel(level)
    # Dask's own logs say what leftshift says in one line; they show from -vv
    logging.getLogger("distributed").setLevel(logging.DEBUG if verbose > 1 else logging.CRITICAL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leftshift")
@click.option("--verbose", "-v", count=True, help="Say more of what happens (-vv: debugging).")
def main(verbose: int) -> None:
    """leftshift: test a 'shift care left' plan before betting on it."""
    setup_logging(verbose)
    warnings.showwarning = _show_warning


_python_show_warning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A drift warning as one line on standard error, as the command's other warnings read;
    any other warning as Python shows it."""
    if issubclass(category, DriftWarning):
        sys.stderr.write(f"warning: {message}\n")
        sys.stderr.flush()
        return
    _python_show_warning(message, category, filename, lineno, file, line)


@main.command("run")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--reps", type=click.IntRange(min=1), help="Replications (default: the scenario's [run] reps)."
)
@_seed_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/<scenario name>).",
)
@_engine_option
@_where_options
@_check_and_quiet_options
@_report_options
@_overwrite_option
@click.option(
    "--event-log",
    is_flag=True,
    help="Also write every patient's events after the warm-up: events_vidigi.csv (vidigi's "
    "shape) and events_bupar.csv (bupaR's activity log).",
)
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
    overwrite: bool,
    event_log: bool,
) -> None:
    """Run a scenario's replications and write summary, replications, daily series."""
    console = Console(stderr=True)
    try:
        scenario = load_scenario(scenario_file)
        target = out if out is not None else Path("outputs") / scenario.name
        with claim(target, "run", overwrite=overwrite) as claimed:  # checked before running
            n_reps = scenario.run.reps if reps is None else reps
            _prepare(console, quiet, engine)  # compiling is said apart, not timed with the run
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
            folder = results.save(claimed.path, overwrite=overwrite)
            if event_log:
                log.info("writing the event logs")
                results.save_event_log(folder)
            results = results.without_long_tables()  # saved; the report reads what it draws
            report_path = _write_report(folder, png, no_report)
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if quiet:
        click.echo(str(folder))
        _say_report(Written(None, report_path.failed), png)
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


@main.command("schema")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file (default: print it).",
)
def schema_command(out: Path | None) -> None:
    """Print (or write) the JSON Schema of scenario files, for editors and other tools."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        atomic_write(out, text_writer(text))
    except OSError as exc:
        click.echo(f"error: could not write {out}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"Schema: {out}")


# --- app ---------------------------------------------------------------------------------------


@main.command("app")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (another than 127.0.0.1 lets other machines reach the app).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option(
    "--configs",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("configs"),
    show_default=True,
    help="The scenario library the app offers (and the only files an upload may extend).",
)
def app_command(address: str, port: int, configs: Path) -> None:
    """Serve the scenario explorer, a web app to change the levers, run and compare."""
    import subprocess

    from .app import serve

    click.echo(f"leftshift app: http://{address}:{port} (Ctrl-C to stop)", err=True)
    try:
        code = subprocess.call(serve.command(address, port), env=serve.environment(configs))
    except KeyboardInterrupt:  # the server has had the same signal and stops by itself
        code = 0
    sys.exit(code)


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
@_overwrite_option
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
    overwrite: bool,
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
        default = Path("outputs") / ("compare-" + "-".join(names))[:120]
        target = out if out is not None else default
        with claim(target, "comparison", overwrite=overwrite) as claimed:
            _prepare(console, quiet, engine)  # compiling is said apart, not timed with the run
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
            folder = comparison.save(claimed.path, overwrite=overwrite)
            comparison = dataclasses.replace(
                comparison, results=comparison.results.without_long_tables()
            )
            report_path = _write_report(folder, png, no_report)
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if quiet:
        click.echo(str(folder))
        _say_report(Written(None, report_path.failed), png)
        return
    meta = comparison.results.meta
    table_console().print(
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
@_overwrite_option
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
    overwrite: bool,
) -> None:
    """Run every point of an experiment file; write results in parts as they finish."""
    console = Console(stderr=True)
    try:
        experiment = load_experiment(experiment_file)
        folder = out if out is not None else Path("outputs") / experiment.name
        n_points = len(experiment.points)
        with claim(folder, "sweep", overwrite=overwrite):  # checked before compiling
            _prepare(console, quiet, experiment.spec.engine)
            results = _points_with_progress(
                console,
                quiet,
                (experiment.name, n_points, experiment.reps),
                f"the points finished are saved in {folder}",
                lambda report: run_sweep(
                    experiment,
                    folder,
                    workers=workers,
                    scheduler=scheduler,
                    resume=resume,
                    overwrite=overwrite,
                    check=check or None,
                    progress=report,
                ),
            )
            report_path = _write_report(folder, png, no_report)
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if quiet:
        click.echo(str(folder))
        _say_report(Written(None, report_path.failed), png)
        return
    table = sweep_table(results)
    if table is not None:
        table_console().print(table)
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


# --- uncertainty -------------------------------------------------------------------------------


@main.command("uncertainty")
@click.argument(
    "scenario_files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--draws",
    type=click.IntRange(min=2),
    default=100,
    show_default=True,
    help="Parameter draws (a Latin hypercube over the uncertain inputs).",
)
@click.option(
    "--reps",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Replications per draw (common random numbers; 2 or more to split the variance).",
)
@click.option(
    "--against",
    help="The comparator: a scenario name or file (default: the first file, if several).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A metric to keep (repeatable; default: a few headline metrics and the plan's).",
)
@_seed_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/uncertainty-<names>).",
)
@click.option("--resume", is_flag=True, help="Continue in --out, skipping the draws done.")
@_engine_option
@_where_options
@_check_and_quiet_options
@_report_options
@_overwrite_option
def uncertainty_command(
    scenario_files: tuple[Path, ...],
    draws: int,
    reps: int,
    against: str | None,
    metrics: tuple[str, ...],
    seed: int | None,
    out: Path | None,
    resume: bool,
    engine: str,
    workers: int | None,
    scheduler: str | None,
    check: bool,
    quiet: bool,
    png: bool,
    no_report: bool,
    overwrite: bool,
) -> None:
    """Run every draw of the files' uncertain inputs; say how likely each plan target is."""
    from .experiments.uncertainty import load_uncertainty, run_uncertainty
    from .present.console import uncertainty_tables

    console = Console(stderr=True)
    try:
        comparator = None
        if against is not None:
            names = [load_scenario(p).name for p in scenario_files]
            comparator = _pick_comparator(against, scenario_files, names)
        experiment = load_uncertainty(
            scenario_files,
            draws=draws,
            reps=reps,
            seed=seed,
            engine=engine,
            metrics=metrics or None,
            against=comparator,
        )
        default = Path("outputs") / ("uncertainty-" + "-".join(experiment.names))[:120]
        folder = out if out is not None else default
        n_points = len(experiment.points)
        with claim(folder, "sweep", overwrite=overwrite):  # checked before compiling
            _prepare(console, quiet, engine)
            results = _points_with_progress(
                console,
                quiet,
                (f"{draws} draws x {len(experiment.names)} scenarios", n_points, reps),
                f"the draws finished are saved in {folder}",
                lambda report: run_uncertainty(
                    experiment,
                    folder,
                    workers=workers,
                    scheduler=scheduler,
                    resume=resume,
                    overwrite=overwrite,
                    check=check or None,
                    progress=report,
                ),
            )
            report_path = _write_report(folder, png, no_report)
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if quiet:
        click.echo(str(folder))
        _say_report(Written(None, report_path.failed), png)
        return
    for table in uncertainty_tables(results):
        table_console().print(table)
    click.echo(
        f"{draws} draws x {reps} replications x {len(experiment.names)} scenarios "
        f"({results.sweep.ran_points} points run) in {results.elapsed_s:.1f} s. "
        f"Results in {folder}/uncertainty/ (distribution, targets, sensitivity, draws: "
        "CSV and parquet)"
    )
    _say_report(report_path, png)


@main.command("calibrate")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--observed",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Observed values: a CSV with columns series, period, value (and sd).",
)
@click.option(
    "--draws",
    type=click.IntRange(min=4),
    default=60,
    show_default=True,
    help="Parameter draws per wave.",
)
@click.option(
    "--waves",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="History-matching waves.",
)
@click.option(
    "--reps",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Replications per draw.",
)
@click.option(
    "--cutoff",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="Implausibility cut-off.",
)
@click.option(
    "--discrepancy",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Model discrepancy, as a fraction of each observed value (its sd).",
)
@click.option(
    "--rank",
    type=click.IntRange(min=1),
    default=None,
    help="Judge a draw by its rank-th largest implausibility (default: the second-largest "
    "from 5 observations, else the largest).",
)
@_seed_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/calibrate-<name>).",
)
@_engine_option
@_where_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print the output folder.")
@_overwrite_option
def calibrate_command(
    scenario_file: Path,
    observed: Path,
    draws: int,
    waves: int,
    reps: int,
    cutoff: float,
    discrepancy: float,
    rank: int | None,
    seed: int | None,
    out: Path | None,
    engine: str,
    workers: int | None,
    scheduler: str | None,
    quiet: bool,
    overwrite: bool,
) -> None:
    """History-match a scenario's uncertain inputs to observed series; write the calibrated
    ranges as a scenario file that `leftshift uncertainty` can run."""
    from .experiments.calibrate import calibrate, describe_ranges, write_calibration

    console = Console(stderr=True)
    try:
        scenario = load_scenario(scenario_file)
        folder = out if out is not None else Path("outputs") / f"calibrate-{scenario.name}"
        with claim(folder, "calibration", overwrite=overwrite, command="calibrate"):
            _prepare(console, quiet, engine)
            with progress_bar(console, quiet) as bar:
                task = bar.add_task(scenario.name, total=draws * waves, unit="draws")
                result = calibrate(
                    scenario,
                    observed,
                    draws=draws,
                    waves=waves,
                    reps=reps,
                    cutoff=cutoff,
                    discrepancy=discrepancy,
                    rank=rank,
                    seed=seed,
                    engine=engine,
                    workers=workers,
                    scheduler=scheduler,
                    progress=lambda done, total: bar.update(task, completed=done),
                )
            from .present import charts
            from .present.report import chart_files

            chart = chart_files(charts.backtest(result.backtest), "backtest")
            target = write_calibration(result, folder, scenario_file, overwrite, chart)
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if quiet:
        click.echo(str(folder))
        return
    ran = int(result.waves["wave"].max()) + 1
    kept = int(result.waves[result.waves["wave"] == ran - 1].drop_duplicates("draw")["kept"].sum())
    click.echo(f"{ran} waves of {draws} draws; {kept} draws of the last are not implausible.")
    for line in describe_ranges(result.ranges):
        click.echo(f"  {line}")
    click.echo(
        f"Calibrated scenario: {target} (leftshift uncertainty can run it); back-test chart "
        f"{folder}/backtest.svg, tables waves.csv, ranges.csv, backtest.csv"
    )


# --- report ------------------------------------------------------------------------------------


@main.command("report")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--png", is_flag=True, help="Also write each chart as PNG and SVG in charts/.")
def report_command(folder: Path, png: bool) -> None:
    """Rebuild report.html from the results a run, compare or sweep saved in FOLDER."""
    from .present.report import write_report

    try:
        path = write_report(folder, png=png)
    except ReportError as err:
        _fail(err)
        return
    except OutputError as err:  # the results are there; the report could not be written
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_FAILED)
    _say_report(Written(path), png)


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
@_overwrite_option
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
    overwrite: bool,
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
        claimed = claim(out, "search", overwrite=overwrite) if out else contextlib.nullcontext()
        with claimed as folder:  # an --out that cannot be written fails before running
            _prepare(console, quiet, engine)
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
            if folder is not None:
                evaluations = found.evaluations
                folder.write(
                    {"search.csv": lambda p: evaluations.to_csv(p, index=False)},
                    kept=f"nothing was saved; the answer: {found.describe()}",
                )
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if not quiet:
        table = Table(title=f"{scenario.name}: {metric} ({period})", title_justify="left")
        for column in ("value", "mean", "bound", "meets"):
            table.add_column(column, justify="right")
        for _, row in found.evaluations.sort_values("value").iterrows():
            table.add_row(
                str(row["value"]),
                fmt_number(row["mean"]),
                fmt_number(row["bound"]),
                str(row["meets"]),
            )
        Console().print(table)
    click.echo(found.describe())


# --- warm-up -------------------------------------------------------------------------------------


@main.command("warmup")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--reps",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Replications (each half is also judged apart).",
)
@click.option(
    "--days",
    type=click.IntRange(min=20),
    help="Days to run from empty (default: 4 x the scenario's warm-up + its horizon, at "
    "least 365; MSER-5 searches the first half).",
)
@_seed_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: outputs/warmup-<scenario name>).",
)
@_engine_option
@_where_options
@_overwrite_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or table; print the days.")
def warmup_command(
    scenario_file: Path,
    reps: int,
    days: int | None,
    seed: int | None,
    out: Path | None,
    engine: str,
    workers: int | None,
    scheduler: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Recommend a warm-up: run the scenario from empty, held still, and apply MSER-5.

    Writes warmup.csv (each series' truncation), warmup_daily.csv (the series
    averaged over replications) and the chart as warmup.svg and warmup.png.
    """
    from .present.charts import warm_up
    from .present.report import chart_files

    console = Console(stderr=True)
    try:
        scenario = load_scenario(scenario_file)
        target = out if out is not None else Path("outputs") / f"warmup-{scenario.name}"
        with claim(target, "warmup", overwrite=overwrite) as claimed:
            _prepare(console, quiet, engine)
            with progress_bar(console, quiet) as bar:
                task = bar.add_task(f"{scenario.name} from empty", total=reps, unit="replications")
                found = suggest_warm_up(
                    scenario,
                    reps=reps,
                    days=days,
                    seed=seed,
                    engine=engine,
                    workers=workers,
                    scheduler=scheduler,
                    progress=lambda done: bar.update(task, completed=done),
                )
            chart = warm_up(found.daily, found.by_series, found.days)
            by_series, daily = found.by_series, found.daily
            files = {
                "warmup.csv": lambda p: by_series.to_csv(p, index=False),
                "warmup_daily.csv": lambda p: daily.to_csv(p, index=False),
                **chart_files(chart, "warmup"),
            }
            claimed.write(files, kept="nothing was saved; the recommendation: " + found.describe())
    except (ScenarioError, InvariantError, OutputError, ClusterError) as err:
        _fail(err)
        return
    if quiet:
        click.echo(str(found.days))
        return
    click.echo("Held still: " + ("; ".join(found.held_still) or "nothing moved over time"))
    table = Table(
        title=f"{scenario.name}: {found.reps} replications x {found.run_days} days from empty",
        title_justify="left",
    )
    for column in ("series", "MSER-5 (days)", "halves (days)", "reliable", "settled mean"):
        table.add_column(column, justify="left" if column == "series" else "right")
    for row in found.by_series.to_dict("records"):
        table.add_row(
            str(row["series"]),
            str(row["truncate_days"]),
            str(row["truncate_days_halves"]),
            "yes" if row["reliable"] else "no",
            fmt_number(float(row["settled_mean"])),
        )
    table_console().print(table)
    click.echo(found.describe() + f". Configured: {scenario.run.warm_up_days} days.")
    click.echo(f"Results in {target}/ (warmup.csv, warmup_daily.csv, warmup.svg, warmup.png)")


if __name__ == "__main__":  # pragma: no cover
    main()
