"""The health seal (`quantdb.storage.health`): quick_check is skipped only for a file exactly as a
checked quantdb session left it, and a damaged file is still refused before any write.

Whether quick_check ran is read from SQLite's statement trace on the writer connection (real
SQLite, no mock). Damage is written as `test_damage.py` writes it (pages overwritten in the
middle of the file), and then the file's size and modification time are set back to the
sealed ones: only the change time, which no program can set, still differs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.errors import DatabaseDamaged, DatabaseError
from quantdb.storage.health import file_state, read_seal, seal_path
from quantdb.storage.sqlite import Database

LEGACY_PRICES = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_sample" / "price_history"


def _checked(path: Path) -> bool:
    """Open a write session on ``path``: whether its require_healthy ran quick_check."""
    db = Database(path)
    try:
        seen: list[str] = []
        db.writer().set_trace_callback(seen.append)
        db.require_healthy()
        return any("quick_check" in s for s in seen)
    finally:
        db.close()


def _sealed_copy(legacy_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "quant.db"
    shutil.copy(legacy_file, path)
    assert _checked(path)  # no seal yet: checked, then sealed at close
    assert read_seal(path) == file_state(path)
    return path


def _damage_keeping_times(path: Path) -> None:
    st = path.stat()
    page = int.from_bytes(path.read_bytes()[16:18], "big")
    with open(path, "r+b") as fh:
        fh.seek((st.st_size // page // 2) * page)
        fh.write(os.urandom(4 * page))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_sealed_file_is_not_checked_again(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    assert not _checked(path)
    assert not _checked(path)  # a session that skipped the check seals the file again


def test_a_write_session_reseals_its_own_changes(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    db = Database(path)
    db.require_healthy()
    with db.atomic() as conn:
        conn.execute("INSERT INTO strategies (name) VALUES ('sealed')")
    db.close()
    assert read_seal(path) == file_state(path)
    assert not _checked(path)


def test_damage_after_the_seal_is_refused(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    _damage_keeping_times(path)
    db = Database(path)
    with pytest.raises(DatabaseDamaged, match="damaged"):
        db.require_healthy()
    db.close()
    assert read_seal(path) != file_state(path)  # a failed check seals nothing


def test_write_command_refuses_damage_after_the_seal(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    _damage_keeping_times(path)
    runner = CliRunner()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result = runner.invoke(app, ["prices", "import", str(LEGACY_PRICES / "MSFT.csv"), "--db", str(path)])
    assert result.exit_code == DatabaseDamaged.exit_code, result.output
    assert "damaged" in result.stderr and result.stdout == ""
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # not one byte written


def test_another_program_writing_voids_the_seal(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    other = sqlite3.connect(path)
    other.execute("INSERT INTO strategies (name) VALUES ('elsewhere')")
    other.commit()
    other.close()
    assert _checked(path)


def test_a_commit_by_another_connection_during_the_session_is_not_sealed(
    legacy_file: Path, tmp_path: Path
) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    db = Database(path)
    db.require_healthy()
    other = sqlite3.connect(path)
    other.execute("INSERT INTO strategies (name) VALUES ('meanwhile')")
    other.commit()
    other.close()
    db.close()
    assert read_seal(path) != file_state(path)
    assert _checked(path)


def test_readers_and_unchecked_sessions_write_no_seal(legacy_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "quant.db"
    shutil.copy(legacy_file, path)
    db = Database(path)
    assert db.query("SELECT count(*) FROM tickers")[0][0] > 0
    with db.atomic() as conn:  # a write without require_healthy (a service called directly)
        conn.execute("INSERT INTO strategies (name) VALUES ('unchecked')")
    db.close()
    assert not seal_path(path).exists()
    assert _checked(path)


def test_a_replaced_file_is_checked(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    copy = tmp_path / "copy.db"
    shutil.copy2(path, copy)  # same bytes and times, another inode
    os.replace(copy, path)
    assert _checked(path)


def test_a_session_where_sqlite_failed_is_not_sealed(legacy_file: Path, tmp_path: Path) -> None:
    path = _sealed_copy(legacy_file, tmp_path)
    db = Database(path)
    db.require_healthy()
    with db.atomic() as conn:
        conn.execute("INSERT INTO strategies (name) VALUES ('committed')")
    with pytest.raises(DatabaseError), db.atomic() as conn:
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    db.close()
    assert read_seal(path) != file_state(path)  # the commit changed the file; no new seal
    assert _checked(path)


def _built_by_services(path: Path) -> Path:
    """A database built as a benchmark or a script builds one: services only, no command."""
    from quantdb.services.records.prices import import_price_files
    from quantdb.storage.migrations import apply_migrations

    db = Database(path)
    apply_migrations(db)
    import_price_files(db, [LEGACY_PRICES])
    db.close()
    return path


def test_a_session_that_created_the_file_seals_it(tmp_path: Path) -> None:
    """No seal was written for a file created and filled through the services (no
    require_healthy): the next write command read every page of it (issue 15)."""
    path = _built_by_services(tmp_path / "quant.db")
    assert read_seal(path) == file_state(path)
    assert not _checked(path)


def test_the_notebook_api_seals_the_file_it_created(tmp_path: Path) -> None:
    import quantdb as qdb

    path = tmp_path / "quant.db"
    with qdb.connect(path) as q, q.atomic() as conn:
        conn.execute("INSERT INTO strategies (name) VALUES ('from a notebook')")
    assert read_seal(path) == file_state(path)
    assert not _checked(path)


def test_damage_after_a_creating_session_sealed_is_refused(tmp_path: Path) -> None:
    path = _built_by_services(tmp_path / "quant.db")
    _damage_keeping_times(path)
    db = Database(path)
    with pytest.raises(DatabaseDamaged, match="damaged"):
        db.require_healthy()
    db.close()


def test_a_new_file_another_connection_wrote_to_during_the_session_is_not_sealed(tmp_path: Path) -> None:
    path = tmp_path / "quant.db"
    db = Database(path)
    db.writer()  # the session opens the new, empty file
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE elsewhere (a INTEGER)")
    other.commit()
    other.close()
    with db.atomic() as conn:
        conn.execute("CREATE TABLE here (a INTEGER)")
    db.close()
    assert not seal_path(path).exists()
    assert _checked(path)


def test_a_file_with_pages_opened_without_a_check_is_not_sealed(legacy_file: Path, tmp_path: Path) -> None:
    """Only a file of at most one page counts as new: one written before, by anything, is not."""
    path = tmp_path / "quant.db"
    shutil.copy(legacy_file, path)
    db = Database(path)
    db.writer()
    db.close()
    assert not seal_path(path).exists()
