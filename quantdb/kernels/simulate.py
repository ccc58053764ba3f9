"""Order simulation: one numba kernel over (dates x columns), plain loops, per-column state.

Two modes share the kernel. *Independent columns* (``simulate(..., portfolio=False)`` and
:func:`sweep_stats`): every column is its own backtest with its own cash, and per-column
final equity, Sharpe, max drawdown and trade count are accumulated on the fly, so a sweep of
thousands of columns never stores an equity curve. *Portfolio* (``portfolio=True``): one
shared cash balance, at most ``max_positions`` open positions and ``max_weight`` of equity
per position; columns are served in column order when orders compete on a bar.

Columns and tickers. Prices are ``(dates, tickers)``; signals are ``(dates, columns)`` with
``columns = n_params * n_tickers`` and the ticker of column ``c`` is ``c % n_tickers`` (the
layout of :mod:`quantdb.kernels.signals`), so a sweep never tiles its prices.

Own bars. A date without a close is a date the ticker has no bar (the tickers share one date
axis): nothing fills, no stop or target is checked, a pending order waits for the ticker's
next bar, and an open position is marked at its last close. Time is counted in the ticker's
own bars: ``max_hold_bars``, a limit or stop order's ``order_tif_bars`` and a trade's
``bars_held``; and a ticker's last bar is its own last bar with a close (where its open
positions close, reason ``end``, and no entry is taken), not the panel's last date. So a
column's trades never depend on the other tickers of the panel.

Timeline of one bar ``i`` (the same in both modes; in portfolio mode each step runs over all
columns before the next, so exits free cash and slots before entries use them):

1. at the open: exits signalled at ``i - 1`` (``fill="next-open"``), at ``open[i]``;
2. at the open: market entries signalled at ``i - 1``, at ``open[i]``;
3. inside the bar: limit / stop entries (time in force ``order_tif_bars``; a gap through the
   level fills at the open; a new entry signal while one is pending replaces it, at the new
   close's level with a fresh time in force, as backtesting.py's ``exclusive_orders``), then stop-loss, trailing stop and take-profit against ``low`` and
   ``high`` (a gap through a level fills at the open; when the stop and the target both lie
   inside the range the order is unknown: ``ambiguous`` decides, and the exit is counted).
   A market entry filled at this bar's open is checked too (as backtesting.py does); a
   position opened by a limit/stop order inside this bar is not (the order is unknown);
4. at the close: time exits (``max_hold_bars``), signal exits (``fill="close"``, or scheduled
   for the next open), and on the last bar every open position closes (reason ``end``);
5. at the close: signal entries (``fill="close"``, or scheduled), short borrow, marking.

No entry is taken on the bar a stop or target closed the column (as vectorbt), nor when an
entry and an exit signal of the same side coincide (vectorbt's ``ConflictMode.Ignore``), nor
on the last bar. Stop levels are fractions of the *market* fill price (before slippage), which
is vectorbt's default ``StopEntryPrice.Close`` when filling at the close. Market fills, stop and
trailing exits pay slippage; limit fills and take-profit exits fill at their level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from quantdb._typing import BoolArray, FloatArray, IntArray
from quantdb.errors import ArgumentError
from quantdb.kernels.margin import margin_call, position_margin_call
from quantdb.kernels.sizing import (
    affordable,
    close_position,
    market_fill,
    order_fee,
    order_size,
    sizing_value,
    tally,
)
from quantdb.settings import (
    P_ATRM,
    P_BORROW,
    P_CFIX,
    P_CFRAC,
    P_CMIN,
    P_CPS,
    P_KCAP,
    P_KMIN,
    P_MAXW,
    P_MMARGIN,
    P_OFFSET,
    P_SIZEV,
    P_SL,
    P_SLIP,
    P_SLIPR,
    P_TP,
    P_TS,
    Q_AMBIG,
    Q_DIR,
    Q_FILL,
    Q_FRAC,
    Q_MAXHOLD,
    Q_MAXPOS,
    Q_ORDER,
    Q_RECORD,
    Q_SHARED,
    Q_SIZING,
    Q_TIF,
    RISK,
    SimSettings,
    pack_settings,
)

__all__ = [
    "EXIT_REASONS",
    "TRADE_DTYPE",
    "SimResult",
    "SweepStats",
    "simulate",
    "sweep_stats",
]


EXIT_REASONS = ("signal", "stop", "target", "trailing", "time", "end", "liquidation")
SIGNAL, STOP, TARGET, TRAILING, TIME, END, LIQUIDATION = range(7)
_REASON = np.arange(7, dtype=np.int64)  # passed as _REASON[STOP]: int64, not 7 literal types

TRADE_DTYPE = np.dtype(
    [
        ("column", np.int64), ("entry_index", np.int64), ("exit_index", np.int64),
        ("entry_price", np.float64), ("exit_price", np.float64), ("size", np.float64),
        ("pnl", np.float64), ("return", np.float64), ("fees", np.float64),
        ("exit_reason", np.int64), ("bars_held", np.int64),
    ]
)

# ---- packed settings: the one layout of quantdb.settings (P_* floats, Q_* ints) --------
# ---- per-column state --------------------------------------------------------------------
PX_OWN = 4  # plane of px after open, high, low, close: the ticker's own bar count - 1, per row
(S_POS, S_EPX, S_REF, S_PEAK, S_FEES, S_LVL, S_MARK, S_CASH, S_PREV, S_RMEAN, S_RM2, S_EQPK,
 S_MDD, S_WINS, S_WSUM, S_LOSS, S_LSUM, S_R0, NS_) = range(19)
(I_ENTRY, I_PEXIT, I_PENTRY, I_PDIR, I_PEXP, I_NTR, I_AMB, I_NRET, I_STOPBAR, I_INTRA,
 I_NOPEN, I_NSHORT, I_BANK, NI_) = range(14)


@njit(cache=True, error_model="numpy")
def _slipped(px: float, side: float, hi: float, lo: float,
             p: FloatArray) -> float:  # pragma: no cover - numba
    """Fill price of a market order (`sizing.market_fill` with the packed slippage settings)."""
    return market_fill(px, side, hi, lo, p[P_SLIP], p[P_SLIPR])


@njit(cache=True, error_model="numpy")
def _exit(c: int, i: int, px: float, reason: int, s: FloatArray, si: IntArray, ci: int,
          p: FloatArray, q: IntArray, rec_f: FloatArray, rec_i: IntArray,
          nrec: int) -> int:  # pragma: no cover - numba
    pos = s[c, S_POS]
    epx = s[c, S_EPX]
    cash_in, fees, pnl, ret = close_position(pos, px, epx, s[c, S_FEES], p[P_CFRAC], p[P_CPS],
                                             p[P_CFIX], p[P_CMIN])
    s[ci, S_CASH] += cash_in
    tally(ret, s[c, S_WINS:S_LSUM + 1])
    if q[Q_RECORD] == 1:
        rec_i[nrec, 0] = c
        rec_i[nrec, 1] = si[c, I_ENTRY]
        rec_i[nrec, 2] = i
        rec_i[nrec, 3] = reason
        rec_f[nrec, 0] = epx
        rec_f[nrec, 1] = px
        rec_f[nrec, 2] = pos
        rec_f[nrec, 3] = pnl
        rec_f[nrec, 4] = ret
        rec_f[nrec, 5] = fees
        nrec += 1
    si[c, I_NTR] += 1
    s[c, S_POS] = 0.0
    si[c, I_PEXIT] = 0
    si[0, I_NOPEN] -= 1
    if pos < 0.0:
        si[0, I_NSHORT] -= 1
    return nrec


@njit(cache=True, error_model="numpy")
def _liquidate(c: int, i: int, base: float, h: float, lo: float, s: FloatArray, si: IntArray,
               ci: int, p: FloatArray, q: IntArray, rec_f: FloatArray, rec_i: IntArray,
               nrec: int) -> int:  # pragma: no cover - numba
    """Close column ``c`` at ``base`` (its worst price of the bar, or the close) made worse by
    the slippage, exit reason ``liquidation`` (:mod:`quantdb.kernels.margin`)."""
    return _exit(c, i, _slipped(base, -np.sign(s[c, S_POS]), h, lo, p), _REASON[LIQUIDATION],
                 s, si, ci, p, q, rec_f, rec_i, nrec)


@njit(cache=True, error_model="numpy")
def _bankrupt(c: int, ci: int, i: int, s: FloatArray, si: IntArray) -> None:  # pragma: no cover
    """Column ``c`` (account ``ci``) is bankrupt on bar ``i``: cash floored at zero, pending
    orders cancelled."""
    s[ci, S_CASH] = max(s[ci, S_CASH], 0.0)
    si[c, I_BANK] = i
    si[c, I_PENTRY] = 0
    si[c, I_PDIR] = 0
    si[c, I_PEXIT] = 0


@njit(cache=True, error_model="numpy")
def _enter(c: int, i: int, t: int, side: float, ref: float, px: float, equity: float,
           s: FloatArray, si: IntArray, ci: int, p: FloatArray, q: IntArray,
           atr: FloatArray, i_sig: int) -> None:  # pragma: no cover - numba
    if q[Q_MAXPOS] >= 0 and si[0, I_NOPEN] >= q[Q_MAXPOS]:
        return
    value = sizing_value(q[Q_SIZING], p[P_SIZEV], s[c, S_WINS:S_LSUM + 1], p[P_KCAP], p[P_KMIN])
    risk = 0.0
    if q[Q_SIZING] == RISK:
        if not np.isnan(p[P_SL]):
            risk = ref * p[P_SL]
        elif atr.shape[1] > i_sig >= 0 and atr.shape[0] > t:
            risk = p[P_ATRM] * atr[t, i_sig]
            if np.isnan(risk):
                risk = 0.0
    frac = q[Q_FRAC] == 1
    size = order_size(q[Q_SIZING], value, frac, equity, px, p[P_CFRAC], p[P_CPS], p[P_CFIX],
                      risk, p[P_MAXW])
    if side > 0.0:
        size = affordable(size, px, s[ci, S_CASH], frac, p[P_CFRAC], p[P_CPS], p[P_CFIX], p[P_CMIN])
    if not (size > 0.0):
        return
    fee = order_fee(size * px, size, p[P_CFRAC], p[P_CPS], p[P_CFIX], p[P_CMIN])
    s[ci, S_CASH] -= side * size * px + fee
    s[c, S_POS] = side * size
    s[c, S_EPX] = px
    s[c, S_REF] = ref
    s[c, S_PEAK] = ref
    s[c, S_FEES] = fee
    si[c, I_ENTRY] = i
    si[0, I_NOPEN] += 1
    if side < 0.0:
        si[0, I_NSHORT] += 1


@njit(cache=True, error_model="numpy")
def _stops(c: int, i: int, o: float, h: float, lo: float, s: FloatArray, si: IntArray,
           ci: int, p: FloatArray, q: IntArray, rec_f: FloatArray,
           rec_i: IntArray, nrec: int) -> int:  # pragma: no cover - numba
    pos = s[c, S_POS]
    side = 1.0 if pos > 0.0 else -1.0
    ref = s[c, S_REF]
    stop = np.nan
    reason = _REASON[STOP]
    if not np.isnan(p[P_SL]):
        stop = ref * (1.0 - side * p[P_SL])
    if not np.isnan(p[P_TS]):
        trail = s[c, S_PEAK] * (1.0 - side * p[P_TS])
        if np.isnan(stop) or side * (trail - stop) > 0.0:
            stop = trail
            reason = _REASON[TRAILING]
    target = ref * (1.0 + side * p[P_TP]) if not np.isnan(p[P_TP]) else np.nan
    # in "long" terms: a long stop is below, hit by the low; a short stop is above, by the high
    worst = lo if side > 0.0 else h
    best = h if side > 0.0 else lo
    stop_gap = not np.isnan(stop) and side * (o - stop) <= 0.0
    stop_hit = not np.isnan(stop) and side * (worst - stop) <= 0.0
    tgt_gap = not np.isnan(target) and side * (o - target) >= 0.0
    tgt_hit = not np.isnan(target) and side * (best - target) >= 0.0
    if stop_gap:
        nrec = _exit(c, i, _slipped(o, -side, h, lo, p), reason, s, si, ci, p, q,
                     rec_f, rec_i, nrec)
    elif tgt_gap:
        nrec = _exit(c, i, o, _REASON[TARGET], s, si, ci, p, q, rec_f, rec_i, nrec)
    elif stop_hit and tgt_hit:
        si[c, I_AMB] += 1
        if q[Q_AMBIG] == 0:
            nrec = _exit(c, i, _slipped(stop, -side, h, lo, p), reason, s, si, ci, p, q,
                         rec_f, rec_i, nrec)
        else:
            nrec = _exit(c, i, target, _REASON[TARGET], s, si, ci, p, q, rec_f, rec_i, nrec)
    elif stop_hit:
        nrec = _exit(c, i, _slipped(stop, -side, h, lo, p), reason, s, si, ci, p, q,
                     rec_f, rec_i, nrec)
    elif tgt_hit:
        nrec = _exit(c, i, target, _REASON[TARGET], s, si, ci, p, q, rec_f, rec_i, nrec)
    if s[c, S_POS] == 0.0:
        si[c, I_STOPBAR] = i
    elif side > 0.0:
        s[c, S_PEAK] = max(s[c, S_PEAK], h)
    else:
        s[c, S_PEAK] = min(s[c, S_PEAK], lo)
    return nrec


@njit(cache=True, error_model="numpy")
def _step(ph: int, i: int, c: int, t: int, px: FloatArray, sg: BoolArray,
          atr: FloatArray, p: FloatArray, q: IntArray, s: FloatArray, si: IntArray,
          rec_f: FloatArray, rec_i: IntArray, nrec: int,
          equity: float) -> int:  # pragma: no cover - numba
    """One phase (1..5, see the module docstring) of bar ``i`` for column ``c``."""
    n = px.shape[1]
    ci = 0 if q[Q_SHARED] == 1 else c
    o, h, lo, x = px[0, i, t], px[1, i, t], px[2, i, t], px[3, i, t]
    at_end = px[PX_OWN, i, t] == px[PX_OWN, n - 1, t]  # no later bar of this ticker
    valid = not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x))
    if not valid:
        if ph == 4 and at_end and s[c, S_POS] != 0.0:  # delisted: close at the last mark
            mk = s[c, S_MARK]
            nrec = _exit(c, i, _slipped(mk, -np.sign(s[c, S_POS]), mk, mk, p), _REASON[END],
                         s, si, ci, p, q, rec_f, rec_i, nrec)
        return nrec
    if ci == c and ph != 5:
        equity = s[ci, S_CASH]  # independent mode: entries only happen when flat
    pos = s[c, S_POS]
    if ph == 1:
        if si[c, I_PEXIT] == 1 and pos != 0.0:
            nrec = _exit(c, i, _slipped(o, -np.sign(pos), h, lo, p), _REASON[SIGNAL], s, si,
                         ci, p, q, rec_f, rec_i, nrec)
        si[c, I_PEXIT] = 0
    elif ph == 2:
        side = si[c, I_PENTRY]
        if side != 0 and pos == 0.0:
            _enter(c, i, t, float(side), o, _slipped(o, float(side), h, lo, p), equity, s, si,
                   ci, p, q, atr, i - 1)
        si[c, I_PENTRY] = 0
    elif ph == 3:
        side = si[c, I_PDIR]
        if side != 0:
            if px[PX_OWN, i, t] > si[c, I_PEXP] or pos != 0.0:
                si[c, I_PDIR] = 0
            else:
                lvl = s[c, S_LVL]
                fsd = float(side)
                fp = np.nan
                if q[Q_ORDER] == 1:  # limit: buy at or below, sell short at or above
                    if fsd * (o - lvl) <= 0.0:
                        fp = o
                    elif fsd * ((lo if side > 0 else h) - lvl) <= 0.0:
                        fp = lvl
                    if not np.isnan(fp):
                        _enter(c, i, t, fsd, fp, fp, equity, s, si, ci, p, q, atr,
                               i - 1)
                else:  # stop entry: buy at or above, sell short at or below
                    if fsd * (o - lvl) >= 0.0:
                        fp = o
                    elif fsd * ((h if side > 0 else lo) - lvl) >= 0.0:
                        fp = lvl
                    if not np.isnan(fp):
                        _enter(c, i, t, fsd, fp, _slipped(fp, fsd, h, lo, p), equity, s, si,
                               ci, p, q, atr, i - 1)
                if not np.isnan(fp):
                    si[c, I_PDIR] = 0
                    si[c, I_INTRA] = i
        pos = s[c, S_POS]
        if pos != 0.0 and si[c, I_INTRA] != i:
            nrec = _stops(c, i, o, h, lo, s, si, ci, p, q, rec_f, rec_i, nrec)
    elif ph == 4:
        if pos != 0.0 and q[Q_MAXHOLD] >= 0 and _held(px, i, t, si[c, I_ENTRY]) >= q[Q_MAXHOLD]:
            nrec = _exit(c, i, _slipped(x, -np.sign(pos), h, lo, p), _REASON[TIME], s, si, ci,
                         p, q, rec_f, rec_i, nrec)
            pos = 0.0
        sig_exit = (pos > 0.0 and sg[1, i, c]) or (pos < 0.0 and q[Q_DIR] != 0 and sg[3, i, c])
        if sig_exit:
            if q[Q_FILL] == 1:
                nrec = _exit(c, i, _slipped(x, -np.sign(pos), h, lo, p), _REASON[SIGNAL], s,
                             si, ci, p, q, rec_f, rec_i, nrec)
            elif not at_end:  # on the last bar there is no next open: closed below as "end"
                si[c, I_PEXIT] = 1
        if at_end and s[c, S_POS] != 0.0:
            nrec = _exit(c, i, _slipped(x, -np.sign(pos), h, lo, p), _REASON[END], s, si, ci,
                         p, q, rec_f, rec_i, nrec)
    else:  # ph == 5
        flat = pos == 0.0 or si[c, I_PEXIT] == 1
        if flat and not at_end and si[c, I_STOPBAR] != i:
            d = q[Q_DIR]
            go_long = d != 1 and sg[0, i, c] and not sg[1, i, c]
            go_short = d != 0 and sg[2, i, c] and not sg[3, i, c]
            side = 0.0
            if go_long and not go_short:
                side = 1.0
            elif go_short and not go_long:
                side = -1.0
            if side != 0.0:
                if q[Q_ORDER] == 0:
                    if q[Q_FILL] == 1:
                        eq = s[ci, S_CASH] if ci == c else equity
                        _enter(c, i, t, side, x, _slipped(x, side, h, lo, p), eq, s, si, ci,
                               p, q, atr, i)
                    else:
                        si[c, I_PENTRY] = int(side)
                else:
                    off = p[P_OFFSET] if q[Q_ORDER] == 2 else -p[P_OFFSET]
                    s[c, S_LVL] = x * (1.0 + side * off)
                    si[c, I_PDIR] = int(side)
                    si[c, I_PEXP] = int(px[PX_OWN, i, t]) + q[Q_TIF]
        pos = s[c, S_POS]
        if pos < 0.0 and p[P_BORROW] > 0.0:
            fee = p[P_BORROW] * (-pos) * x
            s[ci, S_CASH] -= fee
            s[c, S_FEES] += fee
        s[c, S_MARK] = x
    return nrec


@njit(cache=True, error_model="numpy")
def _track(s: FloatArray, si: IntArray, k: int, eq: float) -> None:  # pragma: no cover - numba
    """Bar return into shifted sums (Sharpe), running peak and max drawdown, in row ``k``.

    Sums of ``r - r0`` and its square, ``r0`` the first return, keep the variance accurate
    without a division per bar (Welford would need two)."""
    prev = s[k, S_PREV]
    # equity never falls below zero; after a bankruptcy at zero every bar is a zero return
    r = eq / prev - 1.0 if prev > 0.0 else 0.0
    if si[k, I_NRET] == 0:
        s[k, S_R0] = r
    si[k, I_NRET] += 1
    dr = r - s[k, S_R0]
    s[k, S_RMEAN] += dr
    s[k, S_RM2] += dr * dr
    s[k, S_PREV] = eq
    if eq > s[k, S_EQPK]:
        s[k, S_EQPK] = eq
    elif eq < s[k, S_EQPK] * (1.0 - s[k, S_MDD]):
        s[k, S_MDD] = 1.0 - eq / s[k, S_EQPK]


@njit(cache=True, error_model="numpy")
def _own_count(px: FloatArray) -> None:  # pragma: no cover - numba
    """Plane ``PX_OWN``: each ticker's number of bars with a close up to each row, minus one
    (a cumulative sum down the rows; NumPy's along axis 0 is many times slower)."""
    n, k = px.shape[1], px.shape[2]
    acc = np.full(k, -1.0)
    for i in range(n):
        for t in range(k):
            if not np.isnan(px[3, i, t]):
                acc[t] += 1.0
            px[PX_OWN, i, t] = acc[t]


@njit(cache=True, error_model="numpy")
def _held(px: FloatArray, i: int, t: int, entry: int) -> float:  # pragma: no cover - numba
    """Bars of ticker ``t`` from row ``entry`` to row ``i`` (its own bars, not the rows)."""
    return float(px[PX_OWN, i, t] - px[PX_OWN, entry, t])


@njit(cache=True, error_model="numpy")
def _last_bar(px: FloatArray, t: int) -> int:  # pragma: no cover - numba
    """The row of ticker ``t``'s last bar with a close (-1: none)."""
    i = int(px.shape[1]) - 1
    while i >= 0 and np.isnan(px[3, i, t]):
        i -= 1
    return i


@njit(cache=True, error_model="numpy")
def _touch(side: float, h: float, lo: float, ref: float, peak: float, sl: float, ts: float,
           tp: float) -> bool:  # pragma: no cover - numba
    """Whether a stop, trailing stop or target level lies within this bar's range."""
    worst = lo if side > 0.0 else h
    best = h if side > 0.0 else lo
    if not np.isnan(sl) and side * (worst - ref * (1.0 - side * sl)) <= 0.0:
        return True
    if not np.isnan(ts) and side * (worst - peak * (1.0 - side * ts)) <= 0.0:
        return True
    return not np.isnan(tp) and side * (best - ref * (1.0 + side * tp)) >= 0.0


@njit(cache=True, error_model="numpy")
def _portfolio_margin(i: int, px: FloatArray, s: FloatArray, si: IntArray, p: FloatArray,
                      q: IntArray, rec_f: FloatArray, rec_i: IntArray,
                      nrec: int) -> tuple[int, bool]:  # pragma: no cover - numba
    """The shared account's margin at the worst prices of bar ``i`` (a ticker without a valid
    bar at its last mark): on a call, every position is liquidated there."""
    k = px.shape[2]
    m = s.shape[0]
    eqw = s[0, S_CASH]
    shorts = 0.0
    for c in range(m):
        pc = s[c, S_POS]
        if pc != 0.0:
            w = _worst(px, i, c % k, pc, s[c, S_MARK])
            eqw += pc * w
            if pc < 0.0:
                shorts -= pc * w
    if not margin_call(eqw, shorts, p[P_MMARGIN]):
        return nrec, False
    for c in range(m):
        pc = s[c, S_POS]
        if pc != 0.0:
            t = c % k
            w = _worst(px, i, t, pc, s[c, S_MARK])
            h, lo = px[1, i, t], px[2, i, t]
            if np.isnan(h) or np.isnan(lo) or np.isnan(px[0, i, t]) or np.isnan(px[3, i, t]):
                h, lo = w, w
            nrec = _liquidate(c, i, w, h, lo, s, si, 0, p, q, rec_f, rec_i, nrec)
    return nrec, True


@njit(cache=True, error_model="numpy")
def _worst(px: FloatArray, i: int, t: int, pos: float,
           mark: float) -> float:  # pragma: no cover - numba
    """A position's worst price of bar ``i``: the low for a long, the high for a short; its
    last mark when the bar is not valid."""
    o, h, lo, x = px[0, i, t], px[1, i, t], px[2, i, t], px[3, i, t]
    w: float = mark
    if not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x)):
        w = lo if pos > 0.0 else h
    return w


@njit(cache=True, error_model="numpy")
def _run_nb(px: FloatArray, sg: BoolArray, atr: FloatArray, p: FloatArray,
            q: IntArray, s: FloatArray, si: IntArray, rec_f: FloatArray,
            rec_i: IntArray, eq_out: FloatArray, ex_out: FloatArray) -> int:  # pragma: no cover
    """The bar loop. A column with nothing to do on a bar (flat without signal or pending
    order, or holding with no exit signal, no level touched, no time limit, no borrow, no
    margin call) takes the inline fast path; any other goes through the phases of
    :func:`_step` it needs. Independent columns run column by column (their state stays in
    cache), the portfolio bar by bar. After phase 3 the account's margin is checked at the
    bar's worst prices, and after phase 5 its equity at the close
    (:mod:`quantdb.kernels.margin`); a bankrupt account is flat and trades no more."""
    n, k = px.shape[1], px.shape[2]
    m = sg.shape[2]
    d = q[Q_DIR]
    maxhold = q[Q_MAXHOLD]
    sl, ts, tp = p[P_SL], p[P_TS], p[P_TP]
    mm = p[P_MMARGIN]
    has_levels = not (np.isnan(sl) and np.isnan(ts) and np.isnan(tp))
    has_trail = not np.isnan(ts)
    borrow = p[P_BORROW] > 0.0
    nrec = 0
    store = eq_out.shape[1] == n
    # a long with cash > 0 is worth more than zero at any price >= 0: its margin is checked
    # only when its cash is not positive or its ticker has a negative low
    lowneg = np.zeros(k, dtype=np.bool_)
    for t in range(k):
        for i in range(n):
            if px[2, i, t] < 0.0:
                lowneg[t] = True
                break
    if q[Q_SHARED] == 0:
        for c in range(m):
            t = c % k
            last = _last_bar(px, t)
            prev, peak, mdd = s[c, S_PREV], s[c, S_EQPK], s[c, S_MDD]
            r0, sum_d, sum_d2, nret = s[c, S_R0], s[c, S_RMEAN], s[c, S_RM2], si[c, I_NRET]
            # the column's state lives in locals between events, in s/si during them
            pos, cash, mark = s[c, S_POS], s[c, S_CASH], s[c, S_MARK]
            pend = si[c, I_PENTRY] != 0 or si[c, I_PDIR] != 0 or si[c, I_PEXIT] != 0
            for i in range(n):
                x = px[3, i, t]
                quiet = not (i == last or np.isnan(x) or pend)
                dead = False
                if quiet:  # nothing to do on this bar? (the hot path, inline: calls have a cost)
                    if pos == 0.0:
                        quiet = not (d != 1 and sg[0, i, c]) and not (d != 0 and sg[2, i, c])
                    else:
                        if pos > 0.0:
                            quiet = not sg[1, i, c]
                        else:
                            quiet = not (d != 0 and sg[3, i, c]) and not borrow
                        if quiet and maxhold >= 0:
                            quiet = _held(px, i, t, si[c, I_ENTRY]) < maxhold
                        if quiet and has_levels:
                            h, lo = px[1, i, t], px[2, i, t]
                            side = 1.0 if pos > 0.0 else -1.0
                            quiet = not (np.isnan(h) or np.isnan(lo)) and not _touch(
                                side, h, lo, s[c, S_REF], s[c, S_PEAK], sl, ts, tp)
                            if quiet and has_trail:
                                if side > 0.0:
                                    s[c, S_PEAK] = max(s[c, S_PEAK], h)
                                else:
                                    s[c, S_PEAK] = min(s[c, S_PEAK], lo)
                        if quiet and (pos < 0.0 or cash <= 0.0 or lowneg[t]):
                            o, h, lo = px[0, i, t], px[1, i, t], px[2, i, t]
                            quiet = np.isnan(o) or np.isnan(h) or np.isnan(lo) or not (
                                position_margin_call(cash, pos, lo if pos > 0.0 else h, mm))
                if quiet:
                    mark = x
                else:  # only the phases with something to do (each call has a cost)
                    s[c, S_MARK] = mark
                    for ph in range(1, 6):
                        if ph == 1:
                            run = si[c, I_PEXIT] != 0
                        elif ph == 2:
                            run = si[c, I_PENTRY] != 0
                        elif ph == 3:
                            run = si[c, I_PDIR] != 0 or (s[c, S_POS] != 0.0 and has_levels)
                        elif ph == 4:
                            run = s[c, S_POS] != 0.0
                        else:
                            run = not np.isnan(x) and (s[c, S_POS] < 0.0 or sg[0, i, c]
                                                       or (d != 0 and sg[2, i, c]))
                            if not run and not np.isnan(x):
                                s[c, S_MARK] = x
                        if run:
                            nrec = _step(ph, i, c, t, px, sg, atr, p, q, s, si, rec_f, rec_i,
                                         nrec, 0.0)
                        if ph == 3 and s[c, S_POS] != 0.0:  # the margin, inside the bar
                            o, h, lo = px[0, i, t], px[1, i, t], px[2, i, t]
                            pc = s[c, S_POS]
                            w = lo if pc > 0.0 else h
                            if not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x)) \
                                    and position_margin_call(s[c, S_CASH], pc, w, mm):
                                nrec = _liquidate(c, i, w, h, lo, s, si, c, p, q, rec_f, rec_i,
                                                  nrec)
                                dead = True
                                break
                    if not dead and s[c, S_CASH] + (s[c, S_POS] * s[c, S_MARK]
                                                    if s[c, S_POS] != 0.0 else 0.0) <= 0.0:
                        # costs at the close took the equity to zero: closed at the close
                        dead = True
                        if s[c, S_POS] != 0.0:
                            if np.isnan(x):
                                mk = s[c, S_MARK]
                                nrec = _liquidate(c, i, mk, mk, mk, s, si, c, p, q, rec_f,
                                                  rec_i, nrec)
                            else:
                                nrec = _liquidate(c, i, x, px[1, i, t], px[2, i, t], s, si, c,
                                                  p, q, rec_f, rec_i, nrec)
                    if dead:
                        _bankrupt(c, c, i, s, si)
                    pos, cash, mark = s[c, S_POS], s[c, S_CASH], s[c, S_MARK]
                    pend = si[c, I_PENTRY] != 0 or si[c, I_PDIR] != 0 or si[c, I_PEXIT] != 0
                val = pos * mark if pos != 0.0 else 0.0
                eq = cash + val
                # _track(s, si, c, eq) written out on locals; after a bankruptcy the rest of
                # the bars are flat: the same lines with the same equity (a zero return each)
                for j in range(i, n if dead else i + 1):
                    r = eq / prev - 1.0 if eq != prev else 0.0  # flat: no division
                    if nret == 0:
                        r0 = r
                    nret += 1
                    dr = r - r0
                    sum_d += dr
                    sum_d2 += dr * dr
                    prev = eq
                    if eq > peak:
                        peak = eq
                    elif eq < peak * (1.0 - mdd):
                        mdd = 1.0 - eq / peak
                    if store:
                        eq_out[c, j] = eq
                        ex_out[c, j] = abs(val) / eq if eq > 0.0 else (0.0 if val == 0.0
                                                                       else np.nan)
                if dead:
                    break
            s[c, S_MARK] = mark
            s[c, S_PREV], s[c, S_EQPK], s[c, S_MDD] = prev, peak, mdd
            s[c, S_R0], s[c, S_RMEAN], s[c, S_RM2], si[c, I_NRET] = r0, sum_d, sum_d2, nret
        return nrec

    anyneg = lowneg.any()
    busy = np.zeros(m, dtype=np.int64)
    lasts = np.empty(k, dtype=np.int64)
    for t in range(k):
        lasts[t] = _last_bar(px, t)
    for i in range(n):
        nb = 0
        for c in range(m):
            t = c % k
            x = px[3, i, t]
            quiet = not (i == lasts[t] or np.isnan(x) or si[c, I_PENTRY] != 0 or si[c, I_PDIR] != 0
                          or si[c, I_PEXIT] != 0)
            if quiet:  # nothing to do on this bar? (the hot path, inline: calls have a cost)
                pos = s[c, S_POS]
                if pos == 0.0:
                    quiet = not (d != 1 and sg[0, i, c]) and not (d != 0 and sg[2, i, c])
                else:
                    if pos > 0.0:
                        quiet = not sg[1, i, c]
                    else:
                        quiet = not (d != 0 and sg[3, i, c]) and not borrow
                    if quiet and maxhold >= 0:
                        quiet = _held(px, i, t, si[c, I_ENTRY]) < maxhold
                    if quiet and has_levels:
                        h, lo = px[1, i, t], px[2, i, t]
                        side = 1.0 if pos > 0.0 else -1.0
                        quiet = not (np.isnan(h) or np.isnan(lo)) and not _touch(
                            side, h, lo, s[c, S_REF], s[c, S_PEAK], sl, ts, tp)
                        if quiet and has_trail:
                            if side > 0.0:
                                s[c, S_PEAK] = max(s[c, S_PEAK], h)
                            else:
                                s[c, S_PEAK] = min(s[c, S_PEAK], lo)
            if quiet:
                s[c, S_MARK] = x
            else:
                busy[nb] = c
                nb += 1
        dead = False
        for ph in range(1, 6):
            if nb > 0:
                equity = 0.0
                if ph == 2 or ph == 3 or ph == 5:  # portfolio equity at this phase's prices
                    equity = s[0, S_CASH]
                    src = 3 if ph == 5 else 0
                    for c in range(m):
                        if s[c, S_POS] != 0.0:
                            v = px[src, i, c % k]
                            equity += s[c, S_POS] * (s[c, S_MARK] if np.isnan(v) else v)
                for j in range(nb):
                    c = busy[j]
                    nrec = _step(ph, i, c, c % k, px, sg, atr, p, q, s, si, rec_f, rec_i,
                                 nrec, equity)
            if ph == 3 and si[0, I_NOPEN] > 0 and (si[0, I_NSHORT] > 0 or s[0, S_CASH] <= 0.0
                                                   or anyneg):
                nrec, dead = _portfolio_margin(i, px, s, si, p, q, rec_f, rec_i, nrec)
                if dead:
                    break
        eq = s[0, S_CASH]
        gross = 0.0
        for c in range(m):
            if s[c, S_POS] != 0.0:
                eq += s[c, S_POS] * s[c, S_MARK]
                gross += abs(s[c, S_POS] * s[c, S_MARK])
        if not dead and eq <= 0.0:  # costs at the close took the equity to zero
            dead = True
            for c in range(m):
                if s[c, S_POS] != 0.0:
                    t = c % k
                    x = px[3, i, t]
                    if np.isnan(x):
                        mk = s[c, S_MARK]
                        nrec = _liquidate(c, i, mk, mk, mk, s, si, 0, p, q, rec_f, rec_i, nrec)
                    else:
                        nrec = _liquidate(c, i, x, px[1, i, t], px[2, i, t], s, si, 0, p, q,
                                          rec_f, rec_i, nrec)
        if dead:
            for c in range(m):
                _bankrupt(c, 0, i, s, si)
            eq = s[0, S_CASH]
            gross = 0.0
        for j in range(i, n if dead else i + 1):  # a bankrupt account: flat to the end
            _track(s, si, 0, eq)
            if store:
                eq_out[0, j] = eq
                ex_out[0, j] = gross / eq if eq > 0.0 else (0.0 if gross == 0.0 else np.nan)
        if dead:
            break
    return nrec


# =========================================================================== Python API
def _check(ok: bool, what: str, got: object) -> None:
    if not ok:
        msg = f"{what}, got {got!r}"
        raise ArgumentError(msg)


@dataclass(frozen=True)
class SimResult:
    """Trades, equity and exposure of one simulation.

    ``trades`` is a structured array of :data:`TRADE_DTYPE` (``size`` is negative for shorts,
    ``exit_reason`` indexes :data:`EXIT_REASONS`, ``return`` = pnl / entry value, ``fees``
    include commissions and borrow). ``equity`` and ``exposure`` (gross position value /
    equity) are ``(dates, columns)`` in independent mode and ``(dates,)`` in portfolio mode.
    """

    trades: np.ndarray
    equity: FloatArray
    exposure: FloatArray
    ambiguous_exits: IntArray
    stats: SweepStats

    @property
    def final_equity(self) -> FloatArray:
        return self.stats.final_equity


@dataclass(frozen=True)
class SweepStats:
    """Per-column results of an independent-columns run (one value per column; one for a
    portfolio). Sharpe is annualized with ``periods_per_year`` from bar returns (ddof=1),
    max drawdown is a negative fraction in [-1, 0] measured from the starting cash on (as
    :func:`quantdb.kernels.drawdown.max_drawdown` of the bar returns). ``bankrupt`` marks the
    accounts liquidated by :mod:`quantdb.kernels.margin`'s rule, on bar ``bankrupt_bar``
    (-1 for the others); their returns after that bar are zeros, counted in the Sharpe
    ratio, and a sweep ranks them last."""

    final_equity: FloatArray
    total_return: FloatArray
    sharpe: FloatArray
    max_drawdown: FloatArray
    n_trades: IntArray
    ambiguous_exits: IntArray
    bankrupt: BoolArray
    bankrupt_bar: IntArray


def _prep(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray,
    entries: BoolArray, exits: BoolArray, short_entries: BoolArray | None,
    short_exits: BoolArray | None, settings: SimSettings,
) -> tuple[FloatArray, BoolArray, FloatArray]:
    prices = []
    for name, a in (("open", open_), ("high", high), ("low", low), ("close", close)):
        arr = np.asarray(a, dtype=np.float64)
        arr = arr[:, None] if arr.ndim == 1 else arr
        _check(arr.ndim == 2, f"{name} must be 1-D or 2-D (dates, tickers)", arr.shape)
        prices.append(arr)
    n, k = prices[3].shape
    for name, arr in zip(("open", "high", "low"), prices[:3], strict=True):
        _check(arr.shape == (n, k), f"{name} must have the shape of close {(n, k)}", arr.shape)
    sig: list[np.ndarray] = []
    for name, sa in (("entries", entries), ("exits", exits)):
        b = np.asarray(sa)
        b = b[:, None] if b.ndim == 1 else b
        _check(b.dtype == np.bool_, f"{name} must be boolean", b.dtype)
        _check(b.ndim == 2 and b.shape[0] == n and b.shape[1] % k == 0,
               f"{name} must be (dates={n}, a multiple of tickers={k})", b.shape)
        sig.append(b)
    _check(sig[0].shape == sig[1].shape, f"exits must have the shape of entries {sig[0].shape}",
           sig[1].shape)
    le, lx = sig
    se: np.ndarray
    sx: np.ndarray
    if settings.direction == "long":
        se = sx = np.zeros((1, 1), dtype=np.bool_)
    elif short_entries is None or short_exits is None:
        _check(short_entries is None and short_exits is None,
               "short_entries and short_exits must be given together", "only one")
        if settings.direction == "short":  # entries/exits open and close shorts
            se, sx = le, lx
            le = lx = np.zeros_like(le)
        else:  # both: a stop-and-reverse system
            se, sx = lx, le
    else:
        se = np.asarray(short_entries, dtype=np.bool_)
        sx = np.asarray(short_exits, dtype=np.bool_)
        se, sx = (v[:, None] if v.ndim == 1 else v for v in (se, sx))
        _check(se.shape == le.shape and sx.shape == le.shape,
               f"short signals must have the shape of entries {le.shape}", (se.shape, sx.shape))
    if settings.sizing == "risk" and settings.stop_loss is None:
        bar = ~np.isnan(prices[3])
        from quantdb.kernels.signals import atr

        a = atr(prices[1], prices[2], prices[3], settings.atr_window)
        # on a date without a bar, the ATR of the ticker's last bar (an order signalled on a
        # bar and filled after a gap is sized with the ATR of its signal bar)
        last = np.maximum.accumulate(np.where(bar, np.arange(n)[:, None], -1), axis=0)
        a = np.where(last >= 0, np.take_along_axis(a, np.maximum(last, 0), axis=0), np.nan)
        atr_arr = _t(a)
    else:
        atr_arr = np.zeros((1, 1))
    # the kernel reads (field, dates, columns) C-ordered blocks: one layout, one
    # specialization, and few arrays to pass around (each array argument has a cost);
    # plane PX_OWN counts each ticker's own bars (its clock for holding times and orders)
    px = np.empty((5, n, k))
    for j, arr in enumerate(prices):
        px[j] = arr
    _own_count(px)
    sg = np.stack([le, lx] if settings.direction == "long" else [le, lx, se, sx])
    return px, sg, atr_arr


def _t(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.T)


def _run(
    px: FloatArray, sg: BoolArray, atr_arr: FloatArray, settings: SimSettings, *,
    shared: bool, record: bool, periods_per_year: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SweepStats]:
    _, n, k = px.shape
    m = sg.shape[2]
    p, q = pack_settings(settings, n_tickers=k, shared=shared, record=record)
    s = np.zeros((m, NS_))
    s[:, S_MARK] = np.nan
    s[:, S_PREV] = settings.cash
    s[:, S_EQPK] = settings.cash
    si = np.zeros((m, NI_), dtype=np.int64)
    si[:, I_STOPBAR] = -1
    si[:, I_INTRA] = -1
    si[:, I_BANK] = -1
    s[:, S_CASH] = 0.0 if shared else float(settings.cash)
    s[0, S_CASH] = float(settings.cash)
    cap = int(sg[0].sum() + (sg[2].sum() if len(sg) == 4 else 0)) + 1 if record else 1
    rec_f = np.zeros((cap, 6))
    rec_i = np.zeros((cap, 4), dtype=np.int64)
    width = 1 if shared else m
    eq_out = np.zeros((width, n)) if record else np.zeros((1, 1))
    ex_out = np.zeros((width, n)) if record else np.zeros((1, 1))
    nrec = _run_nb(px, sg, atr_arr, p, q, s, si, rec_f, rec_i, eq_out, ex_out)
    eq_out, ex_out = np.ascontiguousarray(eq_out.T), np.ascontiguousarray(ex_out.T)

    trades = np.zeros(nrec, dtype=TRADE_DTYPE)
    for j, name in enumerate(("column", "entry_index", "exit_index", "exit_reason")):
        trades[name] = rec_i[:nrec, j]
    for j, name in enumerate(("entry_price", "exit_price", "size", "pnl", "return", "fees")):
        trades[name] = rec_f[:nrec, j]
    t_of = trades["column"] % k  # held in the ticker's own bars
    trades["bars_held"] = (px[PX_OWN, trades["exit_index"], t_of]
                           - px[PX_OWN, trades["entry_index"], t_of]).astype(np.int64)
    if record and len(trades):
        order = np.lexsort((trades["exit_index"], trades["entry_index"], trades["column"]))
        trades = trades[order]

    rows = slice(0, 1) if shared else slice(0, m)
    final = s[rows, S_CASH].copy()  # every position is closed on the last bar
    nret = si[rows, I_NRET]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_d = s[rows, S_RMEAN] / nret  # mean of r - r0
        var = np.maximum(s[rows, S_RM2] - nret * mean_d**2, 0.0) / (nret - 1)
        std = np.sqrt(var)
        mean = s[rows, S_R0] + mean_d
        sharpe = np.where((nret > 1) & (std > 1e-14 * np.abs(mean) + 1e-300), mean / std,
                          np.nan) * np.sqrt(periods_per_year)
    amb = si[:, I_AMB]
    ntr = si[:, I_NTR]
    if shared:
        amb = np.array([amb.sum()])
        ntr = np.array([ntr.sum()])
    stats = SweepStats(
        final_equity=final,
        total_return=final / settings.cash - 1.0,
        sharpe=sharpe,
        max_drawdown=0.0 - s[rows, S_MDD],  # the kernel keeps it positive; 0.0 - 0.0 is +0.0
        n_trades=ntr,
        ambiguous_exits=amb,
        bankrupt=si[rows, I_BANK] >= 0,
        bankrupt_bar=si[rows, I_BANK].copy(),
    )
    return trades, eq_out, ex_out, stats


def simulate(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray,
    entries: BoolArray, exits: BoolArray, /,
    short_entries: BoolArray | None = None, short_exits: BoolArray | None = None, *,
    settings: SimSettings | None = None, portfolio: bool = False,
    periods_per_year: float = 252.0,
) -> SimResult:
    """Run a backtest with trade records, equity curve and exposure.

    Parameters
    ----------
    open_, high, low, close : ``(dates, tickers)`` prices (1-D for one ticker).
    entries, exits : boolean ``(dates, columns)``, ``columns`` a multiple of ``tickers``
        (column ``c`` trades ticker ``c % tickers``). Long signals unless ``direction="short"``.
    short_entries, short_exits : optional short signals for ``direction="both"``/``"short"``;
        without them ``"both"`` reverses on ``exits`` and ``entries``.
    settings : :class:`SimSettings` (defaults when None).
    portfolio : shared cash across columns (``max_positions``, ``max_weight`` apply).

    Returns
    -------
    SimResult

    Raises
    ------
    ArgumentError
        when an array has the wrong shape or type.

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([10.0, 11, 12, 13, 12])
    >>> e = np.array([True, False, False, False, False])
    >>> r = simulate(c, c, c, c, e, ~e, settings=SimSettings(cash=100, fill="close"))
    >>> r.trades[["entry_price", "exit_price", "size"]].tolist()
    [(10.0, 11.0, 10.0)]
    """
    st = settings or SimSettings()
    px, sg, atr_arr = _prep(open_, high, low, close, entries, exits, short_entries,
                                  short_exits, st)
    trades, eq, ex, stats = _run(px, sg, atr_arr, st, shared=portfolio, record=True,
                                 periods_per_year=periods_per_year)
    if portfolio:
        eq, ex = eq[:, 0], ex[:, 0]
    return SimResult(trades=trades, equity=eq, exposure=ex,
                     ambiguous_exits=stats.ambiguous_exits, stats=stats)


def sweep_stats(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray,
    entries: BoolArray, exits: BoolArray, /,
    short_entries: BoolArray | None = None, short_exits: BoolArray | None = None, *,
    settings: SimSettings | None = None, periods_per_year: float = 252.0,
) -> SweepStats:
    """Independent backtests, one per column, returning only per-column statistics.

    Same rules as :func:`simulate` with ``portfolio=False``, but no trade records and no
    equity curves are stored: the fast path for parameter sweeps.
    """
    st = settings or SimSettings()
    px, sg, atr_arr = _prep(open_, high, low, close, entries, exits, short_entries,
                                  short_exits, st)
    return _run(px, sg, atr_arr, st, shared=False, record=False,
                periods_per_year=periods_per_year)[3]
