"""Named streams: a pure function of (seed, replication, name)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from sim.rng.streams import Streams, stable_hash, stream


def test_same_key_same_numbers():
    a = stream(42, 3, "arrivals/frail").random(5)
    b = stream(42, 3, "arrivals/frail").random(5)
    assert np.array_equal(a, b)


def test_every_part_of_the_key_matters():
    base = stream(42, 3, "los").random(5)
    assert not np.array_equal(base, stream(43, 3, "los").random(5))
    assert not np.array_equal(base, stream(42, 4, "los").random(5))
    assert not np.array_equal(base, stream(42, 3, "los2").random(5))


def test_using_another_stream_never_shifts_this_one():
    quiet = Streams(1, 0)
    busy = Streams(1, 0)
    busy("something else").random(1000)
    assert np.array_equal(quiet("los").random(10), busy("los").random(10))


def test_name_hash_is_stable_across_processes():
    code = "from sim.rng.streams import stable_hash; print(stable_hash('arrivals/frail'))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert int(other.stdout) == stable_hash("arrivals/frail")


def test_seed_words_are_numpys_seed_sequence():
    """The compiled seeding gives numpy's own SeedSequence streams, for small and large
    seeds, replications and name hashes (words of 32 and 64 bits, and the padding rule)."""
    rng = np.random.default_rng(2026)
    for i in range(500):
        seed = int(rng.integers(0, 2**63)) if i % 3 else int(rng.integers(0, 100))
        replication = int(rng.integers(0, 2**40)) if i % 5 == 0 else int(rng.integers(0, 5000))
        name = f"stream/{i}"
        seq = np.random.SeedSequence(seed, spawn_key=(replication, stable_hash(name)))
        numpys = np.random.Generator(np.random.PCG64(seq))
        assert np.array_equal(stream(seed, replication, name).random(3), numpys.random(3))
    huge = 2**70  # beyond the compiled words: numpy's SeedSequence itself
    seq = np.random.SeedSequence(huge, spawn_key=(1, stable_hash("x")))
    assert np.array_equal(
        stream(huge, 1, "x").random(3), np.random.Generator(np.random.PCG64(seq)).random(3)
    )
