"""Trade statistics from closed trades' P&L, and the period-based variants QuantStats reports.

Trade-based (one value per closed trade, 1-D; NaN entries are ignored):

* A **win** is a trade with P&L > 0, a **loss** P&L < 0, **break-even** P&L == 0.
* ``win_rate = wins / (wins + losses + break-evens)``: break-even trades count in the
  denominator (a trade that made nothing was not a win). QuantStats' period win rate
  leaves zero periods out instead: see :func:`win_rate_periods`.
* ``profit_factor = gross wins / |gross losses|``: ``inf`` with wins and no loss, NaN with
  neither.
* ``kelly_fraction = p - (1 - p) / b`` with ``p`` the win rate and ``b`` the payoff ratio
  (the fixed-odds Kelly fraction, as QuantStats' ``kelly_criterion``).
* ``sqn = sqrt(n) * mean / std(ddof=1)`` (Van Tharp's System Quality Number) of whatever
  is passed: R-multiples preferably, else P&L or trade returns.

Period-based (QuantStats' names, over returns, 1-D or 2-D): :func:`win_rate_periods`,
:func:`profit_factor_periods`. Too little data gives NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.kernels.columns import as_2d, finish

__all__ = [
    "average_holding_days",
    "average_loss",
    "average_win",
    "expectancy",
    "kelly_fraction",
    "longest_loss_streak",
    "longest_win_streak",
    "payoff_ratio",
    "profit_factor",
    "profit_factor_periods",
    "sqn",
    "trade_stats",
    "win_rate",
    "win_rate_periods",
]


def _trades(values: npt.ArrayLike, name: str = "pnl") -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        msg = f"{name} must be 1-D (one value per trade), got {arr.ndim}-D"
        raise ArgumentError(msg)
    return arr[~np.isnan(arr)]


def win_rate(pnl: npt.ArrayLike, /) -> float:
    """Share of trades with P&L > 0, break-even trades in the denominator.

    Examples
    --------
    >>> win_rate([10.0, -5.0, 0.0, 3.0])
    0.5
    """
    p = _trades(pnl)
    return float(np.mean(p > 0)) if p.size else math.nan


def average_win(pnl: npt.ArrayLike, /) -> float:
    """Mean P&L of the winning trades (NaN without a win).

    Examples
    --------
    >>> average_win([10.0, -5.0, 0.0, 4.0])
    7.0
    """
    p = _trades(pnl)
    w = p[p > 0]
    return float(np.mean(w)) if w.size else math.nan


def average_loss(pnl: npt.ArrayLike, /) -> float:
    """Mean P&L of the losing trades, a negative number (NaN without a loss).

    Examples
    --------
    >>> average_loss([10.0, -5.0, -1.0])
    -3.0
    """
    p = _trades(pnl)
    lo = p[p < 0]
    return float(np.mean(lo)) if lo.size else math.nan


def payoff_ratio(pnl: npt.ArrayLike, /) -> float:
    """Average win over the absolute average loss (NaN without both).

    Examples
    --------
    >>> payoff_ratio([10.0, -5.0, 4.0, -2.0])
    2.0
    """
    w, lo = average_win(pnl), average_loss(pnl)
    return w / abs(lo) if not (math.isnan(w) or math.isnan(lo)) else math.nan


def profit_factor(pnl: npt.ArrayLike, /) -> float:
    """Gross wins over absolute gross losses; ``inf`` with no loss, NaN with no trade P&L.

    Examples
    --------
    >>> profit_factor([10.0, -5.0, 5.0])
    3.0
    """
    p = _trades(pnl)
    wins = float(np.sum(p[p > 0]))
    losses = -float(np.sum(p[p < 0]))
    if losses > 0:
        return wins / losses
    return math.inf if wins > 0 else math.nan


def expectancy(pnl: npt.ArrayLike, /) -> float:
    """Mean P&L per trade (= win rate x average win + loss rate x average loss).

    Examples
    --------
    >>> expectancy([10.0, -5.0, 0.0, 3.0])
    2.0
    """
    p = _trades(pnl)
    return float(np.mean(p)) if p.size else math.nan


def sqn(values: npt.ArrayLike, /, *, max_trades: int | None = None) -> float:
    """System Quality Number: ``sqrt(n) * mean / std(ddof=1)`` of R-multiples (or P&L).

    Parameters
    ----------
    values : array_like
        One value per trade: R-multiples (P&L / initial risk) as Van Tharp defines it, or
        P&L or returns (then it is a t-statistic of the mean trade).
    max_trades : int, optional
        Cap ``n`` in ``sqrt(n)`` (Van Tharp later capped it at 100 so that large samples do
        not inflate the figure).

    Examples
    --------
    >>> round(sqn([1.0, -1.0, 2.0, 2.0]), 6)  # sqrt(4) * 1 / sqrt(2)
    1.414214
    """
    p = _trades(values, "values")
    if p.size < 2:
        return math.nan
    sd = float(np.std(p, ddof=1))
    if sd == 0.0 or float(np.max(p)) == float(np.min(p)):
        return math.nan
    n = p.size if max_trades is None else min(p.size, max_trades)
    return math.sqrt(n) * float(np.mean(p)) / sd


def kelly_fraction(pnl: npt.ArrayLike, /) -> float:
    """Fixed-odds Kelly fraction ``p - (1 - p) / b`` (win rate p, payoff ratio b).

    Examples
    --------
    >>> kelly_fraction([2.0, -1.0, 2.0, -1.0])
    0.25
    """
    p, b = win_rate(pnl), payoff_ratio(pnl)
    if math.isnan(p) or math.isnan(b) or b == 0.0:
        return math.nan
    return p - (1.0 - p) / b


def _longest_run(mask: npt.NDArray[np.bool_]) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int(np.max(edges[1::2] - edges[::2]))


def longest_win_streak(pnl: npt.ArrayLike, /) -> int:
    """Most consecutive winning trades (a break-even or losing trade ends a streak).

    Examples
    --------
    >>> longest_win_streak([1.0, 2.0, 0.0, 1.0, 1.0, 1.0, -1.0])
    3
    """
    return _longest_run(_trades(pnl) > 0)


def longest_loss_streak(pnl: npt.ArrayLike, /) -> int:
    """Most consecutive losing trades (a break-even or winning trade ends a streak).

    Examples
    --------
    >>> longest_loss_streak([-1.0, -2.0, 1.0, -1.0])
    2
    """
    return _longest_run(_trades(pnl) < 0)


def average_holding_days(holding_days: npt.ArrayLike, /) -> float:
    """Mean holding period of the trades, in days (NaN without trades).

    Examples
    --------
    >>> average_holding_days([1, 3, 5])
    3.0
    """
    d = _trades(holding_days, "holding_days")
    return float(np.mean(d)) if d.size else math.nan


def trade_stats(
    pnl: npt.ArrayLike,
    /,
    *,
    returns: npt.ArrayLike | None = None,
    holding_days: npt.ArrayLike | None = None,
    r_multiples: npt.ArrayLike | None = None,
) -> dict[str, float]:
    """Every trade statistic of one list of closed trades.

    Parameters
    ----------
    pnl : array_like
        P&L of each closed trade (currency).
    returns : array_like, optional
        Return of each trade (fraction); adds ``average_trade_return``, and is what
        ``sqn`` uses when `r_multiples` is not given.
    holding_days : array_like, optional
        Holding period of each trade; adds ``average_holding_days``.
    r_multiples : array_like, optional
        P&L over initial risk per trade; preferred input of ``sqn``.

    Returns
    -------
    dict of str to float
        ``trades, win_rate, average_win, average_loss, payoff_ratio, profit_factor,
        expectancy, sqn, kelly_fraction, longest_win_streak, longest_loss_streak`` and the
        optional keys above.

    Examples
    --------
    >>> s = trade_stats([10.0, -5.0, 0.0, 3.0])
    >>> s["trades"], s["win_rate"], s["profit_factor"]
    (4.0, 0.5, 2.6)
    """
    p = _trades(pnl)
    sqn_input = r_multiples if r_multiples is not None else (returns if returns is not None else p)
    out = {
        "trades": float(p.size),
        "win_rate": win_rate(p),
        "average_win": average_win(p),
        "average_loss": average_loss(p),
        "payoff_ratio": payoff_ratio(p),
        "profit_factor": profit_factor(p),
        "expectancy": expectancy(p),
        "sqn": sqn(sqn_input),
        "kelly_fraction": kelly_fraction(p),
        "longest_win_streak": float(longest_win_streak(p)),
        "longest_loss_streak": float(longest_loss_streak(p)),
    }
    if returns is not None:
        r = _trades(returns, "returns")
        out["average_trade_return"] = float(np.mean(r)) if r.size else math.nan
    if holding_days is not None:
        out["average_holding_days"] = average_holding_days(holding_days)
    return out


def win_rate_periods(returns: npt.ArrayLike, /) -> Any:
    """QuantStats' ``win_rate``: positive periods over non-zero periods (NaN skipped).

    Zero-return periods (flat, not invested) are left out of the denominator. NaN when no
    period is non-zero (QuantStats returns 0.0 with a warning there).

    Examples
    --------
    >>> float(win_rate_periods([0.01, -0.02, 0.0, 0.03]))
    0.6666666666666666
    """
    a, one_d = as_2d(returns)
    pos = np.sum(a > 0, axis=0)
    nonzero = np.sum((a != 0) & ~np.isnan(a), axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = np.where(nonzero > 0, pos / nonzero, np.nan)
    return finish(out, one_d)


def profit_factor_periods(returns: npt.ArrayLike, /) -> Any:
    """QuantStats' ``profit_factor``: sum of non-negative periods over |sum of negative ones|.

    ``inf`` with gains and no losing period, NaN with neither (QuantStats gives 0.0 there).

    Examples
    --------
    >>> float(profit_factor_periods([0.02, -0.01, 0.01]))
    3.0
    """
    a, one_d = as_2d(returns)
    wins = np.nansum(np.where(a >= 0, a, 0.0), axis=0)
    losses = -np.nansum(np.where(a < 0, a, 0.0), axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = np.where(
            losses > 0, wins / np.where(losses > 0, losses, 1.0), np.where(wins > 0, np.inf, np.nan)
        )
    return finish(out, one_d)
