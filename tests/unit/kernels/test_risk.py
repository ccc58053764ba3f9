"""risk.py: VaR and CVaR against direct formulas and loops; Cornish-Fisher against the expansion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from quantdb.errors import ArgumentError
from quantdb.kernels.risk import (
    conditional_value_at_risk,
    cornish_fisher_ordered,
    cornish_fisher_z,
    cvar_quantstats,
    scale_to_horizon,
    scale_volatility,
    stress_beta_shock,
    value_at_risk,
)


@pytest.fixture
def panel() -> np.ndarray:
    rng = np.random.default_rng(1337)
    r = rng.standard_t(4, (500, 4)) * 0.01
    r[rng.random((500, 4)) < 0.05] = np.nan
    r[:, 2] = 0.002
    r[:, 3] = np.nan
    return r


def test_historical_var_and_cvar_match_loops(panel: np.ndarray) -> None:
    for conf in (0.9, 0.95, 0.99):
        var = value_at_risk(panel, confidence=conf)
        cvar = conditional_value_at_risk(panel, confidence=conf)
        for j in range(2):
            xs = sorted(v for v in panel[:, j] if not math.isnan(v))
            a = round(1 - conf, 12)
            h = (len(xs) - 1) * a
            lo = math.floor(h)
            assert var[j] == pytest.approx(xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo]), rel=1e-12)
            k = int((len(xs) - 1) * a)
            assert cvar[j] == pytest.approx(sum(xs[: k + 1]) / (k + 1), rel=1e-12)
            assert cvar[j] <= var[j] < 0  # a loss, and the tail is worse than its edge
        assert var[2] == pytest.approx(0.002) and np.isnan(var[3]) and np.isnan(cvar[3])


def test_parametric_is_the_normal_quantile(panel: np.ndarray) -> None:
    col = panel[:, 0][~np.isnan(panel[:, 0])]
    mu, sd = col.mean(), col.std(ddof=1)
    assert value_at_risk(col, method="parametric") == pytest.approx(
        stats.norm.ppf(0.05, mu, sd), rel=1e-12
    )
    assert conditional_value_at_risk(col, method="parametric") == pytest.approx(
        stats.norm.expect(lambda x: x, loc=mu, scale=sd, ub=stats.norm.ppf(0.05, mu, sd)) / 0.05,
        rel=1e-8,
    )
    assert cvar_quantstats(col) == conditional_value_at_risk(col, method="parametric")


def test_cornish_fisher_matches_the_expansion_on_known_moments() -> None:
    # Gamma(k) has skew 2/sqrt(k) and excess kurtosis 6/k: the corrected quantile of the
    # standardized variable must follow the closed form, and it must beat the normal one.
    rng = np.random.default_rng(1337)
    k = 16.0
    x = -(rng.gamma(k, 1.0, 200_000) - k) / math.sqrt(k) * 0.01  # left-skewed returns
    s, ku = -2 / math.sqrt(k), 6 / k
    z = stats.norm.ppf(0.01)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * ku / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    assert float(cornish_fisher_z(z, s, ku)) == pytest.approx(zcf, rel=1e-14)
    got = value_at_risk(x, confidence=0.99, method="cornish-fisher")
    sample_s, sample_k = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)
    expected = x.mean() + x.std(ddof=1) * float(cornish_fisher_z(z, sample_s, sample_k))
    assert got == pytest.approx(expected, rel=1e-10)
    true_q = -(stats.gamma.ppf(0.99, k) - k) / math.sqrt(k) * 0.01
    normal = value_at_risk(x, confidence=0.99, method="parametric")
    assert abs(got - true_q) < abs(normal - true_q)  # the correction points the right way
    assert got == pytest.approx(0.01 * zcf, rel=0.03)  # and agrees with the population moments


def test_cornish_fisher_cvar_is_the_tail_mean_of_the_cf_quantile() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_t(6, 3000) * 0.01
    mu, sd = x.mean(), x.std(ddof=1)
    s, k = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)
    a = 0.05
    tail, _ = integrate.quad(lambda p: float(cornish_fisher_z(stats.norm.ppf(p), s, k)), 0, a)
    expected = mu + sd * tail / a
    got = conditional_value_at_risk(x, confidence=0.95, method="cornish-fisher")
    assert got == pytest.approx(expected, rel=1e-8)
    assert got < value_at_risk(x, confidence=0.95, method="cornish-fisher")


def test_quantstats_historical_cvar_includes_ties() -> None:
    r = np.array([-0.02, -0.01, -0.01, -0.01, 0.0, 0.01, 0.02, 0.03, 0.01, 0.0])
    q = np.quantile(r, 0.3)
    assert cvar_quantstats(r, confidence=0.7, method="historical") == pytest.approx(
        r[r <= q].mean()
    )


def test_var_is_monotone_in_confidence_and_2d_equals_1d(panel: np.ndarray) -> None:
    for method in ("historical", "parametric", "cornish-fisher"):
        v = [value_at_risk(panel[:, 0], confidence=c, method=method) for c in (0.9, 0.95, 0.99)]
        assert v[0] >= v[1] >= v[2]
        both = value_at_risk(panel, method=method)
        for j in range(4):
            # equal up to the summation order of a 2-D versus a 1-D reduction
            np.testing.assert_allclose(
                both[j], value_at_risk(panel[:, j], method=method), rtol=1e-12
            )
            np.testing.assert_allclose(
                conditional_value_at_risk(panel, method=method)[j],
                conditional_value_at_risk(panel[:, j], method=method),
                rtol=1e-12,
            )


def test_bad_arguments_and_helpers() -> None:
    # the level is checked once, at the service edge; the kernels trust it
    from quantdb.services.live.risk import parse_confidences

    assert parse_confidences([0.95, "0.99"]) == (0.95, 0.99)
    for bad in (95, 0, 1.0, "abc", float("nan")):
        with pytest.raises(ArgumentError, match="confidence must be in"):
            parse_confidences([0.95, bad])
    with pytest.raises(ArgumentError, match="method"):
        value_at_risk([0.01, 0.02], method="monte-carlo")  # type: ignore[arg-type]
    np.testing.assert_allclose(stress_beta_shock(np.array([1.5, -0.5]), -0.2), [-0.3, 0.1])
    assert float(scale_to_horizon(-0.02, 9)) == pytest.approx(-0.06)
    r = np.random.default_rng(3).normal(0, 0.02, (300, 2))
    scaled = scale_volatility(r, target=0.15)
    np.testing.assert_allclose(scaled.std(axis=0, ddof=1) * math.sqrt(252), [0.15, 0.15])


def test_cornish_fisher_var_of_a_fat_tailed_series_is_nan_not_a_gain() -> None:
    # Issue 12: a t(2.5) sample (skew 2.07, excess kurtosis 50) had a 95 % Cornish-Fisher
    # "VaR" of +0.0007, a gain on the 5 % worst day; the expansion is out of order there.
    from quantdb.kernels.summary import summary_metrics

    x = np.random.default_rng(62).standard_t(2.5, 2520) * 0.01
    s, k = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)
    z = stats.norm.ppf(0.05)
    assert x.mean() + x.std(ddof=1) * float(cornish_fisher_z(z, s, k)) == pytest.approx(0.0007, abs=1e-4)
    assert not cornish_fisher_ordered(z, s, k)
    assert math.isnan(value_at_risk(x, confidence=0.95, method="cornish-fisher"))
    assert math.isnan(conditional_value_at_risk(x, confidence=0.95, method="cornish-fisher"))
    both = summary_metrics(np.column_stack([x, np.random.default_rng(1).normal(0, 0.01, 2520)]))
    assert math.isnan(both["var_95_cornish_fisher"][0])  # the key stays, the value is NaN
    assert both["var_95_cornish_fisher"][1] < 0  # a near-normal column keeps its figure
    # the other estimators are untouched
    assert value_at_risk(x, confidence=0.95) == pytest.approx(np.percentile(x, 5))
    assert value_at_risk(x, confidence=0.95, method="parametric") < 0


def test_cornish_fisher_ordered_is_the_band_minimum() -> None:
    # exact rule vs a dense grid: z_cf(z) is the lowest value on [z, -z] (mirror for z > 0)
    rng = np.random.default_rng(1337)
    for _ in range(3000):
        s = rng.uniform(-12, 12) * rng.choice([0.1, 1.0])
        k = rng.uniform(-2, 200) * rng.choice([0.05, 1.0])
        z = float(stats.norm.ppf(rng.choice([0.01, 0.05, 0.1, 0.3, 0.7, 0.95])))
        u = np.linspace(z, -z, 4001)
        q = cornish_fisher_z(u, s, k)
        gap = q[0] - (q.min() if z < 0 else q.max())
        if abs(gap) < 1e-6:  # too close to the boundary for the grid to tell
            continue
        assert bool(cornish_fisher_ordered(z, s, k)) == (gap <= 0 if z < 0 else gap >= 0), (s, k, z)
    # a normal or mildly fat-tailed series is in order at every usual level
    for conf in (0.9, 0.95, 0.99, 0.999):
        assert cornish_fisher_ordered(float(stats.norm.ppf(1 - conf)), 0.0, 0.0)
        assert cornish_fisher_ordered(float(stats.norm.ppf(1 - conf)), -0.5, 4.0)
    assert not cornish_fisher_ordered(-1.6448536269514722, np.nan, 3.0)
