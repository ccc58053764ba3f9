"""Issue 16 (data safety), through the command line: verify on nothing, backup and restore
guards, and outputs that never leave a partial file behind.

Real files and real processes; a full disk is simulated with ``RLIMIT_FSIZE`` in a child
process (a write past the limit fails with EFBIG, as a write to a full disk fails with ENOSPC),
never by patching quantdb.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample"


def _invoke(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in argv], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# -- item 2: verify on a folder that does not exist, or holds nothing ------------------------


def test_verify_a_missing_folder_is_bad_input(sample_db: Path, tmp_path: Path) -> None:
    code, out, err = _invoke("verify", tmp_path / "no" / "such", "--db", sample_db, "--json")
    assert code == 2 and out == ""
    assert err.startswith("quantdb: error:") and "no such folder" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("content", ["empty", "stray files only", "empty legacy files"])
def test_verify_with_nothing_to_verify_fails(sample_db: Path, tmp_path: Path, content: str) -> None:
    folder = tmp_path / "legacy"
    folder.mkdir()
    if content == "stray files only":
        (folder / "README.txt").write_text("not a legacy file\n")
        (folder / "price_history").mkdir()
    elif content == "empty legacy files":
        (folder / "trades_data.json").write_text("[]\n")
    code, out, _ = _invoke("verify", folder, "--db", sample_db, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["records"] == 0
    assert doc["differences"][0].startswith("nothing to verify")
    code, out, _ = _invoke("verify", folder, "--db", sample_db)
    assert code == 1 and "nothing to verify" in out and out.strip().endswith("FAILED")


def test_verify_the_sample_still_passes(sample_db: Path) -> None:
    code, out, _ = _invoke("verify", SAMPLE, "--db", sample_db, "--json")
    assert code == 0 and json.loads(out)["ok"] is True


# -- item 6: a full disk leaves no partial output ------------------------------------------

REPO = Path(__file__).resolve().parents[2]
FSIZE_LIMIT = 100_000  # bytes: far below every output below, above what the run writes otherwise


def _run_with_file_size_limit(argv: list[str], limit: int = FSIZE_LIMIT) -> subprocess.CompletedProcess[str]:
    """Run ``quantdb ARGV`` in a child whose writes past ``limit`` bytes fail (EFBIG)."""

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", "from quantdb.cli import main; main()", *argv],
        capture_output=True, text=True, env=env, preexec_fn=limit_writes, timeout=600, check=False,
    )  # fmt: skip


OUTPUTS = {
    "dashboard": ["report", "dashboard", "{out}/r.html"],
    "excel": ["report", "excel", "{out}/r.xlsx"],
    "pdf": ["report", "pdf", "{out}/r.pdf"],
    "tearsheet": ["report", "tearsheet", "{out}/t.html", "--strategy", "momentum"],
    "export-json": ["export-json", "{out}/export"],
    "backup": ["backup", "{out}/b.db"],
}


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_a_full_disk_leaves_no_partial_output(name: str, sample_db: Path, tmp_path: Path) -> None:
    """Each output is larger than the limit (tests/integration/test_reports.py writes them
    whole): its write fails midway, the command says so in one line, and nothing is left."""
    bad = tmp_path / "bad"
    bad.mkdir()
    argv = [w.format(out=bad / "sub") for w in OUTPUTS[name]] + ["--db", str(sample_db)]
    res = _run_with_file_size_limit(argv)
    assert res.returncode == 2, (res.stdout, res.stderr)
    err = res.stderr.strip()
    assert err.startswith("quantdb: error:") and len(err.splitlines()) == 1, err
    assert "cannot write" in err and "nothing was written" in err
    assert list(bad.rglob("*")) == []  # no partial file, no empty folder


def test_outputs_are_written_whole_without_the_limit(sample_db: Path, tmp_path: Path) -> None:
    """The same commands, unlimited: each output lands, bigger than the limit above."""
    for name in ("dashboard", "export-json", "backup"):
        argv = [w.format(out=tmp_path / name) for w in OUTPUTS[name]] + ["--db", str(sample_db)]
        code, _, err = _invoke(*argv)
        assert code == 0, err
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert max(p.stat().st_size for p in files) > FSIZE_LIMIT
    assert not [p for p in files if ".partial" in p.name]


def _broken_copy(sample_db: Path, tmp_path: Path, sql: str) -> Path:
    """A copy of the sample with one change that makes a report or export fail midway."""
    path = tmp_path / "broken.db"
    shutil.copy(sample_db, path)
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()
    return path


FAILING = {
    # matplotlib parses "$...$" in a title as mathtext: the PDF fails on its first page,
    # after PdfPages opened its file (a partial PDF was left behind).
    "pdf": (["report", "pdf", "{out}/r.pdf"], "UPDATE strategies SET name = 'mo$\\frac$' WHERE name = 'momentum'"),
    # the JSON files are written, then the price files cannot be read.
    "export-json": (["export-json", "{out}/export"], "ALTER TABLE price_history RENAME TO price_history_old"),
}


@pytest.mark.parametrize("name", list(FAILING))
def test_a_failing_report_leaves_no_partial_file(name: str, sample_db: Path, tmp_path: Path) -> None:
    words, sql = FAILING[name]
    db = _broken_copy(sample_db, tmp_path, sql)
    out = tmp_path / "out"
    out.mkdir()
    argv = [w.format(out=out / "sub") for w in words] + ["--db", str(db)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code != 0
    assert list(out.rglob("*")) == []


def test_a_failing_export_keeps_the_existing_folder_as_it_was(sample_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    code, _, err = _invoke("export-json", out, "--db", sample_db)
    assert code == 0, err
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "notes.txt").write_text("mine\n")
    db = _broken_copy(sample_db, tmp_path, FAILING["export-json"][1])
    result = CliRunner().invoke(app, ["export-json", str(out), "--db", str(db)])
    assert result.exit_code != 0
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "notes.txt"}
    assert after == before and (out / "notes.txt").read_text() == "mine\n"
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


# -- item 3: backup and restore guard what they replace ------------------------------------


def _copy_db(sample_db: Path, dest: Path) -> Path:
    shutil.copy(sample_db, dest)
    return dest


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_restore_keeps_a_copy_of_the_database_it_replaces(sample_db: Path, tmp_path: Path) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    code, _, err = _invoke("backup", tmp_path / "b.db", "--db", db)
    assert code == 0, err
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM volume_leaders")
    conn.commit()
    conn.close()
    code, out, err = _invoke("restore", tmp_path / "b.db", "--db", db, "--json", "--backup-dir", tmp_path / "kept")
    assert code == 0, err
    previous = Path(json.loads(out)["previous"])
    assert previous.parent == tmp_path / "kept" and previous.name.startswith("quant-before-restore-")
    kept = sqlite3.connect(previous)
    assert kept.execute("SELECT count(*) FROM volume_leaders").fetchone()[0] == 0  # what it was
    kept.close()
    code, out, _ = _invoke("restore", tmp_path / "b.db", "--db", db)
    assert code == 0 and "kept in" in out and str(tmp_path / "backups") in out  # the default place


def test_restore_refuses_a_sqlite_file_that_is_not_quantdb(sample_db: Path, tmp_path: Path) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    digest = _digest(db)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('hello')")
    conn.commit()
    conn.close()
    code, out, err = _invoke("restore", other, "--db", db)
    assert code == 2 and out == ""
    assert "not a quantdb database" in err and "nothing was restored" in err and len(err.splitlines()) == 1
    assert _digest(db) == digest and not (tmp_path / "backups").exists()
    code, out, err = _invoke("check", "--db", other, "--json")  # and `check` no longer says ok
    assert code == 1 and any("not a quantdb database" in p for p in json.loads(out)["problems"])


def test_restore_refuses_the_database_itself(sample_db: Path, tmp_path: Path) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    digest = _digest(db)
    code, _, err = _invoke("restore", db, "--db", db)
    assert code == 2 and "is the database itself" in err
    assert _digest(db) == digest


def test_backup_refuses_a_damaged_source(sample_db: Path, tmp_path: Path) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    size = db.stat().st_size
    page = int.from_bytes(db.read_bytes()[16:18], "big")
    with open(db, "r+b") as fh:  # overwrite pages in the middle: the header stays valid
        fh.seek((size // page // 2) * page)
        fh.write(os.urandom(8 * page))
    out_dir = tmp_path / "backups"
    code, out, err = _invoke("backup", out_dir / "b.db", "--db", db)
    assert code == 1 and out == ""
    assert "damaged" in err and "backup was refused" in err and len(err.splitlines()) == 1
    assert not out_dir.exists()  # no copy, no partial file, no folder


@pytest.mark.parametrize("kind", ["database", "database folder", "wal", "fifo", "symlink", "folder in the way"])
def test_backup_never_replaces_what_it_must_not(sample_db: Path, tmp_path: Path, kind: str) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    digest = _digest(db)
    keep = tmp_path / "precious.txt"
    keep.write_text("precious\n")
    dest: Path
    if kind == "database":
        dest = db
    elif kind == "database folder":
        dest = tmp_path  # a folder: the backup would be named quant.db, the database itself
    elif kind == "wal":
        dest = Path(f"{db}-wal")
    elif kind == "fifo":  # a special file, as /dev/full is (which a backup once replaced)
        dest = tmp_path / "pipe"
        os.mkfifo(dest)
    elif kind == "symlink":
        dest = tmp_path / "link.db"
        dest.symlink_to(keep)
    else:  # DEST is a folder whose entry of the database's name is itself a folder
        dest = tmp_path / "out"
        (dest / "quant.db").mkdir(parents=True)
        (dest / "quant.db" / "inside.txt").write_text("inside\n")
    code, out, err = _invoke("backup", dest, "--db", db)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("quantdb: error:") and len(err.splitlines()) == 1, err
    assert _digest(db) == digest and keep.read_text() == "precious\n"
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(dest).st_mode)
    if kind == "symlink":
        assert dest.is_symlink()
    if kind == "folder in the way":
        assert (dest / "quant.db" / "inside.txt").read_text() == "inside\n"
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]


def test_backup_into_a_linked_folder_goes_inside_it(sample_db: Path, tmp_path: Path) -> None:
    real = tmp_path / "disk"
    real.mkdir()
    (tmp_path / "backups").symlink_to(real)
    code, out, err = _invoke("backup", tmp_path / "backups", "--db", sample_db)
    assert code == 0, err
    assert (real / sample_db.name).is_file() and out.strip() == str(tmp_path / "backups" / sample_db.name)


# -- item 12: the rest of the inputs that were accepted silently ----------------------------


def test_outputs_under_a_file_are_one_line_and_nothing_is_made(sample_db: Path, tmp_path: Path) -> None:
    """A path whose parent is a regular FILE cannot be created by anyone, root included."""
    afile = tmp_path / "afile"
    afile.write_text("a file, not a folder\n")
    db = _copy_db(sample_db, tmp_path / "quant.db")
    before = _digest(db)
    for argv in (["export-json", afile / "sub", "--db", db],
                 ["migrate", SAMPLE, "--db", db, "--backup-dir", afile / "sub"]):
        code, out, err = _invoke(*argv)
        assert "Traceback" not in out + err and "PosixPath(" not in err
        assert code == 2 and err.startswith("quantdb: error:") and len(err.strip().splitlines()) == 1, (argv, err)
        assert str(afile) in err
    assert afile.read_text() == "a file, not a folder\n"
    assert _digest(db) == before  # the migration stopped before its backup, so before any write


def test_a_dask_scheduler_that_cannot_be_reached_marks_the_sweep_failed(sample_db: Path, tmp_path: Path) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    for address in ("foo://bar", "tcp://127.0.0.1:1"):  # not an address; nothing listens (20 s timeout)
        code, out, err = _invoke("sweep", "sma-cross", "--db", db, "--grid", "fast=5,10", "--tickers", "AAPL",
                                 "--executor", "dask", "--address", address, "--out", tmp_path / "sweeps")
        assert "Traceback" not in out + err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Dask scheduler" in err, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM sweep_runs ORDER BY id").fetchall() == [("failed",), ("failed",)]


def test_export_json_writes_back_the_fees_that_were_there(sample_db: Path, tmp_path: Path) -> None:
    """12 trades of the sample have no ``fees`` key: the export must not invent ``"fees": 0.0``."""
    code, _, err = _invoke("export-json", tmp_path / "out", "--db", sample_db)
    assert code == 0, err
    original = {t["trade_id"]: t for t in json.loads((SAMPLE / "trades_data.json").read_text())}
    exported = {t["trade_id"]: t for t in json.loads((tmp_path / "out" / "trades_data.json").read_text())}
    no_fees = [k for k, t in original.items() if "fees" not in t]
    assert len(no_fees) == 12
    assert [k for k in no_fees if "fees" in exported[k]] == []
    assert all(exported[k]["fees"] == t["fees"] for k, t in original.items() if "fees" in t)


def test_empty_tickers_are_refused_by_every_door(sample_db: Path) -> None:
    import quantdb
    from quantdb.errors import ArgumentError

    code, _, err = _invoke("backtest", "sma-cross", "--db", sample_db, "--tickers", "")
    assert code == 2 and "names no tickers" in err, err
    db = quantdb.connect(sample_db)
    try:
        for empty in ("", "   "):
            with pytest.raises(ArgumentError, match="names no tickers"):
                db.backtest("sma-cross", tickers=empty)
    finally:
        db.close()


@pytest.mark.parametrize(("option", "value"), [("--ticker", ""), ("--ticker", "  "), ("--strategy", "")])
def test_track_record_refuses_an_empty_name(sample_db: Path, tmp_path: Path, option: str, value: str) -> None:
    db = _copy_db(sample_db, tmp_path / "quant.db")
    args = {"--strategy": "momentum", "--ticker": "AAPL", option: value}
    code, out, err = _invoke("track", "record", "--db", db, *[w for kv in args.items() for w in kv],
                             "--position", "LONG", "--date", "2016-06-01")
    assert code == 2 and err.startswith("quantdb: error:") and len(err.strip().splitlines()) == 1, (out, err)
    assert "CHECK constraint" not in err  # said in words, before the database is asked
