"""Back-test: the default scenario in steady state against the published figures it was sized from.

Each bound comes from ../shared/reference/figures.md (the source is named beside
it), never from the model's own output; where the model cannot measure what the
source measured, the test says so and holds only what the two share. The
scenario runs with its configured warm-up, which comes from the warm-up
diagnostic (``leftshift warmup configs/baseline.toml``), so these hold in steady
state and not because the beds are still filling: the zero-growth back-test
below checks that there is no trend left in the reported year. The run is the
file's own: its seed and its 10 replications, and an interval is the run's 95%
CI between replications.

No published figure was retrieved for these, so nothing here holds them: SDEC
episodes, P0 waits for discharge hours, 12-hour waits, A&E cubicle and
community occupancy, the split of delays by pathway, and any figure by cohort.
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
    scenario = sim.load_scenario(baseline_path)
    with coverage_paused(pytestconfig):
        return sim.run(scenario, reps=scenario.run.reps, seed=scenario.run.seed)


def ci(results: sim.Results, metric: str) -> tuple[float, float, float]:
    row = results.summary.query("metric == @metric and period == 'all'").iloc[0]
    return row["mean"], row["ci_low"], row["ci_high"]


def test_attendances_match_the_jsna(baseline):
    # Stockport residents' A&E attendances: 94,000 a year (JSNA 2016), a round figure: +-3%
    mean, _, _ = ci(baseline, "attendances")
    assert mean == pytest.approx(94_000, rel=0.03)
    # all of them new: readmissions go straight to a bed, and no re-attendance is sourced
    assert ci(baseline, "reattendances")[0] == 0


def test_emergency_admissions_match_the_jsna(baseline):
    # 39,700 emergency admissions a year (JSNA 2016), ambulatory care counted as admissions and
    # readmissions among them
    admissions, _, _ = ci(baseline, "admissions_nhs")
    assert admissions == pytest.approx(39_700, rel=0.05)


def test_attendance_conversion_matches_the_jsna(baseline):
    # 30% of Stockport residents' attendances admitted (JSNA 2016), counting ambulatory (SDEC)
    # care as admissions as local coding then did: admissions_nhs less those that did not come
    # through A&E (direct, and the 30-day readmissions that go straight to a bed) over
    # attendances; the JSNA gives a round figure, so +-3 points
    attendances, _, _ = ci(baseline, "attendances")
    admissions, _, _ = ci(baseline, "admissions_nhs")
    direct, _, _ = ci(baseline, "admissions_direct")
    readmitted, _, _ = ci(baseline, "readmissions_30d")
    assert (admissions - direct - readmitted) / attendances == pytest.approx(0.30, abs=0.03)


def test_emergency_readmissions_match_qualitywatch(baseline):
    # 30-day emergency readmissions, unadjusted: 12.4% (2013/14) to 13.7% (2017/18) (Nuffield
    # Trust QualityWatch); 2016/17 lies between, so the share of bed admissions that were
    # readmissions is held to 12.4-14%. A readmission is itself a bed admission that can be
    # readmitted, as in the national count.
    readmitted, _, _ = ci(baseline, "readmissions_30d")
    beds, _, _ = ci(baseline, "admissions_bed")
    assert 0.124 <= readmitted / beds <= 0.14, readmitted / beds


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


def test_long_stay_share_of_bed_time_is_the_published_one(baseline):
    # stays of 21 days or more held 19% of G&A beds (2017-18), 17% (Nov 2018) (HSJ 2018): a
    # census of beds by stay so far, which is what the metric counts (bed time from a stay's
    # 21st day on). A national figure of two dates two points apart: the mean is held to
    # 15-21% and the run's interval must meet the published 17-19%.
    share, low, high = ci(baseline, "acute_long_stay_share")
    assert 0.15 <= share <= 0.21, (share, low, high)
    assert low <= 0.19, (share, low, high)
    assert high >= 0.17, (share, low, high)


def test_complex_discharges_match_scaled_bnssg_referrals(baseline):
    # BNSSG P1/P2/P3 referrals 135.5 / 53.0 / 37.6 a week per ~1m (IPACS_params.xlsx), scaled to
    # 290k: ~2,040 / 800 / 570 a year [C]
    for service, expected in (("p1", 2040), ("p2", 800), ("p3", 570)):
        mean, _, _ = ci(baseline, f"community_starts_{service}")
        assert mean == pytest.approx(expected, rel=0.15), service


def test_acute_occupancy_is_the_national_one(baseline):
    # national G&A occupancy 86% (Q1 2010/11) to 88% (Q4 2019/20) (Nuffield Trust): the run's
    # interval must meet that range, and the mean lie between the 85% above which risks become
    # discernible (Bagust, Place & Posnett, BMJ 1999) and the 92% planning line (2020/21 and
    # 2023/24 guidance): a busy hospital, as the borough's delays need, not a gridlocked one.
    mean, low, high = ci(baseline, "acute_occupancy_mean")
    assert low <= 0.88, (mean, low, high)
    assert high >= 0.86, (mean, low, high)
    assert 0.85 <= mean <= 0.92, (mean, low, high)


def test_delayed_bed_days_sit_between_dtoc_and_nctr(baseline):
    delayed, _, _ = ci(baseline, "delayed_bed_days")
    bed_days, _, _ = ci(baseline, "emergency_bed_days")
    # from the official delayed transfers of care (~3,100 beds a day of ~100,000 G&A beds,
    # 12 months to March 2020, Wood et al.; the 2016 Carter review's "medically fit" count was
    # ~8,500, ~8.5% [C]) to no criteria to reside (>13,000 of ~100,000, Dec 2022, Health
    # Foundation)
    assert 0.03 < delayed / bed_days < 0.13


def pooled_wait(results: sim.Results) -> np.ndarray:
    """Each replication's mean wait from fit to start over its P1-P3 starts, in days."""
    rows = results.replications.query("period == 'all'").set_index(["metric", "replication"])
    waited = starts = 0.0
    for service in ("p1", "p2", "p3"):
        n = rows.loc[f"community_starts_{service}", "value"]
        waited = waited + rows.loc[f"community_wait_days_{service}", "value"] * n
        starts = starts + n
    return (waited / starts).to_numpy(dtype=float)


def test_community_waits_are_nctrs_regional_range(baseline):
    # The only published wait from medically fit to leaving is NCTR's, Dec 2022: a mean of
    # 1.3 days, 1.0 (East, London) to 2.1 (North West, Stockport's region) by region (Health
    # Foundation). The model's wait is from fit to the start of the P1-P3 service, the same
    # clock for the patients it covers; NCTR also counts simple discharges (shorter waits) and
    # a later, more delayed year, so the two pull opposite ways and the band is the regional
    # range: the mean wait over the P1-P3 starts, its interval meeting 1.0-2.1 days and its mean
    # below NAIC's shortest wait. NAIC 2015's 3.0 d bed-based, 6.3 d home-based and 8.7 d
    # reablement are not the same measure (referral to start, step-up referrals from home
    # included, a different year), so they are no target: the 3.0 d is only a sanity bound [A].
    pooled = pooled_wait(baseline)
    half = stats.t.ppf(0.975, len(pooled) - 1) * pooled.std(ddof=1) / np.sqrt(len(pooled))
    mean = float(pooled.mean())
    assert mean - half <= 2.1, (mean, half)
    assert mean + half >= 1.0, (mean, half)
    assert mean <= 3.0, mean


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
