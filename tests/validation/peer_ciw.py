"""The acute -> community tandem with blocking after service, simulated by Ciw.

An independent implementation of the same system as
:func:`scenarios.acute_then_community`: node 1 is the bed pool (``beds``
servers, an unlimited first-come-first-served queue), node 2 the community
service (``places`` servers and no waiting room: ``queue_capacities = 0``).
A patient who finishes treatment while node 2 is full is blocked at node 1,
keeping the bed (Ciw's Type I blocking); blocked patients move on in the
order they were blocked, as delayed discharges do in leftshift. Times are in
days. Ciw has one global seed, set per replication.
"""

from __future__ import annotations

import ciw
import numpy as np


def tandem(
    *,
    beds: int,
    places: int,
    per_day: float,
    los_days: float,
    episode_days: float,
    days: float,
    warm_up_days: float,
    seed: int,
) -> dict[str, float]:
    """One replication: the measures over the window ``[warm_up_days, warm_up_days + days)``.

    ``throughput`` community starts a day, ``wait_days`` mean wait for a bed,
    ``delayed_days`` mean time blocked (medically fit to community start),
    ``delayed`` mean number blocked, ``beds_occupied`` mean beds in use.
    """
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=per_day), None],
        service_distributions=[
            ciw.dists.Exponential(rate=1 / los_days),
            ciw.dists.Exponential(rate=1 / episode_days),
        ],
        routing=[[0.0, 1.0], [0.0, 0.0]],
        number_of_servers=[beds, places],
        queue_capacities=[float("inf"), 0],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    w0, w1 = warm_up_days, warm_up_days + days
    sim.simulate_until_max_time(w1)
    rows = [r for r in sim.get_all_records() if r.node == 1 and r.record_type == "service"]
    arrival = np.array([r.arrival_date for r in rows])
    start = np.array([r.service_start_date for r in rows])
    fit = np.array([r.service_end_date for r in rows])
    leave = np.array([r.exit_date for r in rows])
    # patients still in a bed at the end have no record yet: count their time so far
    for individual in sim.nodes[1].all_individuals:
        if individual.service_start_date is False:  # Ciw's "not started yet"
            continue
        start = np.append(start, individual.service_start_date)
        fit = np.append(fit, individual.service_end_date)  # planned while still in treatment
        leave = np.append(leave, w1)
        arrival = np.append(arrival, individual.arrival_date)

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        return float((np.clip(b, w0, w1) - np.clip(a, w0, w1)).clip(min=0).sum())

    done = np.arange(len(rows))
    fit_in = done[(fit[done] >= w0) & (fit[done] < w1)]
    came_in = done[(arrival[done] >= w0) & (arrival[done] < w1)]
    return {
        "throughput": float(((leave[done] >= w0) & (leave[done] < w1)).sum() / days),
        "wait_days": float((start[came_in] - arrival[came_in]).mean()),
        "delayed_days": float((leave[fit_in] - fit[fit_in]).mean()),
        "delayed": overlap(np.minimum(fit, w1), leave) / days,
        "beds_occupied": overlap(start, leave) / days,
    }
