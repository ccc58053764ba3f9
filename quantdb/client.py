"""`QuantDB`: the object a notebook works with (``qdb.connect("quant.db")``).

It ties the SQLite record (`Database`), the columnar mirror (fast panels) and DuckDB (ad-hoc
SQL) together. DuckDB is attached only for reads and only on first use of :meth:`sql`; it is
closed again before this object writes (two SQLite copies in one process must never overlap
a write).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
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
    import polars as pl

    from quantdb.services.research.backtest import BacktestResult
    from quantdb.services.research.montecarlo import MonteCarloReport
    from quantdb.services.research.sweep import SweepReport
    from quantdb.services.research.walkforward import WalkForwardReport


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

    # -- research (each closes DuckDB's attach first: these write their results) ------------

    def backtest(self, strategy: str, /, **options: Any) -> BacktestResult:
        """Run and store one backtest: `quantdb.services.research.backtest.run_backtest` on this database
        (``db.backtest("sma-cross", tickers=["AAPL"], params={"fast": 10, "slow": 50})``)."""
        from quantdb.services.research.backtest import run_backtest

        self.close_duckdb()
        return run_backtest(strategy, db=self.db, **options)

    def sweep(self, strategy: str, /, **options: Any) -> SweepReport:
        """A parameter sweep (`quantdb.services.research.sweep.run_sweep`), results to Parquet and the database."""
        from quantdb.services.research.sweep import run_sweep

        self.close_duckdb()
        return run_sweep(self.db, strategy, **options)

    def walkforward(self, strategy: str, /, **options: Any) -> WalkForwardReport:
        """Walk-forward analysis (`quantdb.services.research.walkforward.run_walkforward`)."""
        from quantdb.services.research.walkforward import run_walkforward

        self.close_duckdb()
        return run_walkforward(self.db, strategy, **options)

    def montecarlo(
        self, *, backtest: int | None = None, strategy: str | None = None, **options: Any
    ) -> MonteCarloReport:
        """Bootstrap a stored backtest's or a live strategy's returns (`run_montecarlo`)."""
        from quantdb.services.research.montecarlo import load_source, run_montecarlo

        return run_montecarlo(load_source(self.db, backtest=backtest, strategy=strategy), **options)

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
