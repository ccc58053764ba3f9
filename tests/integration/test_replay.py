"""Prediction replay: recorded predictions as entries, their own (or global) levels as exits.

Three independent references:

* the tracking service (``track_update``, an SQL implementation of the same exit rules) on
  the migrated legacy sample: with the close rule every prediction's exit reason and exit day
  equal tracking's outcome, so the replay also reproduces the legacy statuses up to the 13
  mismatches that ``test_tracking_sample.py`` explains;
* :func:`quantdb.kernels.simulate.simulate` (global fractional levels): trades that cannot
  overlap, given the same levels as absolute prices, give the same trades and equity;
* hand-made bars for each rule (target, stop, gap, ambiguous bar, expiry, short, end).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from quantdb.errors import ArgumentError, NotFound
from quantdb.kernels.replay import REPLAY_STATUS, replay_trades
from quantdb.kernels.simulate import EXIT_REASONS, simulate
from quantdb.services.research.replay import (
    exit_outcomes,
    replay_predictions,
)
from quantdb.settings import SimSettings

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample"
LAST_DAY = "2017-11-30"
STRATEGIES = ("earnings_drift", "mean_reversion", "ml_ensemble", "momentum", "volume_breakout")
REASON = {name: i for i, name in enumerate(EXIT_REASONS)}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The legacy sample migrated, its legacy statuses, and tracking's replay of them (close rule)."""
    from quantdb.services.live.tracking import track_update
    from quantdb.services.records.migrate import migrate_folder
    from quantdb.storage.sqlite import Database

    db = Database(tmp_path_factory.mktemp("replay_sample") / "quant.db")
    migrate_folder(db, SAMPLE)
    legacy = {r[0]: r[1] for r in db.query("SELECT id, status FROM predictions")}
    with db.atomic() as conn:
        conn.execute("UPDATE predictions SET status = 'open', exit_date = NULL, exit_price = NULL")
    track_update(db, asof=LAST_DAY, bars="close")
    tracked = {r[0]: tuple(r[1:]) for r in db.query("SELECT id, status, exit_date, exit_price FROM predictions")}
    yield db, legacy, tracked
    db.close()


# ------------------------------------------------------------------ against tracking, legacy
def test_own_exits_with_the_close_rule_equal_tracking(sample) -> None:
    db, legacy, tracked = sample
    # one share each and ample cash: every prediction is traded, whatever the others do
    st = SimSettings(cash=1e9, sizing="shares", sizing_value=1.0, fractional=True, fill="close")
    mine: dict[int, tuple[str, str, float]] = {}
    for name in STRATEGIES:
        res = replay_predictions(db, name, end=LAST_DAY, settings=st, bars="close", store=False)
        assert res.strategy == f"replay:{name}"
        assert set(res.prediction_status.values()) == {"traded"}
        outcome = exit_outcomes(res)
        for row in res.trades().iter_rows(named=True):
            pid = row["prediction_id"]
            mine[pid] = (outcome[pid], str(row["exit_date"]), row["exit_price"])
    assert len(mine) == len(tracked) == 2000
    # exit reason and day: identical for every prediction ("open" = still open on the last day)
    diff = {p: (mine[p][:2], tracked[p][:2]) for p in tracked
            if mine[p][0] != tracked[p][0] or (mine[p][0] != "open" and mine[p][1] != tracked[p][1])}
    assert diff == {}
    # exit price: tracking reports it in the prediction's units, the replay in adjusted units.
    # The sample's unsplit tickers have close (4 decimals) and adj_close (6) equal only up to
    # rounding, so where tracking read a prediction as raw units its price differs from ours
    # by that factor: at most ~1.2e-5 relative on this sample (the rounding of a $4 close)
    rel = [abs(mine[p][2] - tracked[p][2]) / tracked[p][2] for p in tracked if tracked[p][0] != "open"]
    assert max(rel) < 2e-5
    # and so the replay reproduces the legacy statuses as tracking does (13 explained
    # mismatches: see test_tracking_sample.py; none is the replay's own)
    mism = Counter((legacy[p], mine[p][0]) for p in legacy if legacy[p] != mine[p][0])
    assert sum(mism.values()) <= 15
    assert sum(legacy[p] == mine[p][0] for p in legacy) / len(legacy) > 0.99


def test_settings_exits_with_a_tight_stop_stop_more(sample) -> None:
    db, _, _ = sample
    own = replay_predictions(db, "momentum", end=LAST_DAY, store=False)
    tight = replay_predictions(
        db, "momentum", end=LAST_DAY, exits="settings",
        stop_loss=0.005, max_hold_bars=10, store=False,
    )
    n_stop_own = own.stats()["exit_reasons"].get("stop", 0)
    n_stop_tight = tight.stats()["exit_reasons"].get("stop", 0)
    assert n_stop_tight > n_stop_own
    assert tight.stats()["exit_reasons"].get("target", 0) == 0  # no take_profit set: none
    # every trade belongs to its prediction: same ticker, entered at the next bar's open
    preds = {r[0]: (r[1], r[2]) for r in db.query(
        "SELECT p.id, t.symbol, p.date FROM predictions p JOIN tickers t ON t.id = p.ticker_id")}
    trades = tight.trades()
    assert trades["prediction_id"].n_unique() == trades.height
    for row in trades.iter_rows(named=True):
        symbol, day = preds[row["prediction_id"]]
        assert row["ticker"] == symbol
        assert str(row["entry_date"]) > day
        assert row["bars_held"] <= 10
    # the sample's predictions are on trading days: the entry is the very next bar
    dates = tight.dates.astype("datetime64[D]").astype(str).tolist()
    for row in trades.iter_rows(named=True):
        day = preds[row["prediction_id"]][1]
        assert dates.index(str(row["entry_date"])) == dates.index(day) + 1


def test_replay_is_stored(sample) -> None:
    db, _, _ = sample
    res = replay_predictions(db, "ml_ensemble", end=LAST_DAY, store=True)
    assert res.backtest_id is not None
    row = db.query(
        "SELECT s.name, b.params_json, b.trades FROM backtest_results b JOIN strategies s ON s.id = b.strategy_id "
        "WHERE b.id = ?", (res.backtest_id,))[0]
    assert row[0] == "replay:ml_ensemble"
    assert json.loads(row[1])["exits"] == "own"
    assert row[2] == res.stats()["n_trades"] == db.scalar(
        "SELECT count(*) FROM backtest_trades WHERE backtest_id = ?", (res.backtest_id,))
    # shared cash: the equity curve ends at the cash plus every trade's P&L
    assert res.equity_curve[-1] == pytest.approx(res.settings.cash + res.trade_records["pnl"].sum(), rel=1e-9)


def test_bad_requests(sample) -> None:
    db, _, _ = sample
    with pytest.raises(NotFound, match="momentum"):
        replay_predictions(db, "no-such-strategy", store=False)
    with pytest.raises(ArgumentError, match="exits='settings'"):
        replay_predictions(db, "momentum", stop_loss=0.05, store=False)
    with pytest.raises(ArgumentError, match="at least one"):
        replay_predictions(db, "momentum", exits="settings", store=False)
    with pytest.raises(ArgumentError, match="exits must be"):
        replay_predictions(db, "momentum", exits="mine", store=False)  # type: ignore[arg-type]


def test_cli_json_parses(sample) -> None:
    import typer
    from typer.testing import CliRunner

    from quantdb.cli.replay_cmds import register

    db, _, _ = sample
    day = {r[0]: r[1] for r in db.query("SELECT id, date FROM predictions")}
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    args = ["replay", "momentum", "--db", str(db.path), "--end", LAST_DAY, "--exits", "settings",
            "--stop-loss", "0.02", "--max-hold", "10", "--fill", "close", "--commission", "0.001",
            "--cash", "50000", "--sizing", "cash:2000", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["strategy"] == "replay:momentum"
    assert doc["params"]["exits"] == "settings"
    assert doc["stats"]["n_trades"] == len(doc["trades"]) > 0
    assert {"prediction_id", "ticker", "exit_reason"} <= set(doc["trades"][0])
    assert len({t["prediction_id"] for t in doc["trades"]}) == len(doc["trades"])
    # filled at the close of its day (or of the next bar, for the one SG prediction made on a
    # day without an SG bar: 2017-09-04, Labor Day)
    assert all(t["entry_date"] >= day[t["prediction_id"]] for t in doc["trades"])
    assert sum(t["entry_date"] == day[t["prediction_id"]] for t in doc["trades"]) >= len(doc["trades"]) - 1
    assert isinstance(doc["backtest_id"], int)
    bad = CliRunner().invoke(app, ["replay", "momentum", "--db", str(db.path), "--stop-loss", "0.05", "--json"])
    assert bad.exit_code == 2


# ------------------------------------------------------------------ against simulate
@pytest.mark.parametrize("fill", ["close", "next-open"])
def test_non_overlapping_trades_equal_simulate(fill: str) -> None:
    """Per-trade absolute levels equal to simulate's fractional ones give the same trades."""
    rng = np.random.default_rng(1337)
    n, every, hold, sl, tp = 600, 25, 15, 0.04, 0.06
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.01, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.012, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.012, n)))
    sig = np.arange(5, n - 1, every)
    side = np.where(rng.random(len(sig)) < 0.5, 1.0, -1.0)
    # simulate's levels are fractions of the market fill: the signal close, or the next open
    ref = close[sig] if fill == "close" else open_[sig + 1]
    stop = ref * (1.0 - side * sl)
    target = ref * (1.0 + side * tp)
    # simulate counts max_hold from its entry bar, the replay from the signal bar
    horizon = np.full(len(sig), hold if fill == "close" else hold + 1)
    st = SimSettings(cash=10_000.0, commission=0.001, slippage_bps=5.0, sizing="equity",
                     sizing_value=0.5, fractional=True, fill=fill, borrow_rate=0.02)  # type: ignore[arg-type]
    mine = replay_trades(open_, high, low, close, np.zeros(len(sig), dtype=np.int64), sig, side,
                         target, stop, horizon, settings=st)
    le = np.zeros(n, dtype=bool)
    se = np.zeros(n, dtype=bool)
    le[sig[side > 0]] = True
    se[sig[side < 0]] = True
    none = np.zeros(n, dtype=bool)
    ref_run = simulate(open_, high, low, close, le, none, se, none, portfolio=True,
                       settings=SimSettings(**{**st.__dict__, "direction": "both", "stop_loss": sl,
                                               "take_profit": tp, "max_hold_bars": hold}))
    assert len(mine.trades) == len(ref_run.trades) == len(sig)
    for name in ("entry_index", "exit_index", "exit_reason", "column", "bars_held"):
        np.testing.assert_array_equal(mine.trades[name], ref_run.trades[name], err_msg=name)
    for name in ("entry_price", "exit_price", "size", "pnl", "return", "fees"):
        np.testing.assert_allclose(mine.trades[name], ref_run.trades[name], rtol=1e-12, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(mine.equity, ref_run.equity, rtol=1e-12)
    np.testing.assert_allclose(mine.exposure, ref_run.exposure, rtol=1e-12, atol=1e-15)
    assert mine.ambiguous_exits == int(ref_run.ambiguous_exits.sum())
    assert set(Counter(mine.trades["exit_reason"].tolist())) >= {REASON["stop"], REASON["target"], REASON["time"]}


# ------------------------------------------------------------------ hand-made bars
NAN = np.nan
ONE = SimSettings(cash=1e6, sizing="shares", sizing_value=10.0, fill="close")


def _one(o, h, lo, c, side, target, stop, horizon, *, settings=ONE, bars="intrabar", signal=0):
    r = replay_trades(np.array(o, float), np.array(h, float), np.array(lo, float), np.array(c, float),
                      np.array([0]), np.array([signal]), np.array([side], float), np.array([target], float),
                      np.array([stop], float), np.array([horizon]), settings=settings, bars=bars)
    assert len(r.trades) == 1
    t = r.trades[0]
    return EXIT_REASONS[int(t["exit_reason"])], float(t["exit_price"]), int(t["exit_index"]), r


#     bar:     0      1      2      3      4
O = [100.0, 101.0, 102.0, 103.0, 104.0]
H = [100.5, 102.0, 103.0, 104.0, 105.0]
L = [99.5, 100.0, 101.0, 102.0, 103.0]
C = [100.0, 101.5, 102.5, 103.5, 104.5]


def test_target_hit_inside_a_bar() -> None:
    reason, px, i, r = _one(O, H, L, C, 1.0, 102.8, 95.0, -1)
    assert (reason, px, i) == ("target", 102.8, 2)
    assert r.trades[0]["pnl"] == pytest.approx(10 * (102.8 - 100.0))
    assert r.equity[-1] == pytest.approx(1e6 + 28.0)


def test_stop_hit_inside_a_bar_with_slippage() -> None:
    lo = [99.5, 100.0, 98.0, 102.0, 103.0]
    st = SimSettings(cash=1e6, sizing="shares", sizing_value=10.0, fill="close", slippage_bps=10.0)
    reason, px, i, r = _one(O, H, lo, C, 1.0, 110.0, 99.0, -1, settings=st)
    assert (reason, i) == ("stop", 2)
    assert px == pytest.approx(99.0 * (1 - 0.001))  # a stop is a market order: slipped
    assert r.trades[0]["entry_price"] == pytest.approx(100.0 * 1.001)


def test_gaps_fill_at_the_open() -> None:
    # long: bar 2 opens at 97, below the stop at 99: out at the open, worse than the stop
    reason, px, i, _ = _one([100, 101, 97, 98, 99], [100, 101.5, 98, 99, 100], [100, 100.5, 96, 97, 98],
                            [100, 101, 97.5, 98.5, 99.5], 1.0, 110.0, 99.0, -1)
    assert (reason, px, i) == ("stop", 97.0, 2)
    # long: bar 1 opens at 108, above the target at 105: out at the open, better than the target
    reason, px, i, _ = _one([100, 108, 109, 110, 111], [100, 109, 110, 111, 112], [100, 107, 108, 109, 110],
                            [100, 108.5, 109.5, 110.5, 111.5], 1.0, 105.0, 95.0, -1)
    assert (reason, px, i) == ("target", 108.0, 1)


def test_ambiguous_bar_counts_and_reads_stop_first() -> None:
    h = [100.5, 106.0, 103.0, 104.0, 105.0]  # bar 1 reaches the target ...
    lo = [99.5, 94.0, 101.0, 102.0, 103.0]  # ... and the stop
    reason, px, i, r = _one(O, h, lo, C, 1.0, 105.0, 95.0, -1)
    assert (reason, px, i) == ("stop", 95.0, 1)
    assert r.ambiguous_exits == 1 and r.ambiguous.tolist() == [True]
    st = SimSettings(cash=1e6, sizing="shares", sizing_value=10.0, fill="close", ambiguous="target-first")
    reason, px, i, r = _one(O, h, lo, C, 1.0, 105.0, 95.0, -1, settings=st)
    assert (reason, px, i, r.ambiguous_exits) == ("target", 105.0, 1, 1)
    # the close rule sees only the close of bar 1 (101.5): no exit there at all
    reason, _, i, r = _one(O, h, lo, C, 1.0, 105.0, 95.0, -1, bars="close")
    assert (reason, i, r.ambiguous_exits) == ("end", 4, 0)


def test_expiry_at_the_close_of_bar_timeframe() -> None:
    reason, px, i, r = _one(O, H, L, C, 1.0, 200.0, 50.0, 3)
    assert (reason, px, i, int(r.trades[0]["bars_held"])) == ("time", 103.5, 3, 3)
    # filled at the next open, the same prediction still expires at the close of bar 3
    st = SimSettings(cash=1e6, sizing="shares", sizing_value=10.0, fill="next-open")
    reason, px, i, r = _one(O, H, L, C, 1.0, 200.0, 50.0, 3, settings=st)
    assert (reason, px, i) == ("time", 103.5, 3)
    assert (r.trades[0]["entry_price"], int(r.trades[0]["bars_held"])) == (101.0, 2)
    # decided on a day without a bar: even with fill="close" it enters at the next open
    r = replay_trades(np.array(O), np.array(H), np.array(L), np.array(C), np.array([0]), np.array([0]),
                      np.array([1.0]), np.array([200.0]), np.array([50.0]), np.array([3]), settings=ONE,
                      next_open=np.array([True]))
    assert r.trades[["entry_index", "entry_price", "exit_index"]].tolist() == [(1, 101.0, 3)]
    # a bar the ticker did not trade is not counted
    c = [100.0, 101.5, NAN, 103.5, 104.5]
    reason, px, i, _ = _one(O, H, L, c, 1.0, 200.0, 50.0, 3)
    assert (reason, px, i) == ("time", 104.5, 4)


def test_short_side() -> None:
    # short at 100: target 98 below, stop 103 above; bar 2's low reaches 97.5
    h = [100.5, 101.0, 101.5, 104.0, 105.0]
    lo = [99.5, 99.0, 97.5, 99.0, 99.0]
    reason, px, i, r = _one(O, h, lo, C, -1.0, 98.0, 103.0, -1)
    assert (reason, px, i) == ("target", 98.0, 2)
    t = r.trades[0]
    assert t["size"] == -10.0 and t["pnl"] == pytest.approx(20.0) and t["return"] == pytest.approx(0.02)
    # the stop is hit by the high (bar 3 reaches 104)
    reason, px, i, r = _one(O, H, L, C, -1.0, 90.0, 103.5, -1)
    assert (reason, px, i) == ("stop", 103.5, 3)
    assert r.trades[0]["pnl"] == pytest.approx(-35.0)


def test_still_open_on_the_last_bar_and_entries_not_possible() -> None:
    reason, px, i, _ = _one(O, H, L, C, 1.0, 200.0, 50.0, -1)
    assert (reason, px, i) == ("end", 104.5, 4)
    # signalled on the last bar: nothing to trade
    r = replay_trades(np.array(O), np.array(H), np.array(L), np.array(C), np.array([0]), np.array([4]),
                      np.array([1.0]), np.array([200.0]), np.array([50.0]), np.array([-1]), settings=ONE)
    assert len(r.trades) == 0 and REPLAY_STATUS[int(r.status[0])] == "no_bar_after"


def test_shared_cash_limits_longs() -> None:
    # two longs on one day, each wants 60% of equity: the second finds too little cash
    st = SimSettings(cash=10_000.0, sizing="equity", sizing_value=0.6, fill="close")
    px = np.array(C)
    r = replay_trades(px, px, px, px, np.array([0, 0]), np.array([0, 0]), np.array([1.0, 1.0]),
                      np.array([NAN, NAN]), np.array([NAN, NAN]), np.array([2, 2]), settings=st)
    assert [REPLAY_STATUS[s] for s in r.status] == ["traded", "traded"]
    # the first buys 60 shares; with 4,000 cash left the second is cut to the 40 it affords
    assert r.trades["size"].tolist() == [60.0, 40.0]
    with pytest.raises(ArgumentError, match="own levels"):
        replay_trades(px, px, px, px, np.array([0]), np.array([0]), np.array([1.0]), np.array([NAN]),
                      np.array([NAN]), np.array([2]), settings=SimSettings(stop_loss=0.1))


def test_levels_in_raw_units_are_converted(tmp_path) -> None:
    """A prediction quoted in raw prices of a split ticker is judged in adjusted units."""
    import polars as pl

    from quantdb.services.live.tracking import record_prediction
    from quantdb.services.records.prices import insert_prices
    from quantdb.storage.migrations import apply_migrations
    from quantdb.storage.sqlite import Database

    db = Database(tmp_path / "q.db")
    apply_migrations(db)
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    raw = [200.0, 204.0, 212.0, 106.0, 107.0]  # a 2:1 split on 2024-01-05
    adj = [100.0, 102.0, 106.0, 106.0, 107.0]
    frame = pl.DataFrame({
        "ticker": ["XYZ"] * 5, "date": days, "open": raw, "high": [r * 1.001 for r in raw],
        "low": [r * 0.999 for r in raw], "close": raw, "adj_close": adj, "volume": [1000] * 5,
    })
    insert_prices(db, frame.with_columns(pl.col("date").str.to_date()), source="test")
    # raw units: entry 200 (the raw close), target 210 = adjusted 105, hit on 2024-01-04
    record_prediction(db, strategy="s", ticker="XYZ", position="LONG", date="2024-01-02",
                      entry_price=200.0, target=210.0, stop_loss=190.0, timeframe_days=3)
    st = SimSettings(cash=1e6, sizing="shares", sizing_value=1.0, fill="close")
    res = replay_predictions(db, "s", settings=st, bars="close", store=False)
    t = res.trades().row(0, named=True)
    assert (t["exit_reason"], str(t["exit_date"]), t["entry_price"], t["exit_price"]) == \
        ("target", "2024-01-04", 100.0, 106.0)
    db.close()
