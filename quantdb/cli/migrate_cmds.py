"""Commands of the zero-loss migration: migrate, verify, rollback, export-json, quarantine.

A thin shell over `quantdb.services.records.migrate`, `.verify`, `.rollback`, `.export` and
`.quarantine`: every command takes ``--db`` (env ``QUANTDB_DB``) and ``--json`` (exactly one
JSON document on stdout); progress and notices go to stderr. Exit 0 on success, 1 when verify
finds a difference, 2 on bad input (one line on stderr).
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

FolderArg = Annotated[
    Path, typer.Argument(help="A legacy data folder (its files: docs/legacy-format.md).", file_okay=False)
]


def _emit(report: Any, json_out: bool, summary: str) -> None:
    """``report.to_dict()`` as the one JSON document with ``--json``, else its one-line summary."""
    if json_out:
        emit_json(report.to_dict())
    else:
        typer.echo(summary)


def _counts_rows(files: dict[str, Any], totals: Any) -> list[list[Any]]:
    keys = ("read", "imported", "duplicates", "quarantined", "already_present")
    rows = [[name, *(getattr(c, k) for k in keys)] for name, c in files.items()]
    rows.append(["TOTAL", *(getattr(totals, k) for k in keys)])
    return rows


def register(app: typer.Typer) -> None:
    """Add migrate, verify, rollback, export-json and the quarantine group to ``app``."""
    quarantine_app = typer.Typer(
        help="Records a migration could not read: list them, fix them, re-import them.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    app.add_typer(quarantine_app, name="quarantine")

    @app.command("migrate")
    @handle_errors
    def migrate(
        folder: FolderArg,
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
        ] = False,
        backup_dir: Annotated[
            Path | None,
            typer.Option(
                "--backup-dir", help="Where the pre-migration backup goes.", file_okay=False
            ),
        ] = None,
    ) -> None:
        """Import a legacy folder as one batch (backup first; idempotent).  Example: quantdb migrate ./legacy --json"""
        from quantdb.services.records.migrate import migrate_folder

        with progress("migrate", quiet=json_out):
            report = migrate_folder(open_db(db, write=False, create=True), folder, dry_run=dry_run, backup_dir=backup_dir)
        for notice in report.notices:
            echo_err(f"quantdb: notice: {notice}")
        if json_out:
            emit_json(report.to_dict())
            return
        title = f"batch {report.batch_id}" if not dry_run else "dry run (nothing written)"
        print_table(title, ["file", "read", "imported", "duplicates", "quarantined", "already_present"],
                    _counts_rows(report.files, report.totals))  # fmt: skip
        if report.flags:
            typer.echo("flags: " + ", ".join(f"{k}={v}" for k, v in report.flags.items()))
        if report.backup_path:
            typer.echo(f"backup: {report.backup_path}")

    @app.command("verify")
    @handle_errors
    def verify(
        folder: FolderArg,
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
        max_differences: Annotated[int, typer.Option("--max-differences", min=1)] = 20,
    ) -> None:
        """Prove, field by field, that every record of FOLDER is in the database; exit 1 if not."""
        from quantdb.services.records.verify import verify_folder

        with progress("verify", quiet=json_out):
            report = verify_folder(open_db(db, write=False), folder, max_differences=max_differences)
        if json_out:
            emit_json(report.to_dict())
        else:
            typer.echo(
                f"{report.source}: {report.records} records, {report.n_differences} difference(s)"
            )
            for d in report.differences:
                typer.echo(f"  {d}")
            typer.echo("ok" if report.ok else "FAILED")
        if not report.ok:
            raise typer.Exit(1)

    @app.command("rollback")
    @handle_errors
    def rollback(
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
        batch: Annotated[int | None, typer.Option("--batch", help="Batch id to undo.")] = None,
        last: Annotated[
            bool, typer.Option("--last", help="Undo the newest committed batch.")
        ] = False,
    ) -> None:
        """Undo one import batch: delete what it added, restore what it changed."""
        from quantdb.errors import QuantdbError
        from quantdb.services.records.rollback import rollback_batch

        if (batch is None) == (not last):
            msg = "give exactly one of --batch N or --last"
            raise QuantdbError(msg)
        report = rollback_batch(open_db(db, write=True), batch, last=last)
        _emit(report, json_out,
              f"batch {report.batch_id} rolled back: deleted {report.deleted}, restored {report.restored}")

    @app.command("export-json")
    @handle_errors
    def export_json(
        out: Annotated[
            Path, typer.Argument(help="Folder to write the legacy files into.", file_okay=False)
        ],
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
    ) -> None:
        """Write the legacy files back from the database.  Example: quantdb export-json ./out --db quant.db"""
        from quantdb.services.records.export import export_json as run_export

        with progress("export", quiet=json_out):
            report = run_export(open_db(db, write=False), out)
        _emit(report, json_out, f"{report.out_dir}: {sum(report.files.values())} records in {len(report.files)} files")

    @quarantine_app.command("list")
    @handle_errors
    def quarantine_list(
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
        include_resolved: Annotated[
            bool, typer.Option("--all", help="Include resolved entries.")
        ] = False,
        batch: Annotated[int | None, typer.Option("--batch", help="Only this batch.")] = None,
        limit: LimitOpt = None,
    ) -> None:
        """List quarantined records (file, position, field, rule, reason, raw)."""
        from quantdb.services.records.quarantine import list_quarantine

        entries = list_quarantine(
            open_db(db, write=False), include_resolved=include_resolved, batch_id=batch
        )
        if json_out:
            emit_json({"count": len(entries), "entries": entries})
        else:
            print_table("quarantine", ["id", "batch", "file", "position", "field", "rule", "reason"],
                        [[e.id, e.batch_id, e.file, e.position, e.field, e.rule, e.reason] for e in entries],
                        limit=limit)  # fmt: skip

    @quarantine_app.command("reimport")
    @handle_errors
    def quarantine_reimport(
        ids: Annotated[
            list[int] | None, typer.Argument(help="Quarantine ids (default: all unresolved).")
        ] = None,
        db: DbPath = DEFAULT_DB,
        json_out: JsonFlag = False,
        from_file: Annotated[
            Path | None,
            typer.Option("--from", help="Edited `quarantine list --json` output.", dir_okay=False),
        ] = None,
    ) -> None:
        """Re-import quarantined records, fixed (--from FILE) or as they are, in a new batch."""
        from quantdb.services.records.quarantine import load_fixes, reimport_quarantined

        fixes = load_fixes(from_file) if from_file is not None else None
        report = reimport_quarantined(open_db(db, write=True), ids=ids or None, fixes=fixes)
        if json_out:
            emit_json(report.to_dict())
        else:
            print_table(f"batch {report.batch_id}", ["file", "read", "imported", "duplicates", "quarantined",
                        "already_present"], _counts_rows(report.files, report.totals))  # fmt: skip
