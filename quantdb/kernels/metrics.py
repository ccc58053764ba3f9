"""Return, risk-adjusted and benchmark-relative metrics over 1-D or (periods x series) returns.

Every function takes simple returns positionally (1-D, or 2-D with one column a series) and
its options keyword-only; 1-D input gives a float (``np.float64``), 2-D one value per column.
Values are fractions, never percents. Conventions (the glossary is ``docs/metrics.md``):

* ``periods_per_year=252``; ``risk_free`` is an **annual** rate, de-annualized geometrically
  (:func:`quantdb.kernels.periods.deannualize_rate`) and subtracted from every period.
* NaN is "no observation": skipped by every moment (mean, standard deviation, skew,
  quantiles), flat for compounding (total return, CAGR, drawdowns).
* ``ddof=1`` for standard deviations (volatility, Sharpe, tracking error).
* CAGR uses the number of observed periods: ``years = n_obs / periods_per_year``, as
  QuantStats >= 0.0.83 and empyrical do (older QuantStats used calendar days).
* Too little data, or a zero denominator (a constant series has no Sharpe ratio), gives
  NaN rather than an exception or an infinity.
* Benchmark-relative metrics use the periods on which both series are observed.
* Skew and kurtosis are the bias-corrected sample estimators of pandas (G1, excess G2), the
  ones QuantStats reports.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.kernels.columns import as_2d, finish
from quantdb.kernels.drawdown import drawdown_stats
from quantdb.kernels.periods import TRADING_DAYS, deannualize_rate

__all__ = [
    "alpha",
    "annual_volatility",
    "beta",
    "cagr",
    "calmar_ratio",
    "correlation",
    "deflated_sharpe_ratio",
    "down_capture",
    "information_ratio",
    "kurtosis",
    "omega_ratio",
    "probabilistic_sharpe_ratio",
    "r_squared",
    "rolling_beta",
    "rolling_sharpe",
    "rolling_volatility",
    "sharpe_ratio",
    "skew",
    "sortino_ratio",
    "tail_ratio",
    "total_return",
    "tracking_error",
    "up_capture",
]

EULER_GAMMA = 0.5772156649015329


# ----------------------------------------------------------------------------- helpers
def _count(a: FloatArray) -> FloatArray:
    n: FloatArray = np.sum(~np.isnan(a), axis=0).astype(np.float64)
    return n


def _mean(a: FloatArray, n: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean: FloatArray = np.nansum(a, axis=0) / n
    return mean


def _is_constant(a: FloatArray) -> npt.NDArray[np.bool_]:
    """Columns whose observations are all equal (zero dispersion, whatever the rounding)."""
    if a.shape[0] == 0:
        return np.zeros(a.shape[1:], dtype=np.bool_)
    const: npt.NDArray[np.bool_] = np.fmax.reduce(a, axis=0) == np.fmin.reduce(a, axis=0)
    return const


def _central_sums(a: FloatArray, mean: FloatArray, powers: tuple[int, ...]) -> list[FloatArray]:
    d = a - mean
    d = np.where(np.isnan(d), 0.0, d)
    out = []
    for p in powers:
        out.append(np.sum(d**p, axis=0))
    return out


def _std(a: FloatArray, ddof: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(n_obs, mean, standard deviation) per column; 0 for constant columns, NaN if n <= ddof."""
    n = _count(a)
    mean = _mean(a, n)
    (ss,) = _central_sums(a, mean, (2,))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        var = np.where(n > ddof, ss / (n - ddof), np.nan)
    var = np.where(_is_constant(a) & (n > ddof), 0.0, var)
    return n, mean, np.sqrt(var)


def _rf_per_period(risk_free: float, periods_per_year: float) -> float:
    return deannualize_rate(risk_free, periods_per_year)


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, NaN where den is 0 or NaN."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where((den != 0) & ~np.isnan(den), num / np.where(den == 0, 1.0, den), np.nan)


# Formulas shared with the fused path in summary.py (inputs: per-column statistics).
def skew_from_sums(n: FloatArray, m2: FloatArray, m3: FloatArray) -> FloatArray:
    """pandas' bias-corrected skew G1 from the count and central sums of powers 2 and 3."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        g = (n * np.sqrt(n - 1.0) / (n - 2.0)) * (m3 / m2**1.5)
    return np.where((n >= 3) & (m2 > 0), g, np.nan)


def kurtosis_from_sums(n: FloatArray, m2: FloatArray, m4: FloatArray) -> FloatArray:
    """pandas' bias-corrected excess kurtosis G2 from the count and central sums."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        adj = 3.0 * (n - 1.0) ** 2 / ((n - 2.0) * (n - 3.0))
        num = n * (n + 1.0) * (n - 1.0) * m4
        den = (n - 2.0) * (n - 3.0) * m2**2
        g = num / den - adj
    return np.where((n >= 4) & (m2 > 0), g, np.nan)


def psr_from_stats(
    sr: FloatArray, skewness: FloatArray, excess_kurt: FloatArray, n: FloatArray, sr0: float
) -> FloatArray:
    """Probabilistic Sharpe ratio from a per-period Sharpe ratio and its moments.

    ``PSR = Phi((SR - SR0) * sqrt(n - 1) / sqrt(1 - skew*SR + (kurt - 1)/4 * SR^2))`` with
    ``kurt`` the raw kurtosis (excess + 3), Bailey & Lopez de Prado (2012).
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        var = (1.0 - skewness * sr + (excess_kurt + 2.0) / 4.0 * sr**2) / (n - 1.0)
        z = (sr - sr0) / np.sqrt(np.where(var > 0, var, np.nan))
    return np.asarray(ndtr(z), dtype=np.float64)


# ----------------------------------------------------------------------------- returns
def total_return(returns: npt.ArrayLike, /) -> Any:
    """Compounded return over the whole series: ``prod(1 + r) - 1`` (NaN periods flat).

    Examples
    --------
    >>> round(float(total_return([0.1, -0.1])), 10)
    -0.01
    """
    a, one_d = as_2d(returns)
    wealth = np.prod(1.0 + np.nan_to_num(a, nan=0.0), axis=0)
    return finish(np.where(_count(a) > 0, wealth - 1.0, np.nan), one_d)


def cagr_from_wealth(wealth: FloatArray, n: FloatArray, periods_per_year: float) -> FloatArray:
    """``wealth ** (periods_per_year / n) - 1``; NaN for n == 0 or negative wealth."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        g = np.power(np.where(wealth >= 0, wealth, np.nan), periods_per_year / n) - 1.0
    return np.where(n > 0, g, np.nan)


def cagr(returns: npt.ArrayLike, /, *, periods_per_year: float = TRADING_DAYS) -> Any:
    """Compound annual growth rate, with ``years = n_obs / periods_per_year``.

    The year count comes from the number of observed periods, not calendar days, so the
    figure does not depend on an index (QuantStats before 0.0.83 used calendar days).

    Examples
    --------
    >>> round(float(cagr([0.01] * 252)), 10) == round(1.01 ** 252 - 1, 10)
    True
    """
    a, one_d = as_2d(returns)
    wealth = np.prod(1.0 + np.nan_to_num(a, nan=0.0), axis=0)
    return finish(cagr_from_wealth(wealth, _count(a), periods_per_year), one_d)


def annual_volatility(
    returns: npt.ArrayLike, /, *, periods_per_year: float = TRADING_DAYS, ddof: int = 1
) -> Any:
    """Annualized standard deviation: ``std(r, ddof) * sqrt(periods_per_year)``.

    Examples
    --------
    >>> float(annual_volatility([0.01, 0.01, 0.01]))
    0.0
    """
    a, one_d = as_2d(returns)
    _, _, sd = _std(a, ddof)
    return finish(sd * math.sqrt(periods_per_year), one_d)


def sharpe_ratio(
    returns: npt.ArrayLike,
    /,
    *,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
    ddof: int = 1,
) -> Any:
    """Annualized Sharpe ratio: ``mean(r - rf_p) / std(r - rf_p, ddof) * sqrt(ppy)``.

    ``rf_p`` is the annual `risk_free` de-annualized geometrically. NaN when fewer than two
    observations or zero dispersion.

    Examples
    --------
    >>> round(float(sharpe_ratio([0.01, -0.01, 0.02], periods_per_year=1)), 6)
    0.436436
    """
    a, one_d = as_2d(returns)
    ex = a - _rf_per_period(risk_free, periods_per_year)
    n, mean, sd = _std(ex, ddof)
    sr = _safe_div(mean, sd) * math.sqrt(periods_per_year)
    return finish(np.where(n >= 2, sr, np.nan), one_d)


def sortino_ratio(
    returns: npt.ArrayLike,
    /,
    *,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
) -> Any:
    """Annualized Sortino ratio with the risk-free rate as target.

    ``mean(x) / sqrt(sum(min(x, 0) ** 2) / n) * sqrt(ppy)`` with ``x = r - rf_p``: the
    downside deviation divides by all observations (Red Rock Capital, QuantStats, empyrical).
    NaN with fewer than two observations or no period below the target.

    Examples
    --------
    >>> round(float(sortino_ratio([0.02, -0.01, 0.01], periods_per_year=1)), 6)
    1.154701
    """
    a, one_d = as_2d(returns)
    ex = a - _rf_per_period(risk_free, periods_per_year)
    n = _count(ex)
    mean = _mean(ex, n)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        down = np.sqrt(np.nansum(np.minimum(ex, 0.0) ** 2, axis=0) / n)
    s = _safe_div(mean, down) * math.sqrt(periods_per_year)
    return finish(np.where(n >= 2, s, np.nan), one_d)


def calmar_ratio(returns: npt.ArrayLike, /, *, periods_per_year: float = TRADING_DAYS) -> Any:
    """CAGR over the absolute maximum drawdown; NaN without a drawdown.

    Examples
    --------
    >>> r = [0.1, -0.05, 0.02]
    >>> round(float(calmar_ratio(r, periods_per_year=3)), 10) == round((1.1*0.95*1.02 - 1) / 0.05, 10)
    True
    """
    a, one_d = as_2d(returns)
    wealth = np.prod(1.0 + np.nan_to_num(a, nan=0.0), axis=0)
    g = cagr_from_wealth(wealth, _count(a), periods_per_year)
    mdd = np.asarray(drawdown_stats(a)[0])
    return finish(_safe_div(g, np.abs(mdd)), one_d)


def omega_ratio(
    returns: npt.ArrayLike,
    /,
    *,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
    required_return: float = 0.0,
) -> Any:
    """Omega ratio: gains over losses around a threshold.

    ``sum(max(x, 0)) / sum(max(-x, 0))`` with ``x = r - rf_p - req_p``, both rates annual and
    de-annualized geometrically (QuantStats, empyrical). NaN without any loss.

    Examples
    --------
    >>> float(omega_ratio([0.02, -0.01, 0.01]))
    3.0
    """
    a, one_d = as_2d(returns)
    if required_return <= -1.0:
        msg = f"required_return must be above -1 (an annual rate), got {required_return}"
        raise ArgumentError(msg)
    thr = _rf_per_period(risk_free, periods_per_year) + deannualize_rate(
        required_return, periods_per_year
    )
    x = a - thr
    gains = np.nansum(np.maximum(x, 0.0), axis=0)
    losses = np.nansum(np.maximum(-x, 0.0), axis=0)
    return finish(np.where(_count(a) > 0, _safe_div(gains, losses), np.nan), one_d)


def skew(returns: npt.ArrayLike, /) -> Any:
    """Sample skewness, bias-corrected (pandas ``Series.skew``, G1); NaN below 3 observations.

    Examples
    --------
    >>> round(float(skew([0.0, 0.0, 0.03])), 6)
    1.732051
    """
    a, one_d = as_2d(returns)
    n = _count(a)
    m2, m3 = _central_sums(a, _mean(a, n), (2, 3))
    return finish(np.where(_is_constant(a), np.nan, skew_from_sums(n, m2, m3)), one_d)


def kurtosis(returns: npt.ArrayLike, /) -> Any:
    """Excess kurtosis, bias-corrected (pandas ``Series.kurt``, G2); NaN below 4 observations.

    Examples
    --------
    >>> round(float(kurtosis([0.0, 0.0, 0.0, 0.04])), 6)
    4.0
    """
    a, one_d = as_2d(returns)
    n = _count(a)
    m2, m4 = _central_sums(a, _mean(a, n), (2, 4))
    return finish(np.where(_is_constant(a), np.nan, kurtosis_from_sums(n, m2, m4)), one_d)


def tail_ratio(returns: npt.ArrayLike, /, *, cutoff: float = 0.95) -> Any:
    """``|quantile(cutoff)| / |quantile(1 - cutoff)|`` (linear interpolation, NaN skipped).

    NaN when the lower quantile is 0 (empyrical returns inf there).

    Examples
    --------
    >>> round(float(tail_ratio(np.linspace(-1, 2, 301))), 6)  # 1.85 / 0.85
    2.176471
    """
    a, one_d = as_2d(returns)
    out = np.full(a.shape[1], np.nan)
    ok = _count(a) > 0
    if np.any(ok):
        q = np.nanquantile(a[:, ok], [cutoff, round(1.0 - cutoff, 12)], axis=0)
        out[ok] = _safe_div(np.abs(q[0]), np.abs(q[1]))
    return finish(out, one_d)


def probabilistic_sharpe_ratio(
    returns: npt.ArrayLike,
    /,
    *,
    sharpe_benchmark: float = 0.0,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
    ddof: int = 1,
) -> Any:
    """Probability that the true Sharpe ratio exceeds `sharpe_benchmark` (annualized).

    Bailey & Lopez de Prado (2012), on the per-period Sharpe ratio of excess returns with
    the sample skew and kurtosis of the returns, as QuantStats'
    ``probabilistic_sharpe_ratio``. The benchmark is given annualized and divided by
    ``sqrt(periods_per_year)``.

    Examples
    --------
    >>> 0.5 < float(probabilistic_sharpe_ratio([0.01, -0.005, 0.02, 0.0, 0.01])) < 1.0
    True
    """
    a, one_d = as_2d(returns)
    ex = a - _rf_per_period(risk_free, periods_per_year)
    n, mean, sd = _std(ex, ddof)
    sr = _safe_div(mean, sd)
    m2, m3, m4 = _central_sums(a, _mean(a, n), (2, 3, 4))
    sk = skew_from_sums(n, m2, m3)
    ku = kurtosis_from_sums(n, m2, m4)
    sr0 = sharpe_benchmark / math.sqrt(periods_per_year)
    return finish(psr_from_stats(sr, sk, ku, n, sr0), one_d)


def deflated_sharpe_ratio(
    returns: npt.ArrayLike,
    /,
    *,
    n_trials: int,
    trials_sharpe_variance: float,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
    ddof: int = 1,
) -> Any:
    """Deflated Sharpe ratio (Bailey & Lopez de Prado, 2014): PSR against the expected best.

    The benchmark is the expected maximum Sharpe ratio of `n_trials` independent trials
    with true Sharpe 0 and variance `trials_sharpe_variance` (of the *annualized* Sharpe
    ratios of the trials):
    ``SR0 = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))``, g the
    Euler-Mascheroni constant.

    Examples
    --------
    >>> r = np.random.default_rng(1).normal(0.001, 0.01, 500)
    >>> float(deflated_sharpe_ratio(r, n_trials=100, trials_sharpe_variance=0.5)) < float(
    ...     probabilistic_sharpe_ratio(r))
    True
    """
    if n_trials < 1:
        msg = f"n_trials must be >= 1, got {n_trials}"
        raise ArgumentError(msg)
    if trials_sharpe_variance < 0:
        msg = f"trials_sharpe_variance must be >= 0, got {trials_sharpe_variance}"
        raise ArgumentError(msg)
    if n_trials == 1:
        sr0 = 0.0
    else:
        sr0 = math.sqrt(trials_sharpe_variance) * (
            (1.0 - EULER_GAMMA) * float(ndtri(1.0 - 1.0 / n_trials))
            + EULER_GAMMA * float(ndtri(1.0 - 1.0 / (n_trials * math.e)))
        )
    return probabilistic_sharpe_ratio(
        returns,
        sharpe_benchmark=sr0,
        periods_per_year=periods_per_year,
        risk_free=risk_free,
        ddof=ddof,
    )


# ----------------------------------------------------------------------------- benchmark
def _paired(
    returns: npt.ArrayLike, benchmark: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, bool]:
    a, one_d = as_2d(returns)
    b = np.asarray(benchmark, dtype=np.float64)
    if b.ndim == 1:
        b = b[:, None]
    if b.shape[0] != a.shape[0] or b.shape[1] not in (1, a.shape[1]):
        msg = (
            f"benchmark must have one value per period ({a.shape[0]}) and one column or one "
            f"per series ({a.shape[1]}), got shape {b.shape}"
        )
        raise ArgumentError(msg)
    b = np.broadcast_to(b, a.shape)
    both = ~np.isnan(a) & ~np.isnan(b)
    return np.where(both, a, np.nan), np.where(both, b, np.nan), one_d


def _cov_stats(a: FloatArray, b: FloatArray, ddof: int) -> dict[str, FloatArray]:
    n = _count(a)
    ma, mb = _mean(a, n), _mean(b, n)
    da = np.where(np.isnan(a), 0.0, a - ma)
    db = np.where(np.isnan(b), 0.0, b - mb)
    saa = np.sum(da * da, axis=0)
    sbb = np.sum(db * db, axis=0)
    sab = np.sum(da * db, axis=0)
    sbb = np.where(_is_constant(b), 0.0, sbb)
    saa = np.where(_is_constant(a), 0.0, saa)
    return {"n": n, "ma": ma, "mb": mb, "saa": saa, "sbb": sbb, "sab": sab}


def beta(returns: npt.ArrayLike, benchmark: npt.ArrayLike, /) -> Any:
    """``cov(r, b) / var(b)`` over the periods where both are observed; NaN if var(b) == 0.

    Examples
    --------
    >>> round(float(beta([0.02, -0.02, 0.04], [0.01, -0.01, 0.02])), 12)
    2.0
    """
    a, b, one_d = _paired(returns, benchmark)
    s = _cov_stats(a, b, 1)
    return finish(np.where(s["n"] >= 2, _safe_div(s["sab"], s["sbb"]), np.nan), one_d)


def alpha(
    returns: npt.ArrayLike,
    benchmark: npt.ArrayLike,
    /,
    *,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
) -> Any:
    """Jensen's alpha, annualized arithmetically: ``(mean(x) - beta * mean(y)) * ppy``.

    ``x = r - rf_p``, ``y = b - rf_p`` on the paired periods. This is QuantStats' ``greeks``
    alpha; empyrical compounds instead: ``(1 + alpha / ppy) ** ppy - 1``.

    Examples
    --------
    >>> round(float(alpha([0.03, -0.01, 0.05], [0.01, -0.01, 0.02], periods_per_year=1)), 12)
    0.01
    """
    a, b, one_d = _paired(returns, benchmark)
    rf = _rf_per_period(risk_free, periods_per_year)
    s = _cov_stats(a, b, 1)
    bt = _safe_div(s["sab"], s["sbb"])
    al = ((s["ma"] - rf) - bt * (s["mb"] - rf)) * periods_per_year
    return finish(np.where(s["n"] >= 2, al, np.nan), one_d)


def correlation(returns: npt.ArrayLike, benchmark: npt.ArrayLike, /) -> Any:
    """Pearson correlation over the paired periods; NaN if either is constant.

    Examples
    --------
    >>> round(float(correlation([0.02, -0.02, 0.04], [0.01, -0.01, 0.02])), 12)
    1.0
    """
    a, b, one_d = _paired(returns, benchmark)
    s = _cov_stats(a, b, 1)
    c = _safe_div(s["sab"], np.sqrt(s["saa"] * s["sbb"]))
    return finish(np.where(s["n"] >= 2, np.clip(c, -1.0, 1.0), np.nan), one_d)


def r_squared(returns: npt.ArrayLike, benchmark: npt.ArrayLike, /) -> Any:
    """Square of the correlation (R^2 of the regression of returns on the benchmark)."""
    c = correlation(returns, benchmark)
    return c * c


def tracking_error(
    returns: npt.ArrayLike,
    benchmark: npt.ArrayLike,
    /,
    *,
    periods_per_year: float = TRADING_DAYS,
    ddof: int = 1,
) -> Any:
    """Annualized standard deviation of the active return ``r - b`` (paired periods)."""
    a, b, one_d = _paired(returns, benchmark)
    _, _, sd = _std(a - b, ddof)
    return finish(sd * math.sqrt(periods_per_year), one_d)


def information_ratio(
    returns: npt.ArrayLike,
    benchmark: npt.ArrayLike,
    /,
    *,
    periods_per_year: float = TRADING_DAYS,
    ddof: int = 1,
) -> Any:
    """Annualized information ratio ``mean(r - b) / std(r - b) * sqrt(ppy)``.

    QuantStats and empyrical (``excess_sharpe``) do not annualize: divide by
    ``sqrt(periods_per_year)`` for their figure.
    """
    a, b, one_d = _paired(returns, benchmark)
    n, mean, sd = _std(a - b, ddof)
    ir = _safe_div(mean, sd) * math.sqrt(periods_per_year)
    return finish(np.where(n >= 2, ir, np.nan), one_d)


def _capture(
    returns: npt.ArrayLike, benchmark: npt.ArrayLike, up: bool, periods_per_year: float
) -> Any:
    a, b, one_d = _paired(returns, benchmark)
    sel = (b > 0) if up else (b < 0)
    n = np.sum(sel, axis=0).astype(np.float64)
    wa = np.prod(np.where(sel, 1.0 + a, 1.0), axis=0)
    wb = np.prod(np.where(sel, 1.0 + b, 1.0), axis=0)
    ga = cagr_from_wealth(wa, n, periods_per_year)
    gb = cagr_from_wealth(wb, n, periods_per_year)
    return finish(_safe_div(ga, gb), one_d)


def up_capture(
    returns: npt.ArrayLike, benchmark: npt.ArrayLike, /, *, periods_per_year: float = TRADING_DAYS
) -> Any:
    """CAGR of the returns over CAGR of the benchmark, on periods where the benchmark rose.

    empyrical's ``up_capture`` (years = number of those periods / ppy).
    """
    return _capture(returns, benchmark, True, periods_per_year)


def down_capture(
    returns: npt.ArrayLike, benchmark: npt.ArrayLike, /, *, periods_per_year: float = TRADING_DAYS
) -> Any:
    """As :func:`up_capture`, on the periods where the benchmark fell (empyrical)."""
    return _capture(returns, benchmark, False, periods_per_year)


# ----------------------------------------------------------------------------- rolling
@nb.njit(cache=True)
def _rolling_moments(a: FloatArray, b: FloatArray, window: int, kind: int) -> FloatArray:
    """Rolling statistics over full windows (any NaN in the window -> NaN).

    kind 0: mean / std (ddof 1); 1: std (ddof 1); 2: cov(a, b) / var(b).
    Each window is computed two-pass from scratch (O(periods x window)): exact, no running
    sums to drift; rolling output is not on the 10,000-column fast path.
    """
    n_rows, n_cols = a.shape
    out = np.full((n_rows, n_cols), np.nan)
    if window > n_rows:
        return out
    for j in range(n_cols):
        for t in range(window - 1, n_rows):
            s_a = 0.0
            s_b = 0.0
            bad = False
            for k in range(t - window + 1, t + 1):
                x = a[k, j]
                y = b[k, j] if kind == 2 else 0.0
                if math.isnan(x) or math.isnan(y):
                    bad = True
                    break
                s_a += x
                s_b += y
            if bad:
                continue
            ma = s_a / window
            mb = s_b / window
            saa = 0.0
            sbb = 0.0
            sab = 0.0
            for k in range(t - window + 1, t + 1):
                da = a[k, j] - ma
                saa += da * da
                if kind == 2:
                    db = b[k, j] - mb
                    sbb += db * db
                    sab += da * db
            if kind == 0:
                out[t, j] = ma / math.sqrt(saa / (window - 1)) if saa > 0 else np.nan
            elif kind == 1:
                out[t, j] = math.sqrt(saa / (window - 1))
            else:
                out[t, j] = sab / sbb if sbb > 0 else np.nan
    return out


def _check_window(window: int, n_rows: int) -> None:
    if window < 2:
        msg = f"window must be >= 2 periods, got {window}"
        raise ArgumentError(msg)


def rolling_sharpe(
    returns: npt.ArrayLike,
    /,
    *,
    window: int = 126,
    periods_per_year: float = TRADING_DAYS,
    risk_free: float = 0.0,
) -> FloatArray:
    """Annualized Sharpe ratio over each trailing `window` (NaN until full; NaN in -> NaN).

    Same shape as `returns`; equals QuantStats' ``rolling_sharpe`` (pandas rolling).
    """
    a, one_d = as_2d(returns)
    _check_window(window, a.shape[0])
    ex = a - _rf_per_period(risk_free, periods_per_year)
    out = _rolling_moments(np.ascontiguousarray(ex), ex, window, 0) * math.sqrt(periods_per_year)
    return out[:, 0] if one_d else out


def rolling_volatility(
    returns: npt.ArrayLike, /, *, window: int = 126, periods_per_year: float = TRADING_DAYS
) -> FloatArray:
    """Annualized volatility over each trailing `window` (ddof=1), same shape as `returns`."""
    a, one_d = as_2d(returns)
    _check_window(window, a.shape[0])
    out = _rolling_moments(np.ascontiguousarray(a), a, window, 1) * math.sqrt(periods_per_year)
    return out[:, 0] if one_d else out


def rolling_beta(
    returns: npt.ArrayLike, benchmark: npt.ArrayLike, /, *, window: int = 126
) -> FloatArray:
    """Beta over each trailing `window`; a window with a NaN in either series gives NaN."""
    a, one_d = as_2d(returns)
    _check_window(window, a.shape[0])
    b = np.asarray(benchmark, dtype=np.float64)
    if b.ndim == 1:
        b = b[:, None]
    if b.shape[0] != a.shape[0]:
        msg = f"benchmark must have one value per period ({a.shape[0]}), got {b.shape[0]}"
        raise ArgumentError(msg)
    b = np.ascontiguousarray(np.broadcast_to(b, a.shape))
    out = _rolling_moments(np.ascontiguousarray(a), b, window, 2)
    return out[:, 0] if one_d else out
