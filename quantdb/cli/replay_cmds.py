"""`quantdb replay STRATEGY`: a strategy's recorded predictions replayed as a backtest.

A thin shell over :func:`quantdb.services.research.replay.replay_predictions`: ``--exits own`` uses
each prediction's target, stop and timeframe; ``--exits settings`` replaces them with
``--stop-loss`` / ``--take-profit`` / ``--trailing-stop`` / ``--max-hold`` ("what if my exits
had been different?"); ``--exit-strategy SPEC`` (with ``--exits settings``) closes them on a
strategy's exit signals as well: a name, ``file.py:function``, ``module:function`` or an entry
point. The result is stored in backtest_results as ``replay:STRATEGY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from quantdb.cli.backtest_cmds import emit_result
from quantdb.cli.common import DEFAULT_DB, DbPath, JsonFlag, handle_errors, open_db
from quantdb.cli.options import simulation_options


def register(app: typer.Typer) -> None:
    """Add the `replay` command to ``app``."""

    @app.command("replay")
    @handle_errors
    @simulation_options
    def replay(
        strategy: Annotated[str, typer.Argument(help="Strategy whose predictions to replay (as in the predictions table).")],
        exits: Annotated[str, typer.Option(help="own: each prediction's target, stop and timeframe; settings: --stop-loss, --take-profit, --trailing-stop, --max-hold instead.")] = "own",
        bars: Annotated[str, typer.Option(help="With --exits own: intrabar (high/low) or close (levels judged on closes, the legacy rule).")] = "intrabar",
        start: Annotated[str | None, typer.Option(help="First prediction day (YYYY-MM-DD).")] = None,
        end: Annotated[str | None, typer.Option(help="Last prediction day and last bar (YYYY-MM-DD).")] = None,
        store: Annotated[bool, typer.Option("--store/--no-store", help="Record the result in backtest_results.")] = True,
        exit_strategy: Annotated[str | None, typer.Option("--exit-strategy", help="With --exits settings: a strategy whose exit signals close the trades too (a name, file.py:function, package.module:function, an entry point).")] = None,
        exit_param: Annotated[list[str] | None, typer.Option("--exit-param", help="A parameter of --exit-strategy, name=value (repeat).")] = None,
        *,
        sim: dict[str, Any],
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
    ) -> None:
        """Replay a strategy's predictions as entries, with their own exits or yours.

        Example: quantdb replay momentum --exits settings --stop-loss 0.05 --max-hold 10 --json
        """
        from quantdb.cli.options import parse_param_texts
        from quantdb.dates import parse_date
        from quantdb.services.research.replay import replay_predictions

        first, last = parse_date(start, name="--start"), parse_date(end, name="--end")
        database = open_db(Path(db), write=store)
        result = replay_predictions(
            database, strategy, start=first, end=last, exits=exits, settings=sim,  # type: ignore[arg-type]
            bars=bars, store=store,  # type: ignore[arg-type]
            exit_strategy=exit_strategy, exit_params=parse_param_texts(exit_param, option="--exit-param") or None,
        )
        keys = ["final_equity", "total_return", "sharpe", "max_drawdown", "n_trades", "win_rate",
                "profit_factor", "ambiguous_exits", "exit_reasons", "prediction_status"]
        emit_result(result, title=f"{result.strategy} exits={exits} (backtest {result.backtest_id})",
                    keys=keys, json_out=json_out)
