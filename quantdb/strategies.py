"""The strategy registry: each built-in strategy is one small function plus its parameters.

A strategy function takes a :class:`Bars` panel (``(dates, tickers)`` NumPy matrices) and its
parameters as equal-length 1-D arrays (one value per parameter *set*), and returns
``(entries, exits)`` or ``(entries, exits, short_entries, short_exits)`` in the layout of
:mod:`quantdb.kernels.signals` (column ``p * n_tickers + t``). Adding a strategy is one
decorated function::

    @strategy("sma-cross", params={"fast": 10, "slow": 20},
              grid={"fast": range(5, 101, 5), "slow": range(20, 201, 10)},
              constraint="fast<slow")
    def sma_cross(bars, fast, slow):
        return signals.sma_cross(bars.close, fast, slow)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from quantdb._typing import BoolArray, FloatArray
from quantdb.errors import ArgumentError, NotFound
from quantdb.kernels import signals

__all__ = ["STRATEGIES", "Bars", "Strategy", "get_strategy", "strategy"]

SignalTuple = tuple[BoolArray, ...]
StrategyFunc = Callable[..., SignalTuple]

class StrategyError(ArgumentError):
    """A strategy's parameters or grid are not what it declares."""


@dataclass(frozen=True)
class Bars:
    """Prices of one panel, each ``(dates, tickers)``; ``volume`` may be absent."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray | None = None

    @classmethod
    def from_close(cls, close: FloatArray, volume: FloatArray | None = None) -> Bars:
        """A panel where open = high = low = close (for close-only data)."""
        c = np.asarray(close, dtype=np.float64)
        return cls(c, c, c, c, volume)


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its function, default parameters, sweep grid and constraint."""

    name: str
    func: StrategyFunc
    params: Mapping[str, float]
    grid: Mapping[str, tuple[float, ...]]
    constraint: str | None = None
    doc: str = field(default="", compare=False)

    def signals(self, bars: Bars, /, **params: object) -> SignalTuple:
        """Signals for one or many parameter sets (defaults fill what is not given).

        The strategy sees each ticker's own bars: when a ticker has no bar on a date that
        others have (NaN close) inside its history, the function runs on the panel with every
        ticker's bars packed together (:class:`quantdb.kernels.signals.OwnBars`) and its
        signals are put back on the dates, False where the ticker has no bar. So a ticker's
        signals never depend on the other tickers of the panel.
        """
        unknown = set(params) - set(self.params)
        if unknown:
            msg = (f"strategy {self.name!r} takes parameters {sorted(self.params)}, "
                   f"got unknown {sorted(unknown)}")
            raise StrategyError(msg)
        values = {k: params.get(k, v) for k, v in self.params.items()}
        arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64))
                                       for v in values.values()))
        kwargs = dict(zip(values, arrays, strict=True))
        ob = signals.own_bars(bars.close)
        if ob is None:
            return self.func(bars, **kwargs)
        packed = Bars(ob.pack(bars.open), ob.pack(bars.high), ob.pack(bars.low),
                      ob.pack(bars.close), None if bars.volume is None else ob.pack(bars.volume))
        out = self.func(packed, **kwargs)
        return tuple(ob.unpack(np.asarray(o, dtype=np.bool_), False) for o in out)

    def full_params(self, given: Mapping[str, float] | None = None, /) -> dict[str, float]:
        """One parameter set: ``given`` over the defaults, each a finite number.

        Raises
        ------
        StrategyError
            an unknown name or a value that is not a finite number.
        """
        given = dict(given or {})
        unknown = set(given) - set(self.params)
        if unknown:
            msg = (f"strategy {self.name!r} takes parameters {sorted(self.params)}, "
                   f"got unknown {sorted(unknown)}")
            raise StrategyError(msg)
        out: dict[str, float] = {}
        for k, default in self.params.items():
            v = given.get(k, default)
            try:
                out[k] = float(v)
            except (TypeError, ValueError):
                msg = f"parameter {k} of {self.name!r} must be a number, got {v!r}"
                raise StrategyError(msg) from None
            if not np.isfinite(out[k]):
                msg = f"parameter {k} of {self.name!r} must be a finite number, got {v!r}"
                raise StrategyError(msg)
        return out


STRATEGIES: dict[str, Strategy] = {}


def strategy(
    name: str, *, params: Mapping[str, float], grid: Mapping[str, Iterable[float]],
    constraint: str | None = None,
) -> Callable[[StrategyFunc], StrategyFunc]:
    """Register ``func`` as strategy ``name`` with its defaults, grid and constraint."""

    def register(func: StrategyFunc) -> StrategyFunc:
        if name in STRATEGIES:
            msg = f"strategy {name!r} is already registered"
            raise StrategyError(msg)
        bad = set(grid) - set(params)
        if bad:
            msg = f"strategy {name!r}: grid names {sorted(bad)} are not parameters"
            raise StrategyError(msg)
        STRATEGIES[name] = Strategy(name, func, dict(params),
                                    {k: tuple(v) for k, v in grid.items()}, constraint,
                                    (func.__doc__ or "").strip())
        return func

    return register


def get_strategy(name: str) -> Strategy:
    """The registered strategy ``name``; :class:`~quantdb.errors.NotFound` names the others."""
    try:
        return STRATEGIES[name]
    except KeyError:
        msg = f"no strategy named {name!r}; available: {', '.join(sorted(STRATEGIES))}"
        raise NotFound(msg) from None


def _volume(bars: Bars, name: str) -> FloatArray:
    if bars.volume is None:
        msg = f"strategy {name!r} needs volume, got a panel without it"
        raise StrategyError(msg)
    return bars.volume


# --------------------------------------------------------------------------- built-ins
@strategy("sma-cross", params={"fast": 10, "slow": 20},
          grid={"fast": range(5, 101, 5), "slow": range(20, 201, 10)}, constraint="fast<slow")
def _sma_cross(bars: Bars, fast: FloatArray, slow: FloatArray) -> SignalTuple:
    """Long when the fast SMA crosses above the slow SMA, flat on the opposite cross."""
    return signals.sma_cross(bars.close, fast, slow)


@strategy("momentum", params={"window": 20, "vol_mult": 1.5},
          grid={"window": range(10, 121, 10), "vol_mult": (1.0, 1.25, 1.5, 2.0, 3.0)})
def _momentum(bars: Bars, window: FloatArray, vol_mult: FloatArray) -> SignalTuple:
    """N-day high breakout confirmed by volume; exit on the N-day low."""
    return signals.breakout(bars.close, _volume(bars, "momentum"), window, vol_mult)


@strategy("mean-reversion", params={"window": 20, "entry_z": 2.0, "exit_z": 0.0},
          grid={"window": range(10, 61, 5), "entry_z": (1.0, 1.5, 2.0, 2.5, 3.0),
                "exit_z": (0.0, 0.5)}, constraint="exit_z<entry_z")
def _mean_reversion(bars: Bars, window: FloatArray, entry_z: FloatArray,
                    exit_z: FloatArray) -> SignalTuple:
    """Rolling z-score reversion, long below -entry_z and short above +entry_z."""
    return signals.zscore_reversion(bars.close, window, entry_z, exit_z)


@strategy("volume-breakout", params={"vol_mult": 2.0, "exit_window": 50},
          grid={"vol_mult": (1.5, 2.0, 2.5, 3.0, 4.0), "exit_window": range(10, 101, 10)})
def _volume_breakout(bars: Bars, vol_mult: FloatArray, exit_window: FloatArray) -> SignalTuple:
    """A volume leader closing at a 52-week high; exit below its SMA."""
    return signals.volume_breakout(bars.close, _volume(bars, "volume-breakout"), 252, 20,
                                   vol_mult, exit_window)


@strategy("rsi", params={"window": 14, "lower": 30.0, "upper": 70.0},
          grid={"window": range(5, 31), "lower": (20.0, 25.0, 30.0, 35.0),
                "upper": (65.0, 70.0, 75.0, 80.0)}, constraint="lower<upper")
def _rsi(bars: Bars, window: FloatArray, lower: FloatArray, upper: FloatArray) -> SignalTuple:
    """Wilder RSI: buy when it crosses below `lower`, sell when it crosses above `upper`."""
    return signals.rsi_signals(bars.close, window, lower, upper)


@strategy("bollinger", params={"window": 20, "k": 2.0},
          grid={"window": range(10, 61, 5), "k": (1.5, 2.0, 2.5, 3.0)})
def _bollinger(bars: Bars, window: FloatArray, k: FloatArray) -> SignalTuple:
    """Buy when the close crosses below the lower band, sell when it crosses the middle."""
    return signals.bollinger_signals(bars.close, window, k)
