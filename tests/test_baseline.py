"""Back-test: the default scenario in steady state against the published figures it was sized from.

Each bound comes from ../shared/reference/figures.md (the source is named beside
it), never from the model's own output. The scenario runs with its configured
warm-up, which comes from the warm-up diagnostic (``leftshift warmup
configs/baseline.toml``), so these hold in steady state and not because the
beds are still filling: the zero-growth back-test below checks that there is
no trend left in the reported year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import coverage_paused
from scipy import stats

import sim


@pytest.fixture(scope="module")
def baseline(baseline_path, pytestconfig: pytest.Config) -> sim.Results:
    with coverage_paused(pytestconfig):
        return sim.run(sim.load_scenario(baseline_path), reps=4, seed=2016)


def ci(results: sim.Results, metric: str) -> tuple[float, float, float]:
    row = results.summary.query("metric == @metric and period == 'all'").iloc[0]
    return row["mean"], row["ci_low"], row["ci_high"]


def test_attendances_match_the_jsna(baseline):
    # Stockport residents' A&E attendances: 94,000 a year (JSNA 2016)
    mean, _, _ = ci(baseline, "attendances")
    assert mean == pytest.approx(94_000, rel=0.03)


def test_emergency_admissions_match_the_jsna(baseline):
    # 39,700 emergency admissions a year (JSNA 2016), ambulatory care counted as admissions
    admissions, _, _ = ci(baseline, "admissions_nhs")
    assert admissions == pytest.approx(39_700, rel=0.05)


def test_attendance_conversion_matches_the_jsna(baseline):
    # 30% of Stockport residents' attendances admitted (JSNA 2016), counting ambulatory (SDEC)
    # care as admissions as local coding then did: the A&E share of admissions_nhs over
    # attendances; the JSNA gives a round figure, so +-3 points
    attendances, _, _ = ci(baseline, "attendances")
    admissions, _, _ = ci(baseline, "admissions_nhs")
    direct, _, _ = ci(baseline, "admissions_direct")
    assert (admissions - direct) / attendances == pytest.approx(0.30, abs=0.03)


def test_admitted_time_in_ae_matches_jones_et_al(baseline):
    # admitted type-1 patients' time in the department, England 2016-18: median 234 min,
    # IQR 185-342 (Jones et al., EMJ 2022;39:168, Table 1). A national figure for one trust:
    # held to +-15% (199-269 min), well inside the IQR.
    mean, low, high = ci(baseline, "ed_time_median_hours_admitted")
    assert 199 / 60 <= mean <= 269 / 60, (mean, low, high)
    assert low <= 234 / 60 + 0.5, (mean, low, high)
    assert high >= 234 / 60 - 0.5, (mean, low, high)
    # a median of 234 minutes puts about half of them within 4 hours: 46% under a lognormal
    # through the IQR [C], at least 50% by the median itself; held to 40-60%
    share, _, _ = ci(baseline, "ed_4h_share_admitted")
    assert 0.40 <= share <= 0.60, share


def test_four_hour_share_is_stockports(baseline):
    # Stockport FT type-1 attendances within 4 hours: 65% (May 2022, ManchesterWorld quoting NHS
    # Digital); the issue (#11) puts the late 2010s in the 60s-70s %. No 2016/17 figure was
    # retrieved, so the band is the range the two give: 60-75%.
    share, low, high = ci(baseline, "ed_4h_share")
    assert 0.60 <= share <= 0.75, (share, low, high)
    # and admitted patients wait longer than those sent home, as exit block makes them
    assert ci(baseline, "ed_4h_share_admitted")[0] < ci(baseline, "ed_4h_share_not_admitted")[0]


@pytest.mark.xfail(
    strict=True,
    reason="#11 items 6-7 not done: the baseline's stays are not set by pathway "
    "(treatment_los_days_by_pathway; no sourced stay by pathway was retrieved), and the HES "
    "lognormal fits' tails put about 26% of bed time past day 21",
)
def test_long_stay_share_of_bed_time_is_the_published_one(baseline):
    # stays of 21 days or more held 19% of G&A beds (2017-18), 17% (Nov 2018) (HSJ 2018): a
    # national figure of two dates two points apart, so 15-21%
    share, low, high = ci(baseline, "acute_long_stay_share")
    assert 0.15 <= share <= 0.21, (share, low, high)


def test_complex_discharges_match_scaled_bnssg_referrals(baseline):
    # BNSSG P1/P2/P3 referrals 135.5 / 53.0 / 37.6 a week per ~1m (IPACS_params.xlsx), scaled to
    # 290k: ~2,040 / 800 / 570 a year [C]
    for service, expected in (("p1", 2040), ("p2", 800), ("p3", 570)):
        mean, _, _ = ci(baseline, f"community_starts_{service}")
        assert mean == pytest.approx(expected, rel=0.15), service


def test_acute_occupancy_is_consistent_with_the_published_range(baseline):
    # national G&A occupancy 86% (Q1 2010/11) to 88% (Q4 2019/20) (Nuffield Trust), at most the
    # 92% planning line (2020/21 and 2023/24 guidance): the interval must meet that range. Its
    # spread between replications is wide (slow swings of a nearly full hospital), so the
    # mean alone is held to the 85% above which risks become discernible (Bagust, Place &
    # Posnett, BMJ 1999): a busy hospital, as the borough's delays need.
    mean, low, high = ci(baseline, "acute_occupancy_mean")
    assert low <= 0.92, (mean, low, high)
    assert high >= 0.86, (mean, low, high)
    assert mean >= 0.85, (mean, low, high)


def test_delayed_bed_days_sit_between_dtoc_and_nctr(baseline):
    delayed, _, _ = ci(baseline, "delayed_bed_days")
    bed_days, _, _ = ci(baseline, "emergency_bed_days")
    # from the official delayed transfers of care (~3,100 beds a day of ~100,000 G&A beds,
    # 12 months to March 2020, Wood et al.; the 2016 Carter review's "medically fit" count was
    # ~8,500, ~8.5% [C]) to no criteria to reside (>13,000 of ~100,000, Dec 2022, Health
    # Foundation)
    assert 0.03 < delayed / bed_days < 0.13


# --- zero-growth back-test: no trend left in the reported year -------------------------------


def quarter_change(results: sim.Results, series: str) -> tuple[float, float, float]:
    """Last quarter's mean minus the first quarter's, paired by replication: mean, 95% CI."""
    daily = results.daily[results.daily["series"] == series]
    day = (daily["date"] - daily["date"].min()).dt.days.to_numpy()
    n = day.max() + 1
    quarter = np.where(day < n // 4, 0, np.where(day >= n - n // 4, 1, -1))
    means = (
        pd.DataFrame({"r": daily["replication"].to_numpy(), "q": quarter, "v": daily["value"]})
        .query("q >= 0")
        .pivot_table(index="r", columns="q", values="v", aggfunc="mean")
    )
    diff = (means[1] - means[0]).to_numpy(dtype=float)
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return float(diff.mean()), float(diff.mean() - half), float(diff.mean() + half)


BACK_TEST_REPS = 8


def zero_growth(baseline_path, warm_up_days: int | None = None) -> sim.Scenario:
    base = sim.load_scenario(baseline_path)
    changes: dict[str, object] = {f"cohorts.{n}.growth_per_year": 0.0 for n in base.cohorts}
    if warm_up_days is not None:
        changes["run.warm_up_days"] = warm_up_days
    return base.override(changes)


@pytest.fixture(scope="module")
def steady(baseline_path, pytestconfig: pytest.Config) -> sim.Results:
    # the drift check runs too (warnings are errors in the suite): it must stay quiet
    with coverage_paused(pytestconfig):
        return sim.run(zero_growth(baseline_path), reps=BACK_TEST_REPS, seed=20160401)


@pytest.mark.parametrize("series", ["acute_occupied", "delayed"])
def test_zero_growth_baseline_has_no_trend_in_its_reported_year(steady, series):
    mean, low, high = quarter_change(steady, series)
    assert low <= 0 <= high, (series, mean, low, high)


def test_the_back_test_sees_the_old_120_day_warm_up_drift(baseline_path, pytestconfig):
    """The same test on the warm-up the baseline had before the diagnostic: occupancy still
    climbs through the year (issue #10: about 330 to 370 beds), so the check has power."""
    with coverage_paused(pytestconfig):
        short = sim.run_experiment(
            [zero_growth(baseline_path, warm_up_days=120)],
            reps=12,  # the 120-day run is short: more replications for a sharper interval
            seed=20160401,
            drift=False,
        )
    mean, low, _ = quarter_change(short, "acute_occupied")
    assert low > 0, mean
