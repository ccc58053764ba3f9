"""`QuantDB`'s research calls: results stored, and DuckDB's attach closed before any write."""

from __future__ import annotations

from pathlib import Path

import quantdb as qdb
from quantdb.services.records.prices import import_price_files

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample" / "price_history"


def test_backtest_after_sql_closes_duckdb_and_stores(tmp_path: Path) -> None:
    db = qdb.connect(tmp_path / "q.db")
    import_price_files(db.db, [SAMPLE])
    assert db.sql("SELECT count(*) AS n FROM price_history")["n"][0] > 0
    assert db._duck is not None  # the attach is open
    result = db.backtest("sma-cross", tickers=["AAPL"], params={"fast": 10, "slow": 50})
    assert db._duck is None  # closed before the backtest wrote its rows
    assert result.backtest_id is not None
    stored = db.sql("SELECT trades FROM backtest_results WHERE id = ?", [result.backtest_id])
    assert stored["trades"][0] == result.stats()["n_trades"]
    mc = db.montecarlo(backtest=result.backtest_id, paths=200, seed=3)
    again = db.montecarlo(backtest=result.backtest_id, paths=200, seed=3)
    assert mc == again
    db.close()


def test_plain_reads_trial_returns_and_rerun_need_no_raw_database(tmp_path: Path) -> None:
    db = qdb.connect(tmp_path / "q.db")
    import_price_files(db.db, [SAMPLE])
    rows = db.query("SELECT symbol FROM tickers WHERE symbol = ?", ["AAPL"])
    assert [r["symbol"] for r in rows] == ["AAPL"]
    returns, grid = db.trial_returns(
        "sma-cross", grid_specs=["fast=5:10:5", "slow=20:30:10"], tickers=["AAPL"], commission=0.001
    )
    assert returns.shape[1] == len(grid) == 4
    res = db.backtest("sma-cross", tickers=["AAPL"], commission=0.001, sizing="equity:0.5")
    assert (res.settings.commission, res.settings.sizing_value) == (0.001, 0.5)
    again = db.rerun_backtest(res.backtest_id)
    assert again.fingerprint == res.fingerprint
    assert again.stats()["final_equity"] == res.stats()["final_equity"]
    assert db.backtest_returns(res.backtest_id).size == len(res.dates)
    db.close()
