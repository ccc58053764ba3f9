"""The legacy JSON documents served straight from the database (shapes of docs/legacy-format.md).

A page written for the old files keeps working: ``predictions_data.json`` is an object with
``predictions`` and ``last_updated``, ``trades_data.json`` a list, each
``volume_leaders_<timeframe>.json`` an object with ``timeframe``, ``updated`` and ``leaders``
(date -> ranked list; the monthly file says ``ticker`` where the others say ``symbol``).
The documents come from :func:`quantdb.services.records.export.legacy_documents` (also behind the
``export-json`` command), so the web and the export give the same records, and the migrator
reads either back to the same rows.
"""

from __future__ import annotations

from typing import Any

from quantdb.errors import ArgumentError
from quantdb.ingest.reader import PREDICTIONS, TRADES
from quantdb.services.records.export import legacy_documents
from quantdb.storage.sqlite import Database

TIMEFRAMES = ("daily", "weekly", "monthly")


def predictions_document(db: Database) -> dict[str, Any]:
    """``{"predictions": [...], "last_updated": ...}`` as the old system wrote it."""
    doc: dict[str, Any] = legacy_documents(db)[PREDICTIONS]
    return doc


def trades_document(db: Database) -> list[dict[str, Any]]:
    """The list of legacy trade objects."""
    doc: list[dict[str, Any]] = legacy_documents(db)[TRADES]
    return doc


def leaders_document(db: Database, timeframe: str) -> dict[str, Any]:
    """``{"timeframe", "updated", "leaders": {date: [{rank, symbol|ticker, volume, price}]}}``."""
    if timeframe not in TIMEFRAMES:
        msg = f"timeframe must be one of {TIMEFRAMES}, got {timeframe!r}"
        raise ArgumentError(msg)
    doc: dict[str, Any] = legacy_documents(db)[f"volume_leaders_{timeframe}.json"]
    return doc
