"""An independent proof that every record of a legacy folder is in the database, field by field.

It shares no parsing or normalization code with the migrator: it re-reads the files with the
standard library (``json``, ``csv``, ``datetime``, ``zoneinfo``) and applies its own small
readings of each quirk of docs/legacy-format.md. For each record position it finds the ``raw_records`` row
of the newest committed batch that read that file, checks the raw original is the record,
then: a quarantined record must have its quarantine row; an imported, duplicate or
already-present record must match its target row field by field (undocumented fields against
``extra``). Anything else is a difference, listed (the first ``max_differences``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from quantdb.ingest.reader import KNOWN_JSON, clip_deep, scan_folder
from quantdb.storage.sqlite import Database

_ET = ZoneInfo("America/New_York")
_UNIT = {"d": 1, "w": 5, "m": 21, "y": 252}
_LEADER_FILES = {"volume_leaders_daily.json": "daily", "volume_leaders_weekly.json": "weekly",
                 "volume_leaders_monthly.json": "monthly"}  # fmt: skip


@dataclass(frozen=True)
class VerifyReport:
    """``ok`` when every record is accounted for and equal, field by field."""

    ok: bool
    source: str
    records: int
    files: dict[str, dict[str, int]] = field(default_factory=dict)
    n_differences: int = 0
    differences: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "source": self.source, "records": self.records, "files": self.files,
                "n_differences": self.n_differences, "differences": list(self.differences)}  # fmt: skip


# -- independent readings of legacy values ---------------------------------------------------------


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (
        isinstance(v, str) and v.strip().lower() in ("", "nan", "null", "none"))  # fmt: skip


def _num(v: Any) -> float | None:
    return (
        None if _missing(v) else float(str(v).replace(",", "")) if isinstance(v, str) else float(v)
    )


def _day(v: Any) -> str | None:
    if _missing(v):
        return None
    return _day_text(str(v).strip())


@lru_cache(maxsize=65536)
def _day_text(text: str) -> str:
    """`_day` of a date's text (pure, and a folder repeats the same few thousand dates)."""
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            pass
    return "unreadable"


def _utc(ts: str) -> tuple[str, str]:
    t = datetime.fromisoformat(ts.strip().replace(" ", "T"))
    if t.tzinfo is None:
        return t.replace(tzinfo=_ET).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "naive"
    kind = "utc" if ts.strip().endswith("Z") else "offset"
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), kind


def _days(tf: Any) -> int | None:
    if _missing(tf):
        return None
    text = str(int(tf)) if isinstance(tf, (int, float)) else str(tf).strip().lower()
    return int(text) if text.isdigit() else int(text[:-1]) * _UNIT[text[-1]]


def _cap(v: Any) -> float | None:
    if _missing(v):
        return None
    if isinstance(v, str):
        t = v.strip().upper().lstrip("$")
        mult = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(t[-1], 1.0)
        return float((t[:-1] if mult != 1.0 else t).replace(",", "")) * mult
    return float(v)


def _conf(v: Any) -> float | None:
    c = _num(v)
    return None if c is None else (c if c <= 1.0 else c / 100.0)


def _lid(v: Any) -> str | None:
    if _missing(v):
        return None
    return str(int(v)) if isinstance(v, (int, float)) else str(v).strip()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def _canon(x: Any) -> str:
    return json.dumps(x, sort_keys=True, allow_nan=True)


# -- field maps: (db column, reading of the record) ------------------------------------------------

Getter = Callable[[dict[str, Any]], Any]
PRED_FIELDS: dict[str, tuple[str, Getter]] = {
    "id": ("legacy_id", lambda r: _lid(r.get("id"))),
    "date": ("date", lambda r: _day(r.get("date"))),
    "timestamp": ("timestamp", lambda r: None if _missing(r.get("timestamp")) else r["timestamp"]),
    "strategy": ("strategy", lambda r: str(r["strategy"]).strip().lower()),
    "ticker": ("symbol", lambda r: str(r["ticker"]).strip().upper()),
    "position": ("position", lambda r: {"BUY": "LONG", "SELL": "SHORT"}.get(str(r["position"]).strip().upper(),
                                                                          str(r["position"]).strip().upper())),
    "confidence": ("confidence", lambda r: _conf(r.get("confidence"))),
    "target": ("target", lambda r: _num(r.get("target"))),
    "stop_loss": ("stop_loss", lambda r: _num(r.get("stop_loss"))),
    "timeframe": ("timeframe", lambda r: None if _missing(r.get("timeframe")) else str(r["timeframe"]).strip()),
    "timeframe_days": ("timeframe_days", lambda r: _days(r.get("timeframe"))),
    "entry_price": ("entry_price", lambda r: _num(r.get("entry_price"))),
    "status": ("status", lambda r: str(r["status"]).strip().lower()),
}  # fmt: skip
TRADE_FIELDS: dict[str, tuple[str, Getter]] = {
    "trade_id": ("legacy_id", lambda r: _lid(r.get("trade_id"))),
    "prediction_id": ("prediction_legacy_id", lambda r: _lid(r.get("prediction_id"))),
    "ticker": ("symbol", lambda r: str(r["ticker"]).strip().upper()),
    "side": ("side", lambda r: {"buy": "long", "sell": "short"}.get(str(r["side"]).strip().lower(),
                                                                  str(r["side"]).strip().lower())),
    "entry_date": ("entry_date", lambda r: _day(r.get("entry_date"))),
    "entry_price": ("entry_price", lambda r: _num(r.get("entry_price"))),
    "shares": ("shares", lambda r: _num(r.get("shares"))),
    "exit_date": ("exit_date", lambda r: _day(r.get("exit_date"))),
    "exit_price": ("exit_price", lambda r: _num(r.get("exit_price"))),
    "status": ("status", lambda r: str(r["status"]).strip().upper()),
    "pnl": ("pnl", lambda r: _num(r.get("pnl"))),
    "fees": ("fees", lambda r: _num(r.get("fees")) or 0.0),
}  # fmt: skip
LEADER_FIELDS: dict[str, tuple[str, Getter]] = {
    "rank": ("rank", lambda r: int(str(r["rank"]).strip())),
    "symbol": ("symbol", lambda r: str(r.get("symbol", r.get("ticker"))).strip().upper()),
    "volume": ("volume", lambda r: None if _missing(r.get("volume")) else int(float(r["volume"]))),
    "price": ("price", lambda r: _num(r.get("price"))),
}  # fmt: skip
TICKER_FIELDS: dict[str, tuple[str, Getter]] = {
    "name": ("name", lambda r: None if _missing(r.get("name")) else str(r["name"])),
    "sector": ("sector", lambda r: None if _missing(r.get("sector")) else str(r["sector"])),
    "market_cap": ("market_cap", lambda r: _cap(r.get("market_cap"))),
    "market_cap_raw": ("market_cap_raw", lambda r: r["market_cap"] if isinstance(r.get("market_cap"), str) else None),
}  # fmt: skip
STRATEGY_FIELDS: dict[str, tuple[str, Getter]] = {
    "description": ("description", lambda r: None if _missing(r.get("description")) else str(r["description"])),
    "min_hold_days": ("min_hold_days", lambda r: None if _missing(r.get("min_hold_days")) else int(float(r["min_hold_days"]))),
    "max_hold_days": ("max_hold_days", lambda r: None if _missing(r.get("max_hold_days")) else int(float(r["max_hold_days"]))),
}  # fmt: skip
DOCUMENTED = {
    "predictions": set(PRED_FIELDS), "trades": set(TRADE_FIELDS), "leaders": {"rank", "symbol", "ticker", "volume", "price"},
    "tickers": {"name", "sector", "market_cap"}, "strategies": set(STRATEGY_FIELDS),
}  # fmt: skip

TARGET_SQL = {
    "predictions": "SELECT p.id, p.legacy_id, p.date, p.timestamp, p.timestamp_utc, p.timestamp_kind, s.name AS strategy, "
    "k.symbol, p.position, p.confidence, p.target, p.stop_loss, p.timeframe, p.timeframe_days, p.entry_price, "
    "p.status, p.extra FROM predictions p JOIN strategies s ON s.id = p.strategy_id JOIN tickers k ON k.id = p.ticker_id",
    "trades": "SELECT r.*, k.symbol, p.legacy_id AS linked_legacy_id FROM trades r JOIN tickers k ON k.id = r.ticker_id "
    "LEFT JOIN predictions p ON p.id = r.prediction_id",
    "volume_leaders": "SELECT v.*, k.symbol FROM volume_leaders v JOIN tickers k ON k.id = v.ticker_id",
    "price_history": "SELECT p.*, k.symbol FROM price_history p JOIN tickers k ON k.id = p.ticker_id",
    "tickers": "SELECT * FROM tickers",
    "strategies": "SELECT * FROM strategies",
}  # fmt: skip


# -- reading the folder on its own ------------------------------------------------------------------


def _load(path: Path) -> Any:
    with open(path, encoding="utf-8-sig") as fh:
        text = fh.read()
    try:
        return json.loads(text)
    except RecursionError:  # nested deeper than the parser recurses: read as migrate read it
        return json.loads(clip_deep(text))


def _records(root: Path) -> Iterator[tuple[str, str, list[tuple[str | None, Any]]]]:
    """(file name, kind, [(record key, record)]) for each legacy file of ``root``."""
    for name, kind in (("tickers_info.json", "tickers"), ("strategies_config.json", "strategies")):
        if (root / name).is_file():
            yield name, kind, list(_load(root / name).items())
    if (root / "predictions_data.json").is_file():
        yield (
            "predictions_data.json",
            "predictions",
            [(None, r) for r in _load(root / "predictions_data.json")["predictions"]],
        )
    if (root / "trades_data.json").is_file():
        yield "trades_data.json", "trades", [(None, r) for r in _load(root / "trades_data.json")]
    for name in _LEADER_FILES:
        if (root / name).is_file():
            doc = _load(root / name)
            yield name, "leaders", [(day, e) for day, lst in doc["leaders"].items() for e in lst]
    prices = root / "price_history"
    if prices.is_dir():
        for p in sorted(prices.glob("*.csv")) + sorted(prices.glob("*.CSV")):
            text = p.read_bytes().decode("utf-8-sig")
            lines = text.splitlines()
            while lines and not lines[-1].strip():
                lines.pop()
            yield (
                f"price_history/{p.name}",
                "prices",
                [(None, line) for line in lines[1:]] + [("__header__", lines[0] if lines else "")],
            )


@dataclass(frozen=True)
class _Batch:
    """A committed legacy batch: its id, folder and the records it read per file (from its report)."""

    id: int
    source: str
    files_read: dict[str, int] | None  # None: a batch without a report (rows tell what it read)

    def reads(self, db: Database, name: str) -> int:
        if self.files_read is not None:
            return self.files_read.get(name, 0)
        return int(db.scalar("SELECT count(*) FROM raw_records WHERE batch_id = ? AND file = ?", (self.id, name)))


def _files_read(report_json: str | None) -> dict[str, int] | None:
    if not report_json:
        return None
    files = json.loads(report_json).get("files")
    return None if files is None else {k: int(v["read"]) for k, v in files.items()}


def _newest_reading(db: Database, batches: list[_Batch], name: str) -> _Batch | None:
    """The newest batch that read file ``name`` (whether or not it had to store its records)."""
    for b in batches:
        if b.files_read is not None:
            if name in b.files_read:
                return b
        elif db.scalar("SELECT 1 FROM raw_records WHERE batch_id = ? AND file = ? LIMIT 1", (b.id, name)):
            return b
    return None


def _kept_rows(db: Database, batches: list[_Batch], newest: _Batch, name: str, n_read: int) -> dict[int, tuple[Any, ...]]:
    """position -> (position, raw id, raw, outcome, table, target id, key) as ``newest`` read it.

    A re-run keeps no second copy of a raw original an earlier legacy batch keeps at the same
    file and position (`quantdb.services.records.migrate`), so each position's row is the newest
    one kept by ``newest`` or an earlier batch; a record found again, already present, counts as
    ``already_present`` for ``newest``.
    """
    rows: dict[int, tuple[Any, ...]] = {}
    sql = ("SELECT position, id, raw, outcome, target_table, target_id, record_key FROM raw_records "
           "WHERE batch_id = ? AND file = ?")  # fmt: skip
    with db.reader() as conn:  # plain tuples: a folder's every raw row passes through here
        for b in batches:
            if b.id > newest.id:
                continue
            found = conn.execute(sql, (b.id, name)).fetchall()
            if not rows and b.id == newest.id:  # the newest batch's rows, taken as they are
                first = dict(zip(map(itemgetter(0), found), found, strict=True))
                if len(first) == len(found) and (not found or max(first) < n_read):
                    rows = first
                    if len(rows) == n_read:
                        break
                    continue
            for r in found:
                if r[0] < n_read and r[0] not in rows:
                    if b.id != newest.id and r[3] == "imported":
                        r = (*r[:3], "already_present", *r[4:])
                    rows[r[0]] = r
            if len(rows) == n_read:
                break
    return rows


def verify_folder(db: Database, folder: str | Path, *, max_differences: int = 20) -> VerifyReport:
    """Prove, record by record and field by field, that ``folder`` is in ``db``.

    A folder with no legacy file, or whose files hold no record, proves nothing: the report
    is not ok ("nothing to verify"), so `quantdb verify` exits 1. A missing folder raises
    `FileFormatError` (exit 2).
    """
    root = scan_folder(folder).root.resolve()  # refuses a missing folder, as migrate does
    diffs: list[str] = []
    n_diff = 0

    def diff(msg: str) -> None:
        nonlocal n_diff
        n_diff += 1
        if len(diffs) < max_differences:
            diffs.append(msg)

    legacy = "SELECT id, source, report_json FROM import_batches WHERE status = 'committed' AND kind = 'legacy'"
    every = [_Batch(r[0], r[1], _files_read(r[2])) for r in db.query(f"{legacy} ORDER BY id DESC")]
    batches = [b for b in every if b.source == str(root)] or every  # this folder's, else any
    targets: dict[str, dict[int, Any]] = {}
    quarantined = {r[0] for r in db.query("SELECT raw_record_id FROM quarantine")}
    files: dict[str, dict[str, int]] = {}
    prices: _PriceRows | None = None  # every price row, read once when the first price file comes
    total = 0
    for name, kind, recs in _records(root):
        header = None
        if kind == "prices":
            header = recs.pop()[1]
        total += len(recs)
        if not recs:  # an empty file: nothing to account for
            files[name] = {"imported": 0, "duplicate": 0, "already_present": 0, "quarantined": 0}
            continue
        newest = _newest_reading(db, batches, name)
        if newest is None:
            diff(f"{name}: {len(recs)} records, none of them in any committed import batch")
            continue
        batch, n_read = newest.id, newest.reads(db, name)
        raws = _kept_rows(db, every, newest, name, n_read)
        tally = {"imported": 0, "duplicate": 0, "already_present": 0, "quarantined": 0}
        if n_read != len(recs):
            diff(f"{name}: {len(recs)} records in the folder but {n_read} accounted for in batch {batch}")
        if kind == "prices":
            cols = [
                h.strip().lower().replace(" ", "_") for h in next(csv.reader(io.StringIO(header)))
            ]
            if prices is None:
                prices = _PriceRows(db)
            files[name] = _verify_prices(name, recs, raws, batch, cols, prices, quarantined, diff)
            continue
        for pos, (key, rec) in enumerate(recs):
            got = raws.get(pos)
            where = f"{name} record {pos}"
            if got is None:
                diff(f"{where}: not in batch {batch}")
                continue
            _, raw_id, raw, outcome, table, tid, rkey = got
            if key is not None and not key.isascii():  # a lone surrogate is kept as its escape
                key = key.encode("utf-8", "backslashreplace").decode()
            if _canon(json.loads(raw)) != _canon(rec) or (key is not None and rkey != key):
                diff(f"{where}: the raw original kept in the database differs from the file")
                continue
            tally[outcome] += 1
            if outcome == "quarantined":
                if raw_id not in quarantined:
                    diff(f"{where}: marked quarantined but has no quarantine row")
                continue
            if table not in targets:
                targets[table] = {r["id"]: dict(r) for r in db.query(TARGET_SQL[table])}
            row = targets[table].get(tid)
            if row is None:
                diff(f"{where}: its {table} row {tid} is missing")
                continue
            for problem in _compare(kind, name, key, rec, row):
                diff(f"{where}: {problem}")
        files[name] = tally
    if not files:
        diff(f"nothing to verify: {root} holds no legacy files (expected {', '.join(KNOWN_JSON)} "
             "or price_history/*.csv)")  # fmt: skip
    elif total == 0:
        diff(f"nothing to verify: the legacy files of {root} hold no records")
    return VerifyReport(n_diff == 0, str(root), total, files, n_diff, tuple(diffs))


class _PriceRows:
    """Every ``price_history`` row with its symbol, by id, as plain tuples (``index``: column ->
    position): the bulk of a legacy folder, read in one query without a dict per row."""

    def __init__(self, db: Database) -> None:
        with db.reader() as conn:
            cur = conn.execute(TARGET_SQL["price_history"])
            self.index = {d[0]: i for i, d in enumerate(cur.description)}
            at = self.index["id"]
            self.rows: dict[int, tuple[Any, ...]] = {r[at]: r for r in cur}
        self.days: dict[str, str | None] = {}  # `_day` of each date text seen (files share dates)


def _verify_prices(name: str, recs: list[tuple[str | None, Any]], raws: dict[int, tuple[Any, ...]],
                   batch: int, cols: list[str], prices: _PriceRows, quarantined: set[int],
                   diff: Callable[[str], None]) -> dict[str, int]:  # fmt: skip
    """The record loop of `verify_folder` for one price file; returns its tally.

    The general loop's accounting (in the batch, the raw original kept as read, quarantined
    with a quarantine row, its row present), then each field against its column, with the
    per-row work cut: each line is
    split once (``csv`` only for a line that needs it: a quote, a NUL or nothing at all), a date
    is read once per distinct text (`_day` is pure) and a number by ``float`` first (`_num`
    where that fails or reads NaN: the texts `_missing` treats as missing).
    """
    tally = _prices_all_equal(name, recs, raws, cols, prices, quarantined)
    if tally is not None:
        return tally
    tally = {"imported": 0, "duplicate": 0, "already_present": 0, "quarantined": 0}
    stem = name.rsplit("/", 1)[1].rsplit(".", 1)[0]
    symbol = stem.upper().replace("-", ".")
    at = prices.index
    i_symbol = at["symbol"]
    fields = [(col, at[col], col == "date", col == "volume") for col in cols]
    days = prices.days
    rows = prices.rows
    for pos, (_key, rec) in enumerate(recs):
        got = raws.get(pos)
        if got is None:
            diff(f"{name} record {pos}: not in batch {batch}")
            continue
        _, raw_id, raw, outcome, table, tid, _rkey = got
        if raw != rec:
            diff(f"{name} record {pos}: the raw original kept in the database differs from the file")
            continue
        tally[outcome] += 1
        if outcome == "quarantined":
            if raw_id not in quarantined:
                diff(f"{name} record {pos}: marked quarantined but has no quarantine row")
            continue
        row = rows.get(tid) if table == "price_history" else None
        if row is None:
            diff(f"{name} record {pos}: its {table} row {tid} is missing")
            continue
        if row[i_symbol] != symbol:
            diff(f"{name} record {pos}: symbol: file {stem!r}, database {row[i_symbol]!r}")
        values = next(csv.reader((rec,)), []) if (not rec or '"' in rec or "\0" in rec) else rec.split(",")
        for (col, i, is_date, is_volume), text in zip(fields, values, strict=False):
            want: Any
            if is_date:
                want = days.get(text, _NO_DAY)
                if want is _NO_DAY:
                    want = days[text] = _day(text)
            else:
                try:
                    want = float(text)
                except ValueError:
                    want = _num(text)
                else:
                    if math.isnan(want):  # "nan" and the like: missing for `_num`
                        want = _num(text)
                if is_volume and want is not None:
                    want = int(want)
            have = row[i]
            if want != have and not _same(want, have):  # equal values are always the same
                diff(f"{name} record {pos}: {col}: file {text!r}, database {have!r}")
    return tally


_NO_DAY: Any = object()


def _prices_all_equal(name: str, recs: list[tuple[str | None, Any]], raws: dict[int, tuple[Any, ...]],
                      cols: list[str], prices: _PriceRows, quarantined: set[int]) -> dict[str, int] | None:  # fmt: skip
    """The tally of a price file in which `_verify_prices`' line loop would find no difference,
    established a column at a time; None as soon as any check fails (the line loop then runs
    and names each difference, so a report never depends on this shortcut).

    The same checks and readings as the loop: every position kept with the raw line as read, a
    quarantined line with its quarantine row, every other line's ``price_history`` row present
    with the file's symbol; then each column's texts read as the loop reads them (a date by
    `_day`, a number by ``float``, a volume by ``int`` of that) and compared with the column's
    database values as whole lists: equal lists mean every ``want != have`` of the loop is
    False. Lines the loop treats specially (quoted, holding a NUL, empty, with a value count
    other than the header's) and texts ``float`` refuses or reads as NaN (where the loop falls
    back to `_num`) leave the file to the loop.
    """
    n = len(recs)
    maybe = list(map(raws.get, range(n)))
    if None in maybe:
        return None
    got = cast("list[tuple[Any, ...]]", maybe)
    lines = [rec for _key, rec in recs]
    if list(map(itemgetter(2), got)) != lines:
        return None
    outcomes = list(map(itemgetter(3), got))
    tally = {"imported": 0, "duplicate": 0, "already_present": 0, "quarantined": 0}
    for outcome in set(outcomes):
        if outcome not in tally:
            return None
        tally[outcome] = outcomes.count(outcome)
    if tally["quarantined"]:
        if not all(g[1] in quarantined for g in got if g[3] == "quarantined"):
            return None
        keep = [i for i, o in enumerate(outcomes) if o != "quarantined"]
        got = [got[i] for i in keep]
        lines = [lines[i] for i in keep]
    if not lines:
        return tally
    rows = prices.rows
    maybe = [rows.get(g[5]) if g[4] == "price_history" else None for g in got]
    if None in maybe:
        return None
    found = cast("list[tuple[Any, ...]]", maybe)
    at = prices.index
    columns = list(zip(*found, strict=True))  # the database's values, column by column
    stem = name.rsplit("/", 1)[1].rsplit(".", 1)[0]
    if columns[at["symbol"]].count(stem.upper().replace("-", ".")) != len(found):
        return None
    k = len(cols)
    joined = ",".join(lines)
    if '"' in joined or "\0" in joined or "" in lines:
        return None
    if list(map(str.count, lines, repeat(","))).count(k - 1) != len(lines):
        return None
    cells = joined.split(",")
    days = prices.days
    for j, col in enumerate(cols):
        texts = cells[j::k]
        want: tuple[Any, ...]
        if col == "date":
            for text in set(texts).difference(days):
                days[text] = _day(text)
            want = tuple(map(days.__getitem__, texts))
        else:
            try:
                try:
                    want = tuple(map(float, texts))
                    if any(map(math.isnan, want)):
                        raise ValueError
                except ValueError:  # a null or NaN text: the line loop's reading, value by value
                    want = tuple(map(_number_text, texts))
                if col == "volume":
                    want = tuple(map(int, want)) if None not in want else tuple(
                        None if w is None else int(w) for w in want)  # fmt: skip
            except (ValueError, OverflowError):
                return None
        if want != columns[at[col]]:
            return None
    return tally


def _number_text(text: str) -> float | None:
    """A price file's number as `_verify_prices` reads it: ``float``, else (or for NaN) `_num`."""
    try:
        want = float(text)
    except ValueError:
        return _num(text)
    return _num(text) if math.isnan(want) else want


def _compare(kind: str, name: str, key: str | None, rec: Any, row: dict[str, Any]) -> Iterator[str]:
    """Field-by-field differences between one legacy JSON record and its database row (a price
    file's records are compared by `_verify_prices`)."""
    fields = {"predictions": PRED_FIELDS, "trades": TRADE_FIELDS, "leaders": LEADER_FIELDS,
              "tickers": TICKER_FIELDS, "strategies": STRATEGY_FIELDS}[kind]  # fmt: skip
    for label, (col, read) in fields.items():
        want = read(rec)
        if not _same(want, row[col]):
            yield f"{label}: file {rec.get(label)!r} reads as {want!r}, database has {row[col]!r}"
    if kind == "predictions" and row["timestamp"] is not None:
        utc, how = _utc(row["timestamp"])
        if (utc, how) != (row["timestamp_utc"], row["timestamp_kind"]):
            yield f"timestamp: {row['timestamp']!r} is {utc} ({how}), database has {row['timestamp_utc']} ({row['timestamp_kind']})"
    if kind == "trades":
        pred = _lid(rec.get("prediction_id"))
        if row["prediction_id"] is not None and row["linked_legacy_id"] != pred:
            yield f"prediction_id: file {pred!r}, database links to {row['linked_legacy_id']!r}"
    if kind == "leaders" and (row["date"], row["timeframe"]) != (_day(key), _LEADER_FILES[name]):
        yield f"date: file {key!r} ({_LEADER_FILES[name]}), database {row['date']} ({row['timeframe']})"
    if kind in ("tickers", "strategies"):
        label = "symbol" if kind == "tickers" else "name"
        want_key = str(key).strip().upper() if kind == "tickers" else str(key).strip().lower()
        if row[label] != want_key:
            yield f"{label}: file {key!r}, database {row[label]!r}"
    extra = json.loads(row["extra"]) if row.get("extra") else {}
    for k, v in rec.items():
        if k not in DOCUMENTED[kind]:
            got = extra.get(k, "<absent>")
            if not (_canon(got) == _canon(v) or (_missing(v) and got is None)):
                yield f"{k} (undocumented): file {v!r}, database extra has {got!r}"
