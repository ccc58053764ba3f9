"""The package type-checks under ``mypy --strict`` and the tree passes ``ruff check``.

Both tools come from the [dev] extras and run from the same virtualenv as this test (the
folder of ``sys.executable``), on the checkout root, so the configuration in pyproject.toml
applies. A failure shows the tool's own report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the [dev] extras (pip install -e '.[dev]')")
    return subprocess.run(
        [str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_mypy_strict_reports_no_error() -> None:
    done = _run("mypy", "--strict", "quantdb")
    assert done.returncode == 0, f"mypy --strict quantdb failed:\n{done.stdout}{done.stderr}"


def test_ruff_reports_no_error() -> None:
    done = _run("ruff", "check", "quantdb", "tests", "benchmarks")
    assert done.returncode == 0, f"ruff check failed:\n{done.stdout}{done.stderr}"
