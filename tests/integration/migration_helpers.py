"""Content dumps shared by the migration tests (a plain module: tests/ has no packages)."""

from __future__ import annotations

from quantdb.storage.sqlite import Database

CONTENT_SQL = {
    "predictions": "SELECT p.legacy_id, p.date, p.timestamp, p.timestamp_utc, p.timestamp_kind, s.name, k.symbol, p.position, "
    "p.confidence, p.target, p.stop_loss, p.timeframe, p.timeframe_days, p.entry_price, p.status, p.exit_date, "
    "p.exit_price, p.extra FROM predictions p JOIN strategies s ON s.id = p.strategy_id JOIN tickers k ON k.id = p.ticker_id",
    "trades": "SELECT r.legacy_id, r.prediction_legacy_id, p.legacy_id, k.symbol, r.side, r.entry_date, r.entry_price, "
    "r.shares, r.exit_date, r.exit_price, r.status, r.pnl, r.pnl_computed, r.pnl_mismatch, r.fees, r.extra "
    "FROM trades r JOIN tickers k ON k.id = r.ticker_id LEFT JOIN predictions p ON p.id = r.prediction_id",
    "volume_leaders": "SELECT v.timeframe, v.date, v.rank, k.symbol, v.volume, v.price, v.extra "
    "FROM volume_leaders v JOIN tickers k ON k.id = v.ticker_id",
    "price_history": "SELECT k.symbol, p.date, p.open, p.high, p.low, p.close, p.volume, p.adj_close "
    "FROM price_history p JOIN tickers k ON k.id = p.ticker_id",
    "tickers": "SELECT symbol, name, sector, market_cap, market_cap_raw, extra FROM tickers",
    "strategies": "SELECT name, description, min_hold_days, max_hold_days, extra FROM strategies",
}  # fmt: skip


def db_content(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every user-visible row, keyed by legacy keys (not row ids), sorted: for equality checks."""
    return {
        t: sorted((tuple(r) for r in db.query(sql)), key=repr) for t, sql in CONTENT_SQL.items()
    }


def full_dump(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, ids included (for "returns to its earlier state exactly")."""
    tables = [
        r[0]
        for r in db.query(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        t: sorted((tuple(r) for r in db.query(f'SELECT * FROM "{t}"')), key=repr) for t in tables
    }
