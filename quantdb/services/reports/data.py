"""What the reports read from the database: return series, trades, positions, backtests.

Every function here only reads (``Database.query`` runs on a ``mode=ro``, ``query_only``
connection), so the web interface can call them safely. Return series come back as pandas
Series indexed by a ``DatetimeIndex`` (the form QuantStats and the charts take); tables as
pandas DataFrames with plain column names (the form openpyxl, Jinja2 and matplotlib take).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from quantdb.errors import NotFound
from quantdb.services.benchmark import BENCHMARK, benchmark_returns
from quantdb.services.live.performance import strategy_equity
from quantdb.services.research.results import (
    list_backtests,
    load_backtest,
    load_equity,
    load_trades,
)
from quantdb.storage.sqlite import Database

__all__ = [
    "BENCHMARK",
    "DEFAULT_CAPITAL",
    "TRADE_COLUMNS",
    "all_strategy_returns",
    "backtest_returns",
    "backtest_trade_log",
    "benchmark_returns",
    "latest_backtests",
    "latest_sweeps",
    "live_performance",
    "live_strategy_names",
    "open_positions",
    "performance_history",
    "strategy_names",
    "strategy_returns",
    "trade_log",
    "volume_leaders",
]

DEFAULT_CAPITAL = 100_000.0

TRADE_COLUMNS = (
    "id", "legacy_id", "strategy", "ticker", "side", "status", "entry_date", "entry_price",
    "shares", "exit_date", "exit_price", "pnl", "fees", "return_pct", "holding_days",
    "exit_reason", "notes",
)


def _frame(rows: list[Any], columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


# ------------------------------------------------------------------------------- series
# benchmark_returns is quantdb.services.benchmark's, the one loader of the benchmark's returns.


def backtest_returns(db: Database, backtest_id: int) -> pd.Series:
    """Daily returns of a stored backtest's equity curve (`quantdb.services.research.results`).

    The first return is measured from the starting cash when the stored backtest records it
    (every row of this quantdb; old rows that named ``capital``, ``cash`` or
    ``initial_capital``); otherwise the curve starts flat.

    Raises
    ------
    NotFound
        No backtest with that id, or it stored no equity curve.
    """
    stored = load_backtest(db, backtest_id)
    curve = load_equity(db, backtest_id)
    equity = curve.equity
    start = stored.cash if stored.cash is not None else equity[0]
    prev = np.concatenate(([start], equity[:-1]))
    returns = equity / prev - 1.0
    index = pd.DatetimeIndex(pd.to_datetime(curve.dates), name="date")
    return pd.Series(returns, index=index, name=f"backtest {backtest_id} ({stored.strategy})")


def strategy_returns(db: Database, strategy: str, *, capital: float = DEFAULT_CAPITAL) -> pd.Series:
    """Daily returns of a live strategy's equity (``services.live.performance.strategy_equity``).

    Raises
    ------
    NotFound
        No such strategy, or no equity for it.
    """
    name = strategy.strip().lower()
    if not db.query("SELECT 1 FROM strategies WHERE name = ?", (name,)):
        msg = f"no strategy named {strategy!r}; see the strategies table (`quantdb perf`)"
        raise NotFound(msg)
    pdf = strategy_equity(db, name, capital=capital).to_pandas()
    if "strategy" in pdf.columns:
        pdf = pdf[pdf["strategy"] == name]
    if pdf.empty:
        msg = f"strategy {name!r} has no equity history yet (no closed or marked trades)"
        raise NotFound(msg)
    return pd.Series(
        pdf["returns"].to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(pd.to_datetime(pdf["date"]), name="date"),
        name=name,
    )


def all_strategy_returns(db: Database, *, capital: float = DEFAULT_CAPITAL) -> dict[str, pd.Series]:
    """Daily returns of every live strategy at once (one equity pass over all trades).

    The same series as :func:`strategy_returns` for each name (each strategy's equity is its
    own columns of the same computation), for a fraction of the cost of one call per strategy.
    """
    pdf = strategy_equity(db, None, capital=capital).to_pandas()
    names = set(strategy_names(db))
    out: dict[str, pd.Series] = {}
    for name, part in pdf.groupby("strategy", sort=True):
        if name in names:
            out[str(name)] = pd.Series(
                part["returns"].to_numpy(dtype=np.float64),
                index=pd.DatetimeIndex(pd.to_datetime(part["date"]), name="date"),
                name=str(name),
            )
    return out


def strategy_names(db: Database) -> list[str]:
    """Every strategy name, sorted."""
    return [r[0] for r in db.query("SELECT name FROM strategies ORDER BY name")]


def live_strategy_names(db: Database) -> list[str]:
    """The strategies with recorded predictions (their trades hang on them), not those only
    backtested, sorted."""
    return [r[0] for r in db.query(
        "SELECT s.name FROM strategies s WHERE EXISTS (SELECT 1 FROM predictions p WHERE p.strategy_id = s.id) "
        "ORDER BY s.name"
    )]


# ------------------------------------------------------------------------------- tables
def _notes(extra: str | None) -> str | None:
    if not extra:
        return None
    value = json.loads(extra)
    if isinstance(value, dict) and value.get("notes") is not None:
        return str(value["notes"])
    return None


def trade_log(db: Database, *, strategy: str | None = None, status: str | None = None) -> pd.DataFrame:
    """The detailed trade log: one row a trade, oldest entry first.

    Columns are ``TRADE_COLUMNS``: ``strategy`` comes through the trade's prediction (None for
    a manual trade), ``return_pct`` is ``pnl / (entry_price * shares)`` (a fraction despite
    the legacy name), ``holding_days`` calendar days to the exit (to today's last price date
    while open), ``notes`` the legacy free-text note kept in ``extra``.
    """
    where, params = [], []
    if strategy is not None:
        where.append("s.name = ?")
        params.append(strategy.strip().lower())
    if status is not None:
        where.append("t.status = ?")
        params.append(status.upper())
    sql = (
        "SELECT t.id, t.legacy_id, s.name, k.symbol, t.side, t.status, t.entry_date, t.entry_price, "
        "t.shares, t.exit_date, t.exit_price, COALESCE(t.pnl, t.pnl_computed), t.fees, t.exit_reason, t.extra "
        "FROM trades t JOIN tickers k ON k.id = t.ticker_id "
        "LEFT JOIN predictions p ON p.id = t.prediction_id "
        "LEFT JOIN strategies s ON s.id = p.strategy_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY t.entry_date, t.id"
    )
    rows = db.query(sql, params)
    records = []
    for r in rows:
        cost = r[7] * r[8]
        pnl = r[11]
        held = (
            (pd.Timestamp(r[9]) - pd.Timestamp(r[6])).days if r[9] is not None else None
        )
        records.append((
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], pnl, r[12],
            (pnl / cost) if pnl is not None and cost > 0 else None, held, r[13], _notes(r[14]),
        ))
    frame = _frame(records, TRADE_COLUMNS)
    for col in ("entry_price", "shares", "exit_price", "pnl", "fees", "return_pct"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    return frame


def backtest_trade_log(db: Database, backtest_id: int) -> pd.DataFrame:
    """The trades of one stored backtest, in the columns of `trade_log` where they exist."""
    fields = ("id", "ticker", "entry_date", "entry_price", "size", "exit_date", "exit_price", "pnl",
              "fees", "return_pct", "bars_held", "exit_reason")
    rows = [tuple(t[f] for f in fields) for t in load_trades(db, backtest_id, order="entry")]
    cols = ("id", "ticker", "entry_date", "entry_price", "shares", "exit_date", "exit_price", "pnl",
            "fees", "return_pct", "bars_held", "exit_reason")
    frame = _frame(rows, cols)
    frame.insert(2, "side", ["long" if s >= 0 else "short" for s in frame["shares"]])
    frame["shares"] = frame["shares"].abs()
    return frame


def open_positions(db: Database) -> pd.DataFrame:
    """Open trades marked to the latest close in ``price_history``, with unrealized P&L.

    ``unrealized_pnl = (last_close - entry_price) * shares`` for a long, the negative for a
    short, less the fees already paid; ``last_close`` is NaN (and the P&L too) when the
    ticker has no price on or after the entry date.
    """
    rows = db.query(
        "SELECT t.id, s.name, k.symbol, t.side, t.entry_date, t.entry_price, t.shares, t.fees, "
        "(SELECT p.date FROM price_history p WHERE p.ticker_id = t.ticker_id AND p.close IS NOT NULL "
        " ORDER BY p.date DESC LIMIT 1), "
        "(SELECT p.close FROM price_history p WHERE p.ticker_id = t.ticker_id AND p.close IS NOT NULL "
        " ORDER BY p.date DESC LIMIT 1) "
        "FROM trades t JOIN tickers k ON k.id = t.ticker_id "
        "LEFT JOIN predictions pr ON pr.id = t.prediction_id "
        "LEFT JOIN strategies s ON s.id = pr.strategy_id "
        "WHERE t.status = 'OPEN' ORDER BY t.entry_date, t.id"
    )
    records = []
    for r in rows:
        last_date, last = r[8], r[9]
        if last is None or last_date < r[4]:
            last_date, last = None, math.nan
        sign = 1.0 if r[3] == "long" else -1.0
        unreal = sign * (last - r[5]) * r[6] - r[7]
        cost = r[5] * r[6]
        records.append((r[0], r[1], r[2], r[3], r[4], r[5], r[6], last_date, last, unreal, unreal / cost))
    cols = ("id", "strategy", "ticker", "side", "entry_date", "entry_price", "shares", "price_date",
            "last_price", "unrealized_pnl", "unrealized_return")
    frame = _frame(records, cols)
    for col in ("entry_price", "shares", "last_price", "unrealized_pnl", "unrealized_return"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    return frame


def live_performance(db: Database) -> pd.DataFrame:
    """Each strategy's latest ``performance_metrics`` snapshot, with its trade counts.

    Strategies that have predictions or trades but no snapshot yet still appear (snapshot
    columns NaN); names known only from backtests (``sma-cross``) are not live and do not.
    """
    rows = db.query(
        "WITH last AS (SELECT strategy_id, max(date) AS date FROM performance_metrics GROUP BY strategy_id), "
        "tc AS (SELECT p.strategy_id, "
        "  sum(t.status = 'CLOSED') AS closed, sum(t.status = 'OPEN') AS open_, "
        "  sum(CASE WHEN t.status = 'CLOSED' THEN COALESCE(t.pnl, t.pnl_computed) END) AS realized "
        "  FROM trades t JOIN predictions p ON p.id = t.prediction_id GROUP BY p.strategy_id) "
        "SELECT s.name, m.date, m.win_rate, m.profit_factor, m.sharpe, m.sortino, m.max_drawdown, "
        "m.total_return, m.realized_pnl, m.unrealized_pnl, COALESCE(m.n_open, tc.open_, 0), "
        "COALESCE(m.n_closed, tc.closed, 0), tc.realized "
        "FROM strategies s LEFT JOIN last ON last.strategy_id = s.id "
        "LEFT JOIN performance_metrics m ON m.strategy_id = s.id AND m.date = last.date "
        "LEFT JOIN tc ON tc.strategy_id = s.id "
        # Live strategies only: names that exist only as backtest labels have nothing live.
        "WHERE last.date IS NOT NULL OR tc.strategy_id IS NOT NULL "
        "OR EXISTS (SELECT 1 FROM predictions p WHERE p.strategy_id = s.id) ORDER BY s.name"
    )
    cols = ("strategy", "as_of", "win_rate", "profit_factor", "sharpe", "sortino", "max_drawdown",
            "total_return", "realized_pnl", "unrealized_pnl", "n_open", "n_closed", "trades_realized_pnl")
    frame = _frame(rows, cols)
    for col in cols[2:10] + ("trades_realized_pnl",):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    return frame


def performance_history(db: Database) -> pd.DataFrame:
    """Every ``performance_metrics`` snapshot (the historical graphs), by strategy then date."""
    rows = db.query(
        "SELECT s.name, m.date, m.total_return, m.sharpe, m.max_drawdown, m.realized_pnl, m.unrealized_pnl "
        "FROM performance_metrics m JOIN strategies s ON s.id = m.strategy_id ORDER BY s.name, m.date"
    )
    cols = ("strategy", "date", "total_return", "sharpe", "max_drawdown", "realized_pnl", "unrealized_pnl")
    frame = _frame(rows, cols)
    for col in cols[2:]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    return frame


def latest_backtests(db: Database, *, limit: int = 20) -> pd.DataFrame:
    """The newest stored backtests (by creation time, then id; `quantdb.services.research.results`)."""
    cols = ("id", "strategy", "start_date", "end_date", "total_return", "sharpe", "max_drawdown", "trades",
            "final_equity", "params", "sweep_run_id", "created_at")
    rows = [
        tuple(json.dumps(r[c], sort_keys=True) if c == "params" else r[c] for c in cols)
        for r in list_backtests(db, limit=limit)
    ]
    frame = _frame(rows, cols)
    for col in ("total_return", "sharpe", "max_drawdown", "final_equity"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    frame["sweep_run_id"] = frame["sweep_run_id"].astype("Int64")
    return frame


def latest_sweeps(db: Database, *, limit: int = 20) -> pd.DataFrame:
    """The newest parameter sweeps with their status and size."""
    rows = db.query(
        "SELECT id, strategy, combos, status, created_at, finished_at, grid_json FROM sweep_runs "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        (int(limit),),
    )
    return _frame(rows, ("id", "strategy", "combos", "status", "created_at", "finished_at", "grid"))


def volume_leaders(db: Database, timeframe: str = "daily", *, top: int = 10) -> pd.DataFrame:
    """The volume leaders of the latest date of one timeframe (daily, weekly or monthly)."""
    rows = db.query(
        "SELECT v.date, v.rank, k.symbol, v.volume, v.price FROM volume_leaders v "
        "JOIN tickers k ON k.id = v.ticker_id WHERE v.timeframe = ? AND v.date = "
        "(SELECT max(date) FROM volume_leaders WHERE timeframe = ?) ORDER BY v.rank LIMIT ?",
        (timeframe, timeframe, int(top)),
    )
    return _frame(rows, ("date", "rank", "ticker", "volume", "price"))
