"""Issue 11 part 5, stored results: one writer and reader, one shape, one timestamp format, one
fingerprint, and every stored backtest (a sweep's rows included) rerun, bootstrapped and
reported from any door.

Each test is a finding that failed before the change: two writers with two settings shapes,
readers guessing ``capital``/``cash``/``initial_capital``, ``created_at`` in two formats (so
"latest backtests" misordered), two fingerprints in one column, and a sweep's stored row that
could not be rerun (KeyError 'universe'), bootstrapped ("has 0 daily returns") or given a
tearsheet.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.prices import import_price_files
from quantdb.services.research.backtest import run_backtest
from quantdb.services.research.bars import fingerprint, load_bars
from quantdb.services.research.replay import replay_predictions
from quantdb.services.research.results import (
    DataChangedWarning,
    list_backtests,
    load_backtest,
    load_equity,
    load_trades,
    rerun_backtest,
)
from quantdb.services.research.sweep import run_sweep
from quantdb.settings import SimSettings, settings_to_json
from quantdb.storage.migrations import apply_migrations, sql_dir
from quantdb.storage.sqlite import Database

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "legacy_sample"
PRICES = SAMPLE / "price_history"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
TICKERS = ["AAPL", "AMZN", "MSFT", "GOOGL"]
GRID = ["fast=5:20:5", "slow=30:60:30"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The legacy sample migrated (prices and predictions), then one backtest, one sweep (top 2)
    and one prediction replay stored, in that order."""
    folder = tmp_path_factory.mktemp("results")
    db = Database(folder / "quant.db")
    migrate_folder(db, SAMPLE)
    bt = run_backtest("sma-cross", db=db, tickers=TICKERS[:3], params={"fast": 10, "slow": 40},
                      commission=0.001, stop_loss=0.08)
    sweep = run_sweep(db, "sma-cross", grid_specs=GRID, tickers=TICKERS, out_dir=folder, top=2,
                      commission=0.0005)
    replay = replay_predictions(db, "momentum", store=True)
    yield {"db": db, "path": folder / "quant.db", "backtest": bt, "sweep": sweep, "replay": replay}
    db.close()


def _stored_trades(db: Database, backtest_id: int) -> list[tuple[Any, ...]]:
    keys = ("ticker", "entry_date", "exit_date", "entry_price", "exit_price", "size", "pnl", "fees",
            "exit_reason", "bars_held")
    return sorted(tuple(t[k] for k in keys) for t in load_trades(db, backtest_id))


def _result_trades(res: Any) -> list[tuple[Any, ...]]:
    frame = res.trades()
    keys = ("ticker", "entry_date", "exit_date", "entry_price", "exit_price", "size", "pnl", "fees",
            "exit_reason", "bars_held")
    return sorted(tuple(str(r[k]) if k.endswith("_date") else r[k] for k in keys)
                  for r in frame.iter_rows(named=True))


# ------------------------------------------------------------------ one writer, one reader
SQL_ON_RESULTS = re.compile(r"\b(INSERT\s+INTO|FROM|UPDATE|JOIN|INTO)\s+backtest_(results|trades|equity)\b",
                            re.IGNORECASE)


def test_only_results_py_reads_or_writes_the_result_tables() -> None:
    offenders = []
    for path in sorted((ROOT / "quantdb").rglob("*.py")):
        if path.name == "results.py" and path.parent.name == "research":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL_ON_RESULTS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)


# ------------------------------------------------------------------ one shape, one timestamp
def test_every_door_stores_the_same_versioned_shape(stored: dict[str, Any]) -> None:
    db = stored["db"]
    ids = [stored["backtest"].backtest_id, *(b["backtest_id"] for b in stored["sweep"].best),
           stored["replay"].backtest_id]
    keys = {"version", "strategy", "params", "simulation", "universe", "tickers", "start", "end", "source",
            "mode", "benchmark", "replay", "strategy_source"}
    for i in ids:
        sb = load_backtest(db, i)
        assert sb.version == 2 and set(sb.settings_doc) == keys, i
        source = sb.settings_doc["strategy_source"]  # a replay runs no strategy function
        assert (source is None) if sb.replay else (source["origin"] == "builtin" and len(source["sha256"]) == 64)
        assert sb.settings_doc["simulation"] == settings_to_json(sb.settings)
        assert sb.source == "db" and sb.cash == sb.settings.cash
    assert load_backtest(db, ids[0]).mode == "portfolio"
    assert load_backtest(db, ids[1]).mode == "independent"
    assert load_backtest(db, ids[0]).settings.stop_loss == 0.08
    assert load_backtest(db, ids[1]).settings.commission == 0.0005
    assert load_backtest(db, ids[-1]).replay == {"strategy": "momentum", "start": None, "end": None,
                                                 "exits": "own", "bars": "intrabar"}


def test_created_at_is_one_iso_utc_format_and_orders_newest_first(stored: dict[str, Any]) -> None:
    db = stored["db"]
    stamps = {r[0]: r[1] for r in db.query("SELECT id, created_at FROM backtest_results")}
    runs = db.query("SELECT created_at, finished_at FROM sweep_runs")
    every = [*stamps.values(), *(r[0] for r in runs), *(r[1] for r in runs)]
    assert every and all(ISO_UTC.match(s) for s in every), every
    # stored in run order: backtest, the sweep's two rows, the replay
    order = [stored["backtest"].backtest_id, *(b["backtest_id"] for b in stored["sweep"].best),
             stored["replay"].backtest_id]
    assert [stamps[i] for i in order] == sorted(stamps[i] for i in order)
    newest_first = [r["id"] for r in list_backtests(db)]
    assert newest_first == order[::-1]
    res = CliRunner().invoke(app, ["backtests", "--db", str(stored["path"]), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [d["id"] for d in doc] == newest_first
    assert [d["created_at"] for d in doc] == sorted((d["created_at"] for d in doc), reverse=True)


def test_migration_normalizes_the_two_old_formats(tmp_path: Path) -> None:
    """A database at schema 1 with rows in both old formats: after 0002 they are one format and
    "latest backtests" orders them by time (before, ' ' < 'T' put every sweep row last)."""
    v1 = tmp_path / "sql_v1"
    v1.mkdir()
    shutil.copy(sql_dir() / "0001_init.sql", v1 / "0001_init.sql")
    db = Database(tmp_path / "old.db")
    assert apply_migrations(db, v1) == [1]
    old = [  # id, created_at as quantdb 0.1 wrote it, the same instant normalized
        (1, "2026-12-06T09:00:00+00:00", "2026-12-06T09:00:00.000000Z"),  # a backtest
        (2, "2026-12-06 10:00:00", "2026-12-06T10:00:00.000000Z"),  # a sweep row, later
        (3, "2026-12-06T12:30:00+02:00", "2026-12-06T10:30:00.000000Z"),  # an offset, latest
        (4, "2026-12-06T08:00:00.250000Z", "2026-12-06T08:00:00.250000Z"),  # already normal
    ]
    with db.atomic() as conn:
        conn.execute("INSERT INTO strategies (id, name) VALUES (1, 'sma-cross')")
        conn.execute(
            "INSERT INTO sweep_runs (id, strategy, grid_json, settings_json, combos, status, created_at, "
            "finished_at, quantdb_version) VALUES (1, 'sma-cross', '{}', '{}', 4, 'done', "
            "'2026-12-06 09:59:00', '2026-12-06 10:00:00', '0.1.0')")
        for i, when, _ in old:
            conn.execute(
                "INSERT INTO backtest_results (id, strategy_id, start_date, end_date, trades, params_json, "
                "settings_json, data_fingerprint, quantdb_version, sweep_run_id, created_at) "
                "VALUES (?, 1, '2016-01-04', '2016-12-30', 0, '{}', '{}', 'x', '0.1.0', ?, ?)",
                (i, 1 if i == 2 else None, when))
    text_order = [r[0] for r in db.query("SELECT id FROM backtest_results ORDER BY created_at DESC, id DESC")]
    assert text_order != [3, 2, 1, 4]  # the bug: text order is not time order
    assert apply_migrations(db)[:1] == [2]  # (and the later ones)
    assert {r[0]: r[1] for r in db.query("SELECT id, created_at FROM backtest_results")} == {
        i: new for i, _, new in old}
    assert tuple(db.query("SELECT created_at, finished_at FROM sweep_runs")[0]) == (
        "2026-12-06T09:59:00.000000Z", "2026-12-06T10:00:00.000000Z")
    assert [r["id"] for r in list_backtests(db)] == [3, 2, 1, 4]
    assert apply_migrations(db) == []
    db.close()


# ------------------------------------------------------------------ one fingerprint
def test_one_fingerprint_of_the_bars_for_backtest_sweep_and_run(stored: dict[str, Any]) -> None:
    db = stored["db"]
    bt = stored["backtest"]
    dates, names, bars = load_bars(db, TICKERS[:3])
    assert load_backtest(db, bt.backtest_id).fingerprint == bt.fingerprint == fingerprint(dates, names, bars)
    sweep = stored["sweep"]
    dates, names, bars = load_bars(db, TICKERS)
    expected = fingerprint(dates, names, bars)
    saved = json.loads(db.scalar("SELECT settings_json FROM sweep_runs WHERE id = ?", (sweep.run_id,)))
    assert saved["data_fingerprint"] == expected
    assert {load_backtest(db, b["backtest_id"]).fingerprint for b in sweep.best} == {expected}


# ------------------------------------------------------------------ a sweep's rows in full
def test_a_sweeps_row_is_the_mean_of_independent_backtests(stored: dict[str, Any]) -> None:
    db = stored["db"]
    sweep = stored["sweep"]
    table = pq.read_table(sweep.results)
    f = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    for rank, best in enumerate(sweep.best, 1):
        sb = load_backtest(db, best["backtest_id"])
        assert sb.sweep_run_id == sweep.run_id and sb.mode == "independent"
        assert sb.tickers == tuple(TICKERS)
        assert sb.statistics["sweep"]["rank"] == rank and sb.statistics["sweep"]["objective"] == "sharpe"
        rows = (f["fast"] == best["fast"]) & (f["slow"] == best["slow"])
        mean_total = float(np.mean(f["total_return"][rows]))
        # the stored equity is the mean of the tickers' curves: its total return is the sweep's mean
        eq = load_equity(db, best["backtest_id"]).equity
        assert eq[-1] / sb.settings.cash - 1.0 == pytest.approx(mean_total, rel=1e-12, abs=1e-15)
        assert sb.total_return == pytest.approx(best["total_return"], rel=1e-12, abs=1e-15)
        assert sb.statistics["total_return"] == pytest.approx(mean_total, rel=1e-12, abs=1e-15)
        # the sweep's ranking figures are kept, and every ticker's trades are stored
        assert (sb.sharpe, sb.max_drawdown) == (best["sharpe"], best["max_drawdown"])
        assert sb.trades == best["n_trades"] == len(load_trades(db, best["backtest_id"]))
        assert {t["ticker"] for t in load_trades(db, best["backtest_id"])} <= set(TICKERS)


def test_a_sweeps_row_reruns_identically(stored: dict[str, Any]) -> None:
    db = stored["db"]
    for best in stored["sweep"].best:
        i = best["backtest_id"]
        again = rerun_backtest(db, i)  # was KeyError: 'universe'
        assert again.fingerprint == load_backtest(db, i).fingerprint
        curve = load_equity(db, i)
        np.testing.assert_array_equal(again.equity_curve, curve.equity)
        np.testing.assert_array_equal(again.dates.astype("datetime64[D]"), curve.dates)
        assert _result_trades(again) == _stored_trades(db, i)


def test_a_backtest_and_a_replay_rerun_identically(stored: dict[str, Any]) -> None:
    db = stored["db"]
    for res in (stored["backtest"], stored["replay"]):
        again = rerun_backtest(db, res.backtest_id)
        assert again.fingerprint == res.fingerprint
        np.testing.assert_array_equal(again.equity_curve, load_equity(db, res.backtest_id).equity)
        assert _result_trades(again) == _stored_trades(db, res.backtest_id)


def test_montecarlo_of_a_sweeps_row(stored: dict[str, Any]) -> None:
    i = stored["sweep"].best[0]["backtest_id"]
    res = CliRunner().invoke(app, ["montecarlo", "--backtest", str(i), "--paths", "200", "--seed", "7",
                                   "--db", str(stored["path"]), "--json"])
    assert res.exit_code == 0, res.output  # was: "backtest N has 0 daily returns"
    doc = json.loads(res.stdout)
    assert doc["source"] == f"backtest {i}" and doc["paths"] == 200
    assert doc["observed"]["final_return"] == pytest.approx(
        float(np.prod(1.0 + np.diff(load_equity(stored["db"], i).equity) / load_equity(stored["db"], i).equity[:-1]))
        - 1.0, rel=1e-9)


def test_tearsheet_of_a_sweeps_row(stored: dict[str, Any], tmp_path: Path) -> None:
    i = stored["sweep"].best[1]["backtest_id"]
    out = tmp_path / "sweep_row.html"
    res = CliRunner().invoke(app, ["report", "tearsheet", str(out), "--backtest", str(i),
                                   "--db", str(stored["path"]), "--json"])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "<html" in html.lower() and f"backtest {i}" in html


# ------------------------------------------------------------------ version 1 rows
def _v1_backtest_doc(sb: Any) -> dict[str, Any]:
    """The flat settings dict quantdb 0.1's store_backtest wrote."""
    return {**settings_to_json(sb.settings), "tickers": list(sb.tickers), "universe": sb.universe,
            "source": "/somewhere/quant.db"}


def test_version_1_rows_are_read(stored: dict[str, Any], tmp_path: Path) -> None:
    db = stored["db"]
    bt = stored["backtest"]
    sb = load_backtest(db, bt.backtest_id)
    copy = tmp_path / "v1.db"
    src, dst = sqlite3.connect(stored["path"]), sqlite3.connect(copy)
    src.backup(dst)  # the WAL's pages too (a file copy would miss them)
    src.close()
    dst.close()
    sweep_id = stored["sweep"].best[0]["backtest_id"]
    sweep_sim = load_backtest(db, sweep_id).settings
    old = Database(copy)
    try:
        with old.atomic() as conn:
            conn.execute("UPDATE backtest_results SET settings_json = ? WHERE id = ?",
                         (json.dumps(_v1_backtest_doc(sb)), bt.backtest_id))
            conn.execute("UPDATE backtest_results SET settings_json = ? WHERE id = ?",
                         (json.dumps({"simulation": settings_to_json(sweep_sim), "tickers": 4,
                                      "aggregate": "mean over tickers"}), sweep_id))
            conn.execute("UPDATE backtest_results SET settings_json = ? WHERE id = ?",
                         (json.dumps({"capital": 100_000.0, "fee_bps": 5}), stored["replay"].backtest_id))
        one = load_backtest(old, bt.backtest_id)
        assert one.version == 1 and one.settings == sb.settings and one.tickers == sb.tickers
        assert (one.mode, one.source, one.cash) == ("portfolio", "db", sb.settings.cash)
        again = rerun_backtest(old, bt.backtest_id)
        np.testing.assert_array_equal(again.equity_curve, load_equity(old, bt.backtest_id).equity)
        swept = load_backtest(old, sweep_id)
        assert (swept.version, swept.mode, swept.tickers) == (1, "independent", tuple(TICKERS))
        assert swept.settings == sweep_sim
        legacy = load_backtest(old, stored["replay"].backtest_id)
        assert legacy.cash == 100_000.0 and legacy.settings.cash == 100_000.0
        assert legacy.unknown_settings == ("fee_bps",)
        with pytest.raises(Exception, match="fee_bps"):
            rerun_backtest(old, stored["replay"].backtest_id)
    finally:
        old.close()


# ------------------------------------------------------------------ a rerun says when the data changed
def test_rerun_warns_when_the_data_changed(tmp_path: Path) -> None:
    db = Database(tmp_path / "q.db")
    apply_migrations(db)
    import_price_files(db, [PRICES])
    res = run_backtest("sma-cross", db=db, tickers=["AAPL"], settings=SimSettings(fill="close"))
    with db.atomic() as conn:
        conn.execute("UPDATE price_history SET high = high * 1.01 WHERE ticker_id = "
                     "(SELECT id FROM tickers WHERE symbol = 'AAPL') AND date = "
                     "(SELECT max(date) FROM price_history)")
    with pytest.warns(DataChangedWarning, match="the data changed"):
        again = rerun_backtest(db, int(res.backtest_id or 0))
    assert again.fingerprint != res.fingerprint
    db.close()
