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
# # Parameter sweeps, walk-forward analysis and overfitting diagnostics
#
# A sweep runs a strategy over a grid of parameters on many tickers at once; the question
# that matters next is whether the best parameters keep working on data they were not chosen
# on. This notebook:
#
# 1. sweeps the SMA cross over a small grid (chunked and resumable, results to Parquet),
# 2. queries the results with DuckDB and draws the heatmap,
# 3. runs a walk-forward analysis: the stitched out-of-sample curve, walk-forward efficiency
#    and the stability of the chosen parameters,
# 4. reads the overfitting diagnostics: the deflated Sharpe ratio of the best set and the
#    probability of backtest overfitting (PBO, by CSCV).
#
# The database is `QUANTDB_NOTEBOOK_DB` (default `quant.db`, built by `quantdb demo`). Sizes are
# kept small so that the notebook runs in seconds; the same calls scale to thousands of
# parameter sets (see `docs/scaling.md`).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

import quantdb as qdb

DB_PATH = os.environ.get("QUANTDB_NOTEBOOK_DB", "quant.db")
db = qdb.connect(DB_PATH, create=False)
universe = [t for t in db.tickers() if t != "SPY"][:10]
universe

# %% [markdown]
# ## A sweep
#
# Grid specs are `name=start:stop:step` (the stop is included) or `name=a,b,c`; constraints
# such as `fast<slow` drop impossible sets. `chunk` is the number of parameter sets a worker
# handles at once (by default it comes from a 256 MiB memory budget). Each finished chunk is
# written to Parquet at once, so a sweep stopped half-way resumes where it stopped: here we
# stop it on purpose after one chunk (`max_chunks=1`), then resume it.
#
# Only the driver writes to SQLite, and `db.sweep` closes DuckDB's read-only attach before any
# write. Simulation settings are keywords, as in `db.backtest` (here: the defaults).

# %%
grid = ["fast=5:30:5", "slow=20:100:20"]
first = db.sweep(
    "sma-cross",
    grid_specs=grid,
    constraints=["fast<slow"],
    tickers=universe,
    chunk=8,
    max_chunks=1,
    out_dir=Path("sweeps"),
)
print(f"run {first.run_id}: {first.status}, {first.chunks} chunks, {first.combos} parameter sets")

# %%
sweep = db.sweep(resume=first.run_id)
print(
    f"run {sweep.run_id}: {sweep.status}; skipped {sweep.chunks_skipped} chunk(s) already on disk"
)
print("results:", sweep.results)
pd.DataFrame(sweep.best)

# %% [markdown]
# The Parquet file has one row per (ticker, parameter set) with `total_return`, `sharpe`,
# `max_drawdown` (a negative fraction) and `n_trades`. `qdb.query_results` runs DuckDB SQL over
# it (the file is the table `results`).

# %%
qdb.query_results(
    sweep.results,
    """
    SELECT fast, slow, avg(sharpe) AS mean_sharpe, avg(total_return) AS mean_return,
           min(max_drawdown) AS worst_drawdown, sum(n_trades)::BIGINT AS trades
    FROM results GROUP BY ALL ORDER BY mean_sharpe DESC LIMIT 8
    """,
)

# %%
qdb.query_results(
    sweep.results,
    "SELECT ticker, max(sharpe) AS best_sharpe, arg_max(fast, sharpe) AS fast, "
    "arg_max(slow, sharpe) AS slow FROM results WHERE NOT isnan(sharpe) "
    "GROUP BY ticker ORDER BY best_sharpe DESC",
)

# %% [markdown]
# ## The heatmap
#
# `qdb.heatmap(path, x, y, metric=..., out=...)` averages the metric over tickers for every
# (x, y) pair in DuckDB, saves a PNG when `out` is given, and returns the grid itself
# (NaN where the constraint removed the pair).

# %%
xs, ys, sharpe_grid = qdb.heatmap(
    sweep.results, "fast", "slow", metric="sharpe", out="sweep_heatmap.png"
)
display(Image(filename="sweep_heatmap.png"))

# %%
_, _, return_grid = qdb.heatmap(sweep.results, "fast", "slow", metric="total_return")
fig, ax = plt.subplots(figsize=(6, 4))
im = ax.imshow(return_grid, origin="lower", cmap="RdYlGn", aspect="auto")
ax.set_xticks(range(len(xs)), xs)
ax.set_yticks(range(len(ys)), ys)
ax.set_xlabel("fast")
ax.set_ylabel("slow")
ax.set_title("mean total return over tickers")
fig.colorbar(im, ax=ax)
plt.show()

# %% [markdown]
# The run and its best parameter sets are in the database (`sweep_runs`, and
# `backtest_results` rows carrying `sweep_run_id`).

# %%
db.sql(
    "SELECT b.id, b.params_json, b.sharpe, b.total_return, b.trades FROM backtest_results b "
    "WHERE b.sweep_run_id = ? ORDER BY b.sharpe DESC",
    [sweep.run_id],
)

# %% [markdown]
# ## Walk-forward
#
# On each window the whole grid is optimised on `train` bars, then the chosen set trades the
# next `test` bars (`purge` bars in between can be left out). The out-of-sample pieces are
# stitched into one curve. **Walk-forward efficiency** is the mean annualised out-of-sample
# return over the mean annualised in-sample return of the chosen sets: near 1 the edge
# survives, near 0 (or negative) it was fitted to noise.

# %%
wf = db.walkforward(
    "sma-cross",
    grid_specs=grid,
    constraints=["fast<slow"],
    tickers=universe[:6],
    train=252,
    test=63,
    purge=5,
)
print(f"{len(wf.windows)} windows, {wf.combos} parameter sets, efficiency {wf.efficiency:.2f}")
windows = pd.DataFrame(wf.windows)
windows.join(pd.DataFrame(list(windows.pop("params")))).head(10)

# %%
oos = pd.Series(wf.oos_returns, index=pd.to_datetime(wf.oos_dates), name="out of sample")
ax = (
    (1.0 + oos.fillna(0.0))
    .cumprod()
    .plot(figsize=(10, 4), title="stitched out-of-sample equity (growth of 1)")
)
ax.axhline(1.0, color="grey", lw=0.5)
plt.show()
pd.Series(wf.oos)

# %% [markdown]
# Stability of the chosen parameters across windows (the most frequent value and its share),
# and the sensitivity around the full-period optimum: the **robustness score** is the mean
# objective of the optimum's neighbourhood on the grid over the optimum's own objective (near 1:
# a plateau; near 0: a lonely peak).

# %%
pd.DataFrame(wf.stability)

# %%
{k: v for k, v in wf.robustness.items() if k != "profile"}

# %% [markdown]
# ## Overfitting diagnostics
#
# * **Deflated Sharpe ratio** (Bailey and Lopez de Prado): the probability that the best set's
#   true Sharpe ratio beats the best of `n_trials` skill-less trials; the probabilistic Sharpe
#   ratio (PSR) is the same test against zero.
# * **PBO** by combinatorially symmetric cross-validation: how often the in-sample winner
#   ranks at or below the median out of sample. Above 0.5 the selection is worse than a coin.

# %%
pd.DataFrame({"deflated Sharpe": pd.Series(wf.deflated_sharpe), "PBO": pd.Series(wf.pbo)})

# %% [markdown]
# The same diagnostics by hand: `db.trial_returns` gives the daily returns of every parameter
# set (equal weight over tickers, days x sets), then `qdb.selection_sharpe` and `qdb.pbo_cscv`
# work on that matrix (any matrix of trial returns will do).

# %%
trial_returns, params = db.trial_returns(
    "sma-cross", grid_specs=grid, constraints=["fast<slow"], tickers=universe[:6]
)
print("trial returns:", trial_returns.shape, "(days x parameter sets)")
sel = qdb.selection_sharpe(trial_returns)
pbo = qdb.pbo_cscv(trial_returns, n_splits=8)
print(
    f"best set {params.row(sel.best_index)}: Sharpe {sel.sharpe:.2f}, PSR {sel.psr:.2f}, "
    f"DSR {sel.dsr:.2f} over {sel.n_trials} trials"
)
print(
    f"PBO {pbo.pbo:.2f} over {pbo.n_combinations} splits; P(out-of-sample loss) {pbo.prob_oos_loss:.2f}"
)

# %%
db.close()
