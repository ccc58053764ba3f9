"""Fixtures of the ingest unit tests (``legacy_dir`` and ``rng`` come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty quantdb database in tmp_path."""
    database = Database(tmp_path / "q.db")
    apply_migrations(database)
    yield database
    database.close()


@pytest.fixture(scope="session")
def generated_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, object]]:
    """Generated legacy folders (mess and damage) for three seeds and sizes, made once per session."""
    from quantdb.datasets.legacy import write_legacy_folder
    from quantdb.datasets.market import generate_market

    out = {}
    for seed, (n_tickers, years, n_pred) in {
        1: (12, 2, 300),
        2: (25, 2, 600),
        3: (8, 3, 150),
    }.items():
        root = tmp_path_factory.mktemp(f"legacy_seed{seed}")
        market = generate_market(n_tickers, years, seed=seed)
        manifest = write_legacy_folder(market, root / "legacy", seed=seed + 100, n_predictions=n_pred,
                                       n_trades=n_pred // 2, mess=True, damage=True)  # fmt: skip
        out[seed] = (root / "legacy", manifest)
    return out
