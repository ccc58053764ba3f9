"""What every command shares: the `--db` and `--json` options, output, errors, progress.

A command never prints to stdout except its one result (a JSON document with ``--json``, a
table or a line otherwise); progress and messages go to stderr. A `QuantdbError` becomes one
line on stderr and the error's exit code (1 for a failed check, 2 for bad input).
"""

from __future__ import annotations

import contextlib
import dataclasses
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

__all__ = ["DEFAULT_DB", "DbPath", "JsonFlag", "LimitOpt", "Progress", "UnusedDbPath", "close_opened", "database_session", "echo_err", "emit_json", "handle_errors", "open_db", "print_table", "progress", "to_jsonable"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_DB = Path("quant.db")  # the QUANTDB_DB env var is read by the option itself
DbPath = Annotated[
    Path,
    typer.Option("--db", envvar="QUANTDB_DB", help="SQLite database file.", dir_okay=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
#: How many rows a human table shows (the --json document is never cut).
LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, help="Show at most this many rows (--json is never cut).")
]
#: For the few commands that read no database: every command takes --db (DESIGN.md), so that
#: scripts can pass it uniformly; these accept it and say so.
UnusedDbPath = Annotated[
    Path | None,
    typer.Option("--db", envvar="QUANTDB_DB", help="Accepted for uniformity; this command reads no database.", dir_okay=False),
]


def open_db(db: Path, *, write: bool, create: bool = False, known_schema: bool = True) -> Database:
    """The one way a command opens its database.

    A missing file is refused with one line (`NotFound`, exit 2) unless ``create`` (the commands
    that bring data in: init, migrate, prices import, demo). A folder, a file that is not SQLite
    and a schema newer than this quantdb are refused for readers and writers alike (exit 2;
    `quantdb.storage.migrations.require_known_schema`) unless ``known_schema`` is False (`check`,
    which reports them as problems). ``write`` checks the file's health first (a damaged database
    refuses writes) and upgrades the schema in place; a reader opens it as it is.
    """
    from quantdb.storage.migrations import apply_migrations, require_known_schema
    from quantdb.storage.sqlite import Database

    if not create and not db.is_dir() and not db.exists():
        msg = f"{db}: no such database; create it with `quantdb init` (or pass --db)"
        raise NotFound(msg)
    database = Database(db)
    try:
        if known_schema:
            require_known_schema(database, writer=write)
        if write:
            database.require_healthy()
            apply_migrations(database)
    except BaseException:
        database.close()
        raise
    _OPENED.append(database)
    return database


#: The databases `open_db` opened for the running command, closed as it ends (`close_opened`).
_OPENED: list[Database] = []


def close_opened() -> None:
    """Close every database the command opened (the root callback registers it on the command's
    context, so it runs on success, error and Ctrl-C alike): a write session that found its file
    healthy then seals it (`quantdb.storage.health`) and the next command skips ``quick_check``.
    Closing twice is harmless."""
    while _OPENED:
        _OPENED.pop().close()


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


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a long command tells its bar: ``advance(n)`` done, ``set_total(n)`` once known,
    ``say(text)`` the current step."""

    advance: Callable[[int], None]
    set_total: Callable[[int], None]
    say: Callable[[str], None]


def _ignore(*_: object) -> None:
    """What a quiet bar does with its news."""


@contextlib.contextmanager
def progress(description: str, *, quiet: bool = False, total: int | None = None) -> Iterator[Progress]:
    """A rich bar (or, without a total, a spinner with the elapsed time) on stderr.

    Shown only when stderr is a terminal and the command was not asked for ``--json``
    (``quiet``): scripts and pipes see nothing but the result on stdout. A quiet bar is no bar:
    rich is not even imported for it (0.03-0.06 s of a ``--json`` command's start-up).
    """
    if quiet:
        yield Progress(advance=_ignore, set_total=_ignore, say=_ignore)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    console = Console(stderr=True)
    with Bar(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        disable=quiet or not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        def set_total(n: int) -> None:
            bar.update(task, total=n)

        def say(text: str) -> None:
            bar.update(task, description=f"{description}: {text}")

        yield Progress(advance=advance, set_total=set_total, say=say)


def print_table(title: str, columns: list[str], rows: list[list[Any]], *, limit: int | None = None) -> None:
    """A rich table on stdout (the human form of a command's result), as wide as the terminal
    (on a pipe, as wide as the table).

    Each figure is formatted by its kind (`quantdb._format.kind_of`: percentages as
    percentages, money with separators, counts as whole numbers): by its column's name, or in a
    ``name``/``metric`` table by its row's name. Numbers are right-aligned. ``limit`` shows the
    first rows only and says how many were left out.
    """
    from rich.console import Console
    from rich.table import Table

    from quantdb._format import format_number, kind_of

    by_row = bool(columns) and columns[0] in ("name", "metric")
    shown = rows if limit is None else rows[:limit]
    table = Table(title=title)
    numeric = [any(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in shown)
               for i in range(len(columns))]
    for c, is_num in zip(columns, numeric, strict=True):
        table.add_column(c, justify="right" if is_num else "left", overflow="fold", min_width=len(c))
    for r in shown:
        cells = []
        for i, v in enumerate(r):
            kind = kind_of(r[0]) if by_row and i > 0 else kind_of(columns[i])
            cells.append(format_number(v, kind) if not isinstance(v, dict | list) else json.dumps(to_jsonable(v)))
        table.add_row(*cells)
    # A terminal sets the width; a pipe or a file gets the table's own width, so that nothing
    # is folded for grep and scripts.
    console = Console() if sys.stdout.isatty() else Console(width=100_000)
    console.print(table)
    if limit is not None and len(rows) > limit:
        console.print(f"({len(rows) - limit} more rows not shown: raise --limit, or use --json)")
