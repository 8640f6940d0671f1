"""Shared fixtures. Every engine run in the tests checks its invariants."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ["LEFTSHIFT_CHECK"] = "1"  # conservation, capacity, schedules, FCFS on every run

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@contextmanager
def coverage_paused(config: pytest.Config) -> Iterator[None]:
    """Run a heavy module fixture untraced, as ``@pytest.mark.no_cover`` does for a test.

    Coverage tracing doubles an engine's run time. The long statistical runs
    (whole configs, many replications) repeat lines that quick tests cover,
    so tracing them only slows ``make test``; the coverage floor still holds.
    """
    plugin = config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    if controller is None:  # run without --cov
        yield
        return
    controller.pause()
    try:
        yield
    finally:
        controller.resume()


def single_unit(
    *,
    beds: int | str = 10,
    per_day: float = 8.0,
    los: dict[str, Any] | None = None,
    years: float = 1.0,
    warm_up_days: int = 30,
    reps: int = 10,
    diversion: int | None = None,
) -> dict[str, Any]:
    """One bed pool fed by Poisson direct admissions: the textbook queue.

    No A&E traffic, every discharge P0 at any hour, flat arrival profile.
    """
    data: dict[str, Any] = {
        "name": "single_unit",
        "run": {
            "start_date": "2016-04-04",
            "warm_up_days": warm_up_days,
            "horizon_years": years,
            "reps": reps,
            "seed": 7,
        },
        "cohorts": {
            "patients": {
                "attendances_per_year": 0,
                "direct_admissions_per_year": per_day * 365.25,
                "p_admit": 0.0,
                "treatment_los_days": los or {"dist": "exponential", "mean": 1.0},
            }
        },
        "ed": {"time_to_decision_minutes": {"dist": "fixed", "value": 0}},
        "acute": {"beds": beds, "discharge_hours": "24/7"},
    }
    if diversion is not None:
        data["acute"]["diversion_queue_threshold"] = diversion
    return copy.deepcopy(data)


def small_system(**changes: Any) -> dict[str, Any]:
    """A small whole system (A&E, SDEC, beds, P1-P3, urgent response), quick to run."""
    data: dict[str, Any] = {
        "name": "small",
        "run": {
            "start_date": "2016-04-04",
            "warm_up_days": 20,
            "horizon_years": 0.25,
            "reps": 3,
            "seed": 11,
        },
        "demand": {
            "profiles": {
                "ed": {
                    "day_of_week": [16, 14.5, 14, 14, 14, 13.5, 14],
                    "hour_of_day": [
                        3,
                        2.4,
                        2,
                        1.7,
                        1.4,
                        1.5,
                        2.2,
                        3,
                        4.2,
                        4.8,
                        4.9,
                        4.9,
                        6.1,
                        6.1,
                        6.1,
                        6,
                        5.9,
                        5.8,
                        5.6,
                        5.3,
                        5,
                        4.6,
                        4,
                        3.5,
                    ],
                }
            }
        },
        "cohorts": {
            "older": {
                "attendances_per_year": 4000,
                "direct_admissions_per_year": 800,
                "arrival_profile": "ed",
                "p_admit": 0.5,
                "p_sdec": 0.1,
                "treatment_los_days": {"dist": "lognormal", "mean": 5, "sd": 6},
                "pathway": {"p0": 0.6, "p1": 0.25, "p2": 0.1, "p3": 0.05},
                "p_readmit": {"p0": 0.1, "p1": 0.1, "urgent_response": 0.05},
                "avoidable_share": 0.1,
            },
            "adults": {
                "attendances_per_year": 12000,
                "arrival_profile": "ed",
                "p_admit": 0.2,
                "p_sdec": 0.08,
                "treatment_los_days": {"dist": "lognormal", "mu": -0.868, "sigma": 1.689},
            },
        },
        "ed": {
            "cubicles": 8,
            "time_to_decision_minutes": {"dist": "lognormal", "mean": 150, "sd": 100},
        },
        "sdec": {
            "chairs": 2,
            "open": "every day 08:00-20:00",
            "episode_hours": {"dist": "gamma", "mean": 5, "sd": 3},
            "p_admit": 0.1,
        },
        "acute": {"beds": 60, "discharge_hours": "every day 08:00-20:00"},
        "community": {
            "urgent_response": {
                "places": 3,
                "accepts": "every day 08:00-20:00",
                "episode_days": {"dist": "exponential", "mean": 2},
            },
            "p1": {
                "places": 12,
                "accepts": "Mon-Fri 09:00-17:00",
                "episode_days": {"dist": "lognormal", "mean": 14, "sd": 12},
            },
            "p2": {
                "places": 6,
                "accepts": "Mon-Fri 09:00-17:00",
                "episode_days": {"dist": "lognormal", "mean": 30, "sd": 15},
            },
            "p3": {
                "places": 4,
                "accepts": "Mon-Fri 09:00-17:00",
                "episode_days": {"dist": "lognormal", "mean": 40, "sd": 15},
            },
        },
        "costs": {
            "ed_attendance_admitted_gbp": 138,
            "ed_attendance_not_admitted_gbp": 114,
            "acute_bed_day_gbp": 346,
            "delayed_bed_day_gbp": 346,
            "community_place_day_gbp": {"p1": 125, "p2": 150, "p3": 164},
        },
    }
    data = copy.deepcopy(data)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


FIXED = {"dist": "fixed"}
DETERMINISTIC: dict[str, Any] = {
    "ed.cubicles": "unlimited",
    "ed.time_to_decision_minutes": {**FIXED, "value": 95},
    "sdec.chairs": "unlimited",
    "sdec.episode_hours": {**FIXED, "value": 4.5},
    "acute.beds": "unlimited",
    "cohorts.older.treatment_los_days": {**FIXED, "value": 2.3},
    "cohorts.adults.treatment_los_days": {**FIXED, "value": 0.02},  # under an hour
    "community.urgent_response.places": "unlimited",
    "community.urgent_response.episode_days": {**FIXED, "value": 1.5},
    "community.p1.places": "unlimited",
    "community.p1.episode_days": {**FIXED, "value": 10},
    "community.p2.places": "unlimited",
    "community.p2.episode_days": {**FIXED, "value": 20},
    "community.p3.places": "unlimited",
    "community.p3.episode_days": {**FIXED, "value": 30},
    "readmission.delay_days": {**FIXED, "value": 6},
}
"""Changes to :func:`small_system` that make it deterministic apart from arrivals and
routing, with unlimited capacity: nobody queues, so every time follows by hand from
the arrival time, the durations and the opening hours."""


@pytest.fixture
def partial_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers an engine ``"partial"``: the SimPy engine, except that it cannot run
    ``ed.boarding_holds_cubicle = true`` (both real engines run everything, and the
    contract's refusal still needs a test)."""
    from sim.engines import registry
    from sim.engines.reference import SimPyEngine

    class Partial(SimPyEngine):
        name = "partial"

        def unsupported(self, params: Any) -> list[str]:
            return ["ed.boarding_holds_cubicle"] if params.boarding_holds_cubicle else []

    load = registry._load
    monkeypatch.setitem(registry.ENGINES, "partial", "tests:Partial")
    monkeypatch.setattr(
        registry, "_load", lambda name: Partial if name == "partial" else load(name)
    )
    return "partial"


@pytest.fixture(scope="session")
def baseline_path() -> Path:
    return CONFIGS / "baseline.toml"
