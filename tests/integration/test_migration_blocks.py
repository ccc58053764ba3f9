"""A clean price file is taken whole as a block of new rows (`_Table.blocks`): its rows bound
from the reader's columns, its raw originals written as one run (`insert_raw_run`), with no
per-line outcome. The database it leaves must be the one the per-record path leaves, row for
row with the same ids, REAL values bit for bit, and the same report and messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from quantdb.ingest.folder import parse_folder
from quantdb.services.records.migrate import import_parsed
from quantdb.services.records.raw_rows import MIN_RUN, RAW_CHUNK, insert_raw, insert_raw_run
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

SAMPLE = Path(__file__).parents[1] / "fixtures" / "legacy_sample"
#: Columns that hold the wall clock, not a result.
CLOCK = {"import_batches": {"started_at", "finished_at"}, "schema_migrations": {"applied_at"}}


def _rows_by_id(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in id order, ids included; REAL values as their exact hex, the stored
    report without its elapsed seconds."""
    out = {}
    for (table,) in db.query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"):
        cols = [r[1] for r in db.query(f'PRAGMA table_info("{table}")') if r[1] not in CLOCK.get(table, ())]
        order = ", ".join(str(i) for i in range(1, len(cols) + 1))  # ids first: id order
        rows = []
        for r in db.query(f'SELECT {", ".join(cols)} FROM "{table}" ORDER BY {order}'):
            row = [v.hex() if isinstance(v, float) else v for v in r]
            if table == "import_batches":
                doc = json.loads(row[cols.index("report_json")])
                doc.pop("elapsed_s")
                row[cols.index("report_json")] = doc
            rows.append(tuple(row))
        out[table] = rows
    return out


def _migrate(folder: Path, path: Path, *, blocks: bool) -> tuple[Database, dict[str, Any]]:
    db = Database(path)
    apply_migrations(db)
    parsed = parse_folder(folder)
    prices = [pf for pf in parsed.files if pf.kind == "prices"]
    assert any(pf.columns is not None for pf in prices)  # there are blocks to take
    if not blocks:
        for pf in prices:
            pf.columns = None  # the per-record path for every file
    report = import_parsed(db, parsed, source=str(folder.resolve())).to_dict()
    report.pop("elapsed_s")
    return db, report


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated folder with every kind of mess and damage, price files included."""
    from quantdb.datasets.legacy import write_legacy_folder
    from quantdb.datasets.market import generate_market

    root = tmp_path_factory.mktemp("blocks")
    market = generate_market(30, 3, seed=5)
    write_legacy_folder(market, root / "legacy", seed=105, n_predictions=800, n_trades=400, mess=True, damage=True)
    return root / "legacy"


@pytest.mark.parametrize("which", ["messy", "sample"])
def test_blocks_leave_the_database_the_per_record_path_leaves(which: str, messy_folder: Path, tmp_path: Path) -> None:
    folder = messy_folder if which == "messy" else SAMPLE
    fast, fast_report = _migrate(folder, tmp_path / "fast.db", blocks=True)
    exact, exact_report = _migrate(folder, tmp_path / "exact.db", blocks=False)
    assert fast_report == exact_report
    assert _rows_by_id(fast) == _rows_by_id(exact)
    if which == "messy":  # damaged price files (quarantined lines, null rows) took the exact path beside
        prices = {k: v for k, v in fast_report["files"].items() if k.startswith("price_history/")}
        assert sum(c["quarantined"] for c in prices.values()) > 0
        assert fast_report["flags"].get("null_price_row", 0) > 0
        assert fast.query("SELECT count(*) FROM quarantine")[0][0] > 0
    fast.close()
    exact.close()


def _raw_rows(db: Database) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.query("SELECT * FROM raw_records ORDER BY id")]


@pytest.mark.parametrize(
    "raws",
    [
        [f"2020-01-02,{i}.5,{i}.5,{i}.5,{i}.5,{i}.5,{i}" for i in range(MIN_RUN - 1)],  # too short for a run
        [f"2020-01-02,{i}.5,{i}.5,{i}.5,{i}.5,{i}.5,{i}" for i in range(RAW_CHUNK + MIN_RUN // 2)],  # two chunks
        [f"line {i}" for i in range(40)] + ["a NUL \x00 here"] + [f"line {i}" for i in range(40)],
        [f"l\u00e9gende {i} \U0001f600 \"quoted\" back\\slash" for i in range(80)],
    ],
    ids=["short", "two-chunks", "nul", "non-ascii"],
)
def test_insert_raw_run_writes_the_rows_insert_raw_writes(raws: list[str], tmp_path: Path) -> None:
    got = []
    for k, fast in enumerate((True, False)):
        db = Database(tmp_path / f"{k}.db")
        apply_migrations(db)
        with db.atomic() as c:
            c.execute("INSERT INTO import_batches (kind, source, started_at, status, quantdb_version) "
                      "VALUES ('legacy', 'x', '2026-01-01T00:00:00Z', 'committed', '0')")  # fmt: skip
            if fast:
                insert_raw_run(c, 1, 7, "price_history/AAA.csv", "price_history", "AAA", "imported", 11, raws)
            else:
                recs = [[i, "AAA", r, "imported", 11 + i, None] for i, r in enumerate(raws)]
                insert_raw(c, 1, 7, "price_history/AAA.csv", "price_history", recs)
        got.append(_raw_rows(db))
        db.close()
    assert got[0] == got[1]
    assert len(got[0]) == len(raws) and got[0][0][0] == 7 and got[0][-1][8] == 11 + len(raws) - 1
