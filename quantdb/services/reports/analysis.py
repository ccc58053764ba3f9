"""The report pieces, each usable alone from a notebook: tables computed from return series.

Every number comes from quantdb's kernels (``kernels.summary``, ``kernels.metrics``,
``kernels.drawdown``, ``kernels.tradestats``); this module only aligns series, calls the kernels and shapes their
output into tables. Returns are simple daily fractions in a pandas Series with a
``DatetimeIndex``; NaN means "no observation" (flat for compounding, skipped for moments).

Examples
--------
>>> import pandas as pd
>>> r = pd.Series([0.01, -0.02, 0.03], index=pd.bdate_range("2024-01-01", periods=3))
>>> monthly_returns(r).loc[2024, "Jan"].round(6)
np.float64(0.019494)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantdb.kernels import drawdown as dd_kernels
from quantdb.kernels import metrics as mk
from quantdb.kernels import tradestats
from quantdb.kernels.summary import summary_metrics
from quantdb.services.benchmark import on_dates

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Summary metrics in report order: (key, label, number kind for formatting).
SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("start", "Start", "date"),
    ("end", "End", "date"),
    ("periods", "Days", "int"),
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("annual_volatility", "Volatility (ann.)", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("calmar", "Calmar", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("longest_drawdown_days", "Longest drawdown (days)", "int"),
    ("beta", "Beta vs SPY", "ratio"),
    ("alpha", "Alpha vs SPY (ann.)", "pct"),
    ("correlation", "Correlation with SPY", "ratio"),
)

#: Trade statistics in report order (keys of ``kernels.tradestats.trade_stats``).
TRADE_METRICS: tuple[tuple[str, str, str], ...] = (
    ("trades", "Closed trades", "int"),
    ("win_rate", "Win rate", "pct"),
    ("average_win", "Average win", "money"),
    ("average_loss", "Average loss", "money"),
    ("payoff_ratio", "Payoff ratio", "ratio"),
    ("profit_factor", "Profit factor", "ratio"),
    ("expectancy", "Expectancy per trade", "money"),
    ("sqn", "SQN", "ratio"),
    ("kelly_fraction", "Kelly fraction", "pct"),
    ("longest_win_streak", "Longest win streak", "int"),
    ("longest_loss_streak", "Longest loss streak", "int"),
    ("average_trade_return", "Average trade return", "pct"),
    ("average_holding_days", "Average holding (days)", "ratio"),
)


def align(series: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Put return series side by side on the union of their dates (NaN where one is silent)."""
    if not series:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    frame = pd.concat({name: s.astype(np.float64) for name, s in series.items()}, axis=1, sort=True)
    frame.index.name = "date"
    return frame


def wealth(returns: pd.Series | pd.DataFrame, *, start: float = 1.0) -> pd.Series | pd.DataFrame:
    """Compounded wealth from simple returns, starting at ``start`` (NaN periods flat)."""
    values = np.asarray(returns, dtype=np.float64)
    out = start * np.cumprod(1.0 + np.nan_to_num(values), axis=0)
    if isinstance(returns, pd.DataFrame):
        return pd.DataFrame(out, index=returns.index, columns=returns.columns)
    return pd.Series(out, index=returns.index, name=returns.name)


# ------------------------------------------------------------------------------- pieces
def equity_vs_benchmark(
    returns: pd.Series, benchmark: pd.Series | None, *, start: float = 1.0
) -> pd.DataFrame:
    """The equity curve against the benchmark's, both starting at ``start`` on the strategy's dates.

    Returns a frame indexed by date with columns ``strategy`` and ``benchmark`` (wealth).
    """
    bench = pd.Series(on_dates(benchmark, returns.index), index=returns.index)
    return pd.DataFrame({"strategy": wealth(returns, start=start), "benchmark": wealth(bench, start=start)})


@dataclass(frozen=True)
class DrawdownAnalysis:
    """The underwater curve (negative fractions by date) and the top-N drawdown episodes."""

    underwater: pd.Series
    table: pd.DataFrame


def drawdown_analysis(returns: pd.Series, *, top: int = 5) -> DrawdownAnalysis:
    """Underwater chart data and the ``top`` deepest drawdowns with their recovery times.

    The table (``kernels.drawdown.drawdown_table``) has one row an episode, deepest first:
    ``peak, start, valley, recovery`` dates (recovery NaT if not recovered), ``depth``
    (negative fraction), ``duration`` (periods under water) and ``recovery_periods`` (valley
    to recovery), plus ``recovery_days`` in calendar days.
    """
    values = returns.to_numpy(dtype=np.float64)
    under = pd.Series(dd_kernels.drawdown_series(values), index=returns.index, name="drawdown")
    table = dd_kernels.drawdown_table(values, dates=returns.index.to_numpy(), top=top)
    frame = pd.DataFrame(table)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame["recovery_days"] = (
        pd.to_datetime(frame["recovery"]) - pd.to_datetime(frame["valley"])
    ).dt.days.astype("float64")
    return DrawdownAnalysis(under, frame)


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Years x months of compounded returns, with the compounded year in column ``Year``.

    A month without any observation is NaN; NaN days inside a month are flat.
    """
    r = returns.astype(np.float64)
    growth = 1.0 + r.fillna(0.0)
    observed = r.notna()
    keys = [r.index.year, r.index.month]
    month = growth.groupby(keys).prod() - 1.0
    month[~observed.groupby(keys).any()] = np.nan
    table = month.unstack()
    table = table.reindex(columns=range(1, 13))
    table.columns = list(MONTHS)
    year = growth.groupby(r.index.year).prod() - 1.0
    year[~observed.groupby(r.index.year).any()] = np.nan
    table["Year"] = year
    table.index.name = "year"
    return table


def rolling_stats(
    returns: pd.Series, benchmark: pd.Series | None, *, window: int = 126
) -> pd.DataFrame:
    """Rolling Sharpe ratio and rolling beta against the benchmark over ``window`` periods.

    The window shrinks to half the series when the series is shorter than two windows, so a
    short history still shows a curve; the frame's ``attrs["window"]`` says which was used.
    """
    values = returns.to_numpy(dtype=np.float64)
    n = len(values)
    w = int(min(window, max(2, n // 2)))
    bench = on_dates(benchmark, returns.index)
    frame = pd.DataFrame(
        {
            "rolling_sharpe": mk.rolling_sharpe(values, window=w) if n >= 2 else np.full(n, np.nan),
            "rolling_beta": mk.rolling_beta(values, bench, window=w) if n >= 2 else np.full(n, np.nan),
        },
        index=returns.index,
    )
    frame.attrs["window"] = w
    return frame


def summary_table(returns: pd.Series, benchmark: pd.Series | None = None) -> dict[str, object]:
    """The report's headline figures of one return series (keys of ``SUMMARY_METRICS``).

    The dates and the number of observed days, and the figures of
    :func:`quantdb.kernels.summary.summary_metrics` (the one summary of a return series, the
    one a backtest stores) with the benchmark put on the series' dates by
    :func:`quantdb.services.benchmark.on_dates`.
    """
    r = returns.to_numpy(dtype=np.float64)
    observed = returns.dropna()
    bench = on_dates(benchmark, returns.index)
    m = summary_metrics(r, benchmark=bench)
    return {
        "start": observed.index[0].date().isoformat() if len(observed) else None,
        "end": observed.index[-1].date().isoformat() if len(observed) else None,
        "periods": len(observed),
        "total_return": float(m["total_return"][0]),
        "cagr": float(m["cagr"][0]),
        "annual_volatility": float(m["volatility"][0]),
        "sharpe": float(m["sharpe"][0]),
        "sortino": float(m["sortino"][0]),
        "calmar": float(m["calmar"][0]),
        "max_drawdown": float(m["max_drawdown"][0]),
        "longest_drawdown_days": float(m["longest_drawdown_days"][0]),
        "beta": float(m["beta"][0]),
        "alpha": float(m["alpha"][0]),
        "correlation": float(m["correlation"][0]),
    }


def trade_statistics(trades: pd.DataFrame) -> dict[str, float]:
    """quantdb's trade statistics (``kernels.tradestats.trade_stats``) of the closed trades.

    ``trades`` is a trade log (`data.trade_log` or `data.backtest_trade_log`): rows with a
    P&L and an exit date count; ``return_pct`` and holding days feed the optional keys.
    """
    if "status" in trades.columns:
        closed = trades[(trades["status"] == "CLOSED") & trades["pnl"].notna()]
    else:
        closed = trades[trades["pnl"].notna()]
    pnl = closed["pnl"].to_numpy(dtype=np.float64)
    if "holding_days" in closed.columns:
        held = closed["holding_days"].to_numpy(dtype=np.float64)
    else:
        held = (
            pd.to_datetime(closed["exit_date"]) - pd.to_datetime(closed["entry_date"])
        ).dt.days.to_numpy(dtype=np.float64)
    rets = closed["return_pct"].to_numpy(dtype=np.float64)
    if pnl.size == 0:
        return {key: math.nan for key, _, _ in TRADE_METRICS} | {"trades": 0.0}
    return tradestats.trade_stats(pnl, returns=rets, holding_days=held)


@dataclass(frozen=True)
class Comparison:
    """Strategies side by side: metrics (metric x strategy), wealth curves, return correlations."""

    metrics: pd.DataFrame
    equity: pd.DataFrame
    correlation: pd.DataFrame


def compare_strategies(series: Mapping[str, pd.Series], benchmark: pd.Series | None = None) -> Comparison:
    """Compare return series: their summary metrics, their equity curves on one date axis, and
    the correlation of their returns (over the dates both observe, ``kernels.metrics.correlation``)."""
    names = list(series)
    metrics = pd.DataFrame(
        {name: summary_table(s.dropna(), benchmark) for name, s in series.items()},
        index=[key for key, _, _ in SUMMARY_METRICS],
    )
    frame = align(series)
    equity = wealth(frame) if len(frame.columns) else frame
    corr = np.full((len(names), len(names)), np.nan)
    values = frame.to_numpy(dtype=np.float64)
    for i in range(len(names)):
        for j in range(i, len(names)):
            c = float(mk.correlation(values[:, i], values[:, j]))
            corr[i, j] = corr[j, i] = c
    return Comparison(metrics, equity, pd.DataFrame(corr, index=names, columns=names))
