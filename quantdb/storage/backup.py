"""Online backup and restore through SQLite's backup API.

A backup is consistent while readers (and a writer in another process) run: the backup API
copies a snapshot page by page into a temporary file beside the destination, which is
integrity-checked and only then renamed into place (`quantdb._atomic`).

A restore checks the source (integrity_check, a quantdb schema), copies it to a temporary file
and checks it again, keeps a copy of the database it replaces, then copies the pages into the
live database file under the writer lock, so that every open session sees the new content
(issue 16: a file swapped by rename would leave open sessions writing to the deleted file).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from quantdb._atomic import atomic_output, temp_name
from quantdb._paths import make_folder
from quantdb.errors import (
    ArgumentError,
    DatabaseDamaged,
    DatabaseError,
    NotFound,
    OutputError,
    QuantdbError,
)
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
    if dest_path.is_dir():  # a folder, or a link to one: the backup goes inside
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


def kept_copy_path(db: Database, what: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """``<folder or db folder/backups>/<db stem>-before-<what>-<UTC time>.db``, not yet taken."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    base = Path(folder) if folder is not None else db.path.parent / "backups"
    stem = base.absolute() / f"{db.path.stem}-before-{what}-{stamp}"
    path, n = stem.with_suffix(".db"), 1
    while path.exists():
        path, n = Path(f"{stem}-{n}.db"), n + 1
    return path


def quantdb_schema_problem(path: Path) -> str | None:
    """Why the SQLite file ``path`` is not a quantdb database this quantdb can use (or None).

    A quantdb database records its migrations in ``schema_migrations``; any other SQLite file
    (an app's cache, another tool's database) is not one, however healthy.
    """
    from quantdb.storage.migrations import load_migrations

    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        has = conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if not has:
            return "a SQLite file but not a quantdb database (it has no schema_migrations table)"
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    except sqlite3.DatabaseError as exc:
        return f"cannot read its schema ({exc})"
    finally:
        conn.close()
    if not versions:
        return "a SQLite file but not a quantdb database (its schema_migrations table is empty)"
    known = len(load_migrations())
    if max(versions) > known:
        return f"its schema version {max(versions)} is newer than this quantdb knows ({known}); upgrade quantdb"
    return None


@dataclass(frozen=True)
class RestoreReport:
    """What `restore_database` did; ``to_dict()`` is the ``quantdb restore --json`` document."""

    path: Path  # the database restored
    source: Path  # the backup it was restored from
    previous: Path | None  # a copy of the database it replaced (None: there was none)
    in_place: bool  # copied into the live file (open sessions see the new content)
    applied: tuple[int, ...] = ()  # migrations applied after the restore (an older backup)

    def to_dict(self) -> dict[str, object]:
        return {
            "restored": str(self.path),
            "from": str(self.source),
            "previous": None if self.previous is None else str(self.previous),
            "in_place": self.in_place,
            "applied": list(self.applied),
        }


def _checked_source(db: Database, src: str | os.PathLike[str]) -> Path:
    src_path = Path(src).absolute()
    if src_path.is_dir():
        msg = f"{src_path}: is a folder; expected a backup file (as written by `quantdb backup`)"
        raise ArgumentError(msg)
    if not src_path.exists():
        msg = f"{src_path}: no such backup file"
        raise NotFound(msg)
    if not src_path.is_file():
        msg = f"{src_path}: is not a regular file; expected a backup file (as written by `quantdb backup`)"
        raise ArgumentError(msg)
    if _is_database_file(db, src_path):
        msg = f"{src_path}: is the database itself; give a backup file"
        raise ArgumentError(msg)
    problems = _integrity(src_path)
    if problems != ["ok"]:
        msg = f"{src_path}: the backup is damaged ({problems[0]}); nothing was restored"
        raise DatabaseDamaged(msg)
    why = quantdb_schema_problem(src_path)
    if why is not None:
        msg = f"{src_path}: {why}; nothing was restored"
        raise ArgumentError(msg)
    return src_path


def _keep_previous(db: Database, dest: Path) -> Path | None:
    """Copy the database about to be replaced to ``dest``; None when there is nothing to keep.

    A healthy database is copied with the backup API; a damaged one (a restore's usual
    reason) byte for byte, with its ``-wal`` beside it, as it is.
    """
    if not db.path.exists() or db.path.stat().st_size == 0:
        return None
    with contextlib.suppress(DatabaseError, sqlite3.DatabaseError):  # damaged: copied as it is
        return backup_database(db, dest)
    with atomic_output(dest, what="copy of the replaced database") as tmp:
        shutil.copyfile(db.path, tmp)
    wal = Path(f"{db.path}-wal")
    if wal.exists() and wal.stat().st_size:
        with atomic_output(Path(f"{dest}-wal"), what="copy of the replaced database") as tmp:
            shutil.copyfile(wal, tmp)
    return dest


def _copy_in_place(db: Database, copy: Path) -> None:
    """Copy the checked ``copy`` into the live database file with the backup API.

    One backup step is one write transaction on the live file: every connection, in this
    process or another, sees the old content or the new, and keeps working on the same file.
    """
    conn = db.writer()
    try:
        live_page = conn.execute("PRAGMA page_size").fetchone()[0]
        source = sqlite3.connect(copy, isolation_level=None)
        try:
            if source.execute("PRAGMA page_size").fetchone()[0] != live_page:
                # A WAL database cannot change its page size: give the copy the live one.
                source.execute(f"PRAGMA page_size = {int(live_page)}")
                source.execute("VACUUM")
            source.backup(conn)  # pages=-1: everything in one step
        finally:
            source.close()
        rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise translate_error(exc, db.path) from exc
    if rows != ["ok"]:
        msg = f"{db.path}: quick_check failed after the restore ({rows[0]}); restore again from {copy}"
        raise DatabaseDamaged(msg)
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _replace_file(db: Database, copy: Path) -> None:
    """Swap ``copy`` in for a database file too damaged to be written in place."""
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db.path}{suffix}").unlink(missing_ok=True)
    os.replace(copy, db.path)
    db.close()  # forget the old file's identity: this object works on the new file


def restore_database(
    db: Database, src: str | os.PathLike[str], *, keep_dir: str | os.PathLike[str] | None = None
) -> RestoreReport:
    """Replace the content of ``db`` with the backup at ``src``, keeping a copy of what it was.

    The backup must be a healthy quantdb database (integrity_check, ``schema_migrations``). It
    is first copied to a temporary file beside the database and checked again; then, holding
    the writer lock (no quantdb writer is mid-transaction) and the mirror's locks (no panel is
    read or rebuilt meanwhile), the database is copied to ``keep_dir`` (default: ``backups/``
    beside it) and the backup's pages are copied **into the live file** with SQLite's backup
    API, so every open session (a notebook, ``quantdb serve``) sees the new content and its
    next write lands in it. A file too damaged to be opened is replaced by rename instead.
    The mirror's versions are dropped; an older backup's schema is upgraded in place.

    Raises
    ------
    NotFound
        ``src`` does not exist.
    ArgumentError
        ``src`` is a folder, the database itself, or not a quantdb database.
    DatabaseDamaged
        ``src`` (or its copy) fails integrity_check: nothing was restored.
    """
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.mirror import replacing_content

    src_path = _checked_source(db, src)
    make_folder(db.path.parent, what=f"database {db.path}")
    keep = kept_copy_path(db, "restore", keep_dir)
    copy = temp_name(db.path)
    previous: Path | None = None
    in_place = True
    try:
        source = sqlite3.connect(f"{src_path.as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error as exc:
            msg = f"{db.path}: cannot write the restored copy {copy}: {exc}; nothing was restored"
            raise OutputError(msg) from exc
        finally:
            source.close()
            target.close()
        problems = _integrity(copy)
        if problems != ["ok"]:
            msg = f"{src_path}: the restored copy failed integrity_check ({problems[0]}); nothing was restored"
            raise DatabaseDamaged(msg)
        with db.exclusive(), replacing_content(db):
            previous = _keep_previous(db, keep)
            with open(db.path, "ab"):  # a missing database is created empty, then filled
                pass
            if _header_ok(db.path):
                try:
                    _copy_in_place(db, copy)
                except DatabaseDamaged:
                    in_place = False
            else:
                in_place = False
            if not in_place:
                _replace_file(db, copy)
    finally:
        for leftover in (copy, Path(f"{copy}-journal")):
            leftover.unlink(missing_ok=True)
    applied = tuple(apply_migrations(db))
    return RestoreReport(db.path, src_path, previous, in_place, applied)


def _header_ok(path: Path) -> bool:
    """An empty file (a new database) or one that starts with the SQLite header."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return head in (b"", SQLITE_HEADER)
