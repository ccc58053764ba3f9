"""Parameter sweeps: chunked, parallel, resumable; results to Parquet, the best to SQLite.

How a sweep runs:

1. The driver loads the price panels once (adjusted OHLC: ``open/high/low`` scaled by
   ``adj_close / close``, ``close = adj_close``; tickers with no bar in the period dropped),
   builds the grid (:mod:`quantdb.services.research.grid`) and records a ``sweep_runs`` row.
2. The grid is cut into chunks of ``chunk`` parameter sets (row order of the grid). A worker
   computes a chunk's signals for every ticker at once (``(dates, chunk * tickers)``,
   :mod:`quantdb.kernels.signals`) and runs the independent-columns simulation
   (:func:`quantdb.kernels.simulate.sweep_stats`), which keeps per-column statistics, never
   an equity curve. When :func:`quantdb.kernels.fastsweep.fast_path_supported` accepts the
   strategy and settings (sma-cross, long only, market orders, no stops), one fused kernel
   does both with no signal matrix, with identical results. Prices travel to each worker
   once (:mod:`quantdb.services.research.executors`).
3. Each finished chunk is written at once to ``<out>/sweep-<run>.chunks/chunk-NNNNN.parquet``
   (to a temporary name, then renamed), so an interrupted sweep resumes with
   ``resume=run_id``: the chunks already on disk are skipped.
4. The driver concatenates the chunks in grid order into ``<out>/sweep-<run>.parquet`` (one
   row per parameter set and ticker: ``ticker``, one column per parameter, ``total_return``,
   ``sharpe``, ``max_drawdown`` (negative fraction), ``n_trades``), ranks the parameter sets
   by the objective averaged over tickers, stores the best ``top`` as full backtests (each
   rerun in independent mode: its trades and the mean equity curve of its tickers, linked by
   ``sweep_run_id``; :mod:`quantdb.services.research.sweep_best`, whose inputs and kernels a
   thread of the driver loads while the chunks compute) and marks the run done. Only the
   driver touches SQLite.

Memory bound (per worker): a chunk holds at most :data:`BYTES_PER_CELL` = 48 bytes per (date,
parameter set, ticker) cell at its peak (sma-cross: one SMA per distinct window, at most two a
set, 16 bytes; the fast and slow SMA stacks, 16; the crossing temporaries and the two signal
matrices, about 8; the simulation keeps per-column state only). The default chunk is
``memory_budget // (dates * tickers * BYTES_PER_CELL)`` parameter sets, so a worker stays
under ``memory_budget`` (256 MiB by default) plus the price panels and the result table,
whatever the grid size. The result table is about 40 bytes a row plus the parameters (1.9
million rows for 19,000 sets x 100 tickers: 76 MB). ``benchmarks/bench_sweep.py`` measures the
peak of a grid and of a 10x larger one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantdb._typing import FloatArray
from quantdb._version import __version__
from quantdb.errors import NotFound, QuantdbError
from quantdb.services.research.arrow_columns import arrow_array, numpy_column, string_take
from quantdb.services.research.bars import fingerprint, load_bars, universe_tickers
from quantdb.services.research.chunk_writes import ChunkWrites
from quantdb.services.research.grid import Grid, GridError, build_grid, parse_grid_spec
from quantdb.services.research.results import sweep_backtest_ids, utc_timestamp
from quantdb.services.research.sweep_best import BestInputs, WarmUp, record_best
from quantdb.settings import (
    SimSettings,
    build_settings,
    merge_settings,
    settings_from_json,
    settings_to_json,
)
from quantdb.storage.sqlite import Database
from quantdb.universe import Universe, universe_of

if TYPE_CHECKING:  # kept light at import time: numba loads with the first sweep
    import plotly.graph_objects as go

    from quantdb.strategies import Bars, Strategy
    from quantdb.strategy_loader import StrategyRef

__all__ = [
    "BYTES_PER_CELL",
    "OBJECTIVES",
    "RESULT_COLUMNS",
    "ChunkTask",
    "SweepData",
    "SweepReport",
    "aggregate_by_params",
    "default_chunk",
    "heatmap",
    "load_bars",  # re-exported from quantdb.services.research.bars for notebooks/02 and docs/api.md
    "query_results",
    "run_chunk",
    "run_sweep",
    "sweep_grid",
    "sweep_table",
]

Objective = Literal["sharpe", "total_return", "max_drawdown"]
OBJECTIVES: tuple[str, ...] = ("sharpe", "total_return", "max_drawdown")
RESULT_COLUMNS = ("total_return", "sharpe", "max_drawdown", "n_trades", "bankrupt")
BYTES_PER_CELL = 48
DEFAULT_MEMORY_BUDGET = 256 * 2**20
ProgressFn = Callable[[int], None]
log = logging.getLogger(__name__)


class SweepError(QuantdbError, ValueError):
    """A sweep cannot run as asked (bad objective, nothing to resume, no prices)."""


# ----------------------------------------------------------------------------- workers
@dataclass(frozen=True)
class SweepData:
    """What every worker needs, shipped once per worker: prices, strategy, settings.

    ``strategy`` is a registered name or a `quantdb.strategies.Strategy` (which pickles its
    function by value when a worker could not import it: a script's, a notebook's, a file's).
    """

    strategy: str | Strategy
    bars: Bars
    settings: SimSettings
    periods_per_year: float = 252.0


@dataclass(frozen=True)
class ChunkTask:
    """One chunk: its number and its parameter sets (paired 1-D arrays)."""

    index: int
    params: dict[str, np.ndarray]


def run_chunk(data: SweepData, task: ChunkTask) -> dict[str, np.ndarray]:
    """Signals and independent-columns simulation of one chunk (runs in a worker).

    Returns columns in result order: ``ticker_index``, the parameters, ``total_return``,
    ``sharpe``, ``max_drawdown`` (negative fraction), ``n_trades``, ``bankrupt`` (the
    ticker's account was liquidated: `quantdb.kernels.margin`); one row per parameter set
    and ticker, the ticker varying fastest. Touches no file and no database.
    """
    from quantdb.kernels.fastsweep import fast_path_supported, sma_cross_stats
    from quantdb.kernels.simulate import sweep_stats
    from quantdb.strategies import BUILTIN
    from quantdb.strategy_loader import resolve_strategy

    strat = resolve_strategy(data.strategy)
    bars = data.bars
    if strat.origin == BUILTIN and fast_path_supported(strat.name, data.settings):
        # fused signals + simulation, no signal matrices: the same numbers as below (the
        # one fused strategy is sma-cross; defaults fill what the grid does not give)
        given = {k: task.params.get(k, v) for k, v in strat.params.items()}
        stats = sma_cross_stats(
            bars.open, bars.high, bars.low, bars.close, given["fast"], given["slow"],
            settings=data.settings, periods_per_year=data.periods_per_year,
        )
    else:
        sig = strat.signals(bars, **task.params)
        stats = sweep_stats(
            bars.open, bars.high, bars.low, bars.close, sig[0], sig[1],
            *(sig[2:4] if len(sig) == 4 else ()),
            settings=data.settings, periods_per_year=data.periods_per_year,
        )
        del sig
    n_tickers = bars.close.shape[1]
    n_sets = len(next(iter(task.params.values())))
    out: dict[str, np.ndarray] = {"ticker_index": np.tile(np.arange(n_tickers, dtype=np.int32), n_sets)}
    for name, values in task.params.items():
        out[name] = np.repeat(np.asarray(values), n_tickers)
    out["total_return"] = np.asarray(stats.total_return, dtype=np.float64)
    out["sharpe"] = np.asarray(stats.sharpe, dtype=np.float64)
    out["max_drawdown"] = np.asarray(stats.max_drawdown, dtype=np.float64)
    out["n_trades"] = np.asarray(stats.n_trades, dtype=np.int64)
    out["bankrupt"] = np.asarray(stats.bankrupt, dtype=np.bool_)
    return out


def default_chunk(n_dates: int, n_tickers: int, *, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Parameter sets per chunk so that a chunk stays under ``memory_budget`` bytes."""
    return max(1, memory_budget // max(1, n_dates * n_tickers * BYTES_PER_CELL))


def sweep_grid(
    strategy: StrategyRef,
    grid_specs: Iterable[str] = (),
    constraints: Iterable[str] | None = None,
) -> Grid:
    """The grid of a sweep: ``--grid`` specs over the strategy's declared grid.

    Every parameter of the strategy is an axis: the one given by a spec, else the declared
    grid, else the default value. ``constraints=None`` uses the strategy's own constraint;
    an explicit list (possibly empty) replaces it.
    """
    from quantdb.strategy_loader import resolve_strategy

    strat = resolve_strategy(strategy)
    given: dict[str, list[Any]] = {}
    for spec in grid_specs:
        name, values = parse_grid_spec(spec)
        if name not in strat.params:
            msg = f"strategy {strat.name!r} has no parameter {name!r} (has {', '.join(strat.params) or 'none'})"
            raise GridError(msg)
        if name in given:
            msg = f"--grid {name} given twice ({spec!r} after an earlier --grid {name}=...); give each parameter once"
            raise GridError(msg)
        given[name] = list(values)
    axes = []
    for name, default in strat.params.items():
        if name in given:
            values = given[name]
        elif name in strat.grid:
            values = [v.item() if hasattr(v, "item") else v for v in strat.grid[name]]
        else:
            values = [default]
        axes.append((name, values))
    cons = list(constraints) if constraints is not None else (
        [c.strip() for c in strat.constraint.split(",")] if strat.constraint else []
    )
    return build_grid(axes, constraints=cons)


def _tasks(grid: Grid, chunk: int) -> list[ChunkTask]:
    return [
        ChunkTask(i, {n: grid.columns[n][lo : lo + chunk] for n in grid.names})
        for i, lo in enumerate(range(0, len(grid), chunk))
    ]


def sweep_table(
    data: SweepData,
    grid: Grid,
    *,
    chunk: int | None = None,
    executor: Any = None,
    progress: ProgressFn | None = None,
) -> dict[str, np.ndarray]:
    """Run a whole grid in memory and return the concatenated result columns (grid order).

    The building block for walk-forward windows and notebooks; :func:`run_sweep` adds files,
    resume and the database.
    """
    from quantdb.services.research.executors import LocalExecutor

    n_dates, n_tickers = data.bars.close.shape
    size = chunk or default_chunk(n_dates, n_tickers)
    tasks = _tasks(grid, size)
    ex = executor or LocalExecutor(1)
    parts: list[dict[str, np.ndarray] | None] = [None] * len(tasks)
    for i, res in ex.map_unordered(run_chunk, tasks, data):
        parts[i] = res
        if progress is not None:
            progress(len(next(iter(tasks[i].params.values()))))
    return _concat([p for p in parts if p is not None])


def _concat(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ----------------------------------------------------------------------------- files
def _chunk_dir(out_dir: Path, run_id: int) -> Path:
    return out_dir / f"sweep-{run_id}.chunks"


def _write_parquet(columns: dict[str, np.ndarray], tickers: Sequence[str], path: Path) -> None:
    """One chunk's result columns as a Parquet file: ``ticker`` (string), then the columns
    (arrays built without pandas: `quantdb.services.research.arrow_columns`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = {"ticker": string_take(tickers, columns["ticker_index"])}
    for k, v in columns.items():
        if k != "ticker_index":
            table[k] = arrow_array(v)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    pq.write_table(pa.table(table), tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- ranking
def aggregate_by_params(
    columns: dict[str, np.ndarray], param_names: Sequence[str], n_tickers: int
) -> dict[str, np.ndarray]:
    """Per parameter set: mean over tickers of total return, Sharpe and max drawdown (NaN
    skipped), the total of trades and the number of bankrupt tickers (``bankrupt``; 0 for a
    result table written before quantdb kept it). Rows are in grid order (the ticker varies
    fastest)."""
    n_sets = len(columns[param_names[0]]) // n_tickers if param_names else 0
    out = {p: np.asarray(columns[p])[::n_tickers] for p in param_names}
    for name in ("total_return", "sharpe", "max_drawdown"):
        m = np.asarray(columns[name], dtype=np.float64).reshape(n_sets, n_tickers)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row: NaN, as documented
            out[name] = np.nanmean(m, axis=1)
    out["n_trades"] = np.asarray(columns["n_trades"]).reshape(n_sets, n_tickers).sum(axis=1)
    bank = columns.get("bankrupt")
    out["bankrupt"] = (np.zeros(n_sets, dtype=np.int64) if bank is None else
                       np.asarray(bank, dtype=np.int64).reshape(n_sets, n_tickers).sum(axis=1))
    return out


def rank_sets(agg: dict[str, np.ndarray], objective: str) -> np.ndarray:
    """Parameter-set indices, best first: by ``objective`` (higher is better, NaN last), every
    set with a bankrupt ticker after every set without one (in objective order among them).

    A wiped-out account can show a positive mean return or Sharpe ratio (the returns before
    the bankruptcy), so it is ranked by its bankruptcy first.
    """
    score = np.where(np.isnan(agg[objective]), -np.inf, agg[objective])
    return np.lexsort((-score, np.asarray(agg["bankrupt"]) > 0))


def _best(agg: dict[str, np.ndarray], param_names: Sequence[str], objective: str, top: int) -> list[dict[str, Any]]:
    order = rank_sets(agg, objective)[:top]
    best = []
    for i in order:
        row: dict[str, Any] = {p: agg[p][i].item() for p in param_names}
        for m in RESULT_COLUMNS:
            v = agg[m][i].item()
            row[m] = None if isinstance(v, float) and not math.isfinite(v) else v
        best.append(row)
    return best


# ----------------------------------------------------------------------------- the run
@dataclass(frozen=True, repr=False)
class SweepReport:
    """What :func:`run_sweep` did. ``best`` holds the top parameter sets (means over tickers).

    Its ``repr`` is one line, Jupyter shows the best sets as a table, and :meth:`heatmap`
    draws the mean of a metric over two parameters (Plotly).
    """

    run_id: int
    strategy: str
    combos: int
    tickers: int
    results: str
    best: list[dict[str, Any]]
    chunks: int
    chunks_skipped: int
    chunk_size: int
    objective: str
    memory_bound_bytes: int
    status: str = "done"
    extra: dict[str, Any] = field(default_factory=dict)
    bankrupt_sets: int = 0
    """Parameter sets with at least one bankrupt ticker (ranked after all others)."""

    def __repr__(self) -> str:
        from quantdb.services.research.display import sweep_repr

        return sweep_repr(self)

    def _repr_html_(self) -> str:
        from quantdb.services.research.display import sweep_html

        return sweep_html(self)

    def heatmap(
        self, x: str | None = None, y: str | None = None, metric: str | None = None, *, title: str | None = None
    ) -> go.Figure:
        """The mean of ``metric`` (default: the objective) over tickers for each ``(x, y)`` pair
        of parameters (default: the first two) as a Plotly heatmap; the numbers are those of the
        module's :func:`heatmap` over the results file.

        Raises
        ------
        SweepError
            the run is not finished (no results file yet), or fewer than two parameters.
        """
        from quantdb.services.research.plots import heatmap_figure

        if self.status != "done" or not Path(self.results).is_file():
            msg = f"sweep run {self.run_id} is {self.status}: finish it with resume={self.run_id} first"
            raise SweepError(msg)
        names = [k for k in (self.best[0] if self.best else {}) if k not in RESULT_COLUMNS and k != "backtest_id"]
        x = x or (names[0] if names else None)
        y = y or (names[1] if len(names) > 1 else None)
        if x is None or y is None:
            msg = f"a heatmap needs two parameters: give x= and y= (this sweep's: {', '.join(names) or 'none'})"
            raise SweepError(msg)
        metric = metric or self.objective
        xs, ys, grid = heatmap(self.results, x, y, metric=metric)
        return heatmap_figure(xs, ys, grid, x=x, y=y, metric=metric,
                              title=title or f"{self.strategy}: mean {metric} over {self.tickers} tickers")


def run_sweep(
    db: Database,
    strategy: StrategyRef | None = None,
    *,
    grid_specs: Iterable[str] = (),
    constraints: Iterable[str] | None = None,
    tickers: str | Sequence[str] | None = None,
    universe: str | Sequence[str] | Universe | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    settings: Mapping[str, Any] | SimSettings | None = None,
    objective: Objective = "sharpe",
    workers: int = 1,
    chunk: int | None = None,
    executor: Literal["local", "dask"] = "local",
    address: str | None = None,
    resume: int | None = None,
    out_dir: Path | str | None = None,
    top: int = 5,
    progress: ProgressFn | None = None,
    on_total: Callable[[int], None] | None = None,
    max_chunks: int | None = None,
    dask_processes: bool = True,
    **options: Any,
) -> SweepReport:
    """Run (or resume) a sweep of ``strategy`` over a grid on the database's prices.

    Parameters
    ----------
    db
        The database (read for prices; the run row and best results are written to it).
    strategy
        A strategy (not needed with ``resume``): a name, a ``file.py:func`` or ``module:func``
        spec, an entry point, a `quantdb.strategies.Strategy` or a function
        (`quantdb.strategy_loader.resolve_strategy`). Workers get its function by value when
        they could not import it (a script's, a notebook's, a file's). The run records its
        source; resuming a run whose strategy code changed since is refused.
    grid_specs, constraints
        ``--grid`` and ``--constraint`` texts (see :func:`sweep_grid`).
    tickers, universe, start, end
        The universe (at most one of ``tickers`` and ``universe``; default every ticker; see
        `quantdb.universe.parse_universe`, ``leaders:N`` refused) and the period (ISO dates;
        default all dates).
    settings, **options
        Simulation settings by name (``commission=0.001``, ``sizing="cash:5000"``), as every
        research door takes them, or a finished `quantdb.settings.SimSettings`. Every column
        is its own account here (no shared cash), so sizing defaults to all of the cash.
    objective
        Ranking of parameter sets: mean over tickers of ``sharpe``, ``total_return`` or
        ``max_drawdown`` (higher is better; drawdowns are negative).
    workers, executor, address
        Parallelism: ``"local"`` processes or ``"dask"`` (``address`` or
        ``DASK_SCHEDULER_ADDRESS``, else a LocalCluster on 127.0.0.1).
    chunk
        Parameter sets per chunk; by default the smaller of the memory-budget chunk (see the
        module) and a quarter of each worker's share of the grid.
    resume
        A run id: rebuild its grid and settings and run only the chunks not on disk.
    out_dir
        Folder of the Parquet files (default ``sweeps/`` beside the database).
    top
        Best parameter sets written to ``backtest_results``.
    progress, on_total
        ``on_total(n)`` is called once with the number of parameter sets to run, then
        ``progress(k)`` after each chunk with its ``k`` sets (a bar with an ETA).
    max_chunks
        Stop after this many new chunks (the run stays ``running``: resumable). For tests
        and for splitting a long sweep across sessions.

    Returns
    -------
    SweepReport

    Raises
    ------
    NotFound
        unknown strategy, ticker or run id; GridError / SettingsError on bad options.
    """
    from quantdb.kernels.fastsweep import fast_path_supported
    from quantdb.services.research.executors import make_executor
    from quantdb.strategies import BUILTIN
    from quantdb.strategy_loader import resolve_recorded, resolve_strategy

    if objective not in OBJECTIVES:
        msg = f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
        raise SweepError(msg)
    if not 1 <= top <= 1_000:
        msg = f"top must be in 1..1000 (best parameter sets stored as backtests), got {top}"
        raise SweepError(msg)
    if resume is not None:
        rows = db.query("SELECT * FROM sweep_runs WHERE id = ?", (resume,))
        if not rows:
            msg = f"no sweep run with id {resume} to resume"
            raise NotFound(msg)
        row = rows[0]
        saved = json.loads(row["settings_json"])
        strat, changed = resolve_recorded(row["strategy"], saved.get("strategy_source"))
        if changed:
            msg = (f"sweep run {resume}: the code of strategy {strat.name!r} changed since it started "
                   f"({saved['strategy_source'].get('origin')}); resuming would mix two versions: start a new sweep")
            raise SweepError(msg)
        grid = Grid.from_json(row["grid_json"])
        names_saved, start, end = saved["tickers"], saved["start"], saved["end"]
        settings = settings_from_json(saved["simulation"])
        objective = saved["objective"]
        chunk = int(saved["chunk"])
        top = int(saved.get("top", top))
        out = Path(row["results_path"]).parent
        run_id = int(resume)
    else:
        if strategy is None:
            msg = "give a strategy name (or resume=RUN_ID)"
            raise SweepError(msg)
        strat = resolve_strategy(strategy)
        grid = sweep_grid(strat, grid_specs, constraints)
        out = Path(out_dir) if out_dir is not None else db.path.parent / "sweeps"
        run_id = -1
    if resume is None:
        wanted = universe_tickers(db, universe_of(tickers, universe), gate_ok=False)
    else:
        wanted = names_saved
    dates, names, bars = load_bars(db, wanted, start, end)
    settings = build_settings(merge_settings(settings, options), n_tickers=len(names), portfolio=False)
    n_dates, n_tickers = bars.close.shape
    if chunk is not None and int(chunk) < 1:
        msg = f"chunk must be >= 1 parameter set (or unset for the default), got {chunk}"
        raise SweepError(msg)
    if chunk is None:  # within the memory budget, and at least 4 chunks a worker (balance, ETA)
        share = math.ceil(len(grid) / (4 * max(1, workers)))
        chunk = min(default_chunk(n_dates, n_tickers), max(1, share))
    chunk = int(chunk)
    if resume is None:
        saved = {
            "tickers": list(names), "start": str(dates[0]), "end": str(dates[-1]),
            "simulation": settings_to_json(settings), "objective": objective, "chunk": chunk, "top": top,
            "data_fingerprint": fingerprint(dates, names, bars),
            "strategy_source": strat.source(),
        }
        out.mkdir(parents=True, exist_ok=True)
        with db.atomic() as conn:
            cur = conn.execute(
                "INSERT INTO sweep_runs (strategy, grid_json, settings_json, combos, results_path, "
                "status, created_at, quantdb_version) VALUES (?, ?, ?, ?, NULL, 'running', ?, ?)",
                (strat.name, grid.to_json(), json.dumps(saved), len(grid), utc_timestamp(), __version__),
            )
            run_id = int(cur.lastrowid or 0)
            results_path = (out / f"sweep-{run_id}.parquet").absolute()
            conn.execute("UPDATE sweep_runs SET results_path = ? WHERE id = ?", (str(results_path), run_id))
    else:
        # runs started before the one fingerprint (quantdb 0.1 hashed closes only, under
        # "fingerprint") cannot be checked this way: only "data_fingerprint" is compared
        if saved.get("data_fingerprint") not in (None, fingerprint(dates, names, bars)):
            msg = (f"sweep run {run_id}: the prices changed since it started; "
                   "resuming would mix two data sets: start a new sweep")
            raise SweepError(msg)
        results_path = out / f"sweep-{run_id}.parquet"
    tasks = _tasks(grid, chunk)
    memory_bound = chunk * n_dates * n_tickers * BYTES_PER_CELL
    if resume is not None and row["status"] == "done" and Path(results_path).exists():
        # finished before: nothing to run; the report is read back from the results
        table = _read_parquet(results_path)
        agg = aggregate_by_params(_result_columns(table, grid.names), list(grid.names), n_tickers)
        best = _best(agg, grid.names, objective, top)
        for b, i in zip(best, sweep_backtest_ids(db, run_id), strict=False):
            b["backtest_id"] = i
        return SweepReport(run_id, strat.name, len(grid), n_tickers, str(results_path), best,
                           len(tasks), len(tasks), chunk, objective, memory_bound,
                           bankrupt_sets=int((agg["bankrupt"] > 0).sum()))
    chunks_dir = _chunk_dir(out, run_id)
    chunks_dir.mkdir(parents=True, exist_ok=True)
    done = {t.index for t in tasks if (chunks_dir / f"chunk-{t.index:05d}.parquet").exists()}
    todo = [t for t in tasks if t.index not in done]
    if max_chunks is not None:
        todo = todo[:max_chunks]
    if on_total is not None:
        on_total(sum(len(next(iter(t.params.values()))) for t in todo))
    data = SweepData(strat, bars, settings)
    inputs: BestInputs | None = None  # the best sets' inputs, when a warm-up loaded them
    if todo:
        try:
            ex = make_executor(executor, workers=workers, address=address, processes=dask_processes,
                               preload=["quantdb.services.research.sweep", "quantdb.kernels.simulate",
                                        "quantdb.strategies", "quantdb.services.research.sweep_warmup"])
        except Exception:  # no executor (a Dask scheduler that cannot be reached): the run failed
            with db.atomic() as conn:
                conn.execute("UPDATE sweep_runs SET status = 'failed' WHERE id = ?", (run_id,))
            raise
        # While the chunks compute, a thread of this process loads what the best sets'
        # backtests need (`sweep_best.WarmUp`; a user's strategy code is never run for it): with
        # workers > 1 this process is idle meanwhile; with one worker the chunks run here, in
        # the fused kernel, which releases the GIL, so the thread starts once that kernel is
        # loaded (numba's target and the kernel from its cache, on a tiny panel:
        # `sweep_warmup.load_fused_kernel`), beside the first chunk's computation (the general
        # path's kernels hold the GIL: no thread then).
        overlap = executor == "local" and len(todo) > 1 and strat.origin == BUILTIN
        fused_here = overlap and workers == 1 and fast_path_supported(strat.name, settings)
        if fused_here:
            # importing the module loads the kernel (it runs `load_fused_kernel` once, as the
            # forkserver's preload does): called again here, the tiny sweep would run twice
            import quantdb.services.research.sweep_warmup  # noqa: F401
        warm = WarmUp(db, saved, strat, dates, names, data, grid) if overlap and (workers > 1 or fused_here) else None
        # each chunk's file is written by a thread of its own while the next chunk computes
        # (`chunk_writes`); every write is waited for before the chunks are read back
        writes = ChunkWrites(_write_parquet, names)
        try:
            with writes:
                for i, res in ex.map_unordered(run_chunk, todo, data):
                    task = todo[i]
                    writes.submit(res, chunks_dir / f"chunk-{task.index:05d}.parquet")
                    if progress is not None:
                        progress(len(next(iter(task.params.values()))))
                writes.wait()
        except Exception:
            # the chunks on disk stay: `resume` picks up from there (an interrupt leaves the
            # run 'running', an error marks it 'failed'; both resume)
            with db.atomic() as conn:
                conn.execute("UPDATE sweep_runs SET status = 'failed' WHERE id = ?", (run_id,))
            raise
        finally:
            ex.close()
            if warm is not None:
                inputs = warm.join()
    finished = all((chunks_dir / f"chunk-{t.index:05d}.parquet").exists() for t in tasks)
    if not finished:
        return SweepReport(run_id, strat.name, len(grid), n_tickers, str(results_path), [],
                           len(tasks), len(done), chunk, objective, memory_bound, status="running")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(  # chunks of an older quantdb lack `bankrupt`: null there
        [_read_parquet(chunks_dir / f"chunk-{t.index:05d}.parquet") for t in tasks],
        promote_options="default",
    )
    tmp = results_path.with_name(results_path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, results_path)
    columns = _result_columns(table, grid.names)
    del table
    agg = aggregate_by_params(columns, list(grid.names), n_tickers)
    best = _best(agg, grid.names, objective, top)
    record_best(db, run_id, strat, best, saved, objective, inputs)
    for t in tasks:
        (chunks_dir / f"chunk-{t.index:05d}.parquet").unlink(missing_ok=True)
    chunks_dir.rmdir()
    return SweepReport(run_id, strat.name, len(grid), n_tickers, str(results_path), best,
                       len(tasks), len(done), chunk, objective, memory_bound,
                       bankrupt_sets=int((agg["bankrupt"] > 0).sum()))


def _result_columns(table: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The parameter and result columns of a result table; ``bankrupt`` False where a table
    (or chunk) written before quantdb kept it has none."""
    out = {n: numpy_column(table.column(n)) for n in (*names, *RESULT_COLUMNS) if n != "bankrupt"}
    if "bankrupt" in table.column_names:
        flags = table.column("bankrupt")
        out["bankrupt"] = numpy_column(flags.fill_null(False) if flags.null_count else flags)
    return out


def _read_parquet(path: Path) -> Any:
    """A whole Parquet file as a pyarrow Table (``ParquetFile.read``: the same table as
    ``pq.read_table`` without pyarrow.dataset, whose import loads pandas)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:
        return f.read()


# ----------------------------------------------------------------------------- queries
def query_results(path: str | Path, sql: str = "SELECT * FROM results") -> Any:
    """Run DuckDB SQL over a sweep's Parquet file, visible as the table ``results``.

    Returns a Polars frame. Example: ``query_results(p, "SELECT fast, slow, avg(sharpe) s
    FROM results GROUP BY ALL ORDER BY s DESC LIMIT 5")``.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet('{_sql_path(path)}')")
        return con.sql(sql).pl()
    finally:
        con.close()


def _sql_path(path: str | Path) -> str:
    return str(Path(path).absolute()).replace("'", "''")


def heatmap(
    path: str | Path,
    x: str,
    y: str,
    *,
    metric: str = "sharpe",
    out: str | Path | None = None,
    title: str | None = None,
) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """Mean of ``metric`` over tickers for each (x, y) pair of parameters, and a PNG of it.

    The aggregation runs in DuckDB over the Parquet file; with ``out`` the grid is drawn with
    matplotlib (Agg backend) and saved. Returns ``(x_values, y_values, grid[y, x])`` (NaN
    where the constraint excluded the pair).
    """
    ident = {x, y, metric}
    for name in ident:
        if not name.replace("_", "").isalnum():
            msg = f"not a column name: {name!r}"
            raise SweepError(msg)
    frame = query_results(
        path, f'SELECT "{x}" AS x, "{y}" AS y, avg("{metric}") AS v FROM results GROUP BY 1, 2'
    )
    xs = np.unique(frame["x"].to_numpy())
    ys = np.unique(frame["y"].to_numpy())
    grid = np.full((ys.size, xs.size), np.nan)
    grid[np.searchsorted(ys, frame["y"].to_numpy()), np.searchsorted(xs, frame["x"].to_numpy())] = (
        frame["v"].to_numpy()
    )
    if out is not None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 6))
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(xs.size), [str(v) for v in xs], rotation=90, fontsize=7)
        ax.set_yticks(range(ys.size), [str(v) for v in ys], fontsize=7)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(title or f"mean {metric} over tickers")
        fig.colorbar(im, ax=ax, label=metric)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
        plt.close(fig)
    return xs, ys, grid
