"""Bulk loads inside one transaction: a table's secondary indexes built once, after its rows.

Inserting a million rows into a table keeps each of its indexes up to date row by row; an
index whose key arrives in no particular order (``price_history (date)``, a ticker's bars
following another's) costs a B-tree descent and often a page split per row. SQLite builds an
index from scratch by sorting instead, which is several times cheaper for the same result. So
a loader that is about to add at least as many rows as a table holds drops the table's
*secondary* indexes (``CREATE INDEX`` ones: never the indexes behind ``PRIMARY KEY`` or
``UNIQUE``, which SQLite keeps as it inserts, so a duplicate is still refused at once), writes
its rows, and re-creates each index from its own stored ``CREATE INDEX`` text before the
transaction commits. DDL is transactional in SQLite: if anything fails, the rollback restores
the indexes with the rows, and no other connection ever sees the table without them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

__all__ = ["indexes_deferred", "secondary_indexes"]


def secondary_indexes(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """``(name, CREATE INDEX text)`` of ``table``'s explicitly created indexes, in creation order.

    Indexes SQLite makes for ``PRIMARY KEY`` / ``UNIQUE`` have no SQL text and are not listed.
    """
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
        "ORDER BY rowid",
        (table,),
    ).fetchall()
    return [(str(name), str(sql)) for name, sql in rows]


@contextlib.contextmanager
def indexes_deferred(conn: sqlite3.Connection, tables: list[str]) -> Iterator[list[str]]:
    """Drop the secondary indexes of ``tables`` for the block; re-create them (same SQL) after it.

    Must run inside an open transaction (`quantdb.storage.sqlite.Database.atomic`), so that
    the indexes are never missing outside it. Yields the names of the indexes deferred. If
    the block raises, nothing is re-created here: the caller's rollback restores them.
    """
    if not conn.in_transaction:
        msg = "indexes_deferred needs an open transaction (use it inside Database.atomic())"
        raise RuntimeError(msg)
    deferred = [ix for t in tables for ix in secondary_indexes(conn, t)]
    for name, _ in deferred:
        conn.execute(f'DROP INDEX "{name}"')
    yield [name for name, _ in deferred]
    for _, sql in deferred:
        conn.execute(sql)
