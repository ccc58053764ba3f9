"""Hypothesis round trips over generated legacy records (as sqlite-utils' test_hypothesis does).

1. record -> normalized row -> exported legacy record -> normalized row: the same row, for any
   mix of the FORMAT.md quirks (pure, many examples).
2. a generated folder -> migrate -> counts balance, verify passes -> export-json -> migrate
   into an empty database: the same content (real SQLite files, fewer examples).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdb.ingest import records as rc
from quantdb.services.records.export import export_json, prediction_record, trade_record
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.verify import verify_folder
from quantdb.storage.sqlite import Database

TICKERS = ["AAPL", "brk.b", "Msft", "x"]
STRATEGIES = ["momentum", "Momentum ", "EARNINGS_DRIFT", " mean_reversion"]
UNDOCUMENTED = st.dictionaries(st.sampled_from(["notes", "model_version", "tags"]),
                               st.one_of(st.text(max_size=8), st.integers(-5, 5), st.none()), max_size=2)  # fmt: skip


@st.composite
def day(draw: st.DrawFn) -> tuple[str, str]:
    d = draw(
        st.dates(
            min_value=__import__("datetime").date(2000, 1, 1),
            max_value=__import__("datetime").date(2030, 12, 31),
        )
    )
    return d.isoformat(), draw(st.sampled_from([d.isoformat(), d.strftime("%m/%d/%Y")]))


def price(draw: st.DrawFn, *, optional: bool = True) -> Any:
    x = draw(st.floats(0.01, 5000, allow_nan=False).map(lambda v: round(v, 4)))
    choices = [x, str(x)] + ([None, float("nan")] if optional else [])
    return draw(st.sampled_from(choices))


@st.composite
def prediction(draw: st.DrawFn, ident: int) -> dict[str, Any]:
    _, written = draw(day())
    rec: dict[str, Any] = {
        "id": draw(st.sampled_from([ident, f"p-{ident}", str(ident)])),
        "date": written,
        "strategy": draw(st.sampled_from(STRATEGIES)),
        "ticker": draw(st.sampled_from(TICKERS)),
        "position": draw(st.sampled_from(["LONG", "SHORT", "BUY", "SELL", "long"])),
        "confidence": draw(
            st.one_of(st.floats(0, 1), st.floats(1.01, 100)).map(lambda v: round(v, 4))
        ),
        "target": price(draw),
        "stop_loss": price(draw),
        "timeframe": draw(
            st.one_of(st.sampled_from(["1d", "3d", "5d", "1w", "2w", "1m"]), st.integers(1, 60))
        ),
        "entry_price": price(draw),
        "status": draw(st.sampled_from(["open", "hit_target", "stopped", "expired"])),
    }
    if draw(st.booleans()):
        ts = draw(st.datetimes(min_value=__import__("datetime").datetime(2001, 1, 1),
                               max_value=__import__("datetime").datetime(2029, 1, 1))).replace(microsecond=0)  # fmt: skip
        rec["timestamp"] = ts.isoformat() + draw(st.sampled_from(["", "Z", "+02:00", "-05:30"]))
    rec.update(draw(UNDOCUMENTED))
    return rec


@st.composite
def trade(draw: st.DrawFn, ident: int, pred_ids: list[Any]) -> dict[str, Any]:
    entry_iso, entry_written = draw(day())
    status = draw(st.sampled_from(["OPEN", "CLOSED", "CANCELLED"]))
    closed = status == "CLOSED" or (status == "CANCELLED" and draw(st.booleans()))
    exit_date = None
    if closed:
        import datetime as dt

        exit_date = (
            dt.date.fromisoformat(entry_iso) + dt.timedelta(days=draw(st.integers(0, 40)))
        ).isoformat()
    rec = {
        "trade_id": ident, "prediction_id": draw(st.sampled_from([None, "deleted-1", *pred_ids])),
        "ticker": draw(st.sampled_from(TICKERS)), "side": draw(st.sampled_from(["long", "short"])),
        "entry_date": entry_written, "entry_price": price(draw, optional=False),
        "shares": draw(st.integers(1, 5000)), "exit_date": exit_date,
        "exit_price": price(draw, optional=False) if closed else None, "status": status,
        "pnl": draw(st.one_of(st.none(), st.floats(-1e5, 1e5).map(lambda v: round(v, 2)))),
    }  # fmt: skip
    if draw(st.booleans()):
        rec["fees"] = draw(st.sampled_from([0.0, 2.0, 1.5]))
    rec.update(draw(UNDOCUMENTED))
    return rec


CONTENT = {
    "predictions": "SELECT p.legacy_id, p.date, p.timestamp, p.timestamp_utc, p.timestamp_kind, s.name, k.symbol, "
    "p.position, p.confidence, p.target, p.stop_loss, p.timeframe, p.timeframe_days, p.entry_price, p.status, p.extra "
    "FROM predictions p JOIN strategies s ON s.id = p.strategy_id JOIN tickers k ON k.id = p.ticker_id",
    "trades": "SELECT r.legacy_id, r.prediction_legacy_id, p.legacy_id, k.symbol, r.side, r.entry_date, r.entry_price, "
    "r.shares, r.exit_date, r.exit_price, r.status, r.pnl, r.pnl_computed, r.pnl_mismatch, r.fees, r.extra "
    "FROM trades r JOIN tickers k ON k.id = r.ticker_id LEFT JOIN predictions p ON p.id = r.prediction_id",
    "tickers": "SELECT symbol, name, sector, market_cap, market_cap_raw, extra FROM tickers",
    "strategies": "SELECT name, description, min_hold_days, max_hold_days, extra FROM strategies",
}  # fmt: skip


def db_content(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted((tuple(r) for r in db.query(q)), key=repr) for t, q in CONTENT.items()}


def _prediction_db_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A normalized prediction row in export's PREDICTION_SQL order (what the database returns)."""
    r = dict(zip(rc.PREDICTION_COLUMNS, row, strict=True))
    return (r["legacy_id"], 0, r["date"], r["timestamp"], r["strategy"], r["ticker"], r["position"], r["confidence"],
            r["target"], r["stop_loss"], r["timeframe"], r["entry_price"], r["status"], None, None, r["extra"])  # fmt: skip


def _trade_db_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    r = dict(zip(rc.TRADE_COLUMNS, row, strict=True))
    return (r["legacy_id"], 0, r["prediction_legacy_id"], None, r["ticker"], r["side"], r["entry_date"], r["entry_price"],
            r["shares"], r["exit_date"], r["exit_price"], r["status"], r["pnl"], r["fees"], r["extra"])  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6).flatmap(prediction))
def test_prediction_export_reimport_is_identity(rec: dict[str, Any]) -> None:
    first = rc.read_predictions({"predictions": [rec]}, "p.json", has_nan=True)
    assert first.problems == [None], first.problems
    exported = prediction_record(_prediction_db_row(first.rows[0]))
    second = rc.read_predictions({"predictions": [json.loads(json.dumps(exported))]}, "p.json")
    assert second.rows == first.rows
    assert 0.0 <= first.rows[0][8] <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6).flatmap(lambda i: trade(i, ["p-1", 7])))
def test_trade_export_reimport_is_identity(rec: dict[str, Any]) -> None:
    first = rc.read_trades([rec], "t.json", has_nan=True)
    assert first.problems == [None], first.problems
    row = dict(zip(rc.TRADE_COLUMNS, first.rows[0], strict=True))
    if row["pnl_computed"] is not None:  # the recomputed pnl is the formula, to the micro-dollar
        sign = 1 if row["side"] == "long" else -1
        want = sign * (row["exit_price"] - row["entry_price"]) * row["shares"] - row["fees"]
        assert math.isclose(row["pnl_computed"], want, abs_tol=1e-6)
    exported = trade_record(_trade_db_row(first.rows[0]))
    second = rc.read_trades([json.loads(json.dumps(exported))], "t.json")
    assert second.rows == first.rows


@st.composite
def folder_records(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n = draw(st.integers(1, 12))
    preds = [draw(prediction(i)) for i in range(1, n + 1)]
    if draw(st.booleans()):  # an exact duplicate
        preds.append(dict(draw(st.sampled_from(preds))))
    ids = [p["id"] for p in preds]
    trades = [draw(trade(1000 + i, ids)) for i in range(draw(st.integers(0, 8)))]
    return preds, trades


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(folder_records())
def test_folder_migrate_verify_export_reimport(
    recs: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    preds, trades = recs
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        legacy = root / "legacy"
        legacy.mkdir()
        (legacy / "predictions_data.json").write_text(
            json.dumps({"predictions": preds, "last_updated": "x"})
        )
        (legacy / "trades_data.json").write_text(json.dumps(trades))
        db = Database(root / "a.db")
        report = migrate_folder(db, legacy)
        assert report.totals.balanced and report.totals.read == len(preds) + len(trades)
        assert verify_folder(db, legacy).ok
        export_json(db, root / "out")
        other = Database(root / "b.db")
        migrate_folder(other, root / "out")
        assert db_content(other) == db_content(db)
        db.close()
        other.close()
