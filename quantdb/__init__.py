"""quantdb: a research database and vectorized backtesting toolkit for prediction strategies.

``import quantdb as qdb; db = qdb.connect("quant.db")``. Importing this package is cheap:
nothing heavy (numba, vectorbt, quantstats, DuckDB) is imported until it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["QuantDB", "__version__", "connect"]

if TYPE_CHECKING:
    from pathlib import Path

    from quantdb.client import QuantDB


def connect(path: str | Path = "quant.db", *, create: bool = True) -> QuantDB:
    """Open (and, with ``create``, create or upgrade) the quantdb database at ``path``."""
    from quantdb.client import QuantDB

    return QuantDB(path, create=create)


def __getattr__(name: str) -> object:
    if name == "QuantDB":
        from quantdb.client import QuantDB

        return QuantDB
    msg = f"module 'quantdb' has no attribute {name!r}"
    raise AttributeError(msg)
