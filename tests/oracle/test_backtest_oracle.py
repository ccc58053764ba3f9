"""The simulation kernel against backtesting.py and vectorbt, trade for trade.

Tolerance: 1e-9 relative on prices, sizes, P&L and equity (both sides do the same IEEE
arithmetic in a different order). Remaining differences, each tested as such below:

* a position still open on the last bar: quantdb sells it at the last close with costs
  (reason ``end``); backtesting.py's ``finalize_trades=True`` sells at the last bar's *open*,
  and with ``finalize_trades=False`` (like vectorbt) the position is only marked at the last
  close, without the exit commission and slippage.
* vectorbt checks stops from the bar after the entry bar; with ``fill="next-open"`` quantdb
  also checks the entry bar after the open (as backtesting.py does). The stop oracle therefore
  fills at the close, where both start on the next bar.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from quantdb.kernels.signals import sma_cross
from quantdb.kernels.simulate import END, simulate, sweep_stats
from quantdb.settings import SimSettings

vbt = pytest.importorskip("vectorbt")
backtesting = pytest.importorskip("backtesting")

RTOL = 1e-9


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1337)


# --------------------------------------------------------------------------- backtesting.py
def _bt_run(finalize: bool) -> pd.DataFrame:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class LongCross(Strategy):
        fast, slow = 10, 30

        def init(self) -> None:
            self.a = self.I(SMA, self.data.Close, self.fast)
            self.b = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.a, self.b):
                if not self.position:
                    self.buy()  # default size: all equity, whole shares
            elif crossover(self.b, self.a):
                self.position.close()

    bt = Backtest(GOOG, LongCross, cash=10_000, commission=0.002, finalize_trades=finalize,
                  exclusive_orders=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm / open-trade notices of backtesting.py
        return bt.run()


def _goog_quantdb() -> tuple[np.ndarray, object]:
    from backtesting.test import GOOG

    o, h, lo, c = (GOOG[k].to_numpy(dtype=float) for k in ("Open", "High", "Low", "Close"))
    e, x = sma_cross(c, 10, 30)
    r = simulate(o, h, lo, c, e, x, settings=SimSettings(cash=10_000, commission=0.002))
    return c, r


def test_backtesting_py_goog_sma_cross_trade_for_trade() -> None:
    stats = _bt_run(finalize=True)
    bt = stats._trades
    _, r = _goog_quantdb()
    t = r.trades
    assert len(t) == len(bt) > 20
    np.testing.assert_array_equal(t["entry_index"], bt["EntryBar"].to_numpy())
    np.testing.assert_array_equal(t["exit_index"], bt["ExitBar"].to_numpy())
    np.testing.assert_array_equal(t["size"], bt["Size"].to_numpy())
    np.testing.assert_allclose(t["entry_price"], bt["EntryPrice"].to_numpy(), rtol=RTOL)
    # every trade closed by a signal is identical, P&L (with both commissions) included
    closed = t["exit_reason"] != END
    assert closed[:-1].all()
    np.testing.assert_allclose(t["exit_price"][closed], bt["ExitPrice"].to_numpy()[closed],
                               rtol=RTOL)
    np.testing.assert_allclose(t["pnl"][closed], bt["PnL"].to_numpy()[closed], rtol=RTOL)
    np.testing.assert_allclose(t["return"][closed], bt["ReturnPct"].to_numpy()[closed],
                               rtol=1e-7)


def test_backtesting_py_final_trade_difference_is_the_last_open_vs_close() -> None:
    from backtesting.test import GOOG

    bt = _bt_run(finalize=True)._trades
    _, r = _goog_quantdb()
    last = r.trades[-1]
    assert last["exit_reason"] == END
    # backtesting.py finalizes at the last bar's open; quantdb at its close
    assert bt["ExitPrice"].iloc[-1] == pytest.approx(GOOG["Open"].iloc[-1], rel=RTOL)
    assert last["exit_price"] == pytest.approx(GOOG["Close"].iloc[-1], rel=RTOL)


def test_backtesting_py_final_equity_differs_by_the_exit_commission() -> None:
    # finalize_trades=False marks the open trade at the last close, without exit commission
    stats = _bt_run(finalize=False)
    _, r = _goog_quantdb()
    last = r.trades[-1]
    exit_commission = 0.002 * last["size"] * last["exit_price"]
    assert r.final_equity[0] + exit_commission == pytest.approx(stats["Equity Final [$]"],
                                                                rel=RTOL)



# ---------------------------------------------------------- backtesting.py: limit and stop
def _bt_entry_orders(data: pd.DataFrame, fast: int, slow: int, order: str, offset: float,
                     tif: int, commission: float, exclusive: bool) -> pd.DataFrame:
    """quantdb's limit/stop entries as a backtesting.py Strategy: on a cross up (when flat) a
    buy limit at ``close * (1 - offset)`` or a buy stop at ``close * (1 + offset)``; an entry
    order still unfilled ``tif`` bars after its signal is cancelled; a cross down closes the
    position at the next open. ``exclusive`` is ``Backtest(exclusive_orders=...)``: True
    cancels the pending entry order when a new one is placed (quantdb's rule)."""
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class EntryOrders(Strategy):
        def init(self) -> None:
            self.a = self.I(SMA, self.data.Close, fast)
            self.b = self.I(SMA, self.data.Close, slow)

        def next(self) -> None:
            i = len(self.data) - 1
            for o in list(self.orders):  # time in force: the signal bar's tag
                if not o.is_contingent and i - o.tag >= tif:
                    o.cancel()
            if crossover(self.a, self.b):
                if not self.position:
                    c = self.data.Close[-1]
                    if order == "limit":
                        self.buy(limit=c * (1 - offset), tag=i)
                    else:
                        self.buy(stop=c * (1 + offset), tag=i)
            elif crossover(self.b, self.a):
                self.position.close()

    bt = Backtest(data, EntryOrders, cash=10_000, commission=commission, finalize_trades=True,
                  exclusive_orders=exclusive)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm / open-trade notices of backtesting.py
        return bt.run()._trades


def _quantdb_entry_orders(data: pd.DataFrame, fast: int, slow: int, order: str,
                          offset: float, tif: int, commission: float) -> np.ndarray:
    o, h, lo, c = (data[k].to_numpy(dtype=float) for k in ("Open", "High", "Low", "Close"))
    e, x = sma_cross(c, fast, slow)
    st = SimSettings(cash=10_000, commission=commission, order_type=order, entry_offset=offset,
                     order_tif_bars=tif)  # type: ignore[arg-type]
    return simulate(o, h, lo, c, e, x, settings=st).trades


# (data, fast, slow, offset, commission): GOOG daily as above, EURUSD hourly (5,000 bars)
ENTRY_DATA = {"GOOG": (10, 30, 0.01, 0.002), "EURUSD": (5, 50, 0.0005, 0.0002)}


@pytest.mark.parametrize("order", ["limit", "stop"])
@pytest.mark.parametrize(("name", "tif", "exclusive"), [
    ("GOOG", 1, False), ("GOOG", 5, True), ("GOOG", 10, True),
    ("EURUSD", 1, False), ("EURUSD", 3, True), ("EURUSD", 5, True), ("EURUSD", 10, True),
])
def test_backtesting_py_limit_and_stop_entries_trade_for_trade(
        name: str, order: str, tif: int, exclusive: bool) -> None:
    """Trade for trade. A new signal while an entry order is pending replaces it (issue 12,
    part 5); backtesting.py does that with ``exclusive_orders=True``. With one bar in force
    two orders never overlap, so its default (``exclusive_orders=False``) agrees as well.
    Before the rule, the new signal was dropped: EURUSD stop entries with ``tif=3`` made 59
    trades to backtesting.py's 60."""
    import backtesting.test as data_sets

    data = getattr(data_sets, name)
    fast, slow, offset, commission = ENTRY_DATA[name]
    bt = _bt_entry_orders(data, fast, slow, order, offset, tif, commission, exclusive)
    t = _quantdb_entry_orders(data, fast, slow, order, offset, tif, commission)
    assert len(t) == len(bt) > 10
    np.testing.assert_array_equal(t["entry_index"], bt["EntryBar"].to_numpy())
    np.testing.assert_array_equal(t["exit_index"], bt["ExitBar"].to_numpy())
    np.testing.assert_array_equal(t["size"], bt["Size"].to_numpy())
    np.testing.assert_allclose(t["entry_price"], bt["EntryPrice"].to_numpy(), rtol=RTOL)
    # a position open on the last bar: quantdb sells at the close, backtesting.py at the open
    closed = t["exit_reason"] != END
    assert closed[:-1].all()
    np.testing.assert_allclose(t["exit_price"][closed], bt["ExitPrice"].to_numpy()[closed],
                               rtol=RTOL)
    np.testing.assert_allclose(t["pnl"][closed], bt["PnL"].to_numpy()[closed], rtol=RTOL)


def test_backtesting_py_default_keeps_every_pending_order() -> None:
    """The documented difference: with ``exclusive_orders=False`` (its default) and more than
    one bar in force, backtesting.py keeps the older order alive beside the new one, and the
    older (lower) buy stop can fill first; quantdb keeps only the newest order."""
    from backtesting.test import EURUSD

    fast, slow, offset, commission = ENTRY_DATA["EURUSD"]
    ours = _quantdb_entry_orders(EURUSD, fast, slow, "stop", offset, 5, commission)
    theirs = _bt_entry_orders(EURUSD, fast, slow, "stop", offset, 5, commission, False)
    same = _bt_entry_orders(EURUSD, fast, slow, "stop", offset, 5, commission, True)
    np.testing.assert_allclose(ours["entry_price"], same["EntryPrice"].to_numpy(), rtol=RTOL)
    differs = ~np.isclose(ours["entry_price"], theirs["EntryPrice"].to_numpy(), rtol=RTOL)
    assert differs.any()
    j = int(np.argmax(differs))  # the first: backtesting.py filled an older, lower stop
    assert theirs["EntryPrice"].iloc[j] < ours["entry_price"][j]
    assert theirs["EntryBar"].iloc[j] == ours["entry_index"][j]


# --------------------------------------------------------------------------- vectorbt
def _ohlc(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, ...]:
    c = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n, k)), axis=0))
    o = np.vstack([c[:1], c[:-1]]) * np.exp(rng.normal(0, 0.006, (n, k)))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.01, (n, k))))
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, 0.01, (n, k))))
    return o, h, lo, c


def _vbt_trades(pf: object) -> np.ndarray:
    v = pf.trades.values  # type: ignore[attr-defined]
    return v[np.lexsort((v["entry_idx"], v["col"]))]


def _assert_trades_match(ours: np.ndarray, theirs: np.ndarray, *, open_at_end: bool) -> None:
    """Closed trades equal; a vectorbt 'Open' trade equals our 'end' trade up to exit costs."""
    closed = theirs["status"] == 1
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours["column"], theirs["col"])
    np.testing.assert_array_equal(ours["entry_index"], theirs["entry_idx"])
    np.testing.assert_allclose(ours["entry_price"], theirs["entry_price"], rtol=RTOL)
    np.testing.assert_allclose(ours["size"], theirs["size"], rtol=RTOL)
    np.testing.assert_array_equal(ours["exit_index"][closed], theirs["exit_idx"][closed])
    np.testing.assert_allclose(ours["exit_price"][closed], theirs["exit_price"][closed],
                               rtol=RTOL)
    fees = theirs["entry_fees"] + theirs["exit_fees"]
    np.testing.assert_allclose(ours["fees"][closed], fees[closed], rtol=RTOL)
    np.testing.assert_allclose(ours["pnl"][closed], theirs["pnl"][closed], rtol=RTOL, atol=1e-9)
    assert (~closed).any() == open_at_end
    assert (ours["exit_reason"][~closed] == END).all()


def test_vectorbt_from_signals_fill_at_close_fees_slippage(rng: np.random.Generator) -> None:
    o, h, lo, c = _ohlc(rng, 400, 4)
    e, x = sma_cross(c, [5, 10], [20, 30])  # 2 parameter sets x 4 tickers
    ct = np.tile(c, 2)
    pf = vbt.Portfolio.from_signals(ct, e, x, fees=0.001, fixed_fees=1.0, slippage=0.0005,
                                    init_cash=10_000.0, freq="1D")
    st = SimSettings(cash=10_000.0, fill="close", fractional=True, commission=0.001,
                     commission_fixed=1.0, slippage_bps=5.0)
    r = simulate(o, h, lo, c, e, x, settings=st)
    theirs = _vbt_trades(pf)
    _assert_trades_match(r.trades, theirs, open_at_end=True)
    # final equity: vectorbt marks open positions at the close; we sell them with costs
    mark = pf.final_value().to_numpy()
    end = r.trades[r.trades["exit_reason"] == END]
    costs = np.zeros(ct.shape[1])
    px = ct[-1, end["column"]]
    np.add.at(costs, end["column"],
              end["size"] * (px - end["exit_price"]) + 0.001 * end["size"] * end["exit_price"] + 1)
    np.testing.assert_allclose(r.final_equity + costs, mark, rtol=RTOL)


def test_vectorbt_from_signals_next_open_via_shifted_signals(rng: np.random.Generator) -> None:
    o, h, lo, c = _ohlc(rng, 400, 5)
    e, x = sma_cross(c, 8, 21)
    se = np.vstack([np.zeros((1, 5), bool), e[:-1]])
    sx = np.vstack([np.zeros((1, 5), bool), x[:-1]])
    pf = vbt.Portfolio.from_signals(c, se, sx, price=o, fees=0.002, slippage=0.001,
                                    init_cash=10_000.0, freq="1D")
    st = SimSettings(cash=10_000.0, fill="next-open", fractional=True, commission=0.002,
                     slippage_bps=10.0)
    r = simulate(o, h, lo, c, e, x, settings=st)
    theirs = _vbt_trades(pf)
    closed = theirs["status"] == 1
    _assert_trades_match(r.trades, theirs, open_at_end=bool((~closed).any()))
    flat = ~np.isin(np.arange(5), r.trades["column"][r.trades["exit_reason"] == END])
    np.testing.assert_allclose(r.final_equity[flat], pf.final_value().to_numpy()[flat], rtol=RTOL)


@pytest.mark.parametrize(
    ("sl", "tp", "trail"), [(0.05, None, False), (None, 0.08, False), (0.04, 0.06, False),
                            (0.05, None, True)]
)
def test_vectorbt_stops_fill_at_close(rng: np.random.Generator, sl: float | None,
                                      tp: float | None, trail: bool) -> None:
    o, h, lo, c = _ohlc(rng, 500, 6)
    e, x = sma_cross(c, 5, 15)
    kw: dict[str, object] = {}
    if sl is not None:
        kw["sl_stop"] = sl
        kw["sl_trail"] = trail
    if tp is not None:
        kw["tp_stop"] = tp
    pf = vbt.Portfolio.from_signals(c, e, x, open=o, high=h, low=lo, fees=0.001,
                                    init_cash=10_000.0, freq="1D", **kw)
    st = SimSettings(cash=10_000.0, fill="close", fractional=True, commission=0.001,
                     stop_loss=None if trail else sl, trailing_stop=sl if trail else None,
                     take_profit=tp)
    r = simulate(o, h, lo, c, e, x, settings=st)
    theirs = _vbt_trades(pf)
    # vectorbt checks the stop first; it differs from quantdb only when the open gaps through
    # the target while the low also reaches the stop (quantdb: target at the open)
    _assert_trades_match(r.trades, theirs, open_at_end=bool((theirs["status"] == 0).any()))
    assert (r.trades["exit_reason"] != 0).sum() > 5  # stops really fired


def test_vectorbt_stop_with_slippage_as_stop_market(rng: np.random.Generator) -> None:
    o, h, lo, c = _ohlc(rng, 400, 4)
    e, x = sma_cross(c, 5, 20)
    pf = vbt.Portfolio.from_signals(c, e, x, open=o, high=h, low=lo, sl_stop=0.03,
                                    slippage=0.002, stop_exit_price="stopmarket",
                                    init_cash=10_000.0, freq="1D")
    st = SimSettings(cash=10_000.0, fill="close", fractional=True, stop_loss=0.03,
                     slippage_bps=20.0)
    r = simulate(o, h, lo, c, e, x, settings=st)
    theirs = _vbt_trades(pf)
    _assert_trades_match(r.trades, theirs, open_at_end=bool((theirs["status"] == 0).any()))


def test_sweep_contract_equals_vectorbt_run_combs(rng: np.random.Generator) -> None:
    """sma-cross, fill at close, all-in fractional, no costs == MA.run_combs + from_signals."""
    n, k = 600, 3
    c = 50.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, (n, k)), axis=0))
    c[:40, 2] = np.nan  # a ticker listed later
    windows = list(range(4, 60, 5))
    fast, slow = vbt.MA.run_combs(pd.DataFrame(c), window=windows, r=2,
                                  short_names=["fast", "slow"])
    ent = fast.ma_crossed_above(slow)
    ex = fast.ma_crossed_below(slow)
    pf = vbt.Portfolio.from_signals(np.tile(c, ent.shape[1] // k),
                                    ent.to_numpy(), ex.to_numpy(), freq="1D")
    fw = ent.columns.get_level_values("fast_window").to_numpy()[::k]
    sw = ent.columns.get_level_values("slow_window").to_numpy()[::k]
    e, x = sma_cross(c, fw, sw)
    np.testing.assert_array_equal(e, ent.to_numpy())
    np.testing.assert_array_equal(x, ex.to_numpy())
    st = SimSettings(cash=100.0, fill="close", fractional=True)
    s = sweep_stats(c, c, c, c, e, x, settings=st)
    assert len(fw) == 66
    np.testing.assert_allclose(s.total_return, pf.total_return().to_numpy(), rtol=RTOL,
                               atol=1e-12)
    np.testing.assert_array_equal(s.n_trades, pf.trades.count().to_numpy())
