"""metrics.py and summary.py against slow, obvious references written as plain Python loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantdb.kernels import metrics as m
from quantdb.kernels.periods import (
    MONTHS,
    TRADING_DAYS,
    WEEKS,
    annualize_rate,
    deannualize_rate,
)
from quantdb.kernels.summary import metric_names, summary_metrics

RTOL = 1e-9  # float64 round-off of different summation orders, nothing more


# ------------------------------------------------------------------ slow references
def _obs(col):
    return [float(v) for v in col if not math.isnan(v)]


def ref_mean(xs):
    return sum(xs) / len(xs)


def ref_std(xs, ddof=1):
    if len(xs) <= ddof:
        return math.nan
    mu = ref_mean(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - ddof))


def ref_wealth(col):
    w = 1.0
    for v in col:
        if not math.isnan(v):
            w *= 1.0 + v
    return w


def ref_sharpe(col, rf=0.0, ppy=252):
    xs = [x - ((1 + rf) ** (1 / ppy) - 1) for x in _obs(col)]
    if len(xs) < 2:
        return math.nan
    sd = ref_std(xs)
    if sd == 0 or max(xs) == min(xs):
        return math.nan
    return ref_mean(xs) / sd * math.sqrt(ppy)


def ref_sortino(col, rf=0.0, ppy=252):
    xs = [x - ((1 + rf) ** (1 / ppy) - 1) for x in _obs(col)]
    if len(xs) < 2:
        return math.nan
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in xs) / len(xs))
    return ref_mean(xs) / down * math.sqrt(ppy) if down > 0 else math.nan


def ref_cagr(col, ppy=252):
    n = len(_obs(col))
    return ref_wealth(col) ** (ppy / n) - 1 if n else math.nan


def ref_max_dd(col):
    if not _obs(col):
        return math.nan
    w, peak, worst = 1.0, 1.0, 0.0
    for v in col:
        if not math.isnan(v):
            w *= 1.0 + v
        peak = max(peak, w)
        worst = min(worst, w / peak - 1)
    return worst


def ref_skew(col):
    xs = _obs(col)
    n = len(xs)
    if n < 3 or max(xs) == min(xs):
        return math.nan
    mu = ref_mean(xs)
    m2 = sum((x - mu) ** 2 for x in xs) / n
    m3 = sum((x - mu) ** 3 for x in xs) / n
    g1 = m3 / m2**1.5
    return g1 * math.sqrt(n * (n - 1)) / (n - 2)


def ref_kurt(col):
    xs = _obs(col)
    n = len(xs)
    if n < 4 or max(xs) == min(xs):
        return math.nan
    mu = ref_mean(xs)
    m2 = sum((x - mu) ** 2 for x in xs) / n
    m4 = sum((x - mu) ** 4 for x in xs) / n
    g2 = m4 / m2**2 - 3
    return (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6)


def ref_quantile(xs, q):
    s = sorted(xs)
    h = (len(s) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def ref_beta(col, bench):
    pairs = [
        (a, b) for a, b in zip(col, bench, strict=True) if not (math.isnan(a) or math.isnan(b))
    ]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    mx, my = ref_mean(xs), ref_mean(ys)
    cov = sum((x - mx) * (y - my) for x, y in pairs)
    var = sum((y - my) ** 2 for y in ys)
    return cov / var


# ------------------------------------------------------------------ data
@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1337)


@pytest.fixture
def panel(rng: np.random.Generator) -> np.ndarray:
    """Six series x 300 days with the edge cases as columns."""
    r = rng.standard_t(5, (300, 6)) * 0.01 + 0.0003
    r[rng.random((300, 6)) < 0.04] = np.nan  # gaps
    r[:, 2] = 0.001  # constant
    r[:, 3] = np.abs(r[:, 3])  # all positive (NaN stay NaN)
    r[:, 4] = np.nan  # all-NaN column
    r[5, 5] = -1.0  # a -100 % day
    return r


def _close(ours, ref):
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float),
        np.asarray(ref, dtype=float),
        rtol=RTOL,
        atol=1e-13,
        equal_nan=True,
    )


# ------------------------------------------------------------------ periods
def test_period_constants_and_rates() -> None:
    assert (TRADING_DAYS, WEEKS, MONTHS) == (252, 52, 12)
    assert deannualize_rate(0.05, 252) == pytest.approx(1.05 ** (1 / 252) - 1, rel=1e-12)
    assert annualize_rate(deannualize_rate(0.05, 12), 12) == pytest.approx(0.05, rel=1e-12)
    assert deannualize_rate(0.0) == 0.0


# ------------------------------------------------------------------ column by column
@pytest.mark.parametrize(
    ("fn", "ref"),
    [
        (m.sharpe_ratio, ref_sharpe),
        (lambda a: m.sharpe_ratio(a, risk_free=0.04), lambda c: ref_sharpe(c, rf=0.04)),
        (m.sortino_ratio, ref_sortino),
        (lambda a: m.sortino_ratio(a, risk_free=0.04), lambda c: ref_sortino(c, rf=0.04)),
        (m.cagr, ref_cagr),
        (m.total_return, lambda c: ref_wealth(c) - 1 if _obs(c) else math.nan),
        (
            m.annual_volatility,
            lambda c: ref_std(_obs(c)) * math.sqrt(252) if len(_obs(c)) > 1 else math.nan,
        ),
        (m.skew, ref_skew),
        (m.kurtosis, ref_kurt),
    ],
)
def test_metric_matches_loop_reference(panel: np.ndarray, fn, ref) -> None:
    expected = [ref(panel[:, j]) for j in range(panel.shape[1])]
    _close(fn(panel), expected)
    # 2-D equals column-by-column 1-D, and 1-D returns a float
    for j in range(panel.shape[1]):
        one = fn(panel[:, j])
        assert np.ndim(one) == 0
        _close(one, expected[j])


def test_edge_cases_are_nan_or_exact(panel: np.ndarray) -> None:
    s = m.sharpe_ratio(panel)
    assert np.isnan(s[2]) and np.isnan(s[4])  # constant, all-NaN
    assert m.annual_volatility(panel)[2] == 0.0
    assert np.isnan(m.sortino_ratio(panel)[3])  # all positive: no downside
    assert m.total_return(panel)[5] == -1.0  # a -100 % day wipes the series
    assert m.cagr(panel)[5] == -1.0
    assert np.isnan(m.sharpe_ratio([0.01]))  # one day
    assert m.total_return([0.01]) == pytest.approx(0.01)
    assert np.isnan(m.calmar_ratio(panel)[3]) or m.calmar_ratio(panel)[3] > 0


def test_omega_and_calmar_and_tail_ratio(panel: np.ndarray) -> None:
    for j in range(panel.shape[1]):
        col = panel[:, j]
        xs = _obs(col)
        thr = (1.03) ** (1 / 252) - 1
        gains = sum(max(x - thr, 0) for x in xs)
        losses = sum(max(thr - x, 0) for x in xs)
        expected = gains / losses if losses > 0 else math.nan
        _close(m.omega_ratio(col, risk_free=0.03), expected)
        mdd = ref_max_dd(col)
        cal = ref_cagr(col) / abs(mdd) if xs and mdd < 0 else math.nan
        _close(m.calmar_ratio(col), cal)
        if xs:
            lo = ref_quantile(xs, 0.05)
            tr = abs(ref_quantile(xs, 0.95)) / abs(lo) if lo != 0 else math.nan
            _close(m.tail_ratio(col), tr)


def test_psr_formula_and_dsr_deflates(rng: np.random.Generator) -> None:
    r = rng.normal(0.0008, 0.01, 500)
    xs = list(r)
    sr = ref_mean(xs) / ref_std(xs)
    sk, ku = ref_skew(r), ref_kurt(r) + 3
    from scipy.stats import norm

    expected = norm.cdf(sr * math.sqrt(499) / math.sqrt(1 - sk * sr + (ku - 1) / 4 * sr**2))
    _close(m.probabilistic_sharpe_ratio(r), expected)
    dsr = m.deflated_sharpe_ratio(r, n_trials=50, trials_sharpe_variance=0.25)
    e = 0.5772156649015329
    sr0 = math.sqrt(0.25 / 252) * (
        (1 - e) * norm.ppf(1 - 1 / 50) + e * norm.ppf(1 - 1 / (50 * math.e))
    )
    expected_dsr = norm.cdf(
        (sr - sr0) * math.sqrt(499) / math.sqrt(1 - sk * sr + (ku - 1) / 4 * sr**2)
    )
    _close(dsr, expected_dsr)
    assert dsr < m.probabilistic_sharpe_ratio(r)
    _close(
        m.deflated_sharpe_ratio(r, n_trials=1, trials_sharpe_variance=1.0),
        m.probabilistic_sharpe_ratio(r),
    )


def test_benchmark_metrics(panel: np.ndarray, rng: np.random.Generator) -> None:
    bench = rng.normal(0.0003, 0.01, panel.shape[0])
    bench[[10, 20]] = np.nan
    cols = [0, 1, 3, 5]
    for j in cols:
        col = panel[:, j]
        pairs = [
            (a, b) for a, b in zip(col, bench, strict=True) if not (math.isnan(a) or math.isnan(b))
        ]
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        bt = ref_beta(col, bench)
        _close(m.beta(col, bench), bt)
        _close(m.alpha(col, bench), (ref_mean(xs) - bt * ref_mean(ys)) * 252)
        corr = bt * ref_std(ys) / ref_std(xs)
        _close(m.correlation(col, bench), corr)
        _close(m.r_squared(col, bench), corr**2)
        act = [x - y for x, y in pairs]
        _close(m.tracking_error(col, bench), ref_std(act) * math.sqrt(252))
        _close(m.information_ratio(col, bench), ref_mean(act) / ref_std(act) * math.sqrt(252))
        up = [(x, y) for x, y in pairs if y > 0]
        wx = math.prod(1 + x for x, _ in up) ** (252 / len(up)) - 1
        wy = math.prod(1 + y for _, y in up) ** (252 / len(up)) - 1
        _close(m.up_capture(col, bench), wx / wy)
        dn = [(x, y) for x, y in pairs if y < 0]
        wx = math.prod(1 + x for x, _ in dn) ** (252 / len(dn)) - 1
        wy = math.prod(1 + y for _, y in dn) ** (252 / len(dn)) - 1
        _close(m.down_capture(col, bench), wx / wy)
    # 2-D equals per column
    _close(m.beta(panel[:, cols], bench), [m.beta(panel[:, j], bench) for j in cols])
    assert np.isnan(m.beta(panel[:, 4], bench))  # all-NaN column
    assert np.isnan(m.beta(panel[:, 0], np.full(panel.shape[0], 0.001)))  # constant benchmark


def test_rolling_against_loops(rng: np.random.Generator) -> None:
    r = rng.normal(0.0005, 0.01, (80, 2))
    b = rng.normal(0.0005, 0.01, 80)
    r[30, 1] = np.nan
    w = 20
    rs = m.rolling_sharpe(r, window=w)
    rv = m.rolling_volatility(r, window=w)
    rb = m.rolling_beta(r, b, window=w)
    assert rs.shape == r.shape
    for j in range(2):
        for t in range(80):
            win = r[max(0, t - w + 1) : t + 1, j]
            if t < w - 1 or np.isnan(win).any():
                assert np.isnan(rs[t, j]) and np.isnan(rv[t, j]) and np.isnan(rb[t, j])
                continue
            _close(rs[t, j], ref_sharpe(win))
            _close(rv[t, j], ref_std(list(win)) * math.sqrt(252))
            _close(rb[t, j], ref_beta(win, b[t - w + 1 : t + 1]))
    _close(m.rolling_sharpe(r[:, 0], window=w), rs[:, 0])
    with pytest.raises(ValueError, match="window"):
        m.rolling_sharpe(r, window=1)


def test_summary_metrics_equals_the_functions(panel: np.ndarray, rng: np.random.Generator) -> None:
    from quantdb.kernels import drawdown as d
    from quantdb.kernels import risk

    bench = rng.normal(0.0003, 0.01, panel.shape[0])
    bench[7] = np.nan
    out = summary_metrics(panel, benchmark=bench, risk_free=0.02, confidences=(0.95, 0.99))
    assert list(out) == metric_names(benchmark=True, confidences=(0.95, 0.99))
    expected = {
        "total_return": m.total_return(panel),
        "cagr": m.cagr(panel),
        "volatility": m.annual_volatility(panel),
        "sharpe": m.sharpe_ratio(panel, risk_free=0.02),
        "sortino": m.sortino_ratio(panel, risk_free=0.02),
        "max_drawdown": d.max_drawdown(panel),
        "calmar": m.calmar_ratio(panel),
        "omega": m.omega_ratio(panel, risk_free=0.02),
        "skew": m.skew(panel),
        "kurtosis": m.kurtosis(panel),
        "tail_ratio": m.tail_ratio(panel),
        "ulcer_index": d.ulcer_index(panel),
        "probabilistic_sharpe": m.probabilistic_sharpe_ratio(panel, risk_free=0.02),
        "longest_drawdown_days": d.time_under_water(panel),
        "beta": m.beta(panel, bench),
        "alpha": m.alpha(panel, bench, risk_free=0.02),
        "correlation": m.correlation(panel, bench),
        "r_squared": m.r_squared(panel, bench),
        "tracking_error": m.tracking_error(panel, bench),
        "information_ratio": m.information_ratio(panel, bench),
        "up_capture": m.up_capture(panel, bench),
        "down_capture": m.down_capture(panel, bench),
    }
    for c in (0.95, 0.99):
        lab = str(round(c * 100))
        expected[f"var_{lab}_historical"] = risk.value_at_risk(panel, confidence=c)
        expected[f"var_{lab}_parametric"] = risk.value_at_risk(
            panel, confidence=c, method="parametric"
        )
        expected[f"var_{lab}_cornish_fisher"] = risk.value_at_risk(
            panel, confidence=c, method="cornish-fisher"
        )
        expected[f"cvar_{lab}_historical"] = risk.conditional_value_at_risk(panel, confidence=c)
        expected[f"cvar_{lab}_quantstats"] = risk.cvar_quantstats(panel, confidence=c)
    assert set(expected) == set(out)
    for key, value in out.items():
        assert value.shape == (panel.shape[1],), key
        np.testing.assert_allclose(
            value, expected[key], rtol=RTOL, atol=1e-13, equal_nan=True, err_msg=key
        )


def test_summary_layouts_and_light_tails_agree(rng: np.random.Generator) -> None:
    # F-ordered input is read in place; a right-skewed column (few low candidates) takes
    # the exact fallback; both must agree with the C-ordered result and the slow reference.
    r = rng.normal(0.0, 0.01, (400, 5))
    r[:, 1] = rng.exponential(0.01, 400)  # light left tail
    r[:, 2] = np.where(rng.random(400) < 0.9, 0.0, rng.normal(0, 0.02, 400))  # mostly flat
    c = summary_metrics(r)
    f = summary_metrics(np.asfortranarray(r))
    for key in c:
        np.testing.assert_allclose(c[key], f[key], rtol=1e-12, equal_nan=True, err_msg=key)
    for j in range(5):
        xs = list(r[:, j])
        _close(c["var_95_historical"][j], ref_quantile(xs, 0.05))
        k = int((len(xs) - 1) * 0.05)
        _close(c["cvar_95_historical"][j], ref_mean(sorted(xs)[: k + 1]))
        lo = ref_quantile(xs, 0.05)
        _close(c["tail_ratio"][j], abs(ref_quantile(xs, 0.95)) / abs(lo) if lo else math.nan)


def test_summary_bits_are_the_same_for_any_layout_block_and_thread_count(
    rng: np.random.Generator,
) -> None:
    # Each column's numbers come from the same operations in the same order whether the panel
    # is C-ordered (read in place), F-ordered (copied block by block into a tile), a strided
    # view, one column alone, or split over one or two threads: equal to the last bit.
    import numba

    from quantdb.kernels.summary import BLOCK_COLUMNS

    n_cols = 2 * BLOCK_COLUMNS + 7  # two full blocks and a partial one
    r = rng.standard_t(4, (300, n_cols)) * 0.01 + 0.0004
    r[rng.random(r.shape) < 0.03] = np.nan
    r[:40, 3] = np.nan  # a late start
    r[:, 5] = np.nan  # nothing observed
    r[:, 6] = 0.001  # constant
    r[::2, 8] = 0.0  # half flat
    r[:, 9] = rng.exponential(0.01, 300)  # light left tail: the exact fallback
    bench = rng.normal(0.0003, 0.01, 300)
    bench[::11] = np.nan
    bench[5] = 0.0
    kw = {"benchmark": bench, "risk_free": 0.02, "confidences": (0.95, 0.99, 0.9)}

    def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray], what: str) -> None:
        assert list(a) == list(b), what
        for key, value in a.items():
            assert value.tobytes() == b[key].tobytes(), f"{what}: {key}"

    ref = summary_metrics(r, **kw)
    same(ref, summary_metrics(np.asfortranarray(r), **kw), "F-ordered")
    wide = np.repeat(r, 2, axis=1)
    same(ref, summary_metrics(wide[:, ::2], **kw), "strided view")
    for j in (0, 3, 5, 6, 9, n_cols - 1):
        one = summary_metrics(np.ascontiguousarray(r[:, j]), **kw)
        same({k: v[j : j + 1] for k, v in ref.items()}, one, f"column {j} alone")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        same(ref, summary_metrics(r, **kw), "one thread")
    finally:
        numba.set_num_threads(threads)
    # A benchmark observed on every period, against the one-metric functions and bit for bit
    # against the columns alone.
    clean = np.where(np.isnan(bench), 0.001, bench)
    full = summary_metrics(r, benchmark=clean, risk_free=0.02)
    expected = {
        "beta": m.beta(r, clean),
        "alpha": m.alpha(r, clean, risk_free=0.02),
        "correlation": m.correlation(r, clean),
        "tracking_error": m.tracking_error(r, clean),
        "information_ratio": m.information_ratio(r, clean),
        "up_capture": m.up_capture(r, clean),
        "down_capture": m.down_capture(r, clean),
    }
    for key, value in expected.items():
        np.testing.assert_allclose(full[key], value, rtol=RTOL, atol=1e-13, equal_nan=True, err_msg=key)
    for j in (0, 3, 7, 8):
        one = summary_metrics(np.ascontiguousarray(r[:, j]), benchmark=clean, risk_free=0.02)
        same({k: v[j : j + 1] for k, v in full.items()}, one, f"column {j} alone, clean benchmark")


def test_summary_sums_each_column_in_period_order_to_the_last_bit(
    rng: np.random.Generator,
) -> None:
    # The kernel walks a block's rows (periods) with the columns side by side, several periods
    # per step; each column must still add and multiply its own values one period after the
    # other, as a plain loop down the column does, so these figures equal such a loop exactly
    # (no tolerance): a pairwise or reordered sum would differ in the last bits. The period
    # count is not a multiple of the periods per step, and the last periods hold NaNs.
    from scipy.special import ndtri

    from quantdb.kernels.summary import BLOCK_COLUMNS, ROWS_AT_ONCE

    n_rows = 41 * ROWS_AT_ONCE + 3
    n_cols = BLOCK_COLUMNS + 5
    r = rng.standard_t(4, (n_rows, n_cols)) * 0.015 + 0.0003
    r[rng.random(r.shape) < 0.05] = np.nan
    r[-1, ::2] = np.nan
    r[-2, ::3] = np.nan
    r[:10, 1] = np.nan  # a late start
    out = summary_metrics(r)
    for j in range(n_cols):
        n = s = ddsq = 0.0
        wealth = peak = 1.0
        worst = run = longest = 0.0
        for v in r[:, j].tolist():
            if math.isnan(v):  # flat: a drawdown carries on
                run = run + 1.0 if wealth < peak else 0.0
                longest = max(longest, run)
                continue
            n += 1.0
            s += v
            wealth *= 1.0 + v
            peak = max(peak, wealth)
            dd = wealth / peak - 1.0
            worst = min(worst, dd)
            ddsq += dd * dd
            run = run + 1.0 if dd < 0.0 else 0.0
            longest = max(longest, run)
        mean = s / n
        m2 = 0.0
        for v in r[:, j].tolist():
            if not math.isnan(v):
                m2 += (v - mean) * (v - mean)
        assert out["total_return"][j] == wealth - 1.0, j
        assert out["max_drawdown"][j] == worst, j
        assert out["ulcer_index"][j] == math.sqrt(ddsq / n), j
        assert out["longest_drawdown_days"][j] == longest, j
        assert out["volatility"][j] == math.sqrt(m2 / (n - 1.0)) * math.sqrt(252), j
        z = float(ndtri(0.05))
        assert out["var_95_parametric"][j] == mean + math.sqrt(m2 / (n - 1.0)) * z, j


def test_summary_one_day_and_empty() -> None:
    out = summary_metrics(np.array([[0.01, np.nan]]))
    assert out["total_return"][0] == pytest.approx(0.01)
    assert np.isnan(out["sharpe"][0]) and np.isnan(out["total_return"][1])
    assert out["var_95_historical"][0] == pytest.approx(0.01)
    assert summary_metrics(np.empty((10, 0)))["sharpe"].shape == (0,)
    no_rows = summary_metrics(np.empty((0, 3)), benchmark=np.empty(0))
    assert all(np.isnan(v).all() and v.shape == (3,) for v in no_rows.values())
    assert np.isnan(m.sharpe_ratio(np.empty((0, 2)))).all()
    assert np.isnan(m.skew(np.empty((0, 2)))).all()
    assert summary_metrics(np.zeros((5, 2)), confidences=())["sharpe"].shape == (2,)
