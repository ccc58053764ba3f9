"""Embedded datasets: a seeded synthetic market and a legacy-folder writer.

``generate_market`` makes the dates x tickers prices behind ``quantdb demo``, the
benchmarks and many tests; ``write_legacy_folder`` turns a market into the old system's
files (docs/legacy-format.md), mess included. Importing this package is cheap: the
submodules load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantdb.datasets.legacy import LegacyManifest, prediction_outcomes, write_legacy_folder
    from quantdb.datasets.market import Market, TickerInfo, generate_market

__all__ = [
    "LegacyManifest",
    "Market",
    "TickerInfo",
    "generate_market",
    "prediction_outcomes",
    "write_legacy_folder",
]

_WHERE = {
    "Market": "market",
    "TickerInfo": "market",
    "generate_market": "market",
    "LegacyManifest": "legacy",
    "prediction_outcomes": "legacy",
    "write_legacy_folder": "legacy",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"quantdb.datasets.{_WHERE[name]}"), name)
    msg = f"module 'quantdb.datasets' has no attribute {name!r}"
    raise AttributeError(msg)
