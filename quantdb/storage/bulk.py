"""Bulk loads inside one transaction: rows bound many to a statement, and a table's secondary
indexes built once, after its rows.

`insert_rows` binds the rows of a load many to an ``INSERT ... VALUES (...), (...), ...``
statement. ``executemany`` runs a one-row statement once per row, and each run costs a reset,
a step (with the GIL released and taken back) and a re-bind of the same statement in Python's
``sqlite3``: for a million ten-column price rows that bookkeeping is about as much CPU as
SQLite's own work of checking and storing them. Every value is bound exactly as
``executemany`` binds it (the same ``sqlite3_bind_*`` call for the same Python object), and
the rows are inserted in the order given, so the stored rows are the same.

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
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from typing import Any

__all__ = ["ROWS_PER_STATEMENT", "indexes_deferred", "insert_rows", "secondary_indexes"]

#: Rows bound to one statement by `insert_rows` (fewer when SQLite's limit on the number of
#: parameters of a statement requires it). Beyond a hundred or so the gain levels off.
ROWS_PER_STATEMENT = 128


def insert_rows(
    conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (each a sequence of ``len(columns)`` values) into ``table``, in order,
    `ROWS_PER_STATEMENT` rows to an ``INSERT ... VALUES`` statement; returns how many.

    The same rows as ``conn.executemany("INSERT INTO table (columns) VALUES (?, ...)", rows)``,
    including the error (SQLite's message) a row that breaks a constraint raises; a row of the
    wrong length raises `sqlite3.ProgrammingError`, as there, and nothing of its statement is
    inserted. ``table`` and ``columns`` are identifiers written by the caller, never user input.
    """
    width = len(columns)
    if width == 0:
        msg = "insert_rows needs at least one column"
        raise ValueError(msg)
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(ROWS_PER_STATEMENT, limit // width))
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    one = "(" + ", ".join("?" * width) + ")"
    it = iter(rows)
    done = 0
    left: list[Sequence[Any]] = []

    def statements() -> Iterator[tuple[Any, ...]]:
        nonlocal done
        while True:
            part = list(islice(it, per))
            if len(part) < per:
                left.extend(part)
                return
            _same_width(part, width)
            done += per
            yield tuple(chain.from_iterable(part))

    conn.executemany(head + ", ".join([one] * per), statements())
    if left:
        _same_width(left, width)
        conn.execute(head + ", ".join([one] * len(left)), tuple(chain.from_iterable(left)))
        done += len(left)
    return done


def _same_width(part: list[Sequence[Any]], width: int) -> None:
    """Refuse a row of the wrong length before its values are bound out of line."""
    if list(map(len, part)).count(width) != len(part):
        bad = next(len(r) for r in part if len(r) != width)
        msg = (f"Incorrect number of bindings supplied. The current statement uses {width}, "
               f"and there are {bad} supplied.")  # fmt: skip
        raise sqlite3.ProgrammingError(msg)


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
