"""What people see: progress on stderr only on a terminal and never with --json; tables as
wide as the terminal with percentages as percentages; --limit cuts human tables only."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
WALK = ["walkforward", "sma-cross", "--grid", "fast=5,10", "--grid", "slow=20,30", "--train", "60",
        "--test", "20", "--tickers", "AAPL"]


def _run_on_a_pty(args: list[str], db: Path, *, stream: str, columns: int | None = None) -> tuple[int, str, str]:
    """Run quantdb with ``stream`` ("stdout" or "stderr") on a pseudo-terminal (``columns``
    wide when given, else COLUMNS=100) and the other on a pipe, as a person at a terminal sees it.
    Returns (exit code, the pipe's text, the terminal's text)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(ROOT)
    if columns is None:
        env["COLUMNS"] = "100"
    else:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    on_tty = stream == "stdout"
    proc = subprocess.Popen([sys.executable, "-m", "quantdb", *args, "--db", str(db)],
                            stdout=slave if on_tty else subprocess.PIPE,
                            stderr=subprocess.PIPE if on_tty else slave, env=env)  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    piped = proc.communicate(timeout=600)[1 if on_tty else 0]
    os.close(master)
    tty = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    return proc.returncode, piped.decode(), tty


def _run_with_tty_stderr(args: list[str], db: Path) -> tuple[int, str, str]:
    """stderr on a pseudo-terminal (stdout a pipe): (exit code, stdout, stderr)."""
    return _run_on_a_pty(args, db, stream="stderr")


def test_progress_shows_on_a_terminal_and_never_with_json(sample_db: Path) -> None:
    code, out, err = _run_with_tty_stderr(WALK, sample_db)
    assert code == 0, err
    assert "walk-forward" in err  # the spinner's line on the terminal
    code, out, err = _run_with_tty_stderr([*WALK, "--json"], sample_db)
    assert code == 0, err
    assert json.loads(out)["strategy"] == "sma-cross"
    assert "walk-forward" not in err  # --json: nothing but the document


def test_no_progress_when_stderr_is_not_a_terminal(sample_db: Path) -> None:
    res = CliRunner().invoke(app, [*WALK, "--db", str(sample_db)])
    assert res.exit_code == 0, res.output
    assert res.stderr == ""


def _run_on_a_terminal(args: list[str], db: Path, columns: int) -> str:
    """stdout on a pseudo-terminal ``columns`` wide (stderr a pipe): what a person sees."""
    code, err, text = _run_on_a_pty(args, db, stream="stdout", columns=columns)
    assert code == 0, err
    return text


def test_tables_fit_the_terminal_and_print_percentages(sample_db: Path) -> None:
    import re

    text = _run_on_a_terminal(["backtest", "sma-cross", "--tickers", "AAPL"], sample_db, 60)
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in text.splitlines()]
    assert max(len(line) for line in lines) <= 60
    row = next(line for line in lines if "total_return" in line)
    assert len(lines) > 5
    assert row.rstrip(" │").endswith("%")
    drawdown = next(line for line in lines if "max_drawdown" in line)
    assert "-" in drawdown and "%" in drawdown


def test_a_pipe_gets_the_whole_table_unfolded(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # not a terminal: no width applies, nothing is folded
    res = CliRunner().invoke(app, [*WALK, "--db", str(sample_db)])
    assert res.exit_code == 0, res.output
    assert "oos_objective" in res.stdout and "is_objective" in res.stdout


def test_limit_cuts_the_table_not_the_json(sample_db: Path) -> None:
    args = [*WALK, "--limit", "1", "--db", str(sample_db)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "more rows not shown" in res.stdout
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert len(doc["windows"]) > 1
