"""`quantdb demo`: the whole product on the embedded synthetic market."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quantdb.cli.common import JsonFlag, echo_err, emit_json, handle_errors, progress


def register(app: typer.Typer) -> None:
    """Add the `demo` command to ``app``."""

    @app.command("demo")
    @handle_errors
    def demo(
        db: Annotated[Path, typer.Option("--db", envvar="QUANTDB_DB", help="Database to build.", dir_okay=False)] = Path("quant.db"),
        out: Annotated[Path, typer.Option("--out", help="Folder for the legacy files and every report.", file_okay=False)] = Path("quantdb-demo"),
        small: Annotated[bool, typer.Option("--small", help="A 1-minute version (60 tickers x 4 years).")] = False,
        seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 42,
        json_out: JsonFlag = False,
    ) -> None:
        """Generate the demo market (12 years x 500 tickers + SPY) and its legacy files, migrate,
        track, backtest, sweep, walk forward, Monte Carlo, risk, and write every report.

        Example: quantdb demo --small --out ./demo-out
        """
        from rich.console import Console

        from quantdb.services.demo import run_demo

        console = Console(stderr=True, log_path=False)  # a step's line, not the source file and line
        talk = console.is_terminal and not json_out
        with progress("demo", quiet=json_out) as bar:
            counter = {"n": 0}

            def step(name: str) -> None:
                counter["n"] += 1
                bar.say(f"[{counter['n']}/8] {name}")
                if talk:
                    console.log(f"[{counter['n']}/8] {name}")

            report = run_demo(db, out, small=small, seed=seed, step=step)
        if json_out:
            emit_json(report)
            return
        echo_err(f"done in {sum(report.seconds.values()):.1f} s: " + ", ".join(f"{k} {v}s" for k, v in report.seconds.items()))
        typer.echo(f"database: {report.db}")
        for name, path in report.outputs.items():
            typer.echo(f"{name:>16}: {path}")
