"""The full metric set for every column at once: the fused fast path behind ``quantdb metrics``.

:func:`summary_metrics` computes, for each column of a (periods x series) matrix of simple
returns, every metric of ``metrics.py``, ``drawdown.py`` and ``risk.py`` with the same
conventions (``docs/metrics.md``), named as the CLI's JSON names them.

How it stays fast and small: one numba kernel takes the columns in blocks of
``BLOCK_COLUMNS`` (blocks run in parallel threads) and makes, for each column, two passes
over its periods:

1. count, sum, sum of squares, min, max, compounded wealth, running peak, worst drawdown,
   longest run under water, sum of squared drawdowns, downside and Omega sums, benchmark-
   paired sums and up/down-market products;
2. (the column is in cache now) central sums of powers 2, 3 and 4 around the exact mean
   (two-pass: no cancellation), the benchmark-paired central cross-products, and, branch-
   free, the observations beyond ``mean -/+ z * sd`` with z the normal quantile of three
   times the widest tail: the candidates for the tail order statistics.

Every historical quantile (VaR, tail ratio) and tail mean (CVaR) then comes from an
in-place quickselect over those few candidates (about 15 % of the column), never a sort;
if a light tail leaves too few candidates, that column falls back to selecting over all its
observations, so the result is exact either way. An F-ordered panel is read in place; a
C-ordered one is copied block by block into a (block x periods) tile that stays in L2, so
that the passes read contiguous columns instead of one cache line (and one page) per value.
The benchmark's terms (observed, up or down day, growth factor) are computed once and
added in branch-free. Nothing of the size of the input is ever allocated, each column's
numbers come from the same operations in the same order for any layout, block or thread
count (tested bit for bit), and the per-column statistics are finished with a few
vectorized NumPy lines.
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


@nb.njit(cache=True, nogil=True)
def _column(
    x: FloatArray,
    bench: FloatArray,
    has_bench: bool,
    rf_p: float,
    lows: FloatArray,
    order: npt.NDArray[np.int64],
    z_lo: float,
    z_hi: float,
    buf_lo: FloatArray,
    buf_hi: FloatArray,
    out: FloatArray,
    j: int,
) -> None:
    """Every statistic of one contiguous column `x`, written into ``out[:, j]``.

    `bench` is the benchmark's (periods x 6) terms from `_bench_terms` (unread unless
    `has_bench`); `order` lists `lows` from the widest tail to the narrowest.
    """
    n_rows = x.shape[0]
    n = 0.0
    s = 0.0
    s2 = 0.0
    mn = np.inf
    mx = -np.inf
    wealth = 1.0
    peak = 1.0
    worst = 0.0
    run = 0.0
    longest = 0.0
    ddsq = 0.0
    downsq = 0.0
    gain = 0.0
    loss = 0.0
    n_p = 0.0
    srp = 0.0
    sbp = 0.0
    nup = 0.0
    wupr = 1.0
    wupb = 1.0
    ndn = 0.0
    wdnr = 1.0
    wdnb = 1.0
    # ---- pass 1: counts, sums, compounding, drawdown, downside, benchmark pairs
    for t in range(n_rows):
        v = x[t]
        if math.isnan(v):  # no observation: flat, a drawdown carries on
            if wealth < peak:
                run += 1.0
                longest = max(longest, run)
            else:
                run = 0.0
            continue
        n += 1.0
        s += v
        s2 += v * v
        mn = min(mn, v)
        mx = max(mx, v)
        wealth *= 1.0 + v
        peak = max(peak, wealth)
        dd = wealth / peak - 1.0
        worst = min(worst, dd)
        ddsq += dd * dd
        # branch-free: max(longest, 0.0) is longest, so it can be taken on every period
        run = run + 1.0 if dd < 0.0 else 0.0
        longest = max(longest, run)
        # branch-free (min/max and selects): the sign of a return is a coin flip, and a
        # mispredicted branch per period would cost more than all the arithmetic here
        e = v - rf_p
        neg = min(e, 0.0)
        downsq += neg * neg
        loss -= neg
        gain += max(e, 0.0)
        if has_bench:  # selects over the benchmark's precomputed terms (`_bench_terms`)
            bt = bench[t]
            ok = bt[_B_OK] > 0.0
            n_p += bt[_B_OK]
            srp += v if ok else 0.0  # + 0.0 changes nothing: these sums are never -0.0
            sbp += bt[_B_VAL]
            nup += bt[_B_UP]
            ndn += bt[_B_DN]
            fr = 1.0 + v
            wupr *= fr if bt[_B_UP] > 0.0 else 1.0  # x 1.0 changes nothing
            wupb *= bt[_B_FUP]
            wdnr *= fr if bt[_B_DN] > 0.0 else 1.0
            wdnb *= bt[_B_FDN]
    mean = s / n if n > 0 else np.nan
    mrp = srp / n_p if n_p > 0 else np.nan
    mbp = sbp / n_p if n_p > 0 else np.nan
    # Tail candidates: observations beyond mean +- z * sd (sd from the raw sums, close
    # enough for a threshold); only those are partitioned for the quantiles.
    sd_approx = math.sqrt(max(s2 - s * mean, 0.0) / max(n - 1.0, 1.0)) if n > 0 else 0.0
    thr_lo = mean + z_lo * sd_approx
    thr_hi = mean + z_hi * sd_approx
    c_lo = 0
    c_hi = 0
    # ---- pass 2 (the column is in cache now): exact central sums, tail candidates
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    srr = 0.0
    sbb = 0.0
    srb = 0.0
    sact = 0.0
    for t in range(n_rows):
        v = x[t]
        if math.isnan(v):
            continue
        d = v - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
        buf_lo[c_lo] = v  # branch-free: always store, advance only past the threshold
        c_lo += v <= thr_lo
        buf_hi[c_hi] = -v  # negated: the largest become the smallest
        c_hi += v >= thr_hi
        if has_bench:
            bt = bench[t]
            ok = bt[_B_OK] > 0.0
            dr = v - mrp
            db = bt[_B_VAL] - mbp
            da = dr - db
            srr += dr * dr if ok else 0.0
            sbb += db * db if ok else 0.0
            srb += dr * db if ok else 0.0
            sact += da * da if ok else 0.0
    out[_N, j] = n
    out[_MEAN, j] = mean
    out[_M2, j] = m2
    out[_M3, j] = m3
    out[_M4, j] = m4
    out[_WEALTH, j] = wealth
    out[_WORST, j] = worst
    out[_LONGEST, j] = longest
    out[_DDSQ, j] = ddsq
    out[_DOWNSQ, j] = downsq
    out[_GAIN, j] = gain
    out[_LOSS, j] = loss
    out[_MIN, j] = mn
    out[_MAX, j] = mx
    out[_NP, j] = n_p
    out[_MRP, j] = mrp
    out[_MBP, j] = mbp
    out[_SRR, j] = srr
    out[_SBB, j] = sbb
    out[_SRB, j] = srb
    out[_SACT, j] = sact
    out[_NUP, j] = nup
    out[_WUPR, j] = wupr
    out[_WUPB, j] = wupb
    out[_NDN, j] = ndn
    out[_WDNR, j] = wdnr
    out[_WDNB, j] = wdnb
    # ---- tails: only the observations beyond a normal-based threshold get sorted
    ni = int(n)
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
    block: int,
    n_workers: int,
) -> FloatArray:
    """Statistics matrix (rows ``_N`` ... , one column per series), blocks of columns in parallel.

    `r` is (periods x series) C-contiguous, or, when `transposed`, (series x periods)
    C-contiguous (an F-ordered panel seen through ``.T``): columns are then read in place.
    Otherwise each block is first copied into a (block x periods) tile (`_load_tile`) so
    that both passes read one contiguous column from cache. `bench` holds `_bench_terms`.
    """
    n_rows = r.shape[1] if transposed else r.shape[0]
    n_cols = r.shape[0] if transposed else r.shape[1]
    out = np.empty((_FIXED + 2 * lows.shape[0], n_cols))
    n_blocks = (n_cols + block - 1) // block
    # `n_workers` workers (one per thread), each with its own buffers, taking every
    # n_workers-th block: the threads walk through memory side by side, nothing is allocated
    # per block, and each column's numbers are the same for any number of workers.
    order = np.argsort(-lows)  # the tails' order, once (was once per column: same sort)
    for w in nb.prange(n_workers):
        buf_lo = np.empty(n_rows + 1)
        buf_hi = np.empty(n_rows + 1)
        tile = np.empty((0, n_rows) if transposed else (block, n_rows))
        for bi in range(w, n_blocks, n_workers):
            j0 = bi * block
            j1 = min(j0 + block, n_cols)
            if not transposed:
                _load_tile(r, j0, j1, tile)
            for j in range(j0, j1):
                x = r[j] if transposed else tile[j - j0]
                _column(x, bench, has_bench, rf_p, lows, order, z_lo, z_hi, buf_lo, buf_hi, out, j)
    return out


@nb.njit(cache=True, nogil=True)
def _load_tile(r: FloatArray, j0: int, j1: int, tile: FloatArray) -> None:
    """Columns ``j0:j1`` of the C-ordered `r` into the rows of `tile` (a transposed copy).

    Eight rows at a time: their segments (whole cache lines) stay in L1 while each tile row
    gets its eight values, one cache line, at once.
    """
    n_rows = r.shape[0]
    t0 = 0
    while t0 < n_rows:
        t1 = min(t0 + 8, n_rows)
        for j in range(j0, j1):
            for t in range(t0, t1):
                tile[j - j0, t] = r[t, j]
        t0 = t1


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
        Read in place when C- or F-contiguous float64 (no copy).
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
    src = arr.T if transposed else arr
    st = (
        _summary_kernel(src, transposed, terms, has_bench, rf_p, lows, z_lo, z_hi, BLOCK_COLUMNS, workers)
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
