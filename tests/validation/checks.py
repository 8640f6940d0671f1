"""Each validation check as a function of the engine: the tests assert them,
``report_table.py`` prints them for docs/validation.md.

A function runs its scenario once on the engine and returns its
:class:`~harness.Check` list: the analytic (or peer) value, the measured mean
with its 95% interval, and the tolerance (3 standard errors of the
replication means unless stated).
"""

from __future__ import annotations

import math

import numpy as np
import theory
from harness import Check, check, peer, run
from peer_ciw import tandem
from scenarios import acute_then_community, bed_pool, whole_system

STAY_DAYS = 1 / 6  # four-hour stays: a few simulated weeks hold hundreds of mean stays
EXPONENTIAL = {"dist": "exponential", "mean": STAY_DAYS}
QUEUE_DAYS = 36.5


def wait_days(r) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Mean wait for a bed per admission, days (all admissions are direct here)."""
    return r["direct_wait_hours"] / r["admissions_direct"] / 24


def blocking(r) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Share of bed requests diverted."""
    return r["diverted"] / (r["diverted"] + r["admissions_bed"])


def erlang_c_checks(engine: str, reps: int = 30, days: float = QUEUE_DAYS) -> list[Check]:
    """M/M/c: 10 beds, 48 admissions a day, exponential 4-hour stays (8 erlangs)."""
    c, per_day = 10, 48.0
    expect = theory.mmc(c, per_day, STAY_DAYS)
    data = bed_pool(beds=c, per_day=per_day, los_days=EXPONENTIAL, days=days)
    r = run(data, engine, reps, seed=101)
    return [
        check("M/M/10 P(wait), Erlang C", engine, r["admission_wait_share"], expect["p_wait"]),
        check("M/M/10 mean wait Wq (days)", engine, wait_days(r), expect["wait_days"]),
        check("M/M/10 mean queue Lq", engine, r["bed_queue_mean"], expect["queue"]),
        check("M/M/10 mean beds busy (= a)", engine, r["acute_beds_occupied_mean"], expect["busy"]),
    ]


def erlang_b_checks(
    engine: str, stay: str, reps: int = 30, days: float = QUEUE_DAYS
) -> list[Check]:
    """M/G/c/c: 10 beds as a loss system (diversion threshold 0), 8 erlangs offered."""
    c, per_day = 10, 48.0
    los = (
        EXPONENTIAL
        if stay == "exponential"
        else {"dist": "lognormal", "mean": STAY_DAYS, "sd": 1.5 * STAY_DAYS}
    )
    b = theory.erlang_b(c, per_day * STAY_DAYS)
    data = bed_pool(beds=c, per_day=per_day, los_days=los, days=days, diversion=0)
    r = run(data, engine, reps, seed=202 if stay == "exponential" else 303)
    return [
        check(f"M/G/10/10 blocking, Erlang B ({stay} stay)", engine, blocking(r), b),
        check(
            f"M/G/10/10 mean beds busy a(1-B) ({stay})",
            engine,
            r["acute_beds_occupied_mean"],
            per_day * STAY_DAYS * (1 - b),
        ),
    ]


def mmck_checks(engine: str, reps: int = 30, days: float = QUEUE_DAYS) -> list[Check]:
    """M/M/c/K: 10 beds, divert once 4 wait (K = 14), 9 erlangs offered."""
    c, k, per_day = 10, 4, 54.0
    expect = theory.mmck(c, k, per_day, STAY_DAYS)
    data = bed_pool(beds=c, per_day=per_day, los_days=EXPONENTIAL, days=days, diversion=k)
    r = run(data, engine, reps, seed=404)
    return [
        check("M/M/10/14 blocking", engine, blocking(r), expect["blocking"]),
        check("M/M/10/14 mean queue Lq", engine, r["bed_queue_mean"], expect["queue"]),
        check("M/M/10/14 mean beds busy", engine, r["acute_beds_occupied_mean"], expect["busy"]),
    ]


def little_checks(engine: str, reps: int = 8, days: float = 40) -> list[Check]:
    """L = lambda W on every unit of a whole system, all from the run's own outputs.

    L is the unit's time-average occupancy; lambda its entries per hour in the
    same window; W the mean time there: from the metrics where the time depends
    on congestion (A&E, waiting for community care), and the configured mean
    where it does not (SDEC and community episodes). The tolerance combines
    the standard errors of L and of lambda W across replications.
    """
    data = whole_system(days=days)
    r = run(data, engine, reps, seed=3)
    hours = r.hours
    services = data["community"]
    units = {
        "A&E": (
            r["ed_in_department_mean"],
            r["attendances"] / hours * r["ed_time_mean_hours"],
        ),
        "SDEC": (
            r.daily_mean("sdec_in_use"),
            r["sdec_episodes"] / hours * data["sdec"]["episode_hours"]["mean"],
        ),
        "acute beds (treatment)": (
            r["acute_beds_occupied_mean"]
            - (r["delayed_bed_days"] + r["p0_discharge_wait_bed_days"]) * 24 / hours,
            _treatment_bed_hours(r, data) / hours,
        ),
        "urgent response": (
            r["community_in_use_urgent_response"],
            r["avoided_attendances"]
            / hours
            * services["urgent_response"]["episode_days"]["mean"]
            * 24,
        ),
    }
    for k in (1, 2, 3):
        mean_h = _mean_hours(services[f"p{k}"])
        starts = r[f"community_starts_p{k}"] / hours
        units[f"P{k} places"] = (r[f"community_in_use_p{k}"], starts * mean_h)
        units[f"P{k} delayed in beds"] = (
            r[f"delayed_bed_days_p{k}"] * 24 / hours,
            starts * r[f"community_wait_days_p{k}"] * 24,
        )
    out = []
    for unit, (occupancy, little) in units.items():
        se = float(np.std(little, ddof=1) / math.sqrt(len(little)))
        out.append(
            check(
                f"Little L = lambda W: {unit}",
                engine,
                occupancy,
                float(np.mean(little)),
                "lambda x W",
                se,
            )
        )
    return out


def _mean_hours(service: dict) -> float:
    return float(service["episode_days"]["mean"]) * 24


def _treatment_bed_hours(r, data) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Admissions x mean treatment stay, per replication, from the records (by cohort)."""
    cal = r.params.calendar
    los = {c.index: c for c in r.params.cohorts}
    totals = []
    for record in r.records:
        start = record["bed_start"]
        inside = (start >= cal.warm_up_h) & (start < cal.end_h)
        total = 0.0
        for index, cohort in los.items():
            n = int((inside & (record["cohort"] == index)).sum())
            name = cohort.name
            total += n * data["cohorts"][name]["treatment_los_days"]["mean"] * 24
        totals.append(total)
    return np.array(totals)


TANDEM = {"beds": 10, "places": 14, "per_day": 6.0, "los_days": 1.0, "episode_days": 2.0}


def tandem_checks(engine: str, reps: int = 20, days: float = 120) -> list[Check]:
    """Acute -> community with blocking after service, against Ciw (same inputs)."""
    warm = 10
    data = acute_then_community(**TANDEM, days=days, warm_up_days=warm)
    r = run(data, engine, reps, seed=5)
    ciw = [tandem(**TANDEM, days=days, warm_up_days=warm, seed=1000 + i) for i in range(reps)]

    def of(key: str) -> np.ndarray:
        return np.array([x[key] for x in ciw])

    d = r["observed_days"]
    return [
        peer(
            "tandem: community starts a day", engine, r["community_starts_p1"] / d, of("throughput")
        ),
        peer("tandem: mean delayed in beds", engine, r["delayed_bed_days_p1"] / d, of("delayed")),
        peer(
            "tandem: mean delay, fit to start (days)",
            engine,
            r["community_wait_days_p1"],
            of("delayed_days"),
        ),
        peer("tandem: mean wait for a bed (days)", engine, wait_days(r), of("wait_days")),
        peer(
            "tandem: mean beds occupied", engine, r["acute_beds_occupied_mean"], of("beds_occupied")
        ),
    ]


def weekly_profile() -> list[float]:
    """168 weights from Monday 00:00: a daily sine peaking at 15:00, quieter weekends."""
    hours = np.arange(168)
    day = 1 + 0.6 * np.sin(2 * np.pi * ((hours % 24) - 9) / 24)
    weekend = np.where(hours >= 5 * 24, 0.7, 1.12)
    return [float(x) for x in day * weekend]


MT_LOS = {"mean": 0.5, "sd": 0.5}  # days


def mt_g_infinity_checks(engine: str, reps: int = 20, weeks: int = 4) -> list[Check]:
    """M_t/G/infinity from empty: occupancy by 6-hour block of the week vs the exact mean.

    The expected number present at t is the integral of lambda(t - u) S(u) du
    (lognormal stays, hour-of-week rates from the profile alone). Compared at
    every whole hour, averaged over weeks within each replication and over the
    hours of each 6-hour block; 28 blocks, so the tolerance is 4 standard errors.
    """
    per_day = 48.0
    profile = np.array(weekly_profile())
    los = {"dist": "lognormal", **MT_LOS}
    data = bed_pool(
        beds="unlimited",
        per_day=per_day,
        los_days=los,
        days=7 * weeks,
        warm_up_days=0,
        profile=list(profile),
    )
    r = run(data, engine, reps, seed=505)
    n_hours = 168 * weeks
    times = np.arange(n_hours, dtype=float)
    rate = per_day / 24 * 168 * profile / profile.sum()
    sigma2 = math.log(1 + (MT_LOS["sd"] / MT_LOS["mean"]) ** 2)
    mu_h = math.log(MT_LOS["mean"] * 24) - sigma2 / 2
    limited = theory.lognormal_limited_mean(mu_h, math.sqrt(sigma2))
    expected = theory.mt_g_infinity_mean(np.tile(rate, weeks), limited, times)
    block = (times.astype(int) % 168) // 6
    expected_block = np.bincount(block, expected) / np.bincount(block)
    measured = np.array([_occupancy_at(rec, times) for rec in r.records])
    per_rep_block = np.stack([np.bincount(block, m) / np.bincount(block) for m in measured])
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return [
        check(
            f"M_t/G/inf occupancy {days[b // 4]} {6 * (b % 4):02d}-{6 * (b % 4) + 6:02d}h",
            engine,
            per_rep_block[:, b],
            expected_block[b],
            k=4.0,
        )
        for b in range(28)
    ]


def _occupancy_at(record, times: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Patients in a bed at each time (taken at or before t, not yet left)."""
    start = np.sort(record["bed_start"][~np.isnan(record["bed_start"])])
    end = np.sort(record["bed_end"][~np.isnan(record["bed_end"])])
    return np.searchsorted(start, times, side="right") - np.searchsorted(end, times, side="right")
