"""Entry and exit signals, vectorized over tickers and over parameter values at once.

Layout. Prices come in as ``(dates, tickers)`` matrices. A signal function takes its
parameters as scalars or equal-length sequences (one value per parameter set, *paired*, not
crossed: build a grid first, see :mod:`quantdb.strategies`) and returns boolean matrices of
shape ``(dates, n_params * tickers)``, where column ``p * n_tickers + t`` is parameter set
``p`` on ticker ``t``. That is a free reshape of ``(dates, n_params, tickers)``, and it is the
layout :func:`quantdb.kernels.simulate.simulate` reads: the ticker of column ``c`` is
``c % n_tickers``, so prices are never tiled.

No loop over dates runs in Python: moving sums come from cumulative sums, rolling extremes
and deviations from sliding windows, and Wilder's recursive smoothing (RSI, ATR) from one
small numba kernel. A value that needs more history than exists is NaN, and a NaN never
triggers a signal.

Own bars. All tickers share one date axis, and a date a ticker has no bar is NaN (a holiday of
its exchange that another ticker's exchange traded, a halt, a gap in the file). Every
indicator and signal here is computed over each ticker's *own* bars: a window of 20 is that
ticker's last 20 bars, the previous bar is its previous bar, exactly as on a per-ticker pandas
series with the NaN rows dropped; on a date without a bar the indicator is NaN and a signal is
False. So a ticker's signals never depend on which other tickers share the panel. The work is
vectorized: when a column has a gap inside its history, every column's bars are moved to the
top of the matrix by one stable permutation (:class:`OwnBars`), the indicator runs on that
dense matrix, and the result is moved back; panels without inner gaps (the usual case: late
listings and delistings are not inner gaps) skip the permutation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from quantdb._typing import BoolArray, FloatArray, IntArray
from quantdb.errors import ArgumentError

ParamLike = float | int | Sequence[float] | Sequence[int] | np.ndarray
_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "OwnBars",
    "atr",
    "bollinger",
    "bollinger_signals",
    "breakout",
    "crossed_above",
    "crossed_below",
    "own_bars",
    "param_columns",
    "rolling_max",
    "rolling_mean",
    "rolling_min",
    "rolling_std",
    "rsi",
    "rsi_signals",
    "sma",
    "sma_cross",
    "volume_breakout",
    "zscore_reversion",
]


# --------------------------------------------------------------------------- helpers
def _as_2d(x: FloatArray) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def _params(*values: ParamLike) -> list[FloatArray]:
    """Broadcast parameter values to equal-length 1-D float arrays (paired parameter sets)."""
    arrays = [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values]
    return list(np.broadcast_arrays(*arrays))


def _windows(w: FloatArray) -> FloatArray:
    if np.any(w < 1) or np.any(w != np.floor(w)):
        msg = f"window must be a whole number >= 1, got {w[(w < 1) | (w != np.floor(w))][0]}"
        raise ArgumentError(msg)
    return w


def param_columns(n_params: int, n_tickers: int) -> tuple[np.ndarray, np.ndarray]:
    """Parameter index and ticker index of every output column (``c = p * n_tickers + t``)."""
    cols = np.arange(n_params * n_tickers)
    return cols // n_tickers, cols % n_tickers


def _stack(blocks: list[np.ndarray]) -> np.ndarray:
    """(dates, tickers) blocks, one per parameter set, to (dates, n_params * tickers)."""
    return np.ascontiguousarray(np.stack(blocks, axis=1).reshape(blocks[0].shape[0], -1))


# --------------------------------------------------------------------------- own bars
class OwnBars:
    """Each column's own bars (non-NaN rows) moved to the top, in date order, and back.

    ``order[:, t]`` lists the rows of column ``t`` that hold a value, in date order, then the
    rows that do not: :meth:`pack` of a ``(dates, m * tickers)`` matrix (column
    ``p * tickers + t`` belongs to ticker ``t``, the layout of this module) gives each ticker's
    own bars as one dense run from row 0, NaN rows below; :meth:`unpack` puts a result computed
    there back on the dates, ``fill`` on the dates without a bar.

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[1.0, 5.0], [np.nan, 6.0], [3.0, 7.0]])
    >>> ob = OwnBars(np.isnan(c))
    >>> ob.pack(c).tolist()
    [[1.0, 5.0], [3.0, 6.0], [nan, 7.0]]
    >>> ob.unpack(ob.pack(c) * 10).tolist()
    [[10.0, 50.0], [nan, 60.0], [30.0, 70.0]]
    """

    def __init__(self, no_bar: BoolArray, /) -> None:
        self.no_bar = np.asarray(no_bar, dtype=np.bool_)
        if self.no_bar.ndim == 1:
            self.no_bar = self.no_bar[:, None]
        # a stable sort of booleans (a radix sort): False (a bar) first, dates kept in order
        self.order: IntArray = np.argsort(self.no_bar, axis=0, kind="stable")

    @property
    def n_tickers(self) -> int:
        return int(self.no_bar.shape[1])

    def _blocks(self, a: np.ndarray) -> np.ndarray:
        x = np.asarray(a)
        x = x[:, None] if x.ndim == 1 else x
        n, k = self.no_bar.shape
        if x.ndim != 2 or x.shape[0] != n or x.shape[1] % k:
            msg = f"expected a (dates={n}, a multiple of tickers={k}) matrix, got shape {x.shape}"
            raise ArgumentError(msg)
        return x.reshape(n, -1, k)

    def pack(self, a: np.ndarray, /) -> np.ndarray:
        """Each ticker's own bars first (``(dates, m * tickers)``, column ``p * tickers + t``)."""
        x = self._blocks(a)
        out = np.take_along_axis(x, self.order[:, None, :], axis=0)
        return np.ascontiguousarray(out.reshape(x.shape[0], -1))

    def unpack(self, a: np.ndarray, /, fill: float | bool = np.nan) -> np.ndarray:
        """A result computed on :meth:`pack`'s layout, back on the dates (``fill`` where the
        ticker has no bar)."""
        x = self._blocks(a)
        out = np.empty_like(x)
        np.put_along_axis(out, np.broadcast_to(self.order[:, None, :], x.shape), x, axis=0)
        out[np.broadcast_to(self.no_bar[:, None, :], x.shape)] = fill
        return np.ascontiguousarray(out.reshape(x.shape[0], -1))


def own_bars(x: np.ndarray, /) -> OwnBars | None:
    """The :class:`OwnBars` of a ``(dates, tickers)`` panel (NaN: no bar), or None when no
    column has a gap *inside* its history (then every result is the same without packing:
    NaN before the first bar or after the last one is no gap)."""
    a = np.asarray(x)
    no_bar = np.isnan(a if a.ndim == 2 else a.reshape(a.shape[0], -1))
    if not no_bar.any():
        return None
    bar = ~no_bar
    n = bar.shape[0]
    count = bar.sum(axis=0)
    first = bar.argmax(axis=0)
    last = n - 1 - bar[::-1].argmax(axis=0)
    if not ((count > 0) & (last - first + 1 != count)).any():
        return None
    return OwnBars(no_bar)


def _on_own_bars(n_panels: int, fill: float | bool, by: int = 0) -> Callable[[_F], _F]:
    """Run ``func`` on each ticker's own bars: its first ``n_panels`` positional arguments are
    ``(dates, tickers)`` panels, argument ``by`` (the close) decides where a ticker has a bar
    (NaN: none); every array it returns is moved back to the dates, ``fill`` where there is no
    bar."""

    def decorate(func: _F) -> _F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            ob = own_bars(np.asarray(args[by], dtype=np.float64))
            if ob is None:
                return func(*args, **kwargs)
            packed = [ob.pack(np.asarray(a, dtype=np.float64)) for a in args[:n_panels]]
            out = func(*packed, *args[n_panels:], **kwargs)
            if isinstance(out, tuple):
                return tuple(ob.unpack(o, fill) for o in out)
            return ob.unpack(out, fill)

        return run  # type: ignore[return-value]

    return decorate


# --------------------------------------------------------------------------- rolling stats
def _mean(a: FloatArray, w: int) -> FloatArray:
    """Rolling mean of a 2-D matrix over consecutive rows (NaN if a window holds a NaN)."""
    n = a.shape[0]
    out = np.full(a.shape, np.nan)
    if w > n:
        return out
    nan = np.isnan(a)
    cs = np.cumsum(np.where(nan, 0.0, a), axis=0)
    cn = np.cumsum(nan, axis=0)
    s = cs[w - 1 :].copy()
    s[1:] -= cs[: n - w]
    k = cn[w - 1 :].copy()
    k[1:] -= cn[: n - w]
    out[w - 1 :] = np.where(k == 0, s / w, np.nan)
    return out


def _max(a: FloatArray, w: int) -> FloatArray:
    out = np.full(a.shape, np.nan)
    if w <= a.shape[0]:
        out[w - 1 :] = sliding_window_view(a, w, axis=0).max(axis=-1)
    return out


def _min(a: FloatArray, w: int) -> FloatArray:
    return -_max(-a, w)


def _std(a: FloatArray, w: int, ddof: int = 0) -> FloatArray:
    out = np.full(a.shape, np.nan)
    if w - ddof >= 1 and w <= a.shape[0]:
        out[w - 1 :] = sliding_window_view(a, w, axis=0).std(axis=-1, ddof=ddof)
    return out


@_on_own_bars(1, np.nan)
def _rolling(x: FloatArray, w: int, kind: str, ddof: int) -> FloatArray:
    a = _as_2d(x)
    if kind == "mean":
        return _mean(a, w)
    if kind == "max":
        return _max(a, w)
    if kind == "min":
        return _min(a, w)
    return _std(a, w, ddof)


def rolling_mean(x: FloatArray, window: int, /) -> FloatArray:
    """Mean of the last ``window`` values per column, over the column's own values (NaN rows
    skipped, as ``pandas.Series.dropna().rolling(window).mean()``); NaN where there is no value
    or fewer than ``window`` so far.

    Computed from a cumulative sum, in the same order of additions as vectorbt's
    ``rolling_mean_nb`` (so on a column without NaN the result is bit-identical to
    ``vbt.MA.run(..., window)``).
    """
    return np.asarray(_rolling(x, int(window), "mean", 0)).reshape(np.shape(x))


def rolling_max(x: FloatArray, window: int, /) -> FloatArray:
    """Highest of the last ``window`` values per column (own values, NaN rows skipped)."""
    return np.asarray(_rolling(x, int(window), "max", 0)).reshape(np.shape(x))


def rolling_min(x: FloatArray, window: int, /) -> FloatArray:
    """Lowest of the last ``window`` values per column (own values, NaN rows skipped)."""
    return np.asarray(_rolling(x, int(window), "min", 0)).reshape(np.shape(x))


def rolling_std(x: FloatArray, window: int, /, *, ddof: int = 0) -> FloatArray:
    """Standard deviation of the last ``window`` values per column (two-pass; own values, NaN
    rows skipped)."""
    return np.asarray(_rolling(x, int(window), "std", int(ddof))).reshape(np.shape(x))


def _shift(a: np.ndarray, k: int = 1, fill: float = np.nan) -> np.ndarray:
    out = np.empty_like(a, dtype=np.float64)
    out[:k] = fill
    out[k:] = a[:-k]
    return out


# --------------------------------------------------------------------------- crossings
def crossed_above(a: FloatArray, b: FloatArray | float, /) -> BoolArray:
    """True where ``a`` goes above ``b``: vectorbt's ``crossed_above`` (``wait=0``), vectorized.

    ``a[t] > b[t]``, the previous bar was not above (``a < b``, or ``a == b`` with some bar
    strictly below since the last NaN), and no NaN on either bar. backtesting.py's
    ``crossover`` is the strict form (``a[t-1] < b[t-1]``): the two differ only after an exact
    tie.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    n = a.shape[0]
    out = np.zeros(a.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        below = a < b
        above = a > b
        equal = a == b
    if not equal[:-1].any():  # no tie: a cross is simply below, then above
        np.logical_and(above[1:], below[:-1], out=out[1:])
        return out
    idx = np.arange(n).reshape((n,) + (1,) * (a.ndim - 1))
    nan = np.isnan(a) | np.isnan(b)
    last_nan = np.maximum.accumulate(np.where(nan, idx, -1), axis=0)
    last_below = np.maximum.accumulate(np.where(below, idx, -1), axis=0)
    was_below = last_below > last_nan  # strictly below at some bar since the last NaN
    out[1:] = above[1:] & (below[:-1] | (equal[:-1] & was_below[:-1]))
    return out


def crossed_below(a: FloatArray, b: FloatArray | float, /) -> BoolArray:
    """True where ``a`` goes below ``b`` (:func:`crossed_above` with the roles swapped)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    return crossed_above(-a, -b)


# --------------------------------------------------------------------------- indicators
@_on_own_bars(1, np.nan)
def sma(close: FloatArray, windows: ParamLike, /) -> FloatArray:
    """Simple moving averages for each window over each ticker's own bars:
    ``(dates, n_windows * tickers)``."""
    c = _as_2d(close)
    (w,) = _params(windows)
    _windows(w)
    cache: dict[int, FloatArray] = {}
    blocks = []
    for win in w.astype(int):  # one pass per distinct window, not per date
        if win not in cache:
            cache[win] = _mean(c, win)
        blocks.append(cache[win])
    return _stack(blocks)


@njit(cache=True)
def _wilder_nb(x: FloatArray, window: int) -> FloatArray:  # pragma: no cover - numba
    """Wilder smoothing per column: seed = mean of the first ``window`` values, then
    ``y = y_prev + (x - y_prev) / window``; a NaN restarts the seed."""
    n, k = x.shape
    out = np.full((n, k), np.nan)
    for j in range(k):
        cnt = 0
        acc = 0.0
        y = np.nan
        for i in range(n):
            v = x[i, j]
            if np.isnan(v):
                cnt = 0
                acc = 0.0
                y = np.nan
                continue
            if cnt < window:
                acc += v
                cnt += 1
                if cnt == window:
                    y = acc / window
                    out[i, j] = y
            else:
                y = (y * (window - 1) + v) / window
                out[i, j] = y
    return out


@_on_own_bars(1, np.nan)
def rsi(close: FloatArray, windows: ParamLike = 14, /) -> FloatArray:
    """Wilder's RSI in [0, 100] for each window: ``(dates, n_windows * tickers)``.

    Average gain and loss are Wilder-smoothed (seed = simple mean of the first ``window``
    changes, a change being from the ticker's previous bar); RSI = 100 - 100 / (1 + gain /
    loss), 100 when there were no losses.
    """
    c = _as_2d(close)
    (w,) = _params(windows)
    _windows(w)
    d = np.diff(c, axis=0, prepend=np.nan)
    gain = np.where(np.isnan(d), np.nan, np.maximum(d, 0.0))
    loss = np.where(np.isnan(d), np.nan, np.maximum(-d, 0.0))
    # the first row is NaN (no change yet), so seeding starts at the first real change
    blocks = []
    for win in w.astype(int):
        g = _wilder_nb(np.ascontiguousarray(gain), int(win))
        lo = _wilder_nb(np.ascontiguousarray(loss), int(win))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(lo == 0.0, 100.0, 100.0 - 100.0 / (1.0 + g / lo))
        blocks.append(np.where(np.isnan(g) | np.isnan(lo), np.nan, r))
    return _stack(blocks)


@_on_own_bars(3, np.nan, by=2)
def _atr(high: FloatArray, low: FloatArray, close: FloatArray, window: int) -> FloatArray:
    h, lo, c = _as_2d(high), _as_2d(low), _as_2d(close)
    pc = _shift(c)
    tr = np.fmax(h - lo, np.fmax(np.abs(h - pc), np.abs(lo - pc)))
    tr[np.isnan(h) | np.isnan(lo)] = np.nan
    return _wilder_nb(np.ascontiguousarray(tr), window)


def atr(high: FloatArray, low: FloatArray, close: FloatArray, /, window: int = 14) -> FloatArray:
    """Wilder's average true range per ticker over its own bars, shaped like ``close``.

    The true range reaches back to the ticker's previous close (``high - low`` on its first
    bar); Wilder's smoothing is seeded with the mean of the first ``window`` true ranges, then
    ``atr = (atr_prev * (window - 1) + tr) / window``, so the first ``window - 1`` bars are
    NaN. TA-Lib's ``ATR`` seeds from the second bar's true range (it has no previous close on
    the first) and vectorbt's ``ATR`` is an EMA with ``alpha = 2 / (window + 1)``: both
    differ in the seed or the rate, not in the true range.
    """
    w = int(_windows(np.array([window], dtype=np.float64))[0])
    return np.asarray(_atr(high, low, close, w)).reshape(np.shape(close))


@_on_own_bars(1, np.nan)
def bollinger(
    close: FloatArray, windows: ParamLike = 20, k: ParamLike = 2.0, /
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger bands (middle, upper, lower) = SMA -+ k * population std, per parameter set."""
    c = _as_2d(close)
    w, kk = _params(windows, k)
    _windows(w)
    mids, ups, lows = [], [], []
    for win, kv in zip(w.astype(int), kk, strict=True):
        m = _mean(c, win)
        s = _std(c, win)
        mids.append(m)
        ups.append(m + kv * s)
        lows.append(m - kv * s)
    return _stack(mids), _stack(ups), _stack(lows)


def _tile(close: FloatArray, n_params: int) -> FloatArray:
    return np.tile(_as_2d(close), (1, n_params))


# --------------------------------------------------------------------------- signals
@_on_own_bars(1, False)
def sma_cross(
    close: FloatArray, fast: ParamLike, slow: ParamLike, /
) -> tuple[BoolArray, BoolArray]:
    """Long entry when the fast SMA crosses above the slow one, exit on the opposite cross.

    Same definition as vectorbt ``MA.run`` + ``ma_crossed_above`` / ``ma_crossed_below``.
    Each distinct window is averaged once, whatever the number of pairs.

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0])
    >>> e, x = sma_cross(c, 1, 3)
    >>> np.flatnonzero(e[:, 0]).tolist(), np.flatnonzero(x[:, 0]).tolist()
    ([3], [6])
    """
    c = _as_2d(close)
    f, s = _params(fast, slow)
    _windows(f)
    _windows(s)
    uniq = np.unique(np.concatenate([f, s])).astype(int)
    ma = {int(win): _mean(c, int(win)) for win in uniq}
    n, k = c.shape
    entries = np.empty((n, len(f), k), dtype=bool)  # (dates, params, tickers)
    exits = np.empty((n, len(f), k), dtype=bool)
    entries[0] = False
    exits[0] = False
    for j, (fw, sw) in enumerate(zip(f.astype(int), s.astype(int), strict=True)):
        a, b = ma[fw], ma[sw]  # a loop over parameter sets only: small blocks stay in cache
        with np.errstate(invalid="ignore"):
            above = a > b
            below = a < b
        if not (a == b).any():  # no exact tie: a cross is simply below, then above
            np.logical_and(above[1:], below[:-1], out=entries[1:, j])
            np.logical_and(below[1:], above[:-1], out=exits[1:, j])
        else:
            entries[:, j] = crossed_above(a, b)
            exits[:, j] = crossed_above(b, a)
    return entries.reshape(n, -1), exits.reshape(n, -1)


@_on_own_bars(2, False)
def breakout(
    close: FloatArray, volume: FloatArray, window: ParamLike = 20, vol_mult: ParamLike = 1.5, /
) -> tuple[BoolArray, BoolArray]:
    """N-day high breakout confirmed by volume; exit on a break of the N-day low.

    Entry at ``t``: ``close[t]`` above the highest close of the ``window`` bars before ``t``
    and ``volume[t]`` at least ``vol_mult`` times their mean volume. Exit: ``close[t]`` below
    the lowest close of the ``window`` bars before ``t``.
    """
    c, v = _as_2d(close), _as_2d(volume)
    w, m = _params(window, vol_mult)
    _windows(w)
    ent, ex = [], []
    for win, mult in zip(w.astype(int), m, strict=True):
        hi = _shift(_max(c, win))
        lo = _shift(_min(c, win))
        vm = _shift(_mean(v, win))
        with np.errstate(invalid="ignore"):
            ent.append((c > hi) & (v >= mult * vm))
            ex.append(c < lo)
    return _stack(ent), _stack(ex)


@_on_own_bars(1, False)
def zscore_reversion(
    close: FloatArray, window: ParamLike = 20, entry_z: ParamLike = 2.0, exit_z: ParamLike = 0.0, /
) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray]:
    """Mean reversion on the rolling z-score ``(close - SMA) / std`` (population std).

    Long entry when z crosses below ``-entry_z``, long exit when it crosses above ``-exit_z``;
    short entry when z crosses above ``entry_z``, short exit when it crosses below ``exit_z``.
    Returns (entries, exits, short_entries, short_exits).
    """
    c = _as_2d(close)
    w, ez, xz = _params(window, entry_z, exit_z)
    _windows(w)
    le, lx, se, sx = [], [], [], []
    for win, e, x in zip(w.astype(int), ez, xz, strict=True):
        sd = _std(c, win)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, (c - _mean(c, win)) / sd, np.nan)
        le.append(crossed_below(z, -e))
        lx.append(crossed_above(z, -x))
        se.append(crossed_above(z, e))
        sx.append(crossed_below(z, x))
    return _stack(le), _stack(lx), _stack(se), _stack(sx)


@_on_own_bars(2, False)
def volume_breakout(
    close: FloatArray,
    volume: FloatArray,
    /,
    high_window: ParamLike = 252,
    vol_window: ParamLike = 20,
    vol_mult: ParamLike = 2.0,
    exit_window: ParamLike = 50,
) -> tuple[BoolArray, BoolArray]:
    """A volume leader closing at a 52-week high; exit when the close crosses below its SMA.

    Entry at ``t``: ``close[t]`` is the highest close of the last ``high_window`` bars
    (including ``t``) and ``volume[t]`` is at least ``vol_mult`` times the mean volume of the
    ``vol_window`` bars before ``t``. Exit: close crosses below its ``exit_window``-bar SMA.
    """
    c, v = _as_2d(close), _as_2d(volume)
    hw, vw, vm, xw = _params(high_window, vol_window, vol_mult, exit_window)
    for a in (hw, vw, xw):
        _windows(a)
    ent, ex = [], []
    for h, w, m, x in zip(hw.astype(int), vw.astype(int), vm, xw.astype(int), strict=True):
        hi = _max(c, h)
        avg = _shift(_mean(v, w))
        with np.errstate(invalid="ignore"):
            ent.append((c >= hi) & (v >= m * avg))
        ex.append(crossed_below(c, _mean(c, x)))
    return _stack(ent), _stack(ex)


@_on_own_bars(1, False)
def rsi_signals(
    close: FloatArray, window: ParamLike = 14, lower: ParamLike = 30.0, upper: ParamLike = 70.0, /
) -> tuple[BoolArray, BoolArray]:
    """Long entry when RSI crosses below ``lower`` (oversold), exit when it crosses above
    ``upper`` (overbought)."""
    c = _as_2d(close)
    w, lo, up = _params(window, lower, upper)
    _windows(w)
    ent, ex = [], []
    for win, a, b in zip(w.astype(int), lo, up, strict=True):
        r = rsi(c, int(win))
        ent.append(crossed_below(r, a))
        ex.append(crossed_above(r, b))
    return _stack(ent), _stack(ex)


@_on_own_bars(1, False)
def bollinger_signals(
    close: FloatArray, window: ParamLike = 20, k: ParamLike = 2.0, /
) -> tuple[BoolArray, BoolArray]:
    """Long entry when the close crosses below the lower band, exit when it crosses above the
    middle band."""
    c = _as_2d(close)
    w, kk = _params(window, k)
    mid, _, low = bollinger(c, w, kk)
    ct = _tile(c, len(w))
    return crossed_below(ct, low), crossed_above(ct, mid)
