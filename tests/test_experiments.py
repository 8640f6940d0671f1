"""Experiments: paired comparisons, replication counts, warm-up, capacity search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, single_unit, small_system
from validation.theory import erlang_c  # tests/validation/theory.py

import sim
from sim.analysis import relative_half_width, unpaired_interval
from sim.cli import main
from sim.errors import ScenarioError
from sim.experiments.compare import baseline_year
from sim.scenario.schema import Scenario

BASELINE = CONFIGS / "baseline.toml"


@pytest.fixture(scope="module")
def p2_pair() -> sim.Comparison:
    """Two scenarios differing in one capacity: P2 places."""
    base = Scenario.from_dict(small_system(**{"run.horizon_years": 0.2}))
    more = base.override({"community.p2.places": 8}, name="more_p2")
    same = base.override({}, name="same")
    return sim.compare([base, more, same], against="small", reps=6, seed=17)


def test_paired_ci_is_narrower_than_the_unpaired_ci(p2_pair):
    """Common random numbers: the shared noise cancels in the paired difference."""
    r = p2_pair.results.replications
    values = r[(r.metric == "delayed_bed_days") & (r.period == "all")]
    a = values[values.scenario == "small"]["value"].to_numpy()
    b = values[values.scenario == "more_p2"]["value"].to_numpy()
    row = p2_pair.row("delayed_bed_days", "more_p2")
    diff, low, high = unpaired_interval(a, b)
    assert row["diff"] == pytest.approx(diff)
    assert row["diff_ci_high"] - row["diff_ci_low"] < (high - low) / 2
    assert row["diff"] < 0  # more places, fewer delays
    assert row["diff_ci_high"] < 0  # and the paired interval is sure of it


def test_identical_scenarios_differ_by_exactly_zero(p2_pair):
    t = p2_pair.table
    same = t[t.scenario == "same"]
    assert (same["diff"].dropna() == 0.0).all()
    assert (same["diff_ci_low"].dropna() == 0.0).all()
    assert (same["diff_ci_high"].dropna() == 0.0).all()
    assert same["diff"].notna().sum() > 50


def test_comparison_means_are_the_summary_means(p2_pair):
    t = p2_pair.table.set_index(["scenario", "metric", "period"])
    s = p2_pair.results.summary.set_index(["scenario", "metric", "period"])
    pd.testing.assert_series_equal(
        t.loc[s.index, "mean"], s["mean"], check_names=False, check_exact=False, rtol=1e-12
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def plan_files(tmp_path: Path) -> tuple[Path, Path]:
    """'Do nothing' and a plan over two financial years; the plan reports against 2016/17."""
    common = "[run]\nwarm_up_days = 10\nhorizon_years = 0.12\nstart_date = 2017-03-01\nreps = 3\n"
    nothing = _write(
        tmp_path / "nothing.toml",
        f'extends = "{BASELINE}"\nname = "do_nothing"\n{common}',
    )
    plan = _write(
        tmp_path / "plan.toml",
        f'extends = "{BASELINE}"\nname = "plan"\n{common}'
        '[plan]\nbaseline_year = "2016/17"\n'
        '[community.urgent_response]\nplaces = 40\naccepts = "24/7"\n'
        "[cohorts.frail_older]\navoidable_share = [0.0, 0.3]\n",
    )
    return nothing, plan


def test_compare_cli_writes_tables_and_prints_both_changes(plan_files, tmp_path):
    nothing, plan = plan_files
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        main, ["compare", str(nothing), str(plan), "--against", "do_nothing", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "vs do_nothing" in result.output
    assert "vs 2016/17 of do_nothing" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".leftshift.lock",
        "comparison.csv",
        "comparison.parquet",
        "daily.parquet",
        "ed_time.parquet",
        "hour_of_week.parquet",
        "leftshift.json",
        "replications.parquet",
        "report.html",
        "scenario.json",
        "summary.csv",
    ]
    table = pd.read_parquet(out / "comparison.parquet")
    assert set(table.period) == {"all", "2016/17", "2017/18"}
    row = table[
        (table.metric == "attendances") & (table.scenario == "plan") & (table.period == "2017/18")
    ].iloc[0]
    # the plan avoids attendances from 2017/18 on: fewer than do nothing, paired
    assert row["diff_ci_high"] < 0
    assert row["rel_change"] == pytest.approx(
        row["diff"]
        / table.loc[
            (table.metric == "attendances")
            & (table.scenario == "do_nothing")
            & (table.period == "2017/18"),
            "mean",
        ].iloc[0]
    )
    assert row["baseline_year"] == "2016/17"
    assert not np.isnan(row["vs_baseline"])
    csv = pd.read_csv(out / "comparison.csv")
    assert len(csv) == len(table)
    meta = json.loads((out / "scenario.json").read_text())
    assert [s["name"] for s in meta["scenarios"]] == ["do_nothing", "plan"]


def test_compare_against_a_file_name(plan_files, tmp_path):
    nothing, plan = plan_files
    result = CliRunner().invoke(
        main,
        ["compare", str(plan), str(nothing), "--against", str(nothing), "--reps", "2", "-q"]
        + ["--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "comparison.csv")
    assert set(table.against) == {"do_nothing"}


def test_compare_cli_rejects_bad_input_and_writes_nothing(plan_files, tmp_path):
    nothing, plan = plan_files
    out = tmp_path / "never"
    result = CliRunner().invoke(
        main, ["compare", str(nothing), str(plan), "--against", "nobody", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "--against must name one of the scenarios (do_nothing, plan), got 'nobody'" in (
        result.stderr
    )
    result = CliRunner().invoke(main, ["compare", str(nothing), str(nothing), "--out", str(out)])
    assert result.exit_code == 2
    assert "scenario names must differ" in result.stderr
    bad = _write(tmp_path / "bad.toml", f'extends = "{BASELINE}"\n[acute]\nbeds = -5\n')
    result = CliRunner().invoke(main, ["compare", str(nothing), str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert f"error: {bad}: acute.beds must be >= 0, got -5" in result.stderr
    assert not out.exists()


def test_every_scenario_is_measured_from_the_comparators_baseline_year():
    """A plan whose lever (more SDEC chairs, open round the clock) acts in its base year is
    measured from do nothing's 2016/17, not its own: in 2016/17 the change is the plan's
    difference. (More chairs alone stopped acting in this month-long window when the
    baseline's A&E was calibrated for exit block: its referrals find SDEC closed, not full.)"""
    short = {
        "run.start_date": "2017-03-01",
        "run.warm_up_days": 10,
        "run.horizon_years": 0.12,
        "plan.baseline_year": "2016/17",
    }
    nothing = sim.load_scenario(BASELINE).override(short, name="do_nothing")
    plan = nothing.override({"sdec.chairs": 30, "sdec.open": "24/7"}, name="plan")
    comparison = sim.compare([nothing, plan], against="do_nothing", reps=3, seed=5)
    assert comparison.baseline_year == "2016/17"
    r = comparison.results.replications
    sdec = r[r.metric == "sdec_episodes"].pivot_table(
        index="replication", columns=["scenario", "period"], values="value"
    )
    base = sdec[("do_nothing", "2016/17")]
    for period in ("2016/17", "2017/18"):
        row = comparison.row("sdec_episodes", "plan", period)
        assert row["vs_baseline"] == pytest.approx((sdec[("plan", period)] - base).mean())
        assert row["rel_vs_baseline"] == pytest.approx(row["vs_baseline"] / base.mean())
    in_base_year = comparison.row("sdec_episodes", "plan", "2016/17")
    assert in_base_year["vs_baseline"] > 0  # the plan's own base year already has the lever
    assert in_base_year["vs_baseline"] == pytest.approx(in_base_year["diff"])


def test_compared_scenarios_must_share_one_baseline_year():
    nothing = sim.load_scenario(BASELINE).override(
        {"run.horizon_years": 2, "plan.baseline_year": "2016/17"}, name="do_nothing"
    )
    plan = nothing.override({"plan.baseline_year": "2017/18"}, name="plan")
    with pytest.raises(
        ScenarioError,
        match=r"plan.baseline_year must be the same year in every compared scenario .*"
        r"got do_nothing 2016/17, plan 2017/18",
    ):
        baseline_year([nothing, plan], "do_nothing")


def test_baseline_year_must_be_a_reported_year(tmp_path):
    path = _write(
        tmp_path / "x.toml", f'extends = "{BASELINE}"\n[plan]\nbaseline_year = "2019/20"\n'
    )
    with pytest.raises(ScenarioError, match=r"plan.baseline_year must be a financial year the run"):
        sim.load_scenario(path)


@pytest.mark.no_cover  # a long statistical run; quick tests cover its lines
def test_replication_count_meets_the_precision_when_checked():
    """The helper's count, run again from scratch, gives CIs as narrow as asked."""
    scenario = sim.load_scenario(BASELINE).override(
        {"run.horizon_years": 0.05, "run.warm_up_days": 10}
    )
    metrics = ["attendances", "acute_occupancy_mean"]
    found = sim.replications_needed(scenario, metrics, rel_precision=0.03, initial=3, max_reps=40)
    assert found.met
    assert found.reps > 3  # three were not enough: the procedure had to add some
    assert found.history[0][1] > 0.03
    check = sim.run(scenario, reps=found.reps)
    s = check.summary
    rows = s[s.metric.isin(metrics) & (s.period == "all")]
    assert (relative_half_width(rows) <= 0.03).all()
    assert len(found.results.replications.replication.unique()) == found.reps


def test_replication_count_reports_an_unknown_metric():
    scenario = Scenario.from_dict(single_unit(years=0.1, warm_up_days=0))
    with pytest.raises(ScenarioError, match="'bed_dayz' is not a metric"):
        sim.replications_needed(scenario, ["bed_dayz"], initial=2)


def test_warm_up_of_an_infinite_server_queue_from_empty():
    """M/M/inf from empty: mean occupancy is 80 (1 - exp(-t / 10 days)).

    At 20 days the mean is still 11 beds short of its equilibrium of 80, a
    bias several times the noise of 5 replications, so MSER-5 must cut at
    least that; it searches only the first half of the 365-day run. (More in
    tests/test_warmup.py.)
    """
    scenario = Scenario.from_dict(
        single_unit(
            beds="unlimited", per_day=8, los={"dist": "exponential", "mean": 10}, warm_up_days=0
        )
    )
    found = sim.suggest_warm_up(scenario, series="acute_occupied", reps=5)
    assert found.reliable
    assert 20 <= found.mser.truncate <= 180
    assert found.mser.truncate % 5 == 0
    assert len(found.daily) == 365
    settled = found.daily["value"].iloc[found.mser.truncate :].mean()
    assert settled == pytest.approx(80, rel=0.05)


def test_capacity_search_finds_the_erlang_c_answer():
    """Beds for an M/M/c queue (8 Erlangs) so that at most 18% of admissions wait.

    Erlang C gives P(wait) 0.245 with 11 beds and 0.140 with 12, so the
    smallest bed count whose upper 95% bound is at most 0.18 is 12.
    """
    assert erlang_c(11, 8.0) > 0.18 > erlang_c(12, 8.0) + 0.03
    scenario = Scenario.from_dict(single_unit(beds=20, per_day=8))
    found = sim.capacity_search(
        scenario, "acute.beds", "admission_wait_share", 0.18, low=5, high=30, reps=5, seed=3
    )
    assert found.value == 12
    ev = found.evaluations.set_index("value")
    assert ev.loc[12, "meets"]
    assert not ev.loc[11, "meets"]
    assert len(found.evaluations) <= 2 + 5  # bisection over 25 values
    assert "acute.beds = 12 is the smallest value" in found.describe()


def test_capacity_search_says_when_nothing_in_the_range_meets_the_target():
    scenario = Scenario.from_dict(single_unit(beds=20, per_day=8, years=0.2))
    found = sim.capacity_search(
        scenario, "acute.beds", "admission_wait_share", 0.18, low=2, high=9, reps=3, seed=3
    )
    assert found.value is None
    assert len(found.evaluations) == 1
    assert "no value of acute.beds up to 9" in found.describe()


def test_search_cli(tmp_path):
    path = tmp_path / "unit.toml"
    path.write_text(
        f'extends = "{BASELINE}"\n[run]\nwarm_up_days = 5\nhorizon_years = 0.05\nreps = 3\n'
    )
    result = CliRunner().invoke(
        main,
        [
            "search",
            str(path),
            "--vary",
            "community.p1.places",
            "--low",
            "40",
            "--high",
            "400",
            "--metric",
            "delayed_bed_days_p1",
            "--at-most",
            "1e9",
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "community.p1.places = 40 is the smallest value" in result.output
    assert (tmp_path / "s" / "search.csv").exists()
    bad = CliRunner().invoke(
        main,
        ["search", str(path), "--vary", "community.p1.placez", "--low", "1", "--high", "2"]
        + ["--metric", "delayed_bed_days", "--at-most", "5"],
    )
    assert bad.exit_code == 2
    assert "community.p1.placez is not a known key (did you mean 'places'?)" in bad.stderr
