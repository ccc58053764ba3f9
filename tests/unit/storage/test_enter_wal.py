"""`enter_wal`: the switch to WAL is tried again while SQLite answers "database is locked".

SQLite answers so at once, without its busy handler, when several processes open one new file
together (the CI failure behind this test: one of four concurrent `quantdb init` runs exited 2
with "database is locked"). Here the lock is held by another connection for a moment and the
switching connection has no busy timeout, so only the retry can carry it through.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from quantdb.storage.sqlite import enter_wal


def _hold_exclusive(path: Path, release: threading.Event, held: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    held.set()
    release.wait(10)
    conn.execute("ROLLBACK")
    conn.close()


def test_the_switch_waits_out_a_lock_that_sqlite_reports_at_once(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).close()
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(path, release, held))
    holder.start()
    held.wait(10)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("PRAGMA journal_mode = WAL")  # what the bare pragma does
        threading.Timer(0.2, release.set).start()
        assert enter_wal(conn) == "wal"
    finally:
        release.set()
        holder.join()
        conn.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError):
        enter_wal(conn)
