"""`benchmark_on_dates`' NumPy lookup (datetime64 dates, every backtest's) equals the pandas
reading (`benchmark_returns` put `on_dates`) bit for bit (issue 15: backtests do not import
pandas for it). Data: the legacy sample's prices, SPY and other tickers as the benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from quantdb.services.benchmark import benchmark_on_dates, benchmark_returns, on_dates
from quantdb.services.research.bars import load_bars
from quantdb.storage.sqlite import Database


@pytest.mark.parametrize("ticker", ["SPY", "spy ", "AAPL", "AMZN"])
def test_numpy_lookup_equals_pandas(price_db: Database, ticker: str) -> None:
    dates, _, _ = load_bars(price_db)
    cases = [
        dates, dates[50:120], dates[::9], dates[:0],
        np.array(["1999-01-04", str(dates[3]), "2099-01-02"], dtype="datetime64[D]"),
        np.array([str(dates[10]), "NaT"], dtype="datetime64[ns]"),
    ]
    bench = benchmark_returns(price_db, ticker)
    for when in cases:
        ours = benchmark_on_dates(price_db, ticker, when)
        theirs = on_dates(bench, when)
        assert ours is not None and ours.dtype == theirs.dtype == np.float64
        assert ours.tobytes() == theirs.tobytes()
        assert np.isfinite(ours).any() or len(when) == 0 or when[0] < dates[0]


def test_unknown_benchmark_is_none(price_db: Database) -> None:
    dates, _, _ = load_bars(price_db)
    assert benchmark_on_dates(price_db, "NOPE", dates) is None
    assert benchmark_on_dates(price_db, "NOPE", [str(d) for d in dates[:3]]) is None


def test_strings_still_read_by_pandas(price_db: Database) -> None:
    dates, _, _ = load_bars(price_db)
    iso = [str(d) for d in dates[:20]]
    ours = benchmark_on_dates(price_db, "SPY", iso)
    assert ours is not None
    assert ours.tobytes() == on_dates(benchmark_returns(price_db, "SPY"), dates[:20]).tobytes()
