"""Arrivals and patient attributes, drawn from named streams.

**Arrivals** form a non-homogeneous Poisson process whose rate is constant
within each hour of the run (:mod:`sim.params` builds the hourly rates). It is
sampled exactly by time transformation: the points ``E1 < E2 < ...`` of a
unit-rate Poisson process (cumulative sums of Exp(1) draws) are mapped through
the inverse of the cumulative rate ``Lambda(t)``. Hours with zero rate get no
arrivals, and an arrival never falls in one. Because the unit-rate points come
from the stream alone, a scenario with 2% more demand sees the same points
mapped slightly earlier: strong common random numbers between scenarios.

**Attributes** that do not depend on congestion (ED time to decision, outcome,
treatment length of stay, pathway, episode lengths, readmission) are drawn for
each patient on arrival, in blocks, each from its own stream
``"{origin}/{cohort}/{attribute}"``. Uniforms are kept rather than outcomes, so
a scenario that changes a probability keeps the same patients and changes only
whom the threshold picks.

Both engines use this module, so for the same seed they see the same patients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from enum import IntEnum
from fnmatch import fnmatchcase
from typing import NamedTuple, cast

import numpy as np

from ..codes import HOURS_PER_WEEK, Origin
from ..jit import jit
from ..rng.distributions import Distribution
from ..rng.streams import Streams
from ..scenario.params import CohortParams, ModelParams, VisitParams

BLOCK = 1024
"""Attributes drawn per block in the SimPy engine (and for the starting state, whose
residual draws depend on it). Other attribute draws do not depend on it (see
:func:`draw_attributes`)."""

ARRIVAL_BLOCK_MAX = 65536
"""Most unit-rate points drawn in one block of arrivals (half a megabyte)."""


def arrival_block(expected: float) -> int:
    """Unit-rate points to draw when ``expected`` more are expected before the run ends:
    enough to finish in one block but for about one stream in 30,000 (four standard
    deviations of the Poisson count, and a few more), at most :data:`ARRIVAL_BLOCK_MAX`.

    Arrival times depend on the blocks in the last bits of floating point, so on the
    stream's rates (both engines draw the same blocks). A block's cost is mostly numpy's
    per-call overhead, which holds the GIL, when it is small, and the draws it does not
    use when it is large: blocks of 1,024 doubling to 16,384 drew three points for every
    arrival of a quiet stream (about 1,000 arrivals), and a third of their draws cost as
    much as the small tandem's event loop.
    """
    return int(min(ARRIVAL_BLOCK_MAX, math.ceil(expected + 4.0 * math.sqrt(expected)) + 32))


def cumulative_rate(rate_h: np.ndarray) -> np.ndarray:
    """Lambda at each whole hour: ``out[k]`` = expected arrivals in [0, k)."""
    out = np.empty(len(rate_h) + 1)
    out[0] = 0.0
    np.cumsum(rate_h, out=out[1:])
    return out


def search_guide(cum: np.ndarray) -> np.ndarray:
    """Where the inversion's search for a point starts (a guide table): ``guide[b]`` is the
    last hour ``h`` with ``cum[h] <= b x cum[-1] / hours``, one entry an hour. A point's
    entry is at most a few hours before its own hour, wherever the last point was."""
    hours = len(cum) - 1
    if hours < 1 or not cum[-1] > 0:
        return np.zeros(1, dtype=np.int64)
    marks = np.arange(hours) * (float(cum[-1]) / hours)
    return (np.searchsorted(cum, marks, side="right") - 1).astype(np.int64)


def invert_cumulative(
    points: np.ndarray, cum: np.ndarray, rate_h: np.ndarray, guide: np.ndarray | None = None
) -> np.ndarray:
    """Times t with Lambda(t) = points (points sorted, in [0, cum[-1])); ``guide`` is
    :func:`search_guide` of ``cum`` (any guide gives the same times, only faster or not)."""
    out = np.empty(len(points))
    _invert_sorted(points, cum, rate_h, out, search_guide(cum) if guide is None else guide)
    return out


@jit
def _invert_sorted(
    points: np.ndarray, cum: np.ndarray, rate_h: np.ndarray, out: np.ndarray, guide: np.ndarray
) -> None:
    """``out[i] = h + (points[i] - cum[h]) / rate_h[h]`` for the hour ``h`` holding each point:
    the last with ``cum[h] <= point`` (so never an hour with no rate). The points are sorted,
    so each search starts from the last point's hour, or from the point's entry in ``guide``
    if that is later and still at or below it, and gallops forward (steps 1, 2, 4, ..., then
    bisection): a point a few hours on costs a few steps. From the last point's hour alone, a
    point a month on (a small system's arrivals) cost about 20, a third of its drawing; a
    walk over the hours made the cost of drawing follow the simulated hours rather than the
    patients. The hour found is the same from any start at or below it."""
    last = len(rate_h) - 1
    n = len(cum)
    per_entry = len(guide) / cum[-1] if cum[-1] > 0 else 0.0
    h = 0  # cum[0] = 0 <= every point
    for i in range(len(points)):
        p = points[i]
        if h + 1 < n and cum[h + 1] <= p:  # past the last point's hour: is the guide's later?
            entry = p * per_entry
            if 0.0 <= entry < len(guide):  # a point inside the run (not NaN, inf or past it)
                g = guide[int(entry)]
                if g > h and cum[g] <= p:
                    h = g
        lo, step = h, 1  # cum[lo] <= p
        while lo + step < n and cum[lo + step] <= p:
            lo += step
            step <<= 1
        hi = min(lo + step, n) - 1  # the hour is in [lo, hi]
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if cum[mid] <= p:
                lo = mid
            else:
                hi = mid - 1
        h = lo
        hour = min(h, last)
        out[i] = hour + (p - cum[hour]) / rate_h[hour]


@jit
def _block_times(
    gaps: np.ndarray,
    last: float,
    cum: np.ndarray,
    rate_h: np.ndarray,
    out: np.ndarray,
    guide: np.ndarray,
) -> tuple[int, float]:
    """One block of arrivals: the unit-rate points ``last + cumsum(gaps)`` below the
    total rate, mapped to times in ``out`` (as :func:`invert_cumulative` maps them); the
    number written and the last point of the block (``inf`` once past the total)."""
    total = cum[-1]
    acc = 0.0
    n = 0
    for i in range(len(gaps)):
        acc += gaps[i]  # the running sum, added in the order np.cumsum adds
        if not last + acc < total:
            break
        out[n] = last + acc
        n += 1
    end = last + acc if n == len(gaps) else np.inf
    if n:
        _invert_sorted(out[:n], cum, rate_h, out[:n], guide)  # in place: read, then set
    return n, end


def arrival_times(
    rate_h: np.ndarray,
    rng: np.random.Generator,
    cum: np.ndarray | None = None,
    guide: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Arrival times (hours) of an NHPP with hourly rates, in sorted blocks.

    The whole run's arrivals, lazily: memory holds one block at a time.
    ``cum`` is ``cumulative_rate(rate_h)`` and ``guide`` its :func:`search_guide` if
    the caller already has them: a caller running many replications shares them
    (each is as long as the run). Each block's points are ``last + cumsum(Exp(1)
    draws)``, mapped through the inverse cumulative rate in one compiled pass.
    """
    if cum is None:
        cum = cumulative_rate(rate_h)
    if guide is None:
        guide = search_guide(cum)
    total = float(cum[-1])
    if total <= 0:
        return
    last = 0.0
    while True:
        block = arrival_block(total - last)
        out = np.empty(block)
        n, last = _block_times(rng.standard_exponential(block), last, cum, rate_h, out, guide)
        if n:
            yield out[:n]
        if not last < total:
            return


SAME_PATIENTS = (
    "name",
    "description",
    "ed.cubicles",
    "sdec.chairs",
    "acute.beds",
    "acute.escalation.*",
    "acute.opel.*",
    "community.*.places",
    "costs.*",
)
"""Scenario keys the drawing never reads (patterns of dotted paths): names, capacities and
prices. Scenarios that differ only in these draw the same patients, so an engine may draw
them once for all (a sweep of places or beds). tests/test_same_patients.py holds each to
it."""


def same_patients(paths: Iterable[str]) -> bool:
    """Whether scenarios that differ only at ``paths`` (dotted keys) draw the same patients."""
    return all(any(fnmatchcase(p, pattern) for pattern in SAME_PATIENTS) for p in paths)


class Attr(IntEnum):
    """Each attribute a patient draws on arrival: its row in a table of draws, in one order
    for every engine (hours for durations, uniforms in [0, 1); ``PATHWAY`` whole numbers)."""

    U_AVOID = 0
    UR_EPISODE_H = 1
    ED_DECISION_H = 2
    U_OUTCOME = 3
    SDEC_EPISODE_H = 4
    U_SDEC_ADMIT = 5
    LOS_H = 6
    PATHWAY = 7
    COMMUNITY_EPISODE_H = 8
    U_READMIT = 9
    READMIT_DELAY_H = 10
    ED_DECISION_ADMIT_H = 11
    ED_DECISION_SDEC_H = 12
    LOS_P1_H = 13
    LOS_P2_H = 14
    LOS_P3_H = 15
    ASSESSMENT_H = 16
    """Working hours of the discharge assessment (``[discharge.assessment]``)."""
    BROKERAGE_H = 17
    """Working hours of brokerage (``[discharge.brokerage]``)."""
    U_READMIT_30D = 18
    """Whether a discharge is followed by a 30-day emergency readmission."""
    READMIT_30D_DELAY_H = 19
    """Time from leaving the bed to that readmission."""
    VISITS_P1 = 20
    """Visits a day a P1 patient needs at the start (``[community.p1.visits]``; a whole
    number)."""
    LOS_AVOIDABLE_H = 21
    """Treatment stay of an avoidable-type patient (``cohorts.X.avoidable``, case mix); whether
    a patient is one is read from ``U_AVOID``, below the sub-cohort's share."""


ATTRIBUTES = tuple(a.name.lower() for a in Attr)
"""The attributes every patient draws on arrival, in one order for every engine."""


class Versions(NamedTuple):
    """Where each duration of each phase is in a table of draws.

    A duration whose distribution changes at a dated change is drawn once for
    each distribution it has in the run (a version), each from its own copy of
    the attribute's stream (:meth:`Streams.twin`): the same patient's stay under
    the old and the new distribution come from the same underlying numbers.
    Version 0 is in the attribute's own row; the others in rows after
    ``len(Attr)``. A patient's episode reads the version of the phase it starts
    in: ``row[attribute, phase]``.
    """

    row: np.ndarray
    """[len(Attr), n_phases]: the table row of each attribute in each phase (for ``PATHWAY``
    the phase the patient arrived in; ``COMMUNITY_EPISODE_H`` is read from ``episode``)."""
    n_rows: int
    """Rows of the table of draws."""
    phase_of: tuple[tuple[int, ...], ...]
    """For each attribute, the first phase of each of its versions (version 0 first)."""
    episode: np.ndarray
    """[arrival phase, phase the episode starts in]: the row of the community episode, drawn
    for the patients on each pathway as the arrival phase's pathway mix deals them, from the
    distributions of the phase the episode starts in."""
    episode_of: tuple[tuple[int, int], ...]
    """Each community-episode version's (arrival phase, start phase), version 0 first."""


def _duration_key(params: ModelParams, attr: Attr) -> object:
    """What a duration's draws depend on in one phase's parameters (None: not a duration)."""
    if attr == Attr.UR_EPISODE_H:
        urgent = params.services[0]
        return None if urgent is None else urgent.episode_h
    if attr == Attr.ED_DECISION_H:
        return params.ed_decision_h
    if attr == Attr.ED_DECISION_ADMIT_H:
        return params.ed_decision_outcome_h[0]
    if attr == Attr.ED_DECISION_SDEC_H:
        return params.ed_decision_outcome_h[1]
    if attr == Attr.SDEC_EPISODE_H:
        return params.sdec_episode_h
    if attr == Attr.LOS_H:
        return tuple(c.los_h for c in params.cohorts)
    if attr == Attr.COMMUNITY_EPISODE_H:
        return tuple(None if s is None else s.episode_h for s in params.services[1:])
    if attr == Attr.READMIT_DELAY_H:
        return params.readmit_delay_h
    if attr in (Attr.LOS_P1_H, Attr.LOS_P2_H, Attr.LOS_P3_H):
        return tuple(c.los_by_pathway_h[attr - Attr.LOS_P1_H] for c in params.cohorts)
    if attr == Attr.READMIT_30D_DELAY_H:
        return params.readmit_30d_delay_h
    if attr == Attr.LOS_AVOIDABLE_H:
        return tuple(c.los_avoidable_h for c in params.cohorts)
    if attr in (Attr.ASSESSMENT_H, Attr.BROKERAGE_H):
        stage = params.stages[0 if attr == Attr.ASSESSMENT_H else 1]
        return None if stage is None else stage.duration_h
    if attr == Attr.PATHWAY:  # not a duration, but dealt by each phase's mix
        return tuple(tuple(c.pathway_cdf.tolist()) for c in params.cohorts)
    return None


def versions(params: ModelParams) -> Versions:
    """The versions of every duration (and of the pathway) over the run's phases: one each
    without dated changes."""
    n = params.n_phases
    row = np.repeat(np.arange(len(Attr), dtype=np.int64)[:, None], n, axis=1)
    n_rows = len(Attr)
    phase_of: list[tuple[int, ...]] = []
    for attr in Attr:
        keys: list[object] = []
        firsts: list[int] = []
        rows: list[int] = []
        for p in range(n):
            key = None if attr == Attr.COMMUNITY_EPISODE_H else _duration_key(params.phase(p), attr)
            if key not in keys:
                keys.append(key)
                firsts.append(p)
                rows.append(int(attr) if not rows else n_rows)
                n_rows += len(rows) > 1
            row[attr, p] = rows[keys.index(key)]
        phase_of.append(tuple(firsts))
    # the community episode: dealt to pathways by the arrival phase's mix, drawn from the
    # distributions of the phase the episode starts in
    episode = np.zeros((n, n), dtype=np.int64)
    pairs: list[tuple[int, object]] = []
    episode_of: list[tuple[int, int]] = []
    episode_rows: list[int] = []
    for arrived in range(n):
        for starts in range(n):
            key = (
                int(row[Attr.PATHWAY, arrived]),
                _duration_key(params.phase(starts), Attr.COMMUNITY_EPISODE_H),
            )
            if key not in pairs:
                pairs.append(key)
                episode_of.append((arrived, starts))
                episode_rows.append(int(Attr.COMMUNITY_EPISODE_H) if not episode_rows else n_rows)
                n_rows += len(episode_rows) > 1
            episode[arrived, starts] = episode_rows[pairs.index(key)]
    return Versions(row, n_rows, tuple(phase_of), episode, tuple(episode_of))


def draw_attributes(
    params: ModelParams,
    cohort: CohortParams,
    origin: str,
    streams: Streams,
    n: int = BLOCK,
    out: np.ndarray | None = None,
    rows: Versions | None = None,
) -> np.ndarray:
    """Draw ``n`` patients' attributes from the ``{origin}/{cohort}/...`` streams.

    Draws are sequence-consistent: two calls of ``n1`` and ``n2`` give the same
    patients as one call of ``n1 + n2``, so engines may draw in any block size.
    An attribute a patient of this origin and cohort can never use (in any
    phase of the run) is not drawn (its stream is left untouched and the value
    is a neutral constant); as every attribute has its own stream, this never
    shifts another. A community episode is drawn only for the patients on that
    pathway, in order, from the pathway's stream.

    For the starting state (``origin == "initial"``) durations already under
    way are residual: the time left of a stay seen at a random moment (those
    draws do depend on the block size).

    The table ([``rows.n_rows``, n], attribute by attribute: :class:`Attr`, then
    the later versions of durations, :func:`versions`) is returned; ``out``
    receives it, so a caller may put many groups' in one table.
    """
    prefix = f"{origin}/{cohort.name}/"
    rows = versions(params) if rows is None else rows

    def rng(name: str, version: int = 0) -> np.random.Generator:
        return streams.twin(prefix + name, version) if version else streams(prefix + name)

    table = np.empty((rows.n_rows, n)) if out is None else out
    residual = origin == Origin.INITIAL.key
    via_ed = origin in (Origin.ED.key, Origin.READMISSION.key)
    phases = [params.phase(p) for p in range(params.n_phases)]
    mine = [p.cohorts[cohort.index] for p in phases]
    urgent = params.services[0]
    avoidable = origin == Origin.ED.key and urgent is not None
    avoidable = avoidable and any(c.avoidable_by_fy.any() for c in mine)
    # an avoidable sub-cohort (case mix): a new attendance's type is its avoidance uniform below
    # the sub-cohort's share, so the uniform is drawn whatever the plan's share (a do-nothing
    # comparator sees the same avoidable-type patients as the plan)
    sub_cohort = origin == Origin.ED.key and cohort.avoidable_type_share >= 0
    avoidable = avoidable or sub_cohort
    sdec = via_ed and any(c.p_sdec > 0 for c in mine)
    readmit = any(c.p_readmit.any() for c in mine)

    def uniform(attr: Attr, name: str, drawn: bool | np.bool_) -> None:
        if drawn:
            rng(name).random(n, out=table[attr])
        else:
            table[attr] = 1.0  # never below a probability: the draw is never used

    def duration(attr: Attr, name: str, drawn: bool) -> None:
        for version, p in enumerate(rows.phase_of[attr]):
            at = rows.row[attr, p]
            dist = _duration_key(phases[p], attr)
            if not drawn or dist is None:
                table[at] = 0.0
            elif attr == Attr.LOS_H:
                los = phases[p].cohorts[cohort.index].los_h
                draw = los.sample_residual if residual else los.sample
                table[at] = draw(rng(name, version), n)
            elif attr == Attr.LOS_AVOIDABLE_H:  # drawn only for new attendances: not residual
                own = cast(Distribution, phases[p].cohorts[cohort.index].los_avoidable_h)
                table[at] = own.sample(rng(name, version), n)
            else:
                table[at] = cast(Distribution, dist).sample(rng(name, version), n)

    uniform(Attr.U_AVOID, "avoid", avoidable)
    duration(Attr.UR_EPISODE_H, "episode_urgent_response", avoidable)
    duration(Attr.ED_DECISION_H, "ed_decision", via_ed)
    uniform(Attr.U_OUTCOME, "ed_outcome", via_ed)
    duration(Attr.SDEC_EPISODE_H, "sdec_episode", sdec)
    uniform(Attr.U_SDEC_ADMIT, "sdec_admit", sdec)
    duration(Attr.LOS_H, "los", True)
    uniforms = rng("pathway").random(n)
    counts = np.zeros((params.n_phases, 4), dtype=np.int64)
    for p in rows.phase_of[Attr.PATHWAY]:  # each phase's mix deals the same uniforms
        at = rows.row[Attr.PATHWAY, p]
        table[at] = uniforms
        cdf = np.asarray(phases[p].cohorts[cohort.index].pathway_cdf, dtype=float)
        _pathways(table[at], cdf, counts[p])
    for version, (arrived, starts) in enumerate(rows.episode_of):
        at = rows.episode[arrived, starts]
        dealt = rows.row[Attr.PATHWAY, arrived]  # the pathways of the arrival phase's mix
        mix = next(q for q in rows.phase_of[Attr.PATHWAY] if rows.row[Attr.PATHWAY, q] == dealt)
        table[at] = 0.0
        for k in (1, 2, 3):
            service = phases[starts].services[k]
            if service is not None and counts[mix, k]:
                episode = service.episode_h
                draw = episode.sample_residual if residual else episode.sample
                episodes = np.asarray(
                    draw(rng(f"episode_p{k}", version), int(counts[mix, k])), dtype=float
                )
                _scatter(table[at], table[dealt], k, episodes)
    uniform(Attr.U_READMIT, "readmit", readmit)
    duration(Attr.READMIT_DELAY_H, "readmit_delay", readmit)
    # a decision's time by its outcome: drawn only when some phase gives an outcome its own
    by_outcome = via_ed and params.ed_decision_by_outcome
    duration(Attr.ED_DECISION_ADMIT_H, "ed_decision_admit", by_outcome)
    duration(Attr.ED_DECISION_SDEC_H, "ed_decision_sdec", by_outcome and sdec)
    # a treatment stay by pathway (case mix): drawn for every patient of a cohort that gives
    # the pathway its own, whatever pathway they are dealt; -1 where it gives none
    for k, attr in enumerate((Attr.LOS_P1_H, Attr.LOS_P2_H, Attr.LOS_P3_H)):
        for version, p in enumerate(rows.phase_of[attr]):
            own = phases[p].cohorts[cohort.index].los_by_pathway_h[k]
            if own is None:
                table[rows.row[attr, p]] = -1.0
            else:
                draw = own.sample_residual if residual else own.sample
                table[rows.row[attr, p]] = draw(rng(f"los_p{k + 1}", version), n)
    # a discharge stage's duration, for every patient (as the length of stay), from its own
    # stream: drawn only when the stage is configured (else 0, never used)
    duration(Attr.ASSESSMENT_H, "discharge_assessment", True)
    duration(Attr.BROKERAGE_H, "discharge_brokerage", True)
    readmit_30d = any(c.p_readmit_30d.any() for c in mine)
    uniform(Attr.U_READMIT_30D, "readmit_30d", readmit_30d)
    duration(Attr.READMIT_30D_DELAY_H, "readmit_30d_delay", readmit_30d)
    # the visits a day a P1 patient needs at first, for every patient (as the length of
    # stay), from its own stream: drawn only when P1 counts visits (else 0, never used)
    visits = params.p1_visits
    if visits is None:
        table[Attr.VISITS_P1] = 0.0
    else:
        table[Attr.VISITS_P1] = initial_visits(visits, rng("p1_visits"), n)
    duration(Attr.LOS_AVOIDABLE_H, "los_avoidable", sub_cohort)
    return table


def initial_visits(visits: VisitParams, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` patients' initial visits a day: the distribution's draws rounded to whole
    visits (half to even) and held within ``final_per_day``..``max_per_day``."""
    drawn = np.asarray(visits.initial_per_day.sample(rng, n), dtype=float)
    return np.clip(np.rint(drawn), visits.final_per_day, visits.max_per_day)


@jit
def _pathways(u: np.ndarray, cdf: np.ndarray, counts: np.ndarray) -> None:
    """Each uniform in ``u`` replaced by its pathway (0-3: how many of the cumulative shares
    it reaches), and the patients on each pathway counted."""
    for i in range(len(u)):
        pathway = (u[i] >= cdf[0]) + (u[i] >= cdf[1]) + (u[i] >= cdf[2])
        u[i] = pathway
        counts[pathway] += 1


@jit
def _scatter(out: np.ndarray, pathway: np.ndarray, k: int, values: np.ndarray) -> None:
    """``values`` in order into ``out`` where ``pathway == k``."""
    j = 0
    for i in range(len(out)):
        if pathway[i] == k:
            out[i] = values[j]
            j += 1


class AttributeSource:
    """Hands out one patient's attributes at a time, drawing a block when needed."""

    def __init__(
        self, params: ModelParams, cohort: CohortParams, origin: str, streams: Streams
    ) -> None:
        self._args = (params, cohort, origin, streams)
        self._rows = versions(params)
        self._block: list[list[float]] = []
        self._next = 0

    def next(self) -> list[float]:
        """The next patient's attributes: their column of the table of draws."""
        if self._next >= len(self._block):
            block = draw_attributes(*self._args, rows=self._rows)
            self._block = block.T.tolist()
            self._next = 0
        row = self._block[self._next]
        self._next += 1
        return row


InitialGroup = tuple[str, int, np.ndarray, np.ndarray | None]


def initial_cohorts(params: ModelParams, streams: Streams) -> list[InitialGroup]:
    """The starting state's patients, in the order both engines create them.

    Groups ``(kind, k, cohort indices, hours)``: ``("treating", -1, ...)``,
    ``("delayed", k, ...)`` for P1-P3 with the length of the community episode
    each will start (stream ``initial/delayed_p<k>``), then ``("community", k,
    ...)`` for each configured service (k = 0 urgent response, 1-3 P1-P3) with
    the time left of the episode under way. A patient's
    cohort is drawn in proportion to its share of bed days (and of pathway k
    where that applies) from the stream ``initial/cohort``; the time left of
    community episodes already under way is residual, from
    ``initial/<service>``. Every replication has the same groups.
    """
    rng = streams("initial/cohort")
    weights = np.array(
        [
            (
                c.ed_rate_h[:HOURS_PER_WEEK].sum() * (c.p_admit + c.p_sdec * params.sdec_p_admit)
                + c.direct_rate_h[:HOURS_PER_WEEK].sum()
            )
            * c.los_mean_h
            for c in params.cohorts
        ]
    )
    if weights.sum() <= 0:
        weights = np.ones(len(params.cohorts))

    def draw(count: int, pathway: int | None) -> np.ndarray:
        if count == 0:  # as rng.choice would give, without its checks: nothing is drawn
            return np.zeros(0, dtype=np.int64)
        w = weights.copy()
        if pathway is not None:
            shares = np.array([np.diff(c.pathway_cdf, prepend=0)[pathway] for c in params.cohorts])
            w = w * shares if (w * shares).sum() > 0 else w
        return np.asarray(rng.choice(len(w), p=w / w.sum(), size=count), dtype=np.int64)

    groups: list[InitialGroup] = [("treating", -1, draw(params.initial_treating, None), None)]
    for k, count in zip((1, 2, 3), params.initial_delayed, strict=True):
        spec = params.services[k]
        # their community episode is yet to start: a whole episode of service k
        episodes = (
            spec.episode_h.sample(streams(f"initial/delayed_p{k}"), count)
            if spec is not None and count
            else np.zeros(count)
        )
        groups.append(("delayed", k, draw(count, k), np.asarray(episodes, dtype=float)))
    for k, count in enumerate(params.initial_community):
        spec = params.services[k]
        if spec is None:
            continue
        remaining = spec.episode_h.sample_residual(streams(f"initial/{spec.name}"), count)
        groups.append(("community", k, draw(count, k if k else None), np.asarray(remaining)))
    return groups
