"""quantdb: a research database and vectorized backtesting toolkit for prediction strategies.

``import quantdb as qdb; db = qdb.connect("quant.db")``. Everything a notebook uses is a name
of this package (listed in ``__all__`` and in ``docs/api.md``); a notebook never needs
``quantdb.kernels``, ``quantdb.services`` or the raw ``Database``.

Importing this package is cheap: each name is imported from its module on first use (a
module-level ``__getattr__`` over :data:`_EXPORTS`), so ``import quantdb`` and
``quantdb --help`` load none of numba, NumPy, Polars, vectorbt or QuantStats.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from quantdb._version import __version__

if TYPE_CHECKING:  # what mypy sees; at run time each name comes from `__getattr__`
    from pathlib import Path

    from quantdb.client import QuantDB
    from quantdb.dates import DateError, parse_date
    from quantdb.errors import (
        ArgumentError,
        DatabaseDamaged,
        DatabaseError,
        DatabaseFull,
        ExtensionMissing,
        FileFormatError,
        InputError,
        MigrationError,
        NotFound,
        QuantdbError,
        QuantdbWarning,
    )
    from quantdb.frames import backtest, bars_from_frame
    from quantdb.kernels import indicators, signals
    from quantdb.kernels.drawdown import (
        drawdown_series,
        drawdown_table,
        max_drawdown,
        time_under_water,
        ulcer_index,
    )
    from quantdb.kernels.metrics import (
        alpha,
        annual_volatility,
        beta,
        cagr,
        calmar_ratio,
        correlation,
        deflated_sharpe_ratio,
        down_capture,
        information_ratio,
        kurtosis,
        omega_ratio,
        probabilistic_sharpe_ratio,
        r_squared,
        rolling_beta,
        rolling_sharpe,
        rolling_volatility,
        sharpe_ratio,
        skew,
        sortino_ratio,
        tail_ratio,
        total_return,
        tracking_error,
        up_capture,
    )
    from quantdb.kernels.overfitting import PBOResult, SelectionSharpe, pbo_cscv, selection_sharpe
    from quantdb.kernels.risk import conditional_value_at_risk, value_at_risk
    from quantdb.kernels.summary import summary_metrics
    from quantdb.kernels.tradestats import trade_stats
    from quantdb.panel import Panel
    from quantdb.services.live.performance import PerformanceReport
    from quantdb.services.live.risk import RiskReport
    from quantdb.services.live.tracking import Fill, TrackReport
    from quantdb.services.reports.analysis import Comparison, compare_strategies
    from quantdb.services.research.backtest import BacktestResult
    from quantdb.services.research.frame_bars import FrameError
    from quantdb.services.research.grid import Grid
    from quantdb.services.research.montecarlo import MonteCarloReport
    from quantdb.services.research.plots import save_html
    from quantdb.services.research.sweep import SweepReport, heatmap, query_results
    from quantdb.services.research.walkforward import WalkForwardReport
    from quantdb.settings import SETTINGS_FIELDS, SettingsError, SimSettings, build_settings
    from quantdb.strategies import (
        STRATEGIES,
        Bars,
        Strategy,
        StrategyError,
        StrategyOutputError,
        get_strategy,
        strategy,
    )
    from quantdb.strategy_loader import StrategySpecError, list_strategies, resolve_strategy
    from quantdb.universe import Universe, UniverseError, parse_universe

_EXPORTS: dict[str, str] = {
    # opening a database, panels
    "QuantDB": "quantdb.client",
    "Panel": "quantdb.panel",
    # results
    "BacktestResult": "quantdb.services.research.backtest",
    "SweepReport": "quantdb.services.research.sweep",
    "WalkForwardReport": "quantdb.services.research.walkforward",
    "MonteCarloReport": "quantdb.services.research.montecarlo",
    "Grid": "quantdb.services.research.grid",
    "RiskReport": "quantdb.services.live.risk",
    "PerformanceReport": "quantdb.services.live.performance",
    "TrackReport": "quantdb.services.live.tracking",
    "Fill": "quantdb.services.live.tracking",
    "Comparison": "quantdb.services.reports.analysis",
    "PBOResult": "quantdb.kernels.overfitting",
    "SelectionSharpe": "quantdb.kernels.overfitting",
    # research without a database: a backtest of a pandas or Polars frame
    "backtest": "quantdb.frames",
    "bars_from_frame": "quantdb.frames",
    # research helpers that need no database
    "heatmap": "quantdb.services.research.sweep",
    "query_results": "quantdb.services.research.sweep",
    "save_html": "quantdb.services.research.plots",
    "compare_strategies": "quantdb.services.reports.analysis",
    # metrics over 1-D or (periods x series) returns
    **dict.fromkeys(
        (
            "total_return", "cagr", "annual_volatility", "sharpe_ratio", "sortino_ratio",
            "calmar_ratio", "omega_ratio", "tail_ratio", "skew", "kurtosis",
            "probabilistic_sharpe_ratio", "deflated_sharpe_ratio", "beta", "alpha",
            "correlation", "r_squared", "tracking_error", "information_ratio", "up_capture",
            "down_capture", "rolling_sharpe", "rolling_volatility", "rolling_beta",
        ),
        "quantdb.kernels.metrics",
    ),
    **dict.fromkeys(
        ("max_drawdown", "drawdown_series", "drawdown_table", "time_under_water", "ulcer_index"),
        "quantdb.kernels.drawdown",
    ),
    "summary_metrics": "quantdb.kernels.summary",
    "trade_stats": "quantdb.kernels.tradestats",
    # risk and overfitting
    "value_at_risk": "quantdb.kernels.risk",
    "conditional_value_at_risk": "quantdb.kernels.risk",
    "selection_sharpe": "quantdb.kernels.overfitting",
    "pbo_cscv": "quantdb.kernels.overfitting",
    # strategies (``signals``: the module of vectorized signal helpers a strategy builds on)
    "strategy": "quantdb.strategies",
    "STRATEGIES": "quantdb.strategies",
    "get_strategy": "quantdb.strategies",
    "Strategy": "quantdb.strategies",
    "Bars": "quantdb.strategies",
    "resolve_strategy": "quantdb.strategy_loader",
    "list_strategies": "quantdb.strategy_loader",
    "signals": "quantdb.kernels.signals",
    "indicators": "quantdb.kernels.indicators",
    # settings, universes, dates
    "SimSettings": "quantdb.settings",
    "SETTINGS_FIELDS": "quantdb.settings",
    "build_settings": "quantdb.settings",
    "Universe": "quantdb.universe",
    "parse_universe": "quantdb.universe",
    "parse_date": "quantdb.dates",
    # errors
    **dict.fromkeys(
        (
            "QuantdbError", "ArgumentError", "InputError", "FileFormatError", "NotFound",
            "DatabaseError", "DatabaseDamaged", "DatabaseFull", "MigrationError",
            "ExtensionMissing", "QuantdbWarning",
        ),
        "quantdb.errors",
    ),
    "SettingsError": "quantdb.settings",
    "UniverseError": "quantdb.universe",
    "DateError": "quantdb.dates",
    "StrategyError": "quantdb.strategies",
    "FrameError": "quantdb.services.research.frame_bars",
    "StrategyOutputError": "quantdb.strategies",
    "StrategySpecError": "quantdb.strategy_loader",
}
"""Each lazily exported name and the module it comes from (a module named after the export
is itself the export)."""

__all__ = [
    "SETTINGS_FIELDS",
    "STRATEGIES",
    "ArgumentError",
    "BacktestResult",
    "Bars",
    "Comparison",
    "DatabaseDamaged",
    "DatabaseError",
    "DatabaseFull",
    "DateError",
    "ExtensionMissing",
    "FileFormatError",
    "Fill",
    "FrameError",
    "Grid",
    "InputError",
    "MigrationError",
    "MonteCarloReport",
    "NotFound",
    "PBOResult",
    "Panel",
    "PerformanceReport",
    "QuantDB",
    "QuantdbError",
    "QuantdbWarning",
    "RiskReport",
    "SelectionSharpe",
    "SettingsError",
    "SimSettings",
    "Strategy",
    "StrategyError",
    "StrategyOutputError",
    "StrategySpecError",
    "SweepReport",
    "TrackReport",
    "Universe",
    "UniverseError",
    "WalkForwardReport",
    "__version__",
    "alpha",
    "annual_volatility",
    "backtest",
    "bars_from_frame",
    "beta",
    "build_settings",
    "cagr",
    "calmar_ratio",
    "compare_strategies",
    "conditional_value_at_risk",
    "connect",
    "correlation",
    "deflated_sharpe_ratio",
    "down_capture",
    "drawdown_series",
    "drawdown_table",
    "get_strategy",
    "heatmap",
    "indicators",
    "information_ratio",
    "kurtosis",
    "list_strategies",
    "max_drawdown",
    "omega_ratio",
    "parse_date",
    "parse_universe",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
    "query_results",
    "r_squared",
    "resolve_strategy",
    "rolling_beta",
    "rolling_sharpe",
    "rolling_volatility",
    "save_html",
    "selection_sharpe",
    "sharpe_ratio",
    "signals",
    "skew",
    "sortino_ratio",
    "strategy",
    "summary_metrics",
    "tail_ratio",
    "time_under_water",
    "total_return",
    "tracking_error",
    "trade_stats",
    "ulcer_index",
    "up_capture",
    "value_at_risk",
]


def connect(path: str | Path = "quant.db", *, create: bool = True) -> QuantDB:
    """Open (and, with ``create``, create or upgrade) the quantdb database at ``path``.

    With ``create=False`` a missing file raises `NotFound`.
    """
    from quantdb.client import QuantDB

    return QuantDB(path, create=create)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'quantdb' has no attribute {name!r}"
        raise AttributeError(msg)
    value = import_module(module)
    if not module.endswith("." + name):
        value = getattr(value, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
