"""Charts (pure builders) and the HTML report (files, CLI, size).

One small comparison across two financial years (2 replications) feeds every
chart; sweep charts get a hand-made sweep summary. The browser test
(``test_report_browser.py``) checks that the page really draws.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, small_system
from scipy import stats

from sim.cli import main
from sim.experiments.compare import Comparison, compare
from sim.present import charts
from sim.present.report import (
    REPORT,
    REPORT_SERIES,
    figures,
    load_saved,
    static_files,
    write_report,
)
from sim.runs.results import Results
from sim.runs.runner import run
from sim.scenario.schema import Scenario, load_scenario


def _data(chart: charts.Chart) -> list[dict]:
    """Every inline data row of a chart's spec (Altair moves them to ``datasets``)."""
    spec = chart.to_dict()
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


@pytest.fixture(scope="session")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, Path]:
    base = Scenario.from_dict(
        small_system(
            **{
                "run.start_date": "2017-01-02",
                "run.horizon_years": 0.5,
                "plan.baseline_year": "2016/17",
                "costs.investment": [{"financial_year": "2017/18", "amount_gbp": 50_000}],
            }
        )
    )
    more_p1 = base.override({"name": "more_p1", "community.p1.places": 16})
    result = compare([base, more_p1], reps=2, seed=5)
    folder = result.save(tmp_path_factory.mktemp("compare") / "out")
    return result, folder


def test_a_saved_comparison_keeps_every_daily_series_and_the_report_reads_its_own(
    comparison,
) -> None:
    result, folder = comparison
    saved = pd.read_parquet(folder / "daily.parquet")
    # the daily scenario column is categorical (a byte a row) and round-trips as such
    assert list(saved["scenario"].cat.categories) == ["small", "more_p1"]
    assert saved["scenario"].value_counts().to_dict() == (
        result.results.daily["scenario"].value_counts().to_dict()
    )
    assert len(set(saved["series"])) > len(REPORT_SERIES)
    read = load_saved(folder).daily
    assert read is not None
    assert set(read["series"]) == set(REPORT_SERIES) & set(saved["series"])  # as configured
    expected = saved[saved["series"].isin(REPORT_SERIES)]
    assert len(read) == len(expected)
    assert read["value"].sum() == pytest.approx(expected["value"].sum())


def test_the_example_variant_is_valid() -> None:
    """configs/examples/ is not in the engine-parity tests; it must still load."""
    variant = load_scenario(CONFIGS / "examples" / "p1_plus_20.toml")
    assert variant.community.p1 is not None
    assert variant.community.p1.places == 128


# --- charts -------------------------------------------------------------------------------------


def test_readable_names() -> None:
    assert charts.readable("p1_plus_20") == "p1 plus 20"
    assert charts.readable("community.p1.places") == "community.p1.places"


def test_daily_occupancy_has_band_capacity_and_the_92_line(comparison) -> None:
    result, _ = comparison
    daily = result.results.daily
    chart = charts.daily_occupancy(daily)
    rows = _data(chart)
    occupied = daily[daily.series == "acute_occupied"]
    days = occupied.date.nunique()
    bands = [r for r in rows if "ci_low" in r]
    assert len(bands) == 2 * days  # two scenarios
    first = occupied[(occupied.scenario == "small") & (occupied.date == occupied.date.min())]
    band = next(
        r
        for r in bands
        if r["scenario"] == "small" and r["date"].startswith(str(first.date.iloc[0])[:10])
    )
    assert band["mean"] == pytest.approx(first.value.mean())
    assert band["ci_low"] <= band["mean"] <= band["ci_high"]
    lines = {(r["line"], round(r["beds"], 6)) for r in rows if "line" in r}
    assert lines == {("Open beds", 60.0), ("92% of open beds", round(0.92 * 60, 6))}
    assert {r["scenario_label"] for r in bands} == {"small", "more p1"}


def test_unlimited_beds_draw_no_capacity_line() -> None:
    daily = pd.DataFrame(
        {
            "scenario": "s",
            "replication": [0, 1, 0, 1],
            "date": pd.to_datetime(["2016-04-01"] * 2 + ["2016-04-01"] * 2),
            "series": ["acute_occupied"] * 2 + ["acute_capacity"] * 2,
            "value": [10.0, 12.0, np.inf, np.inf],
        }
    )
    rows = _data(charts.daily_occupancy(daily))
    assert not any("line" in r for r in rows)
    assert json.dumps(charts.daily_occupancy(daily).to_dict(), allow_nan=False)


def test_weekly_pattern_is_weekday_by_month(comparison) -> None:
    result, _ = comparison
    rows = _data(charts.weekly_pattern(result.results.daily))
    assert {r["weekday"] for r in rows} == set(charts.WEEKDAYS)
    assert {r["month_label"] for r in rows} >= {"Jan 2017", "Jun 2017"}


def _cells(chart: charts.Chart, scenario: str, diff: bool = False) -> pd.DataFrame:
    """A heatmap's cells of one scenario (levels, or its change against the comparator)."""
    rows = pd.DataFrame([r for r in _data(chart) if "hours" in r])
    rows = rows[rows.scenario == scenario]
    level = rows.groupby(["weekday", "hour"]).head(1)  # levels come first, then changes
    change = rows.drop(level.index)
    return (change if diff else level).set_index(["weekday", "hour"]).sort_index()


def test_hour_of_week_heatmap_shows_the_mean_and_ci_of_every_hour(comparison) -> None:
    result, _ = comparison
    how = result.results.hour_of_week
    chart = charts.hour_of_week_heatmap(how, "delayed")
    small = _cells(chart, "small")
    assert len(small) == 168
    assert set(small.index.get_level_values("weekday")) == set(charts.WEEKDAYS)
    rows = how[(how.series == "delayed") & (how.scenario == "small")]
    values = rows[(rows.weekday == "Sat") & (rows.hour == 14)]["value"].to_numpy()
    assert len(values) == 2  # replications
    half = stats.t.ppf(0.975, 1) * values.std(ddof=1) / np.sqrt(2)
    cell = small.loc[("Sat", 14)]
    assert cell["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert cell["ci_high"] - cell["mean"] == pytest.approx(half, rel=1e-9)
    spec = json.dumps(chart.to_dict())
    assert "by hour of the week" in spec
    assert "95% CI from" in spec


def test_hour_of_week_heatmap_of_a_comparison_has_a_paired_change_panel(comparison) -> None:
    result, _ = comparison
    how = result.results.hour_of_week
    chart = charts.hour_of_week_heatmap(how, "delayed", against="small")
    change = _cells(chart, "more_p1", diff=True)
    assert len(change) == 168
    rows = how[(how.series == "delayed") & (how.weekday == "Mon") & (how.hour == 8)]
    wide = rows.pivot_table(index="replication", columns="scenario", values="value")
    assert change.loc[("Mon", 8), "mean"] == pytest.approx(
        (wide["more_p1"] - wide["small"]).mean(), rel=1e-12
    )
    assert "more p1 minus small" in json.dumps(chart.to_dict())


def test_ed_time_distribution_draws_shares_and_the_4h_metric(comparison) -> None:
    result, _ = comparison
    chart = charts.ed_time_distribution(result.results.ed_time)
    rows = _data(chart)
    notes = {r["scenario"]: r for r in rows if "text" in r}
    reps = result.results.replications
    four = reps[(reps.metric == "ed_4h_share") & (reps.period == "all")]
    for name, mean in four.groupby("scenario")["value"].mean().items():
        assert notes[name]["mean"] == pytest.approx(mean, rel=1e-12)
        assert f"{mean:.1%} within 4 h" in notes[name]["text"]
    steps = pd.DataFrame([r for r in rows if "bin" in r and r["group"] == "all"])
    steps = steps.drop_duplicates(["scenario", "bin"])  # the closing step repeats the last bin
    assert steps.groupby("scenario")["mean"].sum().to_numpy() == pytest.approx(1.0, rel=1e-9)
    assert {r["group"] for r in rows if "bin" in r} == {"all", "admitted", "not admitted"}
    assert '"4 hours"' in json.dumps(chart.to_dict())


def test_year_charts_use_financial_years_and_the_baseline_year(comparison) -> None:
    result, _ = comparison
    summary = result.results.summary
    activity = charts.annual_activity(summary, {"small": "2016/17", "more_p1": "2016/17"})
    rows = _data(activity)
    assert {r["period"] for r in rows if "period" in r} == {"2016/17", "2017/18"}
    levels = [r for r in rows if "level" in r]
    assert len(levels) == 4  # two metrics x two scenarios with a baseline year
    assert "baseline year" in json.dumps(activity.to_dict())
    pathway = _data(charts.delayed_by_pathway(summary))
    assert {r["pathway"] for r in pathway} == set(charts.DELAYED_BY_PATHWAY.values())
    expected = summary.query("metric == 'delayed_bed_days_p2' and period == '2017/18'")
    got = {
        r["scenario"]: r["mean"]
        for r in pathway
        if r["metric"] == "delayed_bed_days_p2" and r["period"] == "2017/18"
    }
    assert got == pytest.approx(dict(zip(expected.scenario, expected["mean"], strict=True)))


def test_community_and_ed_charts(comparison) -> None:
    result, _ = comparison
    rows = _data(charts.community(result.results.summary))
    waits = {r["service"] for r in rows if r["measure"] == "wait_days"}
    assert waits == {"p1", "p2", "p3"}  # urgent response has no queue
    ed = charts.ed_performance(result.results.replications)
    assert len([r for r in _data(ed) if r.get("metric") == "ed_4h_share"]) == 4  # 2 x 2 reps
    assert '"95% standard"' in json.dumps(ed.to_dict())


def test_cumulative_cost_is_paired_and_starts_in_the_plans_first_year(comparison) -> None:
    result, _ = comparison
    reps = result.results.replications
    rows = _data(charts.cumulative_cost(reps, "small", "2016/17"))
    change = {r["period"]: r for r in rows if r.get("line") == "Change in total cost"}
    total = reps[reps.metric == "cost_total"].pivot_table(
        index=["period", "replication"], columns="scenario", values="value"
    )
    diff = total["more_p1"] - total["small"]
    base, first = diff.loc["2016/17"], diff.loc["2017/18"]
    # the plan's first year is 2017/18: the sum starts there, the base year is apart
    assert set(change) == {"start of 2017/18", "2017/18"}
    assert change["2017/18"]["mean"] == pytest.approx(first.mean() / 1e6)
    apart = [r for r in rows if r.get("line") == "Base year"]
    assert [r["period"] for r in apart] == ["2016/17 (base year)"]
    assert apart[0]["mean"] == pytest.approx(base.mean() / 1e6)
    invest = {r["period"]: r["mean"] for r in rows if r.get("line", "").startswith("Investment")}
    assert invest == pytest.approx({"start of 2017/18": 0.0, "2017/18": 0.05})
    assert change["start of 2017/18"]["mean"] == 0.0  # every line starts from zero


def test_cumulative_cost_without_a_baseline_year_sums_every_year(comparison) -> None:
    result, _ = comparison
    reps = result.results.replications
    rows = _data(charts.cumulative_cost(reps, "small", discount_rate=0.5))
    change = {r["period"]: r for r in rows if r.get("line") == "Change in total cost"}
    total = reps[reps.metric == "cost_total"].pivot_table(
        index=["period", "replication"], columns="scenario", values="value"
    )
    diff = total["more_p1"] - total["small"]
    # 2016/17 is year 1 (undiscounted), 2017/18 year 2 (divided by 1.5)
    expected = (diff.loc["2016/17"] + diff.loc["2017/18"] / 1.5).mean() / 1e6
    assert change["2017/18"]["mean"] == pytest.approx(expected)


def _sweep_summary() -> pd.DataFrame:
    rows = []
    point = 0
    for p1 in (96, 108, 120):
        for p2 in (85, 97):
            for metric, value in (
                ("delayed_bed_days", 9000 - 30 * p1 - 10 * p2),
                ("acute_occupancy_mean", 0.9),
            ):
                rows.append(
                    {
                        "point": point,
                        "community.p1.places": p1,
                        "community.p2.places": p2,
                        "metric": metric,
                        "period": "all",
                        "mean": float(value),
                        "ci_low": value - 1.0,
                        "ci_high": value + 1.0,
                        "n_reps": 3,
                    }
                )
            point += 1
    return pd.DataFrame(rows)


def test_sweep_heatmap_and_tornado() -> None:
    summary = _sweep_summary()
    heat = charts.sweep_heatmap(
        summary, "community.p1.places", "community.p2.places", "delayed_bed_days"
    )
    cells = [r for r in _data(heat)]
    assert len(cells) == 6
    assert {(r["x"], r["y"]) for r in cells} == {(a, b) for a in (96, 108, 120) for b in (85, 97)}
    tornado = _data(
        charts.sensitivity(
            summary, ["community.p1.places", "community.p2.places"], ["delayed_bed_days"]
        )
    )
    by = {(r["parameter"], r["end"]): r for r in tornado}
    mean = summary.query("metric == 'delayed_bed_days'")["mean"].mean()
    low_p1 = summary.query("metric == 'delayed_bed_days' and `community.p1.places` == 96")[
        "mean"
    ].mean()
    assert by[("community.p1.places", "at its lowest value")]["change"] == pytest.approx(
        (low_p1 - mean) / mean
    )
    # p1 moves the metric three times as far as p2 across their ranges (30 x 24 vs 10 x 12)
    spread = {
        p: by[(p, "at its highest value")]["change"] - by[(p, "at its lowest value")]["change"]
        for p in ("community.p1.places", "community.p2.places")
    }
    assert spread["community.p1.places"] == pytest.approx(6 * spread["community.p2.places"])


def test_an_empty_table_gives_a_chart_that_says_so() -> None:
    empty = pd.DataFrame(
        columns=["scenario", "metric", "period", "mean", "ci_low", "ci_high", "n_reps"]
    )
    chart = charts.delayed_by_pathway(empty)
    assert isinstance(chart, alt.Chart)
    assert "No delayed bed days" in json.dumps(chart.to_dict())


# --- the report ---------------------------------------------------------------------------------


def test_report_is_one_page_with_libraries_once_tables_and_provenance(comparison) -> None:
    _, folder = comparison
    page = write_report(folder)
    text = page.read_text(encoding="utf-8")
    figs = figures(load_saved(folder))
    assert [f.slug for f in figs] == [
        "acute-occupancy",
        "hour-of-week-delayed",
        "hour-of-week-acute-occupied",
        "activity",
        "delayed-pathway",
        "community",
        "ed",
        "cost",
    ]
    assert text.count("window.vegaEmbed=") == 1
    assert len(re.findall(r'<script type="application/json" id="spec-\d+">', text)) == len(figs)
    for shown in ("small (comparator)", "more p1 vs small", "small vs 2016/17", "seed</th><td>5<"):
        assert shown in text
    assert "Resolved parameters: more_p1" in text


def test_results_saved_before_the_profiles_get_the_daily_stand_ins(comparison, tmp_path) -> None:
    _, folder = comparison
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    (old / "hour_of_week.parquet").unlink()
    (old / "ed_time.parquet").unlink()
    slugs = [f.slug for f in figures(load_saved(old))]
    assert "weekly-pattern" in slugs
    assert "ed" in slugs
    assert not [s for s in slugs if s.startswith("hour-of-week")]


def test_png_and_svg_on_request(comparison, tmp_path: Path) -> None:
    _, folder = comparison
    cost = [f for f in figures(load_saved(folder)) if f.slug == "cost"]
    written = static_files(cost)
    assert list(written) == ["charts/01-cost.png", "charts/01-cost.svg"]
    assert written["charts/01-cost.png"][:4] == b"\x89PNG"
    assert b"<svg" in written["charts/01-cost.svg"]


def test_cli_run_writes_the_report_and_report_rebuilds_it(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(
        f'extends = "{(CONFIGS / "baseline.toml").as_posix()}"\nname = "tiny"\n'
        "[run]\nhorizon_years = 0.02\nwarm_up_days = 5\n"
    )
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(scenario), "--reps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"Report: {out / REPORT}"
    first = (out / REPORT).read_text()
    (out / REPORT).unlink()
    again = runner.invoke(main, ["report", str(out)])
    assert again.exit_code == 0, again.output
    assert (out / REPORT).read_text() == first  # a pure function of the saved files
    bad = runner.invoke(main, ["report", str(tmp_path)])
    assert bad.exit_code == 2
    assert "not a results folder" in bad.output


def test_baseline_report_stays_under_5_mb(tmp_path: Path) -> None:
    """A full baseline year (365 days x 10 replications of every daily series), stood in for
    by a short baseline run whose daily table is stretched to a year: the page's size grows
    with days and scenarios, which are real here."""
    baseline = load_scenario(CONFIGS / "baseline.toml")
    short = baseline.override({"run.horizon_years": 0.02, "run.warm_up_days": 5})
    results = run(short, reps=2, seed=1, engine="fast")
    series = results.daily["series"].unique()
    dates = pd.date_range(baseline.run.start_date, periods=365, freq="D")
    grid = pd.MultiIndex.from_product(
        [range(10), dates, series], names=["replication", "date", "series"]
    )
    rng = np.random.default_rng(0)
    daily = grid.to_frame(index=False)
    daily.insert(0, "scenario", "baseline")
    daily["value"] = rng.uniform(400, 700, len(daily))
    year = Results(
        results.summary,
        results.replications,
        daily,
        results.meta,
        (baseline,),
        hour_of_week=results.hour_of_week,  # charts of them hold 168 cells or bins, any length
        ed_time=results.ed_time,
    )
    folder = year.save(tmp_path / "baseline")
    assert "hour-of-week-delayed" in [f.slug for f in figures(load_saved(folder))]
    size = write_report(folder).stat().st_size
    assert size < 5_000_000, f"{size / 1e6:.1f} MB"


def test_a_long_run_draws_weekly_occupancy_within_the_chart_row_limit() -> None:
    """Five years of five scenarios is 9,000 scenario-days: weekly means, whole weeks averaged."""
    dates = pd.date_range("2016-04-04", periods=5 * 364, freq="D")  # Mondays to Sundays
    rows = []
    for scenario in ("a", "b", "c", "d", "e"):
        for rep in range(3):
            occupied = np.arange(len(dates)) % 7 + rep  # 0..6 within each week, plus rep
            rows.append(
                pd.DataFrame({"scenario": scenario, "replication": rep, "date": dates.date}).assign(
                    series="acute_occupied", value=occupied.astype("float32")
                )
            )
            beds = np.where(dates < pd.Timestamp("2018-04-01"), 410.0, 433.0)
            rows.append(
                pd.DataFrame({"scenario": scenario, "replication": rep, "date": dates.date}).assign(
                    series="acute_capacity", value=beds.astype("float32")
                )
            )
    chart = charts.daily_occupancy(pd.concat(rows, ignore_index=True))
    spec = chart.to_dict()  # raises MaxRowsError past 5,000 rows a dataset
    datasets = spec["datasets"].values()
    band = max(datasets, key=len)
    assert len(band) == 5 * 5 * 52
    # each week runs 0..6 (mean 3) plus the replication (mean 1): a weekly mean of 4
    assert {round(r["mean"], 9) for r in band} == {4.0}
    assert "by week" in spec["title"]["text"]
