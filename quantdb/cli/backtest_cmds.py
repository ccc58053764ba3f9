"""`quantdb backtest NAME ...`: one backtest from the database or a CSV, stored and printed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quantdb.cli.common import JsonFlag, UnusedDbPath, emit_json, handle_errors, print_table

if TYPE_CHECKING:
    from quantdb.services.research.backtest import BacktestResult

Fill = typer.Option("--fill", help="next-open: fill at the next bar's open; close: at the signal bar's close.")


def settings_from_options(
    *,
    n_tickers: int,
    cash: float,
    commission: float,
    commission_per_share: float = 0.0,
    commission_fixed: float = 0.0,
    commission_min: float = 0.0,
    slippage_bps: float = 0.0,
    sizing: str | None = None,
    fractional: bool = False,
    fill: str = "next-open",
    direction: str = "long",
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_stop: float | None = None,
    max_hold: int | None = None,
    max_positions: int | None = None,
    max_weight: float | None = None,
    order: str = "market",
    offset: float = 0.0,
    tif: int = 1,
    borrow_rate: float = 0.0,
) -> Any:
    """`SimSettings` from the command-line options shared by backtest, sweep and walk-forward."""
    from quantdb.services.research.backtest import default_settings

    overrides: dict[str, Any] = {
        "cash": cash, "commission": commission, "commission_per_share": commission_per_share,
        "commission_fixed": commission_fixed, "commission_min": commission_min,
        "slippage_bps": slippage_bps, "fractional": fractional, "fill": fill, "direction": direction,
        "stop_loss": stop_loss, "take_profit": take_profit, "trailing_stop": trailing_stop,
        "max_hold_bars": max_hold, "max_positions": max_positions, "max_weight": max_weight,
        "order_type": order, "entry_offset": offset, "order_tif_bars": tif, "borrow_rate": borrow_rate,
    }
    return default_settings(n_tickers, **overrides, **sizing_overrides(sizing))


def sizing_overrides(sizing: str | None) -> dict[str, Any]:
    """``{"sizing": kind, "sizing_value": value}`` from a ``--sizing KIND:VALUE`` option; ``{}`` without."""
    from quantdb.services.research.backtest import parse_sizing

    if not sizing:
        return {}
    kind, value = parse_sizing(sizing)
    return {"sizing": kind, "sizing_value": value}


def emit_result(result: BacktestResult, *, title: str, keys: Sequence[str], json_out: bool) -> None:
    """A backtest's result: one JSON document (id, strategy, params, stats, trades) with ``--json``,
    else a table of the statistics named in ``keys``. Shared by `backtest` and `replay`."""
    if json_out:
        emit_json({
            "backtest_id": result.backtest_id,
            "strategy": result.strategy,
            "params": result.params,
            "stats": result.stats(),
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
    def strategies(db: UnusedDbPath = None, json_out: JsonFlag = False) -> None:
        """The built-in strategies with their default parameters, sweep grid and constraint."""
        from quantdb.strategies import STRATEGIES

        doc: dict[str, dict[str, Any]] = {
            name: {
                "params": dict(s.params),
                "grid": {k: [v[0], v[-1], len(v)] for k, v in s.grid.items()},
                "constraint": s.constraint,
                "doc": s.doc,
            }
            for name, s in sorted(STRATEGIES.items())
        }
        if json_out:
            emit_json(doc)
            return
        print_table(
            "strategies",
            ["name", "params", "constraint", "what it does"],
            [[n, ", ".join(f"{k}={v:g}" for k, v in d["params"].items()), d["constraint"] or "", d["doc"]] for n, d in doc.items()],
        )

    @app.command("backtests")
    @handle_errors
    def backtests(
        limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
        db: Annotated[Path, typer.Option("--db", envvar="QUANTDB_DB", help="SQLite database file.", dir_okay=False)] = Path("quant.db"),
        json_out: JsonFlag = False,
    ) -> None:
        """The stored backtests, newest first (ids for --backtest ID)."""
        from quantdb.cli.common import open_db

        database = open_db(db, write=False)
        rows = database.query(
            """SELECT b.id, s.name, b.start_date, b.end_date, b.total_return, b.sharpe, b.max_dd, b.trades,
                      b.params_json, b.created_at
               FROM backtest_results b JOIN strategies s ON s.id = b.strategy_id
               ORDER BY b.id DESC LIMIT ?""",
            (max(1, min(limit, 10_000)),),
        )
        cols = ["id", "strategy", "start", "end", "total_return", "sharpe", "max_dd", "trades", "params", "created_at"]
        doc = [dict(zip(cols, tuple(r), strict=True)) for r in rows]
        if json_out:
            emit_json(doc)
            return
        print_table("backtests", cols, [list(d.values()) for d in doc])

    @app.command("backtest")
    @handle_errors
    def backtest(
        name: Annotated[str, typer.Argument(help="Strategy: sma-cross, momentum, mean-reversion, volume-breakout, rsi, bollinger.")],
        tickers: Annotated[list[str] | None, typer.Option("--tickers", help="Tickers (repeat or comma-separate).")] = None,
        universe: Annotated[str | None, typer.Option(help="all, sector:NAME, leaders:N (top N by dollar volume, known the day before), list:A,B.")] = None,
        start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD).")] = None,
        end: Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD).")] = None,
        param: Annotated[list[str] | None, typer.Option("--param", help="Strategy parameter name=value (repeat).")] = None,
        cash: Annotated[float, typer.Option(help="Starting cash.")] = 10_000.0,
        commission: Annotated[float, typer.Option(help="Commission as a fraction of each fill's value (entry and exit).")] = 0.0,
        commission_per_share: Annotated[float, typer.Option(help="Commission per share.")] = 0.0,
        commission_fixed: Annotated[float, typer.Option(help="Fixed commission per order.")] = 0.0,
        commission_min: Annotated[float, typer.Option(help="Minimum commission per order.")] = 0.0,
        slippage_bps: Annotated[float, typer.Option("--slippage-bps", help="Slippage in basis points of the price.")] = 0.0,
        sizing: Annotated[str | None, typer.Option(help="KIND:VALUE: shares:N, cash:X, equity:F, risk:F, kelly:F.")] = None,
        fractional: Annotated[bool, typer.Option("--fractional", help="Allow fractional shares.")] = False,
        fill: Annotated[str, Fill] = "next-open",
        direction: Annotated[str, typer.Option(help="long, short or both.")] = "long",
        stop_loss: Annotated[float | None, typer.Option(help="Stop loss, fraction of the entry price.")] = None,
        take_profit: Annotated[float | None, typer.Option(help="Take profit, fraction of the entry price.")] = None,
        trailing_stop: Annotated[float | None, typer.Option(help="Trailing stop, fraction of the best price.")] = None,
        max_hold: Annotated[int | None, typer.Option(help="Maximum holding time in bars.")] = None,
        max_positions: Annotated[int | None, typer.Option(help="Maximum open positions (portfolio).")] = None,
        max_weight: Annotated[float | None, typer.Option(help="Maximum weight of one position (fraction of equity).")] = None,
        order: Annotated[str, typer.Option(help="Entry order type: market, limit or stop.")] = "market",
        offset: Annotated[float, typer.Option(help="Limit/stop entry distance from the signal close (fraction).")] = 0.0,
        tif: Annotated[int, typer.Option(help="Time in force of limit/stop entries, in bars.")] = 1,
        borrow_rate: Annotated[float, typer.Option(help="Annual short borrow rate.")] = 0.0,
        prices: Annotated[Path | None, typer.Option("--prices", help="Yahoo-style CSV to backtest instead of the database.", exists=True, dir_okay=False)] = None,
        tearsheet: Annotated[Path | None, typer.Option("--tearsheet", help="Also write a QuantStats tearsheet here.")] = None,
        db: Annotated[Path | None, typer.Option("--db", envvar="QUANTDB_DB", help="SQLite database file (default quant.db; with --prices, results are stored only when given).", dir_okay=False)] = None,
        json_out: JsonFlag = False,
    ) -> None:
        """Run one backtest and store it in backtest_results.

        Example: quantdb backtest sma-cross --prices goog.csv --param fast=10 --param slow=20
        --cash 10000 --commission 0.002 --fill next-open --sizing equity:1 --json
        """
        from quantdb.cli.common import open_db
        from quantdb.services.research.backtest import parse_params, run_backtest

        database = None
        if db is not None or prices is None:
            database = open_db(db or Path("quant.db"), write=True, create=prices is not None)
        names = [t for item in (tickers or []) for t in item.split(",") if t.strip()] or None
        n_tickers = 1 if prices is not None else (len(names) if names else 2)
        settings = settings_from_options(
            n_tickers=n_tickers, cash=cash, commission=commission, commission_per_share=commission_per_share,
            commission_fixed=commission_fixed, commission_min=commission_min, slippage_bps=slippage_bps,
            sizing=sizing, fractional=fractional, fill=fill, direction=direction, stop_loss=stop_loss,
            take_profit=take_profit, trailing_stop=trailing_stop, max_hold=max_hold, max_positions=max_positions,
            max_weight=max_weight, order=order, offset=offset, tif=tif, borrow_rate=borrow_rate,
        )
        result = run_backtest(
            name, db=database, prices_file=prices, tickers=names, universe=universe, start=start, end=end,
            params=parse_params(param or []), settings=settings, store=database is not None,
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
        emit_result(result, title=f"{name} {result.params} (backtest {result.backtest_id})", keys=keys,
                    json_out=json_out)
