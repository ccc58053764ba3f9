"""Online backup and restore through SQLite's backup API.

A backup is consistent while readers (and a writer in another process) run: the backup API
copies a snapshot page by page. A restore copies the source into a temporary file beside the
database, integrity-checks it, and only then atomically replaces the database file, so a bad
or half-copied source never overwrites good data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from quantdb._paths import make_folder
from quantdb.errors import ArgumentError, DatabaseDamaged, NotFound
from quantdb.storage.mirror import mirror_root
from quantdb.storage.sqlite import SQLITE_HEADER, Database


def backup_database(db: Database, dest: str | os.PathLike[str]) -> Path:
    """Copy ``db`` to ``dest`` with the online backup API and return the destination path."""
    dest_path = Path(dest).absolute()
    if dest_path.is_dir():
        dest_path = dest_path / db.path.name
    make_folder(dest_path.parent, what=f"backup {dest_path}")
    tmp = dest_path.with_name(dest_path.name + ".partial")
    tmp.unlink(missing_ok=True)
    with db.reader() as src:
        target = sqlite3.connect(tmp)
        try:
            src.backup(target, pages=4096)
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    os.replace(tmp, dest_path)
    return dest_path


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
