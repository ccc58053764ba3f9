"""Execute every research notebook top to bottom, and keep each `.ipynb` equal to its `.py` twin.

One small database serves the whole module: a generated market (30 tickers x 3 years + SPY),
its legacy folder with FORMAT.md's mess and some damage, migrated, with volume leaders, live
tracking and a few stored backtests: every kind of data the notebooks read, as ``quantdb demo``
builds it, at a size that keeps the module fast. Each notebook runs in its own ``python3``
kernel (the venv's ipykernel) with ``QUANTDB_NOTEBOOK_DB`` pointing at that database and its
own working folder in tmp_path; any cell error fails the test (nbclient raises
``CellExecutionError`` with the cell and the traceback).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
IPYNB = sorted(NOTEBOOKS.glob("*.ipynb"))
PY = sorted(NOTEBOOKS.glob("[0-9]*.py"))

#: A warning printed by the kernel whose source file is inside the quantdb package.
QUANTDB_WARNING = re.compile(r"quantdb/[\w/]+\.py:\d+: \w*Warning: [^\n]*")

#: The outputs that are figures: a matplotlib PNG or a Plotly figure (its JSON for the frontend).
FIGURE_KINDS = ("image/png", "application/vnd.plotly.v1+json")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def notebook_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated, tracked database with stored backtests, built once for the module."""
    from quantdb.datasets import generate_market, write_legacy_folder
    from quantdb.services.live.leaders import compute_leaders
    from quantdb.services.live.tracking import track_update
    from quantdb.services.records.migrate import migrate_folder
    from quantdb.services.research.backtest import run_backtest
    from quantdb.settings import SimSettings
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    root = tmp_path_factory.mktemp("notebook_db")
    market = generate_market(30, 3, seed=42)
    write_legacy_folder(
        market, root / "legacy", seed=7, n_predictions=400, n_trades=250, mess=True, damage=True
    )
    db = Database(root / "quant.db")
    apply_migrations(db)
    report = migrate_folder(db, root / "legacy", backup_dir=root / "backups")
    assert report.totals.balanced and report.totals.imported > 0
    compute_leaders(db, top=10)
    track_update(db)
    stocks = [t for t in sorted(market.tickers) if t != "SPY"][:8]
    for name in ("sma-cross", "rsi"):
        run_backtest(
            name, db=db, tickers=stocks, settings=SimSettings(max_positions=4, sizing_value=0.25)
        )
    db.close()
    yield root / "quant.db"


def test_every_notebook_has_a_twin() -> None:
    assert IPYNB, f"no notebooks found in {NOTEBOOKS}"
    assert [p.stem for p in IPYNB] == [p.stem for p in PY]


@pytest.mark.parametrize("path", IPYNB, ids=[p.stem for p in IPYNB])
def test_ipynb_matches_py_twin(path: Path) -> None:
    """The paired files hold the same cells (type and source), and declare the pairing."""
    import jupytext

    nb = jupytext.read(path)
    twin = jupytext.read(path.with_suffix(".py"))
    cells = [(c.cell_type, c.source.strip()) for c in nb.cells]
    twin_cells = [(c.cell_type, c.source.strip()) for c in twin.cells]
    assert cells == twin_cells, f"{path.name} and its .py differ: run `jupytext --sync {path}`"
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", IPYNB, ids=[p.stem for p in IPYNB])
def test_notebook_runs(
    path: Path, notebook_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run all cells in a fresh kernel: no cell may raise, and quantdb itself may not warn
    (warnings from third-party libraries, such as QuantStats' matplotlib calls, are theirs)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("QUANTDB_NOTEBOOK_DB", str(notebook_db))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws figures
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "some cells did not run"
    stderr = "".join(
        o.get("text", "") for c in code for o in c.outputs if o.get("name") == "stderr"
    )
    ours = QUANTDB_WARNING.findall(stderr)
    assert not ours, f"{path.name}: warnings raised by quantdb itself: {ours}"
    figures = sum(any(kind in o.get("data", {}) for kind in FIGURE_KINDS) for c in code for o in c.outputs)
    assert figures >= 1, f"{path.name} drew no figure"


@pytest.mark.parametrize("src", PY, ids=[p.stem for p in PY])
def test_notebook_runs_with_jupytext_execute(src: Path, notebook_db: Path, tmp_path: Path) -> None:
    """The other way users run a paired notebook: `jupytext --execute` on its `.py` twin
    (through nbconvert), in a fresh kernel, writing the executed `.ipynb` beside it."""
    import os
    import shutil
    import subprocess
    import sys

    import nbformat

    work = tmp_path / src.name
    shutil.copy(src, work)
    env = {**os.environ, "QUANTDB_NOTEBOOK_DB": str(notebook_db)}
    env.pop("MPLBACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jupytext", "--to", "ipynb", "--execute", str(work)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(work.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "some cells did not run"
