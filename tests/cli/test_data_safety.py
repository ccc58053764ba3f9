"""Issue 16 (data safety), through the command line: verify on nothing, backup and restore
guards, and outputs that never leave a partial file behind.

Real files and real processes; a full disk is simulated with ``RLIMIT_FSIZE`` in a child
process (a write past the limit fails with EFBIG, as a write to a full disk fails with ENOSPC),
never by patching quantdb.
"""

from __future__ import annotations

import json
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
