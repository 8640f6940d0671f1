"""The left-shift case study: could the business case's projected reductions be achieved?

Runs do nothing, the business case, the business case with the urgent response
capacity its projection needs, the business case with weekday office-hours
commissioning, and the cohort evidence applied to its cohort, on the same
replications (common random numbers), 2016/17 to 2020/21. Writes the comparison,
``findings.csv``, ``findings.md`` and ``report.html`` to ``--out``::

    make case-study
    .venv/bin/python experiments/left_shift/case_study.py --reps 10 --workers 2

Every figure in the findings is a mean over replications with a Student-t 95%
interval; changes between scenarios are paired by replication.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

import sim
from sim.analysis import net_cost as net_cost_table
from sim.analysis import t_interval
from sim.present.progress import progress_bar
from sim.present.report import write_report

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[1] / "configs"

DO_NOTHING = "do_nothing"
PLAN = "business_case"
FUNDED = "business_case_funded"
OFFICE_HOURS = "business_case_office_hours"
COHORT = "cohort_evidence"
STAGES_8PM = "staged_discharge_assessors_8pm"
FILES = {
    DO_NOTHING: CONFIGS / "do_nothing.toml",
    PLAN: CONFIGS / "business_case.toml",
    FUNDED: CONFIGS / "business_case_funded.toml",
    OFFICE_HOURS: HERE / "office_hours.toml",
    COHORT: HERE / "cohort_evidence.toml",
    STAGES_8PM: HERE / "staged_discharge.toml",
}
DO_NOTHING_FROZEN = "do_nothing_frozen"
PLAN_GROWN = "business_case_grown"
OFFICE_HOURS_GROWN = "business_case_office_hours_grown"
STAGES_OFFICE = "staged_discharge_office_hours"
STAGES_EXTENDED = "staged_discharge_both_extended"
EXTENDED = "every day 08:00-20:00"
OFFICE = "Mon-Fri 09:00-17:00"
LABELS = {
    DO_NOTHING: "do nothing (beds and D2A places grow with demand)",
    DO_NOTHING_FROZEN: "do nothing, beds and D2A places frozen at 2016/17 (as the plan)",
    PLAN: "business case (beds and D2A frozen, as the plan assumed)",
    PLAN_GROWN: "business case with D2A places grown as in do nothing",
    FUNDED: "business case with the urgent response its projection needs",
    OFFICE_HOURS: "business case, office-hours commissioning (D2A frozen)",
    OFFICE_HOURS_GROWN: "business case, office-hours commissioning, D2A grown",
    COHORT: "cohort evidence applied to its cohort",
    STAGES_OFFICE: "business case, discharge assessment and brokerage both in office hours",
    STAGES_8PM: "business case, assessors until 20:00 on 7 days, brokerage in office hours",
    STAGES_EXTENDED: "business case, assessment and brokerage both 08:00-20:00 on 7 days",
}
"""Each scenario's capacity assumption, in words: the findings label every figure with it."""
D2A = ("p1", "p2", "p3")
BASE_YEAR = "2016/17"
FIRST_YEAR = "2017/18"
FINAL_PLAN_YEAR = "2020/21"
COHORT_SHARE = 0.25
"""The within-cohort reduction cohort_evidence.toml applies (Fylde Coast evidence)."""

FINDING_COLUMNS = [
    "question",
    "measure",
    "scenario",
    "period",
    "mean",
    "ci_low",
    "ci_high",
    "unit",
    "plan",
]


@dataclass(frozen=True)
class Values:
    """Per-replication metric values of a run, looked up by scenario, metric and period."""

    wide: pd.DataFrame

    @classmethod
    def of(cls, replications: pd.DataFrame) -> Values:
        wide = replications.pivot_table(
            index="replication",
            columns=["scenario", "metric", "period"],
            values="value",
            aggfunc="first",
        )
        return cls(wide.sort_index())

    @property
    def final(self) -> str:
        """The last financial year reported (2020/21 for the full case study)."""
        return self.years(DO_NOTHING)[-1]

    def __call__(self, scenario: str, metric: str, period: str | None = None) -> np.ndarray:
        column = (scenario, metric, self.final if period is None else period)
        return self.wide[column].to_numpy(dtype=float)

    def rate(self, scenario: str, metric: str, period: str | None = None) -> np.ndarray:
        """Per observed day, so that a part year compares fairly with a whole one."""
        return self(scenario, metric, period) / self(scenario, "observed_days", period)

    def has(self, scenario: str) -> bool:
        return scenario in self.wide.columns.get_level_values("scenario")

    def years(self, scenario: str) -> list[str]:
        periods = self.wide[scenario].columns.get_level_values("period")
        return sorted({p for p in periods if p != "all"})


def _row(
    question: str,
    measure: str,
    scenario: str,
    period: str,
    values: np.ndarray,
    unit: str,
    plan: float = float("nan"),
) -> dict[str, object]:
    mean, low, high = t_interval(values)
    return dict(
        zip(
            FINDING_COLUMNS,
            [question, measure, scenario, period, mean, low, high, unit, plan],
            strict=True,
        )
    )


def _projection(
    scenario: sim.Scenario | None, metric: str, year: str, against_comparator: bool
) -> float:
    if scenario is None:
        return float("nan")
    table = scenario.plan.projected_vs_comparator if against_comparator else scenario.plan.projected
    return float(table.get(metric, {}).get(year, float("nan")))


def plan_against_outcome(v: Values, plans: dict[str, sim.Scenario]) -> list[dict[str, object]]:
    """Change in attendances and admissions, against 2016/17 and against do nothing."""
    rows = []
    labels = {
        "attendances": "A&E attendances",
        "admissions_nhs": "non-elective admissions (SDEC counted)",
    }
    for metric, label in labels.items():
        base = v.rate(DO_NOTHING, metric, BASE_YEAR)
        for name in (DO_NOTHING, DO_NOTHING_FROZEN, PLAN, PLAN_GROWN, FUNDED):
            if not v.has(name):
                continue
            final = v.rate(name, metric)
            plan = plans.get(name)
            rows.append(
                _row(
                    "plan_vs_outcome",
                    f"{label}: change against {BASE_YEAR}",
                    name,
                    v.final,
                    final / base - 1,
                    "share",
                    _projection(plan, metric, v.final, against_comparator=False),
                )
            )
            if name != DO_NOTHING:
                rows.append(
                    _row(
                        "plan_vs_outcome",
                        f"{label}: change against do nothing",
                        name,
                        v.final,
                        final / v.rate(DO_NOTHING, metric) - 1,
                        "share",
                        _projection(plan, metric, v.final, against_comparator=True),
                    )
                )
    first_year_shown = FIRST_YEAR in v.years(DO_NOTHING) and v.final != FIRST_YEAR
    for name in (PLAN, FUNDED) if first_year_shown else ():
        if v.has(name):
            first = (
                v.rate(name, "attendances", FIRST_YEAR)
                / v.rate(DO_NOTHING, "attendances", BASE_YEAR)
                - 1
            )
            projected = _projection(plans.get(name), "attendances", FIRST_YEAR, False)
            rows.append(
                _row(
                    "plan_vs_outcome",
                    f"A&E attendances: change against {BASE_YEAR}",
                    name,
                    FIRST_YEAR,
                    first,
                    "share",
                    projected,
                )
            )
    return rows


def community_capacity(v: Values, plans: dict[str, sim.Scenario]) -> list[dict[str, object]]:
    """How much of the planned avoidance the urgent response service achieves, and why not."""
    rows = []
    for name in (PLAN, FUNDED, OFFICE_HOURS):
        if not v.has(name):
            continue
        planned = v(name, "avoidance_planned")
        for metric, measure in (
            ("avoided_attendances", "planned avoidances achieved"),
            ("avoidance_lost_closed", "planned avoidances lost: service closed"),
            ("avoidance_lost_full", "planned avoidances lost: service full"),
        ):
            rows.append(
                _row(
                    "community_capacity", measure, name, v.final, v(name, metric) / planned, "share"
                )
            )
        rows.append(
            _row(
                "community_capacity",
                "urgent response places",
                name,
                v.final,
                np.full(len(planned), _places_in(plans[name], v.final)),
                "places",
            )
        )
        rows.append(
            _row(
                "community_capacity",
                "urgent response occupancy",
                name,
                v.final,
                v(name, "community_occupancy_urgent_response"),
                "share",
            )
        )
    return rows


def _places_in(scenario: sim.Scenario, year: str) -> float:
    """Urgent response places in force at the start of a financial year (``2020/21``)."""
    service = scenario.community.urgent_response
    if service is None:
        return 0.0
    starts = dt.date(int(year[:4]), 4, 1)
    capacity = service.capacity
    for change in service.capacity_changes:
        if change.date <= starts:
            capacity = change.capacity
    return float("inf") if capacity == "unlimited" else float(capacity)


HOURS_MEASURES = (
    ("delayed_bed_days", "delayed bed days", "bed days"),
    ("acute_occupancy_mean", "acute occupancy, mean", "share"),
    ("community_wait_days_p1", "wait for P1 home care", "days"),
    ("avoided_attendances", "attendances avoided", "patients"),
)


def opening_hours(v: Values) -> list[dict[str, object]]:
    """What 7-day, 08:00-20:00 commissioning changes against weekday office hours (paired),
    with D2A capacity frozen (as the plan assumed) and grown with demand."""
    rows = []
    for seven_day, office in ((PLAN, OFFICE_HOURS), (PLAN_GROWN, OFFICE_HOURS_GROWN)):
        if not (v.has(seven_day) and v.has(office)):
            continue
        for metric, label, unit in HOURS_MEASURES:
            for name in (office, seven_day):
                rows.append(_row("opening_hours", label, name, v.final, v(name, metric), unit))
            rows.append(
                _row(
                    "opening_hours",
                    f"{label}: 7-day 08:00-20:00 minus office hours",
                    seven_day,
                    v.final,
                    v(seven_day, metric) - v(office, metric),
                    "points" if unit == "share" else unit,
                )
            )
    # longer hours cost staff: the D2A acceptance rotas' FTE and cost (config staffing)
    if not (v.has(PLAN) and v.has(OFFICE_HOURS)):
        return rows
    for kind, label, unit in (
        ("community_staff_fte", "D2A acceptance staff (FTE, P1-P3)", "FTE"),
        ("cost_staff", "D2A acceptance staff cost (P1-P3)", "GBP"),
    ):
        totals = {
            name: np.sum([v(name, f"{kind}_{s}") for s in ("p1", "p2", "p3")], axis=0)
            for name in (OFFICE_HOURS, PLAN)
        }
        for name, total in totals.items():
            rows.append(_row("opening_hours", label, name, v.final, total, unit))
        rows.append(
            _row(
                "opening_hours",
                f"{label}: 7-day 08:00-20:00 minus office hours",
                PLAN,
                v.final,
                totals[PLAN] - totals[OFFICE_HOURS],
                unit,
            )
        )
    return rows


ED_MEASURES = (
    ("ed_4h_share", "A&E: seen within 4 hours", "share"),
    ("ed_12h_waits", "A&E: 12-hour waits from decision to admit", "patients"),
    ("acute_occupancy_mean", "acute occupancy, mean", "share"),
)


STAGE_MEASURES = (
    ("delayed_bed_days", "delayed bed days"),
    ("delay_assessment_bed_days", "delayed bed days waiting for assessment"),
    ("delay_brokerage_bed_days", "delayed bed days waiting for brokerage"),
    ("delay_place_bed_days", "delayed bed days waiting for a place"),
)


def staged_discharge(v: Values) -> list[dict[str, object]]:
    """Assessors until 20:00 with brokerage in office hours (the seed's scenario) against
    both stages in office hours and both extended: delayed bed days by stage, and what
    extending the assessors alone, or both stages, saves (paired by replication)."""
    names = (STAGES_OFFICE, STAGES_8PM, STAGES_EXTENDED)
    if not all(v.has(name) for name in names):
        return []
    rows = []
    for metric, label in STAGE_MEASURES:
        for name in names:
            rows.append(_row("staged_discharge", label, name, v.final, v(name, metric), "bed days"))
        for name, what in ((STAGES_8PM, "assessors only"), (STAGES_EXTENDED, "both stages")):
            rows.append(
                _row(
                    "staged_discharge",
                    f"{label}: saved by extending {what}",
                    name,
                    v.final,
                    v(STAGES_OFFICE, metric) - v(name, metric),
                    "bed days",
                )
            )
    return rows


def ed_performance(v: Values) -> list[dict[str, object]]:
    """What the plan does to A&E performance against do nothing, under each capacity
    assumption: reported whether it flatters the plan or not."""
    rows = []
    pairs = ((PLAN, DO_NOTHING), (PLAN, DO_NOTHING_FROZEN), (PLAN_GROWN, DO_NOTHING))
    for metric, label, unit in ED_MEASURES:
        for name in (DO_NOTHING, DO_NOTHING_FROZEN, PLAN, PLAN_GROWN):
            if v.has(name):
                rows.append(_row("ed_performance", label, name, v.final, v(name, metric), unit))
        for name, comparator in pairs:
            if v.has(name) and v.has(comparator):
                rows.append(
                    _row(
                        "ed_performance",
                        f"{label}: minus {comparator.replace('_', ' ')}",
                        name,
                        v.final,
                        v(name, metric) - v(comparator, metric),
                        "points" if unit == "share" else unit,
                    )
                )
    return rows


def cohort_scale(v: Values) -> list[dict[str, object]]:
    """A 25% reduction within the high-need cohort, seen across the whole population."""
    if not v.has(COHORT):
        return []
    rows = []
    share = v(DO_NOTHING, "attendances_frail_older") / v(DO_NOTHING, "attendances")
    rows.append(
        _row(
            "cohort_scale",
            "frail older people's share of attendances",
            DO_NOTHING,
            v.final,
            share,
            "share",
        )
    )
    rows.append(
        _row(
            "cohort_scale",
            "expected population change in attendances: -25% x cohort share",
            COHORT,
            v.final,
            -COHORT_SHARE * share,
            "share",
        )
    )
    for metric, label in (
        ("attendances_frail_older", "frail older people's attendances"),
        ("attendances", "A&E attendances, whole population"),
        ("admissions_nhs", "non-elective admissions, whole population"),
    ):
        rows.append(
            _row(
                "cohort_scale",
                f"{label}: change against do nothing",
                COHORT,
                v.final,
                v(COHORT, metric) / v(DO_NOTHING, metric) - 1,
                "share",
            )
        )
    return rows


def sdec_counting(v: Values) -> list[dict[str, object]]:
    """The admissions line with and without SDEC episodes counted as admissions."""
    rows = []
    for name in (DO_NOTHING, PLAN, FUNDED):
        if not v.has(name):
            continue
        for metric, label in (
            ("admissions_incl_sdec", "admissions, SDEC counted: change against 2016/17"),
            ("admissions_bed", "admissions to a bed only: change against 2016/17"),
            ("sdec_episodes", "SDEC episodes: change against 2016/17"),
        ):
            change = v.rate(name, metric) / v.rate(DO_NOTHING, metric, BASE_YEAR) - 1
            rows.append(_row("sdec_counting", label, name, v.final, change, "share"))
        sdec_share = 1 - v(name, "admissions_bed") / v(name, "admissions_incl_sdec")
        rows.append(
            _row(
                "sdec_counting",
                "share of counted admissions that are SDEC",
                name,
                v.final,
                sdec_share,
                "share",
            )
        )
    return rows


def net_cost(replications: pd.DataFrame, plans: dict[str, sim.Scenario]) -> list[dict[str, object]]:
    """Cumulative cost against do nothing from the plan's first year, with the investment in
    it; the base year's own difference apart (:func:`sim.analysis.net_cost`)."""
    costs = plans[DO_NOTHING].costs if DO_NOTHING in plans else None
    rate = costs.discount_rate if costs is not None else 0.0
    table = net_cost_table(replications, DO_NOTHING, BASE_YEAR, rate)
    rows = []
    for name in (PLAN, FUNDED):
        mine = table[table["scenario"] == name]
        for period, group in mine.groupby("period", sort=True):
            year = str(period)
            if group["plan_year"].iloc[0] < 1:
                measure, column = "base-year net cost against do nothing", "net_gbp"
                rows.append(_row("net_cost", measure, name, year, group[column].to_numpy(), "GBP"))
                continue
            for measure, column in (
                ("cumulative net cost against do nothing", "cumulative_gbp"),
                ("cumulative investment", "cumulative_investment_gbp"),
            ):
                rows.append(_row("net_cost", measure, name, year, group[column].to_numpy(), "GBP"))
    return rows


def findings(replications: pd.DataFrame, plans: dict[str, sim.Scenario]) -> pd.DataFrame:
    """Every finding of the case study: one row per question, measure, scenario and period."""
    v = Values.of(replications)
    rows = [
        *plan_against_outcome(v, plans),
        *community_capacity(v, plans),
        *opening_hours(v),
        *staged_discharge(v),
        *ed_performance(v),
        *cohort_scale(v),
        *sdec_counting(v),
        *net_cost(replications, plans),
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


# --- words ------------------------------------------------------------------------------------


class Reader:
    """Looks up a finding and writes it as words: "-12.3% (95% CI -13.0% to -11.6%)"."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.final = str(table["period"].max())

    def row(
        self, question: str, measure: str, scenario: str, period: str | None = None
    ) -> pd.Series:
        t = self.table
        period = self.final if period is None else period
        hit = t[
            (t.question == question)
            & (t.measure == measure)
            & (t.scenario == scenario)
            & (t.period == period)
        ]
        if len(hit) != 1:
            raise KeyError(f"{question} / {measure} / {scenario} / {period}: {len(hit)} rows")
        return hit.iloc[0]

    def __call__(
        self, question: str, measure: str, scenario: str, period: str | None = None
    ) -> str:
        r = self.row(question, measure, scenario, period)
        show = _formatter(str(r["unit"]))
        if show(r["ci_low"]) == show(r["ci_high"]):  # no spread between replications
            return show(r["mean"])
        return f"{show(r['mean'])} (95% CI {show(r['ci_low'])} to {show(r['ci_high'])})"

    def mean(self, question: str, measure: str, scenario: str, period: str | None = None) -> float:
        return float(self.row(question, measure, scenario, period)["mean"])


def _formatter(unit: str) -> Callable[[float], str]:
    if unit == "points":
        return lambda x: f"{100 * x:+.1f} pp"
    if unit == "share":
        return lambda x: f"{x:+.1%}" if x < 0 else f"{x:.1%}"
    if unit == "GBP":
        return lambda x: f"-£{-x / 1e6:,.1f}m" if x < 0 else f"£{x / 1e6:,.1f}m"
    if unit in ("places",):
        return lambda x: "unlimited" if np.isinf(x) else f"{x:,.0f}"
    return lambda x: f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def summary(table: pd.DataFrame, plans: dict[str, sim.Scenario]) -> list[tuple[str, list[str]]]:
    """The findings in plain words: (heading, sentences) pairs."""
    say = Reader(table)
    final = say.final

    def projected(metric: str, vs_comparator: bool = False, year: str = final) -> str:
        change = _projection(plans.get(PLAN), metric, year, vs_comparator)
        return "no projection for that year" if np.isnan(change) else f"projected {change:+.0%}"

    present = set(table["scenario"])
    sections = [
        (
            "The scenarios, and what each assumes about capacity",
            [
                f"{name.replace('_', ' ')}: {label}."
                for name, label in LABELS.items()
                if name in present
            ],
        ),
        ("Did the plan's reductions happen?", _outcome(say, projected)),
        ("What community capacity does the projection need?", _capacity(say)),
    ]
    if (table.question == "opening_hours").any():
        sections.append(("Seven-day, 08:00-20:00 commissioning against office hours", _hours(say)))
    if (table.question == "staged_discharge").any():
        sections.append(
            ("Assessors until 8pm, packages commissioned the next morning", _stages(say))
        )
    if (table.question == "ed_performance").any():
        sections.append(("What the plan does to A&E performance", _ed(say)))
    if (table.question == "cohort_scale").any():
        sections.append(
            ("A 25% reduction in a high-need cohort, across the population", _cohort(say))
        )
    sections.append(("Counting SDEC as an admission", _sdec(say)))
    sections.append(("Cumulative net cost against do nothing", _cost(say)))
    return sections


def _outcome(say: Reader, projected: Callable[..., str]) -> list[str]:
    q, final = "plan_vs_outcome", say.final
    att, adm = "A&E attendances", "non-elective admissions (SDEC counted)"
    vs_base, vs_dn = "change against 2016/17", "change against do nothing"
    out = [
        f"A&E attendances in {final} against {BASE_YEAR}: do nothing "
        f"{say(q, f'{att}: {vs_base}', DO_NOTHING)}; business case as resourced "
        f"{say(q, f'{att}: {vs_base}', PLAN)} ({projected('attendances')}); with its urgent "
        f"response funded {say(q, f'{att}: {vs_base}', FUNDED)}.",
        f"Against do nothing in {final}: business case {say(q, f'{att}: {vs_dn}', PLAN)} "
        f"({projected('attendances', vs_comparator=True)}); funded "
        f"{say(q, f'{att}: {vs_dn}', FUNDED)}.",
    ]
    if final != FIRST_YEAR and (say.table.period == FIRST_YEAR).any():
        out.append(
            f"In {FIRST_YEAR}, the plan's first year: business case "
            f"{say(q, f'{att}: {vs_base}', PLAN, FIRST_YEAR)} against {BASE_YEAR} "
            f"({projected('attendances', year=FIRST_YEAR)})."
        )
    out.append(
        f"Non-elective admissions, counted as the trust counted them (SDEC included), in "
        f"{final}: business case {say(q, f'{adm}: {vs_base}', PLAN)} against {BASE_YEAR} "
        f"({projected('admissions_nhs')}) and {say(q, f'{adm}: {vs_dn}', PLAN)} against do "
        f"nothing ({projected('admissions_nhs', vs_comparator=True)})."
    )
    return out


def _capacity(say: Reader) -> list[str]:
    c, final = "community_capacity", say.final
    achieved, closed, full = (
        "planned avoidances achieved",
        "planned avoidances lost: service closed",
        "planned avoidances lost: service full",
    )
    stated = say.mean(c, "urgent response places", PLAN)
    needed = say.mean(c, "urgent response places", FUNDED)
    return [
        f"With the {stated:,.0f} urgent response places the plan's money buys in {final}, "
        f"{say(c, achieved, PLAN)} of the planned avoidances happen; {say(c, full, PLAN)} "
        f"are lost because the team is full and {say(c, closed, PLAN)} because it is closed "
        "(it takes patients 08:00-20:00).",
        f"A capacity search on {FINAL_PLAN_YEAR} demand finds {needed:,.0f} places keep the "
        "avoidances lost for want of a place to about 2% of those planned "
        f"(configs/business_case_funded.toml). With them {say(c, achieved, FUNDED)} are "
        f"achieved and {say(c, closed, FUNDED)} are still lost to closed hours: no number of "
        "places reaches the projection while the service closes at 20:00.",
    ]


def _hours(say: Reader) -> list[str]:
    h, final = "opening_hours", say.final
    gap = ": 7-day 08:00-20:00 minus office hours"
    grown = []
    if (say.table.scenario == PLAN_GROWN).any():
        kept = say.mean(h, "delayed bed days" + gap, PLAN_GROWN) / say.mean(
            h, "delayed bed days" + gap, PLAN
        )
        grown.append(
            f"With D2A places grown with demand (as do nothing grows them), the difference in "
            f"delayed bed days in {final} is {say(h, 'delayed bed days' + gap, PLAN_GROWN)} "
            f"(office hours {say(h, 'delayed bed days', OFFICE_HOURS_GROWN)}, 7-day "
            f"{say(h, 'delayed bed days', PLAN_GROWN)}): "
            f"{kept:.0%} of the gain measured with capacity frozen; the rest is the hours "
            "standing in for places the plan did not add."
        )
    return [
        f"With beds and D2A places frozen at 2016/17, as the plan assumed: delayed bed days in "
        f"{final}: office hours {say(h, 'delayed bed days', OFFICE_HOURS)}, "
        f"7-day 08:00-20:00 {say(h, 'delayed bed days', PLAN)}; difference "
        f"{say(h, 'delayed bed days' + gap, PLAN)}.",
        *grown,
        f"Mean acute occupancy: office hours {say(h, 'acute occupancy, mean', OFFICE_HOURS)}, "
        f"7-day {say(h, 'acute occupancy, mean', PLAN)}; difference "
        f"{say(h, 'acute occupancy, mean' + gap, PLAN)}.",
        "Mean wait for P1 home care (days): difference "
        f"{say(h, 'wait for P1 home care' + gap, PLAN)}; attendances avoided: difference "
        f"{say(h, 'attendances avoided' + gap, PLAN)}.",
        f"Longer hours cost staff: the D2A acceptance rotas need "
        f"{say(h, 'D2A acceptance staff (FTE, P1-P3)', PLAN)} FTE for 7-day 08:00-20:00 against "
        f"{say(h, 'D2A acceptance staff (FTE, P1-P3)', OFFICE_HOURS)} for office hours, "
        f"{say(h, 'D2A acceptance staff cost (P1-P3)' + gap, PLAN)} more in {final} "
        "(one on duty per open hour at GBP 45,000 an FTE-year, both assumptions).",
    ]


def _stages(say: Reader) -> list[str]:
    q, final = "staged_discharge", say.final
    total = "delayed bed days"
    by_stage = ", ".join(
        f"{what} {say(q, f'delayed bed days waiting for {what}', STAGES_8PM)}"
        for what in ("assessment", "brokerage", "a place")
    )
    return [
        f"Delayed bed days in {final} with both discharge stages in office hours "
        f"{say(q, total, STAGES_OFFICE)}; with the assessors working until 20:00 on 7 days "
        f"but brokerage still Mon-Fri 09:00-17:00 {say(q, total, STAGES_8PM)} ({by_stage}); "
        f"with both stages 08:00-20:00 on 7 days {say(q, total, STAGES_EXTENDED)}.",
        "Extending only the assessors saves "
        f"{say(q, f'{total}: saved by extending assessors only', STAGES_8PM)} delayed bed days "
        f"in {final}; extending both saves "
        f"{say(q, f'{total}: saved by extending both stages', STAGES_EXTENDED)}. Waiting for "
        "brokerage with the assessors extended: "
        f"{say(q, 'delayed bed days waiting for brokerage', STAGES_8PM)}, against "
        f"{say(q, 'delayed bed days waiting for brokerage', STAGES_OFFICE)} with both in office "
        "hours: an evening assessment waits for the morning's commissioning. Stage durations "
        "and capacities are assumptions (staged_discharge.toml).",
    ]


def _ed(say: Reader) -> list[str]:
    e, final = "ed_performance", say.final
    four, twelve = "A&E: seen within 4 hours", "A&E: 12-hour waits from decision to admit"
    out = [
        f"Seen within 4 hours in {final}: do nothing {say(e, four, DO_NOTHING)}, do nothing "
        f"with beds and D2A frozen {say(e, four, DO_NOTHING_FROZEN)}, business case "
        f"{say(e, four, PLAN)}; the plan minus do nothing "
        f"{say(e, four + ': minus do nothing', PLAN)}, minus do nothing frozen "
        f"{say(e, four + ': minus do nothing frozen', PLAN)}.",
        f"12-hour waits from decision to admit in {final}: do nothing "
        f"{say(e, twelve, DO_NOTHING)}, frozen {say(e, twelve, DO_NOTHING_FROZEN)}, business "
        f"case {say(e, twelve, PLAN)}; the plan minus do nothing "
        f"{say(e, twelve + ': minus do nothing', PLAN)}.",
    ]

    def verdict(comparator: str) -> str:
        r = say.row(e, f"{four}: minus {comparator.replace('_', ' ')}", PLAN)
        if r["ci_high"] < 0:
            return "does worse on the 4-hour standard"
        if r["ci_low"] > 0:
            return "does better on the 4-hour standard"
        return "is not clearly different on the 4-hour standard"

    out.append(
        "Against a do nothing that grows its beds and D2A places, the plan, which freezes "
        f"them, {verdict(DO_NOTHING)}; against a do nothing frozen as the plan is (the plan's "
        f"levers alone), it {verdict(DO_NOTHING_FROZEN)}."
    )
    return out


def _cohort(say: Reader) -> list[str]:
    k = "cohort_scale"
    share = "frail older people's share of attendances"
    own = "frail older people's attendances: change against do nothing"
    population = "A&E attendances, whole population: change against do nothing"
    admissions = "non-elective admissions, whole population: change against do nothing"
    expected = "expected population change in attendances: -25% x cohort share"
    return [
        f"Frail older people make up {say(k, share, DO_NOTHING)} of attendances in {say.final}.",
        f"Avoiding 25% of their would-be attendances, in full, changes their attendances by "
        f"{say(k, own, COHORT)}, the whole population's by {say(k, population, COHORT)} "
        f"(-25% x their share: {say(k, expected, COHORT)}) and non-elective admissions by "
        f"{say(k, admissions, COHORT)}.",
        "The evidence the plan cited, applied where it was observed, moves the population "
        "by a few percent, not by -23%.",
    ]


def _sdec(say: Reader) -> list[str]:
    s, final = "sdec_counting", say.final
    counted = "admissions, SDEC counted: change against 2016/17"
    beds = "admissions to a bed only: change against 2016/17"
    episodes = "SDEC episodes: change against 2016/17"
    share = "share of counted admissions that are SDEC"
    return [
        f"Business case, {final} against {BASE_YEAR}: admissions counted with SDEC "
        f"{say(s, counted, PLAN)}; admissions to a bed {say(s, beds, PLAN)}; SDEC episodes "
        f"{say(s, episodes, PLAN)}.",
        f"SDEC episodes are {say(s, share, PLAN)} of the counted admissions line (do nothing: "
        f"{say(s, share, DO_NOTHING)}): expanding ambulatory care moves patients out of beds "
        "without moving them out of the admissions count.",
    ]


def _cost(say: Reader) -> list[str]:
    n, final = "net_cost", say.final
    net = "cumulative net cost against do nothing"
    base = "base-year net cost against do nothing"
    invested = "cumulative investment"
    return [
        f"From {FIRST_YEAR} (the plan's first year) to the end of {final}: business case "
        f"{say(n, net, PLAN)}, including {say(n, invested, PLAN)} of transformation funding, "
        f"and funded {say(n, net, FUNDED)}, including {say(n, invested, FUNDED)} (the fund "
        "and the 67 extra urgent response places), against do nothing (positive costs more; "
        "discounted as do_nothing.toml's costs.discount_rate says). In the base year "
        f"{BASE_YEAR}, not counted: business case {say(n, base, PLAN, BASE_YEAR)}, funded "
        f"{say(n, base, FUNDED, BASE_YEAR)}.",
        "The business case expected savings of about £40m a year, recurrent.",
    ]


def findings_markdown(table: pd.DataFrame, plans: dict[str, sim.Scenario], meta: str) -> str:
    lines = ["# Left-shift case study: findings", "", meta, ""]
    for heading, sentences in summary(table, plans):
        lines += [f"## {heading}", "", *(f"- {text}" for text in sentences), ""]
    return "\n".join(lines)


def findings_html(table: pd.DataFrame, plans: dict[str, sim.Scenario], meta: str) -> str:
    """A fragment the report puts above its charts (see sim.report)."""
    parts = [
        '<section class="findings"><h2>Findings</h2>',
        f'<p class="meta">{html.escape(meta)}</p>',
    ]
    for heading, sentences in summary(table, plans):
        items = "".join(f"<li>{html.escape(text)}</li>" for text in sentences)
        parts.append(f"<h3>{html.escape(heading)}</h3><ul>{items}</ul>")
    parts.append(_findings_table(table))
    parts.append("</section>")
    return "\n".join(parts)


def _findings_table(table: pd.DataFrame) -> str:
    head = ["question", "measure", "scenario", "period", "mean (95% CI)", "plan"]
    rows = []
    for r in table.to_dict("records"):
        show = _formatter(str(r["unit"]))
        plan = "" if pd.isna(r["plan"]) else show(float(r["plan"]))
        cells = [
            str(r["question"]).replace("_", " "),
            str(r["measure"]),
            str(r["scenario"]).replace("_", " "),
            str(r["period"]),
            f"{show(float(r['mean']))} ({show(float(r['ci_low']))} to {show(float(r['ci_high']))})",
            plan,
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return (
        "<details><summary>Every finding (table)</summary>"
        f'<table class="headline"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        "</details>"
    )


# --- running ----------------------------------------------------------------------------------


def load(names: Sequence[str]) -> dict[str, sim.Scenario]:
    """The case study's scenarios: its files, and the capacity variants made from them."""
    plans = {name: sim.load_scenario(FILES[name]) for name in names}
    return {**plans, **variants(plans)}


def _capacity_of(donor: sim.Scenario, services: Sequence[str]) -> dict[str, object]:
    """Overrides that give a scenario the donor's capacity timeline for ``services``."""
    out: dict[str, object] = {}
    for name in services:
        spec = donor.service(name)
        if spec is not None:
            out[f"community.{name}.capacity_changes"] = [
                c.model_dump(mode="json", exclude_none=True) for c in spec.capacity_changes
            ]
    return out


def variants(plans: dict[str, sim.Scenario]) -> dict[str, sim.Scenario]:
    """Do nothing with beds and D2A frozen as the plan froze them, and the plan (and its
    office-hours twin) with D2A places grown as do nothing grows them: the 7-day finding and
    the plan's effect under both capacity assumptions. Made from the files, so each figure
    stays in one place (do_nothing.toml's growth, business_case.toml's freeze)."""
    out: dict[str, sim.Scenario] = {}
    if DO_NOTHING in plans:
        frozen: dict[str, list[object]] = {
            "acute.capacity_changes": [],
            **{f"community.{s}.capacity_changes": [] for s in D2A},
        }
        out[DO_NOTHING_FROZEN] = plans[DO_NOTHING].override(frozen, name=DO_NOTHING_FROZEN)
        grown = _capacity_of(plans[DO_NOTHING], D2A)
        for name, variant in ((PLAN, PLAN_GROWN), (OFFICE_HOURS, OFFICE_HOURS_GROWN)):
            if name in plans:
                out[variant] = plans[name].override(grown, name=variant)
    if STAGES_8PM in plans:  # the seed's scenario with the assessors' hours cut, or both longer
        staged = plans[STAGES_8PM]
        out[STAGES_OFFICE] = staged.override(
            {"discharge.assessment.hours": OFFICE}, name=STAGES_OFFICE
        )
        out[STAGES_EXTENDED] = staged.override(
            {"discharge.brokerage.hours": EXTENDED}, name=STAGES_EXTENDED
        )
    return out


def saved_scenarios(out: Path) -> dict[str, sim.Scenario]:
    """The scenarios exactly as a saved run resolved them (scenario.json)."""
    provenance = json.loads((out / "scenario.json").read_text())
    return {
        s["name"]: sim.Scenario.from_dict(s["resolved"], source=s["source"])
        for s in provenance["scenarios"]
    }


def write_findings(out: Path) -> pd.DataFrame:
    """findings.csv, .md and .html from a saved run, then its report.html."""
    provenance = json.loads((out / "scenario.json").read_text())
    plans = saved_scenarios(out)
    replications = pd.read_parquet(out / "replications.parquet")
    table = findings(replications, plans)
    meta = (
        f"{replications['replication'].nunique()} replications of {len(plans)} scenarios on the "
        f"same patients, {BASE_YEAR} to {table['period'].max()}, "
        f"{provenance.get('engine', '?')} engine, seed {provenance.get('seed', '?')}."
    )
    texts = {
        "findings.md": findings_markdown(table, plans, meta),
        "findings.html": findings_html(table, plans, meta),
    }
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        table.to_csv(Path(tmp) / "findings.csv", index=False)
        for name, text in texts.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        for item in Path(tmp).iterdir():
            os.replace(item, out / item.name)
    write_report(out)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10, help="replications (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: the files')")
    parser.add_argument(
        "--engine", choices=sorted(sim.engines.registry.available()), default="fast"
    )
    parser.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=Path("outputs/left_shift"))
    parser.add_argument(
        "--years", type=float, default=None, help="shorten every scenario's horizon (quick looks)"
    )
    parser.add_argument(
        "--from-saved",
        action="store_true",
        help="do not run: rebuild the findings and report from the results saved in --out",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if not args.from_saved:
        try:
            plans = load(list(FILES))
            if args.years is not None:
                plans = {n: s.override({"run.horizon_years": args.years}) for n, s in plans.items()}
        except sim.ScenarioError as err:
            console.print(f"[red]error:[/red] {err}")
            return 2
        started = time.monotonic()
        scenarios = list(plans.values())
        with progress_bar(console, args.quiet) as bar:
            task = bar.add_task(
                "left-shift case study", total=args.reps * len(scenarios), unit="replications"
            )
            comparison = sim.compare(
                scenarios,
                against=DO_NOTHING,
                reps=args.reps,
                seed=args.seed,
                engine=args.engine,
                workers=args.workers if args.workers > 1 else None,
                progress=lambda done: bar.update(task, completed=done),
            )
        comparison.save(args.out)
        console.print(f"Simulated in {(time.monotonic() - started) / 60:.1f} min.")
    elif not (args.out / "replications.parquet").exists():
        console.print(f"[red]error:[/red] {args.out}: no saved results to rebuild from")
        return 2
    write_findings(args.out)
    if not args.quiet:
        print((args.out / "findings.md").read_text())
    print(f"Report: {args.out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
