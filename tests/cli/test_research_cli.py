"""`quantdb sweep`, `walkforward` and `montecarlo` through the real Typer application: the
--json contracts, resume by run id, identical Monte Carlo documents for one seed, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample" / "price_history"
SWEEP = ["sweep", "sma-cross", "--grid", "fast=5:20:5", "--grid", "slow=20:60:10",
         "--constraint", "fast<slow", "--fill", "close", "--fractional"]



def _json(args: list[str], db: Path) -> dict:
    res = CliRunner().invoke(app, [*args, "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_sweep_json_contract_and_resume(dbfile: Path, tmp_path: Path) -> None:
    doc = _json([*SWEEP, "--out", str(tmp_path), "--chunk", "4", "--top", "3",
                 "--heatmap", str(tmp_path / "map.png")], dbfile)
    assert (tmp_path / "map.png").stat().st_size > 1000
    assert {"run_id", "combos", "results", "best"} <= set(doc)
    assert doc["combos"] == 19 and len(doc["best"]) == 3
    assert doc["results"].endswith(".parquet") and Path(doc["results"]).exists()
    cols = pq.read_table(doc["results"]).column_names
    assert cols == ["ticker", "fast", "slow", "total_return", "sharpe", "max_drawdown", "n_trades",
                    "bankrupt"]
    assert set(doc["best"][0]) >= {"fast", "slow", "sharpe", "total_return", "max_drawdown", "n_trades",
                                   "bankrupt"}
    assert doc["bankrupt_sets"] == 0
    # resuming a finished run recomputes nothing and gives the same best sets
    again = _json(["sweep", "--resume", str(doc["run_id"]), "--out", str(tmp_path)], dbfile)
    assert again["run_id"] == doc["run_id"]
    assert again["chunks_skipped"] == again["chunks"] == 5  # 19 sets in chunks of 4
    assert again["bankrupt_sets"] == 0
    assert [b["backtest_id"] for b in again["best"]] == [b["backtest_id"] for b in doc["best"]]
    assert [{k: b[k] for k in ("fast", "slow", "sharpe")} for b in again["best"]] == [
        {k: b[k] for k in ("fast", "slow", "sharpe")} for b in doc["best"]]


def test_sweep_bad_input_exits_2_with_one_line(dbfile: Path) -> None:
    runner = CliRunner()
    for args in (["sweep", "sma-cross", "--grid", "fast=5:x"],
                 ["sweep", "sma-cross", "--constraint", "fast<<slow"],
                 ["sweep", "no-such-strategy"],
                 ["sweep", "sma-cross", "--grid", "bogus=1,2"],
                 ["sweep", "sma-cross", "--executor", "cloud"],
                 ["sweep", "--resume", "999"]):
        res = runner.invoke(app, [*args, "--db", str(dbfile), "--json"])
        assert res.exit_code == 2, (args, res.output)
        assert res.stdout == ""
        assert res.stderr.startswith("quantdb: error:") and res.stderr.count("\n") == 1


def test_walkforward_json(dbfile: Path) -> None:
    doc = _json(["walkforward", "sma-cross", "--grid", "fast=5:15:5", "--grid", "slow=20:40:10",
                 "--train", "252", "--test", "126", "--purge", "5", "--fill", "close",
                 "--fractional", "--returns"], dbfile)
    assert doc["combos"] == 9 and len(doc["windows"]) == 3
    for w in doc["windows"]:
        assert w["train"][1] < w["test"][0]
    assert len(doc["oos_returns"]) == 3 * 126 == doc["oos"]["days"]
    assert 0.0 <= doc["pbo"]["pbo"] <= 1.0 and 0.0 <= doc["deflated_sharpe"]["dsr"] <= 1.0
    assert set(doc["stability"]) == {"fast", "slow"}
    assert doc["bankrupt_sets"] == 0  # issue 12: counted, and ranked last when there are some
    assert all(w["is_bankrupt_sets"] == 0 == w["oos_bankrupt_tickers"] for w in doc["windows"])


@pytest.fixture(scope="module")
def backtest_id(dbfile: Path) -> int:
    """A stored backtest with an equity curve and trades, written as the backtest engine does."""
    from quantdb.storage.sqlite import Database

    rng = np.random.default_rng(1337)
    days = np.arange(np.datetime64("2016-01-04"), np.datetime64("2016-01-04") + 400)
    equity = 10_000 * np.cumprod(1 + rng.normal(0.0005, 0.01, days.size))
    db = Database(dbfile)
    with db.atomic() as conn:
        conn.execute("INSERT OR IGNORE INTO strategies (name) VALUES ('sma-cross')")
        sid = conn.execute("SELECT id FROM strategies WHERE name = 'sma-cross'").fetchone()[0]
        cur = conn.execute(
            "INSERT INTO backtest_results (strategy_id, start_date, end_date, trades, params_json, "
            "settings_json, data_fingerprint, quantdb_version, created_at) "
            "VALUES (?, ?, ?, 30, '{}', '{}', 'x', '0', '2026-01-01 00:00:00')",
            (sid, str(days[0]), str(days[-1])))
        bid = int(cur.lastrowid)
        conn.executemany("INSERT INTO backtest_equity VALUES (?, ?, ?, 1.0)",
                         [(bid, str(d), float(e)) for d, e in zip(days, equity, strict=True)])
        for k in range(30):
            entry, exit_ = days[10 * k + 1], days[10 * k + 8]
            pnl = float(rng.normal(20, 150))
            conn.execute(
                "INSERT INTO backtest_trades (backtest_id, ticker, entry_date, exit_date, entry_price, "
                "exit_price, size, pnl, return_pct, fees, exit_reason, bars_held) "
                "VALUES (?, 'AAPL', ?, ?, 100, 101, 10, ?, 0.01, 0, 'signal', 7)",
                (bid, str(entry), str(exit_), pnl))
    db.close()
    return bid


@pytest.mark.parametrize("method", ["iid", "block", "trades"])
def test_montecarlo_same_seed_same_document(dbfile: Path, backtest_id: int, method: str) -> None:
    args = ["montecarlo", "--backtest", str(backtest_id), "--paths", "500", "--method", method,
            "--seed", "7", "--ruin", "-0.1"]
    one = CliRunner().invoke(app, [*args, "--db", str(dbfile), "--json"])
    two = CliRunner().invoke(app, [*args, "--db", str(dbfile), "--json"])
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout  # byte for byte: no timing, no timestamp
    doc = json.loads(one.stdout)
    assert doc["seed"] == 7 and doc["paths"] == 500 and doc["method"] == method
    assert doc["horizon"] == (30 if method == "trades" else 399)
    d = doc["distributions"]
    assert set(d) == {"final_return", "cagr", "sharpe", "max_drawdown", "time_under_water"}
    assert d["max_drawdown"]["p05"] <= d["max_drawdown"]["p50"] <= 0.0
    assert 0.0 <= doc["probability_of_ruin"] <= 1.0
    assert len(doc["cone"]["wealth"]) == len(doc["cone"]["steps"])
    other = CliRunner().invoke(app, [*args[:-4], "--seed", "8", "--db", str(dbfile), "--json"])
    assert json.loads(other.stdout)["distributions"] != d


def test_montecarlo_of_a_tracked_strategy(legacy_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "legacy.db"
    runner = CliRunner()
    assert runner.invoke(app, ["migrate", str(legacy_dir), "--db", str(db), "--json"]).exit_code == 0
    args = ["montecarlo", "--strategy", "momentum", "--paths", "300", "--seed", "11", "--db", str(db), "--json"]
    one, two = runner.invoke(app, args), runner.invoke(app, args)
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout
    doc = json.loads(one.stdout)
    assert doc["source"] == "strategy momentum" and doc["horizon"] > 100
    trades = json.loads(runner.invoke(app, [*args, "--method", "trades"]).stdout)
    assert trades["method"] == "trades" and 0 < trades["periods_per_year"] < 252


def test_montecarlo_errors(dbfile: Path) -> None:
    runner = CliRunner()
    for args in (["montecarlo", "--backtest", "9999"], ["montecarlo"],
                 ["montecarlo", "--strategy", "nobody"]):
        res = runner.invoke(app, [*args, "--db", str(dbfile)])
        assert res.exit_code == 2, (args, res.output)
        assert res.stderr.startswith("quantdb: error:")


def test_sweep_universe_forms(dbfile: Path, tmp_path: Path) -> None:
    """--universe reads like backtest's: a list, sector:NAME (from tickers.sector), list:A,B;
    leaders:N (a per-date gate) is refused with one line."""
    import sqlite3

    with sqlite3.connect(dbfile) as conn:
        conn.execute("UPDATE tickers SET sector = 'Energy' WHERE symbol IN ('XOM', 'LNG')")
    grid = ["sweep", "sma-cross", "--grid", "fast=5:10:5", "--grid", "slow=30:30:1", "--out", str(tmp_path)]
    for universe in ("sector:energy", "list:XOM,LNG", "XOM,LNG"):
        out = _json([*grid, "--universe", universe], dbfile)
        tickers = set(pq.read_table(out["results"]).column("ticker").to_pylist())
        assert tickers == {"XOM", "LNG"}, universe
    res = CliRunner().invoke(app, [*grid, "--universe", "leaders:5", "--db", str(dbfile), "--json"])
    assert res.exit_code == 2 and "leaders" in res.output
