"""The invariant checker catches broken records (so its silence means something)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import small_system

from sim.engines.reference import simulate
from sim.errors import InvariantError
from sim.model.invariants import assert_ok, check
from sim.scenario.params import build_params
from sim.scenario.schema import Scenario


@pytest.fixture(scope="module")
def record():
    return simulate(build_params(Scenario.from_dict(small_system())), 1, 0)


def tampered(record, **columns):
    patients = dict(record.patients)
    for name, change in columns.items():
        patients[name] = change(patients[name].copy())
    return dataclasses.replace(record, patients=patients)


def test_a_real_run_is_clean(record):
    assert check(record) == []


def test_time_running_backwards_is_caught(record):
    def swap(t):
        i = np.flatnonzero(~np.isnan(t))[10]
        t[i] -= 1000
        return t

    assert any("before" in p for p in check(tampered(record, ed_decision=swap)))


def test_a_lost_patient_breaks_conservation(record):
    def vanish(t):
        t[np.flatnonzero(~np.isnan(t))[5]] = np.nan
        return t

    with pytest.raises(InvariantError, match="conservation"):
        assert_ok(tampered(record, bed_end=vanish))


def test_admission_into_a_full_pool_is_caught(record):
    squeezed = dataclasses.replace(
        record,
        capacity={
            **record.capacity,
            "acute": dataclasses.replace(
                record.capacity["acute"], values=record.capacity["acute"].values * 0 + 5
            ),
        },
    )
    assert any("acute places taken while full" in p for p in check(squeezed))


def test_a_package_started_out_of_hours_is_caught(record):
    def saturday(t):
        on = np.flatnonzero(~np.isnan(t) & (t > 0))[0]
        t[on] = (
            record.params.calendar.hours_at(__import__("datetime").date(2016, 5, 7)) + 12
        )  # Saturday noon
        return t

    problems = check(tampered(record, comm_start=saturday))
    assert any("outside its open hours" in p for p in problems)
