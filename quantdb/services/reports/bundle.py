"""Everything a full report shows, computed once: the dashboard, the workbook and the PDF all
render one `ReportBundle`, so the same database gives the same numbers in every format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from quantdb._format import KINDS, format_number
from quantdb.errors import NotFound
from quantdb.services.reports import analysis, data
from quantdb.storage.sqlite import Database


@dataclass(frozen=True)
class SeriesReport:
    """One return series (a live strategy or a stored backtest) and its report pieces."""

    name: str
    kind: str  # "strategy" or "backtest"
    key: str  # the strategy name or the backtest id
    returns: pd.Series
    summary: dict[str, Any]
    equity: pd.DataFrame
    drawdowns: analysis.DrawdownAnalysis
    monthly: pd.DataFrame
    rolling: pd.DataFrame
    trade_stats: dict[str, float]


@dataclass(frozen=True)
class ReportBundle:
    """The content of a full report, read from one database at one moment."""

    db_path: str
    as_of: str | None
    benchmark: str
    series: list[SeriesReport]
    comparison: analysis.Comparison | None
    trades: pd.DataFrame
    trade_stats: dict[str, float]
    open_positions: pd.DataFrame
    live: pd.DataFrame
    history: pd.DataFrame
    backtests: pd.DataFrame
    sweeps: pd.DataFrame
    leaders: dict[str, pd.DataFrame] = field(default_factory=dict)
    notices: tuple[str, ...] = ()  # problems the reader must see first (stale prices, ...)


def series_report(
    name: str,
    kind: str,
    key: str,
    returns: pd.Series,
    benchmark: pd.Series | None,
    trades: pd.DataFrame,
    *,
    top_drawdowns: int = 5,
    window: int = 126,
) -> SeriesReport:
    """The report pieces of one return series (see `analysis`)."""
    returns = returns.dropna()
    return SeriesReport(
        name=name,
        kind=kind,
        key=key,
        returns=returns,
        summary=analysis.summary_table(returns, benchmark),
        equity=analysis.equity_vs_benchmark(returns, benchmark),
        drawdowns=analysis.drawdown_analysis(returns, top=top_drawdowns),
        monthly=analysis.monthly_returns(returns),
        rolling=analysis.rolling_stats(returns, benchmark, window=window),
        trade_stats=analysis.trade_statistics(trades),
    )


def _sources(db: Database, backtests: int) -> list[tuple[str, str, str, pd.Series, pd.DataFrame]]:
    out = []
    for name, r in data.all_strategy_returns(db).items():
        if r.notna().sum() >= 2:
            out.append((name, "strategy", name, r, data.trade_log(db, strategy=name)))
    for row in data.latest_backtests(db, limit=backtests).itertuples():
        try:
            r = data.backtest_returns(db, int(row.id))
        except NotFound:
            continue
        if r.notna().sum() >= 2:
            out.append((str(r.name), "backtest", str(row.id), r, data.backtest_trade_log(db, int(row.id))))
    return out


def build_bundle(
    db: Database,
    *,
    backtests: int = 5,
    top_drawdowns: int = 5,
    window: int = 126,
    benchmark: str = data.BENCHMARK,
) -> ReportBundle:
    """Read and compute everything a full report shows (reads only).

    Parameters
    ----------
    db : Database
        The quantdb database (opened read-only is enough).
    backtests : int
        How many of the newest stored backtests get their own report section.
    top_drawdowns : int
        Rows of each drawdown table.
    window : int
        Rolling Sharpe / beta window in trading days (shrunk for short series).
    benchmark : str
        Benchmark ticker in ``price_history``; its absence leaves the benchmark columns NaN.
    """
    try:
        bench: pd.Series | None = data.benchmark_returns(db, benchmark)
    except NotFound:
        bench = None
    series = [
        series_report(name, kind, key, r, bench, trades, top_drawdowns=top_drawdowns, window=window)
        for name, kind, key, r, trades in _sources(db, backtests)
    ]
    comparison = (
        analysis.compare_strategies({s.name: s.returns for s in series}, bench) if series else None
    )
    trades = data.trade_log(db)
    as_of = db.scalar("SELECT max(date) FROM price_history")
    return ReportBundle(
        db_path=str(db.path),
        as_of=as_of,
        benchmark=benchmark,
        series=series,
        comparison=comparison,
        trades=trades,
        trade_stats=analysis.trade_statistics(trades),
        open_positions=data.open_positions(db),
        live=data.live_performance(db),
        history=data.performance_history(db),
        backtests=data.latest_backtests(db),
        sweeps=data.latest_sweeps(db),
        leaders={tf: data.volume_leaders(db, tf) for tf in ("daily", "weekly", "monthly")},
    )


# ------------------------------------------------------------------------------- formatting
def fmt(value: Any, kind: str = "auto") -> str:
    """A value as report text: ``pct`` 12.34%, ``ratio`` 1.23, ``money`` 1,234.56, ``int``
    1,234, ``label`` 2013 (a year or an id: digits only, no thousands separator); NaN / None
    as an empty cell (never "nan").

    Examples
    --------
    >>> fmt(2013, "label"), fmt(2013, "int"), fmt(0.1234, "pct")
    ('2013', '2,013', '12.34%')
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, datetime | date | pd.Timestamp):
        return "" if pd.isna(value) else pd.Timestamp(value).date().isoformat()
    if kind == "auto":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        kind = "int" if isinstance(value, int) else "ratio"
    if kind == "date":
        return str(value)
    return format_number(value, kind)


#: Number kind of each trade-log / position / backtest column (for text and Excel formats).
COLUMN_KINDS: dict[str, str] = KINDS  # one table of kinds for the reports and the command line
