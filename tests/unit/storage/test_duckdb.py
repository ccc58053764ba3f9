"""DuckDB over the SQLite file: the pinned sqlite_scanner loads with the network unreachable,
nothing is installed or downloaded, the attach is read-only, and results equal sqlite3's."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from quantdb.client import QuantDB
from quantdb.storage.duck import DuckEngine, sqlite_scanner_path

OFFLINE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import quantdb
    q = quantdb.connect(sys.argv[1], create=False)
    frame = q.sql("SELECT count(*) AS n, sum(adj_close) AS s FROM price_history")
    con = q.duck.con
    ext = con.execute(
        "SELECT extension_name, loaded, installed, install_path FROM duckdb_extensions() "
        "WHERE extension_name = 'sqlite_scanner'"
    ).fetchone()
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('autoinstall_known_extensions', 'autoload_known_extensions', 'allow_unsigned_extensions', "
        "'allow_community_extensions')"
    ).fetchall())
    installed = [r[0] for r in con.execute(
        "SELECT extension_name FROM duckdb_extensions() WHERE installed AND install_path <> '(BUILT-IN)'"
    ).fetchall()]
    print(json.dumps({"n": frame["n"][0], "s": frame["s"][0], "ext": list(ext),
                      "settings": settings, "installed": installed}))
    """
)


def test_attach_with_the_network_unreachable(legacy_db_path: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),  # DuckDB would install extensions under ~/.duckdb
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "no_proxy": "",
        "NO_PROXY": "",
    }
    proc = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, str(legacy_db_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    conn = sqlite3.connect(legacy_db_path)
    n, s = conn.execute("SELECT count(*), sum(adj_close) FROM price_history").fetchone()
    conn.close()
    assert out["n"] == n == 30996
    assert math.isclose(out["s"], s, rel_tol=1e-12)  # summation order may differ
    name, loaded, installed, install_path = out["ext"]
    assert (name, loaded, installed) == (
        "sqlite_scanner",
        True,
        False,
    )  # loaded from the wheel file
    assert install_path in ("", None)
    assert out["installed"] == []
    assert out["settings"] == {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_unsigned_extensions": "false",
        "allow_community_extensions": "false",
    }
    assert not (home / ".duckdb").exists()  # nothing was installed or downloaded


def test_extension_comes_from_the_pinned_wheel() -> None:
    path = sqlite_scanner_path()
    assert path.is_file()
    assert f"v{duckdb.__version__}" in path.parts
    assert "duckdb_extension_sqlite_scanner" in str(path)


@pytest.fixture
def legacy_db_path(legacy_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "legacy.db"
    shutil.copy(legacy_file, path)
    return path


@pytest.fixture
def q(legacy_db_path: Path) -> Iterator[QuantDB]:
    qdb = QuantDB(legacy_db_path, create=False)
    yield qdb
    qdb.close()


def _sqlite(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame.iter_rows()]


ROW_QUERIES = [
    # Plain table names, a join, NULL bars, text dates: DuckDB must hand back exactly what
    # sqlite3 reads (the same stored doubles, so exact equality holds).
    (
        "SELECT t.symbol, p.date, p.open, p.high, p.low, p.close, p.adj_close, p.volume "
        "FROM price_history p JOIN tickers t ON t.id = p.ticker_id ORDER BY t.symbol, p.date"
    ),
    "SELECT id, symbol, name, sector, market_cap FROM tickers ORDER BY id",
    (
        "SELECT t.symbol, count(*), count(p.close), min(p.date), max(p.date), max(p.volume) "
        "FROM price_history p JOIN tickers t ON t.id = p.ticker_id GROUP BY t.symbol ORDER BY t.symbol"
    ),
    "SELECT id, kind, source, status FROM import_batches ORDER BY id",
]


@pytest.mark.parametrize("query", ROW_QUERIES, ids=["bars", "tickers", "per_ticker", "batches"])
def test_sql_results_equal_sqlite(q: QuantDB, query: str) -> None:
    assert _rows(q.sql(query)) == _sqlite(q.path, query)


def test_sql_types_follow_the_strict_schema(q: QuantDB) -> None:
    frame = q.sql("SELECT ticker_id, date, adj_close, volume FROM price_history LIMIT 5")
    assert frame.schema == {
        "ticker_id": pl.Int64,
        "date": pl.String,
        "adj_close": pl.Float64,
        "volume": pl.Int64,
    }
    sums = q.sql(
        "SELECT ticker_id, sum(adj_close) AS s FROM price_history GROUP BY ticker_id ORDER BY ticker_id"
    )
    want = _sqlite(
        q.path,
        "SELECT ticker_id, sum(adj_close) FROM price_history GROUP BY ticker_id ORDER BY ticker_id",
    )
    assert [r[0] for r in sums.iter_rows()] == [r[0] for r in want]
    for (_, a), (_, b) in zip(sums.iter_rows(), want, strict=True):
        assert math.isclose(a, b, rel_tol=1e-12)  # summation order may differ
    arrays = q.duck.numpy(
        "SELECT adj_close FROM price_history WHERE adj_close IS NOT NULL ORDER BY id"
    )
    assert arrays["adj_close"].dtype.kind == "f"
    assert list(arrays["adj_close"]) == [
        r[0]
        for r in _sqlite(
            q.path, "SELECT adj_close FROM price_history WHERE adj_close IS NOT NULL ORDER BY id"
        )
    ]


def test_bound_parameters(q: QuantDB) -> None:
    frame = q.sql(
        "SELECT count(*) AS n FROM price_history WHERE date >= ? AND date <= ?",
        ["2016-01-01", "2016-12-31"],
    )
    want = _sqlite(
        q.path,
        "SELECT count(*) FROM price_history WHERE date BETWEEN '2016-01-01' AND '2016-12-31'",
    )
    assert frame["n"][0] == want[0][0] > 0


def test_attach_is_read_only(q: QuantDB) -> None:
    before = _sqlite(q.path, "SELECT count(*) FROM tickers")
    with pytest.raises(duckdb.Error, match="(?i)read.only"):
        q.sql("INSERT INTO tickers (symbol) VALUES ('NOPE')")
    with pytest.raises(duckdb.Error):
        q.sql("DELETE FROM price_history")
    assert _sqlite(q.path, "SELECT count(*) FROM tickers") == before


def test_writes_close_duckdb_first_and_sql_sees_them_after(q: QuantDB) -> None:
    assert q.sql("SELECT count(*) AS n FROM tickers")["n"][0] == 41
    with q.atomic() as conn:
        assert q._duck is None  # the attach is closed before this process writes
        conn.execute("INSERT INTO tickers (symbol) VALUES ('NEW')")
    assert q.sql("SELECT count(*) AS n FROM tickers")["n"][0] == 42


def test_engine_on_a_fresh_connection(legacy_db_path: Path) -> None:
    engine = DuckEngine(legacy_db_path)
    try:
        frame = engine.sql("SELECT symbol FROM tickers WHERE symbol = 'BRK.B'")
        assert _rows(frame) == [("BRK.B",)]
    finally:
        engine.close()
