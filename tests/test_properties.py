"""Property tests: any small valid system keeps its invariants.

Hypothesis draws capacities, schedules and probabilities; each run checks
conservation, capacity (utilisation never above 1 except while a cut
drains), schedule compliance, first come first served and work conservation.
"""

from __future__ import annotations

import numpy as np
from conftest import small_system
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engines.reference import simulate
from sim.model.invariants import assert_ok
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario

SCHEDULES = st.sampled_from(
    ["24/7", "Mon-Fri 09:00-17:00", "every day 08:00-20:00", "Sat-Sun 10:00-14:00"]
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    beds=st.integers(5, 80),
    cubicles=st.one_of(st.integers(1, 10), st.just("unlimited")),
    chairs=st.integers(0, 4),
    p1=st.integers(0, 15),
    p2=st.integers(0, 8),
    urgent=st.integers(0, 4),
    accepts=SCHEDULES,
    sdec_open=SCHEDULES,
    discharge=SCHEDULES,
    holds=st.booleans(),
    diversion=st.one_of(st.none(), st.integers(0, 5)),
    cut=st.integers(0, 80),
    seed=st.integers(0, 2**31),
)
def test_random_small_systems_keep_their_invariants(
    beds,
    cubicles,
    chairs,
    p1,
    p2,
    urgent,
    accepts,
    sdec_open,
    discharge,
    holds,
    diversion,
    cut,
    seed,
):
    data = small_system(
        **{
            "run.horizon_years": 0.08,
            "run.warm_up_days": 5,
            "acute.beds": beds,
            "ed.cubicles": cubicles,
            "sdec.chairs": chairs,
            "sdec.open": sdec_open,
            "acute.discharge_hours": discharge,
            "ed.boarding_holds_cubicle": holds,
            "community.p1.places": p1,
            "community.p1.accepts": accepts,
            "community.p2.places": p2,
            "community.urgent_response.places": urgent,
        }
    )
    data["acute"]["capacity_changes"] = [{"date": "2016-04-20", "beds": cut}]
    if diversion is not None:
        data["acute"]["diversion_queue_threshold"] = diversion
    record = simulate(build_params(Scenario.from_dict(data)), seed, 0)
    assert_ok(record)
    assert record.n > 0
    assert np.all(
        np.isnan(record["bed_start"])
        | (record["bed_start"] >= record["bed_request"])
        | (record["origin"] == 3)
    )
