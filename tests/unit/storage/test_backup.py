"""Online backup and restore: consistent while a writer runs, identical after a restore,
and a damaged backup is refused without touching the database."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from quantdb.errors import DatabaseDamaged, NotFound
from quantdb.services.records.prices import insert_prices
from quantdb.storage.backup import backup_database, restore_database
from quantdb.storage.sqlite import Database

BATCH = 50

QUERIES = [
    "SELECT * FROM price_history ORDER BY id",
    "SELECT * FROM tickers ORDER BY id",
    "SELECT * FROM import_batches ORDER BY id",
    (
        "SELECT t.symbol, count(*), sum(p.adj_close), min(p.date), max(p.date) FROM price_history p "
        "JOIN tickers t ON t.id = p.ticker_id GROUP BY t.symbol ORDER BY t.symbol"
    ),
    "SELECT * FROM sqlite_sequence ORDER BY name",
    "PRAGMA user_version",
]


def _results(path: Path) -> list[list[tuple[Any, ...]]]:
    """Every query's rows, read by a plain independent sqlite3 connection."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [conn.execute(q).fetchall() for q in QUERIES]
    finally:
        conn.close()


def _integrity(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def test_backup_while_another_thread_writes_is_consistent(db: Database, tmp_path: Path) -> None:
    with db.atomic() as conn:
        conn.execute("CREATE TABLE log (k INTEGER NOT NULL, v REAL NOT NULL) STRICT")
        conn.execute("CREATE TABLE total (n INTEGER NOT NULL, s REAL NOT NULL) STRICT")
        conn.execute("INSERT INTO total VALUES (0, 0)")
    committed: list[int] = [0]
    started = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        k = 0
        try:
            while not stop.is_set():
                with db.atomic() as conn:
                    rows = [(k, float(j)) for j in range(BATCH)]
                    conn.executemany("INSERT INTO log VALUES (?, ?)", rows)
                    conn.execute(
                        "UPDATE total SET n = n + ?, s = s + ?", (BATCH, sum(r[1] for r in rows))
                    )
                k += 1
                committed.append(k * BATCH)
                if k == 5:
                    started.set()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            started.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(30)
        backups = [backup_database(db, tmp_path / f"backup{i}.db") for i in range(3)]
    finally:
        stop.set()
        writer.join()
    assert errors == []
    for path in backups:
        assert _integrity(path) == ["ok"]
        conn = sqlite3.connect(path)
        try:
            n_log, s_log = conn.execute("SELECT count(*), coalesce(sum(v), 0) FROM log").fetchone()
            n_total, s_total = conn.execute("SELECT n, s FROM total").fetchone()
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
        assert n_log in committed  # a state that was committed, never half a transaction
        assert (n_log, s_log) == (n_total, s_total)  # both tables from the same snapshot
        assert mode == "delete"  # a single self-contained file
        assert not Path(str(path) + "-wal").exists()


def test_backup_to_a_folder_uses_the_database_name(legacy_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    out.mkdir()
    path = backup_database(legacy_db, out)
    assert path == out / legacy_db.path.name
    assert _results(path) == _results(legacy_db.path)


def test_restore_gives_identical_query_results(
    legacy_db: Database, tmp_path: Path, make_prices: Any
) -> None:
    db = legacy_db
    expected = _results(db.path)
    backup = backup_database(db, tmp_path / "backup.db")
    # Change the database every way: new bars, updates, deletes, a renamed ticker.
    insert_prices(db, make_prices(3, 30), source="later")
    with db.atomic() as conn:
        conn.execute("UPDATE price_history SET close = close * 2 WHERE id % 7 = 0")
        conn.execute("DELETE FROM price_history WHERE id % 11 = 0")
        conn.execute("UPDATE tickers SET symbol = 'RENAMED' WHERE symbol = 'AAPL'")
    changed = _results(db.path)
    assert changed != expected

    report = restore_database(db, backup)
    assert report.path == db.path and report.in_place
    assert _results(db.path) == expected
    # The database it replaced was kept, whole (issue 16, item 3).
    assert report.previous is not None and report.previous.parent == db.path.parent / "backups"
    assert _results(report.previous) == changed and _integrity(report.previous) == ["ok"]
    assert db.check().ok
    # The database is writable again, in WAL mode, and the restore did not consume the backup.
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AFTER')")
    assert db.writer().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert _integrity(backup) == ["ok"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damage(kind: str, good: Path, dest: Path) -> Path:
    if kind == "not_sqlite":
        dest.write_text("Date,Open,High\n2015-01-02,1,2\n" * 200)
        return dest
    shutil.copy(good, dest)
    size = dest.stat().st_size
    if kind == "truncated":
        os.truncate(dest, size // 2)
    else:  # overwritten pages in the middle of the file
        page = int.from_bytes(good.read_bytes()[16:18], "big")
        with open(dest, "r+b") as fh:
            fh.seek((size // page // 2) * page)
            fh.write(os.urandom(4 * page))
    return dest


@pytest.mark.parametrize("kind", ["overwritten_pages", "truncated", "not_sqlite"])
def test_restore_from_a_damaged_file_refuses_and_keeps_the_database(
    legacy_db: Database, tmp_path: Path, kind: str
) -> None:
    db = legacy_db
    good = backup_database(db, tmp_path / "good.db")
    bad = _damage(kind, good, tmp_path / f"{kind}.db")
    expected = _results(db.path)
    db.close()  # checkpoint, so that the main file holds everything and its bytes can be compared
    digest = _sha(db.path)
    with pytest.raises(DatabaseDamaged, match="nothing was restored") as info:
        restore_database(db, bad)
    assert str(bad) in str(info.value)
    assert _sha(db.path) == digest
    assert _results(db.path) == expected
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or "restoring" in p.name]
    assert not (tmp_path / "backups").exists()  # refused before anything was copied


def test_restore_from_a_missing_file_is_not_found(legacy_db: Database, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such backup"):
        restore_database(legacy_db, tmp_path / "nope.db")
