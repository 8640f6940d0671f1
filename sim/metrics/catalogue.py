"""The metric catalogue: every metric a run reports, as data.

Each :class:`Metric` has a name (a contract with experiment files, reports
and the case study), a label for people, the unit its numbers are shown in
and what they count (as docs/metrics.md's unit column says). The command
line's table, the HTML report, sweeps' metric validation and the tests all
read this module; a test holds docs/metrics.md to it.

Some names stand for a family, one metric per cohort, service or pathway:
``attendances_{cohort}``, ``community_occupancy_{service}``. :func:`names`
expands them for one scenario, in the order the tables list them, without
running anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..codes import SERVICES
from ..model.tally import DAILY_SERIES

DERIVED_DAILY_SERIES = ("delayed", "acute_capacity", "acute_occupancy", "opel_level")
"""The daily table's series computed from the counted ones, after them: patients delayed (P1-P3
waiting), core beds open, occupied / core beds, and the day's OPEL-like level (1-4,
:func:`sim.metrics.accumulator.opel_level`)."""

DAILY_TABLE_SERIES = (*DAILY_SERIES, *DERIVED_DAILY_SERIES)
"""Every series the daily table can hold, in its order (a scenario's holds those it configures:
a community service's and a discharge stage's only when configured)."""

Unit = Literal["count", "share", "days", "hours", "staff", "gbp"]
"""How a metric's numbers are shown: whole numbers, percentages (shares are
fractions 0-1), days, hours and staff (FTE; two decimals), pounds (millions)."""

Family = Literal["cohort", "service", "pathway", "pathway_service"]
"""What a templated name ranges over: each cohort; each configured community
service; each of p1-p3; each configured service among p1-p3."""


@dataclass(frozen=True)
class Metric:
    """One metric (or one family of metrics) of the catalogue."""

    name: str
    """The metric's name; ``{cohort}``, ``{service}`` or ``{pathway}`` in a family's."""
    label: str
    """What a table or chart calls it."""
    unit: Unit
    """How its numbers are shown."""
    counts: str
    """What its numbers are: docs/metrics.md's unit column (``patients``, ``bed days``)."""
    family: Family | None = None

    def expand(self, cohorts: Sequence[str], services: Sequence[str]) -> list[str]:
        """The concrete names of this metric for a scenario's cohorts and configured services."""
        if self.family is None:
            return [self.name]
        if self.family == "cohort":
            return [self.name.format(cohort=c) for c in cohorts]
        if self.family == "pathway":
            return [self.name.format(pathway=p) for p in ("p1", "p2", "p3")]
        chosen = [s for s in SERVICES if s in services]
        if self.family == "pathway_service":
            chosen = [s for s in chosen if s != "urgent_response"]
        key = "service" if "{service}" in self.name else "pathway"
        return [self.name.format(**{key: s}) for s in chosen]


def _m(name: str, label: str, unit: Unit, counts: str, family: Family | None = None) -> Metric:
    return Metric(name, label, unit, counts, family)


CATALOGUE: tuple[Metric, ...] = (
    _m("observed_days", "Days observed", "count", "days"),
    # demand and admission avoidance
    _m("attendances", "A&E attendances", "count", "attendances"),
    _m("attendances_{cohort}", "A&E attendances: {cohort}", "count", "attendances", "cohort"),
    _m("attendances_would_be", "Would-be attendances", "count", "attendances"),
    _m("avoidance_planned", "Avoidances planned", "count", "patients"),
    _m("avoided_attendances", "Attendances avoided (urgent response)", "count", "patients"),
    _m("avoidance_lost", "Avoidances lost", "count", "patients"),
    _m("avoidance_lost_closed", "Avoidances lost: service closed", "count", "patients"),
    _m("avoidance_lost_full", "Avoidances lost: service full", "count", "patients"),
    _m("urgent_response_loss_share", "Planned avoidances lost", "share", "share 0-1"),
    _m("avoidable_attendances", "Avoidable-type patients who attended A&E", "count", "patients"),
    _m(
        "bed_days_per_avoidable_attendance",
        "Bed days per avoidable-type attendance (saved per avoidance)",
        "days",
        "bed days per patient",
    ),
    _m("readmissions", "Readmissions", "count", "attendances"),
    _m("readmissions_30d", "30-day emergency readmissions", "count", "admissions"),
    _m("reattendances", "Re-attendances at A&E after care", "count", "attendances"),
    # A&E
    _m("ed_4h_share", "A&E: seen within 4 hours", "share", "share 0-1"),
    _m("ed_time_mean_hours", "A&E: mean time in department (hours)", "hours", "hours"),
    _m("ed_12h_waits", "A&E: 12-hour waits from decision to admit", "count", "patients"),
    _m("boarding_hours", "A&E: hours boarding after a decision to admit", "count", "patient-hours"),
    _m("ed_in_department_mean", "A&E: patients in the department, mean", "count", "patients"),
    _m("ed_4h_share_admitted", "A&E: admitted, left within 4 hours", "share", "share 0-1"),
    _m("ed_4h_share_not_admitted", "A&E: not admitted, left within 4 hours", "share", "share 0-1"),
    _m(
        "ed_time_median_hours_admitted",
        "A&E: admitted, median time in department (hours)",
        "hours",
        "hours",
    ),
    _m(
        "ed_time_median_hours_not_admitted",
        "A&E: not admitted, median time in department (hours)",
        "hours",
        "hours",
    ),
    # SDEC and admissions
    _m("sdec_episodes", "SDEC episodes", "count", "episodes"),
    _m("sdec_refused", "SDEC referrals admitted (SDEC closed or full)", "count", "patients"),
    _m("sdec_loss_share", "SDEC referrals that found it closed or full", "share", "share 0-1"),
    _m("sdec_waited", "SDEC referrals that waited for it to open", "count", "patients"),
    _m("sdec_wait_mean_hours", "SDEC: mean wait for it to open (hours)", "hours", "hours"),
    _m("admissions_bed", "Admissions to a bed", "count", "admissions"),
    _m("admissions_direct", "Direct admissions", "count", "admissions"),
    _m("admissions_incl_sdec", "Admissions including SDEC", "count", "admissions"),
    _m("admissions_nhs", "Emergency admissions (counting rule)", "count", "admissions"),
    _m("admissions_overnight", "Overnight admissions", "count", "admissions"),
    _m("admission_wait_share", "Admissions that waited for a bed", "share", "share 0-1"),
    _m("diverted", "Diverted for want of a bed", "count", "patients"),
    _m("direct_wait_hours", "Hours direct admissions waited for a bed", "count", "patient-hours"),
    _m("bed_queue_mean", "Waiting for a bed, mean", "count", "patients"),
    # acute beds
    _m("emergency_bed_days", "Emergency bed days", "count", "bed days"),
    _m("acute_beds_occupied_mean", "Acute beds occupied, mean", "count", "beds"),
    _m("acute_long_stay_share", "Bed time in stays past day 21", "share", "share 0-1"),
    _m("acute_occupancy_mean", "Acute occupancy, mean", "share", "share 0-1"),
    _m("acute_occupancy_p95", "Acute occupancy, 95th percentile", "share", "share 0-1"),
    _m("acute_time_at_or_above_92", "Time at or above 92% occupancy", "share", "share 0-1"),
    _m("acute_time_full", "Time with every bed full", "share", "share 0-1"),
    # escalation beds and the OPEL-like level
    _m("escalation_bed_days", "Escalation bed days open", "count", "bed days"),
    _m("escalation_openings", "Times escalation beds opened", "count", "openings"),
    _m("escalation_days_share", "Days with escalation beds open", "share", "share 0-1"),
    _m("opel_3_days", "Days at OPEL-like level 3", "count", "days"),
    _m("opel_4_days", "Days at OPEL-like level 4", "count", "days"),
    # discharge
    _m("delayed_bed_days", "Delayed bed days (P1-P3)", "count", "bed days"),
    _m("delayed_bed_days_{pathway}", "Delayed bed days: {pathway}", "count", "bed days", "pathway"),
    _m(
        "p0_discharge_wait_bed_days",
        "Bed days waiting for discharge hours (P0)",
        "count",
        "bed days",
    ),
    _m("delayed_discharges", "Delayed discharges (P1-P3)", "count", "patients"),
    _m(
        "delayed_discharges_{pathway}",
        "Delayed discharges: {pathway}",
        "count",
        "patients",
        "pathway",
    ),
    *(
        metric
        for stage, waiting in (
            ("assessment", "waiting for assessment"),
            ("brokerage", "waiting for brokerage"),
            ("place", "waiting for a place"),
        )
        for metric in (
            _m(f"delay_{stage}_bed_days", f"Delayed bed days {waiting}", "count", "bed days"),
            _m(
                f"delay_{stage}_bed_days_{{pathway}}",
                f"Delayed bed days {waiting}: {{pathway}}",
                "count",
                "bed days",
                "pathway",
            ),
            _m(f"delay_{stage}_patients", f"Delayed patients {waiting}", "count", "patients"),
            _m(
                f"delay_{stage}_patients_{{pathway}}",
                f"Delayed patients {waiting}: {{pathway}}",
                "count",
                "patients",
                "pathway",
            ),
        )
    ),
    _m("delayed_share", "Fit P1-P3 patients delayed", "share", "share 0-1"),
    _m(
        "delayed_share_{pathway}",
        "Fit patients delayed: {pathway}",
        "share",
        "share 0-1",
        "pathway",
    ),
    # community services
    _m("community_in_use_{service}", "{service} places in use, mean", "count", "places", "service"),
    _m(
        "community_occupancy_{service}",
        "{service} occupancy, mean",
        "share",
        "share 0-1",
        "service",
    ),
    _m(
        "community_starts_{service}",
        "{service} episodes started",
        "count",
        "patients",
        "pathway_service",
    ),
    _m(
        "community_wait_days_{service}",
        "{service} wait from fit to start (days)",
        "days",
        "days",
        "pathway_service",
    ),
    _m("visits_delivered_p1", "P1 visits delivered", "count", "visits"),
    _m("visits_in_use_p1", "P1 visits a day in use, mean", "count", "visits a day"),
    _m(
        "community_staff_fte_{service}",
        "{service} staff (FTE)",
        "staff",
        "FTE",
        "service",
    ),
    _m(
        "community_staff_per_open_hour_{service}",
        "{service} staff on duty per open hour",
        "staff",
        "staff",
        "service",
    ),
    # costs
    _m("cost_ed", "Cost: A&E attendances", "gbp", "GBP"),
    _m("cost_sdec", "Cost: SDEC episodes", "gbp", "GBP"),
    _m("cost_acute_bed_days", "Cost: acute bed days", "gbp", "GBP"),
    _m("cost_delayed_bed_days", "Cost: delayed bed days", "gbp", "GBP"),
    _m("cost_escalation_bed_days", "Cost: escalation bed days", "gbp", "GBP"),
    _m("cost_urgent_response_episodes", "Cost: urgent response episodes", "gbp", "GBP"),
    _m("cost_diversion", "Cost: diversions", "gbp", "GBP"),
    _m("cost_community_{service}", "Cost: {service} place days", "gbp", "GBP", "service"),
    _m("cost_staff_{service}", "Cost: {service} staff", "gbp", "GBP", "service"),
    _m("cost_investment", "Cost: investment", "gbp", "GBP"),
    _m("cost_total", "Total cost", "gbp", "GBP"),
    _m("paid_by_investment", "Charges paid by investment (not counted again)", "gbp", "GBP"),
)
"""Every metric, in the order the tables list them (docs/metrics.md's order)."""

HEADLINES: tuple[str, ...] = (
    "attendances",
    "avoided_attendances",
    "ed_4h_share",
    "ed_time_median_hours_admitted",
    "ed_12h_waits",
    "sdec_episodes",
    "admissions_nhs",
    "admissions_overnight",
    "emergency_bed_days",
    "acute_occupancy_mean",
    "acute_occupancy_p95",
    "acute_time_at_or_above_92",
    "admission_wait_share",
    "diverted",
    "delayed_bed_days",
    "community_wait_days_p1",
    "community_wait_days_p2",
    "community_wait_days_p3",
    "readmissions",
    "cost_total",
)
"""The headline table's metrics (command line, report, app), in its order."""

SERVICE_LABELS = {"urgent_response": "Urgent response", "p1": "P1", "p2": "P2", "p3": "P3"}


def names(cohorts: Sequence[str], services: Sequence[str]) -> list[str]:
    """Every metric name a run of a scenario with these cohorts and configured services reports."""
    return [name for metric in CATALOGUE for name in metric.expand(cohorts, services)]


def _families() -> dict[str, tuple[Metric, str]]:
    """Each concrete-looking prefix of a family, for :func:`find`."""
    return {m.name.split("{")[0]: (m, m.name.split("}")[-1]) for m in CATALOGUE if m.family}


def find(name: str) -> Metric | None:
    """The catalogue entry of a concrete metric name (a family's entry for a family member)."""
    for metric in CATALOGUE:
        if metric.name == name:
            return metric
    for prefix, (metric, suffix) in _families().items():
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix):
            return metric
    return None


def label(name: str) -> str:
    """What tables and charts call the metric ``name``; readable words if it is not listed."""
    metric = find(name)
    if metric is None:
        text = name.replace("_", " ")
        return text[:1].upper() + text[1:]
    if metric.family is None:
        return metric.label
    prefix, _, rest = metric.name.partition("{")
    key, _, suffix = rest.partition("}")
    member = name[len(prefix) : len(name) - len(suffix)]
    shown = SERVICE_LABELS.get(member, member.replace("_", " ")) if key != "cohort" else member
    text = metric.label.replace("{" + key + "}", shown.replace("_", " "))
    return text[:1].upper() + text[1:]


def unit(name: str) -> Unit:
    """How the numbers of metric ``name`` are shown (``count`` for a name not listed)."""
    metric = find(name)
    return "count" if metric is None else metric.unit


def headlines(available: Iterable[str]) -> list[Metric]:
    """The headline metrics among ``available`` names, in headline order, each as reported.

    A family member (``community_wait_days_p1``) comes back as a concrete
    :class:`Metric` with its own name and label.
    """
    present = set(available)
    out = []
    for name in HEADLINES:
        if name in present:
            metric = find(name)
            assert metric is not None, name
            out.append(Metric(name, label(name), metric.unit, metric.counts))
    return out
