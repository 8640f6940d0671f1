"""The ecosystem's conventions: a JSON Schema, provenance, pinned installs, a licence, caches."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

import sim
from sim.cli import main
from sim.scenario.files import resolve_file
from sim.scenario.schema import json_schema

SCENARIO_FILES = sorted(CONFIGS.glob("**/*.toml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(CliRunner().invoke(main, ["schema"]).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _as_json(path: Path) -> object:
    return json.loads(json.dumps(resolve_file(path), default=str))  # TOML dates as text


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_scenario_file_validates_against_the_schema(validator, path):
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_as_json(path))]
    assert errors == []


def test_the_schema_refuses_what_loading_refuses(validator):
    data = _as_json(CONFIGS / "baseline.toml")
    data["acute"]["bedz"] = 5  # a misspelt key
    data["cohorts"]["frail_older"]["treatment_los_days"] = {"dist": "lognormal", "mean": 5}
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert "'bedz' was unexpected" in messages
    assert "is not valid under any of the given schemas" in messages


def test_schema_out_writes_the_same_schema(tmp_path):
    out = tmp_path / "scenario.schema.json"
    result = CliRunner().invoke(main, ["schema", "--out", str(out)])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"Schema: {out}"
    assert json.loads(out.read_text()) == json_schema()


def _key_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z_][a-z0-9_]*", text))


def test_docs_scenario_md_names_every_key_of_the_schema_and_no_other():
    schema = json_schema()
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    families = {
        d["properties"]["dist"]["const"]
        for d in schema["$defs"].values()
        if "const" in d.get("properties", {}).get("dist", {})
    }
    doc = re.sub(r"```.*?```", "", (ROOT / "docs" / "scenario.md").read_text(), flags=re.S)
    documented = set().union(*(_key_words(t) for t in re.findall(r"`([^`]+)`", doc)))
    assert sorted(keys - documented) == []
    in_key_columns: set[str] = set()
    for line in doc.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            for ticked in re.findall(r"`([^`]+)`", first_cell):
                in_key_columns |= _key_words(re.sub(r"\*_\w+|\{service\}", "", ticked))
    assert sorted(in_key_columns - keys - families) == []


# --- provenance ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[sim.Results, Path, Path]:
    """A one-replication run of a variant of the baseline, saved; the variant's file."""
    tmp = tmp_path_factory.mktemp("provenance")
    variant = tmp / "variant.toml"
    variant.write_text(
        f'extends = "{CONFIGS / "baseline.toml"}"\nname = "variant"\n'
        "[run]\nwarm_up_days = 0\nhorizon_years = 0.02\nreps = 1\n"
    )
    results = sim.run(sim.load_scenario(variant), reps=1)
    return results, results.save(tmp / "out"), variant


def test_provenance_names_versions_inputs_and_commit(saved_run):
    results, folder, variant = saved_run
    made = results.meta["provenance"]
    assert made["python"] == ".".join(map(str, sys.version_info[:3]))
    assert made["packages"]["numpy"] == metadata.version("numpy")
    assert made["packages"]["leftshift"] == sim.__version__
    assert set(made["packages"]) >= {"simpy", "numba", "scipy", "pandas"}
    assert made["inputs"] == [
        {"path": str(p.resolve()), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in (variant, CONFIGS / "baseline.toml")
    ]
    assert made["git"] is None  # the variant's folder is in no repository
    saved = json.loads((folder / "scenario.json").read_text())["provenance"]
    assert saved == made
    assert CliRunner().invoke(main, ["report", str(folder)]).exit_code == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"numpy {metadata.version('numpy')}" in page
    assert f"sha256 {made['inputs'][1]['sha256']}" in page


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_provenance_has_the_commit_of_a_scenario_in_a_repository():
    from sim.runs.provenance import provenance

    inside = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    made = provenance([str(CONFIGS / "baseline.toml")])
    assert made["git"]["commit"] == inside.stdout.strip()
    assert isinstance(made["git"]["uncommitted_changes"], bool)


# --- the report page -----------------------------------------------------------------------------


def test_the_report_page_escapes_what_it_shows_and_keeps_findings_as_html(saved_run, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(saved_run[1], folder)
    provenance = json.loads((folder / "scenario.json").read_text())
    provenance["scenarios"][0]["source"] = "<script>alert('x')</script>.toml"
    (folder / "scenario.json").write_text(json.dumps(provenance))
    (folder / "findings.html").write_text("<p>Delays <b>fell</b>.</p>")
    assert CliRunner().invoke(main, ["report", str(folder)]).exit_code == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;.toml" in page
    assert '<div id="findings"><p>Delays <b>fell</b>.</p></div>' in page
    assert '<a href="#findings">Findings</a>' in page


# --- installs, licence, caches -------------------------------------------------------------------


def test_make_installs_from_the_constraints_and_they_pin_every_dependency():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -e '.[dev]' -c $(CONSTRAINTS)" in makefile
    assert "constraints:" in makefile  # the documented refresh
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[\[<>=]", w)[0]).lower() for w in wanted}
    assert sorted(names - set(pinned)) == []


def test_the_licence_is_the_one_pyproject_names():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_vega_cache_is_in_the_folder_platformdirs_gives(monkeypatch, tmp_path):
    import platformdirs

    from sim.present.report import _cache_dir

    assert _cache_dir() == platformdirs.user_cache_path("leftshift", appauthor=False)
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert _cache_dir() == tmp_path / "leftshift"


def test_the_schema_takes_an_uncertain_number_and_refuses_a_bad_one(validator):
    data = _as_json(CONFIGS / "baseline.toml")
    cohort = data["cohorts"]["frail_older"]  # type: ignore[index]
    cohort["p_admit"] = {"uncertain": "beta", "mean": 0.5, "sd": 0.03}
    assert list(validator.iter_errors(data)) == []
    cohort["p_admit"] = {"uncertain": "beta", "mean": 0.5}  # no sd, as loading refuses
    assert list(validator.iter_errors(data)) != []
