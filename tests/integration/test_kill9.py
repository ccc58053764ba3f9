"""kill -9 during a migration leaves a sound database holding all of the batch or none of it.

A subprocess migrates a generated folder into a database that already holds data (so the
backup runs too) and is killed with SIGKILL at several moments spread over the run (parse,
backup, inserts, commit). After each kill: integrity_check and foreign_key_check pass, and
the user tables hold either the state before or the complete batch, never part of it. A
re-run then completes and verifies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from migration_helpers import db_content

from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.verify import verify_folder
from quantdb.storage.backup import backup_database
from quantdb.storage.sqlite import Database

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from quantdb.storage.sqlite import Database
from quantdb.services.records.migrate import migrate_folder
print("go", flush=True)
migrate_folder(Database(sys.argv[1]), sys.argv[2])
print("done", flush=True)
"""
FRACTIONS = (0.1, 0.4, 0.7, 0.95)


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from quantdb.datasets.legacy import write_legacy_folder
    from quantdb.datasets.market import generate_market

    root = tmp_path_factory.mktemp("kill9")
    write_legacy_folder(generate_market(30, 3, seed=9), root / "legacy", seed=90, n_predictions=1000,
                        n_trades=500, mess=True, damage=True)  # fmt: skip
    return root / "legacy"


def test_kill9_leaves_whole_batches_only(
    big_folder: Path, generated_dirs: dict, tmp_path: Path
) -> None:
    # the state before: a database holding a small set
    base = Database(tmp_path / "base.db")
    migrate_folder(base, generated_dirs[3][0])
    before = db_content(base)
    # the state after, and how long a migration takes here (in-process, warm)
    full = Database(backup_database(base, tmp_path / "full.db"))
    t0 = time.perf_counter()
    migrate_folder(full, big_folder)
    duration = time.perf_counter() - t0
    after = db_content(full)
    full.close()
    assert after != before

    outcomes = []
    for i, frac in enumerate(FRACTIONS):
        path = tmp_path / f"kill{i}.db"
        backup_database(base, path)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(big_folder)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)  # fmt: skip
        assert child.stdout is not None and child.stdout.readline().strip() == "go"
        time.sleep(duration * frac)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        db = Database(path)
        check = db.check()
        assert check.ok, check.problems
        state = db_content(db)
        assert state in (before, after), f"kill at {frac:.0%} of the run left a partial batch"
        committed = db.scalar("SELECT count(*) FROM import_batches WHERE status = 'committed'")
        assert committed == (1 if state == before else 2)
        outcomes.append("none" if state == before else "all")
        # the re-run completes the migration (or finds it complete)
        report = migrate_folder(db, big_folder)
        assert report.totals.balanced
        assert db_content(db) == after
        if i == len(FRACTIONS) - 1:
            assert verify_folder(db, big_folder).ok
        db.close()
    print("kill outcomes:", outcomes)
    assert "none" in outcomes  # at least one kill landed inside the run
