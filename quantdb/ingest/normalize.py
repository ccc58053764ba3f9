"""Scalar normalizers for legacy values: each returns the clean value or raises `Bad`.

`Bad` carries the quarantine ``rule`` and a reason that says what was expected and what arrived.
The functions are small and cached where the same text repeats (dates, timestamps' day
offsets), because a real set holds millions of values.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from quantdb.universe import symbol_problem

MARKET_TZ = ZoneInfo("America/New_York")

#: Trading days per written timeframe unit (a week is 5 sessions, a month 21, a year 252).
TIMEFRAME_UNIT_DAYS = {"d": 1, "w": 5, "m": 21, "y": 252}
POSITIONS = {"LONG": "LONG", "SHORT": "SHORT", "BUY": "LONG", "SELL": "SHORT"}
PREDICTION_STATUSES = frozenset({"open", "hit_target", "stopped", "expired"})
TRADE_STATUSES = frozenset({"OPEN", "CLOSED", "CANCELLED"})
SIDES = frozenset({"long", "short"})
#: The widest whole number a column holds (SQLite INTEGER is 64-bit): volumes, ranks, hold days.
MAX_WHOLE = 2**63 - 1
#: The longest timeframe read as trading days (100 years); a longer one is a typo, not a horizon.
MAX_TIMEFRAME_DAYS = 100 * 252
#: Integer ids written as numbers must be exact: a float (orjson reads a 20+ digit integer as
#: one) is exact only below 2**53; longer ids belong in text.
MAX_NUMERIC_ID = 2**53
CAP_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


class Bad(Exception):
    """A value that cannot be made valid without guessing: quarantine ``rule`` and why."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def is_missing(value: Any) -> bool:
    """None, NaN, or an empty / blank string: an absent optional value (stored as NULL)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip() or value.strip().lower() in ("nan", "null", "none")
    return False


_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@lru_cache(maxsize=65536)
def _parse_date(text: str) -> str | None:
    m = _ISO.match(text)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _MDY.match(text)
        if not m:
            return None
        mo, d, y = int(m[1]), int(m[2]), int(m[3])
    try:
        return date(y, mo, d).isoformat()
    except ValueError:
        return None


def to_date(value: Any) -> str:
    """``MM/DD/YYYY`` or ``YYYY-MM-DD`` -> ISO ``YYYY-MM-DD``; anything else is `Bad`."""
    if not isinstance(value, str):
        raise Bad("impossible_date", f"expected a date as YYYY-MM-DD or MM/DD/YYYY, got {value!r}")
    iso = _parse_date(value.strip())
    if iso is None:
        raise Bad(
            "impossible_date", f"expected a real date as YYYY-MM-DD or MM/DD/YYYY, got {value!r}"
        )
    return iso


def to_number(value: Any) -> float | None:
    """A number, or a number written as a string (``"19.41"``); NaN / empty -> None."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise Bad("bad_value", f"expected a finite number, got {value!r}")
        return value
    if isinstance(value, bool):
        raise Bad("bad_value", f"expected a number, got {value!r}")
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            raise Bad("out_of_range", f"expected a number, got an integer of {len(str(abs(value)))} digits") from None
    if is_missing(value):
        return None
    if isinstance(value, str):
        try:
            out = float(value.strip().replace(",", ""))
        except ValueError:
            pass
        else:
            if math.isfinite(out):
                return out
    raise Bad("bad_value", f"expected a number, got {value!r}")


def to_price(value: Any) -> float | None:
    """A positive price (None when absent); zero or negative is `Bad` (``non_positive_price``)."""
    out = to_number(value)
    if out is not None and out <= 0:
        raise Bad("non_positive_price", f"expected a price > 0, got {value!r}")
    return out


def to_volume(value: Any) -> int | None:
    """A non-negative whole volume (None when absent)."""
    out = to_number(value)
    if out is None:
        return None
    if out < 0:
        raise Bad("negative_volume", f"expected a volume >= 0, got {value!r}")
    if out != int(out):
        raise Bad("bad_value", f"expected a whole number of shares traded, got {value!r}")
    if out > MAX_WHOLE:
        raise Bad("out_of_range", f"expected a volume below 2**63, got {value!r}")
    return int(out)


def to_confidence(value: Any) -> tuple[float | None, bool]:
    """Confidence as a fraction and whether it was written as a percentage.

    A value in [0, 1] is a fraction; in (1, 100] a percentage (72.0 -> 0.72); outside both
    ranges it cannot be read without guessing (``confidence_range``).
    """
    out = to_number(value)
    if out is None:
        return None, False
    if 0.0 <= out <= 1.0:
        return out, False
    if 1.0 < out <= 100.0:
        return out / 100.0, True
    raise Bad(
        "confidence_range",
        f"expected a fraction in [0, 1] or a percentage in [0, 100], got {value!r}",
    )


@lru_cache(maxsize=65536)  # tickers repeat: each written form is read once
def _symbol(text: str) -> tuple[str, str | None]:
    return text.strip().upper(), symbol_problem(text)


def to_symbol(value: Any) -> str:
    """An upper-case, trimmed ticker symbol; missing is `Bad` (``missing_field``), one that
    breaks the ticker rule (`quantdb.universe.SYMBOL_RULE`: ``"A B"``, ``"../x"``) is
    ``bad_value``."""
    if not isinstance(value, str) or not value.strip():
        raise Bad("missing_field", f"expected a ticker symbol, got {value!r}")
    symbol, problem = _symbol(value)
    if problem is not None:
        raise Bad("bad_value", problem)
    return symbol


def to_strategy(value: Any) -> str:
    """A strategy name trimmed and lower-cased (``"Earnings_Drift "`` -> ``earnings_drift``)."""
    if not isinstance(value, str) or not value.strip():
        raise Bad("missing_field", f"expected a strategy name, got {value!r}")
    return value.strip().lower()


def to_position(value: Any) -> str:
    """LONG / SHORT, with the old BUY / SELL spelling mapped (case-insensitive)."""
    key = value.strip().upper() if isinstance(value, str) else None
    if key is None or key not in POSITIONS:
        if is_missing(value):
            raise Bad("missing_field", f"expected LONG, SHORT, BUY or SELL, got {value!r}")
        raise Bad("bad_value", f"expected LONG, SHORT, BUY or SELL, got {value!r}")
    return POSITIONS[key]


_TF = re.compile(r"^(\d+)\s*([dwmy])$")


@lru_cache(maxsize=1024)
def _timeframe(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    m = _TF.match(text.lower())
    if m:
        return int(m[1]) * TIMEFRAME_UNIT_DAYS[m[2]]
    return None


def to_timeframe(value: Any) -> tuple[str | None, int | None]:
    """(as written, trading days): ``1d``->1, ``1w``->5, ``2w``->10, ``1m``->21, ``10``->10."""
    if is_missing(value):
        return None, None
    if isinstance(value, bool):
        raise Bad(
            "bad_value",
            f"expected a timeframe such as 5d, 1w, 1m or a number of days, got {value!r}",
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        text = repr(value)
    days = _timeframe(text)
    if days is None or days < 1:
        raise Bad(
            "bad_value",
            f"expected a timeframe such as 5d, 1w, 1m or a number of days >= 1, got {value!r}",
        )
    if days > MAX_TIMEFRAME_DAYS:
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} characters)"
        raise Bad(
            "out_of_range",
            f"expected a timeframe of at most {MAX_TIMEFRAME_DAYS} trading days (100 years), got {shown}",
        )
    return text, days


@lru_cache(maxsize=65536)
def _market_offset(day: str, hour: int) -> timedelta:
    """US/Eastern UTC offset at ``hour`` on ``day`` (zoneinfo rules, first reading of a repeated hour)."""
    y, m, d = int(day[:4]), int(day[5:7]), int(day[8:10])
    off = datetime(y, m, d, hour, 30, tzinfo=MARKET_TZ).utcoffset()
    assert off is not None
    return off


_TS = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def to_timestamp(value: Any) -> tuple[str | None, str | None, str | None]:
    """(as written, UTC as ``YYYY-MM-DDTHH:MM:SSZ``, kind ``utc`` / ``offset`` / ``naive``).

    A naive timestamp is read as US/Eastern market time (the legacy system did not record
    the zone); its kind says so, and the written text is kept as it was.
    """
    if is_missing(value):
        return None, None, None
    if not isinstance(value, str):
        raise Bad("impossible_date", f"expected an ISO timestamp, got {value!r}")
    text = value.strip()
    m = _TS.match(text)
    day = _parse_date(m[1]) if m else None
    if m is None or day is None:
        raise Bad(
            "impossible_date",
            f"expected an ISO timestamp such as 2016-11-02T10:57:44Z, got {value!r}",
        )
    hh, mm, ss = int(m[2]), int(m[3]), int(m[4] or 0)
    if hh > 23 or mm > 59 or ss > 59:
        raise Bad("impossible_date", f"expected a real time of day, got {value!r}")
    tz = m[5]
    local = datetime(int(day[:4]), int(day[5:7]), int(day[8:10]), hh, mm, ss)
    if tz == "Z":
        kind, utc = "utc", local
    elif tz:
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        off = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if off > timedelta(hours=18):
            raise Bad("impossible_date", f"expected a UTC offset within +-18:00, got {value!r}")
        kind, utc = "offset", local - sign * off
    else:
        kind, utc = "naive", local - _market_offset(day, hh)
    return value, utc.strftime("%Y-%m-%dT%H:%M:%SZ"), kind


def to_market_cap(value: Any) -> tuple[float | None, str | None]:
    """(number, as written when it was text): ``"1.2T"`` -> (1.2e12, "1.2T")."""
    if is_missing(value):
        return None, None
    if isinstance(value, str):
        text = value.strip().upper().lstrip("$")
        mult = CAP_SUFFIX.get(text[-1:], 1.0)
        body = text[:-1] if text[-1:] in CAP_SUFFIX else text
        try:
            out = float(body.replace(",", "")) * mult
        except ValueError as exc:
            raise Bad(
                "bad_value", f"expected a market cap such as 1.2T or 5392000000, got {value!r}"
            ) from exc
        raw: str | None = value
    else:
        num = to_number(value)
        if num is None:
            return None, None
        out, raw = num, None
    if not math.isfinite(out) or out <= 0:
        raise Bad("bad_value", f"expected a market cap > 0, got {value!r}")
    return out, raw


def to_int_or_none(value: Any, *, minimum: int) -> int | None:
    """A whole number >= ``minimum`` (hold days, ranks), or None when absent."""
    out = to_number(value)
    if out is None:
        return None
    if out != int(out) or out < minimum:
        raise Bad("bad_value", f"expected a whole number >= {minimum}, got {value!r}")
    if out > MAX_WHOLE:
        raise Bad("out_of_range", f"expected a whole number below 2**63, got {value!r}")
    return int(out)


def to_text(value: Any) -> str | None:
    """Optional free text: None / NaN / blank -> None, anything else as ``str``."""
    if is_missing(value):
        return None
    return value if isinstance(value, str) else str(value)


def legacy_id(value: Any) -> str:
    """The old system's id as text (integer ids of older records and string ids alike)."""
    if isinstance(value, bool) or is_missing(value):
        raise Bad("missing_field", f"expected an id, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise Bad("bad_value", f"expected an integer or text id, got {value!r}")
        if abs(value) >= MAX_NUMERIC_ID:
            msg = f"a numeric id of {value:.0f} is too long to read exactly; write it as text"
            raise Bad("out_of_range", msg)
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise Bad("bad_value", f"expected an integer or text id, got {value!r}")


def now_utc() -> str:
    """The current time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
