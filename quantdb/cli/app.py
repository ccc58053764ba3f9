"""The `quantdb` Typer application: storage commands here, the other groups registered.

Start-up stays fast: this module imports only Typer and quantdb's light modules; every heavy
library (NumPy-heavy services, numba, vectorbt, QuantStats, DuckDB) is imported inside the
command that needs it.
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
    print_table,
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
    """integrity_check, foreign_key_check, row counts and the SQLite version; exit 1 on a problem."""
    report = open_db(db, write=False).check()
    if json_out:
        emit_json(report)
    else:
        typer.echo(f"{report.path}: SQLite {report.sqlite_version}, schema version {report.user_version}")
        print_table("row counts", ["table", "rows"], [[k, v] for k, v in report.row_counts.items()])
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
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Load Yahoo-style CSV (Date,Open,High,Low,Close[,Adj Close],Volume) or Parquet price files."""
    from quantdb.services.records.prices import import_price_files

    report = import_price_files(open_db(db, write=True, create=True), paths)
    if json_out:
        emit_json(report)
    else:
        t = report.totals
        typer.echo(
            f"batch {report.batch_id}: read {t['read']}, inserted {t['inserted']}, "
            f"updated {t['updated']}, unchanged {t['unchanged']}"
        )


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
