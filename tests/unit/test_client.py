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


def test_only_price_csvs_the_notebook_path_equals_the_command_line(tmp_path: Path) -> None:
    """A user with only price CSVs: connect (creates), import_prices, backtest in a notebook,
    and the same three steps from the command line (init, prices import, backtest) store the
    same rows (the same import and backtest functions behind both doors)."""
    import json
    import subprocess
    import sys

    import numpy as np

    files = [SAMPLE / "AAPL.csv", SAMPLE / "AMZN.csv"]
    with qdb.connect(tmp_path / "nb.db") as db:
        report = db.import_prices(*files)
        assert report.totals["inserted"] > 0 and db.tickers() == ["AAPL", "AMZN"]
        assert db.import_prices(*files).totals["inserted"] == 0  # the same bars again: no change
        nb = db.backtest("sma-cross", params={"fast": 10, "slow": 50}, commission=0.001)
    cli_db = tmp_path / "cli.db"
    for args in (["init"], ["prices", "import", *map(str, files)],
                 ["backtest", "sma-cross", "--param", "fast=10", "--param", "slow=50",
                  "--commission", "0.001", "--json"]):
        proc = subprocess.run([sys.executable, "-m", "quantdb", *args, "--db", str(cli_db)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    with qdb.connect(cli_db, create=False) as db:
        cli = db.rerun_backtest(int(doc["backtest_id"]))
    np.testing.assert_array_equal(cli.equity_curve, nb.equity_curve)
    assert cli.trade_records.tobytes() == nb.trade_records.tobytes() and len(nb.trade_records) > 0


def test_the_readme_notebook_example_runs(tmp_path: Path) -> None:
    """README's "In a notebook, with only price CSVs" block, run as written on a folder of the
    sample's price CSVs: it imports, backtests, plots, sweeps and walks forward."""
    import re
    import shutil
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In a notebook, with only price CSVs", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README lost its notebook example"
    shutil.copytree(SAMPLE, tmp_path / "prices")
    script = block.group(1) + "\nassert res.stats()['n_trades'] > 0 and res.backtest_id is not None\n"
    (tmp_path / "example.py").write_text(script, encoding="utf-8")
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with qdb.connect(tmp_path / "quant.db", create=False) as db:
        assert len(db.tickers()) > 10


def test_connect_without_create_names_a_folder_or_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    """`qdb.connect(path, create=False)` on a folder said "disk I/O error" at the first read;
    it now says what the path is, as the command line does."""
    import pytest

    with pytest.raises(qdb.QuantdbError, match="is a folder, not a database file"):
        qdb.connect(tmp_path, create=False)
    text = tmp_path / "notes.db"
    text.write_text("not a database\n", encoding="utf-8")
    with pytest.raises(qdb.QuantdbError, match="not a SQLite database"):
        qdb.connect(text, create=False)
    with pytest.raises(qdb.QuantdbError, match="no such database"):
        qdb.connect(tmp_path / "missing.db", create=False)
