"""Metrics: pure functions from a :class:`~sim.record.Record` to numbers.

Every metric is computed for each reporting period of the run: ``all`` (the
whole observed window, after warm-up) and each NHS financial year within it
(``2016/17``...). Warm-up is a clip of the record, never a reset. The
catalogue, with units and definitions, is in ``docs/metrics.md``; the names
there are a contract with the experiment, report and case-study code.

Attribution to a period: a count goes to the period in which its event
happened (an attendance by arrival time, an admission by the time the bed was
taken, a 12-hour wait by the time of the decision to admit); bed days,
occupancy and queues are integrated over the period. Patients still waiting
at the end of the run count where that is already known (a patient in A&E for
five hours at the end has breached four hours) and are left out where it is
not.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from . import stepfn
from .calendar import EPS_HOURS, HOURS_PER_DAY, Period
from .config import SERVICES
from .params import ModelParams
from .record import Record

HOUR_4 = 4.0
HOUR_12 = 12.0

SERVICE_COSTS = {"urgent_response", "p1", "p2", "p3"}


class _Series:
    """Step functions of one record, built once and shared by the metrics."""

    def __init__(self, record: Record) -> None:
        self.r = record
        self.p: ModelParams = record.params
        self.end_h = self.p.calendar.end_h
        P = record.patients
        end = self.end_h
        self.end = end
        admitted_from_ed = (P["ed_outcome"] == 2) | P["sdec_refused"]
        bed_leave = np.where(np.isnan(P["bed_start"]), P["diverted"], P["bed_start"])
        self.steps: dict[str, stepfn.Step] = {
            "acute_occupied": stepfn.counting(P["bed_start"], P["bed_end"], end),
            "bed_queue": stepfn.counting(P["bed_request"], bed_leave, end),
            "ed_in_department": stepfn.counting(P["ed_arrival"], P["ed_departure"], end),
            "boarding": stepfn.counting(
                np.where(admitted_from_ed, P["ed_decision"], np.nan), P["ed_departure"], end
            ),
            "direct_waiting": stepfn.counting(
                np.where(np.isnan(P["ed_arrival"]) | P["sdec_admit"], P["bed_request"], np.nan),
                bed_leave,
                end,
            ),
            "sdec_in_use": stepfn.counting(P["sdec_start"], P["sdec_end"], end),
            "community_in_use_urgent_response": stepfn.counting(P["ur_start"], P["ur_end"], end),
        }
        for k in (0, 1, 2, 3):
            on = P["pathway"] == k
            self.steps[f"waiting_discharge_p{k}"] = stepfn.counting(
                np.where(on, P["t_fit"], np.nan), P["bed_end"], end
            )
            if k:
                self.steps[f"community_in_use_p{k}"] = stepfn.counting(
                    np.where(on, P["comm_start"], np.nan), P["comm_end"], end
                )
        self.capacity = {
            name: stepfn.from_log(log.times_h, log.values) for name, log in record.capacity.items()
        }
        self.occupancy_share = self._share(self.steps["acute_occupied"], self.capacity["acute"])
        self.community_share = {
            s: self._share(self.steps[f"community_in_use_{s}"], self.capacity[s])
            for s in SERVICES
            if s in self.capacity
        }

    @staticmethod
    def _share(used: stepfn.Step, capacity: stepfn.Step) -> stepfn.Step:
        times, u, c = stepfn.combine(used, capacity)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(c > 0, u / c, np.where(u > 0, np.inf, 1.0))
        share = np.where(np.isinf(c), 0.0, share)
        return times, share


def _in(t: np.ndarray, period: Period) -> np.ndarray:
    return (t >= period.start_h) & (t < period.end_h)


def period_metrics(series: _Series, period: Period) -> Iterator[tuple[str, float]]:
    """(metric, value) pairs for one period."""
    r, params = series.r, series.p
    P = r.patients
    end = series.end
    a, b = period.start_h, period.end_h
    mean = lambda name: stepfn.window_mean(series.steps[name], a, b, end)  # noqa: E731
    total = lambda name: stepfn.window_total(series.steps[name], a, b, end)  # noqa: E731
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
    readmitted = (origin == 2) & _in(P["t_arrival"], period)
    yield "readmissions", float(readmitted.sum())

    # --- A&E ---
    arrival = P["ed_arrival"][attended]
    departure = P["ed_departure"][attended]
    known = ~np.isnan(departure) | (end - arrival > HOUR_4)
    within = (departure - arrival) <= HOUR_4 + EPS_HOURS  # NaN compares False: a breach
    yield "ed_4h_share", float(within[known].mean()) if known.any() else float("nan")
    left = ~np.isnan(departure)
    yield (
        "ed_time_mean_hours",
        float((departure[left] - arrival[left]).mean()) if left.any() else 0.0,
    )
    admitted_from_ed = ((P["ed_outcome"] == 2) | P["sdec_refused"]) & _in(P["ed_decision"], period)
    decided = P["ed_decision"][admitted_from_ed]
    gone = P["ed_departure"][admitted_from_ed]
    waited = np.where(np.isnan(gone), end, gone) - decided
    yield "ed_12h_waits", float((waited > HOUR_12).sum())
    yield "boarding_hours", total("boarding")
    yield "ed_in_department_mean", mean("ed_in_department")

    # --- SDEC and admissions ---
    sdec = _in(P["sdec_start"], period)
    sdec_home = sdec & ~P["sdec_admit"]
    yield "sdec_episodes", float(sdec.sum())
    yield "sdec_refused", float((P["sdec_refused"] & _in(P["ed_decision"], period)).sum())
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
    yield "admission_wait_share", float((wait > EPS_HOURS).mean()) if admitted.any() else 0.0
    yield "diverted", float(_in(P["diverted"], period).sum())
    yield "direct_wait_hours", total("direct_waiting")
    yield "bed_queue_mean", mean("bed_queue")

    # --- acute beds ---
    bed_days = total("acute_occupied") / HOURS_PER_DAY
    yield "emergency_bed_days", bed_days
    yield "acute_beds_occupied_mean", mean("acute_occupied")
    share = series.occupancy_share
    yield "acute_occupancy_mean", stepfn.window_mean(share, a, b, end)
    yield "acute_occupancy_p95", stepfn.window_quantile(share, a, b, 0.95)
    above = (share[0], (share[1] >= 0.92 - 1e-12).astype(float))
    full = (share[0], (share[1] >= 1.0 - 1e-12).astype(float))
    yield "acute_time_at_or_above_92", stepfn.window_mean(above, a, b, end)
    yield "acute_time_full", stepfn.window_mean(full, a, b, end)

    # --- discharge ---
    delayed_total = 0.0
    for k in (1, 2, 3):
        days = total(f"waiting_discharge_p{k}") / HOURS_PER_DAY
        delayed_total += days
        yield f"delayed_bed_days_p{k}", days
    yield "delayed_bed_days", delayed_total
    yield "p0_discharge_wait_bed_days", total("waiting_discharge_p0") / HOURS_PER_DAY
    fit = _in(P["t_fit"], period) & (P["pathway"] >= 1)
    still = np.isnan(P["bed_end"])
    delayed = fit & (still | (P["bed_end"] - P["t_fit"] > EPS_HOURS))
    yield "delayed_discharges", float(delayed.sum())
    for k in (1, 2, 3):
        yield f"delayed_discharges_p{k}", float((delayed & (P["pathway"] == k)).sum())

    # --- community ---
    place_days: dict[str, float] = {}
    for s in SERVICES:
        if s not in series.capacity:
            continue
        in_use = f"community_in_use_{s}"
        place_days[s] = total(in_use) / HOURS_PER_DAY
        yield f"community_in_use_{s}", mean(in_use)
        yield f"community_occupancy_{s}", stepfn.window_mean(series.community_share[s], a, b, end)
        if s != "urgent_response":
            k = int(s[1])
            started = (P["pathway"] == k) & _in(P["comm_start"], period) & (origin != 3)
            waits = (P["comm_start"] - P["t_fit"])[started] / HOURS_PER_DAY
            yield f"community_starts_{s}", float(started.sum())
            yield f"community_wait_days_{s}", float(waits.mean()) if started.any() else 0.0

    # --- costs ---
    c = params.costs
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
        "cost_urgent_response_episodes": float(_in(P["ur_start"], period).sum())
        * c.urgent_response_episode_gbp,
        "cost_diversion": float(_in(P["diverted"], period).sum()) * c.diversion_gbp,
    }
    for s, used_days in place_days.items():
        service = params.service(s)
        assert service is not None
        days = used_days
        if service.cost_basis == "commissioned" and np.isfinite(series.capacity[s][1]).all():
            days = stepfn.window_total(series.capacity[s], a, b, end) / HOURS_PER_DAY
        costs[f"cost_community_{s}"] = days * getattr(c.community_place_day_gbp, s)
    costs["cost_investment"] = _investment(params, period)
    yield from costs.items()
    yield "cost_total", float(sum(costs.values()))


def _investment(params: ModelParams, period: Period) -> float:
    labels = {p.label for p in params.calendar.periods if p.label != "all"}
    if period.label != "all":
        labels = {period.label}
    return float(sum(i.amount_gbp for i in params.costs.investment if i.financial_year in labels))


def replication_metrics(record: Record) -> pd.DataFrame:
    """One row per (metric, period) for one replication: columns metric, period, value."""
    series = _Series(record)
    rows = [
        (name, period.label, value)
        for period in record.params.calendar.periods
        for name, value in period_metrics(series, period)
    ]
    frame = pd.DataFrame(rows, columns=["metric", "period", "value"])
    frame.insert(0, "replication", record.replication)
    return frame


DAILY_SERIES = (
    "acute_occupied",
    "bed_queue",
    "boarding",
    "ed_in_department",
    "sdec_in_use",
    "waiting_discharge_p0",
    "waiting_discharge_p1",
    "waiting_discharge_p2",
    "waiting_discharge_p3",
    "community_in_use_urgent_response",
    "community_in_use_p1",
    "community_in_use_p2",
    "community_in_use_p3",
)


def daily_series(record: Record) -> pd.DataFrame:
    """Daily time-weighted means (occupancy, queues, capacity) over the observed window.

    Long form: replication, date, series, value. ``acute_capacity`` is the bed
    capacity; ``delayed`` sums the P1-P3 patients waiting in acute beds.
    """
    series = _Series(record)
    cal = record.params.calendar
    days = cal.day_starts()
    if len(days) < 2:
        return pd.DataFrame(columns=["replication", "date", "series", "value"])
    end = series.end
    values: dict[str, np.ndarray] = {}
    for name in DAILY_SERIES:
        if name.startswith("community_in_use_") and name[17:] not in series.capacity:
            continue
        values[name] = stepfn.daily_means(series.steps[name], days, end)
    values["delayed"] = sum(values[f"waiting_discharge_p{k}"] for k in (1, 2, 3))  # type: ignore[assignment]
    # capacity changes only at midnight (changes are dated), and may be unlimited (inf)
    values["acute_capacity"] = stepfn.value_at(series.capacity["acute"], days[:-1])
    values["acute_occupancy"] = stepfn.daily_means(series.occupancy_share, days, end)
    dates = pd.to_datetime(cal.sim_start) + pd.to_timedelta(days[:-1] / HOURS_PER_DAY, unit="D")
    frames = [
        pd.DataFrame({"date": dates, "series": name, "value": v}) for name, v in values.items()
    ]
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "replication", record.replication)
    return out
