"""track_update on hand-made bars: every exit rule, both sides, P&L with fees and slippage, idempotence."""

from __future__ import annotations

import pytest

from quantdb.dates import DateError
from quantdb.errors import NotFound
from quantdb.services.live.tracking import (
    TrackingError,
    close_trade,
    record_fill,
    record_prediction,
    slippage_bps,
    track_update,
)

DAYS = [
    "2024-01-02",
    "2024-01-03",
    "2024-01-04",
    "2024-01-05",
    "2024-01-08",
    "2024-01-09",
    "2024-01-10",
]


def add_bars(
    db,
    symbol: str,
    bars: list[tuple[float, float, float, float]],
    *,
    adj: list[float] | None = None,
) -> None:
    """Bars (open, high, low, close) on DAYS[0], DAYS[1], ... for a new ticker."""
    with db.atomic() as conn:
        conn.execute("INSERT INTO tickers (symbol) VALUES (?)", (symbol,))
        tid = conn.execute("SELECT id FROM tickers WHERE symbol = ?", (symbol,)).fetchone()[0]
        conn.executemany(
            "INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close) "
            "VALUES (?, ?, ?, ?, ?, ?, 1000, ?)",
            [
                (tid, DAYS[i], o, h, lo, c, c if adj is None else adj[i])
                for i, (o, h, lo, c) in enumerate(bars)
            ],
        )


FLAT = (100.0, 101.0, 99.0, 100.0)


def predict(db, symbol: str, position: str = "LONG", **kw) -> int:
    args = {
        "entry_price": 100.0,
        "target": 110.0 if position == "LONG" else 90.0,
        "stop_loss": 95.0 if position == "LONG" else 105.0,
        "timeframe_days": 5,
    }
    args.update(kw)
    return record_prediction(
        db, strategy="unit", ticker=symbol, position=position, date=DAYS[0], **args
    )


def status(db, pid: int) -> tuple[str, str | None, float | None]:
    row = db.query("SELECT status, exit_date, exit_price FROM predictions WHERE id = ?", (pid,))[0]
    return row[0], row[1], row[2]


@pytest.fixture
def scenarios(empty_db):
    db = empty_db
    cases = {}
    # long
    add_bars(db, "TGT", [FLAT, (101, 111, 100, 108), FLAT])
    cases["long_target"] = (predict(db, "TGT"), ("hit_target", DAYS[1], 110.0))
    add_bars(db, "STP", [FLAT, (99, 100, 94, 96), FLAT])
    cases["long_stop"] = (predict(db, "STP"), ("stopped", DAYS[1], 95.0))
    add_bars(db, "GAPS", [FLAT, FLAT, (90, 92, 89, 91)])
    cases["long_gap_stop"] = (predict(db, "GAPS"), ("stopped", DAYS[2], 90.0))
    add_bars(db, "GAPT", [FLAT, (113, 115, 112, 114)])
    cases["long_gap_target"] = (predict(db, "GAPT"), ("hit_target", DAYS[1], 113.0))
    add_bars(db, "BOTH", [FLAT, (100, 112, 94, 101)])
    cases["long_both_stop_first"] = (predict(db, "BOTH"), ("stopped", DAYS[1], 95.0))
    add_bars(db, "EXP", [FLAT, FLAT, FLAT, FLAT, FLAT, (100, 101, 99, 100.5), FLAT])
    cases["long_expiry"] = (predict(db, "EXP"), ("expired", DAYS[5], 100.5))
    add_bars(db, "OPEN", [FLAT, FLAT, (100, 101, 99, 103)])
    cases["long_still_open"] = (predict(db, "OPEN"), ("open", None, None))
    # short (target 90, stop 105)
    add_bars(db, "SSTP", [FLAT, (101, 106, 100, 104)])
    cases["short_stop"] = (predict(db, "SSTP", "SHORT"), ("stopped", DAYS[1], 105.0))
    add_bars(db, "STGT", [FLAT, FLAT, (95, 96, 89, 92)])
    cases["short_target"] = (predict(db, "STGT", "SHORT"), ("hit_target", DAYS[2], 90.0))
    add_bars(db, "SGAP", [FLAT, (108, 109, 107, 108)])
    cases["short_gap_stop"] = (predict(db, "SGAP", "SHORT"), ("stopped", DAYS[1], 108.0))
    add_bars(db, "SEXP", [FLAT, FLAT, (100, 101, 99, 98)])
    cases["short_expiry_2"] = (
        predict(db, "SEXP", "SHORT", timeframe_days=2),
        ("expired", DAYS[2], 98.0),
    )
    # the entry day's own bar is never an exit: a touch on DAYS[0] does not count
    add_bars(db, "DAY0", [(100, 120, 80, 100), FLAT])
    cases["entry_bar_ignored"] = (predict(db, "DAY0"), ("open", None, None))
    return db, cases


def test_every_exit_rule(scenarios) -> None:
    db, cases = scenarios
    report = track_update(db, asof=None)
    assert report.checked["predictions"] == len(cases)
    for name, (pid, expected) in cases.items():
        got = status(db, pid)
        assert got[:2] == expected[:2], name
        if expected[2] is None:
            assert got[2] is None, name
        else:
            assert got[2] == pytest.approx(expected[2], rel=1e-12), name
    closed = report.closed["predictions"]
    assert sum(closed.values()) == sum(1 for _, e in cases.values() if e[0] != "open")


def test_asof_sees_no_later_bar_and_rerun_is_idempotent(scenarios) -> None:
    db, cases = scenarios
    r1 = track_update(db, asof=DAYS[1])
    assert status(db, cases["long_gap_stop"][0])[0] == "open"  # its gap is on DAYS[2]
    assert status(db, cases["long_target"][0])[0] == "hit_target"
    assert r1.closed["predictions"]["hit_target"] == 2
    track_update(db, asof=None)

    def dump() -> list[tuple]:
        out = []
        for table in ("predictions", "trades", "performance_metrics"):
            out += [tuple(r) for r in db.query(f"SELECT * FROM {table} ORDER BY id")]
        return out

    before = dump()
    again = track_update(db, asof=None)
    assert dump() == before
    assert again.rows_changed == 0
    assert sum(again.closed["predictions"].values()) == 0


def test_close_rule_judges_on_the_close(empty_db) -> None:
    db = empty_db
    add_bars(db, "WICK", [FLAT, (100, 112, 94, 101), (101, 105, 100, 111)])
    pid = predict(db, "WICK")
    track_update(db, asof=None, bars="close")
    assert status(db, pid) == ("hit_target", DAYS[2], 111.0)  # the wick on DAYS[1] did not count


def test_split_adjusted_levels_compare_with_adjusted_bars(empty_db) -> None:
    """Entry quoted in adjusted units (legacy files): raw bars are scaled by adj_close / close."""
    db = empty_db
    raw = [(200, 202, 198, 200), (200, 202, 198, 200), (212, 224, 210, 222)]
    add_bars(db, "SPLT", raw, adj=[100.0, 100.0, 111.0])
    pid = predict(
        db, "SPLT"
    )  # entry 100 = the adjusted close; target 110 reached at adjusted high 112
    track_update(db, asof=None)
    assert status(db, pid) == ("hit_target", DAYS[2], 110.0)


def test_trade_pnl_with_fees_and_slippage(empty_db) -> None:
    db = empty_db
    add_bars(db, "PNL", [FLAT, FLAT, (101, 111, 100, 108)])
    add_bars(db, "SHRT", [FLAT, (101, 106, 100, 104)])
    add_bars(db, "MARK", [FLAT, FLAT, (100, 104, 99, 103)])
    long_id = predict(db, "PNL")
    fill = record_fill(db, long_id, 100.5, 10, signal_price=100.0, fees=1.0)
    assert fill.slippage_bps == pytest.approx(50.0)
    assert fill.slippage_cost == pytest.approx(5.0)
    short_id = predict(db, "SHRT", "SHORT")
    sfill = record_fill(db, short_id, 99.8, 20, signal_price=100.0, fees=1.0)
    assert sfill.slippage_bps == pytest.approx(20.0)  # sold 0.2 below the signal: a cost
    open_id = predict(db, "MARK")
    record_fill(db, open_id, 100.0, 7, signal_price=100.0, fees=0.5)

    report = track_update(db, asof=None, exit_fee=1.0, slippage_bps=10.0)
    assert report.closed["trades"] == {"hit_target": 1, "stopped": 1, "expired": 0}
    rows = {
        r[0]: tuple(r)
        for r in db.query(
            "SELECT prediction_id, status, exit_date, exit_price, fees, pnl, pnl_computed, exit_reason FROM trades"
        )
    }
    long_exit = 110.0 * (1 - 10 / 1e4)  # sold 10 bps under the target
    assert rows[long_id][1:5] == ("CLOSED", DAYS[2], pytest.approx(long_exit), 2.0)
    assert rows[long_id][5] == pytest.approx((long_exit - 100.5) * 10 - 2.0, rel=1e-12)
    assert rows[long_id][6] == rows[long_id][5] and rows[long_id][7] == "hit_target"
    short_exit = 105.0 * (1 + 10 / 1e4)  # bought back 10 bps over the stop
    assert rows[short_id][3] == pytest.approx(short_exit)
    assert rows[short_id][5] == pytest.approx(-(short_exit - 99.8) * 20 - 2.0, rel=1e-12)
    assert rows[open_id][1] == "OPEN"
    realized = rows[long_id][5] + rows[short_id][5]
    unrealized = (103.0 - 100.0) * 7 - 0.5  # marked at the last close, entry fee paid
    assert report.realized_pnl == pytest.approx(realized, rel=1e-12)
    assert report.unrealized_pnl == pytest.approx(unrealized, rel=1e-9)
    snap = db.query(
        "SELECT win_rate, profit_factor, realized_pnl, unrealized_pnl, n_open, n_closed, accuracy "
        "FROM performance_metrics"
    )[0]
    wins, losses = max(rows[long_id][5], 0), -min(rows[short_id][5], 0)
    assert tuple(snap) == pytest.approx((0.5, wins / losses, realized, unrealized, 1, 2, 0.5))


def test_manual_close_and_errors(empty_db) -> None:
    db = empty_db
    add_bars(db, "MAN", [FLAT, FLAT])
    pid = predict(db, "MAN", target=None, stop_loss=None, timeframe_days=None)
    tid = record_fill(db, pid, 100.0, 5, fees=1.0).trade_id
    pnl = close_trade(db, tid, 104.0, date=DAYS[1], fees=1.0)
    assert pnl == pytest.approx(4.0 * 5 - 2.0)
    with pytest.raises(TrackingError, match="not OPEN"):
        close_trade(db, tid, 104.0, date=DAYS[1])
    with pytest.raises(NotFound):
        record_fill(db, 999, 1.0, 1)
    with pytest.raises(TrackingError, match="target"):
        record_prediction(
            db, strategy="x", ticker="MAN", position="LONG", entry_price=100.0, target=90.0
        )
    with pytest.raises(TrackingError, match="bars"):
        track_update(db, bars="wick")  # type: ignore[arg-type]
    assert slippage_bps("long", 99.0, 100.0) == pytest.approx(
        -100.0
    )  # bought below the signal: a gain


def test_nothing_open_without_levels_stays_open(empty_db) -> None:
    db = empty_db
    add_bars(db, "NOLV", [FLAT, (50, 200, 10, 100)])
    pid = predict(db, "NOLV", target=None, stop_loss=None, timeframe_days=None)
    track_update(db, asof=DAYS[1])
    assert status(db, pid) == ("open", None, None)
    assert db.scalar("SELECT n_open FROM performance_metrics") == 1


def test_empty_prices_is_not_found(empty_db) -> None:
    with pytest.raises(NotFound):
        track_update(empty_db)
    add_bars(empty_db, "ONE", [FLAT])
    with pytest.raises(DateError, match="YYYY-MM-DD, got '2024-13-01'"):
        track_update(empty_db, asof="2024-13-01")
    with pytest.raises(DateError, match="after the newest price"):  # was accepted silently
        track_update(empty_db, asof="2099-01-02")
