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

Your own strategy is the same kind of function, written anywhere (a notebook, a script, a
file, an installed package): `quantdb.strategy_loader.resolve_strategy` turns a name, a
``file.py:func`` or ``module:func`` spec, an entry point, a `Strategy` or a function into a
`Strategy`, and every door (CLI, notebook API, services, workers) goes through it. A
`Strategy` pickles its function by value when it cannot be imported by name in another
process (``__main__``, a notebook, a file loaded by path: cloudpickle), so process pools and
Dask workers run it unchanged.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quantdb._typing import BoolArray, FloatArray
from quantdb.errors import ArgumentError, NotFound
from quantdb.kernels import signals

__all__ = [
    "FILE_MODULE_PREFIX",
    "STRATEGIES",
    "Bars",
    "Strategy",
    "StrategyError",
    "StrategyOutputError",
    "get_strategy",
    "strategy",
]

SignalTuple = tuple[BoolArray, ...]
StrategyFunc = Callable[..., SignalTuple]

FILE_MODULE_PREFIX = "_quantdb_file_"
"""Module names of strategy files loaded by path (`quantdb.strategy_loader.load_strategy_file`)."""

BUILTIN = "builtin"


class StrategyError(ArgumentError):
    """A strategy's parameters or grid are not what it declares."""


class StrategyOutputError(StrategyError):
    """A strategy function returned something other than its boolean signal matrices."""


def _describe(value: object) -> str:
    """What a strategy returned, in a few words (type, and shape/dtype of an array)."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def function_origin(func: Callable[..., Any]) -> tuple[str, str | None]:
    """Where ``func`` comes from, and a spec that finds it again in another process (or None).

    ``("builtin", name)`` is set by the registry itself; here: ``("file <path>",
    "<path>:<func>")`` for a file loaded by path, ``("module <mod>", "<mod>:<func>")`` for an
    importable module, ``("__main__", None)`` for a script or a notebook (and a function made
    inside another function), which no other process can import by name.
    """
    module = getattr(func, "__module__", None) or "__main__"
    qualname = getattr(func, "__qualname__", getattr(func, "__name__", "?"))
    if module.startswith(FILE_MODULE_PREFIX):
        path = getattr(sys.modules.get(module), "__file__", None) or module
        return f"file {path}", f"{path}:{qualname}"
    if module in ("__main__", "__mp_main__") or "<locals>" in qualname or "<lambda>" in qualname:
        return "__main__", None
    return f"module {module}", f"{module}:{qualname}"


def _code_names(code: Any) -> set[str]:
    """Global names a code object and the code objects nested in it (comprehensions,
    inner functions) refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _own_helpers(func: Callable[..., Any]) -> list[Callable[..., Any]]:
    """``func`` and every function of its module it reaches through module globals
    (recursively): the code a strategy runs, short of other packages."""
    seen: dict[int, Callable[..., Any]] = {}
    todo = [func]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen[id(f)] = f
        code = getattr(f, "__code__", None)
        glb = getattr(f, "__globals__", {})
        for name in sorted(_code_names(code)) if code is not None else ():
            g = glb.get(name)
            if inspect.isfunction(g) and g.__module__ == f.__module__:
                todo.append(g)
    return list(seen.values())


def source_sha256(func: Callable[..., Any]) -> str:
    """sha256 of the source text of a strategy function and of the functions of its module it
    calls (``inspect.getsource``; else each code object's bytes and constants): a stored
    result records it, so a rerun can tell the code changed."""
    import linecache

    h = hashlib.sha256()
    for f in _own_helpers(func):
        try:
            linecache.checkcache(inspect.getsourcefile(f) or "")
            text = inspect.getsource(f).encode()
        except (OSError, TypeError):
            code = getattr(f, "__code__", None)
            text = b"" if code is None else code.co_code + repr(code.co_consts).encode()
        h.update(getattr(f, "__qualname__", "?").encode() + b"\0" + text + b"\0")
    return h.hexdigest()


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
    origin: str = field(default=BUILTIN, compare=False)
    spec: str | None = field(default=None, compare=False)

    def source(self) -> dict[str, Any]:
        """What a stored result records of the strategy: its name, ``origin`` (builtin,
        ``entry point DIST``, ``file PATH``, ``module NAME``, ``__main__``), the ``spec`` that
        finds it again (None for ``__main__``), its function's module and name, and the
        ``sha256`` of its source."""
        return {
            "name": self.name,
            "origin": self.origin,
            "spec": self.spec,
            "module": getattr(self.func, "__module__", None),
            "function": getattr(self.func, "__qualname__", None),
            "sha256": source_sha256(self.func),
        }

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle through cloudpickle: a function defined in ``__main__``, a notebook or a file
        loaded by path travels by value (a worker process could not import it by name);
        one of an importable module, by reference."""
        import cloudpickle

        return (_restore_strategy, (cloudpickle.dumps(self.func), self.name, dict(self.params),
                                    dict(self.grid), self.constraint, self.doc, self.origin, self.spec))

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
        n_cols = (arrays[0].size if arrays else 1) * bars.close.shape[1]
        ob = signals.own_bars(bars.close)
        if ob is None:
            return self._checked(self.func(bars, **kwargs), bars.close.shape[0], n_cols)
        packed = Bars(ob.pack(bars.open), ob.pack(bars.high), ob.pack(bars.low),
                      ob.pack(bars.close), None if bars.volume is None else ob.pack(bars.volume))
        out = self._checked(self.func(packed, **kwargs), bars.close.shape[0], n_cols)
        return tuple(ob.unpack(o, False) for o in out)

    def _checked(self, out: object, n_dates: int, n_cols: int) -> SignalTuple:
        """``out`` as the signal tuple, or `StrategyOutputError` saying what was expected."""
        want = (f"(entries, exits) or (entries, exits, short_entries, short_exits), "
                f"each a bool array of shape (dates, parameter sets x tickers) = ({n_dates}, {n_cols})")
        if not isinstance(out, tuple | list) or len(out) not in (2, 4):
            msg = f"strategy {self.name!r} must return {want}; got {_describe(out)}"
            raise StrategyOutputError(msg)
        names = ("entries", "exits", "short_entries", "short_exits")
        for label, o in zip(names, out, strict=False):
            if not isinstance(o, np.ndarray) or o.dtype != np.bool_ or o.shape != (n_dates, n_cols):
                msg = f"strategy {self.name!r} must return {want}; its {label} is {_describe(o)}"
                raise StrategyOutputError(msg)
        return tuple(out)

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


def _restore_strategy(
    func_bytes: bytes, name: str, params: dict[str, float], grid: dict[str, tuple[float, ...]],
    constraint: str | None, doc: str, origin: str, spec: str | None,
) -> Strategy:
    """The other half of `Strategy.__reduce__` (runs in the worker)."""
    import pickle

    return Strategy(name, pickle.loads(func_bytes), params, grid, constraint, doc, origin, spec)


STRATEGIES: dict[str, Strategy] = {}


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    """Whether ``b`` is ``a`` defined again: the same module and name, or the same name in the
    same file (a file imported as a module and also loaded by its path: ``import
    my_strategies`` in a notebook, then ``"my_strategies.py:breakout"``)."""
    if (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__):
        return True
    fa, fb = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if fa is None or fb is None or a.__qualname__ != b.__qualname__:
        return False
    try:
        return os.path.samefile(fa.co_filename, fb.co_filename)
    except OSError:  # "<stdin>", a notebook cell: no file to compare
        return False


def strategy(
    name: str, *, params: Mapping[str, float], grid: Mapping[str, Iterable[float]] | None = None,
    constraint: str | None = None,
) -> Callable[[StrategyFunc], StrategyFunc]:
    """Register ``func`` as strategy ``name`` with its defaults, sweep grid and constraint.

    The function is returned unchanged, so it can be passed to any door as it is (the
    resolver finds its registered `Strategy`). Registering a name again from the same module
    and function (a notebook cell run twice, a file loaded again) replaces it; a built-in
    name, or a name registered by another function, is refused.
    """
    grid = {} if grid is None else grid

    def register(func: StrategyFunc) -> StrategyFunc:
        if not callable(func):
            msg = f"@strategy({name!r}) decorates a function, got {_describe(func)}"
            raise StrategyError(msg)
        origin, spec = function_origin(func)
        if func.__module__ == __name__:
            origin, spec = BUILTIN, name
        old = STRATEGIES.get(name)
        if old is not None and (old.origin == BUILTIN or not _same_function(old.func, func)):
            msg = f"strategy {name!r} is already registered ({old.origin}): choose another name"
            raise StrategyError(msg)
        bad = set(grid) - set(params)
        if bad:
            msg = f"strategy {name!r}: grid names {sorted(bad)} are not parameters"
            raise StrategyError(msg)
        made = Strategy(name, func, dict(params), {k: tuple(v) for k, v in grid.items()}, constraint,
                        (func.__doc__ or "").strip(), origin, spec)
        STRATEGIES[name] = made
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


# --------------------------------------------------------------------------- indicator strategies
# Built on `quantdb.kernels.indicators`; each loops over parameter *sets* only (an indicator
# of a distinct window is computed once), never over tickers or dates.
def _per_set(n_sets: int, block: Callable[[int], tuple[BoolArray, ...]]) -> SignalTuple:
    """Each parameter set's ``(dates, tickers)`` signals stacked to ``(dates, sets * tickers)``."""
    blocks = [block(p) for p in range(n_sets)]
    return tuple(np.hstack([b[i] for b in blocks]) for i in range(len(blocks[0])))


@strategy("donchian-breakout", params={"window": 20, "exit_window": 10},
          grid={"window": range(10, 101, 10), "exit_window": range(5, 51, 5)},
          constraint="exit_window<=window")
def _donchian_breakout(bars: Bars, window: FloatArray, exit_window: FloatArray) -> SignalTuple:
    """Turtle-style channel breakout: long when the close goes above the highest high of the
    `window` bars before, out when it goes below the lowest low of the `exit_window` bars before."""
    from quantdb.kernels.indicators import donchian

    cache: dict[int, tuple[FloatArray, FloatArray]] = {}

    def channel(w: int) -> tuple[FloatArray, FloatArray]:
        if w not in cache:
            up, lo, _ = donchian(bars.high, bars.low, w)
            cache[w] = (signals._shift(up), signals._shift(lo))  # the bars before t
        return cache[w]

    def block(p: int) -> tuple[BoolArray, BoolArray]:
        upper, _ = channel(int(window[p]))
        _, lower = channel(int(exit_window[p]))
        with np.errstate(invalid="ignore"):
            return bars.close > upper, bars.close < lower

    return _per_set(len(window), block)


@strategy("macd-cross", params={"fast": 12, "slow": 26, "signal": 9},
          grid={"fast": (5, 8, 12, 16, 20), "slow": range(20, 61, 5), "signal": (5, 7, 9, 12)},
          constraint="fast<slow")
def _macd_cross(bars: Bars, fast: FloatArray, slow: FloatArray, signal: FloatArray) -> SignalTuple:
    """Long when the MACD line crosses above its signal line, out on the opposite cross."""
    from quantdb.kernels.indicators import ema

    emas: dict[int, FloatArray] = {}

    def avg(w: int) -> FloatArray:
        if w not in emas:
            emas[w] = ema(bars.close, w)
        return emas[w]

    def block(p: int) -> tuple[BoolArray, BoolArray]:
        line = avg(int(fast[p])) - avg(int(slow[p]))
        sig = ema(line, int(signal[p]))
        return signals.crossed_above(line, sig), signals.crossed_below(line, sig)

    return _per_set(len(fast), block)


@strategy("atr-trailing", params={"window": 20, "atr_window": 14, "atr_mult": 3.0},
          grid={"window": range(10, 61, 10), "atr_window": (10, 14, 20),
                "atr_mult": (1.5, 2.0, 2.5, 3.0, 4.0)})
def _atr_trailing(bars: Bars, window: FloatArray, atr_window: FloatArray,
                  atr_mult: FloatArray) -> SignalTuple:
    """Channel breakout (the close above the highest high of the `window` bars before) held
    until the close falls `atr_mult` x ATR(`atr_window`) below the highest high since the entry
    signal (a chandelier stop, computed in the signals)."""
    from quantdb.kernels.indicators import atr, donchian, trailing_exits

    uppers = {int(w): signals._shift(donchian(bars.high, bars.low, int(w)).upper)
              for w in np.unique(window)}
    atrs = {int(w): atr(bars.high, bars.low, bars.close, int(w)) for w in np.unique(atr_window)}

    def block(p: int) -> tuple[BoolArray, BoolArray]:
        with np.errstate(invalid="ignore"):
            entries = bars.close > uppers[int(window[p])]
        exits = trailing_exits(bars.high, bars.close, entries, atr_mult[p] * atrs[int(atr_window[p])])
        return entries, exits

    return _per_set(len(window), block)


@strategy("roc-momentum", params={"window": 20, "threshold": 0.05},
          grid={"window": range(5, 61, 5), "threshold": (0.0, 0.02, 0.05, 0.1)},
          constraint="threshold>=0")
def _roc_momentum(bars: Bars, window: FloatArray, threshold: FloatArray) -> SignalTuple:
    """Long when the `window`-bar rate of change crosses above `threshold` (a fraction), out
    when it crosses below zero."""
    from quantdb.kernels.indicators import roc

    rocs = {int(w): roc(bars.close, int(w)) for w in np.unique(window)}

    def block(p: int) -> tuple[BoolArray, BoolArray]:
        r = rocs[int(window[p])]
        return signals.crossed_above(r, float(threshold[p])), signals.crossed_below(r, 0.0)

    return _per_set(len(window), block)


@strategy("obv-trend", params={"window": 20}, grid={"window": range(10, 101, 10)})
def _obv_trend(bars: Bars, window: FloatArray) -> SignalTuple:
    """Long when on-balance volume crosses above its `window`-bar SMA, out when it crosses below."""
    from quantdb.kernels.indicators import obv

    flow = obv(bars.close, _volume(bars, "obv-trend"))
    mas = {int(w): signals.rolling_mean(flow, int(w)) for w in np.unique(window)}

    def block(p: int) -> tuple[BoolArray, BoolArray]:
        m = mas[int(window[p])]
        return signals.crossed_above(flow, m), signals.crossed_below(flow, m)

    return _per_set(len(window), block)
