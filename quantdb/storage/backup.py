"""Online backup and restore through SQLite's backup API.

A backup is consistent while readers (and a writer in another process) run: the backup API
copies a snapshot page by page. A restore copies the source into a temporary file beside the
database, integrity-checks it, and only then atomically replaces the database file, so a bad
or half-copied source never overwrites good data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

from quantdb._atomic import atomic_output
from quantdb._paths import make_folder
from quantdb.errors import ArgumentError, DatabaseDamaged, NotFound, OutputError, QuantdbError
from quantdb.storage.mirror import mirror_root
from quantdb.storage.sqlite import SQLITE_HEADER, Database, translate_error


def _database_files(db: Database) -> list[Path]:
    """The files that make up the live database: never a backup's destination or source."""
    base = str(db.path)
    return [db.path, Path(base + "-wal"), Path(base + "-shm"), Path(base + "-journal"), db.lock_path]


def _is_database_file(db: Database, path: Path) -> bool:
    resolved = path.resolve()
    for p in _database_files(db):
        if resolved == p.resolve():
            return True
        with contextlib.suppress(OSError):
            if path.exists() and p.exists() and os.path.samefile(path, p):  # a hard link
                return True
    return False


def backup_database(db: Database, dest: str | os.PathLike[str]) -> Path:
    """Copy ``db`` to ``dest`` with the online backup API and return the destination path.

    ``dest`` may be a folder (the backup is then named like the database, inside it). The copy
    is written beside the destination under a temporary name, integrity-checked, then renamed
    into place: a failure (a full disk, a damaged source) leaves nothing behind and the old
    ``dest``, if any, untouched. A destination that is the database itself (or its ``-wal``,
    ``-shm`` or lock file), a folder, a device or a link is refused.

    Raises
    ------
    ArgumentError
        ``dest`` is the database itself, or not a regular file.
    DatabaseDamaged
        The copy fails integrity_check: the source database is damaged.
    OutputError
        The copy could not be written (a full disk, permissions).
    """
    dest_path = Path(dest).absolute()
    if dest_path.is_dir() and not dest_path.is_symlink():
        dest_path = dest_path / db.path.name
    if _is_database_file(db, dest_path):
        msg = f"backup {dest_path}: is the database itself; give another file or folder"
        raise ArgumentError(msg)
    with atomic_output(dest_path, what="backup") as tmp:
        try:
            with db.reader() as src:
                target = sqlite3.connect(tmp)
                try:
                    src.backup(target, pages=4096)
                    target.execute("PRAGMA journal_mode = DELETE")
                finally:
                    target.close()
        except sqlite3.Error as exc:
            raise _write_error(exc, db, dest_path) from exc
        finally:
            Path(f"{tmp}-journal").unlink(missing_ok=True)
        problems = _integrity(tmp)
        if problems != ["ok"]:
            msg = (
                f"{db.path}: the database is damaged ({problems[0]}); the backup was refused "
                "(its copy failed integrity_check): restore an earlier backup"
            )
            raise DatabaseDamaged(msg)
    return dest_path


def _write_error(exc: sqlite3.Error, db: Database, dest: Path) -> QuantdbError:
    """A failed copy: the destination could not be written, or the source could not be read."""
    text = str(exc)
    if "full" in text or "disk I/O" in text or "unable to open" in text or "readonly" in text:
        msg = f"backup {dest}: cannot write it: {text}; nothing was written"
        return OutputError(msg)
    return translate_error(exc, db.path)


def _integrity(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        if fh.read(16) != SQLITE_HEADER:
            return ["not a SQLite database (bad file header)"]
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


def restore_database(db: Database, src: str | os.PathLike[str]) -> Path:
    """Replace ``db`` with the backup at ``src`` after checking it; return the database path."""
    src_path = Path(src).absolute()
    if src_path.is_dir():
        msg = f"{src_path}: is a folder; expected a backup file (as written by `quantdb backup`)"
        raise ArgumentError(msg)
    if not src_path.exists():
        msg = f"{src_path}: no such backup file"
        raise NotFound(msg)
    problems = _integrity(src_path)
    if problems != ["ok"]:
        msg = f"{src_path}: the backup is damaged ({problems[0]}); nothing was restored"
        raise DatabaseDamaged(msg)
    db.close()
    make_folder(db.path.parent, what=f"database {db.path}")
    tmp = db.path.with_name(db.path.name + ".restoring")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(f"{src_path.as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        source.close()
        target.close()
    problems = _integrity(tmp)
    if problems != ["ok"]:
        tmp.unlink(missing_ok=True)
        msg = f"{src_path}: the restored copy failed integrity_check ({problems[0]})"
        raise DatabaseDamaged(msg)
    # Hold the writer lock file during the swap so no quantdb writer in another process is
    # mid-transaction (this object's own connections are closed first: a WAL connection left
    # open would checkpoint into the replaced file and unlink the new -wal when it closes).
    db.close()
    db._acquire_file_lock()
    try:
        for suffix in ("-wal", "-shm"):
            Path(str(db.path) + suffix).unlink(missing_ok=True)
        os.replace(tmp, db.path)
        # The columnar mirror describes the replaced content. Its watermark (max id, change
        # counter, ticker count) can come back after the restore with different rows (ids
        # restart from the backup's), so it must go: the next panel rebuilds it.
        shutil.rmtree(mirror_root(db), ignore_errors=True)
    finally:
        db._release_file_lock()
    return db.path
