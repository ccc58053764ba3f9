"""Drawdown kernels: drawdown series, maximum drawdown, the drawdown table, time under water.

Conventions (see ``docs/metrics.md``):

* Input is simple returns, 1-D or (periods x series), processed column by column.
* NaN means "no observation": the equity curve is flat through it (the drawdown carries).
* Wealth starts at 1.0 *before* the first return, so a loss on the first day is a drawdown
  (as QuantStats and empyrical-reloaded do; older empyrical missed it).
* A drawdown is a **negative** fraction in [-1, 0] (``-0.25`` = 25 % below the peak) as
  QuantStats and empyrical return it. Returns below -100 % make wealth negative; the
  drawdown is then below -1 and means nothing: returns are expected to be >= -1.
* Durations are counted in periods (rows), NaN rows included: a gap does not end a drawdown.
* A column with no observation gives NaN.

:func:`drawdown_stats` is the fused numba kernel used by ``summary_metrics``: one pass over a
(periods x series) matrix, row by row (the memory order of a C-contiguous panel), with a few
per-column state vectors and no wealth matrix.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
import numpy.typing as npt

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.kernels.columns import as_2d, finish

__all__ = [
    "drawdown_series",
    "drawdown_stats",
    "drawdown_table",
    "max_drawdown",
    "time_under_water",
    "ulcer_index",
]


@nb.njit(cache=True, nogil=True)
def _drawdown_stats_kernel(r: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One pass, row by row: max drawdown, longest run under water, ulcer index per column."""
    n_rows, n_cols = r.shape
    wealth = np.ones(n_cols)
    peak = np.ones(n_cols)
    worst = np.zeros(n_cols)
    run = np.zeros(n_cols)
    longest = np.zeros(n_cols)
    sumsq = np.zeros(n_cols)
    nobs = np.zeros(n_cols)
    for t in range(n_rows):
        for j in range(n_cols):
            x = r[t, j]
            if not math.isnan(x):  # observed
                w = wealth[j] * (1.0 + x)
                wealth[j] = w
                p = max(peak[j], w)
                peak[j] = p
                dd = w / p - 1.0
                worst[j] = min(worst[j], dd)
                sumsq[j] += dd * dd
                nobs[j] += 1.0
                under = dd < 0.0
            else:  # flat: the drawdown carries, the period still counts as under water
                under = wealth[j] < peak[j]
            if under:
                run[j] += 1.0
                longest[j] = max(longest[j], run[j])
            else:
                run[j] = 0.0
    ulcer = np.empty(n_cols)
    for j in range(n_cols):
        if nobs[j] == 0.0:
            worst[j] = np.nan
            longest[j] = np.nan
            ulcer[j] = np.nan
        else:
            ulcer[j] = np.sqrt(sumsq[j] / nobs[j])
    return worst, longest, ulcer


def drawdown_stats(returns: npt.ArrayLike, /) -> tuple[Any, Any, Any]:
    """Maximum drawdown, longest drawdown (periods) and ulcer index in one pass.

    The fused kernel: it walks the (periods x series) matrix once, row by row, keeping
    wealth, peak, worst drawdown, current and longest run and the sum of squared drawdowns
    for each column, so no wealth or drawdown matrix is ever allocated.

    Parameters
    ----------
    returns : array_like
        Simple returns, 1-D or (periods x series). NaN = no observation (flat).

    Returns
    -------
    (max_drawdown, longest_drawdown_periods, ulcer_index)
        Floats for 1-D input, one value per column for 2-D input. ``max_drawdown`` is a
        negative fraction; the ulcer index is ``sqrt(mean(drawdown ** 2))`` over observed
        periods (Martin's definition, as a fraction).

    Examples
    --------
    >>> mdd, longest, ulcer = drawdown_stats([-0.5, 0.5, 0.5])
    >>> float(mdd), float(longest)
    (-0.5, 2.0)
    """
    arr, one_d = as_2d(returns)
    worst, longest, ulcer = _drawdown_stats_kernel(arr)
    return finish(worst, one_d), finish(longest, one_d), finish(ulcer, one_d)


def drawdown_series(returns: npt.ArrayLike, /) -> FloatArray:
    """Drawdown at every period: ``wealth / running_peak - 1`` (negative fraction or 0).

    Wealth starts at 1.0 before the first return (so a first-day loss shows), NaN periods
    are flat (the drawdown carries through them); an all-NaN column stays NaN.

    Examples
    --------
    >>> drawdown_series([-0.1, 0.05, 0.1]).round(4).tolist()
    [-0.1, -0.055, 0.0]
    """
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim not in (1, 2):
        msg = f"returns must be 1-D or 2-D (periods x series), got {arr.ndim}-D"
        raise ArgumentError(msg)
    wealth = np.cumprod(1.0 + np.nan_to_num(arr, nan=0.0), axis=0)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)
    out: FloatArray = wealth / peak - 1.0
    empty = np.all(np.isnan(arr), axis=0)
    if np.any(empty):
        out[..., empty] = np.nan
    return out


def max_drawdown(returns: npt.ArrayLike, /) -> Any:
    """Worst peak-to-trough loss of compounded simple `returns`, as a negative fraction.

    Parameters
    ----------
    returns : array_like
        Simple returns, 1-D or (periods x series). NaN = no observation (flat).

    Returns
    -------
    float or ndarray
        In [-1, 0] for returns >= -1; NaN for a column with no observation.

    Examples
    --------
    >>> float(max_drawdown([-0.1, 0.2, -0.5]))
    -0.5
    >>> float(max_drawdown([0.01, 0.02]))
    0.0
    """
    return drawdown_stats(returns)[0]


def time_under_water(returns: npt.ArrayLike, /) -> Any:
    """Longest drawdown: the longest run of consecutive periods below the running peak.

    Counted in periods (rows; NaN rows inside a drawdown count). An unrecovered drawdown
    counts up to the last period.

    Examples
    --------
    >>> float(time_under_water([0.1, -0.1, 0.05, 0.1, -0.01]))
    2.0
    """
    return drawdown_stats(returns)[1]


def ulcer_index(returns: npt.ArrayLike, /) -> Any:
    """Ulcer index (Martin, 1987): root mean square of the drawdown over observed periods.

    As a fraction (Martin quotes percent). QuantStats divides by ``n - 1`` instead of ``n``;
    multiply ours by ``sqrt(n / (n - 1))`` to get its figure.

    Examples
    --------
    >>> round(float(ulcer_index([-0.1, 0.0])), 6)
    0.1
    """
    return drawdown_stats(returns)[2]


@nb.njit(cache=True)
def _episodes(
    r: FloatArray,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    FloatArray,
]:
    """Every drawdown episode of one column: peak, start, valley, recovery (-1 if none), depth."""
    n = r.shape[0]
    peaks = []
    starts = []
    valleys = []
    recoveries = []
    depths = []
    wealth = 1.0
    peak = 1.0
    peak_i = -1  # -1: the initial capital before the first return
    in_dd = False
    valley_i = -1
    depth = 0.0
    for t in range(n):
        x = r[t]
        if not math.isnan(x):
            wealth *= 1.0 + x
        if wealth >= peak:
            if in_dd:
                peaks.append(peak_i)
                valleys.append(valley_i)
                recoveries.append(t)
                depths.append(depth)
                in_dd = False
            peak = wealth
            peak_i = t
        else:
            dd = wealth / peak - 1.0
            if not in_dd:
                in_dd = True
                starts.append(t)
                depth = dd
                valley_i = t
            elif dd < depth:
                depth = dd
                valley_i = t
    if in_dd:
        peaks.append(peak_i)
        valleys.append(valley_i)
        recoveries.append(-1)
        depths.append(depth)
    m = len(starts)
    a = np.empty(m, dtype=np.int64)
    b = np.empty(m, dtype=np.int64)
    c = np.empty(m, dtype=np.int64)
    d = np.empty(m, dtype=np.int64)
    e = np.empty(m)
    for i in range(m):
        a[i] = peaks[i]
        b[i] = starts[i]
        c[i] = valleys[i]
        d[i] = recoveries[i]
        e[i] = depths[i]
    return a, b, c, d, e


def drawdown_table(
    returns_1d: npt.ArrayLike,
    /,
    dates: npt.ArrayLike | None = None,
    top: int = 5,
) -> dict[str, npt.NDArray[Any]]:
    """The `top` deepest drawdown episodes of one return series, deepest first.

    Parameters
    ----------
    returns_1d : array_like
        Simple returns of one series. NaN = no observation (flat).
    dates : array_like, optional
        One date per period; when given, ``peak``, ``start``, ``valley`` and ``recovery``
        are ``datetime64[D]`` (NaT where undefined) instead of period indices.
    top : int
        How many episodes to keep (all when ``top <= 0``).

    Returns
    -------
    dict of str to ndarray
        ``peak``: last period at the high-water mark (NaN/NaT when the peak is the initial
        capital, before the first return); ``start``: first period under water; ``valley``:
        period of the trough; ``recovery``: first period back at or above the peak (NaN/NaT
        if unrecovered); ``depth``: trough drawdown, negative fraction; ``duration``:
        periods under water (``recovery - start``; up to the end, inclusive, if
        unrecovered); ``recovery_periods``: ``recovery - valley`` (NaN if unrecovered).
        Indices are float64 so that NaN can mark an undefined one.

    Examples
    --------
    >>> t = drawdown_table([0.1, -0.2, 0.1, 0.2, -0.05])
    >>> t["depth"].round(3).tolist(), t["duration"].tolist()
    ([-0.2, -0.05], [2.0, 1.0])
    """
    arr = np.asarray(returns_1d, dtype=np.float64)
    if arr.ndim != 1:
        msg = f"drawdown_table takes one series (1-D returns), got {arr.ndim}-D"
        raise ArgumentError(msg)
    peaks, starts, valleys, recoveries, depths = _episodes(arr)
    order = np.argsort(depths, kind="stable")
    if top > 0:
        order = order[:top]
    n = arr.shape[0]
    peak_f = peaks[order].astype(np.float64)
    peak_f[peak_f < 0] = np.nan
    rec_f = recoveries[order].astype(np.float64)
    rec_f[rec_f < 0] = np.nan
    start_f = starts[order].astype(np.float64)
    valley_f = valleys[order].astype(np.float64)
    end = np.where(np.isnan(rec_f), n, rec_f)
    table: dict[str, npt.NDArray[Any]] = {
        "peak": peak_f,
        "start": start_f,
        "valley": valley_f,
        "recovery": rec_f,
        "depth": depths[order],
        "duration": end - start_f,
        "recovery_periods": rec_f - valley_f,
    }
    if dates is not None:
        d = np.asarray(dates).astype("datetime64[D]")
        if d.shape != arr.shape:
            msg = f"dates must have one entry per period ({n}), got {d.shape[0]}"
            raise ArgumentError(msg)
        for key in ("peak", "start", "valley", "recovery"):
            idx = table[key]
            out = np.full(idx.shape, np.datetime64("NaT"), dtype="datetime64[D]")
            ok = ~np.isnan(idx)
            out[ok] = d[idx[ok].astype(np.int64)]
            table[key] = out
    return table
