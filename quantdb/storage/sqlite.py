"""SQLite connections, pragmas, the one `atomic()` transaction manager, backup and checks.

The rules (DESIGN.md, Storage):

* WAL journal, ``synchronous=FULL``, foreign keys on in every connection, a busy timeout.
* One writer at a time, across processes: every write takes an exclusive lock file beside the
  database, then runs ``BEGIN IMMEDIATE ... COMMIT`` on a connection opened with
  ``isolation_level=None`` (Python's implicit transactions are never used).
* Readers open ``mode=ro`` connections from a small thread-safe pool.
* Backup and restore go through SQLite's online backup API (`quantdb.storage.backup`); a
  restore copies pages into the live file, so the file a connection opened stays the file at
  the path. A connection whose file was replaced anyway (by another program) refuses to write.
* A rolled-back write truncates the WAL it may have filled (``wal_checkpoint(TRUNCATE)``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from quantdb._paths import make_folder
from quantdb.errors import DatabaseDamaged, DatabaseError, DatabaseFull, NotADatabase, NotFound
from quantdb.storage.health import file_state, read_seal, write_seal

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
SQLITE_HEADER = b"SQLite format 3\x00"


def translate_error(exc: sqlite3.Error, path: Path) -> DatabaseError:
    """Turn a low-level sqlite3 error into one of quantdb's, with the file named."""
    text = str(exc)
    if "full" in text:
        msg = f"{path}: the database or disk is full ({text}); the transaction was rolled back"
        return DatabaseFull(msg)
    if "malformed" in text or "not a database" in text or "file is not a database" in text:
        msg = f"{path}: the database is damaged ({text}); restore it from a backup"
        return DatabaseDamaged(msg)
    return DatabaseError(f"{path}: {text}")


def apply_pragmas(conn: sqlite3.Connection, *, readonly: bool = False) -> None:
    """Set the pragmas every quantdb connection uses."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA synchronous = FULL")


def enter_wal(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode = WAL``, retried while SQLite answers "database is locked"; the
    journal mode the file is in afterwards.

    SQLite gives that answer at once, without its busy handler, when the switch would deadlock
    (several processes opening one new file, which is still in rollback mode until the first
    of them writes it) or while the last connection to the file checkpoints its WAL and
    deletes it. Both end within moments, so the pragma is tried again, backing off from 1 ms
    to 50 ms, until the busy timeout; only then does the error reach the caller.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@dataclass(frozen=True)
class CheckReport:
    """What `quantdb check` found: `ok` is False when any problem was found."""

    path: str
    sqlite_version: str
    ok: bool
    integrity: list[str]
    foreign_key_violations: list[dict[str, Any]]
    row_counts: dict[str, int]
    user_version: int
    journal_mode: str
    problems: list[str] = field(default_factory=list)


class Database:
    """One quantdb SQLite file: a writer connection, a pool of readers, transactions.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> db = Database(pathlib.Path(tempfile.mkdtemp()) / "x.db")
    >>> with db.atomic() as conn:
    ...     _ = conn.execute("CREATE TABLE t (a INTEGER) STRICT")
    >>> db.close()
    """

    def __init__(self, path: str | os.PathLike[str], *, pool_size: int = 4) -> None:
        self.path = Path(path).absolute()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._writer: sqlite3.Connection | None = None
        self._depth = 0
        self._aborted = False  # SQLite rolled back the open transaction under a savepoint
        self._lock_fd: int | None = None
        self._thread_lock = threading.RLock()
        self._readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(maxsize=pool_size)
        self._pool_size = pool_size
        # (st_dev, st_ino) of the file the writer / the pooled readers were opened on: a file
        # replaced underneath (by rename) is noticed instead of written to after its deletion.
        self._writer_file: tuple[int, int] | None = None
        self._readers_file: tuple[int, int] | None = None
        self._pinned: dict[int, sqlite3.Connection] = {}  # thread id -> its `snapshot` reader
        # data_version of the writer when this session found the file healthy (health seal)
        self._sealed_version: int | None = None

    # -- connections -----------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Whether the database file exists (and is not empty)."""
        return self.path.exists() and self.path.stat().st_size > 0

    def writer(self) -> sqlite3.Connection:
        """The single writer connection of this object (autocommit mode, WAL)."""
        if self._writer is None:
            make_folder(self.path.parent, what=f"database {self.path}")
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=30
                )
                apply_pragmas(conn)
                mode = enter_wal(conn)
            except sqlite3.DatabaseError as exc:
                raise translate_error(exc, self.path) from exc
            if mode.lower() != "wal":
                msg = f"{self.path}: could not switch to WAL journal mode (got {mode})"
                raise DatabaseError(msg)
            self._writer = conn
            self._writer_file = self._file_identity()
            self._check_if_new(conn)
        return self._writer

    def _check_if_new(self, conn: sqlite3.Connection) -> None:
        """A file of at most one page (a new database: this session is about to create it) is
        checked now, at no cost, so that the session seals it as it closes like one whose
        `require_healthy` passed: a file built by a service or a notebook (no command's
        `require_healthy` on it) is not read whole by the next write command's quick_check.

        The page count is read after ``data_version`` (as in `require_healthy`): a commit by
        another connection before that read shows in the page count, one after it changes
        ``data_version``, and then `close` writes no seal.
        """
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if conn.execute("PRAGMA page_count").fetchone()[0] > 1:
                return
            rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError:
            return  # no seal; `require_healthy` or the first write reports the damage
        if rows == ["ok"]:
            self._sealed_version = version

    def _file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the database file now; None when it does not exist."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _refuse_replaced_file(self) -> None:
        """Refuse to write through a connection whose file was replaced since it was opened.

        A file swapped by rename (an old-style restore, ``mv``, ``cp`` to a temporary name)
        leaves this connection on the deleted file: a write would report success and be lost.
        """
        if self._writer is None or self._writer_file is None:
            return
        now = self._file_identity()
        if now == self._writer_file:
            return
        change = "was deleted" if now is None else "was replaced by another file"
        msg = (
            f"{self.path}: the database file {change} after this session opened it; its writes "
            "would go to the deleted file and be lost. Nothing was written: reopen the database "
            "(db.close(), or qdb.connect again; restart the command)"
        )
        raise DatabaseError(msg)

    def _open_reader(self) -> sqlite3.Connection:
        if not self.path.exists():
            msg = f"{self.path}: no such database; create it with `quantdb init`"
            raise NotFound(msg)
        uri = f"{self.path.as_uri()}?mode=ro"
        if self._on_read_only_media():
            # WAL needs a -shm file beside the database; on read-only media none can be made, and
            # no writer can exist either: read the file as it is (SQLite's immutable=1).
            uri += "&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            apply_pragmas(conn, readonly=True)
        except sqlite3.DatabaseError as exc:
            raise translate_error(exc, self.path) from exc
        return conn

    def _on_read_only_media(self) -> bool:
        """The folder cannot take a -wal/-shm file and none exists: nobody can be writing."""
        wal = self.path.with_name(self.path.name + "-wal")
        shm = self.path.with_name(self.path.name + "-shm")
        return not os.access(self.path.parent, os.W_OK) and not wal.exists() and not shm.exists()

    def require_sqlite(self) -> None:
        """Refuse a path that is a folder or a file that is not SQLite (`NotADatabase`, exit 2).

        A missing or empty file passes (it is a new database).
        """
        if self.path.is_dir():
            msg = f"{self.path}: is a folder, not a database file; pass the database file with --db"
            raise NotADatabase(msg)
        if not self.exists or self._writer is not None or not self._readers.empty():
            # A connection of this object already reads the file. Opening and closing another
            # descriptor on it would drop every POSIX lock SQLite holds on it in this process.
            return
        try:
            with open(self.path, "rb") as fh:
                header = fh.read(16)
        except OSError as exc:
            msg = f"{self.path}: cannot read the database file ({exc.strerror})"
            raise DatabaseError(msg) from exc
        if header != SQLITE_HEADER:
            msg = f"{self.path}: not a SQLite database (bad file header); pass a quantdb database with --db"
            raise NotADatabase(msg)

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection from the pool (``mode=ro``, ``query_only``), thread-safe.

        Readers follow the path: when the file was replaced since the pooled connections were
        opened, they are closed and new ones read the new file.
        """
        pinned = self._pinned.get(threading.get_ident())
        if pinned is not None:  # inside `snapshot`: the same read transaction throughout
            yield pinned
            return
        now = self._file_identity()
        if now != self._readers_file:
            self._drain_readers()
            self._readers_file = now
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = self._open_reader()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if self._readers_file != now:  # the file was replaced meanwhile: not back in the pool
                conn.close()
            else:
                try:
                    self._readers.put_nowait(conn)
                except queue.Full:
                    conn.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read of this object in this thread, until the block ends, sees the database as
        it was when the block began, whatever other connections commit meanwhile.

        One pooled reader holds one read transaction (WAL keeps the pages it sees) and `reader`
        hands it out in this thread: a many-query check (`verify_folder` run while the demo goes on
        writing) reads one state, not a mix of states.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> db = Database(pathlib.Path(tempfile.mkdtemp()) / "x.db")
        >>> with db.atomic() as conn:
        ...     _ = conn.execute("CREATE TABLE t (a INTEGER) STRICT")
        >>> other = Database(db.path)
        >>> with other.snapshot():
        ...     with db.atomic() as conn:
        ...         _ = conn.execute("INSERT INTO t VALUES (1)")
        ...     other.scalar("SELECT count(*) FROM t")
        0
        >>> other.scalar("SELECT count(*) FROM t")
        1
        >>> other.close(); db.close()
        """
        me = threading.get_ident()
        if me in self._pinned:  # already inside one: the outer block's state
            yield
            return
        with self.reader() as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # the snapshot is taken at the first read
            self._pinned[me] = conn
            try:
                yield
            finally:
                del self._pinned[me]

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read query on a pooled reader and return all rows (as `sqlite3.Row`)."""
        with self.reader() as conn:
            cur = conn.execute(sql, params)
            cur.row_factory = sqlite3.Row
            return cur.fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """The first column of the first row of a read query (None when there is no row)."""
        with self.reader() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _drain_readers(self) -> None:
        while True:
            try:
                self._readers.get_nowait().close()
            except queue.Empty:
                break

    def close(self) -> None:
        """Close every connection this object opened (the next use opens the file anew)."""
        self._drain_readers()
        self._readers_file = None
        if self._writer is not None:
            self._close_and_seal()
            self._writer = None
        self._writer_file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------

    def _acquire_file_lock(self) -> None:
        make_folder(self.path.parent, what=f"database {self.path}")
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the other writer is done
        self._lock_fd = fd

    def _release_file_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextlib.contextmanager
    def atomic(self, *, foreign_keys: bool = True) -> Iterator[sqlite3.Connection]:
        """All or nothing: ``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception.

        Nested calls use savepoints, so an inner block can fail alone. The outermost call holds
        the cross-process writer lock file. ``foreign_keys=False`` (outermost only) switches
        foreign keys off before ``BEGIN`` for table rebuilds and runs ``foreign_key_check``
        before ``COMMIT``.
        """
        with self._thread_lock:
            conn = self.writer()
            if self._depth:
                name = f"sp_{self._depth}"
                conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield conn
                except BaseException as exc:
                    if self._aborted:
                        pass  # the savepoints are gone with the transaction SQLite rolled back
                    elif conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                    else:
                        # SQLite rolled the whole transaction back (disk full, I/O error). Open a
                        # new one so that the outer block's later statements cannot autocommit,
                        # and make the outermost exit roll it back: all or nothing.
                        conn.execute("BEGIN IMMEDIATE")
                        self._aborted = True
                    if isinstance(exc, sqlite3.DatabaseError):
                        self._sealed_version = None  # SQLite failed: no health seal at close
                        # One error tree at every depth, not only at the outermost level.
                        raise translate_error(exc, self.path) from exc
                    raise
                else:
                    if not self._aborted:
                        conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self._acquire_file_lock()
            try:
                self._refuse_replaced_file()
                if not foreign_keys:
                    conn.execute("PRAGMA foreign_keys = OFF")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.DatabaseError as exc:
                    raise translate_error(exc, self.path) from exc
                self._depth = 1
                failed = False
                try:
                    yield conn
                    if self._aborted:
                        msg = (
                            f"{self.path}: an inner block failed and SQLite rolled back the whole "
                            "transaction; nothing was written"
                        )
                        raise DatabaseError(msg)
                    if not foreign_keys:
                        bad = conn.execute("PRAGMA foreign_key_check").fetchall()
                        if bad:
                            msg = f"{self.path}: foreign key check failed: {bad[:5]}"
                            raise DatabaseError(msg)
                    conn.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    failed = True
                    self._sealed_version = None  # SQLite failed (I/O, full disk): no health seal
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise translate_error(exc, self.path) from exc
                except BaseException:
                    failed = True
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    self._depth = 0
                    self._aborted = False
                    if failed:
                        self._shrink_wal(conn)
                    if not foreign_keys:
                        conn.execute("PRAGMA foreign_keys = ON")
            finally:
                self._release_file_lock()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the cross-process writer lock with no transaction open (for a restore).

        No quantdb writer in any process is mid-transaction while the block runs. Connections
        of this object left on a file that was since replaced are closed first, so that
        `writer` opens the file now at the path.
        """
        with self._thread_lock:
            if self._depth:
                msg = f"{self.path}: cannot take the writer lock inside a transaction of the same session"
                raise DatabaseError(msg)
            self._acquire_file_lock()
            try:
                if self._writer is not None and self._file_identity() != self._writer_file:
                    self.close()
                yield
            finally:
                self._release_file_lock()

    def _shrink_wal(self, conn: sqlite3.Connection) -> None:
        """After a rolled-back write, give its space back: ``PRAGMA wal_checkpoint(TRUNCATE)``.

        A transaction that failed (a full disk, an error, Ctrl-C) may have spilled many pages
        into the ``-wal`` file before it was rolled back; they are never used, but the file
        keeps its size, and on a full disk every later read would fail for want of space.
        Runs under the writer lock; never waits for readers (busy timeout 0): a reader still
        inside a read transaction only postpones the truncation to the next checkpoint.
        """
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:  # the rollback stands; the file shrinks at a later checkpoint
            log.warning("%s: could not truncate the WAL after a rolled-back write: %s", self.path, exc)

    # -- health ----------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """integrity_check, foreign_key_check, row counts, SQLite version; never raises on damage."""
        problems: list[str] = []
        version = sqlite3.sqlite_version
        if not self.path.exists():
            return CheckReport(str(self.path), version, False, [], [], {}, 0, "", ["file does not exist"])
        with open(self.path, "rb") as fh:
            header = fh.read(16)
        if header != SQLITE_HEADER:
            problems.append("not a SQLite database (bad file header)")
            return CheckReport(str(self.path), version, False, [], [], {}, 0, "", problems)
        integrity: list[str] = []
        fks: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        user_version = 0
        journal = ""
        try:
            uri = f"{self.path.as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            try:
                integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
                if integrity != ["ok"]:
                    problems.extend(f"integrity: {line}" for line in integrity[:20])
                fks = [
                    {"table": r[0], "rowid": r[1], "parent": r[2], "fkid": r[3]}
                    for r in conn.execute("PRAGMA foreign_key_check")
                ]
                if fks:
                    problems.append(f"{len(fks)} foreign key violation(s), first: {fks[0]}")
                tables = [
                    r[0]
                    for r in conn.execute(
                        "SELECT name FROM sqlite_schema WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                    )
                ]
                for name in tables:
                    counts[name] = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                if "schema_migrations" not in tables or not counts["schema_migrations"]:
                    problems.append(
                        "not a quantdb database: no migration is recorded in schema_migrations "
                        "(a SQLite file made by another program?)"
                    )
                user_version = conn.execute("PRAGMA user_version").fetchone()[0]
                journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            problems.append(f"cannot read the database: {exc}")
        return CheckReport(
            str(self.path), version, not problems, integrity, fks, counts, user_version, journal, problems
        )

    def require_healthy(self) -> None:
        """Refuse to write to a damaged file: raise `DatabaseDamaged` naming the problem.

        Runs ``PRAGMA quick_check`` (O(size), without the index cross-checks of
        integrity_check) so that write commands stay fast on a large database, unless the file
        is exactly as a checked quantdb session left it (its health seal,
        `quantdb.storage.health`). A session that passed either way, or that created the file
        (`_check_if_new`), seals the file as it closes (`close`): every door (a command, the
        notebook API, a service called directly) seals through this class.
        """
        self.require_sqlite()
        if not self.exists:
            return
        try:
            conn = self.writer()
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            # the state is read after data_version: a commit by another connection from here
            # on changes data_version, and then `close` writes no seal
            if read_seal(self.path) == file_state(self.path):
                self._sealed_version = version
                return
            rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            msg = f"{self.path}: the database is damaged ({exc}); refusing to write"
            raise DatabaseDamaged(msg) from exc
        if rows != ["ok"]:
            msg = f"{self.path}: the database is damaged ({rows[0]}); refusing to write"
            raise DatabaseDamaged(msg)
        self._sealed_version = version

    def _close_and_seal(self) -> None:
        """Close the writer; seal the file (`quantdb.storage.health`) when this session found it
        healthy and only this session's transactions changed it since: no other connection
        committed (``data_version``), the path still names the file the writer opened, and no
        other quantdb writer holds the lock file (never waited for: then no seal)."""
        conn = self._writer
        assert conn is not None
        seal = (
            self._sealed_version is not None
            and self._lock_fd is None  # not inside atomic() or exclusive() (a restore)
            and not conn.in_transaction
            and self._file_identity() == self._writer_file
        )
        if seal:
            try:
                seal = conn.execute("PRAGMA data_version").fetchone()[0] == self._sealed_version
            except sqlite3.Error:
                seal = False
        self._sealed_version = None
        fd = self._try_file_lock() if seal else None
        try:
            conn.close()  # the last connection to the file checkpoints its WAL into it
            if fd is not None:
                write_seal(self.path, file_state(self.path))
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _try_file_lock(self) -> int | None:
        """The writer lock file's descriptor, locked, if no other writer holds it; else None."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd
