"""`quantdb report tearsheet|dashboard|excel|pdf OUT` and `quantdb serve`.

A thin shell over ``quantdb.services.reports`` and ``quantdb.web``: every heavy import
(QuantStats, plotly, openpyxl, matplotlib, Starlette) happens inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quantdb.cli.common import (
    DEFAULT_DB,
    DbPath,
    JsonFlag,
    emit_json,
    handle_errors,
    open_db,
    progress,
)

report_app = typer.Typer(help="Reports: QuantStats tearsheet, HTML dashboard, Excel and PDF.", no_args_is_help=True)

OutPath = Annotated[Path, typer.Argument(help="File to write.", dir_okay=False)]


def _done(path: Path, json_out: bool) -> None:
    if json_out:
        emit_json({"path": str(path.resolve())})
    else:
        typer.echo(str(path))


@report_app.command("tearsheet")
@handle_errors
def tearsheet(
    out: OutPath,
    strategy: Annotated[str | None, typer.Option("--strategy", help="A live strategy's name.")] = None,
    backtest: Annotated[int | None, typer.Option("--backtest", help="A stored backtest's id.")] = None,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """QuantStats HTML tearsheet, offline, SPY from the database as benchmark.  Example: quantdb report tearsheet out.html --strategy momentum"""
    from quantdb.services.reports.tearsheet import write_tearsheet

    with progress("report tearsheet", quiet=json_out):
        path = write_tearsheet(open_db(db, write=False), out, strategy=strategy, backtest_id=backtest)
    _done(path, json_out)


@report_app.command("dashboard")
@handle_errors
def dashboard(out: OutPath, db: DbPath = DEFAULT_DB, json_out: JsonFlag = False) -> None:
    """One self-contained HTML dashboard (opens offline).  Example: quantdb report dashboard dash.html"""
    from quantdb.services.reports.dashboard import write_dashboard

    with progress("report dashboard", quiet=json_out):
        path = write_dashboard(open_db(db, write=False), out)
    _done(path, json_out)


@report_app.command("excel")
@handle_errors
def excel(out: OutPath, db: DbPath = DEFAULT_DB, json_out: JsonFlag = False) -> None:
    """Excel workbook: summary, strategies, trades, monthly returns, drawdowns, open positions."""
    from quantdb.services.reports.excel import write_workbook

    with progress("report workbook", quiet=json_out):
        path = write_workbook(open_db(db, write=False), out)
    _done(path, json_out)


@report_app.command("pdf")
@handle_errors
def pdf(out: OutPath, db: DbPath = DEFAULT_DB, json_out: JsonFlag = False) -> None:
    """The report as a paginated PDF with its charts (matplotlib; no browser needed)."""
    from quantdb.services.reports.pdf import write_pdf

    with progress("report pdf", quiet=json_out):
        path = write_pdf(open_db(db, write=False), out)
    _done(path, json_out)


@report_app.command("run")
@handle_errors
def run(
    period: Annotated[str, typer.Option("--period", help="daily, weekly (ISO week to date) or monthly (month to date), ending at the newest price.")],
    out: Annotated[Path, typer.Option("--out", help="Reports folder: the run goes to OUT/PERIOD/END-DATE/, OUT/index.html lists every run.", file_okay=False)],
    track: Annotated[bool, typer.Option("--track", help="Run `track update` first (mark the live book to market).")] = False,
    max_stale_days: Annotated[int, typer.Option("--max-stale-days", help="Exit 1 when the newest price is more trading days old than this.")] = 3,
    today: Annotated[str | None, typer.Option("--today", help="The day the report is for (YYYY-MM-DD); default: the machine's date.")] = None,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Every report of a period into one dated folder, for cron or a systemd timer; exit 1 when a check fails.

    Example: quantdb report run --period daily --out reports --track --db quant.db
    """
    from quantdb.services.reports.scheduled import run_report

    report = run_report(open_db(db, write=track), out, period=period, track=track,
                        max_stale_days=max_stale_days, today=today)
    if json_out:
        emit_json(report.to_dict())
    else:
        typer.echo(report.folder)
    for problem in report.problems:
        typer.echo(f"quantdb: check failed: {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)


def serve(
    db: DbPath = DEFAULT_DB,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="127.0.0.1 or localhost only.")] = "127.0.0.1",
) -> None:
    """The read-only local web interface.  Example: quantdb serve --port 8765 --db quant.db"""
    from quantdb.web.app import serve as run

    def announce() -> None:  # once the host and the database are known to be good
        typer.echo(f"quantdb: serving {db} on http://{host}:{port}/ (Ctrl-C to stop)", err=True)

    run(db, host=host, port=port, on_start=announce)


def register(app: typer.Typer) -> None:
    """Add `report` and `serve` to the main application."""
    app.add_typer(report_app, name="report")
    app.command("serve")(handle_errors(serve))
