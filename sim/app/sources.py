"""Where the app's scenarios come from: the files in ``configs/``, or one uploaded file.

An upload is read as if it sat in ``configs/`` (its ``extends = "baseline.toml"`` names
the library's baseline) and may read nothing else: an ``extends`` (or a demand series
file) that leaves
``configs/`` (``../secrets.toml``, an absolute path) is refused before anything is read,
uploads over :data:`MAX_UPLOAD_BYTES` are refused unread, and the file is loaded by
:func:`sim.load_scenario` from a private copy of the library in a temporary folder, so
its errors are the command line's, one per problem, naming the file as uploaded.
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from pathlib import Path

import sim

MAX_UPLOAD_BYTES = 1_000_000
"""A scenario file is a few kilobytes (the baseline is 12 kB); a megabyte is not one. The
server refuses larger uploads too (``server.maxUploadSize``, in megabytes)."""

UPLOAD_SOURCE = "<upload {name}>"
"""What a loaded upload's ``source`` says: not a path, so provenance reads no file for it."""


def scenario_files(configs: Path) -> list[str]:
    """The scenario files of the library, relative to it (``baseline.toml``,
    ``examples/p1_plus_20.toml``), sorted; experiment files (with ``[[vary]]``) left out."""
    found = []
    for path in sorted(configs.rglob("*.toml")):
        try:
            if "vary" in tomllib.loads(path.read_text(encoding="utf-8")):
                continue
        except (OSError, ValueError):
            pass  # listed: loading it says what is wrong
        found.append(path.relative_to(configs).as_posix())
    return found


def load_library(configs: Path, name: str) -> sim.Scenario:
    """A scenario of the library by its name in :func:`scenario_files`; anything else is
    refused (a ``ScenarioError``) rather than looked for."""
    if name not in scenario_files(configs):
        raise sim.ScenarioError([f"{name}: not a scenario file in {configs}"])
    return sim.load_scenario(configs / name)


def load_upload(configs: Path, name: str, data: bytes) -> sim.Scenario:
    """An uploaded scenario file, read as if it were ``configs/<name>``.

    Raises :class:`sim.ScenarioError` with one message per problem, each naming the file
    as ``name``: too large, an ``extends`` that leaves ``configs/``, and everything
    :func:`sim.load_scenario` refuses.
    """
    shown = Path(name).name or "upload.toml"
    if len(data) > MAX_UPLOAD_BYTES:
        raise sim.ScenarioError(
            [f"{shown}: is not a scenario file (larger than {MAX_UPLOAD_BYTES:,} bytes)"]
        )
    _check_extends(configs, shown, data)
    with tempfile.TemporaryDirectory(prefix="leftshift-upload-") as tmp:
        library = Path(tmp) / "configs"
        shutil.copytree(configs, library, ignore=shutil.ignore_patterns(".*"))
        path = library / f".upload-{shown}"  # beside the library, named apart from its files
        path.write_bytes(data)
        try:
            scenario = sim.load_scenario(path)
        except sim.ScenarioError as err:
            raise sim.ScenarioError(
                [
                    m.replace(str(path), shown).replace(str(library), str(configs))
                    for m in err.messages
                ]
            ) from None
    resolved = scenario.to_dict()
    if resolved["name"] == path.stem:  # no name in the file: the file's, as for any other
        resolved["name"] = Path(shown).stem
    return sim.Scenario.from_dict(resolved, source=UPLOAD_SOURCE.format(name=shown))


def _check_extends(configs: Path, shown: str, data: bytes) -> None:
    """Refuse an ``extends`` or a ``demand.series.file`` that names a file outside
    ``configs/`` (an unreadable file is left to the loader, which says why)."""
    try:
        table = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return
    demand = table.get("demand")
    series = demand.get("series") if isinstance(demand, dict) else None
    named = {
        "extends": table.get("extends"),
        "demand.series.file": series.get("file") if isinstance(series, dict) else None,
    }
    root = configs.resolve()
    for key, value in named.items():
        if not isinstance(value, str):
            continue  # absent, or the loader names the rule
        try:
            target = (root / value).resolve()
            inside = "\0" not in value and target.is_relative_to(root)
        except (OSError, ValueError):
            inside = False
        if not inside:
            raise sim.ScenarioError(
                [
                    f"{shown}: {key} must name a file in the scenario library ({configs}), "
                    f"got {value!r}: an uploaded file can read only the library's files"
                ]
            )
