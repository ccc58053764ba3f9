"""Benchmark: Monte Carlo bootstrap of 10,000 paths x 2,520 days with every metric.

Figures (one JSON line each; ``ratio`` = baseline_s / quantdb_s):

``montecarlo_iid_10000x2520`` / ``montecarlo_block_10000x2520``
    ``monte_carlo`` (bootstrap, final return, CAGR, Sharpe, max drawdown, time under water and
    the 64-point equity cone, streamed 128 paths at a time) against a plain NumPy baseline in
    chunks of 1,000 paths doing less: ``rng.integers`` indices, gather, ``cumprod`` wealth, final
    return and max drawdown only (the issue's reference, measured there at 0.26 s). Goal:
    quantdb under 0.5 s.
``montecarlo_bandwidth_floor``
    the same 201.6 MB of path returns (10,000 x 2,520 float64) read once by ``np.sum`` over an
    array that already exists (``baseline_s``: the floor no generator can beat) against
    ``monte_carlo`` (``quantdb_s``); ``ratio`` < 1 says how many floors the full run costs.
    Also reports the peak traced memory (``tracemalloc``) of one run.

``QUANTDB_BENCH_SCALE`` scales the path count (1.0 = 10,000); best of ``QUANTDB_BENCH_REPEAT``
(default 5) after a warm-up.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np

from quantdb.kernels.montecarlo import monte_carlo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_of, emit, repeat, scale

SCALE = scale()
REPEAT = repeat()
N_PATHS = max(256, int(10_000 * SCALE))
N_DAYS = 2520


def numpy_baseline(sample: np.ndarray, n_paths: int, seed: int, chunk: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    final = np.empty(n_paths)
    mdd = np.empty(n_paths)
    for lo in range(0, n_paths, chunk):
        hi = min(lo + chunk, n_paths)
        r = sample[rng.integers(0, sample.size, size=(sample.size, hi - lo))]
        wealth = np.cumprod(1.0 + r, axis=0)
        final[lo:hi] = wealth[-1] - 1.0
        peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)
        mdd[lo:hi] = (wealth / peak - 1.0).min(axis=0)
    return final, mdd


def floor_seconds() -> float:
    """Best time to read the 10,000 x 2,520 float64 paths once, already in memory."""
    paths = np.random.default_rng(2).normal(0.0004, 0.012, (N_DAYS, N_PATHS))
    return best_of(lambda: float(paths.sum()), REPEAT)


def main() -> None:
    sample = np.random.default_rng(1337).normal(0.0004, 0.012, N_DAYS)
    t_base = best_of(lambda: numpy_baseline(sample, N_PATHS, 1), REPEAT)
    for method in ("iid", "block"):
        t_ours = best_of(lambda m=method: monte_carlo(sample, n_paths=N_PATHS, method=m, block=20, seed=1), REPEAT)  # type: ignore[misc]
        emit(f"montecarlo_{method}_{N_PATHS}x{N_DAYS}", t_base, t_ours, goal_quantdb_under_s=0.5,
               metrics=["final_return", "cagr", "sharpe", "max_drawdown", "time_under_water", "cone"])
    t_floor = floor_seconds()
    t_ours = best_of(lambda: monte_carlo(sample, n_paths=N_PATHS, seed=1), REPEAT)
    tracemalloc.start()
    monte_carlo(sample, n_paths=N_PATHS, seed=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    emit("montecarlo_bandwidth_floor", t_floor, t_ours, bytes=N_PATHS * N_DAYS * 8,
           floor_gb_per_s=round(N_PATHS * N_DAYS * 8 / t_floor / 1e9, 2),
           peak_traced_mib=round(peak / 2**20, 1))


if __name__ == "__main__":
    main()
