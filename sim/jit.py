"""numba, configured once for leftshift's compiled code.

Every compiled function is made with :func:`jit` (nopython, cached on disk,
releasing the GIL), so a process compiles a function once in its life and
later processes load it from numba's cache.

* **Where the cache goes.** Beside each module, in ``__pycache__``; where the
  package's folder is not writable (an installation read-only to the user),
  in the user's cache folder instead (``$XDG_CACHE_HOME/leftshift/numba``,
  else ``~/.cache/leftshift/numba``; ``NUMBA_CACHE_DIR`` if the user set it),
  decided before anything is compiled.
* **When it is stale.** numba checks only the source file of the function it
  loads, not the files of the functions compiled into it: after an edit of
  :mod:`sim.model.tally`, a cached kernel would still hold the old tally. So
  the sources of every module in :data:`COMPILED` are hashed together, and the
  caches of those modules are cleared whenever the hash changes.

The module is a leaf: it imports nothing of leftshift's.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

PACKAGE = Path(os.path.abspath(__file__)).parent  # as numba names it (symlinks kept)
COMPILED = (
    "codes.py",
    "jit.py",
    "model/demand.py",
    "model/record.py",
    "model/rules.py",
    "model/tally.py",
    "engines/kernel.py",
    "rng/streams.py",
)
"""Modules whose code (or constants) goes into compiled functions, relative to ``sim/``:
the compiled modules and every leftshift module they import (held by a test)."""
NOT_COMPILED_IN = ("scenario/params.py",)
"""Imported by a compiled module for its Python-side functions only (types, geometry)."""
STAMP = "leftshift-compiled-sources.sha256"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".leftshift-write-test-"):
            pass
    except OSError:
        return False
    return True


def _fallback_dir() -> Path | None:
    """The cache folder to use instead of ``__pycache__`` (None: the package's own)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    if all(_writable(PACKAGE / Path(m).parent / "__pycache__") for m in COMPILED):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "leftshift" / "numba"


def _sources_hash() -> str:
    digest = hashlib.sha256()
    for module in COMPILED:
        path = PACKAGE / module
        digest.update(module.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def _cache_folders(fallback: Path | None) -> list[Path]:
    folders = {(PACKAGE / m).parent for m in COMPILED}
    if fallback is None:
        return sorted(f / "__pycache__" for f in folders)
    # numba's layout under a cache folder: <folder name>_<sha1 of the folder's absolute path>
    return sorted(
        fallback / f"{f.name}_{hashlib.sha1(str(f).encode()).hexdigest()}" for f in folders
    )


def _clear_if_stale(fallback: Path | None) -> None:
    """Drop the cached compilations of :data:`COMPILED` if any of their sources changed."""
    wanted = _sources_hash()
    folders = _cache_folders(fallback)
    stamps = [f / STAMP for f in folders]
    try:
        if all(s.read_text().strip() == wanted for s in stamps):
            return
    except OSError:
        pass
    stems = {Path(m).stem for m in COMPILED}
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for entry in folder.iterdir():
                if entry.name.split(".")[0] in stems and entry.suffix in (".nbi", ".nbc"):
                    entry.unlink(missing_ok=True)
            (folder / STAMP).write_text(wanted + "\n")
        except OSError:  # a cache that cannot be written is simply not kept
            pass


_fallback = _fallback_dir()
if _fallback is not None:
    os.environ["NUMBA_CACHE_DIR"] = str(_fallback)
_clear_if_stale(_fallback)

import numba  # noqa: E402  (only after the cache folder is decided)

if _fallback is not None:
    numba.config.CACHE_DIR = str(_fallback)  # type: ignore[attr-defined]


OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",  # no Python exception check on each division
    "_nrt": False,
}
"""How every compiled function is compiled. ``_nrt=False`` takes numba's reference
counting out: the compiled code allocates nothing (its callers hand it every array), and
a hot loop that passes arrays to helpers would otherwise spend much of its time on two
atomic reference counts per array per call (measured: a third of the event loop)."""


def jit(function: F) -> F:
    """Compile ``function`` in nopython mode, cached on disk, without the GIL, allocating
    nothing and counting no references (:data:`OPTIONS`)."""
    return cast(F, numba.njit(**OPTIONS)(function))


def inline(function: F) -> F:
    """:func:`jit`, and compiled into each compiled caller rather than called (LLVM's
    ``alwaysinline``): for the helpers of a hot loop.

    A call between compiled functions passes each array as a structure copied on the
    stack (some ten words an array): a helper called once a patient with a handful of
    arrays cost the tally as much as its own work. numba's own inlining (``inline=
    "always"``, at the level of its IR) removes the call too, but types the helper again at
    every call site: the kernel took twice as long to compile (measured 1 December 2026:
    64 s with it, 31 s with LLVM's)."""
    return cast(F, numba.njit(**OPTIONS, forceinline=True)(function))


def prefetch(a: Any, i: int, j: int) -> None:
    """Ask the processor to bring ``a[i, j]`` (a 2-d array) into its caches, without waiting
    for it: a hint, which neither reads nor faults (an index past the end is harmless). In
    compiled code it is one instruction (LLVM's ``llvm.prefetch``); run as Python, nothing."""


def _install_prefetch() -> None:
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, overload

    @intrinsic
    def _prefetch(typingctx: Any, a: Any, i: Any, j: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            kind = signature.args[0]
            array = context.make_array(kind)(context, builder, args[0])
            at = cgutils.get_item_pointer(
                context, builder, kind, array, [args[1], args[2]], wraparound=False
            )
            byte, word = ir.IntType(8).as_pointer(), ir.IntType(32)
            hint = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(ir.VoidType(), [byte, word, word, word]),
                "llvm.prefetch.p0",
            )
            # a read (0), kept in every level of cache (3), of data (1)
            builder.call(hint, [builder.bitcast(at, byte), word(0), word(3), word(1)])
            return context.get_dummy_value()

        return types.void(a, i, j), codegen

    @overload(prefetch, inline="always")
    def _compiled(a: Any, i: Any, j: Any) -> Any:
        def run(a: Any, i: Any, j: Any) -> None:
            _prefetch(a, i, j)  # type: ignore[call-arg]  # typingctx is numba's

        return run


_install_prefetch()
