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
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
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

    def matrix(self, field: str) -> FloatArray:
        """The memory-mapped dates x tickers matrix of ``field`` (read-only)."""
        if field not in FIELDS:
            msg = f"field must be one of {FIELDS}, got {field!r}"
            raise ArgumentError(msg)
        return np.load(self.folder / f"{field}.npy", mmap_mode="r")  # type: ignore[no-any-return]


def mirror_root(db: Database) -> Path:
    """The folder beside the database that holds its mirror versions."""
    return db.path.with_name(db.path.name + ".mirror")


def read_watermark(db: Database) -> tuple[int, int, int]:
    """The database's current price watermark (max id, change counter, ticker count)."""
    with db.reader() as conn:
        row = conn.execute(Q["price_watermark"]).fetchone()
    return int(row[0]), int(row[1] or 0), int(row[2])


def _current(root: Path) -> MirrorVersion | None:
    pointer = root / "CURRENT"
    try:
        name = pointer.read_text().strip()
        meta = json.loads((root / name / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return MirrorVersion(
        folder=root / name,
        watermark=tuple(meta["watermark"]),
        dates=np.array(meta["dates"], dtype="datetime64[D]"),
        tickers=tuple(meta["tickers"]),
    )


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
    folder = root / f"v-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    for name in FIELDS:
        np.save(folder / f"{name}.npy", mats[name])
    meta: dict[str, Any] = {
        "watermark": list(watermark),
        "dates": [str(d) for d in dates],
        "tickers": ticker_list,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    tmp = root / f"CURRENT.{uuid.uuid4().hex[:8]}"
    tmp.write_text(folder.name)
    os.replace(tmp, root / "CURRENT")
    _remove_old_versions(root, keep=folder.name)
    return MirrorVersion(folder, watermark, dates, tuple(ticker_list))


def _remove_old_versions(root: Path, *, keep: str) -> None:
    for child in root.iterdir():
        if child.is_dir() and child.name.startswith("v-") and child.name != keep:
            shutil.rmtree(child, ignore_errors=True)


def current_mirror(db: Database) -> MirrorVersion:
    """The up-to-date mirror: the current version if its watermark matches, else a rebuild."""
    existing = _current(mirror_root(db))
    if existing is None:
        return build_mirror(db)
    now = read_watermark(db)
    if existing.watermark == now:
        return existing
    if now[1] == existing.watermark[1] and now[0] > existing.watermark[0]:
        # Only inserts since (no update, delete or ticker rename moved the counter): append.
        return build_mirror(db, base=existing)
    return build_mirror(db)
