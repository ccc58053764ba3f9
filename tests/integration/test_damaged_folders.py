"""A corpus of damaged legacy folders, each with its stated outcome.

Whole-file damage (truncated, not JSON, empty, wrong top-level shape, bad CSV header, not
UTF-8) stops the migration before anything is written: exit 2, one line on stderr naming the
file and where it broke, the database byte-for-byte unchanged in content. Record-level
damage is quarantined with file, position, field and rule; a BOM, stray files and missing
optional files are fine.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from migration_helpers import full_dump
from typer.testing import CliRunner

from quantdb.cli.migrate_cmds import register
from quantdb.errors import FileFormatError
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.quarantine import list_quarantine
from quantdb.services.records.verify import verify_folder
from quantdb.storage.sqlite import Database


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    return app


def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


WHOLE_FILE_DAMAGE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "truncated predictions": ("predictions_data.json", _truncate, "truncated"),
    "trades not JSON": (
        "trades_data.json",
        lambda p: p.write_text("<html>502 Bad Gateway</html>"),
        "line 1 column 1",
    ),
    "empty leaders": ("volume_leaders_daily.json", lambda p: p.write_bytes(b""), "empty"),
    "predictions is a list": (
        "predictions_data.json",
        lambda p: p.write_text("[]"),
        "wrong top-level shape",
    ),
    "trades is an object": (
        "trades_data.json",
        lambda p: p.write_text('{"trades": []}'),
        "wrong top-level shape",
    ),
    "leaders not an object": (
        "volume_leaders_weekly.json",
        lambda p: p.write_text('{"leaders": [1]}'),
        "wrong top-level shape",
    ),
    "tickers not UTF-8": (
        "tickers_info.json",
        lambda p: p.write_bytes(b'{"A\xff": {}}'),
        "not UTF-8",
    ),
    "csv bad header": (
        "price_history/AAPL.csv",
        lambda p: p.write_text("when,price\n2015-01-02,1\n"),
        "unknown column",
    ),
    "csv empty": ("price_history/AAPL.csv", lambda p: p.write_text(""), "empty"),
}


@pytest.fixture
def populated(db: Database, generated_dirs: dict, tmp_path: Path) -> tuple[Database, Path]:
    """A database that already holds a migrated set, and a writable copy of that set."""
    folder = tmp_path / "legacy"
    shutil.copytree(generated_dirs[3][0], folder)
    migrate_folder(db, folder)
    return db, folder


@pytest.mark.parametrize("case", list(WHOLE_FILE_DAMAGE))
def test_unparseable_file_stops_before_anything_is_written(
    populated: tuple[Database, Path], case: str
) -> None:
    db, folder = populated
    name, damage, where = WHOLE_FILE_DAMAGE[case]
    damage(folder / name)
    before = full_dump(db)
    res = CliRunner().invoke(_app(), ["migrate", str(folder), "--db", str(db.path), "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and name.rsplit("/", 1)[-1] in lines[0] and where in lines[0], lines
    assert full_dump(db) == before
    assert not (db.path.parent / "backups").exists()  # it stopped before the backup, too


def test_service_raises_file_format_error_with_where(populated: tuple[Database, Path]) -> None:
    db, folder = populated
    (folder / "trades_data.json").write_text('[{"trade_id": 1}\n, {"trade_id": 2,]')
    with pytest.raises(FileFormatError) as exc:
        migrate_folder(db, folder)
    assert exc.value.where.startswith("line 2 column") and exc.value.path.name == "trades_data.json"


def test_bom_strays_and_missing_optional_files_are_fine(
    db: Database, generated_dirs: dict, tmp_path: Path
) -> None:
    folder = tmp_path / "legacy"
    shutil.copytree(generated_dirs[3][0], folder)
    p = folder / "predictions_data.json"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    (folder / "notes.txt").write_text("todo")
    (folder / "price_history" / ".DS_Store").write_bytes(b"\x00")
    for name in ("trades_data.json", "volume_leaders_monthly.json", "strategies_config.json"):
        (folder / name).unlink()
    res = CliRunner().invoke(_app(), ["migrate", str(folder), "--db", str(db.path), "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (
        "trades_data.json" not in doc["files"]
        and doc["files"]["predictions_data.json"]["imported"] > 0
    )
    assert "notice: notes.txt: not a legacy file, ignored" in res.stderr
    assert "price_history/.DS_Store" in res.stderr
    assert "trades_data.json: not in the folder (optional)" in res.stderr
    assert verify_folder(db, folder).ok


PRED = {"id": "p1", "date": "2016-01-04", "strategy": "momentum", "ticker": "AAA", "position": "LONG",
        "confidence": 0.6, "target": 11.0, "stop_loss": 9.0, "timeframe": "1w", "entry_price": 10.0, "status": "open"}  # fmt: skip
TRADE = {"trade_id": 1, "prediction_id": "p1", "ticker": "AAA", "side": "long", "entry_date": "2016-01-04",
         "entry_price": 10.0, "shares": 100, "exit_date": "2016-01-08", "exit_price": 11.0, "status": "CLOSED",
         "pnl": 98.0, "fees": 2.0}  # fmt: skip


def _write_folder(
    root: Path, preds: list, trades: list, csv_rows: list[str], leaders: list
) -> Path:
    root.mkdir()
    (root / "predictions_data.json").write_text(
        json.dumps({"predictions": preds, "last_updated": "2016-02-01"})
    )
    (root / "trades_data.json").write_text(json.dumps(trades))
    (root / "volume_leaders_daily.json").write_text(json.dumps({"timeframe": "daily", "updated": "2016-02-01",
                                                                "leaders": {"2016-01-04": leaders}}))  # fmt: skip
    (root / "price_history").mkdir()
    (root / "price_history" / "AAA.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n" + "\n".join(csv_rows) + "\n"
    )
    return root


def test_every_record_rule_quarantines_with_field_and_rule(db: Database, tmp_path: Path) -> None:
    preds = [
        PRED,
        PRED | {"id": "p2", "ticker": None},
        PRED | {"id": "p3", "date": "2016-02-30"},
        PRED | {"id": "p4", "entry_price": -1},
        PRED | {"id": "p5", "confidence": 250},
        PRED | {"id": "p1", "target": 12.0},  # conflicting duplicate of position 0
        PRED,  # exact duplicate
        PRED | {"id": "p8", "confidence": 72},  # a percentage: kept as 0.72
    ]
    trades = [
        TRADE,
        TRADE | {"trade_id": 2, "exit_date": "2016-01-01"},
        TRADE | {"trade_id": 3, "pnl": 500.0},  # stale pnl: kept and flagged
        TRADE | {"trade_id": 4, "prediction_id": "gone"},  # deleted prediction: link NULL, kept
    ]
    csv_rows = [
        "2016-01-04,10,11,9,10.5,10.5,1000",
        "2016-01-05,10,9,11,10.5,10.5,1000",
        "2016-01-06,10,11,9,10.5,10.5,-1",
        "2016-01-07,null,null,null,null,null,null",
    ]
    leaders = [
        {"rank": 1, "symbol": "AAA", "volume": 10, "price": 10.0},
        {"rank": 2, "symbol": "", "volume": 5, "price": 3.0},
    ]
    folder = _write_folder(tmp_path / "legacy", preds, trades, csv_rows, leaders)
    report = migrate_folder(db, folder)
    got = {(q.file, q.position): (q.field, q.rule) for q in list_quarantine(db)}
    assert got == {
        ("predictions_data.json", 1): ("ticker", "missing_field"),
        ("predictions_data.json", 2): ("date", "impossible_date"),
        ("predictions_data.json", 3): ("entry_price", "non_positive_price"),
        ("predictions_data.json", 4): ("confidence", "confidence_range"),
        ("predictions_data.json", 5): ("id", "conflicting_duplicate"),
        ("trades_data.json", 1): ("exit_date", "exit_before_entry"),
        ("price_history/AAA.csv", 1): ("high", "high_below_low"),
        ("price_history/AAA.csv", 2): ("volume", "negative_volume"),
        ("volume_leaders_daily.json", 1): ("symbol", "missing_field"),
    }
    p = report.files["predictions_data.json"]
    assert (p.read, p.imported, p.duplicates, p.quarantined) == (8, 2, 1, 5)
    assert report.flags["pnl_mismatch"] == 1 and report.flags["missing_prediction"] == 1
    assert report.flags["null_price_row"] == 1 and report.flags["confidence_percent"] == 1
    assert tuple(
        db.query("SELECT pnl, pnl_computed, pnl_mismatch FROM trades WHERE legacy_id = '3'")[0]
    ) == (500.0, 98.0, 1)
    assert tuple(
        db.query("SELECT prediction_id, prediction_legacy_id FROM trades WHERE legacy_id = '4'")[0]
    ) == (None, "gone")
    assert (
        db.scalar("SELECT count(*) FROM price_history WHERE date = '2016-01-07' AND close IS NULL")
        == 1
    )
    raw = db.scalar(
        "SELECT raw FROM raw_records WHERE file = 'predictions_data.json' AND position = 1"
    )
    assert json.loads(raw) == preds[1]  # the raw original is kept where a person can fix it
    assert verify_folder(db, folder).ok

    # a second folder reusing id p8 for a different record: a conflict with the database
    other = _write_folder(tmp_path / "other", [PRED | {"id": "p8", "confidence": 0.1}], [], [], [])
    again = migrate_folder(db, other)
    assert again.files["predictions_data.json"].quarantined == 1
    q = [e for e in list_quarantine(db) if e.batch_id == again.batch_id]
    assert q[0].rule == "conflicting_duplicate" and "already in the database" in q[0].reason
