"""The planner's report: one self-contained HTML page per run, comparison or sweep.

:func:`write_report` reads what a run, comparison or sweep saved in its
folder (``summary.csv``, ``replications.parquet``, ``daily.parquet``,
``hour_of_week.parquet``, ``ed_time.parquet``, ``scenario.json``,
``comparison.csv``; a sweep's ``experiment.json``,
``points.csv``, ``summary.csv``) and writes ``report.html`` beside it, so a
report can always be rebuilt from saved results (``leftshift report DIR``).

The page works offline, on a locked-down laptop: the Vega, Vega-Lite and
Vega-Embed libraries (from ``vl-convert-python``, which bundles them) are
inlined once in a ``<script>`` for the whole page, and each chart is its
Vega-Lite JSON with the data inline, drawn by ``vegaEmbed`` as SVG. Nothing
is fetched. The page holds the headline table (means with 95% CIs and, for
a comparison, paired differences), the charts of :mod:`sim.charts`, and
provenance (scenario files, resolved parameters, seed, replications,
engine, package version, run date).

``png=True`` also writes each chart as PNG and SVG into ``charts/`` (drawn
by vl-convert, no browser needed), for pasting into a board paper.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import altair as alt
import jinja2
import pandas as pd
from markupsafe import Markup

from .._version import __version__
from ..analysis import clip_counts
from ..errors import ReportError
from ..metrics import catalogue
from ..runs.outputs import MARKER, atomic_write, claim, kind_of
from ..runs.results import read_json, read_table
from . import charts
from .format import fmt, fmt_diff, fmt_rel, interval, period_label, shown_periods

REPORT = "report.html"
CHARTS = "charts"


# --- the saved results --------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """What a run, comparison or sweep folder holds, as tables."""

    folder: Path
    kind: str
    """``run``, ``comparison`` or ``sweep``."""
    summary: pd.DataFrame
    replications: pd.DataFrame | None = None
    daily: pd.DataFrame | None = None
    """The daily series the report draws (:data:`REPORT_SERIES`), not the whole table."""
    comparison: pd.DataFrame | None = None
    hour_of_week: pd.DataFrame | None = None
    ed_time: pd.DataFrame | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    """``scenario.json`` (run, comparison) or ``experiment.json`` (sweep)."""
    uncertainty: dict[str, Any] | None = None
    """A two-level experiment's tables (``uncertainty/``: draws, distribution, targets,
    sensitivity) and its ``uncertainty.json``, when the sweep is one."""

    @property
    def against(self) -> str | None:
        if self.comparison is None or self.comparison.empty:
            return None
        return str(self.comparison["against"].iloc[0])

    @property
    def scenario_names(self) -> list[str]:
        return list(dict.fromkeys(self.summary["scenario"])) if self.kind != "sweep" else []

    findings: str | None = None
    """An HTML fragment of written findings (``findings.html``, e.g. from a case study)."""

    @property
    def baseline_years(self) -> dict[str, str | None]:
        """Each scenario's ``[plan] baseline_year``; in a comparison, only the comparator's,
        the one baseline every scenario is measured from."""
        year, against = self.comparison_baseline_year, self.against
        if year is not None and against is not None:
            return {against: year}
        return {
            s["name"]: (s.get("resolved", {}).get("plan") or {}).get("baseline_year")
            for s in self.provenance.get("scenarios", [])
        }

    @property
    def comparison_baseline_year(self) -> str | None:
        """The one baseline year of a comparison (the comparator's), if it has one."""
        if self.comparison is None or "baseline_year" not in self.comparison:
            return None
        years = self.comparison["baseline_year"].dropna()
        return str(years.iloc[0]) if len(years) else None

    @property
    def comparator_costs(self) -> dict[str, Any]:
        """The comparator's resolved ``[costs]``: its discount rate and price base are the
        comparison's, as its baseline year is."""
        for s in self.provenance.get("scenarios", []):
            if s["name"] == self.against:
                return dict(s.get("resolved", {}).get("costs") or {})
        return {}

    def plan_trajectory(self) -> pd.DataFrame:
        """Each plan's projected level (scenario, metric, period, value) from its ``[plan]``.

        A projection is a change against the baseline year, so its level is the
        simulated mean in that year times (1 + change); the baseline year itself
        starts the line. In a comparison that year's mean is the comparator's (one
        baseline for every scenario, as :mod:`sim.experiments.compare` measures it);
        in a run, the scenario's own.
        """
        rows = []
        means = self.summary.set_index(["scenario", "metric", "period"])["mean"]
        for s in self.provenance.get("scenarios", []):
            plan = s.get("resolved", {}).get("plan") or {}
            year = self.comparison_baseline_year or plan.get("baseline_year")
            source = self.against or s["name"]
            for metric, changes in (plan.get("projected") or {}).items():
                base = means.get((source, metric, year))
                if base is None or not changes:
                    continue
                rows.append((s["name"], metric, year, float(base)))
                for period, change in sorted(changes.items()):
                    rows.append((s["name"], metric, period, float(base) * (1 + change)))
        return pd.DataFrame(rows, columns=["scenario", "metric", "period", "value"])


def load_saved(folder: str | Path) -> Saved:
    """Read a run, comparison or sweep folder (what :func:`write_report` draws).

    What the folder holds comes from its marker (:mod:`sim.runs.outputs`), or
    for a folder saved before markers, from its files. A missing or unreadable
    file raises :class:`~sim.errors.ReportError` naming it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(
            f"{folder}: no such folder; give the folder a run, compare or sweep wrote"
        )
    kind = kind_of(folder)
    if kind is None:
        raise ReportError(
            f"{folder}: not a results folder (no {MARKER}, summary.csv or scenario.json); "
            "give the folder a run, compare or sweep wrote"
        )
    if kind == "search":
        raise ReportError(f"{folder}: holds a capacity search (search.csv), which has no report")
    if kind == "sweep":
        from ..experiments.sweep import load_replications

        if not (folder / "summary.csv").exists():
            raise ReportError(f"{folder}: the sweep has not finished (no summary.csv yet)")
        manifest = read_json(folder / "experiment.json")
        try:
            replications = load_replications(folder)
        except Exception as exc:  # a damaged part file
            raise ReportError(f"{folder / 'replications'}: cannot be read ({exc})") from None
        return Saved(
            folder,
            "sweep",
            read_table(folder / "summary.csv"),
            replications=replications,
            provenance=manifest,
            uncertainty=_read_uncertainty(folder),
        )
    findings = folder / "findings.html"
    try:
        findings_text = findings.read_text(encoding="utf-8") if findings.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{findings}: cannot be read ({exc})") from None
    return Saved(
        folder,
        kind,
        read_table(folder / "summary.csv"),
        replications=read_table(folder / "replications.parquet"),
        daily=read_table(folder / "daily.parquet", filters=[("series", "in", list(REPORT_SERIES))]),
        comparison=(read_table(folder / "comparison.csv") if kind == "comparison" else None),
        provenance=read_json(folder / "scenario.json"),
        hour_of_week=read_table(folder / "hour_of_week.parquet", optional=True),
        ed_time=read_table(folder / "ed_time.parquet", optional=True),
        findings=findings_text,
    )


def _read_uncertainty(folder: Path) -> dict[str, Any] | None:
    """A two-level experiment's tables, or None when the sweep is not one."""
    meta = folder / "uncertainty" / "uncertainty.json"
    if not meta.exists():
        return None
    from ..experiments.uncertainty import TABLES

    out: dict[str, Any] = {"meta": read_json(meta)}
    for name in TABLES:
        out[name] = read_table(folder / "uncertainty" / f"{name}.parquet")
    return out


REPORT_SERIES = (
    "acute_occupied",
    "acute_capacity",
    "delayed",
    "escalation_beds_open",
    "opel_level",
)
"""The daily series the charts use: 4 of 17 (5 of 18 with escalation beds), so 1,000
replications x 5 years (31 million daily rows) are read as 7.3 million."""


# --- charts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One chart of the report: an anchor, a heading and the chart."""

    slug: str
    heading: str
    chart: charts.Chart
    note: str = ""


def figures(saved: Saved) -> list[Figure]:
    """The report's charts, in page order."""
    if saved.uncertainty is not None:
        return _uncertainty_figures(saved)
    if saved.kind == "sweep":
        return _sweep_figures(saved)
    out: list[Figure] = []
    if saved.daily is not None and not saved.daily.empty:
        out.append(
            Figure("acute-occupancy", "Acute bed occupancy", charts.daily_occupancy(saved.daily))
        )
        if bool((saved.daily["series"] == "escalation_beds_open").any()):  # where configured
            out.append(
                Figure(
                    "escalation",
                    "Escalation beds and the OPEL-like level",
                    charts.escalation(saved.daily),
                )
            )
    out += _week_figures(saved)
    out.append(
        Figure(
            "activity",
            "Attendances and admissions by year",
            charts.annual_activity(saved.summary, saved.baseline_years, saved.plan_trajectory()),
        )
    )
    out.append(
        Figure(
            "delayed-pathway",
            "Delayed bed days by pathway",
            charts.delayed_by_pathway(saved.summary),
        )
    )
    staged = saved.summary[
        saved.summary["metric"].isin(["delay_assessment_bed_days", "delay_brokerage_bed_days"])
    ]
    if not staged.empty and bool((staged["mean"] > 0).any()):  # only where stages are set
        out.append(
            Figure(
                "delayed-stage",
                "Delayed bed days by discharge stage",
                charts.delayed_by_stage(saved.summary),
            )
        )
    out.append(Figure("community", "Community services", charts.community(saved.summary)))
    if saved.ed_time is not None and not saved.ed_time.empty:
        out.append(Figure("ed", "Time in A&E", charts.ed_time_distribution(saved.ed_time)))
    elif saved.replications is not None:  # a folder saved before the histogram was
        out.append(
            Figure(
                "ed",
                "Time in A&E",
                charts.ed_performance(saved.replications),
                "These results hold each replication's 4-hour share and mean time in A&E, "
                "not the distribution of times, so these are shown.",
            )
        )
    if saved.replications is not None:
        against = saved.against
        if against is not None:
            out.append(
                Figure(
                    "cost",
                    f"Cumulative cost against {charts.readable(against)}",
                    charts.cumulative_cost(
                        saved.replications,
                        against,
                        saved.comparison_baseline_year,
                        float(saved.comparator_costs.get("discount_rate") or 0.0),
                        str(saved.comparator_costs.get("price_base") or ""),
                    ),
                )
            )
    return out


def _week_figures(saved: Saved) -> list[Figure]:
    """Delayed patients and beds occupied by hour of the week; for results saved before the
    hour-of-week profiles were, delayed patients by day of week and month from the daily
    series."""
    how = saved.hour_of_week
    if how is not None and not how.empty:
        return [
            Figure(
                f"hour-of-week-{_slug(series)}",
                heading,
                charts.hour_of_week_heatmap(how, series, saved.against),
            )
            for series, heading in (
                ("delayed", "Delayed discharges by hour of the week"),
                ("acute_occupied", "Acute beds occupied by hour of the week"),
            )
        ]
    if saved.daily is not None and not saved.daily.empty:
        return [
            Figure(
                "weekly-pattern",
                "Delayed discharges through the week",
                charts.weekly_pattern(saved.daily),
                "These results hold one value a day, so the pattern is by day of week, "
                "not hour of week.",
            )
        ]
    return []


def _sweep_paths(saved: Saved) -> list[str]:
    fixed = {"point", "metric", "period", "mean", "ci_low", "ci_high", "n_reps"}
    return [c for c in saved.summary.columns if c not in fixed]


def _sweep_metrics(saved: Saved) -> list[str]:
    listed = saved.provenance.get("metrics") or []
    return [m for m in listed if m in set(saved.summary["metric"])] or list(
        dict.fromkeys(saved.summary["metric"])
    )


def _sweep_period(saved: Saved) -> str:
    periods = list(dict.fromkeys(saved.summary["period"]))
    return "all" if "all" in periods else str(periods[0])


def _sweep_figures(saved: Saved) -> list[Figure]:
    paths = _sweep_paths(saved)
    metrics = _sweep_metrics(saved)
    period = _sweep_period(saved)
    out: list[Figure] = []
    if len(paths) >= 2:
        note = ""
        if len(paths) > 2:
            note = f"Averaged over the other varied parameters ({', '.join(paths[2:])})."
        for metric in metrics:
            out.append(
                Figure(
                    f"heatmap-{_slug(metric)}",
                    f"{charts.readable(metric)} by {paths[0]} and {paths[1]}",
                    charts.sweep_heatmap(saved.summary, paths[0], paths[1], metric, period),
                    note,
                )
            )
    out.append(
        Figure(
            "sensitivity",
            "Sensitivity to each parameter",
            charts.sensitivity(saved.summary, paths, metrics, period),
        )
    )
    return out


def _uncertainty_figures(saved: Saved) -> list[Figure]:
    u = saved.uncertainty
    assert u is not None
    out = [
        Figure(
            "target-probability",
            "Probability of meeting each projected target",
            charts.target_probability(u["targets"]),
            "Each draw's change is the mean of its replications; the probability is the share "
            "of draws that meet the target, its Monte Carlo error sqrt(p(1 - p)/N), and the "
            "lines its Wilson 95% interval (not empty when no draw meets it).",
        )
    ]
    sens = u["sensitivity"]
    metrics = list(dict.fromkeys(u["targets"]["metric"])) or list(dict.fromkeys(sens["metric"]))
    periods = list(dict.fromkeys(u["targets"]["period"])) or ["all"]
    for scenario in dict.fromkeys(sens["scenario"]):
        out.append(
            Figure(
                f"tornado-{_slug(str(scenario))}",
                f"What drives the answer: {charts.readable(str(scenario))}",
                charts.tornado(sens, str(scenario), metrics, str(periods[-1])),
                f"{period_label(str(periods[-1]))}. Inputs of one group share a draw and a bar.",
            )
        )
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- headline tables ----------------------------------------------------------------------------
# Plain text in plain structures: the template (templates/report.html) escapes every value.


@dataclass(frozen=True)
class Cell:
    """A table cell: the value as shown, and its interval beneath it (or "")."""

    text: str
    ci: str = ""


@dataclass(frozen=True)
class Row:
    """A table row: an optional heading cell (a metric), an optional period, the values."""

    cells: list[Cell]
    heading: str | None = None
    title: str = ""
    """The heading's tooltip: the metric's name in the tables."""
    rowspan: int = 1
    period: str | None = None
    css: str = ""


@dataclass(frozen=True)
class Table:
    head: list[str]
    rows: list[Row]
    css: str = "headline"
    lead: str = ""
    """A sentence above the table (or "")."""


CLIPPED_NOTE = (
    "Intervals of counts are cut at zero where they would reach below it (few replications "
    "of a rare, skewed count); summary.csv keeps the symmetric interval."
)


def _cell(mean: Any, low: Any, high: Any, unit: str, diff: bool = False, rel: Any = None) -> Cell:
    text = (fmt_diff if diff else fmt)(mean, unit)
    if rel is not None:
        text += fmt_rel(rel)
    return Cell(text, interval(low, high, unit, diff))


def _change(row: Mapping[Any, Any], column: str, relative: str, unit: str) -> Cell:
    """A paired change (``column`` with its interval) and its relative change."""
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    return _cell(row[column], low, high, unit, True, row[relative])


def _counts(names: Any) -> list[str]:
    """The count metrics among ``names`` (their intervals are clipped at zero for display)."""
    return [m for m in dict.fromkeys(names) if catalogue.unit(m) == "count"]


def _run_table(saved: Saved) -> Table:
    s = clip_counts(saved.summary, _counts(saved.summary["metric"]))
    periods = shown_periods(s)
    indexed = s.set_index(["metric", "period"]).to_dict("index")
    rows = []
    for metric in catalogue.headlines(s["metric"]):
        cells = [
            _cell(r["mean"], r["ci_low"], r["ci_high"], metric.unit)
            for r in (indexed.get((metric.name, p), {}) for p in periods)
            if r
        ]
        rows.append(Row(cells, heading=metric.label, title=metric.name))
    return Table(["metric", *map(period_label, periods)], rows)


def _comparison_table(saved: Saved) -> Table:
    assert saved.comparison is not None
    t = clip_counts(saved.comparison, _counts(saved.comparison["metric"]))
    against = saved.against
    names = list(dict.fromkeys(t["scenario"]))
    others = [n for n in names if n != against]
    year = saved.comparison_baseline_year
    years = {n: year for n in names} if year else {}
    periods = shown_periods(saved.summary)
    head = ["metric", "period"]
    head += [charts.readable(n) + (" (comparator)" if n == against else "") for n in names]
    head += [f"{charts.readable(n)} vs {charts.readable(str(against))}" for n in others]
    head += [
        f"{charts.readable(n)} vs {y} of {charts.readable(str(against))}" for n, y in years.items()
    ]
    indexed = t.set_index(["metric", "period", "scenario"]).to_dict("index")
    rows = []
    for metric in catalogue.headlines(t["metric"]):
        kind = metric.unit
        shown = [p for p in periods if (metric.name, p, against) in indexed]
        for period in shown:
            at = {n: indexed[(metric.name, period, n)] for n in names}
            cells = [_cell(at[n]["mean"], at[n]["ci_low"], at[n]["ci_high"], kind) for n in names]
            cells += [_change(at[n], "diff", "rel_change", kind) for n in others]
            cells += [_change(at[n], "vs_baseline", "rel_vs_baseline", kind) for n in years]
            first = period == shown[0]
            rows.append(
                Row(
                    cells,
                    heading=metric.label if first else None,
                    title=metric.name,
                    rowspan=len(shown),
                    period=period_label(period),
                    css="first" if first else "more",
                )
            )
    return Table(head, rows)


def _sweep_table(saved: Saved) -> Table:
    paths = _sweep_paths(saved)
    metrics = _sweep_metrics(saved)
    period = _sweep_period(saved)
    s = saved.summary[saved.summary["period"] == period]
    s = clip_counts(s, _counts(metrics))
    indexed = s.set_index(["point", "metric"]).to_dict("index")
    points = s.drop_duplicates("point").sort_values("point")
    head = ["point", *paths, *(catalogue.label(m) for m in metrics)]
    rows = []
    for _, point in points.iterrows():
        cells = [Cell(str(point["point"])), *(Cell(str(point[p])) for p in paths)]
        for metric in metrics:
            r = indexed.get((point["point"], metric))
            unit = catalogue.unit(metric)
            cells.append(_cell(r["mean"], r["ci_low"], r["ci_high"], unit) if r else Cell("-"))
        rows.append(Row(cells))
    lead = f"{period_label(period)}: mean and 95% CI over replications."
    return Table(head, rows, "headline sweep", lead)


def headline(saved: Saved) -> Table:
    """The report's headline table: a run's means and 95% CIs; a comparison's, with the paired
    change against the comparator and against each plan's baseline year; a sweep's points.
    The app shows the same table."""
    if saved.uncertainty is not None:
        return _uncertainty_table(saved)
    build = {"sweep": _sweep_table, "comparison": _comparison_table}.get(saved.kind, _run_table)
    return build(saved)


def _uncertainty_table(saved: Saved) -> Table:
    """A two-level experiment's targets (probability and Monte Carlo error) and each
    metric's distribution over draws, whole run."""
    u = saved.uncertainty
    assert u is not None
    meta = u["meta"]
    head = [
        "metric",
        "period",
        "scenario",
        "target",
        "against",
        "change over draws (5-95%)",
        "probability of meeting it",
    ]
    rows = []
    for r in u["targets"].itertuples():
        rows.append(
            Row(
                [
                    Cell(charts.readable(str(r.scenario))),
                    Cell(f"{r.target:+.0%}"),
                    Cell(str(r.base)),
                    Cell(f"{r.change_mean:+.1%}", f"{r.change_p05:+.1%} to {r.change_p95:+.1%}"),
                    Cell(
                        f"{r.p_meet:.0%}",
                        f"Monte Carlo error ± {r.p_meet_se:.1%}; 95% CI {r.p_meet_ci_low:.1%} "
                        f"to {r.p_meet_ci_high:.1%}",
                    ),
                ],
                heading=catalogue.label(str(r.metric)),
                title=str(r.metric),
                period=period_label(str(r.period)),
            )
        )
    d = u["distribution"]
    for r in d[d["period"] == "all"].itertuples():
        unit = catalogue.unit(str(r.metric))
        share = "-" if r.input_share != r.input_share else f"{r.input_share:.0%} from the inputs"
        rows.append(
            Row(
                [
                    Cell(charts.readable(str(r.scenario))),
                    Cell(""),
                    Cell(""),
                    Cell(
                        fmt(float(r.mean), unit),
                        f"{fmt(float(r.p05), unit)} to {fmt(float(r.p95), unit)}",
                    ),
                    Cell(share),
                ],
                heading=catalogue.label(str(r.metric)),
                title=str(r.metric),
                period=period_label("all"),
            )
        )
    lead = (
        f"{meta.get('draws')} parameter draws x {meta.get('reps')} replications (common random "
        "numbers); targets from each plan's [plan.projected], then each metric's draw means "
        "(mean, 5-95%) and the share of their variance from the uncertain inputs."
    )
    return Table(head, rows, "headline uncertainty", lead)


# --- provenance ---------------------------------------------------------------------------------


def _provenance(saved: Saved) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The provenance facts (name, value) and the resolved parameters (name, JSON)."""
    p = saved.provenance
    if saved.kind == "sweep":
        facts = [
            ("experiment", p.get("name")),
            ("experiment file", p.get("source")),
            ("description", p.get("description")),
            ("points", len(p.get("points", []))),
            ("replications per point", p.get("reps")),
            ("seed", p.get("seed")),
            ("engine", p.get("engine")),
            ("package version", p.get("version")),
            ("started", p.get("created")),
        ]
        resolved = {"base scenario": p.get("base"), "points": p.get("points")}
    else:
        facts = [
            (
                "scenarios",
                ", ".join(f"{s['name']} ({s['source']})" for s in p.get("scenarios", [])),
            ),
            ("comparator", saved.against),
            ("replications", p.get("reps")),
            ("seed", p.get("seed")),
            ("engine", p.get("engine")),
            ("package version", p.get("version")),
            ("run date", p.get("run_date")),
        ]
        resolved = {s["name"]: s.get("resolved") for s in p.get("scenarios", [])}
    facts += _made_with(p.get("provenance") or {})
    shown = [(k, str(v)) for k, v in facts if v not in (None, "")]
    details = [
        (str(name), json.dumps(value, indent=2, default=str))
        for name, value in resolved.items()
        if value is not None
    ]
    return shown, details


def _made_with(made: dict[str, Any]) -> list[tuple[str, Any]]:
    """Provenance facts (:mod:`sim.runs.provenance`): versions, platform, inputs, commit."""
    if not made:
        return []
    packages = made.get("packages") or {}
    git = made.get("git") or {}
    commit = git.get("commit")
    if commit and git.get("uncommitted_changes"):
        commit += " (with uncommitted changes)"
    return [
        ("Python", made.get("python")),
        ("platform", made.get("platform")),
        ("packages", ", ".join(f"{k} {v}" for k, v in packages.items() if v)),
        ("git commit", commit),
        *((f"input {f['path']}", f"sha256 {f['sha256']}") for f in made.get("inputs", [])),
    ]


# --- the page -----------------------------------------------------------------------------------


BUNDLE_MARK = "window.vegaEmbed="
"""What the end of a complete bundle sets (a cached file without it is rebuilt)."""


def _cache_dir() -> Path:
    """The user's cache folder for leftshift, where each system keeps them (platformdirs:
    ``$XDG_CACHE_HOME/leftshift`` on Linux, ``~/Library/Caches/leftshift`` on macOS,
    ``%LOCALAPPDATA%\\leftshift\\Cache`` on Windows)."""
    import platformdirs

    return platformdirs.user_cache_path("leftshift", appauthor=False)


@functools.lru_cache(maxsize=2)
def vega_javascript(vl_version: str | None = None) -> str:
    """Vega, Vega-Lite and Vega-Embed in one script (from vl-convert), for inlining once.

    ``vl_version`` defaults to the Vega-Lite version Altair writes specs for.
    Building the bundle takes several seconds, so it is kept for the process
    and in the user's cache folder (:func:`_cache_dir`, named by
    the vl-convert and Vega-Lite versions, which fix its content); a cache
    that cannot be read or written is simply not used.
    """
    import vl_convert as vlc

    if vl_version is None:
        wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
        known = vlc.get_vegalite_versions()
        vl_version = wanted if wanted in known else None
    version = getattr(vlc, "__version__", None)  # without it, a cache could go stale
    cached = _cache_dir() / f"vega-bundle-{version}-vl{vl_version or 'latest'}.js"
    if version is not None:
        try:
            text = cached.read_text(encoding="utf-8")
            if BUNDLE_MARK in text[-2000:]:
                return text
        except (OSError, UnicodeDecodeError):
            pass
    bundle = _script_safe(vlc.javascript_bundle(vl_version=vl_version))  # type: ignore[call-arg]
    if version is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(cached, _bytes_writer(bundle.encode("utf-8")))
        except OSError:
            pass
    return bundle


def _script_safe(text: str) -> str:
    """Text that cannot close the ``<script>`` element it sits in."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def _title(saved: Saved) -> str:
    if saved.uncertainty is not None:
        names = saved.uncertainty["meta"].get("scenarios", [])
        return f"Uncertainty: {' vs '.join(charts.readable(n) for n in names)}"
    if saved.kind == "sweep":
        return f"Sweep: {saved.provenance.get('name', saved.folder.name)}"
    names = [charts.readable(n) for n in saved.scenario_names]
    if saved.kind == "comparison":
        return f"Comparison: {' vs '.join(names)}"
    return f"Scenario: {', '.join(names)}"


def _lead(saved: Saved) -> str:
    p = saved.provenance
    if saved.kind == "sweep":
        return (
            f"{len(p.get('points', []))} points x {p.get('reps')} replications, seed "
            f"{p.get('seed')}, engine {p.get('engine')}. "
            f"{p.get('description') or ''}"
        )
    text = (
        f"{p.get('reps')} replications, seed {p.get('seed')}, engine {p.get('engine')}, "
        f"run {p.get('run_date')}. Means with 95% confidence intervals over replications"
    )
    if saved.kind == "comparison":
        text += (
            f"; differences against {charts.readable(str(saved.against))} are paired by "
            "replication (common random numbers)"
        )
    return text + "."


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    """The page (``templates/report.html``); every value put in it is escaped unless the
    code marks it safe, with its reason, in :func:`render_html`."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.present", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails, not an empty cell
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html")


def render_html(saved: Saved, figs: Sequence[Figure], javascript: str) -> str:
    """The report page (a pure function of the tables, the charts and the libraries)."""
    table = headline(saved)
    facts, resolved = _provenance(saved)
    charts_json = [
        # safe: JSON inside <script type="application/json"> is read by JSON.parse, not as
        # HTML, and _script_safe stops it closing its element
        Markup(
            _script_safe(json.dumps(fig.chart.to_dict(), separators=(",", ":"), allow_nan=False))
        )
        for fig in figs
    ]
    return _template().render(
        version=__version__,
        title=_title(saved),
        lead=_lead(saved),
        # safe: the chart libraries, inlined whole and made script-safe by vega_javascript
        javascript=Markup(javascript),
        # safe: findings.html is an HTML fragment that leftshift itself writes into a
        # results folder (the case study's Findings), meant to be shown as HTML; a report
        # is only ever rebuilt from a folder leftshift wrote
        findings=Markup(saved.findings) if saved.findings else None,
        table=table,
        clipped_note=CLIPPED_NOTE,
        figures=list(zip(figs, charts_json, strict=True)),
        facts=facts,
        resolved=resolved,
        folder=str(saved.folder),
    )


def static_files(figs: Sequence[Figure], scale: float = 2.0) -> dict[str, bytes]:
    """Each chart as PNG (``scale`` x its size) and SVG, by file name in ``charts/``."""
    import vl_convert as vlc

    files: dict[str, bytes] = {}
    for k, fig in enumerate(figs, start=1):
        spec = fig.chart.to_dict()
        stem = f"{CHARTS}/{k:02d}-{fig.slug}"
        files[f"{stem}.png"] = vlc.vegalite_to_png(spec, scale=scale)
        files[f"{stem}.svg"] = vlc.vegalite_to_svg(spec).encode("utf-8")
    return files


def chart_files(
    chart: charts.Chart, stem: str, scale: float = 2.0
) -> dict[str, Callable[[Path], None]]:
    """Writers of one chart as ``<stem>.svg`` and ``<stem>.png`` (``scale`` x its size), by
    file name, for a claimed folder's ``write``."""
    import vl_convert as vlc

    spec = chart.to_dict()
    return {
        f"{stem}.svg": _bytes_writer(vlc.vegalite_to_svg(spec).encode("utf-8")),
        f"{stem}.png": _bytes_writer(vlc.vegalite_to_png(spec, scale=scale)),
    }


def _bytes_writer(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def write_report(folder: str | Path, png: bool = False) -> Path:
    """Build ``report.html`` in a results folder from its saved files; return its path.

    ``png=True`` also writes every chart as PNG and SVG in ``folder/charts/``.
    Raises :class:`~sim.errors.ReportError` naming a file that is missing or cannot
    be read, and :class:`~sim.errors.OutputError` if the report cannot be written.
    """
    saved = load_saved(folder)
    figs = figures(saved)
    page = render_html(saved, figs, vega_javascript())
    files = {REPORT: page.encode("utf-8")}
    if png:
        files.update(static_files(figs))
    with claim(saved.folder, None, option="") as claimed:
        claimed.write(
            {name: _bytes_writer(data) for name, data in files.items()},
            kept=f"the results in {saved.folder} are untouched",
        )
    return saved.folder / REPORT
