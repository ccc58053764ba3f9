"""Issue 12, part 1: a ticker's missing bar must not poison its indicators, and importing one
file must not change another ticker's backtest.

A small synthetic database: AAPL on the XNYS sessions, ZZZ on ``pandas.bdate_range`` dates (bars
on US holidays). Before the fix, importing ZZZ put NaN rows into AAPL's series on every holiday
and its 50-day SMA went blind for 50 days after each: the same backtest went from many trades
to one. Here AAPL's trades and statistics are identical with and without ZZZ; the import
reports ZZZ's off-calendar bars (and refuses them on request); `quantdb check` lists the gaps
without failing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import quantdb as qdb
from quantdb.calendars import sessions
from quantdb.cli.app import app

START, END = "2015-01-02", "2018-12-31"
PARAMS = {"fast": 10, "slow": 50}


def _write(path: Path, dates: pd.DatetimeIndex, seed: int) -> Path:
    """A Yahoo-style CSV: a slow cycle plus noise, so that an SMA cross trades a dozen times."""
    rng = np.random.default_rng(seed)
    n = len(dates)
    c = 100 * np.exp(0.15 * np.sin(np.arange(n) / 12.0) + np.cumsum(rng.normal(0, 0.01, n)))
    o = c * (1 + rng.normal(0, 0.003, n))
    frame = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Open": o, "High": np.maximum(o, c) * 1.005,
                          "Low": np.minimum(o, c) * 0.995, "Close": c, "Volume": 1_000_000})
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    xnys = pd.DatetimeIndex(sessions("XNYS", START, END))
    bdays = pd.bdate_range(START, END)
    holey = xnys.delete([40, 41, 300])  # a halt of two days and one hole
    return {
        "AAPL": _write(tmp_path / "AAPL.csv", xnys, 1),
        "ZZZ": _write(tmp_path / "ZZZ.csv", bdays, 2),
        "HOLE": _write(tmp_path / "HOLE.csv", holey, 3),
        "db": tmp_path / "quant.db",
    }


def _cli(*argv: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(argv), catch_exceptions=False)
    return res.exit_code, res.stdout


def _aapl(db_path: Path, **kw: object) -> tuple[pl.DataFrame, dict[str, object]]:
    db = qdb.connect(db_path)
    res = db.backtest("sma-cross", tickers=["AAPL"], params=PARAMS, store=False, **kw)
    stats = res.stats()
    db.close()
    return res.trades(), {k: stats[k] for k in ("n_trades", "total_return", "sharpe", "max_drawdown")}


def test_importing_another_ticker_does_not_change_aapls_backtest(files: dict[str, Path]) -> None:
    db = str(files["db"])
    assert _cli("prices", "import", str(files["AAPL"]), "--db", db)[0] == 0
    trades_alone, stats_alone = _aapl(files["db"])
    assert stats_alone["n_trades"] >= 10
    code, out = _cli("prices", "import", str(files["ZZZ"]), "--db", db, "--json")
    assert code == 0 and json.loads(out)["files"]["ZZZ.csv"]["off_calendar"] > 30
    trades_with, stats_with = _aapl(files["db"])
    assert trades_with.equals(trades_alone)
    assert stats_with == stats_alone
    # in one panel with ZZZ (its holidays are NaN rows of AAPL): AAPL's trades are the same
    both = qdb.connect(files["db"]).backtest("sma-cross", tickers=["AAPL", "ZZZ"], params=PARAMS,
                                             mode="independent", store=False)
    assert both.trades().filter(pl.col("ticker") == "AAPL").equals(trades_alone)


def test_the_import_reports_and_can_refuse_off_calendar_bars(files: dict[str, Path]) -> None:
    db = str(files["db"])
    xnys = sessions("XNYS", START, END)
    bdays = pd.bdate_range(START, END).to_numpy().astype("datetime64[D]")
    holidays = np.setdiff1d(bdays, xnys)
    assert len(holidays) > 30
    code, out = _cli("prices", "import", str(files["AAPL"]), str(files["ZZZ"]), str(files["HOLE"]),
                     "--db", db, "--json")
    assert code == 0
    rep = json.loads(out)["files"]
    assert rep["AAPL.csv"] == {"read": len(xnys), "calendar": "XNYS", "off_calendar": 0, "off_calendar_first": [],
                               "missing_sessions": 0, "missing_sessions_first": []}
    assert rep["ZZZ.csv"]["off_calendar"] == len(holidays)
    assert rep["ZZZ.csv"]["off_calendar_first"] == holidays[:5].astype(str).tolist()
    assert rep["ZZZ.csv"]["missing_sessions"] == 0
    assert rep["HOLE.csv"]["off_calendar"] == 0
    assert rep["HOLE.csv"]["missing_sessions_first"] == xnys[[40, 41, 300]].astype(str).tolist()

    # refuse: exit 2, one line naming the file and the first off-calendar day, nothing written
    fresh = str(files["db"].with_name("fresh.db"))
    res = CliRunner().invoke(app, ["prices", "import", str(files["AAPL"]), str(files["ZZZ"]), "--db", fresh,
                                   "--off-calendar", "refuse"])
    assert res.exit_code == 2
    assert "ZZZ.csv" in res.stderr and str(holidays[0]) in res.stderr and "--off-calendar keep" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    code, out = _cli("check", "--db", fresh, "--json")
    assert code == 0 and json.loads(out)["row_counts"]["price_history"] == 0
    # keep is the default, and the text output names the file
    code, out = _cli("prices", "import", str(files["ZZZ"]), "--db", fresh)
    assert code == 0 and f"ZZZ.csv: {len(holidays)} bar(s) on days XNYS does not trade" in out


def test_check_reports_gaps_per_ticker_and_exits_0(files: dict[str, Path]) -> None:
    db = str(files["db"])
    _cli("prices", "import", str(files["AAPL"]), str(files["ZZZ"]), str(files["HOLE"]), "--db", db)
    code, out = _cli("check", "--db", db, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    cal = report["calendar"]
    assert cal["calendar"] == "XNYS" and cal["tickers_checked"] == 3 and cal["tickers_with_gaps"] == 2
    assert set(cal["gaps"]) == {"ZZZ", "HOLE"}
    assert cal["gaps"]["HOLE"]["missing_sessions"] == 3 and cal["gaps"]["ZZZ"]["missing_sessions"] == 0
    code, out = _cli("check", "--db", db)
    assert code == 0 and "calendar XNYS: 2 of 3 tickers with gaps" in out

    # another calendar: London's sessions; US-only holidays are now sessions without AAPL bars
    assert _cli("calendar", "set", "lse", "--db", db, "--json") == (0, '{\n  "calendar": "XLON"\n}\n')
    assert _cli("calendar", "show", "--db", db) == (0, "XLON\n")
    code, out = _cli("check", "--db", db, "--json")
    gaps = json.loads(out)["calendar"]["gaps"]
    assert code == 0 and "AAPL" in gaps and gaps["AAPL"]["off_calendar"] > 0  # Thanksgiving, July 4th...
