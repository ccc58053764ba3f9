"""Hand-computed cases for every order type, exit rule, cost and sizing rule of the kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantdb.errors import ArgumentError, QuantdbError
from quantdb.kernels.simulate import (
    END,
    SIGNAL,
    STOP,
    TARGET,
    TIME,
    TRAILING,
    simulate,
    sweep_stats,
)
from quantdb.settings import SettingsError, SimSettings

F = False
T = True


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1337)


def bars(*rows: tuple[float, float, float, float]) -> tuple[np.ndarray, ...]:
    """(open, high, low, close) rows -> four (dates, 1) arrays."""
    a = np.array(rows, dtype=float)
    return tuple(a[:, j : j + 1].copy() for j in range(4))


def sig(n: int, *idx: int) -> np.ndarray:
    out = np.zeros((n, 1), dtype=bool)
    out[list(idx), 0] = True
    return out


def run(ohlc: tuple[np.ndarray, ...], entries: np.ndarray, exits: np.ndarray,
        **kw: object) -> object:
    return simulate(*ohlc, entries, exits, settings=SimSettings(**kw))  # type: ignore[arg-type]


FLAT = ((100, 100, 100, 100),) * 6


# --------------------------------------------------------------------------- market fills
def test_next_open_fill_and_whole_share_sizing() -> None:
    ohlc = bars((100, 101, 99, 100), (102, 103, 101, 102), (104, 106, 103, 105),
                (107, 108, 106, 107), (110, 111, 109, 110))
    r = run(ohlc, sig(5, 0), sig(5, 2), cash=1000.0, commission=0.01)
    (t,) = r.trades
    # entry at open[1] = 102: floor(1000 / (102 * 1.01)) = 9 shares; exit at open[3] = 107
    assert (t["entry_index"], t["exit_index"], t["size"]) == (1, 3, 9.0)
    fees = 0.01 * 9 * 102 + 0.01 * 9 * 107
    assert t["fees"] == pytest.approx(fees)
    assert t["pnl"] == pytest.approx(9 * (107 - 102) - fees)
    assert t["return"] == pytest.approx(t["pnl"] / (9 * 102))
    assert t["exit_reason"] == SIGNAL and t["bars_held"] == 2
    assert r.final_equity[0] == pytest.approx(1000 + t["pnl"])
    # equity is marked at each close: 1000 - 9*102 - fee + 9*102 at bar 1's close (102)
    assert r.equity[1, 0] == pytest.approx(1000 - 0.01 * 9 * 102)
    assert r.exposure[0, 0] == 0 and r.exposure[2, 0] == pytest.approx(
        9 * 105 / r.equity[2, 0])


def test_fill_at_close_fractional_and_end_of_data() -> None:
    ohlc = bars((10, 10, 10, 10), (11, 11, 11, 11), (12, 12, 12, 12))
    r = run(ohlc, sig(3, 0), sig(3), cash=100.0, fill="close", fractional=True)
    (t,) = r.trades
    assert t["size"] == pytest.approx(10.0)
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (2, 12.0, END)
    assert r.final_equity[0] == pytest.approx(120.0)


def test_conflicting_entry_and_exit_are_ignored_and_no_entry_on_last_bar() -> None:
    r = run(bars(*FLAT), sig(6, 1, 5), sig(6, 1), fill="close")
    assert len(r.trades) == 0


# --------------------------------------------------------------------------- limit / stop
def test_limit_entry_touched_fills_at_level() -> None:
    ohlc = bars((100, 100, 100, 100), (99, 100, 97.5, 99), (99, 99, 99, 99))
    r = run(ohlc, sig(3, 0), sig(3), order_type="limit", entry_offset=0.02, sizing="shares",
            sizing_value=1.0)
    (t,) = r.trades
    assert (t["entry_index"], t["entry_price"]) == (1, 98.0)


def test_limit_entry_not_touched_expires() -> None:
    ohlc = bars((100, 100, 100, 100), (99, 100, 98.5, 99), (98, 99, 97, 98), (98,) * 4)
    r = run(ohlc, sig(4, 0), sig(4), order_type="limit", entry_offset=0.02)
    assert len(r.trades) == 0  # time in force 1 bar: bar 2 touches 98 but the order is gone
    r2 = run(ohlc, sig(4, 0), sig(4), order_type="limit", entry_offset=0.02, order_tif_bars=2,
             sizing="shares", sizing_value=1.0)
    assert r2.trades["entry_index"].tolist() == [2]
    assert r2.trades["entry_price"].tolist() == [98.0]  # opens at 98: fills at the open


def test_limit_entry_gap_fills_at_better_open() -> None:
    ohlc = bars((100, 100, 100, 100), (96, 97, 95, 96), (96,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), order_type="limit", entry_offset=0.02)
    assert r.trades["entry_price"].tolist() == [96.0]


def test_stop_entry_fills_at_level_or_gap_open() -> None:
    ohlc = bars((100, 100, 100, 100), (101, 103, 100, 102), (102,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), order_type="stop", entry_offset=0.02)
    assert r.trades["entry_price"].tolist() == [102.0]
    gap = bars((100, 100, 100, 100), (104, 105, 103, 104), (104,) * 4)
    r = run(gap, sig(3, 0), sig(3), order_type="stop", entry_offset=0.02)
    assert r.trades["entry_price"].tolist() == [104.0]



def test_a_new_signal_replaces_the_pending_entry_order() -> None:
    """Issue 12, part 5: a second signal while a stop entry is pending used to be dropped,
    and the first order then expired, so adding a signal removed a trade. Now the new signal
    cancels the pending order and places its own (level from its close, a fresh time in
    force), as backtesting.py does with ``exclusive_orders=True`` (with ``order_tif_bars=1``
    the two never overlap, so its default agrees too)."""
    ohlc = bars(*[(10.0, hi, 10.0, 10.0) for hi in (10, 10, 10, 11, 10, 10)])
    kw = {"order_type": "stop", "entry_offset": 0.05, "order_tif_bars": 1}
    alone = run(ohlc, sig(6, 2), sig(6), **kw)
    both = run(ohlc, sig(6, 1, 2), sig(6), **kw)
    assert alone.trades[["entry_index", "entry_price"]].tolist() == [(3, 10.5)]
    assert both.trades[["entry_index", "entry_price"]].tolist() == [(3, 10.5)]


def test_the_replacing_order_has_its_own_level_and_time_in_force() -> None:
    # limit buys 2 % under the signal close, alive 2 bars. Signal 0 (close 100): level 98;
    # signal 1 (close 102): level 99.96, alive on bars 2 and 3. Bar 2's low 99 fills the new
    # order at its level; the old one (98) would not have filled there.
    ohlc = bars((100, 100, 100, 100), (102, 102, 101, 102), (101, 101, 99, 100),
                (100, 100, 100, 100), (100,) * 4)
    r = run(ohlc, sig(5, 0, 1), sig(5), order_type="limit", entry_offset=0.02,
            order_tif_bars=2, sizing="shares", sizing_value=1.0)
    assert r.trades[["entry_index", "entry_price"]].tolist() == [(2, pytest.approx(99.96))]
    # the replaced order's time in force restarts: signals 0 and 2, touched on bar 4 only
    ohlc = bars((100,) * 4, (100,) * 4, (100,) * 4, (100,) * 4, (99, 99, 97, 98), (98,) * 4)
    r = run(ohlc, sig(6, 0, 2), sig(6), order_type="limit", entry_offset=0.02,
            order_tif_bars=2, sizing="shares", sizing_value=1.0)
    assert r.trades[["entry_index", "entry_price"]].tolist() == [(4, 98.0)]


# --------------------------------------------------------------------------- exits
def test_gap_through_stop_fills_at_open() -> None:
    ohlc = bars((100, 100, 100, 100), (90, 92, 88, 91), (91,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), fill="close", stop_loss=0.05)
    (t,) = r.trades
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (1, 90.0, STOP)


def test_stop_inside_bar_fills_at_level() -> None:
    ohlc = bars((100, 100, 100, 100), (99, 101, 94, 98), (98,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), fill="close", stop_loss=0.05)
    assert r.trades["exit_price"].tolist() == [95.0]


@pytest.mark.parametrize(("policy", "price", "reason"), [("stop-first", 95.0, STOP),
                                                          ("target-first", 105.0, TARGET)])
def test_stop_and_target_in_one_bar(policy: str, price: float, reason: int) -> None:
    ohlc = bars((100, 100, 100, 100), (100, 106, 94, 100), (100,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), fill="close", stop_loss=0.05, take_profit=0.05,
            ambiguous=policy)
    (t,) = r.trades
    assert (t["exit_price"], t["exit_reason"]) == (price, reason)
    assert r.ambiguous_exits.tolist() == [1]


def test_gap_through_target_is_not_ambiguous() -> None:
    ohlc = bars((100, 100, 100, 100), (106, 107, 94, 100), (100,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), fill="close", stop_loss=0.05, take_profit=0.05)
    assert r.trades["exit_price"].tolist() == [106.0]
    assert r.trades["exit_reason"].tolist() == [TARGET]
    assert r.ambiguous_exits.tolist() == [0]


def test_trailing_stop_follows_the_high() -> None:
    ohlc = bars((100, 100, 100, 100), (110, 120, 109, 115), (115, 116, 107, 108), (108,) * 4)
    r = run(ohlc, sig(4, 0), sig(4), fill="close", trailing_stop=0.1, stop_loss=0.2)
    (t,) = r.trades
    # bar 1: level 90 not hit, peak -> 120; bar 2: level 108 hit (low 107)
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (2, 108.0, TRAILING)


def test_short_stop_and_target() -> None:
    ohlc = bars((100, 100, 100, 100), (100, 104, 96, 101), (101, 106, 100, 105), (105,) * 4)
    st = SimSettings(fill="close", direction="short", stop_loss=0.05, sizing="shares",
                     sizing_value=10.0)
    r = simulate(*ohlc, sig(4, 0), sig(4), settings=st)
    (t,) = r.trades
    assert (t["size"], t["exit_index"], t["exit_price"], t["exit_reason"]) == (-10, 2, 105, STOP)
    assert t["pnl"] == pytest.approx(-50.0)


def test_both_directions_stop_and_reverse() -> None:
    ohlc = bars((100,) * 4, (101,) * 4, (102,) * 4, (99,) * 4, (97,) * 4, (98,) * 4, (98,) * 4)
    r = simulate(*ohlc, sig(7, 0, 4), sig(7, 2), settings=SimSettings(
        fill="close", direction="both", sizing="shares", sizing_value=10.0))
    t = r.trades
    assert t["size"].tolist() == [10.0, -10.0, 10.0]
    assert t["entry_index"].tolist() == [0, 2, 4] and t["exit_index"].tolist() == [2, 4, 6]
    assert t["exit_reason"].tolist() == [SIGNAL, SIGNAL, END]
    assert t["pnl"].tolist() == [20.0, 50.0, 10.0]


def test_explicit_short_signals() -> None:
    ohlc = bars((100,) * 4, (95,) * 4, (90,) * 4, (92,) * 4)
    r = simulate(*ohlc, sig(4), sig(4), sig(4, 0), sig(4, 2), settings=SimSettings(
        fill="close", direction="both", sizing="shares", sizing_value=1.0))
    assert r.trades[["size", "entry_index", "exit_index", "pnl"]].tolist() == [
        (-1.0, 0, 2, 10.0)]


def test_max_hold_closes_at_the_close() -> None:
    r = run(bars(*FLAT), sig(6, 0), sig(6), fill="close", max_hold_bars=2)
    (t,) = r.trades
    assert (t["entry_index"], t["exit_index"], t["exit_reason"]) == (0, 2, TIME)


def test_no_reentry_on_the_stop_bar_but_on_the_next() -> None:
    ohlc = bars((100, 100, 100, 100), (99, 100, 90, 95), (95, 96, 94, 95), (95,) * 4)
    r = run(ohlc, sig(4, 0, 1, 2), sig(4), fill="close", stop_loss=0.05)
    assert r.trades["entry_index"].tolist() == [0, 2]


def test_next_open_entry_checks_stop_in_the_entry_bar() -> None:
    ohlc = bars((100, 100, 100, 100), (100, 101, 94, 97), (97,) * 4)
    r = run(ohlc, sig(3, 0), sig(3), stop_loss=0.05)
    (t,) = r.trades
    assert (t["entry_index"], t["exit_index"], t["exit_price"]) == (1, 1, 95.0)


# --------------------------------------------------------------------------- costs
@pytest.mark.parametrize(
    ("shares", "entry_fee", "exit_fee"),
    [(10.0, 5.0, 5.0),  # 0.001*1000 + 0.01*10 + 1 = 2.1 < min 5
     (100.0, 12.0, 13.0)],  # 10 + 1 + 1 = 12 on entry; 11 + 1 + 1 = 13 on exit at 110
)
def test_commission_combination_with_minimum(shares: float, entry_fee: float,
                                             exit_fee: float) -> None:
    ohlc = bars((100,) * 4, (110,) * 4, (110,) * 4)
    r = run(ohlc, sig(3, 0), sig(3, 1), fill="close", sizing="shares", sizing_value=shares,
            cash=100_000.0, commission=0.001, commission_per_share=0.01, commission_fixed=1.0,
            commission_min=5.0)
    (t,) = r.trades
    assert t["fees"] == pytest.approx(entry_fee + exit_fee)
    assert t["pnl"] == pytest.approx(shares * 10 - entry_fee - exit_fee)
    assert r.final_equity[0] == pytest.approx(100_000 + t["pnl"])


def test_slippage_bps_and_range() -> None:
    ohlc = bars((100, 104, 96, 100), (110, 114, 106, 110), (110,) * 4)
    r = run(ohlc, sig(3, 0), sig(3, 1), fill="close", sizing="shares", sizing_value=1.0,
            slippage_bps=10.0, slippage_range_frac=0.25)
    (t,) = r.trades
    assert t["entry_price"] == pytest.approx(100 * 1.001 + 0.25 * 8)
    assert t["exit_price"] == pytest.approx(110 * 0.999 - 0.25 * 8)


def test_borrow_cost_on_shorts() -> None:
    ohlc = bars((100,) * 4, (98,) * 4, (96,) * 4, (95,) * 4, (95,) * 4)
    r = simulate(*ohlc, sig(5, 0), sig(5, 3), settings=SimSettings(
        fill="close", direction="short", sizing="shares", sizing_value=10.0, borrow_rate=0.252))
    (t,) = r.trades
    borrow = 0.001 * 10 * (100 + 98 + 96)  # charged at the closes of bars 0, 1, 2
    assert t["fees"] == pytest.approx(borrow)
    assert t["pnl"] == pytest.approx(10 * (100 - 95) - borrow)


# --------------------------------------------------------------------------- sizing
def test_sizing_rules() -> None:
    ohlc = bars((100,) * 4, (100,) * 4, (100,) * 4)
    e, x = sig(3, 0), sig(3)
    assert run(ohlc, e, x, fill="close", sizing="cash", sizing_value=2550.0,
               commission=0.01).trades["size"].tolist() == [25.0]  # 2550 / 101 = 25.2
    assert run(ohlc, e, x, fill="close", sizing="equity", sizing_value=0.5,
               fractional=True).trades["size"].tolist() == [50.0]
    # risk 1% of 10,000 with a 5% stop on 100: 100 / 5 = 20 shares
    assert run(ohlc, e, x, fill="close", sizing="risk", sizing_value=0.01,
               stop_loss=0.05).trades["size"].tolist() == [20.0]
    # Kelly before kelly_min_trades closed trades: the cap
    assert run(ohlc, e, x, fill="close", sizing="kelly", sizing_value=0.5,
               kelly_cap=0.25).trades["size"].tolist() == [25.0]


def test_risk_sizing_with_atr() -> None:
    n = 30
    c = np.full((n, 1), 100.0)
    h, lo = c + 1.0, c - 1.0  # true range 2, ATR 2
    r = simulate(c, h, lo, c, sig(n, 20), sig(n), settings=SimSettings(
        fill="close", sizing="risk", sizing_value=0.01, atr_window=5, atr_mult=2.0))
    assert r.trades["size"].tolist() == [25.0]  # 100 / (2 * 2)


def test_kelly_uses_closed_trades_after_min(rng: np.random.Generator) -> None:
    from quantdb.kernels.sizing import kelly_fraction

    # 6 wins of +10%, 4 losses of -5%: p = .6, b = 2, k* = .6 - .4/2 = .4; half Kelly .2
    assert kelly_fraction(6, 0.6, 4, 0.2, 0.5, 0.25, 10) == pytest.approx(0.2)
    assert kelly_fraction(6, 0.6, 4, 0.2, 1.0, 0.25, 10) == pytest.approx(0.25)  # capped
    assert kelly_fraction(1, 0.1, 1, 0.1, 1.0, 0.25, 10) == 0.25  # too few: the cap


# --------------------------------------------------------------------------- portfolio
def test_shared_cash_portfolio_max_positions() -> None:
    n, k = 4, 3
    px = np.array([[10.0, 20.0, 40.0], [11, 22, 44], [12, 24, 48], [12, 24, 48]])
    e = np.zeros((n, k), bool)
    e[0] = True
    x = np.zeros((n, k), bool)
    st = SimSettings(cash=1000.0, fill="close", sizing="equity", sizing_value=0.4,
                     max_positions=2)
    r = simulate(px, px, px, px, e, x, settings=st, portfolio=True)
    # column order: 40 shares of A (400), 20 of B (400); C refused by max_positions
    assert r.trades["column"].tolist() == [0, 1]
    assert r.trades["size"].tolist() == [40.0, 20.0]
    assert r.equity.shape == (n,)
    assert r.equity[1] == pytest.approx(200 + 40 * 11 + 20 * 22)
    assert r.final_equity[0] == pytest.approx(200 + 40 * 12 + 20 * 24)
    assert r.exposure[0] == pytest.approx(0.8)


def test_shared_cash_is_limited_and_max_weight_caps() -> None:
    px = np.array([[10.0, 10.0], [10, 10], [10, 10]])
    e = np.array([[T, T], [F, F], [F, F]])
    x = np.zeros_like(e)
    r = simulate(px, px, px, px, e, x, portfolio=True,
                 settings=SimSettings(cash=1000.0, fill="close", sizing_value=0.7))
    assert r.trades["size"].tolist() == [70.0, 30.0]  # the second gets what cash is left
    r = simulate(px, px, px, px, e, x, portfolio=True,
                 settings=SimSettings(cash=1000.0, fill="close", max_weight=0.25))
    assert r.trades["size"].tolist() == [25.0, 25.0]


# --------------------------------------------------------------------------- sweep / stats
def test_sweep_stats_equal_simulate_and_obvious_formulas(rng: np.random.Generator) -> None:
    n, k = 250, 3
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, k)), axis=0))
    o = np.vstack([c[:1], c[:-1]])
    h, lo = np.maximum(o, c) * 1.01, np.minimum(o, c) * 0.99
    e = np.tile(rng.random((n, k)) < 0.05, (1, 2))
    x = np.tile(rng.random((n, k)) < 0.05, (1, 2))
    st = SimSettings(commission=0.001, stop_loss=0.05, take_profit=0.1)
    s = sweep_stats(o, h, lo, c, e, x, settings=st)
    r = simulate(o, h, lo, c, e, x, settings=st)
    np.testing.assert_allclose(s.final_equity, r.final_equity, rtol=1e-12)
    np.testing.assert_array_equal(s.n_trades, np.bincount(r.trades["column"], minlength=2 * k))
    eq = np.vstack([np.full((1, 2 * k), 10_000.0), r.equity])
    ret = eq[1:] / eq[:-1] - 1
    np.testing.assert_allclose(s.sharpe, ret.mean(0) / ret.std(0, ddof=1) * math.sqrt(252),
                               rtol=1e-9)
    dd = eq / np.maximum.accumulate(eq, axis=0) - 1
    np.testing.assert_allclose(s.max_drawdown, dd.min(0), rtol=1e-12)
    np.testing.assert_allclose(s.total_return, r.final_equity / 10_000 - 1)
    # the columns of a repeated block are the same backtests
    np.testing.assert_allclose(s.final_equity[:k], s.final_equity[k:])
    assert (r.trades["exit_reason"] != SIGNAL).any()


def test_a_delisted_ticker_closes_on_its_own_last_bar() -> None:
    c = np.array([[10.0], [11.0], [np.nan], [np.nan]])
    r = simulate(c, c, c, c, sig(4, 0), sig(4), settings=SimSettings(fill="close"))
    (t,) = r.trades
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (1, 11.0, END)
    np.testing.assert_allclose(r.equity[:, 0], [10_000.0, 11_000.0, 11_000.0, 11_000.0])


def test_a_last_bar_without_an_open_closes_at_the_last_mark() -> None:
    c = np.array([[10.0], [11.0], [12.0], [np.nan]])
    o = c.copy()
    o[2] = np.nan  # the close is there, the bar is not complete
    r = simulate(o, c, c, c, sig(4, 0), sig(4), settings=SimSettings(fill="close"))
    (t,) = r.trades
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (2, 11.0, END)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kw", "message"),
    [({"commission": 0.5}, "commission must be in [0, 0.1), got 0.5"),
     ({"fill": "open"}, "fill must be 'next-open' or 'close', got 'open'"),
     ({"stop_loss": 1.5}, "stop_loss must be in (0, 1) or None, got 1.5"),
     ({"sizing": "all"}, "sizing must be one of"),
     ({"cash": float("nan")}, "cash must be a finite number, got nan"),
     ({"max_positions": 0}, "max_positions must be >= 1 or None, got 0")],
)
def test_settings_are_validated(kw: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        SimSettings(**kw)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert isinstance(info.value, QuantdbError) and isinstance(info.value, ValueError)


def test_bad_shapes_are_rejected() -> None:
    c = np.ones((5, 2))
    with pytest.raises(ArgumentError, match=r"entries must be \(dates=5, a multiple of"):
        simulate(c, c, c, c, np.zeros((5, 3), bool), np.zeros((5, 3), bool))
    with pytest.raises(ArgumentError, match="entries must be boolean"):
        simulate(c, c, c, c, np.zeros((5, 2)), np.zeros((5, 2), bool))
