"""Benchmark: migrate a generated legacy set of >= 1,000,000 records, against a bare baseline.

The baseline, in the same process and on the same folder, is the floor of any loader:
``json.load`` every JSON file, ``csv.reader`` every price file, and ``executemany`` the very
rows quantdb wrote (taken from its database beforehand) into the same schema in one
transaction: no normalization, validation, dedupe, quarantine or raw records. quantdb's
migrate does all of those, and also keeps the raw original of every record. Prints one JSON line:
records, seconds for each, records/s and the ratio (issue 15's goals, judged by
`run_all.py`: ratio <= 1.5 and under 10 s per million records).

CPU seconds (``time.process_time``) are printed too: on a shared machine they show the
work done, while wall seconds include waiting for the CPU (``load_average_1m`` says how busy).
quantdb's include its child processes' (the second interpreter `parse_folder` may start to
read the big JSON files while it reads the price files), also given alone as
``cpu_quantdb_children_s``.
``QUANTDB_BENCH_SCALE`` scales the size (1.0 -> about 1.07M records); best of
``QUANTDB_BENCH_REPEAT`` runs (default 1: one run of each is already ~10 s).

A second, informational figure says whether the goal is reachable at all: the raw original of
every record is part of the product (issue 15), so the floor of any loader keeping them in this
schema is the bare baseline *plus* those rows. ``floor_with_raw_s`` is the same bare baseline
with, in the same one transaction, same schema and same cache size, an ``executemany`` of the
exact ``import_batches`` and ``raw_records`` rows quantdb wrote (taken from its database);
``floor_with_raw_ratio`` is that over ``baseline_s`` and ``ratio_vs_floor_with_raw`` is
``quantdb_s`` over it. The goal's baseline and ratio are unchanged. ``executemany`` re-runs the
table's ``CHECK (outcome IN (...))`` list for every row, which quantdb's raw-record paths avoid
(services/records/raw_rows.py), so this floor can lie above quantdb's own time (a ratio below 1).

Extra keys say where quantdb's time goes (``phases_s``, from `migrate_folder`'s ``timings``:
parse, normalize, aside (waiting for the big JSON files read by a second interpreter meanwhile),
decide, insert_typed, insert_raw, indexes, commit, ...; for the fastest run)
and how long the independent proof takes afterwards (``verify_s``, `verify_folder` on the same
folder and database; not part of the ratio, which compares loading only).
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from quantdb.datasets.legacy import write_legacy_folder
from quantdb.datasets.market import generate_market
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.verify import verify_folder
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database


def make_folder(root: Path, scale: float) -> tuple[Path, int]:
    n_tickers = max(10, int(500 * scale))
    market = generate_market(n_tickers, 8, seed=11)
    n_pred = max(100, int(60_000 * scale))
    man = write_legacy_folder(market, root / "legacy", seed=12, n_predictions=n_pred, n_trades=n_pred // 2,
                              mess=True, damage=True, daily_leader_days=None)  # fmt: skip
    return root / "legacy", man.records


TABLES = {
    "strategies": "id, name, description, min_hold_days, max_hold_days, extra",
    "tickers": "id, symbol, name, sector, market_cap, market_cap_raw, extra",
    "predictions": "id, legacy_id, date, timestamp, timestamp_utc, timestamp_kind, strategy_id, ticker_id, position, "
    "confidence, target, stop_loss, timeframe, timeframe_days, entry_price, status, extra",
    "trades": "id, legacy_id, prediction_id, prediction_legacy_id, ticker_id, side, entry_date, entry_price, shares, "
    "exit_date, exit_price, status, pnl, pnl_computed, pnl_mismatch, fees, extra",
    "volume_leaders": "id, timeframe, date, rank, ticker_id, volume, price, extra",
    "price_history": "id, ticker_id, date, open, high, low, close, volume, adj_close",
}


def table_rows(db: Database, tables: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows quantdb's migrate wrote to ``tables`` (name -> columns), in id order: `TABLES`
    are what the baseline inserts, `RAW_TABLES` what the floor with raw records adds."""
    return {
        t: [tuple(r) for r in db.query(f"SELECT {cols} FROM {t} ORDER BY id")]
        for t, cols in tables.items()
    }


#: The rows of the raw originals and the batch they reference, for the floor with raw records.
RAW_TABLES = {
    "import_batches": "id, kind, source, started_at, finished_at, status, backup_path, quantdb_version, report_json",
    "raw_records": "id, batch_id, file, position, record_key, raw, outcome, target_table, target_id, flags",
}


def bare_baseline(
    folder: Path,
    db_path: Path,
    rows: dict[str, list[tuple[Any, ...]]],
    raw: dict[str, list[tuple[Any, ...]]] | None = None,
) -> int:
    """json.load every JSON file, csv.reader every price file, executemany the same rows.

    With ``raw`` (`table_rows` of `RAW_TABLES`), the batch row goes in first and the raw records last, in the
    same transaction: the floor with raw records.
    """
    parsed = 0
    for p in sorted(folder.glob("*.json")):
        with open(p, encoding="utf-8") as fh:
            doc = json.load(fh)
        parsed += len(doc)
    for p in sorted((folder / "price_history").glob("*.csv")):
        with open(p, newline="") as fh:
            parsed += sum(1 for _ in csv.reader(fh))
    db = Database(db_path)
    apply_migrations(db)
    with db.atomic() as c:
        c.execute("PRAGMA cache_size = -262144")
        plan = [(t, cols, rows[t]) for t, cols in TABLES.items()]
        if raw is not None:
            batch, records = (("import_batches", RAW_TABLES["import_batches"], raw["import_batches"]),
                              ("raw_records", RAW_TABLES["raw_records"], raw["raw_records"]))  # fmt: skip
            plan = [batch, *plan, records]
        for table, cols, data in plan:
            marks = ", ".join("?" * len(cols.split(",")))
            c.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", data)
    db.close()
    return parsed


def children_cpu() -> float:
    """CPU seconds of this process's ended (and waited-for) child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    scale = float(os.environ.get("QUANTDB_BENCH_SCALE", "1.0"))
    repeat = int(os.environ.get("QUANTDB_BENCH_REPEAT", "1"))
    root = Path(tempfile.mkdtemp(prefix="bench_migrate_"))
    try:
        t0 = time.perf_counter()
        folder, n_records = make_folder(root, scale)
        gen_s = time.perf_counter() - t0
        print(f"generated {n_records} records in {gen_s:.1f}s", file=sys.stderr)
        base_s = q_s = base_cpu = q_cpu = q_children = float("inf")
        report = None
        rows: dict[str, list[tuple[Any, ...]]] = {}
        raws: dict[str, list[tuple[Any, ...]]] = {}
        floor_s = float("inf")
        phases: dict[str, float] = {}
        verify_s = float("inf")
        for i in range(repeat):
            db = Database(root / f"q{i}.db")
            timings: dict[str, float] = {}
            t, c, k = time.perf_counter(), time.process_time(), children_cpu()
            report = migrate_folder(db, folder, timings=timings)
            took = time.perf_counter() - t
            if took < q_s:
                q_s, phases = took, timings
            own, kids = time.process_time() - c, children_cpu() - k
            if own + kids < q_cpu:
                q_cpu, q_children = own + kids, kids
            if not rows:
                rows, raws = table_rows(db, TABLES), table_rows(db, RAW_TABLES)
            t = time.perf_counter()
            verified = verify_folder(db, folder)
            verify_s = min(verify_s, time.perf_counter() - t)
            assert verified.ok, verified.differences
            db.close()
            t, c = time.perf_counter(), time.process_time()
            bare_baseline(folder, root / f"base{i}.db", rows)
            base_s = min(base_s, time.perf_counter() - t)
            base_cpu = min(base_cpu, time.process_time() - c)
            t = time.perf_counter()
            bare_baseline(folder, root / f"floor{i}.db", rows, raws)
            floor_s = min(floor_s, time.perf_counter() - t)
        assert report is not None and report.totals.balanced
        read = report.totals.read
        print(json.dumps({
            "name": "migrate_legacy", "records": read, "baseline_s": round(base_s, 3), "quantdb_s": round(q_s, 3),
            "ratio": round(q_s / base_s, 3), "records_per_s": round(read / q_s),
                "cpu_baseline_s": round(base_cpu, 3),
                "cpu_quantdb_s": round(q_cpu, 3),
                "cpu_quantdb_children_s": round(q_children, 3),
                "cpu_ratio": round(q_cpu / base_cpu, 3),
                "load_average_1m": round(os.getloadavg()[0], 2), "baseline_records_per_s": round(read / base_s),
            "goal": {"seconds_per_million": 10.0, "ratio": 1.5}, "quarantined": report.totals.quarantined,
            "phases_s": {k: round(v, 3) for k, v in phases.items()}, "verify_s": round(verify_s, 3),
            "floor_with_raw_s": round(floor_s, 3), "floor_with_raw_ratio": round(floor_s / base_s, 3),
            "ratio_vs_floor_with_raw": round(q_s / floor_s, 3),
        }))  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
