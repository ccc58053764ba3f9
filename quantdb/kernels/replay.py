"""Replay of independent trades with per-trade exit levels: one numba kernel, plain loops.

:func:`quantdb.kernels.simulate.simulate` knows one set of *global, fractional* levels
(``stop_loss``, ``take_profit``, ``max_hold_bars``) and one position per column. A recorded
prediction carries its *own* levels: a target price, a stop price and a time limit in bars,
and several predictions on one ticker may overlap. :func:`replay_trades` simulates exactly
that: every trade is independent (its own entry, its own levels, no netting with another
trade on the same ticker), all of them drawing on **one shared cash balance** (the choice
made here, so that the result is a portfolio equity curve comparable with a backtest's:
sizing, commissions and the cash limit act as they do in ``simulate(portfolio=True)``).

Timeline of bar ``i`` (all trades of a step run in signal order before the next step):

1. at the open: trades signalled before ``i`` (``fill="next-open"``) enter at the open of
   their ticker's next valid bar, worse by the slippage;
2. inside the bar, for every open trade (one entered at this open included): the stop and
   the target against ``low`` / ``high`` (``bars="intrabar"``) or against the close alone
   (``bars="close"``, the legacy system's rule). An open through a level fills at the open
   (a gap); a bar whose range holds both levels is *ambiguous*: ``settings.ambiguous``
   decides (``"stop-first"`` by default, the conservative reading) and the exit is counted;
3. at the close: the time exit of a trade whose ticker has had ``horizon`` valid bars since
   the signal bar (the close of bar ``horizon``, counted from the signal as the tracking
   service counts a prediction's ``timeframe_days``), then, on the last bar, every open trade
   (reason ``end``; a ticker without a bar there closes at its last close);
4. at the close: trades signalled on ``i`` (``fill="close"``, unless marked ``next_open``)
   enter at the close; no trade is entered on the last bar (it could not be held). Short borrow is charged, trades marked.

Bankruptcy as in ``simulate`` (:mod:`quantdb.kernels.margin`): after step 2 the account's
equity at every open trade's worst price of the bar (the close with ``bars="close"``) is
compared with ``maintenance_margin`` of its shorts' value (zero without shorts); at or below
it, every open trade is liquidated there (reason ``liquidation``), the cash is floored at
zero and no trade is entered afterwards (status ``bankrupt``). Equity at or below zero at the
close (costs) does the same at the close.

Fills as in ``simulate``: market entries, stop exits and time/end exits pay ``slippage_bps``
and ``slippage_range_frac``; target exits fill at the level (or at the better open of a gap).
Levels are absolute prices in the units of the bars; a NaN level (or ``horizon < 0``) means
none. Sizing (``shares``, ``cash``, ``equity``, ``risk``, ``kelly``) uses
:mod:`quantdb.kernels.sizing` on the portfolio equity at the fill prices; ``risk`` takes the
trade's own stop distance as its risk per share (a trade without a stop gets no size);
``kelly`` uses the portfolio's closed trades. A long entry needs the cash (as in
``simulate``); ``max_positions`` and ``max_weight`` apply. A trade that cannot be entered is
not a trade: its status says why (:data:`REPLAY_STATUS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit

from quantdb._typing import BoolArray, FloatArray, IntArray
from quantdb.errors import ArgumentError
from quantdb.kernels.margin import margin_call
from quantdb.kernels.simulate import TRADE_DTYPE
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
    P_BORROW,
    P_CASH,
    P_CFIX,
    P_CFRAC,
    P_CMIN,
    P_CPS,
    P_KCAP,
    P_KMIN,
    P_MAXW,
    P_MMARGIN,
    P_SIZEV,
    P_SLIP,
    P_SLIPR,
    Q_AMBIG,
    Q_CLOSE_BARS,
    Q_FILL,
    Q_FRAC,
    Q_MAXPOS,
    Q_SIZING,
    RISK,
    SimSettings,
    pack_settings,
)

__all__ = ["REPLAY_STATUS", "ReplaySim", "replay_trades"]

BarRule = Literal["intrabar", "close"]

#: status of each input trade: entered (and closed by the end), or why it was not entered
#: ("bankrupt": the account had been liquidated before its entry)
REPLAY_STATUS = ("traded", "no_bar_after", "no_cash", "max_positions", "zero_size", "bankrupt")
_TRADED, _NO_BAR, _NO_CASH, _MAXPOS, _ZERO, _BANKRUPT = range(6)
# exit reasons: the indices of quantdb.kernels.simulate.EXIT_REASONS
_STOP, _TARGET, _TIME, _END, _LIQ = 1, 2, 4, 5, 6
_REASON = np.arange(7, dtype=np.int64)  # passed as _REASON[_STOP]: one int64 specialization

# packed settings: the one layout of quantdb.settings (P_* floats, Q_* ints)
# portfolio accumulators
A_CASH, A_WINS, A_WSUM, A_LOSS, A_LSUM, NA_ = range(6)
# per-trade float state
F_POS, F_EPX, F_FEES, F_MARK, NF_ = range(5)
# per-trade int state
J_STATE, J_ENTRY, J_NBARS, J_LAST, NJ_ = range(5)  # state: 0 waiting, 1 pending, 2 open, 3 done
_WAIT, _PEND, _OPEN, _DONE = range(4)


@njit(cache=True, error_model="numpy")
def _close(j: int, i: int, px: float, reason: int, fs: FloatArray, js: IntArray, tick: IntArray,
           acc: FloatArray, p: FloatArray, rec_f: FloatArray, rec_i: IntArray,
           nrec: int) -> int:  # pragma: no cover - numba
    pos = fs[j, F_POS]
    epx = fs[j, F_EPX]
    cash_in, fees, pnl, ret = close_position(pos, px, epx, fs[j, F_FEES], p[P_CFRAC], p[P_CPS],
                                             p[P_CFIX], p[P_CMIN])
    acc[A_CASH] += cash_in
    tally(ret, acc[A_WINS:A_LSUM + 1])
    rec_i[nrec, 0] = tick[j]
    rec_i[nrec, 1] = js[j, J_ENTRY]
    rec_i[nrec, 2] = i
    rec_i[nrec, 3] = reason
    rec_i[nrec, 4] = j
    rec_f[nrec, 0] = epx
    rec_f[nrec, 1] = px
    rec_f[nrec, 2] = pos
    rec_f[nrec, 3] = pnl
    rec_f[nrec, 4] = ret
    rec_f[nrec, 5] = fees
    fs[j, F_POS] = 0.0
    js[j, J_STATE] = _DONE
    return nrec + 1


@njit(cache=True, error_model="numpy")
def _open(j: int, i: int, side: float, ref: float, px: float, equity: float, nlive: int,
          stop: FloatArray, fs: FloatArray, js: IntArray, status: IntArray, acc: FloatArray,
          p: FloatArray, q: IntArray) -> bool:  # pragma: no cover - numba
    """Enter trade ``j`` at ``px`` (market price ``ref``); False (and a status) when it cannot."""
    js[j, J_STATE] = _DONE
    if q[Q_MAXPOS] >= 0 and nlive >= q[Q_MAXPOS]:
        status[j] = _MAXPOS
        return False
    value = sizing_value(q[Q_SIZING], p[P_SIZEV], acc[A_WINS:A_LSUM + 1], p[P_KCAP], p[P_KMIN])
    risk = 0.0
    if q[Q_SIZING] == RISK and not np.isnan(stop[j]):
        risk = max(side * (ref - stop[j]), 0.0)
    frac = q[Q_FRAC] == 1
    size = order_size(q[Q_SIZING], value, frac, equity, px, p[P_CFRAC], p[P_CPS], p[P_CFIX],
                      risk, p[P_MAXW])
    if not (size > 0.0):
        status[j] = _ZERO
        return False
    if side > 0.0:
        size = affordable(size, px, acc[A_CASH], frac, p[P_CFRAC], p[P_CPS], p[P_CFIX],
                          p[P_CMIN])
        if not (size > 0.0):
            status[j] = _NO_CASH
            return False
    fee = order_fee(size * px, size, p[P_CFRAC], p[P_CPS], p[P_CFIX], p[P_CMIN])
    acc[A_CASH] -= side * size * px + fee
    fs[j, F_POS] = side * size
    fs[j, F_EPX] = px
    fs[j, F_FEES] = fee
    js[j, J_ENTRY] = i
    js[j, J_STATE] = _OPEN
    status[j] = _TRADED
    return True


@njit(cache=True, error_model="numpy")
def _equity(px: FloatArray, f: int, i: int, live: IntArray, nlive: int, tick: IntArray,
            fs: FloatArray, cash: float) -> float:  # pragma: no cover - numba
    """Cash plus open trades valued at field ``f`` of bar ``i`` (the last mark if missing)."""
    eq = cash
    for a in range(nlive):
        j = live[a]
        v = px[f, i, tick[j]]
        eq += fs[j, F_POS] * (fs[j, F_MARK] if np.isnan(v) else v)
    return eq


@njit(cache=True, error_model="numpy")
def _worst(px: FloatArray, i: int, t: int, sd: float, mark: float,
           close_only: bool) -> float:  # pragma: no cover - numba
    """A trade's worst price of bar ``i`` (its last mark when the bar is not valid)."""
    o, h, lo, x = px[0, i, t], px[1, i, t], px[2, i, t], px[3, i, t]
    w: float = mark
    if not (np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x)):
        w = x if close_only else (lo if sd > 0.0 else h)
    return w


@njit(cache=True, error_model="numpy")
def _liquidate_all(i: int, px: FloatArray, at_close: bool, live: IntArray, nlive: int,
                   tick: IntArray, side: FloatArray, fs: FloatArray, js: IntArray,
                   acc: FloatArray, p: FloatArray, close_only: bool, rec_f: FloatArray,
                   rec_i: IntArray, nrec: int) -> int:  # pragma: no cover - numba
    """Close every open trade at its worst price of bar ``i`` (or at the close), slipped,
    reason ``liquidation``; the cash is floored at zero (:mod:`quantdb.kernels.margin`)."""
    for a in range(nlive):
        j = live[a]
        if js[j, J_STATE] != _OPEN:
            continue
        t = tick[j]
        h, lo, x = px[1, i, t], px[2, i, t], px[3, i, t]
        if at_close:
            w = fs[j, F_MARK] if np.isnan(x) else x
        else:
            w = _worst(px, i, t, side[j], fs[j, F_MARK], close_only)
        if np.isnan(x) or np.isnan(h) or np.isnan(lo) or np.isnan(px[0, i, t]):
            h, lo = w, w
        nrec = _close(j, i, market_fill(w, -side[j], h, lo, p[P_SLIP], p[P_SLIPR]),
                      _REASON[_LIQ], fs, js, tick, acc, p, rec_f, rec_i, nrec)
    acc[A_CASH] = max(acc[A_CASH], 0.0)
    return nrec


@njit(cache=True, error_model="numpy")
def _replay_nb(px: FloatArray, tick: IntArray, sig: IntArray, side: FloatArray,
               target: FloatArray, stop: FloatArray, horizon: IntArray, late: BoolArray,
               p: FloatArray,
               q: IntArray, status: IntArray, ambig: BoolArray, rec_f: FloatArray,
               rec_i: IntArray, eq_out: FloatArray, ex_out: FloatArray,
               bank: IntArray) -> int:  # pragma: no cover
    """The bar loop; trades sorted by ``sig``. Returns the number of trade records; the bar of
    a bankruptcy (:mod:`quantdb.kernels.margin`) goes to ``bank[0]``, else -1."""
    n = px.shape[1]
    m = tick.shape[0]
    fs = np.zeros((m, NF_))
    js = np.zeros((m, NJ_), dtype=np.int64)
    js[:, J_LAST] = -1
    acc = np.zeros(NA_)
    acc[A_CASH] = p[P_CASH]
    live = np.empty(m, dtype=np.int64)
    pend = np.empty(m, dtype=np.int64)
    nlive = 0
    npend = 0
    ptr = 0
    nrec = 0
    close_only = q[Q_CLOSE_BARS] == 1
    for i in range(n):
        # 1. next-open entries of trades signalled before this bar
        if npend > 0:
            equity = _equity(px, 0, i, live, nlive, tick, fs, acc[A_CASH])
            keep = 0
            for a in range(npend):
                j = pend[a]
                t = tick[j]
                o, h, lo, x = px[0, i, t], px[1, i, t], px[2, i, t], px[3, i, t]
                if np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x):
                    pend[keep] = j  # the ticker has no bar today: its next open is later
                    keep += 1
                    continue
                js[j, J_NBARS] = 1
                js[j, J_LAST] = i
                if _open(j, i, side[j], o, market_fill(o, side[j], h, lo, p[P_SLIP], p[P_SLIPR]), equity, nlive, stop,
                         fs, js, status, acc, p, q):
                    fs[j, F_MARK] = o
                    live[nlive] = j
                    nlive += 1
            npend = keep
        # 2. inside the bar: stop and target of every open trade
        for a in range(nlive):
            j = live[a]
            t = tick[j]
            o, h, lo, x = px[0, i, t], px[1, i, t], px[2, i, t], px[3, i, t]
            if np.isnan(o) or np.isnan(h) or np.isnan(lo) or np.isnan(x):
                continue
            if js[j, J_LAST] != i:
                js[j, J_NBARS] += 1
                js[j, J_LAST] = i
            sd = side[j]
            if close_only:
                o_, h_, l_ = x, x, x
            else:
                o_, h_, l_ = o, h, lo
            st, tg = stop[j], target[j]
            worst = l_ if sd > 0.0 else h_
            best = h_ if sd > 0.0 else l_
            stop_gap = not np.isnan(st) and sd * (o_ - st) <= 0.0
            stop_hit = not np.isnan(st) and sd * (worst - st) <= 0.0
            tgt_gap = not np.isnan(tg) and sd * (o_ - tg) >= 0.0
            tgt_hit = not np.isnan(tg) and sd * (best - tg) >= 0.0
            if stop_gap:
                nrec = _close(j, i, market_fill(o_, -sd, h, lo, p[P_SLIP], p[P_SLIPR]), _REASON[_STOP], fs, js, tick, acc, p,
                              rec_f, rec_i, nrec)
            elif tgt_gap:
                nrec = _close(j, i, o_, _REASON[_TARGET], fs, js, tick, acc, p, rec_f, rec_i, nrec)
            elif stop_hit and tgt_hit:
                ambig[j] = True
                if q[Q_AMBIG] == 0:
                    nrec = _close(j, i, market_fill(st, -sd, h, lo, p[P_SLIP], p[P_SLIPR]), _REASON[_STOP], fs, js, tick, acc, p,
                                  rec_f, rec_i, nrec)
                else:
                    nrec = _close(j, i, tg, _REASON[_TARGET], fs, js, tick, acc, p, rec_f, rec_i, nrec)
            elif stop_hit:
                nrec = _close(j, i, market_fill(st, -sd, h, lo, p[P_SLIP], p[P_SLIPR]), _REASON[_STOP], fs, js, tick, acc, p,
                              rec_f, rec_i, nrec)
            elif tgt_hit:
                nrec = _close(j, i, tg, _REASON[_TARGET], fs, js, tick, acc, p, rec_f, rec_i, nrec)
        # the margin, at the worst prices of the bar
        dead = False
        if nlive > 0:
            eqw = acc[A_CASH]
            shorts = 0.0
            for a in range(nlive):
                j = live[a]
                if js[j, J_STATE] == _OPEN:
                    v = fs[j, F_POS] * _worst(px, i, tick[j], side[j], fs[j, F_MARK], close_only)
                    eqw += v
                    if fs[j, F_POS] < 0.0:
                        shorts -= v
            if margin_call(eqw, shorts, p[P_MMARGIN]):
                nrec = _liquidate_all(i, px, False, live, nlive, tick, side, fs, js, acc, p,
                                      close_only, rec_f, rec_i, nrec)
                dead = True
        # 3. at the close: time exits, and everything on the last bar
        for a in range(nlive if not dead else 0):
            j = live[a]
            if js[j, J_STATE] != _OPEN:
                continue
            t = tick[j]
            h, lo, x = px[1, i, t], px[2, i, t], px[3, i, t]
            sd = side[j]
            if not np.isnan(x):
                if horizon[j] >= 0 and js[j, J_LAST] == i and js[j, J_NBARS] >= horizon[j]:
                    nrec = _close(j, i, market_fill(x, -sd, h, lo, p[P_SLIP], p[P_SLIPR]), _REASON[_TIME], fs, js, tick, acc, p,
                                  rec_f, rec_i, nrec)
                elif i == n - 1:
                    nrec = _close(j, i, market_fill(x, -sd, h, lo, p[P_SLIP], p[P_SLIPR]), _REASON[_END], fs, js, tick, acc, p,
                                  rec_f, rec_i, nrec)
            elif i == n - 1:  # the ticker stopped trading: close at its last mark
                mk = fs[j, F_MARK]
                nrec = _close(j, i, market_fill(mk, -sd, mk, mk, p[P_SLIP], p[P_SLIPR]), _REASON[_END], fs, js, tick, acc, p,
                              rec_f, rec_i, nrec)
        keep = 0
        for a in range(nlive):
            if js[live[a], J_STATE] == _OPEN:
                live[keep] = live[a]
                keep += 1
        nlive = keep
        # 4. trades signalled on this bar
        equity = np.nan
        while ptr < m and sig[ptr] <= i and not dead:
            j = ptr
            ptr += 1
            if i == n - 1:
                js[j, J_STATE] = _DONE
                status[j] = _NO_BAR
            elif q[Q_FILL] == 1 and not late[j]:
                t = tick[j]
                h, lo, x = px[1, i, t], px[2, i, t], px[3, i, t]
                if np.isnan(equity):
                    equity = _equity(px, 3, i, live, nlive, tick, fs, acc[A_CASH])
                js[j, J_LAST] = i
                if _open(j, i, side[j], x, market_fill(x, side[j], h, lo, p[P_SLIP], p[P_SLIPR]), equity, nlive, stop, fs,
                         js, status, acc, p, q):
                    live[nlive] = j
                    nlive += 1
            else:
                js[j, J_STATE] = _PEND
                pend[npend] = j
                npend += 1
        # borrow and marks, then the equity of the bar
        eq = acc[A_CASH]
        gross = 0.0
        for a in range(nlive):
            j = live[a]
            x = px[3, i, tick[j]]
            if not np.isnan(x):
                fs[j, F_MARK] = x
                if fs[j, F_POS] < 0.0 and p[P_BORROW] > 0.0:
                    fee = p[P_BORROW] * (-fs[j, F_POS]) * x
                    acc[A_CASH] -= fee
                    fs[j, F_FEES] += fee
                    eq -= fee
            v = fs[j, F_POS] * fs[j, F_MARK]
            eq += v
            gross += abs(v)
        if not dead and eq <= 0.0:  # costs at the close took the equity to zero
            nrec = _liquidate_all(i, px, True, live, nlive, tick, side, fs, js, acc, p,
                                  close_only, rec_f, rec_i, nrec)
            dead = True
        if dead:  # bankrupt: flat to the end; no trade waiting or to come is entered
            bank[0] = i
            eq_out[i:] = acc[A_CASH]
            ex_out[i:] = 0.0
            for a in range(npend):
                status[pend[a]] = _BANKRUPT
                js[pend[a], J_STATE] = _DONE
            for j in range(ptr, m):
                status[j] = _BANKRUPT
                js[j, J_STATE] = _DONE
            return nrec
        eq_out[i] = eq
        ex_out[i] = gross / eq if eq > 0.0 else (0.0 if gross == 0.0 else np.nan)
    for a in range(npend):  # no valid bar of the ticker after the signal
        status[pend[a]] = _NO_BAR
    return nrec


@dataclass(frozen=True)
class ReplaySim:
    """Result of :func:`replay_trades`.

    ``trades`` is a :data:`~quantdb.kernels.simulate.TRADE_DTYPE` array (``column`` is the
    ticker index, ``size`` negative for shorts, ``exit_reason`` indexes ``EXIT_REASONS``),
    ordered by entry; ``trade_index[r]`` is the input position of record ``r``. ``status``
    (per input trade) indexes :data:`REPLAY_STATUS`; ``ambiguous`` marks the trades whose
    exit bar held both levels. ``equity`` and ``exposure`` are ``(dates,)``. A bankrupt
    account (``bankrupt_bar >= 0``) was liquidated on that bar and traded no more.
    """

    trades: np.ndarray
    trade_index: IntArray
    status: IntArray
    ambiguous: BoolArray
    equity: FloatArray
    exposure: FloatArray
    bankrupt_bar: int = -1

    @property
    def bankrupt(self) -> bool:
        """Whether the account was liquidated (on bar ``bankrupt_bar``; see
        :mod:`quantdb.kernels.margin`)."""
        return self.bankrupt_bar >= 0

    @property
    def ambiguous_exits(self) -> int:
        return int(self.ambiguous.sum())


def _fail(what: str, got: object) -> None:
    msg = f"{what}, got {got!r}"
    raise ArgumentError(msg)


def replay_trades(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray,
    ticker: IntArray, signal: IntArray, side: FloatArray, target: FloatArray,
    stop: FloatArray, horizon: IntArray, /, *, settings: SimSettings | None = None,
    bars: BarRule = "intrabar", next_open: BoolArray | None = None,
) -> ReplaySim:
    """Simulate independent trades, each with its own target, stop and time limit.

    Parameters
    ----------
    open_, high, low, close : ``(dates, tickers)`` prices (1-D for one ticker); NaN where a
        ticker has no bar.
    ticker, signal : per trade, the ticker column and the signal bar (a bar where that ticker
        has a close); entry at the next valid open (``fill="next-open"``) or that close.
    side : +1 long, -1 short.
    target, stop : absolute price levels (NaN: none).
    horizon : time limit in valid bars of the ticker after the signal bar (< 0: none).
    settings : costs, fill, sizing, ``ambiguous``, ``max_positions``, ``max_weight``,
        ``borrow_rate`` are used; the global levels (``stop_loss``, ``take_profit``,
        ``trailing_stop``, ``max_hold_bars``) and ``direction`` are not (the trades carry
        their own): setting one raises, as does a limit or stop ``order_type``.
    bars : ``"intrabar"`` (high/low, gaps at the open) or ``"close"`` (levels judged on the
        close and filled there).
    next_open : per trade, enter at the next valid open even when ``fill="close"`` (a trade
        decided on a day its ticker has no bar: the signal bar's close is older than the
        decision, so the first price it can have is the next open).

    Returns
    -------
    ReplaySim

    Examples
    --------
    >>> import numpy as np
    >>> o, c = np.array([10.0, 10.4, 10.6, 11.0]), np.array([10.0, 10.5, 11.2, 11.0])
    >>> h, lo = np.array([10.2, 10.7, 11.3, 11.2]), np.array([9.9, 10.3, 10.5, 10.8])
    >>> one = np.array([0])  # one long trade on ticker 0, signalled on bar 0
    >>> r = replay_trades(o, h, lo, c, one, one, np.array([1.0]), np.array([11.0]),
    ...                   np.array([9.5]), np.array([5]), settings=SimSettings(fill="close"))
    >>> r.trades[["entry_price", "exit_price", "exit_reason", "bars_held"]].tolist()
    [(10.0, 11.0, 2, 2)]
    """
    st = settings or SimSettings()
    for name in ("stop_loss", "take_profit", "trailing_stop", "max_hold_bars"):
        if getattr(st, name) is not None:
            _fail(f"replay_trades uses each trade's own levels: {name} must be None", getattr(st, name))
    if st.order_type != "market":
        _fail("replay_trades enters at market only: order_type must be 'market'", st.order_type)
    if bars not in ("intrabar", "close"):
        _fail("bars must be 'intrabar' or 'close'", bars)
    prices = []
    for name, a in (("open", open_), ("high", high), ("low", low), ("close", close)):
        arr = np.asarray(a, dtype=np.float64)
        arr = arr[:, None] if arr.ndim == 1 else arr
        if arr.ndim != 2:
            _fail(f"{name} must be 1-D or 2-D (dates, tickers)", arr.shape)
        prices.append(arr)
    n, k = prices[3].shape
    for name, arr in zip(("open", "high", "low"), prices[:3], strict=True):
        if arr.shape != (n, k):
            _fail(f"{name} must have the shape of close {(n, k)}", arr.shape)
    tk = np.asarray(ticker, dtype=np.int64).reshape(-1)
    m = len(tk)
    sg = np.asarray(signal, dtype=np.int64).reshape(-1)
    sd = np.asarray(side, dtype=np.float64).reshape(-1)
    tg = np.asarray(target, dtype=np.float64).reshape(-1)
    sl = np.asarray(stop, dtype=np.float64).reshape(-1)
    hz = np.asarray(horizon, dtype=np.int64).reshape(-1)
    for name, size in (("signal", len(sg)), ("side", len(sd)), ("target", len(tg)), ("stop", len(sl)),
                       ("horizon", len(hz))):
        if size != m:
            _fail(f"{name} must have one value per trade ({m})", size)
    if m and (tk.min() < 0 or tk.max() >= k):
        _fail(f"ticker must index the {k} price columns", (int(tk.min()), int(tk.max())))
    if m and (sg.min() < 0 or sg.max() >= n):
        _fail(f"signal must index the {n} dates", (int(sg.min()), int(sg.max())))
    if m and not np.all(np.abs(sd) == 1.0):
        _fail("side must be +1 (long) or -1 (short)", np.unique(sd)[:5].tolist())
    if m and np.isnan(prices[3][sg, tk]).any():
        _fail("every signal bar must have a close for its ticker", int(np.isnan(prices[3][sg, tk]).sum()))
    if m and (hz == 0).any():
        _fail("horizon must be >= 1 (or < 0 for none)", 0)
    order = np.argsort(sg, kind="stable")
    px = np.ascontiguousarray(np.stack(prices))
    p, q = pack_settings(st, shared=True, close_bars=bars == "close")
    status = np.zeros(m, dtype=np.int64)
    ambig = np.zeros(m, dtype=np.bool_)
    rec_f = np.zeros((m, 6))
    rec_i = np.zeros((m, 5), dtype=np.int64)
    eq = np.zeros(n)
    ex = np.zeros(n)
    late = np.zeros(m, dtype=np.bool_) if next_open is None else np.asarray(next_open, dtype=np.bool_).reshape(-1)
    if len(late) != m:
        _fail(f"next_open must have one value per trade ({m})", len(late))
    bank = np.full(1, -1, dtype=np.int64)
    nrec = _replay_nb(px, tk[order], sg[order], sd[order], tg[order], sl[order], hz[order], late[order], p, q,
                      status, ambig, rec_f, rec_i, eq, ex, bank)
    trades = np.zeros(nrec, dtype=TRADE_DTYPE)
    for j, name in enumerate(("column", "entry_index", "exit_index", "exit_reason")):
        trades[name] = rec_i[:nrec, j]
    for j, name in enumerate(("entry_price", "exit_price", "size", "pnl", "return", "fees")):
        trades[name] = rec_f[:nrec, j]
    trades["bars_held"] = trades["exit_index"] - trades["entry_index"]
    index = order[rec_i[:nrec, 4]]
    by_entry = np.lexsort((index, trades["entry_index"]))
    out_status = np.empty(m, dtype=np.int64)
    out_status[order] = status
    out_amb = np.empty(m, dtype=np.bool_)
    out_amb[order] = ambig
    return ReplaySim(trades=trades[by_entry], trade_index=index[by_entry], status=out_status,
                     ambiguous=out_amb, equity=eq, exposure=ex, bankrupt_bar=int(bank[0]))
