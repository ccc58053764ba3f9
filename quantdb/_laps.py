"""Wall-clock seconds per phase of a long service, for benchmarks and profiling only.

A service that accepts ``timings: dict[str, float] | None`` adds the seconds each of its
phases took to that dict (summing a phase met more than once); ``None``, the default,
records nothing. No result depends on it: it exists so that a benchmark can say where the
time of, say, a migration goes (parse, normalize, insert, indexes, commit) without a profiler.
"""

from __future__ import annotations

import time

__all__ = ["Laps"]


class Laps:
    """A stopwatch: each `lap(name)` adds the seconds since the previous lap to ``out[name]``."""

    __slots__ = ("_last", "out")

    def __init__(self, out: dict[str, float] | None) -> None:
        self.out = out
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap (or since creation) to phase ``name``."""
        if self.out is None:
            return
        now = time.perf_counter()
        self.out[name] = self.out.get(name, 0.0) + (now - self._last)
        self._last = now

    def skip(self) -> None:
        """Restart the stopwatch without charging the time since the previous lap to anything."""
        self._last = time.perf_counter()
