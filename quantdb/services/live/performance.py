"""Per-strategy equity from trades marked to market, and the performance report behind `quantdb perf`.

The equity curve is built without a loop over days or trades: a position matrix (days x
(strategy, ticker) pairs) is the cumulative sum of signed entries and exits, the holding
P&L is ``position[t-1] x (price[t] - price[t-1])`` on daily adjusted closes, and the entry
and exit days add the difference between the fill price and that day's close (fees are
charged on the entry day). Summed over a trade's life this is exactly its P&L,
``side x shares x (exit - entry) - fees``; an open trade is marked at the last close.

Each strategy has its own fixed ``capital`` (100,000 by default): ``equity = capital +
cumulative P&L`` and ``returns = P&L / previous equity``. Trades without a prediction are
grouped under the strategy name ``(unlinked)``.

Price units: a trade's prices are compared with adjusted closes when its entry price is
nearer the entry day's ``adj_close`` than its raw ``close`` (the legacy files quote
split-adjusted prices), otherwise in the raw units of the entry day (adjusted closes divided
by that day's adjustment factor), so a later split never shows up as a loss.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantdb.dates import DateError, parse_date
from quantdb.errors import ArgumentError, NotFound
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

if TYPE_CHECKING:
    import polars as pl

Period = Literal["daily", "weekly", "monthly"]
PERIODS_PER_YEAR: dict[str, float] = {"daily": 252.0, "weekly": 52.0, "monthly": 12.0}
UNLINKED = "(unlinked)"


@dataclass(frozen=True)
class EquityArrays:
    """The equity computation in array form: one row a day, one column a strategy."""

    dates: np.ndarray  # datetime64[D], (T,)
    strategies: list[str]  # (S,)
    pnl: np.ndarray  # (T, S) daily P&L, currency
    realized: np.ndarray  # (T, S) cumulative realized P&L of trades closed by that day
    first: np.ndarray  # (S,) index of each strategy's first entry day
    capital: float

    @property
    def equity(self) -> np.ndarray:
        """``capital + cumulative P&L`` (T, S)."""
        return self.capital + np.cumsum(self.pnl, axis=0)

    @property
    def returns(self) -> np.ndarray:
        """Daily simple returns on the previous day's equity (T, S); NaN before the first entry."""
        eq = self.equity
        prev = np.vstack([np.full((1, eq.shape[1]), self.capital), eq[:-1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.pnl / prev
        rows = np.arange(eq.shape[0])[:, None]
        return np.where(rows >= self.first[None, :], r, np.nan)


def _ffill_columns(mat: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column, then back-fill the leading NaNs."""
    n = mat.shape[0]
    idx = np.where(~np.isnan(mat), np.arange(n)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = np.take_along_axis(mat, idx, axis=0)
    rev = out[::-1]
    idx = np.where(~np.isnan(rev), np.arange(n)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.take_along_axis(rev, idx, axis=0)[::-1].copy()


def trade_units(entry: np.ndarray, close0: np.ndarray, adj0: np.ndarray) -> np.ndarray:
    """Factor ``u`` that turns adjusted closes into a trade's own price units.

    1 when the entry price is nearer the entry day's adjusted close (or no bar is known),
    else ``close0 / adj0`` (raw units of the entry day).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_units = np.abs(entry - adj0) >= np.abs(entry - close0)
        u = np.where(
            raw_units & ~np.isnan(close0) & ~np.isnan(adj0) & (adj0 > 0), close0 / adj0, 1.0
        )
    return np.where(np.isnan(u), 1.0, u)


def _bar_days_and_prices(
    conn: sqlite3.Connection, db: Database | None, start: str, asof: str, tick_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The days with a bar in ``[start, asof]``, and the bars of `tick_ids` there as
    ``(days, rows, ticker columns, price)``: ``coalesce(adj_close, close)`` where the close is
    known (the ``equity_prices`` query's values).

    From the columnar mirror of ``db`` when one is given (a slice of two matrices instead of a
    1.5-million-row fetch at 500 tickers x 12 years; the mirror is rebuilt first if stale, with
    Python's sqlite3 only, so it is safe inside a write transaction on `conn`), else, or when
    the database's folder cannot hold a mirror (read-only), from SQL on `conn`. The same
    numbers either way: the mirror holds the stored doubles (tested).
    """
    if db is not None:
        from quantdb.storage.mirror import current_mirror

        try:
            mirror = current_mirror(db)
        except OSError:  # a read-only folder: no mirror can be built there
            mirror = None
        if mirror is not None:
            lo = int(np.searchsorted(mirror.dates, np.datetime64(start, "D"), "left"))
            hi = int(np.searchsorted(mirror.dates, np.datetime64(asof, "D"), "right"))
            symbols = {int(i): str(sym) for i, sym in conn.execute(Q["ticker_symbols"])}
            where = {t: i for i, t in enumerate(mirror.tickers)}
            mcol = np.array([where.get(symbols.get(int(t), ""), -1) for t in tick_ids], dtype=np.intp)
            have = np.flatnonzero(mcol >= 0)
            close = np.asarray(mirror.matrix("close"))[lo:hi][:, mcol[have]]
            adj = np.asarray(mirror.matrix("adj_close"))[lo:hi][:, mcol[have]]
            price = np.where(np.isnan(adj), close, adj)
            r, c = np.nonzero(~np.isnan(close))
            return mirror.dates[lo:hi].copy(), r, have[c], price[r, c]
    bar_days = np.array(
        [r[0] for r in conn.execute(Q["trading_dates"], {"start": start, "asof": asof})],
        dtype="datetime64[D]",
    )
    prow = conn.execute(Q["equity_prices"], {"start": start, "asof": asof}).fetchall()
    if not prow:
        empty = np.array([], dtype=np.intp)
        return bar_days, empty, empty, np.array([], dtype=np.float64)
    pt = np.array([r[0] for r in prow], dtype=np.int64)
    keep = np.isin(pt, tick_ids)
    pd_ = np.array([r[1] for r in prow], dtype="datetime64[D]")[keep]
    pv = np.array([r[2] for r in prow], dtype=np.float64)[keep]
    return bar_days, np.searchsorted(bar_days, pd_), np.searchsorted(tick_ids, pt[keep]), pv


def equity_arrays(
    conn: sqlite3.Connection,
    *,
    asof: str,
    strategy: str | None = None,
    capital: float = 100_000.0,
    db: Database | None = None,
) -> EquityArrays | None:
    """The vectorized equity computation on an open connection (None when there is no trade).

    Trades are read on `conn` (inside a caller's transaction, its own changes count); the
    daily closes come from the columnar mirror of `db` when given (`_bar_days_and_prices`).
    """
    if not (math.isfinite(capital) and capital > 0):
        msg = f"capital must be a positive number of currency units, got {capital}"
        raise ArgumentError(msg)
    rows = conn.execute(Q["equity_trades"], {"asof": asof, "strategy": strategy}).fetchall()
    if not rows:
        return None
    cols = list(zip(*rows, strict=True))
    strat = np.array(cols[1], dtype=object)
    ticker = np.array(cols[2], dtype=np.int64)
    sign = np.where(np.array(cols[3]) == "long", 1.0, -1.0)
    entry_day = np.array(cols[4], dtype="datetime64[D]")
    entry = np.array(cols[5], dtype=np.float64)
    shares = np.array(cols[6], dtype=np.float64)
    fees = np.array(cols[7], dtype=np.float64)
    closed = np.array([d is not None for d in cols[8]])
    exit_day = np.array([d if d is not None else asof for d in cols[8]], dtype="datetime64[D]")
    exit_px = np.array([np.nan if v is None else v for v in cols[9]], dtype=np.float64)
    close0 = np.array([np.nan if v is None else v for v in cols[10]], dtype=np.float64)
    adj0 = np.array([np.nan if v is None else v for v in cols[11]], dtype=np.float64)
    u = trade_units(entry, close0, adj0)

    start = str(entry_day.min())
    tick_ids, tcol = np.unique(ticker, return_inverse=True)
    bar_days, p_row, p_col, p_val = _bar_days_and_prices(conn, db, start, asof, tick_ids)
    dates = np.unique(np.concatenate([bar_days, entry_day, exit_day[closed]]))
    dates = dates[dates <= np.datetime64(asof, "D")]
    n_days = dates.shape[0]
    i0 = np.searchsorted(dates, entry_day)
    i1 = np.searchsorted(dates, exit_day)

    prices = np.full((n_days, tick_ids.shape[0]), np.nan)
    prices[np.searchsorted(dates, bar_days[p_row]), p_col] = p_val
    prices = _ffill_columns(prices)
    # A ticker without any bar: hold it at the (first) entry price, in its own units.
    fallback = np.full(tick_ids.shape[0], np.nan)
    fallback[tcol[::-1]] = (entry / u)[::-1]
    prices = np.where(np.isnan(prices), fallback[None, :], prices)

    names, scol = np.unique(strat, return_inverse=True)
    n_strat = names.shape[0]
    pair_key = scol * tick_ids.shape[0] + tcol
    pairs, pcol = np.unique(pair_key, return_inverse=True)
    pair_ticker = pairs % tick_ids.shape[0]
    pair_strat = pairs // tick_ids.shape[0]

    qty = sign * shares * u  # position in adjusted-share units
    delta = np.zeros((n_days, pairs.shape[0]))
    np.add.at(delta, (i0, pcol), qty)
    np.add.at(delta, (i1[closed], pcol[closed]), -qty[closed])
    position = np.cumsum(delta, axis=0)
    pair_prices = prices[:, pair_ticker]
    hold = np.zeros_like(position)
    hold[1:] = position[:-1] * np.diff(pair_prices, axis=0)
    onehot = np.zeros((pairs.shape[0], n_strat))
    onehot[np.arange(pairs.shape[0]), pair_strat] = 1.0
    pnl = hold @ onehot

    mark_in = u * prices[i0, tcol]
    np.add.at(pnl, (i0, scol), sign * shares * (mark_in - entry) - fees)
    c = closed
    mark_out = u[c] * prices[i1[c], tcol[c]]
    np.add.at(pnl, (i1[c], scol[c]), sign[c] * shares[c] * (exit_px[c] - mark_out))
    realized = np.zeros_like(pnl)
    np.add.at(realized, (i1[c], scol[c]), sign[c] * shares[c] * (exit_px[c] - entry[c]) - fees[c])
    realized = np.cumsum(realized, axis=0)
    first = np.full(n_strat, n_days, dtype=np.int64)
    np.minimum.at(first, scol, i0)
    return EquityArrays(dates, [str(n) for n in names], pnl, realized, first, float(capital))


def latest_date(conn: sqlite3.Connection) -> str:
    """The newest day with a bar (the default as-of day of tracking, performance and risk)."""
    row = conn.execute(Q["latest_price_date"]).fetchone()
    if row is None or row[0] is None:
        msg = "price_history is empty: import prices first (quantdb prices import PATH)"
        raise NotFound(msg)
    return str(row[0])


def asof_day(conn: sqlite3.Connection, asof: object | None) -> str:
    """The as-of day of a live report or update: ``asof`` read by `quantdb.dates.parse_date`,
    the newest bar when None; a day after the newest bar is refused (it would mark nothing and
    say nothing).

    Raises
    ------
    DateError
        a day that cannot be read, or one after the newest price.
    NotFound
        no prices at all.
    """
    last = latest_date(conn)
    day = parse_date(asof, name="--asof")
    if day is None:
        return last
    if day.isoformat() > last:
        msg = f"--asof {day} is after the newest price ({last}); import newer prices or give an earlier day"
        raise DateError(msg)
    return day.isoformat()


def check_strategy(conn: sqlite3.Connection, strategy: str | None) -> str | None:
    if strategy is None:
        return None
    name = strategy.strip().lower()
    if (
        name != UNLINKED
        and not conn.execute(Q["strategy_exists"], {"strategy": name}).fetchone()[0]
    ):
        msg = f"no strategy named {name!r}; list them with: quantdb perf"
        raise NotFound(msg)
    return name


def strategy_equity(
    db: Database,
    strategy: str | None = None,
    *,
    capital: float = 100_000.0,
    asof: str | None = None,
) -> pl.DataFrame:
    """Daily equity of each strategy from its trades marked to market at the closes.

    Parameters
    ----------
    db
        The database.
    strategy
        One strategy name, or None for all (trades without a prediction: ``(unlinked)``).
    capital
        Starting capital of each strategy (the denominator of the first return).
    asof
        Last day (default: the newest bar); trades closed after it count as open.

    Returns
    -------
    polars.DataFrame
        ``date, strategy, equity, returns, pnl, realized_pnl, unrealized_pnl``, one row a
        trading day from each strategy's first entry; returns are simple fractions.
    """
    import polars as pl

    with db.reader() as conn:
        day = asof_day(conn, asof)
        arr = equity_arrays(
            conn, asof=day, strategy=check_strategy(conn, strategy), capital=capital, db=db
        )
    schema = {
        "date": pl.Date,
        "strategy": pl.String,
        "equity": pl.Float64,
        "returns": pl.Float64,
        "pnl": pl.Float64,
        "realized_pnl": pl.Float64,
        "unrealized_pnl": pl.Float64,
    }
    if arr is None:
        return pl.DataFrame(schema=schema)
    eq, ret = arr.equity, arr.returns
    cum = np.cumsum(arr.pnl, axis=0)
    t_idx, s_idx = np.nonzero(np.arange(arr.dates.shape[0])[:, None] >= arr.first[None, :])
    order = np.lexsort((t_idx, s_idx))
    t_idx, s_idx = t_idx[order], s_idx[order]
    return pl.DataFrame(
        {
            "date": arr.dates[t_idx],
            "strategy": np.array(arr.strategies, dtype=object)[s_idx].astype(str),
            "equity": eq[t_idx, s_idx],
            "returns": ret[t_idx, s_idx],
            "pnl": arr.pnl[t_idx, s_idx],
            "realized_pnl": arr.realized[t_idx, s_idx],
            "unrealized_pnl": cum[t_idx, s_idx] - arr.realized[t_idx, s_idx],
        },
        schema=schema,
    )


def resample_returns(frame: pl.DataFrame, period: Period, columns: list[str]) -> pl.DataFrame:
    """Compound daily returns into ISO weeks or calendar months (labelled by the first day)."""
    import polars as pl

    if period == "daily":
        return frame
    every = {"weekly": "1w", "monthly": "1mo"}[period]
    return (
        frame.with_columns(pl.col("date").dt.truncate(every).alias("_period"))
        .group_by("_period", maintain_order=True)
        .agg(
            pl.col("date").first(),
            *[
                pl.when(pl.col(c).is_not_null().any())
                .then((pl.col(c).fill_null(0.0) + 1.0).product() - 1.0)
                .otherwise(None)
                .alias(c)
                for c in columns
            ],
        )
        .drop("_period")
        .sort("date")
    )


@dataclass(frozen=True)
class PerformanceReport:
    """`quantdb perf`: per-strategy metrics (fractions; ``*_periods`` counted in `period`s)."""

    period: str
    benchmark: str | None
    asof: str
    capital: float
    strategies: dict[str, dict[str, float]] = field(default_factory=dict)


def _f(x: Any) -> float:
    v = float(x)
    return v if not math.isnan(v) else math.nan


def performance_report(
    db: Database,
    *,
    strategy: str | None = None,
    period: Period = "daily",
    benchmark: str | None = None,
    capital: float = 100_000.0,
    asof: str | None = None,
) -> PerformanceReport:
    """Per-strategy trade statistics, risk-adjusted returns and the comparison with a benchmark.

    Trade statistics (``trades, win_rate, average_win, average_loss, profit_factor``) come
    from closed trades' P&L (break-even trades in the win-rate denominator). Return metrics
    (``total_return, cagr, volatility, sharpe, sortino, max_drawdown, recovery_periods``)
    come from the equity curve compounded into `period` returns (252 / 52 / 12 periods a
    year); ``recovery_periods`` is the number of periods from the trough of the deepest
    drawdown back to the previous peak (NaN while unrecovered). Against the benchmark over
    the same periods: ``benchmark_return``, ``excess_return`` (total minus benchmark total),
    ``beta``, ``alpha`` (annualized Jensen's alpha) and ``information_ratio``. ``benchmark``
    None means SPY, and NaN for these when SPY has no prices; a named benchmark without prices
    raises `NotFound`.
    """
    import polars as pl

    from quantdb.kernels.drawdown import drawdown_table, max_drawdown
    from quantdb.kernels.metrics import (
        alpha,
        annual_volatility,
        beta,
        cagr,
        information_ratio,
        sharpe_ratio,
        sortino_ratio,
        total_return,
    )
    from quantdb.kernels.tradestats import average_loss, average_win, profit_factor, win_rate
    from quantdb.services.benchmark import BENCHMARK, benchmark_returns

    if period not in PERIODS_PER_YEAR:
        msg = f"period must be one of daily, weekly, monthly, got {period!r}"
        raise ArgumentError(msg)
    ppy = PERIODS_PER_YEAR[period]
    with db.reader() as conn:
        day = asof_day(conn, asof)
        name = check_strategy(conn, strategy)
        closed = conn.execute(
            Q["closed_trades_by_strategy"], {"asof": day, "strategy": name}
        ).fetchall()
    equity = strategy_equity(db, name, capital=capital, asof=day)
    try:
        spy = benchmark_returns(db, BENCHMARK if benchmark is None else benchmark)
        bench = pl.DataFrame(
            {"date": spy.index.to_numpy().astype("datetime64[D]"), "benchmark": spy.to_numpy()},
            schema={"date": pl.Date, "benchmark": pl.Float64},
        )
        bench_name: str | None = str(spy.name)
    except NotFound:
        if benchmark is not None:  # named by the user: its prices must be there
            raise
        bench = pl.DataFrame(schema={"date": pl.Date, "benchmark": pl.Float64})
        bench_name = None
    out: dict[str, dict[str, float]] = {}
    pnl_by: dict[str, list[float]] = {}
    for s, p, *_ in closed:
        pnl_by.setdefault(s, []).append(np.nan if p is None else p)
    for sname in sorted(set(equity["strategy"].to_list()) | set(pnl_by)):
        pnl = np.array(pnl_by.get(sname, []), dtype=np.float64)
        frame = equity.filter(pl.col("strategy") == sname).select("date", "returns")
        frame = frame.join(bench, on="date", how="left")
        frame = resample_returns(frame, period, ["returns", "benchmark"])
        r = frame["returns"].to_numpy().astype(np.float64)
        b = frame["benchmark"].fill_null(np.nan).to_numpy().astype(np.float64)
        table = drawdown_table(r, top=1) if r.size else {"recovery_periods": np.array([])}
        rec = table["recovery_periods"]
        tot = _f(total_return(r)) if r.size else math.nan
        btot = _f(total_return(b)) if r.size and bench_name else math.nan
        out[sname] = {
            "trades": float(pnl.size),
            "win_rate": win_rate(pnl),
            "average_win": average_win(pnl),
            "average_loss": average_loss(pnl),
            "profit_factor": profit_factor(pnl),
            "total_return": tot,
            "cagr": _f(cagr(r, periods_per_year=ppy)) if r.size else math.nan,
            "volatility": _f(annual_volatility(r, periods_per_year=ppy)) if r.size else math.nan,
            "sharpe": _f(sharpe_ratio(r, periods_per_year=ppy)) if r.size else math.nan,
            "sortino": _f(sortino_ratio(r, periods_per_year=ppy)) if r.size else math.nan,
            "max_drawdown": _f(max_drawdown(r)) if r.size else math.nan,
            "recovery_periods": float(rec[0]) if rec.size else (0.0 if r.size else math.nan),
            "benchmark_return": btot,
            "excess_return": tot - btot,
            "beta": _f(beta(r, b)) if r.size and bench_name else math.nan,
            "alpha": _f(alpha(r, b, periods_per_year=ppy)) if r.size and bench_name else math.nan,
            "information_ratio": _f(information_ratio(r, b, periods_per_year=ppy))
            if r.size and bench_name
            else math.nan,
            "periods": float(r.size),
        }
    return PerformanceReport(
        period=period, benchmark=bench_name, asof=day, capital=float(capital), strategies=out
    )
