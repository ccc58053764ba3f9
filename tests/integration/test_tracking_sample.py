"""Tracking the migrated legacy sample reproduces the statuses the old system recorded.

What the data says about the old system's rules (found by replaying its 2,000 predictions):

* it judged targets and stops on the **close** only, never on intraday highs and lows
  (``bars="close"``); with high/low touches about 1 in 6 of its statuses would differ;
* it started with the bar after the prediction day and counted ``timeframe`` in trading bars
  (1w = 5, 2w = 10, 1m = 21), expiring at the close of the last one;
* its prices are split-adjusted (NVDA's 2015 entries equal the adjusted close, half the raw
  one), which track_update detects per prediction.

Each remaining mismatch has one of three reasons, and the test checks that every mismatch
has one (and that there are few):

``target_missing``
    the legacy record's target is NaN (stored as NULL), yet the old system said hit_target:
    the level it used is lost, so no replay can confirm it;
``expiry_not_yet_recorded``
    the timeframe ended on the sample's last day (2017-11-30): we expire the prediction at
    that close, while the old system, which wrote the file at 16:05 that day, still had it
    open (it recorded an expiry only on the next run);
``half_cent``
    a close within half a cent of the written target or stop: the files keep levels rounded
    to cents, so the old system's unrounded level could fall on either side.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from quantdb.services.live.tracking import track_update
from quantdb.services.records.migrate import migrate_folder

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample"
LAST_DAY = "2017-11-30"


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    from quantdb.storage.sqlite import Database

    db = Database(tmp_path_factory.mktemp("track_sample") / "quant.db")
    migrate_folder(db, SAMPLE)
    legacy = {r[0]: r[1] for r in db.query("SELECT id, status FROM predictions")}
    with db.atomic() as conn:  # forget every outcome, then replay them all from the prices
        conn.execute("UPDATE predictions SET status = 'open', exit_date = NULL, exit_price = NULL")
    report = track_update(db, asof=LAST_DAY, bars="close")
    mine = {
        r[0]: tuple(r[1:])
        for r in db.query(
            "SELECT id, status, exit_date, target, stop_loss, ticker_id, date, timeframe_days FROM predictions"
        )
    }
    yield db, legacy, mine, report
    db.close()


def _reason(db, legacy_status: str, row: tuple) -> str | None:
    status, exit_date, target, stop, ticker_id, day, _tf = row
    if legacy_status == "hit_target" and target is None:
        return "target_missing"
    if legacy_status == "open" and status == "expired" and exit_date == LAST_DAY:
        return "expiry_not_yet_recorded"
    last = exit_date or LAST_DAY
    near = db.scalar(
        "SELECT count(*) FROM price_history WHERE ticker_id = ? AND date > ? AND date <= ? AND close IS NOT NULL "
        "AND (abs(coalesce(adj_close, close) - ?) < 0.005 OR abs(coalesce(adj_close, close) - ?) < 0.005)",
        (
            ticker_id,
            day,
            last,
            target if target is not None else -1.0,
            stop if stop is not None else -1.0,
        ),
    )
    return "half_cent" if near else None


def test_replay_reproduces_the_legacy_statuses(replay) -> None:
    db, legacy, mine, report = replay
    assert report.checked["predictions"] == len(legacy) == 2000
    mismatches = {pid: (legacy[pid], mine[pid][0]) for pid in legacy if legacy[pid] != mine[pid][0]}
    reasons = Counter(_reason(db, legacy[pid], mine[pid]) for pid in mismatches)
    assert reasons[None] == 0, {
        pid: m for pid, m in mismatches.items() if _reason(db, legacy[pid], mine[pid]) is None
    }
    assert len(mismatches) <= 15  # 13 on this sample: 8 target_missing, 2 expiry, 3 half_cent
    assert set(reasons) <= {"target_missing", "expiry_not_yet_recorded", "half_cent"}
    matched = sum(legacy[p] == mine[p][0] for p in legacy)
    assert matched / len(legacy) > 0.99


def test_closed_predictions_carry_day_and_price(replay) -> None:
    db, *_ = replay
    bad = db.scalar(
        "SELECT count(*) FROM predictions WHERE status <> 'open' AND (exit_date IS NULL OR exit_price IS NULL "
        "OR exit_date <= date)"
    )
    assert bad == 0
    # with the close rule every exit price is that day's close in the prediction's units: the
    # adjusted close, up to the files' rounding (close has 4 decimals, adj_close 6, so the
    # adjustment factor of an unsplit ticker is 1 only to about 1e-5: a few 1e-5 in price)
    off = db.scalar(
        "SELECT count(*) FROM predictions p JOIN price_history b ON b.ticker_id = p.ticker_id AND b.date = p.exit_date "
        "WHERE p.status <> 'open' AND abs(p.exit_price - coalesce(b.adj_close, b.close)) > 2e-4"
    )
    assert off == 0
