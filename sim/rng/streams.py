"""Named random streams: the only source of randomness in leftshift.

A replication's streams are a pure function of ``(base_seed, replication,
stream_name)``::

    rng = stream(seed, rep, "arrivals/frail_elderly")

so that

* the same seed gives the same numbers, whatever the number of workers or the
  order in which replications run;
* adding a stream never shifts another (each name has its own key);
* the scenario is not part of the key, so two scenarios compared in the same
  replication see the same patients (common random numbers).

Names are hashed with BLAKE2b, which is stable across processes and Python
versions (the built-in ``hash`` is salted per process).

Each stream is numpy's PCG64 seeded by ``SeedSequence(base_seed,
spawn_key=(replication, hash(name)))``. numpy builds a SeedSequence in Python
(about 40 microseconds a stream, more than a small replication's arrivals
cost to draw), so :func:`stream` computes the same seed words with a compiled
copy of numpy's algorithm (:func:`_seed_words`, held equal to numpy's by a
test) and hands them to PCG64 directly.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, cast

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from ..jit import inline, jit


@functools.lru_cache(maxsize=4096)
def stable_hash(name: str) -> int:
    """A 64-bit integer that depends only on ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def stream(base_seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for one named stream of one replication."""
    if base_seed < 0 or replication < 0:
        raise ValueError(f"seed and replication must be >= 0, got {base_seed}, {replication}")
    key = stable_hash(name)
    if base_seed >= 1 << 64 or replication >= 1 << 64:  # beyond the compiled copy's words
        seq: ISeedSequence = np.random.SeedSequence(base_seed, spawn_key=(replication, key))
    else:
        seq = _Seeded(base_seed, replication, key)
    return np.random.Generator(np.random.PCG64(cast(Any, seq)))  # numpy takes any ISeedSequence


class _Seeded(ISeedSequence):
    """The seed words of ``SeedSequence(base_seed, spawn_key=(replication, key))``, computed
    by :func:`_seed_words`: what PCG64 asks of a seed sequence (4 words of 64 bits)."""

    def __init__(self, base_seed: int, replication: int, key: int) -> None:
        self.args = (base_seed, replication, key)

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:  # pragma: no cover - not PCG64's
            seed, rep, key = self.args
            return np.random.SeedSequence(seed, spawn_key=(rep, key)).generate_state(n_words, dtype)
        out = np.empty(4, dtype=np.uint64)
        words = [np.uint64(a) for a in self.args]
        _seed_words(words[0], words[1], words[2], np.empty(12, dtype=np.uint64), out)
        return out


_M32 = 0xFFFFFFFF
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _XSHIFT = 0xCA01F9DD, 0x4973F715, 16


@jit
def _words(n: np.uint64, out: np.ndarray, at: int) -> int:
    """``n`` as 32-bit words, lowest first, from ``out[at]`` (one word for 0); the next free
    place (numpy's ``_int_to_uint32_array``)."""
    out[at] = n & _M32
    at += 1
    n >>= np.uint64(32)
    while n:
        out[at] = n & _M32
        at += 1
        n >>= np.uint64(32)
    return at


@inline
def _hashmix(value: np.uint64, hc: np.uint64, mult: int) -> tuple[np.uint64, np.uint64]:
    """numpy's ``hashmix`` on 32-bit words: the mixed value and the next hash constant
    (multiplied by ``mult``)."""
    m32 = np.uint64(_M32)
    v = (value ^ hc) & m32
    hc = (hc * np.uint64(mult)) & m32
    v = (v * hc) & m32
    return v ^ (v >> np.uint64(_XSHIFT)), hc


@inline
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:
    """numpy's ``mix`` of two 32-bit words."""
    r = (np.uint64(_MIX_L) * x - np.uint64(_MIX_R) * y) & np.uint64(_M32)
    return r ^ (r >> np.uint64(_XSHIFT))


@jit
def _seed_words(
    seed: np.uint64, rep: np.uint64, key: np.uint64, entropy: np.ndarray, out: np.ndarray
) -> None:
    """numpy's ``SeedSequence(seed, spawn_key=(rep, key)).generate_state(4, np.uint64)``
    into ``out``: its entropy mixed into a pool of four 32-bit words, then eight words drawn
    from the pool (``entropy`` is room for 12 words)."""
    n = _words(seed, entropy, 0)
    while n < 4:  # run entropy padded to the pool size when a spawn key follows
        entropy[n] = 0
        n += 1
    n = _words(rep, entropy, n)
    n = _words(key, entropy, n)
    hc = np.uint64(_INIT_A)
    pool = out  # the pool lives in the room of the output
    for i in range(4):
        pool[i], hc = _hashmix(entropy[i], hc, _MULT_A)
    for src in range(4):
        for dst in range(4):
            if src != dst:
                v, hc = _hashmix(pool[src], hc, _MULT_A)
                pool[dst] = _mix(pool[dst], v)
    for src in range(4, n):
        for dst in range(4):
            v, hc = _hashmix(entropy[src], hc, _MULT_A)
            pool[dst] = _mix(pool[dst], v)
    for i in range(4):
        entropy[i] = pool[i]
    hb = np.uint64(_INIT_B)
    for k in range(4):  # eight 32-bit words, two to each 64-bit word, lowest first
        word = np.uint64(0)
        for half in range(2):
            v, hb = _hashmix(entropy[(2 * k + half) % 4], hb, _MULT_B)
            word |= v << np.uint64(32 * half)
        out[k] = word


class Streams:
    """The named streams of one replication, created on first use."""

    def __init__(self, base_seed: int, replication: int) -> None:
        self.base_seed = base_seed
        self.replication = replication
        self._cache: dict[str, np.random.Generator] = {}

    def __call__(self, name: str) -> np.random.Generator:
        rng = self._cache.get(name)
        if rng is None:
            rng = self._cache[name] = stream(self.base_seed, self.replication, name)
        return rng

    def twin(self, name: str, copy: int) -> np.random.Generator:
        """Copy ``copy`` (1, 2, ...) of stream ``name``: a generator of its own that starts
        where ``name`` starts, so it gives the same numbers whatever is drawn from the other
        (a duration drawn under two distributions from the same underlying numbers)."""
        key = f"{name}\0{copy}"  # no stream name holds a NUL
        rng = self._cache.get(key)
        if rng is None:
            rng = self._cache[key] = stream(self.base_seed, self.replication, name)
        return rng

    def __repr__(self) -> str:
        return f"Streams(seed={self.base_seed}, replication={self.replication})"
