"""Dirty input, generated: mutated scenario files must fail cleanly, never crash.

Hypothesis starts from the shipped baseline (configs/baseline.toml) and breaks
it: wrong types, deleted keys, negative, NaN, infinite and huge numbers,
shares that do not sum to one, schedules and profiles of the wrong shape,
unknown keys, broken TOML, bytes that are not UTF-8, ``extends`` that loop or
point nowhere. Every broken file is then given to the command line, in this
process (``leftshift validate FILE`` and ``leftshift run FILE --out DIR``), and
must give exit code 2, one ``error: FILE: ...`` line per problem naming the
key where there is one, no traceback, and no output folder.

A mutant can be valid by chance (deleting an optional key, a label replaced by
another label): each is validated first and discarded with ``assume``, so the
counts below are counts of genuinely bad files, and a run never gets past
validation (which keeps this fast). The examples are derandomised, so CI
tries the same files every time.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import CONFIGS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import ScenarioError
from sim.scenario.schema import load_scenario

BASELINE_PATH = CONFIGS / "baseline.toml"
BASELINE_TEXT = BASELINE_PATH.read_text(encoding="utf-8")
BASELINE: dict[str, Any] = tomllib.loads(BASELINE_TEXT)

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# bad inputs per test; they add up to more than 500 (acceptance of issue #7).
# LEFTSHIFT_FUZZ_SCALE=0.1 tries a tenth of them, =10 ten times as many.
_SCALE = float(os.environ.get("LEFTSHIFT_FUZZ_SCALE", "1"))
N_MUTATED, N_EXTENDS, N_TEXT, N_FILES = (max(1, round(n * _SCALE)) for n in (260, 120, 120, 30))


# --- writing TOML (the standard library only reads it) ----------------------------------


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _string(key)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """One value as a TOML inline literal (tables as inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        limit = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)  # write any size: reading over 4300 digits must fail cleanly
        try:
            return str(value)
        finally:
            sys.set_int_max_str_digits(limit)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_dumps(data: dict[str, Any]) -> str:
    return "".join(f"{_key(k)} = {toml_value(v)}\n" for k, v in data.items())


def test_the_writer_round_trips_the_baseline():
    assert tomllib.loads(toml_dumps(BASELINE)) == BASELINE


# --- where to break the baseline ----------------------------------------------------------

Path_ = tuple[str | int, ...]


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    out: list[Path_] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list) and len(node) <= 24:
        out += [(*prefix, i) for i in range(len(node))]
    return out


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


ALL_PATHS = _paths(BASELINE)
TABLE_PATHS = [(), *(p for p in ALL_PATHS if isinstance(_get(BASELINE, p), dict))]
SCHEDULE_PATHS = [p for p in ALL_PATHS if p and p[-1] in ("open", "accepts", "discharge_hours")]
PROFILE_LISTS = [p for p in ALL_PATHS if p and p[-1] in ("day_of_week", "hour_of_day")]
PATHWAYS = [p for p in ALL_PATHS if p and p[-1] == "pathway"]


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --- bad values -----------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=30)
huge_ints = st.integers(16, 4400).map(lambda k: 10**k) | st.integers(2**63, 2**70)
numbers = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1, -1.5, -0.001, 1e308, -1e308]),
    st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False),
    st.integers(max_value=-1),
    huge_ints,
    huge_ints.map(lambda n: -n),
)
wrong_types = st.one_of(
    texts,
    st.booleans(),
    st.lists(st.integers(-3, 3), max_size=5),
    st.dictionaries(names, st.integers(0, 3), max_size=3),
    st.dates(),
    st.just({}),
    st.just([]),
)
bad_schedules = st.one_of(
    st.sampled_from(
        [
            "Mon-Fri 09:30-17:00",
            "Mon-Fry 09:00-17:00",
            "every day",
            "25/7",
            "Mon-Fri 09:00-25:00",
            "Mon-Fri 09:00-09:00, ",
            "weekdays nine to five",
            "",
        ]
    ),
    texts.filter(lambda t: t.strip() not in ("24/7",)),
    st.lists(st.integers(0, 1), max_size=200).filter(lambda v: len(v) != 168),
    st.lists(st.integers(2, 9), min_size=168, max_size=168),
)
bad_values = st.one_of(numbers, wrong_types)


def set_at(data: dict[str, Any], path: Path_, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def delete_at(data: dict[str, Any], path: Path_) -> None:
    parent = _get(data, path[:-1])
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])  # a list one item short


@st.composite
def mutation(draw: st.DrawFn, data: dict[str, Any]) -> tuple[str, Path_]:
    """Break ``data`` in one place; return what was done and where."""
    kind = draw(
        st.sampled_from(["set", "set", "set", "delete", "unknown", "schedule", "profile", "sum"])
    )
    # an earlier mutation may have removed or replaced what a later one would break
    here = set(_paths(data))
    tables = [p for p in TABLE_PATHS if p == () or (p in here and isinstance(_get(data, p), dict))]
    targets = {
        "schedule": [p for p in SCHEDULE_PATHS if p in here],
        "profile": [p for p in PROFILE_LISTS if p in here and isinstance(_get(data, p), list)],
        "sum": [p for p in PATHWAYS if p in here and isinstance(_get(data, p), dict)],
    }
    if kind in targets and not targets[kind]:
        kind = "set"
    if kind == "set":
        path = draw(st.sampled_from(sorted(here, key=str)))
        set_at(data, path, draw(bad_values))
    elif kind == "delete":
        path = draw(st.sampled_from(sorted(here, key=str)))
        delete_at(data, path)
    elif kind == "unknown":
        table = draw(st.sampled_from(tables))
        key = draw(names.filter(lambda k: k not in _get(data, table)))
        path = (*table, key)
        _get(data, table)[key] = draw(st.integers(0, 9) | texts)
    elif kind == "schedule":
        path = draw(st.sampled_from(targets["schedule"]))
        set_at(data, path, draw(bad_schedules))
    elif kind == "profile":
        path = draw(st.sampled_from(targets["profile"]))
        wanted = len(_get(data, path))
        length = draw(st.integers(0, 200).filter(lambda n: n != wanted))
        set_at(data, path, draw(st.lists(st.floats(0, 10), min_size=length, max_size=length)))
    else:  # shares that no longer sum to one
        path = (
            *draw(st.sampled_from(targets["sum"])),
            draw(st.sampled_from(["p0", "p1", "p2", "p3"])),
        )
        share = draw(st.floats(0, 1))
        set_at(data, path, share)
        shares = _get(data, path[:-1]).values()
        assume(all(type(v) in (int, float) for v in shares) and abs(sum(shares) - 1) > 1e-5)
    return kind, path


# --- the oracle -------------------------------------------------------------------------------


def assert_refused(
    path: Path, places: list[Path_] | None = None, files: list[Path] | None = None
) -> list[str]:
    """``validate`` and ``run`` both refuse the file cleanly; return the error lines.

    Each line names ``path`` (or the file of ``files`` it extends that has the
    problem) and, given the ``places`` broken, one of them or a key that needs them.
    """
    prefixes = tuple(f"error: {f}: " for f in (files or [path]))
    try:
        load_scenario(path)
    except ScenarioError as err:
        messages = err.messages
    else:
        assume(False)  # valid by chance: not a bad input
        raise AssertionError("unreachable")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        for command in (["validate", str(path)], ["run", str(path), "--out", str(out)]):
            result = CliRunner().invoke(main, command)
            assert result.exit_code == 2, (command, result.output)
            assert isinstance(result.exception, SystemExit), result.exception
            assert "Traceback" not in result.output
            lines = result.stderr.strip().splitlines()
            assert lines == [f"error: {m}" for m in messages]
            assert all(line.startswith(prefixes) for line in lines), lines
            assert result.stdout == ""
        assert not out.exists()  # nothing written, not even an empty folder
        assert sorted(Path(tmp).iterdir()) == []
    said = [m.removeprefix(f"{path}: ") for m in messages]
    # a file tomllib cannot read (a number over 4300 digits) has no key to name
    if places and not any(m.startswith("not valid TOML") for m in said):
        named = {dotted(p[:i]) for p in places for i in range(1, len(p) + 1)}
        assert any(re.match(re.escape(key) + r"(\W|$)", m) for m in said for key in named) or any(
            _names_a_key(m) for m in said
        ), (places, said)
    return messages


TOP_KEYS = set(BASELINE) | {"plan", "initial_state", "extends"}


def _names_a_key(message: str) -> bool:
    """A message that starts with a dotted key of the scenario (such as a cross-reference:
    deleting [community.p1] is reported at the cohort that sends patients there)."""
    head = re.split(r"[ :\[.]", message, maxsplit=1)[0]
    return head in TOP_KEYS


@settings(FUZZ, max_examples=N_MUTATED)
@given(st.data())
def test_mutated_baseline_is_refused_cleanly(data):
    scenario = copy.deepcopy(BASELINE)
    n = data.draw(st.integers(1, 3), label="mutations")
    done = [data.draw(mutation(scenario)) for _ in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutant.toml"
        path.write_text(toml_dumps(scenario), encoding="utf-8")
        # deletions are reported where the missing thing is needed, anywhere in the file
        keyed = [where for kind, where in done if kind != "delete"]
        assert_refused(path, keyed or None)
        if not keyed:
            assert assert_refused(path)  # still: each line names a key of the scenario


@settings(FUZZ, max_examples=N_EXTENDS)
@given(st.data())
def test_a_bad_override_through_extends_is_refused_cleanly(data):
    """A variant file names only what changes: the mutation reaches validation by a merge."""
    scenario = copy.deepcopy(BASELINE)
    kind, where = data.draw(mutation(scenario).filter(lambda m: m[0] != "delete"))
    top = where[0]
    assert isinstance(top, str)
    child = {"extends": str(BASELINE_PATH), "name": "variant", top: scenario[top]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "variant.toml"
        path.write_text(toml_dumps(child), encoding="utf-8")
        assert_refused(path, [where])


@st.composite
def corrupted_text(draw: st.DrawFn) -> bytes:
    """The baseline file with its bytes damaged: cut short, spliced, not UTF-8, duplicated."""
    raw = BASELINE_TEXT.encode()
    kind = draw(st.sampled_from(["truncate", "insert", "delete", "duplicate", "bytes"]))
    at = draw(st.integers(0, len(raw)))
    if kind == "truncate":
        return raw[:at]
    if kind == "insert":
        junk = draw(st.sampled_from([b"[", b"]", b"=", b'"', b"{", b"\n=", b"[[", b"\\", b"'''"]))
        return raw[:at] + junk + raw[at:]
    if kind == "delete":
        size = draw(st.integers(1, 40))
        return raw[:at] + raw[at + size :]
    if kind == "duplicate":
        lines = raw.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        return b"".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :])
    junk = b"\xff" + draw(st.binary(max_size=7))  # 0xFF starts no UTF-8 character
    return raw[:at] + junk + raw[at:]


@settings(FUZZ, max_examples=N_TEXT)
@given(corrupted_text())
def test_a_damaged_file_is_refused_cleanly(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.toml"
        path.write_bytes(content)
        assert_refused(path)


@settings(FUZZ, max_examples=N_FILES)
@given(
    st.sampled_from(["cycle", "self", "missing", "not_text", "directory", "empty", "binary"]),
    st.integers(1, 4),
)
def test_broken_extends_and_odd_files_are_refused_cleanly(kind, depth):
    """Chains of extends of any depth that loop or lead nowhere; empty and binary files."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        chain = [folder / f"link{i}.toml" for i in range(depth)]
        for here, there in zip(chain, chain[1:], strict=False):
            here.write_text(f'extends = "{there.name}"\n')
        last = chain[-1]
        if kind == "cycle":
            last.write_text(f'extends = "{chain[0].name}"\n')
        elif kind == "self":
            last.write_text(f'extends = "{last.name}"\n')
        elif kind == "missing":
            last.write_text('extends = "nowhere.toml"\n')
        elif kind == "not_text":
            last.write_text("extends = 3\n")
        elif kind == "directory":
            (folder / "sub").mkdir()
            last.write_text('extends = "sub"\n')
        elif kind == "empty":
            last.write_text("")
        else:
            last.write_bytes(bytes(range(256)))
        messages = assert_refused(chain[0], files=chain)
        if kind in ("cycle", "self"):
            assert any("extends makes a cycle" in m for m in messages)
        elif kind in ("missing", "directory"):
            assert any("extends must name an existing file" in m for m in messages)
        elif kind == "empty":
            assert any("cohorts is required" in m for m in messages)
        elif kind == "binary":
            assert any("not UTF-8" in m for m in messages)
