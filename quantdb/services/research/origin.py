"""Where a result's bars came from, so that a chart or an export can read them again.

A `BacktestResult` keeps its trades and its equity, not the price panels it was computed from
(a 500-ticker panel would make every result, and every pickled copy of one, tens of megabytes).
It keeps an `Origin` instead: the database file or the price file, the period, the benchmark
and the mode of the run. `Origin.bars` reads the bars of the tickers a chart or
`quantdb.services.research.interop` needs, through the same loaders the backtest used
(`quantdb.services.research.bars.load_bars`, the adjusted bars of the columnar mirror, or
`quantdb.services.research.backtest.bars_from_file`), so the prices drawn are the prices traded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quantdb._typing import BacktestMode, FloatArray
from quantdb.errors import NotFound
from quantdb.storage.sqlite import Database

if TYPE_CHECKING:
    from quantdb.strategies import Bars

__all__ = ["Origin"]


@dataclass(frozen=True)
class Origin:
    """The inputs a result can read its prices from again (a few strings: cheap to pickle).

    ``source`` is ``"db"`` (the bars of the database at ``db_path``) or the absolute path of the
    price file; ``start`` and ``end`` the result's first and last date (ISO); ``benchmark`` the
    ticker the result is compared with (None: none, e.g. a price file's backtest); ``mode``
    ``"portfolio"`` (shared cash) or ``"independent"`` (each ticker its own cash). A frame's
    result (``source == "frame"``) keeps its bars in ``frame_bars``.
    """

    source: str
    db_path: str | None
    start: str
    end: str
    benchmark: str | None = None
    mode: BacktestMode = "portfolio"
    #: the bars of a frame's backtest (``source == "frame"``): a frame cannot be read again,
    #: so its result keeps the panel it ran on (the user's own data, already in memory)
    frame_bars: tuple[np.ndarray, tuple[str, ...], Bars] | None = field(default=None, repr=False, compare=False)

    def bars(self, tickers: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...], Bars]:
        """``(dates, tickers, Bars)`` of ``tickers`` over the result's period, adjusted as the
        backtest saw them (a ticker with no bar in the period is dropped, as `load_bars` does).

        Raises
        ------
        NotFound
            the database or the price file is gone.
        """
        if self.source == "frame":
            if self.frame_bars is None:
                msg = "this result's frame was not kept: backtest the frame again"
                raise NotFound(msg)
            dates, have, b = self.frame_bars
            cols = [have.index(t) for t in tickers if t in have]
            return dates, tuple(have[c] for c in cols), replace(
                b, open=b.open[:, cols], high=b.high[:, cols], low=b.low[:, cols], close=b.close[:, cols],
                volume=None if b.volume is None else b.volume[:, cols])
        if self.source == "db":
            from quantdb.services.research.bars import load_bars

            db = self._database()
            try:
                return load_bars(db, list(tickers), self.start, self.end)
            finally:
                db.close()
        from quantdb.services.research.backtest import bars_from_file

        if not Path(self.source).is_file():
            msg = f"the price file of this result is gone: {self.source}"
            raise NotFound(msg)
        data = bars_from_file(self.source)
        lo, hi = np.searchsorted(data.dates, np.datetime64(self.start, "D")), np.searchsorted(
            data.dates, np.datetime64(self.end, "D"), side="right")
        b = data.bars
        cut = replace(b, open=b.open[lo:hi], high=b.high[lo:hi], low=b.low[lo:hi], close=b.close[lo:hi],
                      volume=None if b.volume is None else b.volume[lo:hi])
        return data.dates[lo:hi], data.tickers, cut

    def benchmark_returns(self, dates: np.ndarray) -> FloatArray | None:
        """The benchmark's daily returns on ``dates`` (NaN where it has no bar), or None when
        the result has no benchmark or the database has no prices for it."""
        if self.benchmark is None or self.db_path is None:
            return None
        from quantdb.services.benchmark import benchmark_on_dates

        db = self._database()
        try:
            return benchmark_on_dates(db, self.benchmark, dates)
        finally:
            db.close()

    def _database(self) -> Database:
        if self.db_path is None or not Path(self.db_path).is_file():
            msg = f"the database of this result is gone: {self.db_path}"
            raise NotFound(msg)
        return Database(self.db_path)
