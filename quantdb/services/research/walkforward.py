"""Walk-forward analysis: optimise in sample, test out of sample, window after window.

Windows (:func:`walkforward_windows`) are half-open row ranges. Rolling: train
``[k*step, k*step + train)``; anchored: train ``[0, train + k*step)``; the test window starts
``purge`` rows after the train window ends and is ``test`` rows long; only whole test windows
are used. ``step`` defaults to ``test`` (consecutive, non-overlapping test windows).

**Overlapping test windows** (``step < test``): each date enters the stitched out-of-sample
series once, from the **most recent** window whose test rows hold it, as a live
re-optimisation every ``step`` rows would switch to the newest choice (:func:`oos_segments`).
Window ``k`` then contributes rows ``[test_start_k, test_start_{k+1})``, traded as a run of its
own that closes its positions at the switch; its reported out-of-sample figures still cover
its whole test window. With ``step > test`` the rows between test windows are in no window
and not in the stitched series. Either way its dates are unique and increasing.

For each window:

* **in sample**: the whole grid runs on the train rows alone (signals computed from those
  rows only), and the parameter set with the best objective (mean over tickers) is chosen,
  a set with a bankrupt ticker (`quantdb.kernels.margin`) only when every set has one;
* **out of sample**: the chosen set runs on the test rows. Its indicators may warm up on the
  rows before the test window (train and purge rows: the past, never the future); positions
  start flat at the first test row and every position is closed on the last one.

Across windows: the stitched out-of-sample daily returns (equal weight over tickers) and
their metrics, **walk-forward efficiency** (mean annualised OOS return / mean annualised IS
return of the chosen sets, Pardo's definition), the chosen parameters per window and their
stability, and on the full period: the objective over the whole grid, a **robustness score**
(the mean objective of the optimum's lattice neighbourhood, itself included, over the optimum's
objective), the **deflated Sharpe ratio** of the best set with the grid size as the number of
trials, and the **PBO** by CSCV over the grid's daily returns.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import QuantdbError
from quantdb.kernels.drawdown import max_drawdown
from quantdb.kernels.metrics import cagr, sharpe_ratio, total_return
from quantdb.kernels.overfitting import pbo_cscv, selection_sharpe
from quantdb.services.research.bars import load_bars, universe_tickers
from quantdb.services.research.grid import Grid
from quantdb.services.research.sweep import (
    OBJECTIVES,
    SweepData,
    aggregate_by_params,
    default_chunk,
    rank_sets,
    sweep_grid,
    sweep_table,
)
from quantdb.settings import SimSettings, build_settings, merge_settings
from quantdb.storage.sqlite import Database
from quantdb.universe import Universe, universe_of

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from quantdb.strategies import Bars
    from quantdb.strategy_loader import StrategyRef

__all__ = [
    "WalkForwardReport",
    "Window",
    "grid_returns",
    "neighbourhood",
    "oos_segments",
    "run_walkforward",
    "walkforward_bars",
    "walkforward_windows",
]


class WalkForwardError(QuantdbError, ValueError):
    """Walk-forward options that cannot work (windows longer than the data, bad sizes)."""


@dataclass(frozen=True)
class Window:
    """Half-open row ranges of one walk-forward step."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int


def walkforward_windows(
    n_obs: int,
    /,
    *,
    train: int,
    test: int,
    step: int | None = None,
    anchored: bool = False,
    purge: int = 0,
) -> list[Window]:
    """Train/test windows over ``n_obs`` rows (see the module docstring).

    Raises
    ------
    WalkForwardError
        when a size is out of range or not one window fits.

    Examples
    --------
    >>> [tuple(vars(w).values()) for w in walkforward_windows(10, train=4, test=2, purge=1)]
    [(0, 4, 5, 7), (2, 6, 7, 9)]
    >>> [tuple(vars(w).values()) for w in walkforward_windows(10, train=4, test=3, anchored=True)]
    [(0, 4, 4, 7), (0, 7, 7, 10)]
    """
    step = test if step is None else step
    if train < 2 or test < 1 or step < 1 or purge < 0:
        msg = (f"need train >= 2, test >= 1, step >= 1, purge >= 0; got train={train}, "
               f"test={test}, step={step}, purge={purge}")
        raise WalkForwardError(msg)
    out = []
    k = 0
    while True:
        t0 = 0 if anchored else k * step
        t1 = train + k * step
        s0 = t1 + purge
        s1 = s0 + test
        if s1 > n_obs:
            break
        out.append(Window(t0, t1, s0, s1))
        k += 1
    if not out:
        msg = (f"no walk-forward window fits: {n_obs} rows for train {train} + purge {purge} + "
               f"test {test}; shorten the windows or widen the period")
        raise WalkForwardError(msg)
    return out


def oos_segments(windows: Sequence[Window], /) -> list[tuple[int, int]]:
    """The half-open rows ``[lo, hi)`` each window contributes to the stitched series.

    A date in the test rows of several windows (``step < test``) is taken from the most
    recent of them: window ``k`` stops where window ``k + 1``'s test rows start. The segments
    are disjoint and increasing, so the stitched dates are unique and in order.

    Examples
    --------
    >>> wins = walkforward_windows(12, train=4, test=3, step=2)
    >>> [(w.test_start, w.test_end) for w in wins]
    [(4, 7), (6, 9), (8, 11)]
    >>> oos_segments(wins)
    [(4, 6), (6, 8), (8, 11)]
    """
    out = []
    for k, w in enumerate(windows):
        hi = w.test_end if k + 1 == len(windows) else min(w.test_end, windows[k + 1].test_start)
        out.append((w.test_start, hi))
    return out


def _slice(bars: Bars, lo: int, hi: int) -> Bars:
    return replace(
        bars,
        open=bars.open[lo:hi], high=bars.high[lo:hi], low=bars.low[lo:hi], close=bars.close[lo:hi],
        volume=None if bars.volume is None else bars.volume[lo:hi],
    )


def grid_returns(
    data: SweepData, grid: Grid, *, first_row: int = 0, chunk: int | None = None
) -> tuple[FloatArray, dict[str, np.ndarray]]:
    """Daily returns of every parameter set (equal weight over tickers) and per-column stats.

    Signals use every row of ``data.bars``; the simulation runs on rows ``first_row:`` only
    (the earlier rows serve as indicator warm-up). Returns ``(returns (T x sets), columns)``
    with ``columns`` as :func:`quantdb.services.research.sweep.run_chunk` gives them.
    """
    from quantdb.kernels.simulate import simulate
    from quantdb.strategy_loader import resolve_strategy

    strat = resolve_strategy(data.strategy)
    bars = data.bars
    n_rows, n_tickers = bars.close.shape
    size = chunk or default_chunk(n_rows, n_tickers)
    cash = data.settings.cash
    rets, parts = [], []
    for lo in range(0, len(grid), size):
        params = {n: grid.columns[n][lo : lo + size] for n in grid.names}
        n_sets = len(params[grid.names[0]])
        sig = strat.signals(bars, **params)
        sim = simulate(
            bars.open[first_row:], bars.high[first_row:], bars.low[first_row:],
            bars.close[first_row:], *(s[first_row:] for s in sig[:2]),
            *(s[first_row:] for s in sig[2:4]),
            settings=data.settings, periods_per_year=data.periods_per_year,
        )
        eq = np.vstack([np.full((1, sim.equity.shape[1]), cash), sim.equity])
        with np.errstate(invalid="ignore", divide="ignore"):  # a bankrupt account at zero: flat
            r = np.where(eq[:-1] > 0.0, eq[1:] / eq[:-1] - 1.0, 0.0)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a day no ticker trades: NaN
            rets.append(np.nanmean(r.reshape(r.shape[0], n_sets, n_tickers), axis=2))
        part: dict[str, np.ndarray] = {n: np.repeat(v, n_tickers) for n, v in params.items()}
        part["total_return"] = sim.stats.total_return
        part["sharpe"] = sim.stats.sharpe
        part["max_drawdown"] = sim.stats.max_drawdown
        part["n_trades"] = sim.stats.n_trades
        part["bankrupt"] = sim.stats.bankrupt
        parts.append(part)
    columns = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(rets, axis=1), columns


def neighbourhood(grid: Grid, index: int, /) -> np.ndarray:
    """Indices of the parameter sets next to set ``index`` on the grid's lattice (at most one
    axis step away on every axis), the set itself included."""
    pos = np.column_stack([
        np.searchsorted(np.asarray(grid.axes[n], dtype=np.float64),
                        np.asarray(grid.columns[n], dtype=np.float64))
        for n in grid.names
    ])
    return np.flatnonzero(np.all(np.abs(pos - pos[index]) <= 1, axis=1))


@dataclass(frozen=True, repr=False)
class WalkForwardReport:
    """The walk-forward result (JSON-friendly: lists and dicts of plain values); a one-line
    ``repr``, a table of windows in Jupyter and :meth:`plot` (Plotly)."""

    strategy: str
    objective: str
    tickers: int
    combos: int
    windows: list[dict[str, Any]]
    oos: dict[str, float]
    efficiency: float
    stability: dict[str, dict[str, float]]
    robustness: dict[str, Any]
    deflated_sharpe: dict[str, float]
    pbo: dict[str, float]
    oos_dates: list[str]
    oos_returns: list[float]
    bankrupt_sets: int = 0
    """Parameter sets of the grid with a bankrupt ticker over the full period (ranked last
    there; each window counts its own in ``is_bankrupt_sets``)."""

    def __repr__(self) -> str:
        from quantdb.services.research.display import walkforward_repr

        return walkforward_repr(self)

    def _repr_html_(self) -> str:
        from quantdb.services.research.display import walkforward_html

        return walkforward_html(self)

    def plot(self) -> go.Figure:
        """The stitched out-of-sample equity, each window's in- and out-of-sample rows and their
        annualised returns (a Plotly figure; `quantdb.services.research.plots.walkforward_figure`)."""
        from quantdb.services.research.plots import walkforward_figure

        return walkforward_figure(self)


def _annualised(tr: float, n: int, ppy: float) -> float:
    return (1.0 + tr) ** (ppy / n) - 1.0 if n > 0 and tr > -1 else math.nan


def _f(x: Any) -> float:
    v = float(x)
    return v if math.isfinite(v) else math.nan


def walkforward_bars(
    dates: np.ndarray,
    bars: Bars,
    strategy: StrategyRef,
    grid: Grid,
    *,
    settings: SimSettings,
    train: int,
    test: int,
    step: int | None = None,
    anchored: bool = False,
    purge: int = 0,
    objective: str = "sharpe",
    n_splits: int = 16,
    executor: Any = None,
) -> WalkForwardReport:
    """Walk-forward analysis on in-memory panels (the database-free core of the command).

    ``strategy``: any reference `quantdb.strategy_loader.resolve_strategy` takes.
    """
    from quantdb.strategy_loader import resolve_strategy

    strategy = resolve_strategy(strategy)
    if objective not in OBJECTIVES:
        msg = f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
        raise WalkForwardError(msg)
    n_rows, n_tickers = bars.close.shape
    ppy = 252.0
    wins = walkforward_windows(n_rows, train=train, test=test, step=step, anchored=anchored,
                               purge=purge)
    segments = oos_segments(wins)
    names = list(grid.names)
    rows: list[dict[str, Any]] = []
    oos_parts: list[FloatArray] = []
    oos_idx: list[np.ndarray] = []
    is_ann, oos_ann = [], []
    for k, w in enumerate(wins):
        data = SweepData(strategy, _slice(bars, w.train_start, w.train_end), settings)
        table = sweep_table(data, grid, executor=executor)
        agg = aggregate_by_params(table, names, n_tickers)
        best = int(rank_sets(agg, objective)[0])  # a set with a bankrupt ticker comes last
        chosen = grid.take(np.array([best]))
        oos_data = SweepData(strategy, _slice(bars, w.train_start, w.test_end), settings)
        r, cols = grid_returns(oos_data, chosen, first_row=w.test_start - w.train_start)
        oos_agg = aggregate_by_params(cols, names, n_tickers)
        lo, hi = segments[k]
        if hi < w.test_end:  # the next window's choice takes over at `hi`: close there
            cut = SweepData(strategy, _slice(bars, w.train_start, hi), settings)
            r, _ = grid_returns(cut, chosen, first_row=w.test_start - w.train_start)
        oos_parts.append(r[:, 0])
        oos_idx.append(np.arange(lo, hi))
        a_is = _annualised(float(agg["total_return"][best]), w.train_end - w.train_start, ppy)
        a_oos = _annualised(float(oos_agg["total_return"][0]), w.test_end - w.test_start, ppy)
        is_ann.append(a_is)
        oos_ann.append(a_oos)
        rows.append({
            "window": k,
            "train": [str(dates[w.train_start]), str(dates[w.train_end - 1])],
            "test": [str(dates[w.test_start]), str(dates[w.test_end - 1])],
            "stitched": [str(dates[lo]), str(dates[hi - 1])],
            "params": grid.row(best),
            "is_objective": _f(agg[objective][best]),
            "oos_objective": _f(oos_agg[objective][0]),
            "is_annual_return": _f(a_is),
            "oos_annual_return": _f(a_oos),
            "is_bankrupt_sets": int((agg["bankrupt"] > 0).sum()),
            "oos_bankrupt_tickers": int(oos_agg["bankrupt"][0]),
        })
    oos = np.concatenate(oos_parts)
    idx = np.concatenate(oos_idx)
    mean_is = float(np.nanmean(is_ann)) if is_ann else math.nan
    efficiency = float(np.nanmean(oos_ann)) / mean_is if mean_is and math.isfinite(mean_is) else math.nan

    stability: dict[str, dict[str, float]] = {}
    for n in names:
        vals = [r["params"][n] for r in rows]
        mode, count = Counter(vals).most_common(1)[0]
        arr = np.asarray(vals, dtype=np.float64)
        stability[n] = {
            "mode": float(mode), "mode_share": count / len(vals),
            "mean": float(arr.mean()), "std": float(arr.std(ddof=0)),
        }

    # full period: the grid's landscape, neighbourhood robustness, DSR and PBO
    full = SweepData(strategy, bars, settings)
    rets, cols = grid_returns(full, grid)
    agg = aggregate_by_params(cols, names, n_tickers)
    opt = int(rank_sets(agg, objective)[0])
    hood = neighbourhood(grid, opt)
    hood_mean = float(np.nanmean(agg[objective][hood]))
    peak = float(agg[objective][opt])
    robustness = {
        "optimum": grid.row(opt),
        "optimum_objective": _f(peak),
        "neighbours": int(hood.size - 1),
        "neighbourhood_mean": _f(hood_mean),
        "score": _f(hood_mean / peak) if peak > 0 else math.nan,
        "profile": {
            n: {str(v): _f(agg[objective][i]) for v, i in _axis_profile(grid, opt, n)} for n in names
        },
    }
    dsr: dict[str, float] = {}
    pbo: dict[str, float] = {}
    if len(grid) >= 2:
        sel = selection_sharpe(rets, periods_per_year=ppy)
        dsr = {"best_index": sel.best_index, "sharpe": _f(sel.sharpe), "psr": _f(sel.psr),
               "dsr": _f(sel.dsr), "n_trials": sel.n_trials,
               "trials_sharpe_variance": _f(sel.trials_sharpe_variance)}
        splits = min(n_splits, 2 * (rets.shape[0] // 20 // 2))  # >= 20 rows a group
        if splits >= 2:
            res = pbo_cscv(rets, n_splits=splits)
            pbo = {"pbo": res.pbo, "n_splits": splits, "combinations": res.n_combinations,
                   "prob_oos_loss": _f(res.prob_oos_loss),
                   "degradation_slope": _f(res.degradation_slope)}
    return WalkForwardReport(
        strategy=strategy.name, objective=objective, tickers=n_tickers, combos=len(grid),
        windows=rows,
        oos={
            "total_return": _f(total_return(oos)), "cagr": _f(cagr(oos, periods_per_year=ppy)),
            "sharpe": _f(sharpe_ratio(oos, periods_per_year=ppy)),
            "max_drawdown": _f(max_drawdown(oos)), "days": int(oos.size),
        },
        efficiency=_f(efficiency),
        stability=stability,
        robustness=robustness,
        deflated_sharpe=dsr,
        pbo=pbo,
        oos_dates=[str(d) for d in dates[idx]],
        oos_returns=[_f(x) for x in oos],
        bankrupt_sets=int((agg["bankrupt"] > 0).sum()),
    )


def _axis_profile(grid: Grid, opt: int, name: str) -> list[tuple[Any, int]]:
    """The sets that differ from the optimum only in ``name``: (value, index) pairs."""
    others = [n for n in grid.names if n != name]
    mask = np.ones(len(grid), dtype=np.bool_)
    for n in others:
        mask &= grid.columns[n] == grid.columns[n][opt]
    idx = np.flatnonzero(mask)
    return [(grid.columns[name][i].item(), int(i)) for i in idx]


def run_walkforward(
    db: Database,
    strategy: StrategyRef,
    *,
    grid_specs: Iterable[str] = (),
    constraints: Iterable[str] | None = None,
    tickers: str | Sequence[str] | None = None,
    universe: str | Sequence[str] | Universe | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    settings: Mapping[str, Any] | SimSettings | None = None,
    train: int = 504,
    test: int = 126,
    step: int | None = None,
    anchored: bool = False,
    purge: int = 0,
    objective: str = "sharpe",
    workers: int = 1,
    **options: Any,
) -> WalkForwardReport:
    """Walk-forward analysis of ``strategy`` on the database's prices (read only).

    ``tickers``/``universe``, ``start``/``end`` and the settings (``settings=`` or setting
    keywords) are read as `quantdb.services.research.sweep.run_sweep` reads them: each ticker
    is its own account. ``strategy``: a name, a ``file.py:func`` or ``module:func`` spec, an
    entry point, a `quantdb.strategies.Strategy` or a function
    (`quantdb.strategy_loader.resolve_strategy`).
    """
    from quantdb.services.research.executors import LocalExecutor
    from quantdb.strategy_loader import resolve_strategy

    strategy = resolve_strategy(strategy)
    grid = sweep_grid(strategy, grid_specs, constraints)
    wanted = universe_tickers(db, universe_of(tickers, universe), gate_ok=False)
    dates, names, bars = load_bars(db, wanted, start, end)
    st = build_settings(merge_settings(settings, options), n_tickers=len(names), portfolio=False)
    return walkforward_bars(
        dates, bars, strategy, grid, settings=st, train=train, test=test,
        step=step, anchored=anchored, purge=purge, objective=objective,
        executor=LocalExecutor(workers, preload=["quantdb.services.research.sweep"]),
    )
