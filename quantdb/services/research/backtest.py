"""One backtest: load the bars, compute a strategy's signals, simulate, measure, store.

A backtest reads its bars from the columnar mirror (or from a Yahoo-style CSV with
``prices_file``), adjusts OHLC for splits through ``adj_close``, restricts entries to a
universe (a list, a sector, or the top N by trailing dollar volume at each date, known the day
before: no look-ahead), runs the numba simulation (:mod:`quantdb.kernels.simulate`), computes
every metric of the analytics kernels on the equity curve and the trade statistics on the
trades, and stores all of it through `quantdb.services.research.results` (the one module
that writes and reads stored backtests) with the parameters, the settings, a fingerprint of
the data and the quantdb version, so that running a stored backtest again
(`quantdb.services.research.results.rerun_backtest`) gives identical numbers.

Several tickers run as one portfolio with shared cash (``max_positions``, ``max_weight``); one
ticker is the classic single-asset backtest. ``mode="independent"`` runs each ticker as its
own backtest (a sweep's rows are stored that way).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quantdb._typing import BacktestMode, BoolArray, FloatArray, IntArray
from quantdb.errors import InputError, QuantdbError
from quantdb.kernels.simulate import EXIT_REASONS, simulate
from quantdb.services.research.bars import fingerprint, load_bars, universe_tickers
from quantdb.services.research.origin import Origin
from quantdb.services.research.results import store_backtest
from quantdb.settings import SimSettings, build_settings, merge_settings
from quantdb.storage.sqlite import Database
from quantdb.strategies import Bars, Strategy
from quantdb.strategy_loader import StrategyRef, resolve_strategy
from quantdb.universe import Universe, universe_of

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas as pd
    import plotly.graph_objects as go
    import polars as pl

class BacktestError(QuantdbError, ValueError):
    """A backtest cannot run as asked (unknown parameter, empty universe, bad option)."""


@dataclass(frozen=True)
class BarData:
    """Adjusted bars of a backtest: ``(dates, tickers)`` matrices and their labels."""

    dates: np.ndarray  # datetime64[D]
    tickers: tuple[str, ...]
    bars: Bars
    source: str


def bars_from_file(path: str | Path) -> BarData:
    """Bars of one ticker from a Yahoo-style CSV (Date, Open, High, Low, Close[, Adj Close], Volume)."""
    from quantdb.services.records.prices import read_price_file

    frame = read_price_file(path).sort("date")
    if frame.height < 2:
        raise InputError(path, 1, "Date", f"expected at least 2 rows of prices, got {frame.height}")
    dates = np.array(frame["date"].to_list(), dtype="datetime64[D]")
    col = {c: frame[c].to_numpy().astype(np.float64)[:, None] for c in ("open", "high", "low", "close", "adj_close", "volume")}
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(np.isnan(col["close"]), 1.0, col["adj_close"] / col["close"])
    bars = Bars(
        open=np.ascontiguousarray(col["open"] * factor),
        high=np.ascontiguousarray(col["high"] * factor),
        low=np.ascontiguousarray(col["low"] * factor),
        close=np.ascontiguousarray(col["adj_close"]),
        volume=np.ascontiguousarray(col["volume"]),
    )
    return BarData(dates, (str(frame["ticker"][0]),), bars, str(path))


def bars_from_db(
    db: Database, tickers: Sequence[str] | None, start: str | dt.date | None, end: str | dt.date | None
) -> BarData:
    """Adjusted bars from the columnar mirror (see `quantdb.services.research.bars.load_bars`)."""
    dates, names, bars = load_bars(db, tickers, start, end)
    return BarData(dates, names, bars, str(db.path))


def load_backtest_bars(
    where: Universe,
    *,
    db: Database | None = None,
    prices_file: str | Path | None = None,
    frame: Any = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
) -> BarData:
    """The loading step of a backtest: the bars of the database's columnar mirror, of a price
    file, or of a DataFrame; everything after it (signals, simulation, statistics, storage) is
    the same code whatever the source.

    A frame is read by `quantdb.services.research.frame_bars.bars_from_frame` and cut to the
    universe and period with the database loader's rules (`select_bars`); a ``sector:NAME``
    universe reads the sectors of ``db``.
    """
    if frame is not None:
        from quantdb.services.research.frame_bars import bars_from_frame, select_bars

        if prices_file is not None:
            msg = "give a frame or a price file (--prices), not both"
            raise BacktestError(msg)
        if where.kind == "sector" and db is None:
            msg = f"the universe {where} needs a database (db=) that records sectors; give tickers instead"
            raise BacktestError(msg)
        wanted = universe_tickers(db, where) if db is not None else (
            list(where.tickers) if where.kind == "list" else None)
        read = frame if isinstance(frame, BarData) else bars_from_frame(frame)
        return select_bars(read, wanted, start, end)
    if prices_file is not None:
        if where.kind != "all":
            msg = f"a backtest of a price file trades that file's ticker: drop the universe {where}"
            raise BacktestError(msg)
        return bars_from_file(prices_file)
    if db is None:
        msg = "a backtest needs a database (--db) or a price file (--prices)"
        raise BacktestError(msg)
    return bars_from_db(db, universe_tickers(db, where), start, end)


def leaders_mask(close: FloatArray, volume: FloatArray, top: int, *, window: int = 20) -> BoolArray:
    """True where a ticker is among the ``top`` by trailing dollar volume known the day before.

    The rank on day ``t`` uses days ``t - window .. t - 1`` only, so no entry ever depends on
    that day's or a later day's volume.
    """
    dollar = np.nan_to_num(close * volume, nan=0.0)
    csum = np.cumsum(dollar, axis=0)
    trailing = np.empty_like(csum)
    trailing[:window] = csum[:window]
    trailing[window:] = csum[window:] - csum[:-window]
    known = np.vstack([np.full((1, close.shape[1]), -np.inf), trailing[:-1]])  # yesterday's value
    if top >= close.shape[1]:
        return np.ones_like(close, dtype=bool)
    kth: FloatArray = -np.partition(-known, top - 1, axis=1)[:, top - 1 : top]
    mask: BoolArray = (known >= kth) & np.isfinite(known) & (known > 0)
    return mask


@dataclass(frozen=True, repr=False)
class BacktestResult:
    """A finished backtest: ``.stats()``, ``.trades()``, ``.equity()``, ``.plot()``, ``.tearsheet()``.

    Its ``repr`` is one line (strategy, parameters, period, total return, Sharpe, trades, id)
    and Jupyter shows a summary table (``_repr_html_``). ``origin`` says where its bars can be
    read again (for `plot` and `to_vectorbt`), so the result itself holds no price panel.
    """

    strategy: str
    params: dict[str, float]
    settings: SimSettings
    dates: np.ndarray
    tickers: tuple[str, ...]
    trade_records: np.ndarray
    equity_curve: FloatArray
    exposure: FloatArray
    statistics: dict[str, Any]
    fingerprint: str
    backtest_id: int | None = None
    origin: Origin | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        from quantdb.services.research.display import backtest_repr

        return backtest_repr(self)

    def _repr_html_(self) -> str:
        from quantdb.services.research.display import backtest_html

        return backtest_html(self)

    def stats(self) -> pd.Series:
        """Every metric by name, as a pandas Series (backtesting.py's convention): equity-curve
        metrics, trade statistics, ambiguous exits, final equity (``stats()["sharpe"]``;
        ``.to_dict()`` for a plain dict). Values keep their types (object dtype)."""
        import pandas as pd

        return pd.Series(dict(self.statistics), name=self.strategy, dtype=object)

    def trades(self) -> pl.DataFrame:
        """One row per trade: ticker, dates (``pl.Date``), prices, size, P&L, return, fees, exit
        reason, bars held."""
        import polars as pl

        t = self.trade_records
        k = len(self.tickers)
        return pl.DataFrame(
            {
                "ticker": [self.tickers[c % k] for c in t["column"]],
                "entry_date": self.dates[t["entry_index"]].astype("datetime64[D]"),
                "exit_date": self.dates[t["exit_index"]].astype("datetime64[D]"),
                "entry_price": t["entry_price"],
                "exit_price": t["exit_price"],
                "size": t["size"],
                "pnl": t["pnl"],
                "return": t["return"],
                "fees": t["fees"],
                "exit_reason": [EXIT_REASONS[r] for r in t["exit_reason"]],
                "bars_held": t["bars_held"],
            },
            schema_overrides={"entry_date": pl.Date, "exit_date": pl.Date, "ticker": pl.String,
                              "exit_reason": pl.String},
        )

    def equity(self) -> pl.DataFrame:
        """The equity curve and exposure per date (``date`` a ``pl.Date``)."""
        import polars as pl

        return pl.DataFrame(
            {"date": np.asarray(self.dates).astype("datetime64[D]"), "equity": self.equity_curve,
             "exposure": self.exposure},
            schema_overrides={"date": pl.Date},
        )

    def returns(self) -> FloatArray:
        """Daily simple returns of the equity curve (the first day against the starting cash;
        after a bankruptcy at zero, zeros: see `equity_returns`)."""
        return equity_returns(self.equity_curve, self.settings.cash)

    def plot(self, *, ticker: str | None = None, volume: bool = False) -> go.Figure:
        """An interactive Plotly figure: the price of ``ticker`` (default: the most traded one)
        with every entry and exit marked (hover: the trade), the equity against the benchmark,
        the drawdown, and with ``volume=True`` the volume. Renders in Jupyter; save it as one
        offline HTML file with ``qdb.save_html(fig, path)``. See
        `quantdb.services.research.plots.backtest_figure`."""
        from quantdb.services.research.plots import backtest_figure

        return backtest_figure(self, ticker=ticker, volume=volume)

    def plot_static(self) -> matplotlib.figure.Figure:
        """Equity curve and drawdown as a matplotlib Figure (for PDF; nothing is shown or saved)."""
        from matplotlib.figure import Figure

        from quantdb.services.research.plots import drawdown_of

        fig = Figure(figsize=(10, 6))
        ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        x = self.dates.astype("datetime64[D]").astype(object)
        ax1.plot(x, self.equity_curve, lw=1.2)
        ax1.set_title(f"{self.strategy} {self.params}")
        ax1.set_ylabel("equity")
        ax2.fill_between(x, drawdown_of(self.equity_curve, self.settings.cash), 0.0, color="tab:red", alpha=0.4)
        ax2.set_ylabel("drawdown")
        return fig

    def to_vectorbt(self) -> Any:
        """The same trades as a ``vectorbt.Portfolio`` (``Portfolio.from_orders``: each trade's
        size and prices on its entry and exit dates, its fees as fixed fees of those orders),
        whose final value and trade count equal this result's. vectorbt is a dev extra
        (``pip install vectorbt``). See `quantdb.services.research.interop.to_vectorbt`."""
        from quantdb.services.research.interop import to_vectorbt

        return to_vectorbt(self)

    def tearsheet(self, out: str | Path, *, benchmark: Any = None) -> Path:
        """A QuantStats HTML tearsheet of this backtest (benchmark: a pandas Series of returns)."""
        import pandas as pd

        from quantdb.adapters.quantstats_ import html_tearsheet
        from quantdb.services.reports.tearsheet import trade_stat_rows

        returns = pd.Series(self.returns(), index=pd.DatetimeIndex(self.dates), name=self.strategy)
        trade_keys = ("n_trades", "win_rate", "profit_factor", "payoff_ratio", "expectancy", "sqn")
        return html_tearsheet(
            returns,
            out,
            benchmark=benchmark,
            title=f"{self.strategy} backtest",
            trade_stats=trade_stat_rows({k: self.statistics[k] for k in trade_keys if k in self.statistics}),
            parameters=self.params,
        )


def equity_returns(equity: FloatArray, cash: float) -> FloatArray:
    """Simple returns of an equity curve that starts from ``cash``.

    Equity never falls below zero (`quantdb.kernels.margin`); once a bankrupt account is at
    zero its later returns are zeros (a flat account), not ``0 / 0``.
    """
    eq = np.asarray(equity, dtype=np.float64)
    prev = np.concatenate([[cash], eq[:-1]])
    out: FloatArray = np.zeros_like(eq)
    np.divide(eq, prev, out=out, where=prev > 0.0)
    return np.where(prev > 0.0, out - 1.0, 0.0)


def bankrupt_date(dates: np.ndarray, bars: IntArray) -> str | None:
    """The ISO date of the first bankruptcy among ``bars`` (-1: none), or None."""
    hit = np.asarray(bars)[np.asarray(bars) >= 0]
    return str(np.datetime64(dates[int(hit.min())], "D")) if hit.size else None


def compute_statistics(
    equity: FloatArray, cash: float, trades: np.ndarray, ambiguous: int, benchmark: FloatArray | None = None,
    *, bankrupt_on: str | None = None,
) -> dict[str, Any]:
    """Every analytics metric of an equity curve plus the trade statistics of its trades.

    ``bankrupt_on`` is the date an account of the run was liquidated
    (`quantdb.kernels.margin`), reported as ``bankrupt`` and ``bankrupt_date``; the metrics
    then see its returns up to that day and zeros after it.
    """
    from quantdb.kernels.summary import summary_metrics
    from quantdb.kernels.tradestats import trade_stats

    returns = equity_returns(equity, cash)
    metrics = summary_metrics(returns, benchmark=benchmark, confidences=(0.95, 0.99))
    stats: dict[str, Any] = {
        "final_equity": float(equity[-1]) if len(equity) else cash,
        "total_return": float(equity[-1] / cash - 1.0) if len(equity) else 0.0,
        "n_trades": len(trades),
        "ambiguous_exits": int(ambiguous),
        "bankrupt": bankrupt_on is not None,
        "bankrupt_date": bankrupt_on,
    }
    for k, v in metrics.items():
        if k != "total_return":
            stats[k] = float(np.asarray(v).reshape(-1)[0])
    if len(trades):
        ts = trade_stats(trades["pnl"], returns=trades["return"], holding_days=trades["bars_held"])
        stats.update({k: float(v) for k, v in ts.items() if k != "n_trades"})
        stats["fees"] = float(trades["fees"].sum())
        stats["exit_reasons"] = {
            EXIT_REASONS[r]: int(c) for r, c in zip(*np.unique(trades["exit_reason"], return_counts=True), strict=True)
        }
    return stats


def run_backtest(
    name: StrategyRef,
    *,
    db: Database | None = None,
    prices_file: str | Path | None = None,
    tickers: str | Sequence[str] | None = None,
    universe: str | Sequence[str] | Universe | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    params: Mapping[str, float] | None = None,
    settings: Mapping[str, Any] | SimSettings | None = None,
    store: bool = True,
    benchmark: str | None = "SPY",
    mode: BacktestMode = "portfolio",
    frame: Any = None,
    **options: Any,
) -> BacktestResult:
    """Run the strategy ``name`` and (with ``store`` and a ``db``) record it.

    Parameters
    ----------
    name : the strategy: a registered name (`quantdb.strategies.STRATEGIES`), a
        ``file.py:func`` or ``module:func`` spec, an entry point, a `Strategy` or a function
        (`quantdb.strategy_loader.resolve_strategy`); the stored result records its source.
    db : the database to read bars from and store into; optional with ``prices_file``.
    prices_file : a Yahoo-style CSV instead of the database's bars.
    frame : a pandas or Polars frame of prices, or the `BarData` read from one
        (`quantdb.services.research.frame_bars.bars_from_frame`), instead of the database's
        bars; with a ``db`` the result is stored there (source ``"frame"``; no benchmark).
    tickers, universe : which tickers, at most one of them (default: every ticker); read by
        `quantdb.universe.parse_universe` (``"AAPL"``, ``["AAPL", "MSFT"]``, ``"sector:NAME"``,
        ``"leaders:N"``, ``"list:A,B"``).
    start, end : the period, ISO dates (`quantdb.dates.parse_date`).
    params : strategy parameters (defaults fill the rest).
    settings, **options : simulation settings by name (``commission=0.001``,
        ``stop_loss=0.05``, ``sizing="equity:0.5"``; see `quantdb.settings.SimSettings`), or a
        finished `SimSettings`. Defaults that depend on the data (sizing and slots of a
        portfolio of several tickers) are filled by `quantdb.settings.build_settings` once the
        bars are loaded.
    mode : ``"portfolio"`` (the tickers share one cash balance) or ``"independent"`` (each
        ticker is its own backtest with all of ``cash``, as in a sweep; the equity curve is
        the mean of the tickers' curves, so its total return is the mean of theirs, and the
        trades of every ticker are kept).

    Returns
    -------
    BacktestResult
    """
    if mode not in ("portfolio", "independent"):
        msg = f"mode must be 'portfolio' or 'independent', got {mode!r}"
        raise BacktestError(msg)
    strat = resolve_strategy(name)
    full_params = strat.full_params(params)
    where = universe_of(tickers, universe)
    data = load_backtest_bars(where, db=db, prices_file=prices_file, frame=frame, start=start, end=end)
    from_db = frame is None and prices_file is None
    source = "db" if from_db else "frame" if frame is not None else str(Path(str(prices_file)).absolute())
    bench_name = benchmark if (benchmark and from_db) else None
    bench = None
    if bench_name and db is not None:
        from quantdb.services.benchmark import benchmark_on_dates

        bench = benchmark_on_dates(db, bench_name, data.dates)
    res = backtest_loaded(
        strat, data, where=where, params=full_params, settings=merge_settings(settings, options), mode=mode,
        db=db, source=source, benchmark=bench_name, benchmark_returns=bench, frame_bars=frame is not None,
    )
    if store and db is not None:
        res = _stored(db, res, strat, where=where, source=source, mode=mode, benchmark=bench_name)
    return res


def _stored(
    db: Database, res: BacktestResult, strat: Strategy, *, where: Universe, source: str, mode: BacktestMode,
    benchmark: str | None,
) -> BacktestResult:
    """``res`` stored in ``db`` (`store_backtest`), with the id it was given."""
    return dataclasses.replace(res, backtest_id=store_backtest(
        db, res, universe=str(where), source=source, mode=mode, benchmark=benchmark,
        strategy_source=strat.source()))


@dataclass(frozen=True)
class LoadedRun:
    """What several backtests on the same database bars share, loaded once (`load_run`): the
    bars, the benchmark's returns on their dates (None: no benchmark, or no prices for it) and
    the data's fingerprint. Each backtest then goes through `backtest_loaded`."""

    where: Universe
    data: BarData
    benchmark: str | None
    bench: FloatArray | None
    data_fingerprint: str


def load_run(
    where: Universe, *, db: Database, start: str | dt.date | None = None, end: str | dt.date | None = None,
    benchmark: str | None = "SPY",
) -> LoadedRun:
    """The database bars of ``where`` over ``start``..``end``, the ``benchmark``'s returns on
    their dates and their fingerprint: what `run_backtest` loads for one run from the database,
    loaded once for several (the demo's built-in strategies, a sweep's best sets)."""
    from quantdb.services.benchmark import benchmark_on_dates

    data = load_backtest_bars(where, db=db, start=start, end=end)
    bench = benchmark_on_dates(db, benchmark, data.dates) if benchmark else None
    return LoadedRun(where, data, benchmark or None, bench, fingerprint(data.dates, data.tickers, data.bars))


def run_backtests(names: Sequence[StrategyRef], *, db: Database, benchmark: str | None = "SPY") -> list[BacktestResult]:
    """`run_backtest` ``(name, db=db, benchmark=benchmark)`` of each strategy of ``names``, in
    that order, each stored: every ticker, the whole history, default parameters and settings.

    The bars, the benchmark's returns and the data's fingerprint are loaded once for all of
    them (`load_run`; each `run_backtest` would load the same panel again); each strategy then
    goes through `backtest_loaded` and `store_backtest` exactly as in `run_backtest`, so each
    row stored is the one `run_backtest` stores. `quantdb demo` backtests every built-in
    strategy this way.
    """
    strategies = [resolve_strategy(name) for name in names]  # an unknown name is refused before any work
    run = load_run(universe_of(None, None), db=db, benchmark=benchmark)
    results = []
    for strat in strategies:
        res = backtest_loaded(
            strat, run.data, where=run.where, params=strat.full_params(None), settings=merge_settings(None, {}),
            mode="portfolio", db=db, source="db", benchmark=run.benchmark, benchmark_returns=run.bench,
            data_fingerprint=run.data_fingerprint,
        )
        results.append(_stored(db, res, strat, where=run.where, source="db", mode="portfolio", benchmark=run.benchmark))
    return results


def backtest_loaded(
    strat: Strategy,
    data: BarData,
    *,
    where: Universe,
    params: Mapping[str, float],
    settings: Mapping[str, Any] | SimSettings | None,
    mode: BacktestMode,
    db: Database | None,
    source: str,
    benchmark: str | None,
    benchmark_returns: FloatArray | None,
    frame_bars: bool = False,
    data_fingerprint: str | None = None,
) -> BacktestResult:
    """Everything of `run_backtest` after the loading steps, on bars already loaded (not stored).

    `run_backtest` loads the bars and the benchmark and calls it; a sweep's best sets
    (`quantdb.services.research.sweep`) load them and the fingerprint once and run each set
    through it, so that each row stored is the one `run_backtest` would store. ``benchmark``
    is the benchmark's name as recorded, ``benchmark_returns`` its returns on ``data.dates``
    (`quantdb.services.benchmark.benchmark_on_dates`) or None; ``data_fingerprint`` is
    `fingerprint` of ``data`` when the caller has it.
    """
    portfolio = mode == "portfolio"
    full_params = strat.full_params(params)
    bars = data.bars
    st = build_settings(settings, n_tickers=len(data.tickers), portfolio=portfolio)
    sig = strat.signals(bars, **full_params)
    entries, exits = sig[0], sig[1]
    short = (sig[2], sig[3]) if len(sig) == 4 else (None, None)
    if where.kind == "leaders" and where.top is not None:
        gate = leaders_mask(bars.close, bars.volume if bars.volume is not None else np.ones_like(bars.close), where.top)
        entries = entries & gate
        if short[0] is not None:
            short = (short[0] & gate, short[1])
    result = simulate(
        bars.open, bars.high, bars.low, bars.close, entries, exits, short[0], short[1],
        settings=st, portfolio=portfolio,
    )
    equity, exposure = _curves(result.equity, result.exposure)
    stats = compute_statistics(equity, st.cash, result.trades, int(result.ambiguous_exits.sum()), benchmark_returns,
                               bankrupt_on=bankrupt_date(data.dates, result.stats.bankrupt_bar))
    return BacktestResult(
        strategy=strat.name,
        params=full_params,
        settings=st,
        dates=data.dates,
        tickers=data.tickers,
        trade_records=result.trades,
        equity_curve=equity,
        exposure=exposure,
        statistics=stats,
        fingerprint=data_fingerprint or fingerprint(data.dates, data.tickers, bars),
        origin=Origin(
            source=source, db_path=None if db is None else str(db.path), start=str(data.dates[0])[:10],
            end=str(data.dates[-1])[:10], benchmark=benchmark, mode=mode,
            frame_bars=(data.dates, data.tickers, bars) if frame_bars else None),
    )


def _curves(equity: FloatArray, exposure: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The equity and exposure of a run: as they are for a portfolio; for independent tickers
    (``(dates, tickers)``) the mean equity and the exposure of the summed books."""
    eq = np.asarray(equity, dtype=np.float64)
    ex = np.asarray(exposure, dtype=np.float64)
    if eq.ndim == 1:
        return eq, ex
    total = eq.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gross = np.where(total != 0, (np.nan_to_num(ex) * eq).sum(axis=1) / total, 0.0)
    return np.ascontiguousarray(eq.mean(axis=1)), np.ascontiguousarray(gross)

