"""Fixtures shared by the whole suite: a seeded rng, the legacy sample, a migrated database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY_SAMPLE = FIXTURES / "legacy_sample"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1337)


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    """A writable copy of the legacy sample (a copy of ../shared/legacy/sample kept in the repo)."""
    dest = tmp_path / "legacy"
    shutil.copytree(LEGACY_SAMPLE, dest)
    return dest


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The legacy sample (prices, predictions, trades, leaders) migrated into a fresh file, once
    per test module (the CLI tests read it; a module that writes to it owns its copy)."""
    from quantdb.services.records.migrate import migrate_folder
    from quantdb.storage.sqlite import Database

    path = tmp_path_factory.mktemp("sample") / "quant.db"
    db = Database(path)
    migrate_folder(db, LEGACY_SAMPLE)
    db.close()
    return path


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[object]:
    """A `Database` in tmp_path with the newest schema and no rows."""
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    db = Database(tmp_path / "quant.db")
    apply_migrations(db)
    yield db
    db.close()


@pytest.fixture(scope="module")
def price_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A `Database` holding the sample's price files only (imported by the service), one per
    test module."""
    from quantdb.services.records.prices import import_price_files
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    db = Database(tmp_path_factory.mktemp("prices") / "quant.db")
    apply_migrations(db)
    import_price_files(db, [LEGACY_SAMPLE / "price_history"])
    yield db
    db.close()


@pytest.fixture(scope="module")
def dbfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made as a user with only price CSVs makes one, through the command line:
    `quantdb init`, then `quantdb prices import` of the sample's price files. One per test
    module (the research modules store their results in it)."""
    from typer.testing import CliRunner

    from quantdb.cli.app import app

    path = tmp_path_factory.mktemp("cli") / "quant.db"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", str(path)]).exit_code == 0
    prices = LEGACY_SAMPLE / "price_history"
    assert runner.invoke(app, ["prices", "import", str(prices), "--db", str(path)]).exit_code == 0
    return path


@pytest.fixture(scope="session")
def command_paths() -> set[str]:
    """Every leaf command of the `quantdb` application as its path ("prices import", "init"):
    what a matrix of cases over every command must cover."""
    import typer

    from quantdb.cli.app import app

    paths: set[str] = set()

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            paths.add(" ".join(path))
            return
        for name, sub in subs.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths
