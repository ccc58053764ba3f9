"""`quantdb --version` prints the package version (quantdb/_version.py) and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from quantdb._version import __version__
from quantdb.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def test_version_in_process() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout == f"quantdb {__version__}\n"


def test_version_of_python_m_quantdb() -> None:
    done = subprocess.run([sys.executable, "-m", "quantdb", "--version"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"quantdb {__version__}\n", "")
