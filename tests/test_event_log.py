"""The event log in vidigi's and bupaR's shapes, loaded back as each tool documents them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import small_system

import sim
from sim.cli import main
from sim.runs.events import BUPAR_COLUMNS, VIDIGI_COLUMNS, place_numbers

VIDIGI_EVENT_TYPES = {"arrival_departure", "queue", "resource_use", "resource_use_end"}


@pytest.fixture(scope="module")
def results() -> sim.Results:
    scenario = sim.Scenario.from_dict(
        small_system(**{"run.horizon_years": 0.05, "run.warm_up_days": 10})
    )
    return sim.run(scenario, reps=2, seed=5)


@pytest.fixture(scope="module")
def vidigi(results) -> pd.DataFrame:
    return results.event_log("vidigi")


def test_place_numbers_are_lowest_free_and_never_shared():
    starts = np.array([0.0, 1.0, 2.0, 2.0, 5.0])
    ends = np.array([3.0, 2.0, np.nan, 4.0, 6.0])
    # 0: place 1 to 3; 1: place 2 to 2; at 2, place 2 is free again, then 3 takes place 3;
    # at 5, places 1 and 3 are free: 1
    assert place_numbers(starts, ends).tolist() == [1, 2, 2, 3, 1]


def test_vidigi_log_has_its_documented_shape(vidigi, results):
    assert list(vidigi.columns) == VIDIGI_COLUMNS
    assert set(vidigi["event_type"]) == VIDIGI_EVENT_TYPES
    assert set(vidigi["run_number"]) == {0, 1}
    assert set(vidigi["pathway"]) <= set(results.scenarios[0].cohorts)
    assert (vidigi["time"] >= 0).all()  # warm-up excluded
    uses = vidigi["event_type"].isin(["resource_use", "resource_use_end"])
    assert vidigi.loc[uses, "resource_id"].notna().all()
    assert vidigi.loc[~uses, "resource_id"].isna().all()
    assert set(vidigi.loc[vidigi.event_type == "arrival_departure", "event"]) == {
        "arrival",
        "depart",
    }
    by_patient = vidigi.groupby(["run_number", "entity_id"], sort=False)
    assert (by_patient["event"].first() == "arrival").all()
    assert (by_patient["time"].diff().dropna() >= 0).all()
    departed = vidigi[vidigi.event == "depart"].set_index(["run_number", "entity_id"]).index
    assert (by_patient["event"].last().loc[departed] == "depart").all()


def test_no_two_patients_hold_one_place_at_once(vidigi):
    for (_run, event), begins in vidigi[vidigi.event_type == "resource_use"].groupby(
        ["run_number", "event"]
    ):
        stage = event.removesuffix("_begins")
        ends = vidigi[(vidigi.run_number == _run) & (vidigi.event == f"{stage}_ends")]
        stays = begins.merge(ends, on=["entity_id", "resource_id"], how="left")
        for _place, held in stays.groupby("resource_id"):
            held = held.sort_values("time_x")
            finish = held["time_y"].fillna(np.inf).to_numpy()
            assert (held["time_x"].to_numpy()[1:] >= finish[:-1]).all()


def test_bupar_activity_log_has_its_documented_shape(results, vidigi):
    bupar = results.event_log("bupar")
    assert list(bupar.columns) == BUPAR_COLUMNS
    start = pd.to_datetime(bupar["start"], format="ISO8601")
    complete = pd.to_datetime(bupar["complete"], format="ISO8601")
    assert (start <= complete).all()
    assert start.min() >= pd.Timestamp(results.scenarios[0].run.start_date)
    assert bupar["activity_instance_id"].is_unique
    assert set(bupar["activity"]) <= {"urgent_response", "ed", "sdec", "bed", "p1", "p2", "p3"}
    ended = vidigi[vidigi.event_type == "resource_use_end"]
    assert len(bupar) == len(ended)  # one activity per completed use
    cases = set(vidigi["run_number"].astype(str) + "-" + vidigi["entity_id"].astype(str))
    assert set(bupar["case_id"]) <= cases


def test_saved_event_logs_load_back_in_their_shapes(tmp_path, results):
    out = tmp_path / "out"
    folder = results.save(out)
    written = results.save_event_log(folder)
    assert [p.name for p in written] == ["events_vidigi.csv", "events_bupar.csv"]
    loaded = pd.read_csv(out / "events_vidigi.csv", dtype={"resource_id": "Int64"})
    assert list(loaded.columns) == VIDIGI_COLUMNS
    assert len(loaded) == len(results.event_log("vidigi"))
    assert list(pd.read_csv(out / "events_bupar.csv").columns) == BUPAR_COLUMNS
    assert "events_vidigi.csv" in (out / "leftshift.json").read_text()
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 0
