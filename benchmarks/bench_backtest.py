"""Benchmark: the backtest kernels against vectorbt and backtesting.py, in one process.

Figures (one JSON line each, with ``baseline_s``, ``quantdb_s`` and ``ratio`` =
baseline / quantdb, > 1 means quantdb is faster):

``backtest_portfolio_500x2520``
    one 10-year backtest over 500 tickers, shared cash, stop-loss, take-profit, trailing
    stop, commission, equity-fraction sizing: ``simulate(..., portfolio=True)`` (trades,
    equity curve and exposure recorded) vs ``vbt.Portfolio.from_signals(cash_sharing=True,
    group_by=True, sl_stop, sl_trail, tp_stop, fees, size_type="percent")``. Signals are
    computed once beforehand for both. Goal: ratio >= 3 once compiled.
``backtest_jit_first_call``
    import + first ``simulate`` call in a fresh interpreter, with an empty numba cache
    directory (``baseline_s`` = cold) and again with the cache it left (``quantdb_s`` = warm).
``backtest_single_goog``
    backtesting.py ``Backtest.run`` of a long-only SMA cross on its bundled GOOG data vs the
    same backtest with ``simulate`` (signals included on our side): the per-backtest reference.
``sweep_sma_190x20x2520``
    190 window pairs (``MA.run_combs`` of 20 windows) x 20 tickers x 10 years of seeded random
    walks: vectorbt ``MA.run_combs`` + crossings + ``from_signals`` + total return, Sharpe and
    max drawdown vs ``sma_cross`` + ``sweep_stats``; also backtests/s each. Goal: ratio >= 50.

``QUANTDB_BENCH_SCALE`` scales the ticker counts (1.0 = 500 and 20); best of
``QUANTDB_BENCH_REPEAT`` runs (default 3) after one warm-up call of each side.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from quantdb.kernels.signals import sma_cross
from quantdb.kernels.simulate import simulate, sweep_stats
from quantdb.settings import SimSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_of, emit, scale

SCALE = scale()
REPEAT = int(os.environ.get("QUANTDB_BENCH_REPEAT", "3"))
N_DAYS = 2520


def ohlc(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, ...]:
    c = 50.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n, k)), axis=0))
    o = np.vstack([c[:1], c[:-1]]) * np.exp(rng.normal(0, 0.005, (n, k)))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.01, (n, k))))
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, 0.01, (n, k))))
    return o, h, lo, c


def bench_portfolio() -> None:
    import vectorbt as vbt

    k = max(10, int(500 * SCALE))
    o, h, lo, c = ohlc(np.random.default_rng(7), N_DAYS, k)
    e, x = sma_cross(c, 20, 100)
    st = SimSettings(cash=1_000_000.0, fill="close", sizing="equity", sizing_value=0.05,
                     fractional=True, commission=0.001, stop_loss=0.08, take_profit=0.25,
                     trailing_stop=0.15)

    def ours() -> object:
        return simulate(o, h, lo, c, e, x, settings=st, portfolio=True)

    cdf = pd.DataFrame(c)

    def theirs() -> object:
        pf = vbt.Portfolio.from_signals(
            cdf, e, x, open=o, high=h, low=lo, init_cash=1_000_000.0, cash_sharing=True,
            group_by=True, size=0.05, size_type="percent", fees=0.001, sl_stop=0.15,
            sl_trail=True, tp_stop=0.25, freq="1D")
        return pf.final_value()

    q = best_of(ours, REPEAT)
    b = best_of(theirs, REPEAT)
    r = ours()
    emit(f"backtest_portfolio_{k}x{N_DAYS}", b, q, trades=len(r.trades))  # type: ignore[attr-defined]


def bench_jit() -> None:
    code = ("import time; t=time.perf_counter(); import numpy as np; "
            "from quantdb.kernels.simulate import simulate; "
            "from quantdb.settings import SimSettings; "
            "c=np.linspace(10, 20, 50)[:, None]; e=np.zeros((50, 1), bool); e[5]=True; "
            "simulate(c, c, c, c, e, ~e, settings=SimSettings(stop_loss=0.1)); "
            "print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "NUMBA_CACHE_DIR": d}
        runs = [float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()[-1])
                for _ in range(2)]
    emit("backtest_jit_first_call", runs[0], runs[1], cold_s=runs[0], warm_s=runs[1])


def bench_goog() -> None:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class LongCross(Strategy):
        fast, slow = 10, 30

        def init(self) -> None:
            self.a = self.I(SMA, self.data.Close, self.fast)
            self.b = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.a, self.b):
                if not self.position:
                    self.buy()
            elif crossover(self.b, self.a):
                self.position.close()

    bt = Backtest(GOOG, LongCross, cash=10_000, commission=0.002, finalize_trades=True)
    o, h, lo, c = (GOOG[f].to_numpy(dtype=float) for f in ("Open", "High", "Low", "Close"))
    st = SimSettings(cash=10_000.0, commission=0.002)

    def ours() -> object:
        e, x = sma_cross(c, 10, 30)
        return simulate(o, h, lo, c, e, x, settings=st)

    def theirs() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bt.run()

    emit("backtest_single_goog", best_of(theirs, REPEAT), best_of(ours, REPEAT), bars=len(c))


def bench_sweep() -> None:
    import vectorbt as vbt

    k = max(2, int(20 * SCALE))
    c = 50.0 * np.exp(np.cumsum(np.random.default_rng(11).normal(0.0002, 0.02, (N_DAYS, k)),
                                axis=0))
    windows = list(range(10, 210, 10))  # 20 windows -> 190 pairs
    cdf = pd.DataFrame(c)
    pairs = [(a, b) for i, a in enumerate(windows) for b in windows[i + 1 :]]
    fast = np.array([p[0] for p in pairs])
    slow = np.array([p[1] for p in pairs])
    st = SimSettings(cash=100.0, fill="close", fractional=True)

    def ours() -> object:
        e, x = sma_cross(c, fast, slow)
        return sweep_stats(c, c, c, c, e, x, settings=st)

    def theirs() -> object:
        f, s = vbt.MA.run_combs(cdf, window=windows, r=2, short_names=["fast", "slow"])
        pf = vbt.Portfolio.from_signals(np.tile(c, len(pairs)), f.ma_crossed_above(s),
                                        f.ma_crossed_below(s), freq="1D")
        return pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = best_of(theirs, max(1, REPEAT - 1))
        q = best_of(ours, REPEAT)
    n_bt = len(pairs) * k
    emit(f"sweep_sma_{len(pairs)}x{k}x{N_DAYS}", b, q, backtests=n_bt,
           baseline_backtests_per_s=n_bt / b, quantdb_backtests_per_s=n_bt / q)


if __name__ == "__main__":
    which = set(sys.argv[1:]) or {"jit", "portfolio", "goog", "sweep"}
    if "jit" in which:
        bench_jit()
    if "portfolio" in which:
        bench_portfolio()
    if "goog" in which:
        bench_goog()
    if "sweep" in which:
        bench_sweep()
