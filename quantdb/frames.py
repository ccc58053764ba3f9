"""Backtests of a DataFrame, without a database: ``qdb.backtest(frame, "sma-cross", ...)``.

The notebook's door for prices that are not in a quantdb database (a CSV read with pandas, a
``yfinance`` download, a Polars frame), as backtesting.py's ``Backtest(df, ...)``. The frame
becomes the bars of the backtest service by the one function for that
(`quantdb.services.research.frame_bars.bars_from_frame`), and from there it is the same
backtest as ``db.backtest``: the same strategies, settings, keywords and `BacktestResult`.
With ``db=`` the result is also stored in that database (source ``"frame"``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    from quantdb.client import QuantDB
    from quantdb.services.research.backtest import BacktestResult, BarData
    from quantdb.storage.sqlite import Database
    from quantdb.strategy_loader import StrategyRef

__all__ = ["backtest", "bars_from_frame"]


def bars_from_frame(frame: Any, /, *, ticker: str = "ASSET") -> BarData:
    """The panel a backtest of ``frame`` runs on: ``dates``, ``tickers``, ``bars`` (a `Bars`
    of ``(dates, tickers)`` matrices, adjusted through ``adj_close`` when the frame has it)
    and ``source``; the frame shapes and errors are those of
    `quantdb.services.research.frame_bars.bars_from_frame`."""
    from quantdb.services.research.frame_bars import bars_from_frame as read

    return read(frame, ticker=ticker)


@contextlib.contextmanager
def _database(db: QuantDB | Database | str | Path | None) -> Iterator[Database | None]:
    """The `Database` behind ``db`` (a `QuantDB`, a `Database`, a path, or None); a path is
    opened (created or upgraded, as ``qdb.connect``) and closed afterwards."""
    from quantdb.client import QuantDB

    if db is None:
        yield None
    elif isinstance(db, QuantDB):
        db.close_duckdb()  # the backtest writes its result
        yield db.db
    elif isinstance(db, (str, Path)):
        opened = QuantDB(db)
        try:
            yield opened.db
        finally:
            opened.close()
    else:
        yield db


def backtest(
    frame: Any,
    strategy: StrategyRef,
    /,
    *,
    db: QuantDB | Database | str | Path | None = None,
    ticker: str = "ASSET",
    **options: Any,
) -> BacktestResult:
    """Backtest ``strategy`` on the prices of a pandas or Polars ``frame``.

    Parameters
    ----------
    frame : long (``ticker, date, open, high, low, close[, adj_close][, volume]``), one
        ticker's OHLC(V) (a date index or ``date`` column; backtesting.py's frame), wide closes
        (one column per ticker), or pandas two-level ``(field, ticker)`` columns; see
        ``docs/backtesting.md``, "Backtests of a DataFrame".
    strategy : a registered strategy name (``qdb.STRATEGIES``), your own function (decorated
        with ``@qdb.strategy`` or plain) or a spec (``my_strategies.py:breakout``): anything
        `quantdb.strategy_loader.resolve_strategy` takes.
    db : a `QuantDB`, or the path of a database, to store the result in (``store=True`` by
        default then) and to read a ``sector:NAME`` universe's tickers from; the prices still
        come from ``frame``.
    ticker : the name of the ticker of a one-ticker frame without a ``ticker`` column.
    **options : the keywords of ``db.backtest``: ``params``, ``tickers``/``universe``,
        ``start``/``end``, ``mode``, ``store``, ``settings`` and every simulation setting by
        name (``commission=0.001``, ``stop_loss=0.05``, ``sizing="equity:0.5"``).

    Returns
    -------
    BacktestResult
        the same object as ``db.backtest``; ``backtest_id`` is set when it was stored.

    Raises
    ------
    FrameError
        a frame that cannot be read as bars (the message names the column, row or date).

    Examples
    --------
    >>> import numpy as np, pandas as pd, quantdb as qdb
    >>> close = pd.Series(100 + np.sin(np.arange(120) / 6) * 10,
    ...                   index=pd.bdate_range("2024-01-01", periods=120), name="SINE")
    >>> res = qdb.backtest(close, "sma-cross", params={"fast": 5, "slow": 20})
    >>> res.tickers, res.stats()["n_trades"] > 0
    (('SINE',), True)
    """
    from quantdb.services.research.backtest import run_backtest
    from quantdb.services.research.frame_bars import bars_from_frame as read

    if "prices_file" in options:
        msg = "qdb.backtest reads the frame's prices: drop prices_file (db.backtest takes it)"
        raise ArgumentError(msg)
    data = read(frame, ticker=ticker)  # before opening a database: a bad frame changes nothing
    with _database(db) as database:
        options.setdefault("store", database is not None)
        return run_backtest(strategy, db=database, frame=data, **options)
