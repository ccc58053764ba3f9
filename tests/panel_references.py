"""Inputs and references several kernel tests share: a random-walk OHLCV panel, and a pandas
formula applied to each ticker's own bars (the meaning of "a NaN bar is no bar")."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def random_ohlcv(
    rng: np.random.Generator, n: int, k: int, *, start: float = 100.0, drift: float = 0.0,
    volume: tuple[int, int] = (1_000, 100_000),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(open, high, low, close, volume)``, ``n`` dates x ``k`` tickers, without gaps: closes
    a geometric random walk (2% daily), opens near them, highs and lows around both."""
    c = start * np.exp(np.cumsum(rng.normal(drift, 0.02, (n, k)), axis=0))
    o = c * np.exp(rng.normal(0, 0.005, (n, k)))
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.01, (n, k)))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.01, (n, k)))
    v = rng.integers(volume[0], volume[1], (n, k)).astype(np.float64)
    return o, h, lo, c, v


def on_own_bars(x: np.ndarray, f: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``f`` on each column with its NaN rows dropped, put back on the dates (NaN between)."""
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        s = pd.Series(x[:, j]).dropna()
        out[s.index.to_numpy(), j] = f(s).to_numpy()
    return out
