"""compute_leaders reproduces the legacy leader files from the sample's prices, and sums calendar periods."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantdb.services.live.leaders import LeadersError, compute_leaders
from quantdb.services.records.prices import import_price_files

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample"


def _leaders(db, timeframe: str) -> dict[str, list[tuple[int, str, int, float]]]:
    out: dict[str, list[tuple[int, str, int, float]]] = {}
    rows = db.query(
        "SELECT v.date, v.rank, t.symbol, v.volume, v.price FROM volume_leaders v JOIN tickers t ON t.id = v.ticker_id "
        "WHERE v.timeframe = ? ORDER BY v.date, v.rank",
        (timeframe,),
    )
    for d, rank, sym, vol, price in rows:
        out.setdefault(d, []).append((rank, sym, vol, price))
    return out


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    db = Database(tmp_path_factory.mktemp("leaders") / "quant.db")
    apply_migrations(db)
    import_price_files(db, [SAMPLE / "price_history"])
    report = compute_leaders(db, top=20)
    yield db, report
    db.close()


@pytest.mark.parametrize("timeframe", ["daily", "weekly", "monthly"])
def test_matches_the_legacy_files(sample_db, timeframe: str) -> None:
    db, _ = sample_db
    legacy = json.loads((SAMPLE / f"volume_leaders_{timeframe}.json").read_text())["leaders"]
    mine = _leaders(db, timeframe)
    assert set(legacy) <= set(mine)
    for day, entries in legacy.items():
        want = [
            (
                int(e["rank"]),
                str(e.get("symbol") or e.get("ticker")).upper(),
                int(e["volume"]),
                float(e["price"]),
            )
            for e in entries
        ]
        assert mine[day] == want, day


def test_rerun_changes_nothing(sample_db) -> None:
    db, first = sample_db
    assert first.timeframes["weekly"] == {"dates": 152, "rows": 3040, "written": 3040, "imported_dates_kept": 0}
    again = compute_leaders(db, top=20)
    assert all(v["written"] == 0 for v in again.timeframes.values())


def test_calendar_convention_sums_the_period(empty_db) -> None:
    db = empty_db
    days = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"]
    vols = {"AAA": [10, 10, 10, 10, 10, 10], "BBB": [35, 1, 1, 1, 1, 100], "SPY": [999] * 6}
    with db.atomic() as conn:
        for s, v in vols.items():
            conn.execute("INSERT INTO tickers (symbol) VALUES (?)", (s,))
            tid = conn.execute("SELECT id FROM tickers WHERE symbol = ?", (s,)).fetchone()[0]
            conn.executemany(
                "INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close) "
                "VALUES (?, ?, 1, 1, 1, ?, ?, 1)",
                [(tid, d, 10.0 + i, v[i]) for i, d in enumerate(days)],
            )
    compute_leaders(db, timeframe="weekly", top=5, convention="calendar")
    compute_leaders(db, timeframe="monthly", top=5, convention="calendar")
    # ISO week of Jan 29 - Feb 2: BBB 39 < AAA 50; keyed by the first trading day, price = last close
    assert _leaders(db, "weekly") == {
        "2024-01-29": [(1, "AAA", 50, 14.0), (2, "BBB", 39, 14.0)],
        "2024-02-05": [(1, "BBB", 100, 15.0), (2, "AAA", 10, 15.0)],
    }
    # January (3 days): BBB 37 > AAA 30; February (3 days): BBB 102 > AAA 30
    assert _leaders(db, "monthly") == {
        "2024-01-29": [(1, "BBB", 37, 12.0), (2, "AAA", 30, 12.0)],
        "2024-02-01": [(1, "BBB", 102, 15.0), (2, "AAA", 30, 15.0)],
    }
    with pytest.raises(LeadersError):
        compute_leaders(db, timeframe="yearly")  # type: ignore[arg-type]


def test_imported_leaders_are_never_overwritten(tmp_path: Path) -> None:
    """Leaders migrated from the legacy files are the record: computing leaders afterwards (with
    another rule, here calendar sums) leaves every imported row as it was and only fills the
    periods the files did not have."""
    import shutil

    from quantdb.services.records.migrate import migrate_folder
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    folder = tmp_path / "legacy"
    shutil.copytree(SAMPLE, folder)
    db = Database(tmp_path / "quant.db")
    apply_migrations(db)
    migrate_folder(db, folder, backup_dir=tmp_path / "backups")
    query = "SELECT timeframe, date, rank, ticker_id, volume, price FROM volume_leaders WHERE batch_id IS NOT NULL ORDER BY 1, 2, 3"
    before = db.query(query)
    report = compute_leaders(db, top=20, convention="calendar")
    assert [tuple(r) for r in db.query(query)] == [tuple(r) for r in before]
    assert report.timeframes["weekly"]["imported_dates_kept"] > 0
    db.close()


def test_generated_legacy_leaders_follow_the_same_rule(tmp_path: Path) -> None:
    """The demo's generated legacy files publish leaders by the rule the real files use, so
    `leaders compute` on their prices reproduces every weekly and monthly ranking."""
    from quantdb.datasets import generate_market, write_legacy_folder
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    folder = tmp_path / "legacy"
    # mess=False: the messy files also blank some CSV bars (null rows), which no ranking can see.
    write_legacy_folder(generate_market(25, 2, seed=5), folder, n_predictions=50, n_trades=20, mess=False)
    db = Database(tmp_path / "quant.db")
    apply_migrations(db)
    import_price_files(db, [folder / "price_history"])
    compute_leaders(db, top=20)
    for timeframe in ("weekly", "monthly"):
        legacy = json.loads((folder / f"volume_leaders_{timeframe}.json").read_text())["leaders"]
        mine = _leaders(db, timeframe)
        assert set(legacy) == set(mine)
        for day, entries in legacy.items():
            want = [
                (int(e["rank"]), str(e.get("symbol") or e.get("ticker")), int(e["volume"]), float(e["price"]))
                for e in entries
            ]
            assert mine[day] == want, (timeframe, day)
    db.close()


def test_legacy_rule_against_a_plain_reference(empty_db) -> None:
    """The legacy rankings (read from the columnar mirror) against the rule written out in plain
    Python over price_history's rows: ties of volume go to the first symbol, a bar without a
    volume or a close is never ranked, a ticker with no bar that day is absent, and the days
    are counted over every date in price_history (a date only the benchmark traded counts)."""
    from quantdb.storage.mirror import current_mirror

    db = empty_db
    days = [f"2024-03-{d:02d}" for d in range(1, 13)]
    bars = {  # symbol -> {day index: (close, volume)}; None: the field is empty
        "SPY": {i: (400.0, 10**9) for i in range(12)},  # the only bar on day 3
        "AAA": {i: (10.0 + i, 500) for i in range(12) if i != 3},
        "ABB": {i: (20.0 + i, 500 if i % 2 else 700) for i in range(12) if i != 3},  # ties AAA on odd days
        "ZZZ": {i: (5.0, 900 if i != 6 else None) for i in range(12) if i != 3},  # day 6: no volume
        "MMM": {i: (None if i == 10 else 7.5, 800) for i in range(12) if i not in (3, 8)},  # day 10: no close
    }
    with db.atomic() as conn:
        for sym, by_day in bars.items():
            tid = conn.execute("INSERT INTO tickers (symbol) VALUES (?) RETURNING id", (sym,)).fetchone()[0]
            conn.executemany(
                "INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close) "
                "VALUES (?, ?, 1, 1, 1, ?, ?, 1)",
                [(tid, days[i], c, v) for i, (c, v) in by_day.items()],
            )
    assert current_mirror(db).dates.size == 12
    compute_leaders(db, top=3)

    rows = db.query(
        "SELECT p.date, t.symbol, p.close, p.volume FROM price_history p JOIN tickers t ON t.id = p.ticker_id"
    )
    all_days = sorted({r[0] for r in rows})
    for timeframe, step in (("daily", 1), ("weekly", 5), ("monthly", 21)):
        expected: dict[str, list[tuple[int, str, int, float]]] = {}
        for day in all_days[::step]:
            ranked = sorted(
                ((sym, vol, close) for d, sym, close, vol in rows
                 if d == day and sym != "SPY" and vol is not None and close is not None),
                key=lambda r: (-r[1], r[0]),
            )[:3]
            if ranked:
                expected[day] = [(k, sym, vol, round(close, 2)) for k, (sym, vol, close) in enumerate(ranked, 1)]
        assert _leaders(db, timeframe) == expected, timeframe
    daily = _leaders(db, "daily")
    assert "2024-03-04" not in daily  # only SPY traded: counted, never ranked
    assert [e[1] for e in daily["2024-03-02"]] == ["ZZZ", "MMM", "AAA"]  # AAA ties ABB at 500: first symbol
    assert [e[1] for e in daily["2024-03-07"]] == ["MMM", "ABB", "AAA"]  # ZZZ has no volume
    assert [e[1] for e in daily["2024-03-11"]] == ["ZZZ", "ABB", "AAA"]  # MMM has no close
