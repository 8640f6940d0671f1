"""Where replications run: in this process, in local worker processes, or on a Dask cluster.

Every way of running is a :class:`concurrent.futures.Executor`, so the
experiment code has one path whatever runs the work:

* no workers (or one): a serial executor that runs each task as it is
  submitted, in this process;
* ``workers=N``: a pool of ``N`` local processes, forked from a clean server
  process that has imported the engines once (``forkserver``), so workers
  start in milliseconds and never inherit the parent's threads, such as a
  progress bar's;
* ``scheduler="tcp://host:port"`` (or a ``distributed.Client``): an existing
  Dask distributed cluster, through the client's executor interface.

Results never depend on which is used: a task is a pure function of its
arguments (replication ``r`` uses the streams of ``(seed, r)``), and
:func:`imap` hands results back tagged with their task's index so callers
assemble them in a fixed order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from ..engines import registry
from ..errors import ScenarioError

T = TypeVar("T")

WORKER_MODULES = ("sim.runs.runner", "sim.metrics.accumulator", *registry.modules())
"""Imported once by the fork server, so each local worker starts ready (a module
that does not exist yet is skipped)."""


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


def _dask_workers(scheduler: Any, connect_timeout: float) -> tuple[Workers, Callable[[], None]]:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a declared dependency
        raise ScenarioError(["--scheduler needs dask[distributed] installed"]) from None
    if isinstance(scheduler, Client):
        client, close = scheduler, (lambda: None)
    else:
        try:
            client = Client(str(scheduler), set_as_default=False, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError(
                [f"scheduler: cannot connect to a Dask scheduler at {scheduler!r} ({exc})"]
            ) from None
        close = client.close
    slots = max(sum(client.nthreads().values()), 1)
    executor = client.get_executor(pure=False)
    return Workers(
        executor, slots, f"Dask scheduler {client.scheduler_info().get('address')}"
    ), close


@contextmanager
def workers_for(
    workers: int | None = None, scheduler: Any = None, connect_timeout: float = 30.0
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
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_MODULES))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        yield Workers(executor, workers, f"{workers} local processes")


def imap(
    run_on: Workers, fn: Callable[..., T], tasks: Iterable[tuple[Any, ...]], ahead: int = 2
) -> Iterator[tuple[int, T]]:
    """Run ``fn(*task)`` for each task; yield ``(task index, result)`` as each finishes.

    At most ``ahead x slots`` tasks are in flight at once, so a long sweep does
    not queue all its work up front and an interruption loses little. Pending
    tasks are cancelled if the caller stops early or a task fails.
    """
    serial = isinstance(run_on.executor, SerialExecutor)
    limit = 1 if serial else max(1, ahead * run_on.slots)
    pending = enumerate(tasks)  # consumed lazily: a task is built only when it is submitted
    running: dict[Future[T], int] = {}
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
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                index = running.pop(future)
                yield index, future.result()
    finally:
        for future in running:
            future.cancel()
