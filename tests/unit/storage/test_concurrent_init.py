"""Concurrent first use: several `quantdb init` processes on a new file at once all succeed.

The migrations are applied under the writer lock and the list of applied files is read inside
it, so the second process finds the schema made and applies nothing (issue 16, item 5).
Real processes, released together by a go-file; no timing assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from quantdb.storage.migrations import load_migrations
from quantdb.storage.sqlite import Database

REPO = Path(__file__).resolve().parents[3]
N_PROCS = 4
N_TRIALS = 5

INIT_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from quantdb.cli.app import app
    db, ready, go = sys.argv[1:4]
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.001)
    app(["init", "--db", db, "--json"], prog_name="quantdb")
    """
)


def _run_trial(tmp_path: Path, trial: int) -> list[tuple[int, str, str]]:
    db = tmp_path / f"new{trial}.db"
    go = tmp_path / f"go{trial}"
    readies = [tmp_path / f"ready{trial}-{i}" for i in range(N_PROCS)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", INIT_SCRIPT, str(db), str(ready), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for ready in readies
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in readies) and time.monotonic() < deadline:
            time.sleep(0.005)
        go.write_text("go")
        results = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return results


def test_four_inits_on_a_new_file_all_succeed(tmp_path: Path) -> None:
    newest = load_migrations()[-1].version
    for trial in range(N_TRIALS):
        results = _run_trial(tmp_path, trial)
        failures = [(code, err.strip()) for code, _, err in results if code != 0]
        assert failures == [], f"trial {trial}: {failures}"
        applied = [json.loads(out)["applied"] for _, out, _ in results]
        # Each migration was applied by exactly one of the processes.
        assert sorted(v for a in applied for v in a) == [m.version for m in load_migrations()]
        assert all(json.loads(out)["schema_version"] == newest for _, out, _ in results)
        db = Database(tmp_path / f"new{trial}.db")
        versions = [r[0] for r in db.query("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [m.version for m in load_migrations()]
        assert db.check().ok
        db.close()
