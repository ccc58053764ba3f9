"""Folders quantdb writes into (any layer may use it, like errors and _json)."""

from __future__ import annotations

import os
from pathlib import Path

from quantdb.errors import ArgumentError

__all__ = ["make_folder"]


def make_folder(folder: str | os.PathLike[str], *, what: str) -> Path:
    """Create ``folder`` and its parents (``mkdir -p``); ``what`` names the path in the error.

    Raises
    ------
    ArgumentError
        A file is in the way (``--db notes.txt/quant.db``), or the folder cannot be created
        (permissions, a read-only disk): one line instead of an `OSError`.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> make_folder(root / "a" / "b", what="--out").is_dir()
    True
    >>> (root / "notes.txt").write_text("x")
    1
    >>> make_folder(root / "notes.txt" / "out", what="--out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    quantdb.errors.ArgumentError: --out: cannot create the folder .../notes.txt/out: .../notes.txt is a file, not a folder
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (path, *path.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            reason = f"{blocker} is a file, not a folder"
        else:
            reason = exc.strerror or str(exc)
        msg = f"{what}: cannot create the folder {path}: {reason}"
        raise ArgumentError(msg) from None
    return path
