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
