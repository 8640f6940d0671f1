"""Scenario files on disk: reading TOML, following ``extends``, dotted overrides.

A file may build on another with ``extends = "baseline.toml"`` (relative to
the file): tables merge key by key, the dated ``[[changes]]`` merge by date,
anything else (numbers, strings, lists, arrays of tables, distribution tables
with a ``dist`` key) is replaced whole,
and keys that replace one another (``places`` and ``workforce``) drop the
parent's alternative. An override in code (``Scenario.override``) sets dotted
keys in the same merged data, by the same rules.

Everything here works on plain data; validation is :mod:`sim.scenario.schema`'s.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ScenarioError
from .messages import show_value

MAX_FILE_BYTES = 10_000_000
"""A scenario file is a few kilobytes; anything this big is not one."""


def read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(
                [f"{shown}: is not a scenario file (larger than {MAX_FILE_BYTES:,} bytes)"]
            )
        # utf-8-sig: Windows editors often start a UTF-8 file with a byte-order mark
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError([f"{shown}: no such file"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [f"{shown}: cannot read the file: it is not UTF-8 text (byte {exc.start})"]
        ) from None
    except OSError as exc:
        raise ScenarioError([f"{shown}: cannot read the file ({exc.strerror or exc})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{shown}: not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ScenarioError([f"{shown}: not valid TOML: lists or tables nested too deep"]) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ScenarioError([f"{shown}: not valid TOML: {exc}"]) from None


_ALTERNATIVES = (frozenset({"places", "workforce"}),)
"""Keys that replace one another: a child giving ``workforce`` drops the parent's ``places``."""


def _drop_replaced(table: dict[str, Any], given: Iterable[str]) -> None:
    """Remove from ``table`` the alternatives of the keys about to be ``given``."""
    for group in _ALTERNATIVES:
        named = group.intersection(given)
        if named:
            for other in group - named:
                table.pop(other, None)


def merge(base: dict[str, Any], child: Mapping[str, Any], top: bool = True) -> dict[str, Any]:
    """Tables merge key by key; a distribution table (one with ``dist``) replaces whole; the
    dated ``changes`` merge by date (:func:`merge_changes`)."""
    out = copy.deepcopy(base)
    _drop_replaced(out, child.keys())
    for key, value in child.items():
        if isinstance(value, Mapping) and "dist" not in value and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value, top=False)
        elif top and key == "changes" and isinstance(value, list):
            out[key] = merge_changes(out.get(key), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_changes(base: Any, child: list[Any]) -> list[Any]:
    """A file's dated changes over those it extends: a change on a date the parent also
    changes adds its keys to that change's ``set`` (a key given in both takes the child's
    value); a change on a new date joins the timeline in date order. Anything that is not
    a list of changes with dates is left for validation to report."""
    if not isinstance(base, list):
        return copy.deepcopy(child)
    merged = copy.deepcopy(base)
    by_date = {
        str(c.get("from")): c for c in merged if isinstance(c, dict) and c.get("from") is not None
    }
    for change in child:
        given = change.get("from") if isinstance(change, dict) else None
        parent = by_date.get(str(given)) if given is not None else None
        if (
            parent is not None
            and isinstance(parent.get("set"), dict)
            and isinstance(change.get("set"), dict)
        ):
            parent["set"] = {**parent["set"], **copy.deepcopy(change["set"])}
            for key, value in change.items():
                if key != "set":
                    parent[key] = copy.deepcopy(value)
        else:
            merged.append(copy.deepcopy(change))
            if given is not None:
                by_date[str(given)] = merged[-1]
    if all(isinstance(c, dict) and c.get("from") is not None for c in merged):
        merged.sort(key=lambda c: str(c["from"]))
    return merged


def resolve_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A scenario file's data with everything it ``extends`` merged in."""
    path = Path(path)
    shown = str(path)
    real = path.resolve()
    if real in _chain:
        cycle = " -> ".join(str(p.name) for p in (*_chain, real))
        raise ScenarioError([f"{shown}: extends makes a cycle ({cycle})"])
    data = read_toml(path, shown)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError([f"{shown}: extends must be a file name, got {show_value(parent)}"])
    parent_path = path.parent / parent
    try:
        found = "\0" not in parent and parent_path.is_file()
    except OSError:  # a name too long for the file system
        found = False
    if not found:
        raise ScenarioError(
            [
                f"{shown}: extends must name an existing file, got {show_value(parent)} "
                f"(looked for {show_value(str(parent_path))})"
            ]
        )
    base = resolve_file(parent_path, (*_chain, real))
    base.pop("name", None)
    base.pop("description", None)
    return merge(base, data)


def set_dotted(raw: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    """Set ``raw[a][b][c] = value`` for ``dotted = "a.b.c"``, making tables on the way."""
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ScenarioError([f"{source}: cannot override {dotted}: {where} is not a table"])
        node = nxt
    _drop_replaced(node, [parts[-1]])
    node[parts[-1]] = copy.deepcopy(value)
