"""Technical indicators over ``(dates, tickers)`` float64 matrices, each ticker on its own bars.

The indicators a strategy reaches for first: Wilder's ATR (:func:`atr`, :func:`true_range`),
the exponential moving average (:func:`ema`) and MACD (:func:`macd`), Donchian channels
(:func:`donchian`), the rolling z-score (:func:`zscore`), momentum and rate of change
(:func:`momentum`, :func:`roc`) and on-balance volume (:func:`obv`).

Conventions (the same as the rolling functions of :mod:`quantdb.kernels.signals`):

* input is 1-D (one series) or ``(dates, tickers)``, and the result has the input's shape;
  windows are whole numbers >= 1 (:class:`~quantdb.errors.ArgumentError` otherwise);
* a NaN bar is no bar: every indicator runs over each ticker's *own* bars (the NaN rows
  dropped, as on a per-ticker pandas series after ``dropna()``) and is NaN on a date where
  the ticker has no bar, so a ticker's values never depend on the other columns;
* a value that needs more history than exists is NaN (the warm-up of each function is in its
  docstring), never an exception;
* no Python loop over tickers or dates: rolling windows come from
  :mod:`~quantdb.kernels.signals`' cumulative-sum and sliding-window helpers, recursive
  smoothing from small numba kernels that loop over columns.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.kernels.signals import (
    _as_2d,
    _max,
    _min,
    _on_own_bars,
    _shift,
    atr,
)

__all__ = [
    "MACD",
    "Donchian",
    "atr",
    "donchian",
    "ema",
    "macd",
    "momentum",
    "obv",
    "roc",
    "trailing_exits",
    "true_range",
    "zscore",
]


class MACD(NamedTuple):
    """The three series of :func:`macd`, each shaped like the close."""

    line: FloatArray
    signal: FloatArray
    hist: FloatArray


class Donchian(NamedTuple):
    """The three bands of :func:`donchian`, each shaped like the input."""

    upper: FloatArray
    lower: FloatArray
    middle: FloatArray


def _window(value: int, name: str = "window") -> int:
    w = int(value)
    if w != value or w < 1:
        msg = f"{name} must be a whole number >= 1, got {value}"
        raise ArgumentError(msg)
    return w


def _shaped(out: np.ndarray, like: FloatArray) -> FloatArray:
    return np.asarray(out, dtype=np.float64).reshape(np.shape(like))


# --------------------------------------------------------------------------- true range
@_on_own_bars(3, np.nan, by=2)
def _true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    h, lo, c = _as_2d(high), _as_2d(low), _as_2d(close)
    pc = _shift(c)
    tr = np.fmax(h - lo, np.fmax(np.abs(h - pc), np.abs(lo - pc)))
    tr[np.isnan(h) | np.isnan(lo)] = np.nan
    return np.asarray(tr, dtype=np.float64)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray, /) -> FloatArray:
    """True range: ``max(high - low, |high - prev_close|, |low - prev_close|)`` per bar, the
    previous close being the ticker's previous bar's; on a ticker's first bar ``high - low``.

    The series :func:`atr` smooths (vectorbt's ``ATR.tr``, TA-Lib's ``TRANGE`` after its
    first bar).

    Examples
    --------
    >>> import numpy as np
    >>> true_range(np.array([10.0, 12.0]), np.array([9.0, 11.0]), np.array([9.5, 11.5])).tolist()
    [1.0, 2.5]
    """
    return _shaped(_true_range(high, low, close), close)


# --------------------------------------------------------------------------- EMA and MACD
@njit(cache=True)
def _ema_nb(x: FloatArray, span: int) -> FloatArray:  # pragma: no cover - numba
    """EMA per column with ``alpha = 2 / (span + 1)``, seeded with the first value, in the
    arithmetic of pandas' ``ewm(span, adjust=False)``; NaN until ``span`` values were seen
    (leading NaN rows are skipped, a NaN row stays NaN)."""
    n, k = x.shape
    out = np.full((n, k), np.nan)
    alpha = 2.0 / (span + 1.0)
    keep = 1.0 - alpha
    for j in range(k):
        avg = np.nan
        seen = 0
        for i in range(n):
            v = x[i, j]
            if np.isnan(v):
                continue
            seen += 1
            if np.isnan(avg):
                avg = v
            elif avg != v:
                avg = (keep * avg + alpha * v) / (keep + alpha)
            if seen >= span:
                out[i, j] = avg
    return out


@_on_own_bars(1, np.nan)
def _ema(x: FloatArray, span: int) -> FloatArray:
    return _ema_nb(np.ascontiguousarray(_as_2d(x)), span)


def ema(x: FloatArray, span: int, /) -> FloatArray:
    """Exponential moving average with ``alpha = 2 / (span + 1)`` over each column's own bars.

    Seeded with the first value, ``y = (1 - alpha) * y_prev + alpha * x`` after it, NaN for
    the first ``span - 1`` bars: pandas' ``Series.dropna().ewm(span=span, adjust=False,
    min_periods=span).mean()`` and vectorbt's ``MA.run(..., ewm=True)``, in the same
    arithmetic. TA-Lib seeds with the mean of the first ``span`` values instead; the two
    differ by a factor ``(1 - alpha)`` less each bar after the seed.

    Examples
    --------
    >>> import numpy as np
    >>> ema(np.array([1.0, 2.0, 3.0, 4.0]), 3).tolist()
    [nan, nan, 2.25, 3.125]
    """
    return _shaped(_ema(x, _window(span, "span")), x)


@_on_own_bars(1, np.nan)
def _macd(close: FloatArray, fast: int, slow: int, signal: int) -> tuple[FloatArray, ...]:
    c = np.ascontiguousarray(_as_2d(close))
    line = _ema_nb(c, fast) - _ema_nb(c, slow)
    sig = _ema_nb(line, signal)
    return line, sig, line - sig


def macd(close: FloatArray, /, fast: int = 12, slow: int = 26, signal: int = 9) -> MACD:
    """MACD: ``line = ema(close, fast) - ema(close, slow)``, ``signal = ema(line, signal)``,
    ``hist = line - signal`` (:func:`ema`: seeded with the first value).

    Warm-up: the line is NaN for a ticker's first ``max(fast, slow) - 1`` bars, the signal
    and the histogram for its first ``max(fast, slow) + signal - 2``. The same numbers as
    vectorbt's ``MACD.run(close, fast, slow, signal, macd_ewm=True, signal_ewm=True)`` and as
    pandas ``ewm(span, adjust=False, min_periods=span)``; TA-Lib's ``MACD`` seeds each EMA with
    a simple mean and differs in the first few hundred bars (the difference decays
    geometrically).

    Returns
    -------
    MACD
        ``(line, signal, hist)``, each shaped like ``close``.
    """
    f, s, g = _window(fast, "fast"), _window(slow, "slow"), _window(signal, "signal")
    line, sig, hist = _macd(close, f, s, g)
    return MACD(_shaped(line, close), _shaped(sig, close), _shaped(hist, close))


# --------------------------------------------------------------------------- channels
@_on_own_bars(2, np.nan)
def _donchian(high: FloatArray, low: FloatArray, window: int) -> tuple[FloatArray, ...]:
    up = _max(_as_2d(high), window)
    lo = _min(_as_2d(low), window)
    return up, lo, (up + lo) / 2.0


def donchian(high: FloatArray, low: FloatArray, /, window: int = 20) -> Donchian:
    """Donchian channels over each ticker's last ``window`` bars, the current bar included:
    ``upper`` the highest high, ``lower`` the lowest low, ``middle`` their mean.

    NaN for a ticker's first ``window - 1`` bars. A breakout signal compares the close with
    the channel of the bars *before* it (shift the channel by one bar, as
    ``strategies.donchian-breakout`` does); a bar is where ``high`` is not NaN. For a close-only
    channel pass the close twice.

    Returns
    -------
    Donchian
        ``(upper, lower, middle)``, each shaped like ``high``.
    """
    w = _window(window)
    up, lo, mid = _donchian(high, low, w)
    return Donchian(_shaped(up, high), _shaped(lo, high), _shaped(mid, high))


# --------------------------------------------------------------------------- z-score
@_on_own_bars(1, np.nan)
def _zscore(x: FloatArray, window: int, ddof: int) -> FloatArray:
    a = _as_2d(x)
    out = np.full(a.shape, np.nan)
    if window > a.shape[0]:
        return out
    # the window's own mean (not a cumulative-sum difference): ``x - mean`` is small next to
    # ``x`` and must not inherit the rounding of a long running sum
    win = sliding_window_view(a, window, axis=0)
    mean = win.mean(axis=-1)
    sd = win.std(axis=-1, ddof=ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1 :] = np.where(sd > 0, (a[window - 1 :] - mean) / sd, np.nan)
    return out


def zscore(x: FloatArray, window: int = 20, /, *, ddof: int = 0) -> FloatArray:
    """Rolling z-score ``(x - mean) / std`` over each ticker's last ``window`` bars (the
    current bar included; population std with ``ddof=0``, as the ``mean-reversion``
    strategy).

    NaN for a ticker's first ``window - 1`` bars and wherever the window's std is 0 (a flat
    window has no scale).
    """
    w = _window(window)
    if ddof < 0 or ddof >= w:
        msg = f"ddof must be in 0..window-1 = 0..{w - 1}, got {ddof}"
        raise ArgumentError(msg)
    return _shaped(_zscore(x, w, int(ddof)), x)


# --------------------------------------------------------------------------- momentum
@_on_own_bars(1, np.nan)
def _change(x: FloatArray, window: int, ratio: bool) -> FloatArray:
    a = _as_2d(x)
    prev = _shift(a, window)
    if not ratio:
        return np.asarray(a - prev, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev != 0, a / prev - 1.0, np.nan)


def momentum(x: FloatArray, window: int = 10, /) -> FloatArray:
    """Momentum: ``x - x[window bars ago]`` over each ticker's own bars (a price difference).

    NaN for a ticker's first ``window`` bars.
    """
    return _shaped(_change(x, _window(window), False), x)


def roc(x: FloatArray, window: int = 10, /) -> FloatArray:
    """Rate of change: ``x / x[window bars ago] - 1``, a fraction (``0.05`` is 5 %), over each
    ticker's own bars: pandas' ``Series.dropna().pct_change(window)``.

    NaN for a ticker's first ``window`` bars and where the old value is 0.
    """
    return _shaped(_change(x, _window(window), True), x)


# --------------------------------------------------------------------------- volume
@_on_own_bars(2, np.nan)
def _obv(close: FloatArray, volume: FloatArray) -> FloatArray:
    c, v = _as_2d(close), _as_2d(volume)
    d = c - _shift(c)
    sign = np.where(np.isnan(d), 1.0, np.sign(d))  # a ticker's first bar counts its volume
    flow = np.where(np.isnan(c), np.nan, sign * np.nan_to_num(v))
    return np.cumsum(np.nan_to_num(flow), axis=0) + np.where(np.isnan(c), np.nan, 0.0)


def obv(close: FloatArray, volume: FloatArray, /) -> FloatArray:
    """On-balance volume: the running sum of the volume of up bars minus that of down bars
    (an unchanged close adds nothing), over each ticker's own bars, starting with its first
    bar's volume (vectorbt's ``OBV``, TA-Lib's ``OBV``).

    A bar is where ``close`` is not NaN; a NaN volume on a bar adds nothing. No warm-up: the
    first bar already has a value.
    """
    return _shaped(_obv(close, volume), close)


# --------------------------------------------------------------------------- trailing stops
@njit(cache=True)
def _trailing_exits_nb(high: FloatArray, close: FloatArray, entries: np.ndarray,
                       distance: FloatArray, exits: np.ndarray) -> np.ndarray:  # pragma: no cover
    n, k = entries.shape
    n_tickers = close.shape[1]
    out = np.zeros((n, k), dtype=np.bool_)
    for c in range(k):
        t = c % n_tickers
        holding = False
        peak = np.nan
        for i in range(n):
            px = close[i, t]
            if np.isnan(px):
                continue
            if holding:
                h = high[i, t]
                if not np.isnan(h) and h > peak:
                    peak = h
                d = distance[i, c]
                if exits[i, c] or (not np.isnan(d) and px < peak - d):
                    out[i, c] = True
                    holding = False
            elif entries[i, c] and not exits[i, c]:
                holding = True
                peak = high[i, t] if not np.isnan(high[i, t]) else px
    return out


def trailing_exits(
    high: FloatArray,
    close: FloatArray,
    entries: np.ndarray,
    distance: FloatArray,
    /,
    exits: np.ndarray | None = None,
) -> np.ndarray:
    """Exit signals of a trailing stop ``distance`` below the highest high since the entry
    signal (a chandelier exit when ``distance = k * atr``), for long entry signals.

    ``high`` and ``close`` are ``(dates, tickers)``; ``entries``, ``distance`` and ``exits``
    (other exit signals, kept) are ``(dates, n_sets * tickers)`` in the layout of
    :mod:`quantdb.kernels.signals` (column ``p * tickers + t``). Per column, the kernel follows
    the position the signals describe: an entry signal while flat opens it (the peak starts at
    that bar's high), and the first later bar whose close is below ``peak - distance`` (the
    peak including that bar), or which has an exit signal, is an exit, after which the next
    entry signal opens again. Dates where the ticker has no bar (NaN close) are skipped; a
    NaN distance (the ATR's warm-up) stops nothing.

    The stop follows the *signalled* position: a simulation that skips an entry signal
    (portfolio full, no cash, a short ``direction``) does not move it. With one ticker and
    long signals every entry signal taken while flat is a trade, and the two agree.
    """
    h = np.ascontiguousarray(_as_2d(high))
    c = np.ascontiguousarray(_as_2d(close))
    e = np.ascontiguousarray(entries, dtype=np.bool_)
    e = e[:, None] if e.ndim == 1 else e
    d = np.ascontiguousarray(np.broadcast_to(_as_2d(distance), e.shape), dtype=np.float64)
    x = (np.zeros(e.shape, dtype=np.bool_) if exits is None
         else np.ascontiguousarray(np.broadcast_to(np.asarray(exits, dtype=np.bool_).reshape(e.shape), e.shape)))
    if h.shape != c.shape or e.shape[0] != c.shape[0] or e.shape[1] % c.shape[1]:
        msg = (f"expected high and close of one shape (dates, tickers) and entries of "
               f"(dates, n_sets * tickers), got {h.shape}, {c.shape} and {e.shape}")
        raise ArgumentError(msg)
    out = _trailing_exits_nb(h, c, e, d, x)
    return out.reshape(np.shape(entries))
