"""The benchmark's daily returns: the one loader behind reports, performance, risk and backtests.

:func:`benchmark_returns` reads a ticker's adjusted closes (``price_history``, ``close`` where
``adj_close`` is missing) and returns its daily simple returns as a pandas Series indexed by
date; :func:`on_dates` puts them on another series' dates (NaN where the benchmark has no
bar), the alignment every benchmark-relative metric (beta, alpha, correlation) uses, so a
backtest's stored figures and the report's of the same backtest are the same numbers.

Examples
--------
>>> import pandas as pd
>>> spy = pd.Series([0.01, -0.02], index=pd.DatetimeIndex(["2024-01-02", "2024-01-03"]))
>>> on_dates(spy, pd.DatetimeIndex(["2024-01-01", "2024-01-03"])).tolist()
[nan, -0.02]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from quantdb._typing import FloatArray
from quantdb.errors import NotFound
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BENCHMARK", "benchmark_on_dates", "benchmark_returns", "on_dates"]

BENCHMARK = "SPY"


def benchmark_returns(db: Database, ticker: str = BENCHMARK) -> pd.Series:
    """Daily simple returns of ``ticker``'s adjusted close (the benchmark, SPY by default).

    Parameters
    ----------
    db : Database
        The quantdb database (read only).
    ticker : str
        The benchmark's symbol (case and surrounding blanks ignored).

    Returns
    -------
    pandas.Series
        ``close[t] / close[t-1] - 1`` as fractions, indexed by a ``DatetimeIndex`` named
        ``date`` (the first bar, which has no previous close, is dropped) and named after
        the symbol.

    Raises
    ------
    NotFound
        The ticker has no prices in the database.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import quantdb
    >>> q = quantdb.connect(Path(tempfile.mkdtemp()) / "quant.db")
    >>> try:
    ...     benchmark_returns(q.db, "spy")
    ... except NotFound as exc:
    ...     print(str(exc).split(";")[0])
    no prices for benchmark 'SPY'
    >>> q.close()
    """
    import pandas as pd

    symbol, days, returns = _daily_returns(db, ticker)
    dates = pd.DatetimeIndex(pd.to_datetime(days), name="date")
    return pd.Series(returns, index=dates, name=symbol).dropna()


def _daily_returns(db: Database, ticker: str) -> tuple[str, list[str], FloatArray]:
    """The symbol, the ISO dates from the second bar on and ``close[t] / close[t-1] - 1`` on
    them (NaN kept): the one computation behind :func:`benchmark_returns` and
    :func:`benchmark_on_dates`."""
    symbol = ticker.strip().upper()
    rows = db.query(Q["ticker_closes"], {"symbol": symbol})
    if not rows:
        msg = f"no prices for benchmark {symbol!r}; import them with `quantdb prices import {symbol}.csv`"
        raise NotFound(msg)
    px = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
    return symbol, [str(r[0]) for r in rows[1:]], px[1:] / px[:-1] - 1.0


def on_dates(benchmark: pd.Series | None, dates: npt.ArrayLike) -> FloatArray:
    """The benchmark's returns on ``dates`` (NaN where it has no observation, all NaN for None).

    Parameters
    ----------
    benchmark : pandas.Series or None
        Returns indexed by date, as :func:`benchmark_returns` gives them.
    dates : array_like
        The dates to read: a ``DatetimeIndex``, ``datetime64`` values or ISO date strings.

    Returns
    -------
    ndarray
        One float64 per date.
    """
    import pandas as pd

    index = pd.DatetimeIndex(dates)
    if benchmark is None:
        return np.full(len(index), np.nan)
    values: FloatArray = benchmark.reindex(index).to_numpy(dtype=np.float64)
    return values


def benchmark_on_dates(db: Database, ticker: str, dates: npt.ArrayLike) -> FloatArray | None:
    """:func:`benchmark_returns` of ``ticker`` put :func:`on_dates` ``dates``; None when the
    database has no prices for it (a backtest then has no benchmark figures)."""
    target = np.asarray(dates)
    if target.dtype.kind != "M":  # strings, a DatetimeIndex with a time zone: pandas reads them
        try:
            bench = benchmark_returns(db, ticker)
        except NotFound:
            return None
        return on_dates(bench, dates)
    # datetime64 dates (every backtest's): the same lookup in NumPy, so that a command's
    # backtests do not import pandas (issue 15). The stored dates are ISO days, unique and
    # ascending (price_history's CHECK and UNIQUE, the query's ORDER BY), so a binary search
    # finds each date's return; NaN returns are dropped first, as ``dropna`` does.
    try:
        _, days, returns = _daily_returns(db, ticker)
    except NotFound:
        return None
    keep = ~np.isnan(returns)
    known = np.array(days, dtype="datetime64[ns]")[keep]
    values = returns[keep]
    when = target.astype("datetime64[ns]").reshape(-1)
    if not len(known):
        return np.full(len(when), np.nan)
    pos = np.searchsorted(known, when).clip(max=len(known) - 1)
    out: FloatArray = np.where(known[pos] == when, values[pos], np.nan)
    return out
