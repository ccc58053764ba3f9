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
            raise ValueError(msg)
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
        watermark=tuple(meta["watermark"]),  # type: ignore[arg-type]
        dates=np.array(meta["dates"], dtype="datetime64[D]"),
        tickers=tuple(meta["tickers"]),
    )


def build_mirror(db: Database) -> MirrorVersion:
    """Rebuild the mirror from SQLite now and make it current."""
    root = mirror_root(db)
    root.mkdir(parents=True, exist_ok=True)
    with db.reader() as conn:
        conn.execute("BEGIN")  # one snapshot for the watermark and the rows
        try:
            row = conn.execute(Q["price_watermark"]).fetchone()
            watermark = (int(row[0]), int(row[1] or 0), int(row[2]))
            rows = conn.execute(Q["price_rows_for_mirror"]).fetchall()
        finally:
            conn.execute("ROLLBACK")
    folder = root / f"v-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    if rows:
        cols = list(zip(*rows, strict=True))
        symbols = np.array(cols[0], dtype=object)
        dates_text = np.array(cols[1], dtype="datetime64[D]")
        tickers, t_idx = np.unique(symbols.astype(str), return_inverse=True)
        dates, d_idx = np.unique(dates_text, return_inverse=True)
        for k, name in enumerate(FIELDS, start=2):
            values = np.array(cols[k], dtype=np.float64)  # None -> nan
            mat = np.full((len(dates), len(tickers)), np.nan)
            mat[d_idx, t_idx] = values
            np.save(folder / f"{name}.npy", mat)
        ticker_list = [str(t) for t in tickers]
    else:
        dates = np.array([], dtype="datetime64[D]")
        ticker_list = []
        for name in FIELDS:
            np.save(folder / f"{name}.npy", np.empty((0, 0)))
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
    if existing is not None and existing.watermark == read_watermark(db):
        return existing
    return build_mirror(db)
