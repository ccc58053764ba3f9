"""The bulk paths of migrate give exactly what the record-by-record paths give.

Clean price files are read column by column and raw records travel to SQLite as one JSON
array per file; both must be lossless and identical to the line-by-line reading.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from quantdb.ingest import reader as rd
from quantdb.ingest import records as rc
from quantdb.services.records.migrate import migrate_folder
from quantdb.storage.sqlite import Database

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def _clean_lines(n: int) -> list[str]:
    rng = np.random.default_rng(1337)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    out = []
    for i in range(n):
        c = round(float(close[i]), 4)
        day = f"{2001 + i // 300}-{1 + (i // 25) % 12:02d}-{1 + i % 25:02d}"
        out.append(f"{day},{c},{round(c * 1.01, 4)},{round(c * 0.99, 4)},{c},{c},{1000 + i}")
    return out


def _expected_row(symbol: str, line: str) -> tuple[object, ...]:
    d, o, h, lo, c, a, v = line.split(",")
    return (symbol, d, float(o), float(h), float(lo), float(c), int(v), float(a))


def test_clean_price_file_reads_column_by_column_and_exactly() -> None:
    lines = _clean_lines(400)
    pf = rd.price_file_from_lines(Path("ABC.csv"), "price_history/ABC.csv", HEADER, lines)
    assert rc._prices_columnwise(pf, rc.ParsedFile("x", "prices"))  # the bulk path is taken
    got = rc.read_prices(pf)
    assert got.raws == lines
    assert got.rows == [_expected_row("ABC", ln) for ln in lines]
    assert [type(v) for v in got.rows[0]] == [str, str, float, float, float, float, int, float]
    assert got.problems == [None] * 400 and got.flags == [None] * 400


def test_one_doubtful_line_sends_the_file_to_the_line_by_line_reading() -> None:
    lines = _clean_lines(50)
    lines[7] = lines[7].rsplit(",", 1)[0] + ",null"  # a null volume: kept as NULL, not refused
    lines[9] = "2003-02-30" + lines[9][10:]  # an impossible date: quarantined
    pf = rd.price_file_from_lines(Path("ABC.csv"), "price_history/ABC.csv", HEADER, lines)
    assert not rc._prices_columnwise(pf, rc.ParsedFile("x", "prices"))
    got = rc.read_prices(pf)
    assert got.rows[7] is not None and got.rows[7][6] is None
    assert got.rows[9] is None and got.problems[9] is not None
    assert got.problems[9].rule == "impossible_date"
    clean = [i for i in range(50) if i not in (7, 9)]
    assert [got.rows[i] for i in clean] == [_expected_row("ABC", lines[i]) for i in clean]


def test_raw_records_keep_text_json_cannot_carry_through_sqlite(tmp_path: Path) -> None:
    """A NUL character (cut short by SQLite's JSON functions) still arrives whole."""
    preds = [
        {"id": 1, "date": "2020-01-02", "strategy": "m", "ticker": "AAA", "position": "LONG",
         "status": "open", "note": "nul \u0000 here"},
        {"id": 2, "date": "2020-01-03", "strategy": "m", "ticker": "AAA", "position": "LONG",
         "status": "open", "note": "\u2028 é 😀 \\u0000"},
    ]  # fmt: skip
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "predictions_data.json").write_text(json.dumps({"predictions": preds}))
    (folder / "price_history").mkdir()
    lines = ["2020-01-02,1.5,2.5,1.0,2.0,2.0,100", "2020-01-03,1.5,2.5,1.0,2.0,2.0,1\x0000"]
    (folder / "price_history" / "AAA.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    db = Database(tmp_path / "q.db")
    report = migrate_folder(db, folder)
    assert report.totals.imported == 3 and report.totals.quarantined == 1 and report.totals.balanced
    raws = [r[0] for r in db.query("SELECT raw FROM raw_records WHERE file = ? ORDER BY position",
                                   ("predictions_data.json",))]  # fmt: skip
    csv_raws = [r[0] for r in db.query("SELECT raw FROM raw_records WHERE file = ? ORDER BY position",
                                       ("price_history/AAA.csv",))]  # fmt: skip
    db.close()
    assert [json.loads(r) for r in raws] == preds
    assert raws == [rc.raw_json(p, False) for p in preds]
    assert csv_raws == lines  # the NUL character kept


def _by_line(pf: rd.PriceFile) -> rc.ParsedFile:
    parsed = rc.ParsedFile(pf.name, "prices", meta={"header": pf.header, "symbol": pf.symbol})
    rc._prices_by_line(pf, parsed)
    return parsed


def _fields(p: rc.ParsedFile) -> tuple[object, ...]:
    return (p.raws, p.keys, p.rows, p.problems, p.flags)


NULL_LINE_CASES = {  # name -> (edit of the clean lines, whether the column-wise path takes the file)
    "null rows": (lambda ls: {3: "2001-01-04,null,null,null,null,null,null", 9: "2001-01-10,,,,,,"}, True),
    "mixed null texts": (lambda ls: {0: "2001-01-01,NULL,None,nan,NaN,none,Null"}, True),
    "every line null": (lambda ls: dict.fromkeys(range(len(ls)), "2001-01-01,null,null,null,null,null,null"), True),
    "a null among numbers": (lambda ls: {5: ls[5].rsplit(",", 1)[0] + ",null"}, False),
    "null row, bad date": (lambda ls: {2: "2001-02-30,null,null,null,null,null,null"}, False),
    "null row and a nan price": (lambda ls: {1: "2001-01-02,null,null,null,null,null,null",
                                             4: ls[4].replace(ls[4].split(",")[1], "nan", 1)}, False),
    "null row and text": (lambda ls: {1: "2001-01-02,null,null,null,null,null,null",
                                      6: ls[6].replace(ls[6].split(",")[2], "abc", 1)}, False),
}  # fmt: skip


def test_null_price_rows_read_column_by_column_exactly_as_line_by_line() -> None:
    """A file whose only oddity is whole lines of null texts (``null_price_row``, a common
    mess) is read column by column; the rows, flags and problems are those of the line-by-line
    reading, and any other doubt still leaves the file to that reading."""
    for name, (edit, bulk) in NULL_LINE_CASES.items():
        for header in (HEADER, "Date,Open,High,Low,Close,Volume"):
            lines = _clean_lines(40)
            if header != HEADER:  # no adjusted close column
                lines = [",".join(ln.split(",")[:5] + ln.split(",")[6:]) for ln in lines]
            for i, text in edit(lines).items():
                lines[i] = text if header == HEADER else ",".join(text.split(",")[:6])
            pf = rd.price_file_from_lines(Path("ABC.csv"), "price_history/ABC.csv", header, lines)
            assert rc._prices_columnwise(pf, rc.ParsedFile("x", "prices")) is bulk, name
            got, want = rc.read_prices(pf), _by_line(pf)
            assert _fields(got) == _fields(want), name
            assert [type(v) for v in got.rows[0] or ()] == [type(v) for v in want.rows[0] or ()], name
            if bulk:
                nulls = [i for i, f in enumerate(got.flags) if f == ["null_price_row"]]
                assert nulls and all(got.rows[i][2:] == (None,) * 6 for i in nulls), name


def _raw_table(db: Database) -> list[tuple[object, ...]]:
    return [tuple(r) for r in db.query("SELECT * FROM raw_records ORDER BY id")]


def test_raw_runs_and_other_stretches_store_the_same_rows(tmp_path: Path) -> None:
    """`insert_raw` cuts a file's raw records into runs (texts only, the rest computed in SQL)
    and other stretches; every row is the one ``executemany`` of the same values writes, for
    runs broken by a duplicate, a quarantined record, a flag, a key change, text JSON cannot
    carry through SQLite (a NUL), a lone surrogate kept as its escape and text that needs escaping."""
    from quantdb.services.records import raw_rows
    from quantdb.storage.migrations import apply_migrations

    n = 400
    recs: list[list[object]] = [[i, "ABC", f"2001-01-{i % 28 + 1:02d},1.5,2,1,1.5,1.5,{i}", "imported", 10 + i, None]
                                for i in range(n)]  # fmt: skip
    recs[50] = [50, "ABC", recs[50][2], "duplicate", 12, None]  # points back: breaks the run
    recs[120] = [120, "ABC", '"quoted",line', "quarantined", None, None]
    recs[200] = [200, "ABC", recs[200][2], "imported", 210, '["null_price_row"]']
    recs[260] = [260, "ABD", recs[260][2], "imported", 270, None]  # another key
    recs[300][2] = "nul \x00 inside"  # a run whose texts JSON cannot carry: executemany
    recs[330][2] = "lone \ud800 surrogate".encode("utf-8", "backslashreplace").decode()  # as migrate keeps it
    recs[340][2] = 'tab\tquote" backslash\\ é 😀 \u2028'
    for i in range(360, 400):
        recs[i][0] = 1000 + i  # positions jump once: a second run
    got = raw_rows.segments(recs)
    assert [s for s in got if s[2]] and [s for s in got if not s[2]]
    assert [a for a, _, _ in got] == sorted(a for a, _, _ in got) and got[-1][1] == n

    def stored(bulk: bool) -> list[tuple[object, ...]]:
        db = Database(tmp_path / f"{bulk}.db")
        apply_migrations(db)
        with db.atomic() as conn:
            conn.execute("INSERT INTO import_batches (id, kind, source, started_at, status, quantdb_version) "
                         "VALUES (1, 'legacy', 'x', '2020-01-01T00:00:00Z', 'committed', '0')")  # fmt: skip
            if bulk:
                raw_rows.insert_raw(conn, 1, 7, "price_history/ABC.csv", "price_history", recs)
            else:
                conn.executemany(raw_rows._INSERT_ROWS, [
                    (7 + i, 1, "price_history/ABC.csv", r[0], r[1], r[2], r[3],
                     None if r[4] is None else "price_history", r[4], r[5]) for i, r in enumerate(recs)
                ])  # fmt: skip
        rows = _raw_table(db)
        db.close()
        return rows

    assert stored(True) == stored(False)


def test_line_split_and_nan_walk_agree_with_their_plain_readings() -> None:
    """`reader._split_lines` (``str.splitlines`` when it may) cuts a price file as the
    ``\\r\\n|\\r|\\n`` regex does, up to trailing blank lines; `records._has_nan` finds a
    non-finite float at any depth, as a plain recursive walk does."""
    rng = np.random.default_rng(1337)
    pieces = ["a,1", "b,2", "", " ", "\r\n", "\r", "\n", "\v", "\f", "\x1c", "é", "\u2028", "\x85"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces, size=int(rng.integers(0, 12))))
        got, want = rd._split_lines(text), rd._SPLIT.split(text)
        while got and not got[-1].strip():
            got.pop()
        while want and not want[-1].strip():
            want.pop()
        assert got == want, repr(text)

    def walk(x: object) -> bool:
        if isinstance(x, float):
            return bool(np.isnan(x) or np.isinf(x))
        if isinstance(x, dict):
            return any(walk(v) for v in x.values())
        return isinstance(x, list) and any(walk(v) for v in x)

    nan, inf = float("nan"), float("inf")
    cases = [1.0, nan, -inf, "nan", None, True, [1, [2.0, [nan]]], {"a": {"b": [inf]}}, {"a": 1, "b": "x"},
             {"a": [1.0, {"c": 2.5}]}, [{"k": nan}], {nan: 1.0}, [], {}]  # fmt: skip
    for case in cases:
        assert rc._has_nan(case) is walk(case), case
