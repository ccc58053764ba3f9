"""The fused SMA-cross sweep kernel against the general path it replaces.

The reference is independent code: :func:`quantdb.kernels.signals.sma_cross` (the signal
matrices, checked against vectorbt in ``test_signals.py``) fed to
:func:`quantdb.kernels.simulate.sweep_stats` (checked against backtesting.py and vectorbt in
``test_simulate.py``). The fused kernel repeats the same floating-point operations in the
same order, so every statistic must be *bit-identical* (``assert_array_equal``, NaN equal to
NaN), the trade count included: any difference is a rule that drifted.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quantdb.kernels.fastsweep import fast_path_supported, sma_cross_stats
from quantdb.kernels.signals import sma_cross
from quantdb.kernels.simulate import SweepStats, sweep_stats
from quantdb.settings import SettingsError, SimSettings

FIELDS = ("final_equity", "total_return", "sharpe", "max_drawdown", "n_trades",
          "ambiguous_exits", "bankrupt", "bankrupt_bar")


def panel(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, ...]:
    """OHLC ``(n, k)`` with the awkward cases of real panels: a late listing (NaN before), a
    delisting (NaN after), a gap of a few bars, a bar with only the open missing, a flat
    stretch (equal SMAs: the tie rule of the crossing) and integer prices (more ties)."""
    close = 30 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n, k)), axis=0))
    close[:, 0] = np.round(close[:, 0])  # integer closes: many exactly equal SMAs
    a, b = n // 3, n // 3 + n // 6
    close[a:b, 1 % k] = close[a, 1 % k]  # a flat stretch
    opn = close * (1 + rng.normal(0, 0.004, (n, k)))
    high = np.maximum(opn, close) * (1 + rng.uniform(0, 0.01, (n, k)))
    low = np.minimum(opn, close) * (1 - rng.uniform(0, 0.01, (n, k)))
    ohlc = [opn, high, low, close]
    for arr in ohlc:
        arr[: n // 5, 2 % k] = np.nan  # listed late
        arr[n - n // 7 :, 3 % k] = np.nan  # delisted
        arr[n // 2 : n // 2 + 4, 4 % k] = np.nan  # a gap
    opn[n // 3, :] = np.nan  # the close is there but the bar is not valid
    return tuple(ohlc)


def windows(rng: np.random.Generator, count: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs, fast < slow mostly, but also equal and reversed pairs."""
    f = rng.integers(1, hi, count).astype(float)
    s = rng.integers(1, hi, count).astype(float)
    s[0] = f[0]  # equal windows: never a cross
    return f, s


def same(fused: SweepStats, general: SweepStats) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(fused, name), getattr(general, name),
                                      err_msg=name, strict=True)


def general_path(ohlc: tuple[np.ndarray, ...], f: np.ndarray, s: np.ndarray,
                 st: SimSettings, ppy: float = 252.0) -> SweepStats:
    e, x = sma_cross(ohlc[3], f, s)
    return sweep_stats(*ohlc, e, x, settings=st, periods_per_year=ppy)


COSTS = [
    {},
    {"commission": 0.001, "slippage_bps": 5.0},
    {"commission": 0.002, "commission_per_share": 0.01, "commission_fixed": 1.0,
     "commission_min": 2.0, "slippage_range_frac": 0.1},
    {"slippage_bps": 20.0, "max_weight": 0.7},
]
SIZINGS = [("equity", 1.0), ("equity", 0.5), ("cash", 4_000.0), ("shares", 50.0)]


@pytest.mark.parametrize("fill", ["close", "next-open"])
@pytest.mark.parametrize("fractional", [True, False])
def test_every_supported_setting_equals_the_general_path(
    rng: np.random.Generator, fill: str, fractional: bool
) -> None:
    ohlc = panel(rng, 300, 6)
    f, s = windows(rng, 12, 40)
    for costs, (sizing, value) in itertools.product(COSTS, SIZINGS):
        st = SimSettings(cash=10_000.0, fill=fill, fractional=fractional, sizing=sizing,
                         sizing_value=value, **costs)  # type: ignore[arg-type]
        assert fast_path_supported("sma-cross", st)
        same(sma_cross_stats(*ohlc, f, s, settings=st), general_path(ohlc, f, s, st))


def test_random_grids_equal_the_general_path(rng: np.random.Generator) -> None:
    for _ in range(12):
        n = int(rng.integers(30, 500))
        k = int(rng.integers(1, 8))
        ohlc = panel(rng, n, k)
        f, s = windows(rng, int(rng.integers(1, 25)), min(n + 10, 120))  # some > n: no SMA
        st = SimSettings(fill=str(rng.choice(["close", "next-open"])),  # type: ignore[arg-type]
                         fractional=bool(rng.integers(2)),
                         commission=float(rng.choice([0.0, 0.0005])),
                         slippage_bps=float(rng.choice([0.0, 3.0])))
        ppy = float(rng.choice([252.0, 365.0]))
        fused = sma_cross_stats(*ohlc, f, s, settings=st, periods_per_year=ppy)
        same(fused, general_path(ohlc, f, s, st, ppy))
        assert fused.n_trades.shape == (len(f) * k,)


def test_close_only_bars_and_trades_happen(rng: np.random.Generator) -> None:
    """open = high = low = close (Bars.from_close), the sweep's close-only case; the grid
    trades, so the equality above is not one of idle columns."""
    c = 20 * np.exp(np.cumsum(rng.normal(0, 0.015, (800, 5)), axis=0))
    c[:100, 2] = np.nan
    f, s = np.array([5.0, 10, 20, 3]), np.array([20.0, 50, 60, 8])
    st = SimSettings(fill="close", sizing="equity", sizing_value=1.0, fractional=True)
    fused = sma_cross_stats(c, c, c, c, f, s, settings=st)
    same(fused, general_path((c, c, c, c), f, s, st))
    assert fused.n_trades.min() > 0
    assert np.isfinite(fused.sharpe).all()


@pytest.mark.parametrize("fill", ["close", "next-open"])
@pytest.mark.parametrize("fractional", [True, False])
def test_bankrupt_columns_equal_the_general_path(
    rng: np.random.Generator, fill: str, fractional: bool
) -> None:
    """Issue 12: the margin rule per column. A long is wiped out by a low at or below zero
    with its cash spent (ticker 1's lows go negative: a spread, a future), or by an exit fee
    larger than what is left (ticker 3 crashes 99.5 % under a fixed fee); everything after is
    flat. Bit-identical, bankruptcy bar included."""
    ohlc = panel(rng, 400, 5)
    ohlc[2][250:260, 1] = -1.0  # lows below zero
    for a in ohlc:
        a[200:, 3] *= 0.005  # a crash
    f, s = windows(rng, 30, 40)
    st = SimSettings(cash=1_000.0, fill=fill, fractional=fractional, commission_fixed=20.0)
    fused = sma_cross_stats(*ohlc, f, s, settings=st)
    same(fused, general_path(ohlc, f, s, st))
    bank = fused.bankrupt.reshape(len(f), 5)
    assert bank[:, 1].any() and bank[:, 3].any() and not bank.all()
    assert (fused.final_equity >= 0.0).all() and (fused.max_drawdown >= -1.0).all()
    assert (fused.bankrupt_bar[fused.bankrupt] >= 200).all()


def test_one_ticker_1d_input(rng: np.random.Generator) -> None:
    c = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, 200)))
    st = SimSettings()
    same(sma_cross_stats(c, c, c, c, 3, 12, settings=st), general_path((c, c, c, c), 3, 12, st))


@pytest.mark.parametrize("change", [
    {"stop_loss": 0.05}, {"take_profit": 0.1}, {"trailing_stop": 0.05}, {"max_hold_bars": 5},
    {"direction": "both"}, {"direction": "short"}, {"order_type": "limit"},
    {"order_type": "stop"}, {"sizing": "risk"}, {"sizing": "kelly"},
])
def test_unsupported_settings_are_refused(change: dict[str, object]) -> None:
    st = SimSettings(**change)  # type: ignore[arg-type]
    assert not fast_path_supported("sma-cross", st)
    c = np.linspace(10, 20, 50)
    with pytest.raises(SettingsError, match="not supported by the fused kernel"):
        sma_cross_stats(c, c, c, c, 2, 5, settings=st)


def test_predicate_knows_only_fused_strategies() -> None:
    assert fast_path_supported("sma-cross", None)
    for name in ("momentum", "rsi", "bollinger", "mean-reversion", "volume-breakout"):
        assert not fast_path_supported(name, SimSettings())


def test_bad_windows_and_shapes_raise_like_the_general_path() -> None:
    c = np.linspace(10, 20, 50)
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match="window must be a whole number >= 1"):
            sma_cross_stats(c, c, c, c, bad, 5)
        with pytest.raises(ValueError, match="window must be a whole number >= 1"):
            sma_cross(c, bad, 5)
    with pytest.raises(SettingsError, match="share one"):
        sma_cross_stats(c[:-1], c, c, c, 2, 5)


def test_sweep_table_takes_the_fused_path_with_the_same_numbers(rng: np.random.Generator) -> None:
    """``sweep_table`` (what ``run_sweep`` runs per chunk) on supported settings equals the
    general path column for column; a chunk that omits ``fast`` runs with its default."""
    from quantdb.services.research.sweep import (
        ChunkTask,
        SweepData,
        run_chunk,
        sweep_grid,
        sweep_table,
    )
    from quantdb.strategies import Bars

    ohlc = panel(rng, 400, 5)
    st = SimSettings(fill="next-open", commission=0.001, slippage_bps=2.0)
    data = SweepData("sma-cross", Bars(*ohlc), st)
    for specs in (["fast=3:15:4", "slow=10:40:10"], ["slow=20,30"]):
        grid = sweep_grid("sma-cross", specs, ["fast<slow"])
        got = sweep_table(data, grid, chunk=3)
        ref = general_path(ohlc, grid.columns["fast"], grid.columns["slow"], st)
        np.testing.assert_array_equal(got["total_return"], ref.total_return)
        np.testing.assert_array_equal(got["sharpe"], ref.sharpe)
        np.testing.assert_array_equal(got["max_drawdown"], ref.max_drawdown)
        np.testing.assert_array_equal(got["n_trades"], ref.n_trades)
    slow = np.array([20.0, 30.0])
    got = run_chunk(data, ChunkTask(0, {"slow": slow}))
    ref = general_path(ohlc, np.full(2, 10.0), slow, st)  # sma-cross's default fast = 10
    np.testing.assert_array_equal(got["total_return"], ref.total_return)
    np.testing.assert_array_equal(got["n_trades"], ref.n_trades)


def test_the_fused_loop_releases_the_gil_and_threads_get_the_serial_numbers(rng: np.random.Generator) -> None:
    """The loop runs without the GIL (a one-worker sweep loads its best sets' kernels in another
    thread of the driver meanwhile): calls running at once in threads give, bit for bit, the
    numbers of serial calls."""
    from concurrent.futures import ThreadPoolExecutor

    from quantdb.kernels.fastsweep import _sma_cross_nb

    assert _sma_cross_nb.targetoptions.get("nogil") is True
    ohlc = panel(rng, 300, 4)
    st = SimSettings(fill="close", sizing="equity", sizing_value=1.0, fractional=True)
    sets = [(np.array([3.0, 5.0, 8.0]), np.array([10.0, 20.0, 30.0])),
            (np.array([2.0, 4.0]), np.array([6.0, 9.0])),
            (np.array([5.0]), np.array([50.0])),
            (np.array([7.0, 11.0]), np.array([13.0, 40.0]))]
    serial = [sma_cross_stats(*ohlc, f, s, settings=st) for f, s in sets]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda fs: sma_cross_stats(*ohlc, *fs, settings=st), sets * 3))
    for got, ref in zip(threaded, serial * 3, strict=True):
        for name in ("total_return", "sharpe", "max_drawdown", "n_trades", "bankrupt_bar"):
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))


def test_the_sma_rows_equal_rolling_mean_bit_for_bit(rng: np.random.Generator) -> None:
    """`fastsweep._sma_row` (three branch-free loops) gives `signals.rolling_mean` to the last
    bit, windows longer than the bars included (all NaN)."""
    from quantdb.kernels.fastsweep import _sma_row
    from quantdb.kernels.signals import rolling_mean

    for n in (1, 2, 7, 300):
        x = 30 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, n)))
        cs = np.cumsum(x)
        for w in range(1, n + 3):
            out = np.full(n, 123.0)
            _sma_row(out, cs, n, w)
            np.testing.assert_array_equal(out, rolling_mean(x, w), err_msg=f"n={n} w={w}", strict=True)


def test_the_crossings_equal_crossed_above_with_and_without_ties(rng: np.random.Generator) -> None:
    """`fastsweep._crossings` (one vector pass without ties, the recurrence with one) gives
    `signals.crossed_above` both ways: NaN SMAs at the start, exact ties, equal runs."""
    from quantdb.kernels.fastsweep import _crossings
    from quantdb.kernels.signals import crossed_above

    for case in range(40):
        n = int(rng.integers(1, 300))
        a = np.round(rng.normal(0, 1, n).cumsum(), 0 if case % 2 else 6)  # integers: ties
        b = np.round(rng.normal(0, 1, n).cumsum(), 0 if case % 2 else 6)
        a[: int(rng.integers(0, n + 1))] = np.nan  # the SMA's warm-up
        if case % 4 == 3 and n > 5:
            b[n // 2 : n // 2 + 3] = a[n // 2 : n // 2 + 3]  # an equal run
        ent, ext = np.ones(n + 2, dtype=np.bool_), np.ones(n + 2, dtype=np.bool_)
        _crossings(a, b, n, ent, ext)
        np.testing.assert_array_equal(ent[:n], crossed_above(a, b), err_msg=f"case {case}", strict=True)
        np.testing.assert_array_equal(ext[:n], crossed_above(b, a), err_msg=f"case {case}", strict=True)
