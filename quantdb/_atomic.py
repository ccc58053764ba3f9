"""Outputs written aside and renamed into place only when complete (any layer may use it).

Every file quantdb writes for the user (a backup, a report, an export) goes through
`atomic_output` (one file) or `atomic_folder` (a folder of files): the content is written to a
temporary name beside the target, flushed to disk (``fsync``), then renamed over the target in
one step. A reader therefore sees the old file or the complete new one, never half of one; a
failure (a full disk, an exception while rendering, Ctrl-C) removes the temporary file and the
folders this call created, so nothing empty or partial is left behind, and the old file, if
any, is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from quantdb.errors import ArgumentError, OutputError, QuantdbError

__all__ = ["atomic_folder", "atomic_output", "refuse_non_regular", "temp_name", "write_atomic"]


def temp_name(path: Path) -> Path:
    """A hidden, unique name beside ``path`` that keeps its suffix (``.r.pdf.1a2b3c4d.partial.pdf``)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")


def refuse_non_regular(path: Path, *, what: str) -> None:
    """Raise `ArgumentError` when ``path`` exists and is not a regular file.

    A directory, a device node (``/dev/full``), a socket, a pipe or a symbolic link is never
    replaced: renaming a file over it would destroy it (or what the link points at would
    silently stay behind).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        msg = f"{what} {path}: cannot inspect it ({exc.strerror or exc})"
        raise ArgumentError(msg) from None
    if stat.S_ISREG(mode):
        return
    kind = (
        "a folder" if stat.S_ISDIR(mode)
        else "a symbolic link" if stat.S_ISLNK(mode)
        else "a device or special file"
    )  # fmt: skip
    msg = f"{what} {path}: is {kind}, not a regular file; give the path of a file to write"
    raise ArgumentError(msg)


def _missing_parents(folder: Path) -> list[Path]:
    """The folders of ``folder``'s chain (itself included) that do not exist yet, deepest first."""
    missing = []
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing.append(p)
    return missing


def _make_parent(folder: Path, *, what: str) -> list[Path]:
    """Create ``folder`` like ``mkdir -p``; return the folders created (to undo on failure)."""
    from quantdb._paths import make_folder

    created = _missing_parents(folder)
    make_folder(folder, what=what)
    return created


def _remove_created(created: list[Path]) -> None:
    for p in created:  # deepest first; only if still empty
        with contextlib.suppress(OSError):
            p.rmdir()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a directory
        _fsync(folder)


def _as_output_error(exc: OSError, path: Path, what: str) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        reason += " (the disk is full or the file is too large)"
    msg = f"{what} {path}: cannot write it: {reason}; nothing was written"
    return OutputError(msg)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; write it completely, and it becomes ``path``.

    When the block ends normally the temporary file is fsynced and renamed over ``path`` (the
    parent folder is created first if needed). When the block raises, the temporary file (or
    folder) and any parent folder created here are removed, and an `OSError` (a full disk,
    permissions) becomes a one-line `OutputError`. ``path`` is never a folder, device or link.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "reports" / "r.txt"
    >>> with atomic_output(out, what="report") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('complete', ['r.txt'])
    >>> def render(tmp):
    ...     tmp.write_text("half")
    ...     raise RuntimeError("the renderer failed")
    >>> with atomic_output(out.parent / "s.txt") as tmp:  # doctest: +ELLIPSIS
    ...     render(tmp)
    Traceback (most recent call last):
    ...
    RuntimeError: the renderer failed
    >>> sorted(p.name for p in out.parent.iterdir())
    ['r.txt']
    """
    target = Path(path)
    refuse_non_regular(target, what=what)
    created = _make_parent(target.parent, what=f"{what} {target}")
    tmp = temp_name(target)
    try:
        yield tmp
        if not tmp.exists():
            msg = f"{what} {target}: nothing was written"
            raise OutputError(msg)
        refuse_non_regular(target, what=what)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        _remove_created(created)
        if isinstance(exc, OSError) and not isinstance(exc, QuantdbError):
            raise _as_output_error(exc, target, what) from exc
        raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, what: str = "output") -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through `atomic_output`; return the path.

    The one way quantdb writes a small file whose content is already in memory (a JSON
    document, an HTML page), so each appears complete or not at all like every other output.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "summary.json"
    >>> write_atomic(out, "{}", what="summary").read_text()
    '{}'
    """
    target = Path(path)
    with atomic_output(target, what=what) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return target


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike[str], *, what: str = "output folder", replace: bool = False
) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; fill it, and its files land in ``path``.

    A new ``path`` is the temporary folder renamed in one step. An existing folder receives the
    files one by one, each renamed over its namesake (a reader sees each file old or new, never
    half), its other files untouched; with ``replace`` it is swapped whole for the new one
    instead (a re-run's folder keeps no file of the run before). When the block raises, the
    temporary folder and any parent created here are removed, and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "export"
    >>> with atomic_folder(out) as tmp:
    ...     _ = (tmp / "a.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['a.json']
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        msg = f"{what} {target}: is a file, not a folder"
        raise ArgumentError(msg)
    if target.is_symlink():  # a link to a folder: work beside the real one (same file system)
        target = target.resolve()
    created = _make_parent(target.parent, what=f"{what} {target}")
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        tmp.mkdir()
        yield tmp
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                _fsync(p)
        if not target.exists():
            os.rename(tmp, target)
        elif replace:
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            for src in sorted(tmp.rglob("*")):
                dest = target / src.relative_to(tmp)
                if src.is_dir():
                    if dest.exists() and not dest.is_dir():
                        msg = f"{what} {target}: {dest} is a file where a folder is needed"
                        raise ArgumentError(msg)
                    dest.mkdir(exist_ok=True)
                else:
                    refuse_non_regular(dest, what=what)
                    os.replace(src, dest)
            shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(target.parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
        if isinstance(exc, OSError) and not isinstance(exc, QuantdbError):
            raise _as_output_error(exc, target, what) from exc
        raise
