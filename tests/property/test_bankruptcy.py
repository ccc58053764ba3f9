"""Invariants of the bankruptcy rule (issue 12) on wild random markets.

Whatever the prices, costs, direction and mode: equity is never below zero, max drawdown stays
in [-1, 0], a bankrupt account makes no trade after its bankruptcy bar and its equity is flat
from there, and the statistics-only path (`sweep_stats`) agrees with `simulate`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdb.kernels.signals import sma_cross
from quantdb.kernels.simulate import simulate, sweep_stats
from quantdb.settings import SimSettings

N, K = 120, 3


def _ohlc(seed: int, vol: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0.002, vol, (N, K)), axis=0))
    o = np.vstack([c[:1], c[:-1]]) * np.exp(rng.normal(0, vol / 2, (N, K)))  # gaps
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, vol / 2, (N, K))))
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, vol / 2, (N, K))))
    return o, h, lo, c


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    vol=st.sampled_from([0.03, 0.08, 0.15]),
    direction=st.sampled_from(["short", "both"]),
    fill=st.sampled_from(["next-open", "close"]),
    order=st.sampled_from(["market", "stop"]),
    margin=st.sampled_from([0.0, 0.3, 0.6]),
    size=st.sampled_from([1.0, 1.5]),
    fixed=st.sampled_from([0.0, 30.0]),
    portfolio=st.booleans(),
)
def test_equity_never_below_zero_and_nothing_after_bankruptcy(
    seed: int, vol: float, direction: str, fill: str, order: str, margin: float, size: float,
    fixed: float, portfolio: bool,
) -> None:
    ohlc = _ohlc(seed, vol)
    e, x = sma_cross(ohlc[3], [3, 5], [8, 12])
    sim = SimSettings(cash=1_000.0, direction=direction, fill=fill, order_type=order,  # type: ignore[arg-type]
                      entry_offset=0.01, commission=0.002, commission_fixed=fixed,
                      maintenance_margin=margin, sizing_value=size / (K if portfolio else 1),
                      borrow_rate=0.05)
    r = simulate(*ohlc, e, x, settings=sim, portfolio=portfolio)
    eq = r.equity.reshape(N, -1)
    assert (eq >= 0.0).all()
    assert ((r.stats.max_drawdown >= -1.0) & (r.stats.max_drawdown <= 0.0)).all()
    assert (r.stats.final_equity >= 0.0).all()
    for col, bar in enumerate(r.stats.bankrupt_bar):
        if bar < 0:
            continue
        assert (eq[bar:, col] == eq[bar, col]).all()  # flat from the bankruptcy on
        mine = r.trades if portfolio else r.trades[r.trades["column"] == col]
        assert (mine["exit_index"] <= bar).all()
        assert (r.exposure.reshape(N, -1)[bar:, col] == 0.0).all()
    if not portfolio:
        s = sweep_stats(*ohlc, e, x, settings=sim)
        for name in ("final_equity", "sharpe", "max_drawdown", "n_trades", "bankrupt",
                     "bankrupt_bar"):
            np.testing.assert_array_equal(getattr(s, name), getattr(r.stats, name), err_msg=name)
