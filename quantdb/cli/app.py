"""The `quantdb` Typer application: storage commands here, the other groups registered.

Start-up stays fast: this module imports only Typer and quantdb's light modules; every heavy
library (NumPy-heavy services, numba, vectorbt, QuantStats, DuckDB) is imported inside the
command that needs it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from quantdb.cli.common import (
    DEFAULT_DB,
    DbPath,
    JsonFlag,
    close_opened,
    emit_json,
    handle_errors,
    open_db,
    print_table,
    progress,
)

app = typer.Typer(
    name="quantdb",
    help="quantdb: legacy JSON -> SQLite, DuckDB scans, vectorized backtests, sweeps and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain --help: fast, greppable, and the source of docs/cli.md
)
prices_app = typer.Typer(
    help="Daily price bars: import Yahoo-style CSV or Parquet files.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(prices_app, name="prices")
calendar_app = typer.Typer(
    help="The database's trading calendar (exchange-calendars; XNYS unless set).",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(calendar_app, name="calendar")


def _print_version(value: bool) -> None:
    if value:
        from quantdb._version import __version__

        typer.echo(f"quantdb {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print quantdb's version and exit."),
    ] = False,
) -> None:
    """quantdb: legacy JSON -> SQLite, DuckDB scans, vectorized backtests, sweeps and reports."""
    ctx.call_on_close(close_opened)


@app.command("init")
@handle_errors
def init(db: DbPath = DEFAULT_DB, json_out: JsonFlag = False) -> None:
    """Create the database, or upgrade it in place to the newest schema.  Example: quantdb init --db quant.db"""
    from quantdb.storage.migrations import apply_migrations, schema_version

    database = open_db(db, write=False, create=True)
    database.require_healthy()
    applied = apply_migrations(database)
    result = {"db": str(database.path), "applied": applied, "schema_version": schema_version(database)}
    database.close()
    if json_out:
        emit_json(result)
    else:
        typer.echo(f"{result['db']}: schema version {result['schema_version']} (applied {applied or 'nothing'})")


@app.command("check")
@handle_errors
def check(db: DbPath = DEFAULT_DB, json_out: JsonFlag = False) -> None:
    """integrity_check, foreign_key_check, row counts and the SQLite version; exit 1 on a problem.

    Also each ticker's calendar gaps (bars on days the database's calendar does not trade,
    sessions without a bar): reported, never a failure.
    """
    from dataclasses import asdict

    from quantdb.errors import MigrationError
    from quantdb.storage.migrations import require_known_schema

    database = open_db(db, write=False, known_schema=False)
    report = database.check()
    if report.ok:
        try:
            require_known_schema(database)
        except MigrationError as exc:  # a check that fails: a problem (exit 1), not bad input
            report = dataclasses.replace(report, ok=False, problems=[*report.problems, str(exc)])
    gaps = None
    if report.ok:
        from quantdb.services.records.calendar import ticker_gaps

        gaps = ticker_gaps(database)
    if json_out:
        emit_json({**asdict(report), "calendar": None if gaps is None else asdict(gaps)})
    else:
        typer.echo(f"{report.path}: SQLite {report.sqlite_version}, schema version {report.user_version}")
        print_table("row counts", ["table", "rows"], [[k, v] for k, v in report.row_counts.items()])
        if gaps is not None:
            typer.echo(f"calendar {gaps.calendar}: {gaps.tickers_with_gaps} of {gaps.tickers_checked} "
                       f"tickers with gaps ({gaps.off_calendar} off-calendar bars, "
                       f"{gaps.missing_sessions} missing sessions)")
            rows = [[t, g["off_calendar"], " ".join(g["off_calendar_first"]), g["missing_sessions"],
                     " ".join(g["missing_sessions_first"])] for t, g in list(gaps.gaps.items())[:20]]
            if rows:
                print_table("calendar gaps (first 20 tickers)",
                            ["ticker", "off-calendar", "first", "missing", "first"], rows)
        for p in report.problems:
            typer.echo(f"problem: {p}", err=True)
        typer.echo("ok" if report.ok else "FAILED")
    if not report.ok:
        raise typer.Exit(1)


@app.command("backup")
@handle_errors
def backup(
    dest: Annotated[Path, typer.Argument(help="Backup file (or folder) to write.")],
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Online backup through SQLite's backup API (consistent while others read or write); integrity-checked, written aside and renamed into place."""
    from quantdb.storage.backup import backup_database

    path = backup_database(open_db(db, write=False), dest)
    if json_out:
        emit_json({"backup": str(path)})
    else:
        typer.echo(str(path))


@app.command("restore")
@handle_errors
def restore(
    src: Annotated[Path, typer.Argument(help="Backup file to restore from.")],
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
    backup_dir: Annotated[
        Path | None,
        typer.Option("--backup-dir", help="Where the copy of the replaced database goes (default: backups/ beside it).", file_okay=False),
    ] = None,
) -> None:
    """Restore a quantdb backup into the database, in place (open sessions see it); a copy of the replaced database is kept."""
    from quantdb.storage.backup import restore_database
    from quantdb.storage.sqlite import Database

    database = Database(db)
    try:
        report = restore_database(database, src, keep_dir=backup_dir)
    finally:
        database.close()
    if json_out:
        emit_json(report.to_dict())
    else:
        typer.echo(f"{report.path} restored from {report.source}")
        if report.previous is not None:
            typer.echo(f"the replaced database was kept in {report.previous}")


@prices_app.command("import")
@handle_errors
def prices_import(
    paths: Annotated[list[Path], typer.Argument(help="CSV / Parquet files or folders of them.")],
    off_calendar: Annotated[
        str,
        typer.Option("--off-calendar", metavar="keep|refuse",
                     help="Bars on days the database's calendar does not trade: keep them (counted in the "
                          "report) or refuse the whole import."),
    ] = "keep",
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Load Yahoo-style CSV (Date,Open,High,Low,Close[,Adj Close],Volume) or Parquet price files.

    Reports per file the bars on non-trading days and the missing trading days of the
    database's calendar (quantdb calendar show).  Example: quantdb prices import prices/ --off-calendar refuse
    """
    from quantdb.errors import ArgumentError
    from quantdb.services.records.prices import import_price_files

    policy = off_calendar.strip().lower()
    if policy not in ("keep", "refuse"):
        msg = f"--off-calendar must be keep or refuse, got {off_calendar!r}"
        raise ArgumentError(msg)
    with progress("prices import", quiet=json_out):
        report = import_price_files(open_db(db, write=True, create=True), paths,
                                    off_calendar="keep" if policy == "keep" else "refuse")
    if json_out:
        emit_json(report)
    else:
        t = report.totals
        typer.echo(
            f"batch {report.batch_id}: read {t['read']}, inserted {t['inserted']}, "
            f"updated {t['updated']}, unchanged {t['unchanged']}"
        )
        for name, f in report.files.items():
            if f.get("off_calendar") or f.get("missing_sessions"):
                typer.echo(
                    f"{name}: {f['off_calendar']} bar(s) on days {f['calendar']} does not trade"
                    f" (first {' '.join(f['off_calendar_first']) or '-'}), kept; "
                    f"{f['missing_sessions']} session(s) without a bar"
                    f" (first {' '.join(f['missing_sessions_first']) or '-'})"
                )


@calendar_app.command("show")
@handle_errors
def calendar_show(db: DbPath = DEFAULT_DB, json_out: JsonFlag = False) -> None:
    """The database's trading calendar.  Example: quantdb calendar show --db quant.db"""
    from quantdb.services.records.calendar import database_calendar

    name = database_calendar(open_db(db, write=False))
    if json_out:
        emit_json({"calendar": name})
    else:
        typer.echo(name)


@calendar_app.command("set")
@handle_errors
def calendar_set(
    name: Annotated[str, typer.Argument(help="An exchange-calendars name: XNYS, XLON, XTKS, XHKG, ...")],
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Set the trading calendar that imports and check measure bars against.  Example: quantdb calendar set XLON"""
    from quantdb.services.records.calendar import set_calendar

    stored = set_calendar(open_db(db, write=True), name)
    if json_out:
        emit_json({"calendar": stored})
    else:
        typer.echo(stored)


# Command groups that live in their own modules: each exposes ``register(app)``. Imported
# plainly (each module is light: its heavy imports happen inside the commands).
from quantdb.cli import (
    analytics_cmds,
    backtest_cmds,
    demo_cmds,
    migrate_cmds,
    replay_cmds,
    report_cmds,
    research_cmds,
)

for _group in (migrate_cmds, analytics_cmds, backtest_cmds, replay_cmds, research_cmds, report_cmds, demo_cmds):
    _group.register(app)


def run() -> None:
    """Run the application (the console script)."""
    app()
