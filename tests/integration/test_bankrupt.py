"""Issue 12, part 2, end to end: a wiped-out account on backtesting.py's GOOG data.

``quantdb backtest sma-cross --prices goog.csv --param fast=20 --param slow=100 --direction
short --commission 0.002 --json`` used to drive equity to -963.74 and keep trading 13 more
times, reporting a max drawdown of -1.094 and a Sharpe ratio of +0.374. Now the short is
margin-called (`quantdb.kernels.margin`) and the account stops; sweeps and walk-forward rank
such parameter sets last and count them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.services.research.grid import build_grid
from quantdb.services.research.sweep import (
    SweepData,
    aggregate_by_params,
    rank_sets,
    run_chunk,
    sweep_table,
)
from quantdb.services.research.walkforward import walkforward_bars
from quantdb.settings import SimSettings
from quantdb.strategies import Bars

backtesting_test = pytest.importorskip("backtesting.test")
REPRO = ["backtest", "sma-cross", "--param", "fast=20", "--param", "slow=100",
         "--direction", "short", "--commission", "0.002", "--json"]


@pytest.fixture(scope="module")
def goog_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = backtesting_test.GOOG.copy()
    frame.index.name = "Date"
    path = tmp_path_factory.mktemp("goog") / "goog.csv"
    frame[["Open", "High", "Low", "Close", "Volume"]].to_csv(path)
    return path


def _backtest(csv: Path, *extra: str) -> dict:
    res = CliRunner().invoke(app, [*REPRO, "--prices", str(csv), *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_goog_short_is_margin_called_and_stops(goog_csv: Path) -> None:
    doc = _backtest(goog_csv)
    s = doc["stats"]
    # sold short 44 at 222.90 on 2005-04-22; on 2005-10-21 the high, 346.43, leaves equity
    # at or below 30 % of the short's value there: bought back at the high, 4,514.58 left
    assert s["bankrupt"] is True and s["bankrupt_date"] == "2005-10-21"
    assert s["n_trades"] == 1 and s["exit_reasons"] == {"liquidation": 1}
    (t,) = doc["trades"]
    assert (t["exit_date"], t["exit_price"], t["size"]) == ("2005-10-21", 346.43, -44.0)
    assert s["final_equity"] == pytest.approx(4514.57896, rel=1e-12)
    assert -1.0 <= s["max_drawdown"] <= 0.0 and s["sharpe"] < 0.0  # was -1.094 and +0.374


def test_goog_short_without_maintenance_margin_ends_at_zero(goog_csv: Path) -> None:
    doc = _backtest(goog_csv, "--maintenance-margin", "0")
    s = doc["stats"]
    # 2006-01-05: the high 451.55 puts equity below zero: liquidated there, floored at 0
    assert s["bankrupt_date"] == "2006-01-05" and s["n_trades"] == 1
    assert doc["trades"][0]["exit_price"] == 451.55
    assert s["final_equity"] == 0.0 and s["total_return"] == -1.0
    assert s["max_drawdown"] == -1.0 and s["cagr"] == -1.0
    assert np.isfinite(s["sharpe"]) and s["sharpe"] < 0.0


def test_a_healthy_backtest_says_not_bankrupt(goog_csv: Path) -> None:
    doc = _backtest(goog_csv, "--direction", "long")
    assert doc["stats"]["bankrupt"] is False and doc["stats"]["bankrupt_date"] is None


def _goog_bars() -> tuple[np.ndarray, Bars]:
    g = backtesting_test.GOOG
    cols = [np.ascontiguousarray(g[k].to_numpy(dtype=float)[:, None])
            for k in ("Open", "High", "Low", "Close", "Volume")]
    return g.index.to_numpy().astype("datetime64[D]"), Bars(*cols)


def test_sweep_ranks_bankrupt_sets_last() -> None:
    """Shorting GOOG's 8-fold rise: most sets are margin-called. One of them has a better
    Sharpe ratio than sets that survived; it still ranks after all of them."""
    _, bars = _goog_bars()
    grid = build_grid([("fast", list(range(5, 101, 5))), ("slow", list(range(20, 201, 10)))],
                      constraints=["fast<slow"])
    st = SimSettings(direction="short", commission=0.002)
    table = sweep_table(SweepData("sma-cross", bars, st), grid)
    assert table["bankrupt"].dtype == np.bool_
    agg = aggregate_by_params(table, list(grid.names), 1)
    bank = agg["bankrupt"] > 0
    assert 0 < bank.sum() < len(grid)
    order = rank_sets(agg, "sharpe")
    assert not bank[order[: (~bank).sum()]].any() and bank[order[(~bank).sum():]].all()
    assert np.nanmax(agg["sharpe"][bank]) > np.nanmin(agg["sharpe"][~bank])
    # the fused path (long only) and the general path report the flag alike
    chunk = run_chunk(SweepData("sma-cross", bars, SimSettings()), _task(grid))
    assert not chunk["bankrupt"].any()


def _task(grid: object) -> object:
    from quantdb.services.research.sweep import ChunkTask

    return ChunkTask(0, {n: grid.columns[n][:5] for n in grid.names})  # type: ignore[attr-defined]


def test_rank_sets_puts_every_bankrupt_set_after_the_others() -> None:
    agg = {"sharpe": np.array([0.71, 0.2, np.nan, -0.5, 1.2]),
           "bankrupt": np.array([1, 0, 0, 0, 3])}
    assert rank_sets(agg, "sharpe").tolist() == [1, 3, 2, 4, 0]


def test_walkforward_chooses_surviving_sets_and_counts_the_others() -> None:
    dates, bars = _goog_bars()
    grid = build_grid([("fast", [10, 20, 40]), ("slow", [50, 100, 150])],
                      constraints=["fast<slow"])
    st = SimSettings(direction="short", commission=0.002)
    rep = walkforward_bars(dates, bars, "sma-cross", grid, settings=st, train=504, test=252)
    assert 0 < rep.bankrupt_sets <= len(grid)
    for w in rep.windows:
        assert 0 <= w["is_bankrupt_sets"] <= len(grid) and w["oos_bankrupt_tickers"] in (0, 1)
    assert any(w["is_bankrupt_sets"] > 0 for w in rep.windows)
    # window 0: 5 of the 9 sets are margin-called in sample; one of the survivors is chosen
    w0 = rep.windows[0]
    sub = Bars(*(a[:504] for a in (bars.open, bars.high, bars.low, bars.close, bars.volume)))
    agg = aggregate_by_params(sweep_table(SweepData("sma-cross", sub, st), grid),
                              list(grid.names), 1)
    assert w0["is_bankrupt_sets"] == int((agg["bankrupt"] > 0).sum()) < len(grid)
    chosen = next(i for i in range(len(grid)) if grid.row(i) == w0["params"])
    assert agg["bankrupt"][chosen] == 0
