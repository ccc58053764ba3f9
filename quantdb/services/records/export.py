"""Write the legacy folder back from the database (the JSON mode), every field kept.

The files have the legacy shapes (see docs/legacy-format.md) with normalized values: ISO
dates, upper-case tickers, lower-case strategy names, LONG/SHORT, fractions for confidence,
numbers as numbers, NULL as ``null``. Undocumented fields come back from ``extra``; the few
values kept as written (``timestamp``, ``timeframe``, ``market_cap`` text) are written as they
were. Importing the export into an empty database gives the same content. Each file is written
atomically (a temporary file, fsync, then rename).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from quantdb._atomic import atomic_folder, write_atomic
from quantdb.ingest.normalize import now_utc
from quantdb.ingest.reader import (
    LEADERS,
    PREDICTIONS,
    PRICE_DIR,
    STRATEGIES,
    TICKERS,
    TRADES,
    filename_from_symbol,
)
from quantdb.storage.sqlite import Database

PRICE_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


@dataclass(frozen=True)
class ExportReport:
    """Files written by `export_json` and the records in each."""

    out_dir: str
    files: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "files": dict(self.files),
            "records": sum(self.files.values()),
        }


def atomic_write_json(path: Path, doc: Any) -> None:
    """``doc`` as indented JSON, written whole or not at all (`quantdb._atomic.write_atomic`)."""
    write_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n", what="legacy file")


def legacy_id_value(text: str | None) -> int | str | None:
    """An id as the old system wrote it: integer ids as integers, the rest as text."""
    if text is None:
        return None
    if text.isdigit() and str(int(text)) == text:
        return int(text)
    return text


def _number(x: float | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


def _with_extra(rec: dict[str, Any], extra: str | None) -> dict[str, Any]:
    if extra:
        for k, v in orjson.loads(extra).items():
            rec.setdefault(k, v)
    return rec


PREDICTION_SQL = (
    "SELECT p.legacy_id, p.id, p.date, p.timestamp, s.name, k.symbol, p.position, p.confidence, p.target, "
    "p.stop_loss, p.timeframe, p.entry_price, p.status, p.exit_date, p.exit_price, p.extra "
    "FROM predictions p JOIN strategies s ON s.id = p.strategy_id JOIN tickers k ON k.id = p.ticker_id "
    "ORDER BY p.id"
)
TRADE_SQL = (
    "SELECT r.legacy_id, r.id, r.prediction_legacy_id, p.legacy_id, k.symbol, r.side, r.entry_date, "
    "r.entry_price, r.shares, r.exit_date, r.exit_price, r.status, r.pnl, r.fees, r.extra, "
    # how the original wrote `fees` ('absent', 'null', 'real', ...): fees are stored as 0 when
    # the legacy record had none, and the export gives back what was there, not an invented 0.0
    "(SELECT CASE WHEN json_valid(w.raw) THEN coalesce(json_type(w.raw, '$.fees'), 'absent') END "
    " FROM raw_records w WHERE w.target_table = 'trades' AND w.target_id = r.id AND w.outcome = 'imported' "
    " ORDER BY w.id LIMIT 1) "
    "FROM trades r JOIN tickers k ON k.id = r.ticker_id LEFT JOIN predictions p ON p.id = r.prediction_id "
    "ORDER BY r.id"
)


def prediction_record(row: Any) -> dict[str, Any]:
    """One predictions row (in `PREDICTION_SQL` order) as a legacy prediction object."""
    (
        lid,
        pk,
        day,
        ts,
        strat,
        sym,
        pos,
        conf,
        target,
        stop,
        tf,
        entry,
        status,
        exit_d,
        exit_p,
        extra,
    ) = row
    rec: dict[str, Any] = {"id": legacy_id_value(lid) if lid is not None else pk, "date": day}
    if ts is not None:
        rec["timestamp"] = ts
    rec |= {
        "strategy": strat, "ticker": sym, "position": pos, "confidence": conf, "target": target,
        "stop_loss": stop, "timeframe": legacy_id_value(tf) if tf is not None else None,
        "entry_price": entry, "status": status,
    }  # fmt: skip
    if exit_d is not None:
        rec["exit_date"] = exit_d
    if exit_p is not None:
        rec["exit_price"] = exit_p
    return _with_extra(rec, extra)


def trade_record(row: Any) -> dict[str, Any]:
    """One trades row (in `TRADE_SQL` order) as a legacy trade object."""
    (
        lid,
        pk,
        pred_legacy,
        pred_linked,
        sym,
        side,
        entry_d,
        entry,
        shares,
        exit_d,
        exit_p,
        status,
        pnl,
        fees,
        extra,
        *fees_written,  # the last column of `TRADE_SQL`; absent from a bare row
    ) = row
    pred = pred_legacy if pred_legacy is not None else pred_linked
    rec = {
        "trade_id": legacy_id_value(lid) if lid is not None else pk,
        "prediction_id": legacy_id_value(pred), "ticker": sym, "side": side,
        "entry_date": entry_d, "entry_price": entry, "shares": _number(shares), "exit_date": exit_d,
        "exit_price": exit_p, "status": status, "pnl": pnl, "fees": fees,
    }  # fmt: skip
    if fees_written and not fees and fees_written[0] in ("absent", "null"):
        if fees_written[0] == "absent":
            del rec["fees"]
        else:
            rec["fees"] = None
    return _with_extra(rec, extra)


def _file_meta(db: Database) -> dict[str, Any]:
    """File-level fields (``last_updated``, leaders' ``updated``) of the newest legacy batches."""
    meta: dict[str, Any] = {}
    for (doc,) in db.query(
        "SELECT report_json FROM import_batches WHERE status = 'committed' AND kind = 'legacy' "
        "AND report_json IS NOT NULL ORDER BY id"
    ):
        for name, m in orjson.loads(doc).get("file_meta", {}).items():
            meta.setdefault(name, {}).update(m)
    return meta


def legacy_documents(db: Database, *, now: str | None = None) -> dict[str, Any]:
    """Every legacy JSON file as a document, by file name, built from ``db``.

    The tickers, strategies, predictions and trades files and the three volume-leader files
    (always all three, an empty ``leaders`` when a timeframe has none), with the file dates the
    legacy import recorded. Where the database has no file date, ``now`` (``YYYY-MM-DDTHH:MM:SSZ``)
    is used when given (`export_json` writes the files now), else the newest record's date (the
    web serves what the database holds). One builder, so the web endpoints and the export give
    the same records.
    """
    meta = _file_meta(db)
    tickers = {
        sym: _with_extra({"name": name, "sector": sector, "market_cap": cap_raw if cap_raw is not None else cap}, extra)
        for sym, name, sector, cap, cap_raw, extra in db.query(
            "SELECT symbol, name, sector, market_cap, market_cap_raw, extra FROM tickers ORDER BY id"
        )
    }
    strategies = {
        name: _with_extra({"description": desc, "min_hold_days": lo, "max_hold_days": hi}, extra)
        for name, desc, lo, hi, extra in db.query(
            "SELECT name, description, min_hold_days, max_hold_days, extra FROM strategies ORDER BY id"
        )
    }
    last = meta.get(PREDICTIONS, {}).get("last_updated") or (
        now if now is not None else _newest(db, "SELECT max(coalesce(timestamp_utc, date)) FROM predictions")
    )
    docs: dict[str, Any] = {
        TICKERS: tickers,
        STRATEGIES: strategies,
        PREDICTIONS: {"predictions": [prediction_record(r) for r in db.query(PREDICTION_SQL)], "last_updated": last},
        TRADES: [trade_record(r) for r in db.query(TRADE_SQL)],
    }
    for fname, timeframe in LEADERS.items():
        fmeta = meta.get(fname, {})
        skey = fmeta.get("symbol_key", "ticker" if timeframe == "monthly" else "symbol")
        leaders: dict[str, list[dict[str, Any]]] = {}
        for day, rank, sym, volume, price, extra in db.query(
            "SELECT v.date, v.rank, k.symbol, v.volume, v.price, v.extra FROM volume_leaders v "
            "JOIN tickers k ON k.id = v.ticker_id WHERE v.timeframe = ? ORDER BY v.date, v.rank, v.id",
            (timeframe,),
        ):
            leaders.setdefault(day, []).append(
                _with_extra({"rank": rank, skey: sym, "volume": volume, "price": price}, extra)
            )
        updated = fmeta.get("updated") or (
            now[:10] if now is not None
            else _newest(db, "SELECT max(date) FROM volume_leaders WHERE timeframe = ?", (timeframe,))
        )
        docs[fname] = {"timeframe": fmeta.get("timeframe", timeframe), "updated": updated, "leaders": leaders}
    return docs


def _newest(db: Database, sql: str, params: tuple[Any, ...] = ()) -> str | None:
    value = db.scalar(sql, params)
    return None if value is None else str(value)


def export_json(
    db: Database, out_dir: str | Path, *, progress: Callable[[int], None] | None = None
) -> ExportReport:
    """Write predictions, trades, the three leader files, price CSVs, tickers_info and
    strategies_config from ``db`` into ``out_dir`` (created if needed).

    A leader file is written only when its timeframe has rows or was imported (an empty file
    the old system never had is not invented).

    Examples
    --------
    >>> # quantdb export-json ./out --db quant.db
    """
    out = Path(out_dir)
    files: dict[str, int] = {}
    with atomic_folder(out, what="export folder") as tmp:  # complete, or nothing new
        _write_export(db, tmp, files, progress)
    return ExportReport(str(out.resolve()), files)


def _write_export(
    db: Database, out: Path, files: dict[str, int], progress: Callable[[int], None] | None
) -> None:
    """Write every legacy file into ``out``, counting records per file into ``files``."""
    imported = _file_meta(db)
    done = 0

    def wrote(name: str, n: int) -> None:
        nonlocal done
        files[name] = n
        done += n
        if progress is not None:
            progress(done)

    for fname, doc in legacy_documents(db, now=now_utc()).items():
        if fname in LEADERS:
            n = sum(len(day) for day in doc["leaders"].values())
            if not n and fname not in imported:
                continue
        elif fname == PREDICTIONS:
            n = len(doc["predictions"])
        else:
            n = len(doc)
        (out / fname).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        wrote(fname, n)

    price_dir = out / PRICE_DIR
    with db.reader() as conn:
        ids = conn.execute(
            "SELECT k.id, k.symbol FROM tickers k WHERE EXISTS (SELECT 1 FROM price_history p WHERE p.ticker_id = k.id) ORDER BY k.symbol"
        ).fetchall()
        if ids:
            price_dir.mkdir()
        for tid, sym in ids:
            lines = [PRICE_HEADER]
            for day, o, h, lo, c, adj, v in conn.execute(
                "SELECT date, open, high, low, close, adj_close, volume FROM price_history WHERE ticker_id = ? ORDER BY date",
                (tid,),
            ):
                lines.append(",".join([day, *("null" if x is None else repr(x) for x in (o, h, lo, c, adj)),
                                       "null" if v is None else str(v)]))  # fmt: skip
            name = f"{PRICE_DIR}/{filename_from_symbol(sym)}"
            (price_dir / filename_from_symbol(sym)).write_bytes(("\n".join(lines) + "\n").encode())
            wrote(name, len(lines) - 1)
