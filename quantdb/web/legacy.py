"""The legacy JSON documents served straight from the database (shapes of shared/legacy/FORMAT.md).

A page written for the old files keeps working: ``predictions_data.json`` is an object with
``predictions`` and ``last_updated``, ``trades_data.json`` a list, each
``volume_leaders_<timeframe>.json`` an object with ``timeframe``, ``updated`` and ``leaders``
(date -> ranked list; the monthly file says ``ticker`` where the others say ``symbol``).
Records are built by ``services.export`` (the ``export-json`` command), so the web and the
export give the same records, and the migrator reads either back to the same rows.
"""

from __future__ import annotations

from typing import Any

from quantdb.services import export
from quantdb.storage.sqlite import Database

TIMEFRAMES = ("daily", "weekly", "monthly")


def _newest(db: Database, sql: str) -> str | None:
    value = db.scalar(sql)
    return None if value is None else str(value)


def predictions_document(db: Database) -> dict[str, Any]:
    """``{"predictions": [...], "last_updated": ...}`` as the old system wrote it."""
    meta = export._file_meta(db).get(export.PREDICTIONS, {})
    last = meta.get("last_updated") or _newest(db, "SELECT max(coalesce(timestamp_utc, date)) FROM predictions")
    return {"predictions": [export.prediction_record(r) for r in db.query(export.PREDICTION_SQL)], "last_updated": last}


def trades_document(db: Database) -> list[dict[str, Any]]:
    """The list of legacy trade objects."""
    return [export.trade_record(r) for r in db.query(export.TRADE_SQL)]


def leaders_document(db: Database, timeframe: str) -> dict[str, Any]:
    """``{"timeframe", "updated", "leaders": {date: [{rank, symbol|ticker, volume, price}]}}``."""
    if timeframe not in TIMEFRAMES:
        msg = f"timeframe must be one of {TIMEFRAMES}, got {timeframe!r}"
        raise ValueError(msg)
    fname = f"volume_leaders_{timeframe}.json"
    meta = export._file_meta(db).get(fname, {})
    key = meta.get("symbol_key", "ticker" if timeframe == "monthly" else "symbol")
    leaders: dict[str, list[dict[str, Any]]] = {}
    for day, rank, sym, volume, price, extra in db.query(
        "SELECT v.date, v.rank, k.symbol, v.volume, v.price, v.extra FROM volume_leaders v "
        "JOIN tickers k ON k.id = v.ticker_id WHERE v.timeframe = ? ORDER BY v.date, v.rank, v.id",
        (timeframe,),
    ):
        rec = export._with_extra({"rank": rank, key: sym, "volume": volume, "price": price}, extra)
        leaders.setdefault(day, []).append(rec)
    newest = db.scalar("SELECT max(date) FROM volume_leaders WHERE timeframe = ?", (timeframe,))
    updated = meta.get("updated") or newest
    return {"timeframe": meta.get("timeframe", timeframe), "updated": updated, "leaders": leaders}
