"""Backtests of a DataFrame (`qdb.backtest(frame, ...)`) equal the database's, and the new
indicator strategies run in a backtest and a sweep.

The database is the legacy sample migrated (tests/conftest.py ``sample_db``: 41 tickers x 3
years of Yahoo-style prices with ``adj_close`` and volume), copied here because this module
stores results. Its prices are exported with ``db.ohlcv()`` (long, raw OHLC plus
``adj_close``) and reshaped into every accepted frame shape; a backtest of each frame must
give the database backtest's dates, tickers, fingerprint (the exact adjusted bars), trades
and equity, bit for bit.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import quantdb as qdb
from quantdb.services.research.backtest import BacktestResult

TICKERS = ["AAPL", "AMZN", "GOOGL", "CF", "DN"]
NEW = ("donchian-breakout", "macd-cross", "atr-trailing", "roc-momentum", "obv-trend")


@pytest.fixture(scope="module")
def db_path(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("frames") / "quant.db"
    shutil.copy(sample_db, dest)
    return dest


@pytest.fixture(scope="module")
def db(db_path: Path) -> Iterator[qdb.QuantDB]:
    with qdb.connect(db_path) as conn:
        yield conn


@pytest.fixture(scope="module")
def long(db: qdb.QuantDB) -> pl.DataFrame:
    return db.ohlcv()


def _same(a: BacktestResult, b: BacktestResult) -> None:
    assert a.tickers == b.tickers
    np.testing.assert_array_equal(a.dates, b.dates)
    assert a.fingerprint == b.fingerprint  # the same adjusted bars, byte for byte
    assert a.trade_records.tobytes() == b.trade_records.tobytes()
    np.testing.assert_array_equal(a.equity_curve, b.equity_curve)
    np.testing.assert_array_equal(a.exposure, b.exposure)
    assert a.trades().equals(b.trades())
    assert len(a.trade_records) > 0


def _wide(long: pl.DataFrame, level_first: str) -> pd.DataFrame:
    """yfinance-style pandas frame: two-level columns, (field, ticker) or (ticker, field)."""
    p = long.to_pandas().pivot(index="date", columns="ticker")
    p.index = pd.DatetimeIndex(p.index)
    p = p.rename(columns={"open": "Open", "high": "High", "low": "Low", "close": "Close",
                          "adj_close": "Adj Close", "volume": "Volume"}, level=0)
    return p if level_first == "field" else p.swaplevel(axis=1).sort_index(axis=1)


SHAPES = {
    "polars long": lambda long: long,
    "pandas long": lambda long: long.to_pandas(),
    "pandas long, shuffled tickers": lambda long: long.sort(["date", "ticker"]).to_pandas(),
    "pandas (field, ticker) columns": lambda long: _wide(long, "field"),
    "pandas (ticker, field) columns": lambda long: _wide(long, "ticker"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_frame_backtest_equals_the_database_backtest(db: qdb.QuantDB, long: pl.DataFrame, shape: str) -> None:
    frame = SHAPES[shape](long.filter(pl.col("ticker").is_in(TICKERS)))
    kw: dict[str, Any] = {"params": {"fast": 10, "slow": 30}, "commission": 0.001, "stop_loss": 0.08,
                          "max_positions": 3}
    want = db.backtest("sma-cross", tickers=sorted(TICKERS), store=False, **kw)
    _same(qdb.backtest(frame, "sma-cross", **kw), want)


@pytest.mark.parametrize("name", ["mean-reversion", "momentum", "atr-trailing", "obv-trend"])
def test_every_option_and_strategy_is_the_same_code(db: qdb.QuantDB, long: pl.DataFrame, name: str) -> None:
    kw: dict[str, Any] = {"tickers": ["GOOGL", "AAPL"], "start": "2016-03-01", "end": "2017-06-30",
                          "direction": "both", "mode": "independent", "sizing": "equity:0.5",
                          "trailing_stop": 0.1}
    _same(qdb.backtest(long, name, **kw), db.backtest(name, store=False, **kw))


def test_every_ticker_as_one_portfolio(db: qdb.QuantDB, long: pl.DataFrame) -> None:
    _same(qdb.backtest(long, "macd-cross"), db.backtest("macd-cross", store=False))


def test_one_tickers_frame_like_backtesting_py(db: qdb.QuantDB, long: pl.DataFrame) -> None:
    one = long.filter(pl.col("ticker") == "AAPL").to_pandas().set_index("date")
    one.index = pd.DatetimeIndex(one.index)
    ohlcv = one[["open", "high", "low", "close", "adj_close", "volume"]].rename(columns=str.title)
    res = qdb.backtest(ohlcv, "donchian-breakout", ticker="AAPL")
    _same(res, db.backtest("donchian-breakout", tickers="AAPL", store=False))
    # close only (a Series, or a wide close frame): open = high = low = close
    adj = one["adj_close"].rename("AAPL")
    close_only = qdb.backtest(adj, "sma-cross", fill="close")
    wide = qdb.backtest(pl.DataFrame({"date": one.index.date, "AAPL": adj.to_numpy()}), "sma-cross", fill="close")
    _same(close_only, wide)
    bars = qdb.bars_from_frame(adj).bars
    np.testing.assert_array_equal(bars.high, bars.close)


def test_stored_in_a_database_when_given(db_path: Path, db: qdb.QuantDB, long: pl.DataFrame) -> None:
    frame = long.filter(pl.col("ticker").is_in(TICKERS))
    res = qdb.backtest(frame, "sma-cross", db=db)
    assert res.backtest_id is not None
    np.testing.assert_array_equal(db.backtest_returns(res.backtest_id).to_numpy(), res.returns())
    row = db.query("SELECT settings_json FROM backtest_results WHERE id = ?", [res.backtest_id])[0]
    assert '"source": "frame"' in row[0]
    with pytest.raises(qdb.QuantdbError, match="ran on a DataFrame.*qdb.backtest"):
        db.rerun_backtest(res.backtest_id)
    by_path = qdb.backtest(frame, "sma-cross", db=db_path)  # a path is opened and closed
    assert by_path.backtest_id == res.backtest_id + 1
    assert qdb.backtest(frame, "sma-cross").backtest_id is None  # nothing to store into


# --------------------------------------------------------------------------- bad frames
def _ok() -> pd.DataFrame:
    return pd.DataFrame({"ticker": ["A", "A", "B", "B"],
                         "date": pd.to_datetime(["2024-01-02", "2024-01-03"] * 2),
                         "open": [1.0, 2.0, 3.0, 4.0], "high": [2.0, 3.0, 4.0, 5.0],
                         "low": [0.5, 1.5, 2.5, 3.5], "close": [1.5, 2.5, 3.5, 4.5]})


def _drop_high(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(columns="high")


def _text_close(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(close=["1.5", "x", "3", "4"])


def _duplicate(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([f, f.iloc[[2]]], ignore_index=True)


def _backwards(f: pd.DataFrame) -> pd.DataFrame:
    return f.iloc[[1, 0, 2, 3]].reset_index(drop=True)


def _no_date(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(columns="date")


def _bad_date(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(date=["2024-01-02", "soon", "2024-01-02", "2024-01-03"])


def _two_closes(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(Close=f["close"])


@pytest.mark.parametrize(("damage", "message"), [
    (_drop_high, r"frame: no 'high' column \(has ticker, date, open, low, close\)"),
    (_text_close, r"frame: column 'close' must be numeric, got dtype (str|object)"),
    (_duplicate, r"frame: duplicate \(ticker, date\) \('B', 2024-01-02\) at rows 2 and 4"),
    (_backwards, r"frame: dates of 'A' must increase: 2024-01-02 at row 1 comes after 2024-01-03 at row 0"),
    (_no_date, r"frame: no 'date' column and no date index"),
    (_bad_date, r"frame: column 'date' must hold dates .* got 'soon' at row 1"),
    (_two_closes, r"frame: columns 'close' and 'Close' both mean 'close'"),
])
def test_a_bad_frame_is_one_line_naming_what(damage: Any, message: str) -> None:
    assert qdb.backtest(_ok(), "sma-cross", params={"fast": 1, "slow": 2}).tickers == ("A", "B")
    with pytest.raises(qdb.FrameError, match=message) as info:
        qdb.backtest(damage(_ok()), "sma-cross")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, qdb.ArgumentError)


def test_wide_frames_refuse_repeated_or_unordered_dates() -> None:
    idx = pd.to_datetime(["2024-01-02", "2024-01-04", "2024-01-03"])
    with pytest.raises(qdb.FrameError, match="dates must increase: 2024-01-03 at row 2 comes after 2024-01-04"):
        qdb.bars_from_frame(pd.DataFrame({"A": [1.0, 2.0, 3.0]}, index=idx))
    with pytest.raises(qdb.FrameError, match="duplicate date 2024-01-02 at rows 0 and 1"):
        qdb.bars_from_frame(pl.DataFrame({"date": ["2024-01-02", "2024-01-02"], "A": [1.0, 2.0]}))
    with pytest.raises(qdb.FrameError, match=r"column 'A' \(a ticker's close\) must be numeric, got dtype String"):
        qdb.bars_from_frame(pl.DataFrame({"date": ["2024-01-02", "2024-01-03"], "A": ["1", "2"]}))
    with pytest.raises(qdb.FrameError, match="expected a pandas or Polars DataFrame"):
        qdb.bars_from_frame([1.0, 2.0])
    with pytest.raises(qdb.NotFound, match="tickers not in the frame: ZZZ"):
        qdb.backtest(_ok(), "sma-cross", tickers=["ZZZ"])
    with pytest.raises(qdb.DateError, match="after the last bar of the frame's prices"):
        qdb.backtest(_ok(), "sma-cross", start="2025-01-01")


# --------------------------------------------------------------------------- new strategies
@pytest.mark.parametrize("name", NEW)
def test_indicator_strategies_backtest_and_sweep(db: qdb.QuantDB, tmp_path: Path, name: str) -> None:
    res = db.backtest(name, tickers=TICKERS, store=False)
    assert res.stats()["n_trades"] > 0
    grid = {"donchian-breakout": ["window=20,40", "exit_window=10,20"],
            "macd-cross": ["fast=8,12", "slow=26", "signal=5,9"],
            "atr-trailing": ["window=20", "atr_window=10,14", "atr_mult=2,3"],
            "roc-momentum": ["window=10,20", "threshold=0,0.05"],
            "obv-trend": ["window=10,20,40"]}[name]
    rep = db.sweep(name, grid_specs=grid, tickers=TICKERS, out_dir=tmp_path, top=1)
    table = pl.read_parquet(rep.results)
    assert table.height == rep.combos * len(TICKERS) and rep.combos >= 3
    assert table["n_trades"].sum() > 0
    # the sweep's row of the default parameter set equals that set's independent backtest
    one = db.backtest(name, tickers=TICKERS, store=False, mode="independent")
    defaults = qdb.get_strategy(name).params
    rows = table.filter(pl.all_horizontal(pl.col(k) == float(v) for k, v in defaults.items()))
    assert rows.height == len(TICKERS)
    assert rows["n_trades"].sum() == len(one.trade_records)


def test_dates_of_every_kind_give_the_same_panel() -> None:
    days = ["2024-01-02", "2024-01-03", "2024-01-04"]
    close = [1.0, 2.0, 3.0]
    want = qdb.bars_from_frame(pl.DataFrame({"date": days, "X": close}).with_columns(pl.col("date").str.to_date()))
    frames = [
        pl.DataFrame({"date": days, "X": close}),  # ISO text
        pl.DataFrame({"date": days, "X": close}).with_columns(
            pl.col("date").str.to_datetime().dt.replace_time_zone("America/New_York")),
        pd.DataFrame({"X": close}, index=pd.DatetimeIndex(days, tz="America/New_York")),
        pd.DataFrame({"Date": [pd.Timestamp(d).date() for d in days], "X": close}),
        pd.DataFrame({"X": pd.array([1, 2, 3], dtype="Int64")}, index=pd.Index(days, name="Date")),
    ]
    for f in frames:
        got = qdb.bars_from_frame(f)
        np.testing.assert_array_equal(got.dates, want.dates)
        assert got.tickers == ("X",)
        np.testing.assert_array_equal(got.bars.close, want.bars.close)
    with pytest.raises(qdb.FrameError, match="column 'date' has no date at row 1"):
        qdb.bars_from_frame(pl.DataFrame({"date": ["2024-01-02", None, "2024-01-04"], "X": close}))


def test_a_frame_result_plots_its_prices_and_converts_to_vectorbt(db: qdb.QuantDB, long: pl.DataFrame) -> None:
    """A frame cannot be read again, so its result keeps the bars it ran on: the chart draws
    the traded ticker's price with its trades (no benchmark: a frame has none) and
    `to_vectorbt` rebuilds the same portfolio, as for a database result."""
    pytest.importorskip("vectorbt")
    frame = long.filter(pl.col("ticker").is_in(TICKERS))
    res = qdb.backtest(frame, "sma-cross", params={"fast": 10, "slow": 30}, commission=0.001)
    assert res.origin is not None and res.origin.source == "frame" and res.origin.benchmark is None
    fig = res.plot()
    names = [t.name for t in fig.data]
    ticker = names[0]
    assert ticker in TICKERS and names[1:3] == ["entries", "exits"] and "SPY" not in names
    want = db.backtest("sma-cross", tickers=sorted(TICKERS), store=False, params={"fast": 10, "slow": 30},
                       commission=0.001)
    price = next(t for t in fig.data if t.name == ticker)
    got_ref = next(t for t in want.plot().data if t.name == ticker)
    np.testing.assert_array_equal(np.asarray(price.y, dtype=float), np.asarray(got_ref.y, dtype=float))
    pf = res.to_vectorbt()
    assert float(pf.final_value()) == pytest.approx(res.statistics["final_equity"], rel=1e-9)
    assert int(pf.trades.count()) == len(res.trade_records)
