"""quantdb.datasets: the synthetic market and the legacy-folder writer.

The legacy folder is compared with the real-shaped sample in ../shared/legacy/sample (or its
copy in tests/fixtures/legacy_sample once the lead has made it), and statuses, pnl and
leaders are re-derived here by slow, obvious code that reads the written files, not the
generator's arrays.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from quantdb.datasets import generate_market, prediction_outcomes, write_legacy_folder
from quantdb.datasets.legacy import STRATEGIES, TIMEFRAME_DAYS, timeframe_days
from quantdb.datasets.market import FIXED_TICKERS, SECTORS, Market
from quantdb.errors import QuantdbError

_HERE = Path(__file__).resolve()
_SAMPLE_CANDIDATES = (
    _HERE.parents[1] / "fixtures" / "legacy_sample",
    _HERE.parents[1] / "fixtures" / "legacy",
    _HERE.parents[3] / "shared" / "legacy" / "sample",
    Path("/work/shared/legacy/sample"),
)
SAMPLE = next((p for p in _SAMPLE_CANDIDATES if (p / "predictions_data.json").exists()), None)
needs_sample = pytest.mark.skipif(SAMPLE is None, reason="legacy sample folder not found")

BIG_JSON = (
    "predictions_data.json",
    "trades_data.json",
    "volume_leaders_daily.json",
    "volume_leaders_weekly.json",
    "volume_leaders_monthly.json",
)
SMALL_JSON = ("tickers_info.json", "strategies_config.json", "MANIFEST.json")


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> Market:
    return generate_market(20, 3, seed=11)


@pytest.fixture(scope="module")
def sample_like() -> Market:
    """Shaped like the sample: 40 stocks plus SPY over three years from 2015."""
    return generate_market(40, 3, seed=5, start="2015-01-02")


@pytest.fixture(scope="module")
def messy(sample_like: Market, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("legacy") / "messy"
    return out, write_legacy_folder(sample_like, out, seed=7)


@pytest.fixture(scope="module")
def damaged(small: Market, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("legacy") / "damaged"
    return out, write_legacy_folder(
        small, out, seed=3, n_predictions=300, n_trades=150, damage=True
    )


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))  # stdlib json reads the NaN literal


def read_price_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def parse_date(s: str) -> str:
    return dt.datetime.strptime(s, "%m/%d/%Y").date().isoformat() if "/" in s else s


# --- the market ------------------------------------------------------------------------------------


def test_same_seed_same_market_other_seed_other_market(small: Market) -> None:
    again = generate_market(20, 3, seed=11)
    other = generate_market(20, 3, seed=12)
    assert again.tickers == small.tickers and again.info == small.info
    for name in ("open", "high", "low", "close", "adj_close", "volume"):
        np.testing.assert_array_equal(getattr(again, name), getattr(small, name))
    np.testing.assert_array_equal(again.dates, small.dates)
    assert again.splits == small.splits
    assert not np.array_equal(other.close, small.close, equal_nan=True)


def test_dates_are_trading_days(small: Market) -> None:
    d = small.dates
    assert d.dtype == np.dtype("datetime64[D]")
    assert np.all(np.diff(d.astype(np.int64)) > 0)
    assert np.all(np.is_busday(d))
    days = {str(x) for x in d}
    # July 4th, Thanksgiving, Christmas, Good Friday 2014; 2015-07-04 was a Saturday (observed on the 3rd)
    assert not days & {
        "2013-07-04",
        "2013-11-28",
        "2013-12-25",
        "2015-07-03",
        "2015-01-01",
        "2014-04-18",
    }
    assert {"2013-07-05", "2013-11-29", "2015-07-06"} <= days
    no_holidays = generate_market(3, 1, seed=1, holidays=False).dates
    assert "2013-07-04" in {str(x) for x in no_holidays}
    # the dates are the XNYS sessions of exchange-calendars, the database's default calendar
    from quantdb.calendars import sessions

    np.testing.assert_array_equal(d, sessions("XNYS", d[0], d[-1]))
    late = {str(x) for x in generate_market(2, 1, seed=1, start="2022-01-03").dates}
    assert "2022-06-20" not in late and "2022-06-21" in late  # Juneteenth, observed
    assert 740 < d.shape[0] < 760  # three years of ~252 days


def test_tickers_are_realistic(small: Market) -> None:
    t = small.tickers
    assert len(t) == 21 and t[-1] == "SPY" and len(set(t)) == len(t)
    assert t[: len(FIXED_TICKERS)] == list(FIXED_TICKERS)
    assert all(re.fullmatch(r"[A-Z]{1,5}(\.[A-Z])?", s) for s in t)
    assert set(small.info) == set(t)
    assert {small.info[s]["sector"] for s in t[:-1]} <= set(SECTORS)
    assert small.info["SPY"]["sector"] == "ETF" and small.info["SPY"]["market_cap"] is None
    assert all(small.info[s]["market_cap"] > 0 for s in t[:-1])
    assert small.close.shape == (small.n_days, 21)


def test_ohlc_is_consistent_and_late_listings_are_nan(small: Market) -> None:
    listed = np.arange(small.n_days)[:, None] >= small.first_index[None, :]
    for name in ("open", "high", "low", "close", "adj_close", "volume"):
        arr = getattr(small, name)
        assert np.array_equal(np.isnan(arr), ~listed), name
    o, h, lo, c = (x[listed] for x in (small.open, small.high, small.low, small.close))
    assert np.all(lo > 0)
    assert np.all(lo <= np.minimum(o, c)) and np.all(h >= np.maximum(o, c))
    assert (small.first_index > 0).sum() >= 1  # at least one late listing
    assert np.all(small.volume[listed] >= 1) and np.all(small.volume[listed] % 1 == 0)


def test_split_jumps_in_close_and_is_continuous_in_adj_close(small: Market) -> None:
    assert small.splits and set(small.splits) == set(small.split_ratios)
    assert "NVDA" in small.splits
    for ticker, day in small.splits.items():
        c = small.column(ticker)
        row = int(np.searchsorted(small.dates, day))
        ratio = small.split_ratios[ticker]
        assert ratio in (2.0, 3.0)
        raw_jump = small.close[row, c] / small.close[row - 1, c]
        adj_jump = small.adj_close[row, c] / small.adj_close[row - 1, c]
        assert abs(raw_jump * ratio - adj_jump) < 1e-6 * ratio
        assert 0.75 < adj_jump < 1.33  # a normal day, not a halving
        assert raw_jump < 1.33 / ratio
        np.testing.assert_array_equal(small.adj_close[row:, c], small.close[row:, c])
        np.testing.assert_allclose(
            small.adj_close[:row, c], small.close[:row, c] / ratio, atol=5e-7
        )


def test_spy_is_the_market_factor(small: Market) -> None:
    r = np.diff(np.log(small.adj_close), axis=0)
    avg = np.nanmean(r[:, :-1], axis=1)
    assert np.corrcoef(avg, r[:, -1])[0, 1] > 0.8
    # the crash: 30..40 % from the close before it to its last day
    spy = small.adj_close[:, -1]
    a, b = (int(np.searchsorted(small.dates, d)) for d in small.crash)
    drop = 1.0 - spy[b] / spy[a - 1]
    assert 0.30 - 1e-9 <= drop <= 0.40 + 1e-9
    assert 0.5 <= small.betas[:-1].min() and small.betas[:-1].max() <= 1.8


def test_fat_tails_clustering_and_volume_follow_the_moves() -> None:
    m = generate_market(30, 12, seed=2)
    r = np.diff(np.log(m.adj_close), axis=0)
    spy = r[:, -1]
    z = (spy - spy.mean()) / spy.std()
    assert np.mean(z**4) - 3.0 > 1.0  # excess kurtosis: fat tails
    sq = spy**2 - np.mean(spy**2)
    acf = [np.sum(sq[k:] * sq[:-k]) / np.sum(sq * sq) for k in range(1, 6)]
    assert np.mean(acf) > 0.05  # volatility clustering
    stock_r = r[:, 1]  # MSFT: no split, listed from the start
    assert np.corrcoef(np.abs(stock_r), np.log(m.volume[1:, 1]))[0, 1] > 0.1


def test_to_long_drops_unlisted_rows_and_keeps_values(small: Market) -> None:
    df = small.to_long()
    assert df.columns == ["ticker", "date", "open", "high", "low", "close", "adj_close", "volume"]
    assert df.schema["date"] == pl.Date and df.schema["volume"] == pl.Int64
    assert df.height == int((~np.isnan(small.close)).sum())
    late = small.tickers[int(np.argmax(small.first_index))]
    c = small.column(late)
    rows = df.filter(pl.col("ticker") == late)
    assert rows.height == small.n_days - small.first_index[c]
    np.testing.assert_array_equal(rows["close"].to_numpy(), small.close[small.first_index[c] :, c])
    assert rows["date"][0] == small.dates[small.first_index[c]].astype(dt.date)


def test_write_price_csvs_round_trips_exactly(small: Market, tmp_path: Path) -> None:
    paths = small.write_price_csvs(tmp_path)
    assert len(paths) == 21 and (tmp_path / "BRK-B.csv").exists()
    header, rows = read_price_csv(tmp_path / "NVDA.csv")
    assert header == ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
    c = small.column("NVDA")
    got = np.array([[float(x) for x in r[1:]] for r in rows])
    want = np.column_stack(
        [
            small.open[:, c],
            small.high[:, c],
            small.low[:, c],
            small.close[:, c],
            small.adj_close[:, c],
            small.volume[:, c],
        ]
    )
    np.testing.assert_array_equal(got, want)  # the shortest repr reads back the same float64
    assert [r[0] for r in rows] == [str(d) for d in small.dates]


def test_generate_market_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="n_tickers"):
        generate_market(0, 3)


# --- statuses kernel, against hand-made cases ---------------------------------------------------------


def test_prediction_outcomes_hand_cases() -> None:
    # one ticker, 8 days; a 2:1 split on day 5 (raw prices halve)
    high = np.array([[10.0], [10.5], [11.2], [10.4], [10.2], [5.2], [5.9], [5.1]])
    low = np.array([[9.8], [9.9], [10.6], [9.1], [9.9], [4.9], [5.5], [4.6]])
    factor = np.array([[2.0]] * 5 + [[1.0]] * 3)
    day = np.array([0, 0, 0, 0, 3, 4, 6, 0])
    col = np.zeros(8, dtype=np.int64)
    horizon = np.array([3, 3, 1, 4, 3, 2, 5, 1])
    is_long = np.array([True, False, True, True, True, True, True, True])
    target = np.array([11.0, 9.0, 11.0, 11.0, 11.5, 11.7, 6.0, 10.6])
    stop = np.array([9.0, 11.0, 9.0, 9.95, 9.5, 9.5, 4.0, 9.85])
    status, exit_row = prediction_outcomes(
        high, low, factor, day, col, horizon, is_long, target, stop
    )
    names = ["open", "hit_target", "stopped", "expired"]
    # explicit expectations, computed by hand
    assert names[status[0]] == "hit_target" and exit_row[0] == 2
    assert names[status[1]] == "stopped" and exit_row[1] == 2  # short: high 11.2 >= stop 11
    assert names[status[2]] == "expired" and exit_row[2] == 1
    assert names[status[3]] == "stopped" and exit_row[3] == 1  # low 9.9 <= 9.95 before 11.2
    # day 3 entry (factor 2): day 4 low 9.9 > 9.5, day 5 low 4.9*2 = 9.8, high 5.2*2 = 10.4,
    # day 6 high 5.9*2 = 11.8 >= 11.5 -> hit on day 6
    assert names[status[4]] == "hit_target" and exit_row[4] == 6
    # day 4 entry (factor 2): day 5 high 10.4, day 6 high 11.8 >= 11.7
    assert names[status[5]] == "hit_target" and exit_row[5] == 6
    assert names[status[6]] == "open" and exit_row[6] == -1
    # day 1: high 10.5 < 10.6, low 9.9 > 9.85: expired; now make both hit the same day
    assert names[status[7]] == "expired"
    both, _ = prediction_outcomes(
        high, low, factor, np.array([0]), np.array([0]), np.array([1]), np.array([True]),
        np.array([10.4]), np.array([9.95]),
    )  # fmt: skip
    assert names[both[0]] == "stopped"  # the order inside a day is unknown: conservative
    missing = np.zeros_like(high, dtype=bool)
    missing[1, 0] = True
    skip, ex = prediction_outcomes(
        high, low, factor, np.array([0]), np.array([0]), np.array([2]), np.array([True]),
        np.array([10.4]), np.array([9.95]), missing=missing,
    )  # fmt: skip
    assert names[skip[0]] == "hit_target" and ex[0] == 2  # day 1 has no prices: skipped


def test_timeframe_days() -> None:
    assert [timeframe_days(x) for x in ("1d", "3d", "5d", "1w", "2w", "1m", 10)] == [
        1,
        3,
        5,
        5,
        10,
        21,
        10,
    ]


# --- the legacy folder against the real sample ----------------------------------------------------------


def key_orders(records: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    return {tuple(r) for r in records}


def field_types(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in records:
        for k, v in r.items():
            out.setdefault(k, set()).add(type(v).__name__)
    return out


def leader_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for v in doc["leaders"].values() for r in v]


@needs_sample
def test_folder_has_the_sample_file_set_and_formatting(messy: tuple[Path, Any]) -> None:
    out, _ = messy
    assert SAMPLE is not None
    assert sorted(x.name for x in out.iterdir()) == sorted(x.name for x in SAMPLE.iterdir())
    for folder in (out, SAMPLE):
        names = {p.name for p in (folder / "price_history").iterdir()}
        info = load(folder / "tickers_info.json")
        assert names == {t.replace(".", "-") + ".csv" for t in info}
        assert "BRK-B.csv" in names and "BRK.B" in info
        # the old system wrote json.dump(indent=1) for data files, indent=2 for the others
        for name in BIG_JSON:
            raw = (folder / name).read_text(encoding="utf-8")
            assert raw == json.dumps(json.loads(raw), indent=1), (folder, name)
        for name in SMALL_JSON:
            raw = (folder / name).read_text(encoding="utf-8")
            assert raw == json.dumps(json.loads(raw), indent=2), (folder, name)


@needs_sample
def test_records_have_the_sample_shapes(messy: tuple[Path, Any]) -> None:
    out, _ = messy
    assert SAMPLE is not None
    mine_p, their_p = load(out / "predictions_data.json"), load(SAMPLE / "predictions_data.json")
    assert list(mine_p) == list(their_p) == ["predictions", "last_updated"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT16:05:00", mine_p["last_updated"])
    assert key_orders(mine_p["predictions"]) == key_orders(their_p["predictions"])
    assert field_types(mine_p["predictions"]) == field_types(their_p["predictions"])

    mine_t, their_t = load(out / "trades_data.json"), load(SAMPLE / "trades_data.json")
    assert isinstance(mine_t, list) and isinstance(their_t, list)
    assert key_orders(mine_t) == key_orders(their_t)
    assert field_types(mine_t) == field_types(their_t)

    for tf in ("daily", "weekly", "monthly"):
        mine_l = load(out / f"volume_leaders_{tf}.json")
        their_l = load(SAMPLE / f"volume_leaders_{tf}.json")
        assert list(mine_l) == list(their_l) == ["timeframe", "updated", "leaders"]
        assert mine_l["timeframe"] == tf
        assert mine_l["updated"] == load(out / "MANIFEST.json")["last_day"]
        assert key_orders(leader_records(mine_l)) == key_orders(leader_records(their_l))
        assert field_types(leader_records(mine_l)) == field_types(leader_records(their_l))
        assert {len(v) for v in mine_l["leaders"].values()} == {20}

    mine_i, their_i = load(out / "tickers_info.json"), load(SAMPLE / "tickers_info.json")
    assert key_orders(list(mine_i.values())) == key_orders(list(their_i.values()))
    assert field_types(list(mine_i.values())) == field_types(list(their_i.values()))
    assert list(mine_i)[-1] == list(their_i)[-1] == "SPY"
    assert load(out / "strategies_config.json") == load(SAMPLE / "strategies_config.json")

    mine_m, their_m = load(out / "MANIFEST.json"), load(SAMPLE / "MANIFEST.json")
    assert list(mine_m)[: len(their_m)] == list(their_m)
    assert {k: type(v) for k, v in mine_m.items() if k in their_m} == {
        k: type(v) for k, v in their_m.items()
    }

    def headers(folder: Path) -> set[str]:
        return {read_price_csv(p)[0][0] for p in (folder / "price_history").iterdir()}

    def null_row(folder: Path) -> set[tuple[str, ...]]:
        files = (folder / "price_history").iterdir()
        return {tuple(r[1:]) for p in files for r in read_price_csv(p)[1] if "null" in r}

    assert headers(out) == headers(SAMPLE) == {"Date", "date"}
    assert null_row(out) == null_row(SAMPLE) == {("null",) * 6}


# --- every kind of mess of FORMAT.md -------------------------------------------------------------------------


def pnl_of(t: dict[str, Any]) -> float:
    sign = 1.0 if t["side"] == "long" else -1.0
    return (t["exit_price"] - t["entry_price"]) * t["shares"] * sign - t.get("fees", 0.0)


def test_every_mess_kind_is_present_and_recorded(messy: tuple[Path, Any]) -> None:
    out, man = messy
    preds = load(out / "predictions_data.json")["predictions"]
    trades = load(out / "trades_data.json")
    mess = man.mess
    assert load(out / "MANIFEST.json") == json.loads(json.dumps(man.to_dict()))
    ids = [p["id"] for p in preds]

    # the manifest's counts are of the base records: the exact duplicates are listed apart
    dup_pos = set(mess["duplicate_predictions"]["positions"])
    base = [p for i, p in enumerate(preds) if i not in dup_pos]
    # MM/DD/YYYY + integer ids in older records, ISO + string ids in newer ones
    old = [p for p in base if isinstance(p["id"], int)]
    new = [p for p in base if isinstance(p["id"], str)]
    assert any("/" in p["date"] for p in old) and any("-" in p["date"] for p in old)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", p["date"]) for p in new)
    assert max(parse_date(p["date"]) for p in old) < min(p["date"] for p in new)
    assert sorted(map(str, mess["mdy_dates"]["ids"])) == sorted(
        str(p["id"]) for p in base if "/" in p["date"]
    )
    # timestamps with Z, with an offset, naive; none in the old records
    stamps = [p["timestamp"] for p in new]
    assert all("timestamp" not in p for p in old) and len(stamps) == len(new)
    kinds = Counter(
        "z" if s.endswith("Z") else "offset" if re.search(r"[+-]\d\d:\d\d$", s) else "naive"
        for s in stamps
    )
    assert kinds["z"] == mess["timestamps"]["z"] > 0
    assert kinds["offset"] == mess["timestamps"]["offset"] > 0
    assert kinds["naive"] == mess["timestamps"]["naive"] > 0
    # strategy names in other case and with trailing spaces
    odd = [p for p in preds if p["strategy"] not in STRATEGIES]
    assert odd and all(p["strategy"].strip().lower() in STRATEGIES for p in odd)
    assert any(p["strategy"].endswith(" ") for p in odd)
    assert {str(p["id"]) for p in odd} == {str(i) for i in mess["strategy_variants"]["ids"]}
    # lower-case tickers, BRK.B in JSON and BRK-B.csv on disk
    lower = {str(p["id"]) for p in preds if p["ticker"] != p["ticker"].upper()}
    assert lower and lower == {str(i) for i in mess["lowercase_tickers"]["ids"]}
    assert any(p["ticker"].upper() == "BRK.B" for p in preds)
    assert (out / "price_history" / "BRK-B.csv").exists() and not (
        out / "price_history" / "BRK.B.csv"
    ).exists()
    # positions LONG/SHORT and BUY/SELL
    assert {p["position"] for p in preds} == {"LONG", "SHORT", "BUY", "SELL"}
    # confidence as a percentage, only in older records
    pct = [p for p in preds if p["confidence"] > 1]
    assert pct and all(isinstance(p["id"], int) for p in pct)
    assert all(1 < p["confidence"] <= 100 for p in pct) and all(
        0 < p["confidence"] < 1 for p in preds if p not in pct
    )
    # numbers as strings, NaN literals
    as_str = [p for p in preds if isinstance(p["target"], str)]
    assert as_str and all(float(p["target"]) > 0 for p in as_str)
    assert "NaN" in (out / "predictions_data.json").read_text()
    nans = [p for p in preds if isinstance(p["target"], float) and math.isnan(p["target"])]
    assert len([p for p in base if p in nans]) == mess["nan_literals"]["count"] > 0
    # timeframe codes and bare numbers
    tfs = {p["timeframe"] for p in preds}
    assert set(TIMEFRAME_DAYS) <= tfs and any(isinstance(x, int) for x in tfs)
    # exact duplicate records
    dup_p = sum(v - 1 for v in Counter(json.dumps(p, sort_keys=True) for p in preds).values())
    dup_t = sum(v - 1 for v in Counter(json.dumps(t, sort_keys=True) for t in trades).values())
    assert dup_p == mess["duplicate_predictions"]["count"] > 0
    assert dup_t == mess["duplicate_trades"]["count"] > 0
    # stale pnl, manual trades, trades whose prediction was deleted
    closed = {t["trade_id"]: t for t in trades if t["status"] == "CLOSED"}
    stale = {tid for tid, t in closed.items() if abs(pnl_of(t) - t["pnl"]) > 0.011}
    assert stale and stale == set(mess["stale_pnl"]["trade_ids"])
    manual = {t["trade_id"] for t in trades if t["prediction_id"] is None}
    assert manual and manual == set(mess["manual_trades"]["trade_ids"])
    known = {json.dumps(i) for i in ids}
    orphan = {
        t["trade_id"]
        for t in trades
        if t["prediction_id"] is not None and json.dumps(t["prediction_id"]) not in known
    }
    assert orphan and orphan == set(mess["orphan_trades"]["trade_ids"])
    # weekly ranks as strings, monthly says ticker
    weekly = leader_records(load(out / "volume_leaders_weekly.json"))
    assert all(isinstance(r["rank"], str) for r in weekly)
    monthly = leader_records(load(out / "volume_leaders_monthly.json"))
    assert all("ticker" in r and "symbol" not in r for r in monthly)
    # CSVs: snake_case headers in some files, null rows on some days
    snake = {
        p.stem.replace("-", ".")
        for p in (out / "price_history").iterdir()
        if read_price_csv(p)[0][0] == "date"
    }
    assert snake and snake == set(mess["csv_snake_case_headers"])
    assert 0 < len(snake) < man.tickers
    nulls = {
        p.stem.replace("-", "."): [r[0] for r in read_price_csv(p)[1] if r[1] == "null"]
        for p in (out / "price_history").iterdir()
    }
    assert {k: v for k, v in nulls.items() if v} == mess["csv_null_rows"]
    # the split: raw Close jumps, Adj Close continuous
    for ticker, day in man.splits.items():
        _, rows = read_price_csv(out / "price_history" / (ticker.replace(".", "-") + ".csv"))
        i = next(k for k, r in enumerate(rows) if r[0] == day)
        before, after = rows[i - 1], rows[i]
        if "null" in before or "null" in after:
            continue
        assert float(after[4]) / float(before[4]) < 0.67
        assert 0.75 < float(after[5]) / float(before[5]) < 1.33
    # market_cap "1.2T" once
    info = load(out / "tickers_info.json")
    assert [v["market_cap"] for v in info.values() if isinstance(v["market_cap"], str)] == ["1.2T"]
    # undocumented fields, and a formula-injection probe among the notes
    assert any("notes" in p for p in preds) and any("model_version" in p for p in preds)
    assert any(p.get("notes", "").startswith("=") for p in preds)
    assert {str(p["id"]) for p in preds if p.get("notes", "").startswith("=")} == {
        str(i) for i in mess["formula_notes"]["ids"]
    }
    # counts in the manifest equal the counts in the files
    assert man.predictions == len(preds) and man.trades == len(trades)


def test_clean_folder_has_no_mess(small: Market, tmp_path: Path) -> None:
    man = write_legacy_folder(
        small, tmp_path / "clean", n_predictions=200, n_trades=100, mess=False
    )
    preds = load(tmp_path / "clean" / "predictions_data.json")["predictions"]
    trades = load(tmp_path / "clean" / "trades_data.json")
    assert "NaN" not in (tmp_path / "clean" / "predictions_data.json").read_text()
    assert all(
        isinstance(p["id"], str) and "/" not in p["date"] and p["timestamp"].endswith("Z")
        for p in preds
    )
    assert all(p["strategy"] in STRATEGIES and p["position"] in ("LONG", "SHORT") for p in preds)
    assert all(
        isinstance(p["target"], float) and p["confidence"] < 1 and p["timeframe"] in TIMEFRAME_DAYS
        for p in preds
    )
    assert all(set(p) <= {"id", "date", "strategy", "ticker", "position", "confidence", "target", "stop_loss",
                          "timeframe", "entry_price", "timestamp", "status"} for p in preds)  # fmt: skip
    assert len({json.dumps(p, sort_keys=True) for p in preds}) == len(preds) == man.predictions
    assert all(t["prediction_id"] is not None for t in trades)
    assert all(abs(pnl_of(t) - t["pnl"]) <= 0.011 for t in trades if t["status"] == "CLOSED")
    assert all(
        read_price_csv(p)[0][0] == "Date" for p in (tmp_path / "clean" / "price_history").iterdir()
    )
    assert man.damage == {}


# --- statuses, trades and leaders re-derived from the written files ------------------------------------------


def test_statuses_and_trades_agree_with_a_slow_recomputation(messy: tuple[Path, Any]) -> None:
    out, man = messy
    info = load(out / "tickers_info.json")
    prices: dict[str, list[list[str]]] = {
        t: read_price_csv(out / "price_history" / (t.replace(".", "-") + ".csv"))[1] for t in info
    }
    all_days = [r[0] for r in prices["SPY"]]
    last = len(all_days) - 1
    day_of = {d: i for i, d in enumerate(all_days)}

    def row(t: str, i: int) -> list[str]:
        rows = prices[t]
        return rows[i - (len(all_days) - len(rows))]

    def factor(r: list[str]) -> float:  # shares of the day per share after the split
        return float(round(float(r[4]) / float(r[5])))

    preds = load(out / "predictions_data.json")["predictions"]
    checked = 0
    resolved: dict[str, tuple[str, int]] = {}
    for p in preds:
        target = float(p["target"])
        if math.isnan(target):
            continue
        t, d = p["ticker"].upper(), day_of[parse_date(p["date"])]
        h = p["timeframe"] if isinstance(p["timeframe"], int) else TIMEFRAME_DAYS[p["timeframe"]]
        long = p["position"] in ("LONG", "BUY")
        f0 = factor(row(t, d))
        status, exit_i = None, None
        for j in range(d + 1, min(d + h, last) + 1):
            r = row(t, j)
            if r[1] == "null":
                continue
            hi, lo = float(r[2]) * f0 / factor(r), float(r[3]) * f0 / factor(r)
            stop_hit = lo <= p["stop_loss"] if long else hi >= p["stop_loss"]
            target_hit = hi >= target if long else lo <= target
            if stop_hit:
                status, exit_i = "stopped", j
                break
            if target_hit:
                status, exit_i = "hit_target", j
                break
        if status is None:
            status, exit_i = ("open", -1) if d + h > last else ("expired", d + h)
        assert p["status"] == status, p
        # the entry is near the close of the prediction day
        assert abs(p["entry_price"] / float(row(t, d)[4]) - 1.0) < 0.006
        resolved[json.dumps(p["id"])] = (status, exit_i)
        checked += 1
    assert checked > 1900
    assert Counter(s for s, _ in resolved.values()).keys() == {
        "open",
        "hit_target",
        "stopped",
        "expired",
    }

    spanning = set(man.mess["trades_spanning_split"]["trade_ids"])
    stale = set(man.mess["stale_pnl"]["trade_ids"])
    n_closed = 0
    for tr in load(out / "trades_data.json"):
        key = json.dumps(tr["prediction_id"])
        if key not in resolved:
            continue
        status, exit_i = resolved[key]
        assert tr["status"] == ("OPEN" if status == "open" else tr["status"])
        if tr["status"] != "CLOSED":
            assert tr["exit_price"] is None and ("fees" in tr) == (tr["status"] != "OPEN")
            continue
        n_closed += 1
        assert tr["exit_date"] == all_days[exit_i]
        exit_row = row(tr["ticker"], exit_i)
        if exit_row[1] != "null":  # an expiry on a day the price file lost: no close to check
            close = float(exit_row[4])
            if tr["trade_id"] in spanning:
                close *= factor(row(tr["ticker"], day_of[tr["entry_date"]])) / factor(exit_row)
            # numpy rounds half to even on the scaled value, Python on the exact binary value
            assert abs(tr["exit_price"] - close) <= 0.005 + 1e-9
        if tr["trade_id"] not in stale:
            assert abs(pnl_of(tr) - tr["pnl"]) <= 0.011
    assert n_closed > 1000


def test_volume_leaders_follow_the_market(sample_like: Market, messy: tuple[Path, Any]) -> None:
    out, _ = messy
    df = sample_like.to_long().filter(pl.col("ticker") != "SPY")
    daily = load(out / "volume_leaders_daily.json")["leaders"]
    assert len(daily) == 260
    last_day = max(daily)
    top = (
        df.filter(pl.col("date") == dt.date.fromisoformat(last_day))
        .sort("volume", descending=True)
        .head(20)
    )
    assert [r["symbol"] for r in daily[last_day]] == top["ticker"].to_list()
    assert [r["volume"] for r in daily[last_day]] == top["volume"].to_list()
    assert [r["price"] for r in daily[last_day]] == [round(x, 2) for x in top["close"].to_list()]
    # Weekly / monthly: that day's ranking every 5th / 21st trading day (the legacy files' rule).
    days = [str(d) for d in sample_like.dates]
    monthly = load(out / "volume_leaders_monthly.json")["leaders"]
    assert list(monthly) == days[::21]
    some_month = list(monthly)[5]
    want = (
        df.filter(pl.col("date") == dt.date.fromisoformat(some_month))
        .sort("volume", descending=True)
        .head(20)
    )
    assert [r["ticker"] for r in monthly[some_month]] == want["ticker"].to_list()
    assert [r["volume"] for r in monthly[some_month]] == want["volume"].to_list()
    assert [r["price"] for r in monthly[some_month]] == [round(x, 2) for x in want["close"].to_list()]
    weekly = load(out / "volume_leaders_weekly.json")["leaders"]
    assert list(weekly) == days[::5]
    assert [int(r["rank"]) for r in next(iter(weekly.values()))] == list(range(1, 21))


# --- damage, determinism, errors ---------------------------------------------------------------------------------


def test_damage_is_in_the_files_where_the_manifest_says(damaged: tuple[Path, Any]) -> None:
    out, man = damaged
    preds = load(out / "predictions_data.json")["predictions"]
    trades = load(out / "trades_data.json")
    reasons = Counter(d["reason"] for d in man.damage["predictions"])
    assert reasons == {
        "missing ticker": 1, "impossible date": 1, "non-positive price": 2,
        "confidence out of range": 1, "conflicting duplicate id": 1,
    }  # fmt: skip
    for d in man.damage["predictions"]:
        rec = preds[d["position"]]
        assert rec["id"] == d["id"]
        if d["reason"] == "missing ticker":
            assert "ticker" not in rec
        elif d["reason"] == "impossible date":
            with pytest.raises(ValueError):
                dt.date.fromisoformat(rec["date"])
        elif d["reason"] == "non-positive price":
            assert min(rec["entry_price"], rec["stop_loss"]) <= 0
        elif d["reason"] == "confidence out of range":
            assert rec["confidence"] == 150
        else:
            first = next(p for p in preds if p["id"] == rec["id"])
            assert first is not rec and first != rec
    (bad_trade,) = man.damage["trades"]
    tr = trades[bad_trade["position"]]
    assert tr["trade_id"] == bad_trade["trade_id"] and tr["exit_date"] < tr["entry_date"]
    for d in man.damage["price_rows"]:
        r = next(
            r for r in read_price_csv(out / "price_history" / d["file"])[1] if r[0] == d["date"]
        )
        if d["reason"] == "high < low":
            assert float(r[2]) < float(r[3])
        else:
            assert int(r[6]) < 0
    assert load(out / "MANIFEST.json")["damage"] == json.loads(json.dumps(man.damage))


def test_same_seed_same_folder(small: Market, tmp_path: Path) -> None:
    a = write_legacy_folder(small, tmp_path / "a", n_predictions=120, n_trades=60, damage=True)
    b = write_legacy_folder(small, tmp_path / "b", n_predictions=120, n_trades=60, damage=True)
    assert a.to_dict() == b.to_dict()
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert files == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    c = write_legacy_folder(small, tmp_path / "c", seed=8, n_predictions=120, n_trades=60)
    assert c.mess != a.mess


def test_writer_refuses_bad_arguments(small: Market, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_trades"):
        write_legacy_folder(small, tmp_path / "x", n_predictions=10, n_trades=11)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(QuantdbError, match="not empty"):
        write_legacy_folder(small, tmp_path / "full", n_predictions=10, n_trades=5)
    man = write_legacy_folder(
        small, tmp_path / "full", n_predictions=10, n_trades=5, overwrite=True
    )
    assert (
        man.records
        == man.predictions + man.trades + sum(man.volume_leaders.values()) + man.price_rows
    )
