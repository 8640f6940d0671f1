"""The left-shift case study (experiments/left_shift/) and its scenario library hold together.

The statistical checks run the business case on the same replications with
its stated urgent response and with an unlimited, always-open one, over
2016/17 and the first quarter of 2017/18 (13 whole weeks, so the weekday mix
matches a full year's). The full five-year version is ``slow``.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from conftest import coverage_paused

import sim
from sim.analysis import t_interval
from sim.errors import ScenarioError
from sim.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "experiments" / "left_shift"
LIBRARY = [
    "baseline",
    "do_nothing",
    "business_case",
    "business_case_funded",
    "winter",
    "skill_mix",
    "community_cuts",
]


def _case_study() -> ModuleType:
    spec = importlib.util.spec_from_file_location("left_shift_case_study", CASE / "case_study.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _growth(baseline: sim.Scenario, years: int) -> float:
    """Do-nothing growth of new would-be attendances after ``years``, weighted by cohort."""
    cohorts = baseline.cohorts.values()
    base = sum(c.attendances_per_year for c in cohorts)
    grown = sum(c.attendances_per_year * (1 + c.growth_per_year) ** years for c in cohorts)
    return grown / base


# --- the library ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIBRARY)
def test_every_library_scenario_loads_and_says_where_its_figures_come_from(name: str) -> None:
    path = ROOT / "configs" / f"{name}.toml"
    scenario = load_scenario(path)
    assert scenario.name == name
    text = path.read_text()
    assert any(label in text for label in ("[S", "[C", "[A")), "figures need source labels"


def test_the_business_case_states_the_plans_projection() -> None:
    plan = load_scenario(ROOT / "configs" / "business_case.toml").plan
    assert plan.baseline_year == "2016/17"
    assert plan.projected["attendances"] == {"2017/18": -0.18, "2020/21": -0.23}
    assert plan.projected["admissions_nhs"] == {"2020/21": -0.20}
    assert plan.projected_vs_comparator["attendances"]["2020/21"] == -0.32
    assert plan.projected_vs_comparator["admissions_nhs"]["2020/21"] == -0.28


def test_avoidable_shares_follow_the_plans_line_against_2016_17() -> None:
    """share = 1 - plan / do-nothing growth, so planned avoidance gives the plan's line."""
    baseline = load_scenario(ROOT / "configs" / "baseline.toml")
    plan = load_scenario(ROOT / "configs" / "business_case.toml")
    line = np.interp(range(5), [1, 4], [-0.18, -0.23])
    line[0] = 0.0
    for cohort in plan.cohorts.values():
        for year in range(1, 5):
            share = cohort.avoidable_share_in_year(year)
            assert share == pytest.approx(1 - (1 + line[year]) / _growth(baseline, year), abs=0.001)


def test_the_final_year_file_holds_the_baseline_grown_four_years() -> None:
    baseline = load_scenario(ROOT / "configs" / "baseline.toml")
    final = load_scenario(CASE / "final_year.toml")
    for name, cohort in baseline.cohorts.items():
        grown = final.cohorts[name]
        factor = (1 + cohort.growth_per_year) ** 4
        assert grown.attendances_per_year == pytest.approx(
            cohort.attendances_per_year * factor, abs=1
        )
        assert grown.direct_admissions_per_year == pytest.approx(
            cohort.direct_admissions_per_year * factor, abs=1
        )
        assert grown.growth_per_year == 0
        assert grown.avoidable_share_in_year(0) == pytest.approx(
            load_scenario(ROOT / "configs" / "business_case.toml")
            .cohorts[name]
            .avoidable_share_in_year(4)
        )


def test_skill_mix_buys_fewer_places_for_the_same_budget() -> None:
    baseline = load_scenario(ROOT / "configs" / "baseline.toml")
    mix = load_scenario(ROOT / "configs" / "skill_mix.toml")
    workforce = mix.community.p1.workforce
    assert workforce is not None
    # the same budget: 12 qualified posts become 20 support posts at 0.6 of the cost
    assert workforce.qualified_fte + 0.6 * workforce.support_fte == pytest.approx(36)
    assert mix.community.p1.capacity == 103 < baseline.community.p1.capacity


def test_a_child_file_giving_workforce_replaces_the_parents_places(tmp_path: Path) -> None:
    child = tmp_path / "child.toml"
    child.write_text(
        f'extends = "{(ROOT / "configs" / "baseline.toml").as_posix()}"\n'
        "[community.p2.workforce]\nqualified_fte = 10\ncaseload_per_qualified_fte = 2\n"
    )
    assert load_scenario(child).community.p2.capacity == 20
    back = load_scenario(child).override({"community.p2.places": 7})
    assert back.community.p2.capacity == 7
    assert back.community.p2.workforce is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plan.projected": {"attendances": {"2020/22": -0.2}}}, "financial year"),
        ({"plan.projected": {"attendances": {"2020/21": -1.5}}}, "plan.projected"),
        ({"plan.projected": {"Bad Name": {"2020/21": -0.2}}}, "plan.projected"),
    ],
)
def test_a_bad_projection_is_refused_by_name(change: dict[str, object], message: str) -> None:
    scenario = load_scenario(ROOT / "configs" / "do_nothing.toml")
    with pytest.raises(ScenarioError, match=message):
        scenario.override(change)


def test_a_projection_needs_a_baseline_year(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    raw = tomllib.loads((ROOT / "configs" / "baseline.toml").read_text())
    raw["plan"] = {"projected": {"attendances": {"2016/17": -0.1}}}
    with pytest.raises(ScenarioError, match="baseline_year"):
        sim.Scenario.from_dict(raw, source=str(path))


# --- the findings' arithmetic ------------------------------------------------------------------


def test_the_capacity_variants_take_each_timeline_from_its_file() -> None:
    cs = _case_study()
    plans = cs.load([cs.DO_NOTHING, cs.PLAN, cs.OFFICE_HOURS])
    do_nothing, frozen = plans[cs.DO_NOTHING], plans[cs.DO_NOTHING_FROZEN]
    assert do_nothing.community.p1.capacity_changes  # do nothing grows its D2A places
    for service in ("p1", "p2", "p3"):
        assert frozen.service(service).capacity_changes == ()
        for grown in (cs.PLAN_GROWN, cs.OFFICE_HOURS_GROWN):
            assert plans[grown].service(service).capacity_changes == (
                do_nothing.service(service).capacity_changes
            )
    assert frozen.acute.capacity_changes == ()
    # the plan's levers start in its first year, whatever the capacity assumption
    for name in (cs.PLAN, cs.PLAN_GROWN):
        assert [str(d) for d, _ in plans[name].phases] == ["None", "2017-04-01"]
    assert all(label for label in cs.LABELS.values())


def _frame(values: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    rows = [
        {"scenario": s, "metric": m, "period": p, "replication": r, "value": x}
        for (s, m, p), xs in values.items()
        for r, x in enumerate(xs)
    ]
    return pd.DataFrame(rows)


def test_changes_are_paired_by_replication_against_the_right_year() -> None:
    cs = _case_study()
    values: dict[tuple[str, str, str], list[float]] = {
        ("do_nothing", "attendances", "2016/17"): [100.0, 200.0],
        ("do_nothing", "attendances", "2020/21"): [110.0, 220.0],
        ("business_case", "attendances", "2016/17"): [100.0, 200.0],
        ("business_case", "attendances", "2020/21"): [77.0, 154.0],
        **{
            (s, "observed_days", y): [365.0, 365.0]
            for s in ("do_nothing", "business_case")
            for y in ("2016/17", "2020/21")
        },
    }
    for key in list(values):  # admissions move like attendances here
        if key[1] == "attendances":
            values[(key[0], "admissions_nhs", key[2])] = values[key]
    table = pd.DataFrame(cs.plan_against_outcome(cs.Values.of(_frame(values)), {}))
    got = table.set_index(["scenario", "measure"])["mean"]
    assert got["do_nothing", "A&E attendances: change against 2016/17"] == pytest.approx(0.10)
    assert got["business_case", "A&E attendances: change against 2016/17"] == pytest.approx(-0.23)
    assert got["business_case", "A&E attendances: change against do nothing"] == pytest.approx(
        0.77 / 1.10 - 1
    )
    # a part year compares by rate per observed day
    values[("business_case", "observed_days", "2020/21")] = [182.5, 182.5]
    halved = pd.DataFrame(cs.plan_against_outcome(cs.Values.of(_frame(values)), {}))
    got = halved.set_index(["scenario", "measure"])["mean"]
    assert got["business_case", "A&E attendances: change against 2016/17"] == pytest.approx(0.54)
    # the two replications differ in size but not in change: the interval has no width
    row = table[table.scenario == "business_case"].iloc[0]
    assert row["ci_low"] == pytest.approx(row["ci_high"])


# --- the model does what the case study says it does ------------------------------------------

SHORT = {"run.horizon_years": 1.25, "run.warm_up_days": 30}
UNLIMITED = {
    "community.urgent_response.places": "unlimited",
    "community.urgent_response.capacity_changes": [],
    "community.urgent_response.accepts": "24/7",
}


@pytest.fixture(scope="module")
def short_run(pytestconfig: pytest.Config) -> sim.Results:
    plan = load_scenario(ROOT / "configs" / "business_case.toml").override(SHORT)
    unlimited = plan.override(UNLIMITED, name="business_case_unlimited")
    with coverage_paused(pytestconfig):
        # a 30-day warm-up for speed: these tests count arrivals and avoidance, which do not
        # wait for the beds to settle, so the drift the short warm-up leaves is not checked
        return sim.run_experiment([plan, unlimited], reps=4, seed=7, engine="fast", drift=False)


def _values(results: sim.Results, scenario: str, metric: str, period: str) -> np.ndarray:
    r = results.replications
    rows = r[(r.scenario == scenario) & (r.metric == metric) & (r.period == period)]
    return rows.sort_values("replication")["value"].to_numpy(dtype=float)


def _daily_rate(results: sim.Results, scenario: str, metric: str, period: str) -> np.ndarray:
    return _values(results, scenario, metric, period) / _values(
        results, scenario, "observed_days", period
    )


def test_would_be_attendances_grow_by_the_configured_growth(short_run: sim.Results) -> None:
    baseline = load_scenario(ROOT / "configs" / "baseline.toml")
    ratio = _daily_rate(short_run, "business_case", "attendances_would_be", "2017/18") / (
        _daily_rate(short_run, "business_case", "attendances_would_be", "2016/17")
    )
    mean, low, high = t_interval(ratio)
    assert low <= _growth(baseline, 1) <= high, (mean, low, high)
    # both scenarios saw the same would-be patients (common random numbers)
    np.testing.assert_array_equal(
        _values(short_run, "business_case", "attendances_would_be", "2017/18"),
        _values(short_run, "business_case_unlimited", "attendances_would_be", "2017/18"),
    )


def test_unlimited_urgent_response_achieves_the_configured_avoidance(
    short_run: sim.Results,
) -> None:
    name, year = "business_case_unlimited", "2017/18"
    planned = _values(short_run, name, "avoidance_planned", year)
    share = planned / _values(short_run, name, "attendances_would_be", year)
    mean, low, high = t_interval(share)
    assert low <= 0.197 <= high, (mean, low, high)
    np.testing.assert_array_equal(_values(short_run, name, "avoided_attendances", year), planned)


def test_the_stated_capacity_achieves_less(short_run: sim.Results) -> None:
    year = "2017/18"
    stated = _values(short_run, "business_case", "avoided_attendances", year)
    unlimited = _values(short_run, "business_case_unlimited", "avoided_attendances", year)
    mean, low, high = t_interval(stated - unlimited)
    assert high < 0, (mean, low, high)
    lost = _values(short_run, "business_case", "avoidance_lost_closed", year) + _values(
        short_run, "business_case", "avoidance_lost_full", year
    )
    np.testing.assert_allclose(
        stated + lost, _values(short_run, "business_case", "avoidance_planned", year)
    )


@pytest.mark.slow
def test_the_full_case_study_is_consistent(tmp_path: Path) -> None:
    """Five years, ten replications: growth over four years and the findings' own sums."""
    cs = _case_study()
    assert cs.main(["--reps", "10", "--out", str(tmp_path / "out"), "-q"]) == 0
    found = pd.read_csv(tmp_path / "out" / "findings.csv")
    reps = pd.read_parquet(tmp_path / "out" / "replications.parquet")
    results = sim.Results(pd.DataFrame(), reps, pd.DataFrame())
    baseline = load_scenario(ROOT / "configs" / "baseline.toml")
    ratio = _daily_rate(results, "do_nothing", "attendances_would_be", "2020/21") / _daily_rate(
        results, "do_nothing", "attendances_would_be", "2016/17"
    )
    mean, low, high = t_interval(ratio)
    assert low <= _growth(baseline, 4) <= high, (mean, low, high)
    achieved = found[
        (found.question == "community_capacity")
        & (found.measure == "planned avoidances achieved")
        & (found.scenario == "business_case_funded")
    ]["mean"].iloc[0]
    closed = found[
        (found.question == "community_capacity")
        & (found.measure == "planned avoidances lost: service closed")
        & (found.scenario == "business_case_funded")
    ]["mean"].iloc[0]
    assert achieved < 1 - 0.5 * closed
    assert (tmp_path / "out" / "report.html").stat().st_size < 5_000_000
