"""Signals against slow, obvious references (pandas rolling, literal loops), and the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from panel_references import on_own_bars

from quantdb.errors import ArgumentError, NotFound
from quantdb.kernels import signals as sg
from quantdb.strategies import STRATEGIES, Bars, StrategyError, get_strategy


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1337)


@pytest.fixture
def close(rng: np.random.Generator) -> np.ndarray:
    c = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 4)), axis=0))
    c[:25, 1] = np.nan  # listed later
    c[150, 2] = np.nan  # one missing day
    return c


def _ref_crossed_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """vectorbt's crossed_above_1d_nb (wait=0), transcribed as a plain loop."""
    out = np.zeros(len(a), dtype=bool)
    was_below, ago = False, -1
    for i in range(len(a)):
        if np.isnan(a[i]) or np.isnan(b[i]):
            ago, was_below = -1, False
        elif a[i] > b[i]:
            if was_below:
                ago += 1
                out[i] = ago == 0
        elif a[i] == b[i]:
            ago = -1
        else:
            ago, was_below = -1, True
    return out


def test_rolling_mean_matches_pandas_on_own_bars(close: np.ndarray) -> None:
    for w in (1, 5, 20):
        ref = on_own_bars(close, lambda s, w=w: s.rolling(w).mean())
        np.testing.assert_allclose(sg.rolling_mean(close, w), ref, rtol=1e-10, equal_nan=True)
    assert np.isnan(sg.rolling_mean(close[:3], 5)).all()
    assert np.isnan(sg.rolling_mean(close, 5)[150, 2])  # no bar: no value


def test_rolling_extremes_and_std_match_pandas(close: np.ndarray) -> None:
    np.testing.assert_allclose(sg.rolling_max(close, 10), on_own_bars(close, lambda s: s.rolling(10).max()),
                               equal_nan=True)
    np.testing.assert_allclose(sg.rolling_min(close, 10), on_own_bars(close, lambda s: s.rolling(10).min()),
                               equal_nan=True)
    np.testing.assert_allclose(sg.rolling_std(close, 10),
                               on_own_bars(close, lambda s: s.rolling(10).std(ddof=0)),
                               rtol=1e-9, equal_nan=True)


def test_crossed_above_matches_vectorbt_loop_including_ties(rng: np.random.Generator) -> None:
    a = rng.integers(0, 4, (400, 3)).astype(float)  # many exact ties
    b = rng.integers(0, 4, (400, 3)).astype(float)
    a[rng.random(a.shape) < 0.05] = np.nan
    got = sg.crossed_above(a, b)
    for j in range(3):
        np.testing.assert_array_equal(got[:, j], _ref_crossed_above(a[:, j], b[:, j]))
        np.testing.assert_array_equal(sg.crossed_below(a, b)[:, j],
                                      _ref_crossed_above(b[:, j], a[:, j]))


def test_sma_cross_layout_is_param_major(close: np.ndarray) -> None:
    e, x = sg.sma_cross(close, [5, 10], [20, 40])
    assert e.shape == x.shape == (300, 8)
    p, t = sg.param_columns(2, 4)
    for col in range(8):
        fast, slow = (5, 10)[p[col]], (20, 40)[p[col]]
        own = pd.Series(close[:, t[col]]).dropna()  # the ticker's own bars
        f = own.rolling(fast).mean().to_numpy()
        s = own.rolling(slow).mean().to_numpy()
        for got, ref in ((e, _ref_crossed_above(f, s)), (x, _ref_crossed_above(s, f))):
            np.testing.assert_array_equal(got[own.index.to_numpy(), col], ref)
            assert not got[np.isnan(close[:, t[col]]), col].any()
    assert e.any() and x.any()


def _ref_wilder(x: np.ndarray, w: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    vals: list[float] = []
    y = np.nan
    for i, v in enumerate(x):
        if np.isnan(v):
            vals, y = [], np.nan
            continue
        if len(vals) < w:
            vals.append(v)
            if len(vals) == w:
                y = sum(vals) / w
                out[i] = y
        else:
            y = (y * (w - 1) + v) / w
            out[i] = y
    return out


def test_rsi_is_wilder(close: np.ndarray) -> None:
    r = sg.rsi(close, [14, 5])
    assert r.shape == (300, 8)
    for j in (0, 1, 3):
        d = np.diff(close[:, j], prepend=np.nan)
        g = _ref_wilder(np.where(np.isnan(d), np.nan, np.maximum(d, 0)), 14)
        lo = _ref_wilder(np.where(np.isnan(d), np.nan, np.maximum(-d, 0)), 14)
        np.testing.assert_allclose(r[:, j], 100 - 100 / (1 + g / lo), rtol=1e-9, equal_nan=True)
    valid = r[~np.isnan(r)]
    assert ((valid >= 0) & (valid <= 100)).all()
    np.testing.assert_allclose(sg.rsi(np.arange(1.0, 40.0), 14)[20], 100.0)  # no losses


def test_atr_is_wilder_true_range(rng: np.random.Generator) -> None:
    c = 50 + np.cumsum(rng.normal(0, 1, 100))
    h, lo = c + rng.random(100), c - rng.random(100)
    pc = np.r_[np.nan, c[:-1]]
    tr = np.fmax(h - lo, np.fmax(abs(h - pc), abs(lo - pc)))
    np.testing.assert_allclose(sg.atr(h, lo, c, 10), _ref_wilder(tr, 10), rtol=1e-12,
                               equal_nan=True)


def test_bollinger_and_signals(close: np.ndarray) -> None:
    mid, up, low = sg.bollinger(close, 20, 2.0)
    sd = on_own_bars(close, lambda s: s.rolling(20).std(ddof=0))
    np.testing.assert_allclose(up - mid, 2 * sd, rtol=1e-8, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(mid - low, 2 * sd, rtol=1e-8, atol=1e-9, equal_nan=True)
    e, x = sg.bollinger_signals(close, [20, 30], [2.0, 1.5])
    assert e.shape == (300, 8)
    j = 0
    np.testing.assert_array_equal(e[:, j], _ref_crossed_above(-close[:, j], -low[:, j]))
    np.testing.assert_array_equal(x[:, j], _ref_crossed_above(close[:, j], mid[:, j]))


def test_breakout_small_case() -> None:
    c = np.array([10, 11, 10, 12, 11, 9, 8, 13.0])
    v = np.array([100, 100, 100, 300, 100, 100, 100, 140.0])
    e, x = sg.breakout(c, v, 3, 1.5)
    # t=3: 12 > max(10,11,10), volume 300 >= 1.5 * 100; t=7: 13 > 11 but 140 < 1.5 * 100
    assert np.flatnonzero(e[:, 0]).tolist() == [3]
    # exits below the previous 3-bar low: t=5 (9 < 10), t=6 (8 < 9)
    assert np.flatnonzero(x[:, 0]).tolist() == [5, 6]


def test_zscore_reversion_crossings(close: np.ndarray) -> None:
    le, lx, se, sx = sg.zscore_reversion(close, 20, 1.5, 0.0)
    z = ((close - pd.DataFrame(close).rolling(20).mean()) /
         pd.DataFrame(close).rolling(20).std(ddof=0)).to_numpy()
    j = 0
    np.testing.assert_array_equal(le[:, j], _ref_crossed_above(-z[:, j], np.full(300, 1.5)))
    np.testing.assert_array_equal(se[:, j], _ref_crossed_above(z[:, j], np.full(300, 1.5)))
    np.testing.assert_array_equal(lx[:, j], _ref_crossed_above(z[:, j], np.zeros(300)))
    np.testing.assert_array_equal(sx[:, j], _ref_crossed_above(-z[:, j], np.zeros(300)))
    assert le.any() and se.any()


def test_volume_breakout_small_case() -> None:
    c = np.array([5, 6, 7, 6, 8, 7, 9.0])
    v = np.array([10, 10, 10, 10, 50, 10, 15.0])
    e, x = sg.volume_breakout(c, v, 3, 2, 2.0, 2)
    # t=4: 8 is the 3-bar high and 50 >= 2 * mean(10, 10); t=6: high, but 15 < 2 * 30
    assert np.flatnonzero(e[:, 0]).tolist() == [4]
    assert np.flatnonzero(x[:, 0]).tolist() == [3, 5]


def test_rsi_signals(close: np.ndarray) -> None:
    e, x = sg.rsi_signals(close, 14, 30, 70)
    r = sg.rsi(close, 14)
    np.testing.assert_array_equal(e, sg.crossed_below(r, 30.0))
    np.testing.assert_array_equal(x, sg.crossed_above(r, 70.0))


def test_bad_window_is_rejected(close: np.ndarray) -> None:
    with pytest.raises(ArgumentError, match="window must be a whole number >= 1, got 0"):
        sg.sma(close, [5, 0])


# --------------------------------------------------------------------------- registry
def test_registry_has_the_builtins() -> None:
    assert {"sma-cross", "momentum", "mean-reversion", "volume-breakout", "rsi",
            "bollinger"} <= set(STRATEGIES)
    with pytest.raises(NotFound, match="no strategy named 'nope'; available: atr-trailing, bollinger"):
        get_strategy("nope")


def test_declared_grid_respects_constraint() -> None:
    from quantdb.services.research.grid import GridError
    from quantdb.services.research.sweep import sweep_grid

    g = sweep_grid("sma-cross").columns
    assert (g["fast"] < g["slow"]).all()
    fast, slow = np.meshgrid(np.arange(5, 101, 5), np.arange(20, 201, 10), indexing="ij")
    assert len(g["fast"]) == int((fast < slow).sum())
    small = sweep_grid("sma-cross", ["fast=5,30", "slow=20,40"]).columns
    assert list(zip(small["fast"], small["slow"], strict=True)) == [(5, 20), (5, 40), (30, 40)]
    with pytest.raises(GridError, match="has no parameter 'fats'"):
        sweep_grid("sma-cross", ["fats=1"])


def test_full_params_fills_defaults_and_refuses_strangers() -> None:
    s = get_strategy("sma-cross")
    assert s.full_params({"fast": 5}) == {"fast": 5.0, "slow": float(s.params["slow"])}
    with pytest.raises(StrategyError, match="unknown"):
        s.full_params({"fats": 5})
    with pytest.raises(StrategyError, match="must be a number"):
        s.full_params({"fast": "abc"})


@pytest.mark.parametrize("name", sorted(["sma-cross", "momentum", "mean-reversion",
                                         "volume-breakout", "rsi", "bollinger"]))
def test_every_strategy_runs_on_defaults_and_two_sets(name: str, close: np.ndarray,
                                                      rng: np.random.Generator) -> None:
    bars = Bars.from_close(close, volume=rng.uniform(1e5, 1e6, close.shape))
    s = get_strategy(name)
    out = s.signals(bars)
    assert len(out) in (2, 4)
    assert all(a.shape == close.shape and a.dtype == np.bool_ for a in out)
    from quantdb.services.research.sweep import sweep_grid

    g = sweep_grid(name).columns
    two = {k: np.asarray(v[:2], dtype=np.float64) for k, v in g.items()}
    out2 = s.signals(bars, **two)
    assert all(a.shape == (close.shape[0], 2 * close.shape[1]) for a in out2)
    with pytest.raises(StrategyError, match="unknown"):
        s.signals(bars, bogus=1)
