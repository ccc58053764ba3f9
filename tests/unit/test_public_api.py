"""The public face: `import quantdb as qdb` is light, exports what research uses, and says so.

Every name in ``quantdb.__all__`` resolves and has its line in docs/api.md; every simulation
setting is documented (the settings table of docs/api.md is generated from
``SETTINGS_FIELDS``, and names only real command-line options); the notebooks import nothing
but ``quantdb``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import quantdb
from quantdb.docgen import with_settings_table
from quantdb.settings import SETTINGS_FIELDS

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api.md"
BACKTESTING = ROOT / "docs" / "backtesting.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
HEAVY = ("numba", "numpy", "polars", "pandas", "vectorbt", "quantstats", "duckdb")


def test_import_quantdb_loads_nothing_heavy() -> None:
    code = (
        "import sys, quantdb\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "", f"`import quantdb` imported {done.stdout.strip()}"


@pytest.mark.parametrize("name", quantdb.__all__)
def test_every_export_resolves(name: str) -> None:
    assert getattr(quantdb, name) is not None
    assert name in dir(quantdb)


def test_all_is_the_lazy_table_plus_connect() -> None:
    assert set(quantdb.__all__) == {"__version__", "connect", *quantdb._EXPORTS}
    assert len(quantdb.__all__) == len(set(quantdb.__all__))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = quantdb.no_such_name


def test_exports_are_the_objects_of_their_modules() -> None:
    from quantdb.kernels.metrics import sharpe_ratio
    from quantdb.settings import SimSettings

    assert quantdb.sharpe_ratio is sharpe_ratio
    assert quantdb.SimSettings is SimSettings
    assert quantdb.signals.__name__ == "quantdb.kernels.signals"


@pytest.mark.parametrize("name", [n for n in quantdb.__all__ if n != "__version__"])
def test_every_export_is_documented(name: str) -> None:
    text = API.read_text(encoding="utf-8")
    assert re.search(rf"`qdb\.{re.escape(name)}\b", text), f"docs/api.md has no line for qdb.{name}"


@pytest.mark.parametrize("name", [f.name for f in SETTINGS_FIELDS])
def test_every_setting_is_documented(name: str) -> None:
    docs = API.read_text(encoding="utf-8") + BACKTESTING.read_text(encoding="utf-8")
    assert f"`{name}`" in docs, f"setting {name} is in neither docs/api.md nor docs/backtesting.md"


def test_settings_table_is_current() -> None:
    text = API.read_text(encoding="utf-8")
    assert text == with_settings_table(text), (
        "the settings table of docs/api.md is stale: run `python -m quantdb.docgen`"
    )


def test_settings_table_names_real_options() -> None:
    import typer.main

    from quantdb.cli.app import app

    command = typer.main.get_command(app).commands["backtest"]  # type: ignore[attr-defined]
    options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    text = with_settings_table(API.read_text(encoding="utf-8"))
    table = text.split("<!-- settings table", 1)[1].split("<!-- end of the settings table", 1)[0]
    used = set(re.findall(r"`(--[a-z][a-z0-9-]*)`", table))
    assert used, "the settings table names no option"
    assert used <= options, f"not options of `quantdb backtest`: {sorted(used - options)}"


FORBIDDEN = re.compile(r"\bquantdb\.(kernels|services|storage)\b|\bfrom quantdb\.|\.db\.|\bdb\.db\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_use_only_the_public_face(path: Path) -> None:
    code = [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if not line.lstrip().startswith("#")
    ]
    bad = [f"{path.name}:{n}: {line.strip()}" for n, line in code if FORBIDDEN.search(line)]
    assert not bad, "notebooks must use `quantdb` only (no kernels, services, storage or db.db):\n" + "\n".join(bad)
    assert any(line.strip() == "import quantdb as qdb" for _, line in code)
