"""leftshift: patient flow between acute hospital care and community care.

The public API::

    import sim
    scenario = sim.load_scenario("configs/baseline.toml")
    results = sim.run(scenario, reps=10, seed=1)
    results.summary            # scenario, metric, period, mean, ci_low, ci_high, n_reps
    more_beds = scenario.override({"acute.beds": 420})
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leftshift")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .config import Scenario, ScenarioError, load_scenario  # noqa: E402
from .runner import Results, run  # noqa: E402

__all__ = ["Results", "Scenario", "ScenarioError", "__version__", "load_scenario", "run"]
