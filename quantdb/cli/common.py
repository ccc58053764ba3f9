"""What every command shares: the `--db` and `--json` options, output, errors, progress.

A command never prints to stdout except its one result (a JSON document with ``--json``, a
table or a line otherwise); progress and messages go to stderr. A `QuantdbError` becomes one
line on stderr and the error's exit code (1 for a failed check, 2 for bad input).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from quantdb._json import to_jsonable
from quantdb.errors import NotFound, QuantdbError

if TYPE_CHECKING:
    from quantdb.storage.sqlite import Database

__all__ = ["DEFAULT_DB", "DbPath", "JsonFlag", "UnusedDbPath", "database_session", "echo_err", "emit_json", "handle_errors", "open_db", "print_table", "stderr_progress", "to_jsonable"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_DB = Path("quant.db")  # the QUANTDB_DB env var is read by the option itself
DbPath = Annotated[
    Path,
    typer.Option("--db", envvar="QUANTDB_DB", help="SQLite database file.", dir_okay=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
#: For the few commands that read no database: every command takes --db (DESIGN.md), so that
#: scripts can pass it uniformly; these accept it and say so.
UnusedDbPath = Annotated[
    Path | None,
    typer.Option("--db", envvar="QUANTDB_DB", help="Accepted for uniformity; this command reads no database.", dir_okay=False),
]


def open_db(db: Path, *, write: bool, create: bool = False) -> Database:
    """The one way a command opens its database.

    A missing file is refused with one line (`NotFound`, exit 2) unless ``create`` (the commands
    that bring data in: init, migrate, prices import, track, demo). ``write`` checks the file's
    health first (a damaged database refuses writes) and upgrades the schema in place; a reader
    opens it as it is.
    """
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    if not create and not db.exists():
        msg = f"{db}: no such database; create it with `quantdb init` (or pass --db)"
        raise NotFound(msg)
    database = Database(db)
    if write:
        database.require_healthy()
        apply_migrations(database)
    return database


@contextlib.contextmanager
def database_session(db: Path, *, write: bool, create: bool = False) -> Iterator[Database]:
    """`open_db` for the length of a ``with`` block, closed at its end."""
    database = open_db(db, write=write, create=create)
    try:
        yield database
    finally:
        database.close()


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a `QuantdbError` into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except QuantdbError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            typer.echo(f"quantdb: error: {reason}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def emit_json(value: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def echo_err(message: str) -> None:
    """A notice on stderr (never on stdout, which belongs to the result)."""
    typer.echo(message, err=True)


@contextlib.contextmanager
def stderr_progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a TTY."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}" if total else "{task.completed}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table on stdout (the human form of a command's result)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c not in ("file", "name", "table", "strategy") else "left")
    for r in rows:
        table.add_row(*["" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in r])
    Console(width=160).print(table)
