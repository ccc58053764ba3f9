"""`Database.atomic()`: all or nothing, savepoints, concurrency across threads and processes,
and a full disk. Real files; the other processes are real `python -c` subprocesses."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from quantdb.errors import DatabaseError, DatabaseFull
from quantdb.services.records.prices import insert_prices
from quantdb.storage.sqlite import Database

PY = sys.executable
BATCH = 10  # rows per write transaction in the concurrency tests


def _symbols(db: Database) -> list[str]:
    return [r[0] for r in db.query("SELECT symbol FROM tickers ORDER BY symbol")]


def test_atomic_commits(db: Database) -> None:
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AAA')")
    assert _symbols(db) == ["AAA"]
    assert not db.writer().in_transaction


def test_atomic_rolls_back_on_python_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AAA')")
        raise RuntimeError("boom")
    assert _symbols(db) == []
    assert not db.writer().in_transaction


def test_atomic_rolls_back_on_sqlite_error_and_names_the_file(db: Database) -> None:
    with pytest.raises(DatabaseError, match="CHECK constraint failed") as info, db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AAA')")
        conn.execute("INSERT INTO tickers (symbol) VALUES ('lower')")  # refused by CHECK
    assert str(db.path) in str(info.value)
    assert _symbols(db) == []


def test_atomic_rolls_back_on_keyboard_interrupt(db: Database) -> None:
    with pytest.raises(KeyboardInterrupt), db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AAA')")
        raise KeyboardInterrupt
    assert _symbols(db) == []
    # The writer lock file was released: a non-blocking lock succeeds.
    fd = os.open(db.lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_nested_savepoint_rollback_keeps_outer_work(db: Database) -> None:
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('OUTER')")
        with pytest.raises(ValueError, match="inner"), db.atomic() as inner:
            inner.execute("INSERT INTO tickers (symbol) VALUES ('INNER')")
            raise ValueError("inner")
        with pytest.raises(DatabaseError, match="UNIQUE"), db.atomic() as inner:
            inner.execute("INSERT INTO tickers (symbol) VALUES ('INNER2')")
            inner.execute("INSERT INTO tickers (symbol) VALUES ('OUTER')")  # duplicate
        with db.atomic() as inner:
            inner.execute("INSERT INTO tickers (symbol) VALUES ('KEPT')")
            with db.atomic() as deeper:
                deeper.execute("INSERT INTO tickers (symbol) VALUES ('DEEP')")
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AFTER')")
    assert _symbols(db) == ["AFTER", "DEEP", "KEPT", "OUTER"]


def test_outer_failure_undoes_released_savepoints(db: Database) -> None:
    with pytest.raises(RuntimeError), db.atomic():
        with db.atomic() as inner:
            inner.execute("INSERT INTO tickers (symbol) VALUES ('INNER')")
        raise RuntimeError("outer fails after the inner block succeeded")
    assert _symbols(db) == []


# -- concurrency ---------------------------------------------------------------------------------


def _write_batches(db: Database, first: int, n: int) -> None:
    """``n`` transactions of BATCH rows each into a scratch table (values first, first+1, ...)."""
    for k in range(first, first + n):
        with db.atomic() as conn:
            conn.executemany(
                "INSERT INTO scratch (k, v) VALUES (?, ?)", [(k, j) for j in range(BATCH)]
            )


@pytest.fixture
def scratch_db(db: Database) -> Database:
    with db.atomic() as conn:
        conn.execute("CREATE TABLE scratch (k INTEGER NOT NULL, v INTEGER NOT NULL) STRICT")
    return db


def test_reader_threads_read_while_a_writer_inserts(scratch_db: Database) -> None:
    db = scratch_db
    stop = threading.Event()
    seen: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def read(tid: int) -> None:
        out = seen.setdefault(tid, [])
        try:
            while True:  # at least one read, and one after the writer is done
                finished = stop.is_set()
                out.append(int(db.scalar("SELECT count(*) FROM scratch")))
                if finished:
                    break
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for t in readers:
        t.start()
    try:
        _write_batches(db, 0, 150)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    for counts in seen.values():
        assert counts[-1] == 150 * BATCH
        assert counts == sorted(counts)  # never goes back in time
        assert all(c % BATCH == 0 for c in counts)  # never a half-written transaction
    assert db.scalar("SELECT count(*) FROM scratch") == 150 * BATCH


READER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from quantdb.storage.sqlite import Database
    db = Database(sys.argv[1]); done = Path(sys.argv[2]); ready = Path(sys.argv[3])
    seen, errors = [db.scalar("SELECT count(*) FROM scratch")], []   # before the writer starts
    ready.write_text("1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        finished = done.exists()
        try:
            seen.append(db.scalar("SELECT count(*) FROM scratch"))
        except Exception as exc:
            errors.append(repr(exc))
        if finished:
            break
    print(json.dumps({"seen": seen, "errors": errors}))
    """
)


def test_reader_process_reads_while_a_writer_inserts(scratch_db: Database, tmp_path: Path) -> None:
    db = scratch_db
    _write_batches(db, 0, 1)
    done, ready = tmp_path / "done", tmp_path / "ready"
    proc = subprocess.Popen(
        [PY, "-c", READER_SCRIPT, str(db.path), str(done), str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        _write_batches(db, 1, 150)
        done.write_text("1")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["errors"] == []  # in particular no "database is locked"
    seen = result["seen"]
    assert seen == sorted(seen)
    assert all(c % BATCH == 0 for c in seen)
    assert seen[-1] == 151 * BATCH
    assert seen[0] < seen[-1]


WRITER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from quantdb.storage.sqlite import Database
    db = Database(sys.argv[1]); n = int(sys.argv[2]); spans = []
    for _ in range(n):
        with db.atomic() as conn:
            t0 = time.monotonic()
            v = conn.execute("SELECT v FROM counter").fetchone()[0]   # read, then write
            time.sleep(0.002)
            conn.execute("UPDATE counter SET v = ?", (v + 1,))
            spans.append((t0, time.monotonic()))
    print(json.dumps(spans))
    """
)


def test_two_writer_processes_serialize(db: Database) -> None:
    with db.atomic() as conn:
        conn.execute("CREATE TABLE counter (v INTEGER NOT NULL) STRICT")
        conn.execute("INSERT INTO counter VALUES (0)")
    n = 25
    procs = [
        subprocess.Popen(
            [PY, "-c", WRITER_SCRIPT, str(db.path), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    spans: list[tuple[float, float]] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        spans.extend(tuple(s) for s in json.loads(out))
    assert db.scalar("SELECT v FROM counter") == 2 * n  # no lost update
    spans.sort()
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlaps == []


ONE_WRITE_SCRIPT = textwrap.dedent(
    """
    import sys
    from quantdb.storage.sqlite import Database
    db = Database(sys.argv[1])
    print("waiting", flush=True)
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('LATE')")
    print("written", flush=True)
    """
)


def test_writer_waits_for_the_lock_file(db: Database) -> None:
    """This process holds only the lock file (no SQLite lock): the other writer must wait."""
    fd = os.open(db.lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    proc = subprocess.Popen(
        [PY, "-c", ONE_WRITE_SCRIPT, str(db.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        assert proc.poll() is None  # still blocked on the lock file
        assert _symbols(db) == []
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "written"
    assert _symbols(db) == ["LATE"]


# -- a full disk -----------------------------------------------------------------------------


def _snapshot(db: Database) -> dict[str, Any]:
    return {
        "prices": [tuple(r) for r in db.query("SELECT * FROM price_history ORDER BY id")],
        "tickers": [tuple(r) for r in db.query("SELECT * FROM tickers ORDER BY id")],
        "batches": [tuple(r) for r in db.query("SELECT * FROM import_batches ORDER BY id")],
    }


def test_full_disk_gives_a_clear_error_and_keeps_the_data(db: Database, make_prices: Any) -> None:
    insert_prices(db, make_prices(3, 20), source="first")
    before = _snapshot(db)
    conn = db.writer()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    big = make_prices(40, 250, start="2016-01-01")  # 10,000 bars: far more than 2 pages
    with pytest.raises(DatabaseFull) as info:
        insert_prices(db, big, source="second")
    msg = str(info.value)
    assert "full" in msg and str(db.path) in msg and "rolled back" in msg
    assert not conn.in_transaction
    assert _snapshot(db) == before
    assert db.check().ok
    # Once space is back, the same import works: nothing was left half-done.
    conn.execute("PRAGMA max_page_count = 1073741823")
    report = insert_prices(db, big, source="second")
    assert report.totals["inserted"] == big.height
    assert db.scalar("SELECT count(*) FROM price_history") == len(before["prices"]) + big.height


def test_full_disk_inside_a_savepoint_cannot_leave_half_a_transaction(
    db: Database, make_prices: Any
) -> None:
    """On SQLITE_FULL, SQLite rolls back the whole transaction, savepoints included. Code that
    catches the inner error and carries on must not autocommit its later statements."""
    insert_prices(db, make_prices(2, 10), source="first")
    before = _snapshot(db)
    conn = db.writer()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    blob = "x" * 2000
    with (
        pytest.raises(DatabaseError, match="rolled back the whole transaction"),
        db.atomic() as outer,
    ):
        outer.execute("INSERT INTO tickers (symbol) VALUES ('OUTER')")
        with pytest.raises(DatabaseFull), db.atomic() as inner:
            inner.executemany(
                "INSERT INTO import_batches (kind, source, started_at, quantdb_version)"
                " VALUES ('manual', ?, '2024-01-01T00:00:00', 'x')",
                [(blob,)] * 200,
            )
        outer.execute("INSERT INTO tickers (symbol) VALUES ('LATER')")  # must not autocommit
    assert not conn.in_transaction
    assert _snapshot(db) == before


def test_a_failed_write_gives_the_wal_space_back(db: Database, make_prices: Any) -> None:
    """Issue 16, item 6: a transaction that spilled megabytes into the WAL and then failed (a
    full disk) must not leave them there: on a really full disk every later read would fail."""
    insert_prices(db, make_prices(3, 20), source="first")
    before = _snapshot(db)
    conn = db.writer()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 3000}")  # about 12 MB more, then "full"
    big = make_prices(200, 1000, start="2016-01-01")  # far more than 12 MB of rows and indexes
    with pytest.raises(DatabaseFull):
        insert_prices(db, big, source="second")
    assert Path(f"{db.path}-wal").stat().st_size == 0  # truncated (it held ~12 MB of pages)
    assert _snapshot(db) == before
    assert db.check().ok
    conn.execute("PRAGMA max_page_count = 1073741823")
    insert_prices(db, make_prices(2, 5, start="2019-01-01"), source="third")  # and writes go on
