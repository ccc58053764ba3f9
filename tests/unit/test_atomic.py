"""`quantdb._atomic`: outputs are written aside and renamed into place only when complete.

A failure midway (a generator that raises while the file is written, or a write past
``RLIMIT_FSIZE`` in a child process, which fails as a full disk does) leaves the target as it
was and no temporary file or created folder behind (issue 16, item 6).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdb._atomic import atomic_folder, atomic_output, write_atomic
from quantdb.errors import ArgumentError, OutputError

REPO = Path(__file__).resolve().parents[2]


def chunks(n: int, *, fail_at: int | None = None) -> Iterator[bytes]:
    for i in range(n):
        if i == fail_at:
            msg = "the renderer failed midway"
            raise RuntimeError(msg)
        yield b"x" * 1000


def _write(path: Path, gen: Iterator[bytes]) -> None:
    with open(path, "wb") as fh:
        for chunk in gen:
            fh.write(chunk)
            fh.flush()


def test_complete_output_lands_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "r.bin"
    with atomic_output(out, what="report") as tmp:
        assert tmp.parent == out.parent and tmp != out and tmp.suffix == ".bin"
        _write(tmp, chunks(50))
        assert not out.exists()  # nobody sees it before it is complete
    assert out.stat().st_size == 50_000
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.bin"]


def test_failure_midway_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "r.bin"
    with pytest.raises(RuntimeError, match="midway"), atomic_output(out) as tmp:
        _write(tmp, chunks(50, fail_at=20))
    assert list(tmp_path.iterdir()) == []  # no partial file, and the folders it made are gone


def test_failure_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "r.bin"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        _write(tmp, chunks(50, fail_at=49))
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.bin"]


def test_writing_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="nothing was written"), atomic_output(tmp_path / "r"):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["folder", "link", "device"])
def test_never_replaces_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    if kind == "folder":
        target = tmp_path / "dir"
        target.mkdir()
        (target / "keep.txt").write_text("keep")
    elif kind == "link":
        (tmp_path / "real.txt").write_text("real")
        target = tmp_path / "link.txt"
        target.symlink_to(tmp_path / "real.txt")
    else:
        target = Path(os.devnull)
    with pytest.raises(ArgumentError, match="not a regular file"), atomic_output(target) as tmp:
        tmp.write_text("x")
    if kind == "folder":
        assert (target / "keep.txt").read_text() == "keep"
    if kind == "link":
        assert target.is_symlink() and target.read_text() == "real"
    assert Path(os.devnull).is_char_device()


FULL_DISK_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from quantdb._atomic import atomic_output
    from quantdb.errors import OutputError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
    try:
        with atomic_output(Path(sys.argv[1]), what="report") as tmp:
            tmp.write_bytes(b"x" * 100_000)
    except OutputError as exc:
        print(exc)
    """
)


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.html"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(out)], capture_output=True,
                         text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "cannot write it" in res.stdout and "nothing was written" in res.stdout
    assert list(tmp_path.iterdir()) == []


WRITE_ATOMIC_FULL_DISK_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from quantdb._atomic import write_atomic
    from quantdb.errors import OutputError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
    try:
        write_atomic(Path(sys.argv[1]), "y" * 100_000, what="legacy file")
    except OutputError as exc:
        print(exc)
    """
)


def test_write_atomic_on_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    """`write_atomic` (the demo's JSON and HTML files, the JSON mode's legacy files, the
    scheduled reports' summary): one line naming the file, the old content untouched."""
    out = tmp_path / "predictions_data.json"
    out.write_text("old")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", WRITE_ATOMIC_FULL_DISK_CHILD, str(out)], capture_output=True,
                         text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"legacy file {out}: cannot write it"), res.stdout
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["predictions_data.json"]


def test_write_atomic_writes_text_as_utf8_and_bytes_as_given(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a.html", "é<p>").read_bytes() == "é<p>".encode()
    assert write_atomic(tmp_path / "b.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    with pytest.raises(ArgumentError, match="is a folder"):
        write_atomic(tmp_path, "x")


def test_folder_new_complete_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "export"
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "a.json").write_text("{}")
        (tmp / "prices").mkdir()
        _write(tmp / "prices" / "A.csv", chunks(5, fail_at=3))
    assert list(tmp_path.iterdir()) == []
    with atomic_folder(out) as tmp:
        (tmp / "a.json").write_text("{}")
        (tmp / "prices").mkdir()
        (tmp / "prices" / "A.csv").write_text("Date\n")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.json", "prices", "prices/A.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_folder_existing_files_replaced_others_kept(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "a.json").write_text("old")
    (out / "mine.txt").write_text("mine")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "a.json").write_text("new")
        raise RuntimeError
    assert (out / "a.json").read_text() == "old"
    with atomic_folder(out) as tmp:
        (tmp / "a.json").write_text("new")
    assert (out / "a.json").read_text() == "new" and (out / "mine.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_folder_replaced_whole(tmp_path: Path) -> None:
    """``replace=True`` (a scheduled report's folder re-run): the old run's files go with it."""
    out = tmp_path / "reports" / "2024-01-31"
    out.mkdir(parents=True)
    (out / "a.json").write_text("old")
    (out / "tearsheet-gone.html").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(out, replace=True) as tmp:
        (tmp / "a.json").write_text("new")
        raise RuntimeError
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "tearsheet-gone.html"]
    with atomic_folder(out, replace=True) as tmp:
        (tmp / "a.json").write_text("new")
    assert [(p.name, p.read_text()) for p in out.iterdir()] == [("a.json", "new")]
    assert [p.name for p in out.parent.iterdir()] == ["2024-01-31"]


def test_folder_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ArgumentError, match="is a file"), atomic_folder(tmp_path / "f"):
        pass


def test_folder_through_a_link_lands_in_the_real_folder(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "exports"
    real.mkdir(parents=True)
    link = tmp_path / "exports"
    link.symlink_to(real)
    with atomic_folder(link) as tmp:
        (tmp / "a.json").write_text("{}")
    assert link.is_symlink() and (real / "a.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "exports"]
