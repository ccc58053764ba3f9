"""Benchmark: the full metric set over 10,000 return series x 2,520 days (issue 4).

Figures (one JSON line each; ``ratio = baseline_s / quantdb_s``):

``metrics_vs_copy_floor_<N>x2520``
    ``summary_metrics`` (every metric of docs/metrics.md, VaR/CVaR at 95 %, plus the
    benchmark-relative set) against the bandwidth floor: ``np.copy`` of the same float64
    matrix (192 MiB at scale 1), the least any pass over the data can cost. The goal is
    ``x_floor = quantdb_s / baseline_s <= 10``.
``metrics_vs_quantstats_<N>x2520``
    QuantStats called column by column (``quantstats.stats``: sharpe, sortino, volatility,
    max_drawdown, cagr, value_at_risk on a pandas Series with a business-day index) on
    ``QS_COLUMNS`` columns, extrapolated linearly to all N columns (QuantStats does each
    column on its own, so its time is linear in the columns), against ``summary_metrics``
    on all N columns with the full metric set. Series per second for each side are in the
    line. The goal is a ratio of several hundred.

The first line also carries ``phase_cpu_s``: one-thread CPU seconds of each phase of the
kernel over the whole panel (where the time goes; reported, never asserted):
``returns_drawdown`` (pass 1: sums, compounding, drawdown, downside), ``benchmark_pass1``
(the paired sums and up/down products), ``moments`` (pass 2: central sums),
``benchmark_pass2`` (paired cross-products), ``tail_candidates`` (the observations beyond
the thresholds) and ``tail_select`` (parting them into the low and high tail, quantiles
and tail means by quickselect, writing the statistics out).

``QUANTDB_BENCH_SCALE`` scales N (1.0 = 10,000), ``QUANTDB_BENCH_REPEAT`` the runs.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import best_of, emit, repeat, scaled

from quantdb.kernels.summary import metric_names, summary_metrics

N_DAYS = 2520
QS_COLUMNS = int(os.environ.get("QUANTDB_BENCH_QS_COLUMNS", "50"))


def make_returns(n_series: int, seed: int = 1337) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((N_DAYS, n_series))
    r *= 0.012
    r += 0.0003
    bench = rng.normal(0.0003, 0.01, N_DAYS)
    return r, bench


def _least_cpu(fn: Callable[[], object]) -> float:
    """Least CPU seconds (all threads) of ``repeat()`` calls of `fn`, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeat()):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def phase_breakdown(r: np.ndarray, bench: np.ndarray) -> dict[str, float]:
    """One-thread CPU seconds of each phase of ``summary_metrics``' kernel over all of `r`.

    Cumulative stages over every block (the kernel's own functions, one thread, C-ordered
    input as in the figure), each the least of ``repeat()`` runs; a phase is the difference
    of two stages. The thresholds and tails are those of the default call (VaR at 95 %).
    """
    from scipy.special import ndtri

    from quantdb.kernels import summary as S

    terms = S._bench_terms(bench)
    lows = np.array([0.05, 0.05])
    order = np.argsort(-lows)
    z_lo = float(ndtri(3 * 0.05))
    z_hi = -float(ndtri(3 * 0.05))

    @numba.njit
    def stage(r: np.ndarray, terms: np.ndarray, upto: int) -> float:
        n_rows, n_cols = r.shape
        acc = np.empty(S._A_ROWS * S.W)
        cand = np.empty((S.W, n_rows + 1))
        count = np.empty(S.W, dtype=np.uint64)
        buf_lo = np.empty(n_rows + 1)
        buf_hi = np.empty(n_rows + 1)
        out = np.empty((S._FIXED + 2 * lows.shape[0], n_cols))
        for j0 in range(0, n_cols, S.W):
            w = min(j0 + S.W, n_cols) - j0
            if upto == 6:
                S._block(r, j0, w, j0, terms, True, 0.0, lows, order, z_lo, z_hi,
                         acc, buf_lo, buf_hi, cand, count, out)  # fmt: skip
                continue
            S._start(acc, w)
            S._pass1(r, j0, w, terms, upto >= 2, 0.0, acc)
            if upto >= 3:
                S._means(acc, w, z_lo, z_hi)
                S._pass2(r, j0, w, terms, upto >= 4, acc)
            if upto >= 5:
                S._candidates(r, j0, w, acc, cand, count)
        return acc[0]

    cpu = [_least_cpu(lambda u=u: stage(r, terms, u)) for u in range(1, 7)]  # type: ignore[misc]
    names = [
        "returns_drawdown", "benchmark_pass1", "moments", "benchmark_pass2",
        "tail_candidates", "tail_select",
    ]  # fmt: skip
    return {k: round(cpu[i] - (cpu[i - 1] if i else 0.0), 4) for i, k in enumerate(names)}


def quantstats_six(frame: pd.DataFrame) -> None:
    import quantstats as qs

    for col in frame.columns:
        s = frame[col]
        qs.stats.sharpe(s)
        qs.stats.sortino(s)
        qs.stats.volatility(s)
        qs.stats.max_drawdown(s)
        qs.stats.cagr(s)
        qs.stats.value_at_risk(s)


def main() -> None:
    n = scaled(10_000, minimum=QS_COLUMNS)
    r, bench = make_returns(n)
    mib = r.nbytes / 2**20
    n_metrics = len(metric_names(benchmark=True))

    t_copy = best_of(lambda: np.copy(r))
    t_full = best_of(lambda: summary_metrics(r, benchmark=bench))
    t_plain = best_of(lambda: summary_metrics(r))
    # CPU seconds of one call (all threads): with other work on the machine, wall time
    # depends on the load; this does not. Reported, never asserted.
    c0 = time.process_time()
    summary_metrics(r, benchmark=bench)
    cpu_full = time.process_time() - c0
    # Breakdown: the same call on one thread (what the second core adds), and the least CPU
    # seconds of the call and of the copy over the runs: on a loaded machine wall times say
    # more about the other processes than about the kernel, CPU seconds do not (x_floor_cpu
    # counts both threads' seconds, so it is about threads x x_floor on an idle machine).
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        t_one = best_of(lambda: summary_metrics(r, benchmark=bench))
    finally:
        numba.set_num_threads(threads)
    cpu_full_best = _least_cpu(lambda: summary_metrics(r, benchmark=bench))
    cpu_copy = _least_cpu(lambda: np.copy(r))
    phases = phase_breakdown(r, bench)
    emit(
        f"metrics_vs_copy_floor_{n}x{N_DAYS}",
        t_copy,
        t_full,
        x_floor=t_full / t_copy,
        x_floor_without_benchmark=t_plain / t_copy,
        quantdb_without_benchmark_s=t_plain,
        mib=round(mib, 1),
        metrics=n_metrics,
        quantdb_series_per_s=n / t_full,
        quantdb_cpu_s=cpu_full,
        quantdb_least_cpu_s=cpu_full_best,
        copy_least_cpu_s=cpu_copy,
        x_floor_cpu=cpu_full_best / cpu_copy if cpu_copy > 0 else None,
        quantdb_one_thread_s=t_one,
        x_floor_one_thread=t_one / t_copy,
        threads=threads,
        phase_cpu_s=phases,
        load_average_1min=os.getloadavg()[0],
    )

    idx = pd.bdate_range("2010-01-04", periods=N_DAYS)
    frame = pd.DataFrame(r[:, :QS_COLUMNS], index=idx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_qs_subset = best_of(lambda: quantstats_six(frame), n=2)
    t_qs = t_qs_subset * n / QS_COLUMNS
    emit(
        f"metrics_vs_quantstats_{n}x{N_DAYS}",
        t_qs,
        t_full,
        quantstats_columns_measured=QS_COLUMNS,
        quantstats_metrics=6,
        quantstats_extrapolated=True,
        quantstats_series_per_s=QS_COLUMNS / t_qs_subset,
        quantdb_series_per_s=n / t_full,
        quantdb_metrics=n_metrics,
    )


if __name__ == "__main__":
    main()
