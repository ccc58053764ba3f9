"""A ticker's trades never depend on the other tickers of the panel.

All tickers share one date axis, so adding a ticker adds its dates (its exchange's holidays,
random gaps, days before or after the first ticker's history) as NaN rows of the first
ticker. Whatever those dates, whatever the strategy and the simulation settings, the first
ticker's signals and trades must be the ones it has alone, on the same dates.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdb.kernels.fastsweep import sma_cross_stats
from quantdb.kernels.simulate import simulate
from quantdb.settings import SimSettings
from quantdb.strategies import Bars, get_strategy

STRATEGIES = [
    ("sma-cross", {"fast": 3, "slow": 12}),
    ("sma-cross", {"fast": 5, "slow": 20}),
    ("momentum", {"window": 10, "vol_mult": 1.0}),
    ("mean-reversion", {"window": 10, "entry_z": 1.5, "exit_z": 0.0}),
    ("rsi", {"window": 5, "lower": 35.0, "upper": 65.0}),
    ("bollinger", {"window": 10, "k": 1.5}),
]
SETTINGS = [
    {},
    {"fill": "close"},
    {"stop_loss": 0.03, "take_profit": 0.06},
    {"trailing_stop": 0.04, "commission": 0.001, "slippage_bps": 5.0},
    {"max_hold_bars": 5},
    {"order_type": "limit", "entry_offset": 0.01, "order_tif_bars": 2},
    {"order_type": "stop", "entry_offset": 0.005, "order_tif_bars": 3},
    {"sizing": "risk", "sizing_value": 0.02},
    {"direction": "both"},
]


def _ohlcv(rng: np.random.Generator, n: int) -> np.ndarray:
    c = 40 * np.exp(np.cumsum(rng.normal(0.0003, 0.025, n)))
    o = c * (1 + rng.normal(0, 0.005, n))
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.01, n))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.01, n))
    return np.stack([o, h, lo, c, rng.uniform(1e5, 1e6, n)])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(40, 160),
    n_extra=st.integers(0, 40),
    share=st.floats(0.0, 1.0),
    strat=st.sampled_from(STRATEGIES),
    kw=st.sampled_from(SETTINGS),
)
def test_adding_a_ticker_never_changes_a_tickers_trades(
    seed: int, n: int, n_extra: int, share: float,
    strat: tuple[str, dict[str, float]], kw: dict[str, object],
) -> None:
    rng = np.random.default_rng(seed)
    mine = _ohlcv(rng, n)  # (field, bar) of the ticker, on days 0..n-1
    # the other ticker: some of those days, and days of its own between, before and after
    own_days = np.flatnonzero(rng.random(n) < share).astype(float)
    extra = rng.uniform(-5, n + 5, n_extra)
    union, inverse = np.unique(np.r_[np.arange(n, dtype=float), own_days, extra], return_inverse=True)
    rows = inverse[:n]  # the ticker's rows in the panel
    other_rows = inverse[n:]
    panel = np.full((5, len(union), 2), np.nan)
    panel[:, rows, 0] = mine
    panel[:, other_rows, 1] = _ohlcv(rng, len(other_rows))[:, : len(other_rows)]

    name, params = strat
    s = get_strategy(name)
    sim = SimSettings(**kw)  # type: ignore[arg-type]
    alone_bars = Bars(*(np.ascontiguousarray(mine[f][:, None]) for f in range(5)))
    with_bars = Bars(*(np.ascontiguousarray(panel[f]) for f in range(5)))
    sig_a = s.signals(alone_bars, **params)
    sig_w = s.signals(with_bars, **params)
    for a, w in zip(sig_a, sig_w, strict=True):  # the signals: the same, on the same dates
        np.testing.assert_array_equal(w[rows, 0], a[:, 0])
        assert not np.delete(w[:, 0], rows).any()

    a = simulate(*(alone_bars.open, alone_bars.high, alone_bars.low, alone_bars.close), *sig_a, settings=sim)
    w = simulate(*(with_bars.open, with_bars.high, with_bars.low, with_bars.close), *sig_w, settings=sim)
    tw = w.trades[w.trades["column"] == 0]
    assert len(tw) == len(a.trades)
    np.testing.assert_array_equal(rows[a.trades["entry_index"]], tw["entry_index"])
    np.testing.assert_array_equal(rows[a.trades["exit_index"]], tw["exit_index"])
    for f in ("entry_price", "exit_price", "size", "pnl", "return", "fees", "exit_reason", "bars_held"):
        np.testing.assert_array_equal(a.trades[f], tw[f], err_msg=f)
    np.testing.assert_array_equal(a.equity[:, 0], w.equity[rows, 0])

    if name == "sma-cross" and kw in ({}, {"fill": "close"}):  # the fused sweep kernel too
        fa = sma_cross_stats(alone_bars.open, alone_bars.high, alone_bars.low, alone_bars.close,
                             params["fast"], params["slow"], settings=sim)
        fw = sma_cross_stats(with_bars.open, with_bars.high, with_bars.low, with_bars.close,
                             params["fast"], params["slow"], settings=sim)
        assert fa.n_trades[0] == fw.n_trades[0] == len(a.trades)
        assert fa.final_equity[0] == fw.final_equity[0]
