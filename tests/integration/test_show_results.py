"""Issue 13 part B: results that show themselves.

On the legacy sample (prices, SPY, predictions) migrated into a real database: ``stats()`` is a
pandas Series with the same keys and values as before; every result (backtest, replay, sweep,
walk-forward, Monte Carlo) has a one-line ``repr`` and an escaped HTML summary for Jupyter;
trade and equity dates are ``pl.Date``; ``plot()`` is a Plotly figure with the traded prices,
the entry and exit markers, the equity against SPY and the drawdown; a sweep's heatmap, a
walk-forward and a Monte Carlo plot; and one self-contained HTML file, written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.errors import ArgumentError
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.research.backtest import BacktestResult, run_backtest
from quantdb.services.research.montecarlo import load_source, run_montecarlo
from quantdb.services.research.plots import default_ticker, save_html
from quantdb.services.research.replay import replay_predictions
from quantdb.services.research.sweep import SweepError, heatmap, run_sweep
from quantdb.services.research.walkforward import run_walkforward
from quantdb.storage.sqlite import Database

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "legacy_sample"
TICKERS = ["AAPL", "AMZN", "MSFT", "GOOGL"]
GRID = ["fast=5:20:5", "slow=30:60:30"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("show")
    db = Database(folder / "quant.db")
    migrate_folder(db, SAMPLE)
    bt = run_backtest("sma-cross", db=db, tickers=TICKERS, params={"fast": 10, "slow": 40}, commission=0.001)
    sweep = run_sweep(db, "sma-cross", grid_specs=GRID, tickers=TICKERS, out_dir=folder, top=2)
    wf = run_walkforward(db, "sma-cross", grid_specs=GRID, tickers=TICKERS, train=252, test=126)
    mc = run_montecarlo(load_source(db, backtest=bt.backtest_id), paths=400, seed=5)
    replay = replay_predictions(db, "momentum", store=False)
    yield {"db": db, "folder": folder, "bt": bt, "sweep": sweep, "wf": wf, "mc": mc, "replay": replay}
    db.close()


# ----------------------------------------------------------------------------- stats
def test_stats_is_a_series_with_every_key_and_value(results: dict[str, Any]) -> None:
    bt: BacktestResult = results["bt"]
    s = bt.stats()
    assert isinstance(s, pd.Series)
    assert list(s.index) == list(bt.statistics)
    for k, v in bt.statistics.items():
        assert s[k] == v or (isinstance(v, float) and np.isnan(v) and np.isnan(s[k])), k
        assert type(s[k]) is type(v), k  # object dtype: an int stays an int, a dict a dict
    assert "total_return" in s and s.get("no_such_key") is None
    assert dict(s.items()) == s.to_dict()
    assert s["exit_reasons"]["signal"] > 0


def test_backtest_json_stats_stay_a_document(results: dict[str, Any]) -> None:
    res = CliRunner().invoke(app, ["backtest", "sma-cross", "--tickers", "AAPL,MSFT",
                                   "--db", str(results["folder"] / "quant.db"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert isinstance(doc["stats"], dict) and "total_return" in doc["stats"] and "sharpe" in doc["stats"]


# ----------------------------------------------------------------------------- repr
def test_reprs_are_one_short_line(results: dict[str, Any]) -> None:
    bt, sweep, wf, mc = results["bt"], results["sweep"], results["wf"], results["mc"]
    lines = {name: repr(obj) for name, obj in
             (("bt", bt), ("replay", results["replay"]), ("sweep", sweep), ("wf", wf), ("mc", mc))}
    for name, text in lines.items():
        assert "\n" not in text and len(text) < 300, (name, text)
    assert lines["bt"].startswith("<BacktestResult sma-cross fast=10 slow=40 | 2015-")
    for part in ("total return", "Sharpe", f"{bt.statistics['n_trades']} trades", f"id {bt.backtest_id}>"):
        assert part in lines["bt"]
    assert lines["replay"].startswith("<ReplayResult replay:momentum exits=own bars=intrabar")
    assert lines["replay"].endswith("not stored>")
    assert lines["sweep"].startswith(f"<SweepReport run {sweep.run_id} sma-cross: {sweep.combos} parameter sets")
    assert "best by sharpe" in lines["sweep"]
    assert lines["wf"].startswith(f"<WalkForwardReport sma-cross: {len(wf.windows)} windows")
    assert lines["mc"].startswith(f"<MonteCarloReport backtest {bt.backtest_id}: 400 paths, iid, seed 5")


def test_html_views_summarise_and_escape(results: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    bt = dataclasses.replace(results["bt"], strategy=evil, params={evil: 1.0})
    sweep = dataclasses.replace(results["sweep"], strategy=evil, results=evil)
    wf = dataclasses.replace(results["wf"], strategy=evil)
    mc = dataclasses.replace(results["mc"], source=evil)
    for obj in (bt, sweep, wf, mc):
        page = obj._repr_html_()
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, type(obj)
        assert page.startswith('<div class="quantdb-result"><table>') and "<caption>" in page
    real = results["bt"]._repr_html_()
    assert f"<th>backtest id</th><td>{results['bt'].backtest_id}</td>" in real
    assert "<th>total return</th><td>" in real and "<th>Sharpe</th>" in real
    sweep_page = results["sweep"]._repr_html_()
    assert sweep_page.count("<tr><td>") == len(results["sweep"].best)  # one row per best set
    assert results["wf"]._repr_html_().count("<tr><td>") == len(results["wf"].windows)
    assert results["mc"]._repr_html_().count("<tr><td>") == len(results["mc"].distributions)


# ----------------------------------------------------------------------------- frames
def test_trade_and_equity_dates_are_dates(results: dict[str, Any]) -> None:
    for res in (results["bt"], results["replay"]):
        trades, equity = res.trades(), res.equity()
        assert trades.schema["entry_date"] == pl.Date and trades.schema["exit_date"] == pl.Date
        assert equity.schema["date"] == pl.Date
        assert equity["date"].to_list()[0].isoformat() == str(res.dates[0])
        assert trades.height == len(res.trade_records)
    assert results["replay"].trades().columns[0] == "prediction_id"


# ----------------------------------------------------------------------------- plots
def _trace(fig: Any, name: str) -> Any:
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, (name, [t.name for t in fig.data])
    return found[0]


def test_backtest_plot_marks_the_trades_against_spy(results: dict[str, Any]) -> None:
    bt: BacktestResult = results["bt"]
    trades = bt.trades()
    most = trades["ticker"].value_counts().sort(["count", "ticker"], descending=[True, False])
    assert default_ticker(bt) == most["ticker"][0]
    fig = bt.plot()
    ticker = default_ticker(bt)
    mine = trades.filter(pl.col("ticker") == ticker)
    names = [t.name for t in fig.data]
    assert names == [ticker, "entries", "exits", "equity", "SPY", "drawdown"]
    entries, exits = _trace(fig, "entries"), _trace(fig, "exits")
    assert len(entries.x) == len(exits.x) == mine.height > 0
    assert list(entries.x) == [d.isoformat() for d in mine["entry_date"]]
    np.testing.assert_array_equal(np.asarray(entries.y, dtype=float), mine["entry_price"].to_numpy())
    np.testing.assert_array_equal(np.asarray(exits.y, dtype=float), mine["exit_price"].to_numpy())
    assert "P&amp;L" not in entries.text[0] and "P&L" in entries.text[0] and ticker in entries.text[0]
    # the price line is the adjusted close the backtest traded: an entry price lies in that day's range
    price = _trace(fig, ticker)
    assert len(price.x) > 500 and min(price.y) > 0
    np.testing.assert_allclose(np.asarray(_trace(fig, "equity").y, dtype=float), bt.equity_curve)
    spy = np.asarray(_trace(fig, "SPY").y, dtype=float)
    assert spy[0] == bt.settings.cash and np.isfinite(spy).all() and spy[-1] != spy[0]
    dd = np.asarray(_trace(fig, "drawdown").y, dtype=float)
    assert dd.max() <= 0.0 and dd.min() == pytest.approx(bt.statistics["max_drawdown"], abs=1e-9)


def test_backtest_plot_options(results: dict[str, Any]) -> None:
    bt: BacktestResult = results["bt"]
    fig = bt.plot(ticker="MSFT", volume=True)
    assert [t.name for t in fig.data][:2] == ["MSFT", "volume"]
    assert len(_trace(fig, "entries").x) == bt.trades().filter(pl.col("ticker") == "MSFT").height
    with pytest.raises(ArgumentError, match="ticker must be one of the result's tickers .*got 'NOPE'"):
        bt.plot(ticker="NOPE")


def test_a_price_file_backtest_has_no_benchmark(tmp_path: Path) -> None:
    res = run_backtest("sma-cross", prices_file=SAMPLE / "price_history" / "AAPL.csv", store=False)
    fig = res.plot(volume=True)
    assert [t.name for t in fig.data] == ["AAPL", "volume", "entries", "exits", "equity", "drawdown"]
    assert len(_trace(fig, "entries").x) == len(res.trade_records) > 0


def test_a_result_pickles_without_prices_and_plots_after(results: dict[str, Any]) -> None:
    bt: BacktestResult = results["bt"]
    bare = len(pickle.dumps(dataclasses.replace(bt, origin=None)))
    assert len(pickle.dumps(bt)) - bare < 1_000  # the origin is a few strings, not a price panel
    again = pickle.loads(pickle.dumps(bt))
    assert again.origin == bt.origin and repr(again) == repr(bt) and [t.name for t in again.plot().data] == [t.name for t in bt.plot().data]


def test_plot_static_is_matplotlib(results: dict[str, Any]) -> None:
    from matplotlib.figure import Figure

    fig = results["bt"].plot_static()
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_sweep_heatmap_is_the_module_grid(results: dict[str, Any]) -> None:
    sweep = results["sweep"]
    fig = sweep.heatmap()
    xs, ys, grid = heatmap(sweep.results, "fast", "slow", metric="sharpe")
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert list(trace.x) == [str(int(v)) for v in xs] and list(trace.y) == [str(int(v)) for v in ys]
    z = np.array([[np.nan if v is None else v for v in row] for row in trace.z], dtype=float)
    np.testing.assert_array_equal(z, grid)
    other = sweep.heatmap("slow", "fast", "total_return")
    assert other.data[0].colorbar.title.text == "total_return" and len(other.data[0].x) == len(ys)
    with pytest.raises(SweepError, match="is running"):
        dataclasses.replace(sweep, status="running").heatmap()


def test_walkforward_plot_shows_the_windows(results: dict[str, Any]) -> None:
    wf = results["wf"]
    fig = wf.plot()
    growth = np.asarray(_trace(fig, "stitched out-of-sample equity").y, dtype=float)
    assert len(growth) == len(wf.oos_dates)
    assert growth[-1] - 1.0 == pytest.approx(wf.oos["total_return"], rel=1e-9)
    train, test = _trace(fig, "in sample (train)"), _trace(fig, "out of sample (test)")
    bars = [t for t in fig.data if t.type == "bar"]
    assert [x for x in train.x if x is not None] == [d for w in wf.windows for d in w["train"]]
    assert [x for x in test.x if x is not None] == [d for w in wf.windows for d in w["test"]]
    assert [b.name for b in bars] == ["in sample", "out of sample"]
    assert all(len(b.x) == len(wf.windows) for b in bars)


def test_montecarlo_plot_draws_the_cone_and_both_distributions(results: dict[str, Any]) -> None:
    mc = results["mc"]
    assert set(mc.histograms) == {"final_return", "max_drawdown"}
    for h in mc.histograms.values():
        assert sum(h["counts"]) == mc.paths and len(h["edges"]) == len(h["counts"]) + 1
    fig = mc.plot()
    median = _trace(fig, "median")
    assert len(median.x) == len(mc.cone["steps"])
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert set(bars) == {"final return", "max drawdown"}
    assert sum(bars["final return"].y) == mc.paths
    assert {"5-95% of paths", "25-75% of paths"} <= {t.name for t in fig.data}


# ----------------------------------------------------------------------------- saving
def test_save_html_is_self_contained_and_atomic(results: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "plots" / "bt.html"
    assert save_html(results["bt"].plot(), out) == out
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html>") and 'id="quantdb-plot"' in text
    assert "<script src=" not in text and "cdn.plot.ly" not in text.split("</script>")[-1]
    assert len(text) > 3_000_000  # plotly.js itself is inside
    assert sorted(p.name for p in out.parent.iterdir()) == ["bt.html"]
    # a failure while writing leaves the old file as it was and nothing beside it
    with pytest.raises(ValueError, match="not a figure"):
        save_html(_Broken(), out)
    assert out.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in out.parent.iterdir()) == ["bt.html"]


class _Broken:
    """A figure whose rendering fails half-way (after writing a part of the file)."""

    def write_html(self, path: str, **_: Any) -> None:
        Path(path).write_text("<html>half")
        msg = "not a figure"
        raise ValueError(msg)
