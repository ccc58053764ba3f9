"""Price import: Yahoo CSV (Adj Close, snake_case headers, null rows, class-share names), Parquet,
idempotent re-import, and a bad value that names file/row/field and writes nothing.

The expected values come from Python's `csv` module reading the same files, independently of
the Polars reader under test.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.client import QuantDB
from quantdb.errors import FileFormatError, InputError
from quantdb.services.records.prices import import_price_files, insert_prices, read_price_file
from quantdb.storage.sqlite import Database

LEGACY_PRICES = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_sample" / "price_history"
FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


def csv_bars(path: Path) -> dict[str, tuple[Any, ...]]:
    """date -> (open, high, low, close, adj_close, volume) read with the csv module."""
    out: dict[str, tuple[Any, ...]] = {}
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
        for row in reader:
            rec = dict(zip(header, row, strict=True))
            vals = []
            for f in FIELDS:
                v = rec.get(f, rec["close"] if f == "adj_close" else None)
                if v in (None, "", "null"):
                    vals.append(None)
                else:
                    vals.append(int(float(v)) if f == "volume" else float(v))
            out[rec["date"]] = tuple(vals)
    return out


def db_bars(db: Database, symbol: str) -> dict[str, tuple[Any, ...]]:
    rows = db.query(
        "SELECT p.date, p.open, p.high, p.low, p.close, p.adj_close, p.volume FROM price_history p "
        "JOIN tickers t ON t.id = p.ticker_id WHERE t.symbol = ? ORDER BY p.date",
        (symbol,),
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: [tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY 1")]
        for t in ("price_history", "tickers", "import_batches", "table_versions")
    }


@pytest.mark.parametrize(
    ("file", "symbol"),
    [
        ("AAPL.csv", "AAPL"),
        ("AMZN.csv", "AMZN"),
        ("META.csv", "META"),
        ("BRK-B.csv", "BRK.B"),
        ("NVDA.csv", "NVDA"),
    ],
)
def test_csv_import_stores_exactly_the_file(db: Database, file: str, symbol: str) -> None:
    """AAPL: Yahoo headers with Adj Close; AMZN: lower-case snake_case headers; META: `null`
    rows; BRK-B.csv: the class dot written as a dash; NVDA: a split (Close jumps, Adj Close does not)."""
    path = LEGACY_PRICES / file
    report = import_price_files(db, [path])
    expected = csv_bars(path)
    assert report.totals == {
        "read": len(expected),
        "inserted": len(expected),
        "updated": 0,
        "unchanged": 0,
    }
    assert [r[0] for r in db.query("SELECT symbol FROM tickers")] == [symbol]
    assert db_bars(db, symbol) == expected  # exact: the same decimal text parsed to the same double


def test_null_rows_are_kept_as_null_bars_and_become_nan(tmp_path: Path) -> None:
    path = LEGACY_PRICES / "META.csv"
    null_days = [d for d, v in csv_bars(path).items() if all(x is None for x in v)]
    assert len(null_days) >= 5
    with QuantDB(tmp_path / "q.db") as q:
        import_price_files(q.db, [path])
        stored = q.db.query("SELECT date FROM price_history WHERE close IS NULL ORDER BY date")
        assert [r[0] for r in stored] == null_days  # counted, never invented, never dropped
        panel = q.close_panel(["META"])
        nan_days = [str(d) for d in panel.dates[np.isnan(panel.values[:, 0])]]
        assert nan_days == null_days


def test_adj_close_defaults_to_close_when_the_file_has_none(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "XYZ.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11.5,200\n"
    )
    import_price_files(db, [path])
    assert db_bars(db, "XYZ") == {
        "2020-01-02": (10.0, 11.0, 9.0, 10.5, 10.5, 100),
        "2020-01-03": (10.5, 12.0, 10.0, 11.5, 11.5, 200),
    }


def test_parquet_import_equals_csv_import(db: Database, tmp_path: Path) -> None:
    expected = {
        s: csv_bars(LEGACY_PRICES / f) for s, f in (("AAPL", "AAPL.csv"), ("BRK.B", "BRK-B.csv"))
    }
    frame = pl.DataFrame(
        [
            {"ticker": s, "date": d, **dict(zip(FIELDS, v, strict=True))}
            for s, bars in expected.items()
            for d, v in bars.items()
        ],
        schema={
            "ticker": pl.String,
            "date": pl.String,
            **{f: pl.Float64 for f in FIELDS[:-1]},
            "volume": pl.Int64,
        },
    ).with_columns(pl.col("date").str.to_date())  # a real Date column, as Parquet writers store it
    path = tmp_path / "prices.parquet"
    frame.write_parquet(path)
    report = import_price_files(db, [path])
    assert report.totals["inserted"] == frame.height
    for symbol, bars in expected.items():
        assert db_bars(db, symbol) == bars


def test_reimport_changes_nothing(db: Database) -> None:
    files = [LEGACY_PRICES / f for f in ("AAPL.csv", "AMZN.csv", "META.csv", "BRK-B.csv")]
    first = import_price_files(db, files)
    before = dump(db)
    second = import_price_files(db, files)
    assert second.totals == {
        "read": first.totals["read"],
        "inserted": 0,
        "updated": 0,
        "unchanged": first.totals["read"],
    }
    after = dump(db)
    assert after["price_history"] == before["price_history"]  # same ids, same values, same batch
    assert after["tickers"] == before["tickers"]
    assert after["table_versions"] == before["table_versions"]  # the mirror stays valid
    assert len(after["import_batches"]) == len(before["import_batches"]) + 1


def test_reimport_of_a_corrected_file_updates_only_that_bar(db: Database, tmp_path: Path) -> None:
    src = LEGACY_PRICES / "AAPL.csv"
    import_price_files(db, [src])
    lines = src.read_text().splitlines(keepends=True)
    parts = lines[10].split(",")
    parts[5] = "123.456"  # Adj Close of the 10th data row
    lines[10] = ",".join(parts)
    fixed = tmp_path / "AAPL.csv"
    fixed.write_text("".join(lines))
    report = import_price_files(db, [fixed])
    assert (report.totals["inserted"], report.totals["updated"]) == (0, 1)
    assert db_bars(db, "AAPL") == csv_bars(fixed)


BAD_VALUES = [
    # CSV column index, bad text, field named in the error, words in the reason
    (4, "abc", "close", "expected a number"),
    (4, "-3.5", "close", "must be > 0"),
    (1, "0", "open", "must be > 0"),
    (6, "-100", "volume", "must be >= 0"),
    (2, "1.0", "high", "below low"),
    (0, "06/25/2015", "date", "expected YYYY-MM-DD"),
    (0, "2015-02-30", "date", "expected YYYY-MM-DD"),
    (0, "2015-01-05", "date", "appears twice"),  # line 12 repeats the date of line 3
]


@pytest.mark.parametrize(
    ("col", "text", "field", "reason"), BAD_VALUES, ids=[f"{f}={t}" for _, t, f, _ in BAD_VALUES]
)
def test_bad_value_names_file_row_field_and_writes_nothing(
    db: Database, tmp_path: Path, col: int, text: str, field: str, reason: str
) -> None:
    import_price_files(db, [LEGACY_PRICES / "AMZN.csv"])
    before = dump(db)
    lines = (LEGACY_PRICES / "AAPL.csv").read_text().splitlines(keepends=True)
    line_no = 12  # 1-based line of the file, header = line 1
    parts = lines[line_no - 1].rstrip("\n").split(",")
    parts[col] = text
    lines[line_no - 1] = ",".join(parts) + "\n"
    bad = tmp_path / "AAPL.csv"
    bad.write_text("".join(lines))
    good = LEGACY_PRICES / "MSFT.csv"
    with pytest.raises(InputError) as info:
        import_price_files(db, [good, bad])  # the good file is not written either
    err = info.value
    assert (err.path, err.record, err.field) == (bad, line_no, field)
    assert reason in err.reason
    assert str(bad) in str(err) and f"record {line_no}" in str(err)
    assert dump(db) == before


def test_unreadable_files_are_refused(db: Database, tmp_path: Path) -> None:
    wrong = tmp_path / "WRONG.csv"
    wrong.write_text("when,price\n2015-01-02,3\n")
    with pytest.raises(FileFormatError, match="missing"):
        import_price_files(db, [wrong])
    with pytest.raises(FileFormatError, match="no such file"):
        import_price_files(db, [tmp_path / "missing.csv"])
    other = tmp_path / "prices.txt"
    other.write_text("x")
    with pytest.raises(FileFormatError, match=r"\.csv or \.parquet"):
        read_price_file(other)
    assert db.scalar("SELECT count(*) FROM import_batches") == 0


def test_insert_prices_requires_the_long_columns(db: Database) -> None:
    with pytest.raises(ValueError, match="missing"):
        insert_prices(db, pl.DataFrame({"ticker": ["A"], "date": ["2015-01-02"]}), source="x")


def test_cli_import_json_and_bad_input_exit_2(tmp_path: Path) -> None:
    dbfile = tmp_path / "cli.db"
    runner = CliRunner()
    ok = runner.invoke(
        app, ["prices", "import", str(LEGACY_PRICES / "AAPL.csv"), "--db", str(dbfile), "--json"]
    )
    assert ok.exit_code == 0, ok.output
    import json

    report = json.loads(ok.stdout)
    assert report["totals"]["inserted"] == len(csv_bars(LEGACY_PRICES / "AAPL.csv"))
    bad = tmp_path / "BAD.csv"
    shutil.copy(LEGACY_PRICES / "AAPL.csv", bad)
    bad.write_text(bad.read_text().replace("2015-01-06,", "2015-13-06,", 1))
    res = runner.invoke(app, ["prices", "import", str(bad), "--db", str(dbfile)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "'date'" in lines[0]
