"""Issue 16, item 10: legal but extreme JSON in the legacy files.

Each value below is valid JSON (RFC 8259 sets no limit on digits, depth or surrogate pairing)
that the database cannot hold as it is: the record that carries it is quarantined with the
field and the reason, the other records of the same file still import, and ``verify`` still
accounts for every record. Never a traceback, never a whole migration lost to one value.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.quarantine import list_quarantine
from quantdb.services.records.verify import verify_folder
from quantdb.storage.sqlite import Database

PRED = {"id": "p1", "date": "2016-01-04", "strategy": "momentum", "ticker": "AAA", "position": "LONG",
        "confidence": 0.6, "target": 11.0, "stop_loss": 9.0, "timeframe": "1w", "entry_price": 10.0,
        "status": "open"}  # fmt: skip
TRADE = {"trade_id": 1, "prediction_id": "p1", "ticker": "AAA", "side": "long", "entry_date": "2016-01-04",
         "entry_price": 10.0, "shares": 100, "exit_date": "2016-01-08", "exit_price": 11.0, "status": "CLOSED",
         "pnl": 98.0, "fees": 2.0}  # fmt: skip

#: case -> (file, field, the JSON text written in place of that field's value, quarantine rule)
EXTREME: dict[str, tuple[str, str, str, str]] = {
    "40-digit id": ("predictions", "id", "1" * 40, "out_of_range"),
    "40-digit trade id": ("trades", "trade_id", "1" * 40, "out_of_range"),
    "20-digit trade id (beyond 64 bits)": ("trades", "trade_id", str(2**64 - 1), "out_of_range"),
    "30-digit timeframe": ("predictions", "timeframe", "9" * 30, "out_of_range"),
    "30-digit timeframe as text": ("predictions", "timeframe", json.dumps("9" * 30 + "d"), "out_of_range"),
    "100,000-deep notes": ("predictions", "notes", "[" * 100_000 + "]" * 100_000, "too_deep"),
    "100,000-deep trade field": ("trades", "notes", "{\"a\":" * 100_000 + "1" + "}" * 100_000, "too_deep"),
    "lone surrogate in notes": ("predictions", "notes", '"\\ud800"', "bad_text"),
    "lone surrogate ticker": ("trades", "ticker", '"x\\ud800"', "bad_text"),
    "1e400 target": ("predictions", "target", "1e400", "out_of_range"),
    "1e400 entry price": ("trades", "entry_price", "1e400", "out_of_range"),
    "400-digit entry price": ("predictions", "entry_price", "9" * 400, "out_of_range"),
    "400-digit shares": ("trades", "shares", "9" * 400, "out_of_range"),
    "25-digit fees": ("trades", "fees", "1" * 25, "out_of_range"),
    "400-digit notes": ("predictions", "notes", "9" * 400, "out_of_range"),
    "ticker with a space": ("predictions", "ticker", '"A B"', "bad_value"),
    "path-like ticker": ("trades", "ticker", '"../etc/passwd"', "bad_value"),
    "40-character ticker": ("predictions", "ticker", json.dumps("X" * 40), "bad_value"),
}
MARK = "__EXTREME__"


def _folder(root: Path, kind: str, field: str, text: str) -> Path:
    """Three good predictions and trades; record 1 of ``kind`` has ``field`` = ``text`` (raw JSON)."""
    root.mkdir()
    preds = [PRED | {"id": f"p{i}"} for i in range(3)]
    trades = [TRADE | {"trade_id": i, "prediction_id": f"p{i}"} for i in range(3)]
    (preds if kind == "predictions" else trades)[1][field] = MARK
    pred_doc = json.dumps({"predictions": preds, "last_updated": "2016-02-01"})
    trade_doc = json.dumps(trades)
    if kind == "predictions":
        pred_doc = pred_doc.replace(f'"{MARK}"', text)
    else:
        trade_doc = trade_doc.replace(f'"{MARK}"', text)
    (root / "predictions_data.json").write_text(pred_doc, encoding="ascii")
    (root / "trades_data.json").write_text(trade_doc, encoding="ascii")
    return root


@pytest.mark.parametrize("case", list(EXTREME))
def test_extreme_value_is_quarantined_and_the_rest_imports(db: Database, tmp_path: Path, case: str) -> None:
    kind, field, text, rule = EXTREME[case]
    folder = _folder(tmp_path / "legacy", kind, field, text)
    report = migrate_folder(db, folder)
    name = f"{kind}_data.json"
    counts = report.files[name]
    assert (counts.read, counts.imported, counts.quarantined) == (3, 2, 1), counts
    (q,) = list_quarantine(db)
    assert (q.file, q.position, q.field, q.rule) == (name, 1, field, rule), q
    assert len(q.reason) < 200, q.reason  # one readable line, not the 200,000-character value
    other = "trades" if kind == "predictions" else "predictions"
    assert report.files[f"{other}_data.json"].imported == 3
    check = verify_folder(db, folder)
    assert check.ok, check.differences
    assert check.records == 6


#: a file's own field (beside its records) that the database cannot keep exactly
FILE_FIELDS = {
    "400-digit last_updated": ("predictions_data.json", '"last_updated": ' + "1" * 400, "'last_updated'", "400 digits"),
    "1e400 last_updated": ("predictions_data.json", '"last_updated": 1e400', "'last_updated'", "too large"),
    "lone surrogate updated": ("volume_leaders_daily.json", '"updated": "\\ud800"', "'updated'", "lone surrogate"),
    "deep updated": ("volume_leaders_daily.json", '"updated": ' + "[" * 100_000 + "]" * 100_000, "'updated'", "nested deeper"),
    "surrogate field name": ("predictions_data.json", '"\\udc00": 1', "'\\\\udc00'", "lone surrogate"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FILE_FIELDS))
def test_extreme_file_level_field_stops_the_migration_naming_it(tmp_path: Path, case: str) -> None:
    """No quarantine holds a file's own fields: the migration stops, one line naming the file
    and the field, exit 2, before the database is created (it was a traceback: orjson could not
    write the value into the batch's report)."""
    name, member, field, words = FILE_FIELDS[case]
    root = tmp_path / "legacy"
    root.mkdir()
    records = (
        '"predictions": ' + json.dumps([PRED])
        if name.startswith("predictions")
        else '"leaders": {"2016-01-04": [{"rank": 1, "symbol": "AAA", "volume": 10, "price": 1.0}]}'
    )
    (root / name).write_text("{" + records + ", " + member + "}", encoding="ascii")
    res = CliRunner().invoke(app, ["migrate", str(root), "--db", str(tmp_path / "q.db")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    (line,) = res.stderr.strip().splitlines()
    assert name in line and f"field {field}" in line and words in line and len(line) < 500, line
    assert not (tmp_path / "q.db").exists()


def test_extreme_values_through_the_command_line(tmp_path: Path) -> None:
    """Every case at once, through ``quantdb migrate`` and ``verify``: exit 0, no traceback."""
    root = tmp_path / "legacy"
    root.mkdir()
    preds = [PRED | {"id": f"p{i}"} for i in range(len(EXTREME) + 1)]
    trades = [TRADE | {"trade_id": i, "prediction_id": f"p{i}"} for i in range(len(EXTREME) + 1)]
    texts = {}
    for i, (kind, field, text, _) in enumerate(EXTREME.values(), start=1):
        (preds if kind == "predictions" else trades)[i][field] = f"{MARK}{i}"
        texts[f'"{MARK}{i}"'] = text
    docs = {"predictions_data.json": json.dumps({"predictions": preds}), "trades_data.json": json.dumps(trades)}
    for name, doc in docs.items():
        for mark, text in texts.items():
            doc = doc.replace(mark, text)
        (root / name).write_text(doc, encoding="ascii")
    db = str(tmp_path / "quant.db")
    res = CliRunner().invoke(app, ["migrate", str(root), "--db", db, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    totals = json.loads(res.stdout)["totals"]
    assert totals["quarantined"] == len(EXTREME) and totals["read"] == 2 * (len(EXTREME) + 1)
    res = CliRunner().invoke(app, ["verify", str(root), "--db", db], catch_exceptions=False)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr


@pytest.mark.parametrize("name", ["A B.csv", "..csv", "X" * 40 + ".csv"])
def test_a_legacy_price_file_whose_name_is_no_ticker_stops_the_migration(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path / "legacy", "predictions", "notes", '"fine"')
    (folder / "price_history").mkdir()
    (folder / "price_history" / name).write_text("Date,Open,High,Low,Close,Adj Close,Volume\n"
                                                 "2016-01-04,10,11,9,10.5,10.5,1000\n")
    db = tmp_path / "quant.db"
    res = CliRunner().invoke(app, ["migrate", str(folder), "--db", str(db)], catch_exceptions=False)
    assert res.exit_code == 2 and "Traceback" not in res.stdout + res.stderr
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and name in line and "not a ticker symbol" in line, line


# -- item 9: `prices import` checks like `migrate`, and refuses the whole import --------------

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
GOOD = "2016-01-04,10,11,9,10.5,10.5,1000\n2016-01-05,10.5,11.5,10,11,11,1200\n"

#: case -> (file name, CSV text, what the one line must name: record, field)
BAD_PRICE_FILES: dict[str, tuple[str, str, tuple[str, str]]] = {
    "inf open": ("AAA.csv", HEADER + GOOD + "2016-01-06,inf,11,9,10.5,10.5,1000\n", ("record 4", "'open'")),
    "-inf volume": ("AAA.csv", HEADER + GOOD + "2016-01-06,10,11,9,10.5,10.5,-inf\n", ("record 4", "'volume'")),
    "1e400 high": ("AAA.csv", HEADER + GOOD + "2016-01-06,10,1e400,9,10.5,10.5,10\n", ("record 4", "'high'")),
    "volume 1e30": ("AAA.csv", HEADER + GOOD + "2016-01-06,10,11,9,10.5,10.5,1e30\n", ("record 4", "'volume'")),
    "fractional volume": ("AAA.csv", HEADER + GOOD + "2016-01-06,10,11,9,10.5,10.5,10.5\n",
                          ("record 4", "'volume'")),
    "short row": ("AAA.csv", HEADER + GOOD + "2016-01-06,10,11\n", ("record 4", "'low'")),
    "long row": ("AAA.csv", HEADER + GOOD + "2016-01-06,10,11,9,10.5,10.5,1000,7\n", ("record 4", "7")),
    "..csv": ("..csv", HEADER + GOOD, ("name", "ticker")),
    "A B.csv": ("A B.csv", HEADER + GOOD, ("name", "ticker")),
    "45-character name": ("X" * 45 + ".csv", HEADER + GOOD, ("name", "ticker")),
    "ticker column with a space": ("long.csv", "ticker," + HEADER
                                   + "AAA," + GOOD.splitlines()[0] + "\nA B," + GOOD.splitlines()[1] + "\n",
                                   ("record 3", "'ticker'")),
}


def _price_rows(db: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT k.symbol, p.date, p.open, p.high, p.low, p.close, p.adj_close, p.volume FROM price_history p "
            "JOIN tickers k ON k.id = p.ticker_id ORDER BY k.symbol, p.date"
        ).fetchall()


def _invoke(*argv: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, [str(a) for a in argv], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize("case", list(BAD_PRICE_FILES))
def test_bad_price_file_is_refused_with_file_record_and_field(tmp_path: Path, case: str) -> None:
    name, text, names = BAD_PRICE_FILES[case]
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "BBB.csv").write_text(HEADER + GOOD)  # a good file in the same import
    bad = folder / name
    bad.write_text(text)
    db = tmp_path / "quant.db"
    code, _, _ = _invoke("prices", "import", folder / "BBB.csv", "--db", db)
    assert code == 0
    before = _price_rows(str(db))
    code, out, err = _invoke("prices", "import", folder / "BBB.csv", bad, "--db", db)
    assert "Traceback" not in out + err
    assert code == 2, (out, err)
    line = err.strip()
    assert line.startswith("quantdb: error:") and len(line.splitlines()) == 1, line
    assert name in line and all(n in line for n in names), line
    assert _price_rows(str(db)) == before  # one transaction: nothing of the good file either


def test_exported_prices_import_back_identically(sample_db: Path, tmp_path: Path) -> None:
    """export-json writes the price CSVs; importing them into a new database gives the same bars."""
    out = tmp_path / "out"
    code, _, err = _invoke("export-json", out, "--db", sample_db)
    assert code == 0, err
    fresh = tmp_path / "fresh.db"
    code, _, err = _invoke("prices", "import", out / "price_history", "--db", fresh)
    assert code == 0, err
    assert _price_rows(str(fresh)) == _price_rows(str(sample_db))


# -- item 11: reports and the web on empty or hostile input ------------------------------------


@pytest.fixture(scope="module")
def report_db(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with a backtest that made no trade (its id in the file `flat_id` beside it)
    and a live strategy named like a script, with one marked trade."""
    root = tmp_path_factory.mktemp("reports")
    db = root / "quant.db"
    src, dst = sqlite3.connect(sample_db), sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.close()
    code, out, err = _invoke("backtest", "sma-cross", "--db", db, "--tickers", "AAPL", "--start", "2017-11-01",
                             "--end", "2017-11-30", "--json")
    assert code == 0, err
    (root / "flat_id").write_text(str(json.loads(out)["backtest_id"]))
    code, out, err = _invoke("track", "record", "--db", db, "--strategy", XSS, "--ticker", "AAPL", "--position",
                             "LONG", "--date", "2016-06-02", "--entry-price", "100", "--target", "110", "--stop",
                             "95", "--timeframe-days", "5", "--json")
    assert code == 0, err
    pid = json.loads(out)["prediction_id"]
    assert _invoke("track", "fill", pid, "--db", db, "--price", "100", "--shares", "10", "--date",
                   "2016-06-02")[0] == 0
    assert _invoke("track", "update", "--db", db, "--asof", "2016-07-01")[0] == 0
    return db


XSS = "<script>alert(1)</script>"


def test_tearsheet_of_a_backtest_without_trades_says_so(report_db: Path, tmp_path: Path) -> None:
    flat = (report_db.parent / "flat_id").read_text()
    out = tmp_path / "t.html"
    code, stdout, err = _invoke("report", "tearsheet", out, "--db", report_db, "--backtest", flat)
    assert "Traceback" not in stdout + err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no trades" in err, err
    assert not out.exists()


def test_tearsheet_escapes_the_strategy_name(report_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.html"
    code, _, err = _invoke("report", "tearsheet", out, "--db", report_db, "--strategy", XSS)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text


def test_web_answers_4xx_not_500(report_db: Path) -> None:
    from starlette.testclient import TestClient

    from quantdb.web.app import create_app

    flat = (report_db.parent / "flat_id").read_text()
    app = create_app(report_db)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:  # a 500 raises here
            res = client.get(f"/tearsheet/backtest/{flat}")
            assert res.status_code == 404 and "no trades" in res.text
            for url in ("/trades?limit=\u00b2", "/trades?offset=\u00b2", "/backtests?limit=\u00b2",
                        "/trades?limit=\u0663"):  # a superscript two, an Arabic-Indic three
                res = client.get(url)
                assert res.status_code == 400, (url, res.status_code)
            assert client.get("/tearsheet/backtest/\u00b2").status_code == 404
    finally:
        app.state.db.close()


def test_serve_on_a_port_in_use_is_one_line(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import uvicorn

    def never(*args: object, **kwargs: object) -> None:
        pytest.fail("uvicorn.run was reached: the port check did not refuse")

    monkeypatch.setattr(uvicorn, "run", never)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = _invoke("serve", "--db", sample_db, "--port", port)
    assert "Traceback" not in out + err
    assert code == 2 and err.startswith("quantdb: error:") and len(err.strip().splitlines()) == 1, err
    assert str(port) in err


def test_extreme_values_in_legacy_price_rows_and_leaders(db: Database, tmp_path: Path) -> None:
    """A volume of 1e30 in a price CSV, a rank and a volume beyond 64 bits in a leaders file:
    each record quarantined with its field; the rest of each file imports."""
    folder = _folder(tmp_path / "legacy", "predictions", "notes", '"fine"')
    (folder / "price_history").mkdir()
    (folder / "price_history" / "AAA.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n2016-01-04,10,11,9,10.5,10.5,1000\n"
        "2016-01-05,10,11,9,10.5,10.5,1e30\n2016-01-06,10,11,9,10.5,10.5,1200\n")
    leaders = ('{"timeframe": "daily", "updated": "2016-02-01", "leaders": {"2016-01-04": ['
               '{"rank": 1, "symbol": "AAA", "volume": 10, "price": 10.0}, '
               f'{{"rank": {2**64 + 1}, "symbol": "BBB", "volume": 5, "price": 3.0}}, '
               f'{{"rank": 3, "symbol": "CCC", "volume": {2**63}, "price": 3.0}}]}}}}')
    (folder / "volume_leaders_daily.json").write_text(leaders)
    report = migrate_folder(db, folder)
    got = {(q.file, q.position): (q.field, q.rule) for q in list_quarantine(db)}
    assert got == {
        ("price_history/AAA.csv", 1): ("volume", "out_of_range"),
        ("volume_leaders_daily.json", 1): ("rank", "out_of_range"),
        ("volume_leaders_daily.json", 2): ("volume", "out_of_range"),
    }, got
    assert report.files["price_history/AAA.csv"].imported == 2
    assert report.files["volume_leaders_daily.json"].imported == 1
    assert verify_folder(db, folder).ok
