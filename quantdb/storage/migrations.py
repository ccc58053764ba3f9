"""Numbered SQL migrations (``sql/NNNN_name.sql``), applied in order, recorded, never edited.

Each file runs statement by statement (split with `sqlite3.complete_statement`) inside one
`Database.atomic()` transaction: never `executescript`, which commits first. Applied files are
recorded in ``schema_migrations(version, name, sha256, applied_at)`` and ``PRAGMA
user_version``; a file whose hash changed after it was applied is refused. A file whose first
line is ``-- quantdb: foreign_keys=off`` rebuilds tables: foreign keys go off before ``BEGIN``
and ``foreign_key_check`` runs before ``COMMIT``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from quantdb.errors import MigrationError
from quantdb.storage.sqlite import Database, translate_error

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_FK_OFF = "-- quantdb: foreign_keys=off"


@dataclass(frozen=True)
class Migration:
    """One numbered schema file."""

    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def sql_dir() -> Path:
    """The folder of SQL files: the wheel's ``quantdb/_sql`` first, else the checkout's ``sql/``."""
    packaged = resources.files("quantdb") / "_sql"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "sql"


def load_migrations(folder: Path | None = None) -> list[Migration]:
    """Every ``NNNN_name.sql`` file of ``folder``, in version order."""
    folder = folder or sql_dir()
    found = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        msg = f"{folder}: migrations must be numbered 0001, 0002, ... without gaps, got {versions}"
        raise MigrationError(msg)
    return found


def split_statements(sql: str) -> list[str]:
    """Split a SQL script into complete statements (comments and blank lines kept inside)."""
    statements: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            if stmt and not all(
                part.strip().startswith("--") or not part.strip() for part in stmt.splitlines()
            ):
                statements.append(stmt)
            buf = ""
    if buf.strip() and not all(
        p.strip().startswith("--") or not p.strip() for p in buf.splitlines()
    ):
        msg = f"incomplete SQL statement at the end of the script: {buf.strip()[:80]!r}"
        raise MigrationError(msg)
    return statements


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT
"""


def _recorded(conn: sqlite3.Connection) -> dict[int, tuple[str, str]]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return {}
    rows = conn.execute("SELECT version, name, sha256 FROM schema_migrations").fetchall()
    return {v: (n, h) for v, n, h in rows}


def applied_migrations(db: Database) -> dict[int, tuple[str, str]]:
    """version -> (name, sha256) of the migrations recorded in the database."""
    return _recorded(db.writer())


def _refuse_mismatch(
    db: Database, migrations: list[Migration], done: dict[int, tuple[str, str]]
) -> None:
    """An applied file that was edited since, or a database newer than this quantdb: refuse."""
    for m in migrations:
        if m.version in done and done[m.version][1] != m.sha256:
            msg = (
                f"migration {m.version:04d}_{m.name}.sql was edited after it was applied "
                f"(recorded sha256 {done[m.version][1][:12]}, file {m.sha256[:12]}); "
                "add a new numbered migration instead"
            )
            raise MigrationError(msg)
    newest = max(done, default=0)
    if newest > len(migrations):
        msg = (
            f"{db.path}: schema version {newest} is newer than this quantdb knows "
            f"({len(migrations)}); upgrade quantdb"
        )
        raise MigrationError(msg)


def _markers(conn: sqlite3.Connection) -> tuple[int, dict[int, tuple[str, str]]]:
    return int(conn.execute("PRAGMA user_version").fetchone()[0]), _recorded(conn)


def require_known_schema(db: Database, folder: Path | None = None, *, writer: bool = False) -> None:
    """Refuse a database this quantdb cannot read or write: a folder, a file that is not SQLite
    (`NotADatabase`), or a schema newer than the newest migration known here (`MigrationError`,
    exit 2) by either marker, ``PRAGMA user_version`` or a version in ``schema_migrations``.

    Readers and writers alike call it (through `quantdb.cli.common.open_db`); a missing or
    empty file passes (it is a new database). Reads through a ``mode=ro`` connection, or the
    writer connection with ``writer`` (`apply_migrations`, about to write anyway).
    """
    db.require_sqlite()
    if not db.exists:
        return
    try:
        if writer:
            user_version, recorded = _markers(db.writer())
        else:
            with db.reader() as conn:
                user_version, recorded = _markers(conn)
    except sqlite3.DatabaseError as exc:
        raise translate_error(exc, db.path) from exc
    known = len(load_migrations(folder))
    newest = max(user_version, max(recorded, default=0))
    if newest > known:
        msg = (
            f"{db.path}: schema version {newest} is newer than this quantdb knows ({known}); "
            "upgrade quantdb to use this database"
        )
        raise MigrationError(msg)


def apply_migrations(db: Database, folder: Path | None = None) -> list[int]:
    """Bring ``db`` up to the newest schema; return the versions applied now (maybe none).

    Safe when several processes start on the same new file at once: each file is applied
    inside the writer lock, and the list of applied files is read again inside it, so a file
    another process applied meanwhile is skipped (the first read, outside the lock, only
    spares the lock when nothing is pending).
    """
    require_known_schema(db, folder, writer=True)
    migrations = load_migrations(folder)
    done = applied_migrations(db)
    _refuse_mismatch(db, migrations, done)
    applied: list[int] = []
    for m in migrations:
        if m.version in done:
            continue
        fk = not m.sql.lstrip().startswith(_FK_OFF)
        with db.atomic(foreign_keys=fk) as conn:
            done = _recorded(conn)  # under the lock: another process may have applied it
            _refuse_mismatch(db, migrations, done)
            if m.version in done:
                continue
            conn.execute(_BOOKKEEPING)
            for stmt in split_statements(m.sql):
                try:
                    conn.execute(stmt)
                except sqlite3.Error as exc:
                    msg = f"migration {m.version:04d}_{m.name}.sql failed at {stmt[:60]!r}: {exc}"
                    raise MigrationError(msg) from exc
            conn.execute(
                "INSERT INTO schema_migrations (version, name, sha256, applied_at) VALUES (?, ?, ?, ?)",
                (m.version, m.name, m.sha256, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
        applied.append(m.version)
    return applied


def schema_version(db: Database) -> int:
    """The ``PRAGMA user_version`` of the database (0 for a new file)."""
    return int(db.writer().execute("PRAGMA user_version").fetchone()[0])
