"""leftshift: patient flow between acute hospital care and community care.

The public API::

    import sim
    scenario = sim.load_scenario("configs/baseline.toml")
    results = sim.run(scenario, reps=10, seed=1)
    results.summary            # scenario, metric, period, mean, ci_low, ci_high, n_reps
    more_beds = scenario.override({"acute.beds": 420})

    # several scenarios on the same replications, paired against a comparator
    comparison = sim.compare([scenario, more_beds], against="baseline", workers=2)
    comparison.table          # per metric and period: means, paired differences, CIs

    # a sweep from an experiment file, resumable
    sweep = sim.run_sweep("experiments/p1_p2_delays.toml", "outputs/p1_p2", resume=True)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leftshift")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .config import Scenario, ScenarioError, load_scenario  # noqa: E402
from .experiment import (  # noqa: E402
    Comparison,
    capacity_search,
    compare,
    replications_needed,
    suggest_warm_up,
)
from .runner import Results, run, run_experiment  # noqa: E402
from .sweep import load_experiment, run_sweep  # noqa: E402

__all__ = [
    "Comparison",
    "Results",
    "Scenario",
    "ScenarioError",
    "__version__",
    "capacity_search",
    "compare",
    "load_experiment",
    "load_scenario",
    "replications_needed",
    "run",
    "run_experiment",
    "run_sweep",
    "suggest_warm_up",
]
