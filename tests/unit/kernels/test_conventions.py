"""One convention per figure, in the kernels: drawdowns are negative fractions everywhere
(``SweepStats`` from ``simulate``/``sweep_stats`` and the fused ``sma_cross_stats`` equal
``kernels.drawdown.max_drawdown`` of the same equity), and each summary metric is defined once
(one ``summary_metrics``, one ``ulcer_index``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from quantdb.kernels import drawdown, metrics
from quantdb.kernels.fastsweep import fast_path_supported, sma_cross_stats
from quantdb.kernels.signals import sma_cross
from quantdb.kernels.simulate import simulate, sweep_stats
from quantdb.settings import SimSettings

PACKAGE = Path(__file__).resolve().parents[3] / "quantdb"
CASH = 10_000.0


def _ohlc(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, ...]:
    close = 50 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n, k)), axis=0))
    opn = np.vstack([close[:1], close[:-1]]) * (1 + rng.normal(0, 0.003, (n, k)))
    high = np.maximum(opn, close) * 1.01
    low = np.minimum(opn, close) * 0.99
    return opn, high, low, close


def _equity_drawdown(equity: np.ndarray, cash: float) -> np.ndarray:
    """``kernels.drawdown.max_drawdown`` of the bar returns of an equity curve started at cash."""
    equity = equity.reshape(len(equity), -1)  # a portfolio's curve is 1-D
    eq = np.vstack([np.full((1, equity.shape[1]), cash), equity])
    return np.asarray(drawdown.max_drawdown(eq[1:] / eq[:-1] - 1.0))


def _defs(name: str) -> list[str]:
    pattern = re.compile(rf"^[ \t]*def {name}\(", re.MULTILINE)
    return sorted(
        str(p.relative_to(PACKAGE.parent))
        for p in PACKAGE.rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    )


def test_sweep_stats_max_drawdown_is_the_negative_drawdown_of_the_equity(
    rng: np.random.Generator,
) -> None:
    o, h, lo, c = _ohlc(rng, 300, 3)
    e = np.tile(rng.random((300, 3)) < 0.06, (1, 2))
    x = np.tile(rng.random((300, 3)) < 0.06, (1, 2))
    st = SimSettings(cash=CASH, commission=0.001, stop_loss=0.05)
    stats = sweep_stats(o, h, lo, c, e, x, settings=st)
    ref = _equity_drawdown(simulate(o, h, lo, c, e, x, settings=st).equity, CASH)
    assert np.all(stats.max_drawdown <= 0.0) and np.any(stats.max_drawdown < 0.0)
    assert np.all(stats.max_drawdown >= -1.0)
    np.testing.assert_allclose(stats.max_drawdown, ref, rtol=1e-9, atol=1e-12)


def test_portfolio_max_drawdown_is_negative_too(rng: np.random.Generator) -> None:
    o, h, lo, c = _ohlc(rng, 250, 4)
    e = rng.random((250, 4)) < 0.05
    x = rng.random((250, 4)) < 0.05
    st = SimSettings(cash=CASH, sizing_value=0.25)
    res = simulate(o, h, lo, c, e, x, settings=st, portfolio=True)
    assert res.stats.max_drawdown.shape == (1,)
    assert res.stats.max_drawdown[0] < 0.0
    np.testing.assert_allclose(res.stats.max_drawdown, _equity_drawdown(res.equity, CASH),
                               rtol=1e-9, atol=1e-12)


def test_fused_sweep_max_drawdown_is_negative_and_equals_the_general_path(
    rng: np.random.Generator,
) -> None:
    o, h, lo, c = _ohlc(rng, 400, 3)
    fast, slow = np.array([3.0, 5.0, 10.0]), np.array([20.0, 15.0, 40.0])
    st = SimSettings(cash=CASH, fill="next-open", commission=0.001)
    assert fast_path_supported("sma-cross", st)
    fused = sma_cross_stats(o, h, lo, c, fast, slow, settings=st)
    entries, exits = sma_cross(c, fast, slow)
    general = sweep_stats(o, h, lo, c, entries, exits, settings=st)
    ref = _equity_drawdown(simulate(o, h, lo, c, entries, exits, settings=st).equity, CASH)
    assert np.all(fused.max_drawdown <= 0.0) and np.any(fused.max_drawdown < 0.0)
    np.testing.assert_array_equal(fused.max_drawdown, general.max_drawdown)
    np.testing.assert_allclose(fused.max_drawdown, ref, rtol=1e-9, atol=1e-12)


def test_no_drawdown_is_zero_not_minus_zero() -> None:
    c = np.linspace(10.0, 20.0, 30)[:, None]
    e = np.zeros((30, 1), dtype=bool)
    e[0] = True
    x = np.zeros((30, 1), dtype=bool)
    stats = sweep_stats(c, c, c, c, e, x, settings=SimSettings(fill="close"))
    assert stats.max_drawdown[0] == 0.0 and not np.signbit(stats.max_drawdown[0])


def test_summary_metrics_is_defined_once_in_the_kernels() -> None:
    assert _defs("summary_metrics") == ["quantdb/kernels/summary.py"]


def test_ulcer_index_is_defined_once_in_the_drawdown_kernels() -> None:
    assert _defs("ulcer_index") == ["quantdb/kernels/drawdown.py"]
    assert not hasattr(metrics, "ulcer_index")
    assert "ulcer_index" not in metrics.__all__
