"""The indicators of `quantdb.kernels.indicators` against vectorbt and plain pandas formulas.

Tolerances and why:

* ``ema``, ``macd`` (vs vectorbt ``MACD.run(..., macd_ewm=True, signal_ewm=True)`` and pandas
  ``ewm(span, adjust=False, min_periods=span)``): exact; the kernel does pandas' arithmetic.
* ``true_range`` vs vectorbt ``ATR.tr``: exact (the same three differences and maxima).
* ``atr`` vs Wilder's recursion written in pandas (seed = mean of the first ``window`` true
  ranges, then ``ewm(alpha=1/window, adjust=False)``): 1e-12 relative (pandas computes
  ``(1 - alpha) * y + alpha * x``, the kernel ``(y * (window - 1) + x) / window``). vectorbt's
  ``ATR`` is an EMA of span ``2 * window - 1`` (the same rate) seeded with the first true
  range: after 40 windows the seed's weight is ``(1 - 1/window)^(40 window) < e^-40`` and
  the two agree to 1e-12 relative.
* ``donchian`` (pandas ``rolling().max()/min()``), ``momentum``/``roc`` (``diff``,
  ``pct_change``): exact; ``zscore`` vs pandas ``rolling().mean()/std(ddof=0)``: 1e-9
  relative (two-pass window mean and std vs pandas' compensated online updates); vs vectorbt
  ``MA``/``MSTD``: 1e-7 relative, because vectorbt's mean is a running sum whose rounding
  shows in ``x - mean`` when the close barely moved (6.4e-9 seen at window 2); where the
  window is flat vectorbt divides by zero (inf) and quantdb says NaN.
* ``obv`` vs vectorbt ``OBV``: exact (integer-valued volumes, sums in the same order).

Every indicator is also checked on a panel with gaps against the same formula on each
ticker's own bars (``Series.dropna()``), which is what "a NaN bar is no bar" means.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from panel_references import on_own_bars, random_ohlcv

from quantdb.errors import ArgumentError
from quantdb.kernels import indicators as ind

vbt = pytest.importorskip("vectorbt")


@pytest.fixture
def ohlcv(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A 600 x 3 random-walk OHLCV panel without gaps."""
    o, h, lo, c, v = random_ohlcv(rng, 600, 3)
    c[100:103, 1] = c[99, 1]  # exact ties for OBV
    return o, h, lo, c, v


def _gappy(*panels: np.ndarray) -> list[np.ndarray]:
    """The panels with a late listing, inner gaps and a delisting (NaN in every field)."""
    out = [p.copy() for p in panels]
    for p in out:
        p[:40, 0] = np.nan
        p[[50, 51, 300, 301, 302], 1] = np.nan
        p[550:, 2] = np.nan
    return out


# --------------------------------------------------------------------------- EMA / MACD
@pytest.mark.parametrize("span", [1, 3, 12, 26])
def test_ema_is_pandas_ewm_adjust_false(ohlcv: tuple[np.ndarray, ...], span: int) -> None:
    c = ohlcv[3]
    ref = pd.DataFrame(c).ewm(span=span, adjust=False, min_periods=span).mean().to_numpy()
    np.testing.assert_array_equal(ind.ema(c, span), ref)
    vb = vbt.MA.run(pd.DataFrame(c), span, ewm=True).ma.to_numpy()
    np.testing.assert_array_equal(ind.ema(c, span), vb)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd_equals_vectorbt_ewm_macd(ohlcv: tuple[np.ndarray, ...], fast: int, slow: int,
                                       signal: int) -> None:
    c = ohlcv[3]
    got = ind.macd(c, fast, slow, signal)
    ref = vbt.MACD.run(pd.DataFrame(c), fast_window=fast, slow_window=slow, signal_window=signal,
                       macd_ewm=True, signal_ewm=True)
    np.testing.assert_array_equal(got.line, ref.macd.to_numpy())
    np.testing.assert_array_equal(got.signal, ref.signal.to_numpy())
    np.testing.assert_array_equal(got.hist, ref.hist.to_numpy())
    # warm-up: line from bar slow-1, signal from bar slow+signal-2
    assert np.isnan(got.line[: slow - 1]).all() and not np.isnan(got.line[slow - 1]).any()
    assert np.isnan(got.signal[: slow + signal - 2]).all()
    assert not np.isnan(got.signal[slow + signal - 2]).any()


def test_macd_and_ema_on_own_bars(ohlcv: tuple[np.ndarray, ...]) -> None:
    (c,) = _gappy(ohlcv[3])

    def ref_macd(s: pd.Series) -> pd.Series:
        line = (s.ewm(span=12, adjust=False, min_periods=12).mean()
                - s.ewm(span=26, adjust=False, min_periods=26).mean())
        return line - line.ewm(span=9, adjust=False, min_periods=9).mean()

    np.testing.assert_array_equal(ind.macd(c).hist, on_own_bars(c, ref_macd))
    np.testing.assert_array_equal(
        ind.ema(c, 10), on_own_bars(c, lambda s: s.ewm(span=10, adjust=False, min_periods=10).mean()))


# --------------------------------------------------------------------------- ATR
def _wilder(tr: pd.Series, w: int) -> pd.Series:
    seeded = tr.copy()
    seeded.iloc[: w - 1] = np.nan
    seeded.iloc[w - 1] = tr.iloc[:w].mean()
    return seeded.iloc[w - 1 :].ewm(alpha=1.0 / w, adjust=False).mean().reindex(tr.index)


@pytest.mark.parametrize("window", [1, 5, 14])
def test_atr_is_wilder_over_vectorbts_true_range(ohlcv: tuple[np.ndarray, ...], window: int) -> None:
    _, h, lo, c, _ = ohlcv
    ref = vbt.ATR.run(pd.DataFrame(h), pd.DataFrame(lo), pd.DataFrame(c), window)
    tr = ind.true_range(h, lo, c)
    np.testing.assert_array_equal(tr, ref.tr.to_numpy())
    want = np.column_stack([_wilder(pd.Series(tr[:, j]), window).to_numpy() for j in range(3)])
    np.testing.assert_allclose(ind.atr(h, lo, c, window), want, rtol=1e-12, equal_nan=True)
    # vectorbt's EMA of the same rate (span 2w-1), seeded differently: equal once it is forgotten
    vb = vbt.ATR.run(pd.DataFrame(h), pd.DataFrame(lo), pd.DataFrame(c), 2 * window - 1,
                     ewm=True).atr.to_numpy()
    late = slice(40 * window, None)
    np.testing.assert_allclose(ind.atr(h, lo, c, window)[late], vb[late], rtol=1e-12)


def test_atr_and_true_range_on_own_bars(ohlcv: tuple[np.ndarray, ...]) -> None:
    _, h, lo, c, _ = _gappy(*ohlcv)
    got = ind.atr(h, lo, c, 14)
    for j in range(3):
        keep = ~np.isnan(c[:, j])
        hs, ls, cs = (pd.Series(x[keep, j]) for x in (h, lo, c))
        tr = pd.concat([hs - ls, (hs - cs.shift()).abs(), (ls - cs.shift()).abs()], axis=1).max(axis=1)
        np.testing.assert_allclose(got[keep, j], _wilder(tr, 14).to_numpy(), rtol=1e-12, equal_nan=True)
        assert np.isnan(got[~keep, j]).all()
    assert ind.atr(h[:, 1], lo[:, 1], c[:, 1], 14).shape == (600,)  # 1-D in, 1-D out


# --------------------------------------------------------------------------- channels, z, momentum
@pytest.mark.parametrize("window", [1, 20, 55])
def test_donchian_is_rolling_high_low(ohlcv: tuple[np.ndarray, ...], window: int) -> None:
    _, h, lo, _, _ = _gappy(*ohlcv)
    up, low, mid = ind.donchian(h, lo, window)
    ref_up = on_own_bars(h, lambda s: s.rolling(window).max())
    ref_lo = on_own_bars(lo, lambda s: s.rolling(window).min())
    np.testing.assert_array_equal(up, ref_up)
    np.testing.assert_array_equal(low, ref_lo)
    np.testing.assert_array_equal(mid, (ref_up + ref_lo) / 2.0)


@pytest.mark.parametrize("window", [2, 20, 60])
def test_zscore_matches_pandas_and_vectorbt(ohlcv: tuple[np.ndarray, ...], window: int) -> None:
    c = ohlcv[3]
    df = pd.DataFrame(c)
    ref = ((df - df.rolling(window).mean()) / df.rolling(window).std(ddof=0)).to_numpy()
    np.testing.assert_allclose(ind.zscore(c, window), ref, rtol=1e-9, atol=1e-12, equal_nan=True)
    mstd = vbt.MSTD.run(df, window).mstd.to_numpy()
    with np.errstate(divide="ignore"):
        vb = (df.to_numpy() - vbt.MA.run(df, window).ma.to_numpy()) / mstd
    flat = mstd == 0.0  # the tied closes: vectorbt divides by 0 (inf), quantdb says NaN
    assert np.isnan(ind.zscore(c, window)[flat]).all()
    vb[flat] = np.nan
    # vectorbt's mean is a running sum: its rounding shows in ``x - mean`` when the close
    # barely moved (6.4e-9 relative at window 2 here), hence 1e-7 against it
    np.testing.assert_allclose(ind.zscore(c, window), vb, rtol=1e-7, atol=1e-12, equal_nan=True)
    (g,) = _gappy(c)
    own = on_own_bars(g, lambda s: (s - s.rolling(window).mean()) / s.rolling(window).std(ddof=1))
    np.testing.assert_allclose(ind.zscore(g, window, ddof=1), own, rtol=1e-9, atol=1e-12,
                               equal_nan=True)


def test_zscore_of_a_flat_window_is_nan() -> None:
    z = ind.zscore(np.array([1.0, 1.0, 1.0, 2.0]), 3)
    assert np.isnan(z[:3]).all() and z[3] == pytest.approx(np.sqrt(2.0))


@pytest.mark.parametrize("window", [1, 10, 30])
def test_momentum_and_roc_on_own_bars(ohlcv: tuple[np.ndarray, ...], window: int) -> None:
    (c,) = _gappy(ohlcv[3])
    np.testing.assert_array_equal(ind.momentum(c, window), on_own_bars(c, lambda s: s.diff(window)))
    np.testing.assert_array_equal(ind.roc(c, window), on_own_bars(c, lambda s: s.pct_change(window)))


# --------------------------------------------------------------------------- OBV
def test_obv_equals_vectorbt(ohlcv: tuple[np.ndarray, ...]) -> None:
    _, _, _, c, v = ohlcv
    ref = vbt.OBV.run(pd.DataFrame(c), pd.DataFrame(v)).obv.to_numpy()
    np.testing.assert_array_equal(ind.obv(c, v), ref)


def test_obv_on_own_bars(ohlcv: tuple[np.ndarray, ...]) -> None:
    _, _, _, c, v = _gappy(*ohlcv)
    got = ind.obv(c, v)
    for j in range(3):
        keep = ~np.isnan(c[:, j])
        cs, vs = pd.Series(c[keep, j]), pd.Series(v[keep, j])
        sign = np.sign(cs.diff()).fillna(1.0)  # the first own bar counts its volume
        np.testing.assert_array_equal(got[keep, j], (sign * vs).cumsum().to_numpy())
        assert np.isnan(got[~keep, j]).all()


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("call", [
    lambda c: ind.ema(c, 0), lambda c: ind.macd(c, 12, 2.5), lambda c: ind.donchian(c, c, -1),
    lambda c: ind.zscore(c, 0), lambda c: ind.roc(c, 0), lambda c: ind.atr(c, c, c, 0),
])
def test_bad_windows_are_one_argument_error(call: Callable[[np.ndarray], object]) -> None:
    with pytest.raises(ArgumentError, match=r"must be a whole number >= 1, got"):
        call(np.ones(30))


def test_too_little_history_is_nan_not_an_error() -> None:
    c = np.array([1.0, 2.0, 3.0])
    assert np.isnan(ind.macd(c).signal).all()
    assert np.isnan(ind.donchian(c, c, 5).upper).all()
    assert np.isnan(ind.roc(c, 5)).all()
    assert np.isnan(ind.zscore(c, 5)).all()
    with pytest.raises(ArgumentError, match="ddof must be in 0..window-1"):
        ind.zscore(c, 2, ddof=2)
