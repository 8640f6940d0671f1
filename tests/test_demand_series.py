"""Demand as a dated series (``[demand.series]``): counts by day or week from a CSV file.

Within each period the count is spread over its hours by the cohort's profile;
outside the series, the cohort's annual volume x profile x growth applies.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, small_system
from test_fast_engine import assert_identical

from sim.codes import Origin
from sim.errors import ScenarioError
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario, load_scenario

START = dt.date(2016, 4, 11)  # a Monday, in the small system's run (from 2016-03-15)
DAYS = 30


def _series_system() -> tuple[Scenario, list[float]]:
    counts = [0.0 if i % 2 else 200.0 for i in range(DAYS)]  # 200 on alternate days
    data = small_system()
    data["demand"]["series"] = {"start": START, "cohorts": {"adults": {"attendances": counts}}}
    return Scenario.from_dict(data), counts


def test_each_days_count_arrives_on_its_day_in_both_engines() -> None:
    scenario, counts = _series_system()
    params = build_params(scenario)
    cal = params.calendar
    first = int(cal.hours_at(START))
    rate = params.cohorts[1].ed_rate_h
    by_day = rate[first : first + 24 * DAYS].reshape(DAYS, 24).sum(axis=1)
    np.testing.assert_allclose(by_day, counts, rtol=1e-12)
    # outside the series: the annual volume (12,000 a year) x the profile
    assert rate[:first].sum() / (first / 24) == pytest.approx(12000 / 365.25, rel=0.05)

    records = assert_identical(params, reps=2)  # identical patient for patient
    for record in records:
        P = record.patients
        adults = (P["cohort"] == 1) & (P["origin"] == Origin.ED)
        day = np.floor((P["t_arrival"][adults] - first) / 24).astype(int)
        arrived = np.bincount(day[(day >= 0) & (day < DAYS)], minlength=DAYS)
        assert (arrived[1::2] == 0).all()  # a day with no count has no arrival
        total = arrived[::2].sum()  # Poisson with mean 15 x 200 = 3,000
        assert abs(total - 3000) < 4.5 * math.sqrt(3000)


def _write(tmp: Path, csv_text: str, period: str = "day") -> Path:
    (tmp / "demand.csv").write_text(csv_text)
    toml = tmp / "observed.toml"
    toml.write_text(
        f'extends = "{ROOT / "configs" / "baseline.toml"}"\n'
        f'[demand.series]\nfile = "demand.csv"\nperiod = "{period}"\n'
    )
    return toml


def test_a_series_file_is_read_with_the_scenario(tmp_path: Path) -> None:
    rows = ["date,cohort,attendances,direct_admissions"]
    for week in range(4):
        day = dt.date(2016, 4, 4) + dt.timedelta(weeks=week)
        rows.append(f"{day},frail_older,{250 + week},80")
        rows.append(f"{day},children,{300 + week},")
    scenario = load_scenario(_write(tmp_path, "\n".join(rows) + "\n", period="week"))
    series = scenario.demand.series
    assert series is not None
    assert series.start == dt.date(2016, 4, 4)
    assert series.cohorts["frail_older"].attendances == (250, 251, 252, 253)
    assert series.cohorts["children"].direct_admissions is None
    params = build_params(scenario)
    first = int(params.calendar.hours_at(series.start))
    frail = params.cohorts[0]
    weeks = frail.ed_rate_h[first : first + 4 * 168].reshape(4, 168).sum(axis=1)
    np.testing.assert_allclose(weeks, [250, 251, 252, 253], rtol=1e-12)
    direct = frail.direct_rate_h[first : first + 4 * 168].reshape(4, 168).sum(axis=1)
    np.testing.assert_allclose(direct, 80, rtol=1e-12)


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("date,cohort\n2016-04-04,children\n", "has no column 'attendances'"),
        ("date,cohort,attendances,notes\n", "column 'notes' is not known"),
        ("date,cohort,attendances\n2016-04-04,children,-3\n", "line 2: attendances must be"),
        ("date,cohort,attendances\n04/04/2016,children,3\n", "line 2: date must be a date"),
        (
            "date,cohort,attendances\n2016-04-04,children,3\n2016-04-06,children,3\n",
            "children needs a row for every day from 2016-04-04 without gaps, got 2016-04-06",
        ),
        (
            "date,cohort,attendances\n2016-04-04,children,3\n2016-04-04,children,4\n",
            "children on 2016-04-04 is given twice",
        ),
        ("date,cohort,attendances\n2016-04-04,toddlers,3\n", "must name cohorts of the scenario"),
    ],
)
def test_a_bad_series_file_names_the_file_the_line_and_the_value(
    tmp_path: Path, csv_text: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, csv_text))
    text = str(caught.value)
    assert "observed.toml" in text
    assert message in text


def test_a_count_on_a_day_its_profile_has_no_arrivals_is_refused() -> None:
    data = small_system()
    data["demand"]["profiles"]["ed"]["day_of_week"] = [1, 1, 1, 1, 1, 1, 0]  # no Sundays
    counts = [10.0] * 6 + [5.0]  # Monday 11 to Sunday 17 April 2016
    data["demand"]["series"] = {"start": START, "cohorts": {"adults": {"attendances": counts}}}
    with pytest.raises(ScenarioError, match=r"adults\.attendances\[6\] \(2016-04-17\)"):
        Scenario.from_dict(data, source="observed.toml")
    counts[6] = 0.0  # none that day: accepted
    Scenario.from_dict(data, source="observed.toml")
