"""`quantdb backtest NAME ...`: one backtest from the database or a CSV, stored and printed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quantdb.cli.common import (
    JsonFlag,
    UnusedDbPath,
    emit_json,
    handle_errors,
    open_db,
    print_table,
)
from quantdb.cli.options import (
    End,
    Params,
    Start,
    Tickers,
    UniverseOpt,
    parse_param_texts,
    simulation_options,
)
from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    from quantdb.services.research.backtest import BacktestResult

def emit_result(result: BacktestResult, *, title: str, keys: Sequence[str], json_out: bool) -> None:
    """A backtest's result: one JSON document (id, strategy, params, stats, trades) with ``--json``,
    else a table of the statistics named in ``keys``. Shared by `backtest` and `replay`."""
    if json_out:
        emit_json({
            "backtest_id": result.backtest_id,
            "strategy": result.strategy,
            "params": result.params,
            "stats": result.stats().to_dict(),
            "trades": [
                {**row, "entry_date": str(row["entry_date"]), "exit_date": str(row["exit_date"])}
                for row in result.trades().iter_rows(named=True)
            ],
        })
        return
    s = result.stats()
    print_table(title, ["name", "value"], [[k, s.get(k)] for k in keys])


def register(app: typer.Typer) -> None:
    """Add the `backtest`, `backtests` and `strategies` commands to ``app``."""

    @app.command("strategies")
    @handle_errors
    def strategies(
        specs: Annotated[list[str] | None, typer.Argument(
            help="Your strategy files or modules to load first: my.py, my.py:func, package.module, package.module:func.",
            show_default=False)] = None,
        db: UnusedDbPath = None,
        json_out: JsonFlag = False,
    ) -> None:
        """Every strategy: built-in, from installed packages' entry points (group quantdb.strategies) and from the files or modules given; with its parameters, sweep grid, constraint and origin.

        Example: quantdb strategies my_strategies.py --json
        """
        from quantdb.strategy_loader import list_strategies

        doc: dict[str, dict[str, Any]] = {
            s.name: {
                "params": dict(s.params),
                "grid": {k: [v[0], v[-1], len(v)] for k, v in s.grid.items()},
                "constraint": s.constraint,
                "doc": s.doc,
                "origin": s.origin,
                "spec": s.spec,
            }
            for s in list_strategies(specs or ())
        }
        if json_out:
            emit_json(doc)
            return
        print_table(
            "strategies",
            ["name", "params", "constraint", "origin", "what it does"],
            [[n, ", ".join(f"{k}={v:g}" for k, v in d["params"].items()), d["constraint"] or "", d["origin"],
              d["doc"].splitlines()[0] if d["doc"] else ""] for n, d in doc.items()],
        )

    @app.command("backtests")
    @handle_errors
    def backtests(
        limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
        db: Annotated[Path, typer.Option("--db", envvar="QUANTDB_DB", help="SQLite database file.", dir_okay=False)] = Path("quant.db"),
        json_out: JsonFlag = False,
    ) -> None:
        """The stored backtests, newest first by creation time (ids for --backtest ID)."""
        from quantdb.cli.common import open_db
        from quantdb.services.research.results import list_backtests

        database = open_db(db, write=False)
        if not 1 <= limit <= 10_000:
            msg = f"--limit must be in 1..10000, got {limit}"
            raise ArgumentError(msg)
        rows = list_backtests(database, limit=limit)
        cols = ["id", "strategy", "start", "end", "total_return", "sharpe", "max_dd", "trades", "params",
                "sweep_run_id", "created_at"]
        keys = ["id", "strategy", "start_date", "end_date", "total_return", "sharpe", "max_drawdown", "trades",
                "params", "sweep_run_id", "created_at"]
        doc = [{c: r[k] for c, k in zip(cols, keys, strict=True)} for r in rows]
        if json_out:
            emit_json(doc)
            return
        print_table("backtests", cols, [list(d.values()) for d in doc])

    @app.command("backtest")
    @handle_errors
    @simulation_options
    def backtest(
        name: Annotated[str, typer.Argument(help="Strategy: a name (quantdb strategies), or your own: file.py:function, package.module:function, an entry point's name.")],
        tickers: Tickers = None,
        universe: UniverseOpt = None,
        start: Start = None,
        end: End = None,
        param: Params = None,
        prices: Annotated[Path | None, typer.Option("--prices", help="Yahoo-style CSV to backtest instead of the database.", exists=True, dir_okay=False)] = None,
        tearsheet: Annotated[Path | None, typer.Option("--tearsheet", help="Also write a QuantStats tearsheet here.")] = None,
        *,
        sim: dict[str, Any],
        db: Annotated[Path | None, typer.Option("--db", envvar="QUANTDB_DB", help="SQLite database file (default quant.db; with --prices, results are stored only when given).", dir_okay=False)] = None,
        json_out: JsonFlag = False,
    ) -> None:
        """Run one backtest and store it in backtest_results.

        Example: quantdb backtest sma-cross --prices goog.csv --param fast=10 --param slow=20
        --cash 10000 --commission 0.002 --fill next-open --sizing equity:1 --json
        """
        from quantdb.dates import parse_date
        from quantdb.services.research.backtest import run_backtest
        from quantdb.universe import universe_of

        where = universe_of(tickers, universe)
        first, last = parse_date(start, name="--start"), parse_date(end, name="--end")
        params = parse_param_texts(param)
        database = None
        if db is not None or prices is None:
            database = open_db(db or Path("quant.db"), write=True, create=prices is not None)
        result = run_backtest(
            name, db=database, prices_file=prices, universe=where, start=first, end=last,
            params=params, settings=sim, store=database is not None,
        )
        if tearsheet is not None:
            bench = None
            if database is not None and prices is None:
                from quantdb.errors import NotFound
                from quantdb.services.reports.data import benchmark_returns

                try:
                    bench = benchmark_returns(database)
                except NotFound:
                    bench = None  # no SPY in the database: a tearsheet without a benchmark
            result.tearsheet(tearsheet, benchmark=bench)
        keys = ["final_equity", "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "n_trades",
                "win_rate", "profit_factor", "ambiguous_exits"]
        emit_result(result, title=f"{result.strategy} {result.params} (backtest {result.backtest_id})", keys=keys,
                    json_out=json_out)
