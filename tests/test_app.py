"""The scenario explorer (sim/app): its inputs, uploads, downloads, and the page driven by
Streamlit's AppTest (load, change P1 places, run, read the headline; a bad upload; a
downloaded scenario reproducing the app's numbers through sim.run).

Runs are tiny (a few weeks after a week's warm-up, two replications): the page's
behaviour, not the model's, is under test here.
"""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ROOT

import sim
from sim.app import CONFIGS_ENV, inputs, serve, sources
from sim.cli import main

PAGE = ROOT / "sim" / "app" / "page.py"
CONFIGS = ROOT / "configs"
TINY = {"run.horizon_years": 0.05, "run.warm_up_days": 7, "run.reps": 2}
"""Run settings that keep an app run to a second or two."""


@pytest.fixture(scope="module", autouse=True)
def _streamlit_folder():
    """AppTest keeps a temporary folder for the process; removed here, not at exit (where
    Python would warn of it)."""
    yield
    from streamlit.testing.v1 import app_test

    app_test.TMP_DIR.cleanup()


@pytest.fixture(scope="module")
def baseline() -> sim.Scenario:
    return sim.load_scenario(CONFIGS / "baseline.toml")


@pytest.fixture(scope="module")
def baseline_inputs(baseline: sim.Scenario) -> list[inputs.Input]:
    return inputs.inputs_of(baseline.to_dict(), sim.json_schema())


# --- inputs -------------------------------------------------------------------------------------


def test_every_key_of_the_scenario_is_an_input_levers_first(baseline, baseline_inputs):
    paths = [i.path for i in baseline_inputs]
    assert len(paths) == len(set(paths))
    for path in ("acute.beds", "sdec.chairs", "sdec.open", "community.p1.places"):
        assert path in paths
    assert "costs.acute_bed_day_gbp" in paths
    assert "cohorts.frail_older.treatment_los_days" in paths  # a distribution, edited whole
    levers = [i.path for i in baseline_inputs if inputs.is_lever(i.path)]
    assert paths[: len(levers)] == levers
    assert levers[:3] == ["acute.beds", "sdec.chairs", "sdec.open"]
    assert {"cohorts.frail_older.avoidable_share", "community.p3.accepts"} <= set(levers)


def test_inputs_carry_their_unit_group_and_help(baseline_inputs):
    by_path = {i.path: i for i in baseline_inputs}
    beds = by_path["acute.beds"]
    assert (beds.unit, beds.group, beds.kind) == ("places", "Beds", "int")
    assert '"unlimited"' in beds.help
    assert "from 0" not in beds.help
    assert by_path["community.p1.places"].group == "Community: P1 (home care)"
    assert by_path["community.p1.episode_days"].unit == "days"
    assert by_path["costs.acute_bed_day_gbp"].unit == "GBP"
    assert by_path["sdec.p_admit"].unit == "share 0-1"
    assert "from 0 to 1" in by_path["sdec.p_admit"].help
    assert by_path["community.p1.cost_basis"].choices == ("occupied", "commissioned")
    assert by_path["run.bank_holidays"].kind == "bool"
    assert all(i.help for i in baseline_inputs)
    assert beds.help.startswith("Open acute beds.")  # the key's own description comes first


def test_every_input_has_its_own_description_in_the_schema(baseline_inputs):
    from sim.app.inputs import schema_at

    schema = sim.json_schema()
    undescribed = [
        i.path for i in baseline_inputs if not schema_at(schema, i.path)[0].get("description")
    ]
    assert undescribed == []


@pytest.mark.parametrize(
    "value",
    [
        130,
        0.25,
        True,
        "Mon-Fri 09:00-17:00",
        'a "quoted"\\ value\x7f',
        [0.0, 0.2, 0.25],
        {"dist": "lognormal", "mean": 6.5, "sd": 9.0},
        "unlimited",
    ],
)
def test_a_value_reads_back_as_written(value):
    assert inputs.parse(inputs.show(value)) == value


def test_a_value_that_is_not_toml_says_so():
    with pytest.raises(ValueError, match="not a TOML value"):
        inputs.parse("[1, 2")


def test_the_edited_file_gives_the_scenario_override_gives(baseline, tmp_path):
    changes = {
        "community.p1.places": 140,
        "sdec.open": "every day 07:00-22:00",
        "cohorts.frail_older.avoidable_share": [0.0, 0.1],
        "cohorts.frail_older.treatment_los_days": {"dist": "fixed", "value": 5.0},
        "run.seed": 7,
    }
    shutil.copytree(CONFIGS, tmp_path / "configs")
    path = tmp_path / "configs" / "mine.toml"
    path.write_text(inputs.extension_toml("baseline.toml", "mine", changes, "a note\non two lines"))
    loaded = sim.load_scenario(path).to_dict()
    expected = baseline.override(changes, name="mine").to_dict()
    loaded.pop("description"), expected.pop("description")
    assert loaded == expected
    assert path.read_text().startswith("# a note\n# on two lines\nextends = ")


# --- uploads ------------------------------------------------------------------------------------


BAD = b"""extends = "baseline.toml"

[acute]
beds = -5
bedz = 3
"""


def test_a_bad_upload_gives_the_command_lines_messages(tmp_path, monkeypatch):
    with pytest.raises(sim.ScenarioError) as caught:
        sources.load_upload(CONFIGS, "bad.toml", BAD)
    shutil.copytree(CONFIGS, tmp_path / "configs")
    (tmp_path / "configs" / "bad.toml").write_bytes(BAD)
    monkeypatch.chdir(tmp_path / "configs")
    result = CliRunner().invoke(main, ["validate", "bad.toml"])
    assert result.exit_code == 2
    cli_lines = result.stderr.splitlines()
    assert [f"error: {m}" for m in caught.value.messages] == cli_lines
    assert "error: bad.toml: acute.beds must be >= 0, got -5" in cli_lines


@pytest.mark.parametrize("parent", ["../README.md", "/etc/passwd", "../../../etc/passwd"])
def test_an_upload_cannot_extend_a_file_outside_the_library(parent):
    data = f'extends = "{parent}"\n'.encode()
    with pytest.raises(sim.ScenarioError, match="extends must name a file in the scenario lib"):
        sources.load_upload(CONFIGS, "escape.toml", data)


@pytest.mark.parametrize("path", ["../README.md", "/etc/passwd"])
def test_an_upload_cannot_read_a_demand_series_outside_the_library(path):
    data = f'extends = "baseline.toml"\n[demand.series]\nfile = "{path}"\n'.encode()
    with pytest.raises(sim.ScenarioError, match="demand.series.file must name a file in the scen"):
        sources.load_upload(CONFIGS, "escape.toml", data)


def test_a_large_upload_is_refused_unread():
    with pytest.raises(sim.ScenarioError, match="larger than 1,000,000 bytes"):
        sources.load_upload(CONFIGS, "big.toml", b"#" * (sources.MAX_UPLOAD_BYTES + 1))


def test_an_upload_names_itself_and_reads_no_file_for_provenance(baseline):
    scenario = sources.load_upload(CONFIGS, "../../plan.toml", b'extends = "baseline.toml"\n')
    assert scenario.name == "plan"
    assert scenario.source == "<upload plan.toml>"
    assert scenario.acute.beds == baseline.acute.beds


def test_the_library_lists_scenarios_not_experiments(tmp_path):
    shutil.copytree(CONFIGS, tmp_path / "configs")
    (tmp_path / "configs" / "sweep.toml").write_text('scenario = "x"\n[[vary]]\n')
    listed = sources.scenario_files(tmp_path / "configs")
    assert "baseline.toml" in listed
    assert "examples/p1_plus_20.toml" in listed
    assert "sweep.toml" not in listed
    with pytest.raises(sim.ScenarioError, match="not a scenario file"):
        sources.load_library(tmp_path / "configs", "../pyproject.toml")


# --- serving ------------------------------------------------------------------------------------


def test_the_server_listens_on_localhost_with_uploads_capped(tmp_path):
    args = serve.command()
    assert args[args.index("--server.address") + 1] == "127.0.0.1"
    assert args[args.index("--server.maxUploadSize") + 1] == "1"
    assert args[args.index("--browser.gatherUsageStats") + 1] == "false"
    assert serve.environment(tmp_path, {})[CONFIGS_ENV] == str(tmp_path.resolve())


def test_leftshift_app_is_a_command():
    result = CliRunner().invoke(main, ["app", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output


# --- the page -----------------------------------------------------------------------------------


@pytest.fixture
def app(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(CONFIGS_ENV, str(CONFIGS))
    at = AppTest.from_file(str(PAGE), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def _tiny(at, **more):
    for path, value in {**TINY, **more}.items():
        widget = at.number_input(key=f"in:{path}")
        widget.set_value(value)
    return at.run()


def _headline(at) -> pd.DataFrame:
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []
    return at.table[0].value


def test_load_change_p1_places_run_and_see_the_headline_change(app, baseline):
    assert app.selectbox(key="file").value == "baseline.toml"
    _tiny(app, **{"run.seed": 11, "community.p1.places": baseline.community.p1.places - 40})
    assert any("changed (was" in c.value for c in app.caption)
    app.button(key="run").click().run()
    table = _headline(app)
    change = "baseline edited vs baseline"
    assert change in table.columns
    delayed = table.loc["Delayed bed days (P1-P3)"]
    delayed = delayed.iloc[0] if isinstance(delayed, pd.DataFrame) else delayed
    assert delayed[change].startswith("+"), delayed  # fewer P1 places: more delayed bed days
    assert "leftshift" in " ".join(c.value for c in app.caption)
    assert len(app.get("vega_lite_chart")) >= 5  # the report's charts
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Scenario file (baseline_edited.toml)", "report.html", "summary.csv"]


def test_a_run_asked_again_comes_from_the_cache(app, monkeypatch):
    import sim.app.answer as answer_module

    calls = []
    real = answer_module.answer

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(answer_module, "answer", counting)
    _tiny(app, **{"run.seed": 12})
    app.button(key="run").click().run()
    first = _headline(app)
    app.button(key="run").click().run()
    assert _headline(app).equals(first)
    assert len(calls) == 1


def test_reset_puts_an_input_back(app, baseline):
    app.number_input(key="in:acute.beds").set_value(300).run()
    app.button(key="reset:acute.beds").click().run()
    assert app.number_input(key="in:acute.beds").value == baseline.acute.beds
    assert not any("changed (was" in c.value for c in app.caption)


def test_a_bad_upload_shows_every_problem(app):
    app.file_uploader(key="upload").set_value(("bad.toml", BAD, "application/toml")).run()
    errors = [e.value for e in app.error]
    assert errors == [
        "error: bad.toml: acute.beds must be >= 0, got -5",
        "error: bad.toml: acute.bedz is not a known key (did you mean 'beds'?)",
    ]
    assert len(app.button) == 0  # nothing to run


def test_a_downloaded_scenario_gives_the_apps_numbers_through_sim_run(app, tmp_path):
    _tiny(app, **{"run.seed": 13, "community.p2.places": 60})
    app.selectbox(key="against").set_value("none").run()
    app.button(key="run").click().run()
    _headline(app)
    text = app.session_state["scenario_toml"]
    app_summary = pd.read_csv(io.BytesIO(app.session_state["summary_csv"]))
    shutil.copytree(CONFIGS, tmp_path / "configs")
    path = tmp_path / "configs" / "baseline_edited.toml"
    path.write_text(text)
    scenario = sim.load_scenario(path)
    results = sim.run(scenario)  # reps and seed from the file, as leftshift run takes them
    again = pd.read_csv(io.StringIO(results.summary.to_csv(index=False)))
    pd.testing.assert_frame_equal(again, app_summary)
