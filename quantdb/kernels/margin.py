"""Bankruptcy and margin calls: the rule every simulating kernel applies, in one place.

An account is **bankrupt** when, inside a bar, its equity valued at each position's worst price
of that bar (the low for a long, the high for a short) falls to the maintenance margin of its
shorts, ``maintenance_margin * sum(|short size| * high)``, or to zero when it holds no short.
Then every position is liquidated on that bar at that worst price, made worse by the
slippage; the account's cash is floored at zero (a deficit is the broker's loss, never a
negative equity) and the account trades no more: its equity stays where the liquidation left
it, and every later bar is a zero return. Costs charged at the close (exit commissions,
borrow) are checked at the close: equity at or below zero there closes the account too, at
the close.

:mod:`quantdb.kernels.simulate` (per column or per portfolio), :mod:`quantdb.kernels.fastsweep`
(long only, the same rule and the same arithmetic) and :mod:`quantdb.kernels.replay` (one
shared account) call these predicates.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy")
def margin_call(equity_at_worst: float, short_value: float,
                maintenance: float) -> bool:  # pragma: no cover - numba
    """Whether equity at the bar's worst prices is at or below the shorts' maintenance margin
    (``short_value`` = the shorts' value at their worst prices, positive)."""
    out: bool = equity_at_worst <= maintenance * short_value
    return out


@njit(cache=True, error_model="numpy")
def position_margin_call(cash: float, pos: float, worst: float,
                         maintenance: float) -> bool:  # pragma: no cover - numba
    """:func:`margin_call` of an account holding one position of ``pos`` shares (negative:
    short) besides ``cash``, at the position's worst price of the bar."""
    value = pos * worst
    return margin_call(cash + value, -value if pos < 0.0 else 0.0, maintenance)
