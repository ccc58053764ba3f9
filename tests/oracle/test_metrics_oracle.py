"""quantdb's metrics against QuantStats (``quantstats.stats``) and empyrical-reloaded.

Where the definitions match the tolerance is 1e-9 relative: the only differences are the
summation order of float64 reductions. Where a definition differs, the test applies the
exact transformation that makes the numbers equal and says why in a comment: that is the
convention, written down in docs/metrics.md.

QuantStats is only ever given pandas objects (never a ticker string), so it never downloads.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

empyrical = pytest.importorskip("empyrical")
qs = pytest.importorskip("quantstats")

from quantdb.kernels import drawdown as dd
from quantdb.kernels import metrics as m
from quantdb.kernels import risk
from quantdb.kernels import tradestats as ts
from quantdb.kernels.summary import summary_metrics

RTOL = 1e-9
PPY = 252


def _series(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2014-01-02", periods=len(values)), name="r")


def _make(kind: str, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    n = 756
    if kind == "normal":
        x = rng.normal(0.0004, 0.011, n)
    elif kind == "fat":
        x = rng.standard_t(3, n) * 0.008 + 0.0002
    elif kind == "gaps":
        x = rng.normal(0.0003, 0.012, n)
        x[rng.random(n) < 0.07] = np.nan
    elif kind == "loser":
        x = rng.normal(-0.0008, 0.015, n)
        x[0] = -0.03  # a first-day loss: the drawdown must count it
    elif kind == "wipeout":
        x = rng.normal(0.0005, 0.01, n)
        x[300] = -1.0
    else:  # pragma: no cover
        raise AssertionError(kind)
    return _series(x)


CASES = [
    ("normal", 1337),
    ("normal", 7),
    ("fat", 42),
    ("gaps", 1337),
    ("loser", 3),
    ("wipeout", 11),
]


@pytest.fixture(params=CASES, ids=[f"{k}-{s}" for k, s in CASES])
def series(request: pytest.FixtureRequest) -> pd.Series:
    return _make(*request.param)


@pytest.fixture
def bench(series: pd.Series) -> pd.Series:
    rng = np.random.default_rng(99)
    b = rng.normal(0.0003, 0.01, len(series))
    b[[5, 17]] = np.nan
    return pd.Series(b, index=series.index, name="SPY")


def close(ours: float, theirs: float, rtol: float = RTOL) -> None:
    if isinstance(theirs, float) and math.isnan(theirs):
        assert math.isnan(ours), (ours, theirs)
        return
    assert ours == pytest.approx(float(theirs), rel=rtol, abs=1e-14)


@pytest.fixture(autouse=True)
def _quiet_third_party():
    # QuantStats and empyrical warn on some edge cases (RuntimeWarning from numpy inside
    # them); those are theirs, not ours. quantdb's own QuantdbWarning stays an error.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=RuntimeWarning, module=r"(quantstats|empyrical|numpy)"
        )
        yield


# ---------------------------------------------------------------- same definitions
def test_volatility_sharpe_sortino(series: pd.Series) -> None:
    a = series.to_numpy()
    close(m.annual_volatility(a), qs.stats.volatility(series))
    close(m.annual_volatility(a), empyrical.annual_volatility(series))
    close(m.sharpe_ratio(a), qs.stats.sharpe(series))
    close(m.sharpe_ratio(a), empyrical.sharpe_ratio(series))
    close(m.sortino_ratio(a), qs.stats.sortino(series))
    close(m.sortino_ratio(a), empyrical.sortino_ratio(series))


def test_risk_free_handling(series: pd.Series) -> None:
    a = series.to_numpy()
    rf = 0.04
    # QuantStats takes the annual rate and de-annualizes it geometrically, as we do.
    close(m.sharpe_ratio(a, risk_free=rf), qs.stats.sharpe(series, rf=rf))
    close(m.sortino_ratio(a, risk_free=rf), qs.stats.sortino(series, rf=rf))
    close(m.omega_ratio(a, risk_free=rf), qs.stats.omega(series, rf=rf))
    # empyrical takes a per-period rate: hand it ours, (1 + rf) ** (1 / 252) - 1.
    rf_p = (1 + rf) ** (1 / PPY) - 1
    close(m.sharpe_ratio(a, risk_free=rf), empyrical.sharpe_ratio(series, risk_free=rf_p))
    close(m.sortino_ratio(a, risk_free=rf), empyrical.sortino_ratio(series, required_return=rf_p))
    close(m.omega_ratio(a, risk_free=rf), empyrical.omega_ratio(series, risk_free=rf_p))


def test_max_drawdown_calmar_cagr(series: pd.Series) -> None:
    a = series.to_numpy()
    close(dd.max_drawdown(a), qs.stats.max_drawdown(series))
    close(dd.max_drawdown(a), empyrical.max_drawdown(series))
    # Installed QuantStats (>= 0.0.83) counts years as observed periods / 252, as we do, so
    # its CAGR and Calmar (which uses its own CAGR) match.
    close(m.cagr(a), qs.stats.cagr(series))
    close(m.calmar_ratio(a), qs.stats.calmar(series))


def test_omega_skew_kurtosis_tail_psr(series: pd.Series) -> None:
    a = series.to_numpy()
    close(m.omega_ratio(a), qs.stats.omega(series))
    close(m.omega_ratio(a), empyrical.omega_ratio(series))
    close(m.skew(a), qs.stats.skew(series))
    close(m.kurtosis(a), qs.stats.kurtosis(series))
    close(m.tail_ratio(a), qs.stats.tail_ratio(series))
    close(m.tail_ratio(a), empyrical.tail_ratio(series))
    if not series.isna().any():
        # QuantStats' PSR uses n = len(series); with gaps it counts the NaN rows, we count
        # observations: equal on gap-free data.
        close(m.probabilistic_sharpe_ratio(a), qs.stats.probabilistic_sharpe_ratio(series))


def test_benchmark_metrics(series: pd.Series, bench: pd.Series) -> None:
    a, b = series.to_numpy(), bench.to_numpy()
    greeks = qs.stats.greeks(series, bench)
    close(m.beta(a, b), greeks["beta"])
    close(m.beta(a, b), empyrical.beta(series, bench))
    # Alpha: QuantStats annualizes arithmetically (mean daily alpha x 252), as we do;
    # empyrical compounds it: (1 + alpha / 252) ** 252 - 1.
    close(m.alpha(a, b), greeks["alpha"])
    close((1 + m.alpha(a, b) / PPY) ** PPY - 1, empyrical.alpha(series, bench))
    close(m.r_squared(a, b), qs.stats.r_squared(series, bench))
    # On the periods both observe (QuantStats subtracts with NaN and then skips; empyrical's
    # capture compounds over NaN rows): compare on the paired rows, where all agree.
    paired = series.notna() & bench.notna()
    sp, bp = series[paired], bench[paired]
    ap, bpa = sp.to_numpy(), bp.to_numpy()
    close(m.information_ratio(a, b), m.information_ratio(ap, bpa))
    # Information ratio: QuantStats (and empyrical's excess_sharpe) do not annualize; ours is
    # annualized like the Sharpe ratio, so divide by sqrt(252).
    close(m.information_ratio(ap, bpa) / math.sqrt(PPY), qs.stats.information_ratio(sp, bp))
    close(m.information_ratio(ap, bpa) / math.sqrt(PPY), empyrical.excess_sharpe(sp, bp))
    close(m.up_capture(a, b), empyrical.up_capture(sp, bp))
    close(m.down_capture(a, b), empyrical.down_capture(sp, bp))


def test_var_cvar(series: pd.Series) -> None:
    a = series.to_numpy()
    clean = series.dropna()
    for conf in (0.95, 0.99):
        cut = round(1 - conf, 12)
        # historical VaR / CVaR: empyrical's definitions (it wants NaN-free input for VaR)
        close(risk.value_at_risk(a, confidence=conf), empyrical.value_at_risk(clean, cutoff=cut))
        close(
            risk.conditional_value_at_risk(a, confidence=conf),
            empyrical.conditional_value_at_risk(series, cutoff=cut),
        )
        # parametric: QuantStats' value_at_risk (sample mean and std, normal quantile)
        close(
            risk.value_at_risk(a, confidence=conf, method="parametric"),
            qs.stats.value_at_risk(series, confidence=conf),
        )
        close(risk.cvar_quantstats(a, confidence=conf), qs.stats.cvar(series, confidence=conf))
        close(
            risk.cvar_quantstats(a, confidence=conf),
            qs.stats.expected_shortfall(series, confidence=conf),
        )
        close(
            risk.cvar_quantstats(a, confidence=conf, method="historical"),
            qs.stats.cvar(series, confidence=conf, method="historical"),
        )


def test_period_trade_stats(series: pd.Series) -> None:
    a = series.to_numpy()
    close(ts.win_rate_periods(a), qs.stats.win_rate(series))
    close(ts.profit_factor_periods(a), qs.stats.profit_factor(series))


def test_rolling(series: pd.Series, bench: pd.Series) -> None:
    a = series.to_numpy()
    ours = m.rolling_sharpe(a, window=126)
    theirs = qs.stats.rolling_sharpe(series, rolling_period=126).to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, equal_nan=True)
    ours = m.rolling_volatility(a, window=126)
    theirs = qs.stats.rolling_volatility(series, rolling_period=126).to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, equal_nan=True)


def test_summary_metrics_agree_with_the_libraries(series: pd.Series, bench: pd.Series) -> None:
    out = summary_metrics(series.to_numpy()[:, None], benchmark=bench.to_numpy())
    close(out["sharpe"][0], qs.stats.sharpe(series))
    close(out["sortino"][0], qs.stats.sortino(series))
    close(out["volatility"][0], qs.stats.volatility(series))
    close(out["max_drawdown"][0], qs.stats.max_drawdown(series))
    close(out["calmar"][0], qs.stats.calmar(series))
    close(out["omega"][0], qs.stats.omega(series))
    close(out["beta"][0], qs.stats.greeks(series, bench)["beta"])
    close(out["alpha"][0], qs.stats.greeks(series, bench)["alpha"])
    close(out["var_95_historical"][0], empyrical.value_at_risk(series.dropna()))
    close(out["cvar_95_historical"][0], empyrical.conditional_value_at_risk(series))
    close(out["var_95_parametric"][0], qs.stats.value_at_risk(series))
    close(out["cvar_95_quantstats"][0], qs.stats.cvar(series))


# ---------------------------------------------------------------- conventions
def test_cagr_calendar_days_convention() -> None:
    # QuantStats before 0.0.83 (and many reports) count years in calendar days from the
    # DatetimeIndex: (last - first).days / 365. quantdb counts observed periods / 252, which
    # needs no index and is what installed QuantStats and empyrical do. The two differ by
    # the ratio of the year counts and are exactly related by it:
    s = _make("normal", 1337)
    years_periods = s.count() / PPY
    years_calendar = (s.index[-1] - s.index[0]).days / 365.0
    ours = m.cagr(s.to_numpy())
    calendar = (1 + m.total_return(s.to_numpy())) ** (1 / years_calendar) - 1
    close((1 + ours) ** (years_periods / years_calendar) - 1, calendar)
    close(ours, qs.stats.cagr(s))
    assert abs(ours - calendar) > 1e-6  # really a different number


def test_cagr_with_gaps_counts_observations_not_rows() -> None:
    # empyrical's annual_return divides by len(returns), NaN rows included: a series that
    # started late would be annualized over periods it did not exist. We use observations.
    s = _make("gaps", 1337)
    a = s.to_numpy()
    total = m.total_return(a)
    close(m.cagr(a), qs.stats.cagr(s))
    close((1 + total) ** (PPY / len(s)) - 1, empyrical.cagr(s))
    close(m.cagr(a), (1 + total) ** (PPY / s.count()) - 1)


def test_ulcer_index_convention(series: pd.Series) -> None:
    # Martin's ulcer index is the root MEAN square drawdown over the observed periods
    # (divide by n_obs); QuantStats sums the squared drawdown over every row, NaN rows
    # included (carried flat), and divides by rows - 1. Rebuilding its sum from ours:
    a = series.to_numpy()
    n_obs, rows = int(series.count()), len(series)
    gaps = np.isnan(a)
    sum_sq = dd.ulcer_index(a) ** 2 * n_obs + float(np.sum(dd.drawdown_series(a)[gaps] ** 2))
    close(math.sqrt(sum_sq / (rows - 1)), qs.stats.ulcer_index(series))
    if not gaps.any():  # the plain form of the same identity
        close(dd.ulcer_index(a) * math.sqrt(rows / (rows - 1)), qs.stats.ulcer_index(series))


def test_edge_cases_against_the_libraries() -> None:
    const = _series(np.full(300, 0.001))
    # Zero dispersion: empyrical returns inf, QuantStats a huge or infinite number from a
    # float residue; a Sharpe ratio without risk is undefined, quantdb returns NaN.
    assert math.isnan(m.sharpe_ratio(const.to_numpy()))
    assert not np.isfinite(empyrical.sharpe_ratio(const))
    close(m.annual_volatility(const.to_numpy()), empyrical.annual_volatility(const))
    close(dd.max_drawdown(const.to_numpy()), qs.stats.max_drawdown(const))
    close(m.cagr(const.to_numpy()), qs.stats.cagr(const))
    positive = _series(np.abs(np.random.default_rng(5).normal(0, 0.01, 300)))
    # No losing period: Sortino and Omega are undefined; QuantStats says NaN, empyrical inf.
    assert math.isnan(m.sortino_ratio(positive.to_numpy()))
    assert math.isnan(qs.stats.sortino(positive))
    assert math.isnan(m.omega_ratio(positive.to_numpy()))
    close(dd.max_drawdown(positive.to_numpy()), qs.stats.max_drawdown(positive))
    one = _series(np.array([-0.02]))
    close(dd.max_drawdown(one.to_numpy()), qs.stats.max_drawdown(one))  # first-day loss
    close(dd.max_drawdown(one.to_numpy()), empyrical.max_drawdown(one))
    assert math.isnan(m.sharpe_ratio(one.to_numpy()))
    assert math.isnan(empyrical.sharpe_ratio(one))
