"""Sweeps end to end on the legacy sample's prices (41 tickers x 3 years): the Parquet contract,
chunked = unchunked, resumed = uninterrupted, Dask = local processes = in-process, and the
total returns of an sma-cross sweep equal to vectorbt's on the same closes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from quantdb.services.research.bars import load_bars
from quantdb.services.research.sweep import heatmap, query_results, run_sweep
from quantdb.settings import SimSettings
from quantdb.storage.sqlite import Database

GRID = ["fast=5:20:5", "slow=10:40:10"]  # 12 pairs with fast < slow
CLOSE_ALL_IN = SimSettings(fill="close", sizing="equity", sizing_value=1.0, fractional=True)


def _frame(path: str) -> dict[str, np.ndarray]:
    t = pq.read_table(path)
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k, v in a.items():
        np.testing.assert_array_equal(v, b[k], err_msg=k)


def test_results_follow_the_contract(price_db: Database, tmp_path: Path) -> None:
    rep = run_sweep(
        price_db,
        "sma-cross",
        grid_specs=GRID,
        constraints=["fast<slow"],
        settings=CLOSE_ALL_IN,
        out_dir=tmp_path,
        top=3,
    )
    assert rep.status == "done" and rep.combos == 12
    table = pq.read_table(rep.results)
    assert table.column_names == [
        "ticker",
        "fast",
        "slow",
        "total_return",
        "sharpe",
        "max_drawdown",
        "n_trades",
        "bankrupt",  # issue 12: the ticker's account was liquidated
    ]
    assert table.num_rows == 12 * rep.tickers
    assert rep.bankrupt_sets == 0 and not table.column("bankrupt").to_numpy().any()
    f = _frame(rep.results)
    assert np.all(f["fast"] < f["slow"])
    assert np.nanmax(f["max_drawdown"]) <= 0.0
    # the best rows are in backtest_results, linked to the run, in objective order
    rows = price_db.query(
        "SELECT sharpe, max_dd, params_json, sweep_run_id FROM backtest_results "
        "WHERE sweep_run_id = ? ORDER BY id",
        (rep.run_id,),
    )
    assert [json.loads(r["params_json"]) for r in rows] == [
        {"fast": b["fast"], "slow": b["slow"]} for b in rep.best
    ]
    assert [r["sharpe"] for r in rows] == sorted((r["sharpe"] for r in rows), reverse=True)
    run = price_db.query(
        "SELECT status, combos, results_path FROM sweep_runs WHERE id = ?", (rep.run_id,)
    )[0]
    assert (run["status"], run["combos"], run["results_path"]) == ("done", 12, rep.results)
    # the best parameter set is the top of a DuckDB ranking of the Parquet file
    top = query_results(
        rep.results,
        "SELECT fast, slow, avg(sharpe) AS s FROM results GROUP BY ALL ORDER BY s DESC LIMIT 1",
    )
    assert (top["fast"][0], top["slow"][0]) == (rep.best[0]["fast"], rep.best[0]["slow"])
    # the heatmap: mean Sharpe over tickers per (fast, slow), NaN where fast >= slow
    xs, ys, grid = heatmap(rep.results, "fast", "slow", out=tmp_path / "h.png")
    assert xs.tolist() == [5, 10, 15, 20] and ys.tolist() == [10, 20, 30, 40]
    cell = f["sharpe"][(f["fast"] == 10) & (f["slow"] == 30)]
    assert grid[2, 1] == pytest.approx(np.nanmean(cell), rel=1e-12)
    assert np.isnan(grid[0, 1])  # fast 10, slow 10: excluded by the constraint
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chunked_equals_unchunked(price_db: Database, tmp_path: Path) -> None:
    one = run_sweep(
        price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path, chunk=100
    )
    many = run_sweep(
        price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path, chunk=1
    )
    assert (one.chunks, many.chunks) == (1, 12)
    _same(_frame(one.results), _frame(many.results))
    assert one.best == [
        {**b, "backtest_id": a["backtest_id"]} for a, b in zip(one.best, many.best, strict=True)
    ]


def _stored_best(db: Database, run_id: int) -> list[tuple[object, ...]]:
    """A run's stored best sets as compared values: the row without its id and time, its
    statistics without the run's id, its trades and its equity curve."""
    out = []
    for r in db.query("SELECT * FROM backtest_results WHERE sweep_run_id = ? ORDER BY id", (run_id,)):
        stats = json.loads(r["stats_json"])
        stats["sweep"].pop("run_id")
        row = {k: v for k, v in dict(r).items() if k not in ("id", "created_at", "sweep_run_id", "stats_json")}
        trades = db.query("SELECT * FROM backtest_trades WHERE backtest_id = ? ORDER BY id", (r["id"],))
        equity = db.query("SELECT * FROM backtest_equity WHERE backtest_id = ? ORDER BY date", (r["id"],))
        out.append((row, stats, [tuple(t)[2:] for t in trades], [tuple(e)[1:] for e in equity]))
    return out


def test_best_sets_are_stored_alike_with_and_without_the_warm_up(price_db: Database, tmp_path: Path) -> None:
    """One chunk: no warm-up thread; twelve chunks and one worker: a thread of the driver loads
    the best sets' inputs and kernels while the chunks compute (`sweep_best.WarmUp`). The rows
    stored for the best sets are the same, trades and equity included."""
    one = run_sweep(price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path,
                    chunk=100, top=3)
    many = run_sweep(price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path,
                     chunk=1, top=3)
    assert (one.chunks, many.chunks) == (1, 12)
    first, second = _stored_best(price_db, one.run_id), _stored_best(price_db, many.run_id)
    assert len(first) == 3 and all(trades and equity for _, _, trades, equity in first)
    assert first == second


def test_resumed_equals_uninterrupted(price_db: Database, tmp_path: Path) -> None:
    whole = run_sweep(
        price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path, chunk=5
    )
    cut = run_sweep(
        price_db,
        "sma-cross",
        grid_specs=GRID,
        settings=CLOSE_ALL_IN,
        out_dir=tmp_path,
        chunk=5,
        max_chunks=2,
    )  # "interrupted" after 2 of 3 chunks
    assert cut.status == "running" and not Path(cut.results).exists()
    status = price_db.scalar("SELECT status FROM sweep_runs WHERE id = ?", (cut.run_id,))
    assert status == "running"
    ran: list[int] = []
    resumed = run_sweep(price_db, resume=cut.run_id, progress=ran.append)
    assert resumed.run_id == cut.run_id and resumed.status == "done"
    assert resumed.chunks_skipped == 2 and ran == [2]  # only the last chunk (2 sets) ran
    _same(_frame(whole.results), _frame(resumed.results))
    with pytest.raises(Exception, match="no sweep run"):
        run_sweep(price_db, resume=9999)


def test_a_chunk_file_that_cannot_be_written_fails_the_run_and_resume_finishes_it(
    price_db: Database, tmp_path: Path
) -> None:
    """Chunk files are written by a thread of the driver while the next chunk computes
    (`chunk_writes.ChunkWrites`): a write that fails still fails the run ('failed', the error
    raised in the caller's thread), the chunks written stay, and a resume finishes the run with
    the results of an uninterrupted one. The obstacle is real: a folder where the second
    chunk's temporary file must go."""
    import os

    whole = run_sweep(price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path, chunk=3)
    run_id = int(price_db.scalar("SELECT max(id) FROM sweep_runs")) + 1
    chunks = tmp_path / "cut" / f"sweep-{run_id}.chunks"
    blocker = chunks / f"chunk-00001.parquet.tmp-{os.getpid()}"
    blocker.mkdir(parents=True)
    with pytest.raises(OSError):
        run_sweep(price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path / "cut", chunk=3)
    assert price_db.scalar("SELECT status FROM sweep_runs WHERE id = ?", (run_id,)) == "failed"
    assert (chunks / "chunk-00000.parquet").exists() and not (chunks / "chunk-00001.parquet").exists()
    blocker.rmdir()
    resumed = run_sweep(price_db, resume=run_id)
    assert resumed.status == "done" and resumed.chunks_skipped >= 1
    _same(_frame(whole.results), _frame(resumed.results))


def test_dask_and_process_pool_equal_in_process(price_db: Database, tmp_path: Path) -> None:
    base = run_sweep(
        price_db, "sma-cross", grid_specs=GRID, settings=CLOSE_ALL_IN, out_dir=tmp_path, chunk=3
    )
    pool = run_sweep(
        price_db,
        "sma-cross",
        grid_specs=GRID,
        settings=CLOSE_ALL_IN,
        out_dir=tmp_path,
        chunk=3,
        workers=2,
    )
    dask = run_sweep(
        price_db,
        "sma-cross",
        grid_specs=GRID,
        settings=CLOSE_ALL_IN,
        out_dir=tmp_path,
        chunk=3,
        workers=2,
        executor="dask",
        dask_processes=False,
    )
    _same(_frame(base.results), _frame(pool.results))
    _same(_frame(base.results), _frame(dask.results))


def test_sma_cross_total_returns_equal_vectorbt(price_db: Database, tmp_path: Path) -> None:
    vbt = pytest.importorskip("vectorbt")
    import pandas as pd

    _, tickers, bars = load_bars(price_db)
    full = [t for t, ok in zip(tickers, ~np.isnan(bars.close).any(axis=0), strict=True) if ok]
    assert len(full) >= 10  # tickers with every bar: vectorbt and we agree on NaN-free closes
    rep = run_sweep(
        price_db,
        "sma-cross",
        grid_specs=["fast=5,10,15,20,30", "slow=5,10,15,20,30"],
        constraints=["fast<slow"],
        tickers=full,
        settings=CLOSE_ALL_IN,
        out_dir=tmp_path,
    )
    ours = _frame(rep.results)
    dates, names, b = load_bars(price_db, full)
    close = pd.DataFrame(b.close, index=pd.DatetimeIndex(dates), columns=list(names))
    fast, slow = vbt.MA.run_combs(
        close, window=[5, 10, 15, 20, 30], r=2, short_names=["fast", "slow"]
    )
    pf = vbt.Portfolio.from_signals(close, fast.ma_crossed_above(slow), fast.ma_crossed_below(slow))
    theirs = pf.total_return()
    assert len(theirs) == rep.combos * len(full) == len(ours["ticker"])
    lookup = {(int(f), int(s), t): v for (f, s, t), v in theirs.items()}
    expected = np.array(
        [
            lookup[(f, s, t)]
            for f, s, t in zip(ours["fast"], ours["slow"], ours["ticker"], strict=True)
        ]
    )
    # same fills at the same closes, all cash in, fractional shares, no fees: equal up to
    # floating-point summation order
    np.testing.assert_allclose(ours["total_return"], expected, rtol=1e-9, atol=1e-12)
