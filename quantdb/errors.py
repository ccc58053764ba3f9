"""One exception tree for quantdb (as ibis and polars do), with builtin mix-ins.

Every error says what was expected and what arrived, then the fix if there is one. The CLI
turns a :class:`QuantdbError` into one line on stderr and the class's ``exit_code``.
"""

from __future__ import annotations

from pathlib import Path


class QuantdbError(Exception):
    """Base of every error quantdb raises on purpose."""

    exit_code = 2  # bad usage or bad input


class InputError(QuantdbError, ValueError):
    """A record of an input file is not what it must be: names the file, record and field."""

    def __init__(self, path: Path | str, record: int | str, field: str, reason: str) -> None:
        self.path = Path(path)
        self.record = record
        self.field = field
        self.reason = reason
        super().__init__(f"{path}: record {record}: field {field!r}: {reason}")


class FileFormatError(QuantdbError, ValueError):
    """A whole file cannot be parsed (truncated, not JSON, empty, wrong top-level shape)."""

    def __init__(self, path: Path | str, where: str, reason: str) -> None:
        self.path = Path(path)
        self.where = where
        self.reason = reason
        super().__init__(f"{path}: {where}: {reason}")


class DatabaseError(QuantdbError):
    """The database cannot be used as asked (damaged, full, locked, wrong version)."""


class DatabaseDamaged(DatabaseError):
    """integrity_check failed or the file is not SQLite: write commands refuse to run."""

    exit_code = 1


class NotADatabase(DatabaseError):
    """``--db`` names a folder or a file that is not SQLite: bad input (exit 2), nothing is read."""


class DatabaseFull(DatabaseError):
    """The disk (or max_page_count) is full; the transaction was rolled back."""


class MigrationError(DatabaseError):
    """A schema migration cannot be applied (edited after it was applied, or failed)."""


class ExtensionMissing(QuantdbError, ImportError):
    """DuckDB's sqlite_scanner extension wheel is not installed."""


class NotFound(QuantdbError, LookupError):
    """A named object (strategy, backtest, batch, ticker) does not exist."""


class QuantdbWarning(UserWarning):
    """A recoverable data problem (kept and flagged, never silently dropped)."""


class ArgumentError(QuantdbError, ValueError):
    """A function argument is out of range or of the wrong shape (kernels, services)."""


class OutputError(QuantdbError, OSError):
    """An output file (backup, report, export) could not be written: a full disk, permissions.

    Nothing partial is left behind: outputs are written aside and renamed into place only when
    complete (`quantdb._atomic`).
    """
