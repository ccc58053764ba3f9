"""`QuantDB`: the object a notebook works with (``qdb.connect("quant.db")``).

It ties the SQLite record (`Database`), the columnar mirror (fast panels) and DuckDB (ad-hoc
SQL) together, and is the notebook's door to the services: every research, tracking and
report call that reads or writes the database is a method here, so a notebook never needs
``quantdb.services`` or the raw `Database` (``db.db``, kept for the services' own tests).
DuckDB is attached only for reads and only on first use of :meth:`sql`; every method that
writes closes it first (two SQLite copies in one process must never overlap a write).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from quantdb.errors import NotFound
from quantdb.panel import Panel
from quantdb.storage.duck import DuckEngine
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.mirror import FIELDS, current_mirror
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from quantdb._typing import FloatArray, OffCalendarPolicy
    from quantdb.services.live.performance import PerformanceReport
    from quantdb.services.live.risk import RiskReport
    from quantdb.services.live.tracking import Fill, TrackReport
    from quantdb.services.records.prices import PriceImportReport
    from quantdb.services.research.backtest import BacktestResult
    from quantdb.services.research.grid import Grid
    from quantdb.services.research.montecarlo import MonteCarloReport
    from quantdb.services.research.replay import ReplayResult
    from quantdb.services.research.sweep import SweepReport
    from quantdb.services.research.walkforward import WalkForwardReport
    from quantdb.settings import SimSettings
    from quantdb.strategy_loader import StrategyRef
    from quantdb.universe import Universe


def _day(value: str | np.datetime64) -> np.datetime64:
    if isinstance(value, np.datetime64):
        day: np.datetime64 = value.astype("datetime64[D]")
        return day
    return np.datetime64(value, "D")


class QuantDB:
    """A quantdb database opened for research: panels, frames and SQL."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path).absolute()
        if not create and not self.path.exists():
            msg = f"{self.path}: no such database; create it with `quantdb init`"
            raise NotFound(msg)
        self.db = Database(self.path)
        if create:
            self.db.require_healthy()
            apply_migrations(self.db)
        else:  # a folder or a file that is not SQLite: say so now, not "disk I/O error" later
            self.db.require_sqlite()
        self._duck: DuckEngine | None = None

    # -- writes ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (DuckDB's attach is closed first)."""
        self.close_duckdb()
        with self.db.atomic() as conn:
            yield conn

    # -- panels ----------------------------------------------------------------------------

    def close_panel(
        self,
        tickers: Sequence[str] | None = None,
        start: str | np.datetime64 | None = None,
        end: str | np.datetime64 | None = None,
        field: str = "adj_close",
    ) -> Panel:
        """A dates x tickers `Panel` of ``field`` from the columnar mirror (rebuilt if stale).

        ``start`` and ``end`` are included; ``tickers=None`` means every ticker. A ticker that
        is not in the database raises `NotFound`.
        """
        if field not in FIELDS:
            msg = f"field must be one of {FIELDS}, got {field!r}"
            raise ValueError(msg)
        mirror = current_mirror(self.db)
        mat = mirror.matrix(field)
        lo = 0 if start is None else int(np.searchsorted(mirror.dates, _day(start), "left"))
        hi = len(mirror.dates) if end is None else int(np.searchsorted(mirror.dates, _day(end), "right"))
        if tickers is None:
            names = mirror.tickers
            values = np.array(mat[lo:hi], dtype=np.float64, copy=True)
        else:
            index = {t: i for i, t in enumerate(mirror.tickers)}
            wanted = [t.upper() for t in tickers]
            missing = [t for t in wanted if t not in index]
            if missing:
                msg = f"tickers not in the database: {', '.join(missing[:10])}"
                raise NotFound(msg)
            cols = np.array([index[t] for t in wanted], dtype=np.intp)
            names = tuple(wanted)
            values = np.ascontiguousarray(mat[lo:hi][:, cols], dtype=np.float64)
        return Panel(mirror.dates[lo:hi].copy(), tuple(names), values, field)

    def panels(
        self,
        fields: Sequence[str] = ("open", "high", "low", "close", "adj_close", "volume"),
        tickers: Sequence[str] | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Panel]:
        """Several fields at once, aligned on the same dates and tickers."""
        return {f: self.close_panel(tickers, start, end, field=f) for f in fields}

    def ohlcv(
        self, tickers: Sequence[str] | None = None, start: str | None = None, end: str | None = None
    ) -> pl.DataFrame:
        """Long-format OHLCV (ticker, date, open, high, low, close, adj_close, volume) from SQLite."""
        import polars as pl

        params = {"start": start or "0000-01-01", "end": end or "9999-12-31"}
        with self.db.reader() as conn:
            rows = conn.execute(Q["ohlcv_long"], params).fetchall()
        schema = {
            "ticker": pl.String, "date": pl.String, "open": pl.Float64, "high": pl.Float64,
            "low": pl.Float64, "close": pl.Float64, "adj_close": pl.Float64, "volume": pl.Int64,
        }
        frame = pl.DataFrame(rows, schema=schema, orient="row").with_columns(pl.col("date").str.to_date())
        if tickers is not None:
            frame = frame.filter(pl.col("ticker").is_in([t.upper() for t in tickers]))
        return frame

    def tickers(self) -> list[str]:
        """Every ticker symbol in the database, sorted."""
        return sorted(r[0] for r in self.db.query(Q["ticker_ids"]))

    def import_prices(
        self, *paths: str | Path, off_calendar: OffCalendarPolicy = "keep"
    ) -> PriceImportReport:
        """Load daily bars from Yahoo-style CSV or Parquet files (a folder: its ``*.csv`` and
        ``*.parquet``) as ``quantdb prices import`` does, through the same function
        (`quantdb.services.records.prices.import_price_files`): every file checked before
        anything is written, one batch in one transaction, re-importing the same bars changes
        nothing. A CSV without a ticker column is named after its file (``AAPL.csv``).
        """
        from quantdb.services.records.prices import import_price_files

        self.close_duckdb()  # a write: DuckDB's attach would hold a stale view
        return import_price_files(self.db, paths, off_calendar=off_calendar)

    # -- research (each closes DuckDB's attach first: these write their results) ------------

    def backtest(self, strategy: StrategyRef, /, **options: Any) -> BacktestResult:
        """Run and store one backtest (`quantdb.services.research.backtest.run_backtest`).

        ``strategy``: a name, your own function (``@qdb.strategy`` or plain), a `Strategy`, a
        ``"file.py:func"`` or ``"module:func"`` spec, or an entry point's name.

        Keywords: ``tickers``/``universe``, ``start``/``end``, ``params``, ``store``,
        ``benchmark``, and every simulation setting by name (``commission=0.001``,
        ``stop_loss=0.05``, ``sizing="equity:0.5"``; see ``docs/api.md``).
        """
        from quantdb.services.research.backtest import run_backtest

        self.close_duckdb()
        return run_backtest(strategy, db=self.db, **options)

    def rerun_backtest(
        self, backtest_id: int, /, *, store: bool = False, strategy: StrategyRef | None = None
    ) -> BacktestResult:
        """Run the stored backtest ``backtest_id`` again from what was recorded (same data,
        identical numbers; compare ``fingerprint``). ``strategy`` gives the function when the
        recorded one cannot be found (a notebook's); a changed strategy code warns."""
        from quantdb.services.research.results import rerun_backtest

        self.close_duckdb()
        return rerun_backtest(self.db, backtest_id, store=store, strategy=strategy)

    def sweep(self, strategy: StrategyRef | None = None, /, **options: Any) -> SweepReport:
        """A parameter sweep (`quantdb.services.research.sweep.run_sweep`), results to Parquet and
        the database; ``db.sweep(resume=RUN_ID)`` finishes a stopped one."""
        from quantdb.services.research.sweep import run_sweep

        self.close_duckdb()
        return run_sweep(self.db, strategy, **options)

    def replay(self, strategy: str, /, **options: Any) -> ReplayResult:
        """Replay a live strategy's recorded predictions as a backtest
        (`quantdb.services.research.replay.replay_predictions`: ``exits``, ``bars``, ``start``,
        ``end``, ``store``, ``exit_strategy`` (your own strategy's exit signals, with
        ``exits="settings"``), ``exit_params`` and every simulation setting by name)."""
        from quantdb.services.research.replay import replay_predictions

        self.close_duckdb()
        return replay_predictions(self.db, strategy, **options)

    def walkforward(self, strategy: StrategyRef, /, **options: Any) -> WalkForwardReport:
        """Walk-forward analysis (`quantdb.services.research.walkforward.run_walkforward`)."""
        from quantdb.services.research.walkforward import run_walkforward

        self.close_duckdb()
        return run_walkforward(self.db, strategy, **options)

    def trial_returns(
        self,
        strategy: StrategyRef,
        /,
        *,
        grid_specs: Sequence[str] = (),
        constraints: Sequence[str] | None = None,
        tickers: str | Sequence[str] | None = None,
        universe: str | Sequence[str] | Universe | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        settings: Mapping[str, Any] | SimSettings | None = None,
        **options: Any,
    ) -> tuple[FloatArray, Grid]:
        """Daily returns of every parameter set of a sweep grid, ``(days x sets)``, and the grid.

        Each set's return is the equal-weight mean over the tickers, each ticker its own
        account (as in a sweep); the matrix is what `selection_sharpe` and `pbo_cscv` take.
        Keywords as :meth:`sweep`; nothing is stored.
        """
        from quantdb.services.research.bars import load_bars, universe_tickers
        from quantdb.services.research.sweep import SweepData, sweep_grid
        from quantdb.services.research.walkforward import grid_returns
        from quantdb.settings import build_settings, merge_settings
        from quantdb.strategy_loader import resolve_strategy
        from quantdb.universe import universe_of

        strat = resolve_strategy(strategy)
        grid = sweep_grid(strat, grid_specs, constraints)
        wanted = universe_tickers(self.db, universe_of(tickers, universe), gate_ok=False)
        _, names, bars = load_bars(self.db, wanted, start, end)
        st = build_settings(merge_settings(settings, options), n_tickers=len(names), portfolio=False)
        returns, _ = grid_returns(SweepData(strat, bars, st), grid)
        return returns, grid

    def montecarlo(
        self, *, backtest: int | None = None, strategy: str | None = None, **options: Any
    ) -> MonteCarloReport:
        """Bootstrap a stored backtest's or a live strategy's returns
        (`quantdb.services.research.montecarlo.run_montecarlo`: ``paths``, ``method``,
        ``block``, ``seed``, ``ruin``, ``horizon``)."""
        from quantdb.services.research.montecarlo import load_source, run_montecarlo

        return run_montecarlo(load_source(self.db, backtest=backtest, strategy=strategy), **options)

    # -- return series (pandas, indexed by date) --------------------------------------------

    def benchmark_returns(self, ticker: str = "SPY") -> pd.Series:
        """Daily simple returns of ``ticker``'s adjusted close (the benchmark of reports)."""
        from quantdb.services.benchmark import benchmark_returns

        return benchmark_returns(self.db, ticker)

    def backtest_returns(self, backtest_id: int) -> pd.Series:
        """Daily simple returns of a stored backtest's equity."""
        from quantdb.services.reports.data import backtest_returns

        return backtest_returns(self.db, backtest_id)

    def strategy_returns(self, strategy: str, *, capital: float = 100_000.0) -> pd.Series:
        """Daily simple returns of a live strategy's tracked equity (`NotFound` if it has none)."""
        from quantdb.services.reports.data import strategy_returns

        return strategy_returns(self.db, strategy, capital=capital)

    # -- live tracking and performance --------------------------------------------------------

    def record_prediction(self, **fields: Any) -> int:
        """Record one prediction (`quantdb.services.live.tracking.record_prediction`); its id."""
        from quantdb.services.live.tracking import record_prediction

        self.close_duckdb()
        return record_prediction(self.db, **fields)

    def record_fill(self, prediction_id: int, /, **fill: Any) -> Fill:
        """Record the fill of a prediction as an OPEN trade (``price``, ``shares``,
        ``signal_price``, ``fees``, ``date``); the slippage is measured."""
        from quantdb.services.live.tracking import record_fill

        self.close_duckdb()
        return record_fill(self.db, prediction_id, **fill)

    def close_trade(self, trade_id: int, /, price: float, **options: Any) -> float:
        """Close an open trade by hand (``date``, ``fees``, ``reason``); the realized P&L."""
        from quantdb.services.live.tracking import close_trade

        self.close_duckdb()
        return close_trade(self.db, trade_id, price, **options)

    def track_update(self, **options: Any) -> TrackReport:
        """Mark everything open to market up to ``asof`` and snapshot each strategy
        (`quantdb.services.live.tracking.track_update`; what ``quantdb track update`` runs)."""
        from quantdb.services.live.tracking import track_update

        self.close_duckdb()
        return track_update(self.db, **options)

    def performance_report(self, **options: Any) -> PerformanceReport:
        """Per-strategy performance (``strategy``, ``period``, ``benchmark``, ``capital``,
        ``asof``; what ``quantdb perf`` prints)."""
        from quantdb.services.live.performance import performance_report

        return performance_report(self.db, **options)

    def strategy_equity(self, strategy: str | None = None, **options: Any) -> pl.DataFrame:
        """Daily equity of each live strategy from its trades marked to market (long format)."""
        from quantdb.services.live.performance import strategy_equity

        return strategy_equity(self.db, strategy, **options)

    def risk_report(self, **options: Any) -> RiskReport:
        """VaR, CVaR, beta, correlation and stress tests of the live strategies (``strategy``,
        ``confidences``, ``benchmark``, ``capital``, ``asof``, ``tickers``, ``episodes``;
        what ``quantdb risk`` prints)."""
        from quantdb.services.live.risk import risk_report

        return risk_report(self.db, **options)

    # -- SQL -------------------------------------------------------------------------------

    @property
    def duck(self) -> DuckEngine:
        """The DuckDB engine over this file (read-only attach), opened on first use."""
        if self._duck is None:
            self._duck = DuckEngine(self.path)
        return self._duck

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """DuckDB SQL over the database, tables by their plain names; a Polars frame back."""
        return self.duck.sql(query, params)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """A plain SQLite read (no DuckDB): every row, each a `sqlite3.Row` (by name or index).

        For small lookups between writes (``db.query("SELECT id FROM predictions WHERE
        legacy_id = ?", ["x"])``); :meth:`sql` is the one for scans and analytics.
        """
        return self.db.query(sql, params)

    def close_duckdb(self) -> None:
        """Close DuckDB's attach (before any write in this process)."""
        if self._duck is not None:
            self._duck.close()
            self._duck = None

    def close(self) -> None:
        """Close DuckDB and every SQLite connection."""
        self.close_duckdb()
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QuantDB({str(self.path)!r})"
