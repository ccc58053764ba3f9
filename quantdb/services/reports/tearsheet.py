"""`quantdb report tearsheet`: QuantStats' HTML tearsheet of a strategy or a stored backtest,
with SPY from the database as the benchmark and quantdb's trade statistics added."""

from __future__ import annotations

from pathlib import Path

from quantdb.adapters import quantstats_
from quantdb.errors import NotFound, QuantdbError
from quantdb.services.reports import analysis, data
from quantdb.services.reports.bundle import fmt
from quantdb.storage.sqlite import Database


def trade_stat_rows(stats: dict[str, float]) -> list[tuple[str, str]]:
    """quantdb's trade statistics as (label, text) rows, in report order."""
    return [(label, fmt(stats.get(key), kind)) for key, label, kind in analysis.TRADE_METRICS if key in stats]


def write_tearsheet(
    db: Database,
    out: str | Path,
    *,
    strategy: str | None = None,
    backtest_id: int | None = None,
    benchmark: str = data.BENCHMARK,
) -> Path:
    """Write the tearsheet of one live strategy or one stored backtest to ``out``.

    Raises
    ------
    QuantdbError
        Neither or both of ``strategy`` and ``backtest_id`` were given.
    NotFound
        No such strategy or backtest, no trades (nothing to show), or fewer than two days of
        returns.
    """
    if (strategy is None) == (backtest_id is None):
        msg = "give exactly one of --strategy NAME or --backtest ID"
        raise QuantdbError(msg)
    if strategy is not None:
        returns = data.strategy_returns(db, strategy)
        trades = data.trade_log(db, strategy=strategy)
        title = f"{strategy.strip().lower()} (live)"
    else:
        assert backtest_id is not None
        returns = data.backtest_returns(db, backtest_id)
        trades = data.backtest_trade_log(db, backtest_id)
        title = str(returns.name)
    returns = returns.dropna()
    if len(returns) < 2:
        msg = f"{title}: a tearsheet needs at least two days of returns, got {len(returns)}"
        raise NotFound(msg)
    try:
        bench = data.benchmark_returns(db, benchmark)
    except NotFound:
        bench = None
    stats = analysis.trade_statistics(trades)
    return quantstats_.html_tearsheet(
        returns, out, benchmark=bench, title=title, benchmark_title=benchmark,
        trade_stats=trade_stat_rows(stats),
    )
