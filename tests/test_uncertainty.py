"""Uncertain inputs and two-level experiments (docs/uncertainty.md)."""

from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT, small_system

from sim.cli import main
from sim.errors import ScenarioError
from sim.experiments.uncertainty import (
    load_uncertainty,
    meets,
    prcc,
    run_uncertainty,
    variance_split,
)
from sim.runs.runner import run_scenario_batch
from sim.scenario.schema import Scenario, load_scenario
from sim.scenario.uncertain import unit_draws

sys.path.insert(0, str(Path(__file__).parent / "validation"))
from scenarios import bed_pool  # noqa: E402

CASE = ROOT / "experiments" / "left_shift" / "uncertainty"


def _short(**changes: Any) -> dict[str, Any]:
    data = small_system(**changes)
    data["run"].update(warm_up_days=5, horizon_years=0.05)
    return data


BETA = {"uncertain": "beta", "mean": 0.5, "sd": 0.05}


# --- the scenario --------------------------------------------------------------------------


def test_a_scenario_without_uncertain_inputs_is_unchanged():
    plain = load_scenario(CONFIGS / "baseline.toml")
    assert plain.uncertain == ()
    again = Scenario.from_dict(plain.raw, source=plain.source)
    assert again.to_dict() == plain.to_dict()


def test_the_nominal_scenario_holds_the_means_and_gives_the_same_patients():
    data = _short(
        **{
            "cohorts.older.p_admit": BETA,
            "acute.beds": {"uncertain": "uniform", "low": 50, "high": 70, "integer": True},
            "community.urgent_response.episode_days": {
                "dist": "exponential",
                "mean": {"uncertain": "triangular", "low": 1, "mode": 2, "high": 4},
            },
        }
    )
    s = Scenario.from_dict(data, source="<test>")
    assert [i.key for i in s.uncertain] == [
        "cohorts.older.p_admit",
        "acute.beds",
        "community.urgent_response.episode_days.mean",
    ]
    assert s.cohorts["older"].p_admit == 0.5
    assert s.acute.beds == 60
    assert s.community.urgent_response.episode_days.mean == pytest.approx(7 / 3)
    by_hand = Scenario.from_dict(
        _short(
            **{
                "acute.beds": 60,
                "community.urgent_response.episode_days": {"dist": "exponential", "mean": 7 / 3},
            }
        ),
        source="<test>",
    )
    a = run_scenario_batch(s, 3, [0, 1], "fast", True, None, False).metrics
    b = run_scenario_batch(by_hand, 3, [0, 1], "fast", True, None, False).metrics
    pd.testing.assert_frame_equal(a, b)


def test_a_draw_keeps_the_dated_changes_that_set_its_key():
    data = _short(**{"cohorts.older.p_admit": BETA})
    data["changes"] = [{"from": "2016-05-01", "set": {"cohorts.older.p_admit": 0.3}}]
    s = Scenario.from_dict(data, source="<test>")
    draw = s.with_values({"cohorts.older.p_admit": 0.6})
    assert [p.cohorts["older"].p_admit for _, p in draw.phases] == [0.6, 0.3]


def test_lists_and_dated_changes_may_hold_uncertain_values():
    data = _short(**{"cohorts.older.avoidable_share": [0.0, {**BETA, "mean": 0.2}]})
    data["run"]["horizon_years"] = 1.5
    data["changes"] = [{"from": "2016-05-01", "set": {"sdec.p_admit": {**BETA, "mean": 0.1}}}]
    s = Scenario.from_dict(data, source="<test>")
    assert [i.key for i in s.uncertain] == [
        "cohorts.older.avoidable_share[1]",
        "changes[2016-05-01].sdec.p_admit",
    ]
    draw = s.with_values(
        {"cohorts.older.avoidable_share[1]": 0.25, "changes[2016-05-01].sdec.p_admit": 0.15}
    )
    assert draw.cohorts["older"].avoidable_share == (0.0, 0.25)
    assert draw.phases[1][1].sdec.p_admit == 0.15


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"uncertain": "betta", "mean": 0.5, "sd": 0.1},
            "<t>: cohorts.older.p_admit: uncertain must be one of beta, triangular, uniform, "
            "normal, lognormal, gamma, got 'betta'",
        ),
        (
            {"uncertain": "beta", "mean": 0.5, "sd": 0.6},
            "<t>: cohorts.older.p_admit: an uncertain beta value needs sd < sqrt(mean x "
            "(1 - mean)) = 0.5, got sd = 0.6",
        ),
        (
            {"uncertain": "beta", "mean": 0.5},
            "<t>: cohorts.older.p_admit: an uncertain beta value needs sd",
        ),
        (
            {"uncertain": "beta", "mean": 0.5, "sd": "a lot"},
            "<t>: cohorts.older.p_admit.sd must be a finite number, got 'a lot'",
        ),
        (
            {"uncertain": "uniform", "low": 0.5, "high": 0.2},
            "<t>: cohorts.older.p_admit: an uncertain uniform value needs low < high, got "
            "low = 0.5, high = 0.2",
        ),
        (
            {"uncertain": "triangular", "low": 0.1, "mode": 0.9, "high": 0.5},
            "<t>: cohorts.older.p_admit: an uncertain triangular value needs low <= mode <= "
            "high and low < high, got low = 0.1, mode = 0.9, high = 0.5",
        ),
        (
            {"uncertain": "beta", "mean": 0.5, "sd": 0.1, "grup": "x"},
            "<t>: cohorts.older.p_admit: grup is not a known key of an uncertain beta value",
        ),
        (
            {"uncertain": "beta", "mean": 0.5, "sd": 0.1, "group": "Bad Name"},
            "<t>: cohorts.older.p_admit.group must be a name",
        ),
        (
            {"uncertain": "normal", "mean": 0.5, "sd": 0.3},
            "<t>: cohorts.older.p_admit = normal (mean = 0.5, sd = 0.3) must give a valid "
            "scenario over its range; at its 0.1% quantile (-0.42707): "
            "cohorts.older.p_admit must be >= 0",
        ),
    ],
)
def test_a_bad_uncertain_value_names_the_file_key_rule_and_value(value, message):
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(_short(**{"cohorts.older.p_admit": value}), source="<t>")
    assert any(m.startswith(message) for m in caught.value.messages), caught.value.messages


def test_an_uncertain_value_replaces_the_one_it_extends_whole(tmp_path):
    (tmp_path / "a.toml").write_text(
        f'extends = "{CONFIGS / "baseline.toml"}"\n'
        '[cohorts.frail_older]\np_admit = { uncertain = "beta", mean = 0.5, sd = 0.03 }\n'
    )
    (tmp_path / "b.toml").write_text(
        'extends = "a.toml"\n[cohorts.frail_older]\n'
        'p_admit = { uncertain = "uniform", low = 0.4, high = 0.6 }\n'
    )
    (item,) = load_scenario(tmp_path / "b.toml").uncertain
    assert item.describe() == "uniform (low = 0.4, high = 0.6)"


# --- the draws -----------------------------------------------------------------------------


def test_each_input_is_a_latin_hypercube_column_of_its_own_stream():
    one = unit_draws(["a"], 20, 5, "uncertainty/")
    two = unit_draws(["a", "b"], 20, 5, "uncertainty/")
    np.testing.assert_array_equal(one["a"], two["a"])  # adding b does not move a
    for u in two.values():
        assert sorted(np.floor(u * 20).astype(int)) == list(range(20))  # one per stratum
    assert not np.array_equal(two["a"], two["b"])


def test_files_share_draws_by_key_and_group_and_replications_by_seed():
    a = Scenario.from_dict(
        _short(
            **{
                "cohorts.older.p_admit": BETA,
                "cohorts.older.p_sdec": {**BETA, "mean": 0.1, "sd": 0.02, "group": "g"},
                "cohorts.adults.p_sdec": {**BETA, "mean": 0.08, "sd": 0.02, "group": "g"},
            }
        ),
        source="<a>",
    )
    b = Scenario.from_dict(
        _short(
            name="b", **{"cohorts.older.p_admit": {"uncertain": "uniform", "low": 0.4, "high": 0.6}}
        ),
        source="<b>",
    )
    e = load_uncertainty([a, b], draws=10, reps=2)
    d = e.draws.set_index(["scenario", "draw", "input"])["quantile"]
    for k in range(10):
        assert d[("small", k, "cohorts.older.p_admit")] == d[("b", k, "cohorts.older.p_admit")]
        assert d[("small", k, "cohorts.older.p_sdec")] == d[("small", k, "cohorts.adults.p_sdec")]
    assert e.against == "small"
    assert {p.run.seed for p in e.scenarios} == {a.run.seed}


def test_a_study_needs_an_uncertain_input():
    s = Scenario.from_dict(_short(), source="<s>")
    with pytest.raises(ScenarioError, match="no uncertain input"):
        load_uncertainty([s], draws=5, reps=1)


# --- the statistics ------------------------------------------------------------------------


def test_variance_split_on_a_known_case():
    rng = np.random.default_rng(0)
    n, m = 400, 5
    true = rng.normal(0, 3, n)  # input variance 9
    runs = true[:, None] + rng.normal(0, 2, (n, m))  # run-to-run variance 4
    v_in, v_run = variance_split(runs.mean(1), runs.var(1, ddof=1), m)
    assert v_in == pytest.approx(9, rel=0.2)
    assert v_run == pytest.approx(4, rel=0.1)
    assert all(math.isnan(v) for v in variance_split(runs[:, 0], np.zeros(n), 1))


def test_prcc_ranks_an_input_that_drives_the_output_first():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(200, 3))
    y = np.exp(3 * x[:, 0]) - 0.5 * x[:, 1] + rng.normal(0, 0.2, 200)  # monotone in x0
    r = prcc(x, y)
    assert r[0] > 0.95
    assert r[1] < -0.3
    assert abs(r[2]) < 0.2


def test_meeting_a_target_is_falling_at_least_as_far():
    assert list(meets(np.array([-0.3, -0.23, -0.1, 0.1]), -0.23)) == [True, True, False, False]
    assert list(meets(np.array([0.1, 0.0]), 0.05)) == [True, False]


def test_variance_split_follows_littles_law_on_a_bed_pool_with_an_uncertain_rate(tmp_path):
    """Unlimited beds, Poisson admissions at a rate uniform on 20-40 a day, exponential stays
    of mean W = 1 day, T = 60 days after warm-up: bed days = L T with L = lambda W (Little),
    so their variance across draws is (W T)^2 Var(lambda) = 3600 x 20^2 / 12 = 120,000, and
    within a draw (M/M/inf) 2 lambda W^2 T (1 - (W / T)(1 - exp(-T / W))) on average."""
    w, t, low, high = 1.0, 60.0, 20.0, 40.0
    data = bed_pool(
        beds="unlimited",
        per_day=30,
        los_days={"dist": "exponential", "mean": w},
        days=t,
        warm_up_days=10,
    )
    data["cohorts"]["patients"]["direct_admissions_per_year"] = {
        "uncertain": "uniform",
        "low": low * 365.25,
        "high": high * 365.25,
    }
    s = Scenario.from_dict(data, source="<bed pool>")
    n, m = 40, 4
    e = load_uncertainty([s], draws=n, reps=m, metrics=["emergency_bed_days"])
    r = run_uncertainty(e, tmp_path / "out")
    row = r.distribution.set_index(["metric", "period"]).loc[("emergency_bed_days", "all")]
    input_var = (w * t) ** 2 * (high - low) ** 2 / 12
    run_var = 2 * (low + high) / 2 * w**2 * t * (1 - (w / t) * (1 - math.exp(-t / w)))
    assert row["mean"] == pytest.approx((low + high) / 2 * w * t, rel=0.02)
    # var_input: its standard error is about 3% here (the cross term of run noise with the
    # draws; the Latin hypercube makes the draws' own variance nearly exact): 4 SE
    assert row["var_input"] == pytest.approx(input_var, rel=0.12)
    # var_run: a mean of n variances of m - 1 = 3 degrees of freedom each, relative SE
    # sqrt(2 / (n (m - 1))) = 13% (the bed days are nearly normal): 3 SE
    assert row["var_run"] == pytest.approx(run_var, rel=0.39)
    assert row["input_share"] > 0.9


# --- runs, tables, command -----------------------------------------------------------------


def _pair() -> list[Scenario]:
    plan = _short(
        name="plan",
        **{
            "cohorts.older.p_admit": BETA,
            "cohorts.older.avoidable_share": {"uncertain": "uniform", "low": 0.1, "high": 0.4},
            "plan": {
                "baseline_year": "2016/17",
                "projected": {"attendances": {"2016/17": -0.05}},
                "projected_vs_comparator": {"attendances": {"2016/17": -0.05}},
            },
        },
    )
    base = _short(name="base", **{"cohorts.older.p_admit": BETA})
    return [Scenario.from_dict(base, source="<base>"), Scenario.from_dict(plan, source="<plan>")]


def test_the_same_seed_gives_the_same_tables_on_any_number_of_workers(tmp_path):
    e = load_uncertainty(_pair(), draws=6, reps=2)
    one = run_uncertainty(e, tmp_path / "one")
    two = run_uncertainty(e, tmp_path / "two", workers=2)
    for name in ("draws", "distribution", "targets", "sensitivity"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
        on_disk = pd.read_parquet(tmp_path / "two" / "uncertainty" / f"{name}.parquet")
        pd.testing.assert_frame_equal(on_disk, getattr(two, name), check_dtype=False)
    t = one.targets.set_index("against")
    assert set(t.index) == {"baseline_year", "comparator"}
    assert (t["p_meet_se"] == np.sqrt(t["p_meet"] * (1 - t["p_meet"]) / 6)).all()
    # against the comparator, with the same patients, the plan's change comes from its
    # avoidance alone: each draw's change is below zero
    assert t.loc["comparator", "change_p95"] < 0


def test_the_command_writes_the_tables_and_resumes(tmp_path):
    for s, name in zip(_pair(), ("base", "plan"), strict=True):
        data = s.raw
        data.pop("name")
        (tmp_path / f"{name}.toml").write_text(_toml({**data, "name": name}))
    # the files hold the nominal scenario; give the plan its uncertain inputs back
    plan = (tmp_path / "plan.toml").read_text()
    uncertain = '"avoidable_share" = { uncertain = "uniform", low = 0.1, high = 0.4 }'
    plan = plan.replace('"avoidable_share" = 0.25', uncertain)
    assert uncertain in plan
    (tmp_path / "plan.toml").write_text(plan)
    args = [
        "uncertainty",
        str(tmp_path / "base.toml"),
        str(tmp_path / "plan.toml"),
        "--draws",
        "4",
        "--reps",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--no-report",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Probability of meeting each projected target" in result.output
    for name in ("draws", "distribution", "targets", "sensitivity"):
        assert (tmp_path / "out" / "uncertainty" / f"{name}.csv").is_file()
    again = CliRunner().invoke(main, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert "(0 points run)" in again.output


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the tests' scenario tables (numbers, strings, tables)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict) and "dist" not in value and "uncertain" not in value:
            tables.append((key, value))
        else:
            lines.append(f'"{key}" = {_value(value)}')
    out = "\n".join(lines) + "\n"
    for key, value in tables:
        name = f"{prefix}{key}"
        out += f"\n[{name}]\n" + _toml(value, f"{name}.")
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_value(x)}' for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


# --- the case study ------------------------------------------------------------------------


def test_the_case_study_files_share_their_common_ranges():
    do_nothing = load_scenario(CASE / "do_nothing.toml")
    plan = load_scenario(CASE / "business_case.toml")
    theirs = {i.key: i for i in do_nothing.uncertain}
    ours = {i.key: i for i in plan.uncertain}
    assert theirs, "do nothing has uncertain inputs"
    for key, item in theirs.items():
        assert ours[key] == item, key
    for path in (CASE / "do_nothing.toml", CASE / "business_case.toml"):
        tomllib.loads(path.read_text())  # plain TOML


# --- calibration ---------------------------------------------------------------------------

TRUTH = {
    "cohorts.older.attendances_per_year": 4400.0,
    "cohorts.older.p_admit": 0.42,
    "cohorts.adults.attendances_per_year": 10500.0,
    "community.p1.places": 9,
}
PRIORS = {
    "cohorts.older.attendances_per_year": {"uncertain": "uniform", "low": 3000, "high": 6000},
    "cohorts.older.p_admit": {"uncertain": "uniform", "low": 0.3, "high": 0.7},
    "cohorts.adults.attendances_per_year": {"uncertain": "uniform", "low": 8000, "high": 16000},
    "community.p1.places": {"uncertain": "uniform", "low": 6, "high": 20, "integer": True},
}


def test_calibrate_recovers_ranges_that_hold_the_true_inputs(tmp_path):
    """Synthetic data from the model at known inputs (another seed than the calibration's):
    monthly means of five daily series and the year's attendances, each with the sd of
    its run-to-run variation (from six replications at the truth). History matching
    narrows every prior and keeps the truth inside each calibrated range."""
    from sim.experiments.calibrate import Observation, model_values

    data = small_system(**PRIORS, **{"acute.beds": 90})
    path = tmp_path / "priors.toml"
    path.write_text(_toml(data))
    scenario = load_scenario(path)
    series = ["acute_occupied", "delayed", "ed_in_department", "community_in_use_p1", "sdec_in_use"]
    blank = [Observation(s, m, 0.0, 0.0, "month") for s in series for m in ("2016-05", "2016-06")]
    blank.append(Observation("attendances", "2016/17", 0.0, 0.0, "year"))
    truth = run_scenario_batch(scenario.with_values(TRUTH), 99, range(6), "fast", False, None, True)
    values = model_values(truth, blank)
    rows = ["series,period,value,sd"] + [
        f"{o.series},{o.period},{float(values[0, j])!r},{float(values[:, j].std(ddof=1))!r}"
        for j, o in enumerate(blank)
    ]
    (tmp_path / "observed.csv").write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(path),
            "--observed",
            str(tmp_path / "observed.csv"),
            "--draws",
            "60",
            "--waves",
            "3",
            "--out",
            str(tmp_path / "cal"),
        ],
    )
    assert result.exit_code == 0, result.output
    ranges = pd.read_csv(tmp_path / "cal" / "ranges.csv").set_index("input")
    for key, true in TRUTH.items():
        row = ranges.loc[key]
        assert row["low"] <= true <= row["high"], (key, true, row.to_dict())
        assert row["high"] - row["low"] < row["prior_high"] - row["prior_low"], key
    narrowed = (ranges["high"] - ranges["low"]) / (ranges["prior_high"] - ranges["prior_low"])
    assert (narrowed < 0.7).sum() >= 3, narrowed
    calibrated = load_scenario(tmp_path / "cal" / "calibrated.toml")
    assert {i.key for i in calibrated.uncertain} == set(TRUTH)
    assert (tmp_path / "cal" / "backtest.svg").is_file()
    load_uncertainty([calibrated], draws=3, reps=1)  # uncertainty can run it


def test_observed_values_are_checked_by_line(tmp_path):
    from sim.experiments.calibrate import read_observed

    (tmp_path / "o.csv").write_text(
        "series,period,value\nacute_occupied,2016-05,300\nbeds,2016-05,3\n"
        "attendances,2016-05-01,4\nacute_occupied,May,3\ndelayed,2016-06,lots\n"
    )
    with pytest.raises(ScenarioError) as caught:
        read_observed(tmp_path / "o.csv", ["attendances"])
    o = str(tmp_path / "o.csv")
    assert caught.value.messages == [
        f"{o}: line 3: series with a day or month must be one of "
        + ", ".join(__import__("sim.experiments.calibrate", fromlist=["x"]).DAILY_SERIES)
        + ", got 'beds'",
        f"{o}: line 4: series with a day or month must be one of "
        + ", ".join(__import__("sim.experiments.calibrate", fromlist=["x"]).DAILY_SERIES)
        + ", got 'attendances'",
        f"{o}: line 5: period must be a day (2016-05-01), a month (2016-05) or a financial "
        "year (2016/17), got 'May'",
        f"{o}: line 6: value and sd must be numbers, got 'lots', None",
    ]


def test_an_observed_file_that_is_not_text_or_has_an_unknown_column_is_refused(tmp_path):
    from sim.experiments.calibrate import read_observed

    (tmp_path / "latin1.csv").write_bytes(b"series,period,value\ndelayed,2016-05,\xff\n")
    with pytest.raises(ScenarioError, match="latin1.csv: cannot read the file"):
        read_observed(tmp_path / "latin1.csv", ["attendances"])
    (tmp_path / "extra.csv").write_text("series,period,value,note\ndelayed,2016-05,3,x\n")
    with pytest.raises(ScenarioError, match="column 'note' is not known"):
        read_observed(tmp_path / "extra.csv", ["attendances"])
