"""Output folders: each owned by one kind of result, written whole, by one writer at a time.

A run, comparison, sweep or capacity search claims its output folder before it
simulates anything (:func:`claim`):

* the folder is created and checked writable at once, so a bad ``--out`` fails
  before minutes of simulation, not after;
* a lock (``.leftshift.lock``, held with the operating system's file lock, so a
  killed process never leaves it held) stops a second writer into the same
  folder;
* the marker ``leftshift.json`` says what kind of result the folder holds
  (``run``, ``comparison``, ``sweep`` or ``search``), the command that wrote it,
  the leftshift version and the files it wrote. A folder that holds another
  kind's results is refused unless ``overwrite`` is given; with it, or on a
  rerun of the same kind, the files the marker lists are removed once the new
  results are safely written, so no file of an earlier result is left behind
  to change what the folder means. Files leftshift did not write are never
  touched. A folder that a failed command created and wrote nothing into is
  removed again.

Every file goes through :func:`write_together` (or :func:`atomic_write` for
one): written under a hidden temporary name beside its target, flushed to
disk, then renamed into place, so a reader never sees half a file.
:meth:`Folder.write` adds the marker's bookkeeping and turns an ``OSError``
(disk full, permissions) into an :class:`~sim.errors.OutputError` that names
the file and what was kept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._version import __version__
from ..errors import OutputError

log = logging.getLogger(__name__)

MARKER = "leftshift.json"
LOCK = ".leftshift.lock"
KINDS = ("run", "comparison", "sweep", "search", "warmup", "calibration")

KIND_WORDS = {
    "run": "a run",
    "comparison": "a comparison",
    "sweep": "a sweep",
    "search": "a capacity search",
    "warmup": "a warm-up diagnostic",
    "calibration": "a calibration",
}

LEGACY_FILES = {
    "sweep": ("experiment.json", "points.csv", "replications", "summary.csv"),
    "comparison": ("comparison.csv", "comparison.parquet"),
    "run": ("summary.csv", "scenario.json"),
    "search": ("search.csv",),
}
"""What each kind wrote before folders had a marker: how such a folder is recognised."""

KNOWN_FILES = (
    "summary.csv",
    "replications.parquet",
    "daily.parquet",
    "hour_of_week.parquet",
    "ed_time.parquet",
    "scenario.json",
    "comparison.csv",
    "comparison.parquet",
    "findings.html",
    "findings.md",
    "findings.csv",
    "report.html",
    "charts",
    "experiment.json",
    "points.csv",
    "replications",
    "search.csv",
    "events_vidigi.csv",
    "events_bupar.csv",
)
"""Every name leftshift (and its case study, ``findings.*``) writes into a folder: what a
rerun or ``overwrite`` clears besides the files the marker lists."""


# --- the one atomic write ---------------------------------------------------------------------


def write_together(writes: Mapping[Path, Callable[[Path], None]]) -> None:
    """Write each file through a temporary beside it, then move all of them into place.

    ``writes`` maps each target to a function that writes the content to the
    path it is given. Nothing is moved until every file is complete and
    flushed, and a failure leaves no temporary behind.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, write in writes.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            tmp = Path(name)
            staged.append((tmp, target))
            try:
                write(tmp)
                tmp.chmod(0o644)  # mkstemp makes files private; results are for sharing
                with open(tmp, "rb") as written:
                    os.fsync(written.fileno())
            except OSError as exc:
                exc.filename = str(target)  # the file meant, not its temporary
                raise
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """One file, whole or not at all (see :func:`write_together`)."""
    write_together({target: write})


def text_writer(text: str) -> Callable[[Path], None]:
    """A writer for :func:`write_together` that writes ``text`` as UTF-8."""

    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


# --- what a folder holds ----------------------------------------------------------------------


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's marker, or ``None`` if it has none (or it cannot be read as one)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("kind") not in KINDS:
        return None
    return marker


def legacy_kind(folder: Path) -> str | None:
    """The kind of a results folder written before markers, from its files (or ``None``)."""
    for kind, names in LEGACY_FILES.items():
        if kind == "sweep" and (folder / "experiment.json").exists():
            return kind
        if kind != "sweep" and all((folder / n).exists() for n in names):
            return kind
    return None


def kind_of(folder: Path) -> str | None:
    """What ``folder`` holds: its marker's kind, or for an older folder the kind its files
    show; ``None`` for a folder with neither."""
    marker = read_marker(folder)
    if marker is not None:
        return str(marker["kind"])
    return legacy_kind(folder)


def _describe(marker: dict[str, Any] | None, kind: str) -> str:
    command = f" ({marker['command']})" if marker and marker.get("command") else ""
    return f"{KIND_WORDS[kind]}{command}"


# --- the lock ---------------------------------------------------------------------------------


def _lock(handle: IO[str]) -> bool:
    """Take the operating system's lock on an open file without waiting; False if held."""
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


# --- claiming a folder ------------------------------------------------------------------------


@dataclass
class Folder:
    """An output folder claimed by one writer for one kind of result."""

    path: Path
    kind: str
    command: str
    previous: dict[str, Any] | None
    """The marker found when claimed (or one made up for an older folder)."""
    to_clear: set[str] = field(default_factory=set)
    """Names of the earlier result's files, removed after the first successful write."""
    written: set[str] = field(default_factory=set)
    """Top-level names written since the claim."""
    kept: str = ""
    """What a failed write leaves safe (said with the error)."""

    @property
    def resuming(self) -> bool:
        """The folder already held this kind of result (a rerun, or a sweep to resume)."""
        return self.previous is not None and self.previous.get("kind") == self.kind

    def write(self, files: Mapping[str, Callable[[Path], None]], kept: str | None = None) -> None:
        """Write ``files`` (names relative to the folder) together, atomically.

        An ``OSError`` becomes an :class:`~sim.errors.OutputError` naming the file
        and what was kept (``kept``, else the folder's default).
        """
        try:
            write_together({self.path / name: write for name, write in files.items()})
        except OSError as exc:
            where = exc.filename or self.path
            raise OutputError(
                f"could not save to {where}: {exc.strerror or exc}",
                kept=self._kept(kept),
                ran=True,
            ) from None
        names = {Path(name).parts[0] for name in files}
        fresh = names - self.written
        self.written |= names
        cleared = self._clear(self.to_clear - self.written)
        if fresh or cleared:
            self._mark()

    def clear_previous(self) -> None:
        """Remove the earlier result's files now (a sweep started afresh over an old one)."""
        if self._clear(set(self.to_clear)):
            self._mark()

    def keep_previous(self) -> None:
        """Keep the earlier result's files: this writer continues it (a resumed sweep)."""
        self.written |= self.to_clear
        self.to_clear = set()

    def _kept(self, kept: str | None) -> str:
        if kept is not None:
            return kept
        if self.kept:
            return self.kept
        if self.previous is not None:
            return f"{self.path}'s earlier files are untouched"
        return "nothing was saved"

    def _clear(self, names: set[str]) -> bool:
        for name in sorted(names):
            target = self.path / name
            with suppress(FileNotFoundError):
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
        self.to_clear -= names
        return bool(names)

    def _mark(self) -> None:
        marker = {
            "kind": self.kind,
            "command": self.command,
            "version": __version__,
            "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": sorted(self.written | self.to_clear),
        }
        text = json.dumps(marker, indent=2)
        try:
            atomic_write(self.path / MARKER, text_writer(text))
        except OSError as exc:
            raise OutputError(
                f"could not save to {self.path / MARKER}: {exc.strerror or exc}",
                kept=self._kept(None),
                ran=True,
            ) from None


_held: dict[Path, tuple[Folder, int]] = {}
"""Folders this process has claimed, with how many claims are open (claims nest)."""


def command_line() -> str:
    """The command that is running, as a person would type it."""
    if not sys.argv or not sys.argv[0]:
        return "python"
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _refusal(label: str, kind: str | None, marker: dict[str, Any] | None, found: str) -> str:
    holds = _describe(marker, found)
    wanted = f"; {KIND_WORDS[kind]} cannot write there" if kind else ""
    return (
        f"{label}: holds {holds}{wanted}; choose another --out, or add --overwrite to "
        "replace it (overwrite=True from Python)"
    )


@contextmanager
def claim(
    folder: str | Path,
    kind: str | None,
    *,
    overwrite: bool = False,
    command: str | None = None,
    option: str = "--out",
) -> Iterator[Folder]:
    """Claim ``folder`` for ``kind`` (``None``: whatever kind it already holds) until the
    block ends.

    Raises :class:`~sim.errors.OutputError` (nothing run yet) for a folder that
    cannot be created or written, is locked by another writer, or holds
    another kind's results without ``overwrite``; its message names the folder
    after ``option``, the command-line option that gave it. Claims of one
    folder nest within a process.
    """
    path = Path(folder)
    label = f"{option} {path}" if option else str(path)
    key = path.resolve()
    if key in _held:
        nested, depth = _held[key]
        if kind is not None and nested.kind != kind:
            raise OutputError(_refusal(label, kind, None, nested.kind))
        _held[key] = (nested, depth + 1)
        try:
            yield nested
        finally:
            _release(key)
        return
    created = _missing_parents(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = open(path / LOCK, "a", encoding="utf-8")  # noqa: SIM115 - held for the block
    except OSError as exc:
        raise OutputError(
            f"{label}: cannot create or write the output folder ({exc.strerror or exc})"
        ) from None
    held: Folder | None = None
    try:
        if not _lock(handle):
            raise OutputError(
                f"{label}: another leftshift is writing to this folder; wait for it to "
                "finish" + (f" or choose another {option}" if option else "")
            )
        _check_writable(path, label)
        held = _start(path, label, kind, overwrite, command or command_line())
        log.info("%s: claimed for %s", path, KIND_WORDS[held.kind])
        _held[key] = (held, 1)
        try:
            yield held
        finally:
            _release(key)
    finally:
        handle.close()  # closing the file releases its lock
        if created and (held is None or not held.written):
            _remove_empty(path / LOCK, created)  # nothing was written: leave no trace


def _missing_parents(path: Path) -> list[Path]:
    """The folders ``path.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _remove_empty(lock: Path, created: list[Path]) -> None:
    with suppress(OSError):
        lock.unlink()
        for folder in created:
            folder.rmdir()  # only if empty: a failure stops here


def _release(key: Path) -> None:
    held, depth = _held[key]
    if depth > 1:
        _held[key] = (held, depth - 1)
    else:
        del _held[key]


def _check_writable(path: Path, label: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".leftshift-check.", dir=path)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(
            f"{label}: cannot write to the output folder ({exc.strerror or exc})"
        ) from None


def _start(path: Path, label: str, kind: str | None, overwrite: bool, command: str) -> Folder:
    marker = read_marker(path)
    found = kind_of(path)
    ours = {MARKER, LOCK}
    if marker is None and found is not None:  # written before markers: its files are known
        marker = {"kind": found, "command": "", "files": []}
    previous: set[str] = set()
    if marker is not None:  # leftshift's folder: its files, listed or known by name
        previous = set(marker.get("files", [])) | {n for n in KNOWN_FILES if (path / n).exists()}
        previous -= ours
    if kind is None:  # adding to what is there (a report, an event log): nothing is cleared
        if found is None:
            raise OutputError(f"{label}: holds no leftshift results")
        return Folder(path, found, command, marker, written=previous)
    if found is not None and found != kind and not overwrite:
        raise OutputError(_refusal(label, kind, marker, found))
    return Folder(path, kind, command, marker, to_clear=previous)
