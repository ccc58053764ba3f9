"""Any strategy reference into a `Strategy`: the one resolver every door goes through.

A reference is one of:

* a registered name (``"sma-cross"``, or one a loaded file or an imported module registered
  with ``@qdb.strategy``);
* a `Strategy`;
* a function: one decorated with ``@qdb.strategy`` is its registered strategy; a plain one
  becomes a strategy named after it, its parameters the numeric defaults of its signature
  (every parameter after ``bars`` needs one), with no sweep grid;
* a spec ``path/to/file.py:func`` (the file is run once as a module of its own; ``func`` is a
  function of it, or the name it registered) or ``package.module:func``;
* the name of an entry point of group ``quantdb.strategies``: an installed package registers
  its own (``[project.entry-points."quantdb.strategies"] breakout = "mypkg.strats:breakout"``);
  entry points are loaded only when a name is not registered, or by :func:`list_strategies`.

A bad reference (no such file, no such function, a syntax error, not callable, no such name)
raises `StrategySpecError` or `NotFound` with one line saying what and where.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import numbers
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from quantdb.errors import NotFound
from quantdb.strategies import (
    BUILTIN,
    FILE_MODULE_PREFIX,
    STRATEGIES,
    Strategy,
    StrategyError,
    function_origin,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "StrategyRef",
    "StrategySpecError",
    "list_strategies",
    "load_strategy_file",
    "resolve_recorded",
    "resolve_strategy",
]

ENTRY_POINT_GROUP = "quantdb.strategies"
StrategyRef = str | Strategy | Callable[..., Any]
"""What every door accepts as a strategy (see the module)."""

_LOADED: dict[Path, tuple[str, ModuleType]] = {}  # file -> (sha256 of its bytes, its module)


class StrategySpecError(StrategyError):
    """A strategy reference that cannot be loaded (bad file, function, module or entry point)."""


# ----------------------------------------------------------------------------- files, modules
def _module_name(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    return f"{FILE_MODULE_PREFIX}{stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:10]}"


def load_strategy_file(path: str | Path) -> ModuleType:
    """Run a strategy file once as a module of its own (again when its bytes changed).

    Its ``@qdb.strategy`` functions register themselves; its functions pickle by value
    (cloudpickle), so worker processes and Dask workers run them without the file.

    Raises
    ------
    StrategySpecError
        no such file, a syntax error, or an error while it runs.
    """
    p = Path(path).expanduser().absolute()
    if not p.is_file():
        msg = f"{path}: no such strategy file"
        raise StrategySpecError(msg)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    cached = _LOADED.get(p)
    if cached is not None and cached[0] == digest:
        return cached[1]
    name = _module_name(p)
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        msg = f"{path}: not a Python file (give a .py file)"
        raise StrategySpecError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        msg = f"{p}:{exc.lineno}: syntax error: {exc.msg}"
        raise StrategySpecError(msg) from None
    except StrategyError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:  # noqa: BLE001 - a user's file may raise anything: one line, exit 2
        sys.modules.pop(name, None)
        msg = f"{p}: running it raised {type(exc).__name__}: {exc}"
        raise StrategySpecError(msg) from None
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    _LOADED[p] = (digest, module)
    return module


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        msg = f"no module named {exc.name!r} (importing {name!r} for a strategy); is it installed or on PYTHONPATH?"
        raise StrategySpecError(msg) from None
    except SyntaxError as exc:
        msg = f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}"
        raise StrategySpecError(msg) from None


def _is_file_spec(left: str) -> bool:
    return left.endswith(".py") or "/" in left or "\\" in left


def _from_spec(text: str) -> Strategy:
    left, _, attr = text.rpartition(":")
    attr = attr.strip()
    if not left or not attr:
        msg = f"strategy spec {text!r}: expected 'path/to/file.py:function' or 'package.module:function'"
        raise StrategySpecError(msg)
    module = load_strategy_file(left) if _is_file_spec(left) else _import(left)
    where = module.__file__ if _is_file_spec(left) else module.__name__
    obj: Any = module
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        mine = [n for n, s in STRATEGIES.items() if s.func.__module__ == module.__name__]
        if attr in mine:
            return STRATEGIES[attr]
        funcs = sorted(n for n, v in vars(module).items()
                       if inspect.isfunction(v) and v.__module__ == module.__name__ and not n.startswith("_"))
        msg = (f"{where}: no function {attr!r}; it defines {', '.join(funcs) or 'no function'}"
               + (f" and registers {', '.join(mine)}" if mine else ""))
        raise StrategySpecError(msg) from None
    if not (isinstance(obj, Strategy) or callable(obj)):
        msg = f"{where}: {attr} is {type(obj).__name__}, not a strategy function"
        raise StrategySpecError(msg)
    return resolve_strategy(obj)


# ----------------------------------------------------------------------------- functions
def _from_function(func: Callable[..., Any]) -> Strategy:
    """A decorated function's registered strategy; a plain function's own (see the module)."""
    for made in STRATEGIES.values():
        if made.func is func:
            return made
    name = getattr(func, "__name__", None) or type(func).__name__
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        msg = f"strategy {name!r}: cannot read its signature (give a Python function)"
        raise StrategySpecError(msg) from None
    args = list(sig.parameters.values())
    if not args or args[0].kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        msg = f"strategy {name!r}: its first parameter must be the bars (func(bars, **params))"
        raise StrategySpecError(msg)
    params: dict[str, float] = {}
    for a in args[1:]:
        if a.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if isinstance(a.default, bool) or not isinstance(a.default, numbers.Real):
            got = "no default" if a.default is inspect.Parameter.empty else f"default {a.default!r}"
            msg = f"strategy {name!r}: parameter {a.name!r} needs a numeric default, got {got}"
            raise StrategySpecError(msg)
        params[a.name] = float(a.default)
    origin, spec = function_origin(func)
    return Strategy(name, func, params, {}, None, (getattr(func, "__doc__", None) or "").strip(), origin, spec)


# ----------------------------------------------------------------------------- entry points
def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def _from_entry_point(ep: EntryPoint) -> Strategy:
    dist = ep.dist.name if ep.dist is not None else "?"
    try:
        obj = ep.load()
    except Exception as exc:  # noqa: BLE001 - an installed package may raise anything: one line
        msg = (f"entry point {ep.name!r} of {dist} ({ep.value}) cannot be loaded: "
               f"{type(exc).__name__}: {exc}")
        raise StrategySpecError(msg) from None
    strat = resolve_strategy(obj) if (isinstance(obj, Strategy) or callable(obj)) else None
    if strat is None:
        msg = f"entry point {ep.name!r} of {dist} ({ep.value}) is {type(obj).__name__}, not a strategy function"
        raise StrategySpecError(msg)
    import dataclasses

    name = strat.name if strat.origin != BUILTIN and strat.name in STRATEGIES else ep.name
    return dataclasses.replace(strat, name=name, origin=f"entry point {dist}", spec=ep.name)


# ----------------------------------------------------------------------------- the resolver
def resolve_strategy(ref: StrategyRef) -> Strategy:
    """The `Strategy` of ``ref``: a name, a spec, an entry point, a `Strategy` or a function.

    Raises
    ------
    NotFound
        a name that is neither registered nor an entry point.
    StrategySpecError
        a spec or an entry point that cannot be loaded, a function that is not a strategy.
    """
    if isinstance(ref, Strategy):
        return ref
    if not isinstance(ref, str):
        if callable(ref):
            return _from_function(ref)
        msg = ("a strategy is a name, a 'file.py:function' or 'module:function' spec, a Strategy or "
               f"a function; got {type(ref).__name__}")
        raise StrategySpecError(msg)
    text = ref.strip()
    if text in STRATEGIES:
        return STRATEGIES[text]
    if ":" in text:
        return _from_spec(text)
    if text.endswith(".py"):
        msg = f"strategy {text!r}: name the function in the file, e.g. {text}:my_strategy"
        raise StrategySpecError(msg)
    for ep in _entry_points():
        if ep.name == text:
            return _from_entry_point(ep)
    msg = (f"no strategy named {text!r}; available: {', '.join(sorted(STRATEGIES))}; "
           "or give your own as 'file.py:function' or 'module:function'")
    raise NotFound(msg)


def resolve_recorded(name: str, source: Mapping[str, Any] | None) -> tuple[Strategy, bool]:
    """The strategy a stored result (or sweep run) ran, and whether its code changed since.

    ``source`` is what was recorded (`Strategy.source`; None for results stored before it
    was): its ``spec`` is tried first (a file, a module, an entry point), then ``name`` in the
    registry (a notebook's function, registered again by running its cell). The second value
    is True when the recorded ``sha256`` differs from the code found now.

    Raises
    ------
    StrategySpecError
        the strategy cannot be found any more (one line with its origin and what to do).
    """
    spec = None if source is None else source.get("spec")
    tried: list[str] = []
    for ref in (spec, name):
        if not ref:
            continue
        try:
            strat = resolve_strategy(str(ref))
        except (NotFound, StrategyError) as exc:
            tried.append(str(exc))
            continue
        changed = bool(source and source.get("sha256") and strat.source()["sha256"] != source["sha256"])
        return strat, changed
    origin = None if source is None else source.get("origin")
    msg = (f"strategy {name!r} ({origin or 'not recorded'}) cannot be found now: "
           f"{tried[-1] if tried else 'no reference'}; load it first (its file, its notebook cell) or pass it")
    raise StrategySpecError(msg)


def list_strategies(specs: Iterable[str] = ()) -> list[Strategy]:
    """Every strategy: the registered ones (built-ins and whatever loaded files and modules
    registered), the entry points of installed packages, and the strategies of ``specs``
    (files, ``file.py:func``, ``module`` or ``module:func``), loaded first. Sorted by name."""
    found: dict[str, Strategy] = {}
    extra: list[Strategy] = []
    for spec in specs:
        text = str(spec).strip()
        if ":" in text:
            extra.append(resolve_strategy(text))
        elif _is_file_spec(text):
            load_strategy_file(text)
        else:
            _import(text)
    found.update(STRATEGIES)
    for ep in _entry_points():
        if ep.name not in found:
            strat = _from_entry_point(ep)
            found[strat.name] = strat
    for strat in extra:
        found.setdefault(strat.name, strat)
    return [found[k] for k in sorted(found)]
