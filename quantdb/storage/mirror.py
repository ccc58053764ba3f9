"""The columnar mirror of ``price_history``: one uncompressed dates x tickers matrix per field.

SQLite stays the system of record; the mirror is a read-optimized copy next to the database
(``quant.db.mirror/``) so that loading a 12-year x 500-ticker panel costs about a memory copy.
Each field is a C-ordered float64 ``.npy`` file, memory-mapped on load. The mirror is keyed by a
watermark read from SQLite (the newest ``price_history.id``, which AUTOINCREMENT never reuses,
and a counter that triggers bump on every update or delete); a mirror whose watermark differs
from the database's is never used: it is rebuilt first.

The rebuild reads SQLite with Python's ``sqlite3`` (never DuckDB's scanner: two SQLite copies
in one process can drop each other's locks), writes a new version folder, then switches the
``CURRENT`` pointer atomically, so concurrent readers always see a complete version.

Two lock files beside the versions keep readers and rebuilds of several processes apart:

* ``current.lock``: a reader holds it shared while it reads ``CURRENT``, memory-maps the six
  matrices of that version and reads the database's watermark; a rebuild holds it exclusive
  only while it switches ``CURRENT`` and removes old versions. A mapped file stays readable
  after it is removed, so a version is only ever removed when no reader is between reading
  ``CURRENT`` and mapping its files.
* ``build.lock``: one rebuild at a time (exclusive, for the whole rebuild). A process that
  waited for it first looks again: the version another process just built is usually the one
  it needs. A version is written as ``tmp-*`` and renamed to ``v-*`` when complete.

A restore holds both while it replaces the database's content, then drops every version.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass(frozen=True)
class MirrorVersion:
    """One complete mirror version on disk."""

    folder: Path
    watermark: tuple[int, int, int]
    dates: np.ndarray  # datetime64[D]
    tickers: tuple[str, ...]
    #: The six matrices, memory-mapped when the version was opened (they stay readable even
    #: when a later rebuild removes the folder).
    arrays: dict[str, FloatArray] = field(default_factory=dict, repr=False, compare=False)

    def matrix(self, name: str) -> FloatArray:
        """The memory-mapped dates x tickers matrix of ``name`` (read-only)."""
        if name not in FIELDS:
            msg = f"field must be one of {FIELDS}, got {name!r}"
            raise ArgumentError(msg)
        if name in self.arrays:
            return self.arrays[name]
        return np.load(self.folder / f"{name}.npy", mmap_mode="r")  # type: ignore[no-any-return]


def mirror_root(db: Database) -> Path:
    """The folder beside the database that holds its mirror versions."""
    return db.path.with_name(db.path.name + ".mirror")


def read_watermark(db: Database) -> tuple[int, int, int]:
    """The database's current price watermark (max id, change counter, ticker count)."""
    with db.reader() as conn:
        row = conn.execute(Q["price_watermark"]).fetchone()
    return int(row[0]), int(row[1] or 0), int(row[2])


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    """Hold ``flock(mode)`` on ``path`` (created if needed) for the ``with`` block.

    On a read-only mirror (read-only media: nothing can rebuild or remove a version) the
    lock file cannot be created, and none is needed.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and mode == fcntl.LOCK_SH:
            yield
            return
        raise
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


def _open_version(root: Path, name: str) -> MirrorVersion | None:
    """Open version ``name``: its metadata and its six matrices, memory-mapped."""
    folder = root / name
    try:
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {f: np.load(folder / f"{f}.npy", mmap_mode="r") for f in FIELDS}
        return MirrorVersion(
            folder=folder,
            watermark=tuple(meta["watermark"]),
            dates=np.array(meta["dates"], dtype="datetime64[D]"),
            tickers=tuple(meta["tickers"]),
            arrays=arrays,
        )
    except (OSError, ValueError, KeyError, TypeError):  # gone, or not a version: rebuild
        return None


def _current(root: Path) -> MirrorVersion | None:
    """The version ``CURRENT`` names, opened (the caller holds ``current.lock``)."""
    try:
        name = (root / "CURRENT").read_text().strip()
    except OSError:
        return None
    return _open_version(root, name) if name else None


def _current_and_watermark(
    db: Database, root: Path
) -> tuple[MirrorVersion | None, tuple[int, int, int]]:
    """The current version (opened) and the database's watermark, read under one shared lock.

    Under the lock no rebuild can remove the version before its files are mapped, and no
    restore can replace the database between the two reads.
    """
    if not root.is_dir():
        return None, read_watermark(db)
    with _flock(root / "current.lock", fcntl.LOCK_SH):
        return _current(root), read_watermark(db)


def _scatter(
    rows: list[tuple[object, ...]],
    symbols: dict[int, str],
    base: MirrorVersion | None,
) -> tuple[np.ndarray, list[str], dict[str, FloatArray]]:
    """Place bars into dates x tickers matrices, on top of ``base`` (for an append) or empty."""
    data = np.array(rows, dtype=np.float64).reshape(-1, 2 + len(FIELDS))  # None -> nan
    row_tickers = np.array([symbols[int(i)] for i in data[:, 0]], dtype=object) if len(data) else np.array([], dtype=object)
    row_days = data[:, 1].astype("int64").astype("datetime64[D]")
    old_dates = base.dates if base is not None else np.array([], dtype="datetime64[D]")
    old_tickers = list(base.tickers) if base is not None else []
    dates = np.union1d(old_dates, row_days)
    tickers = sorted(set(old_tickers) | set(row_tickers.tolist()))
    t_index = {t: i for i, t in enumerate(tickers)}
    t_idx = np.array([t_index[t] for t in row_tickers], dtype=np.intp)
    d_idx = np.searchsorted(dates, row_days)
    mats: dict[str, FloatArray] = {}
    for k, name in enumerate(FIELDS, start=2):
        mat = np.full((len(dates), len(tickers)), np.nan)
        if base is not None and len(old_dates) and old_tickers:
            rows_at = np.searchsorted(dates, old_dates)
            cols_at = np.array([t_index[t] for t in old_tickers], dtype=np.intp)
            mat[np.ix_(rows_at, cols_at)] = base.matrix(name)
        mat[d_idx, t_idx] = data[:, k]
        mats[name] = mat
    return dates, tickers, mats


def build_mirror(db: Database, *, base: MirrorVersion | None = None) -> MirrorVersion:
    """Rebuild the mirror from SQLite now and make it current.

    With ``base`` (a mirror whose rows are all still in SQLite unchanged: only inserts happened
    since), only the rows after its newest id are read and added to it.
    """
    root = mirror_root(db)
    root.mkdir(parents=True, exist_ok=True)
    with _flock(root / "build.lock", fcntl.LOCK_EX):
        return _build(db, root, base)


def _build(db: Database, root: Path, base: MirrorVersion | None) -> MirrorVersion:
    """Write a new version and switch to it (the caller holds ``build.lock``)."""
    after_id = base.watermark[0] if base is not None else 0
    with db.reader() as conn:
        conn.execute("BEGIN")  # one snapshot for the watermark and the rows
        try:
            row = conn.execute(Q["price_watermark"]).fetchone()
            watermark = (int(row[0]), int(row[1] or 0), int(row[2]))
            symbols = dict(conn.execute(Q["ticker_symbols"]).fetchall())
            rows = conn.execute(Q["price_rows_for_mirror"], {"after_id": after_id}).fetchall()
        finally:
            conn.execute("ROLLBACK")
    dates, ticker_list, mats = _scatter(rows, symbols, base)
    tag = uuid.uuid4().hex[:12]
    tmp = root / f"tmp-{tag}"
    tmp.mkdir()
    for name in FIELDS:
        np.save(tmp / f"{name}.npy", mats[name])
    meta: dict[str, Any] = {
        "watermark": list(watermark),
        "dates": [str(d) for d in dates],
        "tickers": ticker_list,
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    folder = root / f"v-{tag}"
    os.rename(tmp, folder)  # a v-* folder is always complete
    pointer = root / f"CURRENT.{tag}"
    pointer.write_text(folder.name)
    with _flock(root / "current.lock", fcntl.LOCK_EX):
        os.replace(pointer, root / "CURRENT")
        _remove_versions(root, keep=folder.name)
        version = _open_version(root, folder.name)
    if version is None:  # pragma: no cover - the folder was just written
        msg = f"{folder}: the mirror version just written cannot be read"
        raise OSError(msg)
    return version


def _remove_versions(root: Path, *, keep: str | None) -> None:
    """Remove every version but ``keep``, and leftovers of interrupted rebuilds.

    The caller holds ``build.lock`` (no rebuild is writing a ``tmp-*`` folder) and
    ``current.lock`` exclusively (no reader is between reading ``CURRENT`` and mapping files).
    """
    for child in root.iterdir():
        if child.name == keep:
            continue
        if child.is_dir() and child.name.startswith(("v-", "tmp-")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name.startswith("CURRENT."):
            child.unlink(missing_ok=True)


@contextlib.contextmanager
def replacing_content(db: Database) -> Iterator[None]:
    """Hold the mirror still while the database's content is replaced (a restore).

    No panel is read and no rebuild runs meanwhile; when the block succeeds every version is
    dropped (its watermark could come back with different rows: ids restart from the
    backup's), so the next panel load rebuilds from the new content.
    """
    root = mirror_root(db)
    root.mkdir(parents=True, exist_ok=True)
    with _flock(root / "build.lock", fcntl.LOCK_EX), _flock(root / "current.lock", fcntl.LOCK_EX):
        yield
        (root / "CURRENT").unlink(missing_ok=True)
        _remove_versions(root, keep=None)


def current_mirror(db: Database) -> MirrorVersion:
    """The up-to-date mirror: the current version if its watermark matches, else a rebuild."""
    root = mirror_root(db)
    existing, now = _current_and_watermark(db, root)
    if existing is not None and existing.watermark == now:
        return existing
    root.mkdir(parents=True, exist_ok=True)
    with _flock(root / "build.lock", fcntl.LOCK_EX):
        # Another process may have built what we need while we waited for the lock.
        existing, now = _current_and_watermark(db, root)
        if existing is not None and existing.watermark == now:
            return existing
        if existing is not None and now[1] == existing.watermark[1] and now[0] > existing.watermark[0]:
            # Only inserts since (no update, delete or ticker rename moved the counter): append.
            return _build(db, root, existing)
        return _build(db, root, None)
