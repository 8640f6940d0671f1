"""Scenario files on disk: reading TOML, following ``extends``, dotted overrides.

A file may build on another with ``extends = "baseline.toml"`` (relative to
the file): tables merge key by key, the dated ``[[changes]]`` merge by date,
anything else (numbers, strings, lists, arrays of tables, distribution tables
with a ``dist`` key, uncertain values with an ``uncertain`` key) is replaced whole,
and keys that replace one another (``places``, ``workforce``, ``visits``) drop the
parent's alternative. An override in code (``Scenario.override``) sets dotted
keys in the same merged data, by the same rules.

Everything here works on plain data; validation is :mod:`sim.scenario.schema`'s.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


_ALTERNATIVES = (frozenset({"places", "workforce", "visits"}),)
"""Keys that replace one another: a child giving ``workforce`` (or ``visits``) drops the
parent's ``places``."""


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
        if (
            isinstance(value, Mapping)
            and "dist" not in value
            and "uncertain" not in value  # an uncertain value replaces whole, as a number does
            and isinstance(out.get(key), Mapping)
        ):
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
    _read_series_file(data, path, shown)
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


SERIES_COLUMNS = ("date", "cohort", "attendances", "direct_admissions")
"""The columns of a demand series file; ``direct_admissions`` may be left out."""


def _read_series_file(data: dict[str, Any], path: Path, shown: str) -> None:
    """Replace ``[demand.series] file = ...`` by the counts the file holds (relative to the
    scenario file), so the scenario carries its demand with it."""
    demand = data.get("demand")
    series = demand.get("series") if isinstance(demand, dict) else None
    if not isinstance(series, dict) or "file" not in series or "cohorts" in series:
        return
    name = series["file"]
    if not isinstance(name, str) or not name or "\0" in name:
        raise ScenarioError(
            [f"{shown}: demand.series.file must name a CSV file, got {show_value(name)}"]
        )
    period = series.get("period", "day")
    days = 7 if period == "week" else 1
    series.update(read_series(path.parent / name, f"{shown}: demand.series.file {name}", days))


def read_csv_rows(
    path: Path, shown: str, columns: Sequence[str], required: int
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a CSV file a scenario or command names, as (line, {column: text}) with
    names and values stripped; the file must hold the first ``required`` of ``columns`` and
    no other. A file too large, unreadable or missing a column raises ScenarioError naming it.
    """
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError([f"{shown}: larger than {MAX_FILE_BYTES:,} bytes"])
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError([f"{shown}: no such file ({show_value(str(path))})"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{shown}: cannot read the file ({exc})"]) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    problems = [
        f"{shown}: has no column {column!r} (columns: {', '.join(columns)})"
        for column in columns[:required]
        if column not in header
    ] + [
        f"{shown}: column {column!r} is not known (columns: {', '.join(columns)})"
        for column in header
        if column not in columns
    ]
    if problems:
        raise ScenarioError(problems)
    for line, row in enumerate(reader, start=2):
        yield line, {(k or "").strip(): (v or "").strip() for k, v in row.items()}


def read_series(path: Path, shown: str, period_days: int = 1) -> dict[str, Any]:
    """A demand series CSV (columns :data:`SERIES_COLUMNS`): one row per cohort and day (or
    week, ``period_days = 7``), the periods of every cohort the same and without gaps.

    Returns ``{"start": first date, "cohorts": {name: {"attendances": [...], ...}}}``;
    a problem raises ScenarioError naming the file, the line, the column and the value.
    """
    problems: list[str] = []
    rows = read_csv_rows(path, shown, SERIES_COLUMNS, 3)
    counts: dict[str, dict[dt.date, tuple[float, float | None]]] = {}
    for line, row in rows:
        where = f"{shown}: line {line}"
        try:
            day = dt.date.fromisoformat(row["date"])
        except ValueError:
            problems.append(f"{where}: date must be a date like 2016-04-01, got {row['date']!r}")
            continue
        values: list[float | None] = []
        for column in ("attendances", "direct_admissions"):
            given = row.get(column, "")
            if column == "direct_admissions" and given == "":
                values.append(None)
                continue
            try:
                value = float(given)
            except ValueError:
                value = -1.0
            if not value >= 0 or value == float("inf"):
                problems.append(f"{where}: {column} must be a number >= 0, got {given!r}")
            values.append(value)
        cohort = counts.setdefault(row["cohort"], {})
        if day in cohort:
            problems.append(f"{where}: {row['cohort']} on {day} is given twice")
        cohort[day] = (values[0] or 0.0, values[1])
    if not counts and not problems:
        problems.append(f"{shown}: has no rows")
    if problems:
        raise ScenarioError(problems)
    dates = {name: sorted(days) for name, days in counts.items()}
    first = min(d[0] for d in dates.values())
    step = dt.timedelta(days=period_days)
    unit = "week" if period_days == 7 else "day"
    out: dict[str, dict[str, list[float]]] = {}
    for name, days in dates.items():
        expected = [first + i * step for i in range(len(days))]
        if days != expected:
            gap = next(d for d, e in zip(days, expected, strict=True) if d != e)
            raise ScenarioError(
                [
                    f"{shown}: {name} needs a row for every {unit} from {first} without "
                    f"gaps, got {gap} where {expected[days.index(gap)]} was due"
                ]
            )
        out[name] = {"attendances": [counts[name][d][0] for d in days]}
        direct = [counts[name][d][1] for d in days]
        if any(v is not None for v in direct):
            out[name]["direct_admissions"] = [v or 0.0 for v in direct]
    lengths = {len(v["attendances"]) for v in out.values()}
    if len(lengths) > 1:
        raise ScenarioError([f"{shown}: every cohort needs the same dates, got {sorted(lengths)}"])
    return {"start": first, "cohorts": out}
