"""A scenario's inputs as a planner edits them: one :class:`Input` per key, grouped as the
scenario is, each with its unit and help text, and the edits as a small TOML file.

The inputs are read from the scenario itself (its resolved data, every default filled in)
and from its JSON Schema (:func:`sim.json_schema`: type, bounds, default, choices, the
description of the table a key sits in), so a key the schema gains is editable at once.
A key is a leaf of the resolved data: a number, a flag, text, a list, or a distribution
table (one with ``dist``), which is edited whole. Numbers and flags get their own widget;
anything else is edited as a TOML value (``[0.0, 0.2, 0.25]``, ``{dist = "fixed", value
= 6}``), read by :mod:`tomllib`, never evaluated.

The edits are dotted overrides (``{"community.p1.places": 130}``), applied with
:meth:`sim.Scenario.override`; :func:`extension_toml` writes them as a file that
``extends`` the one the scenario came from and names only what changed, so ``leftshift
run`` on it gives the app's numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "text", "choice", "toml"]
"""How an input is edited: a whole number, a number, a flag, free text, one of a few
values, or a TOML value (a list, a distribution table, a capacity that is "unlimited")."""


@dataclass(frozen=True)
class Input:
    """One editable key of a scenario."""

    path: str
    """The dotted key, as :meth:`sim.Scenario.override` takes it: ``community.p1.places``."""
    group: str
    """The part of the scenario it belongs to, as the app's sections show it."""
    label: str
    """The key's last part, readable: ``places``, ``episode days``."""
    kind: Kind
    unit: str
    """What its number is in (``places``, ``days``, ``share 0-1``, ``GBP``), or ""."""
    help: str
    """What the schema says of it: type, bounds, default, and its table's description."""
    value: Any
    """Its value in the scenario as loaded (plain data, as in ``Scenario.to_dict()``)."""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


LEVERS = (
    "acute.beds",
    "sdec.chairs",
    "sdec.open",
    "community.urgent_response.places",
    "community.urgent_response.accepts",
    "community.p1.places",
    "community.p1.accepts",
    "community.p2.places",
    "community.p2.accepts",
    "community.p3.places",
    "community.p3.accepts",
    "cohorts.*.avoidable_share",
)
"""The main levers, shown first (``*``: every cohort): beds, SDEC chairs and hours, urgent
response places and hours, P1-P3 places and acceptance hours, avoidable share by year."""

SERVICE_NAMES = {
    "urgent_response": "urgent community response",
    "p1": "P1 (home care)",
    "p2": "P2 (intermediate care beds)",
    "p3": "P3 (care homes)",
}

SECTIONS = {
    "run": "Run settings",
    "demand": "Demand",
    "cohorts": "Demand",
    "ed": "A&E",
    "sdec": "SDEC",
    "acute": "Beds",
    "community": "Community",
    "readmission": "Readmission",
    "initial_state": "Starting state",
    "costs": "Costs",
    "plan": "Plan",
    "changes": "Dated changes",
}
"""The app's sections by top-level table, in the order shown."""

UNITS: tuple[tuple[str, str], ...] = (
    (r"_days$", "days"),
    (r"_hours$", "hours"),
    (r"_minutes$", "minutes"),
    (r"_gbp$", "GBP"),
    (r"_per_year$", "a year"),
    (r"_fte$", "FTE"),
    (r"^(beds|places|chairs|cubicles)$", "places"),
    (r"^(p_|avoidable_share$)", "share 0-1"),
    (r"^(p0|p1|p2|p3|urgent_response)$", "share 0-1"),  # pathway mixes, readmission risks
    (r"^(accepts|open|discharge_hours)$", "hours of the week"),
    (r"^month_multipliers$", "relative to the year's mean"),
    (r"^(day_of_week|hour_of_day|hour_of_week)$", "weights"),
    (r"^horizon_years$", "years"),
)
"""A key's unit from its name (scenario keys carry their unit in their name, docs/api.md),
first match wins; counts in ``initial_state`` and cost tables are handled by their table."""


def unit_of(path: str) -> str:
    """The unit of a dotted key: ``days`` for ``*.los_days``, ``places`` for ``*.places``."""
    parts = path.split(".")
    key = parts[-1]
    if parts[0] == "initial_state":
        return "patients"
    if parts[:2] == ["costs", "community_place_day_gbp"]:
        return "GBP a place day"
    if parts[0] == "plan":
        return "fraction"
    for pattern, unit in UNITS:
        if re.search(pattern, key):
            return unit
    return ""


def group_of(path: str, cohort_labels: Mapping[str, str]) -> str:
    """The section a key is shown in: ``Community: P1 (home care)``, ``Demand: frail older``."""
    parts = path.split(".")
    section = SECTIONS.get(parts[0], parts[0])
    if parts[0] == "community" and len(parts) > 1:
        return f"Community: {SERVICE_NAMES.get(parts[1], parts[1])}"
    if parts[0] == "cohorts" and len(parts) > 1:
        return f"Demand: {cohort_labels.get(parts[1]) or parts[1].replace('_', ' ')}"
    return section


# --- the schema ---------------------------------------------------------------------------------


def _deref(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` with ``$ref`` followed and an ``anyOf`` of one table and null opened."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            continue
        options = [o for o in node.get("anyOf", ()) if o.get("type") != "null"]
        refs = [o for o in options if "$ref" in o]
        if len(refs) == 1 and len(options) == 1:
            node = refs[0]
            continue
        return node


def schema_at(schema: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], str]:
    """The JSON Schema of a dotted key, and the description of the table it is in."""
    node: Mapping[str, Any] = schema
    table = ""
    for part in path.split("."):
        node = _deref(schema, node)
        table = node.get("description", table)
        properties = node.get("properties", {})
        if part in properties:
            node = properties[part]
        elif node.get("patternProperties"):  # cohorts.NAME, demand.profiles.NAME
            node = next(iter(node["patternProperties"].values()))
        elif isinstance(node.get("additionalProperties"), Mapping):  # plan.projected.METRIC
            node = node["additionalProperties"]
        else:
            return {}, table
    return node, table


def _bounds(node: Mapping[str, Any]) -> tuple[float | None, float | None]:
    options = [node, *node.get("anyOf", ())]
    low = next((o[k] for o in options for k in ("minimum", "exclusiveMinimum") if k in o), None)
    high = next((o[k] for o in options for k in ("maximum", "exclusiveMaximum") if k in o), None)
    return low, high


def _choices(node: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(c) for c in node.get("enum", ()))


def _allows_unlimited(node: Mapping[str, Any]) -> bool:
    return any(o.get("const") == "unlimited" for o in node.get("anyOf", ()))


def _help(node: Mapping[str, Any], table: str, unit: str, value: Any) -> str:
    """The help text of a key: its description (where the schema has one), its type and
    bounds, its default, and what its table is."""
    words: list[str] = []
    if node.get("description"):
        words.append(" ".join(str(node["description"]).split()).rstrip(".") + ".")
    low, high = _bounds(node)
    kinds = {o.get("type") for o in (node, *node.get("anyOf", ())) if o.get("type")}
    if _allows_unlimited(node):
        what = 'A whole number of places, or "unlimited"'
    elif "integer" in kinds and len(kinds - {"null"}) == 1:
        what = "A whole number"
    elif "number" in kinds:
        what = "A number"
    elif "boolean" in kinds:
        what = "On or off"
    elif _choices(node):
        what = "One of " + ", ".join(_choices(node))
    elif isinstance(value, Mapping) and "dist" in value:
        what = "A distribution: a TOML table with dist and its parameters (docs/scenario.md)"
    elif unit == "hours of the week":
        what = "Opening hours, like 'Mon-Fri 09:00-17:00' or '24/7'"
    elif isinstance(value, list) or "array" in kinds:
        what = "A TOML list"
    else:
        what = "Text"
    if low is not None and high is not None:
        what += f", from {_number(low)} to {_number(high)}"
    elif low is not None:
        what += f", at least {_number(low)}"
    words.append(what + (f", in {unit}" if unit else "") + ".")
    if "default" in node and not isinstance(node["default"], dict | list):
        default = node["default"]
        words.append(f"Default: {'unset' if default is None else show(default)}.")
    if table:
        words.append(f"({table.rstrip('.')}.)")
    return " ".join(words)


def _number(value: float) -> str:
    return f"{value:,}" if float(value).is_integer() else f"{value:g}"


# --- the inputs ---------------------------------------------------------------------------------


def _leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf: a value that is not a table, or a distribution
    table; unset alternatives (None: a service not configured, places given as a
    workforce) and empty tables are left out, having nothing to edit."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if value is None or key in ("name", "description") and not prefix:
            continue
        if isinstance(value, Mapping) and "dist" not in value:
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def is_lever(path: str) -> bool:
    parts = path.split(".")
    return path in LEVERS or (
        len(parts) == 3 and parts[0] == "cohorts" and f"cohorts.*.{parts[2]}" in LEVERS
    )


def inputs_of(resolved: Mapping[str, Any], schema: Mapping[str, Any]) -> list[Input]:
    """Every editable key of a resolved scenario (``Scenario.to_dict()``), levers first,
    then section by section in the scenario's order."""
    labels = {name: c.get("label", "") for name, c in resolved.get("cohorts", {}).items()}
    found = []
    for path, value in _leaves(resolved):
        node, table = schema_at(schema, path)
        unit = unit_of(path)
        low, high = _bounds(node)
        choices = _choices(node)
        kind: Kind
        if any(o.get("type") == "array" for o in node.get("anyOf", ())):
            kind = "toml"  # a number or a list (avoidable_share by year): typed as TOML
        elif isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int):
            kind = "int"  # a capacity too: "unlimited" is typed as TOML once it is one
        elif isinstance(value, float):
            kind = "float"
        elif isinstance(value, str) and choices:
            kind = "choice"
        elif isinstance(value, str) and value != "unlimited":
            kind = "text"
        else:
            kind = "toml"
        found.append(
            Input(
                path=path,
                group=group_of(path, labels),
                label=path.rsplit(".", 1)[-1].replace("_", " "),
                kind=kind,
                unit=unit,
                help=_help(node, table, unit, value),
                value=value,
                choices=choices,
                minimum=low,
                maximum=high,
            )
        )
    order = list(dict.fromkeys(SECTIONS.values()))
    return sorted(
        found,
        key=lambda i: (
            not is_lever(i.path),
            _lever_rank(i.path),
            order.index(i.group.split(":")[0]) if i.group.split(":")[0] in order else len(order),
        ),
    )


def _lever_rank(path: str) -> int:
    if not is_lever(path):
        return 0
    parts = path.split(".")
    key = path if parts[0] != "cohorts" else f"cohorts.*.{parts[-1]}"
    return LEVERS.index(key)


# --- values as TOML -----------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value as TOML writes it: ``130``, ``0.25``, ``"24/7"``, ``[0.0, 0.2]``,
    ``{dist = "fixed", value = 6.0}``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be written to a scenario file")
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        # JSON's escapes are TOML's, but for DEL, which TOML wants escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(show(v) for v in value) + "]"
    raise ValueError(f"{value!r} cannot be written to a scenario file")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else show(key)


def parse(text: str) -> Any:
    """A TOML value typed into the app (``[0.0, 0.2]``, ``"unlimited"``, a bare word taken
    as text); :class:`ValueError` saying why if it is not one."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as exc:
        if re.fullmatch(r"[A-Za-z][\w/-]*", text.strip()):
            return text.strip()  # unlimited, without its quotes
        raise ValueError(f"not a TOML value ({exc})") from None


def same(a: Any, b: Any) -> bool:
    """Whether two plain values are the same input (2 and 2.0 are; lists and tuples too)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(
        b, sort_keys=True, default=str
    ) or (isinstance(a, int | float) and isinstance(b, int | float) and a == b)


def extension_toml(extends: str, name: str, changes: Mapping[str, Any], note: str = "") -> str:
    """A scenario file that ``extends`` another and names only ``changes`` (dotted keys).

    Loading it gives the scenario ``base.override(changes, name=name)`` does: a table's
    keys merge, anything else replaces the parent's whole, by the same rules.
    """
    lines = [f"# {line}".rstrip() for line in note.splitlines()]
    lines += [f"extends = {show(extends)}", f"name = {show(name)}"]
    tables: dict[tuple[str, ...], list[str]] = {}
    for path, value in changes.items():
        *parents, key = path.split(".")
        tables.setdefault(tuple(parents), []).append(f"{_key(key)} = {show(value)}")
    for table, entries in sorted(tables.items(), key=lambda item: item[0] != ()):
        if table:  # top-level keys first: a key after a [table] header would belong to it
            lines += ["", "[" + ".".join(_key(t) for t in table) + "]"]
        lines += entries
    return "\n".join(lines) + "\n"
