"""Metrics: the tallies of many replications turned into the long tables every run reports.

Each replication keeps its own :class:`~sim.model.tally.Tally`: running sums
that its patients' rows and its bed events are added to (see
:mod:`sim.model.tally` for what is counted where). A compiled engine writes
into a replication's tally from its event loop (:meth:`MetricAccumulator.tally`);
a streaming engine hands rows and bed events over in chunks
(:meth:`MetricAccumulator.add_patients`, :meth:`MetricAccumulator.add_acute_events`),
which run the same compiled code. :meth:`MetricAccumulator.finish` then turns
the sums of all replications into four long tables (:class:`Tables`),
vectorised across replications; its metrics are those of
:mod:`sim.metrics.catalogue`, in its order. Memory grows with replications x
days, never with patients.

Periods: ``all`` (the whole observed window, after warm-up) and each NHS
financial year within it (``2016/17``...); warm-up is a clip, never a reset.
The catalogue, with units and definitions, is in ``docs/metrics.md``.

:func:`replication_metrics` and :func:`daily_series` are the accumulator fed
with one :class:`~sim.model.record.Record`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..codes import HOURS_PER_DAY, HOURS_PER_WEEK, SERVICES, WEEKDAYS, Service
from ..model import tally
from ..model.record import CODE_COLUMNS, COLUMNS, FLOAT_COLUMNS, Record, acute_events
from ..model.tally import (
    DAY,
    ED_BIN_HOURS,
    ED_BINS,
    ED_FOUR_HOUR_BIN,
    ED_LEFT_CODES,
    F_OFFSET,
    HOUR_OF_WEEK_SERIES,
    S_AVOIDABLE_ATTENDED,
    S_AVOIDABLE_BED_DAYS,
    S_COMMUNITY_WAIT,
    S_ED_HOURS,
    S_ESCALATIONS,
    S_SDEC_WAIT_HOURS,
    S_SDEC_WAITED,
    S_SDEC_WAITED_STARTED,
    Tally,
)
from ..scenario.params import CostParams, ModelParams, Timeline
from ..scenario.schema import Costs
from . import catalogue

ED_TIME_GROUPS = ("not admitted", "admitted", "still in A&E")
"""The A&E time histogram's outcome groups (see :func:`ed_time_bins`)."""
_ED_OUTCOME_OF_CODE = np.repeat(np.arange(3), [ED_LEFT_CODES, ED_LEFT_CODES, 2])

OPTIONAL_COLUMNS = ("parent", "visits_p1", "visit_days")
"""Patient columns :meth:`MetricAccumulator.add_patients` does without (zeros): the visit
columns matter only when P1 counts visits."""
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)
"""The patient columns :meth:`MetricAccumulator.add_patients` reads."""

DAILY_DTYPE = np.float32
"""Daily values are stored in single precision (7 significant digits, plenty for a daily
mean) to halve the largest table; every metric is computed in double precision."""


def _labels(
    names: Sequence[str], codes: np.ndarray
) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """``names[codes]`` in pandas' default string dtype, without a Python string per row.

    Tens of millions of daily rows make an object array of str slow to build and to
    convert; a dictionary-encoded arrow array cast to strings is built in C.
    """
    dtype = pd.Series(["x"]).dtype
    if pd.api.types.is_object_dtype(dtype):  # pandas before 3 keeps str in object columns
        return np.array(list(names), dtype=object)[codes]
    import pyarrow as pa

    labels = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(names), pa.string()))
    return pd.array(pa.chunked_array([labels.cast(pa.large_string())]), dtype=dtype)


def _categories(names: Sequence[str], codes: np.ndarray) -> pd.Categorical:
    """``names[codes]`` as a categorical, in the order of ``names``: a byte a row, where
    strings cost a string a row to build (the hour-of-week table's labels were a tenth of
    a small system's replication, 3 December 2026)."""
    return pd.Categorical.from_codes(
        codes.astype(np.int8, copy=False), dtype=pd.CategoricalDtype(names)
    )


def ed_time_bins() -> pd.DataFrame:
    """The A&E time histogram's bins by code: outcome, hours_from, hours_to.

    Attendances that left are counted by outcome (``admitted``: a decision to
    admit, or SDEC refused; ``not admitted``: home or SDEC) in bins of
    ``(hours_from, hours_to]``; those still in A&E at the end of the run are
    counted as ``still in A&E`` with the time so far (``0-4`` or ``4-inf``).
    """
    edges = np.arange(ED_BINS + 1) * ED_BIN_HOURS
    start = np.append(edges[:-1], edges[-1])
    stop = np.append(edges[1:], np.inf)
    return pd.DataFrame(
        {
            "outcome": np.repeat(ED_TIME_GROUPS, [ED_LEFT_CODES, ED_LEFT_CODES, 2]),
            "hours_from": np.concatenate((start, start, [0.0, tally.HOUR_4])),
            "hours_to": np.concatenate((stop, stop, [tally.HOUR_4, np.inf])),
        }
    )


def _histogram_median(counts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The median time in A&E (hours) from counts [..., ED_LEFT_CODES] in the bins of
    :func:`ed_time_bins`, interpolated linearly within its 15-minute bin (the open bin past
    24 hours gives 24); NaN where nothing was counted."""
    cum = np.cumsum(counts, axis=-1)
    half = n[..., None] / 2.0
    k = np.minimum((cum < half).sum(axis=-1), ED_BINS)  # the bin holding the median
    before = (
        np.take_along_axis(cum, k[..., None], axis=-1)[..., 0]
        - np.take_along_axis(counts, k[..., None], axis=-1)[..., 0]
    )
    inside = np.take_along_axis(counts, k[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(inside > 0, (n / 2.0 - before) / inside, 0.0)
    hours = (k + np.where(k < ED_BINS, frac, 0.0)) * ED_BIN_HOURS
    return np.where(n > 0, hours, np.nan)


def _capacity_by_day(timeline: Timeline, day_starts: np.ndarray) -> np.ndarray:
    """The capacity holding over each day (changes are dated, so they fall at midnight)."""
    index = np.searchsorted(timeline.times_h, day_starts, side="right") - 1
    return np.asarray(timeline.values, dtype=float)[np.maximum(index, 0)]


def _share(used: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Occupied / open places: 0 when unlimited; no places at all is full, or over-full if used."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(capacity > 0, used / capacity, np.where(used > 0, np.inf, 1.0))
    return np.where(np.isinf(capacity), 0.0, share)


def opel_level(
    occupancy: np.ndarray,
    queue: np.ndarray,
    escalated: np.ndarray,
    thresholds: tuple[float, float, float],
) -> np.ndarray:
    """An OPEL-like level (1-4) for each day from its mean core-bed occupancy (share), its mean
    bed queue (patients) and whether escalation beds were open at any time in it, by
    ``thresholds`` (``ModelParams.opel``: occupancy of levels 2 and 3, queue of level 4): 4
    with that queue or more, else 3 at the level-3 occupancy or with escalation beds open,
    else 2 at the level-2 occupancy, else 1."""
    occupancy, queue, escalated = np.broadcast_arrays(occupancy, queue, escalated)
    out = np.empty(occupancy.shape)
    level_2, level_3, level_4_queue = (float(t) for t in thresholds)
    tally.opel_levels(
        np.ascontiguousarray(occupancy, dtype=float).ravel(),
        np.ascontiguousarray(queue, dtype=float).ravel(),
        np.ascontiguousarray(escalated, dtype=np.bool_).ravel(),
        level_2,
        level_3,
        level_4_queue,
        out.reshape(-1),
    )
    return out


def _exposure(start_h: float, end_h: float, offset_h: float) -> np.ndarray:
    """Hours of each hour of the week within ``[start_h, end_h)``, by the same running sums."""
    if not end_h > start_h:
        return np.zeros(HOURS_PER_WEEK)

    def elapsed(t: float) -> np.ndarray:
        week, x = divmod(t + offset_h, float(HOURS_PER_WEEK))
        return week + np.clip(x - np.arange(HOURS_PER_WEEK), 0.0, 1.0)

    return elapsed(end_h) - elapsed(start_h)


class Tables(NamedTuple):
    """What a :class:`MetricAccumulator` returns: four long tables.

    Each has a leading ``replication`` column (``scenario`` is added by the runner).
    """

    metrics: pd.DataFrame
    daily: pd.DataFrame
    hour_of_week: pd.DataFrame
    ed_time: pd.DataFrame


def _grouped(rep: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The rows of each position in ``rep``, in their order: [(position, rows)]."""
    if len(rep) == 0:
        return []
    order = np.arange(len(rep)) if (np.diff(rep) >= 0).all() else np.argsort(rep, kind="stable")
    cuts = np.flatnonzero(np.diff(rep[order])) + 1
    return [(int(rep[rows[0]]), rows) for rows in np.split(order, cuts)]


class MetricAccumulator:
    """Metrics of replications ``replications[0..R-1]`` of one scenario, fed as they run.

    Feed it, in any order and any number of chunks (``rep`` holds positions
    0..R-1 in ``replications``), or let a compiled engine write into
    :meth:`tally`:

    * :meth:`add_patients`: complete patient rows, each patient exactly once
      (a patient still in the system at the end is delivered at the end, with
      ``NaN`` for what has not happened);
    * :meth:`add_acute_events`: every change of the acute-bed occupancy level,
      in time order per replication;

    then call :meth:`finish` once. Capacities come from ``params`` (the same
    for every replication); costs from ``costs``.
    """

    def __init__(self, params: ModelParams, replications: Sequence[int], costs: CostParams) -> None:
        self.params = params
        self.costs = costs
        self.replications = np.asarray(list(replications), dtype=np.int64)
        if self.replications.ndim != 1 or len(self.replications) == 0:
            raise ValueError(f"replications must be a non-empty sequence, got {replications!r}")
        self.R = len(self.replications)
        cal = params.calendar
        self.warm_h = cal.warm_up_h
        self.end_h = cal.end_h
        self.periods = cal.periods
        self.g = self.geometry = tally.geometry(params)
        self.D = self.g.days
        self.day_starts = cal.day_starts()
        self.nF = self.g.n_fy
        self.fy_first_day = np.array(
            [round((p.start_h - self.warm_h) / DAY) for p in self.periods[1:]], dtype=np.intp
        )
        self.period_hours = np.array([p.end_h - p.start_h for p in self.periods])
        if len(self.fy_first_day) != self.nF:  # pragma: no cover - the compiled sums write nF
            raise ValueError(f"{len(self.fy_first_day)} financial years, the tally has {self.nF}")
        self.services = [s for s in SERVICES if params.service(s) is not None]
        self.series = list(self.g.series)
        self.codes = tally.count_kinds(len(params.cohorts))
        self.n_cohorts = len(params.cohorts)
        initial_beds = params.initial_treating + sum(params.initial_delayed)
        self.n_levels = tally.levels_needed(params, initial_beds)
        # every replication's sums side by side, so the tables read them without gathering;
        # each replication's tally is a view (zero pages until written: memory grows as
        # replications run)
        self._all = tally.new_tally(self.g, self.n_levels, self.R)
        self.tallies = [tally.tally_at(self._all, r) for r in range(self.R)]
        self._handed: set[int] = set()
        self.finished = False

    # --- feeding ----------------------------------------------------------------------------

    def tally(self, position: int) -> Tally:
        """The running sums of the replication at ``position``, for an engine to write into."""
        self._check(np.array([position]))
        return self.tallies[position]

    def fresh_tally(self, position: int, n_levels: int = 0) -> Tally:
        """Empty sums at ``position``, with at least ``n_levels`` occupancy levels (for an
        engine that starts a replication again); return them."""
        self._check(np.array([position]))
        t = self.tallies[position]
        if position in self._handed:  # written before: empty it (a fresh one is all zeros)
            for a in t:
                a[...] = 0
        self._handed.add(position)
        if n_levels > t.level_hours.shape[-1]:
            self.n_levels = max(self.n_levels, n_levels)
            t = self.tallies[position] = t._replace(
                level_hours=np.zeros((self.g.n_seg, self.n_levels))
            )
        return t

    def _check(self, rep: np.ndarray) -> np.ndarray:
        if self.finished:
            raise RuntimeError("MetricAccumulator.finish() was already called")
        rep = np.asarray(rep)
        if rep.ndim != 1:
            raise ValueError(f"rep must be 1-D, got shape {rep.shape}")
        if len(rep) and (rep.min() < 0 or rep.max() >= self.R):
            raise ValueError(
                f"rep holds positions 0..{self.R - 1}, got {rep.min()}..{rep.max()} "
                "(positions in `replications`, not replication numbers)"
            )
        return rep.astype(np.intp, copy=False)

    def add_patients(self, rep: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Add complete patient rows (the columns of :mod:`sim.model.record`; ``parent`` is
        not read). ``rep[i]`` is the position (0..R-1) of row ``i``'s replication. Rows may
        come in any order and any number of chunks, each patient exactly once."""
        rep = self._check(rep)
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"add_patients: missing columns {', '.join(missing)}")
        n = len(rep)
        for name in REQUIRED_COLUMNS:
            if len(columns[name]) != n:
                raise ValueError(
                    f"add_patients: column {name} has {len(columns[name])} rows, rep {n}"
                )
        if n == 0:
            return
        times = np.column_stack([np.asarray(columns[c], dtype=np.float64) for c in FLOAT_COLUMNS])
        codes = np.column_stack(
            [
                np.asarray(columns[c]).astype(np.int64) if c in columns else np.zeros(n, np.int64)
                for c in CODE_COLUMNS
            ]
        )
        g = self.g
        for position, rows in _grouped(rep):
            t = self.tallies[position]
            n, rows_t, rows_c = len(rows), times[rows], codes[rows]
            tally.tally_rows(
                g.whole, g.times, t.flows, t.hours, t.week, t.counts, t.sums, rows_t, rows_c, n
            )

    def add_acute_events(self, rep: np.ndarray, times: np.ndarray, deltas: np.ndarray) -> None:
        """Add changes of the acute occupancy level: ``deltas[i]`` beds taken (+) or freed (-).

        Each replication's events must come in time order, within a chunk and
        across chunks (a time a hair earlier than the last one seen is moved up
        to it). Events at the same time may come in any order.
        """
        rep = self._check(rep)
        t = np.asarray(times, dtype=float)
        d = np.asarray(deltas, dtype=np.int64)
        if not (len(rep) == len(t) == len(d)):
            raise ValueError(f"add_acute_events: lengths {len(rep)}, {len(t)}, {len(d)} differ")
        for position, rows in _grouped(rep):
            t_rows, d_rows = t[rows], d[rows]
            done = 0
            while done < len(rows):
                sums = self.tallies[position]
                added, status = tally.tally_bed_events(
                    self.g.whole,
                    self.g.times,
                    sums.level_hours,
                    sums.level,
                    t_rows[done:],
                    d_rows[done:],
                    len(rows) - done,
                )
                done += added
                if status == tally.LEVEL_NEGATIVE:
                    raise ValueError(
                        "acute occupancy fell below 0: events are missing or out of order"
                    )
                if status == tally.LEVEL_TOO_HIGH:
                    self._more_levels(position)

    def add_escalation(self, position: int, times: np.ndarray, beds: np.ndarray) -> None:
        """Add a replication's escalation log, once: ``beds[i]`` escalation beds open from
        ``times[i]``, in time order."""
        self._check(np.array([position]))
        t = self.tallies[position]
        times = np.asarray(times, dtype=np.float64)
        tally.tally_escalation(
            self.g.whole,
            self.g.times,
            t.flows,
            t.hours,
            t.week,
            t.sums,
            times,
            np.asarray(beds, dtype=np.float64),
            len(times),
        )

    def _more_levels(self, position: int) -> None:
        """Keep hours for twice as many occupancy levels at ``position``."""
        old = self.tallies[position]
        n = old.level_hours.shape[1]
        grown = np.zeros((old.level_hours.shape[0], 2 * n))
        grown[:, :n] = old.level_hours
        self.tallies[position] = old._replace(level_hours=grown)

    def add_record(self, record: Record, position: int = 0) -> None:
        """Add a whole record as replication ``position``: its rows and its bed events."""
        self.add_patients(np.full(record.n, position, dtype=np.intp), record.patients)
        times, deltas = acute_events(record.patients)
        self.add_acute_events(np.full(len(times), position, dtype=np.intp), times, deltas)
        log = record.capacity.get("acute_escalation")
        if log is not None:
            self.add_escalation(position, log.times_h, log.values)

    # --- results ------------------------------------------------------------------------------

    def _live(self) -> None:
        """The counts and sums of every replication side by side, for the tables."""
        self.counts = self._all.counts
        sums = self._all.sums
        self.ed_hours = sums[:, :, S_ED_HOURS]
        self.community_wait = sums[:, :, S_COMMUNITY_WAIT : S_COMMUNITY_WAIT + 4]
        self.escalations = sums[:, :, S_ESCALATIONS]
        self.sums = sums

    def finish(self, daily: bool = True) -> Tables:
        """The long tables (:class:`Tables`), replications in the order given.

        metrics: replication, metric, period, value; daily: replication, date,
        series, value; hour_of_week: replication, series, weekday, hour, value;
        ed_time: replication, period, outcome, hours_from, hours_to,
        attendances. ``daily=False`` leaves the last three empty (with their
        columns) and never builds them: the daily table grows with the horizon,
        and a sweep keeps only metrics. Call once: the accumulator is spent
        afterwards (the tallies' hours become the days' integrals in place).
        """
        if self.finished:
            raise RuntimeError("MetricAccumulator.finish() was already called")
        for t in self.tallies:
            tally.tally_close(self.g.whole, self.g.times, t.level_hours, t.level)
        self._live()
        self.finished = True
        R, D = self.R, self.D
        names = [*self.series[:-1], *catalogue.DERIVED_DAILY_SERIES]
        kept = R if daily else 0
        by_day = np.empty((kept, len(names), D), dtype=DAILY_DTYPE)
        totals: dict[str, np.ndarray] = {}
        self._day_integrals: dict[str, np.ndarray] = {}
        delayed = np.zeros((kept, D))  # summed in double precision, then stored
        by_period = np.zeros((R, len(self.series), 1 + self.nF))
        if D:
            tally.day_integrals(self._all.flows, self._all.hours, D, self.fy_first_day, by_period)
        integrals = self._all.hours[:, :, 1 : D + 1]  # patient-hours in each day [R, S, D]
        for s, name in enumerate(self.series):
            integral = integrals[:, s]
            totals[name] = by_period[:, s]
            if name != "direct_waiting" and kept:
                by_day[:, s, :] = integral / DAY
            if name in (
                "acute_occupied",
                "bed_queue",
                "escalation_beds_open",
                "visits_in_use_p1",
            ) or name.startswith("community_in_use_"):
                self._day_integrals[name] = integral
            if kept and name in (
                "waiting_discharge_p1",
                "waiting_discharge_p2",
                "waiting_discharge_p3",
            ):
                delayed += integral
        self._acute_share = self._share_hours("acute_occupied", self.params.beds)
        occupancy = self._acute_share / DAY
        # a bed open for an hour is 1 bed-hour: anything less is rounding, not escalation
        escalated = self._day_integrals.get("escalation_beds_open", np.zeros((R, D))) > 1e-9
        opel = opel_level(
            occupancy, self._day_integrals["bed_queue"] / DAY, escalated, self.params.opel
        )
        metrics = self._metrics_frame(totals, opel, escalated)

        if kept:
            at = {name: i for i, name in enumerate(names)}
            by_day[:, at["delayed"], :] = delayed / DAY
            by_day[:, at["acute_capacity"], :] = self.g.bed_cap_by_day[None, :]
            by_day[:, at["acute_occupancy"], :] = occupancy
            by_day[:, at["opel_level"], :] = opel
        self._day_integrals = {}
        del self._acute_share
        tables = Tables(
            metrics,
            self._daily_frame(names, by_day),
            self._hour_of_week_frame(kept),
            self._ed_time_frame(kept),
        )
        self.tallies = []  # spent: free the diaries
        del self._all
        return tables

    def _daily_frame(self, names: list[str], daily: np.ndarray) -> pd.DataFrame:
        """The daily table of ``daily`` [R, series, D] (R = 0: no rows, the same columns)."""
        R, D = daily.shape[0], self.D
        if D < 1:
            return pd.DataFrame(columns=["replication", "date", "series", "value"])
        cal = self.params.calendar
        dates = pd.to_datetime(cal.sim_start) + pd.to_timedelta(
            self.day_starts[:-1] / DAY, unit="D"
        )
        codes = np.tile(np.repeat(np.arange(len(names), dtype=np.int8), D), R)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications[:R], len(names) * D),
                "date": np.tile(dates.to_numpy(), R * len(names)),
                # one byte a row: tens of millions of rows as strings took most of the memory
                "series": _categories(names, codes),
                "value": daily.ravel(),  # a view: the frame holds the array itself
            },
            copy=False,
        )

    def _hour_of_week_frame(self, R: int) -> pd.DataFrame:
        """Mean in each hour of the week over the observed window: replication, series,
        weekday, hour, value (patient-hours in that hour of the week / its hours); of the
        first ``R`` replications (0: no rows, the same columns)."""
        hours = tally.week_hours(self._all.week[:R])  # [rep, series, hour of week]
        pathways = [HOUR_OF_WEEK_SERIES.index(f"waiting_discharge_p{k}") for k in (1, 2, 3)]
        delayed = hours[:, pathways].sum(axis=1, keepdims=True)
        hours = np.concatenate((hours, delayed), axis=1)
        names = [*HOUR_OF_WEEK_SERIES, "delayed"]
        exposure = _exposure(self.warm_h, self.end_h, float(self.g.times[F_OFFSET]))
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(exposure[None, None, :] > 0, hours / exposure[None, None, :], np.nan)
        how = np.tile(np.arange(HOURS_PER_WEEK), R * len(names))
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications[:R], len(names) * HOURS_PER_WEEK),
                "series": _categories(
                    names, np.tile(np.repeat(np.arange(len(names)), HOURS_PER_WEEK), R)
                ),
                "weekday": _categories(WEEKDAYS, how // HOURS_PER_DAY),
                "hour": (how % HOURS_PER_DAY).astype(np.int64),
                "value": value.ravel(),
            },
            copy=False,
        )

    def _ed_time_frame(self, R: int) -> pd.DataFrame:
        """Attendances by time in A&E: replication, period, outcome, hours_from, hours_to,
        attendances (see :func:`ed_time_bins`), by arrival time as ``attendances``; of the
        first ``R`` replications (0: no rows, the same columns)."""
        counts = self._counts("ed_time")[:R]  # [replication, period, code]
        R, n_periods, n_codes = counts.shape
        bins = ed_time_bins()
        code = np.tile(np.arange(n_codes), R * n_periods)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications[:R], n_periods * n_codes),
                "period": _labels(
                    [p.label for p in self.periods],
                    np.tile(np.repeat(np.arange(n_periods), n_codes), R),
                ),
                "outcome": _labels(ED_TIME_GROUPS, _ED_OUTCOME_OF_CODE[code]),
                "hours_from": bins["hours_from"].to_numpy()[code],
                "hours_to": bins["hours_to"].to_numpy()[code],
                "attendances": counts.astype(np.int64).ravel(),
            },
            copy=False,
        )

    def _per_period(self, by_day: np.ndarray) -> np.ndarray:
        """Sum over the days of each period: [..., D] -> [..., 1 + financial years]."""
        out = np.zeros((*by_day.shape[:-1], 1 + self.nF))
        if self.D:
            rows = np.ascontiguousarray(by_day, dtype=float).reshape(-1, self.D)
            tally.period_sums(rows, self.fy_first_day, out.reshape(-1, 1 + self.nF))
        return out

    def _counts(self, name: str) -> np.ndarray:
        """Counts [R, periods, codes], with ``all`` first."""
        start = self.g.count_start(name)
        c = self.counts[:, : self.nF, start : start + self.codes[name]].astype(float)
        return np.concatenate((c.sum(axis=1, keepdims=True), c), axis=1)

    def _sums(self, values: np.ndarray) -> np.ndarray:
        """Sums [R, financial years, ...] -> [R, periods, ...], with ``all`` first."""
        v = values[:, : self.nF]
        return np.concatenate((v.sum(axis=1, keepdims=True), v), axis=1)

    def _level_metrics(self) -> dict[str, np.ndarray]:
        """Occupancy p95, time at or above 92% and time full, from the hours at each level."""
        R, n_seg = self.R, self.g.n_seg
        n_lev = max(t.level_hours.shape[1] for t in self.tallies)
        hours = np.zeros((R, n_seg, n_lev))
        for r, t in enumerate(self.tallies):
            hours[r, :, : t.level_hours.shape[1]] = t.level_hours
        share = _share(np.arange(n_lev, dtype=float)[None, :], self.g.seg_cap[:, None])
        out = {
            name: np.full((R, 1 + self.nF), np.nan)
            for name in ("acute_occupancy_p95", "acute_time_at_or_above_92", "acute_time_full")
        }
        bed_hours = np.zeros((R, 1 + self.nF))
        levels = np.arange(n_lev, dtype=float)
        for p in range(1 + self.nF):
            segs = np.arange(n_seg) if p == 0 else np.flatnonzero(self.g.seg_fy == p - 1)
            if len(segs) == 0:
                continue
            values = share[segs].ravel()
            weights = hours[:, segs, :].reshape(R, -1)
            bed_hours[:, p] = hours[:, segs, :] @ levels @ np.ones(len(segs))
            span = self.period_hours[p]
            with np.errstate(divide="ignore", invalid="ignore"):
                above = weights[:, values >= 0.92 - 1e-12].sum(axis=1) / span
                full = weights[:, values >= 1.0 - 1e-12].sum(axis=1) / span
            out["acute_time_at_or_above_92"][:, p] = above
            out["acute_time_full"][:, p] = full
            order = np.argsort(values, kind="stable")
            cumulative = np.cumsum(weights[:, order], axis=1)
            target = 0.95 * cumulative[:, -1]
            index = np.minimum((cumulative < target[:, None]).sum(axis=1), len(values) - 1)
            p95 = values[order][index]
            out["acute_occupancy_p95"][:, p] = np.where(cumulative[:, -1] > 0, p95, np.nan)
        out["_bed_hours"] = bed_hours
        return out

    def _metrics_frame(
        self, totals: dict[str, np.ndarray], opel: np.ndarray, escalated: np.ndarray
    ) -> pd.DataFrame:
        params = self.params
        span = self.period_hours[None, :]
        R, n_periods = self.R, 1 + self.nF

        def mean(name: str) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return totals[name] / span

        def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            """num / den, NaN where nothing was observed (den = 0): the one rule for a
            metric with no observations (docs/metrics.md)."""
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(den > 0, num / den, np.nan)

        m: dict[str, np.ndarray] = {}
        m["observed_days"] = np.broadcast_to(
            np.array([p.days for p in self.periods], dtype=float), (R, n_periods)
        )

        # demand and avoidance
        ed = self._counts("ed_arrival").reshape(R, n_periods, self.n_cohorts, 4)
        attended = ed.sum(axis=(2, 3))
        m["attendances"] = attended
        for cohort in params.cohorts:
            m[f"attendances_{cohort.name}"] = ed[:, :, cohort.index, :].sum(axis=2)
        arrivals = self._counts("t_arrival")
        code = np.arange(12)
        avoidable, achieved, lost = code % 2 == 1, (code // 2) % 2 == 1, code // 4
        m["attendances_would_be"] = arrivals[:, :, :12].sum(axis=2)
        planned = arrivals[:, :, :12][:, :, avoidable].sum(axis=2)
        done = arrivals[:, :, :12][:, :, avoidable & achieved].sum(axis=2)
        m["avoidance_planned"] = planned
        m["avoided_attendances"] = done
        m["avoidance_lost"] = planned - done
        m["avoidance_lost_closed"] = arrivals[:, :, :12][:, :, avoidable & (lost == 1)].sum(axis=2)
        m["avoidance_lost_full"] = arrivals[:, :, :12][:, :, avoidable & (lost == 2)].sum(axis=2)
        m["urgent_response_loss_share"] = ratio(planned - done, planned)
        sums = self._sums(self.sums)  # by the tally's S_* columns
        m["avoidable_attendances"] = sums[:, :, S_AVOIDABLE_ATTENDED]
        m["bed_days_per_avoidable_attendance"] = ratio(
            sums[:, :, S_AVOIDABLE_BED_DAYS], m["avoidable_attendances"]
        )
        m["readmissions"] = arrivals[:, :, 12] + arrivals[:, :, 14]
        m["readmissions_30d"] = arrivals[:, :, 14]
        m["reattendances"] = arrivals[:, :, 12]

        # A&E
        by_state = ed.sum(axis=2)
        known = by_state[:, :, 1:].sum(axis=2)
        m["ed_4h_share"] = ratio(by_state[:, :, 3], known)
        m["ed_time_mean_hours"] = ratio(self._sums(self.ed_hours), by_state[:, :, 2:].sum(axis=2))
        decisions = self._counts("ed_decision")
        code = np.arange(8)
        from_ed = code % 2 == 1
        admitted_attendances = decisions[:, :, from_ed].sum(axis=2)
        m["ed_12h_waits"] = decisions[:, :, from_ed & ((code // 2) % 2 == 1)].sum(axis=2)
        m["boarding_hours"] = totals["boarding"]
        m["ed_in_department_mean"] = mean("ed_in_department")
        # by outcome (exit block): those who left A&E, from the time histogram
        ed_time = self._counts("ed_time")
        for group, suffix in ((1, "admitted"), (0, "not_admitted")):
            left = ed_time[:, :, group * ED_LEFT_CODES : (group + 1) * ED_LEFT_CODES]
            n_left = left.sum(axis=2)
            m[f"ed_4h_share_{suffix}"] = ratio(left[:, :, :ED_FOUR_HOUR_BIN].sum(axis=2), n_left)
            m[f"ed_time_median_hours_{suffix}"] = _histogram_median(left, n_left)

        # SDEC and admissions
        sdec = self._counts("sdec_start")
        n_sdec = sdec.sum(axis=2)
        m["sdec_episodes"] = n_sdec
        m["sdec_refused"] = decisions[:, :, code >= 4].sum(axis=2)
        m["sdec_loss_share"] = ratio(m["sdec_refused"], m["sdec_refused"] + n_sdec)
        m["sdec_waited"] = sums[:, :, S_SDEC_WAITED]
        m["sdec_wait_mean_hours"] = ratio(
            sums[:, :, S_SDEC_WAIT_HOURS], sums[:, :, S_SDEC_WAITED_STARTED]
        )
        beds = self._counts("bed_start")[:, :, :8]
        code = np.arange(8)
        n_admitted = beds.sum(axis=2)
        incl = n_admitted + sdec[:, :, 0]
        m["admissions_bed"] = n_admitted
        m["admissions_direct"] = beds[:, :, code % 2 == 1].sum(axis=2)
        m["admissions_incl_sdec"] = incl
        m["admissions_nhs"] = incl if params.sdec_counts_as_admission else n_admitted
        m["admissions_overnight"] = beds[:, :, (code // 2) % 2 == 1].sum(axis=2)
        m["admission_wait_share"] = ratio(beds[:, :, code >= 4].sum(axis=2), n_admitted)
        diverted = self._counts("diverted")[:, :, 0]
        m["diverted"] = diverted
        m["direct_wait_hours"] = totals["direct_waiting"]
        m["bed_queue_mean"] = mean("bed_queue")

        # acute beds
        bed_days = totals["acute_occupied"] / DAY
        m["emergency_bed_days"] = bed_days
        m["acute_beds_occupied_mean"] = mean("acute_occupied")
        m["acute_long_stay_share"] = ratio(totals["acute_long_stay"], totals["acute_occupied"])
        m["acute_occupancy_mean"] = self._period_mean(self._acute_share)
        levels = self._level_metrics()
        bed_hours = levels.pop("_bed_hours")
        if not np.allclose(bed_hours, totals["acute_occupied"], rtol=1e-6, atol=1e-6):
            worst = int(np.argmax(np.abs(bed_hours - totals["acute_occupied"]).max(axis=1)))
            raise ValueError(
                "acute events disagree with the patients' bed_start/bed_end: replication "
                f"{self.replications[worst]} has {bed_hours[worst, 0]:.6g} bed-hours from events, "
                f"{totals['acute_occupied'][worst, 0]:.6g} from rows (were all events added?)"
            )
        m.update(levels)

        # escalation beds (bed days open, paid for, occupied or not) and the OPEL-like level
        escalation_days = totals.get("escalation_beds_open", np.zeros((R, n_periods))) / DAY
        m["escalation_bed_days"] = escalation_days
        m["escalation_openings"] = self._sums(self.escalations)
        m["escalation_days_share"] = ratio(
            self._per_period(escalated.astype(float)), m["observed_days"]
        )
        m["opel_3_days"] = self._per_period((opel == 3).astype(float))
        m["opel_4_days"] = self._per_period((opel == 4).astype(float))

        # discharge
        delayed_total: np.ndarray | float = 0.0
        for k in (1, 2, 3):
            days = totals[f"waiting_discharge_p{k}"] / DAY
            delayed_total = delayed_total + days
            m[f"delayed_bed_days_p{k}"] = days
        m["delayed_bed_days"] = np.asarray(delayed_total)
        # by discharge stage: fit to the end of assessment, then to the end of brokerage, then
        # the place (all of it without stages); and the patients who waited at each
        waited = self._counts("stage_wait")  # stage x 3 + pathway - 1
        none = np.zeros_like(totals["acute_occupied"])
        for g, stage in enumerate(("assessment", "brokerage", "place")):
            stage_total: np.ndarray | float = 0.0
            for k in (1, 2, 3):
                if stage == "place":
                    earlier = ("assessment", "brokerage")
                    days = m[f"delayed_bed_days_p{k}"] - sum(
                        m[f"delay_{e}_bed_days_p{k}"] for e in earlier
                    )
                else:
                    days = totals.get(f"waiting_{stage}_p{k}", none) / DAY
                m[f"delay_{stage}_bed_days_p{k}"] = days
                stage_total = stage_total + days
                m[f"delay_{stage}_patients_p{k}"] = waited[:, :, 3 * g + k - 1]
            m[f"delay_{stage}_bed_days"] = np.asarray(stage_total)
            m[f"delay_{stage}_patients"] = waited[:, :, 3 * g : 3 * g + 3].sum(axis=2)
        m["p0_discharge_wait_bed_days"] = totals["waiting_discharge_p0"] / DAY
        fit = self._counts("t_fit")  # 0: P0; 1-3: P1-P3 delayed; 4-6: P1-P3 not delayed
        m["delayed_discharges"] = fit[:, :, 1:4].sum(axis=2)
        m["delayed_share"] = ratio(m["delayed_discharges"], fit[:, :, 1:7].sum(axis=2))
        for k in (1, 2, 3):
            m[f"delayed_discharges_p{k}"] = fit[:, :, k]
            m[f"delayed_share_p{k}"] = ratio(fit[:, :, k], fit[:, :, k] + fit[:, :, 3 + k])

        # community
        starts = self._counts("comm_start")
        waits = self._sums(self.community_wait)
        place_days: dict[str, np.ndarray] = {}
        for s in self.services:
            in_use = f"community_in_use_{s}"
            place_days[s] = totals[in_use] / DAY
            m[in_use] = mean(in_use)
            service = params.service(s)
            assert service is not None
            # a service in visits: its capacity is visits a day, so its occupancy is of those
            used = "visits_in_use_p1" if service.visits is not None else in_use
            m[f"community_occupancy_{s}"] = self._share_mean(used, service.capacity)
            if s != "urgent_response":
                k = int(s[1])
                m[f"community_starts_{s}"] = starts[:, :, k]
                m[f"community_wait_days_{s}"] = ratio(waits[:, :, k], starts[:, :, k])

        # P1 in visits: visits delivered (visit-days: a visit a day held for a day is a visit)
        # and the visits a day in use; zeros when P1 counts places
        visits = "visits_in_use_p1" in self.g.series
        m["visits_delivered_p1"] = totals["visits_in_use_p1"] / DAY if visits else none
        m["visits_in_use_p1"] = mean("visits_in_use_p1") if visits else none

        # costs: each service's charges at each year's prices, less those an investment line
        # pays for that year
        price = self._priced
        costs = {
            "cost_ed": price(admitted_attendances, lambda c: c.ed_attendance_admitted_gbp)
            + price(attended - admitted_attendances, lambda c: c.ed_attendance_not_admitted_gbp),
            "cost_sdec": price(n_sdec, lambda c: c.sdec_episode_gbp),
            "cost_acute_bed_days": price(bed_days - delayed_total, lambda c: c.acute_bed_day_gbp),
            "cost_delayed_bed_days": price(delayed_total, lambda c: c.delayed_bed_day_gbp),
            "cost_escalation_bed_days": price(escalation_days, lambda c: c.escalation_bed_day_gbp),
        }
        covered = np.zeros((R, n_periods))
        staff_costs = {}
        for s, used_days in place_days.items():
            days = used_days
            paid = self.costs.commissioned[Service[s.upper()]]
            if paid is not None:
                places = _capacity_by_day(paid, self.day_starts[: self.D])
                days = np.broadcast_to(self._per_period(places[None, :]), (R, n_periods))
            whole = f"community.{s}"

            def place_day(c: Costs, s: str = s) -> float:
                return float(getattr(c.community_place_day_gbp, s))

            per_day = price(days, place_day)
            place_cost, funded = self._unpaid(per_day, whole)
            covered += funded
            if s == "urgent_response":
                episodes = price(
                    self._counts("ur_start")[:, :, 0], lambda c: c.urgent_response_episode_gbp
                )
                costs["cost_urgent_response_episodes"], funded = self._unpaid(episodes, whole)
                covered += funded
            costs[f"cost_community_{s}"] = place_cost
            fte, cover, yearly = self._rota(s)
            m[f"community_staff_fte_{s}"] = np.broadcast_to(fte, (R, n_periods))
            m[f"community_staff_per_open_hour_{s}"] = np.broadcast_to(cover, (R, n_periods))
            staff = np.broadcast_to(yearly, (R, n_periods))
            for key in (whole, f"{whole}.staffing"):
                staff, funded = self._unpaid(staff, key)
                covered += funded
            staff_costs[f"cost_staff_{s}"] = staff
        costs["cost_urgent_response_episodes"] = costs.get("cost_urgent_response_episodes", 0.0)
        costs["cost_diversion"] = price(diverted, lambda c: c.diversion_gbp)
        costs.update(staff_costs)
        costs["cost_investment"] = np.broadcast_to(
            np.array([self._investment(p.label) for p in self.periods]), (R, n_periods)
        )
        m.update(costs)
        m["paid_by_investment"] = covered
        total: np.ndarray | float = 0.0
        for value in costs.values():
            total = total + value
        m["cost_total"] = np.asarray(total)

        names = catalogue.names(list(params.cohort_names), self.services)
        if set(names) != set(m):  # the catalogue is the contract: nothing more, nothing less
            raise AssertionError(
                f"metrics and catalogue differ: computed only {sorted(set(m) - set(names))}, "
                f"catalogued only {sorted(set(names) - set(m))}"
            )
        values = np.stack([np.broadcast_to(m[name], (R, n_periods)) for name in names], axis=2)
        n_metrics = len(names)
        n_rows = R * n_periods * n_metrics
        rows = np.arange(n_rows)
        return pd.DataFrame(
            {
                "replication": np.repeat(self.replications, n_periods * n_metrics),
                "metric": _labels(names, rows % n_metrics),
                "period": _labels([p.label for p in self.periods], rows // n_metrics % n_periods),
                "value": values.astype(float).ravel(),
            },
            copy=False,
        )

    def _share_hours(self, series: str, capacity: Timeline) -> np.ndarray:
        """Hours-weighted in use / places for each day [R, D] (capacity is constant by day):
        0 on a day of unlimited places; on a day of none, 24 (full), or infinite if used.

        One division over [R, D], the few days without a finite number of places put right
        after (three passes of ``np.where`` over [R, D] were a fifth of the metrics'
        cost per simulated day, 3 December 2026)."""
        by_day = self._day_integrals[series]
        places = _capacity_by_day(capacity, self.day_starts[: self.D])
        odd = ~(np.isfinite(places) & (places > 0))
        share_hours = by_day / np.where(odd, 1.0, places)[None, :]
        if odd.any():
            with np.errstate(invalid="ignore"):
                none = np.where(by_day[:, odd] > 0, np.inf, DAY)
            share_hours[:, odd] = np.where(np.isinf(places[odd])[None, :], 0.0, none)
        return share_hours

    def _priced(self, amount: np.ndarray | float, unit: Callable[[Costs], float]) -> np.ndarray:
        """``amount`` [R, periods] at each financial year's price (``unit`` of its costs,
        :meth:`CostParams.prices`); ``all`` the sum of its years. One price: a product."""
        prices = [unit(self.costs.prices(p.label)) for p in self.periods[1:]]
        if len(set(prices)) <= 1:
            return np.asarray(amount * (prices[0] if prices else unit(self.costs.costs)))
        charge = np.broadcast_to(
            np.asarray(amount, dtype=float), (len(self.replications), len(self.periods))
        )
        out = np.empty_like(charge)
        out[:, 1:] = charge[:, 1:] * np.array(prices)
        out[:, 0] = out[:, 1:].sum(axis=1)
        return out

    def _unpaid(self, charge: np.ndarray, paid_for: str) -> tuple[np.ndarray, np.ndarray]:
        """``charge`` [R, periods] split into what is counted and what investment pays for.

        In a financial year whose investment lines pay for ``paid_for``
        (``community.p1``, ``community.p1.staffing``) the charge is not counted
        again; ``all`` is the sum of its years.
        """
        paid = self.costs.paid_by_investment
        years = np.array([paid_for in paid.get(p.label, ()) for p in self.periods[1:]])
        charge = np.broadcast_to(
            np.asarray(charge, dtype=float), (len(self.replications), len(self.periods))
        )
        if not years.any():
            return charge, np.zeros_like(charge)
        funded = np.zeros_like(charge)
        funded[:, 1:] = np.where(years, charge[:, 1:], 0.0)
        funded[:, 0] = funded[:, 1:].sum(axis=1)
        return charge - funded, funded

    def _rota(self, service: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A service's staff by period [periods]: mean FTE and staff per open hour, and cost.

        The mean is weighted by the hours each rota (each dated change's) holds in
        the period; the cost is each rota's yearly cost times the share of its
        financial year it holds, so a whole year costs exactly the yearly figure,
        leap year or not (``all``: the sum of its years). No rota: zeros.
        """
        cal = self.params.calendar
        fte, cover, cost = (np.zeros(len(self.periods)) for _ in range(3))
        segments = self.costs.staff_segments(service, self.end_h)
        for i, p in enumerate(self.periods):
            year_h = 0.0
            if i:  # a financial year, 2016/17: its whole length, for a yearly cost's share
                first = int(p.label[:4])
                year_h = cal.hours_at(dt.date(first + 1, 4, 1)) - cal.hours_at(dt.date(first, 4, 1))
            for start, stop, rota in segments:
                held = max(0.0, min(p.end_h, stop) - max(p.start_h, start))
                if held > 0:
                    fte[i] += rota.fte * held / (p.end_h - p.start_h)
                    cover[i] += rota.staff_per_open_hour * held / (p.end_h - p.start_h)
                    if i:
                        cost[i] += rota.cost_per_year_gbp * held / year_h
        cost[0] = cost[1:].sum()
        return fte, cover, cost

    def _investment(self, label: str) -> float:
        """Investment dated to the period's financial year (every observed year for ``all``)."""
        labels = {p.label for p in self.periods if p.label != "all"} if label == "all" else {label}
        return float(sum(v for fy, v in self.costs.investment_by_fy.items() if fy in labels))

    def _share_mean(self, series: str, capacity: Timeline) -> np.ndarray:
        """Time-weighted mean of in use / places over each period."""
        return self._period_mean(self._share_hours(series, capacity))

    def _period_mean(self, share_hours: np.ndarray) -> np.ndarray:
        """Each period's mean of a daily share given in hours [R, D] -> [R, periods]."""
        with np.errstate(invalid="ignore"):
            return self._per_period(share_hours) / self.period_hours


def record_tables(record: Record, costs: CostParams) -> Tables:
    """The tables of one record: the accumulator fed with the whole record."""
    accumulator = MetricAccumulator(record.params, [record.replication], costs)
    accumulator.add_record(record)
    return accumulator.finish()


def replication_metrics(record: Record, costs: CostParams) -> pd.DataFrame:
    """One row per (metric, period) for one replication: replication, metric, period, value."""
    return record_tables(record, costs)[0]


def daily_series(record: Record) -> pd.DataFrame:
    """Daily time-weighted means (occupancy, queues, capacity) over the observed window.

    Long form: replication, date, series, value. ``acute_capacity`` is the bed
    capacity; ``delayed`` sums the P1-P3 patients waiting in acute beds.
    """
    return record_tables(record, CostParams.free(record.params))[1]
