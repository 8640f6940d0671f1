"""Provenance: what made a result, so someone else can make it again.

Saved in ``scenario.json`` (a run or comparison) and ``experiment.json`` (a
sweep) and shown in the report: the Python version and platform, the version
of leftshift and of each package that decides the numbers, a SHA-256 of every
input file (a scenario and each file it ``extends``, an experiment file), and
the git commit of the folder the inputs are in, with whether it had
uncommitted changes, when it is a git repository.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("leftshift", "numpy", "pandas", "scipy", "simpy", "numba", "pyarrow", "pydantic")
"""The distributions whose versions decide the numbers (or how they are read back)."""


@functools.lru_cache(maxsize=1)  # installed versions do not change under a running process
def _installed() -> tuple[tuple[str, str | None], ...]:
    found: list[tuple[str, str | None]] = []
    for name in PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, None))
    return tuple(found)


def package_versions() -> dict[str, str | None]:
    """Each of :data:`PACKAGES` with its installed version (``None`` if not installed)."""
    return dict(_installed())


def input_files(sources: Iterable[str]) -> list[Path]:
    """The files behind ``sources``: each one and every file it ``extends``, in order, once."""
    seen: list[Path] = []
    for source in sources:
        path: Path | None = Path(source)
        while path is not None and path.is_file() and path.resolve() not in seen:
            seen.append(path.resolve())
            try:
                parent = tomllib.loads(path.read_text(encoding="utf-8")).get("extends")
            except (OSError, ValueError):
                parent = None
            path = path.parent / parent if isinstance(parent, str) else None
    return seen


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit(folder: Path) -> dict[str, Any] | None:
    """The commit checked out in the repository holding ``folder``, and whether files differ
    from it; ``None`` outside a repository (or without git)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "uncommitted_changes": dirty}


def provenance(sources: Iterable[str]) -> dict[str, Any]:
    """Everything that made a result from the input files ``sources`` (paths as given)."""
    files = input_files(sources)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "inputs": [{"path": str(p), "sha256": sha256(p)} for p in files],
        "git": git_commit(files[0].parent if files else Path.cwd()),
    }
