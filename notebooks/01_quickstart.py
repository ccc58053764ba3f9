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
# # quantdb quickstart
#
# This notebook opens a quantdb database, asks it questions in SQL (DuckDB), loads a
# dates x tickers price panel, runs one backtest and writes its QuantStats tearsheet.
#
# It reads the database named by the environment variable `QUANTDB_NOTEBOOK_DB`, by default
# `quant.db` in the current folder: the file that `quantdb demo` (or `quantdb demo --small`)
# builds. Everything it writes (the stored backtest, the tearsheet file) is small.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import quantdb as qdb

DB_PATH = os.environ.get("QUANTDB_NOTEBOOK_DB", "quant.db")
db = qdb.connect(DB_PATH, create=False)
db

# %% [markdown]
# ## What is in the database
#
# `db.tickers()` lists the symbols. `db.sql(...)` runs DuckDB SQL over the SQLite file
# (attached read-only through the pinned `sqlite_scanner` extension) and returns a Polars
# frame; every table is reachable by its plain name.

# %%
tickers = db.tickers()
print(len(tickers), "tickers, for example", tickers[:8])

# %%
db.sql(
    """
    SELECT t.symbol, t.sector, count(*) AS bars, min(p.date) AS first, max(p.date) AS last,
           avg(p.volume * p.adj_close) AS avg_dollar_volume
    FROM price_history p JOIN tickers t ON t.id = p.ticker_id
    GROUP BY ALL
    ORDER BY avg_dollar_volume DESC
    LIMIT 8
    """
)

# %% [markdown]
# The legacy history that the migration brought in is there too: predictions per strategy
# and how they ended.

# %%
db.sql(
    """
    SELECT s.name AS strategy, p.status, count(*) AS predictions
    FROM predictions p JOIN strategies s ON s.id = p.strategy_id
    GROUP BY ALL
    ORDER BY strategy, status
    """
)

# %% [markdown]
# ## A price panel
#
# `db.close_panel(tickers, start, end, field="adj_close")` returns a `Panel`: a float64
# matrix `values[date, ticker]` read from the columnar mirror (NaN where a ticker has no bar),
# with its `dates` and `tickers`. `to_pandas()` / `to_polars()` give frames.

# %%
stocks = [t for t in tickers if t != "SPY"]
picked = stocks[:5] + (["SPY"] if "SPY" in tickers else [])
panel = db.close_panel(picked)
print(panel.shape, panel.dates[0], "->", panel.dates[-1])
panel.to_pandas().tail()

# %%
frame = panel.to_pandas()
ax = (frame / frame.bfill().iloc[0]).plot(
    figsize=(10, 4), lw=1, title="adjusted closes, rebased to 1"
)
ax.set_ylabel("growth of 1")
plt.show()

# %% [markdown]
# Several fields at once come aligned on the same dates and tickers with `db.panels(...)`;
# daily returns of the whole panel are one NumPy expression.

# %%
bars = db.panels(("close", "adj_close", "volume"), tickers=picked)
returns = bars["adj_close"].values[1:] / bars["adj_close"].values[:-1] - 1.0
print("mean daily return per ticker:", dict(zip(picked, np.round(np.nanmean(returns, axis=0), 5))))

# %% [markdown]
# ## One backtest
#
# `db.backtest(name, ...)` runs a strategy from the registry (`qdb.STRATEGIES`) on the
# database's bars and stores the result. Every simulation rule (fills, costs, sizing, stops)
# is a keyword with the name of its `qdb.SimSettings` field, the same names as the options of
# `quantdb backtest`; what is not given keeps its default.
#
# DuckDB's read-only attach is closed by `db.backtest` before it writes to the file (two SQLite
# copies in one process must never overlap a write); `db.sql` opens it again when needed.

# %%
print("strategies:", sorted(qdb.STRATEGIES))
print("sma-cross defaults:", dict(qdb.get_strategy("sma-cross").params))

# %%
result = db.backtest(
    "sma-cross",
    tickers=[stocks[0]],
    params={"fast": 10, "slow": 40},
    cash=10_000.0,
    commission=0.001,  # 0.1 % of each fill's value, on entry and exit
    slippage_bps=2.0,
    fill="next-open",
    sizing="equity:1",  # all in: floor(equity / (price * (1 + commission))) shares
    stop_loss=0.08,  # 8 % below the entry price
)
print("stored as backtest", result.backtest_id)
print("settings:", result.settings)
stats = result.stats()
{
    k: stats[k]
    for k in (
        "final_equity",
        "total_return",
        "cagr",
        "sharpe",
        "max_drawdown",
        "n_trades",
        "win_rate",
        "profit_factor",
        "ambiguous_exits",
        "exit_reasons",
    )
    if k in stats
}

# %% [markdown]
# `stats()` is a pandas Series (by name, as above; `.to_dict()` for a plain dict), and the
# result itself prints as one line and shows as a summary table. Trades come back as a Polars
# frame, one row a trade, dates as dates; `equity()` is the curve with the exposure.

# %%
result.trades().head(10)

# %%
result.equity().tail()

# %% [markdown]
# `plot()` is an interactive Plotly figure: the ticker's price with every entry and exit
# marked (hover for the trade), the equity against SPY, the drawdown. `qdb.save_html` writes
# it as one self-contained HTML file that opens offline; `plot_static()` is the matplotlib
# version (for PDF).

# %%
print(repr(result))
fig = result.plot(volume=True)
print("saved to", qdb.save_html(fig, Path("quickstart_backtest.html")).resolve())
fig

# %% [markdown]
# ## The tearsheet
#
# `result.tearsheet(path, benchmark=...)` writes QuantStats' HTML tearsheet, offline, with
# quantdb's trade statistics added. The benchmark is a pandas Series of daily returns:
# SPY from the database (`db.benchmark_returns("SPY")`).

# %%
import html
import warnings

import pandas as pd
from IPython.display import HTML, display

spy = db.benchmark_returns("SPY") if "SPY" in tickers else None
sheet = result.tearsheet(Path("quickstart_tearsheet.html"), benchmark=spy)
print("tearsheet written to", sheet.resolve())
# The page is embedded with `srcdoc`, so it shows wherever the notebook is opened (IPython
# suggests IFrame, which needs the file served by the notebook server: not always so).
page = html.escape(sheet.read_text(encoding="utf-8"))
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Consider using IPython.display.IFrame")
    display(HTML(f'<iframe srcdoc="{page}" width="100%" height="600" style="border:0"></iframe>'))

# %% [markdown]
# The same backtest can be run again from what was stored (strategy, parameters, settings,
# tickers and period): on the same data it gives identical numbers.

# %%
again = db.rerun_backtest(result.backtest_id)
assert again.stats()["final_equity"] == stats["final_equity"]
assert again.fingerprint == result.fingerprint
pd.Series({"stored": stats["final_equity"], "rerun": again.stats()["final_equity"]})

# %%
db.close()
