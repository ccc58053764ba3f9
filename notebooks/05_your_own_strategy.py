# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your own strategy
#
# A strategy is one function in this notebook: no change to the quantdb package. This
# notebook writes one (a Keltner-channel breakout, from quantdb's indicators), backtests it
# on a price frame and on the database (the same numbers), sweeps its parameters over two
# worker processes and draws the heatmap, walks it forward, and plots its trades.
#
# It reads the database named by `QUANTDB_NOTEBOOK_DB`, by default `quant.db` (the file that
# `quantdb demo` builds). With only price CSVs, `quantdb init --db quant.db` and
# `quantdb prices import prices/*.csv --db quant.db` make one; or skip the database and pass
# a pandas or Polars frame to `qdb.backtest(frame, ...)` as below.

# %%
import os
from pathlib import Path

import numpy as np

import quantdb as qdb

DB_PATH = os.environ.get("QUANTDB_NOTEBOOK_DB", "quant.db")
db = qdb.connect(DB_PATH, create=False)
stocks = [t for t in db.tickers() if t != "SPY"][:8]
stocks

# %% [markdown]
# ## A strategy is one function
#
# It takes a `qdb.Bars` panel (`open`, `high`, `low`, `close`, `volume`: `(dates, tickers)`
# float matrices, NaN where a ticker has no bar) and its parameters as equal-length arrays,
# one value per parameter set, so that a sweep asks for many sets in one call. It returns
# `(entries, exits)`: boolean `(dates, sets x tickers)` matrices, column `p * n_tickers + t`
# for set `p` and ticker `t`. `@qdb.strategy` gives it a name, defaults, a sweep grid and a
# constraint; a plain function with numeric defaults works too.
#
# `qdb.indicators` has what the function needs, each over the whole `(dates, tickers)`
# matrix at once: `ema`, `atr`, `macd`, `donchian`, `zscore`, `roc`, `momentum`, `obv`.

# %%
@qdb.strategy(
    "keltner-breakout",
    params={"window": 20, "mult": 2.0},
    grid={"window": range(10, 61, 10), "mult": (1.0, 1.5, 2.0, 2.5, 3.0)},
)
def keltner_breakout(bars, window, mult):
    """Enter when the close breaks above the EMA plus `mult` ATRs; exit below the EMA."""
    ind = qdb.indicators
    n, k = bars.close.shape
    entries = np.zeros((n, k * len(window)), dtype=bool)
    exits = np.zeros_like(entries)
    for p, (w, m) in enumerate(zip(window, mult, strict=True)):
        mid = ind.ema(bars.close, int(w))
        upper = mid + m * ind.atr(bars.high, bars.low, bars.close, int(w))
        entries[:, p * k : (p + 1) * k] = bars.close > upper
        exits[:, p * k : (p + 1) * k] = bars.close < mid
    return entries, exits


mine = qdb.resolve_strategy(keltner_breakout)  # what every door (and `quantdb strategies`) sees
mine.name, mine.params, mine.origin

# %% [markdown]
# ## Backtest it on a frame, and on the database
#
# `qdb.backtest(frame, strategy, ...)` runs on any pandas or Polars OHLCV frame (long rows of
# ticker/date/open/high/low/close, wide closes, or yfinance-style columns), like
# backtesting.py's `Backtest(df, ...)`. Here the frame is the database's own prices
# (`db.ohlcv()`), so the database backtest must come out the same, trade for trade.

# %%
frame = db.ohlcv(stocks)
options = {"commission": 0.001, "stop_loss": 0.08, "max_positions": 4}
on_frame = qdb.backtest(frame, keltner_breakout, **options)
on_db = db.backtest(keltner_breakout, tickers=stocks, **options)
np.testing.assert_array_equal(on_frame.equity_curve, on_db.equity_curve)
assert on_frame.trade_records.tobytes() == on_db.trade_records.tobytes()
on_db

# %% [markdown]
# `stats()` is a pandas Series; `trades()` a Polars frame, one row a trade, dates as dates.
# The stored result records where the strategy came from and a hash of its code, so a rerun
# can tell when the function changed.

# %%
on_db.stats()[["total_return", "cagr", "sharpe", "max_drawdown", "n_trades", "win_rate"]]

# %%
on_db.trades().head()

# %% [markdown]
# ## Plot it
#
# `plot()` is an interactive Plotly figure: the price of the most traded ticker with every
# entry and exit marked (hover for the trade), the equity against SPY, and the drawdown.
# `qdb.save_html` writes it as one HTML file that opens offline.

# %%
fig = on_db.plot()
print("saved to", qdb.save_html(fig, Path("keltner_backtest.html")).name)
fig

# %% [markdown]
# ## Sweep it
#
# The sweep runs every parameter set of the grid on every ticker (each ticker its own
# backtest), here in two worker processes. The function travels to the workers by value, so
# the notebook needs no module of its own (and a script needs no `__main__` guard).

# %%
sweep = db.sweep(keltner_breakout, tickers=stocks, workers=2, commission=0.001)
sweep

# %%
sweep.heatmap("window", "mult", "sharpe")

# %% [markdown]
# ## Walk it forward
#
# Each window picks the best parameter set on its training rows and trades it on the next,
# unseen, test rows; the stitched test rows are the out-of-sample record.

# %%
wf = db.walkforward(keltner_breakout, tickers=stocks, train=252, test=63, commission=0.001)
wf

# %%
wf.plot()

# %% [markdown]
# The same function runs from the command line once it lives in a file:
# `quantdb backtest my_strategies.py:keltner_breakout --tickers AAPL,MSFT`, and likewise
# `quantdb sweep ... --workers 2` and `quantdb walkforward ...`.
