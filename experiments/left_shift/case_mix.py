"""What an avoided frail attendance saves, with and without the avoidable sub-cohort.

Runs the business case and experiments/left_shift/case_mix.toml (the same plan, avoidance
taking only the frail patients a community team can take) with avoidance of the frail
cohort alone (the other cohorts' avoidable_share set to 0, so the metric is the frail
cohort's), over the base year and the plan's first year, and prints, for 2017/18, the bed
days per avoidable-type attendance (what an avoidance of that kind saves at first order),
the avoided attendances and emergency bed days, each a mean with its 95% interval::

    python experiments/left_shift/case_mix.py [--reps 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sim

HERE = Path(__file__).parent
FILES = {
    "random slice (business case)": HERE.parent.parent / "configs" / "business_case.toml",
    "sub-cohort (case_mix.toml)": HERE / "case_mix.toml",
}
SHORT = {
    "run.horizon_years": 2,  # 2016/17 and the plan's first year, 2017/18
    "run.warm_up_days": 365,  # the metric is per attendance: congestion moves it little
    "cohorts.other_adults.avoidable_share": 0.0,
    "cohorts.children.avoidable_share": 0.0,
}
METRICS = ("bed_days_per_avoidable_attendance", "avoided_attendances", "emergency_bed_days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20170401)
    args = parser.parse_args()
    for label, path in FILES.items():
        scenario = sim.load_scenario(path).override(SHORT)
        summary = sim.run(scenario, reps=args.reps, seed=args.seed).summary
        rows = summary[summary.metric.isin(METRICS) & (summary.period == "2017/18")]
        print(label)
        for row in rows.itertuples():
            print(f"  {row.metric}: {row.mean:,.3f} (95% CI {row.ci_low:,.3f}-{row.ci_high:,.3f})")


if __name__ == "__main__":
    main()
