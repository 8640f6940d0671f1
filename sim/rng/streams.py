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
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np


@functools.lru_cache(maxsize=4096)
def stable_hash(name: str) -> int:
    """A 64-bit integer that depends only on ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def stream(base_seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for one named stream of one replication."""
    if base_seed < 0 or replication < 0:
        raise ValueError(f"seed and replication must be >= 0, got {base_seed}, {replication}")
    seq = np.random.SeedSequence(base_seed, spawn_key=(replication, stable_hash(name)))
    return np.random.Generator(np.random.PCG64(seq))


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

    def __repr__(self) -> str:
        return f"Streams(seed={self.base_seed}, replication={self.replication})"
