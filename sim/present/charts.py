"""Charts for planners: tidy tables in, Altair charts out.

Every builder here is pure: it takes the tables a run, comparison or sweep
writes (``summary``, ``replications``, ``daily``, a sweep's ``summary``) and
returns an Altair chart; nothing is drawn or written. The report
(:mod:`sim.report`) lays them out on a page and the CLI writes the files.

Conventions, so that charts pasted side by side into a board paper agree:

* titles say what is shown and over what (``"... (mean of 10 replications)"``
  where it matters); axes carry units (beds, patients, bed days, GBP);
* scenarios are shown by :func:`readable` names (``p1_plus_20`` ->
  ``p1 plus 20``) in one colour each, in the order they were run;
* bands and error bars are 95% Student-t intervals over replications (paired
  by replication for differences), as in ``summary.csv``;
* every mark has a tooltip with the number behind it.

Hour-of-week heatmaps and the A&E time distribution draw the
``hour_of_week`` and ``ed_time`` tables; :func:`weekly_pattern` and
:func:`ed_performance` are their stand-ins for results saved without them
(see docs/report.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from scipy import stats

from ..analysis import net_cost
from ..codes import SERVICE_NAMES, WEEKDAYS
from ..metrics import catalogue

Chart = alt.Chart | alt.LayerChart | alt.HConcatChart | alt.VConcatChart | alt.FacetChart

WIDTH = 640
"""Width of a full-width chart in pixels (the report's column is a little wider)."""
HALF_WIDTH = 280
HEIGHT = 260
DELAYED_BY_PATHWAY = {f"delayed_bed_days_{k}": SERVICE_NAMES[k] for k in ("p1", "p2", "p3")}
"""The delayed-bed-day metrics by pathway, and how the chart names them."""
DELAYED_BY_STAGE = {
    f"delay_{stage}_bed_days": label
    for stage, label in (
        ("assessment", "assessment"),
        ("brokerage", "brokerage"),
        ("place", "a place"),
    )
}
"""The delayed-bed-day metrics by discharge stage, and how the chart names what they wait for."""
FOUR_HOUR_STANDARD = 0.95
"""The A&E operational standard: 95% of attendances within 4 hours."""
PLANNING_OCCUPANCY = 0.92
"""The bed occupancy planning line."""


def readable(name: str) -> str:
    """A scenario or parameter name for people: ``p1_plus_20`` -> ``p1 plus 20``."""
    return str(name).replace("_", " ").strip()


def _order(values: Sequence[Any] | pd.Series) -> list[Any]:
    return list(dict.fromkeys(values))


def _scenario_colour(names: Sequence[str]) -> alt.Color:
    labels = [readable(n) for n in names]
    return alt.Color(
        "scenario_label:N",
        title="Scenario",
        scale=alt.Scale(domain=labels),
        sort=labels,
        legend=alt.Legend(symbolOpacity=1),  # not the pale fill of a confidence band
    )


def _scenario_columns(names: Sequence[str]) -> alt.Column:
    """One panel per scenario, headed by its readable name, in run order."""
    return alt.Column(
        "scenario_label:N",
        title=None,
        sort=[readable(n) for n in names],
        header=alt.Header(labelFontSize=12, labelFontWeight="bold"),
    )


def _ci_tooltips(title: str, fmt: str) -> list[alt.Tooltip]:
    """Tooltips for a mean and its 95% interval."""
    return [
        alt.Tooltip("mean:Q", title=title, format=fmt),
        alt.Tooltip("ci_low:Q", title="95% CI from", format=fmt),
        alt.Tooltip("ci_high:Q", title="95% CI to", format=fmt),
    ]


def _t_band(values: pd.Series) -> pd.Series:
    """Mean and 95% t interval of one group's replication values."""
    x = values.to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = float(x.mean()) if n else float("nan")
    if n < 2:
        return pd.Series({"mean": mean, "ci_low": mean, "ci_high": mean, "n_reps": n})
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return pd.Series({"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_reps": n})


def _band(frame: pd.DataFrame, keys: list[str], column: str = "value") -> pd.DataFrame:
    """Per group of ``keys``: mean, ci_low, ci_high over the rows (replications)."""
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        band = _t_band(group[column])
        values = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, values, strict=True)), **band})
    return pd.DataFrame(rows, columns=[*keys, "mean", "ci_low", "ci_high", "n_reps"])


def _title(text: str, subtitle: str | None = None) -> alt.Title:
    """Titles start at the left edge in every chart, so a page of them reads down one line."""
    if subtitle is None:
        return alt.Title(text, anchor="start")
    return alt.Title(text, subtitle=subtitle, anchor="start")


def _empty(message: str) -> alt.Chart:
    """A placeholder that says why there is nothing to draw."""
    return (
        alt.Chart(pd.DataFrame({"text": [message]}))
        .mark_text(fontSize=13, color="#555")
        .encode(text="text:N")
        .properties(width=WIDTH, height=60)
    )


def _years(summary: pd.DataFrame) -> list[str]:
    return [p for p in _order(summary["period"]) if p != "all"]


# --- acute beds ---------------------------------------------------------------------------------


def daily_occupancy(daily: pd.DataFrame) -> Chart:
    """Acute beds occupied by day: mean and 95% band per scenario, open beds and the 92% line.

    ``daily`` is a run's daily table (scenario, replication, date, series,
    value) with the series ``acute_occupied`` and ``acute_capacity``.
    """
    names = _order(daily["scenario"])
    occupied = daily[daily["series"] == "acute_occupied"]
    if occupied.empty:
        return _empty("No daily bed occupancy in these results.")
    weekly = occupied["date"].nunique() * len(names) > MAX_DAILY_POINTS
    if weekly:  # long runs: each replication's weekly mean, so the page stays light
        occupied = _weekly_means(occupied)
    band = _band(occupied, ["scenario", "date"])
    band["scenario_label"] = band["scenario"].map(readable)
    band["date"] = pd.to_datetime(band["date"])
    capacity = daily[daily["series"] == "acute_capacity"]
    capacity = capacity[np.isfinite(capacity["value"].to_numpy(dtype=float))]
    lines = capacity.groupby(["scenario", "date"], sort=False)["value"].mean().reset_index()
    lines["value"] = lines["value"].astype(float)  # daily values are float32: 0.92 x 60 = 55.2
    lines["date"] = pd.to_datetime(lines["date"])
    lines = _change_points(lines)
    lines = pd.concat(
        [
            lines.assign(line="Open beds", beds=lines["value"]),
            lines.assign(line="92% of open beds", beds=PLANNING_OCCUPANCY * lines["value"]),
        ],
        ignore_index=True,
    )
    lines["scenario_label"] = lines["scenario"].map(readable)
    colour = _scenario_colour(names)
    x = alt.X("date:T", title="Date", axis=alt.Axis(format="%b %Y", tickCount="month"))
    area = (
        alt.Chart(band)
        .mark_area(opacity=0.25)
        .encode(
            x=x,
            y=alt.Y(
                "ci_low:Q",
                title=f"Beds occupied ({'weekly' if weekly else 'daily'} mean)",
                # padding keeps the open-beds line off the frame when it is the top of the axis
                scale=alt.Scale(zero=False, padding=12),
            ),
            y2="ci_high:Q",
            color=colour,
        )
    )
    mean = (
        alt.Chart(band)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=x,
            y="mean:Q",
            color=colour,
            tooltip=[
                alt.Tooltip("scenario_label:N", title="Scenario"),
                alt.Tooltip("date:T", title="Date", format="%a %d %b %Y"),
                *_ci_tooltips("Beds occupied", ",.1f"),
            ],
        )
    )
    layers: list[alt.Chart] = []
    if not lines.empty:  # drawn first, so a full hospital's mean line stays visible on top
        layers.append(
            alt.Chart(lines)
            .mark_line(strokeWidth=1.2, color="#444", interpolate="step-after")
            .encode(
                x=x,
                y="beds:Q",
                detail="scenario_label:N",
                strokeDash=alt.StrokeDash(
                    "line:N",
                    title="Line",
                    scale=alt.Scale(
                        domain=["Open beds", "92% of open beds"], range=[[1, 0], [5, 3]]
                    ),
                ),
                tooltip=[
                    alt.Tooltip("scenario_label:N", title="Scenario"),
                    alt.Tooltip("line:N", title="Line"),
                    alt.Tooltip("date:T", title="Date", format="%d %b %Y"),
                    alt.Tooltip("beds:Q", title="Beds", format=",.1f"),
                ],
            )
        )
    layers += [area, mean]
    n = int(band["n_reps"].max())
    return alt.layer(*layers).properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title(
            "Acute beds occupied, by week" if weekly else "Acute beds occupied, by day",
            subtitle=f"{'Weekly mean' if weekly else 'Mean'} of {n} replications with 95% band; "
            "open beds and the 92% planning line",
        ),
    )


def escalation(daily: pd.DataFrame) -> Chart:
    """Escalation beds open and the days at each OPEL-like level, by week, per scenario.

    ``daily`` is a run's daily table with the series ``escalation_beds_open`` (for the
    scenarios that configure ``[acute.escalation]``) and ``opel_level``. Top: the mean
    escalation beds open each week (over its days and the replications); bottom: the share
    of replication-days at each level that week, stacked.
    """
    beds = daily[daily["series"] == "escalation_beds_open"]
    levels = daily[daily["series"] == "opel_level"]
    if beds.empty and levels.empty:
        return _empty("No escalation beds or OPEL-like levels in these results.")
    names = _order(daily["scenario"])
    colour = _scenario_colour(names)
    x = alt.X("date:T", title="Week", axis=alt.Axis(format="%b %Y", tickCount="month"))
    panels: list[alt.Chart] = []
    if not beds.empty:
        weekly = _weekly_means(beds)
        mean = weekly.groupby(["scenario", "date"], sort=False)["value"].mean().reset_index()
        mean["date"] = pd.to_datetime(mean["date"])
        mean["scenario_label"] = mean["scenario"].map(readable)
        panels.append(
            alt.Chart(mean)
            .mark_line(strokeWidth=1.5, interpolate="step-after")
            .encode(
                x=x,
                y=alt.Y("value:Q", title="Escalation beds open (weekly mean)"),
                color=colour,
                tooltip=[
                    alt.Tooltip("scenario_label:N", title="Scenario"),
                    alt.Tooltip("date:T", title="Week of", format="%d %b %Y"),
                    alt.Tooltip("value:Q", title="Beds open (mean)", format=",.1f"),
                ],
            )
            .properties(width=WIDTH, height=HEIGHT // 2)
        )
    if not levels.empty:
        rows = levels.assign(level=levels["value"].astype(int).astype(str))
        dates = pd.to_datetime(rows["date"])
        rows["date"] = (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.date
        counted = rows.groupby(["scenario", "date", "level"], sort=False).size()
        fraction = (counted / counted.groupby(level=[0, 1]).transform("sum")).rename("share")
        share = fraction.reset_index()
        share["date"] = pd.to_datetime(share["date"])
        share["scenario_label"] = share["scenario"].map(readable)
        panels.append(
            alt.Chart(share)
            .mark_bar()
            .encode(
                x=x,
                y=alt.Y("share:Q", title="Share of days", axis=alt.Axis(format="%")),
                color=alt.Color(
                    "level:O",
                    title="OPEL-like level",
                    scale=alt.Scale(
                        domain=["1", "2", "3", "4"],
                        range=["#4c9a2a", "#f2c14e", "#f08a24", "#c0392b"],
                    ),
                ),
                row=alt.Row("scenario_label:N", title=None, sort=[readable(n) for n in names]),
                tooltip=[
                    alt.Tooltip("scenario_label:N", title="Scenario"),
                    alt.Tooltip("date:T", title="Week of", format="%d %b %Y"),
                    alt.Tooltip("level:O", title="Level"),
                    alt.Tooltip("share:Q", title="Share of days", format=".0%"),
                ],
            )
            .properties(width=WIDTH, height=HEIGHT // 3)
        )
    return alt.vconcat(*panels).properties(
        title=_title(
            "Escalation beds and the OPEL-like level, by week",
            subtitle="Escalation beds open (mean over days and replications) and the share of "
            "replication-days at each level (thresholds are this model's assumptions)",
        )
    )


MAX_DAILY_POINTS = 2000
"""Above this many scenario-days the occupancy chart draws weekly means (Vega stays quick)."""


def _weekly_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Each scenario's and replication's mean value per week (weeks start on Monday)."""
    dates = pd.to_datetime(rows["date"])
    week = (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.date
    keys = [rows["scenario"], rows["replication"], week.rename("date")]
    means = rows["value"].astype(float).groupby(keys, sort=False, observed=True).mean()
    return means.reset_index()


def _change_points(lines: pd.DataFrame) -> pd.DataFrame:
    """A step line's rows: where each scenario's value changes, and its last day."""
    keep = []
    for _, group in lines.groupby("scenario", sort=False):
        values = group["value"].to_numpy()
        changed = np.r_[True, values[1:] != values[:-1]]
        changed[-1] = True
        keep.append(group[changed])
    return pd.concat(keep, ignore_index=True) if keep else lines


def weekly_pattern(daily: pd.DataFrame, series: str = "delayed") -> Chart:
    """A daily series by day of week and month (heatmap), one panel per scenario.

    Defaults to ``delayed``: medically fit P1-P3 patients still in acute beds,
    which build up over weekends when community services accept Monday to
    Friday. The daily tables hold daily means, so this is the finest weekly
    pattern they show (not hour of week).
    """
    rows = daily[daily["series"] == series]
    if rows.empty:
        return _empty(f"No daily series '{series}' in these results.")
    names = _order(rows["scenario"])
    mean = rows.groupby(["scenario", "date"], sort=False)["value"].mean().reset_index()
    dates = pd.to_datetime(mean["date"])
    mean["weekday"] = [WEEKDAYS[d] for d in dates.dt.day_of_week]
    mean["month"] = dates.dt.strftime("%Y-%m")
    cells = mean.groupby(["scenario", "month", "weekday"], sort=False)["value"].mean().reset_index()
    cells["scenario_label"] = cells["scenario"].map(readable)
    cells["month_label"] = pd.to_datetime(cells["month"] + "-01").dt.strftime("%b %Y")
    months = _order(cells.sort_values("month")["month_label"])
    label = {"delayed": "Delayed patients (P1-P3) in acute beds"}.get(series, readable(series))
    return (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X(
                "weekday:O", title="Day of week", sort=list(WEEKDAYS), axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y("month_label:O", title="Month", sort=months),
            color=alt.Color(
                "value:Q", title="Patients (mean)", scale=alt.Scale(scheme="orangered")
            ),
            tooltip=[
                alt.Tooltip("scenario_label:N", title="Scenario"),
                alt.Tooltip("month_label:O", title="Month"),
                alt.Tooltip("weekday:O", title="Day"),
                alt.Tooltip("value:Q", title="Patients (mean)", format=",.1f"),
            ],
        )
        .properties(width=min(HALF_WIDTH, WIDTH // max(1, len(names)) - 40), height=HEIGHT)
        .facet(column=_scenario_columns(names))
        .properties(
            title=_title(
                f"{label}, by day of week and month",
                subtitle="Daily means averaged over replications and over the days of each "
                "month that fall on that weekday",
            )
        )
    )


HOUR_OF_WEEK_LABELS = {
    "delayed": ("Delayed patients (P1-P3) in acute beds", "Patients"),
    "waiting_discharge_p1": ("Patients waiting in acute beds for P1 home care", "Patients"),
    "waiting_discharge_p2": ("Patients waiting in acute beds for P2 intermediate care", "Patients"),
    "waiting_discharge_p3": ("Patients waiting in acute beds for a P3 care home", "Patients"),
    "acute_occupied": ("Acute beds occupied", "Beds"),
    "boarding": ("Patients boarding in A&E after a decision to admit", "Patients"),
    "ed_in_department": ("Patients in A&E", "Patients"),
}
"""Hour-of-week series: (title, unit)."""


def _mean_ci(frame: pd.DataFrame, keys: list[str], column: str = "value") -> pd.DataFrame:
    """Per group of ``keys``: mean, ci_low, ci_high, n_reps over the rows (replications).

    The same 95% t interval as :func:`_band`, computed for all groups at once
    (hundreds of cells in a heatmap or histogram).
    """
    grouped = frame.groupby(keys, sort=False, observed=True)[column]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    n = out["count"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n >= 2, stats.t.ppf(0.975, np.maximum(n - 1, 1)), 0.0)
        half = np.nan_to_num(t * out["std"].to_numpy(dtype=float) / np.sqrt(n))
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out.rename(columns={"count": "n_reps"}).drop(columns="std")


def _paired(
    frame: pd.DataFrame, keys: list[str], names: Sequence[str], against: str
) -> pd.DataFrame:
    """Each scenario minus the comparator, replication by replication, on ``keys``."""
    wide = frame.pivot_table(
        index=[*keys, "replication"], columns="scenario", values="value", observed=True
    )
    parts = []
    for name in names:
        if name == against:
            continue
        diff = (wide[name] - wide[against]).rename("value").reset_index()
        diff["scenario"] = name
        parts.append(diff)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _hour_cells(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and CI per (keys, weekday, hour), with a readable hour and scenario."""
    cells = _mean_ci(frame, [*keys, "weekday", "hour"])
    cells["weekday"] = cells["weekday"].astype(str)
    cells["hour"] = cells["hour"].astype(int)
    cells["hours"] = [f"{h:02d}:00-{h + 1:02d}:00" for h in cells["hour"]]
    cells["scenario_label"] = cells["scenario"].map(readable)
    return cells


def _hour_grid(cells: pd.DataFrame, colour: alt.Color, unit: str, what: str) -> alt.Chart:
    """Weekday (rows, Monday at the top) by hour of day (columns) of one scenario."""
    fmt = ",.1f" if float(cells["mean"].abs().max()) >= 10 else ",.2f"
    return (
        alt.Chart(cells)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "hour:O",
                title="Hour of day (starting)",
                sort=list(range(24)),
                axis=alt.Axis(labelAngle=0, labelExpr="datum.value % 3 ? '' : datum.value"),
            ),
            y=alt.Y("weekday:O", title=None, sort=list(WEEKDAYS)),
            color=colour,
            tooltip=[
                alt.Tooltip("scenario_label:N", title="Scenario"),
                alt.Tooltip("weekday:O", title="Day"),
                alt.Tooltip("hours:N", title="Hour"),
                *_ci_tooltips(f"{what} ({unit.lower()}, mean)", fmt),
            ],
        )
        .properties(width=WIDTH - 120, height=7 * 22)
    )


def hour_of_week_heatmap(
    hour_of_week: pd.DataFrame, series: str = "delayed", against: str | None = None
) -> Chart:
    """A series by weekday and hour of day (heatmap), one panel per scenario.

    ``hour_of_week`` is a run's hour-of-week table (scenario, replication,
    series, weekday, hour, value): the time-average of the series in each hour
    of the week over the observed window. Colour is the mean over
    replications; tooltips give the 95% CI. With ``against`` (a comparison),
    each other scenario also gets a panel of its paired difference from the
    comparator on a diverging scale. Defaults to ``delayed``: medically fit
    P1-P3 patients in acute beds, who build up overnight and over weekends
    when community services accept in office hours.
    """
    rows = hour_of_week[hour_of_week["series"] == series]
    if rows.empty:
        return _empty(f"No hour-of-week series '{series}' in these results.")
    names = _order(rows["scenario"])
    title, unit = HOUR_OF_WEEK_LABELS.get(series, (catalogue.label(series), "Patients"))
    cells = _hour_cells(rows, ["scenario"])
    level = alt.Color(
        "mean:Q",
        title=f"{unit} (mean)",
        scale=alt.Scale(scheme="orangered", zero=False),  # the pattern, not the level
        legend=alt.Legend(orient="right"),
    )
    panels = [
        _hour_grid(cells[cells["scenario"] == n], level, unit, title).properties(
            title=alt.Title(readable(n), anchor="start", fontSize=12)
        )
        for n in names
    ]
    diff_panels = []
    if against is not None and against in names and len(names) > 1:
        diff = _hour_cells(_paired(rows, ["weekday", "hour"], names, against), ["scenario"])
        top = float(np.nanmax(np.abs(diff[["ci_low", "ci_high"]].to_numpy()))) or 1.0
        change = alt.Color(
            "mean:Q",
            title=f"Change ({unit.lower()})",
            scale=alt.Scale(scheme="blueorange", domain=[-top, top]),
            legend=alt.Legend(orient="right"),
        )
        for n in names:
            if n != against:
                mine = diff[diff["scenario"] == n]
                diff_panels.append(
                    _hour_grid(mine, change, unit, f"Change in {title.lower()}").properties(
                        title=alt.Title(
                            f"{readable(n)} minus {readable(against)} (paired by replication)",
                            anchor="start",
                            fontSize=12,
                        )
                    )
                )
    n_reps = int(cells["n_reps"].max())
    chart = alt.vconcat(*panels, spacing=18)  # one colour scale: scenarios read alike
    if diff_panels:
        changes = alt.vconcat(*diff_panels, spacing=18)
        chart = alt.vconcat(chart, changes, spacing=24).resolve_scale(color="independent")
    return chart.properties(
        title=_title(
            f"{title}, by hour of the week",
            subtitle=f"Time-average in each hour after warm-up, mean of {n_reps} replications "
            "(hover for the 95% CI)",
        )
    )


# --- activity ---------------------------------------------------------------------------------


ACTIVITY = {
    "attendances": ("A&E attendances", "Attendances"),
    "admissions_nhs": ("Emergency admissions (counting rule)", "Admissions"),
}


def annual_activity(
    summary: pd.DataFrame,
    baseline_years: Mapping[str, str | None] | None = None,
    trajectory: pd.DataFrame | None = None,
) -> Chart:
    """Attendances and emergency admissions per financial year and scenario, with 95% CIs.

    ``baseline_years`` maps a scenario to its ``[plan] baseline_year``: the
    scenario's level in that year is drawn as a dashed line across the years,
    so each later year reads as a change against it. ``trajectory`` (columns
    scenario, metric, period, value) is a plan's projected trajectory, drawn
    as a dashed line with points where given.
    """
    names = _order(summary["scenario"])
    years = _years(summary)
    rows = summary[summary["metric"].isin(list(ACTIVITY)) & summary["period"].isin(years)].copy()
    if rows.empty:
        return _empty("No yearly attendances or admissions in these results.")
    rows["scenario_label"] = rows["scenario"].map(readable)
    # counts and waits are never negative: a symmetric CI of few replications is cut at 0
    rows["ci_low"] = rows["ci_low"].clip(lower=0.0)
    colour = _scenario_colour(names)
    panels = []
    for metric, (title, unit) in ACTIVITY.items():
        mine = rows[rows["metric"] == metric]
        if mine.empty:
            continue
        x = alt.X("period:O", title="Financial year", sort=years, axis=alt.Axis(labelAngle=0))
        offset = alt.XOffset("scenario_label:N", sort=[readable(n) for n in names])
        tooltip = [
            alt.Tooltip("scenario_label:N", title="Scenario"),
            alt.Tooltip("period:O", title="Year"),
            *_ci_tooltips(title, ",.0f"),
        ]
        base = alt.Chart(mine)
        layers: list[alt.Chart] = [
            base.mark_bar(opacity=0.85).encode(
                x=x,
                xOffset=offset,
                y=alt.Y("mean:Q", title=f"{unit} a year"),
                color=colour,
                tooltip=tooltip,
            ),
            base.mark_rule(color="#222").encode(
                x=x, xOffset=offset, y="ci_low:Q", y2="ci_high:Q", tooltip=tooltip
            ),
        ]
        levels = []
        for name, year in (baseline_years or {}).items():
            hit = mine[(mine["scenario"] == name) & (mine["period"] == year)]
            if year is not None and len(hit) == 1:
                levels.append(
                    {
                        "scenario_label": readable(name),
                        "level": float(hit["mean"].iloc[0]),
                        "what": f"{readable(name)}: {year} level",
                    }
                )
        if levels:
            layers.append(
                alt.Chart(pd.DataFrame(levels))
                .mark_rule(strokeDash=[6, 4], strokeWidth=1.5)
                .encode(
                    y="level:Q",
                    color=colour,
                    tooltip=[
                        alt.Tooltip("what:N", title="Baseline year"),
                        alt.Tooltip("level:Q", title=title, format=",.0f"),
                    ],
                )
            )
        if trajectory is not None and not trajectory.empty:
            plan = trajectory[trajectory["metric"] == metric].copy()
            if not plan.empty:
                plan["scenario_label"] = plan["scenario"].map(readable)
                layers.append(
                    alt.Chart(plan)
                    .mark_line(strokeDash=[2, 2], point=True)
                    .encode(
                        x=x,
                        y="value:Q",
                        color=colour,
                        tooltip=[
                            alt.Tooltip("scenario_label:N", title="Plan"),
                            alt.Tooltip("period:O", title="Year"),
                            alt.Tooltip("value:Q", title="Projected", format=",.0f"),
                        ],
                    )
                )
        width = min(HALF_WIDTH, 100 + 50 * len(years) * len(names))  # no slab-wide bars
        panels.append(alt.layer(*layers).properties(width=width, height=HEIGHT, title=title))
    subtitle = "Mean and 95% CI per financial year (a part year covers its observed days)"
    if any(year for year in (baseline_years or {}).values()):
        subtitle += "; dashed: a plan's level in its baseline year"
    return alt.hconcat(*panels).properties(
        title=_title("Activity by financial year", subtitle=subtitle)
    )


def delayed_by_stage(summary: pd.DataFrame) -> Chart:
    """Delayed bed days by discharge stage (waiting for assessment, brokerage, a place),
    stacked, per financial year and scenario."""
    return _delayed_stacked(
        summary,
        DELAYED_BY_STAGE,
        ("stage", "Waiting for"),
        "No delayed bed days by discharge stage in these results.",
        "Delayed bed days by discharge stage",
        "Bed days of medically fit P1-P3 patients waiting for assessment, brokerage or a place "
        "(mean of replications)",
    )


def delayed_by_pathway(summary: pd.DataFrame) -> Chart:
    """Delayed bed days by discharge pathway, stacked, per financial year and scenario."""
    return _delayed_stacked(
        summary,
        DELAYED_BY_PATHWAY,
        ("pathway", "Pathway"),
        "No delayed bed days by pathway in these results.",
        "Delayed bed days by pathway",
        "Bed days of medically fit patients waiting for community care (mean of replications)",
    )


def _delayed_stacked(
    summary: pd.DataFrame,
    parts: Mapping[str, str],
    field: tuple[str, str],
    empty: str,
    title: str,
    subtitle: str,
) -> Chart:
    """Delayed bed days split into ``parts`` (metric -> label, stacked in that order), per
    financial year and scenario; ``field`` is the split's column and its tooltip title."""
    names = _order(summary["scenario"])
    years = _years(summary)
    rows = summary[summary["metric"].isin(list(parts)) & summary["period"].isin(years)].copy()
    if rows.empty:
        return _empty(empty)
    column, tooltip = field
    rows[column] = rows["metric"].map(parts)
    rows["scenario_label"] = rows["scenario"].map(readable)
    return (
        alt.Chart(rows)
        .mark_bar()
        .encode(
            x=alt.X("period:O", title="Financial year", sort=years, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("sum(mean):Q", title="Delayed bed days (mean)", stack="zero"),
            color=alt.Color(
                f"{column}:N",
                title="Waiting for",
                sort=list(parts.values()),
                scale=alt.Scale(scheme="set2"),
            ),
            order=alt.Order("metric:O"),
            tooltip=[
                alt.Tooltip("scenario_label:N", title="Scenario"),
                alt.Tooltip("period:O", title="Year"),
                alt.Tooltip(f"{column}:N", title=tooltip),
                *_ci_tooltips("Delayed bed days", ",.0f"),
            ],
        )
        .properties(width=max(120, min(HALF_WIDTH, 90 * len(years))), height=HEIGHT)
        .facet(column=_scenario_columns(names))
        .properties(title=_title(title, subtitle=subtitle))
    )


def community(summary: pd.DataFrame, period: str = "all") -> Chart:
    """Community services: mean occupancy and mean wait from fit to start, per scenario."""
    names = _order(summary["scenario"])
    rows = summary[summary["period"] == period].copy()
    parts = rows["metric"].str.extract(r"^community_(occupancy|wait_days)_(.+)$")
    rows["measure"], rows["service"] = parts[0], parts[1]
    rows = rows[rows["measure"].notna() & rows["service"].isin(list(SERVICE_NAMES))]
    if rows.empty:
        return _empty("No community service metrics in these results.")
    rows["service_label"] = rows["service"].map(SERVICE_NAMES)
    rows["scenario_label"] = rows["scenario"].map(readable)
    # counts and waits are never negative: a symmetric CI of few replications is cut at 0
    rows["ci_low"] = rows["ci_low"].clip(lower=0.0)
    colour = _scenario_colour(names)
    services = [SERVICE_NAMES[s] for s in SERVICE_NAMES if s in set(rows["service"])]
    panels = []
    for measure, title, axis_title, fmt in (
        ("occupancy", "Occupancy", "Places in use / places (mean)", ".1%"),
        ("wait_days", "Wait from medically fit to start", "Days (mean)", ",.2f"),
    ):
        mine = rows[rows["measure"] == measure]
        if measure == "wait_days":  # the urgent response service has no queue
            mine = mine[mine["service"] != "urgent_response"]
        if mine.empty:
            continue
        x = alt.X(
            "service_label:N",
            title=None,
            sort=services,
            axis=alt.Axis(labelAngle=0, labelExpr="split(datum.label, ' ')"),
        )
        offset = alt.XOffset("scenario_label:N", sort=[readable(n) for n in names])
        tooltip = [
            alt.Tooltip("scenario_label:N", title="Scenario"),
            alt.Tooltip("service_label:N", title="Service"),
            *_ci_tooltips(title, fmt),
        ]
        base = alt.Chart(mine)
        y_axis = alt.Axis(format=".0%") if measure == "occupancy" else alt.Axis()
        panels.append(
            alt.layer(
                base.mark_bar(opacity=0.85).encode(
                    x=x,
                    xOffset=offset,
                    y=alt.Y("mean:Q", title=axis_title, axis=y_axis),
                    color=colour,
                    tooltip=tooltip,
                ),
                base.mark_rule(color="#222").encode(
                    x=x, xOffset=offset, y="ci_low:Q", y2="ci_high:Q", tooltip=tooltip
                ),
            ).properties(width=HALF_WIDTH, height=HEIGHT, title=title)
        )
    shown = "whole run" if period == "all" else period
    return alt.hconcat(*panels).properties(
        title=_title("Community services", subtitle=f"Mean and 95% CI over replications ({shown})")
    )


def ed_performance(replications: pd.DataFrame, period: str = "all") -> Chart:
    """A&E: share seen within 4 hours and mean time in A&E, per replication and scenario.

    The metrics hold no distribution of time in A&E (only its mean and the
    4-hour share), so this shows those two by scenario: one dot per
    replication, the mean as a tick, and the 95% standard and 4-hour lines.
    """
    names = _order(replications["scenario"])
    rows = replications[
        replications["metric"].isin(["ed_4h_share", "ed_time_mean_hours"])
        & (replications["period"] == period)
    ].copy()
    if rows.empty:
        return _empty("No A&E metrics in these results.")
    rows["scenario_label"] = rows["scenario"].map(readable)
    labels = [readable(n) for n in names]
    colour = _scenario_colour(names)
    panels = []
    for metric, title, axis_title, fmt, line, line_label in (
        (
            "ed_4h_share",
            "Seen within 4 hours",
            "Share of attendances",
            ".1%",
            FOUR_HOUR_STANDARD,
            "95% standard",
        ),
        ("ed_time_mean_hours", "Mean time in A&E", "Hours", ".2f", 4.0, "4 hours"),
    ):
        mine = rows[rows["metric"] == metric]
        if mine.empty:
            continue
        y = alt.Y("scenario_label:N", title=None, sort=labels, axis=alt.Axis(labelLimit=160))
        lo = min(float(mine["value"].min()), line)
        hi = max(float(mine["value"].max()), line)
        pad = 0.1 * (hi - lo) or 0.05 * abs(hi) or 1.0
        scale = alt.Scale(domain=[lo - pad, hi + pad], nice=False)
        if metric == "ed_4h_share":
            scale = alt.Scale(domain=[max(0.0, lo - pad), min(1.0, hi + pad)], nice=False)
        axis = alt.Axis(format=".0%") if metric == "ed_4h_share" else alt.Axis()
        dots = (
            alt.Chart(mine)
            .mark_circle(size=40, opacity=0.6)
            .encode(
                x=alt.X("value:Q", title=axis_title, scale=scale, axis=axis),
                y=y,
                color=colour,
                tooltip=[
                    alt.Tooltip("scenario_label:N", title="Scenario"),
                    alt.Tooltip("replication:Q", title="Replication"),
                    alt.Tooltip("value:Q", title=title, format=fmt),
                ],
            )
        )
        means = (
            alt.Chart(mine)
            .mark_tick(thickness=3, size=22, color="#222")
            .encode(
                x="mean(value):Q",
                y=y,
                tooltip=[
                    alt.Tooltip("scenario_label:N", title="Scenario"),
                    alt.Tooltip("mean(value):Q", title=f"{title}, mean", format=fmt),
                ],
            )
        )
        rule_data = pd.DataFrame({"x": [line], "label": [line_label]})
        rule = (
            alt.Chart(rule_data)
            .mark_rule(color="#c0392b", strokeDash=[5, 3], strokeWidth=1.5)
            .encode(x="x:Q", tooltip=[alt.Tooltip("label:N", title="Line")])
        )
        text = (
            alt.Chart(rule_data)
            .mark_text(align="left", dx=4, dy=-4, color="#c0392b", baseline="bottom")
            .encode(x="x:Q", y=alt.value(0), text="label:N")
        )
        panels.append(
            alt.layer(dots, means, rule, text).properties(
                width=HALF_WIDTH, height=max(60, 40 * len(labels)), title=title
            )
        )
    shown = "whole run" if period == "all" else period
    return alt.hconcat(*panels).properties(
        title=_title(
            "Time in A&E",
            subtitle=f"One dot per replication, tick at the mean ({shown}); the metrics give "
            "the 4-hour share and the mean, not the distribution",
        )
    )


ED_TIME_LABELS = {"admitted": "Admitted", "not admitted": "Not admitted"}


def _ed_shares(ed_time: pd.DataFrame, max_hours: float, by_outcome: bool) -> pd.DataFrame:
    """Each replication's share of attendances in each bin (of those who left, per outcome
    if ``by_outcome``), bins past ``max_hours`` merged into one that starts there."""
    left = ed_time[ed_time["outcome"] != "still in A&E"].copy()
    left["group"] = left["outcome"].astype(str) if by_outcome else "all"
    keys = ["scenario", "group", "replication"]
    total = left.groupby(keys, observed=True)["attendances"].transform("sum")
    left["value"] = left["attendances"] / total.where(total > 0)
    left["hours_from"] = left["hours_from"].clip(upper=max_hours)
    shares = left.groupby([*keys, "hours_from"], observed=True)["value"].sum().reset_index()
    return shares


def _four_hour_share(ed_time: pd.DataFrame) -> pd.DataFrame:
    """Each replication's share seen within 4 hours, as the metric ``ed_4h_share`` counts it."""
    h = ed_time.assign(
        within=ed_time["attendances"].where(
            (ed_time["outcome"] != "still in A&E") & (ed_time["hours_to"] <= 4.0), 0
        ),
        unknown=ed_time["attendances"].where(
            (ed_time["outcome"] == "still in A&E") & (ed_time["hours_to"] <= 4.0), 0
        ),
    )
    sums = h.groupby(["scenario", "replication"], observed=True)[
        ["within", "unknown", "attendances"]
    ].sum()
    sums["value"] = sums["within"] / (sums["attendances"] - sums["unknown"])
    return sums.reset_index()


def _distribution_panel(
    band: pd.DataFrame,
    colour: alt.Color,
    max_hours: float,
    title: str,
    y_title: str = "Share of attendances per 15 minutes",
) -> Chart:
    """Mean share per bin as a step line with its 95% band, and the 4-hour line."""
    step = float(np.diff(np.sort(band["hours_from"].unique()))[:1].sum() or 0.25)
    x = alt.X(
        "hours_from:Q",
        title="Hours in A&E (arrival to departure)",
        scale=alt.Scale(domain=[0, max_hours + step], nice=False),
        axis=alt.Axis(values=list(range(0, int(max_hours) + 1, 2))),
    )
    tooltip = [
        alt.Tooltip("scenario_label:N", title="Scenario"),
        alt.Tooltip("bin:N", title="Time in A&E"),
        *_ci_tooltips("Share of attendances", ".2%"),
    ]
    base = alt.Chart(band)
    layers: list[alt.Chart] = [
        base.mark_area(opacity=0.25, interpolate="step-after").encode(
            x=x, y="ci_low:Q", y2="ci_high:Q", color=colour
        ),
        base.mark_line(interpolate="step-after", strokeWidth=1.5).encode(
            x=x,
            y=alt.Y(
                "mean:Q",
                title=y_title,
                axis=alt.Axis(format=".1%"),
                scale=alt.Scale(domainMin=0),
            ),
            color=colour,
        ),
        base.mark_point(opacity=0, size=60).encode(  # invisible: a tooltip for each bin
            x=alt.X("mid:Q"), y="mean:Q", color=colour, tooltip=tooltip
        ),
    ]
    four = pd.DataFrame({"x": [4.0], "label": ["4 hours"]})
    layers.append(
        alt.Chart(four)
        .mark_rule(color="#c0392b", strokeDash=[5, 3], strokeWidth=1.5)
        .encode(x="x:Q", tooltip=[alt.Tooltip("label:N", title="Line")])
    )
    return alt.layer(*layers).properties(title=alt.Title(title, anchor="start", fontSize=12))


def ed_time_distribution(
    ed_time: pd.DataFrame, period: str = "all", max_hours: float = 12.0
) -> Chart:
    """Distribution of time in A&E with the 4-hour line, per scenario; then by outcome.

    ``ed_time`` is a run's A&E time table (scenario, replication, period,
    outcome, hours_from, hours_to, attendances): each replication's count of
    attendances in 15-minute bins of time in A&E. Each bin shows the mean
    over replications of its share of the attendances that left A&E, with a
    95% band; times past ``max_hours`` are gathered in the last bin. The
    share within 4 hours (as ``ed_4h_share`` counts it, with its 95% CI) is
    written by the 4-hour line. Below, the same for admitted and not
    admitted attendances, each as a share of its own group.
    """
    rows = ed_time[ed_time["period"] == period]
    if rows.empty or rows["attendances"].sum() == 0:
        return _empty("No time-in-A&E histogram in these results.")
    names = _order(rows["scenario"])
    colour = _scenario_colour(names)

    def bands(by_outcome: bool) -> pd.DataFrame:
        shares = _ed_shares(rows, max_hours, by_outcome)
        band = _mean_ci(shares, ["scenario", "group", "hours_from"])
        band["ci_low"] = band["ci_low"].clip(lower=0.0)  # a share is never below zero
        band["scenario_label"] = band["scenario"].map(readable)
        band["mid"] = band["hours_from"] + 0.125
        band["bin"] = [
            f"over {a:g} h" if a >= max_hours else f"{a:g} to {a + 0.25:g} h"
            for a in band["hours_from"]
        ]
        last = band[band["hours_from"] == band["hours_from"].max()].copy()
        last["hours_from"] += 0.25  # closes the last step
        return pd.concat([band, last], ignore_index=True)

    overall = bands(False)
    panel = _distribution_panel(overall, colour, max_hours, "All attendances")
    within = _mean_ci(_four_hour_share(rows), ["scenario"])
    within["scenario_label"] = within["scenario"].map(readable)
    within["text"] = [
        f"{lab}: {m:.1%} within 4 h ({lo:.1%} to {hi:.1%})"
        for lab, m, lo, hi in zip(
            within["scenario_label"],
            within["mean"],
            within["ci_low"],
            within["ci_high"],
            strict=True,
        )
    ]
    within["x"] = 4.0
    within["y"] = 14.0 + 16.0 * np.arange(len(within))
    notes = (
        alt.Chart(within)
        .mark_text(align="left", dx=6, baseline="middle", fontSize=12)
        .encode(
            x="x:Q",
            y=alt.Y("y:Q", scale=None),
            text="text:N",
            color=colour,
            tooltip=[
                alt.Tooltip("scenario_label:N", title="Scenario"),
                *_ci_tooltips("Seen within 4 hours", ".1%"),
            ],
        )
    )
    top = alt.layer(panel, notes).properties(width=WIDTH, height=HEIGHT)
    split = bands(True)
    lower = [
        _distribution_panel(
            split[split["group"] == group],
            colour,
            max_hours,
            f"{label} attendances",
            f"Share of {label.lower()} per 15 minutes",
        ).properties(width=HALF_WIDTH + 10, height=HEIGHT - 80)
        for group, label in ED_TIME_LABELS.items()
        if (split["group"] == group).any()
    ]
    shown = "whole run" if period == "all" else period
    return alt.vconcat(top, alt.hconcat(*lower, spacing=30), spacing=24).properties(
        title=_title(
            "Time in A&E",
            subtitle=f"Share of attendances in each 15 minutes of time in A&E, mean and 95% band "
            f"over replications ({shown}); the last bin holds everyone over {max_hours:g} hours",
        )
    )


# --- money --------------------------------------------------------------------------------------


CHANGE, INVESTED, BASE = "Change in total cost", "Investment (included above)", "Base year"
"""The cumulative cost chart's lines: the running change, the running investment, and the
base year's own change, shown apart."""


def cumulative_cost(
    replications: pd.DataFrame,
    against: str,
    baseline_year: str | None = None,
    discount_rate: float = 0.0,
    price_base: str = "",
) -> Chart:
    """Cumulative change in total cost against the comparator, from the plan's first year.

    Paired by replication (:func:`sim.analysis.net_cost`): each scenario's
    ``cost_total`` minus the comparator's in the same replication, discounted
    at ``discount_rate`` from the plan's first year (the year after
    ``baseline_year``) and summed over the plan's years so far, then mean and
    95% CI. Below zero is a saving. The baseline year's own change is a point
    apart, never in the sum. The dashed line is the scenario's cumulative
    investment (``cost_investment``, part of its cost, undiscounted).
    """
    everyone = _order(replications["scenario"])
    names = [n for n in everyone if n != against]
    has_costs = replications["metric"].eq("cost_total") & replications["period"].ne("all")
    if not names or not has_costs.any():
        return _empty("No costs to compare in these results.")
    net = net_cost(replications, against, baseline_year, discount_rate)
    plan = net[net["plan_year"] >= 1]
    years = list(dict.fromkeys(plan.sort_values("plan_year")["period"]))
    if not years:
        return _empty("No plan years after the baseline year in these results.")
    base_label = f"{baseline_year} (base year)"
    frames = []
    for name in names:
        mine = plan[plan["scenario"] == name]
        band = _band(mine, ["period"], "cumulative_gbp")
        frames.append(band.assign(scenario=name, line=CHANGE))
        invest = mine.groupby("period", sort=False)["cumulative_investment_gbp"].mean()
        frames.append(
            pd.DataFrame(
                {
                    "period": years,
                    "mean": invest.reindex(years).to_numpy(),
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "scenario": name,
                    "line": INVESTED,
                }
            )
        )
        base = net[(net["scenario"] == name) & (net["plan_year"] == 0)]
        if len(base):
            frames.append(
                _band(base, ["period"], "net_gbp").assign(
                    period=base_label, scenario=name, line=BASE
                )
            )
    start = f"start of {years[0]}"  # every line starts from zero, so one year still draws one
    starts = [
        {"period": start, "mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "scenario": n, "line": line}
        for n in names
        for line in (CHANGE, INVESTED)
    ]
    data = pd.concat([pd.DataFrame(starts), *frames], ignore_index=True)
    data["scenario_label"] = data["scenario"].map(readable)
    for column in ("mean", "ci_low", "ci_high"):
        data[column] = data[column] / 1e6
    # the same colour per scenario as in the other charts; the comparator has no line
    colour = _scenario_colour(everyone)
    colour = colour.legend(values=[readable(n) for n in names], symbolOpacity=1)
    order = ([base_label] if (data["line"] == BASE).any() else []) + [start, *years]
    x = alt.X("period:O", title="Financial year (cumulative to its end)", sort=order)
    x = x.axis(labelAngle=0)
    tooltip = [
        alt.Tooltip("scenario_label:N", title="Scenario"),
        alt.Tooltip("line:N", title="Line"),
        alt.Tooltip("period:O", title="To the end of (or at)"),
        *_ci_tooltips("GBP million", ",.2f"),
    ]
    change = alt.Chart(data).transform_filter(alt.datum.line == CHANGE)
    invest = alt.Chart(data).transform_filter(alt.datum.line == INVESTED)
    apart = alt.Chart(data).transform_filter(alt.datum.line == BASE)
    y = alt.Y("mean:Q", title=f"GBP million against {readable(against)}")
    layers = [
        change.mark_area(opacity=0.2).encode(x=x, y="ci_low:Q", y2="ci_high:Q", color=colour),
        change.mark_rule(strokeWidth=2).encode(
            x=x, y="ci_low:Q", y2="ci_high:Q", color=colour, tooltip=tooltip
        ),
        change.mark_line(point=True).encode(x=x, y=y, color=colour, tooltip=tooltip),
        invest.mark_line(point=True, strokeDash=[6, 4]).encode(
            x=x, y="mean:Q", color=colour, tooltip=tooltip
        ),
        apart.mark_rule(strokeWidth=2).encode(
            x=x, y="ci_low:Q", y2="ci_high:Q", color=colour, tooltip=tooltip
        ),
        apart.mark_point(shape="diamond", filled=True, size=60).encode(
            x=x, y="mean:Q", color=colour, tooltip=tooltip
        ),
        alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#888").encode(y="zero:Q"),
    ]
    subtitle = "Paired change in total cost (mean and 95% CI; below zero is a saving)"
    if discount_rate:
        subtitle += f", discounted at {100 * discount_rate:g}% a year after {years[0]}"
    if baseline_year is not None:
        subtitle += f"; the base year {baseline_year} is shown apart and not summed"
    subtitle += "; dashed: cumulative investment"
    if price_base:
        subtitle += f"; {price_base}"
    return alt.layer(*layers).properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title(f"Cumulative cost against {readable(against)}", subtitle=subtitle),
    )


# --- sweeps -------------------------------------------------------------------------------------


def _numbers_if_all(values: pd.Series) -> pd.Series:
    """Parameter values as numbers when they all are (a sweep may vary a schedule string)."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().all() else values


def sweep_heatmap(
    summary: pd.DataFrame, x_path: str, y_path: str, metric: str, period: str = "all"
) -> Chart:
    """A swept metric over two varied parameters (mean over replications, and over any other
    varied parameters).

    ``summary`` is a sweep's summary (point, one column per varied path,
    metric, period, mean, ci_low, ci_high, n_reps).
    """
    rows = summary[(summary["metric"] == metric) & (summary["period"] == period)]
    if rows.empty:
        return _empty(f"No {metric} ({period}) in this sweep.")
    cells = rows.groupby([x_path, y_path])["mean"].mean().reset_index()
    cells = cells.rename(columns={x_path: "x", y_path: "y"})
    cells["x"] = _numbers_if_all(cells["x"])
    cells["y"] = _numbers_if_all(cells["y"])
    share = catalogue.unit(metric) == "share"
    fmt = ".1%" if share else ",.0f" if cells["mean"].abs().max() >= 10 else ",.2f"
    xs = sorted(cells["x"].unique())
    ys = sorted(cells["y"].unique(), reverse=True)
    base = alt.Chart(cells).encode(
        x=alt.X("x:O", title=readable(x_path), sort=xs, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("y:O", title=readable(y_path), sort=ys),
    )
    tooltip = [
        alt.Tooltip("x:O", title=readable(x_path)),
        alt.Tooltip("y:O", title=readable(y_path)),
        alt.Tooltip("mean:Q", title=catalogue.label(metric), format=fmt),
    ]
    heat = base.mark_rect().encode(
        color=alt.Color(
            "mean:Q",
            title=catalogue.label(metric),
            scale=alt.Scale(scheme="yelloworangered"),
            legend=alt.Legend(format=fmt),
        ),
        tooltip=tooltip,
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("mean:Q", format=fmt),
        color=alt.condition(
            alt.datum.mean > float(cells["mean"].median()), alt.value("white"), alt.value("black")
        ),
        tooltip=tooltip,
    )
    shown = "whole run" if period == "all" else period
    return alt.layer(heat, text).properties(
        width=max(240, min(WIDTH - 160, 80 * len(xs))),
        height=max(120, min(HEIGHT + 100, 44 * len(ys))),
        title=_title(catalogue.label(metric), subtitle=f"Mean over replications ({shown})"),
    )


def sensitivity(
    summary: pd.DataFrame, paths: Sequence[str], metrics: Sequence[str], period: str = "all"
) -> Chart:
    """One-at-a-time sensitivity (tornado): how far each metric moves across each parameter's
    range, as a percentage of the metric's mean over the sweep.

    For each varied parameter, the metric is averaged over the points at its
    lowest and at its highest value (over the other parameters' values: the
    main effect in a grid). Parameters sampled as ranges take their lowest
    and highest quarter of values instead.
    """
    rows = summary[(summary["period"] == period) & summary["metric"].isin(list(metrics))]
    if rows.empty:
        return _empty("No swept metrics to show.")
    bars = []
    for metric in metrics:
        mine = rows[rows["metric"] == metric]
        if mine.empty:
            continue
        overall = float(mine["mean"].mean())
        for path in paths:
            values = pd.to_numeric(mine[path], errors="coerce")
            levels = np.sort(values.dropna().unique())
            if len(levels) < 2:
                continue
            if len(levels) > 10:
                low_mask = values <= np.quantile(levels, 0.25)
                high_mask = values >= np.quantile(levels, 0.75)
            else:
                low_mask, high_mask = values == levels[0], values == levels[-1]
            for end, mask, value in (
                ("lowest", low_mask, levels[0]),
                ("highest", high_mask, levels[-1]),
            ):
                at = float(mine.loc[mask, "mean"].mean())
                change = (at - overall) / abs(overall) if overall else 0.0
                bars.append(
                    {
                        "metric": catalogue.label(metric),
                        "parameter": readable(path),
                        "end": f"at its {end} value",
                        "value": float(value),
                        "change": change,
                        "at": at,
                    }
                )
    if not bars:
        return _empty("Each parameter needs at least two values for a sensitivity chart.")
    data = pd.DataFrame(bars)
    metric_order = _order(data["metric"])
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "change:Q",
                title="Change in the metric against its mean over the sweep",
                axis=alt.Axis(format="+.0%"),
            ),
            y=alt.Y("parameter:N", title=None, axis=alt.Axis(labelLimit=200)),
            color=alt.Color(
                "end:N",
                title="Parameter",
                sort=["at its lowest value", "at its highest value"],
                scale=alt.Scale(range=["#6baed6", "#e6550d"]),
            ),
            tooltip=[
                alt.Tooltip("metric:N", title="Metric"),
                alt.Tooltip("parameter:N", title="Parameter"),
                alt.Tooltip("value:Q", title="Parameter value", format=",.4g"),
                alt.Tooltip("at:Q", title="Metric there (mean)", format=",.4g"),
                alt.Tooltip("change:Q", title="Change", format="+.1%"),
            ],
        )
        .properties(width=WIDTH - 200, height=max(40, 28 * len(paths)))
        .facet(
            row=alt.Row(
                "metric:N",
                title=None,
                sort=metric_order,
                header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold"),
            )
        )
        .properties(
            title=_title(
                "Sensitivity: one parameter at a time",
                subtitle="Each metric at a parameter's lowest and highest value (averaged over "
                "the other parameters), against its mean over the sweep",
            )
        )
    )


def tornado(sensitivity: pd.DataFrame, scenario: str, metrics: Sequence[str], period: str) -> Chart:
    """The inputs that matter most (two-level experiment): each input's partial rank
    correlation with each metric's draw mean, largest first, coloured by sign."""
    rows = sensitivity[
        (sensitivity["scenario"] == scenario)
        & (sensitivity["period"] == period)
        & sensitivity["metric"].isin(list(metrics))
    ].dropna(subset=["prcc"])
    if rows.empty:
        return _empty(
            "No input moves these metrics, or too few draws for partial rank correlations "
            "(they need more draws than inputs plus one)."
        )
    data = pd.DataFrame(
        {
            "metric": [catalogue.label(m) for m in rows["metric"]],
            "input": [str(k).removeprefix("group:") for k in rows["draw_key"]],
            "inputs": rows["inputs"].astype(str),
            "prcc": rows["prcc"].astype(float),
            "size": rows["prcc"].abs().astype(float),
            "direction": np.where(rows["prcc"] >= 0, "raises the metric", "lowers the metric"),
        }
    )
    order = data.groupby("input")["size"].max().sort_values(ascending=False).index.tolist()
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "prcc:Q",
                title="Partial rank correlation with the metric (over draws)",
                scale=alt.Scale(domain=[-1, 1]),
            ),
            y=alt.Y("input:N", title=None, sort=order, axis=alt.Axis(labelLimit=320)),
            color=alt.Color(
                "direction:N",
                title="A higher input",
                scale=alt.Scale(
                    domain=["raises the metric", "lowers the metric"], range=["#e6550d", "#6baed6"]
                ),
            ),
            tooltip=[
                alt.Tooltip("metric:N", title="Metric"),
                alt.Tooltip("inputs:N", title="Input(s)"),
                alt.Tooltip("prcc:Q", title="PRCC", format="+.2f"),
            ],
        )
        .properties(width=WIDTH - 360, height=max(40, 24 * len(order)))
        .facet(
            row=alt.Row(
                "metric:N",
                title=None,
                sort=_order(data["metric"]),
                header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold"),
            )
        )
        .properties(
            title=_title(
                f"What drives the answer: {readable(scenario)}",
                subtitle="Inputs ranked by their partial rank correlation coefficient (PRCC) "
                "with each metric, over the parameter draws",
            )
        )
    )


def target_probability(targets: pd.DataFrame) -> Chart:
    """The probability that each plan meets each projected target, with its Monte Carlo
    error (a Wilson 95% interval), against the baseline year and the comparator."""
    if targets.empty:
        return _empty("No plan with projected targets ([plan.projected]).")
    data = targets.assign(
        target_label=[
            f"{readable(str(r.scenario))}: {catalogue.label(str(r.metric))} {r.period} "
            f"{r.target:+.0%} vs {r.base}"
            for r in targets.itertuples()
        ],
        low=targets["p_meet_ci_low"],
        high=targets["p_meet_ci_high"],
    )
    base = alt.Chart(data).encode(
        y=alt.Y("target_label:N", title=None, sort=None, axis=alt.Axis(labelLimit=420))
    )
    bars = base.mark_bar(color="#005eb8").encode(
        x=alt.X(
            "p_meet:Q",
            title="Probability of meeting the target (share of draws)",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format=".0%"),
        ),
        tooltip=[
            alt.Tooltip("target_label:N", title="Target"),
            alt.Tooltip("p_meet:Q", title="Probability", format=".1%"),
            alt.Tooltip("p_meet_se:Q", title="Monte Carlo error (SE)", format=".1%"),
            alt.Tooltip("change_mean:Q", title="Change, mean over draws", format="+.1%"),
        ],
    )
    rules = base.mark_rule(color="#222").encode(x="low:Q", x2="high:Q")
    return (bars + rules).properties(
        width=WIDTH - 460,
        height=max(40, 28 * len(data)),
        title=_title(
            "How likely is each projected target?",
            subtitle="Share of parameter draws in which the plan meets it; lines: its Monte "
            "Carlo 95% interval (Wilson)",
        ),
    )


def backtest(table: pd.DataFrame) -> Chart:
    """Calibration back-test: each observed series against the model's mean and 5-95% band
    over the non-implausible draws of the last wave."""
    if table.empty:
        return _empty("No observations.")
    data = table.assign(series_label=[readable(str(s)) for s in table["series"]])
    base = alt.Chart().encode(x=alt.X("period:O", title=None, sort=None))
    band = base.mark_area(opacity=0.3, color="#6baed6").encode(
        y=alt.Y("model_p05:Q", title="Value", scale=alt.Scale(zero=False)), y2="model_p95:Q"
    )
    line = base.mark_line(color="#005eb8").encode(y="model_mean:Q")
    points = base.mark_point(color="#222", filled=True).encode(
        y="observed:Q",
        tooltip=[
            alt.Tooltip("series_label:N", title="Series"),
            alt.Tooltip("period:O", title="Period"),
            alt.Tooltip("observed:Q", title="Observed", format=",.4g"),
            alt.Tooltip("model_mean:Q", title="Model (mean)", format=",.4g"),
            alt.Tooltip("model_p05:Q", title="Model 5%", format=",.4g"),
            alt.Tooltip("model_p95:Q", title="Model 95%", format=",.4g"),
        ],
    )
    return (
        alt.layer(band, line, points, data=data)
        .properties(width=WIDTH - 200, height=160)
        .facet(row=alt.Row("series_label:N", title=None))
        .resolve_scale(y="independent")
        .properties(
            title=_title(
                "Back-test: model against observed",
                subtitle="Dots: observed; line and band: the model's mean and 5-95% over the "
                "calibrated (non-implausible) draws",
            )
        )
    )


WARM_UP_SERIES_NAMES = {
    "acute_occupied": "Acute beds occupied",
    "delayed": "Delayed discharges (P1-P3)",
    **{f"community_in_use_{k}": f"{v}: places in use" for k, v in SERVICE_NAMES.items()},
}
"""How the warm-up chart heads each daily series."""


MAX_WARM_UP_POINTS = 4000
"""Above this many series-days the warm-up chart draws means over several days."""


def warm_up(daily: pd.DataFrame, by_series: pd.DataFrame, days: int) -> Chart:
    """Each daily series from empty, its MSER-5 truncation and the recommended warm-up.

    ``daily`` has ``day`` (days from empty), ``series`` and ``value`` (the mean over
    replications, as :func:`sim.suggest_warm_up` returns it); ``by_series`` has
    ``series`` and ``truncate_days`` (the series' MSER-5 truncation point); ``days`` is the
    recommended warm-up. One panel a series, each on its own scale.
    """
    if daily.empty:
        return _empty("No daily series to show.")
    names = list(dict.fromkeys(by_series["series"]))
    frame = daily[daily["series"].isin(names)]
    step = max(1, math.ceil(len(frame) / MAX_WARM_UP_POINTS))
    if step > 1:  # long runs: means over ``step`` days, so the page stays light
        frame = (
            frame.assign(day=frame["day"] // step * step)
            .groupby(["series", "day"], sort=False, observed=True)["value"]
            .mean()
            .reset_index()
        )
    frame = frame.copy()
    frame["label"] = frame["series"].map(lambda s: WARM_UP_SERIES_NAMES.get(s, readable(s)))
    cuts = by_series[["series", "truncate_days"]].copy()
    cuts["label"] = cuts["series"].map(lambda s: WARM_UP_SERIES_NAMES.get(s, readable(s)))
    cuts["recommended"] = days
    order = [WARM_UP_SERIES_NAMES.get(s, readable(s)) for s in names]
    x = alt.X("day:Q", title="Days from an empty system")
    line = (
        alt.Chart()
        .mark_line(strokeWidth=1.2, color="#1f77b4")
        .encode(
            x=x,
            y=alt.Y("value:Q", title="Mean", scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("label:N", title="Series"),
                alt.Tooltip("day:Q", title="Day"),
                alt.Tooltip("value:Q", title="Mean", format=",.1f"),
            ],
        )
    )
    own = (
        alt.Chart()
        .transform_filter(alt.datum.truncate_days >= 0)
        .mark_rule(strokeDash=[4, 3], color="#888")
        .encode(
            x="truncate_days:Q",
            tooltip=[alt.Tooltip("truncate_days:Q", title="This series' MSER-5 truncation (days)")],
        )
    )
    recommended = (
        alt.Chart()
        .mark_rule(color="#d62728", strokeWidth=1.5)
        .encode(
            x="recommended:Q",
            tooltip=[alt.Tooltip("recommended:Q", title="Recommended warm-up (days)")],
        )
    )
    data = pd.concat([frame, cuts], ignore_index=True)
    return (
        alt.layer(line, own, recommended, data=data)
        .properties(width=WIDTH, height=120)
        .facet(
            row=alt.Row(
                "label:N",
                title=None,
                sort=order,
                header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start"),
            )
        )
        .resolve_scale(y="independent")
        .properties(
            title=_title(
                f"Warm-up from empty: recommended {days} days",
                subtitle="Each series' mean over replications"
                + (f" ({step}-day means)" if step > 1 else "")
                + ", held still (no growth or dated changes); dashed: its MSER-5 truncation; "
                "red: the recommendation",
            )
        )
    )
