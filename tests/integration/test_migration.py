"""Legacy sample and generated sets -> migrate -> verify -> export-json -> re-import, rollback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from migration_helpers import db_content, full_dump
from typer.testing import CliRunner

from quantdb.cli.migrate_cmds import register
from quantdb.errors import DatabaseError
from quantdb.services.records.export import export_json
from quantdb.services.records.migrate import MigrationReport, migrate_folder
from quantdb.services.records.quarantine import list_quarantine, reimport_quarantined
from quantdb.services.records.rollback import rollback_batch
from quantdb.services.records.verify import verify_folder
from quantdb.storage.backup import backup_database
from quantdb.storage.sqlite import Database

KEYS = ("read", "imported", "duplicates", "quarantined", "already_present")
SAMPLE = Path(__file__).parents[1] / "fixtures" / "legacy_sample"


@pytest.fixture(scope="module")
def sample_db(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Database, MigrationReport]]:
    """The legacy sample migrated once for the module (tests that write use `sample_copy`)."""
    db = Database(tmp_path_factory.mktemp("sample") / "sample.db")
    report = migrate_folder(db, SAMPLE)
    yield db, report
    db.close()


@pytest.fixture
def sample_copy(sample_db: tuple[Database, MigrationReport], tmp_path: Path) -> Iterator[Database]:
    """A private copy (online backup) of the migrated sample database."""
    db = Database(backup_database(sample_db[0], tmp_path / "copy.db"))
    yield db
    db.close()


def _balanced(doc: dict) -> None:
    for name, c in [*doc["files"].items(), ("totals", doc["totals"])]:
        assert (
            c["read"] == c["imported"] + c["duplicates"] + c["quarantined"] + c["already_present"]
        ), name
    for k in KEYS:
        assert doc["totals"][k] == sum(c[k] for c in doc["files"].values())


def test_sample_migrates_with_every_quirk_normalized(
    sample_db: tuple[Database, MigrationReport],
) -> None:
    db, report = sample_db
    doc = report.to_dict()
    _balanced(doc)
    assert report.backup_path is None  # the database was empty
    t = doc["totals"]
    assert (t["read"], t["duplicates"], t["quarantined"], t["already_present"]) == (43205, 2, 0, 0)
    assert doc["files"]["predictions_data.json"]["duplicates"] == 1
    assert doc["files"]["trades_data.json"]["duplicates"] == 1
    assert report.flags == {"confidence_percent": 18, "date_mdy": 464, "market_cap_text": 1, "missing_prediction": 24,
                            "no_prediction": 26, "null_price_row": 32, "pnl_mismatch": 32}  # fmt: skip
    # every record's raw original is kept, with its outcome
    assert db.scalar("SELECT count(*) FROM raw_records") == 43205
    assert db.scalar("SELECT count(*) FROM raw_records WHERE outcome = 'duplicate'") == 2
    # the quirks, normalized
    assert db.scalar("SELECT count(*) FROM tickers WHERE symbol <> upper(symbol)") == 0
    assert [r[0] for r in db.query("SELECT name FROM strategies ORDER BY name")] == [
        "earnings_drift", "mean_reversion", "ml_ensemble", "momentum", "volume_breakout"]  # fmt: skip
    assert {r[0] for r in db.query("SELECT DISTINCT position FROM predictions")} == {
        "LONG",
        "SHORT",
    }
    assert db.scalar("SELECT max(confidence) FROM predictions") <= 1.0
    assert db.scalar("SELECT count(*) FROM predictions WHERE date NOT LIKE '____-__-__'") == 0
    assert db.scalar("SELECT count(*) FROM predictions WHERE target IS NULL") > 0  # NaN -> NULL
    assert (
        db.scalar("SELECT typeof(target) FROM predictions WHERE legacy_id = '1'") == "real"
    )  # "19.41"
    assert dict(db.query("SELECT timeframe, min(timeframe_days) FROM predictions GROUP BY timeframe")) == {
        "10": 10, "1d": 1, "1m": 21, "1w": 5, "2w": 10, "3d": 3, "5d": 5}  # fmt: skip
    kinds = dict(
        db.query("SELECT coalesce(timestamp_kind, 'none'), count(*) FROM predictions GROUP BY 1")
    )
    assert kinds == {"none": 652, "utc": 682, "naive": 666}  # the duplicate is a Z one
    row = db.query(
        "SELECT timestamp, timestamp_utc FROM predictions WHERE legacy_id = 'vol-20170907-WX-2'"
    )[0]
    assert tuple(row) == ("2017-09-07T15:02:47", "2017-09-07T19:02:47Z")  # naive = US/Eastern (EDT)
    brk = db.scalar(
        "SELECT count(*) FROM price_history p JOIN tickers k ON k.id = p.ticker_id WHERE k.symbol = 'BRK.B'"
    )
    assert brk == 756
    assert tuple(
        db.query("SELECT market_cap, market_cap_raw FROM tickers WHERE symbol = 'META'")[0]
    ) == (1.2e12, "1.2T")
    assert (
        db.scalar("SELECT count(*) FROM price_history WHERE close IS NULL AND open IS NULL") == 32
    )
    assert db.scalar("SELECT count(*) FROM trades WHERE pnl_mismatch = 1") == 32
    orphans = db.query(
        "SELECT prediction_legacy_id FROM trades WHERE prediction_id IS NULL AND prediction_legacy_id IS NOT NULL"
    )
    assert len(orphans) == 24
    assert (
        db.scalar(
            "SELECT count(*) FROM predictions WHERE json_extract(extra, '$.notes') IS NOT NULL"
        )
        == 46
    )
    assert (
        db.scalar(
            "SELECT count(*) FROM predictions WHERE json_extract(extra, '$.model_version') = 'v2.3.1'"
        )
        == 43
    )
    # the stock split: raw close jumps, adj close continuous
    nv = db.query("SELECT close, adj_close FROM price_history p JOIN tickers k ON k.id = p.ticker_id "
                  "WHERE k.symbol = 'NVDA' AND date IN ('2016-06-16', '2016-06-17') ORDER BY date")  # fmt: skip
    assert nv[1][0] / nv[0][0] < 0.6 and 0.8 < nv[1][1] / nv[0][1] < 1.2
    assert verify_folder(db, SAMPLE).ok


def test_rerun_is_a_noop_with_backup(
    sample_db: tuple[Database, MigrationReport], sample_copy: Database
) -> None:
    first = sample_db[1]
    db = sample_copy
    before = db_content(db)
    again = migrate_folder(db, SAMPLE)
    assert again.totals.imported == 0
    assert again.totals.already_present == first.totals.imported
    assert again.totals.duplicates == first.totals.duplicates
    assert again.backup_path is not None and Path(again.backup_path).is_file()
    assert db_content(db) == before
    backup = Database(again.backup_path)
    assert db_content(backup) == before
    assert verify_folder(db, SAMPLE).ok


def test_export_then_reimport_is_the_same_content(
    sample_db: tuple[Database, MigrationReport], tmp_path: Path
) -> None:
    db = sample_db[0]
    out = tmp_path / "export"
    report = export_json(db, out)
    assert (
        report.files["predictions_data.json"] == 2000
        and report.files["price_history/BRK-B.csv"] == 756
    )
    meta = json.loads((out / "predictions_data.json").read_text())
    assert meta["last_updated"] == "2017-11-30T16:05:00"
    assert (
        json.loads((out / "volume_leaders_monthly.json").read_text())["leaders"]["2015-01-02"][0][
            "ticker"
        ]
        == "AMZN"
    )
    other = Database(tmp_path / "other.db")
    again = migrate_folder(other, out)
    assert again.totals.quarantined == 0 and again.totals.duplicates == 0
    assert db_content(other) == db_content(db)
    assert verify_folder(other, out).ok


def test_rollback_restores_the_earlier_state_exactly(
    db: Database, generated_dirs: dict, tmp_path: Path
) -> None:
    folder, manifest = generated_dirs[3]
    n_tickers = manifest.tickers
    n_damaged = sum(len(v) for v in manifest.damage.values())
    # batch 1: the set without tickers_info / strategies_config (tickers created bare)
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    (partial / "tickers_info.json").unlink()
    (partial / "strategies_config.json").unlink()
    migrate_folder(db, partial)
    assert db.scalar("SELECT count(*) FROM tickers WHERE name IS NULL") == n_tickers
    before = full_dump(db)
    # batch 2: the whole set fills the NULLs (changes rows it did not create) and adds nothing else
    second = migrate_folder(db, folder)
    assert second.files["tickers_info.json"].imported == n_tickers
    assert second.files["predictions_data.json"].imported == 0
    assert db.scalar("SELECT count(*) FROM tickers WHERE name IS NULL") == 0
    assert (
        db.scalar("SELECT count(*) FROM batch_changes WHERE batch_id = ?", (second.batch_id,))
        == n_tickers + 5 + n_damaged  # + the superseded quarantine entries of batch 1
    )
    rb = rollback_batch(db, last=True)
    assert rb.batch_id == second.batch_id
    assert rb.restored == {"strategies": 5, "tickers": n_tickers, "quarantine": n_damaged}
    after = full_dump(db)
    status = sorted(after.pop("import_batches"))
    assert [r[5] for r in status] == ["committed", "rolled_back"]
    before.pop("import_batches")
    assert after == before
    # and the first batch rolls back to an empty database
    rollback_batch(db, last=True)
    assert all(
        not rows
        for t, rows in full_dump(db).items()
        if t not in ("import_batches", "schema_migrations", "table_versions", "database_settings")
    )


def test_rollback_refuses_a_batch_later_batches_rely_on(db: Database, generated_dirs: dict) -> None:
    first = migrate_folder(db, generated_dirs[3][0])
    migrate_folder(db, generated_dirs[3][0])
    with pytest.raises(DatabaseError, match="roll back batch 2 first"):
        rollback_batch(db, first.batch_id)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_sets_quarantine_exactly_the_damage(
    db: Database, generated_dirs: dict, seed: int, tmp_path: Path
) -> None:
    folder, manifest = generated_dirs[seed]
    report = migrate_folder(db, folder)
    _balanced(report.to_dict())
    expected = {("predictions_data.json", d["position"]) for d in manifest.damage["predictions"]}
    expected |= {("trades_data.json", d["position"]) for d in manifest.damage["trades"]}
    got = {(q.file, q.position) for q in list_quarantine(db)}
    price_damage = {
        (f"price_history/{d['file']}", d["date"]) for d in manifest.damage["price_rows"]
    }
    got_prices = {
        (q.file, q.raw.split(",")[0])
        for q in list_quarantine(db)
        if q.file.startswith("price_history/")
    }
    assert {g for g in got if not g[0].startswith("price_history/")} == expected
    assert got_prices == price_damage
    stale = {str(i) for i in manifest.mess["stale_pnl"]["trade_ids"]}
    assert {r[0] for r in db.query("SELECT legacy_id FROM trades WHERE pnl_mismatch = 1")} == stale
    orphans = {str(i) for i in manifest.mess["orphan_trades"]["trade_ids"]}
    assert {
        r[0]
        for r in db.query(
            "SELECT legacy_id FROM trades WHERE prediction_id IS NULL AND prediction_legacy_id IS NOT NULL"
        )
    } == orphans
    manual = {str(i) for i in manifest.mess["manual_trades"]["trade_ids"]}
    assert {
        r[0] for r in db.query("SELECT legacy_id FROM trades WHERE prediction_legacy_id IS NULL")
    } == manual
    nulls = sum(len(v) for v in manifest.mess["csv_null_rows"].values())
    assert report.flags["null_price_row"] == nulls
    assert (
        db.scalar("SELECT count(*) FROM predictions WHERE timestamp_kind = 'offset'")
        == manifest.mess["timestamps"]["offset"]
    )
    assert verify_folder(db, folder).ok
    out = tmp_path / "export"
    export_json(db, out)
    other = Database(tmp_path / "other.db")
    migrate_folder(other, out)
    assert db_content(other) == db_content(db)


def test_verify_finds_a_changed_field(sample_copy: Database) -> None:
    db = sample_copy
    with db.atomic() as c:
        c.execute("UPDATE predictions SET entry_price = entry_price + 1 WHERE legacy_id = '6'")
        c.execute("UPDATE trades SET extra = '{\"note\": 1}' WHERE legacy_id = '1001'")
        c.execute(
            "DELETE FROM volume_leaders WHERE id = (SELECT max(id) FROM volume_leaders WHERE timeframe = 'daily')"
        )
    report = verify_folder(db, SAMPLE)
    assert not report.ok and report.n_differences == 2
    text = "\n".join(report.differences)
    assert "predictions_data.json record 5: entry_price" in text
    assert "trades_data.json record 0" not in text  # an extra key the file lacks is not a loss
    assert "volume_leaders_daily.json record 5199: its volume_leaders row" in text


def test_verify_finds_an_edited_file(
    sample_db: tuple[Database, MigrationReport], legacy_dir: Path
) -> None:
    db = sample_db[0]
    assert verify_folder(db, legacy_dir).ok  # another path: the newest legacy batch is used
    p = legacy_dir / "trades_data.json"
    trades = json.loads(p.read_text())
    trades[3]["pnl"] = 1.0
    trades.append(dict(trades[0], trade_id=999999))
    p.write_text(json.dumps(trades))
    report = verify_folder(db, legacy_dir)
    assert not report.ok
    assert any("1203 records in the folder but 1202" in d for d in report.differences)
    assert any("trades_data.json record 3: the raw original" in d for d in report.differences)


def test_quarantine_fix_and_reimport(db: Database, generated_dirs: dict) -> None:
    folder, _ = generated_dirs[1]
    migrate_folder(db, folder)
    entries = list_quarantine(db)
    missing = next(e for e in entries if e.rule == "missing_field" and e.field == "ticker")
    conflict = next(e for e in entries if e.rule == "conflicting_duplicate")
    fixed = dict(missing.raw, ticker="AAPL")
    report = reimport_quarantined(db, fixes={missing.id: fixed}, ids=[conflict.id])
    assert report.files["predictions_data.json"].imported == 1
    assert report.files["predictions_data.json"].quarantined == 1  # the conflict still conflicts
    left = list_quarantine(db)
    assert missing.id not in {e.id for e in left} and len(left) == len(entries) - 1
    assert db.scalar("SELECT k.symbol FROM predictions p JOIN tickers k ON k.id = p.ticker_id WHERE legacy_id = ?",
                     (str(missing.raw["id"]),)) == "AAPL"  # fmt: skip
    assert verify_folder(db, folder).ok
    rollback_batch(db, last=True)
    assert {e.id for e in list_quarantine(db)} == {e.id for e in entries}


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command so the group keeps its sub-command names
        pass

    return app


def test_cli_json_exit_codes_and_dry_run(generated_dirs: dict, tmp_path: Path) -> None:
    legacy_dir = tmp_path / "legacy"
    shutil.copytree(generated_dirs[3][0], legacy_dir)
    runner = CliRunner()
    app = _app()
    db = str(tmp_path / "cli.db")
    res = runner.invoke(app, ["migrate", str(legacy_dir), "--db", db, "--json", "--dry-run"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["dry_run"] and doc["batch_id"] is None and doc["totals"]["imported"] > 10_000
    n_imported = doc["totals"]["imported"]
    assert Database(db).scalar("SELECT count(*) FROM predictions") == 0
    res = runner.invoke(app, ["migrate", str(legacy_dir), "--db", db, "--json"])
    doc = json.loads(res.stdout)
    _balanced(doc)
    assert res.exit_code == 0 and doc["batch_id"] == 1 and set(doc["totals"]) == set(KEYS)
    res = runner.invoke(app, ["migrate", str(legacy_dir)], env={"QUANTDB_DB": db})
    assert res.exit_code == 0 and "already_present" in res.stdout and "backup:" in res.stdout
    res = runner.invoke(app, ["verify", str(legacy_dir), "--db", db, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["ok"] is True
    (legacy_dir / "tickers_info.json").write_text('{"AAPL": {"name": "Changed"}}')
    res = runner.invoke(app, ["verify", str(legacy_dir), "--db", db, "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["ok"] is False
    res = runner.invoke(app, ["quarantine", "list", "--db", db, "--json"])
    assert (
        res.exit_code == 0
        and json.loads(res.stdout)["count"] == 9  # the re-run superseded its own entries
    )  # the damage, quarantined by each run
    res = runner.invoke(app, ["export-json", str(tmp_path / "out"), "--db", db, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["records"] == n_imported
    res = runner.invoke(app, ["rollback", "--db", db])
    assert res.exit_code == 2 and "--batch N or --last" in res.stderr and res.stdout == ""
    res = runner.invoke(app, ["rollback", "--batch", "9", "--db", db, "--json"])
    assert res.exit_code == 2 and "no import batch 9" in res.stderr
    res = runner.invoke(app, ["rollback", "--last", "--db", db, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["batch_id"] == 2


def _stored_bytes(db: Database) -> int:
    """Bytes of the database's used pages (checkpointed, free pages not counted)."""
    conn = db.writer()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size"))
    return int((pages - free) * size)


def test_rerun_stores_no_second_copy_of_the_raw_records(sample_copy: Database, legacy_dir: Path) -> None:
    """Issue 16, item 7: a no-op re-run used to store another copy of every raw record (+9 MB
    for the sample, +16 MB for the demo). One copy per distinct original; verify and rollback
    keep working."""
    db = sample_copy
    n_raw = db.scalar("SELECT count(*) FROM raw_records")
    size = _stored_bytes(db)
    first = db.scalar("SELECT max(id) FROM import_batches")
    for _ in range(2):
        again = migrate_folder(db, SAMPLE)
        assert again.totals.imported == 0 and again.totals.already_present == 43203
        assert db.scalar("SELECT count(*) FROM raw_records") == n_raw
    growth = _stored_bytes(db) - size
    assert growth < 100 * 1024, growth  # two batch rows and their reports, not 2 x 9 MB
    assert verify_folder(db, SAMPLE).ok
    assert verify_folder(db, legacy_dir).ok  # the same files elsewhere
    # The same folder moved elsewhere is the same originals: no copy either.
    assert migrate_folder(db, legacy_dir).totals.imported == 0
    assert db.scalar("SELECT count(*) FROM raw_records") == n_raw
    assert verify_folder(db, legacy_dir).ok
    # The first batch keeps the originals the re-runs counted: it cannot go first.
    with pytest.raises(DatabaseError, match="roll back batch 4 first"):
        rollback_batch(db, first)
    for _ in range(3):
        rollback_batch(db, last=True)
        assert verify_folder(db, SAMPLE).ok
    rollback_batch(db, first)
    assert not verify_folder(db, SAMPLE).ok
    assert db.scalar("SELECT count(*) FROM raw_records") == 0


def test_rerun_after_an_edit_stores_only_what_changed(sample_copy: Database, legacy_dir: Path) -> None:
    db = sample_copy
    n_raw = db.scalar("SELECT count(*) FROM raw_records")
    p = legacy_dir / "trades_data.json"
    trades = json.loads(p.read_text())
    trades[3]["notes"] = "edited after the migration"  # an undocumented field: goes to extra
    trades.append(dict(trades[0], trade_id=999999))  # a new trade
    p.write_text(json.dumps(trades))
    report = migrate_folder(db, legacy_dir)
    t = report.files["trades_data.json"]
    assert t.read == 1203 and t.imported == 1 and t.quarantined == 1  # the edit conflicts
    assert db.scalar("SELECT count(*) FROM raw_records") == n_raw + 2
    assert verify_folder(db, legacy_dir).ok
    assert verify_folder(db, SAMPLE).ok  # its own batch still proves the folder as it was
    rollback_batch(db, last=True)
    assert db.scalar("SELECT count(*) FROM raw_records") == n_raw
    assert verify_folder(db, SAMPLE).ok and not verify_folder(db, legacy_dir).ok


def test_verify_checks_every_price_field(legacy_dir: Path, tmp_path: Path) -> None:
    """Price files are verified field by field: a quarantined quoted line is accounted for, and
    a value, a volume and a date changed in the database and a row gone are each named once,
    with file, record and field."""
    p = legacy_dir / "price_history" / "AAPL.csv"
    lines = p.read_text().splitlines()
    d, o, h, lo, c, a, v = lines[3].split(",")  # record 2
    lines[3] = f'"{d}","{o}",{h},{lo},{c},{a},"{v}"'  # quoted: quarantined (an impossible date)
    p.write_text("\n".join(lines) + "\n")
    db = Database(tmp_path / "prices.db")
    migrate_folder(db, legacy_dir)
    assert verify_folder(db, legacy_dir).ok
    with db.atomic() as conn:
        ids = {  # record position -> its price_history row
            pos: rid for pos, rid in conn.execute(
                "SELECT position, target_id FROM raw_records WHERE file = 'price_history/AAPL.csv' AND position < 6")
        }  # fmt: skip
        conn.execute("UPDATE price_history SET close = close * 1.01 WHERE id = ?", (ids[0],))
        conn.execute("UPDATE price_history SET volume = 7 WHERE id = ?", (ids[3],))
        conn.execute("UPDATE price_history SET date = '2001-01-02' WHERE id = ?", (ids[4],))
        conn.execute("DELETE FROM price_history WHERE id = ?", (ids[5],))
    report = verify_folder(db, legacy_dir)
    assert not report.ok and report.n_differences == 4, report.differences
    text = "\n".join(report.differences)
    assert "price_history/AAPL.csv record 0: close: file " in text
    assert ids[2] is None  # the quoted line
    assert f"price_history/AAPL.csv record 3: volume: file '{lines[4].split(',')[-1]}', database 7" in text
    assert "price_history/AAPL.csv record 4: date: file " in text
    assert f"price_history/AAPL.csv record 5: its price_history row {ids[5]} is missing" in text
    db.close()
