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
# # Risk and Monte Carlo
#
# How much can a strategy lose on a bad day, in a crash, or simply by bad luck in the order of
# its returns? This notebook:
#
# 1. computes value at risk (VaR) and conditional VaR (CVaR, the expected loss beyond VaR) by
#    three methods: historical, parametric (normal) and Cornish-Fisher (skew and kurtosis
#    corrected), for every live strategy and, vectorized, for a whole panel of tickers;
# 2. replays stress scenarios: the benchmark's worst drawdowns, sudden benchmark falls passed
#    through each strategy's beta, and doubled volatility;
# 3. bootstraps a backtest's returns into thousands of paths: the distribution of final
#    return, Sharpe ratio and drawdown, a confidence cone of equity, and the probability of
#    ruin.
#
# Every figure is a fraction (-0.02 is a 2 % loss). The database is `QUANTDB_NOTEBOOK_DB`
# (default `quant.db`, built by `quantdb demo`).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import quantdb as qdb

DB_PATH = os.environ.get("QUANTDB_NOTEBOOK_DB", "quant.db")
db = qdb.connect(DB_PATH, create=False)

# %% [markdown]
# ## VaR and CVaR of the live strategies
#
# `db.risk_report` builds each strategy's daily returns from its tracked trades marked to market
# (on a fixed capital of 100,000), then computes `var_<level>_<method>` and
# `cvar_<level>_<method>` for each confidence level, plus volatility and beta against SPY.

# %%
risk = db.risk_report(confidences=(0.95, 0.99))
per_strategy = pd.DataFrame(risk.strategies).T
print("as of", risk.asof, "benchmark", risk.benchmark)
per_strategy[
    [
        c
        for c in per_strategy.columns
        if c.startswith(("var_95", "cvar_95")) and not c.endswith("amount")
    ]
]

# %%
name = per_strategy["observations"].idxmax()
one = per_strategy.loc[name]
table = pd.DataFrame(
    {
        (kind, level): [
            one[f"{kind}_{level}_{m}"] for m in ("historical", "parametric", "cornish_fisher")
        ]
        for kind in ("var", "cvar")
        for level in ("95", "99")
    },
    index=["historical", "parametric", "cornish-fisher"],
)
print(f"{name}: volatility {one['volatility']:.1%}, beta {one['beta']:.2f}")
table

# %% [markdown]
# The functions behind it (`qdb.value_at_risk`, `qdb.conditional_value_at_risk`) take any
# (periods x series) matrix: here the VaR of every ticker's daily returns in one call per method.

# %%
panel = db.close_panel([t for t in db.tickers() if t != "SPY"][:12])
daily = panel.values[1:] / panel.values[:-1] - 1.0
by_method = {
    m: qdb.value_at_risk(daily, confidence=0.99, method=m)
    for m in ("historical", "parametric", "cornish-fisher")
}
by_method["cvar historical"] = qdb.conditional_value_at_risk(
    daily, confidence=0.99, method="historical"
)
pd.DataFrame(by_method, index=panel.tickers).sort_values("historical")

# %% [markdown]
# Correlation of the strategies' daily returns (over the days both trade):

# %%
corr = pd.DataFrame(
    risk.correlation["matrix"], index=risk.correlation["names"], columns=risk.correlation["names"]
)
fig, ax = plt.subplots(figsize=(5, 4))
im = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="coolwarm")
ax.set_xticks(range(len(corr)), corr.index, rotation=90)
ax.set_yticks(range(len(corr)), corr.index)
fig.colorbar(im, ax=ax)
ax.set_title("correlation of daily returns")
plt.show()

# %% [markdown]
# ## Stress tests
#
# *Historical*: the benchmark's deepest drawdowns in the data, peak to trough, and each
# strategy's compounded return over the same days (NaN when it was not trading).
# *Hypothetical*: the benchmark falling 10 % and 20 % at once, through each strategy's beta
# (linear: it ignores alpha and idiosyncratic risk), and every deviation from the mean doubled.

# %%
historical = pd.DataFrame(
    [
        {
            "episode": e["name"],
            "from": e["start"],
            "to": e["end"],
            "benchmark": e["benchmark_return"],
            **e["strategies"],
        }
        for e in risk.stress["historical"]
    ]
)
historical

# %%
shocks = pd.DataFrame(
    {
        e["name"]: {s: v["return"] for s, v in e["strategies"].items()}
        for e in risk.stress["hypothetical"]
        if "benchmark_return" in e
    }
)
doubled = pd.DataFrame(
    {
        e["name"]: {s: v["var_99_historical"] for s, v in e["strategies"].items()}
        for e in risk.stress["hypothetical"]
        if "benchmark_return" not in e
    }
)
shocks.join(doubled.rename(columns={"volatility x2": "VaR 99% (volatility x2)"}))

# %% [markdown]
# ## Monte Carlo of a backtest
#
# We run one portfolio backtest (stored, so it gets an id), then resample it.
# `db.montecarlo(backtest=ID, ...)` reads the stored daily equity and trades and bootstraps
# `paths` paths, i.i.d. or by stationary blocks (`block` days on average, which keeps
# volatility clusters together), or resamples the trade sequence. The same seed gives the same
# report.

# %%
universe = [t for t in db.tickers() if t != "SPY"][:10]
bt = db.backtest(
    "momentum",
    tickers=universe,
    max_positions=5,
    sizing="equity:0.2",
    commission=0.0005,
    stop_loss=0.1,
)
daily_returns = db.backtest_returns(bt.backtest_id)
print(f"backtest {bt.backtest_id}: {daily_returns.size} days, {len(bt.trades())} trades")

# %%
mc = db.montecarlo(
    backtest=bt.backtest_id, paths=2000, method="block", block=20, seed=7, ruin=-0.25
)
print(
    f"probability of a drawdown of {mc.ruin_threshold:.0%} or worse: {mc.probability_of_ruin:.1%}"
)
pd.DataFrame(mc.distributions).T.join(pd.Series(mc.observed, name="observed"))

# %% [markdown]
# The cone: quantiles (5 %, 25 %, median, 75 %, 95 %) of wealth across paths at each step,
# with the backtest's own path on top.

# %%
steps = np.asarray(mc.cone["steps"])
wealth = np.asarray(mc.cone["wealth"])  # (steps, quantiles)
fig, ax = plt.subplots(figsize=(10, 4))
ax.fill_between(steps, wealth[:, 0], wealth[:, 4], alpha=0.2, label="5-95 %")
ax.fill_between(steps, wealth[:, 1], wealth[:, 3], alpha=0.35, label="25-75 %")
ax.plot(steps, wealth[:, 2], lw=1.5, label="median")
ax.plot(
    np.arange(1, daily_returns.size + 1),
    np.cumprod(1.0 + daily_returns.to_numpy()),
    color="k",
    lw=0.8,
    label="backtest",
)
ax.set_xlabel("days")
ax.set_ylabel("wealth (start = 1)")
ax.legend(loc="upper left")
ax.set_title(f"block bootstrap, {mc.paths} paths")
plt.show()

# %% [markdown]
# How the method changes the answer: the i.i.d. bootstrap breaks up runs of bad days, so it
# usually reports a lower probability of ruin than the block bootstrap; resampling the trades
# asks what another order of the same trades would have done.

# %%
pd.DataFrame(
    {
        method: {
            "probability of ruin": r.probability_of_ruin,
            "median final return": r.distributions["final_return"]["p50"],
            "5 % worst max drawdown": r.distributions["max_drawdown"]["p05"],
        }
        for method in ("iid", "block", "trades")
        for r in [
            db.montecarlo(
                backtest=bt.backtest_id, paths=1000, method=method, seed=11, ruin=-0.25
            )
        ]
    }
)

# %% [markdown]
# A live strategy works the same way: `db.montecarlo(strategy=NAME, ...)` uses its tracked
# trades marked to market.

# %%
live = db.sql(
    "SELECT s.name, count(*) AS closed FROM trades t JOIN predictions p ON p.id = t.prediction_id "
    "JOIN strategies s ON s.id = p.strategy_id WHERE t.status = 'CLOSED' GROUP BY ALL ORDER BY closed DESC LIMIT 1"
)
live_name = live["name"][0]
live_mc = db.montecarlo(strategy=live_name, paths=1000, method="iid", seed=3, ruin=-0.25)
print(
    f"{live_name}: P(ruin) {live_mc.probability_of_ruin:.1%}, "
    f"median Sharpe {live_mc.distributions['sharpe']['p50']:.2f}"
)

# %%
db.close()
