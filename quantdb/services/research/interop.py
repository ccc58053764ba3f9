"""A backtest's trades handed to vectorbt: ``BacktestResult.to_vectorbt()``.

Each trade becomes two orders of ``vectorbt.Portfolio.from_orders``: ``size`` shares (negative
for a short) at its entry price on its entry date, and the opposite at its exit price on its
exit date. Prices are quantdb's fills (slippage included), so no slippage is added; fees are
fixed fees of those orders: the entry order pays the commission of its fill
(`quantdb.kernels.sizing.order_fee`), the exit order the rest of the trade's fees (its own
commission plus any borrow), so the cash after each round trip equals quantdb's.

Columns: one per ticker, plus ``TICKER#2``, ``TICKER#3`` ... when trades of one ticker overlap
or one ends on the bar the next begins (vectorbt takes one order per bar and column; replays
have overlapping predictions). A trade that opens and closes on the same bar gets a second row
on that date (its exit, twelve hours later), as only then are its two orders apart. Cash is
shared by every column in portfolio mode and by a ticker's columns in independent mode
(``group_by``: each ticker its own account with all the cash, quantdb's equity then being the
mean of the tickers'). The close of each column (for marking positions) is the ticker's
adjusted close, read again through the result's `quantdb.services.research.origin.Origin`.

What stays different: vectorbt limits a short sale by its free cash; quantdb by its margin
rule (`quantdb.kernels.margin`), so a short that vectorbt refuses raises instead of drifting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    from quantdb.services.research.backtest import BacktestResult

__all__ = ["VectorbtOrders", "to_vectorbt", "vectorbt_orders"]


@dataclass(frozen=True)
class VectorbtOrders:
    """The order matrices of a result, ``(rows, columns)``; NaN size: no order in that cell."""

    index: Any  # pandas DatetimeIndex
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    close: FloatArray
    size: FloatArray
    price: FloatArray
    fixed_fees: FloatArray
    init_cash: float


def _lanes(tickers_of: np.ndarray, entry: np.ndarray, exit_: np.ndarray) -> np.ndarray:
    """Per trade, its lane within its ticker: the first whose last exit is before its entry."""
    lanes = np.zeros(len(entry), dtype=np.int64)
    ends: dict[int, list[int]] = {}
    for j in np.lexsort((exit_, entry)):
        busy = ends.setdefault(int(tickers_of[j]), [])
        for lane, last in enumerate(busy):
            if last < entry[j]:
                busy[lane] = int(exit_[j])
                lanes[j] = lane
                break
        else:
            lanes[j] = len(busy)
            busy.append(int(exit_[j]))
    return lanes


def vectorbt_orders(res: BacktestResult) -> VectorbtOrders:
    """The orders, prices, fees and closes that reproduce ``res`` in vectorbt (see the module).

    Raises
    ------
    ArgumentError
        the result has no `Origin` to read its prices from.
    """
    import pandas as pd

    from quantdb.kernels.sizing import order_fee

    origin = res.origin
    if origin is None:
        msg = "this result does not say where its prices came from (no origin): run it with run_backtest"
        raise ArgumentError(msg)
    t = res.trade_records
    k = len(res.tickers)
    tick = np.asarray(t["column"], dtype=np.int64) % k
    entry = np.asarray(t["entry_index"], dtype=np.int64)
    exit_ = np.asarray(t["exit_index"], dtype=np.int64)
    lanes = _lanes(tick, entry, exit_)
    # columns: lane 0 of every ticker (an account without trades still holds its cash), then more
    n_lanes = np.zeros(k, dtype=np.int64)
    np.maximum.at(n_lanes, tick, lanes)
    col_of: dict[tuple[int, int], int] = {}
    names: list[str] = []
    groups: list[str] = []
    col_ticker: list[int] = []
    for c, name in enumerate(res.tickers):
        for lane in range(int(n_lanes[c]) + 1):
            col_of[(c, lane)] = len(names)
            names.append(name if lane == 0 else f"{name}#{lane + 1}")
            col_ticker.append(c)
            groups.append(name if origin.mode == "independent" else "portfolio")
    column = np.array([col_of[(int(c), int(ln))] for c, ln in zip(tick, lanes, strict=True)], dtype=np.int64)
    # rows: each date once, plus a second row on a date where a trade opens and closes
    n = len(res.dates)
    same = entry == exit_
    split = np.zeros(n, dtype=np.bool_)
    split[entry[same]] = True
    row_of = np.arange(n) + np.concatenate([[0], np.cumsum(split)[:-1]])  # first row of each date
    days = pd.DatetimeIndex(np.asarray(res.dates, dtype="datetime64[D]"))
    stamps = []
    for i in range(n):
        stamps.append(days[i])
        if split[i]:
            stamps.append(days[i] + pd.Timedelta(hours=12))
    index = pd.DatetimeIndex(stamps, name="date")
    rows = len(index)
    size = np.full((rows, len(names)), np.nan)
    price = np.full((rows, len(names)), np.nan)
    fees = np.zeros((rows, len(names)))
    st = res.settings
    shares = np.abs(np.asarray(t["size"], dtype=np.float64))
    for j in range(len(t)):
        fee_in = float(order_fee(shares[j] * t["entry_price"][j], shares[j], st.commission,
                                 st.commission_per_share, st.commission_fixed, st.commission_min))
        r_in, r_out = row_of[entry[j]], row_of[exit_[j]] + (1 if same[j] else 0)
        c = column[j]
        size[r_in, c], price[r_in, c], fees[r_in, c] = t["size"][j], t["entry_price"][j], fee_in
        size[r_out, c], price[r_out, c] = -t["size"][j], t["exit_price"][j]
        fees[r_out, c] = float(t["fees"][j]) - fee_in
    # marks: each ticker's adjusted close on the result's dates (carried over gaps)
    dates, loaded, bars = origin.bars(list(res.tickers))
    pos = np.searchsorted(dates, np.asarray(res.dates, dtype="datetime64[D]"))
    pos = np.clip(pos, 0, max(len(dates) - 1, 0))
    by_name = {name: i for i, name in enumerate(loaded)}
    close_t = np.full((n, k), np.nan)
    for c, name in enumerate(res.tickers):
        if name in by_name:
            close_t[:, c] = bars.close[pos, by_name[name]]
    close_t = pd.DataFrame(close_t).ffill().bfill().fillna(1.0).to_numpy()
    row_date = np.repeat(np.arange(n), 1 + split.astype(np.int64))
    close = close_t[row_date][:, np.asarray(col_ticker, dtype=np.int64)]
    return VectorbtOrders(index, tuple(names), tuple(groups), close, size, price, fees, float(st.cash))


def to_vectorbt(res: BacktestResult) -> Any:
    """``vectorbt.Portfolio`` of ``res``'s trades (see the module); its final value (summed over
    the groups in portfolio mode, their mean in independent mode) and trade count equal quantdb's.

    Raises
    ------
    quantdb.adapters.vectorbt_.VectorbtMissing
        vectorbt is not installed (``pip install vectorbt``).
    ArgumentError
        no origin to read prices from, or vectorbt refused an order (a short beyond its cash).
    """
    from quantdb.adapters.vectorbt_ import portfolio_from_orders

    o = vectorbt_orders(res)
    try:
        return portfolio_from_orders(o.index, o.columns, o.close, o.size, o.price, o.fixed_fees,
                                     init_cash=o.init_cash, group_by=o.groups)
    except Exception as exc:
        if type(exc).__name__ != "RejectedOrderError":
            raise
        msg = f"vectorbt refused one of this result's orders ({exc}); its cash rules differ for shorts"
        raise ArgumentError(msg) from None
