"""Where sweep chunks run: in this process, in a local process pool, or on a Dask cluster.

Every executor runs ``fn(shared, item)`` for each item and yields ``(index, result)`` as
results arrive (in any order), so the driver can write each chunk's results as soon as it is
done. ``fn`` must be a module-level function (it is pickled by reference).

``shared`` (the price matrices: the only large input) travels **once per worker**, never with
each task:

* ``LocalExecutor``: a ``ProcessPoolExecutor`` whose initializer receives ``shared`` and keeps
  it in a module global of the worker process; tasks carry only their item. With
  ``workers=1`` the chunks run in this process (no pickling at all).
* ``DaskExecutor``: ``shared`` is scattered to every worker once (``broadcast=True``) and each
  task receives the future, which Dask resolves to the worker's local copy. With no address
  (and no ``DASK_SCHEDULER_ADDRESS``) a ``LocalCluster`` is started on 127.0.0.1 for the run
  and closed after it.

Workers never open the database: they get arrays and parameters, and return arrays. The
driver alone writes.

Safe in a script without an ``if __name__ == "__main__":`` guard: while worker processes
start (the pool's whole life, a local Dask cluster's start), :func:`main_hidden` hides the
``__main__`` module's file and spec from multiprocessing's preparation data, so a worker
never runs the caller's script again (which would raise RuntimeError in the worker and, worse,
run the script's own writes twice). The strategy reaches the workers by value instead
(`quantdb.strategies.Strategy` pickles its function with cloudpickle).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Literal, Protocol, Self

from quantdb.errors import ArgumentError, QuantdbError

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "main_hidden",
    "make_executor",
    "worker_count",
]

ExecutorKind = Literal["local", "dask"]
_SHARED: Any = None  # a worker process's copy of the shared data (set by the initializer)


class ExecutorError(QuantdbError):
    """The executor cannot be started (no dask installed, scheduler unreachable)."""


class Executor(Protocol):
    """Runs ``fn(shared, item)`` for every item; yields ``(index, result)`` as they finish."""

    workers: int

    def map_unordered(
        self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any
    ) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


def worker_count(workers: int | None) -> int:
    """How many workers ``workers`` asks for: None means one per CPU core; below 1 is refused.

    Raises
    ------
    ArgumentError
        ``workers`` < 1 (``--workers 0``).
    """
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if workers < 1:
        msg = f"workers must be >= 1 (parallel worker processes), got {workers}"
        raise ArgumentError(msg)
    return int(workers)


@contextlib.contextmanager
def main_hidden() -> Iterator[None]:
    """Hide ``__main__``'s ``__file__`` and ``__spec__`` (restored on exit).

    multiprocessing's ``spawn`` and ``forkserver`` start methods send them to each new process,
    which then imports the caller's script (or ``python -m`` module) as ``__mp_main__``: the
    whole script again, in every worker, when it has no main guard. Without them a worker
    starts from quantdb's own modules only; what it runs arrives pickled.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    missing = object()
    saved = {k: main.__dict__.get(k, missing) for k in ("__file__", "__spec__")}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                main.__dict__.pop(k, None)
            else:
                main.__dict__[k] = v


def _init_worker(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_SHARED, item)


class LocalExecutor:
    """This machine: in-process for ``workers=1``, else a process pool (``forkserver`` start).

    ``forkserver`` (the default where it exists) starts one clean server process that imports
    the kernels once (``preload``) and forks each worker from it: cheaper than ``spawn`` and
    unlike plain ``fork`` it never copies the driver's open database connections or threads.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        start_method: str | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        self.workers = worker_count(workers)
        self._start_method = start_method
        self.preload = list(preload)

    @property
    def start_method(self) -> str:
        """``forkserver`` where it exists, else ``spawn`` (unless given). multiprocessing and
        the process pool are imported only when a pool runs: a one-worker sweep's driver does
        not wait for them before its first chunk (10-15 ms)."""
        if self._start_method is None:
            import multiprocessing as mp

            self._start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        return self._start_method

    def map_unordered(
        self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any
    ) -> Iterator[tuple[int, Any]]:
        if self.workers == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                yield i, fn(shared, item)
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context(self.start_method)
        if self.start_method == "forkserver" and self.preload:
            ctx.set_forkserver_preload(self.preload)
        n = min(self.workers, len(items))
        # workers start on demand while tasks are submitted: __main__ stays hidden throughout
        with main_hidden(), ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(shared,)
        ) as pool:
            # at most 2 tasks in flight per worker: results are consumed as they come
            pending: dict[Future[Any], int] = {}
            todo = iter(enumerate(items))
            try:
                for i, item in todo:
                    pending[pool.submit(_call, fn, item)] = i
                    if len(pending) >= 2 * n:
                        break
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = pending.pop(fut)
                        yield i, fut.result()
                        nxt = next(todo, None)
                        if nxt is not None:
                            pending[pool.submit(_call, fn, nxt[1])] = nxt[0]
            finally:
                for fut in pending:
                    fut.cancel()

    def close(self) -> None:
        """Nothing to release: the pool lives only inside :meth:`map_unordered`."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskExecutor:
    """A Dask cluster: ``address`` (``tcp://host:8786``), else ``DASK_SCHEDULER_ADDRESS``, else
    a ``LocalCluster`` on 127.0.0.1 with ``workers`` single-threaded workers for this run.

    ``processes=False`` makes the local cluster's workers threads of this process (quick to
    start; the general path's numba kernels hold the GIL, so it is for tests, not speed).
    """

    def __init__(
        self, address: str | None = None, *, workers: int | None = None, processes: bool = True
    ) -> None:
        n = worker_count(workers)
        try:  # distributed has no type hints: used through an Any-typed name
            import distributed

            dist: Any = distributed
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            msg = "--executor dask needs the 'distributed' package: pip install 'dask[distributed]'"
            raise ExecutorError(msg) from exc
        self.address = address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        self._cluster: Any = None
        try:
            if self.address:
                self._client = dist.Client(self.address, timeout="20s")
            else:
                # worker processes talk over tcp on 127.0.0.1 only; thread workers use the
                # in-process transport (no socket at all)
                where = {"host": "127.0.0.1"} if processes else {}
                with main_hidden():  # worker processes must not run the caller's script
                    self._cluster = dist.LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=processes,
                        dashboard_address=None, silence_logs=40, **where,
                    )
                self._client = dist.Client(self._cluster)
        except (OSError, ValueError) as exc:  # unreachable, or not an address (foo://x, no port)
            msg = f"cannot reach the Dask scheduler at {self.address}: {exc}"
            raise ExecutorError(msg) from exc
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    @property
    def client(self) -> Any:
        """The ``distributed.Client``."""
        return self._client

    def map_unordered(
        self, fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any
    ) -> Iterator[tuple[int, Any]]:
        import distributed

        as_completed: Any = distributed.as_completed

        if not items:
            return
        data = self._client.scatter(shared, broadcast=True, hash=False)
        futures = {
            self._client.submit(fn, data, item, pure=False): i
            for i, item in enumerate(items)
        }
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()
            data.cancel()

    def close(self) -> None:
        """Close the client, and the local cluster if this executor started one."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    kind: ExecutorKind = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    processes: bool = True,
    preload: Sequence[str] = (),
) -> LocalExecutor | DaskExecutor:
    """The executor for ``--executor``: ``"local"`` or ``"dask"`` (``address`` optional)."""
    if kind == "local":
        if address:
            msg = "--address needs --executor dask"
            raise ExecutorError(msg)
        return LocalExecutor(workers, preload=preload)
    if kind == "dask":
        return DaskExecutor(address, workers=workers, processes=processes)
    msg = f"executor must be 'local' or 'dask', got {kind!r}"
    raise ExecutorError(msg)
