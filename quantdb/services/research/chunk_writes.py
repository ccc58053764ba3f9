"""A sweep's chunk files written by one thread of the driver, while the next chunk computes.

With one worker the chunks compute in the driver's own thread. Writing each chunk's Parquet
file there (and, at the first chunk, importing pyarrow) kept the kernel waiting: the fused
kernel releases the GIL, so the write can run beside the next chunk on the other core instead.
`ChunkWrites` hands each finished chunk to a single writer thread, in arrival order; the files
are the same bytes (the same function writes them, each to a temporary name then renamed), and
the run waits for every write (`wait`) before it reads the chunks back or reports progress as
done. A write that fails is raised by the next `submit` or by `wait`, in the driver's thread,
so the run is marked failed as before; the chunks already on disk stay for a resume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Self

import numpy as np

__all__ = ["ChunkWrites"]

WriteFn = Callable[[dict[str, np.ndarray], Sequence[str], Path], None]


class ChunkWrites:
    """One writer thread for a run's chunk files; ``write(columns, tickers, path)`` per chunk."""

    def __init__(self, write: WriteFn, tickers: Sequence[str]) -> None:
        self._write = write
        self._tickers = tickers
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quantdb-sweep-writer")
        self._pending: list[Future[None]] = []

    def submit(self, columns: dict[str, np.ndarray], path: Path) -> None:
        """Queue one chunk's file; first raise the error of any write that already failed."""
        self._raise_failed()
        self._pending.append(self._pool.submit(self._write, columns, self._tickers, path))

    def wait(self) -> None:
        """Wait for every queued write; raise the first error (the files written stay)."""
        for fut in self._pending:
            fut.result()
        self._pending.clear()

    def close(self, *, cancel: bool = False) -> None:
        """Stop the thread after the write in progress; ``cancel`` drops the writes not started."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def _raise_failed(self) -> None:
        for fut in self._pending:
            if fut.done() and fut.exception() is not None:
                fut.result()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(cancel=exc_type is not None)
