"""Backtest-overfitting diagnostics: PBO by CSCV, and the deflated Sharpe ratio of a selection.

**Probability of backtest overfitting** (Bailey, Borwein, Lopez de Prado & Zhu, "The
Probability of Backtest Overfitting", J. Computational Finance 2017), by combinatorially
symmetric cross-validation:

1. ``M`` is a (T x N) matrix of period returns, one column a trial (a parameter set). Its
   rows are cut into ``S`` (even) contiguous groups of equal size (the ``T mod S`` oldest rows
   are dropped so that the groups are equal).
2. For every choice ``c`` of ``S / 2`` groups (``C(S, S/2)`` of them): the train set ``J`` is
   those groups, the test set ``J_bar`` the other half. The performance (Sharpe ratio by
   default) of every trial is measured on both.
3. ``n*`` is the trial with the best train performance; ``omega_c`` is the relative rank of
   its test performance among the N test performances, ``rank / (N + 1)`` (rank 1 = worst,
   ties averaged), and ``lambda_c = log(omega_c / (1 - omega_c))``.
4. ``PBO = #{c : lambda_c <= 0} / C(S, S/2)``: how often the in-sample winner is at or below
   the out-of-sample median.

The paper also reads off the performance degradation (the regression of the test performance
of ``n*`` on its train performance) and the probability of an out-of-sample loss; both are
returned.

The performance of a trial on a union of groups comes from per-group sums (count, sum, sum of
squares around the column mean), so all ``C(S, S/2)`` combinations cost two matrix products
instead of ``C(S, S/2)`` passes over the data. The Sharpe ratio so obtained is
:func:`quantdb.kernels.metrics.sharpe_ratio` (ddof=1, no risk-free rate); the tests check that
equality.

**Deflated Sharpe** of the best of N trials: :func:`selection_sharpe` applies
:func:`quantdb.kernels.metrics.deflated_sharpe_ratio` to the selected column with
``n_trials = N`` and the variance of the trials' annualized Sharpe ratios.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from quantdb._typing import FloatArray, IntArray
from quantdb.errors import ArgumentError
from quantdb.kernels.metrics import deflated_sharpe_ratio, probabilistic_sharpe_ratio, sharpe_ratio
from quantdb.kernels.periods import TRADING_DAYS

__all__ = ["PBOResult", "SelectionSharpe", "cscv_combinations", "pbo_cscv", "selection_sharpe"]

Performance = Literal["sharpe", "mean"]


@dataclass(frozen=True)
class PBOResult:
    """What CSCV found (see the module docstring).

    Attributes
    ----------
    pbo : probability of backtest overfitting, in [0, 1].
    logits : ``lambda_c`` per combination (``+-inf`` when the winner is best/worst of all).
    selected : index of the in-sample best trial per combination.
    is_performance, oos_performance : train and test performance of that trial per combination.
    degradation_slope, degradation_intercept : least-squares line of OOS on IS performance.
    prob_oos_loss : share of combinations where the selected trial's OOS performance is < 0.
    n_splits, n_trials, n_rows_used : S, N and the rows used (``T - T mod S``).
    """

    pbo: float
    logits: FloatArray
    selected: IntArray
    is_performance: FloatArray
    oos_performance: FloatArray
    degradation_slope: float
    degradation_intercept: float
    prob_oos_loss: float
    n_splits: int
    n_trials: int
    n_rows_used: int

    @property
    def n_combinations(self) -> int:
        return int(self.logits.shape[0])


def cscv_combinations(n_splits: int, /) -> npt.NDArray[np.bool_]:
    """Every choice of ``n_splits / 2`` of ``n_splits`` groups, as a boolean (C x S) matrix.

    Examples
    --------
    >>> cscv_combinations(4).astype(int).tolist()
    [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]]
    """
    if n_splits < 2 or n_splits % 2:
        msg = f"n_splits must be an even number >= 2, got {n_splits}"
        raise ArgumentError(msg)
    combos = list(itertools.combinations(range(n_splits), n_splits // 2))
    out = np.zeros((len(combos), n_splits), dtype=np.bool_)
    for i, c in enumerate(combos):
        out[i, list(c)] = True
    return out


def _group_sums(
    m: FloatArray, n_splits: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-group count, sum and sum of squares of ``m - column mean`` (S x N each), and that
    column mean (centring first keeps the sums of squares free of cancellation)."""
    t, n = m.shape
    g = m.reshape(n_splits, t // n_splits, n)
    centre = np.nanmean(m, axis=0)
    d = g - centre
    ok = ~np.isnan(d)
    d0 = np.where(ok, d, 0.0)
    return ok.sum(axis=1).astype(np.float64), d0.sum(axis=1), (d0 * d0).sum(axis=1), centre


def _performance(
    cnt: FloatArray, s1: FloatArray, s2: FloatArray, centre: FloatArray, performance: Performance
) -> FloatArray:
    """Per (combination, trial) performance from summed group statistics."""
    with np.errstate(invalid="ignore", divide="ignore"):
        dev_mean = s1 / cnt
        mean = dev_mean + centre
        if performance == "mean":
            return np.where(cnt > 0, mean, np.nan)
        var = (s2 - cnt * dev_mean * dev_mean) / (cnt - 1.0)
        sd = np.sqrt(np.maximum(var, 0.0))
        return np.where((cnt >= 2) & (sd > 0), mean / sd, np.nan)


def _relative_rank(values: FloatArray, chosen: FloatArray) -> FloatArray:
    """Average rank (1 = lowest) of ``chosen[c]`` among ``values[c, :]``, NaNs ranked lowest."""
    v = np.where(np.isnan(values), -np.inf, values)
    x = np.where(np.isnan(chosen), -np.inf, chosen)[:, None]
    below = np.sum(v < x, axis=1)
    ties = np.sum(v == x, axis=1)  # includes the chosen trial itself
    out: FloatArray = below + (ties + 1) / 2.0
    return out


def pbo_cscv(
    returns: npt.ArrayLike,
    /,
    *,
    n_splits: int = 16,
    performance: Performance = "sharpe",
    chunk: int = 2048,
) -> PBOResult:
    """Probability of backtest overfitting of selecting the best of N trials, by CSCV.

    Parameters
    ----------
    returns : array_like
        (T x N) period returns, one column per trial (parameter set), on the same dates.
        NaN = no observation.
    n_splits : int
        S, the even number of row groups (16 in the paper: 12,870 combinations).
    performance : {"sharpe", "mean"}
        How a trial is ranked on a subset: per-period Sharpe ratio (ddof=1) or mean return.
    chunk : int
        Combinations evaluated at once (memory: ``chunk * N * 8 * 4`` bytes).

    Returns
    -------
    PBOResult

    Raises
    ------
    ValueError
        when there are fewer than 2 trials or fewer than 2 rows a group.

    Examples
    --------
    >>> noise = np.random.default_rng(1337).normal(0, 0.01, (800, 20))
    >>> 0.2 < pbo_cscv(noise, n_splits=8).pbo < 0.8
    True
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        msg = f"returns must be (periods x trials) with at least 2 trials, got shape {m.shape}"
        raise ArgumentError(msg)
    if performance not in ("sharpe", "mean"):
        msg = f"performance must be 'sharpe' or 'mean', got {performance!r}"
        raise ArgumentError(msg)
    combos = cscv_combinations(n_splits)
    t = m.shape[0] - m.shape[0] % n_splits
    if t // n_splits < 2:
        msg = f"need at least 2 rows per group: {m.shape[0]} rows for {n_splits} groups"
        raise ArgumentError(msg)
    m = m[m.shape[0] - t :]  # drop the oldest rows so that the groups are equal
    cnt, s1, s2, centre = _group_sums(m, n_splits)
    n_trials = m.shape[1]
    k = combos.shape[0]
    selected = np.empty(k, dtype=np.int64)
    is_perf = np.empty(k)
    oos_perf = np.empty(k)
    rank = np.empty(k)
    fc = combos.astype(np.float64)
    for lo in range(0, k, chunk):
        w_in = fc[lo : lo + chunk]
        w_out = 1.0 - w_in
        r_in = _performance(w_in @ cnt, w_in @ s1, w_in @ s2, centre, performance)
        r_out = _performance(w_out @ cnt, w_out @ s1, w_out @ s2, centre, performance)
        best = np.argmax(np.where(np.isnan(r_in), -np.inf, r_in), axis=1)
        rows = np.arange(best.shape[0])
        selected[lo : lo + chunk] = best
        is_perf[lo : lo + chunk] = r_in[rows, best]
        oos_perf[lo : lo + chunk] = r_out[rows, best]
        rank[lo : lo + chunk] = _relative_rank(r_out, r_out[rows, best])
    omega = rank / (n_trials + 1.0)
    with np.errstate(divide="ignore"):
        logits = np.log(omega / (1.0 - omega))
    ok = ~np.isnan(is_perf) & ~np.isnan(oos_perf)
    if ok.sum() >= 2 and np.ptp(is_perf[ok]) > 0:
        slope, intercept = np.polyfit(is_perf[ok], oos_perf[ok], 1)
    else:
        slope = intercept = math.nan
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        selected=selected,
        is_performance=is_perf,
        oos_performance=oos_perf,
        degradation_slope=float(slope),
        degradation_intercept=float(intercept),
        prob_oos_loss=float(np.mean(oos_perf[ok] < 0.0)) if ok.any() else math.nan,
        n_splits=n_splits,
        n_trials=n_trials,
        n_rows_used=t,
    )


@dataclass(frozen=True)
class SelectionSharpe:
    """The best of N trials by Sharpe ratio, with its probabilistic and deflated Sharpe ratios.

    ``sharpe`` is annualized; ``psr`` is P(true Sharpe > 0); ``dsr`` is P(true Sharpe > the
    expected maximum of ``n_trials`` skill-less trials with the observed Sharpe variance).
    """

    best_index: int
    sharpe: float
    psr: float
    dsr: float
    n_trials: int
    trials_sharpe_variance: float


def selection_sharpe(
    returns: npt.ArrayLike,
    /,
    *,
    n_trials: int | None = None,
    periods_per_year: float = TRADING_DAYS,
) -> SelectionSharpe:
    """Pick the column of `returns` with the highest Sharpe ratio and deflate it.

    Parameters
    ----------
    returns : array_like
        (T x N) period returns, one column a trial.
    n_trials : int, optional
        Number of trials behind the selection, N by default (give more when columns were
        already pre-selected from a larger search).
    periods_per_year : float
        Annualisation (252 for daily returns).

    Examples
    --------
    >>> r = np.random.default_rng(7).normal(0.0003, 0.01, (750, 50))
    >>> s = selection_sharpe(r)
    >>> s.dsr < s.psr
    True
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]
    sr = np.asarray(sharpe_ratio(m, periods_per_year=periods_per_year), dtype=np.float64)
    if np.all(np.isnan(sr)):
        msg = "no trial has a Sharpe ratio (too few observations or constant returns)"
        raise ArgumentError(msg)
    best = int(np.nanargmax(sr))
    finite = sr[~np.isnan(sr)]
    var = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    trials = int(n_trials if n_trials is not None else m.shape[1])
    col = m[:, best]
    return SelectionSharpe(
        best_index=best,
        sharpe=float(sr[best]),
        psr=float(probabilistic_sharpe_ratio(col, periods_per_year=periods_per_year)),
        dsr=float(
            deflated_sharpe_ratio(
                col, n_trials=trials, trials_sharpe_variance=var, periods_per_year=periods_per_year
            )
        ),
        n_trials=trials,
        trials_sharpe_variance=var,
    )
