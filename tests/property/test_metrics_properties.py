"""Invariants of the metric kernels, checked by hypothesis (as empyrical's property tests)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantdb.kernels.drawdown import max_drawdown
from quantdb.kernels.metrics import annual_volatility, sharpe_ratio, sortino_ratio
from quantdb.kernels.risk import value_at_risk
from quantdb.kernels.summary import summary_metrics

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Returns are rounded to 1e-10: real returns have no more digits, and values such as
# 1e-156 only test float64 underflow (their squares are subnormal), not the kernels.
returns_value = st.one_of(
    st.floats(-1.0, 1.0, allow_nan=False),  # -100 % is the worst a long position can lose
    st.just(float("nan")),
    st.floats(-0.05, 0.05, allow_nan=False),
).map(lambda v: v if math.isnan(v) else round(v, 10))


@st.composite
def returns_2d(draw: st.DrawFn, min_rows: int = 1) -> np.ndarray:
    rows = draw(st.integers(min_rows, 60))
    cols = draw(st.integers(1, 4))
    return draw(arrays(np.float64, (rows, cols), elements=returns_value))


@SETTINGS
@given(r=returns_2d(min_rows=3), k=st.floats(0.01, 100))
def test_sharpe_is_scale_free(r: np.ndarray, k: float) -> None:
    obs = [c[~np.isnan(c)] for c in r.T]
    # well-conditioned columns only: a spread tiny against the level loses digits to rounding
    assume(all(len(c) >= 2 and np.std(c) > 1e-4 * max(1.0, np.max(np.abs(c))) for c in obs))
    np.testing.assert_allclose(sharpe_ratio(r * k), sharpe_ratio(r), rtol=1e-9)
    np.testing.assert_allclose(sortino_ratio(r * k), sortino_ratio(r), rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(annual_volatility(r * k), annual_volatility(r) * k, rtol=1e-9)


@SETTINGS
@given(r=returns_2d())
def test_max_drawdown_is_within_minus_one_and_zero(r: np.ndarray) -> None:
    mdd = np.atleast_1d(max_drawdown(r))
    has_obs = ~np.all(np.isnan(r), axis=0)
    assert np.all(np.isnan(mdd) == ~has_obs)
    assert np.all((mdd[has_obs] >= -1.0) & (mdd[has_obs] <= 0.0))


@SETTINGS
@given(r=returns_2d(min_rows=2), c1=st.floats(0.5, 0.995), c2=st.floats(0.5, 0.995))
def test_var_is_monotone_in_confidence(r: np.ndarray, c1: float, c2: float) -> None:
    lo, hi = sorted((c1, c2))
    # Historical and normal VaR can only get worse as confidence rises. (Cornish-Fisher is
    # not promised: the expansion is not monotone for extreme skew and kurtosis.)
    for method in ("historical", "parametric"):
        v_lo = value_at_risk(r, confidence=lo, method=method)
        v_hi = value_at_risk(r, confidence=hi, method=method)
        ok = ~np.isnan(v_lo)
        assert np.all(v_hi[ok] <= v_lo[ok] + 1e-15)


@SETTINGS
@given(r=returns_2d(), bench=st.booleans(), rf=st.sampled_from([0.0, 0.03]))
def test_summary_on_2d_equals_per_column(r: np.ndarray, bench: bool, rf: float) -> None:
    b = np.linspace(-0.02, 0.02, r.shape[0]) if bench else None
    whole = summary_metrics(r, benchmark=b, risk_free=rf, confidences=(0.95, 0.99))
    for j in range(r.shape[1]):
        one = summary_metrics(r[:, j : j + 1], benchmark=b, risk_free=rf, confidences=(0.95, 0.99))
        for key, values in whole.items():
            np.testing.assert_allclose(
                values[j], one[key][0], rtol=1e-12, equal_nan=True, err_msg=key
            )


@SETTINGS
@given(r=returns_2d())
def test_summary_equals_the_single_metric_functions(r: np.ndarray) -> None:
    from quantdb.kernels import drawdown, metrics, risk

    out = summary_metrics(r)
    np.testing.assert_allclose(
        out["max_drawdown"], drawdown.max_drawdown(r), rtol=1e-12, equal_nan=True
    )
    np.testing.assert_allclose(
        out["longest_drawdown_days"], drawdown.time_under_water(r), equal_nan=True
    )
    np.testing.assert_allclose(
        out["total_return"], metrics.total_return(r), rtol=1e-9, atol=1e-12, equal_nan=True
    )
    # order statistics are exact selections of the same numbers
    np.testing.assert_allclose(
        out["var_95_historical"], risk.value_at_risk(r), rtol=1e-12, atol=1e-300, equal_nan=True
    )
    np.testing.assert_allclose(
        out["cvar_95_historical"],
        risk.conditional_value_at_risk(r),
        rtol=1e-12,
        atol=1e-15,
        equal_nan=True,
    )
    np.testing.assert_allclose(out["tail_ratio"], metrics.tail_ratio(r), rtol=1e-9, equal_nan=True)
