"""Every command under a bad database environment: one line on stderr, exit 2 (1 only where a
check legitimately fails), never a traceback, and no stray database created by a command that
needs existing data.

The environments (``--db`` points at):

``missing``   a file that does not exist (only the creating commands may create it)
``dir``       an existing folder
``junk``      a file of random bytes (not SQLite)
``newer``     a quantdb database whose ``PRAGMA user_version`` is 999
``newer_row`` a quantdb database whose ``schema_migrations`` lists version 999
``readonly``  a database in a read-only folder (no ``-wal``/``-shm`` can be created): readers
              work, writers are refused

Each command appears once, as a valid invocation (``{db}`` is the bad database, ``{out}`` a
fresh folder for outputs, ``{legacy}`` the legacy sample, ``{returns}`` a returns CSV,
``{backup}`` a good backup file).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample"

#: (invocation, kind): "read" needs existing data and only reads it, "write" needs existing data
#: and writes, "create" may create the database, "none" reads no database at all, "restore"
#: replaces whatever file is at --db (a missing, damaged or newer one is what it is for).
COMMANDS: list[tuple[str, str]] = [
    ("init --db {db}", "create"),
    ("check --db {db}", "read"),
    ("backup {out}/b.db --db {db}", "read"),
    ("restore {backup} --db {db}", "restore"),
    ("prices import {legacy}/price_history --db {db}", "create"),
    ("calendar show --db {db}", "read"),
    ("calendar set XNYS --db {db}", "write"),
    ("migrate {legacy} --db {db}", "create"),
    ("verify {legacy} --db {db}", "read"),
    ("rollback --db {db} --last", "write"),
    ("export-json {out}/json --db {db}", "read"),
    ("quarantine list --db {db}", "read"),
    ("quarantine reimport 1 --db {db}", "write"),
    ("track update --db {db}", "write"),
    ("track record --db {db} --strategy momentum --ticker AAPL --position LONG", "write"),
    ("track fill 1 --db {db} --price 10 --shares 1", "write"),
    ("perf --db {db}", "read"),
    ("metrics {returns} --db {db}", "none"),
    ("risk --db {db}", "read"),
    ("leaders compute --db {db}", "write"),
    ("strategies --db {db}", "none"),
    ("backtests --db {db}", "read"),
    ("backtest sma-cross --db {db} --tickers AAPL", "write"),
    ("replay momentum --db {db}", "read"),
    ("sweep sma-cross --db {db} --grid fast=5,10 --tickers AAPL", "write"),
    ("walkforward sma-cross --db {db} --grid fast=5,10 --tickers AAPL", "write"),
    ("montecarlo --db {db} --strategy momentum --paths 100", "read"),
    ("report tearsheet {out}/t.html --db {db} --strategy momentum", "read"),
    ("report dashboard {out}/d.html --db {db}", "read"),
    ("report excel {out}/r.xlsx --db {db}", "read"),
    ("report pdf {out}/r.pdf --db {db}", "read"),
    ("report run --period daily --out {out} --db {db}", "read"),
    ("serve --db {db}", "read"),
    ("demo --db {db} --out {out}/demo --small", "create"),
]

ENVIRONMENTS = ("missing", "dir", "junk", "newer", "newer_row", "readonly")

#: Where exit 1 is the documented answer: `check` fails its check (it names the problem).
EXIT_ONE = {("check", "junk"), ("check", "newer"), ("check", "newer_row")}

#: Cases whose source is in a file another change owns; xfail_strict says when they are fixed.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _name(case: str) -> str:
    words = case.split()
    return " ".join(w for w in words[:2] if not w.startswith(("{", "-")))


def _params() -> list[object]:
    out = []
    for case, kind in COMMANDS:
        for env in ENVIRONMENTS:
            gap = KNOWN_GAPS.get((_name(case), env))
            marks = [pytest.mark.xfail(raises=AssertionError, reason=gap)] if gap else []
            out.append(pytest.param(case, kind, env, id=f"{env}: {case}", marks=marks))
    return out


def _expected(name: str, kind: str, env: str) -> int:
    if env == "dir":
        return 2
    if kind == "none":
        return 0
    if kind == "restore":
        return 2 if env == "readonly" else 0
    if env == "missing":
        return 0 if kind == "create" else 2
    if env == "readonly":
        return 0 if kind == "read" else 2
    return 1 if (name, env) in EXIT_ONE else 2


def _bad_db(env: str, good: Path, tmp_path: Path) -> Path:
    if env == "missing":
        return tmp_path / "missing.db"
    if env == "dir":
        folder = tmp_path / "a-folder.db"
        folder.mkdir()
        return folder
    if env == "junk":
        junk = tmp_path / "junk.db"
        junk.write_bytes(bytes(range(256)) * 16)
        return junk
    copy = tmp_path / f"{env}.db"
    src = sqlite3.connect(good)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    if env == "newer":
        dst.execute("PRAGMA user_version = 999")
    elif env == "newer_row":
        dst.execute("INSERT INTO schema_migrations (version, name, sha256, applied_at) "
                    "VALUES (999, 'from_the_future', 'x', '2099-01-01')")
        dst.commit()
    dst.execute("PRAGMA journal_mode = WAL")
    dst.close()
    if env == "readonly":
        if os.geteuid() == 0:
            pytest.skip("running as root: file and folder permissions do not stop root, so a "
                        "read-only database cannot be made")
        folder = tmp_path / "ro"
        folder.mkdir()
        moved = folder / "quant.db"
        copy.rename(moved)
        moved.chmod(stat.S_IRUSR)
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        return moved
    return copy


@pytest.fixture
def backup_file(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backup") / "good.db"
    src, dst = sqlite3.connect(sample_db), sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    return path


@pytest.mark.parametrize(("case", "kind", "env"), _params())
def test_bad_environment_exits_with_one_line(
    case: str, kind: str, env: str, sample_db: Path, backup_file: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # serve: check, never listen
    name = _name(case)
    expected = _expected(name, kind, env)
    if env == "missing" and kind == "create" and name in ("demo", "migrate"):
        pytest.skip(f"{name} on a missing database creates it (a long run, tested elsewhere)")
    db = _bad_db(env, sample_db, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    returns = tmp_path / "returns.csv"
    returns.write_text("date,a,b\n" + "".join(f"2016-01-{d:02d},0.01,-0.005\n" for d in range(4, 30)))
    paths = {"db": str(db), "out": str(out), "legacy": str(SAMPLE), "returns": str(returns),
             "backup": str(backup_file)}
    before = sorted(p.name for p in db.parent.iterdir())
    try:
        argv = [word.format(**paths) for word in case.split()]
        result = CliRunner().invoke(app, argv, catch_exceptions=False)
    finally:
        if env == "readonly":
            db.parent.chmod(stat.S_IRWXU)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "PosixPath(" not in result.stderr, result.stderr  # a path is printed as a path
    assert result.exit_code == expected, (argv, result.stdout, result.stderr)
    if env == "missing" and kind in ("read", "write"):
        assert not db.exists(), f"{case} created a stray database"
        after = sorted(p.name for p in db.parent.iterdir())
        assert after == before, f"{case} left files beside the missing database: {after}"
    if expected == 0:
        return
    err = result.stderr.strip()
    if expected == 1 and err.startswith("problem: "):  # `check` names its problems, one a line
        assert all(line.startswith("problem: ") for line in err.splitlines()), err
        return
    if err.startswith("Usage: "):  # click's usage error (--db is declared dir_okay=False)
        assert "\nError: " in err, err
        return
    assert err.startswith("quantdb: error:"), err
    assert len(err.splitlines()) == 1, err
    assert "PosixPath(" not in err, err


def test_the_matrix_covers_every_command(command_paths: set[str]) -> None:
    covered = {_name(c) for c, _ in COMMANDS} | {c.split()[0] for c, _ in COMMANDS}
    assert command_paths <= covered, sorted(command_paths - covered)
