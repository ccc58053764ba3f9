"""Benchmark: the storage foundation, as ratios against baselines run in the same process.

Prints one JSON line per figure through ``benchmarks/_harness.py``:
``{"name", "baseline_s", "quantdb_s", "ratio", "goal", ...}`` with ``ratio = baseline_s /
quantdb_s`` (above 1: quantdb is faster), then a human summary on stderr:

``insert_prices``
    Bulk insert of a generated 12-year x 500-ticker (+ SPY) price history (about 1.5M bars)
    through `quantdb.services.records.prices.insert_prices` (the Polars frame in; tickers, batch,
    join, sort, one transaction) vs a bare ``sqlite3.executemany`` of the same rows, already
    built as Python tuples, into the same schema with the same pragmas, each into a fresh
    file. Goal: quantdb within 1.3x of the baseline (ratio >= 0.77).
``panel_sqlite_rows`` / ``panel_duckdb_attach`` / ``panel_mirror``
    The full adjusted-close panel (dates x tickers, float64) from SQLite rows (``fetchall`` +
    a NumPy pivot), through DuckDB's read-only attach (a ``PIVOT`` query), and from the
    columnar mirror (``QuantDB.close_panel()``), each against the memory-bandwidth floor: a
    ``np.copy`` of the same bytes. Goal: the mirror within 3x of the floor (ratio >= 0.33).
``mirror_rebuild``
    Rebuilding the mirror after a change vs the SQLite-rows panel (what a stale read costs).
``one_ticker_mirror``
    One ticker's full history from the mirror vs an indexed sqlite3 query of the same
    series. Goal: quantdb_s < 5 ms.

Every panel is checked equal (NaN included) to the mirror's before anything is timed.
``QUANTDB_BENCH_SCALE`` scales the number of tickers (1.0 = 500 + SPY over 12 years);
``QUANTDB_BENCH_REPEAT`` sets the best-of count (default 5; the slow figures use fewer).
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import emit, repeat, scale

from quantdb.client import QuantDB
from quantdb.datasets.market import generate_market
from quantdb.services.records.prices import insert_prices
from quantdb.storage.duck import DuckEngine
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database


def best_of(n: int, fn: Callable[[], Any]) -> float:
    """Best wall time of ``n`` calls after one untimed warm-up (garbage collection off while timing)."""
    fn()
    best = float("inf")
    for _ in range(n):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best


def fresh_db(root: Path, name: str) -> Database:
    path = root / name
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = Database(path)
    apply_migrations(db)
    return db


INSERT_SQL = (
    "INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def bench_insert(root: Path, frame: Any, runs: int) -> tuple[float, float]:
    """Best of ``runs`` for each side, alternating, each into a fresh file of the same schema."""
    import polars as pl

    symbols = frame["ticker"].unique().sort().to_list()
    ids = pl.DataFrame({"ticker": symbols, "ticker_id": range(1, len(symbols) + 1)})
    rows = list(
        frame.join(ids, on="ticker")
        .select(
            "ticker_id",
            pl.col("date").cast(pl.String),
            "open",
            "high",
            "low",
            "close",
            "volume",
            "adj_close",
        )
        .sort("ticker_id", "date")
        .iter_rows()
    )

    def baseline() -> float:
        db = fresh_db(root, "baseline.db")
        with db.atomic() as conn:  # the tickers exist before the timed part
            conn.executemany(
                "INSERT INTO tickers (id, symbol) VALUES (?, ?)", enumerate(symbols, start=1)
            )
        db.close()
        conn = sqlite3.connect(root / "baseline.db", isolation_level=None)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_SQL, rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.close()
        return elapsed

    def quantdb() -> float:
        db = fresh_db(root, "quantdb.db")
        t0 = time.perf_counter()
        report = insert_prices(db, frame, source="bench")
        elapsed = time.perf_counter() - t0
        assert report.totals["inserted"] == frame.height
        db.close()
        return elapsed

    base, mine = float("inf"), float("inf")
    for _ in range(runs):
        base = min(base, baseline())
        mine = min(mine, quantdb())
    return base, mine


def sqlite_rows_panel(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The panel from SQLite rows: fetchall of (symbol, date, adj_close), pivoted with NumPy."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT t.symbol, p.date, p.adj_close FROM price_history p JOIN tickers t ON t.id = p.ticker_id"
        ).fetchall()
    finally:
        conn.close()
    symbols, days, values = zip(*rows, strict=True)
    tickers, t_idx = np.unique(np.array(symbols), return_inverse=True)
    dates, d_idx = np.unique(np.array(days, dtype="datetime64[D]"), return_inverse=True)
    mat = np.full((len(dates), len(tickers)), np.nan)
    mat[d_idx, t_idx] = np.array(values, dtype=np.float64)
    return dates, [str(t) for t in tickers], mat


def duckdb_panel(engine: DuckEngine, tickers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The panel through DuckDB's attach: a PIVOT of the joined rows, then one float64 matrix."""
    out = engine.numpy(
        "PIVOT (SELECT t.symbol, p.date, p.adj_close FROM price_history p "
        "JOIN tickers t ON t.id = p.ticker_id) ON symbol USING first(adj_close) GROUP BY date ORDER BY date"
    )
    dates = np.asarray(out["date"], dtype="datetime64[D]")
    mat = np.empty((len(dates), len(tickers)))
    for j, t in enumerate(tickers):
        col = out[t]
        mat[:, j] = col.filled(np.nan) if np.ma.isMaskedArray(col) else col
    return dates, mat


def one_ticker_sqlite(path: Path, symbol: str) -> np.ndarray:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT p.adj_close FROM price_history p WHERE p.ticker_id = "
            "(SELECT id FROM tickers WHERE symbol = ?) ORDER BY p.date",
            (symbol,),
        ).fetchall()
    finally:
        conn.close()
    return np.array([r[0] for r in rows], dtype=np.float64)


def main() -> None:
    n_tickers = max(5, round(500 * scale()))
    n = repeat()
    t0 = time.perf_counter()
    market = generate_market(n_tickers, 12, seed=2024)
    frame = market.to_long()
    print(
        f"generated {frame.height:,} bars ({n_tickers} tickers + SPY, 12 years) in "
        f"{time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="quantdb-bench-") as tmp:
        root = Path(tmp)
        runs = 1 if scale() >= 1 else 2
        base, mine = bench_insert(root, frame, runs)
        results.append(
            emit(
                "insert_prices", base, mine, bars=frame.height, goal="quantdb_s <= 1.3 x baseline_s"
            )
        )

        path = root / "quantdb.db"  # filled by the last quantdb insert, closed
        q = QuantDB(path, create=False)
        t0 = time.perf_counter()
        panel = q.close_panel()  # builds the mirror
        build_s = time.perf_counter() - t0
        floor_src = np.array(panel.values)
        mb = floor_src.nbytes / 2**20
        print(
            f"panel {panel.shape[0]} dates x {panel.shape[1]} tickers = {mb:.1f} MiB of float64",
            file=sys.stderr,
        )

        # Correctness first: every route gives the same matrix.
        dates, tickers, mat = sqlite_rows_panel(path)
        assert tickers == list(panel.tickers)
        np.testing.assert_array_equal(dates, panel.dates)
        np.testing.assert_array_equal(mat, panel.values)
        engine = DuckEngine(path)
        d_dates, d_mat = duckdb_panel(engine, tickers)
        np.testing.assert_array_equal(d_dates, panel.dates)
        np.testing.assert_array_equal(d_mat, panel.values)

        floor = best_of(n * 3, lambda: np.copy(floor_src))
        slow = max(2, n // 2)
        shape = {"dates": panel.shape[0], "tickers": panel.shape[1], "mib": round(mb, 1)}
        rows_s = best_of(slow, lambda: sqlite_rows_panel(path))
        results.append(emit("panel_sqlite_rows", floor, rows_s, baseline="np.copy floor", **shape))
        duck_s = best_of(slow, lambda: duckdb_panel(engine, tickers))
        engine.close()
        results.append(
            emit("panel_duckdb_attach", floor, duck_s, baseline="np.copy floor", **shape)
        )
        mirror_s = best_of(n * 3, lambda: q.close_panel())
        results.append(
            emit(
                "panel_mirror",
                floor,
                mirror_s,
                baseline="np.copy floor",
                goal="quantdb_s <= 3 x baseline_s",
                **shape,
            )
        )
        results.append(emit("mirror_rebuild", rows_s, build_s, baseline="panel_sqlite_rows"))

        symbol = "AAPL" if "AAPL" in panel.tickers else panel.tickers[0]
        column = panel.column(symbol)
        np.testing.assert_array_equal(one_ticker_sqlite(path, symbol), column[~np.isnan(column)])
        one_base = best_of(n * 3, lambda: one_ticker_sqlite(path, symbol))
        one_mine = best_of(n * 3, lambda: q.close_panel([symbol]))
        results.append(
            emit(
                "one_ticker_mirror",
                one_base,
                one_mine,
                baseline="sqlite3 indexed query",
                goal="quantdb_s < 0.005",
            )
        )
        q.close()

    by = {r["name"]: r for r in results}
    print(
        "goals: insert within 1.3x of bare executemany: {:.2f}x | mirror panel within 3x of the floor: "
        "{:.2f}x ({:.1f} ms vs {:.1f} ms) | mirror vs sqlite3 rows: {:.0f}x faster | one ticker < 5 ms: "
        "{:.2f} ms".format(
            1 / by["insert_prices"]["ratio"],
            1 / by["panel_mirror"]["ratio"],
            mirror_s * 1e3,
            floor * 1e3,
            rows_s / mirror_s,
            one_mine * 1e3,
        ),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
