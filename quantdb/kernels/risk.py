"""Value at risk, conditional value at risk (expected shortfall) and stress helpers.

Sign convention: VaR and CVaR are **returns**, so a loss is **negative** (``-0.021`` = lose
2.1 % of capital in one period), as QuantStats and empyrical return them. ``confidence`` is
the level (0.95); the tail probability is ``alpha = 1 - confidence`` (rounded to 12 digits,
so 0.95 gives exactly 0.05). NaN periods are skipped; too few observations give NaN.

Methods (``VarMethod`` in ``quantdb._typing``):

``historical``
    VaR = the ``alpha`` quantile with linear interpolation (``np.percentile``: empyrical's
    ``value_at_risk``). CVaR = mean of the ``int((n - 1) * alpha) + 1`` smallest returns
    (empyrical's ``conditional_value_at_risk``).
``parametric``
    Normal: VaR = ``mean + std * Phi^-1(alpha)`` with the sample mean and ``std`` (ddof=1):
    QuantStats' ``value_at_risk``. CVaR = ``mean - std * phi(Phi^-1(alpha)) / alpha``, the
    normal expected shortfall: QuantStats' ``cvar`` / ``expected_shortfall`` default.
``cornish-fisher``
    Modified VaR (Favre & Galeano, 2002): the normal quantile ``z`` corrected with the
    sample skew ``S`` and excess kurtosis ``K`` (pandas' bias-corrected estimators),
    ``z_cf = z + (z^2 - 1) S / 6 + (z^3 - 3z) K / 24 - (2 z^3 - 5z) S^2 / 36``,
    VaR = ``mean + std * z_cf``. CVaR is the exact mean of that Cornish-Fisher quantile
    function over the tail, ``(1 / alpha) * integral_0^alpha z_cf(p) dp``, in closed form
    (the normal partial moments of z, z^2, z^3). Both are **NaN when the expansion is out of
    order at that level** (:func:`cornish_fisher_ordered`): a quantile function never
    decreases, so the ``alpha`` quantile (``alpha < 1/2``) cannot lie above the expansion's
    quantile at any level of the central band ``[alpha, 1 - alpha]``; when the skew and
    kurtosis bend the cubic so that it does (fat tails: a t(2.5) sample's 95 % "VaR" comes out
    as a gain), the figure is not a quantile of anything.

:func:`cvar_quantstats` reproduces QuantStats' ``cvar`` (both of its methods).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from quantdb._typing import FloatArray, VarMethod
from quantdb.errors import ArgumentError
from quantdb.kernels.columns import as_2d, finish
from quantdb.kernels.metrics import (
    _central_sums,
    _count,
    _is_constant,
    _mean,
    kurtosis_from_sums,
    skew_from_sums,
)
from quantdb.kernels.periods import TRADING_DAYS

__all__ = [
    "conditional_value_at_risk",
    "cornish_fisher_ordered",
    "cornish_fisher_z",
    "cvar_quantstats",
    "scale_to_horizon",
    "scale_volatility",
    "stress_beta_shock",
    "value_at_risk",
]

_METHODS = ("historical", "parametric", "cornish-fisher")
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _alpha(confidence: float) -> float:
    """The tail probability; ``confidence`` is trusted (checked once at the service edge by
    `quantdb.services.live.risk.parse_confidences`)."""
    return round(1.0 - confidence, 12)


def _check_method(method: str) -> None:
    if method not in _METHODS:
        msg = f"method must be one of {', '.join(_METHODS)}, got {method!r}"
        raise ArgumentError(msg)


def _normal_pdf(z: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * z * z)


def cornish_fisher_z(z: Any, skewness: Any, excess_kurtosis: Any) -> Any:
    """Cornish-Fisher corrected quantile of a standard normal quantile `z`.

    Examples
    --------
    >>> float(cornish_fisher_z(-1.6448536269514722, 0.0, 0.0))
    -1.6448536269514722
    """
    s, k = skewness, excess_kurtosis
    return (
        z
        + (z**2 - 1.0) * s / 6.0
        + (z**3 - 3.0 * z) * k / 24.0
        - (2.0 * z**3 - 5.0 * z) * s**2 / 36.0
    )


def cornish_fisher_ordered(z: float, skewness: Any, excess_kurtosis: Any) -> Any:
    """Whether the Cornish-Fisher quantile at the normal quantile ``z`` is in order.

    For ``z < 0`` (a level ``alpha = Phi(z)`` below 1/2): ``z_cf(z) <= z_cf(u)`` for every
    ``u`` in ``[z, -z]``, i.e. no level of the central band ``[alpha, 1 - alpha]`` gets a lower
    corrected quantile than ``alpha`` (any quantile function satisfies it); for ``z > 0`` the
    mirror image (``z_cf(z)`` the highest on ``[-z, z]``). Exact: the cubic's minimum over the
    band is at an end or at a root of its derivative. NaN moments give False.

    Examples
    --------
    >>> z = -1.6448536269514722  # 95 %
    >>> bool(cornish_fisher_ordered(z, 0.0, 3.0)), bool(cornish_fisher_ordered(z, 0.0, 90.0))
    (True, False)
    """
    s = np.asarray(skewness, dtype=np.float64)
    k = np.asarray(excess_kurtosis, dtype=np.float64)
    if z > 0.0:  # z_cf(u; S, K) = -z_cf(-u; -S, K): the upper case is the lower one mirrored
        return cornish_fisher_ordered(-z, -s, k)
    at = cornish_fisher_z(z, s, k)
    low = np.minimum(at, cornish_fisher_z(-z, s, k))
    # z_cf(u) = a3 u^3 + s/6 u^2 + a1 u - s/6; its derivative 3 a3 u^2 + s/3 u + a1
    a3 = k / 24.0 - s * s / 18.0
    a1 = 1.0 - k / 8.0 + 5.0 * s * s / 36.0
    qa, qb = 3.0 * a3, s / 3.0
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(qb * qb - 4.0 * qa * a1)
        stationary = (
            (-qb + root) / (2.0 * qa),
            (-qb - root) / (2.0 * qa),
            np.where(qa == 0.0, -a1 / qb, np.nan),
        )
    for u in stationary:
        inside = (u > z) & (u < -z)
        low = np.where(inside, np.minimum(low, cornish_fisher_z(np.where(inside, u, 0.0), s, k)), low)
    return at <= low


def cornish_fisher_tail_mean(alpha: float, skewness: Any, excess_kurtosis: Any) -> Any:
    """``(1 / alpha) * integral_0^alpha z_cf(p) dp``: the tail mean of the CF quantile function.

    With ``c = Phi^-1(alpha)`` and ``I_k = integral_{-inf}^c z^k phi(z) dz``:
    ``I0 = alpha``, ``I1 = -phi(c)``, ``I2 = alpha - c phi(c)``, ``I3 = -(c^2 + 2) phi(c)``.
    """
    c = float(ndtri(alpha))
    pdf = _normal_pdf(c)
    i0, i1, i2, i3 = alpha, -pdf, alpha - c * pdf, -(c * c + 2.0) * pdf
    s, k = skewness, excess_kurtosis
    total = (
        i1 + (i2 - i0) * s / 6.0 + (i3 - 3.0 * i1) * k / 24.0 - (2.0 * i3 - 5.0 * i1) * s**2 / 36.0
    )
    return total / alpha


def _moments(a: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """n, mean, std (ddof 1), skew, excess kurtosis per column (constant: std 0, S = K = 0)."""
    n = _count(a)
    mean = _mean(a, n)
    m2, m3, m4 = _central_sums(a, mean, (2, 3, 4))
    const = _is_constant(a)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sd = np.sqrt(np.where(n >= 2, np.where(const, 0.0, m2) / (n - 1.0), np.nan))
    sk = np.where(const, 0.0, skew_from_sums(n, m2, m3))
    ku = np.where(const, 0.0, kurtosis_from_sums(n, m2, m4))
    return n, mean, sd, sk, ku


def _historical_var(a: FloatArray, alpha: float) -> FloatArray:
    out = np.full(a.shape[1], np.nan)
    ok = _count(a) > 0
    if np.any(ok):
        out[ok] = np.nanquantile(a[:, ok], alpha, axis=0)
    return out


def value_at_risk(
    returns: npt.ArrayLike,
    /,
    *,
    confidence: float = 0.95,
    method: VarMethod = "historical",
) -> Any:
    """One-period value at risk as a (negative) return; see the module docstring.

    Parameters
    ----------
    returns : array_like
        Simple returns, 1-D or (periods x series).
    confidence : float
        Confidence level in (0, 1).
    method : {"historical", "parametric", "cornish-fisher"}
        Estimator (module docstring).

    Returns
    -------
    float or ndarray
        The ``1 - confidence`` quantile of the return distribution: negative for a loss.
        NaN without observations (historical) or with fewer than 2 (parametric) or 4
        (Cornish-Fisher) observations; Cornish-Fisher also NaN when the expansion is out of
        order at that level (:func:`cornish_fisher_ordered`).

    Examples
    --------
    >>> float(value_at_risk(np.arange(-50, 51) / 1000, confidence=0.95))
    -0.045
    """
    _check_method(method)
    alpha = _alpha(confidence)
    a, one_d = as_2d(returns)
    if method == "historical":
        return finish(_historical_var(a, alpha), one_d)
    _, mean, sd, sk, ku = _moments(a)
    z = float(ndtri(alpha))
    if method == "parametric":
        return finish(mean + sd * z, one_d)
    var = np.where(cornish_fisher_ordered(z, sk, ku), mean + sd * cornish_fisher_z(z, sk, ku), np.nan)
    return finish(var, one_d)


def conditional_value_at_risk(
    returns: npt.ArrayLike,
    /,
    *,
    confidence: float = 0.95,
    method: VarMethod = "historical",
) -> Any:
    """Expected return in the worst ``1 - confidence`` tail (negative for a loss).

    ``historical`` is empyrical's CVaR (mean of the ``int((n-1) alpha) + 1`` smallest
    returns), ``parametric`` the normal expected shortfall (QuantStats' ``cvar`` default),
    ``cornish-fisher`` the tail mean of the Cornish-Fisher quantile function.

    Examples
    --------
    >>> round(float(conditional_value_at_risk(np.arange(-50, 51) / 1000, confidence=0.95)), 10)
    -0.0475
    """
    _check_method(method)
    alpha = _alpha(confidence)
    a, one_d = as_2d(returns)
    if method == "historical":
        n = _count(a)
        out = np.full(a.shape[1], np.nan)
        for j in np.flatnonzero(n > 0):
            col = a[:, j]
            col = col[~np.isnan(col)]
            k = int((col.shape[0] - 1) * alpha)
            out[j] = np.mean(np.partition(col, k)[: k + 1])
        return finish(out, one_d)
    _, mean, sd, sk, ku = _moments(a)
    if method == "parametric":
        z = float(ndtri(alpha))
        return finish(mean - sd * _normal_pdf(z) / alpha, one_d)
    ordered = cornish_fisher_ordered(float(ndtri(alpha)), sk, ku)
    return finish(np.where(ordered, mean + sd * cornish_fisher_tail_mean(alpha, sk, ku), np.nan), one_d)


def cvar_quantstats(
    returns: npt.ArrayLike,
    /,
    *,
    confidence: float = 0.95,
    method: Literal["parametric", "historical"] = "parametric",
) -> Any:
    """QuantStats' ``cvar`` / ``expected_shortfall`` (0.0.83 and later).

    ``parametric`` (QuantStats' default): the normal expected shortfall, the same as
    ``conditional_value_at_risk(method="parametric")``. ``historical``: the mean of the
    returns at or below the linearly interpolated ``alpha`` quantile (ties at the quantile
    included), which differs from empyrical's fixed-count tail when the quantile falls
    between observations or on ties.

    Examples
    --------
    >>> round(float(cvar_quantstats(np.arange(-50, 51) / 1000, method="historical")), 10)
    -0.0475
    """
    if method not in ("parametric", "historical"):
        msg = f"method must be 'parametric' or 'historical', got {method!r}"
        raise ArgumentError(msg)
    if method == "parametric":
        return conditional_value_at_risk(returns, confidence=confidence, method="parametric")
    alpha = _alpha(confidence)
    a, one_d = as_2d(returns)
    q = _historical_var(a, alpha)
    with np.errstate(invalid="ignore"):
        tail = a <= q
    cnt = np.sum(tail, axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = np.where(cnt > 0, np.sum(np.where(tail, a, 0.0), axis=0) / cnt, np.nan)
    return finish(out, one_d)


def stress_beta_shock(betas: npt.ArrayLike, shock: float, /) -> Any:
    """Return of each series under a benchmark move of `shock`, through its beta.

    ``betas * shock``: a -20 % market shock on a beta of 1.5 gives -30 % (a negative
    return is a loss, as for VaR). Linear: ignores alpha and idiosyncratic risk.

    Examples
    --------
    >>> stress_beta_shock(np.array([1.5, 0.5]), -0.2).round(6).tolist()
    [-0.3, -0.1]
    """
    b = np.asarray(betas, dtype=np.float64)
    out = b * float(shock)
    return np.float64(out) if out.ndim == 0 else out


def scale_to_horizon(value: Any, horizon_periods: float, /) -> Any:
    """Square-root-of-time scaling of a one-period VaR or volatility to `horizon_periods`.

    Exact only for independent, zero-mean normal returns; a convenience for the risk report.

    Examples
    --------
    >>> float(scale_to_horizon(-0.02, 4))
    -0.04
    """
    if horizon_periods <= 0:
        msg = f"horizon_periods must be > 0, got {horizon_periods}"
        raise ArgumentError(msg)
    return np.asarray(value, dtype=np.float64) * math.sqrt(horizon_periods)


def scale_volatility(
    returns: npt.ArrayLike,
    /,
    *,
    target: float,
    periods_per_year: float = TRADING_DAYS,
) -> FloatArray:
    """Returns levered (per column) to an annualized volatility of `target`.

    Each column is multiplied by ``target / annual_volatility`` (ddof=1); a constant column (no
    volatility) becomes NaN. Used to compare VaR of strategies at equal risk.

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(0, 0.02, 300)
    >>> from quantdb.kernels.metrics import annual_volatility
    >>> round(float(annual_volatility(scale_volatility(r, target=0.1))), 12)
    0.1
    """
    a, one_d = as_2d(returns)
    _, _, sd, _, _ = _moments(a)
    vol = sd * math.sqrt(periods_per_year)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        k = np.where(vol > 0, target / vol, np.nan)
    out = a * k
    return out[:, 0] if one_d else out
