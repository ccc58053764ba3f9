"""Monte Carlo bootstrap kernels: reproducibility, the analytic i.i.d. mean, and every per-path
metric against the metric kernels applied to the same path built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from quantdb.errors import ArgumentError
from quantdb.kernels.drawdown import max_drawdown, time_under_water
from quantdb.kernels.metrics import cagr, sharpe_ratio
from quantdb.kernels.montecarlo import (
    PATHS_PER_STREAM,
    bootstrap_indices,
    monte_carlo,
    probability_of_ruin,
    quantile_table,
)


@pytest.fixture
def sample(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0005, 0.012, 600)


@pytest.mark.parametrize("method", ["iid", "block"])
def test_same_seed_same_paths_whatever_the_chunk(sample: np.ndarray, method: str) -> None:
    a = monte_carlo(sample, n_paths=700, seed=42, method=method, chunk_paths=128)
    b = monte_carlo(sample, n_paths=700, seed=42, method=method, chunk_paths=1000)
    c = monte_carlo(sample, n_paths=700, seed=43, method=method)
    for name in ("final_return", "cagr", "sharpe", "max_drawdown", "time_under_water"):
        np.testing.assert_array_equal(a.metric(name), b.metric(name))
    np.testing.assert_array_equal(a.cone_wealth, b.cone_wealth)
    assert not np.array_equal(a.final_return, c.final_return)


def _paths_by_hand(sample: np.ndarray, n_paths: int, seed: int, method: str, block: float) -> np.ndarray:
    """The returns matrix the kernel must have used, from the public index generator."""
    streams = np.random.SeedSequence(seed).spawn(-(-n_paths // PATHS_PER_STREAM))
    blocks = []
    for k, ss in enumerate(streams):
        n = min(PATHS_PER_STREAM, n_paths - k * PATHS_PER_STREAM)
        idx = bootstrap_indices(sample.size, sample.size, n, method=method, block=block,
                                rng=np.random.default_rng(ss))
        blocks.append(sample[idx])
    return np.concatenate(blocks, axis=1)


@pytest.mark.parametrize("method", ["iid", "block"])
def test_every_metric_equals_the_metric_kernels_on_the_same_paths(sample: np.ndarray, method: str) -> None:
    mc = monte_carlo(sample, n_paths=300, seed=5, method=method, block=10, cone_points=17)
    paths = _paths_by_hand(sample, 300, 5, method, 10)
    wealth = np.cumprod(1.0 + paths, axis=0)
    np.testing.assert_allclose(mc.final_return, wealth[-1] - 1.0, rtol=1e-12)
    np.testing.assert_allclose(mc.cagr, cagr(paths), rtol=1e-10)
    np.testing.assert_allclose(mc.sharpe, sharpe_ratio(paths), rtol=1e-10)
    np.testing.assert_allclose(mc.max_drawdown, max_drawdown(paths), rtol=1e-12)
    np.testing.assert_array_equal(mc.time_under_water, time_under_water(paths))
    assert mc.cone_steps[-1] == sample.size and mc.cone_steps[0] == 1
    np.testing.assert_allclose(mc.cone_wealth, wealth[mc.cone_steps - 1], rtol=1e-12)


def test_iid_mean_final_wealth_matches_the_analytic_expectation(rng: np.random.Generator) -> None:
    # Under the i.i.d. bootstrap each draw is an independent pick from the sample, so
    # E[prod(1 + r_t)] = (1 + mean(sample)) ** T exactly; the simulated mean must be within
    # sampling error (4 standard errors: a 1-in-15,000 false alarm).
    sample = rng.normal(0.0004, 0.01, 252)
    horizon = 504
    mc = monte_carlo(sample, n_paths=20_000, horizon=horizon, seed=2024)
    wealth = 1.0 + mc.final_return
    expected = (1.0 + sample.mean()) ** horizon
    se = wealth.std(ddof=1) / np.sqrt(wealth.size)
    assert abs(wealth.mean() - expected) < 4 * se
    # and the sampling error is small enough for the check to mean something
    assert se < 0.002 * expected


def test_block_bootstrap_blocks_are_consecutive_with_the_mean_length(rng: np.random.Generator) -> None:
    n_obs, block = 500, 20.0
    idx = bootstrap_indices(n_obs, 5000, 40, method="block", block=block, rng=rng)
    nxt = (idx[:-1] + 1) % n_obs
    starts = idx[1:] != nxt  # a new block (a continuation is always the next index)
    mean_len = idx[1:].size / starts.sum()
    assert 17.0 < mean_len < 23.0  # geometric mean 20; 200,000 draws: se about 0.3
    assert idx.min() >= 0 and idx.max() < n_obs
    iid = bootstrap_indices(n_obs, 5000, 40, method="iid", rng=rng)
    # i.i.d.: a continuation happens only by chance (1 / n_obs)
    assert np.mean(iid[1:] == (iid[:-1] + 1) % n_obs) < 0.01


def test_block_bootstrap_keeps_serial_dependence(rng: np.random.Generator) -> None:
    # AR(1) returns: the block bootstrap keeps the lag-1 autocorrelation, the i.i.d. one loses it
    e = rng.normal(0, 0.01, 3000)
    r = np.empty_like(e)
    r[0] = e[0]
    for t in range(1, e.size):
        r[t] = 0.6 * r[t - 1] + e[t]

    def lag1(a: np.ndarray) -> float:
        return float(np.mean([np.corrcoef(a[1:, j], a[:-1, j])[0, 1] for j in range(a.shape[1])]))

    blk = r[bootstrap_indices(r.size, 1000, 30, method="block", block=50, rng=rng)]
    iid = r[bootstrap_indices(r.size, 1000, 30, method="iid", rng=rng)]
    assert lag1(blk) > 0.45
    assert abs(lag1(iid)) < 0.1


def test_ruin_quantiles_and_bad_input(sample: np.ndarray) -> None:
    mc = monte_carlo(sample, n_paths=256, seed=1)
    p = probability_of_ruin(mc.max_drawdown, -0.1)
    assert p == np.mean(mc.max_drawdown <= -0.1)
    table = quantile_table(mc.final_return, quantiles=[0.05, 0.5, 0.95])
    assert table["p05"] <= table["p50"] <= table["p95"]
    cone = mc.cone([0.1, 0.5, 0.9])
    assert cone.shape == (mc.cone_steps.size, 3) and np.all(np.diff(cone, axis=1) >= 0)
    with pytest.raises(ArgumentError, match="ruin threshold"):
        probability_of_ruin(mc.max_drawdown, 0.3)
    with pytest.raises(ArgumentError, match="block"):
        monte_carlo(sample, method="block", block=0.5)
    # the method is parsed once, by the service (CLI and API); the kernel trusts it
    from quantdb.services.research.montecarlo import parse_mc_method

    assert parse_mc_method("trades") == "trades"
    with pytest.raises(ArgumentError, match="method must be 'iid', 'block' or 'trades'"):
        parse_mc_method("bogus")
    with pytest.raises(ArgumentError, match="no observation"):
        monte_carlo(np.array([np.nan, np.nan]))
