"""The one model of a universe of tickers, parsed once from whatever the user typed.

Every door (``--universe``/``--tickers`` on the command line, ``tickers=``/``universe=`` in the
notebook API, a stored backtest) goes through :func:`parse_universe`. What a universe *means*
in a database (the tickers of a sector, the leaders gate) is resolved by the research service
that loads the bars (`quantdb.services.research.bars.universe_tickers`).

Forms: ``all`` (every ticker), ``sector:NAME``, ``leaders:N`` (the top N by trailing dollar
volume, known the day before; a backtest gates its entries by it), ``list:A,B``, a plain
``A,B`` or ``AAPL``, or a Python list of symbols.

Examples
--------
>>> parse_universe("AAPL")
Universe(kind='list', tickers=('AAPL',), sector=None, top=None)
>>> parse_universe(["aapl", "msft,goog"]).tickers
('AAPL', 'MSFT', 'GOOG')
>>> parse_universe("sector:Technology").sector
'Technology'
>>> parse_universe(None).kind
'all'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from quantdb.errors import ArgumentError

__all__ = ["SYMBOL_RULE", "Universe", "UniverseError", "check_symbol", "parse_universe", "symbol_problem",
           "universe_of"]

UniverseKind = Literal["all", "sector", "list", "leaders"]
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")
#: What a ticker symbol is, in words: the one rule every door (options, notebook keywords,
#: price file names, recorded predictions) checks a symbol against.
SYMBOL_RULE = "a ticker is 1 to 20 letters, digits or . - ^ =, starting with a letter or digit"
FORMS = "all, sector:NAME, leaders:N, list:A,B or A,B"


class UniverseError(ArgumentError):
    """A universe that cannot be read (exit code 2)."""


def check_symbol(text: object, *, where: str) -> str:
    """``text`` as a ticker symbol (trimmed, upper-case); ``where`` names the input in the error.

    Examples
    --------
    >>> check_symbol(" brk.b ", where="--ticker")
    'BRK.B'

    Raises
    ------
    UniverseError
        ``text`` is not text or breaks `SYMBOL_RULE` (``"A B"``, ``"."``, 21+ characters).
    """
    problem = symbol_problem(text)
    if problem is not None:
        msg = f"{where}: {problem}"
        raise UniverseError(msg)
    assert isinstance(text, str)
    return text.strip().upper()


def symbol_problem(text: object) -> str | None:
    """Why ``text`` is not a ticker symbol (`SYMBOL_RULE`), or None when it is one."""
    if isinstance(text, str) and _SYMBOL.match(text.strip().upper()):
        return None
    shown = repr(text) if not isinstance(text, str) or len(text) <= 24 else f"{text[:20]!r}... ({len(text)} characters)"
    return f"{shown} is not a ticker symbol ({SYMBOL_RULE})"


@dataclass(frozen=True)
class Universe:
    """Which tickers a run trades: every one, a sector's, a list, or the volume leaders."""

    kind: UniverseKind
    tickers: tuple[str, ...] = ()
    sector: str | None = None
    top: int | None = None

    def __str__(self) -> str:
        """The text form, which :func:`parse_universe` reads back to this universe."""
        if self.kind == "list":
            return "list:" + ",".join(self.tickers)
        if self.kind == "sector":
            return f"sector:{self.sector}"
        if self.kind == "leaders":
            return f"leaders:{self.top}"
        return "all"


def _symbols(items: Sequence[str], where: str, given: object) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            msg = f"{where} must list ticker symbols as text, got {item!r}"
            raise UniverseError(msg)
        for part in item.split(","):
            sym = part.strip().upper()
            if not sym:
                continue
            if not _SYMBOL.match(sym):
                msg = f"{where}: {part.strip()!r} is not a ticker symbol (in {given!r}; {SYMBOL_RULE})"
                raise UniverseError(msg)
            if sym not in out:
                out.append(sym)
    if not out:
        msg = f"{where} names no tickers, got {given!r}; use {FORMS}"
        raise UniverseError(msg)
    return tuple(out)


def parse_universe(
    value: str | Sequence[str] | Universe | None, *, where: str = "--universe"
) -> Universe:
    """The `Universe` of ``value``; ``where`` names the option or keyword in errors.

    Raises
    ------
    UniverseError
        an empty sector, a leaders count that is not a whole number >= 1, an unknown prefix,
        or a symbol that is not a ticker.
    """
    if value is None or isinstance(value, Universe):
        return value if isinstance(value, Universe) else Universe("all")
    if not isinstance(value, str):
        return Universe("list", _symbols(list(value), where, value))
    text = value.strip()
    if text.lower() in ("", "all", "*"):
        return Universe("all")
    kind, colon, rest = text.partition(":")
    if not colon:
        return Universe("list", _symbols([text], where, value))
    kind = kind.strip().lower()
    rest = rest.strip()
    if kind == "sector":
        if not rest:
            msg = f"{where} sector:NAME needs a sector name, got {value!r}"
            raise UniverseError(msg)
        return Universe("sector", sector=rest)
    if kind == "leaders":
        if not rest.isdigit() or int(rest) < 1:
            msg = f"{where} leaders:N needs a whole number N >= 1, got {value!r}"
            raise UniverseError(msg)
        return Universe("leaders", top=int(rest))
    if kind == "list":
        return Universe("list", _symbols([rest], where, value))
    msg = f"{where} must be {FORMS}, got {value!r}"
    raise UniverseError(msg)


def universe_of(
    tickers: str | Sequence[str] | None = None, universe: str | Sequence[str] | Universe | None = None
) -> Universe:
    """The universe of a door that takes both ``tickers`` and ``universe`` (at most one of them).

    Examples
    --------
    >>> universe_of(tickers="AAPL").tickers
    ('AAPL',)
    >>> str(universe_of(universe="leaders:20"))
    'leaders:20'
    """
    if tickers is not None and universe is not None:
        msg = f"give tickers or a universe, not both (tickers={tickers!r}, universe={universe!r})"
        raise UniverseError(msg)
    if tickers is not None:
        if isinstance(tickers, str) and not tickers.strip():  # tickers="" names no ticker, as --tickers '' does
            tickers = [tickers]
        return parse_universe(tickers, where="--tickers")
    return parse_universe(universe)
