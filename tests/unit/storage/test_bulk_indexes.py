"""`indexes_deferred`: a table's secondary indexes are gone only inside the loader's
transaction, and come back with their own SQL (or with the rollback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdb.storage.bulk import indexes_deferred, secondary_indexes
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database


def _schema(db: Database) -> list[tuple[object, ...]]:
    return [tuple(r) for r in db.query("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name")]


def test_indexes_come_back_with_the_same_sql_and_a_failure_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "q.db")
    apply_migrations(db)
    before = _schema(db)
    with db.atomic() as conn:
        names = [n for n, _ in secondary_indexes(conn, "price_history")]
        assert names == ["price_history_date"]  # UNIQUE (ticker_id, date) is a constraint: kept
        with indexes_deferred(conn, ["price_history", "raw_records"]) as deferred:
            assert deferred == ["price_history_date", "raw_records_target"]
            assert secondary_indexes(conn, "price_history") == []
            left = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE tbl_name = 'price_history' "
                                               "AND type = 'index'")}  # fmt: skip
            assert left == {"sqlite_autoindex_price_history_1"}
    assert _schema(db) == before

    with pytest.raises(RuntimeError, match="boom"), db.atomic() as conn, indexes_deferred(conn, ["price_history"]):
        raise RuntimeError("boom")
    assert _schema(db) == before  # the rollback restored it

    conn = db.writer()
    assert not conn.in_transaction
    with pytest.raises(RuntimeError, match="open transaction"), indexes_deferred(conn, ["price_history"]):
        pass
    assert _schema(db) == before
    db.close()
