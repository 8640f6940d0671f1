"""The streaming, vectorised metrics agree with the per-replication definitions they replaced.

``_reference_*`` below are the pre-vectorisation definitions of every metric
and daily series (sim/metrics.py and the step-function helpers of
sim/stepfn.py at commit d363a40; the helpers the invariant checks still use
come from sim.stepfn), kept here only as the oracle: one record at a time,
whole-run step functions. The accumulator must give the same
tables whether it is fed a whole record or rows of several replications in
shuffled chunks with the bed events in time-ordered chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS, single_unit, small_system
from test_escalation import ESCALATING

from sim.clock import stepfn
from sim.clock.calendar import Period
from sim.clock.schedule import Schedule
from sim.codes import EPS_HOURS, HOURS_PER_DAY, SERVICES
from sim.engines.reference import simulate
from sim.metrics.accumulator import (
    MetricAccumulator,
    Tables,
    daily_series,
    replication_metrics,
)
from sim.model import rules
from sim.model.record import BOOL_COLUMNS, COLUMNS, FLOAT_COLUMNS, Record, acute_events
from sim.model.tally import DAILY_SERIES
from sim.scenario.params import CostParams, ModelParams, build_costs, build_params
from sim.scenario.schema import Scenario, load_scenario

# --- the reference: pre-vectorisation definitions ---------------------------------------------

_Step = tuple[np.ndarray, np.ndarray]
HOUR_4 = 4.0
HOUR_12 = 12.0


def _reference_from_log(times: np.ndarray, values: np.ndarray) -> _Step:
    last = np.r_[times[1:] != times[:-1], True]
    return np.asarray(times, float)[last], np.asarray(values, float)[last]


def _reference_integral(step: _Step, at: np.ndarray, end_h: float) -> np.ndarray:
    times, values = step
    edges = np.append(times, max(end_h, times[-1]))
    cumulative = np.concatenate(([0.0], np.cumsum(values * np.diff(edges))))
    return np.asarray(np.interp(at, edges, cumulative), dtype=float)


def _reference_window_total(step: _Step, start: float, end: float, end_h: float) -> float:
    both = _reference_integral(step, np.array([start, end]), end_h)
    return float(both[1] - both[0])


def _reference_window_quantile(step: _Step, start: float, end: float, q: float) -> float:
    times, values = step
    lo = np.clip(times, start, end)
    hi = np.clip(np.append(times[1:], np.inf), start, end)
    weight = hi - lo
    keep = weight > 0
    if not keep.any():
        return float("nan")
    v, w = values[keep], weight[keep]
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(v[order][min(index, len(v) - 1)])


def _reference_value_at(step: _Step, at: np.ndarray) -> np.ndarray:
    times, values = step
    return values[np.searchsorted(times, at, side="right") - 1]


def _reference_daily_means(step: _Step, day_starts: np.ndarray, end_h: float) -> np.ndarray:
    cumulative = _reference_integral(step, day_starts, end_h)
    return np.diff(cumulative) / np.diff(day_starts)


class _ReferenceSeries:
    def __init__(self, record: Record) -> None:
        self.r = record
        self.p: ModelParams = record.params
        P = record.patients
        self.end = self.p.calendar.end_h
        admitted_from_ed = (P["ed_outcome"] == 2) | P["sdec_refused"]
        bed_leave = np.where(np.isnan(P["bed_start"]), P["diverted"], P["bed_start"])
        end = self.end

        def count(starts: np.ndarray, ends: np.ndarray) -> _Step:
            return stepfn.counting(starts, ends, end)

        self.steps: dict[str, _Step] = {
            "acute_occupied": count(P["bed_start"], P["bed_end"]),
            "acute_long_stay": count(
                np.where(
                    np.isnan(P["bed_end"]) | (P["bed_end"] - P["bed_start"] > 21 * 24),
                    P["bed_start"] + 21 * 24,
                    np.nan,
                ),
                P["bed_end"],
            ),
            "bed_queue": count(P["bed_request"], bed_leave),
            "ed_in_department": count(P["ed_arrival"], P["ed_departure"]),
            "boarding": count(
                np.where(admitted_from_ed, P["ed_decision"], np.nan), P["ed_departure"]
            ),
            "direct_waiting": count(
                np.where(np.isnan(P["ed_arrival"]) | P["sdec_admit"], P["bed_request"], np.nan),
                bed_leave,
            ),
            "sdec_in_use": count(P["sdec_start"], P["sdec_end"]),
            "community_in_use_urgent_response": count(P["ur_start"], P["ur_end"]),
        }
        for k in (0, 1, 2, 3):
            on = P["pathway"] == k
            self.steps[f"waiting_discharge_p{k}"] = count(
                np.where(on, P["t_fit"], np.nan), P["bed_end"]
            )
            if k:
                self.steps[f"community_in_use_p{k}"] = count(
                    np.where(on, P["comm_start"], np.nan), P["comm_end"]
                )
                # discharge stages: from fit to the end of assessment, then to the end of
                # brokerage (each only if configured)
                start = P["t_fit"]
                for stage, column in (("assessment", "assess"), ("brokerage", "broker")):
                    if self.p.stages[0 if stage == "assessment" else 1] is None:
                        continue
                    stop = P[f"{column}_end"]
                    self.steps[f"waiting_{stage}_p{k}"] = count(np.where(on, start, np.nan), stop)
                    start = stop
        visits = self.p.p1_visits
        if visits is not None:  # P1 in visits a day: each patient's level, step by step
            self.steps["visits_in_use_p1"] = self._visits(P, visits.final_per_day, end)
        self.capacity = {
            name: _reference_from_log(log.times_h, log.values)
            for name, log in record.capacity.items()
        }
        # occupancy is of the core beds (acute.beds and its dated changes): the record's acute
        # log holds the escalation beds open as well
        self.core_beds = _reference_from_log(self.p.beds.times_h, self.p.beds.values)
        self.occupancy_share = self._share(self.steps["acute_occupied"], self.core_beds)
        escalation = record.capacity.get("acute_escalation")
        if escalation is not None:
            self.steps["escalation_beds_open"] = _reference_from_log(
                escalation.times_h, escalation.values
            )
        self.community_share = {
            s: self._share(
                self.steps["visits_in_use_p1" if s == "p1" and visits else f"community_in_use_{s}"],
                self.capacity[s],
            )
            for s in SERVICES
            if s in self.capacity
        }

    @property
    def daily_levels(self) -> dict[str, np.ndarray]:
        """Each observed day's start, whether escalation beds were open in it, and its
        OPEL-like level, by the thresholds docs/metrics.md states (written out here)."""
        cal = self.p.calendar
        days = cal.day_starts()
        occupancy = _reference_daily_means(self.occupancy_share, days, self.end)
        queue = _reference_daily_means(self.steps["bed_queue"], days, self.end)
        escalated = np.zeros(len(days) - 1, dtype=bool)
        if "escalation_beds_open" in self.steps:
            escalated = (
                _reference_daily_means(self.steps["escalation_beds_open"], days, self.end) > 1e-12
            )
        opel = np.where(occupancy >= 0.85, 2, 1)
        opel = np.where((occupancy >= 0.92) | escalated, 3, opel)
        opel = np.where(queue >= 1.0, 4, opel)
        return {"start": days[:-1], "escalated": escalated, "opel": opel}

    @staticmethod
    def _visits(P: dict[str, np.ndarray], final: int, end: float) -> _Step:
        """Visits a day in use: each P1 patient holds ``visits_p1`` from the start, one
        fewer from each step-down day (the rule's days, from the start), none from the end."""
        starts: list[float] = []
        ends: list[float] = []
        for i in np.flatnonzero((P["pathway"] == 1) & (P["visits_p1"] > 0)):
            start, stop = P["comm_start"][i], P["comm_end"][i]
            initial, days = int(P["visits_p1"][i]), int(P["visit_days"][i])
            steps = [rules.visit_step_day(j, initial, final, days) for j in range(1, initial)]
            gone = [start + 24.0 * d for d in steps if d >= 0]
            starts += [start] * initial
            ends += gone + [stop] * (initial - len(gone))
        return stepfn.counting(np.array(starts), np.array(ends), end)

    @staticmethod
    def _share(used: _Step, capacity: _Step) -> _Step:
        times, u, c = stepfn.combine(used, capacity)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(c > 0, u / c, np.where(u > 0, np.inf, 1.0))
        share = np.where(np.isinf(c), 0.0, share)
        return times, share


def _in(t: np.ndarray, period: Period) -> np.ndarray:
    return (t >= period.start_h) & (t < period.end_h)


def _reference_period_metrics(
    series: _ReferenceSeries, period: Period, scenario: Scenario
) -> Iterator[tuple[str, float]]:
    """(metric, value) pairs for one period."""
    r, params = series.r, series.p
    P = r.patients
    end = series.end
    a, b = period.start_h, period.end_h
    mean = lambda name: stepfn.window_mean(series.steps[name], a, b, end)  # noqa: E731
    total = lambda name: _reference_window_total(series.steps[name], a, b, end)  # noqa: E731
    origin = P["origin"]

    yield "observed_days", period.days

    # --- demand and avoidance ---
    attended = _in(P["ed_arrival"], period)
    yield "attendances", float(attended.sum())
    for cohort in params.cohorts:
        yield f"attendances_{cohort.name}", float((attended & (P["cohort"] == cohort.index)).sum())
    would_be = (origin == 0) & _in(P["t_arrival"], period)
    yield "attendances_would_be", float(would_be.sum())
    planned = would_be & P["avoidable"]
    achieved = planned & ~np.isnan(P["ur_start"])
    yield "avoidance_planned", float(planned.sum())
    yield "avoided_attendances", float(achieved.sum())
    yield "avoidance_lost", float((planned & ~achieved).sum())
    yield "avoidance_lost_closed", float((planned & (P["avoid_lost"] == 1)).sum())
    yield "avoidance_lost_full", float((planned & (P["avoid_lost"] == 2)).sum())
    yield (
        "urgent_response_loss_share",
        float((planned & ~achieved).sum() / planned.sum()) if planned.any() else float("nan"),
    )
    # case mix: avoidable-type patients who attended, and the bed days that followed
    kind = attended & P["avoidable_type"]
    in_bed = kind & ~np.isnan(P["bed_start"])
    bed_days = (np.where(np.isnan(P["bed_end"]), end, P["bed_end"]) - P["bed_start"])[in_bed] / 24
    yield "avoidable_attendances", float(kind.sum())
    yield (
        "bed_days_per_avoidable_attendance",
        float(bed_days.sum() / kind.sum()) if kind.any() else float("nan"),
    )
    readmitted = (origin == 2) & _in(P["t_arrival"], period)
    yield "readmissions", float(readmitted.sum())
    yield "readmissions_30d", float((readmitted & P["readmission_30d"]).sum())
    yield "reattendances", float((readmitted & ~P["readmission_30d"]).sum())

    # --- A&E ---
    arrival = P["ed_arrival"][attended]
    departure = P["ed_departure"][attended]
    known = ~np.isnan(departure) | (end - arrival > HOUR_4)
    within = (departure - arrival) <= HOUR_4 + EPS_HOURS  # NaN compares False: a breach
    yield "ed_4h_share", float(within[known].mean()) if known.any() else float("nan")
    left = ~np.isnan(departure)
    yield (
        "ed_time_mean_hours",
        float((departure[left] - arrival[left]).mean()) if left.any() else float("nan"),
    )
    admitted_from_ed = ((P["ed_outcome"] == 2) | P["sdec_refused"]) & _in(P["ed_decision"], period)
    decided = P["ed_decision"][admitted_from_ed]
    gone = P["ed_departure"][admitted_from_ed]
    waited = np.where(np.isnan(gone), end, gone) - decided
    yield "ed_12h_waits", float((waited > HOUR_12).sum())
    yield "boarding_hours", total("boarding")
    yield "ed_in_department_mean", mean("ed_in_department")
    admitted_group = (P["ed_outcome"][attended] == 2) | P["sdec_refused"][attended]
    for group, suffix in ((admitted_group, "admitted"), (~admitted_group, "not_admitted")):
        stays = (departure - arrival)[left & group]
        n = len(stays)
        yield (
            f"ed_4h_share_{suffix}",
            float((stays <= HOUR_4 + EPS_HOURS).mean()) if n else float("nan"),
        )
        yield f"ed_time_median_hours_{suffix}", _grouped_median(stays)

    # --- SDEC and admissions ---
    sdec = _in(P["sdec_start"], period)
    sdec_home = sdec & ~P["sdec_admit"]
    yield "sdec_episodes", float(sdec.sum())
    refused = float((P["sdec_refused"] & _in(P["ed_decision"], period)).sum())
    yield "sdec_refused", refused
    referred = refused + float(sdec.sum())
    yield "sdec_loss_share", refused / referred if referred else float("nan")
    waited = attended & P["sdec_waited"]
    chair = waited & ~np.isnan(P["sdec_start"])
    yield "sdec_waited", float(waited.sum())
    yield (
        "sdec_wait_mean_hours",
        float((P["sdec_start"] - P["ed_decision"])[chair].mean()) if chair.any() else float("nan"),
    )
    admitted = (origin != 3) & _in(P["bed_start"], period)
    n_admitted = float(admitted.sum())
    incl = n_admitted + float(sdec_home.sum())
    yield "admissions_bed", n_admitted
    yield "admissions_direct", float((admitted & (origin == 1)).sum())
    yield "admissions_incl_sdec", incl
    yield "admissions_nhs", incl if params.sdec_counts_as_admission else n_admitted
    start_day = np.floor(P["bed_start"][admitted] / HOURS_PER_DAY)
    stay_end = np.where(np.isnan(P["bed_end"][admitted]), end - EPS_HOURS, P["bed_end"][admitted])
    yield "admissions_overnight", float((np.floor(stay_end / HOURS_PER_DAY) > start_day).sum())
    wait = P["bed_start"][admitted] - P["bed_request"][admitted]
    yield (
        "admission_wait_share",
        float((wait > EPS_HOURS).mean()) if admitted.any() else float("nan"),
    )
    yield "diverted", float(_in(P["diverted"], period).sum())
    yield "direct_wait_hours", total("direct_waiting")
    yield "bed_queue_mean", mean("bed_queue")

    # --- acute beds ---
    bed_days = total("acute_occupied") / HOURS_PER_DAY
    yield "emergency_bed_days", bed_days
    yield "acute_beds_occupied_mean", mean("acute_occupied")
    occupied = total("acute_occupied")
    yield "acute_long_stay_share", total("acute_long_stay") / occupied if occupied else float("nan")
    share = series.occupancy_share
    yield "acute_occupancy_mean", stepfn.window_mean(share, a, b, end)
    yield "acute_occupancy_p95", _reference_window_quantile(share, a, b, 0.95)
    above = (share[0], (share[1] >= 0.92 - 1e-12).astype(float))
    full = (share[0], (share[1] >= 1.0 - 1e-12).astype(float))
    yield "acute_time_at_or_above_92", stepfn.window_mean(above, a, b, end)
    yield "acute_time_full", stepfn.window_mean(full, a, b, end)

    # --- escalation beds and the OPEL-like level (from the days of the period) ---
    escalation = series.steps.get("escalation_beds_open")
    escalation_days = 0.0 if escalation is None else total("escalation_beds_open") / HOURS_PER_DAY
    yield "escalation_bed_days", escalation_days
    openings = 0.0
    if escalation is not None:
        times, beds = escalation
        opened = (beds > 0) & (np.r_[0.0, beds[:-1]] <= 0)
        openings = float(_in(times[opened], period).sum())
    yield "escalation_openings", openings
    day = series.daily_levels
    in_period = (day["start"] >= a) & (day["start"] < b)
    yield "escalation_days_share", float(day["escalated"][in_period].sum()) / period.days
    yield "opel_3_days", float((day["opel"][in_period] == 3).sum())
    yield "opel_4_days", float((day["opel"][in_period] == 4).sum())

    # --- discharge ---
    delayed_total = 0.0
    for k in (1, 2, 3):
        days = total(f"waiting_discharge_p{k}") / HOURS_PER_DAY
        delayed_total += days
        yield f"delayed_bed_days_p{k}", days
    yield "delayed_bed_days", delayed_total
    yield "p0_discharge_wait_bed_days", total("waiting_discharge_p0") / HOURS_PER_DAY
    fit = _in(P["t_fit"], period) & (P["pathway"] >= 1) & (origin != 3)  # not the start
    still = np.isnan(P["bed_end"])
    delayed = fit & (still | (P["bed_end"] - P["t_fit"] > EPS_HOURS))
    yield "delayed_discharges", float(delayed.sum())
    yield "delayed_share", float(delayed.sum() / fit.sum()) if fit.any() else float("nan")
    for k in (1, 2, 3):
        on_k = P["pathway"] == k
        yield f"delayed_discharges_p{k}", float((delayed & on_k).sum())
        share = (delayed & on_k).sum() / (fit & on_k).sum() if (fit & on_k).any() else np.nan
        yield f"delayed_share_p{k}", float(share)
    # by discharge stage: the end of each stage a patient passed (fit, if none)
    ends = {"assessment": P["assess_end"], "brokerage": P["broker_end"]}
    by_stage: dict[str, dict[int, tuple[float, float]]] = {}
    for k in (1, 2, 3):
        on_k = P["pathway"] == k
        start = P["t_fit"]
        place_days = total(f"waiting_discharge_p{k}") / HOURS_PER_DAY
        for g, stage in enumerate(("assessment", "brokerage")):
            if params.stages[g] is None:
                by_stage.setdefault(stage, {})[k] = (0.0, 0.0)
                continue
            days = total(f"waiting_{stage}_p{k}") / HOURS_PER_DAY
            stop = ends[stage]
            reached = np.isfinite(start)  # not still at the stage before
            waited = fit & on_k & reached & (np.isnan(stop) | (stop - start > EPS_HOURS))
            by_stage.setdefault(stage, {})[k] = (days, float(waited.sum()))
            place_days -= days
            start = np.where(np.isnan(stop), np.inf, stop)  # still at this stage: no later wait
        waited = fit & on_k & (still | (P["bed_end"] - start > EPS_HOURS)) & np.isfinite(start)
        by_stage.setdefault("place", {})[k] = (place_days, float(waited.sum()))
    for stage in ("assessment", "brokerage", "place"):
        for k in (1, 2, 3):
            yield f"delay_{stage}_bed_days_p{k}", by_stage[stage][k][0]
            yield f"delay_{stage}_patients_p{k}", by_stage[stage][k][1]
        yield f"delay_{stage}_bed_days", sum(by_stage[stage][k][0] for k in (1, 2, 3))
        yield f"delay_{stage}_patients", sum(by_stage[stage][k][1] for k in (1, 2, 3))

    # --- community ---
    for s in SERVICES:
        if s not in series.capacity:
            continue
        in_use = f"community_in_use_{s}"
        yield f"community_in_use_{s}", mean(in_use)
        yield (
            f"community_occupancy_{s}",
            stepfn.window_mean(series.community_share[s], a, b, end),
        )
        if s != "urgent_response":
            k = int(s[1])
            started = (P["pathway"] == k) & _in(P["comm_start"], period) & (origin != 3)
            waits = (P["comm_start"] - P["t_fit"])[started] / HOURS_PER_DAY
            yield f"community_starts_{s}", float(started.sum())
            yield f"community_wait_days_{s}", float(waits.mean()) if started.any() else np.nan
        rota = _reference_rota(scenario, s)
        yield f"community_staff_fte_{s}", rota[0]
        yield f"community_staff_per_open_hour_{s}", rota[1]

    visits = "visits_in_use_p1" in series.steps  # P1 in visits a day
    yield "visits_in_use_p1", mean("visits_in_use_p1") if visits else 0.0
    yield "visits_delivered_p1", total("visits_in_use_p1") / HOURS_PER_DAY if visits else 0.0

    # --- costs ---
    c = scenario.costs
    admitted_attendances = float(admitted_from_ed.sum())
    ed_cost = (
        admitted_attendances * c.ed_attendance_admitted_gbp
        + (attended.sum() - admitted_attendances) * c.ed_attendance_not_admitted_gbp
    )
    costs = {
        "cost_ed": ed_cost,
        "cost_sdec": float(sdec.sum()) * c.sdec_episode_gbp,
        "cost_acute_bed_days": (bed_days - delayed_total) * c.acute_bed_day_gbp,
        "cost_delayed_bed_days": delayed_total * c.delayed_bed_day_gbp,
        "cost_escalation_bed_days": escalation_days * c.escalation_bed_day_gbp,
        "cost_diversion": float(_in(P["diverted"], period).sum()) * c.diversion_gbp,
    }
    # service charges are counted by financial year (an investment pays for a year's);
    # the whole run is the sum of its years
    years = [period] if period.label != "all" else list(params.calendar.periods[1:])
    paid_by_investment = 0.0
    for year in years:
        paid = {
            named
            for item in c.investment
            if item.financial_year == year.label
            for named in item.pays_for
        }
        for metric, (charge, payers) in _reference_charges(series, year, scenario).items():
            funded = bool(paid & payers)
            costs[metric] = costs.get(metric, 0.0) + (0.0 if funded else charge)
            paid_by_investment += charge if funded else 0.0
    costs["cost_investment"] = _reference_investment(params, scenario, period)
    yield from costs.items()
    yield "cost_total", float(sum(costs.values()))
    yield "paid_by_investment", paid_by_investment


def _reference_rota(scenario: Scenario, service: str) -> tuple[float, float, float]:
    """(FTE, staff per open hour, cost a year) of a service's staffing, worked directly."""
    spec = scenario.service(service)
    assert spec is not None
    rota = spec.staffing
    if rota is None:
        return 0.0, 0.0, 0.0
    hours = float(np.sum(Schedule.parse(spec.accepts).open_hours))
    week = rota.contracted_hours_per_fte_week
    if rota.staff_per_open_hour is not None:
        fte, cover = hours * rota.staff_per_open_hour / week, rota.staff_per_open_hour
    else:
        assert rota.fte is not None
        fte, cover = rota.fte, (rota.fte * week / hours if hours else np.nan)
    return fte, cover, fte * rota.cost_per_fte_year_gbp


def _reference_charges(
    series: _ReferenceSeries, year: Period, scenario: Scenario
) -> dict[str, tuple[float, set[str]]]:
    """Each service charge in one financial year, with the pays_for names that cover it."""
    P = series.r.patients
    a, b, end = year.start_h, year.end_h, series.end
    c = scenario.costs
    episodes = float((_in(P["ur_start"], year) & (P["origin"] != 3)).sum())
    charges = {
        "cost_urgent_response_episodes": (
            episodes * c.urgent_response_episode_gbp,
            {"community.urgent_response"},
        )
    }
    first = int(year.label[:4])
    year_days = (dt.date(first + 1, 4, 1) - dt.date(first, 4, 1)).days
    for s in SERVICES:
        if s not in series.capacity:
            continue
        service = scenario.service(s)
        assert service is not None
        days = _reference_window_total(series.steps[f"community_in_use_{s}"], a, b, end)
        if service.cost_basis == "commissioned" and np.isfinite(series.capacity[s][1]).all():
            days = _reference_window_total(series.capacity[s], a, b, end)
        whole = f"community.{s}"
        rate = getattr(c.community_place_day_gbp, s)
        charges[f"cost_community_{s}"] = (days / HOURS_PER_DAY * rate, {whole})
        yearly = _reference_rota(scenario, s)[2]
        charges[f"cost_staff_{s}"] = (
            yearly * year.days / year_days,
            {whole, f"{whole}.staffing"},
        )
    return charges


def _reference_investment(params: ModelParams, scenario: Scenario, period: Period) -> float:
    labels = {p.label for p in params.calendar.periods if p.label != "all"}
    if period.label != "all":
        labels = {period.label}
    investment = scenario.costs.investment
    return float(sum(i.amount_gbp for i in investment if i.financial_year in labels))


def _reference_replication_metrics(record: Record, scenario: Scenario) -> pd.DataFrame:
    """One row per (metric, period) for one replication: columns metric, period, value."""
    series = _ReferenceSeries(record)
    rows = [
        (name, period.label, value)
        for period in record.params.calendar.periods
        for name, value in _reference_period_metrics(series, period, scenario)
    ]
    frame = pd.DataFrame(rows, columns=["metric", "period", "value"])
    frame.insert(0, "replication", record.replication)
    return frame


def _reference_daily_series(record: Record) -> pd.DataFrame:
    """Daily time-weighted means (occupancy, queues, capacity) over the observed window.

    Long form: replication, date, series, value. ``acute_capacity`` is the bed
    capacity; ``delayed`` sums the P1-P3 patients waiting in acute beds.
    """
    series = _ReferenceSeries(record)
    cal = record.params.calendar
    days = cal.day_starts()
    if len(days) < 2:
        return pd.DataFrame(columns=["replication", "date", "series", "value"])
    end = series.end
    values: dict[str, np.ndarray] = {}
    for name in DAILY_SERIES:
        if name.startswith("community_in_use_") and name[17:] not in series.capacity:
            continue
        if name.startswith(("waiting_", "visits_")) and name not in series.steps:
            continue  # a discharge stage not configured, or P1 in places
        if name == "escalation_beds_open" and name not in series.steps:
            continue  # no escalation beds configured
        values[name] = _reference_daily_means(series.steps[name], days, end)
    values["delayed"] = sum(values[f"waiting_discharge_p{k}"] for k in (1, 2, 3))  # type: ignore[assignment]
    # capacity changes only at midnight (changes are dated), and may be unlimited (inf)
    values["acute_capacity"] = _reference_value_at(series.core_beds, days[:-1])
    values["acute_occupancy"] = _reference_daily_means(series.occupancy_share, days, end)
    values["opel_level"] = series.daily_levels["opel"].astype(float)
    dates = pd.to_datetime(cal.sim_start) + pd.to_timedelta(days[:-1] / HOURS_PER_DAY, unit="D")
    frames = [
        pd.DataFrame({"date": dates, "series": name, "value": v}) for name, v in values.items()
    ]
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "replication", record.replication)
    return out


# --- the scenarios --------------------------------------------------------------------------


def _baseline() -> Scenario:
    base = load_scenario(CONFIGS / "baseline.toml")
    return base.override({"run.horizon_years": 0.1, "run.warm_up_days": 15})


def _starting_state_and_capacity_changes() -> Scenario:
    data = small_system(**{"run.warm_up_days": 0, "acute.beds": 60, "run.horizon_years": 0.3})
    data["initial_state"] = {
        "acute_treating": 40,
        "delayed": {"p1": 5, "p2": 3},
        "community_in_use": {"urgent_response": 2, "p1": 12, "p3": 4},
    }
    data["acute"]["capacity_changes"] = [
        {"date": "2016-05-02", "beds": 45},
        {"date": "2016-06-01", "beds": "unlimited"},
        {"date": "2016-06-20", "beds": 50},
    ]
    data["community"]["p1"]["capacity_changes"] = [
        {"date": "2016-05-10", "places": 0},
        {"date": "2016-05-20", "places": 20},
    ]
    data["community"]["p2"]["cost_basis"] = "commissioned"
    return Scenario.from_dict(data)


def _several_financial_years() -> Scenario:
    data = small_system(
        **{
            "run.start_date": "2016-10-01",
            "run.horizon_years": 1.6,
            "run.warm_up_days": 10,
            "acute.beds": 48,
        }
    )
    data["acute"]["capacity_changes"] = [{"date": "2017-04-01", "beds": 52}]
    data["community"]["p3"]["cost_basis"] = "commissioned"
    data["community"]["p2"]["capacity_changes"] = [{"date": "2017-01-15", "places": 3}]
    data["community"]["p1"]["staffing"] = {"staff_per_open_hour": 2, "cost_per_fte_year_gbp": 9e4}
    data["community"]["p3"]["staffing"] = {"fte": 1.5, "cost_per_fte_year_gbp": 4e4}
    data["costs"]["urgent_response_episode_gbp"] = 250
    data["costs"]["investment"] = [
        {"financial_year": "2017/18", "amount_gbp": 250_000, "pays_for": ["community.p3"]},
        {"financial_year": "2016/17", "amount_gbp": 1, "pays_for": ["community.urgent_response"]},
        {"financial_year": "2017/18", "amount_gbp": 2, "pays_for": ["community.p1.staffing"]},
    ]
    return Scenario.from_dict(data)


def _p1_in_visits() -> Scenario:
    """P1 counted in visits a day, its queue busy, with a dated change of its staff."""
    data = small_system(
        **{
            "run.horizon_years": 0.2,
            "run.warm_up_days": 10,
            "acute.beds": 90,
            "changes": [{"from": "2016-05-09", "set": {"community.p1.visits.staff": 7}}],
        }
    )
    data["community"]["p1"].pop("places")
    data["community"]["p1"]["visits"] = {
        "staff": 5,
        "visits_per_staff_day": 6,
        "initial_per_day": {"dist": "gamma", "mean": 4, "sd": 0.5},
    }
    return Scenario.from_dict(data)


SCENARIOS = {
    "baseline": _baseline,
    "single_unit": lambda: Scenario.from_dict(single_unit(years=0.4, warm_up_days=10)),
    "unlimited_beds": lambda: Scenario.from_dict(
        single_unit(beds="unlimited", years=0.2, warm_up_days=5)
    ),
    "small_system": lambda: Scenario.from_dict(small_system()),
    "diversion": lambda: Scenario.from_dict(
        single_unit(beds=8, per_day=9.0, diversion=2, years=0.3, warm_up_days=10)
    ),
    "starting_state_and_capacity_changes": _starting_state_and_capacity_changes,
    "several_financial_years": _several_financial_years,
    "escalation_beds_with_dated_beds": lambda: Scenario.from_dict(
        small_system(
            **{
                **ESCALATING,
                "run.horizon_years": 0.25,
                "run.warm_up_days": 10,
                "run.start_date": "2017-02-06",
                "acute.escalation": {**ESCALATING["acute.escalation"], "review_hours": [8, 14, 20]},
                "changes": [{"from": "2017-04-01", "set": {"acute.beds": 40}}],
            }
        )
    ),
    "discharge_stages_and_30_day_readmissions": lambda: Scenario.from_dict(
        small_system(
            **{
                "run.horizon_years": 0.2,
                "run.warm_up_days": 10,
                "acute.beds": 90,
                "discharge.assessment": {
                    "capacity": 2,
                    "hours": "every day 08:00-20:00",
                    "duration_hours": {"dist": "exponential", "mean": 3},
                },
                "discharge.brokerage": {
                    "hours": "Mon-Fri 09:00-17:00",
                    "duration_hours": {"dist": "fixed", "value": 2},
                },
                "cohorts.older.p_readmit_30d": {"p0": 0.137, "p1": 0.2},
            }
        )
    ),
    "p1_in_visits": _p1_in_visits,
    "case_mix": lambda: Scenario.from_dict(
        small_system(
            **{
                "run.horizon_years": 0.2,
                "run.warm_up_days": 10,
                "acute.beds": 55,
                "cohorts.older.avoidable": {
                    "share": 0.3,
                    "p_admit": 0.3,
                    "treatment_los_days": {"dist": "lognormal", "mean": 3, "sd": 3},
                },
                "sdec.refused_stay": "wait",
                "sdec.chairs": 1,
            }
        )
    ),
}
REPLICATIONS = (4, 7, 9)


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request) -> Scenario:
    return SCENARIOS[request.param]()


@pytest.fixture(scope="module")
def records(scenario) -> list[Record]:
    params = build_params(scenario)
    return [simulate(params, 5, r) for r in REPLICATIONS]


def _grouped_median(stays: np.ndarray) -> float:
    """The median of a grouped sample, in 15-minute classes up to 24 hours (past them:
    24): L + (n/2 - F) / f x width, F the count at or below the class's lower edge."""
    n = len(stays)
    if not n:
        return float("nan")
    edges = np.arange(0, 97) * 0.25
    at_or_below = np.array([(stays <= e + EPS_HOURS).sum() for e in edges], dtype=float)
    at_or_below[0] = 0.0  # the first class holds stays from zero
    k = int(np.argmax(at_or_below >= n / 2)) - 1 if (at_or_below >= n / 2).any() else 96
    if k >= 96:
        return 24.0
    f = at_or_below[k + 1] - at_or_below[k]
    return float(edges[k] + (n / 2 - at_or_below[k]) / f * 0.25)


def _reference(records: list[Record], scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    metrics = pd.concat(
        [_reference_replication_metrics(r, scenario) for r in records], ignore_index=True
    )
    daily = pd.concat([_reference_daily_series(r) for r in records], ignore_index=True)
    return metrics, daily


def _assert_same(got: tuple[pd.DataFrame, pd.DataFrame], want: tuple[pd.DataFrame, pd.DataFrame]):
    # the accumulator lists metrics in the catalogue's order, the reference in its own
    keys = ["replication", "metric", "period"]
    got_metrics = got[0].astype({"metric": object, "period": object}).sort_values(keys)
    want_metrics = want[0].astype({"metric": object, "period": object}).sort_values(keys)
    pd.testing.assert_frame_equal(
        got_metrics.reset_index(drop=True), want_metrics.reset_index(drop=True), rtol=1e-9, atol=0
    )
    # daily values are stored in single precision: the reference's, rounded to it
    assert got[1]["value"].dtype == np.float32
    assert isinstance(got[1]["series"].dtype, pd.CategoricalDtype)
    daily = want[1].astype({"value": np.float32, "series": got[1]["series"].dtype})
    pd.testing.assert_frame_equal(got[1], daily, rtol=1e-6, atol=0)


# --- agreement --------------------------------------------------------------------------------


def test_whole_record_gives_the_reference_tables(records, scenario):
    costs = build_costs(scenario)
    for record in records:
        want = _reference([record], scenario)
        _assert_same((replication_metrics(record, costs), daily_series(record)), want)


def test_shuffled_chunks_of_interleaved_replications_give_the_reference_tables(records, scenario):
    params = records[0].params
    rng = np.random.default_rng(2024)
    accumulator = MetricAccumulator(params, REPLICATIONS, build_costs(scenario))

    rep = np.concatenate([np.full(r.n, i) for i, r in enumerate(records)])
    rows = {c: np.concatenate([r.patients[c] for r in records]) for c in records[0].patients}
    order = rng.permutation(len(rep))
    cuts = np.sort(rng.choice(len(rep), size=min(7, len(rep) - 1), replace=False))
    for chunk in np.split(order, cuts):
        accumulator.add_patients(rep[chunk], {c: v[chunk] for c, v in rows.items()})

    # bed events of all replications merged in time order, cut into chunks; some chunks grouped
    events = [acute_events(r.patients) for r in records]
    ev_rep = np.concatenate([np.full(len(t), i) for i, (t, _) in enumerate(events)])
    ev_t = np.concatenate([t for t, _ in events])
    ev_d = np.concatenate([d for _, d in events])
    by_time = np.argsort(ev_t, kind="stable")
    cuts = np.sort(rng.choice(len(ev_t), size=min(9, len(ev_t) - 1), replace=False))
    for i, chunk in enumerate(np.split(by_time, cuts)):
        if i % 2:
            chunk = chunk[np.argsort(ev_rep[chunk], kind="stable")]
        accumulator.add_acute_events(ev_rep[chunk], ev_t[chunk], ev_d[chunk])
    for i, r in reversed(list(enumerate(records))):  # each replication's log, in any order
        log = r.capacity.get("acute_escalation")
        if log is not None:
            accumulator.add_escalation(i, log.times_h, log.values)

    _assert_same(accumulator.finish(), _reference(records, scenario))


# --- by hand: a small log of stays ------------------------------------------------------------


def _four_days_two_beds() -> ModelParams:
    """Two beds, no warm-up, four observed days (2016-04-04 to 2016-04-08)."""
    return build_params(Scenario.from_dict(single_unit(beds=2, years=0.01, warm_up_days=0)))


def _rows(*patients: dict[str, float]) -> dict[str, np.ndarray]:
    """Rows of direct admissions: NaN (never happened) for every time not given."""
    columns: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        if name in FLOAT_COLUMNS:
            default: float | bool | int = np.nan
        elif name in BOOL_COLUMNS:
            default = False
        else:
            default = {"cohort": 0, "origin": 1, "pathway": 0}.get(
                name, -1 if name != "avoid_lost" else 0
            )
        dtype = float if name in FLOAT_COLUMNS else bool if name in BOOL_COLUMNS else np.int64
        columns[name] = np.array([p.get(name, default) for p in patients], dtype=dtype)
    return columns


def _free(params: ModelParams, replications: list[int]) -> MetricAccumulator:
    """An accumulator for hand-made rows, where nothing costs anything."""
    return MetricAccumulator(params, replications, CostParams.free(params))


STAYS = _rows(
    {"t_arrival": 0, "bed_request": 0, "bed_start": 0, "t_fit": 48, "bed_end": 48},
    {"t_arrival": 12, "bed_request": 12, "bed_start": 12, "t_fit": 36, "bed_end": 36},
    {"t_arrival": 30, "bed_request": 30, "bed_start": 36},  # waits 6 h; in a bed at the end
)
"""Occupancy: 1 bed for 12 h, 2 beds from 12 h to 48 h, then 1 bed to the end (96 h)."""


def _tables(chunks_of_events: int = 1) -> Tables:
    accumulator = _free(_four_days_two_beds(), [0])
    accumulator.add_patients(np.zeros(3, dtype=int), STAYS)
    times, deltas = acute_events(STAYS)
    for part in np.array_split(np.arange(len(times)), chunks_of_events):
        accumulator.add_acute_events(np.zeros(len(part), dtype=int), times[part], deltas[part])
    return accumulator.finish()


def test_a_small_log_of_stays_by_hand():
    metrics, daily, *_ = _tables()
    value = metrics[metrics.period == "all"].set_index("metric")["value"]
    assert value["observed_days"] == 4
    assert value["emergency_bed_days"] == (12 * 1 + 36 * 2 + 48 * 1) / 24
    assert value["acute_occupancy_mean"] == (60 * 0.5 + 36 * 1.0) / 96
    assert value["acute_occupancy_p95"] == 1.0  # full for 36 of 96 hours: more than the top 5%
    assert value["acute_time_full"] == value["acute_time_at_or_above_92"] == 36 / 96
    assert value["bed_queue_mean"] == 6 / 96
    assert value["direct_wait_hours"] == 6
    assert value["admissions_bed"] == value["admissions_direct"] == 3
    assert value["admissions_overnight"] == 3
    assert value["admission_wait_share"] == 1 / 3
    assert value["p0_discharge_wait_bed_days"] == 0
    occupied = daily[daily.series == "acute_occupied"]["value"].tolist()
    assert occupied == [(12 * 1 + 12 * 2) / 24, 2.0, 1.0, 1.0]
    assert daily[daily.series == "acute_capacity"]["value"].tolist() == [2.0] * 4
    assert daily[daily.series == "acute_occupancy"]["value"].tolist() == [0.75, 1.0, 0.5, 0.5]


def test_events_in_many_chunks_give_the_same_tables():
    one = _tables(1)
    pd.testing.assert_frame_equal(_tables(5)[0], one[0])
    pd.testing.assert_frame_equal(_tables(5)[1], one[1])


def test_an_event_a_hair_before_the_last_one_is_moved_up_to_it():
    accumulator = _free(_four_days_two_beds(), [0])
    accumulator.add_patients(np.zeros(3, dtype=int), STAYS)
    times, deltas = acute_events(STAYS)
    rep = np.zeros(len(times), dtype=int)
    accumulator.add_acute_events(rep[:3], times[:3], deltas[:3])
    late = times[3:] - 1e-9 * (np.arange(len(times) - 3) == 0)
    accumulator.add_acute_events(rep[3:], late, deltas[3:])
    _assert_same(accumulator.finish(), _tables())


def test_missing_bed_events_are_an_error():
    accumulator = _free(_four_days_two_beds(), [0])
    accumulator.add_patients(np.zeros(3, dtype=int), STAYS)
    with pytest.raises(ValueError, match="acute events disagree with the patients' bed_start"):
        accumulator.finish()


def test_dirty_input_is_refused_with_the_reason():
    accumulator = _free(_four_days_two_beds(), [5, 6])
    with pytest.raises(ValueError, match=r"rep holds positions 0\.\.1, got 0\.\.5"):
        accumulator.add_patients(np.array([0, 5, 1]), STAYS)
    with pytest.raises(ValueError, match="missing columns t_fit"):
        accumulator.add_patients(
            np.zeros(3, dtype=int), {k: v for k, v in STAYS.items() if k != "t_fit"}
        )
    with pytest.raises(ValueError, match="acute occupancy fell below 0"):
        accumulator.add_acute_events(np.array([0, 0]), np.array([1.0, 2.0]), np.array([1, -2]))
    with pytest.raises(ValueError, match="replications must be a non-empty sequence"):
        _free(_four_days_two_beds(), [])


def test_an_accumulator_is_spent_by_finish():
    accumulator = _free(_four_days_two_beds(), [0])
    accumulator.finish()
    with pytest.raises(RuntimeError, match=r"finish\(\) was already called"):
        accumulator.add_patients(np.zeros(3, dtype=int), STAYS)


def test_metrics_only_gives_the_same_metrics_and_empty_tables_of_the_same_shape() -> None:
    """``finish(daily=False)`` (sweeps) never builds the daily tables, which grow with the
    horizon, and its metrics are the very same."""
    from sim.runs.runner import run_batch

    scenario = Scenario.from_dict(small_system(**{"run.horizon_years": 0.1}))
    params = build_params(scenario)
    costs = build_costs(scenario, params)
    full = run_batch(params, 4, [0, 1], "fast", costs=costs)
    lean = run_batch(params, 4, [0, 1], "fast", costs=costs, daily=False)
    pd.testing.assert_frame_equal(full.metrics, lean.metrics, check_exact=True)
    for name in ("daily", "hour_of_week", "ed_time"):
        whole, empty = getattr(full, name), getattr(lean, name)
        assert len(whole) > 0
        assert len(empty) == 0
        assert list(empty.columns) == list(whole.columns)
        assert (empty.dtypes == whole.dtypes).all(), name
