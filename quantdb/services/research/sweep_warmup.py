"""Imported by a sweep's forkserver (its ``preload``): numba's kernels loaded once, before any fork.

A local sweep with ``workers > 1`` forks its workers from one forkserver process
(`quantdb.services.research.executors.LocalExecutor`). Without this module each worker, at
its first chunk, loads numba's CPU target (which imports scipy.linalg) and the fused kernel
from numba's on-disk cache: 0.5-1 s of CPU per worker, every sweep. Importing this module in
the forkserver does it once there, on a 8-day, 1-ticker panel; forked workers inherit the loaded
code (the kernel is serial: no thread pool exists at the fork). A worker running another
strategy or settings still loads its own kernels from the cache, with the target already up.
The numbers a worker computes do not depend on it. A one-worker sweep imports this module
(so runs `load_fused_kernel`) in the driver before its first chunk, so that the thread that loads the best
sets' kernels meanwhile (`quantdb.services.research.sweep_best.WarmUp`) starts with that chunk.
"""

from __future__ import annotations

import numpy as np

from quantdb.kernels.fastsweep import sma_cross_stats
from quantdb.settings import SimSettings

__all__ = ["load_fused_kernel"]


def load_fused_kernel() -> None:
    """One tiny fused sweep: numba's CPU target and the one specialization every sweep's
    chunks use, loaded in this process; run once, as this module is imported."""
    close = np.linspace(10.0, 11.0, 8)[:, None]
    sma_cross_stats(close, close, close, close, np.array([2.0]), np.array([4.0]),
                    settings=SimSettings(fill="close"))


load_fused_kernel()
