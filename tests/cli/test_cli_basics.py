"""The CLI contract: every command has --help, --json prints exactly one JSON document,
exit codes 0 / 1 / 2 with a one-line reason on stderr, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantdb.cli.app import app

LEGACY_PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample" / "price_history"
HEAVY = ("numba", "vectorbt", "quantstats")


def _command_paths() -> list[list[str]]:
    """Every command and group of the application, as the words that reach it."""
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        found.append(path)
        if hasattr(cmd, "commands"):  # a group (Typer vendors its own click classes)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return found


COMMANDS = _command_paths()


def test_the_storage_commands_exist() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"init", "check", "backup", "restore", "prices", "prices import"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "quantdb" for p in COMMANDS])
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    cmd = typer.main.get_command(app)
    for word in path:
        cmd = cmd.commands[word]  # type: ignore[attr-defined]
    assert (cmd.help or cmd.short_help or "").strip(), f"`{' '.join(path)}` has no help text"


def _is_group(path: list[str]) -> bool:
    cmd = typer.main.get_command(app)
    for word in path:
        cmd = cmd.commands[word]  # type: ignore[attr-defined]
    return hasattr(cmd, "commands")


@pytest.mark.parametrize("path", [p for p in COMMANDS if p and not _is_group(p)], ids=" ".join)
def test_every_command_takes_db(path: list[str]) -> None:
    """DESIGN.md: every command takes --db PATH (scripts pass it uniformly)."""
    result = CliRunner().invoke(app, [*path, "--help"])
    assert "--db" in result.stdout, f"`{' '.join(path)}` has no --db option"


def _one_json(text: str) -> object:
    """Parse stdout as exactly one JSON document (json.loads refuses trailing data)."""
    return json.loads(text)


def test_json_outputs_parse_as_one_document(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "quant.db")
    init = runner.invoke(app, ["init", "--db", db, "--json"])
    assert init.exit_code == 0, init.output
    doc = _one_json(init.stdout)
    assert isinstance(doc, dict) and doc["schema_version"] >= 1 and doc["applied"]
    again = _one_json(runner.invoke(app, ["init", "--db", db, "--json"]).stdout)
    assert again["applied"] == []  # type: ignore[index]

    imp = runner.invoke(
        app,
        [
            "prices",
            "import",
            str(LEGACY_PRICES / "AAPL.csv"),
            str(LEGACY_PRICES / "SPY.csv"),
            "--db",
            db,
            "--json",
        ],
    )
    assert imp.exit_code == 0, imp.output
    report = _one_json(imp.stdout)
    assert report["totals"]["inserted"] == report["totals"]["read"] > 0  # type: ignore[index]

    check = runner.invoke(app, ["check", "--db", db, "--json"])
    assert check.exit_code == 0, check.output
    assert _one_json(check.stdout)["row_counts"]["tickers"] == 2  # type: ignore[index]

    backup = runner.invoke(app, ["backup", str(tmp_path / "b.db"), "--db", db, "--json"])
    assert backup.exit_code == 0, backup.output
    assert Path(_one_json(backup.stdout)["backup"]).exists()  # type: ignore[index]

    restore = runner.invoke(app, ["restore", str(tmp_path / "b.db"), "--db", db, "--json"])
    assert restore.exit_code == 0, restore.output
    assert _one_json(restore.stdout)["restored"] == str(Path(db).absolute())  # type: ignore[index]


def test_db_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    result = CliRunner().invoke(app, ["init", "--json"], env={"QUANTDB_DB": str(db)})
    assert result.exit_code == 0, result.output
    assert db.exists()


def _one_line_error(result: object) -> str:
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    return lines[0]


def test_exit_code_1_when_a_check_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("not a database\n" * 100)
    result = CliRunner().invoke(app, ["check", "--db", str(bad), "--json"])
    assert result.exit_code == 1
    assert _one_json(result.stdout)["ok"] is False  # type: ignore[index]


def test_exit_code_2_on_bad_usage_or_input(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "quant.db")
    assert runner.invoke(app, ["init", "--no-such-option"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    assert runner.invoke(app, ["backup"]).exit_code == 2  # missing argument
    missing = runner.invoke(app, ["prices", "import", str(tmp_path / "nope.csv"), "--db", db])
    assert missing.exit_code == 2
    assert "no such file" in _one_line_error(missing)
    restore = runner.invoke(app, ["restore", str(tmp_path / "nope.db"), "--db", db])
    assert restore.exit_code == 2
    assert _one_line_error(restore).startswith("quantdb: error:")
    backup = runner.invoke(
        app, ["backup", str(tmp_path / "b.db"), "--db", str(tmp_path / "absent.db")]
    )
    assert backup.exit_code == 2
    assert "quantdb init" in _one_line_error(backup)


START_UP = textwrap.dedent(
    f"""
    import json, sys
    import quantdb.cli.app
    try:
        quantdb.cli.app.app(["--help"], prog_name="quantdb")
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({{"code": code, "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
    """
)


def test_help_does_not_import_heavy_libraries() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", START_UP], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last == {"code": 0, "heavy": []}
