"""PBO by CSCV against a slow, literal implementation of the paper's algorithm; the deflated
Sharpe ratio of a selection against the worked example of Bailey & Lopez de Prado (2014)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm, rankdata

from quantdb.errors import ArgumentError
from quantdb.kernels.metrics import kurtosis, sharpe_ratio, skew
from quantdb.kernels.overfitting import cscv_combinations, pbo_cscv, selection_sharpe

EULER_GAMMA = 0.5772156649015329


# ----------------------------------------------------------------------------- references
def dsr_reference(sr_ann: float, *, n_obs: int, skewness: float, kurt: float, n_trials: int,
                  var_ann: float, periods_per_year: float) -> float:
    """Deflated Sharpe ratio written straight from the paper (eqs. 2 and 6 of "The Deflated
    Sharpe Ratio", 2014), on per-period Sharpe ratios; ``kurt`` is raw (non-excess)."""
    sr = sr_ann / math.sqrt(periods_per_year)
    v = var_ann / periods_per_year
    sr0 = math.sqrt(v) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
                          + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e)))
    z = (sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(1 - skewness * sr + (kurt - 1) / 4 * sr**2)
    return float(norm.cdf(z))


def test_dsr_reference_reproduces_the_published_example() -> None:
    # Bailey & Lopez de Prado (2014), section 4: N = 100 trials, best annualized SR 2.5,
    # V[SR] = 0.5 (annualized), T = 1,250 daily observations, skew -3, kurtosis 10, on
    # 250 days a year: E[max SR] = 0.1132 (daily) and DSR = 0.9004 (both printed to 4 places).
    assert dsr_reference(2.5, n_obs=1250, skewness=-3, kurt=10, n_trials=100, var_ann=0.5,
                         periods_per_year=250) == pytest.approx(0.9004, abs=5e-5)


def test_selection_sharpe_deflates_the_best_trial_as_the_paper(rng: np.random.Generator) -> None:
    # 40 trials; one has skewed, fat-tailed returns with an edge, so the moments matter
    r = rng.normal(0.0002, 0.01, (1250, 40))
    shock = rng.random(1250) < 0.02
    r[:, 7] = 0.002 + 0.008 * rng.standard_normal(1250) - 0.04 * shock
    got = selection_sharpe(r, periods_per_year=250)
    sr = sharpe_ratio(r, periods_per_year=250)
    assert got.best_index == int(np.argmax(sr)) == 7
    assert got.trials_sharpe_variance == pytest.approx(np.var(sr, ddof=1), rel=1e-12)
    col = r[:, 7]
    expected = dsr_reference(float(sr[7]), n_obs=1250, skewness=float(skew(col)),
                             kurt=float(kurtosis(col)) + 3.0, n_trials=40,
                             var_ann=float(np.var(sr, ddof=1)), periods_per_year=250)
    assert got.dsr == pytest.approx(expected, abs=1e-12)
    assert got.dsr < got.psr  # deflating by 40 trials can only lower it
    more = selection_sharpe(r, n_trials=4000, periods_per_year=250)
    assert more.dsr < got.dsr


# ----------------------------------------------------------------------------- PBO
def pbo_slow(m: np.ndarray, n_splits: int) -> tuple[float, np.ndarray, np.ndarray]:
    """CSCV as the paper writes it: a loop over combinations, Sharpe ratios recomputed on the
    actual rows with the metric kernel, scipy's average ranks, omega = rank / (N + 1)."""
    t = m.shape[0] - m.shape[0] % n_splits
    m = m[m.shape[0] - t:]
    groups = np.array_split(np.arange(t), n_splits)
    n = m.shape[1]
    logits, chosen = [], []
    for combo in itertools.combinations(range(n_splits), n_splits // 2):
        train = np.concatenate([groups[g] for g in combo])
        test = np.concatenate([groups[g] for g in range(n_splits) if g not in combo])
        r_is = sharpe_ratio(m[train], periods_per_year=1)
        r_oos = sharpe_ratio(m[test], periods_per_year=1)
        best = int(np.argmax(r_is))
        omega = rankdata(r_oos)[best] / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
        chosen.append(best)
    lam = np.array(logits)
    return float(np.mean(lam <= 0)), lam, np.array(chosen)


@pytest.mark.parametrize(("rows", "trials", "splits"), [(240, 12, 8), (333, 30, 6)])
def test_pbo_equals_the_slow_literal_algorithm(rng: np.random.Generator, rows: int, trials: int,
                                               splits: int) -> None:
    m = rng.normal(0.0003, 0.01, (rows, trials)) + rng.normal(0, 0.002, trials)  # varied drifts
    fast = pbo_cscv(m, n_splits=splits)
    pbo, lam, chosen = pbo_slow(m, splits)
    assert fast.n_combinations == math.comb(splits, splits // 2)
    np.testing.assert_array_equal(fast.selected, chosen)
    np.testing.assert_allclose(fast.logits, lam, rtol=1e-9)
    assert fast.pbo == pbo


def test_pbo_sharpe_on_group_sums_is_the_metric_sharpe(rng: np.random.Generator) -> None:
    m = rng.normal(0.001, 0.02, (160, 5))
    res = pbo_cscv(m, n_splits=4)
    first = cscv_combinations(4)[0]  # groups 0 and 1: rows 0..79
    np.testing.assert_allclose(res.is_performance[0],
                               sharpe_ratio(m[:80], periods_per_year=1)[res.selected[0]], rtol=1e-10)
    assert first.tolist() == [True, True, False, False]


def test_pbo_separates_noise_from_a_real_edge(rng: np.random.Generator) -> None:
    noise = [pbo_cscv(rng.normal(0, 0.01, (480, 25)), n_splits=8).pbo for _ in range(12)]
    assert 0.3 < float(np.mean(noise)) < 0.7  # pure noise: the IS winner is a coin flip OOS
    m = rng.normal(0, 0.01, (480, 25))
    m[:, 3] += 0.004  # one trial with a large true edge
    res = pbo_cscv(m, n_splits=8)
    assert res.pbo == 0.0
    assert np.all(res.selected == 3) and res.prob_oos_loss == 0.0


def test_pbo_rejects_bad_shapes(rng: np.random.Generator) -> None:
    with pytest.raises(ArgumentError, match="even"):
        pbo_cscv(rng.normal(size=(100, 4)), n_splits=5)
    with pytest.raises(ArgumentError, match="2 trials"):
        pbo_cscv(rng.normal(size=(100, 1)))
    with pytest.raises(ArgumentError, match="2 rows per group"):
        pbo_cscv(rng.normal(size=(20, 4)), n_splits=16)
