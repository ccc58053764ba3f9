"""A tiny benchmark harness shared by ``benchmarks/bench_*.py``.

Each figure is a pair of callables, a baseline and quantdb, run in the same process on the
same data: one warm-up call each (numba compiles, caches fill), then the best of N
``time.perf_counter`` runs of each. One JSON line per figure goes to stdout::

    {"name": "sharpe_500x2520", "baseline_s": 0.84, "quantdb_s": 0.0021, "ratio": 400.0, ...}

``ratio = baseline_s / quantdb_s`` (above 1: quantdb is faster). Sizes scale with the
``QUANTDB_BENCH_SCALE`` environment variable (1.0 = the sizes the issues state), the number
of runs with ``QUANTDB_BENCH_REPEAT`` (default 5). No timing is ever asserted.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_of", "emit", "repeat", "report", "scale", "scaled"]


def scale() -> float:
    """``QUANTDB_BENCH_SCALE`` (default 1.0)."""
    return float(os.environ.get("QUANTDB_BENCH_SCALE", "1.0"))


def scaled(n: int, minimum: int = 1) -> int:
    """`n` times the scale, at least `minimum`."""
    return max(minimum, round(n * scale()))


def repeat() -> int:
    """``QUANTDB_BENCH_REPEAT`` (default 5)."""
    return max(1, int(os.environ.get("QUANTDB_BENCH_REPEAT", "5")))


def best_of(fn: Callable[[], Any], n: int | None = None, *, warmup: bool = True) -> float:
    """Best wall time of `n` calls of `fn`, in seconds, after one untimed warm-up call."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(n or repeat()):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def emit(name: str, baseline_s: float, quantdb_s: float, **extra: Any) -> dict[str, Any]:
    """Print (and return) one JSON line for times measured elsewhere."""
    row: dict[str, Any] = {
        "name": name,
        "baseline_s": baseline_s,
        "quantdb_s": quantdb_s,
        "ratio": baseline_s / quantdb_s if quantdb_s > 0 else float("inf"),
        **extra,
    }
    print(json.dumps(row), flush=True)
    return row


def report(
    name: str,
    *,
    baseline: Callable[[], Any],
    quantdb: Callable[[], Any],
    n: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Time `baseline` and `quantdb` (warm-up, best of `n`) and print one JSON line."""
    b = best_of(baseline, n)
    q = best_of(quantdb, n)
    return emit(name, b, q, **extra)


if __name__ == "__main__":  # pragma: no cover - a smoke run of the harness itself
    report("harness_smoke", baseline=lambda: sum(range(100_000)), quantdb=lambda: None)
    sys.exit(0)
