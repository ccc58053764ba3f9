"""Bankruptcy and margin calls (issue 12, part 2), hand-computed.

The rule (:mod:`quantdb.kernels.margin`): inside each bar, equity valued at every position's
worst price (the low of a long, the high of a short) at or below ``maintenance_margin`` times
the shorts' value there (zero without shorts) liquidates every position at that worst price
(slipped); cash is floored at zero; the account trades no more and its later returns are zeros.
Equity at or below zero at the close (costs) closes the account at the close.
"""

from __future__ import annotations

import numpy as np
import pytest

from quantdb.kernels.metrics import sharpe_ratio
from quantdb.kernels.replay import REPLAY_STATUS, replay_trades
from quantdb.kernels.simulate import (
    EXIT_REASONS,
    LIQUIDATION,
    SIGNAL,
    simulate,
    sweep_stats,
)
from quantdb.settings import SettingsError, SimSettings


def bars(*rows: tuple[float, float, float, float]) -> tuple[np.ndarray, ...]:
    """(open, high, low, close) rows -> four (dates, 1) arrays."""
    a = np.array(rows, dtype=float)
    return tuple(a[:, j : j + 1].copy() for j in range(4))


def sig(n: int, *idx: int) -> np.ndarray:
    out = np.zeros((n, 1), dtype=bool)
    out[list(idx), 0] = True
    return out


# a short of 10 shares at 100 from 1,000 of cash: 2,000 of cash, 1,000 of equity
RALLY = bars((100, 100, 100, 100), (110, 125, 105, 120), (130, 160, 125, 150),
             (190, 210, 180, 200), (200, 200, 200, 200), (200, 200, 200, 200))
SHORT10 = {"cash": 1000.0, "direction": "short", "fill": "close", "sizing": "shares",
           "sizing_value": 10.0}


def short(ohlc: tuple[np.ndarray, ...], entries: np.ndarray, **kw: object) -> object:
    n = len(ohlc[0])
    return simulate(*ohlc, entries, sig(n), settings=SimSettings(**{**SHORT10, **kw}))  # type: ignore[arg-type]


def test_maintenance_margin_liquidates_at_the_worst_price_and_stops_trading() -> None:
    # bar 1: high 125, equity there 2000 - 1250 = 750 > 0.3 * 1250; bar 2: high 160,
    # 2000 - 1600 = 400 <= 0.3 * 1600 = 480: liquidated at 160, 400 left; the signal on bar 3
    # is not traded
    r = short(RALLY, sig(6, 0, 3))
    (t,) = r.trades
    assert (t["size"], t["entry_index"], t["exit_index"], t["exit_price"]) == (-10.0, 0, 2, 160.0)
    assert EXIT_REASONS[t["exit_reason"]] == "liquidation" and t["exit_reason"] == LIQUIDATION
    assert r.equity[:, 0].tolist() == [1000.0, 800.0, 400.0, 400.0, 400.0, 400.0]
    assert r.stats.bankrupt.tolist() == [True] and r.stats.bankrupt_bar.tolist() == [2]
    assert r.final_equity[0] == 400.0
    assert r.stats.max_drawdown[0] == pytest.approx(-0.6)
    # Sharpe of the returns up to the bankruptcy, then zeros
    rets = np.array([0.0, -0.2, -0.5, 0.0, 0.0, 0.0])
    assert r.stats.sharpe[0] == pytest.approx(sharpe_ratio(rets), rel=1e-12)


def test_without_maintenance_margin_the_account_goes_at_zero_floored() -> None:
    # bar 2: 2000 - 1600 = 400 > 0; bar 3: high 210: 2000 - 2100 = -100 <= 0, liquidated at
    # 210: cash -100, floored at 0 (the broker's loss), never below zero
    r = short(RALLY, sig(6, 0), maintenance_margin=0.0)
    (t,) = r.trades
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (3, 210.0, LIQUIDATION)
    assert t["pnl"] == pytest.approx(-1100.0)  # the trade's own loss, beyond the equity
    assert r.equity[:, 0].tolist() == [1000.0, 800.0, 500.0, 0.0, 0.0, 0.0]
    assert r.stats.max_drawdown[0] == -1.0 and r.final_equity[0] == 0.0
    assert r.stats.total_return[0] == -1.0
    assert r.stats.bankrupt_bar.tolist() == [3]
    rets = np.array([0.0, -0.2, -0.375, -1.0, 0.0, 0.0])
    assert r.stats.sharpe[0] == pytest.approx(sharpe_ratio(rets), rel=1e-12)
    assert (r.exposure[3:, 0] == 0.0).all()


def test_a_gap_past_zero_still_floors_and_the_liquidation_pays_slippage() -> None:
    gap = bars((100, 100, 100, 100), (250, 260, 240, 255), (255,) * 4)
    r = short(gap, sig(3, 0))
    (t,) = r.trades
    assert t["exit_price"] == 260.0  # the bar's high, not its open
    assert t["pnl"] == -1600.0 and r.equity[:, 0].tolist() == [1000.0, 0.0, 0.0]
    # slipped: sold short at 99, cash 1,990; bar 2: 1990 - 1600 = 390 <= 480, bought back
    # at 160 * 1.01
    r = short(RALLY, sig(6, 0), slippage_bps=100.0)
    assert r.trades["exit_price"][0] == pytest.approx(160 * 1.01)
    assert r.final_equity[0] == pytest.approx(1990 - 10 * 160 * 1.01)


def test_costs_at_the_close_can_end_the_account() -> None:
    # 5 shares at 10 with a fixed fee of 40 leave 10 of cash; sold at 2 on bar 1 the exit fee
    # takes the cash to 10 + 10 - 40 = -20: bankrupt at that close, floored at 0
    ohlc = bars((10,) * 4, (2,) * 4, (10,) * 4, (10,) * 4)
    r = simulate(*ohlc, sig(4, 0, 2), sig(4, 1), settings=SimSettings(
        cash=100.0, fill="close", sizing="shares", sizing_value=5.0, commission_fixed=40.0))
    (t,) = r.trades
    assert (t["exit_index"], t["exit_reason"]) == (1, SIGNAL)
    assert r.equity[:, 0].tolist() == [60.0, 0.0, 0.0, 0.0]
    assert r.stats.bankrupt_bar.tolist() == [1]


def test_a_long_at_a_zero_low_with_no_cash_left() -> None:
    # all in (10 shares at 10, no cash left); the low touches 0: equity there is 0
    ohlc = bars((10,) * 4, (10, 10, 0, 5), (5,) * 4, (5,) * 4)
    r = simulate(*ohlc, sig(4, 0, 2), sig(4), settings=SimSettings(cash=100.0, fill="close"))
    (t,) = r.trades
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (1, 0.0, LIQUIDATION)
    assert r.equity[:, 0].tolist() == [100.0, 0.0, 0.0, 0.0]
    # with cash left over the low of 0 leaves equity: no bankruptcy
    r = simulate(*ohlc, sig(4, 0), sig(4), settings=SimSettings(
        cash=100.0, fill="close", sizing="shares", sizing_value=9.0))
    assert not r.stats.bankrupt[0] and r.trades["exit_reason"].tolist() == [5]


def test_sweep_stats_equal_simulate_column_by_column() -> None:
    # three columns: no trade, the margin call on bar 2, a short from bar 4 (flat prices)
    e = np.zeros((6, 3), dtype=bool)
    e[0, 1] = e[4, 2] = True
    x = np.zeros_like(e)
    st = SimSettings(**SHORT10)  # type: ignore[arg-type]
    full = simulate(*RALLY, e, x, settings=st)
    fast = sweep_stats(*RALLY, e, x, settings=st)
    assert fast.bankrupt.tolist() == [False, True, False]
    assert fast.bankrupt_bar.tolist() == [-1, 2, -1]
    for name in ("final_equity", "sharpe", "max_drawdown", "n_trades", "bankrupt", "bankrupt_bar"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(full.stats, name), err_msg=name)


def test_a_portfolio_is_one_account_every_position_is_liquidated() -> None:
    # long 5 A at 100 and short 5 B at 100 from 1,000: cash 1,000. Bar 1: A's low 95, B's high
    # 240: equity there 1000 + 475 - 1200 = 275 <= 0.3 * 1200: both go, at 95 and 240
    o = np.array([[100, 100], [100, 200], [100, 100]], dtype=float)
    h = np.array([[100, 100], [101, 240], [100, 100]], dtype=float)
    lo = np.array([[100, 100], [95, 190], [100, 100]], dtype=float)
    c = np.array([[100, 100], [100, 230], [100, 100]], dtype=float)
    le = np.array([[True, False], [False, False], [False, False]])
    se = np.array([[False, True], [False, False], [False, False]])
    none = np.zeros_like(le)
    st = SimSettings(cash=1000.0, direction="both", fill="close", sizing="shares",
                     sizing_value=5.0)
    r = simulate(o, h, lo, c, le, none, se, none, settings=st, portfolio=True)
    t = r.trades
    assert t[["column", "exit_index", "exit_price", "exit_reason"]].tolist() == [
        (0, 1, 95.0, LIQUIDATION), (1, 1, 240.0, LIQUIDATION)]
    assert r.equity.tolist() == [1000.0, 275.0, 275.0]
    assert r.stats.bankrupt.tolist() == [True] and r.stats.bankrupt_bar.tolist() == [1]
    # one short alone at the same prices is not called: the long's value holds the margin
    big = SimSettings(cash=1000.0, direction="both", fill="close", sizing="shares",
                      sizing_value=5.0, maintenance_margin=0.1)
    r = simulate(o, h, lo, c, le, none, se, none, settings=big, portfolio=True)
    assert not r.stats.bankrupt[0] and (r.trades["exit_reason"] == 5).all()


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan")])
def test_maintenance_margin_is_validated(value: float) -> None:
    with pytest.raises(SettingsError, match="maintenance_margin"):
        SimSettings(maintenance_margin=value)


def test_replay_liquidates_the_shared_account_and_refuses_later_trades() -> None:
    # a short of 10 at 100 (bar 0's close) from 1,000; bar 2's high 160 calls the margin; the
    # trade signalled on bar 3 is never entered
    o, h, lo, c = (a[:, 0] for a in RALLY)
    st = SimSettings(cash=1000.0, sizing="shares", sizing_value=10.0, fill="close")
    r = replay_trades(o, h, lo, c, np.array([0, 0]), np.array([0, 3]), np.array([-1.0, 1.0]),
                      np.array([np.nan, np.nan]), np.array([np.nan, np.nan]),
                      np.array([-1, -1]), settings=st)
    (t,) = r.trades
    assert (t["entry_price"], t["exit_index"], t["exit_price"]) == (100.0, 2, 160.0)
    assert EXIT_REASONS[t["exit_reason"]] == "liquidation"
    assert r.bankrupt and r.bankrupt_bar == 2
    assert [REPLAY_STATUS[s] for s in r.status] == ["traded", "bankrupt"]
    assert r.equity.tolist() == [1000.0, 800.0, 400.0, 400.0, 400.0, 400.0]
