"""Monte Carlo resampling of returns: i.i.d. and stationary block bootstrap, streamed in chunks.

A path is ``horizon`` draws from a 1-D sample of period returns (daily returns of a backtest,
or the per-trade equity returns of its trade sequence):

* ``"iid"``: each draw is an independent uniform pick (Efron's bootstrap);
* ``"block"``: the stationary bootstrap of Politis & Romano (1994): a path is made of blocks
  that start at a uniform random index and run on circularly, each block's length geometric
  with mean ``block``, so serial dependence shorter than a block survives while the resampled
  series stays stationary.

Paths are generated and measured ``chunk_paths`` at a time: a chunk is a (horizon x paths)
matrix of returns, C-contiguous, that goes through the metric kernels of
:mod:`quantdb.kernels.metrics` and :mod:`quantdb.kernels.drawdown` in one vectorized call each,
then is dropped. Only per-path metrics (five floats a path) and the equity at ``cone_points``
evenly spaced steps are kept, so memory is bounded by

``chunk_paths * horizon * 8 * 4`` bytes (index, returns, two metric temporaries) ``+ n_paths * (5 +
cone_points) * 8`` bytes,

whatever ``n_paths``: 10,000 x 2,520 with ``chunk_paths=128`` and 64 cone points is about
15 MiB, against 200 MiB for the full return matrix alone.

Reproducible: the random stream of path ``p`` comes from the child ``p // 128`` of
``np.random.SeedSequence(seed)``, so a seed gives the same paths whatever ``chunk_paths``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.kernels.drawdown import drawdown_stats
from quantdb.kernels.metrics import cagr_from_wealth, sharpe_ratio
from quantdb.kernels.periods import TRADING_DAYS

__all__ = [
    "METRICS",
    "PATHS_PER_STREAM",
    "MonteCarloPaths",
    "bootstrap_indices",
    "monte_carlo",
    "probability_of_ruin",
    "quantile_table",
]

Method = Literal["iid", "block"]
PATHS_PER_STREAM = 128
"""Paths drawn from one child random stream (the unit that makes results chunk-independent)."""
METRICS = ("final_return", "cagr", "sharpe", "max_drawdown", "time_under_water")
"""Per-path metrics, in the order of :attr:`MonteCarloPaths.metrics`."""


@dataclass(frozen=True)
class MonteCarloPaths:
    """Per-path metrics of a Monte Carlo run and the equity cone.

    Attributes
    ----------
    final_return, cagr, sharpe, max_drawdown, time_under_water : ``(n_paths,)`` arrays.
        ``max_drawdown`` is a negative fraction; ``time_under_water`` the longest run under
        the running peak, in periods.
    cone_steps : ``(k,)`` step numbers (1-based: wealth after that many draws) of the cone.
    cone_wealth : ``(k, n_paths)`` wealth (starting at 1.0) of every path at ``cone_steps``.
    horizon, periods_per_year : the path length and the annualisation used.
    """

    final_return: FloatArray
    cagr: FloatArray
    sharpe: FloatArray
    max_drawdown: FloatArray
    time_under_water: FloatArray
    cone_steps: npt.NDArray[np.int64]
    cone_wealth: FloatArray
    horizon: int
    periods_per_year: float

    @property
    def n_paths(self) -> int:
        return int(self.final_return.shape[0])

    def metric(self, name: str) -> FloatArray:
        """One per-path metric by name (one of :data:`METRICS`)."""
        if name not in METRICS:
            msg = f"metric must be one of {METRICS}, got {name!r}"
            raise ArgumentError(msg)
        return getattr(self, name)  # type: ignore[no-any-return]

    def cone(self, quantiles: npt.ArrayLike = (0.05, 0.25, 0.5, 0.75, 0.95)) -> FloatArray:
        """Quantiles of wealth across paths at each cone step: ``(k, len(quantiles))``."""
        q = np.asarray(quantiles, dtype=np.float64)
        return np.quantile(self.cone_wealth, q, axis=1).T


def _check_block(method: Method, block: float) -> None:
    """``method`` is trusted (the service parses it once); ``block`` must be a usable mean."""
    if method == "block" and not block >= 1:
        msg = f"block (mean block length) must be >= 1, got {block}"
        raise ArgumentError(msg)


def bootstrap_indices(
    n_obs: int,
    horizon: int,
    n_paths: int,
    /,
    *,
    method: Method = "iid",
    block: float = 20.0,
    rng: np.random.Generator,
) -> npt.NDArray[np.intp]:
    """Indices into a sample of ``n_obs`` observations: ``(horizon, n_paths)``, C order.

    One uniform draw a step from ``rng.random((horizon, n_paths))`` (the stream
    :func:`monte_carlo` uses, so its paths are ``sample[bootstrap_indices(...)]`` for the
    generator of each block of :data:`PATHS_PER_STREAM` paths). ``"iid"`` draws each index
    uniformly. ``"block"`` is the stationary bootstrap: at every
    step a new block starts with probability ``1 / block`` (always at step 0) at a uniform
    index; otherwise the index is the previous one plus one, modulo ``n_obs``. Block lengths
    are then geometric with mean ``block``.

    Examples
    --------
    >>> idx = bootstrap_indices(10, 5, 3, rng=np.random.default_rng(0))
    >>> idx.shape, bool(idx.min() >= 0), bool(idx.max() < 10)
    ((5, 3), True, True)
    """
    _check_block(method, block)
    p = 1.0 if method == "iid" else 1.0 / block
    return _stationary_indices(rng.random((horizon, n_paths)), p, n_obs)


@njit(cache=True, nogil=True, inline="always")
def _step_index(v: float, p: float, prev: int, n_obs: int) -> int:  # pragma: no cover
    """Next index from one uniform draw ``v``: a new block when ``v < p`` (``v / p`` is then
    itself uniform on [0, 1) and independent of the decision, so it places the block's
    start), else the previous index plus one, circularly. ``p = 1`` is the i.i.d. bootstrap."""
    if v < p:
        return min(int(v / p * n_obs), n_obs - 1)
    nxt = prev + 1
    return 0 if nxt == n_obs else nxt


@njit(cache=True, nogil=True)
def _stationary_indices(u: FloatArray, p: float, n_obs: int) -> npt.NDArray[np.intp]:  # pragma: no cover
    """Stationary-bootstrap indices, one uniform draw ``u[t, j]`` a step (row 0 always new)."""
    n_rows, n_cols = u.shape
    out = np.empty((n_rows, n_cols), dtype=np.intp)
    for t in range(n_rows):
        for j in range(n_cols):
            out[t, j] = _step_index(u[t, j], 1.0 if t == 0 else p, out[t - 1, j] if t else 0, n_obs)
    return out


@njit(cache=True, nogil=True)
def _resample(sample: FloatArray, u: FloatArray, p: float) -> FloatArray:  # pragma: no cover
    """``sample[_stationary_indices(u, p, len(sample))]`` without the index matrix."""
    n_rows, n_cols = u.shape
    n_obs = sample.shape[0]
    out = np.empty((n_rows, n_cols))
    idx = np.zeros(n_cols, dtype=np.intp)
    for t in range(n_rows):
        for j in range(n_cols):
            i = _step_index(u[t, j], 1.0 if t == 0 else p, idx[j], n_obs)
            idx[j] = i
            out[t, j] = sample[i]
    return out


@njit(cache=True, nogil=True)
def _wealth_at(r: FloatArray, steps: npt.NDArray[np.int64]) -> FloatArray:  # pragma: no cover
    """Compounded wealth (from 1.0) of every column after ``steps[k]`` rows: ``(k, columns)``.

    One pass over the rows in memory order with one running product per column, so no wealth
    matrix of the size of ``r`` is ever made.
    """
    n_rows, n_cols = r.shape
    out = np.empty((steps.shape[0], n_cols))
    w = np.ones(n_cols)
    k = 0
    for t in range(n_rows):
        for j in range(n_cols):
            w[j] *= 1.0 + r[t, j]
        while k < steps.shape[0] and steps[k] == t + 1:
            out[k] = w
            k += 1
    return out


def _cone_steps(horizon: int, cone_points: int) -> npt.NDArray[np.int64]:
    k = max(1, min(cone_points, horizon))
    return np.unique(np.round(np.linspace(1, horizon, k)).astype(np.int64))


def monte_carlo(
    returns: npt.ArrayLike,
    /,
    *,
    n_paths: int = 10_000,
    horizon: int | None = None,
    method: Method = "iid",
    block: float = 20.0,
    seed: int | None = 0,
    periods_per_year: float = TRADING_DAYS,
    cone_points: int = 64,
    chunk_paths: int = 128,
) -> MonteCarloPaths:
    """Bootstrap paths of `returns` and measure each path, ``chunk_paths`` paths at a time.

    Parameters
    ----------
    returns : array_like
        1-D sample of simple period returns (NaN observations are dropped first).
    n_paths : int
        Number of paths.
    horizon : int, optional
        Draws per path; the sample length by default.
    method : {"iid", "block"}
        i.i.d. bootstrap or stationary block bootstrap (Politis & Romano).
    block : float
        Mean block length for ``"block"`` (geometric lengths).
    seed : int or None
        Seed of ``np.random.SeedSequence``; the same seed gives the same paths whatever
        ``chunk_paths``.
    periods_per_year : float
        Annualisation of CAGR and Sharpe (252 for daily returns; trades per year for a trade
        sequence).
    cone_points : int
        Steps (evenly spaced, the last one included) at which every path's wealth is kept.
    chunk_paths : int
        Paths per chunk (rounded up to a multiple of :data:`PATHS_PER_STREAM`): the memory knob.

    Returns
    -------
    MonteCarloPaths

    Raises
    ------
    ArgumentError
        when the sample is empty or an option is out of range (``method`` is trusted: it is
        parsed once by the service, `quantdb.services.research.montecarlo.parse_mc_method`).

    Examples
    --------
    >>> r = np.random.default_rng(1).normal(0.0005, 0.01, 500)
    >>> mc = monte_carlo(r, n_paths=300, seed=7)
    >>> mc.n_paths, mc.horizon, bool((mc.max_drawdown <= 0).all())
    (300, 500, True)
    """
    sample = np.asarray(returns, dtype=np.float64)
    if sample.ndim != 1:
        msg = f"returns must be a 1-D sample, got {sample.ndim}-D"
        raise ArgumentError(msg)
    sample = sample[~np.isnan(sample)]
    if sample.size == 0:
        msg = "returns has no observation to resample"
        raise ArgumentError(msg)
    horizon = int(sample.size if horizon is None else horizon)
    if horizon < 1 or n_paths < 1:
        msg = f"horizon and n_paths must be >= 1, got {horizon} and {n_paths}"
        raise ArgumentError(msg)
    _check_block(method, block)
    per = PATHS_PER_STREAM
    chunk = max(per, math.ceil(chunk_paths / per) * per)
    streams = np.random.SeedSequence(seed).spawn(math.ceil(n_paths / per))
    steps = _cone_steps(horizon, cone_points)
    prob = 1.0 if method == "iid" else 1.0 / block

    out = {name: np.empty(n_paths) for name in METRICS}
    cone = np.empty((steps.size, n_paths))
    for lo in range(0, n_paths, chunk):
        hi = min(lo + chunk, n_paths)
        u = np.concatenate(
            [
                np.random.default_rng(streams[p0 // per]).random((horizon, min(per, hi - p0)))
                for p0 in range(lo, hi, per)
            ],
            axis=1,
        )
        r = _resample(sample, u, prob)  # (horizon, paths), C order
        del u
        wealth = _wealth_at(r, steps)  # the last step is the horizon: final wealth
        final = wealth[-1]
        cone[:, lo:hi] = wealth
        out["final_return"][lo:hi] = final - 1.0
        out["cagr"][lo:hi] = cagr_from_wealth(final, np.full(hi - lo, float(horizon)), periods_per_year)
        out["sharpe"][lo:hi] = sharpe_ratio(r, periods_per_year=periods_per_year)
        mdd, tuw, _ = drawdown_stats(r)
        out["max_drawdown"][lo:hi] = mdd
        out["time_under_water"][lo:hi] = tuw
    return MonteCarloPaths(
        **out, cone_steps=steps, cone_wealth=cone, horizon=horizon,
        periods_per_year=float(periods_per_year),
    )


def probability_of_ruin(max_drawdown: npt.ArrayLike, threshold: float, /) -> float:
    """Share of paths whose maximum drawdown reaches ``threshold`` or worse (e.g. -0.3).

    Examples
    --------
    >>> probability_of_ruin([-0.1, -0.35, -0.5, -0.2], -0.3)
    0.5
    """
    if not -1.0 <= threshold < 0.0:
        msg = f"ruin threshold must be a drawdown in [-1, 0), got {threshold}"
        raise ArgumentError(msg)
    mdd = np.asarray(max_drawdown, dtype=np.float64)
    return float(np.mean(mdd <= threshold)) if mdd.size else math.nan


def quantile_table(
    values: npt.ArrayLike, /, *, quantiles: npt.ArrayLike = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
) -> dict[str, float]:
    """Mean, standard deviation and quantiles (keys ``"p05"`` ...) of a per-path metric.

    Examples
    --------
    >>> quantile_table([1.0, 2.0, 3.0], quantiles=[0.5])
    {'mean': 2.0, 'std': 1.0, 'p50': 2.0}
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    q = np.asarray(quantiles, dtype=np.float64)
    table = {
        "mean": float(v.mean()) if v.size else math.nan,
        "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
    }
    qs = np.quantile(v, q) if v.size else np.full(q.shape, np.nan)
    for level, value in zip(q, qs, strict=True):
        table[f"p{round(level * 100):02d}"] = float(value)
    return table
