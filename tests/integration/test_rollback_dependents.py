"""`quantdb rollback --last` after tracking: the refusal names what depends on the batch and
what to do, instead of "roll back later batches first" when there is no later batch."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from quantdb.cli.app import app


def test_rollback_names_the_rows_that_depend_on_the_batch(sample_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    shutil.copy(sample_db, db)
    runner = CliRunner()
    assert runner.invoke(app, ["track", "update", "--db", str(db)]).exit_code == 0
    res = runner.invoke(app, ["rollback", "--last", "--db", str(db)])
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert "\n" not in line
    assert "performance snapshots (quantdb track update)" in line
    assert "later batches" not in line
