# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Live tracking and strategy comparison
#
# The predictors write predictions (and, when an order fills, trades) into the database;
# once a day `db.track_update()` (what `quantdb track update` runs) marks everything open to market, closes what hit its target,
# its stop or its time limit, and snapshots each strategy into `performance_metrics`.
# This notebook records one prediction and its fill, runs the update, reads the
# per-strategy performance report, and compares strategies (live ones, and backtests) side by
# side.
#
# The database is `QUANTDB_NOTEBOOK_DB` (default `quant.db`, built by `quantdb demo`). The
# prediction is recorded under the strategy `notebook` with the legacy id
# `notebook-04-example`, and only once: running the notebook again reuses it.

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd

import quantdb as qdb

DB_PATH = os.environ.get("QUANTDB_NOTEBOOK_DB", "quant.db")
db = qdb.connect(DB_PATH, create=False)

# %% [markdown]
# ## Record a prediction and its fill
#
# A LONG prediction on a stock fifteen bars before the newest one, with a target 4 % above
# the entry, a stop 3 % below and ten trading days to work. The fill is recorded a little
# above the price the predictor saw (`signal_price`), so the slippage is measured. `db.query`
# is a plain SQLite read, for small lookups like "is it recorded already?"; the methods that
# write close DuckDB's read-only attach first.

# %%
ticker = next(t for t in db.tickers() if t != "SPY")
closes = db.close_panel([ticker], field="close")
day = str(closes.dates[-15])
entry = float(closes.values[-15, 0])
LEGACY_ID = "notebook-04-example"

known = db.query("SELECT id FROM predictions WHERE legacy_id = ?", [LEGACY_ID])
if known:
    prediction_id = int(known[0]["id"])
else:
    prediction_id = db.record_prediction(
        strategy="notebook",
        ticker=ticker,
        position="LONG",
        date=day,
        entry_price=entry,
        target=round(entry * 1.04, 4),
        stop_loss=round(entry * 0.97, 4),
        timeframe_days=10,
        confidence=0.7,
        legacy_id=LEGACY_ID,
    )
    fill = db.record_fill(
        prediction_id,
        price=entry * 1.0005,
        shares=100,
        signal_price=entry,
        fees=1.0,
        date=day,
    )
    print(
        f"trade {fill.trade_id}: slippage {fill.slippage_bps:.1f} bps = {fill.slippage_cost:.2f} in cash"
    )
print(f"prediction {prediction_id}: LONG {ticker} on {day} at {entry:.2f}")

# %% [markdown]
# ## Mark to market
#
# `db.track_update(asof=...)` looks only at bars up to `asof` (default: the newest bar).
# Inside a bar it checks the high and low (a gap through a level fills at the open, and a bar
# touching both levels counts the stop first); `bars="close"` is the legacy rule (closes only).
# Running it twice for the same day changes nothing.

# %%
report = db.track_update(slippage_bps=1.0)
print("as of", report.asof, "| checked", report.checked)
pd.DataFrame(report.closed)

# %%
db.sql(
    "SELECT p.status, p.exit_date, p.exit_price, t.status AS trade_status, t.exit_reason, t.pnl, t.fees "
    "FROM predictions p LEFT JOIN trades t ON t.prediction_id = p.id WHERE p.id = ?",
    [prediction_id],
)

# %% [markdown]
# The daily snapshots written by the update (one row per strategy and day):

# %%
db.sql(
    """
    SELECT s.name AS strategy, m.date, m.win_rate, m.profit_factor, m.sharpe, m.max_drawdown,
           m.realized_pnl, m.unrealized_pnl, m.n_open, m.n_closed
    FROM performance_metrics m JOIN strategies s ON s.id = m.strategy_id
    WHERE m.date = (SELECT max(date) FROM performance_metrics)
    ORDER BY m.realized_pnl DESC
    """
)

# %% [markdown]
# ## The performance report
#
# `db.performance_report()` (what `quantdb perf` prints) gives, per strategy: the trade statistics (win rate, average win and
# loss, profit factor) from closed trades, and the return metrics (total return, CAGR,
# volatility, Sharpe, Sortino, max drawdown, recovery time) from its equity curve compounded
# into daily, weekly or monthly periods, compared with SPY (excess return, beta, alpha,
# information ratio).

# %%
perf = db.performance_report(period="weekly")
perf_table = pd.DataFrame(perf.strategies).T
perf_table[
    [
        "trades",
        "win_rate",
        "profit_factor",
        "total_return",
        "sharpe",
        "sortino",
        "max_drawdown",
        "recovery_periods",
        "excess_return",
        "beta",
    ]
].sort_values("sharpe", ascending=False)

# %%
equity = db.strategy_equity().to_pandas().pivot(index="date", columns="strategy", values="equity")
ax = equity.plot(
    figsize=(10, 4), lw=1, title="live strategies: equity from trades marked to market"
)
ax.set_ylabel("equity (capital 100,000 each)")
plt.show()

# %% [markdown]
# ## Comparing strategies
#
# `qdb.compare_strategies` puts return series (pandas, indexed by date) side by side: the summary metrics of each, their
# equity curves on one date axis, and the correlation of their returns. First the live
# strategies (their tracked equity), then the stored backtests (the newest full backtest of
# each built-in strategy): `db.strategy_returns(name)`, `db.backtest_returns(id)` and
# `db.benchmark_returns("SPY")` give those series.

# %%
spy = db.benchmark_returns("SPY") if "SPY" in db.tickers() else None
live_names = [
    n for n in perf_table.sort_values("trades", ascending=False).index if n != "(unlinked)"
][:5]
live = qdb.compare_strategies({n: db.strategy_returns(n) for n in live_names}, benchmark=spy)
live.metrics

# %%
live.correlation.round(2)

# %%
latest = db.sql(
    """
    SELECT s.name AS strategy, max(b.id) AS backtest_id
    FROM backtest_results b JOIN strategies s ON s.id = b.strategy_id
    WHERE b.sweep_run_id IS NULL AND b.id IN (SELECT DISTINCT backtest_id FROM backtest_equity)
    GROUP BY s.name ORDER BY s.name
    """
)
backtests = qdb.compare_strategies(
    {
        f"{r['strategy']} (#{r['backtest_id']})": db.backtest_returns(r["backtest_id"])
        for r in latest.iter_rows(named=True)
    },
    benchmark=spy,
)
backtests.metrics.loc[["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "beta"]]

# %%
ax = backtests.equity.plot(figsize=(10, 4), lw=1, title="stored backtests: growth of 1")
if spy is not None:
    spy_growth = (1.0 + spy.reindex(backtests.equity.index).fillna(0.0)).cumprod()
    spy_growth.plot(ax=ax, color="k", lw=1.5, ls="--", label="SPY")
    ax.legend(fontsize=8)
plt.show()

# %%
db.close()
