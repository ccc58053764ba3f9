"""`quantdb check` on damaged copies exits 1 naming the problem; write commands refuse them.

Three kinds of damage, each on a copy of a real, checkpointed database: pages overwritten in the
middle of the file, a file cut in half, and a file that is not SQLite at all. Both through
Typer's CliRunner (in-process) and through the installed `quantdb` console script.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

LEGACY_PRICES = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_sample" / "price_history"
QUANTDB_BIN = Path(sys.executable).parent / "quantdb"
KINDS = ["overwritten_pages", "truncated", "not_sqlite"]
# What the report must say for each kind of damage.
NAMED = {
    "overwritten_pages": ("integrity", "malformed", "corrupt"),
    "truncated": ("integrity", "malformed", "corrupt"),
    "not_sqlite": ("not a SQLite database",),
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory, legacy_file: Path) -> dict[str, Path]:
    """A healthy, checkpointed database and its three damaged copies, built once for the module."""
    folder = tmp_path_factory.mktemp("damage")
    good = folder / "good.db"
    shutil.copy(legacy_file, good)
    assert not Path(str(legacy_file) + "-wal").exists()
    size = good.stat().st_size
    page = int.from_bytes(good.read_bytes()[16:18], "big")
    assert size // page > 100

    over = folder / "overwritten_pages.db"
    shutil.copy(good, over)
    with open(over, "r+b") as fh:
        fh.seek((size // page // 2) * page)
        fh.write(os.urandom(4 * page))
    trunc = folder / "truncated.db"
    shutil.copy(good, trunc)
    os.truncate(trunc, (size // page // 2) * page)
    notsql = folder / "not_sqlite.db"
    notsql.write_text('{"predictions": [1, 2, 3]}\n' * 500)
    return {"good": good, "overwritten_pages": over, "truncated": trunc, "not_sqlite": notsql}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy(damaged: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    dest = tmp_path / f"{kind}.db"
    shutil.copy(damaged[kind], dest)
    return dest


def test_check_passes_on_the_healthy_file(damaged: dict[str, Path], tmp_path: Path) -> None:
    path = _copy(damaged, "good", tmp_path)
    result = CliRunner().invoke(app, ["check", "--db", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["integrity"] == ["ok"]
    assert report["row_counts"]["price_history"] == 30996
    assert report["sqlite_version"]


@pytest.mark.parametrize("kind", KINDS)
def test_check_exits_1_naming_the_problem(
    damaged: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    path = _copy(damaged, kind, tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["check", "--db", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)  # still exactly one JSON document
    assert report["ok"] is False
    problems = " | ".join(report["problems"])
    assert any(word in problems for word in NAMED[kind]), problems
    human = runner.invoke(app, ["check", "--db", str(path)])
    assert human.exit_code == 1
    assert "FAILED" in human.stdout
    assert any(word in human.stderr for word in NAMED[kind]), human.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_write_commands_refuse_a_damaged_file(
    damaged: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    path = _copy(damaged, kind, tmp_path)
    digest = _sha(path)
    runner = CliRunner()
    for args in (["init"], ["prices", "import", str(LEGACY_PRICES / "AAPL.csv")]):
        result = runner.invoke(app, [*args, "--db", str(path)])
        assert result.exit_code in (1, 2), (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("quantdb: error:"), result.stderr
        assert str(path) in lines[0]
        assert "damaged" in lines[0] or "not a SQLite database" in lines[0]
        assert result.stdout == ""
        assert _sha(path) == digest  # not one byte written


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(QUANTDB_BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_console_script_on_damaged_files(damaged: dict[str, Path], tmp_path: Path) -> None:
    """The installed `quantdb` script, as a user runs it (one process per call, run together)."""
    assert QUANTDB_BIN.exists(), f"{QUANTDB_BIN} missing: pip install -e . into the venv"
    good = _copy(damaged, "good", tmp_path)
    paths = {kind: _copy(damaged, kind, tmp_path) for kind in KINDS}
    digests = {kind: _sha(p) for kind, p in paths.items()}
    procs = {("check", "good"): _start("check", "--db", str(good), "--json")}
    for kind, path in paths.items():
        procs[("check", kind)] = _start("check", "--db", str(path), "--json")
        # `init` for every kind; the heavier `prices import` once (CliRunner covers the rest).
        procs[("write", kind)] = (
            _start("prices", "import", str(LEGACY_PRICES / "AAPL.csv"), "--db", str(path))
            if kind == "overwritten_pages"
            else _start("init", "--db", str(path))
        )
    done = {key: (p.communicate(timeout=120), p.returncode) for key, p in procs.items()}

    (out, err), code = done[("check", "good")]
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    for kind in KINDS:
        (out, err), code = done[("check", kind)]
        assert code == 1, err
        problems = " | ".join(json.loads(out)["problems"])
        assert any(word in problems for word in NAMED[kind]), problems
        (out, err), code = done[("write", kind)]
        assert code in (1, 2)
        assert out == ""
        assert len(err.strip().splitlines()) == 1, err
        assert "damaged" in err or "not a SQLite database" in err
        assert _sha(paths[kind]) == digests[kind]
