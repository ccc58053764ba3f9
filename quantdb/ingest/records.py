"""Legacy records -> normalized rows or quarantine decisions, one function per file kind. No SQL.

Every function returns a `ParsedFile`: for each record position, the raw original (JSON text
or the CSV line as written), a normalized row (a tuple in the kind's ``COLUMNS`` order) or a
`Problem` (field, rule, reason), and the flags of what was kept-and-flagged or normalized.
Deduplication and links to what is already in the database are the migrate service's job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, cast

import orjson

from quantdb.errors import FileFormatError
from quantdb.ingest import normalize as nz
from quantdb.ingest.normalize import Bad
from quantdb.ingest.reader import MAX_DEPTH, TOO_DEEP, PriceFile

PREDICTION_COLUMNS = (
    "legacy_id", "date", "timestamp", "timestamp_utc", "timestamp_kind", "strategy", "ticker",
    "position", "confidence", "target", "stop_loss", "timeframe", "timeframe_days",
    "entry_price", "status", "extra",
)  # fmt: skip
TRADE_COLUMNS = (
    "legacy_id", "prediction_legacy_id", "ticker", "side", "entry_date", "entry_price", "shares",
    "exit_date", "exit_price", "status", "pnl", "pnl_computed", "pnl_mismatch", "fees", "extra",
)  # fmt: skip
LEADER_COLUMNS = ("timeframe", "date", "rank", "ticker", "volume", "price", "extra")
PRICE_COLUMNS = ("ticker", "date", "open", "high", "low", "close", "volume", "adj_close")
TICKER_COLUMNS = ("symbol", "name", "sector", "market_cap", "market_cap_raw", "extra")
STRATEGY_COLUMNS = ("name", "description", "min_hold_days", "max_hold_days", "extra")

PREDICTION_FIELDS = frozenset({
    "id", "date", "timestamp", "strategy", "ticker", "position", "confidence", "target",
    "stop_loss", "timeframe", "entry_price", "status",
})  # fmt: skip
TRADE_FIELDS = frozenset({
    "trade_id", "prediction_id", "ticker", "side", "entry_date", "entry_price", "shares",
    "exit_date", "exit_price", "status", "pnl", "fees",
})  # fmt: skip
LEADER_FIELDS = frozenset({"rank", "symbol", "ticker", "volume", "price"})
TICKER_FIELDS = frozenset({"name", "sector", "market_cap"})
STRATEGY_FIELDS = frozenset({"description", "min_hold_days", "max_hold_days"})

#: Tolerance of the pnl check: each price is rounded to the cent (<= half a cent off), so
#: the recomputed pnl may differ by up to one cent per share, plus a cent for pnl's own rounding.
PNL_CENTS_PER_SHARE = 0.01
PNL_ABS_TOLERANCE = 0.01


@dataclass(frozen=True)
class Problem:
    """Why a record is quarantined: the field and the rule it broke, in words."""

    field: str
    rule: str
    reason: str


@dataclass
class ParsedFile:
    """One legacy file, record by record (all lists are indexed by record position)."""

    name: str
    kind: str  # predictions | trades | leaders | prices | tickers | strategies
    raws: list[str] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    rows: list[tuple[Any, ...] | None] = field(default_factory=list)
    problems: list[Problem | None] = field(default_factory=list)
    flags: list[list[str] | None] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    #: A price file whose every line became a row without a flag (`read_prices`' column-wise
    #: path): the row values as columns (date, open, high, low, close, volume, adj_close), the
    #: very objects of ``rows``, so a loader can bind them without walking the rows again.
    columns: tuple[list[Any], ...] | None = None

    def __len__(self) -> int:
        return len(self.raws)

    def add(
        self,
        raw: str,
        key: str | None,
        row: tuple[Any, ...] | None,
        problem: Problem | None,
        flags: list[str] | None,
    ) -> None:
        self.raws.append(raw)
        self.keys.append(key)
        self.rows.append(row)
        self.problems.append(problem)
        self.flags.append(flags or None)


def raw_json(record: Any, has_nan: bool) -> str:
    """The record as JSON text; a record holding NaN keeps the ``NaN`` literal it was written with.

    What orjson cannot write (an integer beyond 64 bits, a lone surrogate such as ``"\\ud800"``)
    is written by the standard library, a lone surrogate as the ``\\ud800`` escape it was read
    from (SQLite stores UTF-8, which has no lone surrogates).
    """
    if not has_nan:
        try:
            return orjson.dumps(record).decode()
        except TypeError:
            pass
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record)
    return text


#: The widest integer SQLite stores (and the legacy ids, ranks and volumes must fit in).
INT64_MAX = 2**63 - 1


def extreme_value(record: Any, where: str = "*") -> Problem | None:
    """A legal JSON value the database cannot hold, anywhere in ``record``: an integer beyond
    64 bits, a number too large for a float (``1e400``), a lone surrogate (``"\\ud800"``) or a
    container nested deeper than `reader.MAX_DEPTH`. Only files that needed the standard
    library's parser can hold them (orjson refuses each), and only files whose bytes hint at
    one are walked (`reader.JsonDocument.extremes`)."""
    if isinstance(record, dict):
        for k, v in record.items():
            field = where if where != "*" else str(k)
            p = extreme_value(k, field) or extreme_value(v, field)
            if p is not None:
                return p
    elif isinstance(record, list):
        for v in record:
            p = extreme_value(v, where)
            if p is not None:
                return p
    elif isinstance(record, str):
        if record.startswith(TOO_DEEP):
            return Problem(where, "too_deep", f"a value nested deeper than {MAX_DEPTH} levels (kept as text)")
        if not record.isascii():
            try:
                record.encode("utf-8")
            except UnicodeEncodeError as exc:
                bad = record[exc.start]
                return Problem(where, "bad_text", f"a lone surrogate \\u{ord(bad):04x} is not text (invalid UTF-16)")
    elif isinstance(record, bool):
        return None
    elif isinstance(record, int):
        if not -INT64_MAX - 1 <= record <= INT64_MAX:
            digits = len(str(abs(record)))
            return Problem(where, "out_of_range", f"an integer of {digits} digits is beyond the 64-bit range")
    elif isinstance(record, float) and math.isinf(record):
        return Problem(where, "out_of_range", "a number too large for a float (written as 1e400 or Infinity)")
    return None


def file_fields(doc: dict[str, Any], name: str, records_key: str) -> dict[str, Any]:
    """A file's own fields (``last_updated``, ``updated``: everything beside its records), kept
    with the import batch so an export writes them back as they were.

    They are not records, so there is no quarantine for them: one the database cannot keep
    exactly (an integer beyond 64 bits, ``1e400``, a lone surrogate, nesting too deep) stops
    the migration naming the file and the field, before anything is written.
    """
    meta = {k: v for k, v in doc.items() if k != records_key}
    for key, value in meta.items():
        problem = extreme_value(key, key) or extreme_value(value, key)
        if problem is not None:
            where = key.encode("utf-8", "backslashreplace").decode()
            msg = f"{problem.reason}: a file-level field cannot be kept exactly; correct or remove it"
            raise FileFormatError(name, f"field {where!r}", msg)
    return meta


def _has_nan(record: Any) -> bool:
    """Whether a float in ``record`` (at any depth) is NaN or infinite (``1e400`` read as inf).

    One loop per container, recursing only into containers: it runs on every record of a
    file that needed the tolerant parser."""
    if isinstance(record, float):
        return not math.isfinite(record)
    if isinstance(record, dict):
        values: Any = record.values()
    elif isinstance(record, list):
        values = record
    else:
        return False
    for v in values:
        if isinstance(v, float):
            if not math.isfinite(v):
                return True
        elif isinstance(v, dict | list) and _has_nan(v):
            return True
    return False


def extra_json(record: dict[str, Any], documented: frozenset[str]) -> str | None:
    """Undocumented fields of a record as JSON text (NaN written as null), or None."""
    if documented.issuperset(record):
        return None
    extra = {k: v for k, v in record.items() if k not in documented}
    return orjson.dumps(extra).decode()


def _run(
    parsed: ParsedFile,
    records: list[tuple[str | None, Any]],
    has_nan: bool,
    convert: Callable[[str | None, dict[str, Any], list[str], list[str]], tuple[Any, ...]],
    extremes: bool | None = None,
) -> ParsedFile:
    """Apply ``convert(key, record, field_slot, flags)`` to each record, catching `Bad` per record.

    ``extremes`` (default: ``has_nan``) walks each record for `extreme_value` first; the
    folder reader sets it only when the file's bytes hint at one (`reader.JsonDocument`)."""
    walk = has_nan if extremes is None else extremes
    for key, rec in records:
        raw = raw_json(rec, has_nan and _has_nan(rec))
        extreme = (extreme_value(key, "key") or extreme_value(rec)) if walk else None
        if extreme is not None:
            if key is not None and extreme.field == "key":  # kept as its escape, like the raw
                key = key.encode("utf-8", "backslashreplace").decode()
            parsed.add(raw, key, None, extreme, None)
            continue
        if not isinstance(rec, dict):
            problem = Problem(
                "*", "bad_record", f"expected a JSON object, got {type(rec).__name__}"
            )
            parsed.add(raw, key, None, problem, None)
            continue
        slot = ["*"]
        flags: list[str] = []
        try:
            row = convert(key, rec, slot, flags)
        except Bad as exc:
            parsed.add(raw, key, None, Problem(slot[0], exc.rule, exc.reason), flags)
        else:
            parsed.add(raw, key, row, None, flags)
    return parsed


def _prediction(
    key: str | None, rec: dict[str, Any], f: list[str], flags: list[str]
) -> tuple[Any, ...]:
    f[0] = "id"
    lid = nz.legacy_id(rec.get("id"))
    f[0] = "date"
    raw_date = rec.get("date")
    day = nz.to_date(raw_date)
    if isinstance(raw_date, str) and "/" in raw_date:
        flags.append("date_mdy")
    f[0] = "timestamp"
    ts, ts_utc, ts_kind = nz.to_timestamp(rec.get("timestamp"))
    f[0] = "strategy"
    strategy = nz.to_strategy(rec.get("strategy"))
    f[0] = "ticker"
    ticker = nz.to_symbol(rec.get("ticker"))
    f[0] = "position"
    position = nz.to_position(rec.get("position"))
    f[0] = "confidence"
    confidence, pct = nz.to_confidence(rec.get("confidence"))
    if pct:
        flags.append("confidence_percent")
    f[0] = "target"
    target = nz.to_price(rec.get("target"))
    f[0] = "stop_loss"
    stop = nz.to_price(rec.get("stop_loss"))
    f[0] = "timeframe"
    tf, tf_days = nz.to_timeframe(rec.get("timeframe"))
    f[0] = "entry_price"
    entry = nz.to_price(rec.get("entry_price"))
    f[0] = "status"
    status = rec.get("status")
    status = status.strip().lower() if isinstance(status, str) else status
    if status not in nz.PREDICTION_STATUSES:
        rule = "missing_field" if nz.is_missing(status) else "bad_value"
        raise Bad(rule, f"expected open, hit_target, stopped or expired, got {rec.get('status')!r}")
    extra = extra_json(rec, PREDICTION_FIELDS)
    return (lid, day, ts, ts_utc, ts_kind, strategy, ticker, position, confidence, target, stop,
            tf, tf_days, entry, status, extra)  # fmt: skip


def read_predictions(doc: Any, name: str, *, has_nan: bool = False, extremes: bool | None = None
) -> ParsedFile:
    """``predictions_data.json`` (``{"predictions": [...], "last_updated": ...}``) -> rows."""
    if not isinstance(doc, dict) or not isinstance(doc.get("predictions"), list):
        got = type(doc).__name__ if not isinstance(doc, dict) else f"keys {sorted(doc)[:5]}"
        msg = f'wrong top-level shape: expected an object with a "predictions" list, got {got}'
        raise FileFormatError(name, "top level", msg)
    parsed = ParsedFile(name, "predictions", meta=file_fields(doc, name, "predictions"))
    return _run(parsed, [(None, r) for r in doc["predictions"]], has_nan, _prediction, extremes)


def _trade(key: str | None, rec: dict[str, Any], f: list[str], flags: list[str]) -> tuple[Any, ...]:
    f[0] = "trade_id"
    lid = nz.legacy_id(rec.get("trade_id"))
    f[0] = "prediction_id"
    pid_raw = rec.get("prediction_id")
    pid = None if nz.is_missing(pid_raw) else nz.legacy_id(pid_raw)
    if pid is None:
        flags.append("no_prediction")
    f[0] = "ticker"
    ticker = nz.to_symbol(rec.get("ticker"))
    f[0] = "side"
    side = rec.get("side")
    side = side.strip().lower() if isinstance(side, str) else side
    side = {"buy": "long", "sell": "short"}.get(side, side) if isinstance(side, str) else side
    if side not in nz.SIDES:
        rule = "missing_field" if nz.is_missing(side) else "bad_value"
        raise Bad(rule, f"expected long or short, got {rec.get('side')!r}")
    f[0] = "entry_date"
    entry_date = nz.to_date(rec.get("entry_date"))
    f[0] = "entry_price"
    entry = nz.to_price(rec.get("entry_price"))
    if entry is None:
        raise Bad("missing_field", f"expected an entry price > 0, got {rec.get('entry_price')!r}")
    f[0] = "shares"
    shares = nz.to_number(rec.get("shares"))
    if shares is None:
        raise Bad("missing_field", f"expected a number of shares > 0, got {rec.get('shares')!r}")
    if shares <= 0:
        raise Bad(
            "non_positive_shares", f"expected a number of shares > 0, got {rec.get('shares')!r}"
        )
    f[0] = "exit_date"
    exit_raw = rec.get("exit_date")
    exit_date = None if nz.is_missing(exit_raw) else nz.to_date(exit_raw)
    if exit_date is not None and exit_date < entry_date:
        raise Bad(
            "exit_before_entry",
            f"exit date {exit_raw!r} is before entry date {rec.get('entry_date')!r}",
        )
    f[0] = "exit_price"
    exit_price = nz.to_price(rec.get("exit_price"))
    f[0] = "status"
    status = rec.get("status")
    status = status.strip().upper() if isinstance(status, str) else status
    if status not in nz.TRADE_STATUSES:
        rule = "missing_field" if nz.is_missing(status) else "bad_value"
        raise Bad(rule, f"expected OPEN, CLOSED or CANCELLED, got {rec.get('status')!r}")
    if status == "CLOSED" and (exit_date is None or exit_price is None):
        f[0] = "exit_date" if exit_date is None else "exit_price"
        raise Bad("missing_field", "a CLOSED trade needs an exit date and an exit price")
    f[0] = "pnl"
    pnl = nz.to_number(rec.get("pnl"))
    f[0] = "fees"
    fees = nz.to_number(rec.get("fees"))
    fees = 0.0 if fees is None else fees
    if fees < 0:
        raise Bad("bad_value", f"expected fees >= 0, got {rec.get('fees')!r}")
    computed = None
    mismatch = 0
    if exit_price is not None and status == "CLOSED":
        sign = 1.0 if side == "long" else -1.0
        computed = round(sign * (exit_price - entry) * shares - fees, 6)
        if (
            pnl is not None
            and abs(pnl - computed) > PNL_CENTS_PER_SHARE * shares + PNL_ABS_TOLERANCE
        ):
            mismatch = 1
            flags.append("pnl_mismatch")
    extra = extra_json(rec, TRADE_FIELDS)
    return (lid, pid, ticker, side, entry_date, entry, shares, exit_date, exit_price, status,
            pnl, computed, mismatch, fees, extra)  # fmt: skip


def read_trades(doc: Any, name: str, *, has_nan: bool = False, extremes: bool | None = None
) -> ParsedFile:
    """``trades_data.json`` (a list of trades) -> rows."""
    if not isinstance(doc, list):
        msg = f"wrong top-level shape: expected a list of trades, got {type(doc).__name__}"
        raise FileFormatError(name, "top level", msg)
    return _run(ParsedFile(name, "trades"), [(None, r) for r in doc], has_nan, _trade, extremes)


def read_leaders(doc: Any, name: str, timeframe: str, *, has_nan: bool = False, extremes: bool | None = None
) -> ParsedFile:
    """A ``volume_leaders_<timeframe>.json`` -> one row per ranked ticker per date."""
    if not isinstance(doc, dict) or not isinstance(doc.get("leaders"), dict):
        got = type(doc).__name__ if not isinstance(doc, dict) else f"keys {sorted(doc)[:5]}"
        msg = f'wrong top-level shape: expected an object with a "leaders" object, got {got}'
        raise FileFormatError(name, "top level", msg)
    records: list[tuple[str | None, Any]] = []
    symbol_keys: set[str] = set()
    for day, entries in doc["leaders"].items():
        if not isinstance(entries, list):
            msg = f"expected a list of leaders for date {day!r}, got {type(entries).__name__}"
            raise FileFormatError(name, f"leaders[{day!r}]", msg)
        for entry in entries:
            records.append((day, entry))
            if isinstance(entry, dict):
                symbol_keys.update(k for k in ("symbol", "ticker") if k in entry)
    meta = file_fields(doc, name, "leaders")
    meta["symbol_key"] = "ticker" if symbol_keys == {"ticker"} else "symbol"
    parsed = ParsedFile(name, "leaders", meta=meta)
    day_ok: dict[str, str | Bad] = {}

    def convert(
        day: str | None, rec: dict[str, Any], f: list[str], flags: list[str]
    ) -> tuple[Any, ...]:
        f[0] = "date"
        day = day or ""
        iso = day_ok.get(day)
        if iso is None:
            try:
                iso = nz.to_date(day)
            except Bad as exc:
                iso = exc
            day_ok[day] = iso
        if isinstance(iso, Bad):
            raise iso
        f[0] = "rank"
        rank = nz.to_int_or_none(rec.get("rank"), minimum=1)
        if rank is None:
            raise Bad("missing_field", f"expected a rank >= 1, got {rec.get('rank')!r}")
        f[0] = "symbol" if "symbol" in rec or "ticker" not in rec else "ticker"
        ticker = nz.to_symbol(rec.get("symbol", rec.get("ticker")))
        f[0] = "volume"
        volume = nz.to_volume(rec.get("volume"))
        f[0] = "price"
        price = nz.to_price(rec.get("price"))
        return (timeframe, iso, rank, ticker, volume, price, extra_json(rec, LEADER_FIELDS))

    return _run(parsed, records, has_nan, convert, extremes)


_NULLS = frozenset({"", "null", "NULL", "Null", "nan", "NaN", "None", "none"})
_PRICE_ORDER = ("open", "high", "low", "close", "volume", "adj_close")


def _price_slow(values: dict[str, str]) -> tuple[Any, ...]:
    """Field-by-field reading of one CSV row (the path taken when the fast path objects)."""
    out: dict[str, Any] = {}
    for col in _PRICE_ORDER:
        text = values.get(col)
        try:
            if col == "volume":
                out[col] = nz.to_volume(None if text is None or text.strip() in _NULLS else text)
            else:
                out[col] = nz.to_price(None if text is None or text.strip() in _NULLS else text)
        except Bad as exc:
            raise _FieldBad(col, exc) from exc
    if out["high"] is not None and out["low"] is not None and out["high"] < out["low"]:
        raise _FieldBad(
            "high", Bad("high_below_low", f"high {values['high']} is below low {values['low']}")
        )
    return tuple(out[c] for c in _PRICE_ORDER)


class _FieldBad(Exception):
    def __init__(self, field: str, bad: Bad) -> None:
        super().__init__(bad.reason)
        self.field = field
        self.bad = bad


#: Columns shorter than this are read by ``float`` even in bulk (`_floats`).
BULK_MIN_VALUES = 64


def _floats(texts: list[str], bulk: bool) -> list[float]:
    """``list(map(float, texts))``: the same floats, and the same `ValueError` when one text is
    not a number; with ``bulk``, faster for a long column of plain decimals.

    A column of at least `BULK_MIN_VALUES` texts made of nothing but the ASCII digits and
    ``.`` is cast by Polars (`plain_decimals`), whose string-to-float reading is correctly
    rounded, as Python's is: for such a text both give the double nearest its decimal value
    (ties to even), so the same bits (tests/property/test_price_floats.py compares them over
    every short text of digits and dots, long and subnormal decimals, and the exact midpoints
    between neighbouring doubles). A text Polars does not read as a number (empty, ``.``, two
    dots) leaves the whole column to ``float``, which raises as it always did.
    """
    if bulk and len(texts) >= BULK_MIN_VALUES:
        got = plain_decimals(texts)
        if got is not None:
            return got
    return list(map(float, texts))


def plain_decimals(texts: list[str]) -> list[float] | None:
    """The floats of ``texts`` read by Polars when every character of every text is an ASCII
    digit or ``.`` and Polars reads every text as a number; None otherwise."""
    try:
        data = "".join(texts).encode("ascii")
    except UnicodeEncodeError:
        return None
    if data.translate(None, b"0123456789."):
        return None
    import polars as pl  # here: only a bulk load of price files needs it

    col = pl.Series(texts, dtype=pl.String).cast(pl.Float64, strict=False)
    if col.null_count():
        return None
    return cast("list[float]", col.to_list())


def _prices_columnwise(pf: PriceFile, parsed: ParsedFile, *, bulk: bool = False) -> bool:
    """`read_prices` for a clean file, column by column; False (nothing added) when it is not clean.

    Clean means every line has one value per column, a real date, and either numbers the
    line-by-line path would accept as they are (prices > 0, whole volumes >= 0, high >= low)
    or nothing but null texts (a ``null_price_row``, kept as a row of NULLs and flagged, as
    that path keeps it). The values are read by the same ``float`` as that path (or, with
    ``bulk``, by a reading proven to give the same floats: `_floats`), so the rows are
    identical; the gain is doing it with C-level ``map`` and NumPy checks rather than a
    Python loop per line. Any doubt (a null among numbers, a NaN, text, a repeated column)
    leaves the whole file to the line-by-line path.
    """
    import numpy as np  # here, not at the top: the second interpreter reading JSON files never needs it

    cols = pf.columns
    n = len(cols)
    lines = pf.lines
    m = len(lines)
    if m == 0 or len(set(cols)) != n:
        return False
    if list(map(str.count, lines, repeat(","))).count(n - 1) != m:
        return False
    cells = ",".join(lines).split(",")
    text = {c: cells[k::n] for k, c in enumerate(cols)}
    days = list(map(nz._parse_date, map(str.strip, text["date"])))
    if None in days:
        return False
    value_cols = [c for c in _PRICE_ORDER if c in text]
    try:
        nums = {c: _floats(text[c], bulk) for c in value_cols}
        null_at: list[int] = []
    except ValueError:  # a text float refuses: only whole lines of null texts are read here
        null_at = [i for i, vals in enumerate(zip(*(text[c] for c in value_cols), strict=True))
                   if _NULLS.issuperset(vals)]  # fmt: skip
        if not null_at:
            return False
        nulls = set(null_at)
        keep = [i for i in range(m) if i not in nulls]
        try:
            nums = {c: list(map(float, map(text[c].__getitem__, keep))) for c in value_cols}
        except ValueError:
            return False
        days_kept = [days[i] for i in keep]
    for c, vals in nums.items():
        x = np.asarray(vals, dtype=np.float64)
        if c == "volume":
            ok = (x >= 0.0) & (x < 2.0**63) & (x == np.floor(x))
        else:
            ok = (x > 0.0) & (x < np.inf)
        if not ok.all():
            return False
    if not (np.asarray(nums["high"]) >= np.asarray(nums["low"])).all():
        return False
    symbol = pf.symbol
    k = m - len(null_at)
    adj: list[float] | list[None] = nums.get("adj_close") or [None] * k
    volume = list(map(int, nums["volume"]))
    rows: list[tuple[Any, ...] | None] = list(
        zip(repeat(symbol, k), days_kept if null_at else days, nums["open"], nums["high"],
            nums["low"], nums["close"], volume, adj, strict=True)
    )  # fmt: skip
    flags: list[list[str] | None] = [None] * m
    if null_at:
        by_line: list[tuple[Any, ...] | None] = [None] * m
        for i, row in zip(keep, rows, strict=True):
            by_line[i] = row
        for i in null_at:
            by_line[i] = (symbol, days[i], None, None, None, None, None, None)
            flags[i] = ["null_price_row"]
        rows = by_line
    parsed.raws.extend(lines)
    parsed.keys.extend(repeat(symbol, m))
    parsed.rows.extend(rows)
    parsed.problems.extend(repeat(None, m))
    parsed.flags.extend(flags)
    if not null_at:
        parsed.columns = (days, nums["open"], nums["high"], nums["low"], nums["close"], volume, adj)
    return True


def read_prices(pf: PriceFile, *, bulk: bool = False) -> ParsedFile:
    """One price CSV -> rows ``(ticker, date, open, high, low, close, volume, adj_close)``.

    A row of ``null`` values is kept as a row of NULLs and flagged ``null_price_row``.
    ``bulk`` (a loader reading many files) lets long columns of plain decimals be read by
    Polars, with the same result (`_floats`); it is worth its import only for many lines.
    """
    parsed = ParsedFile(pf.name, "prices", meta={"header": pf.header, "symbol": pf.symbol})
    if not _prices_columnwise(pf, parsed, bulk=bulk):
        _prices_by_line(pf, parsed)
    return parsed


def _prices_by_line(pf: PriceFile, parsed: ParsedFile) -> None:
    """`read_prices` line by line, field by field: the exact reading, for any file."""
    cols = pf.columns
    n = len(cols)
    di = cols.index("date")
    idx = [cols.index(c) if c in cols else -1 for c in _PRICE_ORDER]
    oi, hi, li, ci, vi, ai = idx
    symbol = pf.symbol
    raws, keys, rows, problems, flags = (
        parsed.raws,
        parsed.keys,
        parsed.rows,
        parsed.problems,
        parsed.flags,
    )

    def add(
        raw: str,
        key: str,
        row: tuple[Any, ...] | None,
        problem: Problem | None,
        fl: list[str] | None,
    ) -> None:
        raws.append(raw)
        keys.append(key)
        rows.append(row)
        problems.append(problem)
        flags.append(fl)

    inf = float("inf")
    for line in pf.lines:
        parts = line.split(",")
        if len(parts) != n:
            problem = Problem(
                "*", "bad_record", f"expected {n} comma-separated values, got {len(parts)}"
            )
            add(line, symbol, None, problem, None)
            continue
        day = nz._parse_date(parts[di].strip())
        if day is None:
            problem = Problem(
                "date", "impossible_date", f"expected a real date as YYYY-MM-DD, got {parts[di]!r}"
            )
            add(line, symbol, None, problem, None)
            continue
        try:
            parts[di] = "null"
            vals = [None if p in _NULLS else float(p) for p in parts]
            o, h, lo, c = vals[oi], vals[hi], vals[li], vals[ci]
            a = vals[ai] if ai >= 0 else None
            v = vals[vi]
            for x in (o, h, lo, c, a):
                if x is not None and not 0.0 < x < inf:
                    raise ValueError
            if v is not None and not (0.0 <= v < 2.0**63 and v == int(v)):
                raise ValueError
            if h is not None and lo is not None and h < lo:
                raise ValueError
            row = (symbol, day, o, h, lo, c, None if v is None else int(v), a)
        except (ValueError, TypeError):
            values = {cols[i]: parts[i] for i in range(n) if i != di}
            try:
                o, h, lo, c, v, a = _price_slow(values)
            except _FieldBad as exc:
                add(line, symbol, None, Problem(exc.field, exc.bad.rule, exc.bad.reason), None)
                continue
            row = (symbol, day, o, h, lo, c, v, a)
        raws.append(line)
        keys.append(symbol)
        rows.append(row)
        problems.append(None)
        if o is None and h is None and lo is None and c is None and v is None and a is None:
            flags.append(["null_price_row"])
        else:
            flags.append(None)


def _ticker(
    symbol: str | None, rec: dict[str, Any], f: list[str], flags: list[str]
) -> tuple[Any, ...]:
    f[0] = "symbol"
    sym = nz.to_symbol(symbol)
    f[0] = "market_cap"
    cap, cap_raw = nz.to_market_cap(rec.get("market_cap"))
    if cap_raw is not None:
        flags.append("market_cap_text")
    f[0] = "name"
    name = nz.to_text(rec.get("name"))
    f[0] = "sector"
    sector = nz.to_text(rec.get("sector"))
    return (sym, name, sector, cap, cap_raw, extra_json(rec, TICKER_FIELDS))


def read_tickers(doc: Any, name: str, *, has_nan: bool = False, extremes: bool | None = None
) -> ParsedFile:
    """``tickers_info.json`` (symbol -> ``{name, sector, market_cap}``) -> rows."""
    if not isinstance(doc, dict):
        msg = (
            f"wrong top-level shape: expected an object of symbol -> info, got {type(doc).__name__}"
        )
        raise FileFormatError(name, "top level", msg)
    return _run(ParsedFile(name, "tickers"), list(doc.items()), has_nan, _ticker, extremes)


def _strategy(
    key: str | None, rec: dict[str, Any], f: list[str], flags: list[str]
) -> tuple[Any, ...]:
    f[0] = "name"
    name = nz.to_strategy(key)
    f[0] = "min_hold_days"
    lo = nz.to_int_or_none(rec.get("min_hold_days"), minimum=0)
    f[0] = "max_hold_days"
    hi = nz.to_int_or_none(rec.get("max_hold_days"), minimum=1)
    if lo is not None and hi is not None and hi < lo:
        raise Bad("bad_value", f"max_hold_days {hi} is below min_hold_days {lo}")
    f[0] = "description"
    desc = nz.to_text(rec.get("description"))
    return (name, desc, lo, hi, extra_json(rec, STRATEGY_FIELDS))


def read_strategies(doc: Any, name: str, *, has_nan: bool = False, extremes: bool | None = None
) -> ParsedFile:
    """``strategies_config.json`` (name -> ``{description, min_hold_days, max_hold_days}``) -> rows."""
    if not isinstance(doc, dict):
        msg = f"wrong top-level shape: expected an object of name -> settings, got {type(doc).__name__}"
        raise FileFormatError(name, "top level", msg)
    return _run(ParsedFile(name, "strategies"), list(doc.items()), has_nan, _strategy, extremes)
