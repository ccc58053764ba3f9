"""Each quirk of FORMAT.md, value by value, against hand-written expectations."""

from __future__ import annotations

import math

import pytest

from quantdb.ingest import normalize as nz
from quantdb.ingest.normalize import Bad


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("06/25/2015", "2015-06-25"),
        ("2016-11-02", "2016-11-02"),
        ("1/2/2015", "2015-01-02"),
        (" 2016-02-29 ", "2016-02-29"),
    ],
)
def test_dates_to_iso(written: str, iso: str) -> None:
    assert nz.to_date(written) == iso


@pytest.mark.parametrize(
    "bad", ["2015-02-30", "13/01/2015", "2015-13-01", "yesterday", "", None, 20150101]
)
def test_impossible_dates_are_bad(bad: object) -> None:
    with pytest.raises(Bad) as exc:
        nz.to_date(bad)
    assert exc.value.rule == "impossible_date"


def test_numbers_strings_nan_and_empty() -> None:
    assert nz.to_number("19.41") == 19.41
    assert nz.to_number(" 1,234.5 ") == 1234.5
    assert nz.to_number(7) == 7.0
    assert nz.to_number(float("nan")) is None
    assert nz.to_number("NaN") is None
    assert nz.to_number("") is None
    assert nz.to_number(None) is None
    for bad in ("abc", True, float("inf"), [1]):
        with pytest.raises(Bad):
            nz.to_number(bad)


def test_prices_volumes() -> None:
    assert nz.to_price("5") == 5.0
    for bad in (0, -1.5, "0"):
        with pytest.raises(Bad, match="price > 0") as exc:
            nz.to_price(bad)
        assert exc.value.rule == "non_positive_price"
    assert nz.to_volume("1000") == 1000
    assert nz.to_volume(0) == 0
    with pytest.raises(Bad) as exc:
        nz.to_volume(-1)
    assert exc.value.rule == "negative_volume"


@pytest.mark.parametrize(("written", "fraction", "pct"), [(0.72, 0.72, False), (72.0, 0.72, True), (1, 1.0, False),
                                                          (0, 0.0, False), (100, 1.0, True), ("55", 0.55, True)])  # fmt: skip
def test_confidence_fraction_or_percent(written: object, fraction: float, pct: bool) -> None:
    got, was_pct = nz.to_confidence(written)
    assert got == pytest.approx(fraction, abs=1e-15)
    assert was_pct is pct


@pytest.mark.parametrize("bad", [-0.1, 100.5, 150, -50])
def test_confidence_outside_both_ranges(bad: float) -> None:
    with pytest.raises(Bad) as exc:
        nz.to_confidence(bad)
    assert exc.value.rule == "confidence_range"


def test_symbols_strategies_positions() -> None:
    assert nz.to_symbol(" sqbt ") == "SQBT"
    assert nz.to_symbol("brk.b") == "BRK.B"
    assert nz.to_strategy("Earnings_Drift ") == "earnings_drift"
    assert [nz.to_position(p) for p in ("LONG", "SHORT", "BUY", "sell")] == [
        "LONG",
        "SHORT",
        "LONG",
        "SHORT",
    ]
    for bad, rule in ((None, "missing_field"), ("", "missing_field")):
        with pytest.raises(Bad) as exc:
            nz.to_symbol(bad)
        assert exc.value.rule == rule
    with pytest.raises(Bad) as exc:
        nz.to_position("HOLD")
    assert exc.value.rule == "bad_value"


@pytest.mark.parametrize(
    ("written", "text", "days"),
    [("1d", "1d", 1), ("3d", "3d", 3), ("5d", "5d", 5), ("1w", "1w", 5), ("2w", "2w", 10), ("1m", "1m", 21),
     (10, "10", 10), ("10", "10", 10), (None, None, None)],
)  # fmt: skip
def test_timeframes_keep_written_form(written: object, text: str | None, days: int | None) -> None:
    assert nz.to_timeframe(written) == (text, days)


def test_timestamps_z_offset_naive() -> None:
    assert nz.to_timestamp("2016-11-02T10:57:44Z") == (
        "2016-11-02T10:57:44Z",
        "2016-11-02T10:57:44Z",
        "utc",
    )
    assert nz.to_timestamp("2016-11-02T10:57:44+01:30") == (
        "2016-11-02T10:57:44+01:30",
        "2016-11-02T09:27:44Z",
        "offset",
    )
    # naive = US/Eastern market time: EDT (UTC-4) in September, EST (UTC-5) in January
    assert nz.to_timestamp("2017-09-07T15:02:47")[1:] == ("2017-09-07T19:02:47Z", "naive")
    assert nz.to_timestamp("2016-01-08T13:23:40")[1:] == ("2016-01-08T18:23:40Z", "naive")
    assert nz.to_timestamp(None) == (None, None, None)
    with pytest.raises(Bad):
        nz.to_timestamp("2016-02-30T10:00:00Z")


def test_market_cap_text() -> None:
    assert nz.to_market_cap("1.2T") == (1.2e12, "1.2T")
    assert nz.to_market_cap(5392000000.0) == (5392000000.0, None)
    assert nz.to_market_cap("350M")[0] == pytest.approx(3.5e8)
    assert nz.to_market_cap(float("nan")) == (None, None)


def test_legacy_ids() -> None:
    assert nz.legacy_id(1) == "1"
    assert nz.legacy_id(3.0) == "3"
    assert nz.legacy_id("mea-20161102-SQBT-1") == "mea-20161102-SQBT-1"
    with pytest.raises(Bad):
        nz.legacy_id(None)
    assert math.isnan(float("nan"))
