"""One way to start a helper interpreter: ``python -c code args...``.

quantdb hands work to a second core through child interpreters (the demo's kernel warm-up,
verification and PDF; the migration's reading of big JSON files): our own interpreter, no
shell, no standard error, and None where no process can be made, so that the caller does the
work itself (a helper only ever saves time).
"""

from __future__ import annotations

import subprocess
import sys

__all__ = ["spawn_python"]


def spawn_python(
    code: str, *args: str, stdin: int = subprocess.DEVNULL, stdout: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes] | None:
    """Start ``python -c code args...`` with this interpreter; None when no process can be made."""
    try:
        return subprocess.Popen(
            [sys.executable, "-c", code, *args], stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL
        )
    except OSError:
        return None
