"""`insert_rows`: many rows to a statement store exactly what ``executemany`` stores, in the same
order, and refuse what it refuses."""

from __future__ import annotations

import math
import sqlite3
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdb.storage.bulk import ROWS_PER_STATEMENT, insert_rows

COLUMNS = ("a", "b", "c")

#: Everything Python's sqlite3 binds: integers to the 64-bit edges, floats by their bits (NaN,
#: -0.0, subnormals, infinities), text with NULs and astral characters, blobs and NULL.
VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
)


def _stored(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    """Every row with each value's storage class, REALs by their bits."""
    out = []
    for row in conn.execute(
        f"SELECT rowid, typeof(a), a, typeof(b), b, typeof(c), c FROM {table} ORDER BY rowid"
    ):
        out.append(tuple(struct.pack(">d", v).hex() if isinstance(v, float) else v for v in row))
    return out


def _tables() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for t in ("by_many", "by_rows"):
        conn.execute(f"CREATE TABLE {t} (a, b, c)")
    return conn


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(VALUES, VALUES, VALUES), max_size=3 * ROWS_PER_STATEMENT + 7))
def test_the_same_rows_as_executemany(rows: list[tuple[Any, ...]]) -> None:
    conn = _tables()
    conn.executemany("INSERT INTO by_many (a, b, c) VALUES (?, ?, ?)", rows)
    assert insert_rows(conn, "by_rows", COLUMNS, iter(rows)) == len(rows)
    assert _stored(conn, "by_rows") == _stored(conn, "by_many")


@pytest.mark.parametrize(
    "n", [0, 1, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, ROWS_PER_STATEMENT + 1, 1000]
)
def test_every_count_around_a_statement(n: int) -> None:
    conn = _tables()
    rows = [(i, i * 0.1, f"r{i}") for i in range(n)]
    conn.executemany("INSERT INTO by_many (a, b, c) VALUES (?, ?, ?)", rows)
    assert insert_rows(conn, "by_rows", COLUMNS, rows) == n
    assert _stored(conn, "by_rows") == _stored(conn, "by_many")


def test_few_parameters_allowed_means_fewer_rows_a_statement() -> None:
    conn = _tables()
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 7)  # two rows of three a statement
    rows = [(i, -0.0 if i % 2 else math.pi, None) for i in range(11)]
    conn.executemany("INSERT INTO by_many (a, b, c) VALUES (?, ?, ?)", rows)
    assert insert_rows(conn, "by_rows", COLUMNS, rows) == 11
    assert _stored(conn, "by_rows") == _stored(conn, "by_many")


def test_a_row_of_the_wrong_length_is_refused_before_its_statement_binds() -> None:
    conn = _tables()
    rows: list[tuple[Any, ...]] = [(i, i, i) for i in range(ROWS_PER_STATEMENT + 5)]
    rows[3] = (1, 2)  # with rows[4] of four values the flat count would even out
    rows[4] = (1, 2, 3, 4)
    with pytest.raises(sqlite3.ProgrammingError, match="uses 3, and there are 2"):
        insert_rows(conn, "by_rows", COLUMNS, rows)
    assert conn.execute("SELECT count(*) FROM by_rows").fetchone()[0] == 0
    tail = [(1, 2, 3), (4, 5)]  # in the last, shorter statement too
    with pytest.raises(sqlite3.ProgrammingError, match="uses 3, and there are 2"):
        insert_rows(conn, "by_rows", COLUMNS, tail)
    with pytest.raises(ValueError, match="at least one column"):
        insert_rows(conn, "by_rows", (), [()])


def test_a_broken_constraint_raises_what_executemany_raises() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b REAL CHECK (b > 0)) STRICT")
    rows = [(i, 1.0 + i) for i in range(300)]
    rows[250] = (250, -1.0)
    with pytest.raises(sqlite3.IntegrityError) as by_many:
        conn.executemany("INSERT INTO t (a, b) VALUES (?, ?)", rows)
    conn.execute("DELETE FROM t")
    with pytest.raises(sqlite3.IntegrityError) as by_rows:
        insert_rows(conn, "t", ("a", "b"), rows)
    assert str(by_rows.value) == str(by_many.value)
    dup = [(1, 1.0), (1, 2.0)]
    conn.execute("DELETE FROM t")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: t.a"):
        insert_rows(conn, "t", ("a", "b"), dup)
