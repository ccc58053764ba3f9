"""A restore under an open session (issue 16, item 1).

A notebook holds ``qdb.connect("nb.db")`` in its own process while ``quantdb restore`` runs.
The restore copies the backup's pages into the live file (SQLite's backup API, under the
writer lock), so the notebook's next read shows the restored content and its next write lands
in the file everyone sees, not in a deleted one. A session whose file was swapped by rename
underneath it (another tool) refuses to write, in one line, and its readers follow the path.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.errors import DatabaseError
from quantdb.storage.backup import backup_database
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

REPO = Path(__file__).resolve().parents[3]

NOTEBOOK = textwrap.dedent(
    """
    import json, os, sys, time
    import quantdb as qdb
    path, ready, go = sys.argv[1:4]
    db = qdb.connect(path)
    seen = {"before": db.tickers()}
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    seen["after_restore"] = db.tickers()                      # a reader of the open session
    with db.atomic() as conn:                                 # the notebook's next write
        conn.execute("INSERT INTO tickers (symbol) VALUES ('NOTEBOOK')")
    seen["after_write"] = db.tickers()
    print(json.dumps(seen))
    """
)


def _symbols(path: Path) -> list[str]:
    """What any other process sees: a fresh, plain sqlite3 connection."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT symbol FROM tickers ORDER BY symbol")]
    finally:
        conn.close()


def _db_with(path: Path, *symbols: str) -> Database:
    db = Database(path)
    apply_migrations(db)
    with db.atomic() as conn:
        conn.executemany("INSERT INTO tickers (symbol) VALUES (?)", [(s,) for s in symbols])
    return db


def test_restore_reaches_a_session_open_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "nb.db"
    db = _db_with(path, "OLD")
    backup = backup_database(db, tmp_path / "nb_backup.db")
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('LATER')")
    db.close()
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    nb = subprocess.Popen([sys.executable, "-c", NOTEBOOK, str(path), str(ready), str(go)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and nb.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), nb.communicate()[1]
        res = CliRunner().invoke(app, ["restore", str(backup), "--db", str(path), "--json"])
        assert res.exit_code == 0, res.stderr
        doc = json.loads(res.stdout)
        assert doc["in_place"] is True
        assert _symbols(path) == ["OLD"]
        go.write_text("go")
        out, err = nb.communicate(timeout=120)
    finally:
        if nb.poll() is None:
            nb.kill()
    assert nb.returncode == 0, err
    seen = json.loads(out)
    assert seen["before"] == ["LATER", "OLD"]
    assert seen["after_restore"] == ["OLD"]  # the open session sees the restored content
    assert seen["after_write"] == ["NOTEBOOK", "OLD"]
    assert _symbols(path) == ["NOTEBOOK", "OLD"]  # and its write is in the file others read
    # The replaced content was kept where the restore said.
    assert _symbols(Path(doc["previous"])) == ["LATER", "OLD"]
    assert Database(path).check().ok


def test_a_session_whose_file_was_replaced_refuses_to_write(tmp_path: Path) -> None:
    path = tmp_path / "nb.db"
    db = _db_with(path, "OLD")
    other = tmp_path / "other.db"
    backup_database(db, other)  # a self-contained file (DELETE journal mode)
    plain = sqlite3.connect(other)
    plain.execute("INSERT INTO tickers (symbol) VALUES ('OTHER')")
    plain.commit()
    plain.close()
    # Another program swaps the file by rename, as quantdb's restore used to do.
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(other, path)
    with pytest.raises(DatabaseError, match="replaced by another file") as info, db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('LOST')")
    assert len(str(info.value).splitlines()) == 1 and "reopen" in str(info.value)
    assert "LOST" not in _symbols(path)
    assert [r[0] for r in db.query("SELECT symbol FROM tickers ORDER BY 1")] == ["OLD", "OTHER"]
    db.close()  # reopened: writes go to the file at the path
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES ('AFTER')")
    assert _symbols(path) == ["AFTER", "OLD", "OTHER"]
    db.close()


def test_restore_over_a_damaged_file_replaces_it_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    db = _db_with(path, "GOOD")
    backup = backup_database(db, tmp_path / "b.db")
    db.close()
    shutil.copy(path, tmp_path / "intact.db")
    path.write_text("not a database any more\n" * 100)
    report = Database(path)
    from quantdb.storage.backup import restore_database

    result = restore_database(report, backup)
    report.close()
    assert _symbols(path) == ["GOOD"] and not result.in_place
    assert result.previous is not None
    assert result.previous.read_text().startswith("not a database any more")


def test_serve_shows_the_restored_content(sample_db: Path, tmp_path: Path) -> None:
    """`quantdb serve` keeps its read-only connections open: after a restore they must read the
    restored content, not the replaced file."""
    from starlette.testclient import TestClient

    from quantdb.web.app import create_app

    path = tmp_path / "quant.db"
    shutil.copy(sample_db, path)
    backup = backup_database(Database(path), tmp_path / "b.db")
    with TestClient(create_app(path), base_url="http://127.0.0.1") as client:
        n_trades = len(client.get("/api/trades_data.json").json())
        assert n_trades > 0
        plain = sqlite3.connect(path)
        plain.execute("DELETE FROM trades")
        plain.commit()
        plain.close()
        assert len(client.get("/api/trades_data.json").json()) == 0
        res = CliRunner().invoke(app, ["restore", str(backup), "--db", str(path)])
        assert res.exit_code == 0, res.stderr
        assert len(client.get("/api/trades_data.json").json()) == n_trades
