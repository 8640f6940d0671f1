"""The metric catalogue is the one list of metrics: the docs and the runs agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, small_system

from sim.codes import SERVICES
from sim.metrics import catalogue
from sim.runs.runner import run_batch
from sim.scenario.params import build_costs, build_params
from sim.scenario.schema import Scenario

METRICS_DOC = ROOT / "docs" / "metrics.md"


def _documented() -> dict[str, str]:
    """Metric name (families with their placeholder) -> the unit column, from docs/metrics.md."""
    text = METRICS_DOC.read_text()
    text = text[: text.index("## Daily series")]  # the series tables below are not metrics
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\| (`[^|]+`) \| ([^|]+) \|", line)
        if not match:
            continue
        names = re.findall(r"`([^`]+)`", match.group(1))
        unit = match.group(2).strip()
        first = names[0]
        for name in names:
            if name.startswith("_"):  # `delayed_bed_days_p1` / `_p2` / `_p3`
                name = first[: first.rindex("_")] + name
            out[re.sub(r"<(\w+)>", r"{\1}", name)] = unit
    return out


def _catalogued() -> dict[str, str]:
    out = {}
    for metric in catalogue.CATALOGUE:
        if metric.family == "pathway":
            for p in ("p1", "p2", "p3"):
                out[metric.name.format(pathway=p)] = metric.counts
        else:
            out[metric.name] = metric.counts
    return out


def test_docs_metrics_md_lists_exactly_the_catalogue_with_its_units():
    documented, catalogued = _documented(), _catalogued()
    assert sorted(set(catalogued) - set(documented)) == [], "catalogued, not documented"
    assert sorted(set(documented) - set(catalogued)) == [], "documented, not catalogued"
    differ = {
        n: (documented[n], catalogued[n]) for n in catalogued if documented[n] != catalogued[n]
    }
    assert differ == {}, "unit in docs/metrics.md vs catalogue"


def test_every_headline_is_a_catalogued_metric():
    for name in catalogue.HEADLINES:
        assert catalogue.find(name) is not None, name


@pytest.mark.parametrize(
    "data",
    [
        small_system(**{"run.horizon_years": 0.05, "run.warm_up_days": 2}),
        small_system(**{"run.horizon_years": 0.05, "run.warm_up_days": 2, "community.p2": None}),
    ],
    ids=["every_service", "no_p2"],
)
def test_a_run_reports_exactly_the_catalogue_names_in_their_order(data):
    data = {k: v for k, v in data.items()}
    if data["community"].get("p2") is None:
        data["community"].pop("p2")
        for cohort in data["cohorts"].values():
            mix = cohort.get("pathway")
            if mix:
                mix["p0"] += mix.pop("p2", 0.0)
    scenario = Scenario.from_dict(data)
    params = build_params(scenario)
    metrics = run_batch(params, 1, [0], "simpy", costs=build_costs(scenario, params)).metrics
    reported = list(dict.fromkeys(metrics["metric"]))
    services = [s for s in SERVICES if scenario.service(s) is not None]
    assert reported == catalogue.names(list(scenario.cohorts), services)


def test_labels_and_units_of_family_members():
    assert catalogue.label("community_wait_days_p1") == "P1 wait from fit to start (days)"
    assert catalogue.label("attendances_frail_older") == "A&E attendances: frail older"
    assert catalogue.unit("community_occupancy_urgent_response") == "share"
    assert catalogue.unit("cost_community_p3") == "gbp"
    assert catalogue.find("no_such_metric") is None
    assert catalogue.label("no_such_metric") == "No such metric"


def test_docs_do_not_point_outside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = Path(path).read_text()
        assert "../shared" not in text, f"{path.name} points outside the repository"
