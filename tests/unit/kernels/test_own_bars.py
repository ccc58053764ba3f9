"""Every indicator and signal over each ticker's own bars, against pandas on the compacted
series (the NaN rows dropped); and the simulation's rules for a date without a bar.

The reference for an indicator is pandas' rolling on ``Series.dropna()``, put back on the
dates; for a signal function it is the same function run on each ticker's dense series
alone (its dense behaviour is checked against pandas and vectorbt in ``test_signals.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from quantdb.kernels import signals as sg
from quantdb.kernels.simulate import END, SIGNAL, TIME, simulate
from quantdb.settings import SimSettings
from quantdb.strategies import Bars, get_strategy


@pytest.fixture
def gappy(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Closes and volumes of 5 tickers with inner gaps: single days, runs, a late listing and a
    delisting, and one ticker without any gap."""
    n, k = 400, 5
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (n, k)), axis=0))
    volume = rng.uniform(1e5, 1e6, (n, k))
    close[rng.random(n) < 0.08, 0] = np.nan  # holidays of another exchange
    close[100:107, 1] = np.nan  # a halt
    close[:30, 2] = np.nan  # listed late
    close[rng.random(n) < 0.03, 2] = np.nan
    close[350:, 3] = np.nan  # delisted
    close[200, 3] = np.nan
    volume[np.isnan(close)] = np.nan
    return close, volume


def own_ref(x: np.ndarray, f: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``f`` on each column's own values (NaN rows dropped), put back on the dates."""
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        s = pd.Series(x[:, j]).dropna().reset_index(drop=True)
        rows = np.flatnonzero(~np.isnan(x[:, j]))
        out[rows, j] = f(s).to_numpy()
    return out


def own_signal_ref(close: np.ndarray, func: Callable[..., tuple[np.ndarray, ...]],
                   *panels: np.ndarray, n_params: int = 1, **kw: object) -> list[np.ndarray]:
    """``func`` run on each ticker's dense series alone, put back on the dates (False between)."""
    n, k = close.shape
    outs: list[np.ndarray] | None = None
    for t in range(k):
        rows = np.flatnonzero(~np.isnan(close[:, t]))
        res = func(close[rows, t], *(p[rows, t] for p in panels), **kw)
        if outs is None:
            outs = [np.zeros((n, n_params * k), dtype=bool) for _ in res]
        for o, r in zip(outs, res, strict=True):
            o[np.ix_(rows, np.arange(n_params) * k + t)] = r.reshape(len(rows), n_params)
    assert outs is not None
    return outs


@pytest.mark.parametrize("w", [1, 3, 20, 60])
def test_rolling_stats_equal_pandas_on_the_compacted_series(
        gappy: tuple[np.ndarray, np.ndarray], w: int) -> None:
    c, _ = gappy
    np.testing.assert_allclose(sg.rolling_mean(c, w), own_ref(c, lambda s: s.rolling(w).mean()),
                               rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(sg.rolling_max(c, w), own_ref(c, lambda s: s.rolling(w).max()))
    np.testing.assert_array_equal(sg.rolling_min(c, w), own_ref(c, lambda s: s.rolling(w).min()))
    np.testing.assert_allclose(sg.rolling_std(c, w), own_ref(c, lambda s: s.rolling(w).std(ddof=0)),
                               rtol=1e-9, atol=1e-12, equal_nan=True)
    if w > 1:
        np.testing.assert_allclose(sg.rolling_std(c, w, ddof=1),
                                   own_ref(c, lambda s: s.rolling(w).std(ddof=1)),
                                   rtol=1e-9, atol=1e-12, equal_nan=True)
    # one column, 1-D in and out
    np.testing.assert_allclose(sg.rolling_mean(c[:, 0], w),
                               own_ref(c[:, :1], lambda s: s.rolling(w).mean())[:, 0],
                               rtol=1e-12, equal_nan=True)


def test_sma_equals_pandas_per_window(gappy: tuple[np.ndarray, np.ndarray]) -> None:
    c, _ = gappy
    got = sg.sma(c, [5, 30])
    k = c.shape[1]
    for p, w in enumerate((5, 30)):
        np.testing.assert_allclose(got[:, p * k:(p + 1) * k], own_ref(c, lambda s, w=w: s.rolling(w).mean()),
                                   rtol=1e-12, equal_nan=True)


def _wilder(s: pd.Series, w: int) -> pd.Series:
    """Wilder's smoothing: the mean of the first ``w`` values, then ``(y * (w - 1) + x) / w``."""
    x = s.to_numpy()
    out = np.full(len(x), np.nan)
    first = np.flatnonzero(~np.isnan(x))
    if len(first) >= w:
        a = first[0]
        y = x[a:a + w].mean()
        out[a + w - 1] = y
        for i in range(a + w, len(x)):
            y = (y * (w - 1) + x[i]) / w
            out[i] = y
    return pd.Series(out)


def test_rsi_equals_wilder_on_the_compacted_series(gappy: tuple[np.ndarray, np.ndarray]) -> None:
    c, _ = gappy

    def ref(s: pd.Series) -> pd.Series:
        d = s.diff()
        g, lo = _wilder(d.clip(lower=0), 14), _wilder((-d).clip(lower=0), 14)
        return pd.Series(np.where(lo == 0, 100.0, 100 - 100 / (1 + g / lo))).where(g.notna())

    np.testing.assert_allclose(sg.rsi(c, 14), own_ref(c, ref), rtol=1e-9, equal_nan=True)


def test_atr_reaches_back_to_the_tickers_previous_close(gappy: tuple[np.ndarray, np.ndarray],
                                                        rng: np.random.Generator) -> None:
    c, _ = gappy
    h = c * (1 + rng.uniform(0, 0.02, c.shape))
    lo = c * (1 - rng.uniform(0, 0.02, c.shape))
    got = sg.atr(h, lo, c, 10)
    for j in range(c.shape[1]):
        rows = np.flatnonzero(~np.isnan(c[:, j]))
        cc, hh, ll = c[rows, j], h[rows, j], lo[rows, j]
        pc = np.r_[np.nan, cc[:-1]]
        tr = pd.Series(np.fmax(hh - ll, np.fmax(abs(hh - pc), abs(ll - pc))))
        np.testing.assert_allclose(got[rows, j], _wilder(tr, 10).to_numpy(), rtol=1e-12,
                                   equal_nan=True)
        assert np.isnan(got[np.isnan(c[:, j]), j]).all()


def test_bollinger_bands_on_own_bars(gappy: tuple[np.ndarray, np.ndarray]) -> None:
    c, _ = gappy
    mid, up, low = sg.bollinger(c, 20, 2.0)
    m = own_ref(c, lambda s: s.rolling(20).mean())
    sd = own_ref(c, lambda s: s.rolling(20).std(ddof=0))
    np.testing.assert_allclose(mid, m, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(up, m + 2 * sd, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(low, m - 2 * sd, rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize(
    ("func", "n_panels", "params"),
    [
        (sg.sma_cross, 1, ([5, 10], [20, 50])),
        (sg.breakout, 2, ([10, 20], [1.0, 1.5])),
        (sg.zscore_reversion, 1, ([10, 20], [1.5, 2.0], [0.0, 0.5])),
        (sg.rsi_signals, 1, ([5, 14], [30.0, 35.0], [65.0, 70.0])),
        (sg.bollinger_signals, 1, ([10, 20], [1.5, 2.0])),
    ],
)
def test_every_signal_equals_the_ticker_alone(gappy: tuple[np.ndarray, np.ndarray], func: Callable[..., tuple[np.ndarray, ...]],
                                              n_panels: int, params: tuple[list[float], ...]) -> None:
    c, v = gappy
    panels = (c, v)[:n_panels]
    got = func(*panels, *params)
    ref = own_signal_ref(c, lambda *a: func(*a, *params), *panels[1:], n_params=2)
    assert len(got) == len(ref)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
        assert not g[np.tile(np.isnan(c), (1, 2))].any()  # never on a date without a bar
    assert any(g.any() for g in got)


def test_volume_breakout_equals_the_ticker_alone(gappy: tuple[np.ndarray, np.ndarray]) -> None:
    c, v = gappy
    kw = {"high_window": 60, "vol_window": 10, "vol_mult": 1.2, "exit_window": 20}
    got = sg.volume_breakout(c, v, **kw)
    ref = own_signal_ref(c, lambda a, b: sg.volume_breakout(a, b, **kw), v)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("name", ["sma-cross", "momentum", "mean-reversion", "volume-breakout",
                                  "rsi", "bollinger"])
def test_strategies_and_a_users_own_see_own_bars(gappy: tuple[np.ndarray, np.ndarray], name: str) -> None:
    c, v = gappy
    s = get_strategy(name)
    got = s.signals(Bars.from_close(c, v))
    for t in range(c.shape[1]):
        rows = np.flatnonzero(~np.isnan(c[:, t]))
        alone = s.signals(Bars.from_close(c[rows, t:t + 1], v[rows, t:t + 1]))
        for g, a in zip(got, alone, strict=True):
            np.testing.assert_array_equal(g[rows, t], a[:, 0])
            assert not g[np.isnan(c[:, t]), t].any()


def test_a_user_strategy_sees_own_bars_through_strategy_signals(gappy: tuple[np.ndarray, np.ndarray]) -> None:
    """The docs' sma-trend example crosses the raw close with its SMA: across a gap that cross
    compares with the ticker's previous bar because the strategy runs on packed bars."""
    from quantdb.strategies import STRATEGIES, Strategy

    def sma_trend(bars: Bars, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ma = sg.sma(bars.close, window)
        close = np.tile(bars.close, (1, len(window)))
        return sg.crossed_above(close, ma), sg.crossed_below(close, ma)

    s = Strategy("test-own-bars-trend", sma_trend, {"window": 10.0}, {})
    assert s.name not in STRATEGIES
    c, _ = gappy
    got = s.signals(Bars.from_close(c))
    for t in range(c.shape[1]):
        rows = np.flatnonzero(~np.isnan(c[:, t]))
        alone = s.signals(Bars.from_close(c[rows, t:t + 1]))
        np.testing.assert_array_equal(got[0][rows, t], alone[0][:, 0])


def test_own_bars_pack_and_unpack() -> None:
    c = np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, np.nan], [4.0, 5.0]])
    ob = sg.own_bars(c)
    assert ob is not None
    packed = ob.pack(np.hstack([c, c * 10]))  # two parameter sets: columns p * 2 + t
    np.testing.assert_array_equal(packed[:, 0], [1.0, 3.0, 4.0, np.nan])
    np.testing.assert_array_equal(packed[:, 3], [20.0, 50.0, np.nan, np.nan])
    np.testing.assert_array_equal(ob.unpack(packed), np.hstack([c, c * 10]))
    flags = ob.unpack(np.ones((4, 2), dtype=bool), False)
    np.testing.assert_array_equal(flags, ~np.isnan(c))
    # no inner gap (late listing, delisting): nothing to pack
    late = np.array([[np.nan, 1.0], [1.0, 2.0], [2.0, np.nan]])
    assert sg.own_bars(late) is None and sg.own_bars(np.ones((3, 2))) is None


# --------------------------------------------------------------------------- the simulation
def _sig(n: int, *rows: int) -> np.ndarray:
    s = np.zeros((n, 1), dtype=bool)
    s[list(rows)] = True
    return s


NAN = np.nan


def test_a_pending_entry_waits_for_the_tickers_next_bar() -> None:
    c = np.array([[10.0], [11.0], [NAN], [NAN], [12.0], [13.0], [14.0]])
    o = c - 0.5
    r = simulate(o, c, o, c, _sig(7, 1), _sig(7, 5), settings=SimSettings(cash=1000))
    t = r.trades[0]
    assert (t["entry_index"], t["entry_price"]) == (4, 11.5)  # the open of its next bar
    assert (t["exit_index"], t["exit_price"], t["exit_reason"]) == (6, 13.5, SIGNAL)
    assert t["bars_held"] == 2


def test_no_stop_is_checked_and_the_mark_holds_on_a_date_without_a_bar() -> None:
    c = np.array([[10.0], [10.0], [NAN], [10.0], [10.0]])
    lo = c.copy()
    lo[2] = 1.0  # a low that would stop the position, on a date the ticker has no bar
    r = simulate(c, c, lo, c, _sig(5, 0), _sig(5), settings=SimSettings(fill="close", stop_loss=0.1))
    (t,) = r.trades
    assert t["exit_reason"] == END and t["exit_index"] == 4
    np.testing.assert_allclose(r.equity[:, 0], 10_000.0)  # marked at the last close


def test_max_hold_and_bars_held_count_the_tickers_own_bars() -> None:
    c = np.array([[10.0], [11.0], [NAN], [NAN], [12.0], [13.0], [14.0], [15.0]])
    r = simulate(c, c, c, c, _sig(8, 0), _sig(8), settings=SimSettings(fill="close", max_hold_bars=3))
    (t,) = r.trades
    assert (t["exit_index"], t["exit_reason"], t["bars_held"]) == (5, TIME, 3)


def test_a_limit_orders_time_in_force_counts_the_tickers_own_bars() -> None:
    c = np.array([[10.0], [10.0], [NAN], [NAN], [NAN], [10.0], [9.0], [10.0]])
    lo = c.copy()
    lo[6] = 8.9  # touches 10 * (1 - 0.1) = 9 on the ticker's 2nd bar after the signal
    st = SimSettings(order_type="limit", entry_offset=0.1, order_tif_bars=2)
    r = simulate(c, c, lo, c, _sig(8, 1), _sig(8), settings=st)
    (t,) = r.trades
    assert (t["entry_index"], t["entry_price"]) == (6, 9.0)
    st1 = SimSettings(order_type="limit", entry_offset=0.1, order_tif_bars=1)
    assert len(simulate(c, c, lo, c, _sig(8, 1), _sig(8), settings=st1).trades) == 0


def test_a_columns_trades_do_not_depend_on_the_other_tickers_dates(rng: np.random.Generator) -> None:
    """AAPL alone, then AAPL in a panel whose other ticker adds dates (its own holidays, and
    days after AAPL's last bar): the same trades, on the same dates, in every setting."""
    n = 300
    base = 40 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, n)))
    extra = np.sort(rng.choice(np.arange(1, 2 * n), 40, replace=False)) / 2 + 0.25
    days = np.r_[np.arange(n, dtype=float), extra, n + np.arange(5.0)]
    order = np.argsort(days, kind="stable")
    union = days[order]
    mine = np.r_[np.ones(n, bool), np.zeros(45, bool)][order]
    c = np.full((len(union), 2), np.nan)
    c[mine, 0] = base
    c[:, 1] = 30 + rng.random(len(union))
    bars = Bars(c * 0.999, c * 1.01, c * 0.99, c)
    alone = Bars(*(np.ascontiguousarray(a[mine, :1]) for a in (bars.open, bars.high, bars.low, bars.close)))
    sig_p = get_strategy("sma-cross").signals(bars, fast=5, slow=20)
    sig_a = get_strategy("sma-cross").signals(alone, fast=5, slow=20)
    rows = np.flatnonzero(mine)
    for kw in [{}, {"fill": "close"}, {"stop_loss": 0.03, "take_profit": 0.05}, {"trailing_stop": 0.04},
               {"max_hold_bars": 7}, {"order_type": "limit", "entry_offset": 0.01, "order_tif_bars": 3},
               {"sizing": "risk", "sizing_value": 0.01}, {"direction": "both"}]:
        st = SimSettings(**kw)  # type: ignore[arg-type]
        p = simulate(bars.open, bars.high, bars.low, bars.close, *sig_p, settings=st)
        a = simulate(alone.open, alone.high, alone.low, alone.close, *sig_a, settings=st)
        tp = p.trades[p.trades["column"] == 0]
        assert len(tp) == len(a.trades) > 0, kw
        np.testing.assert_array_equal(rows[a.trades["entry_index"]], tp["entry_index"])
        np.testing.assert_array_equal(rows[a.trades["exit_index"]], tp["exit_index"])
        for f in ("entry_price", "exit_price", "size", "pnl", "fees", "exit_reason", "bars_held"):
            np.testing.assert_array_equal(a.trades[f], tp[f], err_msg=f"{kw} {f}")
        np.testing.assert_array_equal(a.equity[:, 0], p.equity[rows, 0])
