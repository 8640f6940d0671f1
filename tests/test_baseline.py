"""Back-test: the default scenario against the published figures it was sized from.

Each bound comes from ../shared/reference/figures.md, not from the model's
own output: the model must land near the sourced volumes, and acute
occupancy must be plausible (85-95%; national G&A 88% in Q4 2019/20).
"""

from __future__ import annotations

import pytest
from conftest import coverage_paused

import sim


@pytest.fixture(scope="module")
def baseline(baseline_path, pytestconfig: pytest.Config) -> sim.Results:
    with coverage_paused(pytestconfig):
        return sim.run(sim.load_scenario(baseline_path), reps=4, seed=2016)


def ci(results: sim.Results, metric: str) -> tuple[float, float, float]:
    row = results.summary.query("metric == @metric and period == 'all'").iloc[0]
    return row["mean"], row["ci_low"], row["ci_high"]


def test_acute_occupancy_is_plausible(baseline):
    mean, low, high = ci(baseline, "acute_occupancy_mean")
    assert low >= 0.85, (mean, low, high)
    assert high <= 0.95, (mean, low, high)


def test_attendances_match_the_jsna(baseline):
    # Stockport residents' A&E attendances: 94,000 a year (JSNA 2016)
    mean, _, _ = ci(baseline, "attendances")
    assert mean == pytest.approx(94_000, rel=0.03)


def test_emergency_admissions_and_conversion_match_the_jsna(baseline):
    # 39,700 emergency admissions a year; 30% of attendances admitted (JSNA 2016)
    admissions, _, _ = ci(baseline, "admissions_nhs")
    assert admissions == pytest.approx(39_700, rel=0.05)


def test_complex_discharges_match_scaled_bnssg_referrals(baseline):
    # BNSSG P1/P2/P3 referrals scaled to 290k: ~2,040 / 800 / 570 a year (IPACS xlsx)
    for service, expected in (("p1", 2040), ("p2", 800), ("p3", 570)):
        mean, _, _ = ci(baseline, f"community_starts_{service}")
        assert mean == pytest.approx(expected, rel=0.15), service


def test_there_are_delayed_discharges_but_not_gridlock(baseline):
    delayed, _, _ = ci(baseline, "delayed_bed_days")
    bed_days, _, _ = ci(baseline, "emergency_bed_days")
    # delayed days a few per cent of bed days: DTOC ~3% of G&A beds before 2020 (Wood et al.);
    # NCTR ~13% in Dec 2022 (Health Foundation)
    assert 0.01 < delayed / bed_days < 0.13
