"""Where replications run: in this process, in local worker processes, or on a Dask cluster.

Every way of running is a :class:`concurrent.futures.Executor`, so the
experiment code has one path whatever runs the work:

* no workers (or one): a serial executor that runs each task as it is
  submitted, in this process;
* ``workers=N``: ``N`` local processes from loky (joblib's process pool).
  Each worker is a fresh interpreter (fork and exec on Linux and macOS, spawn
  on Windows) that never runs the caller's ``__main__``, so ``workers=`` works
  from a script without an ``if __name__ == "__main__":`` guard, from
  ``python - < script.py``, from ``python -c``, from a notebook, and whatever
  start method the caller set for :mod:`multiprocessing`. The pool is kept for
  a few seconds after use, so a capacity search or a loop of runs does not
  start new workers for every call;
* ``scheduler="tcp://host:port"`` (or a ``distributed.Client``): an existing
  Dask distributed cluster, through the client's executor interface. The
  address is checked, and the scheduler reached, within a few seconds; the
  workers must run this leftshift version; a cluster with no workers is
  waited for (said once, as a warning) for :data:`NO_WORKERS_TIMEOUT_S`, then
  given up with a :class:`~sim.errors.ClusterError`.

Results never depend on which is used: a task is a pure function of its
arguments (replication ``r`` uses the streams of ``(seed, r)``), and
:func:`imap` hands results back tagged with their task's index so callers
assemble them in a fixed order.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .._version import __version__
from ..errors import ClusterError, ScenarioError

T = TypeVar("T")

log = logging.getLogger(__name__)

IDLE_WORKER_S = 300
"""Seconds an idle local worker waits for more work before it exits (loky's default: with a
short one, 10 s, a worker on a loaded machine can time out as a task is handed to it, and loky
then breaks the pool, "A worker stopped while some jobs were given to the executor")."""

CONNECT_TIMEOUT_S = 5.0
"""How long to try to reach a Dask scheduler before saying it cannot be reached."""

NO_WORKERS_TIMEOUT_S = 120.0
"""How long a Dask cluster may have no workers, with tasks waiting, before the run gives up
(``LEFTSHIFT_DASK_WAIT_S`` overrides)."""

POLL_S = 1.0
"""How often a run waiting on a Dask cluster looks at whether it still has workers."""


class SerialExecutor(Executor):
    """Runs each task at once, in this process, when it is submitted."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class Workers:
    """Where tasks run: an executor and how many tasks it can usefully run at once."""

    executor: Executor
    slots: int
    where: str
    """A readable description: 'this process', '2 local processes', 'tcp://...'."""
    n_workers: Callable[[], int] | None = None
    """How many workers a cluster has now (``None``: local, always there)."""


def no_workers_timeout() -> float:
    """Seconds to wait for a Dask cluster with no workers (:data:`NO_WORKERS_TIMEOUT_S`)."""
    raw = os.environ.get("LEFTSHIFT_DASK_WAIT_S", "")
    try:
        return float(raw) if raw else NO_WORKERS_TIMEOUT_S
    except ValueError:
        raise ScenarioError(
            [f"LEFTSHIFT_DASK_WAIT_S must be a number of seconds, got {raw!r}"]
        ) from None


def worker_version() -> str:
    """The leftshift version a worker runs (sent to each Dask worker on connect)."""
    return __version__


def scheduler_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> str:
    """``address`` checked as ``tcp://host:port`` (or ``tls://``) and reachable; else a
    :class:`~sim.errors.ScenarioError` within ``timeout`` seconds.

    Checked with a plain socket before any Dask client exists: a client that fails to
    connect hangs for a minute on closing and prints a traceback at exit.
    """
    if address.startswith("inproc://"):  # a cluster in this process (tests, notebooks)
        return address
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise ScenarioError([f"scheduler must be an address like tcp://host:8786, got {address!r}"])
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ScenarioError(
            [f"scheduler: cannot reach a Dask scheduler at {address!r} ({reason})"]
        ) from None
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _check_versions(client: Any, address: str) -> None:
    try:
        versions = client.run(worker_version)
    except Exception as exc:  # a worker that cannot unpickle it has no leftshift
        raise ClusterError(
            f"Dask workers at {address} cannot run leftshift ({type(exc).__name__}: {exc}); "
            f"install leftshift {__version__} on every worker"
        ) from None
    wrong = {w: v for w, v in versions.items() if v != __version__}
    if wrong:
        shown = ", ".join(f"{w} has {v}" for w, v in sorted(wrong.items()))
        raise ClusterError(
            f"Dask workers at {address} run another leftshift version ({shown}); "
            f"this is {__version__}: install the same version on every worker"
        )


def _dask_workers(scheduler: Any, connect_timeout: float) -> tuple[Workers, Callable[[], None]]:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a declared dependency
        raise ScenarioError(["--scheduler needs dask[distributed] installed"]) from None
    if isinstance(scheduler, Client):
        client, close = scheduler, (lambda: None)
    else:
        address = scheduler_address(str(scheduler), connect_timeout)
        try:
            client = Client(address, set_as_default=False, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError(
                [f"scheduler: cannot connect to a Dask scheduler at {scheduler!r} ({exc})"]
            ) from None
        close = client.close
    address = str(client.scheduler_info().get("address"))
    try:
        _check_versions(client, address)
    except ClusterError:
        close()
        raise
    slots = max(sum(client.nthreads().values()), 1)
    executor = client.get_executor(pure=False)
    return Workers(
        executor, slots, f"Dask scheduler {address}", n_workers=lambda: len(client.nthreads())
    ), close


def _local_workers(workers: int) -> Executor:
    from loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers, timeout=IDLE_WORKER_S)


@contextmanager
def workers_for(
    workers: int | None = None, scheduler: Any = None, connect_timeout: float = CONNECT_TIMEOUT_S
) -> Iterator[Workers]:
    """An executor for ``workers`` local processes, or a Dask ``scheduler``, or this process.

    ``connect_timeout`` is how long to try to reach a scheduler, in seconds.
    """
    if workers is not None and workers < 1:
        raise ScenarioError([f"workers must be >= 1, got {workers}"])
    if scheduler is not None:
        if workers is not None:
            raise ScenarioError(["give workers or a scheduler, not both"])
        dask_workers, close = _dask_workers(scheduler, connect_timeout)
        try:
            yield dask_workers
        finally:
            close()
        return
    if workers is None or workers == 1:
        yield Workers(SerialExecutor(), 1, "this process")
        return
    executor = _local_workers(workers)
    try:
        yield Workers(executor, workers, f"{workers} local processes")
    except BaseException:
        # stopped or failed: end the workers rather than leave them running cancelled work
        executor.shutdown(wait=False, kill_workers=True)  # type: ignore[call-arg]
        raise


class _Waiting:
    """How long a cluster has had no workers while tasks wait; says so once, then gives up."""

    def __init__(self, run_on: Workers) -> None:
        self.run_on = run_on
        self.since: float | None = None

    def check(self) -> None:
        if self.run_on.n_workers is None or self.run_on.n_workers() > 0:
            self.since = None
            return
        now = time.monotonic()
        limit = no_workers_timeout()
        if self.since is None:
            self.since = now
            log.warning(
                "waiting for Dask workers: none are connected to %s (giving up after %.0f s)",
                self.run_on.where.removeprefix("Dask scheduler "),
                limit,
            )
        elif now - self.since >= limit:
            raise ClusterError(
                f"{self.run_on.where} has had no workers for {limit:.0f} s with work waiting; "
                "start workers (dask worker ADDRESS) and run again"
            )


def imap(
    run_on: Workers, fn: Callable[..., T], tasks: Iterable[tuple[Any, ...]], ahead: int = 2
) -> Iterator[tuple[int, T]]:
    """Run ``fn(*task)`` for each task; yield ``(task index, result)`` as each finishes.

    At most ``ahead x slots`` tasks are in flight at once, so a long sweep does
    not queue all its work up front and an interruption loses little. Pending
    tasks are cancelled if the caller stops early or a task fails. On a Dask
    cluster that has (or is left with) no workers, a warning says the run is
    waiting, and a :class:`~sim.errors.ClusterError` ends it after
    :func:`no_workers_timeout` seconds.
    """
    serial = isinstance(run_on.executor, SerialExecutor)
    limit = 1 if serial else max(1, ahead * run_on.slots)
    pending = enumerate(tasks)  # consumed lazily: a task is built only when it is submitted
    running: dict[Future[T], int] = {}
    waiting = _Waiting(run_on)
    poll = None if run_on.n_workers is None else POLL_S
    try:
        while True:
            while len(running) < limit:
                nxt = next(pending, None)
                if nxt is None:
                    break
                index, task = nxt
                running[run_on.executor.submit(fn, *task)] = index
            if not running:
                return
            done, _ = wait(running, timeout=poll, return_when=FIRST_COMPLETED)
            if not done:
                waiting.check()
                continue
            for future in sorted(done, key=running.__getitem__):
                index = running.pop(future)
                yield index, future.result()
    finally:
        for future in running:
            future.cancel()
