"""Period constants and rate conversions shared by every metric kernel.

Conventions (see ``docs/metrics.md``):

* Daily data has ``TRADING_DAYS = 252`` periods a year, weekly 52, monthly 12. Every kernel
  takes ``periods_per_year`` keyword-only and defaults to 252.
* A risk-free rate is given **annual** and de-annualized **geometrically**,
  ``(1 + rf) ** (1 / periods_per_year) - 1``, as QuantStats does, so that compounding the
  per-period rate for one year gives back the annual rate.
"""

from __future__ import annotations

import numpy as np

TRADING_DAYS: int = 252
"""Trading days in a year: the default ``periods_per_year`` of every kernel."""
WEEKS: int = 52
"""Weeks in a year, for weekly returns."""
MONTHS: int = 12
"""Months in a year, for monthly returns."""


def deannualize_rate(rate: float, periods_per_year: float = TRADING_DAYS) -> float:
    """Per-period rate that compounds to the annual `rate` over one year.

    Parameters
    ----------
    rate : float
        Annual rate as a fraction (0.04 for 4 %). Must be above -1.
    periods_per_year : float
        Periods in one year (252 for daily returns).

    Returns
    -------
    float
        ``(1 + rate) ** (1 / periods_per_year) - 1``; ``rate`` itself when
        ``periods_per_year == 1``.

    Examples
    --------
    >>> round(deannualize_rate(0.04, 252), 10)
    0.0001556499
    >>> deannualize_rate(0.0)
    0.0
    """
    if rate == 0.0:
        return 0.0
    return float(np.expm1(np.log1p(rate) / periods_per_year))


def annualize_rate(rate: float, periods_per_year: float = TRADING_DAYS) -> float:
    """Annual rate from a per-period `rate`, compounding: the inverse of :func:`deannualize_rate`.

    Examples
    --------
    >>> round(annualize_rate(deannualize_rate(0.05)), 12)
    0.05
    """
    if rate == 0.0:
        return 0.0
    return float(np.expm1(np.log1p(rate) * periods_per_year))
