"""`quantdb replay STRATEGY`: a strategy's recorded predictions replayed as a backtest.

A thin shell over :func:`quantdb.services.research.replay.replay_predictions`: ``--exits own`` uses
each prediction's target, stop and timeframe; ``--exits settings`` replaces them with
``--stop-loss`` / ``--take-profit`` / ``--trailing-stop`` / ``--max-hold`` ("what if my exits
had been different?"). The result is stored in backtest_results as ``replay:STRATEGY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from quantdb.cli.backtest_cmds import emit_result, sizing_overrides
from quantdb.cli.common import DEFAULT_DB, DbPath, JsonFlag, handle_errors


def register(app: typer.Typer) -> None:
    """Add the `replay` command to ``app``."""

    @app.command("replay")
    @handle_errors
    def replay(
        strategy: Annotated[str, typer.Argument(help="Strategy whose predictions to replay (as in the predictions table).")],
        exits: Annotated[str, typer.Option(help="own: each prediction's target, stop and timeframe; settings: the levels below instead.")] = "own",
        stop_loss: Annotated[float | None, typer.Option(help="With --exits settings: stop loss, fraction of the entry price.")] = None,
        take_profit: Annotated[float | None, typer.Option(help="With --exits settings: take profit, fraction of the entry price.")] = None,
        trailing_stop: Annotated[float | None, typer.Option(help="With --exits settings: trailing stop, fraction of the best price.")] = None,
        max_hold: Annotated[int | None, typer.Option(help="With --exits settings: maximum holding time in bars.")] = None,
        bars: Annotated[str, typer.Option(help="With --exits own: intrabar (high/low) or close (levels judged on closes, the legacy rule).")] = "intrabar",
        fill: Annotated[str, typer.Option(help="next-open: enter at the next bar's open; close: at the prediction day's close.")] = "next-open",
        commission: Annotated[float, typer.Option(help="Commission as a fraction of each fill's value (entry and exit).")] = 0.0,
        slippage_bps: Annotated[float, typer.Option("--slippage-bps", help="Slippage in basis points of the price.")] = 0.0,
        cash: Annotated[float, typer.Option(help="Starting cash (shared by all predictions).")] = 10_000.0,
        sizing: Annotated[str | None, typer.Option(help="KIND:VALUE per prediction: shares:N, cash:X, equity:F, risk:F, kelly:F (default equity:0.1, fractional).")] = None,
        max_positions: Annotated[int | None, typer.Option(help="Maximum open positions.")] = None,
        start: Annotated[str | None, typer.Option(help="First prediction day (YYYY-MM-DD).")] = None,
        end: Annotated[str | None, typer.Option(help="Last prediction day and last bar (YYYY-MM-DD).")] = None,
        store: Annotated[bool, typer.Option("--store/--no-store", help="Record the result in backtest_results.")] = True,
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
    ) -> None:
        """Replay a strategy's predictions as entries, with their own exits or yours.

        Example: quantdb replay momentum --exits settings --stop-loss 0.05 --max-hold 10 --json
        """
        from quantdb.cli.common import open_db
        from quantdb.services.research.replay import default_replay_settings, replay_predictions

        overrides: dict[str, Any] = {
            "cash": cash, "commission": commission, "slippage_bps": slippage_bps, "fill": fill,
            "stop_loss": stop_loss, "take_profit": take_profit, "trailing_stop": trailing_stop,
            "max_hold_bars": max_hold, "max_positions": max_positions,
        }
        settings = default_replay_settings(**overrides, **sizing_overrides(sizing))
        database = open_db(Path(db), write=store)
        result = replay_predictions(
            database, strategy, start=start, end=end, exits=exits, settings=settings,  # type: ignore[arg-type]
            bars=bars, store=store,  # type: ignore[arg-type]
        )
        keys = ["final_equity", "total_return", "sharpe", "max_drawdown", "n_trades", "win_rate",
                "profit_factor", "ambiguous_exits", "exit_reasons", "prediction_status"]
        emit_result(result, title=f"{result.strategy} exits={exits} (backtest {result.backtest_id})",
                    keys=keys, json_out=json_out)
