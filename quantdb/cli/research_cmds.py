"""Research commands: `sweep`, `walkforward`, `montecarlo`.

A thin shell over ``quantdb.services.{sweep,walkforward,montecarlo}``: every heavy import
(NumPy kernels, numba, Dask, pyarrow) happens inside the command, so ``quantdb --help``
stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from quantdb.cli.common import (
    DEFAULT_DB,
    DbPath,
    JsonFlag,
    LimitOpt,
    echo_err,
    emit_json,
    handle_errors,
    open_db,
    print_table,
    progress,
)
from quantdb.cli.options import End, Start, Tickers, UniverseOpt, simulation_options
from quantdb.dates import parse_date
from quantdb.universe import universe_of

Grid = Annotated[
    list[str] | None,
    typer.Option("--grid", help="k=start:stop:step (stop included) or k=a,b,c; repeat per parameter."),
]
Constraint = Annotated[
    list[str] | None,
    typer.Option("--constraint", help='Keep parameter sets where it holds, e.g. "fast<slow" (repeatable).'),
]
Objective = Annotated[
    str, typer.Option("--objective", help="sharpe, total_return or max_drawdown (mean over tickers).")
]
_METRIC_KEYS = frozenset({"total_return", "sharpe", "max_drawdown", "n_trades", "bankrupt", "backtest_id"})


def sweep_cmd(
    name: Annotated[str | None, typer.Argument(help="Strategy: a name (quantdb strategies), file.py:function, package.module:function or an entry point's name; not needed with --resume.")] = None,
    grid: Grid = None,
    constraint: Constraint = None,
    tickers: Tickers = None,
    universe: UniverseOpt = None,
    start: Start = None,
    end: End = None,
    objective: Objective = "sharpe",
    workers: Annotated[int, typer.Option("--workers", help="Parallel workers.")] = 1,
    chunk: Annotated[int | None, typer.Option("--chunk", help="Parameter sets per chunk (default: from a 256 MiB budget).")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local or dask.")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Dask scheduler, tcp://host:8786 (or DASK_SCHEDULER_ADDRESS).")] = None,
    resume: Annotated[int | None, typer.Option("--resume", help="Resume the sweep run with this id.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder of the Parquet results (default: sweeps/ beside the database).", file_okay=False)] = None,
    top: Annotated[int, typer.Option("--top", help="Best parameter sets stored in backtest_results.")] = 5,
    heatmap_png: Annotated[Path | None, typer.Option("--heatmap", help="Also draw the mean objective over the first two parameters to this PNG.", dir_okay=False)] = None,
    *,
    sim: dict[str, Any],
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Sweep a strategy's parameters over every ticker: chunked, parallel, resumable.

    Example: quantdb sweep sma-cross --grid fast=5:100:5 --grid slow=20:200:10 --constraint "fast<slow" --workers 2 --json
    """
    from quantdb.services.research.sweep import run_sweep

    if name is None and resume is None:
        from quantdb.errors import QuantdbError

        msg = "give a strategy name, or --resume RUN_ID"
        raise QuantdbError(msg)
    if executor not in ("local", "dask"):
        from quantdb.errors import QuantdbError

        msg = f"--executor must be local or dask, got {executor!r}"
        raise QuantdbError(msg)
    if resume is not None and (sim or tickers or universe or start or end):
        from quantdb.errors import QuantdbError

        msg = "--resume continues a run with its own universe, period and settings: drop the other options"
        raise QuantdbError(msg)
    where = universe_of(tickers, universe)
    first, last = parse_date(start, name="--start"), parse_date(end, name="--end")
    database = open_db(db, write=True)
    try:
        with progress("sweep", quiet=json_out) as bar:
            report = run_sweep(
                database, name, grid_specs=grid or (), constraints=constraint, universe=where,
                start=first, end=last, settings=sim, objective=objective,  # type: ignore[arg-type]
                workers=workers, chunk=chunk, executor=executor, address=address,  # type: ignore[arg-type]
                resume=resume, out_dir=out, top=top, progress=bar.advance, on_total=bar.set_total,
            )
    finally:
        database.close()
    params = [k for k in (report.best[0] if report.best else {}) if k not in _METRIC_KEYS]
    if heatmap_png is not None and report.status == "done" and len(params) >= 2:
        from quantdb.services.research.sweep import heatmap

        heatmap(report.results, params[0], params[1], metric=report.objective, out=heatmap_png)
    if json_out:
        emit_json({
            "run_id": report.run_id, "combos": report.combos, "results": report.results,
            "best": report.best, "tickers": report.tickers, "chunks": report.chunks,
            "chunks_skipped": report.chunks_skipped, "chunk_size": report.chunk_size,
            "objective": report.objective, "memory_bound_bytes": report.memory_bound_bytes,
            "bankrupt_sets": report.bankrupt_sets,
        })
        return
    echo_err(f"sweep run {report.run_id}: {report.combos} parameter sets x {report.tickers} tickers "
             f"({report.chunks} chunks, {report.chunks_skipped} resumed); "
             f"{report.bankrupt_sets} sets with a bankrupt ticker, ranked last")
    if report.best:
        cols = list(report.best[0])
        print_table(f"best by mean {report.objective}", cols, [[b[c] for c in cols] for b in report.best])
    typer.echo(report.results)


def walkforward_cmd(
    name: Annotated[str, typer.Argument(help="Strategy: a name (quantdb strategies), file.py:function, package.module:function or an entry point's name.")],
    grid: Grid = None,
    constraint: Constraint = None,
    train: Annotated[int, typer.Option("--train", help="Training window, in bars.")] = 504,
    test: Annotated[int, typer.Option("--test", help="Test window, in bars.")] = 126,
    step: Annotated[int | None, typer.Option("--step", help="Bars between windows (default: --test); below --test the test windows overlap and "
                                   "each day of the stitched OOS series comes from the newest window.")] = None,
    anchored: Annotated[bool, typer.Option("--anchored", help="Training windows all start at the first bar.")] = False,
    purge: Annotated[int, typer.Option("--purge", help="Bars left out between train and test.")] = 0,
    objective: Objective = "sharpe",
    tickers: Tickers = None,
    universe: UniverseOpt = None,
    start: Start = None,
    end: End = None,
    workers: Annotated[int, typer.Option("--workers", help="Parallel workers for the in-sample sweeps.")] = 1,
    returns: Annotated[bool, typer.Option("--returns", help="Include the stitched OOS daily returns in --json.")] = False,
    limit: LimitOpt = None,
    *,
    sim: dict[str, Any],
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Walk-forward: optimise in sample, test out of sample; efficiency, stability, DSR and PBO.

    Example: quantdb walkforward sma-cross --grid fast=5:50:5 --grid slow=20:200:20 --train 504 --test 126 --purge 5 --json
    """
    from quantdb.cli.common import to_jsonable
    from quantdb.services.research.walkforward import run_walkforward

    where = universe_of(tickers, universe)
    first, last = parse_date(start, name="--start"), parse_date(end, name="--end")
    database = open_db(db, write=False)
    try:
        with progress("walk-forward", quiet=json_out):
            report = run_walkforward(
                database, name, grid_specs=grid or (), constraints=constraint, universe=where,
                start=first, end=last, settings=sim,
                train=train, test=test, step=step, anchored=anchored, purge=purge, objective=objective,
                workers=workers,
            )
    finally:
        database.close()
    if json_out:
        doc = to_jsonable(report)
        if not returns:
            doc.pop("oos_dates")
            doc.pop("oos_returns")
        emit_json(doc)
        return
    params = list(report.windows[0]["params"])
    cols = ["window", "test_start", "test_end", *params, "is_objective", "oos_objective"]
    print_table(f"walk-forward {report.strategy} ({report.objective})", cols, [
        [w["window"], w["test"][0], w["test"][1], *w["params"].values(), w["is_objective"], w["oos_objective"]]
        for w in report.windows
    ], limit=limit)
    o = report.oos
    typer.echo(f"OOS: total return {o['total_return']:.4f}, CAGR {o['cagr']:.4f}, Sharpe {o['sharpe']:.3f}, "
               f"max drawdown {o['max_drawdown']:.4f}; walk-forward efficiency {report.efficiency:.3f}")
    typer.echo(f"robustness score {report.robustness.get('score')}; DSR {report.deflated_sharpe.get('dsr')}; "
               f"PBO {report.pbo.get('pbo')}")
    typer.echo(f"{report.bankrupt_sets} of {report.combos} parameter sets with a bankrupt ticker over the full "
               f"period (ranked last)")


def montecarlo_cmd(
    backtest: Annotated[int | None, typer.Option("--backtest", help="A stored backtest id.")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="A tracked strategy name.")] = None,
    paths: Annotated[int, typer.Option("--paths", help="Number of resampled paths.")] = 10_000,
    method: Annotated[str, typer.Option("--method", help="iid, block (stationary bootstrap) or trades.")] = "iid",
    block: Annotated[float, typer.Option("--block", help="Mean block length for --method block.")] = 20.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (the same seed prints the same --json).")] = None,
    ruin: Annotated[float, typer.Option("--ruin", help="Ruin threshold: a drawdown such as -0.3.")] = -0.3,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Bootstrap a backtest's or a strategy's daily returns or trades: distributions, ruin, cone.

    Example: quantdb montecarlo --backtest 3 --paths 10000 --method block --block 20 --seed 7 --json
    """
    from quantdb.services.research.montecarlo import load_source, run_montecarlo

    database = open_db(db, write=False)
    try:
        source = load_source(database, backtest=backtest, strategy=strategy)
    finally:
        database.close()
    with progress("Monte Carlo", quiet=json_out):
        report = run_montecarlo(source, paths=paths, method=method, block=block, seed=seed, ruin=ruin)  # type: ignore[arg-type]
    if json_out:
        emit_json(report)
        return
    cols = ["metric", "observed", "mean", "p05", "p50", "p95"]
    print_table(
        f"Monte Carlo of {report.source}: {report.paths} paths, {report.method}, seed {report.seed}", cols,
        [[m, report.observed[m], d["mean"], d["p05"], d["p50"], d["p95"]] for m, d in report.distributions.items()],
    )
    typer.echo(f"probability of ruin (a drawdown of {-report.ruin_threshold:.0%} or more): "
               f"{report.probability_of_ruin:.4f}")


def register(app: typer.Typer) -> None:
    """Add `sweep`, `walkforward` and `montecarlo` to the `quantdb` application."""
    app.command("sweep")(handle_errors(simulation_options(sweep_cmd)))
    app.command("walkforward")(handle_errors(simulation_options(walkforward_cmd)))
    app.command("montecarlo")(handle_errors(montecarlo_cmd))
