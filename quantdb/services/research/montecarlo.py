"""Monte Carlo of a stored backtest or of a live strategy: bootstrap its returns or its trades.

Sources:

* ``backtest=ID``: the stored daily equity gives the daily returns and the stored trades the
  trade sequence (`quantdb.services.research.results.load_equity` / ``load_trades``); every
  stored backtest has them, a sweep's rows included.
* ``strategy=NAME``: the strategy's daily equity from its tracked trades marked to market
  (:func:`quantdb.services.live.performance.strategy_equity`); its closed trades from ``trades``.

A trade's return in the sequence is its contribution to equity, ``pnl / equity of the day
before its entry`` (what compounding trade by trade means for a book that is not all-in on
each trade), in exit order. Trade paths are annualised with the observed trades per year.

The report holds no timing and no timestamp: the same seed gives the same document. Without a
seed one is drawn from the OS and reported, so any run can be repeated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError, NotFound, QuantdbError
from quantdb.kernels.drawdown import drawdown_stats
from quantdb.kernels.metrics import cagr, sharpe_ratio
from quantdb.kernels.montecarlo import METRICS, monte_carlo, probability_of_ruin, quantile_table
from quantdb.kernels.periods import TRADING_DAYS
from quantdb.storage.sqlite import Database

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["MC_METHODS", "MonteCarloReport", "SeriesSource", "load_source", "parse_mc_method", "run_montecarlo"]

McMethod = Literal["iid", "block", "trades"]
MC_METHODS: tuple[McMethod, ...] = ("iid", "block", "trades")
CONE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Bins of the report's histograms of the final return and the maximum drawdown.
HISTOGRAM_BINS = 40
#: The most memory the paths (paths x steps float64 values) may take: more is refused up front.
MEMORY_BUDGET_BYTES = 2 * 2**30


class MonteCarloInputError(ArgumentError):
    """The source has too little data to resample, or an option is invalid (exit code 2)."""


def parse_mc_method(value: str) -> McMethod:
    """The Monte Carlo ``method`` (``--method``), checked here once for the CLI and the API.

    Examples
    --------
    >>> parse_mc_method("block")
    'block'
    >>> parse_mc_method("bayes")
    Traceback (most recent call last):
    ...
    quantdb.services.research.montecarlo.MonteCarloInputError: method must be 'iid', 'block' or 'trades', got 'bayes'
    """
    found = next((m for m in MC_METHODS if m == value), None)
    if found is None:
        msg = f"method must be 'iid', 'block' or 'trades', got {value!r}"
        raise MonteCarloInputError(msg)
    return found


@dataclass(frozen=True)
class SeriesSource:
    """What a Monte Carlo resamples: daily returns and the trade-return sequence."""

    name: str
    dates: np.ndarray  # datetime64[D] of the daily returns
    daily_returns: FloatArray
    trade_returns: FloatArray

    @property
    def years(self) -> float:
        return self.daily_returns.size / TRADING_DAYS


@dataclass(frozen=True)
class MonteCarloReport:
    """Distributions of the resampled paths (deterministic for a seed; see the module)."""

    source: str
    method: str
    paths: int
    seed: int
    horizon: int
    periods_per_year: float
    block: float | None
    ruin_threshold: float
    probability_of_ruin: float
    observed: dict[str, float]
    distributions: dict[str, dict[str, float]]
    cone: dict[str, Any] = field(default_factory=dict)
    histograms: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    """Per-path distributions of ``final_return`` and ``max_drawdown`` as histograms
    (``edges``: :data:`HISTOGRAM_BINS` + 1 bin edges, ``counts``: paths per bin), for `plot`."""

    def __repr__(self) -> str:
        from quantdb.services.research.display import montecarlo_repr

        return montecarlo_repr(self)

    def _repr_html_(self) -> str:
        from quantdb.services.research.display import montecarlo_html

        return montecarlo_html(self)

    def plot(self) -> go.Figure:
        """The wealth cone and the distributions of the final return and of the maximum
        drawdown (a Plotly figure; `quantdb.services.research.plots.montecarlo_figure`)."""
        from quantdb.services.research.plots import montecarlo_figure

        return montecarlo_figure(self)


def _returns_from_equity(equity: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return equity[1:] / equity[:-1] - 1.0


def _trade_contributions(
    dates: np.ndarray, equity: FloatArray, entry: np.ndarray, pnl: FloatArray
) -> FloatArray:
    """``pnl / equity of the day before entry`` (the first day's equity for a first-day entry)."""
    pos = np.searchsorted(dates, entry, side="left") - 1
    base = equity[np.clip(pos, 0, len(equity) - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pnl / base
    return out[np.isfinite(out)]


def load_source(
    db: Database, *, backtest: int | None = None, strategy: str | None = None
) -> SeriesSource:
    """Daily returns and trade returns of a stored backtest or of a tracked strategy.

    Raises
    ------
    NotFound
        when the backtest or the strategy does not exist.
    QuantdbError
        when neither or both of ``backtest`` and ``strategy`` are given.
    """
    if (backtest is None) == (strategy is None):
        msg = "give exactly one of --backtest ID or --strategy NAME"
        raise QuantdbError(msg)
    if backtest is not None:
        from quantdb.services.research.results import load_equity, load_trades

        curve = load_equity(db, backtest)
        dates, equity = curve.dates, curve.equity
        trades: list[Any] = load_trades(db, backtest, order="exit")
        name = f"backtest {backtest}"
    else:
        from quantdb.services.live.performance import strategy_equity

        frame = strategy_equity(db, strategy)
        if frame.height == 0:
            msg = f"strategy {strategy!r} has no trades to build an equity curve from"
            raise NotFound(msg)
        dates = frame["date"].to_numpy().astype("datetime64[D]")
        equity = frame["equity"].to_numpy().astype(np.float64)
        trades = db.query(
            "SELECT t.entry_date, COALESCE(t.pnl_computed, t.pnl) AS pnl FROM trades t "
            "JOIN predictions p ON p.id = t.prediction_id JOIN strategies s ON s.id = p.strategy_id "
            "WHERE s.name = ? AND t.status = 'CLOSED' AND COALESCE(t.pnl_computed, t.pnl) IS NOT NULL "
            "ORDER BY t.exit_date, t.entry_date, t.id",
            (strategy,),
        )
        name = f"strategy {strategy}"
    daily = _returns_from_equity(equity) if equity.size > 1 else np.empty(0)
    entry = np.array([r["entry_date"] for r in trades], dtype="datetime64[D]")
    pnl = np.array([r["pnl"] for r in trades], dtype=np.float64)
    tr = _trade_contributions(dates, equity, entry, pnl) if equity.size else np.empty(0)
    return SeriesSource(name, dates[1:], daily, tr)


def _observed(r: FloatArray, periods_per_year: float) -> dict[str, float]:
    mdd, tuw, _ = drawdown_stats(r)
    wealth = float(np.prod(1.0 + r))
    return {
        "final_return": wealth - 1.0,
        "cagr": float(cagr(r, periods_per_year=periods_per_year)),
        "sharpe": float(sharpe_ratio(r, periods_per_year=periods_per_year)),
        "max_drawdown": float(mdd),
        "time_under_water": float(tuw),
    }


def run_montecarlo(
    source: SeriesSource,
    *,
    paths: int = 10_000,
    method: McMethod = "iid",
    block: float = 20.0,
    seed: int | None = None,
    ruin: float = -0.3,
    horizon: int | None = None,
    cone_points: int = 64,
) -> MonteCarloReport:
    """Resample `source` ``paths`` times and summarise every metric's distribution.

    ``method``: ``"iid"`` or ``"block"`` bootstrap of the daily returns, or ``"trades"`` (an
    i.i.d. bootstrap of the trade sequence). ``ruin`` is a drawdown (negative fraction): the
    probability of ruin is the share of paths whose maximum drawdown reaches it.

    Raises
    ------
    MonteCarloInputError
        when the series to resample has fewer than 2 observations, or an option is invalid.
    """
    method = parse_mc_method(method)
    if paths < 1:
        msg = f"paths must be >= 1, got {paths}"
        raise MonteCarloInputError(msg)
    if not -1.0 <= ruin < 0.0:
        msg = f"ruin must be a drawdown in [-1, 0) such as -0.3, got {ruin}"
        raise MonteCarloInputError(msg)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    if method == "trades":
        sample = source.trade_returns
        ppy = sample.size / source.years if source.years > 0 else math.nan
        what = "closed trades"
    else:
        sample = source.daily_returns[~np.isnan(source.daily_returns)]
        ppy = float(TRADING_DAYS)
        what = "daily returns"
    if sample.size < 2 or not math.isfinite(ppy):
        msg = f"{source.name} has {sample.size} {what}; at least 2 are needed to resample"
        raise MonteCarloInputError(msg)
    steps = horizon if horizon is not None else sample.size
    need = paths * max(steps, 1) * 8
    if need > MEMORY_BUDGET_BYTES:
        most = MEMORY_BUDGET_BYTES // (max(steps, 1) * 8)
        msg = (
            f"paths={paths} over {steps} steps needs about {need / 2**30:.1f} GiB of path values, "
            f"above the {MEMORY_BUDGET_BYTES / 2**30:.0f} GiB budget; use at most {most} paths"
        )
        raise MonteCarloInputError(msg)
    try:
        mc = monte_carlo(
            sample, n_paths=paths, horizon=horizon,
            method="block" if method == "block" else "iid", block=block, seed=seed,
            periods_per_year=ppy, cone_points=cone_points,
        )
    except ValueError as exc:
        raise MonteCarloInputError(str(exc)) from None
    cone = mc.cone(CONE_QUANTILES)
    return MonteCarloReport(
        source=source.name,
        method=method,
        paths=paths,
        seed=int(seed),
        horizon=mc.horizon,
        periods_per_year=ppy,
        block=float(block) if method == "block" else None,
        ruin_threshold=ruin,
        probability_of_ruin=probability_of_ruin(mc.max_drawdown, ruin),
        observed=_observed(sample, ppy),
        distributions={name: quantile_table(mc.metric(name)) for name in METRICS},
        cone={
            "steps": mc.cone_steps.tolist(),
            "quantiles": list(CONE_QUANTILES),
            "wealth": cone.tolist(),
        },
        histograms={name: _histogram(mc.metric(name)) for name in ("final_return", "max_drawdown")},
    )


def _histogram(values: FloatArray) -> dict[str, list[Any]]:
    """:data:`HISTOGRAM_BINS` equal bins over the finite ``values``: edges and counts."""
    v = values[np.isfinite(values)]
    if not v.size:
        return {"edges": [], "counts": []}
    counts, edges = np.histogram(v, bins=HISTOGRAM_BINS)
    return {"edges": edges.tolist(), "counts": counts.astype(np.int64).tolist()}
