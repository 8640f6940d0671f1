"""The scenario explorer's page (Streamlit runs this file; ``leftshift app`` serves it).

Streamlit runs the page again from the top after every change a planner makes; what
must outlive a run of the page is in ``st.session_state`` (each input's value, keyed
``in:<dotted key>``; the scenario loaded; the last run asked for), and what is costly is
cached across sessions: a scenario's loading by its file, a run by the resolved
scenarios, seed and replications (:func:`_answer`), so running again, or another tab
asking the same, answers at once.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import streamlit as st

import sim
from sim.app import CONFIGS_ENV, inputs, sources
from sim.app.answer import Answer, Drawn, answer, drawn
from sim.app.inputs import Input
from sim.present.report import REPORT

NO_COMPARATOR = "none"
AS_LOADED = "the scenario as loaded"
# (comments, not docstrings: Streamlit's magic would show a bare string on the page)
RUN_KEYS = ("run.reps", "run.seed")  # shown beside the Run button, not in the run settings
SAFE_INT = 2**53 - 1  # the largest whole number a browser's number input holds exactly


def _configs() -> Path:
    return Path(os.environ.get(CONFIGS_ENV) or "configs").resolve()


def _scenario_key(scenario: sim.Scenario) -> str:
    return json.dumps(scenario.to_dict(), sort_keys=True, default=str)


def _library(configs: str, name: str) -> sim.Scenario | list[str]:
    """A library scenario (or its problems), read again when a file of the library changes."""
    stamps = tuple(p.stat().st_mtime_ns for p in sorted(Path(configs).rglob("*.toml")))
    return _library_read(configs, name, stamps)


@st.cache_data(show_spinner=False, max_entries=64)
def _library_read(configs: str, name: str, stamps: tuple[int, ...]) -> sim.Scenario | list[str]:
    try:
        return sources.load_library(Path(configs), name)
    except sim.ScenarioError as err:
        return list(err.messages)


@st.cache_data(show_spinner=False, max_entries=16)
def _upload(configs: str, name: str, data: bytes) -> sim.Scenario | list[str]:
    try:
        return sources.load_upload(Path(configs), name, data)
    except sim.ScenarioError as err:
        return list(err.messages)


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={sim.Scenario: _scenario_key})
def _answer(
    scenario: sim.Scenario, comparator: sim.Scenario | None, reps: int, seed: int
) -> Answer:
    """A run, cached by the resolved scenarios, replications and seed. The progress bar is
    made here, where Streamlit's cache can replay it (gone, as it ends) on a hit."""
    total = reps * (1 if comparator is None else 2)
    bar = st.progress(0.0, text=f"0/{total} replications")

    def progress(done: int) -> None:
        bar.progress(min(done / total, 1.0), text=f"{done}/{total} replications")

    try:
        return answer(scenario, comparator, reps, seed, progress)
    finally:
        bar.empty()


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs={sim.Scenario: _scenario_key})
def _drawn(scenario: sim.Scenario, comparator: sim.Scenario | None, reps: int, seed: int) -> Drawn:
    """The run's charts and report.html, cached as the run is."""
    return drawn(_answer(scenario, comparator, reps, seed).saved)


# --- inputs -------------------------------------------------------------------------------------


def _state_key(item: Input) -> str:
    return f"in:{item.path}"


def _reset(keys: list[tuple[str, Any]]) -> None:
    for key, value in keys:
        st.session_state[key] = value
        st.session_state.pop(f"err:{key}", None)


def _widget_value(item: Input) -> Any:
    """What an input's widget starts from: its value as loaded, in the widget's type."""
    if item.kind in ("toml",):
        return inputs.show(item.value)
    if item.kind == "float":
        return float(item.value)
    return item.value


def _widget(item: Input, lever: bool = False) -> None:
    """The widget of one input, its value kept in session state under ``in:<key>``; a lever,
    shown apart from its section, is named with it (``P1 (home care): places``)."""
    key = _state_key(item)
    label = item.label + (f" ({item.unit})" if item.unit and item.unit != item.label else "")
    if lever:
        label = f"{item.group.split(': ')[-1]}: {label}"
    if item.kind == "bool":
        st.checkbox(label, key=key, help=item.help)
    elif item.kind == "int":
        low = None if item.minimum is None else max(int(math.ceil(item.minimum)), -SAFE_INT)
        high = None if item.maximum is None else min(int(item.maximum), SAFE_INT)
        st.number_input(label, key=key, help=item.help, step=1, min_value=low, max_value=high)
    elif item.kind == "float":
        step = 0.01 if item.unit == "share 0-1" else 0.1
        st.number_input(label, key=key, help=item.help, step=step, format="%.4g")
    elif item.kind == "choice":
        st.selectbox(label, item.choices, key=key, help=item.help)
    else:
        st.text_input(label, key=key, help=item.help)


def _current(item: Input) -> tuple[Any, str | None]:
    """An input's value now, as plain data, or why it cannot be read."""
    value = st.session_state.get(_state_key(item), _widget_value(item))
    if item.kind == "toml":
        try:
            return inputs.parse(str(value)), None
        except ValueError as exc:
            return item.value, f"{item.path}: {exc}"
    if item.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value, None


def _mark(item: Input, changes: dict[str, Any]) -> None:
    """Under a changed input: what it was, and a button putting it back."""
    if item.path not in changes:
        return
    left, right = st.columns([4, 1])
    left.caption(f"changed (was {inputs.show(item.value)})")
    right.button(
        "reset",
        key=f"reset:{item.path}",
        on_click=_reset,
        args=([(_state_key(item), _widget_value(item))],),
    )


def _load(choice: str, upload: Any) -> sim.Scenario | None:
    """The scenario chosen (or uploaded), its inputs in session state; errors shown."""
    configs = str(_configs())
    if upload is not None:
        loaded = _upload(configs, upload.name, upload.getvalue())
        source = ("upload", upload.name, upload.file_id if hasattr(upload, "file_id") else "")
    else:
        loaded = _library(configs, choice)
        source = ("library", choice, "")
    if isinstance(loaded, list):
        st.subheader("The scenario file has problems")
        for message in loaded:
            st.error(f"error: {message}")
        return None
    if st.session_state.get("source") != source:  # a new scenario: its inputs as loaded
        for key in [k for k in st.session_state if str(k).startswith(("in:", "err:"))]:
            del st.session_state[key]
        st.session_state["source"] = source
        st.session_state.pop("request", None)
    return loaded


# --- the page -----------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="leftshift: scenario explorer", layout="wide")
    st.title("Scenario explorer")
    st.caption(
        f"leftshift {sim.__version__}: change the levers, run on the fast engine, compare. "
        "Means with 95% confidence intervals over replications; differences are paired "
        "by replication (the same patients in every scenario)."
    )
    configs = _configs()
    library = sources.scenario_files(configs)
    with st.sidebar:
        st.header("Scenario")
        asked = st.query_params.get("scenario")  # a link can name one: ?scenario=winter.toml
        default = library.index(asked) if asked in library else None
        if default is None:
            default = library.index("baseline.toml") if "baseline.toml" in library else 0
        choice = st.selectbox("From the library (configs/)", library, index=default, key="file")
        upload = st.file_uploader(
            "Or upload a scenario file",
            type=["toml"],
            key="upload",
            help=f"A TOML scenario file of at most {sources.MAX_UPLOAD_BYTES:,} bytes; its "
            'extends may name a file of the library (extends = "baseline.toml").',
        )
    scenario = _load(choice, upload)
    if scenario is None:
        return
    items = inputs.inputs_of(scenario.to_dict(), sim.json_schema())
    for item in items:
        st.session_state.setdefault(_state_key(item), _widget_value(item))

    by_path = {item.path: item for item in items}
    values = {item.path: _current(item) for item in items}
    problems = [p for _, p in values.values() if p]
    changes = {
        path: value
        for path, (value, problem) in values.items()
        if problem is None and not inputs.same(value, by_path[path].value)
    }

    st.header(scenario.name.replace("_", " "))
    if scenario.description:
        st.write(scenario.description)
    st.caption(f"From {_shown_source(scenario)}. Each input's ? says its unit, rule and default.")

    st.subheader("Main levers")
    levers = [i for i in items if inputs.is_lever(i.path)]
    columns = st.columns(3)
    for k, item in enumerate(levers):
        with columns[k % 3]:
            _widget(item, lever=True)
            _mark(item, changes)
    rest = [i for i in items if not inputs.is_lever(i.path) and i.path not in RUN_KEYS]
    st.subheader("Every input")
    for group in dict.fromkeys(i.group for i in rest):
        members = [i for i in rest if i.group == group]
        changed = sum(i.path in changes for i in members)
        with st.expander(group + (f" ({changed} changed)" if changed else "")):
            for item in members:
                _widget(item)
                _mark(item, changes)

    with st.sidebar:
        st.header("Run")
        comparators = [NO_COMPARATOR, AS_LOADED, *library]
        against = st.selectbox(
            "Compare against",
            comparators,
            index=1,
            key="against",
            help="The comparator: each headline is also shown as its paired change against "
            "this scenario on the same replications. The run settings changed here apply "
            "to it too, so both cover the same days.",
        )
        for path in RUN_KEYS:
            _widget(by_path[path])
            _mark(by_path[path], changes)
        if changes:
            st.button(
                f"Reset all {len(changes)} changes",
                on_click=_reset,
                args=([(_state_key(by_path[p]), _widget_value(by_path[p])) for p in changes],),
            )
        clicked = st.button("Run", type="primary", key="run")

    for problem in problems:
        st.error(f"error: {problem}")
    edited = _edited(scenario, changes)
    if edited is None or problems:
        return
    found, comparator = _comparator(scenario, edited, changes, against, configs)
    if not found:
        return
    request = (_scenario_key(edited), None if comparator is None else _scenario_key(comparator))
    if clicked:
        st.session_state["request"] = request
    if st.session_state.get("request") is None:
        st.info("Press Run to simulate (the first run on a machine compiles the engine).")
        _downloads(edited, changes, None, None)
        return
    if st.session_state["request"] != request:
        st.warning("The inputs changed since the last run: press Run to see their results.")
        return
    started = time.perf_counter()
    shown = _run(edited, comparator)
    _results(shown, edited, comparator)
    st.caption(
        f"Answered in {time.perf_counter() - started:.1f} s (the cache answers a run asked again)."
    )
    with st.spinner("Drawing the charts and report.html ..."):
        charts = _drawn(edited, comparator, edited.run.reps, edited.run.seed)
    _downloads(edited, changes, shown, charts)
    _charts(charts)


def _shown_source(scenario: sim.Scenario) -> str:
    source = st.session_state.get("source", ("", "", ""))
    return f"the uploaded file {source[1]}" if source[0] == "upload" else f"configs/{source[1]}"


def _edited(scenario: sim.Scenario, changes: dict[str, Any]) -> sim.Scenario | None:
    """The scenario with the changes made, or None (its problems shown)."""
    if not changes:
        return scenario
    try:  # a name of its own, so its file never takes its parent's name
        return scenario.override(changes, name=f"{scenario.name}_edited")
    except sim.ScenarioError as err:
        st.subheader("The changes have problems")
        for message in err.messages:
            st.error(f"error: {message}")
        return None


def _comparator(
    scenario: sim.Scenario,
    edited: sim.Scenario,
    changes: dict[str, Any],
    against: str,
    configs: Path,
) -> tuple[bool, sim.Scenario | None]:
    """Whether the comparator asked for loads (its problems shown if not), and it: None to
    run the scenario alone."""
    if against == NO_COMPARATOR:
        return True, None
    if against == AS_LOADED:
        chosen = scenario
    else:
        loaded = _library(str(configs), against)
        if isinstance(loaded, list):
            for message in loaded:
                st.error(f"error: {message}")
            return False, None
        chosen = loaded
    run_changes = {p: v for p, v in changes.items() if p.startswith("run.")}
    chosen = chosen.override(run_changes) if run_changes else chosen
    if _scenario_key(chosen.override({}, name=edited.name)) == _scenario_key(edited):
        return True, None  # the scenario itself: a comparison of nothing
    if chosen.name == edited.name:
        chosen = chosen.override({}, name=f"{chosen.name}_comparator")
    return True, chosen


def _run(edited: sim.Scenario, comparator: sim.Scenario | None) -> Answer:
    reps, seed = edited.run.reps, edited.run.seed
    note = st.empty()

    def say(message: str) -> None:
        note.info(message + " ...")

    seconds = sim.prepare_engine(status=say)
    if seconds > 5:
        note.success(f"Fast engine ready ({seconds:.0f} s).")
    else:
        note.empty()
    return _answer(edited, comparator, reps, seed)


def _results(shown: Answer, edited: sim.Scenario, comparator: sim.Scenario | None) -> None:
    meta = shown.meta
    what = f"{edited.name} against {comparator.name}" if comparator is not None else edited.name
    st.subheader("Headline")
    st.caption(
        f"{what}: {meta.get('reps')} replications, seed {meta.get('seed')}, engine "
        f"{meta.get('engine')}, leftshift {meta.get('version')}; replications ran in "
        f"{shown.elapsed_s:.1f} s. Mean (95% CI)"
        + ("; paired differences (95% CI) against the comparator." if comparator else ".")
    )
    st.table(shown.table.set_index(shown.table.columns[0]))  # the metric labels head the rows


def _charts(charts: Drawn) -> None:
    st.subheader("Charts")
    st.caption("The charts of report.html, drawn by the same builders.")
    for figure in charts.figures:
        st.markdown(f"**{figure.heading}**")
        if figure.note:
            st.caption(figure.note)
        st.altair_chart(figure.chart, width="content")


def _downloads(
    edited: sim.Scenario,
    changes: dict[str, Any],
    shown: Answer | None,
    charts: Drawn | None,
) -> None:
    st.subheader("Take it away")
    source = st.session_state.get("source", ("library", "", ""))
    if source[0] == "upload":
        extends, where, folder = Path(source[1]).name, f"beside {Path(source[1]).name}", ""
    else:
        extends, where, folder = source[1], "in configs/", "configs/"
    note = (
        f"Made by the leftshift {sim.__version__} app from {extends}; save it {where}\n"
        f"and run it with: leftshift run {folder}{edited.name}.toml"
    )
    if not changes:
        st.caption(f"Nothing is changed yet: the scenario is {extends} as it stands.")
    else:
        text = inputs.extension_toml(extends, edited.name, changes, note)
        st.session_state["scenario_toml"] = text  # what the button gives, for tests to read
        st.download_button(
            f"Scenario file ({edited.name}.toml)",
            text.encode("utf-8"),
            file_name=f"{edited.name}.toml",
            mime="application/toml",
            key="download_toml",
        )
    if shown is None or charts is None:
        return
    st.session_state["summary_csv"] = shown.summary_csv
    st.download_button(
        REPORT, charts.report_html, file_name=REPORT, mime="text/html", key="download_report"
    )
    st.download_button(
        "summary.csv",
        shown.summary_csv,
        file_name="summary.csv",
        mime="text/csv",
        key="download_summary",
    )


main()
