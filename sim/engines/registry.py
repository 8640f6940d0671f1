"""Which engines there are, and which of them this installation can run.

An engine is listed only if its module imports (an optional dependency that is
missing makes it unavailable, with the reason kept for the error message).
Adding an engine is one line in :data:`ENGINES`. The runner, the command line
and sweeps ask this module; none of them names an engine module.
"""

from __future__ import annotations

import importlib
from functools import cache

from ..errors import ScenarioError
from ..scenario.params import ModelParams
from .base import Engine

ENGINES: dict[str, str] = {
    "simpy": "sim.engines.reference:SimPyEngine",
    "fast": "sim.engines.compiled:CompiledEngine",
}
"""Engine name -> ``module:class``, in the order the docs and ``--help`` list them."""

DEFAULT_ENGINE = "fast"
"""The engine used when none is named."""


@cache
def _load(name: str) -> type[Engine] | str:
    """The engine class, or why it cannot be imported."""
    module_name, _, class_name = ENGINES[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"{exc}"
    engine: type[Engine] = getattr(module, class_name)
    return engine


def available() -> list[str]:
    """Names of the engines this installation can run, in :data:`ENGINES` order."""
    return [name for name in ENGINES if not isinstance(_load(name), str)]


def get(name: str) -> Engine:
    """An engine by name; a :class:`~sim.errors.ScenarioError` naming the choices if unknown."""
    if name not in ENGINES:
        raise ScenarioError([f"engine must be one of {', '.join(available())}, got {name!r}"])
    loaded = _load(name)
    if isinstance(loaded, str):
        raise ScenarioError([f"engine {name!r} is not available here: {loaded}"])
    return loaded()


def get_for(name: str, params: ModelParams) -> Engine:
    """An engine by name that can run ``params``; else a ScenarioError naming what it cannot."""
    engine = get(name)
    problems = engine.unsupported(params)
    if problems:
        raise ScenarioError(
            [f"{params.scenario_name}: the {name} engine cannot run {p}" for p in problems]
        )
    return engine
