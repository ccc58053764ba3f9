"""`quantdb report run`: the one command for the scheduler, run twice for each period.

Real database (the legacy sample, migrated), real QuantStats, real files: a run writes the
dated folder with every report and the index; a rerun replaces the folder whole and changes
nothing but timestamps; two runs at once both finish and leave one complete folder; stale
prices exit 1 with the reason in the report itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

pytestmark = pytest.mark.slow

REPORTS = {"dashboard.html", "report.xlsx", "report.pdf", "summary.json"}


@pytest.fixture(scope="module")
def newest(sample_db: Path) -> str:
    from quantdb.storage.sqlite import Database

    return str(Database(sample_db).scalar("SELECT max(date) FROM price_history"))


def _run(db: Path, out: Path, *args: str) -> tuple[int, dict, str]:
    res = CliRunner().invoke(app, ["report", "run", "--out", str(out), "--db", str(db), "--json", *args])
    return res.exit_code, json.loads(res.stdout), res.stderr


def _stable(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "generated_at"}


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_a_period_twice_gives_the_same_folder(sample_db: Path, tmp_path: Path, newest: str, period: str) -> None:
    out = tmp_path / "reports"
    code, first, err = _run(sample_db, out, "--period", period, "--today", newest)
    assert code == 0, err
    folder = Path(first["folder"])
    assert folder == (out / period / newest).absolute()
    assert first["ok"] and first["problems"] == [] and first["end"] == newest
    files = {p.name for p in folder.iterdir()}
    assert REPORTS <= files and any(f.startswith("tearsheet-") for f in files)
    assert set(first["files"]) == files
    summary = json.loads((folder / "summary.json").read_text())
    assert _stable(summary) == _stable(first)
    index = (out / "index.html").read_text()
    assert f"{period}/{newest}/dashboard.html" in index

    code, second, err = _run(sample_db, out, "--period", period, "--today", newest)
    assert code == 0, err
    assert _stable(second) == _stable(first)  # a rerun is identical apart from timestamps
    assert sorted(p.name for p in folder.parent.iterdir()) == [newest]  # no .tmp-/.old- left
    assert index.count(f"{period}/{newest}/summary.json") == 1
    assert (out / "index.html").read_text().count(f"<td>{period}</td>") == 1


def test_stale_prices_exit_1_with_the_reason_in_the_report(sample_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    code, doc, err = _run(sample_db, out, "--period", "daily", "--today", "2030-01-02")
    assert code == 1
    assert not doc["ok"] and doc["problems"][0].startswith("stale prices:")
    assert "quantdb: check failed: stale prices" in err
    folder = Path(doc["folder"])
    assert "stale prices" in (folder / "dashboard.html").read_text()  # visible in the report itself
    assert "PROBLEMS" in (out / "index.html").read_text()
    from pypdf import PdfReader

    assert "stale prices" in PdfReader(folder / "report.pdf").pages[0].extract_text()


def test_two_runs_at_once_leave_one_complete_folder(sample_db: Path, tmp_path: Path, newest: str) -> None:
    """The second run waits for the first's lock, then replaces its folder whole."""
    db = tmp_path / "copy.db"
    shutil.copy(sample_db, db)
    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "quantdb", "report", "run", "--period", "weekly", "--out", str(out),
           "--db", str(db), "--today", newest, "--json"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    docs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=900)
        assert p.returncode == 0, stderr.decode()
        docs.append(json.loads(stdout))
    assert _stable(docs[0]) == _stable(docs[1])
    folder = Path(docs[0]["folder"])
    assert {p.name for p in folder.iterdir()} == set(docs[0]["files"])
    assert sorted(p.name for p in folder.parent.iterdir()) == [newest]


def test_bad_period_and_track_on_a_copy(sample_db: Path, tmp_path: Path, newest: str) -> None:
    res = CliRunner().invoke(app, ["report", "run", "--period", "hourly", "--out", str(tmp_path), "--db", str(sample_db)])
    assert res.exit_code == 2 and "--period must be one of daily, weekly, monthly" in res.stderr
    db = tmp_path / "copy.db"
    shutil.copy(sample_db, db)
    code, doc, err = _run(db, tmp_path / "reports", "--period", "daily", "--today", newest, "--track")
    assert code == 0, err
    assert doc["tracked"]["asof"] == newest
