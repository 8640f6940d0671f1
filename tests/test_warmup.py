"""Warm-up: the diagnostic (held still, several series, MSER-5) and the drift check after runs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, single_unit

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.experiments.warmup import MARGIN, ROUND_DAYS, held_still
from sim.runs.drift import TOLERANCE, DriftWarning, find_drift
from sim.scenario.schema import Scenario

# --- holding a scenario still ------------------------------------------------------------------


def test_held_still_switches_off_growth_and_dated_capacity_changes():
    plan = sim.load_scenario(CONFIGS / "do_nothing.toml")
    still, said = held_still(plan)
    assert all(c.growth_per_year == 0 for c in still.cohorts.values())
    assert still.acute.capacity_changes == ()
    for name in ("p1", "p2", "p3"):
        service = still.service(name)
        assert service is not None
        assert service.capacity_changes == ()
    assert said == (
        "demand growth set to 0 (frail_older, other_adults, children)",
        "dated capacity changes dropped (acute, p1, p2, p3)",
    )


def test_held_still_holds_a_ramped_avoidable_share_at_its_first_year():
    plan = sim.load_scenario(CONFIGS / "business_case.toml")
    ramped = [n for n, c in plan.cohorts.items() if isinstance(c.avoidable_share, tuple)]
    assert ramped  # the business case ramps its avoidance
    still, said = held_still(plan)
    for name in ramped:
        first = plan.cohorts[name].avoidable_share
        assert isinstance(first, tuple)
        assert still.cohorts[name].avoidable_share == first[0]
    assert any("avoidable shares held" in line for line in said)


def test_a_still_scenario_is_left_as_it_is():
    scenario = Scenario.from_dict(single_unit())
    assert held_still(scenario) == (scenario, ())


# --- the diagnostic ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def infinite_server() -> sim.experiments.warmup.WarmUp:
    """M/M/inf from empty: mean occupancy 80 (1 - exp(-t / 10 days)), with growth to drop."""
    data = single_unit(
        beds="unlimited", per_day=8, los={"dist": "exponential", "mean": 10}, warm_up_days=0
    )
    data["cohorts"]["patients"]["growth_per_year"] = 0.5
    return sim.suggest_warm_up(Scenario.from_dict(data), reps=6, days=365)


def test_warm_up_of_an_infinite_server_queue_from_empty(infinite_server):
    """At 20 days the mean is still 11 beds short of its equilibrium of 80, a bias several
    times the noise of 6 replications, so MSER-5 must cut at least that; growth is switched
    off, so the settled level is 80 and not 80 x 1.5."""
    found = infinite_server
    assert found.held_still == ("demand growth set to 0 (patients)",)
    occupied = found.by_series.set_index("series").loc["acute_occupied"]
    assert 20 <= occupied["truncate_days"] <= 180
    assert occupied["truncate_days"] % 5 == 0
    assert occupied["settled_mean"] == pytest.approx(80, rel=0.05)
    rows = found.daily[found.daily["series"] == "acute_occupied"]
    assert len(rows) == 365
    assert list(rows["day"]) == list(range(365))


def test_the_recommendation_is_the_longest_cut_with_its_margin(infinite_server):
    found = infinite_server
    longest = int(found.by_series["truncate_days"].max())
    assert found.series == found.by_series.loc[found.by_series["truncate_days"].idxmax(), "series"]
    assert found.days % ROUND_DAYS == 0
    assert longest * (1 + MARGIN) <= found.days < longest * (1 + MARGIN) + ROUND_DAYS
    assert f"Recommended warm-up: {found.days} days" in found.describe()


def test_too_short_a_run_is_not_reliable():
    data = single_unit(
        beds="unlimited", per_day=8, los={"dist": "exponential", "mean": 60}, warm_up_days=0
    )
    found = sim.suggest_warm_up(Scenario.from_dict(data), series="acute_occupied", reps=4, days=60)
    assert not found.reliable
    assert "not reliable" in found.describe()


def test_the_diagnostic_names_an_unknown_series_and_refuses_a_starting_state():
    scenario = Scenario.from_dict(single_unit(years=0.1, warm_up_days=0))
    with pytest.raises(ScenarioError, match="got 'bed_queuez'"):
        sim.suggest_warm_up(scenario, series="bed_queuez", reps=2, days=40)
    with pytest.raises(ScenarioError, match="reps must be >= 2"):
        sim.suggest_warm_up(scenario, reps=1, days=40)
    today = scenario.override({"initial_state.acute_treating": 5})
    with pytest.raises(ScenarioError, match="no warm-up to suggest"):
        sim.suggest_warm_up(today, reps=2, days=40)


def test_the_warm_up_chart_shows_each_series_and_the_recommendation(infinite_server):
    found = infinite_server
    spec = sim.warm_up(found.daily, found.by_series, found.days).to_dict()
    assert f"recommended {found.days} days" in spec["title"]["text"]
    values = next(iter(spec["datasets"].values()))
    assert {v["series"] for v in values} == set(found.by_series["series"])
    assert {v["recommended"] for v in values if "recommended" in v} - {None} == {found.days}


def unit_file(tmp_path, *, warm_up_days: int, years: float, growth: float, los_mean: float):
    """An M/M/inf scenario file (8 a day, unlimited beds), for the command line."""
    path = tmp_path / "unit.toml"
    path.write_text(
        f'name = "unit"\n[run]\nstart_date = 2016-04-04\nwarm_up_days = {warm_up_days}\n'
        f"horizon_years = {years}\n[cohorts.patients]\nattendances_per_year = 0\n"
        f"direct_admissions_per_year = 2922\ngrowth_per_year = {growth}\np_admit = 0.0\n"
        f'treatment_los_days = {{ dist = "exponential", mean = {los_mean} }}\n'
        '[ed]\ntime_to_decision_minutes = { dist = "fixed", value = 0 }\n'
        '[acute]\nbeds = "unlimited"\n'
    )
    return path


def test_warmup_cli_prints_the_table_and_writes_its_files(tmp_path):
    path = unit_file(tmp_path, warm_up_days=0, years=0.1, growth=0.1, los_mean=10)
    out = tmp_path / "warm"
    result = CliRunner().invoke(
        main, ["warmup", str(path), "--reps", "4", "--days", "200", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "demand growth set to 0 (patients)" in result.output
    assert "acute_occupied" in result.output
    assert "Recommended warm-up:" in result.output
    table = pd.read_csv(out / "warmup.csv")
    assert list(table.columns) == [
        "series",
        "truncate_days",
        "truncate_days_halves",
        "reliable",
        "settled_mean",
    ]
    daily = pd.read_csv(out / "warmup_daily.csv")
    assert list(daily.columns) == ["date", "day", "series", "value"]
    assert (out / "warmup.svg").read_text().startswith("<svg")
    assert (out / "warmup.png").read_bytes()[:4] == b"\x89PNG"
    quiet = CliRunner().invoke(
        main, ["warmup", str(path), "--reps", "2", "--days", "60", "--out", str(out), "-q"]
    )
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output.strip().isdigit()


# --- drift after a run ----------------------------------------------------------------------------


def _daily(scenario: Scenario, level, reps: int = 6, noise: float = 1.0) -> pd.DataFrame:
    """A daily table for ``scenario``'s reported window: ``level(day)`` plus noise."""
    dates = pd.date_range(scenario.run.start_date, periods=362, freq="D")
    rng = np.random.default_rng(1)
    day = np.arange(len(dates))
    frames = [
        pd.DataFrame(
            {
                "scenario": scenario.name,
                "replication": r,
                "date": dates,
                "series": "acute_occupied",
                "value": level(day) + noise * rng.standard_normal(len(dates)),
            }
        )
        for r in range(reps)
    ]
    return pd.concat(frames, ignore_index=True)


def test_a_trend_without_growth_is_drift():
    scenario = Scenario.from_dict(single_unit())
    found = find_drift(scenario, _daily(scenario, lambda d: 100 + 0.05 * d))
    assert [(f.period, f.series) for f in found] == [("2016/17", "acute_occupied")]
    drift = found[0]
    assert drift.last - drift.first == pytest.approx(0.05 * 271, rel=0.05)  # quarters 271 d apart
    assert drift.explained == 0
    assert "acute_occupied moves from" in drift.describe()


def test_drift_reads_a_categorical_series_column_as_a_run_writes_it():
    """A run's daily table holds its series as categories, some never watched: the check
    finds the same drift there as in a column of strings."""
    scenario = Scenario.from_dict(single_unit())
    daily = _daily(scenario, lambda d: 100 + 0.05 * d)
    other = daily.assign(series="ed_in_department", value=daily["value"] * 0)
    both = pd.concat([daily, other], ignore_index=True)
    as_strings = find_drift(scenario, both)
    names = pd.CategoricalDtype(["bed_queue", "ed_in_department", "acute_occupied"])
    as_categories = find_drift(scenario, both.astype({"series": names}))
    assert [(f.period, f.series) for f in as_strings] == [("2016/17", "acute_occupied")]
    assert as_categories == as_strings


def test_a_steady_series_and_a_change_within_tolerance_are_not_drift():
    scenario = Scenario.from_dict(single_unit())
    assert find_drift(scenario, _daily(scenario, lambda d: 100 + 0 * d)) == []
    small = 0.5 * TOLERANCE * 100 / 271  # half the tolerance over the year
    assert find_drift(scenario, _daily(scenario, lambda d: 100 + small * d, noise=0.01)) == []


def test_growth_explains_a_rise_up_to_its_step():
    data = single_unit()
    data["cohorts"]["patients"]["growth_per_year"] = 0.10  # a 10% step into the year
    grown = Scenario.from_dict(data)
    rise = lambda d: 100 + 0.03 * d  # noqa: E731 (+8%: less than growth explains)
    assert find_drift(grown, _daily(grown, rise)) == []
    flat = Scenario.from_dict(single_unit())
    assert len(find_drift(flat, _daily(flat, rise))) == 1


def test_a_dated_capacity_change_is_not_checked():
    changed = Scenario.from_dict(single_unit()).override(
        {"acute.capacity_changes": [{"date": "2016-10-01", "beds": 12}]}
    )
    assert find_drift(changed, _daily(changed, lambda d: 100 + 0.05 * d)) == []


def test_one_replication_is_not_checked():
    scenario = Scenario.from_dict(single_unit())
    assert find_drift(scenario, _daily(scenario, lambda d: 100 + 0.05 * d, reps=1)) == []


def test_a_run_from_empty_warns_and_names_the_series():
    """M/M/inf with 10-day stays from a 2-day warm-up: occupancy climbs through the first
    quarter, far beyond the tolerance, with no growth to explain it."""
    data = single_unit(
        beds="unlimited", per_day=8, los={"dist": "exponential", "mean": 60}, warm_up_days=2
    )
    with pytest.warns(DriftWarning, match=r"single_unit, 2016/17: acute_occupied moves from"):
        sim.run(Scenario.from_dict(data), reps=3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim.run_experiment([Scenario.from_dict(data)], reps=3, seed=1, drift=False)


@pytest.mark.filterwarnings("default::sim.runs.drift.DriftWarning")  # shown, as outside tests
def test_the_run_command_says_drift_on_one_line(tmp_path):
    path = unit_file(tmp_path, warm_up_days=2, years=1, growth=0.0, los_mean=60)
    result = CliRunner().invoke(
        main,
        ["run", str(path), "--reps", "3", "--out", str(tmp_path / "out"), "--no-report"],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1
    assert lines[0].startswith("warning: unit, 2016/17: acute_occupied moves from")
