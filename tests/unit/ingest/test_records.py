"""Record readers: normalized rows, quarantine decisions (field + rule), and flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantdb.errors import FileFormatError
from quantdb.ingest import reader as rd
from quantdb.ingest import records as rc

PRED = {"id": 1, "date": "06/25/2015", "strategy": "Momentum ", "ticker": "tsla", "position": "SELL",
        "confidence": 53.28, "target": "19.41", "stop_loss": 22.74, "timeframe": "1w", "entry_price": 21.63,
        "status": "expired", "notes": "manual override"}  # fmt: skip
TRADE = {"trade_id": 1001, "prediction_id": 1, "ticker": "TSLA", "side": "short", "entry_date": "2015-06-25",
         "entry_price": 21.62, "shares": 462, "exit_date": "2015-07-02", "exit_price": 21.04, "status": "CLOSED",
         "pnl": 264.51, "fees": 2.0}  # fmt: skip


def test_prediction_normalized_with_flags_and_extra() -> None:
    pf = rc.read_predictions({"predictions": [PRED], "last_updated": "x"}, "predictions_data.json")
    row = dict(zip(rc.PREDICTION_COLUMNS, pf.rows[0], strict=True))
    assert row == {
        "legacy_id": "1", "date": "2015-06-25", "timestamp": None, "timestamp_utc": None, "timestamp_kind": None,
        "strategy": "momentum", "ticker": "TSLA", "position": "SHORT", "confidence": pytest.approx(0.5328),
        "target": 19.41, "stop_loss": 22.74, "timeframe": "1w", "timeframe_days": 5, "entry_price": 21.63,
        "status": "expired", "extra": '{"notes":"manual override"}',
    }  # fmt: skip
    assert pf.flags[0] == ["date_mdy", "confidence_percent"]
    assert pf.meta == {"last_updated": "x"}
    assert json.loads(pf.raws[0]) == PRED


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"ticker": None}, "ticker", "missing_field"),
        ({"ticker": "  "}, "ticker", "missing_field"),
        ({"date": "02/30/2015"}, "date", "impossible_date"),
        ({"entry_price": 0}, "entry_price", "non_positive_price"),
        ({"target": -3}, "target", "non_positive_price"),
        ({"confidence": 150}, "confidence", "confidence_range"),
        ({"confidence": -0.2}, "confidence", "confidence_range"),
        ({"position": "HOLD"}, "position", "bad_value"),
        ({"status": "won"}, "status", "bad_value"),
        ({"timeframe": "soon"}, "timeframe", "bad_value"),
        ({"timestamp": "2015-06-25T25:00:00"}, "timestamp", "impossible_date"),
    ],
)
def test_prediction_quarantine_rules(change: dict, field: str, rule: str) -> None:
    pf = rc.read_predictions({"predictions": [PRED | change]}, "p.json")
    assert pf.rows[0] is None
    assert (pf.problems[0].field, pf.problems[0].rule) == (field, rule)
    assert pf.problems[0].reason


def test_non_object_record_is_quarantined_not_lost() -> None:
    pf = rc.read_predictions({"predictions": [PRED, 42, "x"]}, "p.json")
    assert len(pf) == 3
    assert [p.rule if p else None for p in pf.problems] == [None, "bad_record", "bad_record"]
    assert pf.raws[1:] == ["42", '"x"']


def test_nan_record_keeps_its_nan_literal() -> None:
    pf = rc.read_predictions(
        {"predictions": [PRED | {"target": float("nan")}]}, "p.json", has_nan=True
    )
    assert '"target": NaN' in pf.raws[0]
    assert pf.rows[0][rc.PREDICTION_COLUMNS.index("target")] is None


def test_trade_pnl_tolerance_and_flags() -> None:
    pf = rc.read_trades(
        [TRADE, TRADE | {"trade_id": 2, "pnl": 300.0, "prediction_id": None}], "t.json"
    )
    a = dict(zip(rc.TRADE_COLUMNS, pf.rows[0], strict=True))
    # (21.62 - 21.04) * 462 - 2 = 265.96: within a cent per share of the stored 264.51
    assert (
        a["pnl_computed"] == pytest.approx(265.96) and a["pnl_mismatch"] == 0 and a["pnl"] == 264.51
    )
    b = dict(zip(rc.TRADE_COLUMNS, pf.rows[1], strict=True))
    assert b["pnl_mismatch"] == 1 and b["pnl"] == 300.0
    assert pf.flags[1] == ["no_prediction", "pnl_mismatch"]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"exit_date": "2015-06-01"}, "exit_date", "exit_before_entry"),
        ({"entry_price": -1}, "entry_price", "non_positive_price"),
        ({"shares": 0}, "shares", "non_positive_shares"),
        ({"exit_price": None}, "exit_price", "missing_field"),
        ({"side": "up"}, "side", "bad_value"),
        ({"ticker": ""}, "ticker", "missing_field"),
    ],
)
def test_trade_quarantine_rules(change: dict, field: str, rule: str) -> None:
    pf = rc.read_trades([TRADE | change], "t.json")
    assert (pf.problems[0].field, pf.problems[0].rule) == (field, rule)


def test_open_trade_without_fees() -> None:
    rec = {k: v for k, v in TRADE.items() if k != "fees"} | {
        "status": "OPEN",
        "exit_date": None,
        "exit_price": None,
        "pnl": None,
    }
    row = dict(zip(rc.TRADE_COLUMNS, rc.read_trades([rec], "t.json").rows[0], strict=True))
    assert row["fees"] == 0.0 and row["pnl_computed"] is None and row["exit_date"] is None


def test_leaders_rank_strings_and_ticker_key() -> None:
    doc = {"timeframe": "weekly", "updated": "2017-11-30",
           "leaders": {"2015-01-02": [{"rank": "1", "ticker": "amzn", "volume": 10, "price": 4.5},
                                      {"rank": "2", "ticker": "X", "volume": -1, "price": 4.5}]}}  # fmt: skip
    pf = rc.read_leaders(doc, "volume_leaders_weekly.json", "weekly")
    assert pf.rows[0] == ("weekly", "2015-01-02", 1, "AMZN", 10, 4.5, None)
    assert pf.keys == ["2015-01-02", "2015-01-02"]
    assert pf.problems[1].rule == "negative_volume"
    assert pf.meta["symbol_key"] == "ticker"


def test_prices_null_rows_split_and_damage(tmp_path: Path) -> None:
    p = tmp_path / "BRK-B.csv"
    p.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2015-01-02,10,11,9,10.5,10.5,100\n"
        "2015-01-05,null,null,null,null,null,null\n"
        "2015-01-06,10,9,11,10.5,10.5,100\n"
        "2015-01-07,10,11,9,10.5,10.5,-5\n"
        "2015-01-08,0,11,9,10.5,10.5,5\n"
        "2015-02-30,10,11,9,10.5,10.5,5\n"
        "2015-01-09,10,11,9\n"
    )
    pf = rc.read_prices(rd.load_price_csv(p, "price_history/BRK-B.csv"))
    assert pf.rows[0] == ("BRK.B", "2015-01-02", 10.0, 11.0, 9.0, 10.5, 100, 10.5)
    assert pf.rows[1] == ("BRK.B", "2015-01-05", None, None, None, None, None, None)
    assert pf.flags[1] == ["null_price_row"]
    got = [(q.field, q.rule) if q else None for q in pf.problems]
    assert got == [None, None, ("high", "high_below_low"), ("volume", "negative_volume"),
                   ("open", "non_positive_price"), ("date", "impossible_date"), ("*", "bad_record")]  # fmt: skip
    assert pf.raws[3] == "2015-01-07,10,11,9,10.5,10.5,-5"


def test_tickers_and_strategies() -> None:
    tk = rc.read_tickers(
        {"meta": {"name": "Meta", "sector": "Tech", "market_cap": "1.2T", "ipo": 2012}},
        "tickers_info.json",
    )
    assert tk.rows[0] == ("META", "Meta", "Tech", 1.2e12, "1.2T", '{"ipo":2012}')
    st = rc.read_strategies(
        {"Momentum ": {"description": "d", "min_hold_days": 3, "max_hold_days": 2}}, "s.json"
    )
    assert st.problems[0].rule == "bad_value"


@pytest.mark.parametrize(
    ("reader", "doc"),
    [
        (rc.read_predictions, []),
        (rc.read_predictions, {"preds": []}),
        (rc.read_trades, {}),
        (rc.read_tickers, []),
    ],
)
def test_wrong_top_level_shape(reader: object, doc: object) -> None:
    with pytest.raises(FileFormatError, match="wrong top-level shape"):
        reader(doc, "f.json")  # type: ignore[operator]


def test_sample_predictions_all_read(legacy_dir: Path) -> None:
    doc, has_nan = rd.load_json_ex(legacy_dir / "predictions_data.json")
    pf = rc.read_predictions(doc, "predictions_data.json", has_nan=has_nan)
    assert len(pf) == 2001 and not any(pf.problems)
    assert {r[7] for r in pf.rows} == {"LONG", "SHORT"}
    assert {r[5] for r in pf.rows} == {
        "momentum",
        "mean_reversion",
        "volume_breakout",
        "ml_ensemble",
        "earnings_drift",
    }
    assert all(0 <= r[8] <= 1 for r in pf.rows)
    assert sum("confidence_percent" in (f or []) for f in pf.flags) == 18
