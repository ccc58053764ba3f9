"""`quantdb risk`: VaR and CVaR by method, beta, correlations and stress tests per strategy.

Strategy returns are the daily returns of :func:`quantdb.services.live.performance.strategy_equity`
(trades marked to market on a fixed capital). Every figure is a fraction of the strategy's
equity, negative for a loss (VaR and CVaR as QuantStats and empyrical return them); the
``*_amount`` fields turn a fraction into currency on the last equity.

Stress tests:

* historical: the deepest drawdown episodes of the benchmark (SPY) found in the data, from
  peak to trough, with each strategy's compounded return over the same days (NaN if the
  strategy was not trading then);
* hypothetical: the benchmark falling 10 % and 20 % at once, passed through each strategy's
  beta (``beta x shock``: linear, ignores alpha and idiosyncratic risk); and volatility
  doubled: every deviation from the mean doubled, ``mean + 2 (r - mean)``, then VaR by every
  method on those returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quantdb._typing import VarMethod
from quantdb.errors import ArgumentError, NotFound
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

METHODS: tuple[VarMethod, ...] = ("historical", "parametric", "cornish-fisher")
SHOCKS = (-0.10, -0.20)


@dataclass(frozen=True)
class RiskReport:
    """The risk figures: per strategy, correlations, stress tests (fractions; losses negative)."""

    asof: str
    benchmark: str | None
    confidences: list[float]
    strategies: dict[str, dict[str, float]] = field(default_factory=dict)
    correlation: dict[str, Any] = field(default_factory=dict)
    ticker_correlation: dict[str, Any] | None = None
    stress: dict[str, Any] = field(default_factory=dict)


def parse_confidences(values: Iterable[float | str]) -> tuple[float, ...]:
    """VaR / CVaR levels as fractions in (0, 1): the one check of a confidence level.

    Called at the edge of the services that take levels (:func:`risk_report`,
    `quantdb.services.research.metrics_file.metrics_for_file`), so the command line and the
    Python API refuse the same values with the same message; the kernels trust what they get.

    Examples
    --------
    >>> parse_confidences([0.95, "0.99"])
    (0.95, 0.99)
    >>> parse_confidences([95])
    Traceback (most recent call last):
    ...
    quantdb.errors.ArgumentError: confidence must be in (0, 1), e.g. 0.95, got 95
    """
    out: list[float] = []
    for value in values:
        try:
            level = float(value)
        except (TypeError, ValueError):
            level = math.nan
        if not 0.0 < level < 1.0:
            msg = f"confidence must be in (0, 1), e.g. 0.95, got {value!r}"
            raise ArgumentError(msg)
        out.append(level)
    return tuple(out)


def _label(confidence: float) -> str:
    from quantdb.kernels.summary import _conf_label

    return _conf_label(confidence)


def _compound(r: np.ndarray) -> float:
    """Compounded return of a 1-D slice; NaN when nothing was observed."""
    from quantdb.kernels.metrics import total_return

    if r.size == 0 or np.all(np.isnan(r)):
        return math.nan
    return float(total_return(r))


def _corr_matrix(mat: np.ndarray) -> list[list[float]]:
    """Pairwise Pearson correlation over the periods where both columns are observed."""
    from quantdb.kernels.metrics import correlation

    n = mat.shape[1]
    out = np.eye(n)
    for j in range(n):
        out[:, j] = correlation(mat, mat[:, j]) if mat.shape[0] else np.nan
    return [[float(x) for x in row] for row in out]


def risk_report(
    db: Database,
    *,
    strategy: str | None = None,
    confidences: Sequence[float] = (0.95, 0.99),
    benchmark: str | None = None,
    capital: float = 100_000.0,
    asof: str | None = None,
    tickers: Sequence[str] | None = None,
    episodes: int = 3,
) -> RiskReport:
    """VaR / CVaR by method, beta, correlation matrix and stress tests for each strategy.

    Parameters
    ----------
    db
        The database.
    strategy
        One strategy, or None for all.
    confidences
        VaR / CVaR levels; each adds ``var_<pct>_<method>`` and ``cvar_<pct>_<method>`` for
        the three methods (``cornish_fisher`` with an underscore in the key).
    benchmark
        Ticker for beta and the stress tests; None means SPY, and beta and the stress figures
        are NaN when SPY has no prices. A named benchmark without prices raises `NotFound`.
    capital
        Starting capital of each strategy.
    asof
        Last day (default: the newest bar).
    tickers
        Optional universe: adds the correlation matrix of these tickers' daily returns.
    episodes
        How many of the benchmark's worst drawdown episodes to replay.
    """
    from quantdb.kernels.drawdown import drawdown_table
    from quantdb.kernels.metrics import annual_volatility, beta
    from quantdb.kernels.risk import conditional_value_at_risk, stress_beta_shock, value_at_risk
    from quantdb.services.benchmark import BENCHMARK, benchmark_returns
    from quantdb.services.live.performance import asof_day, check_strategy, equity_arrays

    confs = list(parse_confidences(confidences))
    with db.reader() as conn:
        day = asof_day(conn, asof)
        arr = equity_arrays(
            conn, asof=day, strategy=check_strategy(conn, strategy), capital=capital, db=db
        )
    if arr is None:
        names: list[str] = []
        dates = np.array([], dtype="datetime64[D]")
        rets = np.empty((0, 0))
        last_equity = np.empty(0)
    else:
        names, dates, rets = arr.strategies, arr.dates, arr.returns
        last_equity = arr.equity[-1]
    try:
        bseries = benchmark_returns(db, BENCHMARK if benchmark is None else benchmark)
        bench_name: str | None = str(bseries.name)
        bdates = bseries.index.to_numpy().astype("datetime64[D]")
        bvals = bseries.to_numpy(dtype=np.float64)
        bdates, bvals = bdates[bdates <= np.datetime64(day)], bvals[bdates <= np.datetime64(day)]
    except NotFound:
        if benchmark is not None:  # named by the user: its prices must be there
            raise
        bench_name = None
        bdates, bvals = np.array([], dtype="datetime64[D]"), np.array([])
    pos = np.searchsorted(bdates, dates)
    hit = (
        (pos < bdates.size) & (bdates[np.minimum(pos, max(bdates.size - 1, 0))] == dates)
        if bdates.size
        else np.zeros(dates.size, bool)
    )
    bench_on = np.where(
        hit, bvals[np.minimum(pos, max(bvals.size - 1, 0))] if bvals.size else np.nan, np.nan
    )

    per: dict[str, dict[str, float]] = {name: {} for name in names}
    if names:
        for c in confs:
            lab = _label(c)
            for m in METHODS:
                key = m.replace("-", "_")
                var = value_at_risk(rets, confidence=c, method=m)
                cvar = conditional_value_at_risk(rets, confidence=c, method=m)
                for j, name in enumerate(names):
                    per[name][f"var_{lab}_{key}"] = float(var[j])
                    per[name][f"cvar_{lab}_{key}"] = float(cvar[j])
                    per[name][f"var_{lab}_{key}_amount"] = float(var[j] * last_equity[j])
        vol = annual_volatility(rets)
        betas = beta(rets, bench_on) if bench_name else np.full(len(names), np.nan)
        for j, name in enumerate(names):
            per[name]["volatility"] = float(vol[j])
            per[name]["beta"] = float(betas[j])
            per[name]["equity"] = float(last_equity[j])
            per[name]["observations"] = float(np.sum(~np.isnan(rets[:, j])))
    else:
        betas = np.array([])

    # -- stress: historical windows of the benchmark's worst drawdowns
    historical = []
    if bench_name and bvals.size:
        table = drawdown_table(bvals, dates=bdates, top=episodes)
        for k in range(table["depth"].shape[0]):
            peak, valley = table["peak"][k], table["valley"][k]
            lo = bdates[0] - np.timedelta64(1, "D") if np.isnat(peak) else peak
            window = (dates > lo) & (dates <= valley)
            historical.append(
                {
                    "name": f"{bench_name} drawdown {k + 1}",
                    "start": str(lo if not np.isnat(peak) else bdates[0]),
                    "end": str(valley),
                    "recovery": None
                    if np.isnat(table["recovery"][k])
                    else str(table["recovery"][k]),
                    "benchmark_return": float(table["depth"][k]),
                    "strategies": {
                        name: _compound(rets[window, j]) for j, name in enumerate(names)
                    },
                }
            )
    hypothetical = []
    for shock in SHOCKS:
        moved = stress_beta_shock(betas, shock) if len(names) else np.array([])
        hypothetical.append(
            {
                "name": f"{bench_name or BENCHMARK} {shock:+.0%}",
                "benchmark_return": shock,
                "strategies": {
                    name: {"return": float(moved[j]), "amount": float(moved[j] * last_equity[j])}
                    for j, name in enumerate(names)
                },
            }
        )
    doubled: dict[str, dict[str, float]] = {name: {} for name in names}
    if names:
        mean = np.nanmean(np.where(np.all(np.isnan(rets), axis=0), 0.0, rets), axis=0)
        wide = mean + 2.0 * (rets - mean)
        for c in confs:
            lab = _label(c)
            for m in METHODS:
                var = value_at_risk(wide, confidence=c, method=m)
                for j, name in enumerate(names):
                    doubled[name][f"var_{lab}_{m.replace('-', '_')}"] = float(var[j])
    hypothetical.append({"name": "volatility x2", "strategies": doubled})

    ticker_corr = None
    if tickers:
        ticker_corr = _ticker_correlation(db, [t.strip().upper() for t in tickers], day)
    return RiskReport(
        asof=day,
        benchmark=bench_name,
        confidences=confs,
        strategies=per,
        correlation={"names": list(names), "matrix": _corr_matrix(rets) if names else []},
        ticker_correlation=ticker_corr,
        stress={"historical": historical, "hypothetical": hypothetical},
    )


def _ticker_correlation(db: Database, symbols: list[str], asof: str) -> dict[str, Any]:
    """Correlation of the tickers' daily returns (adjusted closes) over their common history."""
    series = {}
    for s in symbols:
        rows = [r for r in db.query(Q["ticker_closes"], {"symbol": s}) if r[0] <= asof]
        if not rows:
            msg = f"ticker {s!r} has no prices"
            raise NotFound(msg)
        series[s] = ({r[0] for r in rows}, rows)
    days = sorted(set().union(*(v[0] for v in series.values())))
    idx = {d: i for i, d in enumerate(days)}
    mat = np.full((len(days), len(symbols)), np.nan)
    for j, s in enumerate(symbols):
        rows = series[s][1]
        px = np.array([r[1] for r in rows], dtype=np.float64)
        where = np.array([idx[r[0]] for r in rows[1:]], dtype=np.int64)
        mat[where, j] = px[1:] / px[:-1] - 1.0
    return {"names": symbols, "matrix": _corr_matrix(mat)}
