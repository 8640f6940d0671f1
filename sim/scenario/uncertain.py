"""Uncertain inputs: a scenario value given as a distribution instead of a number.

Any number in a scenario file may be a table with an ``uncertain`` key::

    [cohorts.frail_older]
    p_admit = { uncertain = "beta", mean = 0.5, sd = 0.03 }      # [assumption]

    [community.urgent_response.episode_days]
    dist = "lognormal"
    mean = { uncertain = "triangular", low = 1, mode = 2, high = 4 }
    sd = 1

The forms (each a distribution of the input's value, not of the patients):

* ``beta``: ``mean``, ``sd`` (a share or probability; needs ``sd**2 < mean * (1 - mean)``);
* ``triangular``: ``low``, ``mode``, ``high``;
* ``uniform``: ``low``, ``high``;
* ``normal``: ``mean``, ``sd``;
* ``lognormal``: ``mean``, ``sd`` of the value itself (> 0);
* ``gamma``: ``mean``, ``sd`` (> 0).

Optional keys: ``group`` (a name: the inputs of one group share one draw, so they move
together, a perfect rank correlation) and ``integer = true`` (the value is rounded to a
whole number, for places and beds). A value in a list (``avoidable_share = [0, {...}]``)
and a value a dated change sets (``[[changes]] set = { "x" = {...} }``) may be uncertain
too: their keys are ``cohorts.c.avoidable_share[1]`` and ``changes[2017-04-01].x``.

:func:`lift` takes the uncertain values out of a scenario's merged data, checks
each, and leaves its mean in their place: the *nominal* scenario, which is what
``leftshift run`` and every other command uses. :func:`apply` gives the data of one
draw (each input's value put back where it came from).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ScenarioError
from ..rng.streams import stream
from .messages import show_value

UNCERTAIN = "uncertain"
"""The key that makes a table an uncertain value."""

FORMS: dict[str, tuple[str, ...]] = {
    "beta": ("mean", "sd"),
    "triangular": ("low", "mode", "high"),
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
}
"""Each form and the parameters it needs."""

OPTIONAL = ("group", "integer")
GROUP_PATTERN = r"^[a-z][a-z0-9_]*$"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of an uncertain value's table (its forms and their parameters)."""
    return {
        "description": "An uncertain value (docs/uncertainty.md): the scenario holds its mean; "
        "leftshift uncertainty draws it.",
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    UNCERTAIN: {"const": form},
                    **{p: {"type": "number"} for p in params},
                    "group": {"type": "string", "pattern": GROUP_PATTERN},
                    "integer": {"type": "boolean"},
                },
                "required": [UNCERTAIN, *params],
                "additionalProperties": False,
            }
            for form, params in FORMS.items()
        ],
    }


@dataclass(frozen=True)
class UncertainInput:
    """One uncertain value: where it sits, its distribution, its group."""

    key: str
    """Where it sits: a dotted key, ``[i]`` for a list element, ``changes[DATE].`` for a
    value a dated change sets."""
    form: str
    params: tuple[tuple[str, float], ...]
    group: str | None = None
    integer: bool = False

    @property
    def draw_key(self) -> str:
        """What its draw is matched by across files: its group, or its own key."""
        return f"group:{self.group}" if self.group else self.key

    def param(self, name: str) -> float:
        return dict(self.params)[name]

    @property
    def mean(self) -> float:
        p = dict(self.params)
        if self.form == "triangular":
            return (p["low"] + p["mode"] + p["high"]) / 3
        if self.form == "uniform":
            return (p["low"] + p["high"]) / 2
        return p["mean"]

    def nominal(self) -> float | int:
        """The value the nominal scenario holds: the mean (rounded for an integer input)."""
        return round(self.mean) if self.integer else self.mean

    def ppf(self, u: Sequence[float] | Any) -> Any:
        """The values at quantiles ``u`` (an array of numbers in (0, 1))."""
        import numpy as np
        from scipy import stats  # imported on use: scipy.stats is slow to import

        u = np.asarray(u, dtype=float)
        p = dict(self.params)
        if self.form == "beta":
            m, s = p["mean"], p["sd"]
            k = m * (1 - m) / s**2 - 1
            out = stats.beta(m * k, (1 - m) * k).ppf(u)
        elif self.form == "triangular":
            lo, mode, hi = p["low"], p["mode"], p["high"]
            out = stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo).ppf(u)
        elif self.form == "uniform":
            out = p["low"] + u * (p["high"] - p["low"])
        elif self.form == "normal":
            out = stats.norm(p["mean"], p["sd"]).ppf(u)
        elif self.form == "lognormal":
            m, s = p["mean"], p["sd"]
            sigma2 = math.log1p((s / m) ** 2)
            out = stats.lognorm(math.sqrt(sigma2), scale=m / math.sqrt(1 + (s / m) ** 2)).ppf(u)
        else:  # gamma
            m, s = p["mean"], p["sd"]
            out = stats.gamma((m / s) ** 2, scale=s**2 / m).ppf(u)
        return np.round(out).astype(np.int64) if self.integer else out

    def describe(self) -> str:
        shown = ", ".join(f"{k} = {v:g}" for k, v in self.params)
        return f"{self.form} ({shown})" + (f", group {self.group}" if self.group else "")


def unit_draws(keys: Sequence[str], n: int, seed: int, prefix: str) -> dict[str, Any]:
    """For each draw key, ``n`` quantiles in (0, 1): one column of a Latin hypercube
    (``scipy.stats.qmc``), seeded from its own named stream ``prefix + key`` of ``seed``,
    so a key's column never depends on the other keys."""
    from scipy.stats import qmc  # imported on use: scipy.stats is slow to import

    out = {}
    for key in keys:
        # qmc spawns a child of its generator's seed sequence: give it a seed from the stream
        key_seed = int(stream(seed, 0, prefix + key).integers(2**63))
        out[key] = qmc.LatinHypercube(d=1, rng=key_seed).random(n)[:, 0]
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse(
    table: Mapping[str, Any], key: str, source: str
) -> tuple[UncertainInput | None, list[str]]:
    """Check one uncertain table; return the input, or the problems (file, key, rule, value)."""
    where = f"{source}: {key}"
    form = table.get(UNCERTAIN)
    if form not in FORMS:
        return None, [
            f"{where}: uncertain must be one of {', '.join(FORMS)}, got {show_value(form)}"
        ]
    needed = FORMS[form]
    problems = [
        f"{where}: {name} is not a known key of an uncertain {form} value "
        f"(keys: {', '.join((*needed, *OPTIONAL))})"
        for name in table
        if name not in (UNCERTAIN, *needed, *OPTIONAL)
    ]
    params: dict[str, float] = {}
    for name in needed:
        if name not in table:
            problems.append(f"{where}: an uncertain {form} value needs {name}")
        elif not _number(table[name]):
            problems.append(
                f"{where}.{name} must be a finite number, got {show_value(table[name])}"
            )
        else:
            params[name] = float(table[name])
    group = table.get("group")
    if group is not None and not (isinstance(group, str) and re.fullmatch(GROUP_PATTERN, group)):
        problems.append(
            f"{where}.group must be a name of lower-case letters, digits and _, "
            f"got {show_value(group)}"
        )
    integer = table.get("integer", False)
    if not isinstance(integer, bool):
        problems.append(f"{where}.integer must be true or false, got {show_value(integer)}")
    if problems:
        return None, problems
    rule = _rule(form, params)
    if rule is not None:
        return None, [f"{where}: {rule}"]
    return (
        UncertainInput(key, form, tuple((n, params[n]) for n in needed), group, integer),
        [],
    )


def _rule(form: str, p: dict[str, float]) -> str | None:
    """The rule a form's parameters break, in words with the values; None if they keep all."""
    if form in ("beta", "normal", "lognormal", "gamma") and not p["sd"] > 0:
        return f"an uncertain {form} value needs sd > 0, got sd = {p['sd']:g}"
    if form == "beta":
        m, s = p["mean"], p["sd"]
        if not 0 < m < 1:
            return f"an uncertain beta value needs 0 < mean < 1, got mean = {m:g}"
        if s**2 >= m * (1 - m):
            return (
                f"an uncertain beta value needs sd < sqrt(mean x (1 - mean)) = "
                f"{math.sqrt(m * (1 - m)):.4g}, got sd = {s:g}"
            )
    if form in ("lognormal", "gamma") and not p["mean"] > 0:
        return f"an uncertain {form} value needs mean > 0, got mean = {p['mean']:g}"
    if form == "triangular" and not (p["low"] <= p["mode"] <= p["high"] and p["low"] < p["high"]):
        return (
            "an uncertain triangular value needs low <= mode <= high and low < high, got "
            f"low = {p['low']:g}, mode = {p['mode']:g}, high = {p['high']:g}"
        )
    if form == "uniform" and not p["low"] < p["high"]:
        return (
            f"an uncertain uniform value needs low < high, got low = {p['low']:g}, "
            f"high = {p['high']:g}"
        )
    return None


def is_uncertain(value: Any) -> bool:
    return isinstance(value, Mapping) and UNCERTAIN in value


def lift(data: Mapping[str, Any], source: str) -> tuple[dict[str, Any], tuple[UncertainInput, ...]]:
    """The nominal data (each uncertain value replaced by its mean) and the inputs lifted.

    Raises :class:`ScenarioError` listing every uncertain value that is not valid.
    """
    out = copy.deepcopy(dict(data))
    found: list[UncertainInput] = []
    problems: list[str] = []

    def visit(node: Any, key: str) -> Any:
        if is_uncertain(node):
            parsed, wrong = parse(node, key, source)
            problems.extend(wrong)
            if parsed is None:
                return 0
            found.append(parsed)
            return parsed.nominal()
        if isinstance(node, dict):
            return {k: visit(v, f"{key}.{k}" if key else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [visit(v, f"{key}[{i}]") for i, v in enumerate(node)]
        return node

    changes = out.pop("changes", None)
    out = visit(out, "")
    if isinstance(changes, list):
        kept = []
        for change in changes:
            values = change.get("set") if isinstance(change, dict) else None
            if isinstance(values, dict):
                change = {
                    **change,
                    "set": {
                        k: visit(v, f"changes[{change.get('from')}].{k}") for k, v in values.items()
                    },
                }
            kept.append(change)
        out["changes"] = kept
    if problems:
        raise ScenarioError(problems)
    return out, tuple(found)


_PART = re.compile(r"^(?P<name>.+?)(\[(?P<index>\d+)\])?$")


def apply(data: Mapping[str, Any], values: Mapping[str, float | int]) -> dict[str, Any]:
    """The nominal ``data`` with each input key set to its value in ``values``."""
    out = copy.deepcopy(dict(data))
    for key, value in values.items():
        node: Any = out
        if key.startswith("changes["):
            date, rest = key[len("changes[") :].split("].", 1)
            node = next(c for c in out["changes"] if str(c.get("from")) == date)["set"]
            parts = [rest]  # a dotted key of the change's set is one key of its table
        else:
            parts = key.split(".")
        *parents, last = parts
        for part in parents:
            m = _PART.match(part)
            assert m is not None
            node = node[m["name"]]
            if m["index"] is not None:
                node = node[int(m["index"])]
        m = _PART.match(last)
        assert m is not None
        if m["index"] is None:
            node[m["name"]] = _plain(value)
        else:
            node[m["name"]][int(m["index"])] = _plain(value)
    return out


def _plain(value: Any) -> float | int:
    """A numpy number as Python's, so the data stays plain TOML-like values."""
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind == "i"):
        return int(value)
    return float(value)
