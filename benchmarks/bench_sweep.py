"""Benchmark: parameter sweeps against vectorbt, in one run (one JSON line a figure).

The data: ``generate_market(100 tickers, 10 years, seed 42)`` written as price files and
imported into a fresh database, so both sides read the same adjusted closes (``services.bars.load_bars``).
The grid: 20 windows 5..100, every pair with fast < slow = 190 pairs (``MA.run_combs`` of 20
windows), fill at the close, all cash in, fractional shares, no costs (vectorbt's defaults).

Figures (``ratio`` = baseline_s / quantdb_s, > 1 means quantdb is faster):

``sweep_inprocess_190x100x10y``
    vectorbt warm ``MA.run_combs`` + crossings + ``Portfolio.from_signals`` + total return,
    Sharpe, max drawdown and trade count vs ``sweep_table`` in this process (one core, the
    path ``run_sweep`` takes: for these settings the fused kernel of
    :mod:`quantdb.kernels.fastsweep`, the same four metrics per column). Goal >= 50.
    ``general_s``/``general_ratio``: the general path (``signals.sma_cross`` +
    ``sweep_stats``, what any other strategy or setting runs) on the same chunks, and
    ``fused_equals_general``: whether the two give identical numbers.
``sweep_command_190x100x10y``
    vectorbt's warm in-process time vs issue 15's whole command, ``quantdb sweep sma-cross
    --grid fast=5:100:5 --grid slow=5:100:5 --constraint "fast<slow" --fill close --sizing
    equity:1 --fractional --json`` (one worker, the default), in a subprocess: interpreter
    start-up, imports, data load from the mirror, the sweep, Parquet and SQLite writes. Best
    of 3 runs; ``worst_ratio`` against the slowest of them (the goal: >= 15 in every run).
    ``workers2_runs_s``/``workers2_worst_ratio``: the same command with ``--workers 2``
    (a process pool costs more than it saves on 0.4 s of computation).
``sweep_jit_first_call``
    a fresh interpreter (imports included) running a small sweep with an empty numba cache
    (baseline_s: the very first call after install, every kernel compiled) and again with the
    on-disk cache it left (quantdb_s: every later first call). Goal: under 10 s.
``sweep_peak_memory``
    peak RSS of a subprocess that loads the panel and runs the 190-pair
    grid, then of one that runs a 10x larger grid (1,891 pairs, 62 windows); both with the
    default chunk (256 MiB budget). Peak is ``VmHWM`` from ``/proc/self/status`` (``ru_maxrss``
    survives ``exec`` on Linux and would report the parent's peak). Reports MiB and the stated
    bound (RSS before the sweep + budget + result table); baseline_s/quantdb_s hold the two
    run times.

``QUANTDB_BENCH_SCALE`` scales the ticker count (1.0 = 100); ``QUANTDB_BENCH_REPEAT`` the
best-of count for the in-process figures (default 3; vectorbt runs once after a warm-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_of, emit, scale

SCALE = scale()
REPEAT = int(os.environ.get("QUANTDB_BENCH_REPEAT", "3"))
N_TICKERS = max(5, int(100 * SCALE))
WINDOWS = list(range(5, 101, 5))  # 20 windows -> 190 pairs
GRID = ["fast=5:100:5", "slow=5:100:5"]
BIG_GRID = ["fast=5:310:5", "slow=5:310:5"]  # 62 windows -> 1,891 pairs (10x)


def build_db(root: Path) -> Path:
    from quantdb.datasets import generate_market
    from quantdb.datasets.market import write_price_frames
    from quantdb.services.records.prices import import_price_files
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    market = generate_market(N_TICKERS, 10, seed=42)
    files = write_price_frames(market, root / "prices", tickers=market.tickers[:N_TICKERS])
    db = Database(root / "bench.db")
    apply_migrations(db)
    import_price_files(db, files)
    from quantdb.services.research.bars import load_bars

    load_bars(db)  # builds the columnar mirror, as the first command after an import does
    db.close()
    return root / "bench.db"


def general_path(data: Any, grid: Any) -> dict[str, np.ndarray]:
    """The unfused path on ``sweep_table``'s chunks: signal matrices, then ``sweep_stats``."""
    from quantdb.kernels.simulate import sweep_stats
    from quantdb.services.research.sweep import default_chunk
    from quantdb.strategies import get_strategy

    strat, b = get_strategy(data.strategy), data.bars
    size = default_chunk(*b.close.shape)
    parts: dict[str, list[np.ndarray]] = {"total_return": [], "sharpe": [], "max_drawdown": [],
                                          "n_trades": []}
    for lo in range(0, len(grid), size):
        sig = strat.signals(b, **{n: grid.columns[n][lo : lo + size] for n in grid.names})
        st = sweep_stats(b.open, b.high, b.low, b.close, *sig, settings=data.settings)
        parts["total_return"].append(st.total_return)
        parts["sharpe"].append(st.sharpe)
        parts["max_drawdown"].append(st.max_drawdown)
        parts["n_trades"].append(st.n_trades)
    return {k: np.concatenate(v) for k, v in parts.items()}


def main() -> None:
    from quantdb.services.research.sweep import SweepData, load_bars, sweep_grid, sweep_table
    from quantdb.settings import SimSettings
    from quantdb.storage.sqlite import Database

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    dbfile = build_db(tmp)
    db = Database(dbfile)
    dates, names, bars = load_bars(db)
    db.close()
    n_days, n_tickers = bars.close.shape
    settings = SimSettings(fill="close", sizing="equity", sizing_value=1.0, fractional=True)
    grid = sweep_grid("sma-cross", GRID, ["fast<slow"])
    assert len(grid) == 190
    n_bt = len(grid) * n_tickers
    data = SweepData("sma-cross", bars, settings)

    from quantdb.kernels.fastsweep import fast_path_supported

    fused = fast_path_supported("sma-cross", settings)
    t_ours = best_of(lambda: sweep_table(data, grid), REPEAT)
    ours = sweep_table(data, grid)
    t_general = best_of(lambda: general_path(data, grid), REPEAT)
    general = general_path(data, grid)
    same = all(np.array_equal(ours[k], general[k], equal_nan=True) for k in general)

    # ---- vectorbt, warm, same closes, same metrics
    import pandas as pd
    import vectorbt as vbt

    close = pd.DataFrame(bars.close, index=pd.DatetimeIndex(dates), columns=list(names))

    def vbt_sweep(frame: pd.DataFrame) -> tuple[Any, ...]:
        fast, slow = vbt.MA.run_combs(frame, window=WINDOWS, r=2, short_names=["fast", "slow"])
        pf = vbt.Portfolio.from_signals(frame, fast.ma_crossed_above(slow), fast.ma_crossed_below(slow),
                                        freq="1D")
        return pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown(), pf.trades.count()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vbt_sweep(close.iloc[:300, :3])  # compile
        t0 = time.perf_counter()
        theirs = vbt_sweep(close)
        t_vbt = time.perf_counter() - t0

    # sanity: the same total returns on the tickers listed for the whole period
    full = ~np.isnan(bars.close).any(axis=0)
    lookup = {(int(f), int(s), t): v for (f, s, t), v in theirs[0].items()}
    tick = np.asarray(names, dtype=object)[ours["ticker_index"]]
    sel = full[ours["ticker_index"]]
    exp = np.array([lookup[(f, s, t)] for f, s, t in
                    zip(ours["fast"][sel], ours["slow"][sel], tick[sel], strict=True)])
    max_diff = float(np.max(np.abs(ours["total_return"][sel] - exp)))
    emit("sweep_inprocess_190x100x10y", t_vbt, t_ours, backtests=n_bt,
           vectorbt_per_s=round(n_bt / t_vbt), quantdb_per_s=round(n_bt / t_ours),
           days=n_days, tickers=n_tickers, max_abs_total_return_diff=max_diff,
           fused_path=fused, general_s=round(t_general, 4),
           general_ratio=round(t_vbt / t_general, 2), fused_equals_general=same)

    # ---- the whole command in a subprocess
    exe = Path(sys.executable).with_name("quantdb")
    cmd = [str(exe), "sweep", "sma-cross", "--grid", GRID[0], "--grid", GRID[1],
           "--constraint", "fast<slow", "--fill", "close", "--sizing", "equity:1", "--fractional",
           "--db", str(dbfile), "--out", str(tmp / "out"), "--json"]  # fmt: skip

    def three(args: list[str]) -> tuple[list[float], str]:
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            out = subprocess.run(args, check=True, capture_output=True, text=True)
            runs.append(time.perf_counter() - t0)
        return runs, out.stdout

    runs, stdout = three(cmd)
    runs2, _ = three([*cmd, "--workers", "2"])
    doc = json.loads(stdout)
    emit("sweep_command_190x100x10y", t_vbt, min(runs), backtests=n_bt,
           command_per_s=round(n_bt / min(runs)), chunks=doc["chunks"], first_run_s=round(runs[0], 3),
           runs_s=[round(r, 3) for r in runs], worst_ratio=round(t_vbt / max(runs), 2),
           workers2_runs_s=[round(r, 3) for r in runs2], workers2_worst_ratio=round(t_vbt / max(runs2), 2),
           load_average_1m=round(os.getloadavg()[0], 2))

    # ---- first call: cold numba cache vs warm
    code = textwrap.dedent("""
        import time; t0 = time.perf_counter()
        from quantdb.settings import SimSettings
        from quantdb.services.research.sweep import SweepData, sweep_grid, sweep_table
        from quantdb.strategies import Bars
        import numpy as np
        c = 50 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (500, 4)), axis=0))
        sweep_table(SweepData("sma-cross", Bars.from_close(c), SimSettings(fill="close")),
                    sweep_grid("sma-cross", ["fast=5,10", "slow=20,30"]))
        print(time.perf_counter() - t0)
    """)
    cache = tempfile.mkdtemp(prefix="numba_cache_")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    jit = [float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout) for _ in range(2)]
    emit("sweep_jit_first_call", jit[0], jit[1], cold_s=round(jit[0], 3), warm_s=round(jit[1], 3),
           goal_cold_under_s=10)

    # ---- peak memory of the grid and of a 10x grid, each in a fresh process
    mem_code = textwrap.dedent("""
        import json, sys, time
        from quantdb.settings import SimSettings
        from quantdb.services.research.sweep import (DEFAULT_MEMORY_BUDGET, SweepData, default_chunk,
                                            load_bars, sweep_grid, sweep_table)
        from quantdb.storage.sqlite import Database

        def status(key):  # VmRSS / VmHWM of this process (ru_maxrss survives exec on Linux)
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) * 1024

        db = Database(sys.argv[1]); dates, names, bars = load_bars(db); db.close()
        grid = sweep_grid("sma-cross", sys.argv[2:4], ["fast<slow"])
        start = status("VmRSS")
        t0 = time.perf_counter()
        res = sweep_table(SweepData("sma-cross", bars, SimSettings(fill="close", fractional=True)), grid)
        dt = time.perf_counter() - t0
        peak = status("VmHWM")
        table = sum(v.nbytes for v in res.values())
        print(json.dumps({"combos": len(grid), "chunk": default_chunk(*bars.close.shape),
                          "start_mib": start / 2**20, "peak_mib": peak / 2**20,
                          "bound_mib": (start + DEFAULT_MEMORY_BUDGET + table) / 2**20, "s": dt}))
    """)
    mems = []
    for g in (GRID, BIG_GRID):
        run = subprocess.run([sys.executable, "-c", mem_code, str(dbfile), *g], check=False,
                             capture_output=True, text=True)
        if run.returncode:
            raise RuntimeError(run.stderr)
        mems.append(json.loads(run.stdout))
    small, big = mems
    emit("sweep_peak_memory", small["s"], big["s"],
           grid_combos=small["combos"], grid_peak_mib=round(small["peak_mib"], 1),
           big_combos=big["combos"], big_peak_mib=round(big["peak_mib"], 1),
           start_mib=round(small["start_mib"], 1), chunk=small["chunk"],
           stated_bound_mib=round(big["bound_mib"], 1),
           big_within_bound=bool(big["peak_mib"] <= big["bound_mib"]))


if __name__ == "__main__":
    main()
