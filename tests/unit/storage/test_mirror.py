"""The columnar mirror of price_history: rebuilt whenever SQLite changes, never used stale,
and its panels equal a slow, obvious pivot of rows read straight from SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from quantdb.client import QuantDB
from quantdb.errors import NotFound
from quantdb.services.records.prices import insert_prices
from quantdb.storage.backup import backup_database, restore_database
from quantdb.storage.mirror import FIELDS, mirror_root


def reference_panel(
    path: Path,
    field: str = "adj_close",
    tickers: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[list[str], list[str], np.ndarray]:
    """Dates, tickers and a dates x tickers matrix built with a Python loop over sqlite3 rows."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            f"SELECT t.symbol, p.date, p.{field} FROM price_history p JOIN tickers t ON t.id = p.ticker_id"
        ).fetchall()
    finally:
        conn.close()
    cells: dict[tuple[str, str], float] = {}
    for symbol, day, value in rows:
        cells[(day, symbol)] = float("nan") if value is None else float(value)
    dates = sorted(
        {d for d, _ in cells if (start is None or d >= start) and (end is None or d <= end)}
    )
    names = tickers if tickers is not None else sorted({s for _, s in cells})
    mat = np.full((len(dates), len(names)), np.nan)
    for i, d in enumerate(dates):
        for j, s in enumerate(names):
            mat[i, j] = cells.get((d, s), np.nan)
    return dates, names, mat


def assert_panel_matches(q: QuantDB, **kwargs: Any) -> None:
    panel = q.close_panel(**kwargs)
    field = kwargs.get("field", "adj_close")
    ticks = kwargs.get("tickers")
    dates, names, mat = reference_panel(
        q.path, field, ticks, kwargs.get("start"), kwargs.get("end")
    )
    assert [str(d) for d in panel.dates] == dates
    assert list(panel.tickers) == names
    assert panel.values.dtype == np.float64 and panel.values.flags.c_contiguous
    # Exact: both sides hold the very doubles SQLite stored (volume: integers below 2**53).
    np.testing.assert_array_equal(panel.values, mat)


@pytest.fixture
def q(tmp_path: Path, make_prices: Any) -> Iterator[QuantDB]:
    """A database with 6 tickers x 40 days, one ticker with gaps and a NULL bar."""
    qdb = QuantDB(tmp_path / "m.db")
    frame = make_prices(6, 40)
    # T0005 has no bar on every third day, and one listed day without values.
    gappy = (
        frame.with_row_index("i")
        .filter(~((pl.col("ticker") == "T0005") & ((pl.col("i") // 6) % 3 == 0)))
        .drop("i")
    )
    null_day = gappy.filter(pl.col("ticker") == "T0005")["date"][4]
    gappy = gappy.with_columns(
        *[
            pl.when((pl.col("ticker") == "T0005") & (pl.col("date") == null_day))
            .then(None)
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("open", "high", "low", "close", "adj_close", "volume")
        ]
    )
    insert_prices(qdb.db, gappy, source="test")
    yield qdb
    qdb.close()


def _version(q: QuantDB) -> str:
    return (mirror_root(q.db) / "CURRENT").read_text().strip()


def test_panel_equals_the_sqlite_pivot_for_every_field(q: QuantDB) -> None:
    for field in FIELDS:
        assert_panel_matches(q, field=field)
    panel = q.close_panel()
    assert panel.shape == (40, 6)
    col = panel.column("T0005")
    assert np.isnan(col).sum() == 14 + 1  # 14 days without a bar, one NULL bar
    assert panel.to_polars().columns == ["date", *panel.tickers]


def test_subset_and_date_range(q: QuantDB) -> None:
    dates = [str(d) for d in q.close_panel().dates]
    start, end = dates[5], dates[20]
    assert_panel_matches(q, tickers=["T0003", "T0001", "T0005"], start=start, end=end)
    panel = q.close_panel(["t0002"], start=start, end=end)
    assert panel.tickers == ("T0002",) and len(panel.dates) == 16  # both ends included
    # Bounds that are not trading days (a weekend, before the first, after the last day).
    assert_panel_matches(q, start="2015-01-03", end="2015-01-11")
    assert_panel_matches(q, start="1990-01-01", end="2099-01-01")
    assert q.close_panel(start="2099-01-01").shape == (0, 6)
    with pytest.raises(NotFound, match="NOPE"):
        q.close_panel(["T0001", "NOPE"])
    with pytest.raises(ValueError, match="field must be one of"):
        q.close_panel(field="vwap")


def test_unchanged_database_reuses_the_mirror(q: QuantDB) -> None:
    q.close_panel()
    first = _version(q)
    q.close_panel(["T0001"])
    q.panels()
    assert _version(q) == first


def _raw_write(path: Path, *statements: str) -> None:
    """A write by a plain sqlite3 connection: the triggers must catch writers other than quantdb."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for s in statements:
            conn.execute(s)
        conn.execute("COMMIT")
    finally:
        conn.close()


CHANGES = {
    "insert": (
        (
            "INSERT INTO price_history (ticker_id, date, close, adj_close) "
            "SELECT id, '2016-06-01', 1.0, 1.0 FROM tickers WHERE symbol = 'T0000'"
        ),
    ),
    "insert_null_bar": (
        "INSERT INTO price_history (ticker_id, date) SELECT id, '2016-06-02' FROM tickers WHERE symbol = 'T0001'",
    ),
    "update": ("UPDATE price_history SET adj_close = adj_close * 1.5, close = 7.0 WHERE id = 17",),
    "update_one_field": ("UPDATE price_history SET adj_close = 3.25 WHERE id = 9",),
    "delete": ("DELETE FROM price_history WHERE id = 30",),
    "delete_newest": ("DELETE FROM price_history WHERE id = (SELECT max(id) FROM price_history)",),
    "rename": ("UPDATE tickers SET symbol = 'ZZZ' WHERE symbol = 'T0002'",),
    "swap_names": (
        "UPDATE tickers SET symbol = 'TMP' WHERE symbol = 'T0000'",
        "UPDATE tickers SET symbol = 'T0000' WHERE symbol = 'T0001'",
        "UPDATE tickers SET symbol = 'T0001' WHERE symbol = 'TMP'",
    ),
    # T0004's first bar moves to T0005, which has no bar that day.
    "move_bar": (
        (
            "UPDATE price_history SET ticker_id = ticker_id + 1 WHERE id = (SELECT min(p.id) "
            "FROM price_history p JOIN tickers t ON t.id = p.ticker_id WHERE t.symbol = 'T0004')"
        ),
    ),
    "new_ticker_without_bars": ("INSERT INTO tickers (symbol) VALUES ('EMPTY')",),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_mirror_is_rebuilt_after_a_change(q: QuantDB, change: str) -> None:
    q.close_panel()  # a mirror exists, current
    before = _version(q)
    _raw_write(q.path, *CHANGES[change])
    for field in ("adj_close", "close"):
        assert_panel_matches(q, field=field)
    if change != "new_ticker_without_bars":
        assert _version(q) != before


def test_every_change_in_sequence(q: QuantDB, make_prices: Any) -> None:
    for change in CHANGES.values():
        _raw_write(q.path, *change)
        assert_panel_matches(q)
    # ... and through quantdb's own import, with the panel read in between each time.
    insert_prices(q.db, make_prices(8, 45), source="more")  # 2 new tickers, 5 new days, updates
    assert_panel_matches(q)
    assert_panel_matches(q, field="volume")


def test_missing_or_broken_mirror_is_rebuilt(q: QuantDB) -> None:
    q.close_panel()
    (mirror_root(q.db) / "CURRENT").write_text("v-does-not-exist")
    assert_panel_matches(q)
    (mirror_root(q.db) / _version(q) / "meta.json").write_text("{not json")
    assert_panel_matches(q)


def test_mirror_is_not_used_after_a_restore(q: QuantDB, tmp_path: Path) -> None:
    """After a restore, SQLite's ids start again from the backup's: new bars can bring back the
    very watermark that a mirror of different content was built at. That mirror must not be used."""
    backup = backup_database(q.db, tmp_path / "b.db")
    one_bar = "INSERT INTO price_history (ticker_id, date, close, adj_close) SELECT id, '2016-06-01', {v}, {v} FROM tickers WHERE symbol = 'T0000'"
    _raw_write(q.path, one_bar.format(v=10.0))
    assert q.close_panel(["T0000"]).values[-1, 0] == 10.0  # mirror built at this content
    restore_database(q.db, backup)
    _raw_write(q.path, one_bar.format(v=20.0))  # same max id, same counter, same tickers
    assert q.close_panel(["T0000"]).values[-1, 0] == 20.0
    assert_panel_matches(q)


def test_empty_database_gives_an_empty_panel(tmp_path: Path) -> None:
    with QuantDB(tmp_path / "empty.db") as qdb:
        panel = qdb.close_panel()
        assert panel.shape == (0, 0)
        assert panel.values.dtype == np.float64


def test_appended_bars_extend_the_mirror_incrementally(q: QuantDB, make_prices: Any) -> None:
    """Inserts only (new days, a new ticker): the mirror reads just the new rows, and the
    result equals a full rebuild and the SQLite pivot."""
    from quantdb.storage.mirror import build_mirror, current_mirror

    q.close_panel()  # a current mirror
    before = current_mirror(q.db)
    more = make_prices(7, 60).filter(pl.col("date") > max(str(d) for d in before.dates))
    insert_prices(q.db, more, source="append")  # later days for T0000..T0005 and a new T0006
    appended = current_mirror(q.db)
    assert appended.watermark[0] > before.watermark[0]
    assert len(appended.dates) > len(before.dates) and "T0006" in appended.tickers
    for field in FIELDS:
        assert_panel_matches(q, field=field)
    kept = {field: np.array(appended.matrix(field)) for field in FIELDS}
    full = build_mirror(q.db)  # replaces (and deletes) the appended version
    for field in FIELDS:
        np.testing.assert_array_equal(kept[field], np.asarray(full.matrix(field)))
