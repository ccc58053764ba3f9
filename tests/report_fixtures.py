"""A small, realistic database for the report, web and browser tests (seeded, built with SQL).

Prices come from the legacy sample's CSVs (SPY is the benchmark); strategies, predictions,
trades (closed, open, cancelled, a manual one, and legacy notes that look like spreadsheet
formulas), performance snapshots, two backtests with equity curves and trades, a sweep and
volume leaders are inserted with plain SQL, so these tests do not depend on the tracking,
backtest or migration services.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from quantdb.services.records.prices import import_price_files
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

PRICE_DIR = Path(__file__).parent / "fixtures" / "legacy_sample" / "price_history"
TICKERS = ("SPY", "AAPL", "AMZN", "JPM", "GOOGL")
STRATEGIES = ("momentum", "mean_reversion")
#: Legacy notes that a spreadsheet would run as formulas: they must stay text.
FORMULA_NOTES = ('=HYPERLINK("http://example.invalid","x")', "+1+2", "-2+3", "@SUM(A1:A2)")
TABLES = (
    "strategies", "tickers", "price_history", "predictions", "trades", "performance_metrics",
    "volume_leaders", "backtest_results", "backtest_trades", "backtest_equity", "sweep_runs",
)


def build_report_db(path: Path, seed: int = 1337) -> Database:
    """Create the test database at ``path`` and return it (open, migrated, filled)."""
    rng = np.random.default_rng(seed)
    db = Database(path)
    apply_migrations(db)
    import_price_files(db, [PRICE_DIR / f"{t.replace('.', '-')}.csv" for t in TICKERS])
    prices = {
        sym: db.query(
            "SELECT p.date, p.close FROM price_history p JOIN tickers k ON k.id = p.ticker_id "
            "WHERE k.symbol = ? AND p.close IS NOT NULL ORDER BY p.date",
            (sym,),
        )
        for sym in TICKERS
    }
    tid = {r[0]: r[1] for r in db.query("SELECT symbol, id FROM tickers")}
    with db.atomic() as conn:
        sid = {}
        for name in STRATEGIES:
            cur = conn.execute(
                "INSERT INTO strategies (name, description, min_hold_days, max_hold_days) VALUES (?, ?, 1, 20)",
                (name, f"{name} test strategy"),
            )
            sid[name] = cur.lastrowid
        n_trades = 48
        note_at = {5: FORMULA_NOTES[0], 9: FORMULA_NOTES[1], 13: FORMULA_NOTES[2], 17: FORMULA_NOTES[3]}
        for i in range(n_trades):
            strat = STRATEGIES[i % 2]
            sym = TICKERS[1 + i % (len(TICKERS) - 1)]
            bars = prices[sym]
            last = len(bars) - 1
            status = "OPEN" if i >= n_trades - 4 else ("CANCELLED" if i == 20 else "CLOSED")
            if status == "OPEN":
                entry_i = last - 5 - i % 3
            else:
                entry_i = int(rng.integers(0, last - 30))
            hold = int(rng.integers(2, 15))
            exit_i = entry_i + hold
            side = "long" if rng.random() < 0.6 else "short"
            entry_date, entry_px = bars[entry_i]
            shares = float(int(rng.integers(10, 200)))
            fees = 2.0
            ts = f"{entry_date}T10:{i % 60:02d}:00Z"
            pcur = conn.execute(
                "INSERT INTO predictions (legacy_id, date, timestamp, timestamp_utc, timestamp_kind, strategy_id, "
                "ticker_id, position, confidence, target, stop_loss, timeframe, timeframe_days, entry_price, status, extra) "
                "VALUES (?, ?, ?, ?, 'utc', ?, ?, ?, ?, ?, ?, '1w', 5, ?, ?, ?)",
                (
                    str(i + 1) if i % 3 == 0 else f"{strat[:3]}-{entry_date.replace('-', '')}-{sym}-{i + 1}",
                    entry_date, ts, ts.replace("T", "T"), sid[strat], tid[sym],
                    "LONG" if side == "long" else "SHORT", round(float(rng.uniform(0.5, 0.95)), 4),
                    round(entry_px * (1.05 if side == "long" else 0.95), 2),
                    round(entry_px * (0.97 if side == "long" else 1.03), 2),
                    entry_px, "open" if status == "OPEN" else "expired",
                    json.dumps({"model_version": f"v{1 + i % 3}"}) if i % 4 == 0 else None,
                ),
            )
            if status == "CLOSED":
                exit_date, exit_px = bars[exit_i]
                sign = 1.0 if side == "long" else -1.0
                pnl = round(sign * (exit_px - entry_px) * shares - fees, 2)
            else:
                exit_date = exit_px = pnl = None
            extra = json.dumps({"notes": note_at[i]}) if i in note_at else None
            conn.execute(
                "INSERT INTO trades (legacy_id, prediction_id, ticker_id, side, entry_date, entry_price, shares, "
                "exit_date, exit_price, status, pnl, pnl_computed, fees, exit_reason, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(1001 + i) if i % 2 == 0 else f"T-{1001 + i}", pcur.lastrowid, tid[sym], side, entry_date,
                    entry_px, shares, exit_date, exit_px, status, pnl, pnl, fees,
                    "expired" if status == "CLOSED" else None, extra,
                ),
            )
        # A manual trade (no prediction, so no strategy).
        d0, p0 = prices["JPM"][100]
        d1, p1 = prices["JPM"][110]
        conn.execute(
            "INSERT INTO trades (legacy_id, ticker_id, side, entry_date, entry_price, shares, exit_date, exit_price, "
            "status, pnl, fees) VALUES ('M-1', ?, 'long', ?, ?, 50, ?, ?, 'CLOSED', ?, 1.0)",
            (tid["JPM"], d0, p0, d1, p1, round((p1 - p0) * 50 - 1.0, 2)),
        )
        # Daily performance snapshots for the last 40 price days.
        days = [r[0] for r in prices["SPY"][-40:]]
        for name in STRATEGIES:
            tr = np.cumsum(rng.normal(0.0005, 0.006, len(days)))
            for j, day in enumerate(days):
                conn.execute(
                    "INSERT INTO performance_metrics (strategy_id, date, accuracy, win_rate, profit_factor, sharpe, "
                    "sortino, max_drawdown, total_return, realized_pnl, unrealized_pnl, n_open, n_closed) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sid[name], day, 0.55, 0.52 + 0.001 * j, 1.1 + 0.01 * j, 0.8 + 0.01 * j, 1.1, -0.05 - 0.001 * j,
                     float(tr[j]), 1000.0 + 25.0 * j, 50.0 - j, 2, 20 + j),
                )
        # Two backtests over the last 260 SPY days, with equity and trades; one from a sweep.
        conn.execute(
            "INSERT INTO sweep_runs (id, strategy, grid_json, settings_json, combos, results_path, status, created_at, "
            "finished_at, quantdb_version) VALUES (1, 'momentum', ?, '{}', 12, NULL, 'done', "
            "'2017-12-01T10:00:00Z', '2017-12-01T10:05:00Z', '0.1.0')",
            (json.dumps({"window": [10, 20, 30], "k": [1, 2, 3, 4]}),),
        )
        span = [r[0] for r in prices["SPY"][-260:]]
        for bt_id, name, drift in ((1, "momentum", 0.0006), (2, "mean_reversion", 0.0002)):
            equity = 100_000.0 * np.cumprod(1.0 + rng.normal(drift, 0.009, len(span)))
            r = equity[1:] / equity[:-1] - 1.0
            total = float(equity[-1] / 100_000.0 - 1.0)
            conn.execute(
                "INSERT INTO backtest_results (id, strategy_id, start_date, end_date, total_return, sharpe, max_dd, "
                "trades, final_equity, params_json, settings_json, stats_json, data_fingerprint, quantdb_version, "
                "sweep_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 10, ?, ?, ?, NULL, ?, '0.1.0', ?, ?)",
                (
                    bt_id, sid[name], span[0], span[-1], total, float(np.mean(r) / np.std(r, ddof=1) * 252**0.5),
                    float(np.min(equity / np.maximum.accumulate(equity) - 1.0)), float(equity[-1]),
                    json.dumps({"window": 20 * bt_id}), json.dumps({"capital": 100_000.0, "fee_bps": 5}),
                    hashlib.sha256(name.encode()).hexdigest(), 1 if bt_id == 1 else None,
                    f"2017-12-0{bt_id}T12:00:00Z",
                ),
            )
            conn.executemany(
                "INSERT INTO backtest_equity (backtest_id, date, equity, exposure) VALUES (?, ?, ?, ?)",
                [(bt_id, d, float(e), 1.0) for d, e in zip(span, equity, strict=True)],
            )
            for k in range(10):
                a = 5 + k * 25
                b = a + int(rng.integers(2, 20))
                px_a, px_b = float(rng.uniform(50, 150)), float(rng.uniform(50, 150))
                size = float(int(rng.integers(5, 50)))
                conn.execute(
                    "INSERT INTO backtest_trades (backtest_id, ticker, entry_date, exit_date, entry_price, exit_price, "
                    "size, pnl, return_pct, fees, exit_reason, bars_held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1.0, 'signal', ?)",
                    (bt_id, TICKERS[1 + k % 4], span[a], span[b], px_a, px_b, size, (px_b - px_a) * size - 1.0,
                     px_b / px_a - 1.0, b - a),
                )
        # Volume leaders: three dates a timeframe, five ranks, one extra field kept.
        spy_days = [r[0] for r in prices["SPY"]]
        for tf, dates in (("daily", spy_days[-3:]), ("weekly", spy_days[-15::5]), ("monthly", spy_days[-63::21])):
            for d in dates:
                order = rng.permutation(len(TICKERS))
                for rank, k in enumerate(order, start=1):
                    conn.execute(
                        "INSERT INTO volume_leaders (date, timeframe, rank, ticker_id, volume, price, extra) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (d, tf, rank, tid[TICKERS[k]], int(rng.integers(1_000_000, 9_000_000)),
                         round(float(rng.uniform(20, 300)), 2), json.dumps({"sector": "Tech"}) if rank == 1 else None),
                    )
    return db


def table_checksum(path: Path) -> str:
    """A SHA-256 of every row of every quantdb table (read with a fresh read-only connection)."""
    import sqlite3

    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for table in TABLES:
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                h.update(repr(row).encode())
        h.update(repr(conn.execute("PRAGMA user_version").fetchone()).encode())
        return h.hexdigest()
    finally:
        conn.close()
