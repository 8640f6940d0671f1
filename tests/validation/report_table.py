"""Print the validation table of docs/validation.md from an actual run.

``python tests/validation/report_table.py [--precise]`` runs every check on
both engines (the default suite's sizes, or the slow suite's with
``--precise``) and prints one markdown row per check: the analytic or peer
value, the measured mean with its 95% interval, and whether it passed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from harness import ENGINES, Check  # noqa: E402
from test_little import SIZE as LITTLE_SIZE  # noqa: E402  (the default suite's sizes)
from test_queueing import SIZE as QUEUE_SIZE  # noqa: E402

DEFAULT: dict[str, Callable[[str], list[Check]]] = {
    "Erlang C": lambda e: checks.erlang_c_checks(e, **_size(e)),
    "Erlang B, exponential": lambda e: checks.erlang_b_checks(e, "exponential", **_size(e)),
    "Erlang B, lognormal": lambda e: checks.erlang_b_checks(e, "lognormal", **_size(e)),
    "M/M/c/K": lambda e: checks.mmck_checks(e, **_size(e)),
    "Little": lambda e: checks.little_checks(e, **LITTLE_SIZE[e]),
    "M_t/G/inf": lambda e: checks.mt_g_infinity_checks(e, reps=20, weeks=2),
    "tandem vs Ciw": lambda e: checks.tandem_checks(e, reps=12, days=100),
}
PRECISE: dict[str, Callable[[str], list[Check]]] = {
    "Erlang C": lambda e: checks.erlang_c_checks(e, reps=60, days=73),
    "Erlang B, exponential": lambda e: checks.erlang_b_checks(e, "exponential", 60, 73),
    "Erlang B, lognormal": lambda e: checks.erlang_b_checks(e, "lognormal", 60, 73),
    "M/M/c/K": lambda e: checks.mmck_checks(e, reps=60, days=73),
    "Little": lambda e: checks.little_checks(e, reps=12, days=180),
    "M_t/G/inf": lambda e: checks.mt_g_infinity_checks(e, reps=60, weeks=8),
    "tandem vs Ciw": lambda e: checks.tandem_checks(e, reps=40, days=365),
}


def _size(engine: str) -> dict[str, float]:
    return QUEUE_SIZE[engine]


def row(c: Check) -> str:
    source = f"{c.source} {c.expected:.4g}" + (f" ± {c.expected_se:.2g}" if c.expected_se else "")
    verdict = "pass" if c.passed else "**fail**"
    return (
        f"| {c.name} | {c.engine} | {source} | {c.measured:.4g} ({c.low:.4g} to {c.high:.4g}) "
        f"| {c.reps} | ±{c.tolerance:.2g} | {verdict} |"
    )


def main(precise: bool) -> None:
    table = PRECISE if precise else DEFAULT
    print("| check | engine | analytic or peer | measured (95% CI) | reps | tolerance | result |")
    print("|---|---|---|---|---|---|---|")
    timings = []
    for name, make in table.items():
        for engine in ENGINES:
            started = time.perf_counter()
            for c in make(engine):
                print(row(c))
            timings.append(f"{name} [{engine}]: {time.perf_counter() - started:.1f} s")
    print("\n" + "; ".join(timings), file=sys.stderr)


if __name__ == "__main__":
    main("--precise" in sys.argv[1:])
