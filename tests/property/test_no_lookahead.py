"""No look-ahead: changing prices from day t on never changes what happened before t.

Signals are recomputed from the changed prices, so this covers the signal functions (causal
rolling windows) and the simulation (fills, stops, sizing, equity) together.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdb.kernels.signals import rsi_signals, sma_cross
from quantdb.kernels.simulate import simulate
from quantdb.settings import SimSettings

N, K = 80, 3


def _ohlc(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, (N, K)), axis=0))
    o = np.vstack([c[:1], c[:-1]]) * np.exp(rng.normal(0, 0.01, (N, K)))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.01, (N, K))))
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, 0.01, (N, K))))
    return o, h, lo, c


def _signals(c: np.ndarray, kind: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == 0:
        return sma_cross(c, [3, 5], [8, 12])
    return rsi_signals(c, 5, 40, 60)


def _before(trades: np.ndarray, t: int) -> np.ndarray:
    return trades[trades["exit_index"] < t]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    seed2=st.integers(0, 2**31),
    t=st.integers(5, N - 2),
    kind=st.integers(0, 1),
    fill=st.sampled_from(["next-open", "close"]),
    order=st.sampled_from(["market", "limit", "stop"]),
    direction=st.sampled_from(["long", "short", "both"]),
    stop=st.sampled_from([None, 0.03]),
    target=st.sampled_from([None, 0.05]),
    trail=st.sampled_from([None, 0.04]),
    portfolio=st.booleans(),
    jump=st.sampled_from([0.6, 0.85, 1.0, 1.2, 1.6]),
)
def test_future_prices_do_not_change_the_past(
    seed: int, seed2: int, t: int, kind: int, fill: str, order: str, direction: str,
    stop: float | None, target: float | None, trail: float | None, portfolio: bool,
    jump: float,
) -> None:
    a = _ohlc(seed)
    b = tuple(x.copy() for x in a)
    other = _ohlc(seed2)
    for x, y in zip(b, other, strict=True):
        x[t:] = y[t:] * (a[3][t - 1] / other[3][t - 1] * jump)  # another future, maybe a gap
    sim = SimSettings(fill=fill, order_type=order, entry_offset=0.01, order_tif_bars=2,
                      direction=direction, stop_loss=stop, take_profit=target,
                      trailing_stop=trail, commission=0.001, max_positions=2,
                      sizing_value=0.5 if portfolio else 1.0, max_hold_bars=15)
    ra = simulate(*a, *_signals(a[3], kind), settings=sim, portfolio=portfolio)
    rb = simulate(*b, *_signals(b[3], kind), settings=sim, portfolio=portfolio)
    ta, tb = _before(ra.trades, t), _before(rb.trades, t)
    assert ta.tobytes() == tb.tobytes()
    np.testing.assert_array_equal(ra.equity[:t], rb.equity[:t])
    # trades open at t started the same way
    oa = ra.trades[(ra.trades["entry_index"] < t) & (ra.trades["exit_index"] >= t)]
    ob = rb.trades[(rb.trades["entry_index"] < t) & (rb.trades["exit_index"] >= t)]
    for f in ("column", "entry_index", "entry_price", "size"):
        np.testing.assert_array_equal(oa[f], ob[f])
