"""Fused sweep kernels: signals and simulation in one loop, no signal matrices.

The general sweep path (:mod:`quantdb.kernels.signals` then
:func:`quantdb.kernels.simulate.sweep_stats`) materializes two boolean ``(dates, columns)``
matrices per chunk and walks them again in the simulation. For the moving-average cross the
signals of a column are cheap to recompute on the fly from a *per-ticker* cumulative sum, so
:func:`sma_cross_stats` runs one numba loop per (ticker, parameter set) column that computes
both SMAs, detects the crossings and simulates the position bar by bar, keeping only the
per-column statistics.

Same results. The loop is the independent-columns branch of
``quantdb.kernels.simulate._run_nb`` restricted to the settings :func:`fast_path_supported`
accepts (long only, market orders, no stop, target, trailing stop or time exit, sizing
``shares``, ``cash`` or ``equity``), phase by phase with the same floating-point operations in
the same order (order sizes and fees through the same :mod:`quantdb.kernels.sizing`
functions); the only rewrites are ones that provably give the same bits (a flat bar with
unchanged equity adds ``+0.0`` to the Sharpe sums, ``x / x - 1`` is exactly ``+0.0``, a new
peak never passes the drawdown test). The SMAs and crossings follow
:func:`quantdb.kernels.signals.rolling_mean` and ``crossed_above`` exactly (the same
cumulative sums, the tie rule included), over each ticker's own bars: a date without a close
is skipped by the windows and the crossings, as :class:`quantdb.kernels.signals.OwnBars`
does for the general path. The results are therefore bit-identical to the
general path; ``tests/unit/kernels/test_fastsweep.py`` checks that on random grids and every
supported setting.

Speed: per ticker the distinct windows' SMAs are computed once (from one cumulative sum,
`_sma_row`: vector divisions), then each parameter set's crossings at the ticker's own bars
(`_crossings`: one vector pass when the two SMAs never tie) and one pass over the dates; one call per chunk, one numba
specialization, serial (``parallel=True`` measured no faster on the shared 2-core machine,
and sweep workers are already processes). The loop releases the GIL (``nogil``; it touches no
Python object): while a one-worker sweep computes its chunks in the driver's thread, another
thread of the driver loads what the best sets' backtests need
(`quantdb.services.research.sweep`). The numbers do not depend on it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quantdb._typing import BoolArray, FloatArray, IntArray
from quantdb.errors import ArgumentError
from quantdb.kernels.margin import position_margin_call
from quantdb.kernels.simulate import SweepStats
from quantdb.kernels.sizing import affordable, market_fill, order_fee, order_size
from quantdb.settings import (
    P_CASH,
    P_CFIX,
    P_CFRAC,
    P_CMIN,
    P_CPS,
    P_MAXW,
    P_MMARGIN,
    P_SIZEV,
    P_SLIP,
    P_SLIPR,
    Q_FILL,
    Q_FRAC,
    Q_SIZING,
    SettingsError,
    SimSettings,
    pack_settings,
)

__all__ = ["FUSED_STRATEGIES", "fast_path_supported", "sma_cross_stats"]

FUSED_STRATEGIES: tuple[str, ...] = ("sma-cross",)
"""Registered strategy names that have a fused kernel here."""

_SIZINGS = ("shares", "cash", "equity")


def fast_path_supported(strategy: str, settings: SimSettings | None) -> bool:
    """Whether a fused kernel gives the results of the general path for this strategy and
    these settings (independent columns).

    Supported: long only, market orders filled at the next open or the close, any commission
    and slippage, sizing ``shares``, ``cash`` or ``equity`` (floor or fractional, with or
    without ``max_weight``), and no stop-loss, take-profit, trailing stop or ``max_hold_bars``.
    Short borrow, portfolio limits, ATR and Kelly settings play no part there.
    """
    st = settings or SimSettings()
    return (
        strategy in FUSED_STRATEGIES
        and st.direction == "long"
        and st.order_type == "market"
        and st.sizing in _SIZINGS
        and st.stop_loss is None
        and st.take_profit is None
        and st.trailing_stop is None
        and st.max_hold_bars is None
    )


@njit(cache=True, error_model="numpy")
def _sma_row(out: FloatArray, cs: FloatArray, nb: int, w: int) -> None:  # pragma: no cover - numba
    """``signals.rolling_mean`` of window ``w`` at each of the ticker's own bars ``0..nb-1``,
    from the cumulative sum ``cs`` of its own closes: NaN before the ``w``-th bar, then
    ``cs[w - 1] / w``, then ``(cs[j] - cs[j - w]) / w``.

    The same subtraction and division per bar as a per-bar function with the three cases as
    branches, so the same bits; split into three plain loops, the last (nearly every bar) has
    no branch and compiles to vector divisions. It ran once per window, ticker and chunk, a
    third of a sweep chunk's time with the branches.
    """
    wf = float(w)  # the division's conversion of w, done once (exact: w < 2**53)
    for j in range(min(w - 1, nb)):
        out[j] = np.nan
    if w - 1 < nb:
        out[w - 1] = cs[w - 1] / wf
    for j in range(w, nb):
        out[j] = (cs[j] - cs[j - w]) / wf


@njit(cache=True, error_model="numpy")
def _crossings(fa: FloatArray, sa: FloatArray, nb: int, ent: BoolArray, ext: BoolArray) -> None:  # pragma: no cover - numba
    """Entry and exit signals of one parameter set at each of the ticker's own bars ``0..nb-1``
    (``signals.crossed_above`` of the fast SMA over the slow one, and of the slow over the fast).

    The rule, bar by bar: above now, and below at the previous bar, or equal there with a bar
    strictly below since the last NaN. Without an exact tie (``fa == sa``) on any bar that is
    simply ``above[j] & below[j - 1]`` (NaN SMAs compare False both ways): one branch-free
    pass that compiles to vector compares. With a tie the bar-by-bar recurrence runs. The
    same booleans either way (``tests/unit/kernels/test_fastsweep.py``).
    """
    tie = False
    for j in range(nb):
        tie |= fa[j] == sa[j]
    if nb > 0:
        ent[0] = False
        ext[0] = False
    if not tie:
        for j in range(1, nb):
            ent[j] = (fa[j] > sa[j]) & (fa[j - 1] < sa[j - 1])
            ext[j] = (fa[j] < sa[j]) & (fa[j - 1] > sa[j - 1])
        return
    # crossing state of the previous bar, both ways
    p_above, p_below, p_equal, p_wb, p_wa = False, False, False, False, False
    for j in range(nb):
        a = fa[j]
        b = sa[j]
        above = a > b  # all three False when a or b is NaN
        below = a < b
        equal = a == b
        ent[j] = above & (p_below | (p_equal & p_wb))
        ext[j] = below & (p_above | (p_equal & p_wa))
        valid_ab = above | below | equal  # strictly below / above since a NaN
        p_wb = valid_ab & (p_wb | below)
        p_wa = valid_ab & (p_wa | above)
        p_above, p_below, p_equal = above, below, equal


@njit(cache=True, error_model="numpy", nogil=True)
def _sma_cross_nb(opn: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray,
                  wins: IntArray, fast: IntArray, slow: IntArray, p: FloatArray, q: IntArray,
                  out_f: FloatArray, out_i: IntArray) -> None:  # pragma: no cover - numba
    """Every (parameter set ``j``, ticker ``t``) column ``j * k + t``: SMA cross signals and
    the long-only market-order simulation of ``simulate._run_nb``, statistics on the fly.

    Prices are ``(dates, tickers)``; ``wins`` the distinct windows, ``fast``/``slow`` indexes
    into it; ``p`` = (cash, commission, per share, fixed, minimum, slippage fraction,
    slippage range fraction, sizing value, max weight), ``q`` = (fill at close, sizing code,
    fractional). Writes ``out_f`` = (final cash, max drawdown as a positive loss (negated
    into SweepStats), first return, sum of
    ``r - r0``, sum of its square) and ``out_i`` = (trades, returns counted, bankruptcy bar
    or -1) per column.
    """
    n, k = close.shape
    cash0, cfrac, cps, cfix, cmin = p[P_CASH], p[P_CFRAC], p[P_CPS], p[P_CFIX], p[P_CMIN]
    slip, slipr, sizev, maxw = p[P_SLIP], p[P_SLIPR], p[P_SIZEV], p[P_MAXW]
    mm = p[P_MMARGIN]
    fill_close = q[Q_FILL] == 1
    mode = q[Q_SIZING]
    frac = q[Q_FRAC] == 1
    ma = np.empty((wins.shape[0], n))
    xs = np.empty(n)  # the ticker's closes, contiguous
    ls = np.empty(n)  # and lows (the margin of a long: simulate._run_nb's rule)
    cs = np.empty(n)  # cumulative sum of its own closes (its bars: the rows with a close)
    ents = np.empty(n, dtype=np.bool_)  # one set's entry and exit signals at the ticker's
    exts = np.empty(n, dtype=np.bool_)  # own bars (`_crossings`)
    rows = np.empty(n, dtype=np.int64)  # the row of each of the ticker's own bars
    for t in range(k):
        acc, nb, last = 0.0, 0, -1  # last: the row of the ticker's last bar (its end)
        lowneg = False
        for i in range(n):
            v = close[i, t]
            xs[i] = v
            ls[i] = low[i, t]
            if ls[i] < 0.0:
                lowneg = True
            if not np.isnan(v):
                acc += v
                cs[nb] = acc
                rows[nb] = i
                nb += 1
                last = i
        for u in range(wins.shape[0]):  # each distinct window once per ticker, on its bars
            _sma_row(ma[u], cs, nb, wins[u])
        for j in range(fast.shape[0]):
            fa, sa = ma[fast[j]], ma[slow[j]]
            pos, cash, mark = 0.0, cash0, np.nan
            pentry, pexit = False, False
            prev, peak, mdd = cash0, cash0, 0.0
            r0, sum_d, sum_d2, nret, ntr = 0.0, 0.0, 0.0, 0, 0
            bank = -1
            _crossings(fa, sa, nb, ents, exts)  # the signals at the ticker's own bars
            jb = 0  # the ticker's own bar index
            skip = 0  # rows before it were passed over, flat (below)
            for i in range(n):
                if i < skip:
                    continue
                x = xs[i]
                if np.isnan(x):  # no bar: no signal (the crossings skip the date)
                    ent = False
                    ext = False
                else:
                    ent = ents[jb]
                    ext = exts[jb]
                    jb += 1

                quiet = not (i == last or np.isnan(x) or pentry or pexit)
                dead = False
                if quiet:
                    quiet = not ent if pos == 0.0 else not ext
                if quiet and pos != 0.0 and (cash <= 0.0 or lowneg):  # the margin of a long
                    o, h, lo = opn[i, t], high[i, t], ls[i]
                    quiet = np.isnan(o) or np.isnan(h) or np.isnan(lo) or not (
                        position_margin_call(cash, pos, lo, mm))
                if quiet:
                    mark = x
                else:  # the phases of simulate._step that can run under these settings
                    o, h, lo = opn[i, t], high[i, t], ls[i]
                    valid = not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x))
                    if pexit and valid:  # 1: exit signalled at i - 1, at the open
                        if pos != 0.0:
                            fp = market_fill(o, -np.sign(pos), h, lo, slip, slipr)
                            fee = order_fee(abs(pos) * fp, pos, cfrac, cps, cfix, cmin)
                            cash += pos * fp - fee
                            ntr += 1
                            pos = 0.0
                        pexit = False
                    if pentry and valid:  # 2: entry signalled at i - 1, at the open
                        if pos == 0.0:
                            fp = market_fill(o, 1.0, h, lo, slip, slipr)
                            size = order_size(mode, sizev, frac, cash, fp, cfrac, cps, cfix,
                                              0.0, maxw)
                            size = affordable(size, fp, cash, frac, cfrac, cps, cfix, cmin)
                            if size > 0.0:
                                fee = order_fee(size * fp, size, cfrac, cps, cfix, cmin)
                                cash -= 1.0 * size * fp + fee
                                pos = 1.0 * size
                        pentry = False
                    if pos != 0.0 and valid and position_margin_call(cash, pos, lo, mm):
                        # 3: the margin call at the low: liquidated there, slipped
                        fp = market_fill(lo, -np.sign(pos), h, lo, slip, slipr)
                        fee = order_fee(abs(pos) * fp, pos, cfrac, cps, cfix, cmin)
                        cash += pos * fp - fee
                        ntr += 1
                        pos = 0.0
                        dead = True
                    if pos != 0.0 and not dead:  # 4: signal exit, end of data
                        if not valid:
                            if i >= last:  # delisted: close at the last mark
                                fp = market_fill(mark, -np.sign(pos), mark, mark, slip, slipr)
                                fee = order_fee(abs(pos) * fp, pos, cfrac, cps, cfix, cmin)
                                cash += pos * fp - fee
                                ntr += 1
                                pos = 0.0
                                pexit = False
                        else:
                            side = -np.sign(pos)
                            if ext:
                                if fill_close:
                                    fp = market_fill(x, side, h, lo, slip, slipr)
                                    fee = order_fee(abs(pos) * fp, pos, cfrac, cps, cfix, cmin)
                                    cash += pos * fp - fee
                                    ntr += 1
                                    pos = 0.0
                                    pexit = False
                                elif i < last:
                                    pexit = True
                            if i == last and pos != 0.0:
                                fp = market_fill(x, side, h, lo, slip, slipr)
                                fee = order_fee(abs(pos) * fp, pos, cfrac, cps, cfix, cmin)
                                cash += pos * fp - fee
                                ntr += 1
                                pos = 0.0
                                pexit = False
                    if not np.isnan(x) and not dead:  # 5: signal entry, marking
                        if not ent:
                            mark = x
                        elif valid:
                            if (pos == 0.0 or pexit) and i < last and not ext:
                                if fill_close:
                                    fp = market_fill(x, 1.0, h, lo, slip, slipr)
                                    size = order_size(mode, sizev, frac, cash, fp, cfrac, cps,
                                                      cfix, 0.0, maxw)
                                    size = affordable(size, fp, cash, frac, cfrac, cps, cfix,
                                                      cmin)
                                    if size > 0.0:
                                        fee = order_fee(size * fp, size, cfrac, cps, cfix, cmin)
                                        cash -= 1.0 * size * fp + fee
                                        pos = 1.0 * size
                                else:
                                    pentry = True
                            mark = x
                    if not dead and cash + (pos * mark if pos != 0.0 else 0.0) <= 0.0:
                        dead = True  # costs at the close took the equity to zero
                        if pos != 0.0:
                            if np.isnan(x):
                                fp = market_fill(mark, -np.sign(pos), mark, mark, slip, slipr)
                            else:
                                fp = market_fill(x, -np.sign(pos), h, lo, slip, slipr)
                            fee = order_fee(abs(pos) * fp, pos, cfrac, cps, cfix, cmin)
                            cash += pos * fp - fee
                            ntr += 1
                            pos = 0.0
                    if dead:  # bankrupt (simulate._bankrupt): cash floored, nothing pending
                        cash = max(cash, 0.0)
                        pentry, pexit = False, False
                        bank = i
                if pos == 0.0 and cash == prev and r0 == 0.0 and prev > 0.0 and not dead:
                    # flat, equity unchanged: r = 0, dr = +0.0 leaves both sums as they are
                    # (they start at +0.0 so are never -0.0) and the peak and drawdown too
                    nret += 1
                    if not (pentry or pexit):
                        # and nothing pending: every row up to the next entry signal is such a
                        # bar too (a bar without entry signal, or a date without a bar, flat,
                        # changes nothing but the count and the mark), so they are passed over
                        # at once, to that signal's row (or the end)
                        je = jb
                        while je < nb and not ents[je]:
                            je += 1
                        stop = rows[je] if je < nb else n
                        if stop > i + 1:
                            nret += stop - i - 1
                            if je > jb:
                                mark = xs[rows[je - 1]]
                            jb = je
                            skip = stop
                    continue
                val = pos * mark if pos != 0.0 else 0.0
                eq = cash + val
                if prev > 0.0:  # simulate._run_nb's tracking, same values
                    r = eq / prev - 1.0  # = +0.0 when eq == prev (x / x is exactly 1)
                    if nret == 0:
                        r0 = r
                    nret += 1
                    dr = r - r0
                    sum_d += dr
                    sum_d2 += dr * dr
                prev = eq
                # a new peak (eq > 0) never passes the drawdown test: max() first, no branch
                peak = max(peak, eq)
                if eq < peak * (1.0 - mdd):
                    mdd = 1.0 - eq / peak
                if dead:  # flat to the end: a zero return a bar, peak and drawdown unchanged
                    for _ in range(i + 1, n):
                        nret += 1
                        dr = 0.0 - r0
                        sum_d += dr
                        sum_d2 += dr * dr
                    break
            c = j * k + t
            out_f[0, c] = cash
            out_f[1, c] = mdd
            out_f[2, c] = r0
            out_f[3, c] = sum_d
            out_f[4, c] = sum_d2
            out_i[0, c] = ntr
            out_i[1, c] = nret
            out_i[2, c] = bank


def _windows(w: FloatArray) -> IntArray:
    bad = (w < 1) | (w != np.floor(w))
    if bad.any():  # the message of signals.sma_cross
        msg = f"window must be a whole number >= 1, got {w[bad][0]}"
        raise ArgumentError(msg)
    return np.ascontiguousarray(w, dtype=np.int64)


def sma_cross_stats(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray,
    fast: FloatArray | float, slow: FloatArray | float, /, *,
    settings: SimSettings | None = None, periods_per_year: float = 252.0,
) -> SweepStats:
    """Per-column statistics of the SMA-cross sweep, fused: equal to
    ``sweep_stats(open_, high, low, close, *signals.sma_cross(close, fast, slow), ...)``;
    ``max_drawdown`` is a negative fraction in [-1, 0].

    Parameters
    ----------
    open_, high, low, close : ``(dates, tickers)`` prices (1-D for one ticker).
    fast, slow : paired windows, one per parameter set (column ``p * tickers + t``).
    settings : must satisfy :func:`fast_path_supported`.

    Raises
    ------
    SettingsError
        unsupported settings, or prices of different shapes.
    ValueError
        a window that is not a whole number >= 1.
    """
    st = settings or SimSettings()
    if not fast_path_supported("sma-cross", st):
        msg = ("settings not supported by the fused kernel (needs long only, market orders, "
               f"no stops or time exit, sizing in {_SIZINGS}), got {st!r}: use sweep_stats")
        raise SettingsError(msg)
    arrs = []
    for a in (open_, high, low, close):
        v = np.asarray(a, dtype=np.float64)
        arrs.append(v[:, None] if v.ndim == 1 else v)
    c = arrs[3]
    if c.ndim != 2 or any(v.shape != c.shape for v in arrs):
        msg = ("open, high, low and close must share one (dates, tickers) shape, got "
               f"{[v.shape for v in arrs]}")
        raise SettingsError(msg)
    f, s = np.broadcast_arrays(np.atleast_1d(np.asarray(fast, dtype=np.float64)),
                               np.atleast_1d(np.asarray(slow, dtype=np.float64)))
    wins, inv = np.unique(np.concatenate([_windows(f), _windows(s)]), return_inverse=True)
    fi = np.ascontiguousarray(inv[: len(f)], dtype=np.int64)  # index of each window in wins
    si = np.ascontiguousarray(inv[len(f):], dtype=np.int64)
    n, k = c.shape
    opn, high_, low_, close_ = (np.ascontiguousarray(v) for v in arrs)  # one specialization
    p, q = pack_settings(st, n_tickers=k)
    m = len(fi) * k
    out_f = np.zeros((5, m))
    out_i = np.zeros((3, m), dtype=np.int64)
    out_i[2] = -1
    if n > 0 and m > 0:
        _sma_cross_nb(opn, high_, low_, close_, wins, fi, si, p, q, out_f, out_i)
    final = out_f[0]
    nret = out_i[1]
    # the statistics of simulate._run, expression for expression
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_d = out_f[3] / nret
        var = np.maximum(out_f[4] - nret * mean_d**2, 0.0) / (nret - 1)
        std = np.sqrt(var)
        mean = out_f[2] + mean_d
        sharpe = np.where((nret > 1) & (std > 1e-14 * np.abs(mean) + 1e-300), mean / std,
                          np.nan) * np.sqrt(periods_per_year)
    return SweepStats(
        final_equity=final,
        total_return=final / st.cash - 1.0,
        sharpe=sharpe,
        max_drawdown=0.0 - out_f[1],  # the kernel keeps it positive; SweepStats' is negative
        n_trades=out_i[0].copy(),
        ambiguous_exits=np.zeros(m, dtype=np.int64),
        bankrupt=out_i[2] >= 0,
        bankrupt_bar=out_i[2].copy(),
    )
