"""The health seal: a write command checks a database file once per change made outside quantdb.

``PRAGMA quick_check`` reads every page (0.3-0.6 s on a 45 MB file), and every write command
ran it before its first write (`Database.require_healthy`). Most of the time the file is
exactly as the previous quantdb session left it. The seal records that state:

* A session whose quick_check passed (or whose file matched the seal, or which created the
  file: it opened its writer on a file of at most one page, checked then at no cost,
  `Database.writer`) and during which no other connection committed (``PRAGMA data_version``
  unchanged on its writer) writes, as it closes, the file's state to ``<database>.checked``:
  device, inode, size, modification and change times (ns) of the database and of its ``-wal``
  file when one is left.
* The next `require_healthy` skips quick_check only when the state now equals the seal.

Any write to the file by another program, a copy over it, a restore, a truncation, a crash
mid-session (no seal is written), or a commit by another connection during the session changes
the state or leaves no seal, so the file is checked again. The change time (``st_ctime_ns``) is
set by the kernel on every write and cannot be set back from user space (``os.utime`` sets
only the access and modification times), so damage written by a program is always seen. Not
seen: damage that bypasses the file system (a failing disk flipping bits in place) after the
last check, and a write by another program within the same clock tick (a few ms) as the
sealing session's own last write, which can leave the times as they were; ``quantdb check``
(integrity_check) reads every page for those.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from quantdb._atomic import temp_name

log = logging.getLogger(__name__)

__all__ = ["file_state", "read_seal", "seal_path", "write_seal"]

SEAL_FORMAT = 1
FileState = dict[str, list[int] | None]


def seal_path(db_path: Path) -> Path:
    """Where the seal of the database at ``db_path`` is kept: ``<name>.checked`` beside it."""
    return db_path.with_name(db_path.name + ".checked")


def _stat(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def file_state(db_path: Path) -> FileState:
    """The state a seal compares: ``os.stat`` figures of the database and of its ``-wal``.

    An empty ``-wal`` (what opening a connection creates) holds no page: the same as none.
    """
    wal = _stat(db_path.with_name(db_path.name + "-wal"))
    return {"db": _stat(db_path), "wal": None if wal is None or wal[2] == 0 else wal}


def read_seal(db_path: Path) -> FileState | None:
    """The recorded state, or None (no seal, an unreadable one, another format)."""
    try:
        doc = json.loads(seal_path(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != SEAL_FORMAT:
        return None
    return {"db": doc.get("db"), "wal": doc.get("wal")}


def write_seal(db_path: Path, state: FileState) -> None:
    """Record ``state`` (written to a temporary name, then renamed: whole or absent).

    Best effort: a folder that cannot take the file only means the next session checks again.
    """
    target = seal_path(db_path)
    tmp = temp_name(target)
    try:
        tmp.write_text(json.dumps({"format": SEAL_FORMAT, **state}), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        log.debug("%s: health seal not written: %s", db_path, exc)
        tmp.unlink(missing_ok=True)

