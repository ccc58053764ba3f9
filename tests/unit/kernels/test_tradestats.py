"""tradestats.py against hand-counted trades and loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantdb.kernels import tradestats as ts


def test_trade_stats_by_hand() -> None:
    pnl = [100.0, -50.0, 0.0, 200.0, 75.0, np.nan, -25.0]
    s = ts.trade_stats(pnl, holding_days=[1, 2, 3, 4, 5, 6], r_multiples=[2, -1, 0, 4, -0.5, 1.5])
    assert s["trades"] == 6
    assert s["win_rate"] == pytest.approx(3 / 6)  # the break-even trade is in the denominator
    assert s["average_win"] == pytest.approx(125.0)
    assert s["average_loss"] == pytest.approx(-37.5)
    assert s["payoff_ratio"] == pytest.approx(125 / 37.5)
    assert s["profit_factor"] == pytest.approx(375 / 75)
    assert s["expectancy"] == pytest.approx(300 / 6)
    rm = np.array([2, -1, 0, 4, -0.5, 1.5])
    assert s["sqn"] == pytest.approx(math.sqrt(6) * rm.mean() / rm.std(ddof=1))
    b = 125 / 37.5
    assert s["kelly_fraction"] == pytest.approx(0.5 - 0.5 / b)
    assert s["longest_win_streak"] == 2 and s["longest_loss_streak"] == 1
    assert s["average_holding_days"] == 3.5


def test_streaks_against_a_loop() -> None:
    rng = np.random.default_rng(1337)
    pnl = rng.choice([-1.0, 0.0, 1.0], size=500, p=[0.45, 0.1, 0.45])

    def longest(pred):
        best = run = 0
        for v in pnl:
            run = run + 1 if pred(v) else 0
            best = max(best, run)
        return best

    assert ts.longest_win_streak(pnl) == longest(lambda v: v > 0)
    assert ts.longest_loss_streak(pnl) == longest(lambda v: v < 0)


def test_edge_cases() -> None:
    assert math.isnan(ts.win_rate([]))
    assert math.isnan(ts.average_loss([1.0, 2.0]))
    assert ts.profit_factor([1.0, 2.0]) == math.inf
    assert math.isnan(ts.profit_factor([0.0, 0.0]))
    assert math.isnan(ts.sqn([1.0]))
    assert math.isnan(ts.sqn([1.0, 1.0, 1.0]))
    assert ts.sqn(list(range(1, 201)), max_trades=100) == pytest.approx(
        10 * np.mean(range(1, 201)) / np.std(range(1, 201), ddof=1)
    )
    assert math.isnan(ts.kelly_fraction([1.0, 2.0]))
    assert ts.longest_win_streak([]) == 0
    with pytest.raises(ValueError, match="1-D"):
        ts.win_rate(np.zeros((2, 2)))


def test_period_versions_match_loops() -> None:
    rng = np.random.default_rng(1337)
    r = rng.normal(0, 0.01, (200, 3))
    r[::7, 0] = 0.0
    r[::5, 1] = np.nan
    r[:, 2] = np.abs(r[:, 2])
    wr = ts.win_rate_periods(r)
    pf = ts.profit_factor_periods(r)
    for j in range(3):
        xs = [v for v in r[:, j] if not math.isnan(v)]
        nz = [v for v in xs if v != 0]
        assert wr[j] == pytest.approx(sum(v > 0 for v in nz) / len(nz))
        losses = -sum(v for v in xs if v < 0)
        exp = sum(v for v in xs if v >= 0) / losses if losses else math.inf
        assert pf[j] == pytest.approx(exp)
    assert float(ts.win_rate_periods(r[:, 0])) == wr[0]
    assert np.isnan(ts.win_rate_periods([0.0, 0.0]))
