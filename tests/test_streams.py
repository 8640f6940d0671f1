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
