"""The strategies built on `quantdb.kernels.indicators`, against per-ticker pandas references.

Each reference computes one ticker and one parameter set at a time on the ticker's own bars
(``dropna()``), with pandas rolling/ewm/pct_change and a literal loop for the trailing stop;
the strategy computes every ticker and parameter set at once (column ``p * tickers + t``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from panel_references import random_ohlcv

from quantdb.errors import ArgumentError
from quantdb.kernels.indicators import trailing_exits
from quantdb.strategies import Bars, get_strategy

NEW = ("donchian-breakout", "macd-cross", "atr-trailing", "roc-momentum", "obv-trend")
Ref = Callable[[pd.DataFrame, dict[str, float]], tuple[pd.Series, pd.Series]]


@pytest.fixture
def bars(rng: np.random.Generator) -> Bars:
    """400 bars x 3 tickers: a late listing, inner gaps, a delisting (NaN in every field)."""
    o, h, lo, c, v = random_ohlcv(rng, 400, 3, start=50.0, drift=0.0005, volume=(10_000, 90_000))
    for x in (o, h, lo, c, v):
        x[:30, 0] = np.nan
        x[[60, 61, 200], 1] = np.nan
        x[370:, 2] = np.nan
    return Bars(o, h, lo, c, v)


def _cross_above(a: pd.Series, b: pd.Series | float) -> pd.Series:
    """backtesting.py's crossover, strict form (no exact ties in random data)."""
    return (a > b) & (a.shift() < (b.shift() if isinstance(b, pd.Series) else b))


def _donchian(f: pd.DataFrame, p: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    upper = f.high.rolling(int(p["window"])).max().shift()
    lower = f.low.rolling(int(p["exit_window"])).min().shift()
    return f.close > upper, f.close < lower


def _macd(f: pd.DataFrame, p: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    def ema(s: pd.Series, w: float) -> pd.Series:
        return s.ewm(span=int(w), adjust=False, min_periods=int(w)).mean()

    line = ema(f.close, p["fast"]) - ema(f.close, p["slow"])
    sig = ema(line, p["signal"])
    return _cross_above(line, sig), _cross_above(sig, line)


def _atr_trailing(f: pd.DataFrame, p: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    w, aw, k = int(p["window"]), int(p["atr_window"]), p["atr_mult"]
    entries = f.close > f.high.rolling(w).max().shift()
    prev = f.close.shift()
    tr = pd.concat([f.high - f.low, (f.high - prev).abs(), (f.low - prev).abs()], axis=1).max(axis=1)
    atr = [np.nan] * len(tr)
    for i in range(aw - 1, len(tr)):  # Wilder: seed with the mean, then (prev*(w-1)+tr)/w
        atr[i] = tr.iloc[:aw].mean() if i == aw - 1 else (atr[i - 1] * (aw - 1) + tr.iloc[i]) / aw
    exits = [False] * len(tr)
    holding, peak = False, 0.0
    for i in range(len(tr)):
        if holding:
            peak = max(peak, f.high.iloc[i])
            if not np.isnan(atr[i]) and f.close.iloc[i] < peak - k * atr[i]:
                exits[i], holding = True, False
        elif entries.iloc[i]:
            holding, peak = True, f.high.iloc[i]
    return entries, pd.Series(exits, index=f.index)


def _roc(f: pd.DataFrame, p: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    r = f.close.pct_change(int(p["window"]))
    return _cross_above(r, p["threshold"]), _cross_above(-r, 0.0)


def _obv(f: pd.DataFrame, p: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    flow = (np.sign(f.close.diff()).fillna(1.0) * f.volume).cumsum()
    ma = flow.rolling(int(p["window"])).mean()
    return _cross_above(flow, ma), _cross_above(ma, flow)


REFS: dict[str, tuple[Ref, list[dict[str, float]]]] = {
    "donchian-breakout": (_donchian, [{"window": 20, "exit_window": 10}, {"window": 55, "exit_window": 20}]),
    "macd-cross": (_macd, [{"fast": 12, "slow": 26, "signal": 9}, {"fast": 5, "slow": 35, "signal": 5}]),
    "atr-trailing": (_atr_trailing, [{"window": 20, "atr_window": 14, "atr_mult": 3.0},
                                     {"window": 10, "atr_window": 5, "atr_mult": 1.5}]),
    "roc-momentum": (_roc, [{"window": 20, "threshold": 0.05}, {"window": 5, "threshold": 0.0}]),
    "obv-trend": (_obv, [{"window": 20}, {"window": 50}]),
}


@pytest.mark.parametrize("name", NEW)
def test_strategy_equals_the_per_ticker_reference(name: str, bars: Bars) -> None:
    ref, sets = REFS[name]
    s = get_strategy(name)
    arrays = {k: np.array([p[k] for p in sets], dtype=np.float64) for k in sets[0]}
    got = s.signals(bars, **arrays)
    n, k = bars.close.shape
    assert len(got) == 2 and all(g.shape == (n, len(sets) * k) and g.dtype == np.bool_ for g in got)
    for p, params in enumerate(sets):
        for t in range(k):
            keep = ~np.isnan(bars.close[:, t])
            frame = pd.DataFrame({f: getattr(bars, f)[keep, t] for f in ("open", "high", "low", "close", "volume")})
            want = ref(frame, params)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g[keep, p * k + t], w.to_numpy(dtype=bool),
                                              err_msg=f"{name} {params} ticker {t}")
                assert not g[~keep, p * k + t].any()  # no signal on a date without a bar
        assert got[0][:, p * k : (p + 1) * k].any(), f"{name} {params}: no entry at all"


@pytest.mark.parametrize("name", NEW)
def test_signals_use_no_future_bar(name: str, bars: Bars) -> None:
    s = get_strategy(name)
    full = s.signals(bars)
    for t in (120, 250, 399):
        cut = Bars(*(getattr(bars, f)[:t] for f in ("open", "high", "low", "close", "volume")))
        for a, b in zip(s.signals(cut), full, strict=True):
            np.testing.assert_array_equal(a, b[:t])


@pytest.mark.parametrize("name", NEW)
def test_declared_grid_runs_and_respects_the_constraint(name: str, bars: Bars) -> None:
    from quantdb.services.research.sweep import sweep_grid

    grid = sweep_grid(name).columns
    s = get_strategy(name)
    if s.constraint == "fast<slow":
        assert (grid["fast"] < grid["slow"]).all()
    if s.constraint == "exit_window<=window":
        assert (grid["exit_window"] <= grid["window"]).all()
    some = {k: np.asarray(v[::7][:6], dtype=np.float64) for k, v in grid.items()}
    out = s.signals(bars, **some)
    m = len(next(iter(some.values())))
    assert all(o.shape == (bars.close.shape[0], m * bars.close.shape[1]) for o in out)


def test_obv_trend_needs_volume(bars: Bars) -> None:
    from quantdb.strategies import StrategyError

    with pytest.raises(StrategyError, match="'obv-trend' needs volume"):
        get_strategy("obv-trend").signals(Bars.from_close(bars.close))


def test_trailing_exits_small_case() -> None:
    close = np.array([10.0, 11.0, 13.0, 12.5, 11.0, 12.0, 14.0, 11.0])
    high = close + 0.5
    entries = np.array([0, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    # entry at bar 1 (peak 11.5, then 13.5); bar 4: 11.0 < 13.5 - 2 -> exit; bar 5 re-enters,
    # peak 14.5 at bar 6, bar 7: 11.0 < 12.5 -> exit
    out = trailing_exits(high, close, entries, np.full(8, 2.0))
    assert np.flatnonzero(out).tolist() == [4, 7]
    with pytest.raises(ArgumentError, match="expected high and close of one shape"):
        trailing_exits(high[:, None], close[:5, None], entries[:, None], np.ones((8, 1)))
