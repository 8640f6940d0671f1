"""leftshift: patient flow between acute hospital care and community care.

The public API (docs/api.md describes each function, its units and its tables)::

    import sim
    scenario = sim.load_scenario("configs/baseline.toml")
    results = sim.run(scenario, reps=10, seed=1)
    results.summary            # scenario, metric, period, mean, ci_low, ci_high, n_reps
    results.save("outputs/mine")                     # and back: sim.load_results("outputs/mine")
    results.event_log()        # every patient's events, in vidigi's shape (or "bupar")
    more_beds = scenario.override({"acute.beds": 420})

    # several scenarios on the same replications, paired against a comparator
    comparison = sim.compare([scenario, more_beds], against="baseline", workers=2)
    comparison.table          # per metric and period: means, paired differences, CIs

    # a sweep from an experiment file, resumable
    sweep = sim.run_sweep("experiments/p1_p2_delays.toml", "outputs/p1_p2", resume=True)

    # charts: tidy tables in, Altair charts out (nothing drawn or written)
    chart = sim.daily_occupancy(results.daily)

Units throughout: the clock is in hours; scenario keys carry their unit in
their name (``*_days``, ``*_minutes``, ``*_hours``, ``*_gbp``); metrics carry
theirs in docs/metrics.md (counts, days, hours, pounds sterling, and shares
as fractions between 0 and 1, not percentages).

The chart builders are imported from :mod:`sim.present.charts` on first use, so
``import sim`` (and the command line) does not pay for Altair and SciPy.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import InvariantError, ScenarioError
from .experiments.calibrate import CalibrationResult, calibrate
from .experiments.compare import Comparison, compare
from .experiments.replications import replications_needed
from .experiments.search import capacity_search
from .experiments.sweep import SweepResults, load_experiment, run_sweep
from .experiments.uncertainty import UncertaintyResults, load_uncertainty, run_uncertainty
from .experiments.warmup import suggest_warm_up
from .runs.results import Results, load_results
from .runs.runner import prepare_engine, run, run_experiment
from .scenario.schema import Scenario, json_schema, load_scenario

CHART_BUILDERS = (
    "annual_activity",
    "community",
    "cumulative_cost",
    "daily_occupancy",
    "delayed_by_pathway",
    "delayed_by_stage",
    "ed_performance",
    "escalation",
    "sensitivity",
    "sweep_heatmap",
    "warm_up",
    "weekly_pattern",
)
"""Chart builders of :mod:`sim.present.charts`, also available as ``sim.<name>``."""


def __getattr__(name: str) -> Any:
    if name in CHART_BUILDERS:
        from .present import charts

        return getattr(charts, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = [
    "CHART_BUILDERS",
    "CalibrationResult",
    "Comparison",
    "InvariantError",
    "Results",
    "Scenario",
    "ScenarioError",
    "SweepResults",
    "UncertaintyResults",
    "__version__",
    "calibrate",
    "capacity_search",
    "compare",
    "load_experiment",
    "load_results",
    "load_uncertainty",
    "json_schema",
    "load_scenario",
    "prepare_engine",
    "replications_needed",
    "run",
    "run_experiment",
    "run_sweep",
    "run_uncertainty",
    "suggest_warm_up",
    *CHART_BUILDERS,
]
