"""Scenario files: loading, extends, overrides, and clear errors for bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS, single_unit
from pydantic import ValidationError

from sim.cli import main
from sim.errors import ScenarioError
from sim.scenario.files import resolve_file
from sim.scenario.schema import Scenario, load_scenario

BAD = Path(__file__).parent / "bad_configs"

# file -> what its one-line error must say (key and rule; the value where there is one)
EXPECTED = {
    "broken_toml": "not valid TOML: Expected ']'",
    "unknown_top_level": "acutee is not a known key (did you mean 'acute'?)",
    "unknown_nested_key": "acute.bedz is not a known key (did you mean 'beds'?)",
    "negative_beds": "acute.beds must be >= 0, got -5",
    "beds_not_a_number": "acute.beds must be a whole number or \"unlimited\", got 'many'",
    "missing_beds": "acute.beds is required",
    "missing_cohorts": "cohorts is required",
    "pathway_not_summing": "cohorts.frail_older.pathway: pathway shares must sum to 1, got 0.9",
    "probability_above_one": "cohorts.children.p_admit must be <= 1, got 1.5",
    "outcomes_above_one": "cohorts.children: p_admit + p_sdec must be <= 1, got 0.7 + 0.5",
    "unknown_distribution": "ed.time_to_decision_minutes must name a distribution",
    "lognormal_both_forms": "treatment_los_days: give either mean and sd, or mu and sigma, not",
    "negative_sd": "sdec.episode_hours: mean and sd must be finite and > 0, got mean=5, sd=-3",
    "schedule_unreadable": "community.p1.accepts: cannot read schedule 'weekdays nine to five'",
    "schedule_half_hour": "sdec.open: schedule 'Mon-Fri 08:30-20:00' must start and end on the",
    "schedule_list_wrong_length": "acute.discharge_hours: a schedule list needs 168 values, got 4",
    "profile_wrong_length": "demand.profiles.ed: day_of_week needs 7 values, got 5",
    "profile_all_zero": "demand.profiles.gp: the profile's weights must not all be zero",
    "unknown_profile": "cohorts.children.arrival_profile must name a profile in demand.profiles",
    "pathway_without_service": "cohorts.a.pathway.p1 needs a [community.p1] service, got 0.5",
    "cycle_a": "extends makes a cycle (cycle_a.toml -> cycle_b.toml -> cycle_a.toml)",
    "extends_missing": "extends must name an existing file, got 'no_such_scenario.toml'",
    "supervision_exceeds_staff": "community.p2.workforce: supervising 30 support FTE needs 3",
    "places_and_workforce": "community.p1 needs exactly one of places or workforce",
    "visits_and_places": "community.p1: visits replaces places and workforce: give visits, or",
    "change_dates_backwards": "acute: capacity_changes dates must be strictly increasing",
    "initial_state_with_warm_up": "run.warm_up_days must be 0 when an initial_state is given",
    "nan_value": "cohorts.children.growth_per_year must be a finite number, got nan",
    "bad_date": "run.start_date must be a date like 2016-04-01, got '2016-13-01'",
    "zero_horizon": "run.horizon_years must be > 0, got 0",
    "month_multipliers_short": "demand.month_multipliers must have at least 12 item(s)",
    "avoidance_without_service": "cohorts.a.avoidable_share needs a [community.urgent_response]",
    "bad_cohort_name": "cohorts.Frail Elderly must be a lower-case name",
    "negative_reps": "run.reps must be >= 1, got -3",
    "cubicles_zero": 'ed.cubicles must be >= 1 or "unlimited", got 0',
    "avoidable_share_above_sub_cohort": (
        "cohorts.a.avoidable_share must be <= avoidable.share (0.2): avoidance takes only "
        "avoidable-type patients, got 0.3"
    ),
    "sub_cohort_p_admit_too_high": (
        "cohorts.a.avoidable.p_admit must leave the rest of the cohort a p_admit in "
        "[0, 1 - p_sdec] so that the cohort's stays 0.1, but leaves it -0.1, got 0.3"
    ),
}


def test_every_bad_file_is_listed():
    files = {p.stem for p in BAD.glob("*.toml")} - {"cycle_b"}
    assert files == set(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_bad_file_gives_one_clear_line_and_exit_2(stem, tmp_path):
    path = BAD / f"{stem}.toml"
    out = tmp_path / "out"
    for command in (["validate", str(path)], ["run", str(path), "--out", str(out)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {path}: ")
        assert EXPECTED[stem] in lines[0]
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("stem", ["broken_toml", "negative_beds", "cycle_a"])
def test_bad_file_in_a_real_process_prints_no_traceback(stem, tmp_path):
    path = BAD / f"{stem}.toml"
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {path}: {EXPECTED[stem]}")
    assert not (tmp_path / "out").exists()


def test_several_problems_in_one_file_are_all_reported(tmp_path):
    path = tmp_path / "two.toml"
    path.write_text('extends = "%s"\n[acute]\nbeds = -1\nbedz = 3\n' % (CONFIGS / "baseline.toml"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert len(caught.value.messages) == 2


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path):
    scenario = load_scenario(path)
    assert scenario.cohorts


def test_scenario_is_frozen(baseline_path):
    scenario = load_scenario(baseline_path)
    with pytest.raises(ValidationError, match="frozen"):
        scenario.name = "x"
    with pytest.raises(ValidationError, match="frozen"):
        scenario.acute.beds = 1


def test_override_returns_a_new_validated_scenario(baseline_path):
    base = load_scenario(baseline_path)
    more = base.override({"acute.beds": 500, "community.p1.accepts": "24/7"})
    assert more.acute.beds == 500
    assert base.acute.beds == 415
    assert more.community.p1.accepts == "24/7"
    with pytest.raises(ScenarioError, match="acute.beds must be >= 0, got -1"):
        base.override({"acute.beds": -1})
    with pytest.raises(ScenarioError, match="acute.bedz is not a known key"):
        base.override({"acute.bedz": 3})


def test_extends_merges_tables_and_replaces_values(tmp_path):
    (tmp_path / "base.toml").write_text(
        "[run]\nreps = 4\nseed = 9\n"
        "[cohorts.a]\nattendances_per_year = 100\np_admit = 0.2\n"
        'treatment_los_days = { dist = "exponential", mean = 2 }\n'
        '[ed]\ntime_to_decision_minutes = { dist = "fixed", value = 60 }\n'
        "[acute]\nbeds = 10\n"
    )
    (tmp_path / "child.toml").write_text(
        'extends = "base.toml"\nname = "child"\n[run]\nreps = 7\n'
        '[cohorts.a]\ntreatment_los_days = { dist = "fixed", value = 3 }\n'
    )
    child = load_scenario(tmp_path / "child.toml")
    assert (child.run.reps, child.run.seed) == (7, 9)  # merged key by key
    assert child.cohorts["a"].treatment_los_days.mean == 3  # a distribution is replaced whole
    assert child.cohorts["a"].attendances_per_year == 100
    assert child.name == "child"


def test_workforce_derives_capacity():
    data = single_unit()
    data["cohorts"]["patients"]["pathway"] = {"p0": 0.5, "p1": 0.5}
    data["community"] = {
        "p1": {
            "workforce": {
                "qualified_fte": 10,
                "support_fte": 10,
                "caseload_per_qualified_fte": 2,
                "caseload_per_support_fte": 1,
                "supervision_fte_per_support_fte": 0.2,
            },
            "episode_days": {"dist": "fixed", "value": 5},
        }
    }
    scenario = Scenario.from_dict(data)
    # (10 - 10 x 0.2) x 2 + 10 x 1 = 26 places
    assert scenario.community.p1.capacity == 26
    more_support = scenario.override({"community.p1.workforce.support_fte": 20})
    assert more_support.community.p1.capacity == (10 - 4) * 2 + 20


def test_to_dict_round_trips(baseline_path):
    scenario = load_scenario(baseline_path)
    again = Scenario.from_dict(scenario.to_dict())
    assert again.to_dict() == scenario.to_dict()
    assert again.cohorts == scenario.cohorts
    assert again.community == scenario.community


# --- regressions: inputs that crashed, or passed validation and then broke a run -----------
# (found by probing and by tests/test_fuzz_inputs.py; each gave a traceback or got past
# validation into an engine that could not run it)

REGRESSIONS = {
    # tomllib raises ValueError (not TOMLDecodeError) on an integer over 4300 digits
    "int_over_4300_digits": ("[acute]\nbeds = 1" + "0" * 5000, "not valid TOML: Exceeds the limit"),
    # and RecursionError on deep nesting
    "nested_too_deep": ("x = " + "[" * 5000 + "]" * 5000, "nested too deep"),
    # a date before year 1900 overflowed the calendar (OverflowError) once a year was asked for
    "start_date_too_early": (
        '[run]\nstart_date = 0001-01-01\n[plan]\nbaseline_year = "2016/17"',
        "run.start_date must be >= 1900-01-01, got 0001-01-01",
    ),
    "start_date_too_late": (
        "[run]\nstart_date = 9990-01-01",
        "run.start_date must be <= 2199-12-31",
    ),
    # math.exp overflowed in the distribution's mean (OverflowError)
    "lognormal_infinite_mean": (
        '[cohorts.children]\ntreatment_los_days = { dist = "lognormal", mu = 800, sigma = 1 }',
        "cohorts.children.treatment_los_days: its mean must be at most 1,000,000 in the key's "
        "unit, got inf",
    ),
    "lognormal_infinite_variance": (
        '[community.p1]\nepisode_days = { dist = "lognormal", mu = -400, sigma = 28.5 }',
        "community.p1.episode_days: its variance must be finite, got inf (mean 457.1",
    ),
    # valid, then math.floor(inf) in the engine's capacity (OverflowError)
    "workforce_overflow": (
        '[community.p1]\nplaces = "unlimited"\n',
        None,  # unlimited is fine: the control case
    ),
    "workforce_huge": (
        "[community.p3]\nworkforce = { qualified_fte = 1e308, caseload_per_qualified_fte = 2 }\n"
        "places = 1\n",
        "community.p3.workforce.qualified_fte must be <= 1e+06, got 1e+308",
    ),
    # valid, then an engine asked for 10^30 beds or patients
    "beds_huge": (
        "[acute]\nbeds = 1000000000000000000000000000000",
        'acute.beds must be <= 1,000,000 or "unlimited", got a whole number of about 31 digits',
    ),
    "initial_state_huge": (
        '[acute]\nbeds = "unlimited"\n[run]\nwarm_up_days = 0\n'
        "[initial_state]\nacute_treating = 100000000000",
        "initial_state.acute_treating must be <= 10,000,000, got 100000000000",
    ),
    "attendances_huge": (
        "[cohorts.children]\nattendances_per_year = 1e300",
        "cohorts.children.attendances_per_year must be <= 1e+08, got 1e+300",
    ),
    # valid, then 0 / 0 when normalising the months
    "months_all_zero": (
        "[demand]\nmonth_multipliers = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]",
        "demand.month_multipliers must not all be zero",
    ),
    # valid, then a sum of weights overflowed to inf (NaN arrival rates)
    "profile_weight_huge": (
        "[demand.profiles.gp]\nday_of_week = [1e308, 1, 1, 1, 1, 1, 1]",
        "demand.profiles.gp.day_of_week[0] must be <= 1e+06, got 1e+308",
    ),
    # two lines (one per branch of the union) for one problem
    "beds_fraction": (
        "[acute]\nbeds = 3.5",
        "acute.beds must be a whole number, got 3.5",
    ),
    "beds_nan": (
        "[acute]\nbeds = nan",
        "acute.beds must be a whole number, got nan",
    ),
    "beds_bool": (
        "[acute]\nbeds = true",
        'acute.beds must be a whole number or "unlimited", got true',
    ),
    # "must be a date with no time of day" for a number
    "date_a_number": (
        "[run]\nstart_date = 5",
        "run.start_date must be a date like 2016-04-01, got 5",
    ),
    # an empty table for a name was silently replaced by the file name
    "name_a_table": ("name = {}", "name must be text, got a table"),
    # the name is the default output folder: outputs/../../x would write elsewhere
    "name_a_path": ('name = "../../x"', "name must be printable text with no / or \\"),
    "name_too_long": ('name = "' + "x" * 300 + '"', "name must be at most 100 characters"),
    # OSError (file name too long) from Path.is_file
    "extends_name_too_long": (None, "extends must name an existing file"),
}


@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_input_that_once_crashed_gives_one_clear_line(case, tmp_path, baseline_path):
    body, expected = REGRESSIONS[case]
    path = tmp_path / f"{case}.toml"
    if body is None:
        path.write_text('extends = "' + "a" * 5000 + '.toml"\n')
    else:
        path.write_text(f'extends = "{baseline_path}"\n{body}\n')
    if expected is None:
        assert load_scenario(path).acute.beds == 415
        return
    out = tmp_path / "out"
    # validate first asks whether the file is an experiment: that must not crash either
    for command in (["validate", str(path)], ["run", str(path), "--out", str(out)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"error: {path}: ")
        assert expected in lines[0]
        assert len(lines[0]) < 400  # a huge value is summarised, not printed whole
    assert not out.exists()


def test_a_byte_order_mark_is_read(tmp_path, baseline_path):
    """Windows editors often write UTF-8 with a BOM; it used to be 'not valid TOML'."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + f'extends = "{baseline_path}"\nname = "bom"\n'.encode())
    assert load_scenario(path).name == "bom"


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(
        ScenarioError,
        match=r"latin1.toml: cannot read the file: it is not UTF-8 "
        r"text \(byte 11\)",
    ):
        load_scenario(path)


def test_a_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.toml"
    with path.open("wb") as f:
        f.truncate(10_000_001)
    with pytest.raises(ScenarioError, match="is not a scenario file"):
        load_scenario(path)


PROFILE_ERRORS = {
    "both_forms": (
        {"hour_of_week": [1] * 168, "day_of_week": [1] * 7},
        "give hour_of_week, or day_of_week with hour_of_day, not both",
    ),
    "week_too_short": ({"hour_of_week": [1] * 100}, "hour_of_week needs 168 values, got 100"),
    "day_without_hour": ({"day_of_week": [1] * 7}, "give hour_of_week, or both day_of_week"),
    "hours_short": (
        {"day_of_week": [1] * 7, "hour_of_day": [1] * 23},
        "hour_of_day needs 24 values, got 23",
    ),
}


@pytest.mark.parametrize("case", sorted(PROFILE_ERRORS))
def test_a_profile_of_the_wrong_shape_is_refused(case, baseline_path):
    profile, expected = PROFILE_ERRORS[case]
    base = load_scenario(baseline_path)
    with pytest.raises(ScenarioError, match=re.escape(f"demand.profiles.gp: {expected}")):
        base.override({"demand.profiles.gp": profile})


def test_an_hour_of_week_profile_gives_shares_of_the_week(baseline_path):
    weights = [0] * 24 + [1] * 144  # nobody arrives on Monday
    scenario = load_scenario(baseline_path).override(
        {"demand.profiles.gp": {"hour_of_week": weights}}
    )
    shares = scenario.demand.profiles["gp"].weights()
    assert shares[:24] == [0] * 24
    assert sum(shares) == pytest.approx(1)
    assert shares[24] == pytest.approx(1 / 144)


def test_an_avoidable_share_by_year_holds_its_last_value(baseline_path):
    scenario = load_scenario(baseline_path).override(
        {"cohorts.frail_older.avoidable_share": [0.1, 0.2, 0.3]}
    )
    cohort = scenario.cohorts["frail_older"]
    shares = [cohort.avoidable_share_in_year(i) for i in (-1, 0, 1, 2, 5)]
    assert shares == [0.1, 0.1, 0.2, 0.3, 0.3]


MORE_RULES = {
    "sdec.chairs": (-1, "sdec.chairs must be >= 0, got -1"),
    "acute.capacity_changes": (
        [{"date": "2016-06-01", "beds": -2}],
        "acute.capacity_changes[0].beds must be >= 0, got -2",
    ),
    "plan.baseline_year": ("2016/18", "plan.baseline_year must be a financial year like 2016/17"),
}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [(k, v, e) for k, (v, e) in MORE_RULES.items()],
)
def test_more_rules_name_the_key_and_value(key, value, expected, baseline_path):
    base = load_scenario(baseline_path).override({"run.warm_up_days": 0})
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        base.override({key: value})


def test_a_starting_state_needs_the_services_it_fills(baseline_path):
    """Patients in, or waiting for, a service that the scenario does not have."""
    for state, service in (
        ({"community_in_use": {"urgent_response": 2}}, "urgent_response"),
        ({"delayed": {"p3": 2}}, "p3"),
    ):
        data = resolve_file(baseline_path)
        data["run"]["warm_up_days"] = 0
        data["initial_state"] = state
        del data["community"][service]
        for cohort in data["cohorts"].values():  # nobody is sent to the missing service
            cohort["pathway"]["p0"] += cohort["pathway"].pop("p3", 0)
        with pytest.raises(ScenarioError, match=rf"initial_state\.\w+\.{service} needs a "):
            Scenario.from_dict(data, source="state.toml")


def test_override_makes_missing_tables_and_refuses_to_go_through_a_value(baseline_path):
    base = load_scenario(baseline_path)
    planned = base.override({"plan.baseline_year": "2016/17"})
    assert planned.plan.baseline_year == "2016/17"
    with pytest.raises(ScenarioError, match="cannot override acute.beds.x: acute.beds is not a"):
        base.override({"acute.beds.x": 1})
