"""Writing ``raw_records``, the raw original of every record a migration reads, in bulk.

A legacy set holds about a million records, nearly all of them price lines, so how their raw
rows reach SQLite is a large share of a migration. ``executemany`` runs a one-row statement
once per row, and re-runs per row the table's ``CHECK (outcome IN (...))``, whose list SQLite
rebuilds at every run, so it costs about twice as much as the two paths used here.

Most records come in *runs*: consecutive positions of one file with the same key (a price
file's symbol) and outcome, no flags, and consecutive target rows (a clean price file is one
run). A run travels as a JSON array of its raw texts alone, unpacked by SQLite's ``json_each``
inside one ``INSERT ... SELECT`` per chunk, the other columns computed from the row's index in
SQL. Any other stretch (the JSON files' records: flags, outcomes and targets that vary) is
bound row by row, many rows to a statement (`quantdb.storage.bulk.insert_rows`): about twice
as fast as unpacking ``[position, key, raw, outcome, target_id, flags]`` arrays with
``json_extract``, which parses each record's array again for each column. Both give the rows
``executemany`` gives (ids are explicit). JSON carries every integer and text exactly, except
text SQLite's JSON functions cut short (a NUL character) and text orjson refuses (a lone
surrogate): such a run's chunk is bound row by row too.
"""

from __future__ import annotations

from typing import Any

import orjson

from quantdb.storage.bulk import insert_rows

__all__ = ["MIN_RUN", "RAW_CHUNK", "insert_raw", "insert_raw_run", "segments"]

#: Rows per statement (bounds the JSON document's size).
RAW_CHUNK = 50_000
#: The shortest run worth its own statement; shorter ones travel with their neighbours.
MIN_RUN = 32

_NAMES = ("id", "batch_id", "file", "position", "record_key", "raw", "outcome", "target_table", "target_id", "flags")  # fmt: skip
_COLUMNS = ", ".join(_NAMES)
_INSERT_ROWS = f"INSERT INTO raw_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_RUN = (
    f"INSERT INTO raw_records ({_COLUMNS}) SELECT ?1 + j.key, ?2, ?3, ?4 + j.key, ?5, j.value, ?6, ?7, "
    "?8 + j.key, NULL FROM json_each(?9) j"
)


def segments(recs: list[list[Any]]) -> list[tuple[int, int, bool]]:
    """``recs`` (``[position, key, raw, outcome, target_id, flags]``) cut into consecutive
    ``(start, stop, is_run)`` stretches: a run (at least `MIN_RUN` records) has consecutive
    positions and target ids, one key and one outcome, and no flags."""
    out: list[tuple[int, int, bool]] = []
    n = len(recs)
    other = i = 0
    while i < n:
        r = recs[i]
        j = i + 1
        if r[4] is not None and r[5] is None:
            pos, key, outcome, target = r[0], r[1], r[3], r[4]
            while j < n:
                s = recs[j]
                d = j - i
                if (s[0] != pos + d or s[4] != target + d or s[3] != outcome or s[1] != key
                        or s[5] is not None):  # fmt: skip
                    break
                j += 1
        if j - i >= MIN_RUN:
            if other < i:
                out.append((other, i, False))
            out.append((i, j, True))
            other = j
        i = j
    if other < n:
        out.append((other, n, False))
    return out


def _dumps(value: Any) -> bytes | None:
    """``value`` as JSON that SQLite's JSON functions read back exactly, or None."""
    try:
        doc = orjson.dumps(value)
    except orjson.JSONEncodeError:  # a lone surrogate
        return None
    return None if b"\\u0000" in doc else doc


def insert_raw(
    conn: Any, batch_id: int, first_id: int, file: str, table: str, recs: list[list[Any]]
) -> None:
    """Insert the raw records of one file, ids ``first_id``, ``first_id + 1``, ...: ``recs``
    holds ``[position, key, raw, outcome, target_id, flags]`` (``target_table`` is ``table``
    where ``target_id`` is set)."""
    for a, b, run in segments(recs):
        if not run:
            _bind_rows(conn, batch_id, first_id + a, file, table, recs[a:b])
            continue
        for start in range(a, b, RAW_CHUNK):
            chunk = recs[start : min(b, start + RAW_CHUNK)]
            rid = first_id + start
            doc = _dumps([r[2] for r in chunk])
            if doc is None:
                _bind_rows(conn, batch_id, rid, file, table, chunk)
                continue
            head = chunk[0]
            conn.execute(_INSERT_RUN, (rid, batch_id, file, head[0], head[1], head[3], table, head[4], doc))


def _bind_rows(
    conn: Any, batch_id: int, first_id: int, file: str, table: str, recs: list[list[Any]]
) -> None:
    """``recs`` bound as they are, ids ``first_id``, ``first_id + 1``, ... (`insert_rows`)."""
    insert_rows(conn, "raw_records", _NAMES, (
        (first_id + i, batch_id, file, r[0], r[1], r[2], r[3], None if r[4] is None else table, r[4], r[5])
        for i, r in enumerate(recs)
    ))  # fmt: skip


def insert_raw_run(
    conn: Any, batch_id: int, first_id: int, file: str, table: str,
    key: Any, outcome: str, first_target: int, raws: list[str],
) -> None:  # fmt: skip
    """`insert_raw` of records known to form one run from position 0, without building them:
    the same rows as ``insert_raw(..., recs)`` with ``recs[i] = [i, key, raws[i], outcome,
    first_target + i, None]`` (a clean price file: every line a new row, no flags)."""
    m = len(raws)
    if m < MIN_RUN:  # not a run: the general path
        insert_raw(conn, batch_id, first_id, file, table,
                   [[i, key, raw, outcome, first_target + i, None] for i, raw in enumerate(raws)])  # fmt: skip
        return
    for start in range(0, m, RAW_CHUNK):
        chunk = raws[start : start + RAW_CHUNK]
        doc = _dumps(chunk)
        if doc is None:  # text JSON cannot carry exactly: the general path decides how
            recs = [[start + i, key, raw, outcome, first_target + start + i, None] for i, raw in enumerate(chunk)]
            insert_raw(conn, batch_id, first_id + start, file, table, recs)
            continue
        conn.execute(_INSERT_RUN, (first_id + start, batch_id, file, start, key, outcome, table, first_target + start, doc))
