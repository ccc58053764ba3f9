"""Benchmark: what a command costs beyond its computation (issue 15), and ``quantdb --help``.

The data: the same 100 tickers x 10 years as ``bench_sweep.py`` (``build_db``). The command,
as the issue states it::

    quantdb sweep sma-cross --grid fast=5:100:5 --grid slow=5:100:5 --constraint "fast<slow"
        --fill close --sizing equity:1 --fractional --json

Figures (one JSON line each):

``command_fixed_cost``
    ``baseline_s``: the computation alone, in this process, warm (``sweep_table`` on the same
    bars, grid and settings: the kernels the command runs); ``quantdb_s``: the whole command in a
    fresh interpreter (best of 3) minus that computation, i.e. start-up, imports, numba cache
    loads, opening and checking the database, loading the bars, writing the Parquet results and
    recording the best sets. Goal: under 0.5 s. ``numba_floor_s``: what no command that runs
    a kernel can go under, a fresh interpreter importing NumPy and numba and calling one function
    from numba's cache (numba loads its CPU target then). ``breakdown_s`` splits one cProfile run of the
    command (cProfile slows Python code, so the parts are shares of a slower run; ``profiled_s``
    is its total; it sees the main thread only, so the loads a sweep's warm-up thread does while
    the chunks compute, `quantdb.services.research.sweep_best.WarmUp`, and the chunk files the
    writer thread writes meanwhile, `quantdb.services.research.chunk_writes`, are not in it) and ``imports_s`` the ``-X importtime`` top-level imports, heaviest first: a
    regression names where it came from.
``help_command``
    ``quantdb --help`` in a fresh interpreter (best of 5) against ``python -c pass``. Goal: under
    0.2 s on an idle machine (``load_average_1m`` says how idle it was).
"""

from __future__ import annotations

import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import best_of, emit

GRID = ["fast=5:100:5", "slow=5:100:5"]

#: cProfile parts of the command: label -> (file suffix, function name); cumulative seconds.
PARTS = {
    "open_db (quick_check, schema)": ("quantdb/cli/common.py", "open_db"),
    "require_healthy (quick_check, or the health seal)": ("quantdb/storage/sqlite.py", "require_healthy"),
    "load_bars": ("quantdb/services/research/bars.py", "load_bars"),
    "sweep_grid (imports strategies, numba)": ("quantdb/services/research/sweep.py", "sweep_grid"),
    "load_fused_kernel (numba's target, the kernel's cache)": ("quantdb/services/research/sweep_warmup.py",
                                                               "load_fused_kernel"),
    "run_chunk (kernels)": ("quantdb/services/research/sweep.py", "run_chunk"),
    "numba cache load": ("numba/core/caching.py", "load_overload"),
    "write chunk parquet (main thread: none; a writer thread writes them)": ("quantdb/services/research/sweep.py",
                                                                            "_write_parquet"),
    "pyarrow write_table (main thread: the final file)": ("pyarrow/parquet/core.py", "write_table"),
    "record best (backtests)": ("quantdb/services/research/sweep_best.py", "record_best"),
    "  best: statistics (incl. kernels.summary's imports)": ("quantdb/services/research/backtest.py",
                                                             "compute_statistics"),
    "  best: store_backtest (SQL)": ("quantdb/services/research/results.py", "store_backtest"),
    "run_sweep (all of the service)": ("quantdb/services/research/sweep.py", "run_sweep"),
}


def sweep_cmd(dbfile: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "quantdb", "sweep", "sma-cross", "--grid", GRID[0], "--grid", GRID[1],
            "--constraint", "fast<slow", "--fill", "close", "--sizing", "equity:1", "--fractional",
            "--json", "--db", str(dbfile), "--out", str(out)]  # fmt: skip


def wall(cmd: list[str], n: int) -> list[float]:
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return runs


def profile_parts(cmd: list[str], tmp: Path) -> tuple[float, dict[str, float]]:
    """Run the command under cProfile; the cumulative seconds of each of `PARTS`."""
    prof = tmp / "cmd.prof"
    subprocess.run([cmd[0], "-m", "cProfile", "-o", str(prof), *cmd[1:]], check=True, capture_output=True)
    stats: dict[Any, Any] = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in stats.values())
    out = {}
    for label, (suffix, func) in PARTS.items():
        out[label] = round(sum(v[3] for (f, _, fn), v in stats.items() if fn == func and f.endswith(suffix)), 3)
    return round(total, 3), out


def import_times(cmd: list[str]) -> dict[str, float]:
    """Top-level imports (what the command itself triggered) and their cumulative seconds."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], check=True, capture_output=True, text=True)
    tops: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = line.split("|")
        if name.startswith("  ") or not cum.strip().isdigit():
            continue  # nested: counted in its top-level parent
        tops[name.strip()] = tops.get(name.strip(), 0.0) + int(cum) / 1e6
    heavy = dict(sorted(tops.items(), key=lambda kv: -kv[1])[:12])
    return {"all_top_level": round(sum(tops.values()), 3), **{k: round(v, 3) for k, v in heavy.items()}}


FLOOR_SCRIPT = """
import numpy, numba

@numba.njit(cache=True)
def one(x):
    return x + 1

one(1)
"""


def numba_floor(tmp: Path, n: int = 3) -> float:
    """The floor of any command that runs a numba kernel: a fresh interpreter importing NumPy
    and numba and calling one function from numba's on-disk cache (numba's first call loads
    its CPU target, which imports scipy.linalg). Best of ``n`` after one run that fills the cache."""
    script = tmp / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
    return min(wall([sys.executable, str(script)], n))


def main() -> None:
    from bench_sweep import build_db

    from quantdb.services.research.sweep import SweepData, load_bars, sweep_grid, sweep_table
    from quantdb.settings import SimSettings
    from quantdb.storage.sqlite import Database

    tmp = Path(tempfile.mkdtemp(prefix="bench_command_"))
    try:
        dbfile = build_db(tmp)
        cmd = sweep_cmd(dbfile, tmp / "out")
        subprocess.run(cmd, check=True, capture_output=True)  # the numba cache of this checkout, warm
        runs = wall(cmd, 3)

        db = Database(dbfile)
        _, _, bars = load_bars(db)
        db.close()
        settings = SimSettings(fill="close", sizing="equity", sizing_value=1.0, fractional=True)
        data = SweepData("sma-cross", bars, settings)
        grid = sweep_grid("sma-cross", GRID, ["fast<slow"])
        compute = best_of(lambda: sweep_table(data, grid), 3)

        profiled, parts = profile_parts(cmd, tmp)
        imports = import_times(cmd)
        whole = min(runs)
        floor = numba_floor(tmp)
        emit("command_fixed_cost", compute, whole - compute,
             baseline="the computation alone, warm, in-process (sweep_table)",
             whole_command_s=round(whole, 3), runs_s=[round(r, 3) for r in runs],
             fixed_share=round((whole - compute) / whole, 3), profiled_s=profiled, breakdown_s=parts,
             imports_s=imports, numba_floor_s=round(floor, 3), load_average_1m=round(os.getloadavg()[0], 2),
             goal={"quantdb_s": 0.5})  # fmt: skip

        t_pass = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 5)
        t_help = best_of(
            lambda: subprocess.run([sys.executable, "-m", "quantdb", "--help"], check=True, capture_output=True), 5
        )
        emit("help_command", t_pass, t_help, baseline="interpreter start-up (python -c pass)",
             load_average_1m=round(os.getloadavg()[0], 2), goal={"quantdb_s": 0.2})  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
