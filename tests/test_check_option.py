"""``--check`` on run, compare and sweep, for both engines: silent when the run is sound,
a clear error naming the invariant, replication and time (exit 3) when it is not."""

from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

import sim.model.invariants
from sim.cli import EXIT_CHECK_FAILED, main
from sim.errors import InvariantError

SHORT = f'''extends = "{CONFIGS / "baseline.toml"}"
name = "short"
[run]
warm_up_days = 5
horizon_years = 0.03
reps = 2
'''

WHEN = r"first at t = [\d,]+\.\d h \(\d{4}-\d\d-\d\d \d\d:\d\d\)"


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # the suite turns checks on for every run; here only --check may
    monkeypatch.delenv("LEFTSHIFT_CHECK", raising=False)
    (tmp_path / "short.toml").write_text(SHORT)
    (tmp_path / "other.toml").write_text(SHORT.replace('"short"', '"other"'))
    return tmp_path


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replications the invariant checker has seen."""
    seen: list[int] = []
    real = sim.model.invariants.check

    def spy(record):
        seen.append(record.replication)
        return real(record)

    monkeypatch.setattr(sim.model.invariants, "check", spy)
    return seen


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record checked as if the acute pool had 5 beds: a real capacity breach."""
    real = sim.model.invariants.check

    def squeezed(record):
        log = record.capacity["acute"]
        tight = dataclasses.replace(log, values=log.values * 0 + 5)
        return real(dataclasses.replace(record, capacity={**record.capacity, "acute": tight}))

    monkeypatch.setattr(sim.model.invariants, "check", squeezed)


def _commands(files: Path, engine: str) -> dict[str, list[str]]:
    (files / "exp.toml").write_text(
        f'name = "exp"\nscenario = "short.toml"\nreps = 2\nengine = "{engine}"\n'
        'metrics = ["acute_occupancy_mean"]\n'
        '[[vary]]\npath = "acute.beds"\nvalues = [400, 420]\n'
    )
    short, other = str(files / "short.toml"), str(files / "other.toml")
    out = str(files / "out")
    return {
        "run": ["run", short, "--engine", engine, "--out", out],
        "compare": ["compare", short, other, "--engine", engine, "--out", out],
        "sweep": ["sweep", str(files / "exp.toml"), "--out", out],
    }


COMMANDS = ["run", "compare", "sweep"]
ENGINES = ["simpy", "fast"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("command", COMMANDS)
def test_check_runs_the_invariants_on_every_replication(files, calls, command, engine):
    args = _commands(files, engine)[command]
    result = CliRunner().invoke(main, [*args, "--check", "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    runs = {"run": 1, "compare": 2, "sweep": 2}[command]  # scenarios or sweep points
    assert sorted(calls) == sorted([0, 1] * runs)


@pytest.mark.parametrize("command", COMMANDS)
def test_without_check_nothing_is_checked(files, calls, command):
    args = _commands(files, "fast")[command]
    result = CliRunner().invoke(main, [*args, "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    assert calls == []


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_broken_invariant_names_itself_the_replication_and_the_time(
    files, broken, command, engine
):
    args = _commands(files, engine)[command]
    result = CliRunner().invoke(main, [*args, "--check", "--no-report"])
    assert result.exit_code == EXIT_CHECK_FAILED, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines
    scenario = "'short'" if command != "sweep" else r"'exp-\d+'|'short'|'[\w-]+'"
    pattern = (
        rf"error: check failed: scenario ({scenario}), replication [01]: "
        rf"capacity: \d+ acute places taken while full \({WHEN}\)$"
    )
    assert any(re.match(pattern, line) for line in lines), lines
    if command != "sweep":  # a sweep keeps the points it finished, to resume
        assert not (files / "out").exists()


def test_the_time_is_that_of_the_first_breach(files, broken):
    """The message's time is a real event time: the first admission beyond 5 beds."""
    import sim

    scenario = sim.load_scenario(files / "short.toml")
    with pytest.raises(InvariantError) as caught:
        sim.run(scenario, reps=1, engine="simpy", check=True)
    err = caught.value
    assert (err.scenario, err.replication) == ("short", 0)
    (problem,) = [p for p in err.problems if p.startswith("capacity: ")]
    hours = float(re.search(r"t = ([\d,.]+) h", problem).group(1).replace(",", ""))
    assert 0 < hours < 24 * 20  # within the warm-up and run, not the end of time


def test_an_invariant_error_crosses_process_boundaries():
    """Workers (--workers, Dask) hand errors back pickled: the details must survive."""
    err = InvariantError("plan", 7, ["conservation: 1 patients neither left nor in system"])
    again = pickle.loads(pickle.dumps(err))
    assert (again.scenario, again.replication, again.problems) == (
        "plan",
        7,
        ["conservation: 1 patients neither left nor in system"],
    )
    assert str(again) == str(err)


@pytest.mark.parametrize("command", COMMANDS)
def test_check_is_in_the_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--check" in text
    assert "conservation, capacity, schedules" in text
    assert "exits with code 3" in text
