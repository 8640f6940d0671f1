"""Minimal scenarios that make the model equal a textbook system.

Times are scaled down (stays of hours, not days) so a few simulated weeks hold
hundreds of mean stays: the queueing results are scale-free, and the fast
engine's cost is per simulated hour. Start on a Monday (hour of week 0 at
t = 0) with a flat month profile and no growth.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import CONFIGS, small_system  # noqa: E402

from sim.scenario.schema import Scenario, load_scenario  # noqa: E402

START = "2016-04-04"  # a Monday


def bed_pool(
    *,
    beds: int | str,
    per_day: float,
    los_days: dict[str, Any],
    days: float,
    warm_up_days: int = 3,
    diversion: int | None = None,
    profile: list[float] | None = None,
) -> dict[str, Any]:
    """One acute bed pool fed by Poisson direct admissions; every discharge P0 at any hour.

    No A&E traffic. ``diversion = 0`` makes it a loss system (M/G/c/c), ``k``
    a finite waiting room of ``k`` places (M/M/c/K with K = c + k).
    ``profile`` (168 weights from Monday 00:00) makes the arrivals an M_t process.
    """
    cohort: dict[str, Any] = {
        "attendances_per_year": 0,
        "direct_admissions_per_year": per_day * 365.25,
        "p_admit": 0.0,
        "treatment_los_days": los_days,
    }
    data: dict[str, Any] = {
        "name": "bed_pool",
        "run": {
            "start_date": START,
            "warm_up_days": warm_up_days,
            "horizon_years": days / 365.25,
            "seed": 1,
        },
        "cohorts": {"patients": cohort},
        "ed": {"time_to_decision_minutes": {"dist": "fixed", "value": 0}},
        "acute": {"beds": beds, "discharge_hours": "24/7"},
    }
    if diversion is not None:
        data["acute"]["diversion_queue_threshold"] = diversion
    if profile is not None:
        data["demand"] = {"profiles": {"weekly": {"hour_of_week": profile}}}
        cohort["direct_profile"] = "weekly"
    return copy.deepcopy(data)


def acute_then_community(
    *,
    beds: int,
    places: int,
    per_day: float,
    los_days: float,
    episode_days: float,
    days: float,
    warm_up_days: int = 5,
) -> dict[str, Any]:
    """Two stations in tandem with blocking after service.

    Direct admissions (Poisson) wait first come first served for one of
    ``beds``; after an exponential treatment every patient needs a P1 place
    (``places``, exponential episode, accepting 24/7) and stays in the bed,
    delayed, until one is free. No readmissions.
    """
    data = bed_pool(
        beds=beds,
        per_day=per_day,
        los_days={"dist": "exponential", "mean": los_days},
        days=days,
        warm_up_days=warm_up_days,
    )
    data["name"] = "acute_then_community"
    data["cohorts"]["patients"]["pathway"] = {"p0": 0.0, "p1": 1.0}
    data["community"] = {
        "p1": {
            "places": places,
            "accepts": "24/7",
            "episode_days": {"dist": "exponential", "mean": episode_days},
        }
    }
    return data


def whole_system(days: float, warm_up_days: int = 7) -> dict[str, Any]:
    """Every unit in use (A&E, SDEC, beds, urgent response, P1-P3), stays scaled to days.

    Office-hours community acceptance and tight places make delayed discharges;
    readmissions flow back through A&E.
    """
    return small_system(
        **{
            "run.horizon_years": days / 365.25,
            "run.warm_up_days": warm_up_days,
            "cohorts.older.treatment_los_days": {"dist": "lognormal", "mean": 1.0, "sd": 1.2},
            "cohorts.adults.treatment_los_days": {"dist": "lognormal", "mean": 0.5, "sd": 0.7},
            "acute.beds": 40,
            "community.urgent_response.episode_days": {"dist": "exponential", "mean": 0.5},
            "community.p1.places": 6,
            "community.p1.episode_days": {"dist": "lognormal", "mean": 2.0, "sd": 1.5},
            "community.p2.places": 3,
            "community.p2.episode_days": {"dist": "lognormal", "mean": 3.0, "sd": 1.5},
            "community.p3.places": 2,
            "community.p3.episode_days": {"dist": "lognormal", "mean": 4.0, "sd": 1.5},
            "readmission.delay_days": {"dist": "uniform", "low": 0, "high": 5},
        }
    )


def quiet_baseline(years: float, demand_share: float = 0.05) -> Scenario:
    """The baseline system at a fraction of its demand and no growth, for long horizons.

    Every unit, schedule and pathway of the baseline is in use; the small
    demand keeps a 20-year run quick and stationary (with growth the fixed
    bed pool would eventually gridlock and queues would grow without bound).
    """
    base = load_scenario(CONFIGS / "baseline.toml")
    changes: dict[str, Any] = {"run.horizon_years": years}
    for name, cohort in base.to_dict()["cohorts"].items():
        changes[f"cohorts.{name}.attendances_per_year"] = (
            cohort["attendances_per_year"] * demand_share
        )
        changes[f"cohorts.{name}.direct_admissions_per_year"] = (
            cohort["direct_admissions_per_year"] * demand_share
        )
        changes[f"cohorts.{name}.growth_per_year"] = 0.0
    return base.override(changes)
