"""Fixtures for the storage tests: generated price frames and populated database files."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

LEGACY_PRICES = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_sample" / "price_history"


def random_walk_prices(
    rng: np.random.Generator, n_tickers: int, n_days: int, *, start: str = "2015-01-01"
) -> pl.DataFrame:
    """A long frame (``LONG_COLUMNS``) of random-walk daily bars on business days."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(start, "D") + n_days * 2)
    days = days[np.is_busday(days)][:n_days]
    rets = rng.normal(0.0003, 0.02, size=(n_days, n_tickers))
    close = 50.0 * np.exp(np.cumsum(rets, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, size=close.shape))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.005, size=close.shape)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.005, size=close.shape)))
    volume = rng.integers(1_000, 5_000_000, size=close.shape)
    symbols = np.array([f"T{i:04d}" for i in range(n_tickers)])
    return pl.DataFrame(
        {
            "ticker": np.tile(symbols, n_days),
            "date": np.repeat(days, n_tickers).astype(str),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "adj_close": (close * 0.98).ravel(),
            "volume": volume.ravel().astype(np.int64),
        }
    )


@pytest.fixture
def make_prices(rng: np.random.Generator) -> Callable[..., pl.DataFrame]:
    """``make_prices(n_tickers, n_days)``: a seeded random-walk long price frame."""

    def make(n_tickers: int = 5, n_days: int = 60, start: str = "2015-01-01") -> pl.DataFrame:
        return random_walk_prices(rng, n_tickers, n_days, start=start)

    return make


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database file in tmp_path."""
    database = Database(tmp_path / "quant.db")
    apply_migrations(database)
    yield database
    database.close()


@pytest.fixture(scope="session")
def legacy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 41 price files of the legacy sample (about 31,000 bars) in a checkpointed database,
    built once per session: tests copy it, never write it."""
    from quantdb.services.records.prices import import_price_files

    path = tmp_path_factory.mktemp("legacy_db") / "legacy.db"
    database = Database(path)
    apply_migrations(database)
    import_price_files(database, [LEGACY_PRICES])
    database.close()  # the last connection checkpoints: the main file holds every page
    return path


@pytest.fixture
def legacy_db(legacy_file: Path, tmp_path: Path) -> Iterator[Database]:
    """A writable copy of `legacy_file` in tmp_path."""
    path = tmp_path / "legacy.db"
    shutil.copy(legacy_file, path)
    database = Database(path)
    yield database
    database.close()


def _raw_rows(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def raw_rows() -> Callable[..., list[tuple[object, ...]]]:
    """``raw_rows(path, sql, params)``: rows read with a plain sqlite3 connection (no quantdb code)."""
    return _raw_rows
