"""The full metric set for every column at once: the fused fast path behind ``quantdb metrics``.

:func:`summary_metrics` computes, for each column of a (periods x series) matrix of simple
returns, every metric of ``metrics.py``, ``drawdown.py`` and ``risk.py`` with the same
conventions (``docs/metrics.md``), named as the CLI's JSON names them.

How it stays fast and small: one numba kernel takes the columns in blocks of
``BLOCK_COLUMNS`` (blocks run in parallel threads) and walks each block's periods (rows)
twice, updating per-column accumulators held in small arrays: the loops run across the
block's contiguous columns and compile to SIMD code, ``ROWS_AT_ONCE`` periods per load and
store of the accumulators. Every column still gets the same operations in the same order as
a walk down that column (a missing value adds 0.0 or multiplies by 1.0, selects, no
branches), so its numbers do not depend on the layout, the block or the thread count (tested
bit for bit):

1. count, sum, sum of squares, min, max, compounded wealth, running peak, worst drawdown,
   longest run under water, sum of squared drawdowns, downside and Omega sums, benchmark-
   paired sums and up/down-market products;
2. (the block is in cache now) central sums of powers 2, 3 and 4 around the exact mean
   (two-pass: no cancellation), the benchmark-paired central cross-products, and, branch-
   free, the observations beyond ``mean -/+ z * sd`` with z the normal quantile of three
   times the widest tail: the candidates for the tail order statistics.

Every historical quantile (VaR, tail ratio) and tail mean (CVaR) then comes from an
in-place quickselect over those few candidates (about 15 % of the column), never a sort;
if a light tail leaves too few candidates, that column falls back to selecting over all its
observations, so the result is exact either way. A C-ordered panel is read in place; an
F-ordered one is copied block by block into a (periods x block) tile first. The benchmark's
terms (observed, up or down day, growth factor) are computed once, and are the same for a
whole row. Nothing of the size of the input is ever allocated, and the per-column
statistics are finished with a few vectorized NumPy lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba as nb
import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.kernels._prefetch import prefetch
from quantdb.kernels.metrics import (
    cagr_from_wealth,
    kurtosis_from_sums,
    psr_from_stats,
    skew_from_sums,
)
from quantdb.kernels.periods import TRADING_DAYS, deannualize_rate
from quantdb.kernels.risk import cornish_fisher_ordered, cornish_fisher_z

__all__ = ["BLOCK_COLUMNS", "metric_names", "summary_metrics"]

BLOCK_COLUMNS = 32
TAIL_RATIO_CUTOFF = 0.95

# Rows of the kernel's statistics matrix.
_N, _MEAN, _M2, _M3, _M4, _WEALTH, _WORST, _LONGEST, _DDSQ, _DOWNSQ, _GAIN, _LOSS = range(12)
_MIN, _MAX, _Q_HI = 12, 13, 14
_NP, _MRP, _MBP, _SRR, _SBB, _SRB, _SACT = 15, 16, 17, 18, 19, 20, 21
_NUP, _WUPR, _WUPB, _NDN, _WDNR, _WDNB = 22, 23, 24, 25, 26, 27
_FIXED = 28  # then, for each low tail probability: quantile, empyrical tail mean
# Columns of `_bench_terms`: observed (1/0), value (0 when missing), up and down market
# (1/0), and the benchmark's growth factor on up and on down days (1 on the others).
_B_OK, _B_VAL, _B_UP, _B_DN, _B_FUP, _B_FDN = range(6)


def _bench_terms(bench: FloatArray) -> FloatArray:
    """(periods x 6) terms of the benchmark that every column's passes use (`_B_OK` ...),
    computed once instead of once per column; the kernel adds or multiplies them in
    branch-free (a benchmark's up and down days are coin flips to a branch predictor)."""
    ok = ~np.isnan(bench)
    up = bench > 0.0
    dn = bench < 0.0
    growth = 1.0 + bench
    terms = np.empty((bench.shape[0], 6))
    terms[:, _B_OK] = ok
    terms[:, _B_VAL] = np.where(ok, bench, 0.0)
    terms[:, _B_UP] = up
    terms[:, _B_DN] = dn
    terms[:, _B_FUP] = np.where(up, growth, 1.0)
    terms[:, _B_FDN] = np.where(dn, growth, 1.0)
    return terms


@nb.njit(cache=True, nogil=True)
def _select(a: FloatArray, n: int, k: int) -> None:
    """Quickselect in place on ``a[:n]``: afterwards ``a[k]`` is the k-th smallest (0-based),
    everything before it is <= and everything after it >=.

    Branch-free Lomuto partitions (a return's side of the pivot is a coin flip, and a
    mispredicted branch per element would dominate), median-of-3 pivots, and a "fat"
    pivot: the elements equal to it are gathered next to it, so ties (a constant or mostly
    flat series) cost one extra pass instead of a quadratic walk.
    """
    lo = 0
    hi = n - 1
    while hi > lo:
        mid = (lo + hi) >> 1
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        a[mid], a[hi] = a[hi], a[mid]  # the median is the pivot, parked at hi
        pivot = a[hi]
        i = lo
        for j in range(lo, hi):
            v = a[j]
            a[j] = a[i]
            a[i] = v
            i += v < pivot
        a[hi] = a[i]
        a[i] = pivot
        if k < i:
            hi = i - 1
        elif k == i:
            return
        else:
            e = i + 1
            for j in range(i + 1, hi + 1):
                v = a[j]
                a[j] = a[e]
                a[e] = v
                e += v == pivot
            if k < e:
                return
            lo = e


@nb.njit(cache=True, nogil=True)
def _low_tail(cand: FloatArray, c: int, ni: int, q: float) -> tuple[float, float, int]:
    """Quantile `q` (linear) and empyrical's tail mean of the `ni` observations.

    ``cand[:c]`` holds (at least) the ``floor((ni - 1) q) + 2`` smallest observations, in
    any order; it is reordered in place. One quickselect, no sort: order statistic
    ``lo + 1`` lands in place, statistic ``lo`` is the largest of the prefix, the tail mean
    is the prefix mean. Returns the prefix length holding the candidates of any smaller `q`.
    """
    h = (ni - 1) * q
    lo = math.floor(h)
    top = min(lo + 1, ni - 1)
    _select(cand, c, top)
    upper = cand[top]
    lower = cand[0]
    acc = 0.0
    for u in range(lo + 1):
        acc += cand[u]
        lower = max(lower, cand[u])
    if top == lo:
        lower = upper
    return lower + (h - lo) * (upper - lower), acc / (lo + 1), min(lo + 2, ni)


@nb.njit(cache=True, nogil=True)
def _all_observed(x: FloatArray, sign: float, buf: FloatArray) -> int:
    """Every observation of `x` times `sign` into `buf` (the fallback when too few
    candidates passed the threshold); returns how many."""
    c = 0
    for t in range(x.shape[0]):
        v = x[t]
        if not math.isnan(v):
            buf[c] = sign * v
            c += 1
    return c


# Rows of the per-block accumulator array `acc`: row k of column j is ``acc[k * W + j]``
# (W = BLOCK_COLUMNS, a compile-time constant, so the rows sit at fixed distances and the
# loops over a block's columns compile to SIMD code).
_A_N, _A_S, _A_S2, _A_MIN, _A_MAX, _A_WEALTH, _A_PEAK = range(7)
_A_WORST, _A_RUN, _A_LONG, _A_DDSQ, _A_DOWNSQ, _A_GAIN, _A_LOSS = range(7, 14)
_A_NP, _A_SRP, _A_SBP, _A_NUP, _A_WUPR, _A_WUPB, _A_NDN, _A_WDNR, _A_WDNB = range(14, 23)
_A_MEAN, _A_MRP, _A_MBP, _A_THR_LO, _A_THR_HI = range(23, 28)
_A_M2, _A_M3, _A_M4, _A_SRR, _A_SBB, _A_SRB, _A_SACT = range(28, 35)
_A_ROWS = 35
W = BLOCK_COLUMNS
# Periods taken together by the passes: each column's accumulators are loaded once, updated
# for these periods one after the other (the same operations in the same order as one
# period at a time), and stored once; loads and stores, not arithmetic, bound the loop else.
ROWS_AT_ONCE = 4
# How far ahead `_pass1` prefetches: a few passes of the row loop cover memory's latency.
PREFETCH_ROWS = 16

_Acc1 = tuple[float, float, float, float, float, float, float, float, float, float, float, float, float, float]
_AccB = tuple[float, float, float, float, float, float, float, float, float]


@nb.njit(cache=True, nogil=True)
def _step1(v: float, rf_p: float, a: _Acc1) -> _Acc1:
    """One period `v` (NaN: none) of a column into its pass-1 accumulators `a`: count, sum,
    sum of squares, min, max, compounded wealth, running peak, worst drawdown, run and
    longest run under water, sum of squared drawdowns, downside and Omega sums.

    Selects, no branches (so a loop over columns vectorizes): a missing value leaves a sum
    unchanged by adding 0.0 (these sums start at +0.0 and so are never -0.0, for which
    x + 0.0 would not be x), a product by a factor 1.0, a min or max by keeping it.
    """
    n, s, s2, mn, mx, wealth, peak, worst, run, longest, ddsq, downsq, gain, loss = a
    ok = not math.isnan(v)
    vz = v if ok else 0.0
    n += 1.0 if ok else 0.0
    s += vz
    s2 += vz * vz
    mn = min(mn, v) if ok else mn
    mx = max(mx, v) if ok else mx
    wealth = wealth * (1.0 + v if ok else 1.0)
    peak = max(peak, wealth) if ok else peak
    dd = wealth / peak - 1.0
    worst = min(worst, dd) if ok else worst
    ddsq += dd * dd if ok else 0.0
    # under water: a drawdown below zero; a missing period carries a drawdown on
    under = dd < 0.0 if ok else wealth < peak
    run = run + 1.0 if under else 0.0
    longest = max(longest, run)
    e = v - rf_p
    neg = min(e, 0.0)
    downsq += neg * neg if ok else 0.0
    loss = loss - neg if ok else loss
    gain = gain + max(e, 0.0) if ok else gain
    return n, s, s2, mn, mx, wealth, peak, worst, run, longest, ddsq, downsq, gain, loss


_Terms = tuple[float, float, float, float, float, float]


@nb.njit(cache=True, nogil=True)
def _terms(bench: FloatArray, t: int) -> _Terms:
    """Period `t`'s row of `_bench_terms` as scalars (the same for every column of a row)."""
    return (
        bench[t, _B_OK], bench[t, _B_VAL], bench[t, _B_UP],
        bench[t, _B_DN], bench[t, _B_FUP], bench[t, _B_FDN],
    )  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _step1_bench(v: float, bt: _Terms, a: _AccB) -> _AccB:
    """One period `v` of a column into its benchmark-paired pass-1 accumulators `a` (pairs
    counted, sums of both, up and down periods counted and compounded); `bt` is the
    period's `_terms`. Selects only, as in `_step1`."""
    n_p, srp, sbp, nup, wupr, wupb, ndn, wdnr, wdnb = a
    b_ok, b_val, b_up, b_dn, f_up, f_dn = bt
    ok = not math.isnan(v)
    paired = ok & (b_ok > 0.0)
    up = ok & (b_up > 0.0)
    dn = ok & (b_dn > 0.0)
    n_p += b_ok if ok else 0.0
    srp += v if paired else 0.0
    sbp += b_val if ok else 0.0
    nup += b_up if ok else 0.0
    ndn += b_dn if ok else 0.0
    fr = 1.0 + v
    wupr *= fr if up else 1.0
    wupb *= f_up if ok else 1.0
    wdnr *= fr if dn else 1.0
    wdnb *= f_dn if ok else 1.0
    return n_p, srp, sbp, nup, wupr, wupb, ndn, wdnr, wdnb


@nb.njit(cache=True, nogil=True)
def _step2(
    v: float, mean: float, a: tuple[float, float, float]
) -> tuple[float, float, float]:
    """One period into the central sums of powers 2, 3 and 4 around the exact mean."""
    m2, m3, m4 = a
    ok = not math.isnan(v)
    d = v - mean
    d2 = d * d
    m2 += d2 if ok else 0.0
    m3 += d2 * d if ok else 0.0
    m4 += d2 * d2 if ok else 0.0
    return m2, m3, m4


@nb.njit(cache=True, nogil=True)
def _step2_bench(
    v: float, mrp: float, mbp: float, bt: _Terms, a: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """One period into the benchmark-paired central cross-products (around the paired means)."""
    srr, sbb, srb, sact = a
    ok = (not math.isnan(v)) & (bt[0] > 0.0)
    dr = v - mrp
    db = bt[1] - mbp
    da = dr - db
    srr += dr * dr if ok else 0.0
    sbb += db * db if ok else 0.0
    srb += dr * db if ok else 0.0
    sact += da * da if ok else 0.0
    return srr, sbb, srb, sact


@nb.njit(cache=True, nogil=True)
def _load1(acc: FloatArray, j: int) -> _Acc1:
    return (
        acc[_A_N * W + j], acc[_A_S * W + j], acc[_A_S2 * W + j], acc[_A_MIN * W + j],
        acc[_A_MAX * W + j], acc[_A_WEALTH * W + j], acc[_A_PEAK * W + j],
        acc[_A_WORST * W + j], acc[_A_RUN * W + j], acc[_A_LONG * W + j],
        acc[_A_DDSQ * W + j], acc[_A_DOWNSQ * W + j], acc[_A_GAIN * W + j], acc[_A_LOSS * W + j],
    )  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _store1(acc: FloatArray, j: int, a: _Acc1) -> None:
    (
        acc[_A_N * W + j], acc[_A_S * W + j], acc[_A_S2 * W + j], acc[_A_MIN * W + j],
        acc[_A_MAX * W + j], acc[_A_WEALTH * W + j], acc[_A_PEAK * W + j],
        acc[_A_WORST * W + j], acc[_A_RUN * W + j], acc[_A_LONG * W + j],
        acc[_A_DDSQ * W + j], acc[_A_DOWNSQ * W + j], acc[_A_GAIN * W + j], acc[_A_LOSS * W + j],
    ) = a  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _load1_bench(acc: FloatArray, j: int) -> _AccB:
    return (
        acc[_A_NP * W + j], acc[_A_SRP * W + j], acc[_A_SBP * W + j], acc[_A_NUP * W + j],
        acc[_A_WUPR * W + j], acc[_A_WUPB * W + j], acc[_A_NDN * W + j],
        acc[_A_WDNR * W + j], acc[_A_WDNB * W + j],
    )  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _store1_bench(acc: FloatArray, j: int, a: _AccB) -> None:
    (
        acc[_A_NP * W + j], acc[_A_SRP * W + j], acc[_A_SBP * W + j], acc[_A_NUP * W + j],
        acc[_A_WUPR * W + j], acc[_A_WUPB * W + j], acc[_A_NDN * W + j],
        acc[_A_WDNR * W + j], acc[_A_WDNB * W + j],
    ) = a  # fmt: skip


@nb.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def _pass1(
    src: FloatArray, c0: int, w: int, bench: FloatArray, has_bench: bool, rf_p: float, acc: FloatArray
) -> None:
    """Pass 1 over the periods of columns ``c0:c0+w`` of `src` (`_step1`, and with
    `has_bench` `_step1_bench`), ``ROWS_AT_ONCE`` periods at a time, vectorized across the
    columns."""
    n_rows = src.shape[0]
    top = n_rows - n_rows % ROWS_AT_ONCE
    for t in range(0, top, ROWS_AT_ONCE):
        # the rows PREFETCH_ROWS ahead start coming from memory (every cache line of them)
        for u in range(t + PREFETCH_ROWS, min(t + PREFETCH_ROWS + ROWS_AT_ONCE, n_rows)):
            for j in range(0, w, 8):
                prefetch(src, u, c0 + j)
            prefetch(src, u, c0 + w - 1)
        r0 = src[t, c0 : c0 + w]
        r1 = src[t + 1, c0 : c0 + w]
        r2 = src[t + 2, c0 : c0 + w]
        r3 = src[t + 3, c0 : c0 + w]
        for j in range(w):
            a = _load1(acc, j)
            a = _step1(r0[j], rf_p, a)
            a = _step1(r1[j], rf_p, a)
            a = _step1(r2[j], rf_p, a)
            a = _step1(r3[j], rf_p, a)
            _store1(acc, j, a)
        if has_bench:
            b0 = _terms(bench, t)
            b1 = _terms(bench, t + 1)
            b2 = _terms(bench, t + 2)
            b3 = _terms(bench, t + 3)
            for j in range(w):
                b = _load1_bench(acc, j)
                b = _step1_bench(r0[j], b0, b)
                b = _step1_bench(r1[j], b1, b)
                b = _step1_bench(r2[j], b2, b)
                b = _step1_bench(r3[j], b3, b)
                _store1_bench(acc, j, b)
    for t in range(top, n_rows):
        r0 = src[t, c0 : c0 + w]
        for j in range(w):
            _store1(acc, j, _step1(r0[j], rf_p, _load1(acc, j)))
        if has_bench:
            b0 = _terms(bench, t)
            for j in range(w):
                _store1_bench(acc, j, _step1_bench(r0[j], b0, _load1_bench(acc, j)))


@nb.njit(cache=True, nogil=True)
def _load2(acc: FloatArray, j: int) -> tuple[float, float, float]:
    return acc[_A_M2 * W + j], acc[_A_M3 * W + j], acc[_A_M4 * W + j]


@nb.njit(cache=True, nogil=True)
def _store2(acc: FloatArray, j: int, a: tuple[float, float, float]) -> None:
    acc[_A_M2 * W + j], acc[_A_M3 * W + j], acc[_A_M4 * W + j] = a


@nb.njit(cache=True, nogil=True)
def _load2_bench(acc: FloatArray, j: int) -> tuple[float, float, float, float]:
    return acc[_A_SRR * W + j], acc[_A_SBB * W + j], acc[_A_SRB * W + j], acc[_A_SACT * W + j]


@nb.njit(cache=True, nogil=True)
def _store2_bench(acc: FloatArray, j: int, a: tuple[float, float, float, float]) -> None:
    acc[_A_SRR * W + j], acc[_A_SBB * W + j], acc[_A_SRB * W + j], acc[_A_SACT * W + j] = a


@nb.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def _pass2(src: FloatArray, c0: int, w: int, bench: FloatArray, has_bench: bool, acc: FloatArray) -> None:
    """Pass 2 (the block is in cache now): `_step2` and, with `has_bench`, `_step2_bench`,
    ``ROWS_AT_ONCE`` periods at a time, vectorized across the columns as in `_pass1`."""
    n_rows = src.shape[0]
    top = n_rows - n_rows % ROWS_AT_ONCE
    for t in range(0, top, ROWS_AT_ONCE):
        r0 = src[t, c0 : c0 + w]
        r1 = src[t + 1, c0 : c0 + w]
        r2 = src[t + 2, c0 : c0 + w]
        r3 = src[t + 3, c0 : c0 + w]
        for j in range(w):
            mean = acc[_A_MEAN * W + j]
            a = _load2(acc, j)
            a = _step2(r0[j], mean, a)
            a = _step2(r1[j], mean, a)
            a = _step2(r2[j], mean, a)
            a = _step2(r3[j], mean, a)
            _store2(acc, j, a)
        if has_bench:
            b0 = _terms(bench, t)
            b1 = _terms(bench, t + 1)
            b2 = _terms(bench, t + 2)
            b3 = _terms(bench, t + 3)
            for j in range(w):
                mrp = acc[_A_MRP * W + j]
                mbp = acc[_A_MBP * W + j]
                b = _load2_bench(acc, j)
                b = _step2_bench(r0[j], mrp, mbp, b0, b)
                b = _step2_bench(r1[j], mrp, mbp, b1, b)
                b = _step2_bench(r2[j], mrp, mbp, b2, b)
                b = _step2_bench(r3[j], mrp, mbp, b3, b)
                _store2_bench(acc, j, b)
    for t in range(top, n_rows):
        r0 = src[t, c0 : c0 + w]
        for j in range(w):
            _store2(acc, j, _step2(r0[j], acc[_A_MEAN * W + j], _load2(acc, j)))
        if has_bench:
            b0 = _terms(bench, t)
            for j in range(w):
                b = _step2_bench(r0[j], acc[_A_MRP * W + j], acc[_A_MBP * W + j], b0, _load2_bench(acc, j))
                _store2_bench(acc, j, b)


@nb.njit(cache=True, nogil=True)
def _keep(buf: FloatArray, c: np.uint64, v: float, keep: bool) -> np.uint64:
    """Branch-free append: always store `v` at ``buf[c]``, advance only if `keep`.

    `c` is unsigned: numba then skips the wraparound of a negative index, four of the
    loop's instructions per store."""
    buf[c] = v
    return c + np.uint64(keep)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _candidates(
    src: FloatArray,
    c0: int,
    w: int,
    acc: FloatArray,
    cand: FloatArray,
    count: npt.NDArray[np.uint64],
) -> None:
    """Each column's tail candidates, in period order, into its row of `cand`: the
    observations at or below its ``_A_THR_LO`` or at or above its ``_A_THR_HI`` (`_split`
    later parts them). Branch-free (`_keep`; a NaN never passes a threshold), one store per
    observation, ``ROWS_AT_ONCE`` periods per visit of a column."""
    n_rows = src.shape[0]
    top = n_rows - n_rows % ROWS_AT_ONCE
    for j in range(w):
        count[j] = 0
    for t in range(0, top, ROWS_AT_ONCE):
        r0 = src[t, c0 : c0 + w]
        r1 = src[t + 1, c0 : c0 + w]
        r2 = src[t + 2, c0 : c0 + w]
        r3 = src[t + 3, c0 : c0 + w]
        for j in range(w):
            thr_lo = acc[_A_THR_LO * W + j]
            thr_hi = acc[_A_THR_HI * W + j]
            row = cand[j]
            v0 = r0[j]
            v1 = r1[j]
            v2 = r2[j]
            v3 = r3[j]
            c = _keep(row, count[j], v0, (v0 <= thr_lo) | (v0 >= thr_hi))
            c = _keep(row, c, v1, (v1 <= thr_lo) | (v1 >= thr_hi))
            c = _keep(row, c, v2, (v2 <= thr_lo) | (v2 >= thr_hi))
            count[j] = _keep(row, c, v3, (v3 <= thr_lo) | (v3 >= thr_hi))
    for t in range(top, n_rows):
        r0 = src[t, c0 : c0 + w]
        for j in range(w):
            v0 = r0[j]
            keep = (v0 <= acc[_A_THR_LO * W + j]) | (v0 >= acc[_A_THR_HI * W + j])
            count[j] = _keep(cand[j], count[j], v0, keep)


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _split(
    cand: FloatArray, c: int, thr_lo: float, thr_hi: float, buf_lo: FloatArray, buf_hi: FloatArray
) -> tuple[int, int]:
    """One column's candidates ``cand[:c]`` parted, in order, into those at or below
    `thr_lo` (into `buf_lo`) and minus those at or above `thr_hi` (into `buf_hi`: the
    largest become the smallest); returns both counts. A value can go to both lists when
    the thresholds meet (a column without spread)."""
    lo = np.uint64(0)
    hi = np.uint64(0)
    for u in range(c):
        v = cand[u]
        lo = _keep(buf_lo, lo, v, v <= thr_lo)
        hi = _keep(buf_hi, hi, -v, v >= thr_hi)
    return int(np.int64(lo)), int(np.int64(hi))


@nb.njit(cache=True, nogil=True)
def _start(acc: FloatArray, w: int) -> None:
    """The accumulators' starting values for a block of `w` columns: sums 0, wealth and
    products 1, min +inf, max -inf."""
    acc[:] = 0.0
    for j in range(w):
        acc[_A_MIN * W + j] = np.inf
        acc[_A_MAX * W + j] = -np.inf
        acc[_A_WEALTH * W + j] = 1.0
        acc[_A_PEAK * W + j] = 1.0
        acc[_A_WUPR * W + j] = 1.0
        acc[_A_WUPB * W + j] = 1.0
        acc[_A_WDNR * W + j] = 1.0
        acc[_A_WDNB * W + j] = 1.0


@nb.njit(cache=True, nogil=True)
def _means(acc: FloatArray, w: int, z_lo: float, z_hi: float) -> None:
    """Between the passes: each column's mean, paired means and tail-candidate thresholds."""
    for j in range(w):
        n = acc[_A_N * W + j]
        s = acc[_A_S * W + j]
        s2 = acc[_A_S2 * W + j]
        n_p = acc[_A_NP * W + j]
        mean = s / n if n > 0 else np.nan
        acc[_A_MEAN * W + j] = mean
        acc[_A_MRP * W + j] = acc[_A_SRP * W + j] / n_p if n_p > 0 else np.nan
        acc[_A_MBP * W + j] = acc[_A_SBP * W + j] / n_p if n_p > 0 else np.nan
        # Tail candidates: observations beyond mean +- z * sd (sd from the raw sums, close
        # enough for a threshold); only those are partitioned for the quantiles.
        sd_approx = math.sqrt(max(s2 - s * mean, 0.0) / max(n - 1.0, 1.0)) if n > 0 else 0.0
        acc[_A_THR_LO * W + j] = mean + z_lo * sd_approx
        acc[_A_THR_HI * W + j] = mean + z_hi * sd_approx


@nb.njit(cache=True, nogil=True)
def _block(
    src: FloatArray,
    c0: int,
    w: int,
    j0: int,
    bench: FloatArray,
    has_bench: bool,
    rf_p: float,
    lows: FloatArray,
    order: npt.NDArray[np.int64],
    z_lo: float,
    z_hi: float,
    acc: FloatArray,
    buf_lo: FloatArray,
    buf_hi: FloatArray,
    cand: FloatArray,
    count: npt.NDArray[np.uint64],
    out: FloatArray,
) -> None:
    """Every statistic of the ``w <= W`` columns ``c0:c0+w`` of the C-ordered (periods x
    series) `src`, written into ``out[:, j0:j0+w]``.

    `bench` is the benchmark's (periods x 6) terms from `_bench_terms` (unread unless
    `has_bench`); `order` lists `lows` from the widest tail to the narrowest.
    """
    _start(acc, w)
    _pass1(src, c0, w, bench, has_bench, rf_p, acc)
    _means(acc, w, z_lo, z_hi)
    _pass2(src, c0, w, bench, has_bench, acc)
    _candidates(src, c0, w, acc, cand, count)
    for j in range(w):
        jo = j0 + j
        out[_N, jo] = acc[_A_N * W + j]
        out[_MEAN, jo] = acc[_A_MEAN * W + j]
        out[_M2, jo] = acc[_A_M2 * W + j]
        out[_M3, jo] = acc[_A_M3 * W + j]
        out[_M4, jo] = acc[_A_M4 * W + j]
        out[_WEALTH, jo] = acc[_A_WEALTH * W + j]
        out[_WORST, jo] = acc[_A_WORST * W + j]
        out[_LONGEST, jo] = acc[_A_LONG * W + j]
        out[_DDSQ, jo] = acc[_A_DDSQ * W + j]
        out[_DOWNSQ, jo] = acc[_A_DOWNSQ * W + j]
        out[_GAIN, jo] = acc[_A_GAIN * W + j]
        out[_LOSS, jo] = acc[_A_LOSS * W + j]
        out[_MIN, jo] = acc[_A_MIN * W + j]
        out[_MAX, jo] = acc[_A_MAX * W + j]
        out[_NP, jo] = acc[_A_NP * W + j]
        out[_MRP, jo] = acc[_A_MRP * W + j]
        out[_MBP, jo] = acc[_A_MBP * W + j]
        out[_SRR, jo] = acc[_A_SRR * W + j]
        out[_SBB, jo] = acc[_A_SBB * W + j]
        out[_SRB, jo] = acc[_A_SRB * W + j]
        out[_SACT, jo] = acc[_A_SACT * W + j]
        out[_NUP, jo] = acc[_A_NUP * W + j]
        out[_WUPR, jo] = acc[_A_WUPR * W + j]
        out[_WUPB, jo] = acc[_A_WUPB * W + j]
        out[_NDN, jo] = acc[_A_NDN * W + j]
        out[_WDNR, jo] = acc[_A_WDNR * W + j]
        out[_WDNB, jo] = acc[_A_WDNB * W + j]
        ni = int(acc[_A_N * W + j])
        c = int(np.int64(count[j]))  # signed: the tails compare counts with signed ones
        c_lo, c_hi = _split(cand[j], c, acc[_A_THR_LO * W + j], acc[_A_THR_HI * W + j], buf_lo, buf_hi)
        _tails(src[:, c0 + j], ni, lows, order, buf_lo, c_lo, buf_hi, c_hi, out, jo)


@nb.njit(cache=True, nogil=True)
def _tails(
    x: FloatArray,
    ni: int,
    lows: FloatArray,
    order: npt.NDArray[np.int64],
    buf_lo: FloatArray,
    c_lo: int,
    buf_hi: FloatArray,
    c_hi: int,
    out: FloatArray,
    j: int,
) -> None:
    """The historical quantiles and tail means of column `x` (`ni` observations) into
    ``out[:, j]``, from its candidates ``buf_lo[:c_lo]`` and ``buf_hi[:c_hi]`` (`_split`);
    a light tail with too few candidates falls back to all of the column's observations."""
    n_low = lows.shape[0]
    if ni == 0:
        out[_Q_HI, j] = np.nan
        for i in range(n_low):
            out[_FIXED + 2 * i, j] = np.nan
            out[_FIXED + 2 * i + 1, j] = np.nan
        return
    # upper quantile of x = minus the lower quantile 1 - cutoff of -x
    q_up = 1.0 - TAIL_RATIO_CUTOFF
    need = min(math.floor((ni - 1) * q_up) + 2, ni)
    if c_hi < need:
        c_hi = _all_observed(x, -1.0, buf_hi)
    # numpy interpolates from below: q(x, c) = x_lo + f (x_hi - x_lo) with h = (n-1) c;
    # from -x, h' = (n-1)(1-c) = (n-1) - h, which interpolates the same two points.
    qv, _, _ = _low_tail(buf_hi, c_hi, ni, q_up)
    out[_Q_HI, j] = -qv
    need = 0
    for i in range(n_low):
        need = max(need, min(math.floor((ni - 1) * lows[i]) + 2, ni))
    if c_lo < need:
        c_lo = _all_observed(x, 1.0, buf_lo)
    # widest tail first (`order`); each prefix holds the candidates of the next, narrower tail
    for i in order:
        qv, tail_mean, c_lo = _low_tail(buf_lo, c_lo, ni, lows[i])
        out[_FIXED + 2 * i, j] = qv
        out[_FIXED + 2 * i + 1, j] = tail_mean


@nb.njit(cache=True, parallel=True, nogil=True)
def _summary_kernel(
    r: FloatArray,
    transposed: bool,
    bench: FloatArray,
    has_bench: bool,
    rf_p: float,
    lows: FloatArray,
    z_lo: float,
    z_hi: float,
    n_workers: int,
) -> FloatArray:
    """Statistics matrix (rows ``_N`` ... , one column per series), blocks of W columns in parallel.

    `r` is (periods x series) C-contiguous and read in place, or, when `transposed`,
    (series x periods) C-contiguous (an F-ordered panel seen through ``.T``): each block is
    then first copied into a (periods x W) tile. `bench` holds `_bench_terms`.
    """
    n_rows = r.shape[1] if transposed else r.shape[0]
    n_cols = r.shape[0] if transposed else r.shape[1]
    out = np.empty((_FIXED + 2 * lows.shape[0], n_cols))
    n_blocks = (n_cols + W - 1) // W
    width = min(W, n_cols)
    # `n_workers` workers (one per thread), each with its own buffers, taking every
    # n_workers-th block: the threads walk through memory side by side, nothing is allocated
    # per block, and each column's numbers are the same for any number of workers.
    order = np.argsort(-lows)  # the tails' order, once (was once per column: same sort)
    for wk in nb.prange(n_workers):
        acc = np.empty(_A_ROWS * W)
        cand = np.empty((width, n_rows + 1))
        count = np.empty(W, dtype=np.uint64)
        buf_lo = np.empty(n_rows + 1)
        buf_hi = np.empty(n_rows + 1)
        tile = np.empty((n_rows, W) if transposed else (0, W))
        for bi in range(wk, n_blocks, n_workers):
            j0 = bi * W
            w = min(j0 + W, n_cols) - j0
            src, c0 = r, j0  # the block's columns c0 .. c0 + w of src
            if transposed:
                for j in range(w):
                    col = r[j0 + j]
                    for t in range(n_rows):
                        tile[t, j] = col[t]
                src, c0 = tile, j0 - j0  # one call site, c0 never a literal: `_block` compiled once
            _block(src, c0, w, j0, bench, has_bench, rf_p, lows, order, z_lo, z_hi,
                   acc, buf_lo, buf_hi, cand, count, out)  # fmt: skip
    return out


def _conf_label(confidence: float) -> str:
    pct = round(confidence * 100, 6)
    return str(int(pct)) if float(pct).is_integer() else str(pct).replace(".", "_")


def metric_names(*, benchmark: bool = False, confidences: Sequence[float] = (0.95,)) -> list[str]:
    """The keys :func:`summary_metrics` returns, in order.

    Examples
    --------
    >>> metric_names(confidences=(0.99,))[12:17]
    ['var_99_historical', 'var_99_parametric', 'var_99_cornish_fisher', 'cvar_99_historical', 'cvar_99_quantstats']
    """
    names = [
        "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar",
        "omega", "skew", "kurtosis", "tail_ratio", "ulcer_index",
    ]  # fmt: skip
    for c in confidences:
        lab = _conf_label(c)
        names += [
            f"var_{lab}_historical",
            f"var_{lab}_parametric",
            f"var_{lab}_cornish_fisher",
            f"cvar_{lab}_historical",
            f"cvar_{lab}_quantstats",
        ]
    names += ["probabilistic_sharpe", "longest_drawdown_days"]
    if benchmark:
        names += [
            "beta", "alpha", "correlation", "r_squared", "tracking_error",
            "information_ratio", "up_capture", "down_capture",
        ]  # fmt: skip
    return names


def summary_metrics(
    returns_2d: npt.ArrayLike,
    /,
    *,
    benchmark: npt.ArrayLike | None = None,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
    confidences: Sequence[float] = (0.95,),
) -> dict[str, FloatArray]:
    """Every metric for every column of `returns_2d`, in one fused pass.

    Parameters
    ----------
    returns_2d : array_like
        Simple returns, (periods x series) (1-D is one series). NaN = no observation.
        Never copied whole when C- or F-contiguous float64 (C is read in place, F a block
        of columns at a time through a small tile).
    benchmark : array_like, optional
        One benchmark return per period (1-D); adds the benchmark-relative metrics, on the
        periods where both are observed.
    periods_per_year : float
        252 for daily returns.
    risk_free : float
        Annual risk-free rate, de-annualized geometrically (Sharpe, Sortino, Omega, alpha,
        probabilistic Sharpe).
    confidences : sequence of float
        VaR / CVaR levels; each adds ``var_<pct>_historical``, ``var_<pct>_parametric``,
        ``var_<pct>_cornish_fisher``, ``cvar_<pct>_historical`` (empyrical) and
        ``cvar_<pct>_quantstats`` (normal expected shortfall, QuantStats' ``cvar``).

    Returns
    -------
    dict of str to ndarray
        One float64 array (one value per column) per name of :func:`metric_names`, each
        equal to the matching function of ``quantdb.kernels`` applied to that column
        (ddof=1). ``max_drawdown`` is a negative fraction, VaR/CVaR negative returns,
        ``longest_drawdown_days`` a count of periods.

    Examples
    --------
    >>> rng = np.random.default_rng(1337)
    >>> m = summary_metrics(rng.normal(0.0005, 0.01, (252, 3)))
    >>> m["sharpe"].shape, bool(np.all(m["max_drawdown"] <= 0))
    ((3,), True)
    """
    arr = np.asarray(returns_2d, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        msg = f"returns_2d must be 2-D (periods x series), got {arr.ndim}-D"
        raise ArgumentError(msg)
    if not arr.flags.c_contiguous and not arr.flags.f_contiguous:
        arr = np.ascontiguousarray(arr)
    n_rows, n_cols = arr.shape
    confs = [float(c) for c in confidences]  # trusted: see services.live.risk.parse_confidences
    alphas = [round(1.0 - c, 12) for c in confs]
    lows = np.array([*alphas, round(1.0 - TAIL_RATIO_CUTOFF, 12)], dtype=np.float64)
    # Observations beyond mean + z * sd are the candidates for the tail order statistics;
    # z is the normal quantile of 3x the widest tail (a fallback sorts the column if a
    # light tail leaves too few candidates).
    z_lo = float(ndtri(min(3.0 * float(lows.max()), 0.45)))
    z_hi = -float(ndtri(min(3.0 * round(1.0 - TAIL_RATIO_CUTOFF, 12), 0.45)))
    has_bench = benchmark is not None
    if has_bench:
        bench = np.ascontiguousarray(np.asarray(benchmark, dtype=np.float64))
        if bench.ndim == 2 and bench.shape[1] == 1:
            bench = np.ascontiguousarray(bench[:, 0])
        if bench.shape != (n_rows,):
            msg = f"benchmark must be 1-D with one value per period ({n_rows}), got shape {bench.shape}"
            raise ArgumentError(msg)
    else:
        bench = np.empty(n_rows)
    terms = _bench_terms(bench) if has_bench else np.empty((n_rows, 6))
    rf_p = deannualize_rate(risk_free, periods_per_year)
    transposed = not arr.flags.c_contiguous
    workers = max(1, min(nb.get_num_threads(), -(-n_cols // BLOCK_COLUMNS)))
    src = (arr.T if transposed else arr).view()
    # the kernel only reads it: always read-only, so one specialization serves writable and
    # read-only panels (the mirror's) alike; each costs 7-11 s of compilation on a cold cache
    src.flags.writeable = False
    st = (
        _summary_kernel(src, transposed, terms, has_bench, rf_p, lows, z_lo, z_hi, workers)
        if n_cols
        else np.empty((_FIXED + 2 * lows.shape[0], 0))
    )
    return _finish(st, confs, bench if has_bench else None, periods_per_year, rf_p)


def _finish(
    st: FloatArray,
    confs: list[float],
    bench: FloatArray | None,
    ppy: float,
    rf_p: float,
) -> dict[str, FloatArray]:
    sq = math.sqrt(ppy)
    n = st[_N]
    const = st[_MIN] == st[_MAX]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m2 = np.where(const, 0.0, st[_M2])
        sd = np.where(n >= 2, np.sqrt(m2 / (n - 1.0)), np.nan)
        sd_pos = np.where(sd > 0, sd, np.nan)
        sr_pp = np.where(n >= 2, (st[_MEAN] - rf_p) / sd_pos, np.nan)
        down = np.sqrt(st[_DOWNSQ] / n)
        wealth = st[_WEALTH]
        cagr = cagr_from_wealth(wealth, n, ppy)
        worst = np.where(n > 0, st[_WORST], np.nan)
        sk = np.where(const, np.nan, skew_from_sums(n, m2, st[_M3]))
        ku = np.where(const, np.nan, kurtosis_from_sums(n, m2, st[_M4]))
        sk0 = np.where(const, 0.0, sk)
        ku0 = np.where(const, 0.0, ku)
        out: dict[str, FloatArray] = {
            "total_return": np.where(n > 0, wealth - 1.0, np.nan),
            "cagr": cagr,
            "volatility": sd * sq,
            "sharpe": sr_pp * sq,
            "sortino": np.where((n >= 2) & (down > 0), (st[_MEAN] - rf_p) / down * sq, np.nan),
            "max_drawdown": worst,
            "calmar": np.where(worst < 0, cagr / np.abs(worst), np.nan),
            "omega": np.where(st[_LOSS] > 0, st[_GAIN] / st[_LOSS], np.nan),
            "skew": sk,
            "kurtosis": ku,
        }
        q_lo_tail = st[_FIXED + 2 * len(confs)]
        out["tail_ratio"] = np.where(q_lo_tail != 0, np.abs(st[_Q_HI]) / np.abs(q_lo_tail), np.nan)
        out["ulcer_index"] = np.where(n > 0, np.sqrt(st[_DDSQ] / n), np.nan)
        for i, c in enumerate(confs):
            lab = _conf_label(c)
            a = round(1.0 - c, 12)
            z = float(ndtri(a))
            out[f"var_{lab}_historical"] = st[_FIXED + 2 * i]
            out[f"var_{lab}_parametric"] = st[_MEAN] + sd * z
            out[f"var_{lab}_cornish_fisher"] = np.where(
                cornish_fisher_ordered(z, sk0, ku0), st[_MEAN] + sd * cornish_fisher_z(z, sk0, ku0), np.nan
            )
            out[f"cvar_{lab}_historical"] = st[_FIXED + 2 * i + 1]
            pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
            out[f"cvar_{lab}_quantstats"] = st[_MEAN] - sd * pdf / a
        out["probabilistic_sharpe"] = psr_from_stats(sr_pp, sk, ku, n, 0.0)
        out["longest_drawdown_days"] = np.where(n > 0, st[_LONGEST], np.nan)
        if bench is not None:
            n_p = st[_NP]
            ok = n_p >= 2
            bconst = bench.size == 0 or bool(np.fmax.reduce(bench) == np.fmin.reduce(bench))
            sbb = (
                np.where(st[_SBB] > 0, st[_SBB], np.nan) if not bconst else np.full_like(n, np.nan)
            )
            srr = np.where((st[_SRR] > 0) & ~const, st[_SRR], np.nan)
            beta = np.where(ok, st[_SRB] / sbb, np.nan)
            out["beta"] = beta
            out["alpha"] = np.where(
                ok, ((st[_MRP] - rf_p) - beta * (st[_MBP] - rf_p)) * ppy, np.nan
            )
            corr = np.where(ok, np.clip(st[_SRB] / np.sqrt(srr * sbb), -1.0, 1.0), np.nan)
            out["correlation"] = corr
            out["r_squared"] = corr * corr
            te = np.where(ok, np.sqrt(st[_SACT] / (n_p - 1.0)), np.nan)
            out["tracking_error"] = te * sq
            te_pos = np.where(te > 0, te, np.nan)
            out["information_ratio"] = (st[_MRP] - st[_MBP]) / te_pos * sq
            out["up_capture"] = _ratio(
                cagr_from_wealth(st[_WUPR], st[_NUP], ppy),
                cagr_from_wealth(st[_WUPB], st[_NUP], ppy),
            )
            out["down_capture"] = _ratio(
                cagr_from_wealth(st[_WDNR], st[_NDN], ppy),
                cagr_from_wealth(st[_WDNB], st[_NDN], ppy),
            )
    return {
        k: np.asarray(out[k], dtype=np.float64)
        for k in metric_names(benchmark=bench is not None, confidences=confs)
    }


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where((den != 0) & ~np.isnan(den), num / np.where(den == 0, 1.0, den), np.nan)
