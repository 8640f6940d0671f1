"""Costs a finance director would sign: each service paid for once, and hours that cost staff.

The figures are worked by hand in each test's comments; the simulation only
supplies the counts (episodes, observed days) the unit costs multiply.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import small_system

import sim
from sim.errors import ScenarioError
from sim.scenario.params import build_costs
from sim.scenario.schema import Scenario


def value(results: sim.Results, metric: str, period: str) -> float:
    r = results.replications
    rows = r[(r.metric == metric) & (r.period == period)]
    assert len(rows) == 1, (metric, period)
    return float(rows["value"].iloc[0])


def two_years(**changes: Any) -> dict[str, Any]:
    """A run that spans two financial years: 89 days of 2016/17 and 94 of 2017/18."""
    return small_system(**{"run.start_date": "2017-01-02", "run.horizon_years": 0.5, **changes})


def fund(year: str, amount: float, pays_for: list[str]) -> dict[str, Any]:
    return {"financial_year": year, "amount_gbp": amount, "pays_for": pays_for}


# --- an investment that pays for a service is not charged again ------------------------------


def test_investment_that_pays_for_the_urgent_response_is_not_also_charged_per_episode():
    data = two_years(**{"costs.urgent_response_episode_gbp": 250})
    data["costs"]["investment"] = [fund("2017/18", 100_000, ["community.urgent_response"])]
    paid = sim.run(Scenario.from_dict(data), reps=1, seed=4)
    # Every avoided attendance is one urgent response episode, at GBP 250.
    before = value(paid, "avoided_attendances", "2016/17")
    during = value(paid, "avoided_attendances", "2017/18")
    assert before > 0
    assert during > 0
    # 2016/17 has no fund: charged per episode. 2017/18: the fund pays, so no episode charge.
    assert value(paid, "cost_urgent_response_episodes", "2016/17") == 250 * before
    assert value(paid, "cost_urgent_response_episodes", "2017/18") == 0
    assert value(paid, "cost_urgent_response_episodes", "all") == 250 * before
    # what the fund covered is shown apart and kept out of the total
    assert value(paid, "paid_by_investment", "2017/18") == 250 * during
    assert value(paid, "paid_by_investment", "2016/17") == 0
    assert value(paid, "cost_investment", "2017/18") == 100_000

    del data["costs"]["investment"]
    unpaid = sim.run(Scenario.from_dict(data), reps=1, seed=4)  # the same patients
    for year in ("2016/17", "2017/18", "all"):
        # same patients, so the only differences are the fund and the episodes it covers
        assert value(unpaid, "cost_total", year) - value(paid, "cost_total", year) == (
            pytest.approx(
                value(paid, "paid_by_investment", year) - value(paid, "cost_investment", year)
            )
        )
    assert value(unpaid, "cost_urgent_response_episodes", "2017/18") == 250 * during


def test_investment_that_pays_for_commissioned_places_stops_their_block_charge():
    data = two_years(
        **{
            "community.p2.places": 50,
            "community.p2.cost_basis": "commissioned",
        }
    )
    data["costs"]["investment"] = [fund("2017/18", 1, ["community.p2"])]
    results = sim.run(Scenario.from_dict(data), reps=1, seed=2)
    # block contract: 50 places x 89 days x GBP 150 = 667,500 in 2016/17, nothing in 2017/18
    assert value(results, "cost_community_p2", "2016/17") == pytest.approx(667_500)
    assert value(results, "cost_community_p2", "2017/18") == 0
    assert value(results, "cost_community_p2", "all") == pytest.approx(667_500)
    # 50 x 94 x 150 = 705,000 paid by the fund
    assert value(results, "paid_by_investment", "2017/18") == pytest.approx(705_000)
    parts = [
        m for m in set(results.replications.metric) if m.startswith("cost_") and m != "cost_total"
    ]
    for year in ("2016/17", "2017/18", "all"):
        total = sum(value(results, m, year) for m in parts)
        assert value(results, "cost_total", year) == pytest.approx(total)


# --- working hours cost staff -----------------------------------------------------------------

OFFICE, EXTENDED = "Mon-Fri 09:00-17:00", "every day 08:00-20:00"  # 40 and 84 hours a week


def full_year(accepts: str, staffing: dict[str, float]) -> dict[str, Any]:
    data = small_system(
        **{
            "run.start_date": "2016-04-01",
            "run.horizon_years": 1,
            "run.warm_up_days": 0,
            "community.p1.accepts": accepts,
        }
    )
    data["community"]["p1"]["staffing"] = staffing
    return data


@pytest.mark.parametrize(
    ("accepts", "fte", "cost"),
    [
        # 40 h x 2 staff / 37.5 h = 2.1333 FTE; x GBP 30,000 = GBP 64,000 a year
        (OFFICE, 80 / 37.5, 64_000),
        # 84 h x 2 staff / 37.5 h = 4.48 FTE; x GBP 30,000 = GBP 134,400 a year
        (EXTENDED, 4.48, 134_400),
    ],
)
def test_extended_hours_need_more_staff_for_the_same_cover(accepts, fte, cost):
    rota = {"staff_per_open_hour": 2, "cost_per_fte_year_gbp": 30_000}
    results = sim.run(Scenario.from_dict(full_year(accepts, rota)), reps=1, seed=1)
    assert value(results, "community_staff_fte_p1", "2016/17") == pytest.approx(fte)
    assert value(results, "community_staff_per_open_hour_p1", "2016/17") == 2
    assert value(results, "cost_staff_p1", "2016/17") == pytest.approx(cost)
    assert value(results, "cost_staff_p1", "all") == pytest.approx(cost)  # one whole year


@pytest.mark.parametrize(
    ("accepts", "cover"),
    [
        (OFFICE, 4 * 37.5 / 40),  # 3.75 staff on duty in each open hour
        (EXTENDED, 4 * 37.5 / 84),  # 1.79: the same 4 FTE spread over 84 hours
    ],
)
def test_a_fixed_fte_spreads_thinner_over_longer_hours_at_the_same_cost(accepts, cover):
    rota = {"fte": 4, "cost_per_fte_year_gbp": 30_000}
    costs = build_costs(Scenario.from_dict(full_year(accepts, rota)))
    staff = costs.staff("p1")
    assert staff is not None
    assert staff.staff_per_open_hour == pytest.approx(cover)
    assert staff.fte == 4
    assert staff.cost_per_year_gbp == 120_000  # 4 FTE x GBP 30,000, whatever the hours


def test_a_part_year_pays_its_share_of_the_staff_cost():
    data = two_years()
    data["community"]["p1"]["staffing"] = {
        "staff_per_open_hour": 2,
        "cost_per_fte_year_gbp": 30_000,
    }
    data["costs"]["investment"] = [fund("2017/18", 1, ["community.p1.staffing"])]
    results = sim.run(Scenario.from_dict(data), reps=1, seed=1)
    # 89 of 2016/17's 365 days at GBP 64,000 a year = 15,605.48
    assert value(results, "cost_staff_p1", "2016/17") == pytest.approx(64_000 * 89 / 365)
    # 2017/18's staff are paid by the fund (94 days: 16,482.19), the place days are not
    assert value(results, "cost_staff_p1", "2017/18") == 0
    assert value(results, "paid_by_investment", "2017/18") == pytest.approx(64_000 * 94 / 365)
    assert value(results, "cost_community_p1", "2017/18") > 0


def test_an_open_hour_less_week_has_no_cover_to_report():
    costs = build_costs(
        Scenario.from_dict(full_year([0] * 168, {"fte": 2, "cost_per_fte_year_gbp": 1}))
    )
    staff = costs.staff("p1")
    assert staff is not None
    assert np.isnan(staff.staff_per_open_hour)
    assert staff.open_hours_per_week == 0


# --- dirty input: each refused with the key, the rule and the value ---------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"costs.investment": [fund("2016/17", 1, ["community.p1", "community.p1"])]},
            r"costs\.investment\[0\]\.pays_for: names 'community\.p1' twice",
        ),
        (
            {"costs.investment": [fund("2016/17", 1, ["community.p1", "community.p1.staffing"])]},
            r"names both 'community\.p1' and 'community\.p1\.staffing'",
        ),
        (
            {"costs.investment": [fund("2016/17", 1, ["community.p9"])]},
            r"costs\.investment\[0\]\.pays_for\[0\] must be one of .*got 'community\.p9'",
        ),
        (
            {"costs.investment": [fund("2016/17", 1, ["community.p1.staffing"])]},
            r"costs\.investment\[0\]\.pays_for must name staff that exist "
            r"\(no \[community\.p1\.staffing\]\), got 'community\.p1\.staffing'",
        ),
        (
            {
                "costs.urgent_response_episode_gbp": 250,
                "costs.community_place_day_gbp.urgent_response": 125,
            },
            r"costs\.community_place_day_gbp\.urgent_response must be 0 when "
            r"costs\.urgent_response_episode_gbp is given .*never both\), got 125",
        ),
        (
            {"community.p1.staffing": {"fte": 3, "staff_per_open_hour": 2}},
            r"community\.p1\.staffing needs exactly one of staff_per_open_hour or fte",
        ),
        (
            {"community.p1.staffing": {"fte": 3, "contracted_hours_per_fte_week": 0}},
            r"community\.p1\.staffing\.contracted_hours_per_fte_week must be > 0, got 0",
        ),
        (
            {"costs.discount_rate": 1.5},
            r"costs\.discount_rate must be <= 1, got 1\.5",
        ),
    ],
)
def test_conflicting_costs_are_refused_naming_the_key(change, message):
    data = small_system(**change)
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict(data, source="x.toml")


def test_paying_for_a_service_that_is_not_there_is_refused():
    data = small_system()
    del data["community"]["p3"]
    for cohort in data["cohorts"].values():
        if "pathway" in cohort:
            cohort["pathway"]["p0"] += cohort["pathway"].pop("p3", 0)
    data["costs"]["investment"] = [fund("2016/17", 1, ["community.p3"])]
    with pytest.raises(
        ScenarioError,
        match=r"x\.toml: costs\.investment\[0\]\.pays_for must name a configured service "
        r"\(no \[community\.p3\]\), got 'community\.p3'",
    ):
        Scenario.from_dict(data, source="x.toml")


def test_a_dated_change_of_hours_changes_the_staff_from_its_date():
    data = two_years()
    data["community"]["p1"]["staffing"] = {
        "staff_per_open_hour": 2,
        "cost_per_fte_year_gbp": 30_000,
    }
    data["changes"] = [{"from": "2017-04-01", "set": {"community.p1.accepts": EXTENDED}}]
    results = sim.run(Scenario.from_dict(data), reps=1, seed=1)
    # 2016/17, office hours: 2.1333 FTE, GBP 64,000 a year for 89 of 365 days = 15,605.48
    assert value(results, "community_staff_fte_p1", "2016/17") == pytest.approx(80 / 37.5)
    assert value(results, "cost_staff_p1", "2016/17") == pytest.approx(64_000 * 89 / 365)
    # 2017/18, 7 days 08:00-20:00: 4.48 FTE, GBP 134,400 a year for 94 of 365 days = 34,612.60
    assert value(results, "community_staff_fte_p1", "2017/18") == pytest.approx(4.48)
    assert value(results, "cost_staff_p1", "2017/18") == pytest.approx(134_400 * 94 / 365)
    # the whole run: FTE weighted by days (89 x 2.1333 + 94 x 4.48) / 183 = 3.3388
    assert value(results, "community_staff_fte_p1", "all") == pytest.approx(
        (89 * 80 / 37.5 + 94 * 4.48) / 183
    )
    assert value(results, "community_staff_per_open_hour_p1", "all") == pytest.approx(2)
