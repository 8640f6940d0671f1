"""Peak memory of one long run, in a fresh process (used by test_long_horizon.py).

``python memory_probe.py ENGINE YEARS [--trace]`` runs one replication of the
quiet baseline for YEARS years (invariant checks off: they keep every patient)
and prints JSON: peak resident set size (MiB), the seconds taken and, with
``--trace``, the peak of Python allocations traced during the run (MiB;
tracing slows the fast engine's many small numpy calls several times over).
"""

from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import quiet_baseline  # noqa: E402

from sim.runs.runner import run_batch  # noqa: E402
from sim.scenario.params import build_params  # noqa: E402


def main(engine: str, years: float, trace: bool) -> None:
    params = build_params(quiet_baseline(years))
    import sim.engines.reference  # noqa: F401  (imports and compilation outside the peak)
    from sim.engines.compiled import prepare

    prepare()

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    daily = run_batch(params, 1, [0], engine, check=False).daily
    out = {"seconds": time.perf_counter() - started}
    if trace:
        out["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["daily_rows"] = len(daily)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), "--trace" in sys.argv[3:])
