"""The Store interface on both backends (QUANTDB_BACKEND=sqlite|json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantdb.errors import InputError, QuantdbError
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.store import JsonStore, SqliteStore, Store, open_store
from quantdb.services.records.verify import verify_folder
from quantdb.storage.sqlite import Database

PRED = {"id": "live-1", "date": "2024-03-01", "timestamp": "2024-03-01T10:00:00Z", "strategy": "Momentum ",
        "ticker": "aapl", "position": "BUY", "confidence": 72.0, "target": 190.0, "stop_loss": 170.0,
        "timeframe": "1w", "entry_price": 180.0, "status": "open", "notes": "from the predictor"}  # fmt: skip
TRADE = {"trade_id": 77, "prediction_id": "live-1", "ticker": "AAPL", "side": "long", "entry_date": "2024-03-01",
         "entry_price": 180.5, "shares": 10, "exit_date": None, "exit_price": None, "status": "OPEN", "pnl": None,
         "fees": 1.0}  # fmt: skip


@pytest.fixture(params=["sqlite", "json"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("QUANTDB_BACKEND", request.param)
    monkeypatch.setenv("QUANTDB_DB", str(tmp_path / "q.db"))
    monkeypatch.setenv("QUANTDB_JSON_DIR", str(tmp_path / "legacy"))
    s = open_store()
    assert isinstance(s, SqliteStore if request.param == "sqlite" else JsonStore)
    return s


def test_add_list_idempotent_and_refusals(store: Store) -> None:
    assert store.add_prediction(PRED) == "live-1"
    assert store.add_prediction(PRED) == "live-1"  # the same record again: no-op
    preds = store.list_predictions(strategy="momentum", status="open")
    assert len(preds) == 1 and preds[0]["notes"] == "from the predictor"
    assert store.list_predictions(status="expired") == []
    with pytest.raises(InputError, match="already"):
        store.add_prediction(PRED | {"target": 200.0})
    with pytest.raises(InputError, match="confidence"):
        store.add_prediction(PRED | {"id": "live-2", "confidence": 250})
    assert store.add_trade(TRADE) == "77"
    assert [t["trade_id"] for t in store.list_trades(status="open")] == [77]
    with pytest.raises(InputError, match="exit_before_entry"):
        store.add_trade(
            TRADE
            | {"trade_id": 78, "exit_date": "2024-02-01", "exit_price": 1.0, "status": "CLOSED"}
        )
    assert len(store.list_predictions()) == 1 and len(store.list_trades()) == 1


def test_json_mode_files_are_legacy_and_migrate(tmp_path: Path) -> None:
    store = JsonStore(tmp_path / "legacy")
    store.add_prediction(PRED)
    store.add_trade(TRADE)
    doc = json.loads((tmp_path / "legacy" / "predictions_data.json").read_text())
    assert doc["predictions"] == [PRED] and "last_updated" in doc
    assert not list((tmp_path / "legacy").glob(".*.tmp"))  # no temporary file left behind
    db = Database(tmp_path / "q.db")
    report = migrate_folder(db, tmp_path / "legacy")
    assert report.totals.imported == 2 and verify_folder(db, tmp_path / "legacy").ok
    assert db.scalar("SELECT prediction_id IS NOT NULL FROM trades") == 1


def test_sqlite_additions_are_rollbackable_batches(tmp_path: Path) -> None:
    from quantdb.services.records.rollback import rollback_batch

    store = SqliteStore(tmp_path / "q.db")
    store.add_prediction(PRED)
    assert store.db.scalar("SELECT kind FROM import_batches") == "manual"
    rollback_batch(store.db, last=True)
    assert store.list_predictions() == []


def test_unknown_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDB_BACKEND", "mongo")
    with pytest.raises(QuantdbError, match="sqlite, json"):
        open_store()
