"""Option groups shared by the research commands, declared once (as sqlite-utils does).

* :func:`simulation_options` adds one option per simulation setting to a command, made from
  `quantdb.settings.SETTINGS_FIELDS` (same names, same help, every setting), and hands the
  command what the user gave as one mapping (``sim``) for `quantdb.settings.build_settings`:
  ``backtest``, ``sweep``, ``walkforward`` and ``replay`` take exactly the same settings.
* ``Tickers``, ``UniverseOpt``, ``Start``, ``End``, ``Asof`` and ``Params`` are the options
  for a universe, a period and strategy parameters; their values are parsed by the one parser
  of each concept (`quantdb.universe`, `quantdb.dates`, :func:`parse_param_texts`).

Importing this module stays light: no NumPy, no numba.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from quantdb.dates import DATE_HELP
from quantdb.errors import ArgumentError
from quantdb.settings import SETTINGS_FIELDS, SettingField

__all__ = [
    "Asof",
    "End",
    "Params",
    "Start",
    "Tickers",
    "UniverseOpt",
    "parse_param_texts",
    "simulation_options",
]

Tickers = Annotated[
    list[str] | None,
    typer.Option("--tickers", help="Tickers to trade (repeat or comma-separate); or use --universe."),
]
UniverseOpt = Annotated[
    str | None,
    typer.Option("--universe", help="all, sector:NAME, leaders:N (top N by dollar volume, known the day "
                 "before; backtest only), list:A,B or A,B (default: every ticker)."),
]
Start = Annotated[str | None, typer.Option("--start", help=f"First day ({DATE_HELP}); default: the first bar.")]
End = Annotated[str | None, typer.Option("--end", help=f"Last day ({DATE_HELP}); default: the last bar.")]
Asof = Annotated[str | None, typer.Option("--asof", help=f"As of this day ({DATE_HELP}); default: the last bar.")]
Params = Annotated[
    list[str] | None, typer.Option("--param", help="Strategy parameter name=value (repeat).")
]


def parse_param_texts(items: Sequence[str] | None, *, option: str = "--param") -> dict[str, float]:
    """``["fast=10", "slow=20"]`` -> ``{"fast": 10.0, "slow": 20.0}`` (names are checked by the
    strategy, `quantdb.strategies.Strategy.full_params`).

    Raises
    ------
    ArgumentError
        an item without ``=`` or a value that is not a number.
    """
    out: dict[str, float] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"{option} must look like name=value, got {item!r}"
            raise ArgumentError(msg)
        try:
            out[key.strip()] = float(value)
        except ValueError:
            msg = f"{option} {key.strip()} must be a number, got {value!r}"
            raise ArgumentError(msg) from None
    return out


def _option(f: SettingField) -> inspect.Parameter:
    """The Typer parameter of one setting (default None: "not given", so the model decides)."""
    if f.name == "fractional":
        kind: Any = bool | None
        info = typer.Option("--fractional/--whole", help=f.help + " (default: whole shares)")
    elif f.name == "sizing":
        kind = str | None
        info = typer.Option(f.flag, help=f.help)
    else:
        base = {"float": float, "int": int}.get(f.type.replace(" | None", ""), str)
        kind = base | None
        default = "" if f.default is None else f" (default: {f.default})"
        info = typer.Option(f.flag, help=f.help + default)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[kind, info])


_SETTING_PARAMS = tuple(_option(f) for f in SETTINGS_FIELDS if f.name != "sizing_value")
_SETTING_NAMES = frozenset(p.name for p in _SETTING_PARAMS)


def simulation_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add every simulation setting as an option; the command receives them as ``sim``.

    The command declares a keyword parameter ``sim: dict[str, Any]``; what the user typed
    arrives there (only the options given), ready for `quantdb.settings.build_settings`.
    """
    sig = inspect.signature(func, eval_str=True)
    own = [p for name, p in sig.parameters.items() if name != "sim"]
    tail = [p for p in own if p.name in ("db", "json_out")]
    head = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.default is not inspect.Parameter.empty else p
            for p in own if p not in tail]
    tail = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in tail]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sim = {k: kwargs.pop(k) for k in list(kwargs) if k in _SETTING_NAMES}
        return func(*args, sim={k: v for k, v in sim.items() if v is not None}, **kwargs)

    params = [*head, *_SETTING_PARAMS, *tail]
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # Typer reads __signature__, not the wrapped function's
    return wrapper
