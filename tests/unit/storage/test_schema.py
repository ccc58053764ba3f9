"""The schema: it applies, upgrades a populated older database in place, and refuses nonsense.

Real SQLite files in tmp_path. Every constraint case first inserts the good row (then rolls it
back) so that the refusal is proven to come from the one bad value, not from the base row.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantdb.errors import DatabaseError, MigrationError
from quantdb.services.records.prices import insert_prices
from quantdb.storage.migrations import apply_migrations, schema_version, split_statements, sql_dir
from quantdb.storage.sqlite import Database

PLAN_TABLES = {
    "predictions": {
        "id",
        "date",
        "strategy_id",
        "ticker_id",
        "position",
        "confidence",
        "target",
        "timeframe",
        "stop_loss",
        "entry_price",
        "status",
        "legacy_id",
    },
    "trades": {
        "id",
        "prediction_id",
        "entry_date",
        "entry_price",
        "exit_date",
        "exit_price",
        "status",
        "pnl",
        "ticker_id",
        "side",
        "shares",
        "fees",
        "legacy_id",
    },
    "strategies": {"id", "name", "description", "min_hold_days", "max_hold_days"},
    "tickers": {"id", "symbol", "name", "sector", "market_cap"},
    "price_history": {
        "id",
        "ticker_id",
        "date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "adj_close",
    },
    "performance_metrics": {
        "id",
        "strategy_id",
        "date",
        "accuracy",
        "sharpe",
        "max_drawdown",
        "total_return",
    },
    "volume_leaders": {"id", "date", "timeframe", "rank", "ticker_id", "volume", "price"},
    "backtest_results": {
        "id",
        "strategy_id",
        "start_date",
        "end_date",
        "total_return",
        "sharpe",
        "max_dd",
        "trades",
    },
}
SUPPORT_TABLES = {"import_batches", "raw_records", "quarantine", "schema_migrations"}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def test_schema_applies_once_with_every_plan_table(db: Database) -> None:
    conn = db.writer()
    assert schema_version(db) == len(list(sql_dir().glob("0*.sql")))
    for table, wanted in PLAN_TABLES.items():
        assert wanted <= _columns(conn, table), table
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert set(PLAN_TABLES) | SUPPORT_TABLES <= names
    # Every quantdb table is STRICT (DuckDB's scanner reads the declared types).
    strict = {r[1]: r[5] for r in conn.execute("PRAGMA table_list") if r[0] == "main"}
    loose = [n for n, s in strict.items() if not s and not n.startswith("sqlite_")]
    assert loose == []
    # Foreign keys are named after their table.
    fks = {(r[2], r[3]) for r in conn.execute("PRAGMA foreign_key_list(predictions)")}
    assert {("strategies", "strategy_id"), ("tickers", "ticker_id")} <= fks
    assert ("predictions", "prediction_id") in {
        (r[2], r[3]) for r in conn.execute("PRAGMA foreign_key_list(trades)")
    }
    assert apply_migrations(db) == []  # idempotent
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    sql = (
        "-- a comment\nCREATE TABLE a (x INTEGER);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  UPDATE a SET x = 2;\nEND;\n"
        "-- trailing comment\n"
    )
    parts = split_statements(sql)
    assert len(parts) == 2
    assert parts[1].startswith("CREATE TRIGGER") and parts[1].rstrip().endswith("END;")
    with pytest.raises(MigrationError, match="incomplete"):
        split_statements("CREATE TABLE b (x INTEGER)")


# -- upgrading an older, populated database -----------------------------------------------------

REBUILD_0002 = """-- quantdb: foreign_keys=off
-- Version 2 (test only): tickers gain a column; strategies are rebuilt with a new column.
ALTER TABLE tickers ADD COLUMN exchange TEXT;
CREATE TABLE strategies_new (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE CHECK (name <> '' AND name = lower(trim(name))),
    description   TEXT,
    min_hold_days INTEGER CHECK (min_hold_days IS NULL OR min_hold_days >= 0),
    max_hold_days INTEGER CHECK (max_hold_days IS NULL OR max_hold_days >= 1),
    extra         TEXT    CHECK (extra IS NULL OR json_valid(extra)),
    batch_id      INTEGER REFERENCES import_batches (id),
    category      TEXT    NOT NULL DEFAULT 'uncategorized',
    CHECK (min_hold_days IS NULL OR max_hold_days IS NULL OR max_hold_days >= min_hold_days)
) STRICT;
INSERT INTO strategies_new (id, name, description, min_hold_days, max_hold_days, extra, batch_id)
SELECT id, name, description, min_hold_days, max_hold_days, extra, batch_id FROM strategies;
DROP TABLE strategies;
ALTER TABLE strategies_new RENAME TO strategies;
"""


@pytest.fixture
def v1_folder(tmp_path: Path) -> Path:
    """A migration folder holding only the real 0001 file."""
    folder = tmp_path / "sql_v1"
    folder.mkdir()
    shutil.copy(sql_dir() / "0001_init.sql", folder / "0001_init.sql")
    return folder


@pytest.fixture
def v1_db(tmp_path: Path, v1_folder: Path, make_prices: Any) -> Iterator[Database]:
    """A populated database at schema version 1: strategies, predictions, trades, prices."""
    database = Database(tmp_path / "old.db")
    assert apply_migrations(database, v1_folder) == [1]
    insert_prices(database, make_prices(4, 30), source="test")
    with database.atomic() as conn:
        conn.execute(
            "INSERT INTO strategies (id, name, min_hold_days, max_hold_days) VALUES (1, 'momentum', 1, 10)"
        )
        conn.execute("INSERT INTO strategies (id, name) VALUES (2, 'breakout')")
        for i in range(20):
            conn.execute(
                "INSERT INTO predictions (id, legacy_id, date, strategy_id, ticker_id, position, confidence)"
                " VALUES (?, ?, '2015-01-05', ?, 1, 'LONG', 0.6)",
                (i + 1, f"P{i}", 1 + i % 2),
            )
        conn.execute(
            "INSERT INTO trades (prediction_id, ticker_id, side, entry_date, entry_price, shares, status)"
            " VALUES (1, 1, 'long', '2015-01-05', 10.0, 100, 'OPEN')"
        )
    yield database
    database.close()


def _dump(db: Database, table: str, columns: str = "*") -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.query(f"SELECT {columns} FROM {table} ORDER BY 1")]


def test_older_populated_database_upgrades_in_place(
    v1_db: Database, v1_folder: Path, tmp_path: Path
) -> None:
    before = {t: _dump(v1_db, t) for t in ("price_history", "predictions", "trades", "tickers")}
    strategies_before = _dump(v1_db, "strategies")
    assert schema_version(v1_db) == 1

    folder = tmp_path / "sql_v2"
    shutil.copytree(v1_folder, folder)
    (folder / "0002_rebuild_strategies.sql").write_text(REBUILD_0002)
    assert apply_migrations(v1_db, folder) == [2]

    assert schema_version(v1_db) == 2
    assert [r[0] for r in v1_db.query("SELECT version FROM schema_migrations ORDER BY 1")] == [1, 2]
    # Child rows survived the parent's rebuild (a rebuild with foreign keys on would have
    # refused or deleted them), and every row of every other table is unchanged.
    for table, rows in before.items():
        after = _dump(
            v1_db,
            table,
            "*"
            if table != "tickers"
            else "id, symbol, name, sector, market_cap, market_cap_raw, extra, batch_id",
        )
        assert after == rows, table
    assert (
        _dump(
            v1_db,
            "strategies",
            "id, name, description, min_hold_days, max_hold_days, extra, batch_id",
        )
        == strategies_before
    )
    assert {r[0] for r in v1_db.query("SELECT category FROM strategies")} == {"uncategorized"}
    assert v1_db.query("PRAGMA foreign_key_check") == []
    joined = v1_db.scalar(
        "SELECT count(*) FROM predictions p JOIN strategies s ON s.id = p.strategy_id"
    )
    assert joined == 20
    # The rebuilt table still enforces its constraints and foreign keys point at it.
    with pytest.raises(DatabaseError, match="FOREIGN KEY"), v1_db.atomic() as conn:
        conn.execute(
            "INSERT INTO predictions (date, strategy_id, ticker_id, position) VALUES ('2015-01-05', 99, 1, 'LONG')"
        )
    assert apply_migrations(v1_db, folder) == []


def test_failed_migration_rolls_back_whole_file(
    v1_db: Database, v1_folder: Path, tmp_path: Path
) -> None:
    """Without the foreign_keys=off marker the DROP of a parent table fails, and the
    ALTER TABLE that ran before it in the same file is undone too (one transaction per file)."""
    folder = tmp_path / "sql_bad"
    shutil.copytree(v1_folder, folder)
    body = REBUILD_0002.replace("-- quantdb: foreign_keys=off\n", "")
    (folder / "0002_rebuild_strategies.sql").write_text(body)
    before = _dump(v1_db, "predictions")
    with pytest.raises(DatabaseError, match="FOREIGN KEY"):
        apply_migrations(v1_db, folder)
    assert schema_version(v1_db) == 1
    assert "exchange" not in _columns(v1_db.writer(), "tickers")
    assert "strategies_new" not in {r[0] for r in v1_db.query("SELECT name FROM sqlite_schema")}
    assert _dump(v1_db, "predictions") == before


def test_edited_applied_migration_is_refused(v1_db: Database, v1_folder: Path) -> None:
    path = v1_folder / "0001_init.sql"
    path.write_text(path.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        apply_migrations(v1_db, v1_folder)


def test_newer_database_is_refused(v1_db: Database, v1_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sql_v2"
    shutil.copytree(v1_folder, folder)
    (folder / "0002_extra.sql").write_text(
        "CREATE TABLE extra_things (id INTEGER PRIMARY KEY) STRICT;\n"
    )
    apply_migrations(v1_db, folder)
    with pytest.raises(MigrationError, match="newer than this quantdb knows"):
        apply_migrations(v1_db, v1_folder)


def test_gap_in_numbering_is_refused(v1_folder: Path, tmp_path: Path) -> None:
    (v1_folder / "0003_skip.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="without gaps"):
        apply_migrations(Database(tmp_path / "gap.db"), v1_folder)


# -- every constraint refuses a bad row ------------------------------------------------------

GOOD: dict[str, dict[str, Any]] = {
    "price_history": {
        "ticker_id": 1,
        "date": "2015-01-05",
        "open": 10.0,
        "high": 11.0,
        "low": 9.0,
        "close": 10.5,
        "volume": 1000,
        "adj_close": 10.4,
    },
    "predictions": {
        "legacy_id": "P2",
        "date": "2015-01-05",
        "strategy_id": 1,
        "ticker_id": 1,
        "position": "LONG",
        "confidence": 0.7,
        "target": 12.0,
        "stop_loss": 9.0,
        "timeframe": "1w",
        "entry_price": 10.0,
        "status": "open",
    },
    "trades": {
        "legacy_id": "T2",
        "prediction_id": 1,
        "ticker_id": 1,
        "side": "long",
        "entry_date": "2015-01-05",
        "entry_price": 10.0,
        "shares": 100.0,
        "exit_date": "2015-01-09",
        "exit_price": 11.0,
        "status": "CLOSED",
        "fees": 1.0,
    },
    "strategies": {"name": "breakout", "min_hold_days": 1, "max_hold_days": 10},
    "tickers": {"symbol": "MSFT", "market_cap": 1e9},
    "volume_leaders": {
        "date": "2015-01-05",
        "timeframe": "daily",
        "rank": 1,
        "ticker_id": 1,
        "volume": 1000,
        "price": 10.0,
    },
    "performance_metrics": {
        "strategy_id": 1,
        "date": "2015-01-05",
        "accuracy": 0.5,
        "max_drawdown": -0.1,
    },
    "backtest_results": {
        "strategy_id": 1,
        "start_date": "2015-01-02",
        "end_date": "2015-12-31",
        "trades": 3,
        "max_dd": -0.2,
        "params_json": "{}",
        "settings_json": "{}",
        "data_fingerprint": "abc",
        "quantdb_version": "0.1.0",
        "created_at": "2024-01-01T00:00:00",
    },
    "import_batches": {
        "kind": "prices",
        "source": "x.csv",
        "started_at": "2024-01-01T00:00:00",
        "quantdb_version": "0.1.0",
    },
}

BAD = [
    # table, bad values, what SQLite must say
    ("price_history", {"close": 0.0}, "CHECK"),
    ("price_history", {"close": -1.5}, "CHECK"),
    ("price_history", {"open": -1.0}, "CHECK"),
    ("price_history", {"adj_close": 0.0}, "CHECK"),
    ("price_history", {"high": 8.0, "low": 9.0}, "CHECK"),
    ("price_history", {"volume": -1}, "CHECK"),
    ("price_history", {"date": "06/25/2015"}, "CHECK"),
    ("price_history", {"date": "2015-02-30"}, "CHECK"),
    ("price_history", {"date": "2015-1-5"}, "CHECK"),
    ("price_history", {"date": "2015-01-05 00:00:00"}, "CHECK"),
    ("price_history", {"date": None}, "NOT NULL"),
    ("price_history", {"ticker_id": None}, "NOT NULL"),
    ("price_history", {"ticker_id": 999}, "FOREIGN KEY"),
    ("price_history", {"date": "2015-01-02"}, "UNIQUE"),  # (ticker 1, 2015-01-02) exists
    ("price_history", {"close": "abc"}, "cannot store TEXT value in REAL column"),  # STRICT
    ("price_history", {"volume": 1.5}, "cannot store REAL value in INTEGER column"),
    ("predictions", {"confidence": 1.5}, "CHECK"),
    ("predictions", {"confidence": -0.1}, "CHECK"),
    ("predictions", {"position": "BUY"}, "CHECK"),
    ("predictions", {"position": "long"}, "CHECK"),
    ("predictions", {"status": "weird"}, "CHECK"),
    ("predictions", {"target": 0.0}, "CHECK"),
    ("predictions", {"date": "2015-02-30"}, "CHECK"),
    ("predictions", {"strategy_id": None}, "NOT NULL"),
    ("predictions", {"position": None}, "NOT NULL"),
    ("predictions", {"strategy_id": 999}, "FOREIGN KEY"),
    ("predictions", {"ticker_id": 999}, "FOREIGN KEY"),
    ("predictions", {"legacy_id": "P1"}, "UNIQUE"),
    ("predictions", {"extra": "{not json"}, "CHECK"),
    ("trades", {"exit_date": "2015-01-02"}, "CHECK"),  # exit before entry
    ("trades", {"status": "CLOSED", "exit_date": None, "exit_price": None}, "CHECK"),
    ("trades", {"status": "done"}, "CHECK"),
    ("trades", {"side": "BUY"}, "CHECK"),
    ("trades", {"shares": 0.0}, "CHECK"),
    ("trades", {"fees": -1.0}, "CHECK"),
    ("trades", {"entry_price": None}, "NOT NULL"),
    ("trades", {"prediction_id": 999}, "FOREIGN KEY"),
    ("trades", {"legacy_id": "T1"}, "UNIQUE"),
    ("strategies", {"name": "Breakout"}, "CHECK"),
    ("strategies", {"name": None}, "NOT NULL"),
    ("strategies", {"min_hold_days": 10, "max_hold_days": 5}, "CHECK"),
    ("strategies", {"name": "momentum"}, "UNIQUE"),
    ("tickers", {"symbol": "msft"}, "CHECK"),
    ("tickers", {"symbol": "AAPL"}, "UNIQUE"),
    ("tickers", {"market_cap": -5.0}, "CHECK"),
    ("volume_leaders", {"timeframe": "hourly"}, "CHECK"),
    ("volume_leaders", {"rank": 0}, "CHECK"),
    ("volume_leaders", {"ticker_id": 999}, "FOREIGN KEY"),
    ("performance_metrics", {"max_drawdown": 0.5}, "CHECK"),
    ("performance_metrics", {"accuracy": 1.2}, "CHECK"),
    ("backtest_results", {"end_date": "2014-12-31"}, "CHECK"),
    ("backtest_results", {"params_json": "nope"}, "CHECK"),
    ("backtest_results", {"strategy_id": 999}, "FOREIGN KEY"),
    ("import_batches", {"kind": "other"}, "CHECK"),
    ("import_batches", {"started_at": "yesterday"}, "CHECK"),
]


class _Undo(Exception):
    """Raised inside atomic() to roll a successful probe insert back."""


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One row in each parent table, shared by every constraint case (each case rolls back)."""
    database = Database(tmp_path_factory.mktemp("constraints") / "c.db")
    apply_migrations(database)
    with database.atomic() as conn:
        conn.execute("INSERT INTO strategies (id, name) VALUES (1, 'momentum')")
        conn.execute("INSERT INTO tickers (id, symbol) VALUES (1, 'AAPL')")
        conn.execute(
            "INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close)"
            " VALUES (1, '2015-01-02', 10, 11, 9, 10.5, 100, 10.5)"
        )
        conn.execute(
            "INSERT INTO predictions (id, legacy_id, date, strategy_id, ticker_id, position)"
            " VALUES (1, 'P1', '2015-01-02', 1, 1, 'LONG')"
        )
        conn.execute(
            "INSERT INTO trades (legacy_id, prediction_id, ticker_id, side, entry_date, entry_price, shares, status)"
            " VALUES ('T1', 1, 1, 'long', '2015-01-02', 10, 5, 'OPEN')"
        )
    yield database
    database.close()


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))


def _counts(db: Database) -> dict[str, int]:
    return {t: db.scalar(f"SELECT count(*) FROM {t}") for t in GOOD}


@pytest.mark.parametrize(
    ("table", "bad", "says"),
    BAD,
    ids=[f"{t}-{'-'.join(f'{k}={v}' for k, v in b.items())}" for t, b, _ in BAD],
)
def test_constraint_refuses_bad_row(
    base_db: Database, table: str, bad: dict[str, Any], says: str
) -> None:
    counts = _counts(base_db)
    good = GOOD[table]
    # The good row is accepted (then rolled back): the refusal below is due to `bad` alone.
    with pytest.raises(_Undo), base_db.atomic() as conn:
        _insert(conn, table, good)
        raise _Undo
    with pytest.raises(DatabaseError, match=says) as info, base_db.atomic() as conn:
        _insert(conn, table, {**good, **bad})
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert _counts(base_db) == counts
