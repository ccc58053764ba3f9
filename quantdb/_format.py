"""How a number reads for people: one table of kinds (``pct``, ``ratio``, ``money``, ``int``,
``int``, ``label``, ``price``) and one formatter, shared by the command line's tables and the reports.

Kept free of NumPy and pandas: `quantdb --help` imports the CLI, which imports this.

Examples
--------
>>> format_number(0.1234, "pct"), format_number(1234.5, "money"), format_number(2013, "year")
('12.34%', '1,234.50', '2013')
>>> kind_of("max_drawdown"), kind_of("cvar_95"), kind_of("n_trades")
('pct', 'pct', 'int')
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["KINDS", "format_number", "kind_of"]

KINDS: dict[str, str] = {
    # fractions shown as percentages
    "total_return": "pct", "cagr": "pct", "annual_volatility": "pct", "volatility": "pct",
    "max_drawdown": "pct", "max_dd": "pct", "win_rate": "pct", "alpha": "pct", "return": "pct",
    "return_pct": "pct", "unrealized_return": "pct", "average_trade_return": "pct", "depth": "pct",
    "kelly_fraction": "pct", "exposure": "pct", "accuracy": "pct", "mean_return": "pct",
    "tracking_error": "pct", "benchmark_return": "pct", "probability_of_ruin": "pct",
    "best_day": "pct", "worst_day": "pct", "oos_objective": "ratio", "is_objective": "ratio",
    # ratios
    "sharpe": "ratio", "sortino": "ratio", "calmar": "ratio", "beta": "ratio", "correlation": "ratio",
    "profit_factor": "ratio", "payoff_ratio": "ratio", "sqn": "ratio", "omega": "ratio",
    "information_ratio": "ratio", "average_holding_days": "ratio", "efficiency": "ratio",
    # money
    "final_equity": "money", "pnl": "money", "fees": "money", "realized_pnl": "money",
    "unrealized_pnl": "money", "average_win": "money", "average_loss": "money", "expectancy": "money",
    "entry_price": "money", "exit_price": "money", "last_price": "money", "price": "money",
    "capital": "money", "cash": "money", "trades_realized_pnl": "money",
    # whole numbers
    "n_trades": "int", "trades": "int", "ambiguous_exits": "int", "bars_held": "int",
    "holding_days": "int", "shares": "int", "volume": "int", "rows": "int", "read": "int",
    "imported": "int", "duplicates": "int", "quarantined": "int", "already_present": "int",
    "combos": "int", "rank": "int", "periods": "int", "days": "int", "n_open": "int",
    "n_closed": "int", "longest_drawdown_days": "int", "duration": "int",
    "recovery_days": "int", "longest_win_streak": "int", "longest_loss_streak": "int",
    "recovery_periods": "int",
    # identifiers and calendar years: digits only ("2013", never "2,013")
    "id": "label", "legacy_id": "label", "sweep_run_id": "label", "batch": "label", "backtest_id": "label",
    "run_id": "label", "window": "label", "year": "label",
}
"""The kind of each figure quantdb prints, by name (fractions are stored as fractions)."""

_PCT_PATTERN = re.compile(r"^(c?var|cvar|es)_\d+|_return$|_drawdown$|_rate$")

def kind_of(name: str) -> str:
    """The kind of the figure called ``name`` (``auto`` when nothing is known of it)."""
    key = str(name).strip().lower()
    if key in KINDS:
        return KINDS[key]
    if _PCT_PATTERN.search(key):
        return "pct"
    return "auto"

def format_number(value: Any, kind: str = "auto") -> str:
    """``value`` as text of its ``kind``: ``pct`` 12.34%, ``ratio`` 1.23, ``money`` 1,234.56,
    ``int`` 1,234, ``label`` 2013 (a year or an id: digits only), ``price`` 4 significant
    digits below 1; None and NaN as an empty cell, infinities as ``inf``; text as it is
    (numeric text is read as its number)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, int | float):
        try:
            v = float(value)
        except (TypeError, ValueError):
            return str(value)
    else:
        v = float(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if kind == "auto":
        kind = "int" if isinstance(value, int) else "float"
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "money":
        return f"{v:,.2f}"
    if kind in ("int", "int"):
        return f"{v:,.0f}"
    if kind in ("id", "year"):
        return f"{v:.0f}"
    if kind == "price":
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
    if kind == "ratio":
        return f"{v:.2f}"
    return f"{v:.6g}"
