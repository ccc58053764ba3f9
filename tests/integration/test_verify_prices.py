"""`verify_folder` proves a price file a column at a time when nothing differs; whatever
differs is still found and named line by line, exactly as before, whatever the file holds
(null lines, NaN texts, values read through `_num`)."""

from __future__ import annotations

from pathlib import Path

from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.verify import verify_folder
from quantdb.storage.sqlite import Database

FILE = "price_history/AAPL.csv"


def _ids(db: Database, positions: tuple[int, ...]) -> dict[int, int]:
    rows = db.query(f"SELECT position, target_id FROM raw_records WHERE file = ? AND position IN "
                    f"({', '.join('?' * len(positions))})", (FILE, *positions))  # fmt: skip
    return {r[0]: r[1] for r in rows}


def test_a_file_with_null_lines_verifies_and_each_change_is_named(legacy_dir: Path, tmp_path: Path) -> None:
    p = legacy_dir / FILE
    lines = p.read_text().splitlines()
    day3, day6 = lines[3].split(",")[0], lines[6].split(",")[0]
    lines[3] = f"{day3},null,null,null,null,null,null"  # record 2: a null_price_row
    lines[6] = f"{day6},,,,,,"  # record 5: empty cells, read as nulls too
    p.write_text("\n".join(lines) + "\n")
    db = Database(tmp_path / "q.db")
    report = migrate_folder(db, legacy_dir)
    assert report.totals.balanced and report.flags.get("null_price_row", 0) >= 2
    assert verify_folder(db, legacy_dir).ok
    ids = _ids(db, (2, 5, 9, 20))
    with db.atomic() as conn:
        conn.execute("UPDATE price_history SET close = 5.0 WHERE id = ?", (ids[2],))  # a null gets a value
        conn.execute("UPDATE price_history SET volume = NULL WHERE id = ?", (ids[9],))  # a value lost
        conn.execute("UPDATE price_history SET adj_close = adj_close * (1 + 1e-14) WHERE id = ?", (ids[20],))  # within _same
    got = verify_folder(db, legacy_dir)
    assert not got.ok and got.n_differences == 2, got.differences
    assert got.differences[0] == f"{FILE} record 2: close: file 'null', database 5.0"
    volume = lines[10].split(",")[-1]
    assert got.differences[1] == f"{FILE} record 9: volume: file '{volume}', database None"
    db.close()


def test_a_nan_text_is_read_as_missing_by_both_readings(legacy_dir: Path, tmp_path: Path) -> None:
    """``nan`` parses as a float (NaN) but verify's reading of it is `_num`'s: missing. A
    file holding one is proven without a difference, and a changed value beside it is named."""
    p = legacy_dir / FILE
    lines = p.read_text().splitlines()
    day = lines[4].split(",")[0]
    lines[4] = f"{day},nan,nan,nan,nan,nan,nan"  # record 3
    p.write_text("\n".join(lines) + "\n")
    db = Database(tmp_path / "q.db")
    migrate_folder(db, legacy_dir)
    assert verify_folder(db, legacy_dir).ok
    ids = _ids(db, (7,))
    with db.atomic() as conn:
        conn.execute("UPDATE price_history SET open = open * 2 WHERE id = ?", (ids[7],))
    got = verify_folder(db, legacy_dir)
    assert got.n_differences == 1 and got.differences[0].startswith(f"{FILE} record 7: open: file '"), got
    db.close()
