"""Every `quantdb ...` example in docs/*.md names a real command and only options it has.

Examples are read from shell code blocks (```bash, ```sh, ```shell, ```console or a bare
fence) and from inline code spans that start with ``quantdb ``. For each example the command
path (``quantdb quarantine list``) is followed through the Typer application, the command's
``--help`` is invoked, and every ``--option`` the example uses must appear in that help text.
Nothing is executed beyond ``--help``: the point is that a reader who copies an example gets
a command that parses, not that the example's files exist.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantdb.cli.app import app

DOCS = Path(__file__).resolve().parents[2] / "docs"
SHELL_FENCES = {"", "bash", "sh", "shell", "console", "zsh"}
FENCE = re.compile(r"^```(\w*)\s*$")
INLINE = re.compile(r"`(quantdb [^`]+)`")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


@dataclass(frozen=True)
class Example:
    """One `quantdb` command line found in the docs."""

    file: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def _command_lines(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join backslash continuations, strip prompts, keep the lines that run `quantdb`."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in block:
        line = raw.rstrip()
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        text = buf.strip().removeprefix("$ ").strip()
        buf = ""
        if _words(text)[:1] == ["quantdb"]:
            out.append((start, text))
    return out


def _words(text: str) -> list[str]:
    """Shell words without comments and without leading ``NAME=value`` environment settings."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        return text.split()
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    return words


def collect_examples(docs: Path = DOCS) -> list[Example]:
    """Every `quantdb` command line in the Markdown files of ``docs``."""
    found: list[Example] = []
    for path in sorted(docs.glob("*.md")):
        lang: str | None = None
        block: list[tuple[int, str]] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            fence = FENCE.match(line.strip())
            if fence and lang is None:
                lang, block = fence.group(1).lower(), []
                continue
            if line.strip().startswith("```") and lang is not None:
                if lang in SHELL_FENCES:
                    found += [Example(path.name, n, t) for n, t in _command_lines(block)]
                lang = None
                continue
            if lang is not None:
                block.append((number, line))
            else:
                found += [Example(path.name, number, m.group(1)) for m in INLINE.finditer(line)]
    return found


EXAMPLES = collect_examples()


@cache
def _help(path: tuple[str, ...]) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    return result.exit_code, result.output


def _placeholder(word: str) -> bool:
    """A usage placeholder such as ``[OPTIONS]``, ``{folder}``, ``<file>`` or ``COMMAND``."""
    return word[:1] in "[{<" or re.fullmatch(r"[A-Z][A-Z_]*(\.\.\.)?", word) is not None


def command_path(words: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Split ``quantdb`` words into the command path and the remaining arguments."""
    cmd = typer.main.get_command(app)
    path: list[str] = []
    rest = words[1:]
    while rest and hasattr(cmd, "commands") and rest[0] in cmd.commands:
        cmd = cmd.commands[rest[0]]
        path.append(rest.pop(0))
    if (
        hasattr(cmd, "commands")
        and rest
        and not rest[0].startswith("-")
        and not _placeholder(rest[0])
    ):
        msg = f"`quantdb {' '.join(path)}` has no command {rest[0]!r} (has {sorted(cmd.commands)})"
        raise AssertionError(msg)
    return tuple(path), rest


def test_the_docs_have_examples() -> None:
    files = {e.file for e in EXAMPLES}
    assert len(EXAMPLES) >= 20, EXAMPLES
    assert {"migration.md", "backtesting.md", "scaling.md", "storage.md"} <= files


def test_the_collector_reads_fences_inline_spans_and_continuations(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "Run `quantdb check --json` first.\n"
        "```bash\n$ quantdb sweep sma-cross \\\n    --grid fast=5:50:5  # a comment\n"
        "DASK_SCHEDULER_ADDRESS=tcp://h:8786 quantdb sweep rsi --executor dask\nls -l\n```\n"
        "```python\nquantdb_thing = 'quantdb init'\n```\n",
        encoding="utf-8",
    )
    got = [(e.line, e.text) for e in collect_examples(tmp_path)]
    assert got == [
        (1, "quantdb check --json"),
        (3, "quantdb sweep sma-cross      --grid fast=5:50:5  # a comment"),
        (5, "DASK_SCHEDULER_ADDRESS=tcp://h:8786 quantdb sweep rsi --executor dask"),
    ]


def test_a_wrong_option_is_caught() -> None:
    path, _ = command_path(["quantdb", "backtest", "sma-cross", "--no-such-option"])
    code, text = _help(path)
    assert code == 0
    assert "--no-such-option" not in set(OPTION.findall(text))
    with pytest.raises(AssertionError, match="no command"):
        command_path(["quantdb", "quarantine", "purge"])
    assert command_path(["quantdb", "[OPTIONS]", "COMMAND", "[ARGS]..."])[0] == ()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_parses(example: Example) -> None:
    words = _words(example.text)
    path, rest = command_path(words)
    code, text = _help(path)
    assert code == 0, f"{example.id}: `quantdb {' '.join(path)} --help` failed:\n{text}"
    known = set(OPTION.findall(text))
    used = [w.split("=", 1)[0] for w in rest if w.startswith("--")]
    unknown = [o for o in used if o not in known]
    assert not unknown, (
        f"{example.id}: `{example.text}` uses {unknown}, not options of "
        f"`quantdb {' '.join(path)}` (it has {sorted(known)})"
    )
