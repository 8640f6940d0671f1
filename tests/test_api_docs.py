"""docs/api.md cannot rot: its python blocks run, and it names every public function."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil

import pytest
from conftest import CONFIGS, ROOT

import sim

API_DOC = ROOT / "docs" / "api.md"
PUBLIC_FUNCTIONS = ["load_scenario", "run", "run_experiment", "compare", "run_sweep"]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_the_page_has_a_worked_example():
    blocks = python_blocks(API_DOC.read_text())
    assert len(blocks) >= 4
    code = "\n".join(blocks)
    for step in ("load_scenario", "override", 'engine="fast"', "sim.compare", ".save("):
        assert step in code


def test_the_python_blocks_run(tmp_path, monkeypatch):
    """In order, in one namespace, from a folder holding a copy of configs/."""
    shutil.copytree(CONFIGS, tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "api_docs"}
    for i, block in enumerate(python_blocks(API_DOC.read_text())):
        exec(compile(block, f"docs/api.md python block {i + 1}", "exec"), namespace)
    assert (tmp_path / "occupancy.html").stat().st_size > 1000
    assert (tmp_path / "outputs" / "fewer_beds" / "comparison.csv").exists()


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_each_public_function_is_documented_with_its_arguments(name):
    text = API_DOC.read_text()
    function = getattr(sim, name)
    heading = re.search(rf"^## `{name}\((.*)\) -> \w+`$", text, flags=re.MULTILINE)
    assert heading, f"docs/api.md has no heading for {name}"
    documented = [a.split("=")[0].strip(" *") for a in heading.group(1).split(",")]
    actual = [
        p for p in inspect.signature(function).parameters if p not in ("self",)
    ]  # every argument, in order
    assert [a for a in documented if a] == actual


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_each_public_function_states_units_in_its_docstring(name):
    doc = inspect.getdoc(getattr(sim, name)) or ""
    assert re.search(r"days|hours|GBP|_gbp|share|fraction", doc), doc


def test_every_chart_builder_is_exported_and_documented():
    text = API_DOC.read_text()
    for name in sim.CHART_BUILDERS:
        builder = getattr(sim, name)
        assert builder is getattr(importlib.import_module("sim.present.charts"), name)
        assert f"| `{name}(" in text
    assert set(sim.CHART_BUILDERS) <= set(sim.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_chart'"):
        sim.no_such_chart  # noqa: B018


def test_the_readme_links_the_api_page():
    assert "docs/api.md" in (ROOT / "README.md").read_text()
