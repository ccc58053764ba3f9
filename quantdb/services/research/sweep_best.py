"""A sweep's last step: its best parameter sets stored as full backtests, and what is loaded
for it while the chunks still compute.

`record_best` reruns each best set as an independent-mode backtest and stores it (trades,
equity, the sweep's figures). Its inputs (`BestInputs`: the run's bars, the benchmark's
returns, the data fingerprint) depend only on the run, not on the ranking, and the kernels
and imports of the backtest path are the same whatever the sets: `WarmUp` loads both in a
thread of the driver while the chunks compute (in worker processes, or with one worker in
the driver's thread, in the fused kernel that releases the GIL), so that after the ranking
only the backtests themselves and their storage remain. The stored rows do not depend on it:
the inputs are what `record_best` would load itself, by the same functions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantdb.services.research.results import delete_sweep_backtests, store_backtest, utc_timestamp
from quantdb.settings import SimSettings, settings_from_json
from quantdb.storage.sqlite import Database
from quantdb.universe import Universe

if TYPE_CHECKING:
    from quantdb.services.research.backtest import LoadedRun
    from quantdb.services.research.grid import Grid
    from quantdb.services.research.sweep import SweepData
    from quantdb.strategies import Strategy

__all__ = ["BestInputs", "WarmUp", "best_inputs", "record_best"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class BestInputs:
    """What the best sets' backtests read: the run's settings and its loaded bars, benchmark
    returns and fingerprint (`quantdb.services.research.backtest.load_run`)."""

    settings: SimSettings
    run: LoadedRun


def best_inputs(db: Database, saved: dict[str, Any]) -> BestInputs:
    """Load the inputs of a run's best sets: what ``run_backtest(strategy, db=db,
    universe=<the run's tickers>, start=..., end=..., settings=..., mode="independent")`` loads,
    loaded once for all the sets. ``saved`` is the run's recorded settings document."""
    from quantdb.services.research.backtest import load_run

    run = load_run(Universe("list", tuple(saved["tickers"])), db=db, start=saved["start"], end=saved["end"],
                   benchmark="SPY")  # fmt: skip
    return BestInputs(settings_from_json(saved["simulation"]), run)


def record_best(
    db: Database, run_id: int, strategy: Strategy, best: list[dict[str, Any]], saved: dict[str, Any],
    objective: str, inputs: BestInputs | None = None,
) -> None:
    """The driver's write at the end: each best parameter set as a full backtest, and the run done.

    Each of the ``best`` sets runs again as an independent-mode backtest (each ticker its own
    cash, as in the sweep; the equity the mean of the tickers' curves, whose total return is
    the set's mean ``total_return``) on the run's tickers, period and settings, and is stored
    with its trades and daily equity, linked by ``sweep_run_id``, the sweep's figures (rank,
    objective, means over tickers) kept in its statistics. Then a sweep's row can be rerun,
    bootstrapped and given a tearsheet like any backtest. All rows and the status are one
    transaction. ``inputs``: `best_inputs` of the run, when a `WarmUp` loaded them already.
    """
    from quantdb.services.research.backtest import backtest_loaded
    from quantdb.services.research.sweep import RESULT_COLUMNS

    got = inputs if inputs is not None else best_inputs(db, saved)
    metrics = set(RESULT_COLUMNS)
    runs = []
    for row in best:
        params = {k: v for k, v in row.items() if k not in metrics and k != "backtest_id"}
        runs.append(backtest_loaded(
            strategy, got.run.data, where=got.run.where, params=params, settings=got.settings, mode="independent",
            db=db, source="db", benchmark="SPY", benchmark_returns=got.run.bench,
            data_fingerprint=got.run.data_fingerprint,
        ))
    source = strategy.source()  # the code that ran: read and hashed once for the sets
    with db.atomic() as conn:
        delete_sweep_backtests(db, run_id)
        for rank, (row, res) in enumerate(zip(best, runs, strict=True), 1):
            figures = {m: row[m] for m in RESULT_COLUMNS}
            row["backtest_id"] = store_backtest(
                db, res, universe=str(got.run.where), source="db", mode="independent", benchmark="SPY",
                sweep_run_id=run_id, strategy_source=source,
                sweep={"run_id": run_id, "rank": rank, "objective": objective, "aggregate": "mean over tickers",
                       **figures},
            )
        conn.execute("UPDATE sweep_runs SET status = 'done', finished_at = ? WHERE id = ?",
                     (utc_timestamp(), run_id))


class WarmUp:
    """A daemon thread of the driver, started at once: it runs the best sets' backtest path on
    a tiny slice (`warm_best_path`: numba's kernels and the imports, result discarded) and loads
    `best_inputs` (reads of the database, which the driver does not touch while the chunks
    compute). `join` waits for it and returns the inputs (None if loading them failed: then
    `record_best` loads them itself and raises the error). Only builtin strategies are warmed
    up: a user's strategy code is never run for it."""

    def __init__(self, db: Database, saved: dict[str, Any], strategy: Strategy, dates: np.ndarray,
                 names: Sequence[str], data: SweepData, grid: Grid) -> None:
        self._inputs: BestInputs | None = None
        self._thread = threading.Thread(target=self._run, args=(db, saved, strategy, dates, names, data, grid),
                                        name="quantdb-sweep-warmup", daemon=True)
        self._thread.start()

    def _run(self, db: Database, saved: dict[str, Any], strategy: Strategy, dates: np.ndarray,
             names: Sequence[str], data: SweepData, grid: Grid) -> None:
        warm_best_path(strategy, dates, names, data, grid)
        try:
            self._inputs = best_inputs(db, saved)
        except Exception:  # loaded again by record_best, which raises it
            log.debug("sweep warm-up: loading the best sets' inputs failed", exc_info=True)

    def join(self) -> BestInputs | None:
        """Wait for the thread; the inputs it loaded."""
        self._thread.join()
        return self._inputs


def warm_best_path(strategy: Strategy, dates: np.ndarray, names: Sequence[str], data: SweepData, grid: Grid) -> None:
    """Run the best sets' backtest path once on a 64-day, one-ticker slice, result discarded.

    It loads numba's CPU target, the simulation and statistics kernels and their imports in
    this process while the chunks compute, instead of after them, in `record_best`. Touches
    no file and no database. Only a warm-up: an error is left to the real backtests, which
    raise it.
    """
    from quantdb.services.research.backtest import BarData, backtest_loaded
    from quantdb.strategies import Bars

    b, k = data.bars, min(64, len(dates))
    o, h, lo, c = (np.ascontiguousarray(m[:k, :1]) for m in (b.open, b.high, b.low, b.close))
    bars = Bars(o, h, lo, c, None if b.volume is None else np.ascontiguousarray(b.volume[:k, :1]))
    try:
        backtest_loaded(
            strategy, BarData(dates[:k], (names[0],), bars, "warm-up"), where=Universe("list", (names[0],)),
            params={n: grid.columns[n][0].item() for n in grid.names}, settings=data.settings,
            mode="independent", db=None, source="db", benchmark=None, benchmark_returns=None,
        )
    except Exception:  # a warm-up only: the real backtests raise any error
        log.debug("sweep warm-up of the best sets' backtests failed", exc_info=True)
