"""Order size, fill and cost: small numba functions the simulation kernels call per order.

Kept apart from the loops in :mod:`quantdb.kernels.simulate`, :mod:`quantdb.kernels.replay`
and :mod:`quantdb.kernels.fastsweep` so that each rule can be read (and tested) on its own,
and so that the three kernels fill, cost and size an order with the same code (same
expressions, same bits). Every function here is scalar in, scalar out, except that
:func:`tally` and :func:`sizing_value` read and update a trade book: a 4-element view
``[wins, sum of winning returns, losses, sum of losing returns]``.

Sizing modes (codes used by the kernel):

``SHARES`` (0)
    ``value`` shares.
``CASH`` (1)
    as many shares as ``value`` currency buys after costs.
``EQUITY`` (2)
    a fraction ``value`` of equity: ``floor((F * equity - fixed) / (price * (1 + commission)
    + per_share))`` whole shares (the floor is dropped in fractional mode). With ``F = 1`` and
    no fixed or per-share cost this is backtesting.py's default ``buy()`` and vectorbt's
    ``size=np.inf``.
``RISK`` (3)
    volatility target: risk ``value`` of equity per trade, where the risk per share is the
    stop distance (``entry * stop_loss``) or ``atr_mult * ATR``; capped at what equity buys.
``KELLY`` (4)
    capped fractional Kelly: ``F = clip(value * (p - (1 - p) / b), 0, cap)`` from the column's
    own closed trades (win rate ``p``, payoff ratio ``b``), ``cap`` until ``min_trades`` have
    closed; then sized as ``EQUITY`` with that ``F``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quantdb._typing import FloatArray
from quantdb.settings import CASH, KELLY, RISK, SHARES


@njit(cache=True, error_model="numpy")
def order_fee(
    value: float, shares: float, frac: float, per_share: float, fixed: float, minimum: float
) -> float:  # pragma: no cover - numba
    """Commission of one order: ``max(minimum, frac * |value| + per_share * |shares| + fixed)``."""
    if shares == 0.0:
        return 0.0
    fee = frac * abs(value) + per_share * abs(shares) + fixed
    return max(fee, minimum)


@njit(cache=True, error_model="numpy")
def kelly_fraction(
    wins: float, win_sum: float, losses: float, loss_sum: float, scale: float, cap: float,
    min_trades: float,
) -> float:  # pragma: no cover - numba
    """Capped fractional Kelly from closed-trade counts and summed returns (losses positive)."""
    if wins + losses < min_trades:
        return cap
    if losses == 0.0 or loss_sum == 0.0:
        return cap
    if wins == 0.0:
        return 0.0
    p = wins / (wins + losses)
    b = (win_sum / wins) / (loss_sum / losses)
    f = scale * (p - (1.0 - p) / b)
    return min(max(f, 0.0), cap)


@njit(cache=True, error_model="numpy")
def order_size(
    mode: int, value: float, fractional: bool, equity: float, price: float, frac: float,
    per_share: float, fixed: float, risk_per_share: float, max_weight: float,
) -> float:  # pragma: no cover - numba
    """Unsigned number of shares for a new position bought or sold short at ``price``.

    ``value`` is the mode's parameter (shares, cash, equity fraction, risk fraction or, for
    Kelly, the fraction already resolved by :func:`kelly_fraction`). ``max_weight`` caps the
    position value at that fraction of equity (``inf`` for none). Never negative.
    """
    unit = price * (1.0 + frac) + per_share
    if not (unit > 0.0) or (not (equity > 0.0) and mode != SHARES):
        return 0.0
    if mode == SHARES:
        s = value
    elif mode == CASH:
        s = (value - fixed) / unit
    elif mode == RISK:
        if not (risk_per_share > 0.0):
            return 0.0
        s = min(value * equity / risk_per_share, (equity - fixed) / unit)
    else:  # EQUITY and KELLY
        s = (value * equity - fixed) / unit
    if max_weight < np.inf:
        s = min(s, max_weight * equity / price)
    if not fractional:
        s = np.floor(s)
    return max(s, 0.0)


@njit(cache=True, error_model="numpy")
def affordable(
    shares: float, price: float, cash: float, fractional: bool, frac: float, per_share: float,
    fixed: float, minimum: float,
) -> float:  # pragma: no cover - numba
    """Largest size not above ``shares`` whose cost plus commission fits in ``cash``."""
    s = shares
    for _ in range(64):
        if s <= 0.0:
            return 0.0
        cost = s * price + order_fee(s * price, s, frac, per_share, fixed, minimum)
        if cost <= cash * (1.0 + 1e-12):
            return s
        if fractional:
            fee_floor = max(fixed, minimum)
            s = min(s * (1.0 - 1e-12), (cash - fee_floor) / (price * (1.0 + frac) + per_share))
        else:
            s = np.floor(min(s - 1.0, (cash - fixed) / (price * (1.0 + frac) + per_share)))
    return 0.0


@njit(cache=True, error_model="numpy")
def market_fill(
    px: float, side: float, hi: float, lo: float, slippage: float, range_slippage: float
) -> float:  # pragma: no cover - numba
    """Fill price of a market order at ``px``: worse by ``slippage`` (a fraction of the price)
    and by ``range_slippage`` of the bar's range ``hi - lo``; ``side`` is +1 to buy, -1 to sell."""
    rng = hi - lo if hi >= lo else 0.0
    out: float = px * (1.0 + side * slippage) + side * range_slippage * rng
    return out


@njit(cache=True, error_model="numpy")
def close_position(
    pos: float, px: float, entry_px: float, fees: float, frac: float, per_share: float,
    fixed: float, minimum: float,
) -> tuple[float, float, float, float]:  # pragma: no cover - numba
    """Close a position of ``pos`` shares (negative: short) entered at ``entry_px`` at ``px``.

    Returns ``(cash in, total fees, pnl, return)``: the cash the closing order brings after
    its commission, the fees of the round trip (``fees`` paid so far plus this one), the
    profit after all fees and the return on the entry value.
    """
    fee = order_fee(abs(pos) * px, pos, frac, per_share, fixed, minimum)
    total = fees + fee
    pnl = pos * (px - entry_px) - total
    return pos * px - fee, total, pnl, pnl / (abs(pos) * entry_px)


@njit(cache=True, error_model="numpy")
def tally(ret: float, book: FloatArray) -> None:  # pragma: no cover - numba
    """Count a closed trade's return in ``book`` (wins and losses are Kelly's inputs)."""
    if ret > 0.0:
        book[0] += 1.0
        book[1] += ret
    elif ret < 0.0:
        book[2] += 1.0
        book[3] -= ret


@njit(cache=True, error_model="numpy")
def sizing_value(
    code: int, value: float, book: FloatArray, cap: float, min_trades: float
) -> float:  # pragma: no cover - numba
    """The sizing amount of the next order: ``value``, or for ``KELLY`` the capped fractional
    Kelly fraction from the trades counted in ``book`` so far."""
    if code == KELLY:
        return kelly_fraction(book[0], book[1], book[2], book[3], value, cap, min_trades)
    return value
