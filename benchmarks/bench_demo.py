"""Benchmark: the whole ``quantdb demo`` (500 tickers x 12 years + SPY), cold and warm (issue 15).

Each run is the real command in a fresh interpreter, on a fresh database and output folder:

``demo_cold``
    an empty numba cache (``NUMBA_CACHE_DIR`` set to a new folder: every kernel the demo uses
    is compiled, as on a fresh clone). Goal: under 60 s on 2 cores.
``demo_warm``
    the same command again with the cache the cold run left (every later demo). Goal: under 45 s.

Each line holds the demo's own per-step seconds (``steps``: generate, migrate, track,
backtest, sweep, walkforward, risk, reports), so a regression shows which step it came from,
plus the CPU seconds of the child process and the 1-minute load average (on a shared machine
the wall time includes waiting for a core). ``baseline_s`` is the interpreter start-up
(``python -c pass``), the one part no command can avoid. No timing is asserted anywhere.

``QUANTDB_BENCH_DEMO_SMALL=1`` runs ``--small`` instead (a smoke run; the goals are for the
full demo).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def python_startup() -> float:
    """Best of 3 wall times of ``python -c pass`` (the floor of any command)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def run_demo(root: Path, cache: Path, tag: str, small: bool) -> dict[str, Any]:
    """One ``quantdb demo --json`` in a fresh interpreter; wall, CPU and the demo's own steps."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "quantdb", "demo", "--db", str(root / f"{tag}.db"),
           "--out", str(root / f"{tag}-out"), "--json"]  # fmt: skip
    if small:
        cmd.append("--small")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"quantdb demo failed ({proc.returncode}): {proc.stderr[-800:]}")
    doc = json.loads(proc.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "steps": doc["seconds"], "load": os.getloadavg()[0]}


def main() -> None:
    small = os.environ.get("QUANTDB_BENCH_DEMO_SMALL", "") not in ("", "0")
    root = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    try:
        start = python_startup()
        cache = root / "numba-cache"
        cache.mkdir()
        size = "60x4y" if small else "500x12y"
        for tag, goal in (("cold", 60.0), ("warm", 45.0)):
            r = run_demo(root, cache, tag, small)
            print(json.dumps({
                "name": f"demo_{tag}", "baseline": "interpreter start-up (python -c pass)",
                "baseline_s": round(start, 4), "quantdb_s": round(r["wall"], 2),
                "ratio": round(start / r["wall"], 5), "size": size, "steps": r["steps"],
                "cpu_s": round(r["cpu"], 2), "load_average_1m": round(r["load"], 2),
                "goal": {"quantdb_s": goal},
            }), flush=True)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
