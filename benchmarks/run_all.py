"""Run every benchmark and write a table (Markdown) and the raw JSON lines of ratios.

Each ``bench_*.py`` runs in its own process (so one benchmark's memory and JIT state never
affect another's) and prints JSON lines ``{"name", "baseline_s", "quantdb_s", "ratio", ...}``
measured in that one process. This script collects them into ``benchmarks/results/``:
``results.jsonl``, ``results.md`` (the table the README shows, with the machine and the date)
and, with ``--scaling``, ``scaling.json`` + ``scaling.png`` (how a backtest sweep, the metrics
and the panel load grow with tickers x years x grid size).

Usage: ``python benchmarks/run_all.py [--only storage,metrics] [--scale 0.5] [--scaling]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def machine() -> str:
    """One line naming the machine the figures come from."""
    cpus = os.cpu_count() or 0
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = float("nan")
    return f"{platform.machine()}, {cpus} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}"


def run_one(script: Path, env: dict[str, str], timeout: int) -> list[dict[str, object]]:
    """Run one benchmark script; return its JSON lines (stderr passes through)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    rows = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            row["script"] = script.name
            rows.append(row)
    if proc.returncode != 0:
        rows.append({"name": f"{script.stem} FAILED", "script": script.name, "error": proc.stderr.strip()[-500:]})
    sys.stderr.write(f"{script.name}: {len(rows)} figures in {time.perf_counter() - started:.0f} s\n")
    return rows


def fmt_s(v: object) -> str:
    if not isinstance(v, int | float):
        return ""
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


#: What each figure's baseline is (scripts may also say it in a "baseline" key).
BASELINES = {
    "backtest_jit_first_call": "first call with a cold numba cache (quantdb: warm on-disk cache)",
    "backtest_portfolio": "vectorbt Portfolio.from_signals, shared cash, stops, fees",
    "backtest_single_goog": "backtesting.py Backtest.run on GOOG",
    "sweep_sma": "vectorbt MA.run_combs + Portfolio.from_signals + metrics (general signal path)",
    "sweep_inprocess": "vectorbt MA.run_combs + Portfolio.from_signals + metrics, same grid",
    "sweep_jit_first_call": "first call with a cold numba cache (quantdb: warm on-disk cache)",
    "sweep_peak_memory": "the 190-pair grid (quantdb: a 10x larger grid, same memory bound)",
    "sweep_command": "vectorbt, warm, in-process (quantdb: the whole CLI command)",
    "metrics_vs_copy_floor": "bandwidth floor: one np.copy of the returns",
    "metrics_vs_quantstats": "QuantStats column by column (6 metrics; quantdb 27)",
    "migrate_legacy": "bare json.load + csv + executemany of the same rows",
    "montecarlo_iid": "plain NumPy bootstrap + equity + final return and max drawdown",
    "montecarlo_block": "plain NumPy bootstrap + equity + final return and max drawdown",
    "montecarlo_bandwidth_floor": "reading the same bytes once",
    "insert_prices": "bare sqlite3 executemany into the same schema",
    "stress_": "one copy of the close matrix",
}


def describe(row: dict[str, object]) -> str:
    """The baseline of a figure, from the row or the table above."""
    if row.get("baseline"):
        return str(row["baseline"])
    name = str(row.get("name", ""))
    return next((text for prefix, text in BASELINES.items() if name.startswith(prefix)), "")


def versus(baseline_s: object, quantdb_s: object) -> str:
    """``3.2x faster`` / ``2.1x slower``: quantdb against the baseline, from the two times."""
    if not isinstance(baseline_s, int | float) or not isinstance(quantdb_s, int | float) or quantdb_s <= 0:
        return ""
    speed = baseline_s / quantdb_s
    return f"{speed:.3g}x faster" if speed >= 1 else f"{1 / speed:.3g}x slower"


#: Extra fields worth a column in the table, with their labels.
NOTES = {
    "records": "records", "records_per_s": "records/s", "quantdb_per_s": "backtests/s",
    "quantdb_backtests_per_s": "backtests/s", "x_floor": "x floor", "grid_peak_mib": "grid peak MiB",
    "big_peak_mib": "10x grid peak MiB", "stated_bound_mib": "bound MiB", "peak_mib": "peak MiB",
    "peak_traced_mib": "peak MiB", "trades": "trades", "bars": "bars",
}


def notes(row: dict[str, object]) -> str:
    """The notable extra fields of a row (sizes, throughput, memory)."""
    out = []
    for key, label in NOTES.items():
        v = row.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            out.append(f"{label} {v:,.0f}" if abs(v) >= 100 else f"{label} {v:.3g}")
    return ", ".join(out)


def table(rows: list[dict[str, object]], when: str) -> str:
    """The Markdown table of every figure (the comparison is computed here from the two times)."""
    out = [
        f"Measured {when} on {machine()}; each row's two times come from one process.",
        "",
        "| figure | baseline | baseline time | quantdb time | quantdb | notes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['name']} | | | | failed | {str(r['error']).splitlines()[-1][:80] if r['error'] else ''} |")
            continue
        out.append(
            f"| {r['name']} | {describe(r)} | {fmt_s(r.get('baseline_s'))} | "
            f"{fmt_s(r.get('quantdb_s'))} | {versus(r.get('baseline_s'), r.get('quantdb_s'))} | {notes(r)} |"
        )
    return "\n".join(out) + "\n"


def scaling(env: dict[str, str]) -> dict[str, list[dict[str, float]]]:
    """Time growth: panel load, metrics and an SMA sweep over tickers x years x grid size."""
    code = r"""
import json, sys, time, tempfile, numpy as np
from pathlib import Path
from quantdb.datasets import generate_market
from quantdb.kernels.summary import summary_metrics
from quantdb.settings import SimSettings
tickers, years, grid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
m = generate_market(tickers, years, seed=3)
close = np.ascontiguousarray(m.adj_close)
t = time.perf_counter(); np.array(close, copy=True); copy_s = time.perf_counter() - t
r = np.diff(close, axis=0) / close[:-1]
summary_metrics(r[:, :2])
t = time.perf_counter(); summary_metrics(r); metrics_s = time.perf_counter() - t
from quantdb.kernels.fastsweep import sma_cross_stats
fast = np.arange(5, 5 + grid).astype(float); slow = fast + 20
st = SimSettings(fill="close", fractional=True)
sma_cross_stats(close[:, :2], close[:, :2], close[:, :2], close[:, :2], fast[:1], slow[:1], settings=st)
t = time.perf_counter()
sma_cross_stats(close, close, close, close, fast, slow, settings=st)   # the path `quantdb sweep` takes
sweep_s = time.perf_counter() - t
print(json.dumps({"tickers": tickers, "years": years, "grid": grid, "copy_s": copy_s,
                  "metrics_s": metrics_s, "sweep_s": sweep_s, "backtests": tickers * grid}))
"""
    points = [(100, 5, 10), (250, 10, 10), (500, 10, 10), (500, 20, 10), (1000, 20, 10), (2000, 20, 10),
              (500, 10, 40), (500, 10, 160)]
    curves: list[dict[str, float]] = []
    for tickers, years, grid in points:
        proc = subprocess.run([sys.executable, "-c", code, str(tickers), str(years), str(grid)], env=env,
                              capture_output=True, text=True, timeout=1800, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
        if line is None:
            sys.stderr.write(f"scaling point {tickers}x{years}y x{grid}: failed\n{proc.stderr[-400:]}\n")
            continue
        curves.append(json.loads(line))
        sys.stderr.write(f"scaling {tickers}x{years}y grid {grid}: {curves[-1]}\n")
    return {"points": curves}


def plot_scaling(data: dict[str, list[dict[str, float]]], out: Path) -> None:
    """Seconds against cells (dates x tickers x grid) for each measured operation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = data["points"]
    if not pts:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    panel = sorted((p for p in pts if p["grid"] == min(q["grid"] for q in pts)), key=lambda p: p["tickers"] * p["years"])
    cells = [p["tickers"] * p["years"] * 252 for p in panel]
    for key, label in (("copy_s", "memory copy (floor)"), ("metrics_s", "full metric set")):
        ax.loglog(cells, [p[key] for p in panel], "o-", label=label)
    sweep = sorted(pts, key=lambda p: p["tickers"] * p["years"] * p["grid"])
    ax.loglog([p["tickers"] * p["years"] * 252 * p["grid"] for p in sweep], [p["sweep_s"] for p in sweep], "o-",
              label="SMA sweep (x: dates x tickers x grid pairs)")
    ax.set_xlabel("dates x tickers (x grid pairs for the sweep)")
    ax.set_ylabel("seconds")
    ax.set_title("quantdb scaling")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated benchmark names (storage,metrics,...)")
    parser.add_argument("--scale", type=float, default=None, help="QUANTDB_BENCH_SCALE for every benchmark")
    parser.add_argument("--scaling", action="store_true", help="also measure the scaling curves")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per benchmark")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.scale is not None:
        env["QUANTDB_BENCH_SCALE"] = str(args.scale)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem.removeprefix("bench_") in wanted)
    RESULTS.mkdir(exist_ok=True)
    rows: list[dict[str, object]] = []
    for script in scripts:
        rows.extend(run_one(script, env, args.timeout))
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    (RESULTS / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    md = table(rows, when)
    (RESULTS / "results.md").write_text(md)
    if args.scaling:
        data = scaling(env)
        (RESULTS / "scaling.json").write_text(json.dumps(data, indent=2))
        plot_scaling(data, RESULTS / "scaling.png")
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
