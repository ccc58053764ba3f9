"""Write a legacy folder (docs/legacy-format.md) from a :class:`~quantdb.datasets.Market`.

The folder has the exact shapes, field orders and formatting of the trader's old system
(``json.dump(indent=1)`` for the data files, ``indent=2`` for the small ones, Yahoo CSVs),
and with ``mess=True`` every kind of mess that docs/legacy-format.md lists, at seeded rates close to
those of the real sample. Every injection is recorded in the returned
:class:`LegacyManifest` and in ``MANIFEST.json`` under ``mess`` (and ``damage`` for the
records a correct migrator must quarantine), so tests can check that each is handled.

Prediction statuses are computed honestly from the prices: a prediction made on day ``d``
looks at days ``d+1 .. d+h`` (``h`` trading days from its timeframe); ``hit_target`` if
the high (long) or low (short) reached the target before the stop was reached, ``stopped``
if the stop was reached first or on the same day (the order inside a day is unknown, so the
conservative reading), ``expired`` if neither, ``open`` if neither and the window runs past
the last date. Highs and lows are expressed in the prices of the prediction day (a split in
the window is undone), and days written as ``null`` rows in the price files are skipped
(the old system had no prices for them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from quantdb._typing import BoolArray, FloatArray, IntArray
from quantdb.datasets.market import MARKET_TICKER, Market, symbol_filename, write_price_frames
from quantdb.errors import ArgumentError, QuantdbError

__all__ = [
    "FEES",
    "STATUS_NAMES",
    "STRATEGIES",
    "STRATEGY_CONFIG",
    "TIMEFRAME_DAYS",
    "LegacyManifest",
    "prediction_outcomes",
    "timeframe_days",
    "write_legacy_folder",
]

STRATEGIES: tuple[str, ...] = (
    "momentum", "mean_reversion", "volume_breakout", "ml_ensemble", "earnings_drift",
)  # fmt: skip
STRATEGY_CONFIG: dict[str, dict[str, Any]] = {
    "momentum": {"description": "Buys 20-day breakouts with rising volume",
                 "min_hold_days": 3, "max_hold_days": 20},
    "mean_reversion": {"description": "Fades 3-sigma moves back to the 10-day mean",
                       "min_hold_days": 1, "max_hold_days": 5},
    "volume_breakout": {"description": "Enters volume leaders closing at a 52-week high",
                        "min_hold_days": 2, "max_hold_days": 10},
    "ml_ensemble": {"description": "Gradient-boosted ensemble on 40 features",
                    "min_hold_days": 5, "max_hold_days": 30},
    "earnings_drift": {"description": "Post-earnings announcement drift",
                       "min_hold_days": 10, "max_hold_days": 60},
}  # fmt: skip
TIMEFRAME_DAYS: dict[str, int] = {"1d": 1, "3d": 3, "5d": 5, "1w": 5, "2w": 10, "1m": 21}
"""Trading days of each timeframe code; a bare number is that many trading days."""
STATUS_NAMES: tuple[str, ...] = ("open", "hit_target", "stopped", "expired")
"""Status codes returned by :func:`prediction_outcomes`, by index."""
FEES = 2.0
"""Fees of one round-trip trade, in dollars, as the old system charged them."""

_OPEN, _HIT, _STOPPED, _EXPIRED = 0, 1, 2, 3
_NAN_SENTINEL = "__QUANTDB_NAN__"
_BARE_TIMEFRAMES = (7, 10, 15)
_TF_CODES = ("1d", "3d", "5d", "1w", "2w", "1m")
_NOTE = "manual override; see chat"
_FORMULA_NOTES = ('=HYPERLINK("http://example.invalid/x","see chat")', "=1+2", "=cmd|' /C calc'!A0")
_MODEL_VERSION = "v2.3.1"
_MCAP_STRING = "1.2T"


def timeframe_days(timeframe: str | int) -> int:
    """Trading days of a legacy ``timeframe`` (``"1w"`` -> 5, ``"1m"`` -> 21, ``10`` -> 10)."""
    if isinstance(timeframe, int):
        return timeframe
    return TIMEFRAME_DAYS[timeframe]


@dataclass(frozen=True)
class LegacyManifest:
    """What :func:`write_legacy_folder` wrote: counts, and every injected mess and damage.

    ``mess`` maps a kind (``"mdy_dates"``, ``"stale_pnl"``, ...) to what was affected
    (prediction ids, trade ids, tickers, dates). Its counts and ids are those of the base
    records; the exact duplicates appended after them are listed apart
    (``duplicate_predictions`` / ``duplicate_trades``, with their positions in the file
    list), and carry the mess of the record they copy. ``damage`` lists the records a correct
    migrator must quarantine, each with its position in the file list and the reason.
    ``predictions`` and ``trades`` count every record written (base + duplicates + damage).
    """

    path: Path
    seed: int
    tickers: int
    days: int
    first_day: str
    last_day: str
    predictions: int
    trades: int
    splits: dict[str, str]
    split_ratios: dict[str, float]
    volume_leaders: dict[str, int]
    price_rows: int
    mess: dict[str, Any] = field(default_factory=dict)
    damage: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Predictions + trades + leader entries + price rows written."""
        return self.predictions + self.trades + sum(self.volume_leaders.values()) + self.price_rows

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written as ``MANIFEST.json`` (the sample's keys first)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "path"}
        d["records"] = self.records
        return d


# --- statuses ---------------------------------------------------------------------------------


def prediction_outcomes(
    high: FloatArray,
    low: FloatArray,
    factor: FloatArray,
    day: IntArray,
    col: IntArray,
    horizon: IntArray,
    is_long: BoolArray,
    target: FloatArray,
    stop: FloatArray,
    /,
    *,
    missing: BoolArray | None = None,
    chunk: int = 100_000,
) -> tuple[IntArray, IntArray]:
    """Status and exit row of predictions, from raw daily highs and lows.

    Parameters
    ----------
    high, low : (days, tickers) raw prices.
    factor : (days, tickers) ``close / adj_close`` (shares of today per share after the last
        split); a window's prices are multiplied by ``factor[day] / factor[row]`` so that a
        split inside the window is undone.
    day, col : row of the prediction day and column of the ticker, per prediction.
    horizon : trading days the prediction lives (``d+1 .. d+horizon``).
    is_long, target, stop : direction and levels.
    missing : (days, tickers) days without prices (skipped), or None.
    chunk : predictions handled per vectorized block (bounds the memory).

    Returns
    -------
    status : int64 codes into :data:`STATUS_NAMES`.
    exit_row : the row the prediction resolved on (hit, stop, or end of the timeframe),
        -1 while open.
    """
    n_days = high.shape[0]
    n = day.shape[0]
    status = np.empty(n, dtype=np.int64)
    exit_row = np.empty(n, dtype=np.int64)
    h_max = int(horizon.max()) if n else 1
    k = np.arange(1, h_max + 1)
    for lo_i in range(0, n, chunk):
        s = slice(lo_i, min(n, lo_i + chunk))
        d, c, h = day[s], col[s], horizon[s]
        rows = d[:, None] + k[None, :]
        inside = (k[None, :] <= h[:, None]) & (rows < n_days)
        rows = np.minimum(rows, n_days - 1)
        cc = c[:, None]
        scale = factor[d, c][:, None] / factor[rows, cc]
        hi = high[rows, cc] * scale
        lw = low[rows, cc] * scale
        if missing is not None:
            inside &= ~missing[rows, cc]
        inside &= ~(np.isnan(hi) | np.isnan(lw))
        lg = is_long[s][:, None]
        tg, sp = target[s][:, None], stop[s][:, None]
        hit_t = inside & np.where(lg, hi >= tg, lw <= tg)
        hit_s = inside & np.where(lg, lw <= sp, hi >= sp)
        any_t, any_s = hit_t.any(axis=1), hit_s.any(axis=1)
        first_t = np.where(any_t, hit_t.argmax(axis=1), h_max)
        first_s = np.where(any_s, hit_s.argmax(axis=1), h_max)
        stopped = any_s & (first_s <= first_t)
        hit = any_t & ~stopped
        runs_past = d + h > n_days - 1
        st = np.where(stopped, _STOPPED, np.where(hit, _HIT, np.where(runs_past, _OPEN, _EXPIRED)))
        ex = np.where(stopped, d + 1 + first_s, np.where(hit, d + 1 + first_t, d + h))
        status[s] = st
        exit_row[s] = np.where(st == _OPEN, -1, ex)
    return status, exit_row


# --- JSON in the old system's formatting -------------------------------------------------------


def _dump_indent1(obj: Any) -> bytes:
    """``json.dumps(obj, indent=1)``, byte for byte, at orjson speed (NaN written as ``NaN``).

    orjson indents by two spaces; every newline in its output is structural (strings escape
    theirs), so halving the run of spaces after each newline gives Python's ``indent=1``.
    NaN floats must have been replaced by the sentinel string beforehand.
    """
    s = orjson.dumps(obj, option=orjson.OPT_INDENT_2).replace(b"\n  ", b"\n\x01")
    while b"\x01  " in s:
        s = s.replace(b"\x01  ", b"\x01\x01")
    s = s.replace(b"\x01", b" ")
    return s.replace(b'"' + _NAN_SENTINEL.encode() + b'"', b"NaN")


def _write_json(path: Path, obj: Any, *, indent: int) -> None:
    """Write as the old system did: ``indent=1`` for data files, ``indent=2`` for the rest."""
    if indent == 1:
        path.write_bytes(_dump_indent1(obj))
    else:
        path.write_text(json.dumps(obj, indent=indent), encoding="utf-8")


# --- the writer, piece by piece -------------------------------------------------------------


def _ensure(
    rng: np.random.Generator, mask: BoolArray, eligible: BoolArray, n_min: int = 1
) -> BoolArray:
    """A copy of ``mask`` with at least ``n_min`` entries of ``eligible`` set (when it has them).

    Seeded rates alone can miss a kind of mess in a small folder; this guarantees each kind.
    """
    mask = mask.copy()
    short = n_min - int((mask & eligible).sum())
    if short > 0:
        free = np.flatnonzero(eligible & ~mask)
        if free.size:
            mask[rng.choice(free, size=min(short, free.size), replace=False)] = True
    return mask


@dataclass
class _Ctx:
    """What every step needs: the market, its dates as text, the logs being filled."""

    market: Market
    rng: np.random.Generator
    mess: bool
    stocks: IntArray
    iso: list[str]
    log: dict[str, Any] = field(default_factory=dict)
    damage: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"predictions": [], "trades": [], "price_rows": []}
    )


@dataclass
class _Predictions:
    """The base predictions as arrays (for trades) and as the records written."""

    day: IntArray
    col: IntArray
    is_long: BoolArray
    entry: FloatArray
    status: IntArray
    exit_row: IntArray
    ids: list[int | str]
    records: list[dict[str, Any]]


def _null_rows(ctx: _Ctx) -> tuple[dict[str, IntArray], BoolArray]:
    """About one stock in ten gets a ``null`` row every ~95 trading days (never SPY)."""
    m, rng = ctx.market, ctx.rng
    missing = np.zeros((m.n_days, m.n_tickers), dtype=bool)
    null_rows: dict[str, IntArray] = {}
    if not ctx.mess:
        return null_rows, missing
    stocks = ctx.stocks
    chosen = stocks[_ensure(rng, rng.random(stocks.size) < 0.10, np.ones(stocks.size, bool))]
    for c in chosen.tolist():
        first = int(m.first_index[c])
        k = max(1, (m.n_days - first) // 95)
        step = max(1, (m.n_days - first) // k)
        rows = first + 2 + int(rng.integers(0, max(1, step - 2))) + step * np.arange(k)
        rows = rows[rows < m.n_days]
        null_rows[m.tickers[c]] = rows
        missing[rows, c] = True
    ctx.log["csv_null_rows"] = {t: [ctx.iso[r] for r in v.tolist()] for t, v in null_rows.items()}
    return null_rows, missing


def _pick_prediction_days(ctx: _Ctx, missing: BoolArray, n: int) -> tuple[IntArray, IntArray]:
    """``n`` (day, column) pairs where the stock trades above $2 and its price row exists."""
    m, rng = ctx.market, ctx.rng
    days: list[IntArray] = []
    cols: list[IntArray] = []
    got = 0
    while got < n:
        k = 2 * (n - got) + 64
        c = rng.choice(ctx.stocks, size=k)
        lo = np.maximum(m.first_index[c] + 5, min(20, m.n_days // 4))
        d = np.minimum(
            lo + np.floor(rng.random(k) * (m.n_days - lo)).astype(np.int64), m.n_days - 1
        )
        ok = (m.close[d, c] >= 2.0) & ~missing[d, c]
        days.append(d[ok])
        cols.append(c[ok])
        got += int(ok.sum())
    return np.concatenate(days)[:n], np.concatenate(cols)[:n]


def _prediction_flags(ctx: _Ctx, old: BoolArray, tf_bare: BoolArray) -> dict[str, BoolArray]:
    """Which base predictions carry which mess (all False when ``mess`` is off)."""
    rng, n = ctx.rng, int(old.shape[0])
    if not ctx.mess:
        off = np.zeros(n, dtype=bool)
        names = ("mdy", "pct", "ts_naive", "ts_offset", "strategy", "lower", "buysell",
                 "as_str", "as_nan", "notes", "model_version", "formula")  # fmt: skip
        return {k: off for k in names} | {"tf_bare": tf_bare}
    new, every = ~old, np.ones(n, dtype=bool)
    ts = rng.choice(3, size=n, p=[0.48, 0.47, 0.05])  # Z, naive, offset (sample: ~half Z)
    new_idx = np.flatnonzero(new)
    if new_idx.size >= 3 and not all((ts[new_idx] == k).any() for k in range(3)):
        ts[rng.choice(new_idx, size=3, replace=False)] = [0, 1, 2]
    u, v = rng.random(n), rng.random(n)
    as_str = _ensure(rng, u < 0.048, every)
    notes = _ensure(rng, _ensure(rng, v < 0.023, old), new)
    model_v = _ensure(rng, (v >= 0.023) & (v < 0.0445) & ~notes, old & ~notes)
    model_v = _ensure(rng, model_v, new & ~notes)
    return {
        "mdy": old & (rng.random(n) < 0.71),
        "pct": _ensure(rng, (rng.random(n) < 0.03) & old, old),
        "ts_naive": new & (ts == 1),
        "ts_offset": new & (ts == 2),
        "strategy": _ensure(rng, rng.random(n) < 0.055, every),
        "lower": _ensure(rng, rng.random(n) < 0.026, every),
        "buysell": _ensure(rng, rng.random(n) < 0.03, every),
        "as_str": as_str,
        "as_nan": _ensure(rng, (u >= 0.048) & (u < 0.066) & ~as_str, ~as_str),
        "tf_bare": tf_bare,
        "notes": notes,
        "model_version": model_v,
        "formula": _ensure(rng, notes & (rng.random(n) < 0.05), notes),
    }


def _make_predictions(ctx: _Ctx, missing: BoolArray, n: int) -> _Predictions:
    m, rng, iso = ctx.market, ctx.rng, ctx.iso
    day, col = _pick_prediction_days(ctx, missing, n)
    strat = np.arange(n) % len(STRATEGIES)
    is_long = rng.random(n) < 0.7
    slip = np.where(rng.random(n) < 0.12, rng.normal(0.0, 0.001, n), 0.0)
    entry = np.round(m.close[day, col] * (1.0 + slip), 2)
    sign = np.where(is_long, 1.0, -1.0)
    target = np.round(entry * (1.0 + sign * rng.uniform(0.02, 0.12, n)), 2)
    stop = np.round(entry * (1.0 - sign * rng.uniform(0.01, 0.06, n)), 2)
    target = np.where(is_long, np.maximum(target, entry + 0.01), np.minimum(target, entry - 0.01))
    stop = np.where(is_long, np.minimum(stop, entry - 0.01), np.maximum(stop, entry + 0.01))
    n_codes = len(_TF_CODES)
    tf_pick = rng.integers(0, n_codes + (1 if ctx.mess else 0), n)  # n_codes: a bare number
    if ctx.mess and not (tf_pick == n_codes).any():
        tf_pick[rng.integers(0, n)] = n_codes
    bare = rng.choice(_BARE_TIMEFRAMES, size=n, p=[0.2, 0.6, 0.2])
    code_days = np.array([TIMEFRAME_DAYS[c] for c in _TF_CODES] + [0])
    horizon = np.where(tf_pick < n_codes, code_days[tf_pick], bare).astype(np.int64)
    status, exit_row = prediction_outcomes(
        m.high, m.low, m.split_factor(), day, col, horizon, is_long, target, stop, missing=missing
    )
    confidence = np.round(np.clip(rng.beta(6.0, 4.0, n), 0.05, 0.99), 4)
    old = (day < m.n_days // 3) if ctx.mess else np.zeros(n, dtype=bool)
    f = _prediction_flags(ctx, old, tf_pick == n_codes)

    # timestamps: a market-hours US/Eastern time on the prediction day; UTC for the "Z" ones
    # (daylight time taken as April..October: close enough for a legacy timestamp)
    local = m.dates[day].astype("datetime64[s]") + rng.integers(34_200, 57_600, n).astype(
        "timedelta64[s]"
    )
    month = m.dates[day].astype("datetime64[M]").astype(np.int64) % 12 + 1
    utc_off = np.where((month > 3) & (month < 11), 4, 5)
    ts_local = np.datetime_as_string(local, unit="s")
    ts_utc = np.datetime_as_string(local + (utc_off * 3600).astype("timedelta64[s]"), unit="s")
    stamp = np.where(f["ts_naive"], ts_local, np.char.add(ts_utc, "Z"))
    stamp = np.where(
        f["ts_offset"], np.char.add(ts_local, np.where(utc_off == 4, "-04:00", "-05:00")), stamp
    )

    compact = [d.replace("-", "") for d in iso]
    mdy = [f"{d[5:7]}/{d[8:10]}/{d[:4]}" for d in iso]
    variant = rng.random(n) < 0.7
    formula_pick = rng.integers(0, len(_FORMULA_NOTES), n)
    cols = {
        "day": day, "col": col, "strat": strat, "long": is_long, "conf": confidence,
        "target": target, "stop": stop, "tf": tf_pick, "bare": bare, "entry": entry,
        "status": status, "old": old, "stamp": stamp, "variant": variant, "fpick": formula_pick,
    } | f  # fmt: skip
    c = {k: v.tolist() for k, v in cols.items()}
    ids: list[int | str] = []
    records: list[dict[str, Any]] = []
    tickers = m.tickers
    for i in range(n):
        d, tic, name, lg = (
            c["day"][i],
            tickers[c["col"][i]],
            STRATEGIES[c["strat"][i]],
            c["long"][i],
        )
        pid: int | str = i + 1 if c["old"][i] else f"{name[:3]}-{compact[d]}-{tic}-{i}"
        ids.append(pid)
        if c["strategy"][i]:
            name = name.title() + " " if c["variant"][i] else name.upper()
        tg = c["target"][i]
        rec: dict[str, Any] = {
            "id": pid,
            "date": mdy[d] if c["mdy"][i] else iso[d],
            "strategy": name,
            "ticker": tic.lower() if c["lower"][i] else tic,
            "position": ("BUY" if lg else "SELL")
            if c["buysell"][i]
            else ("LONG" if lg else "SHORT"),
            "confidence": round(c["conf"][i] * 100.0, 1) if c["pct"][i] else c["conf"][i],
            "target": repr(tg) if c["as_str"][i] else (_NAN_SENTINEL if c["as_nan"][i] else tg),
            "stop_loss": c["stop"][i],
            "timeframe": c["bare"][i] if c["tf"][i] == n_codes else _TF_CODES[c["tf"][i]],
            "entry_price": c["entry"][i],
        }
        if not c["old"][i]:
            rec["timestamp"] = c["stamp"][i]
        rec["status"] = STATUS_NAMES[c["status"][i]]
        if c["notes"][i]:
            rec["notes"] = _FORMULA_NOTES[c["fpick"][i]] if c["formula"][i] else _NOTE
        elif c["model_version"][i]:
            rec["model_version"] = _MODEL_VERSION
        records.append(rec)

    if ctx.mess:
        new = ~old

        def entry_of(mask: BoolArray) -> dict[str, Any]:
            return {
                "count": int(mask.sum()),
                "ids": [ids[i] for i in np.flatnonzero(mask).tolist()],
            }

        ts_z = new & ~f["ts_naive"] & ~f["ts_offset"]
        ctx.log |= {
            "int_ids": {"count": int(old.sum())},
            "mdy_dates": entry_of(f["mdy"]),
            "iso_dates_with_int_ids": {"count": int((old & ~f["mdy"]).sum())},
            "timestamps": {
                "z": int(ts_z.sum()),
                "naive": int(f["ts_naive"].sum()),
                "offset": int(f["ts_offset"].sum()),
                "offset_ids": entry_of(f["ts_offset"])["ids"],
                "missing": int(old.sum()),
            },
            "strategy_variants": entry_of(f["strategy"]),
            "lowercase_tickers": entry_of(f["lower"]),
            "buy_sell_positions": entry_of(f["buysell"]),
            "confidence_percent": entry_of(f["pct"]),
            "numbers_as_strings": {"field": "target"} | entry_of(f["as_str"]),
            "nan_literals": {"field": "target"} | entry_of(f["as_nan"]),
            "timeframe_bare_number": entry_of(f["tf_bare"]),
            "undocumented_fields": {
                "notes": entry_of(f["notes"])["ids"],
                "model_version": entry_of(f["model_version"])["ids"],
            },
            "formula_notes": entry_of(f["formula"]),
            "dotted_symbols": {t: symbol_filename(t) for t in tickers if "." in t},
        }
    return _Predictions(day, col, is_long, entry, status, exit_row, ids, records)


def _make_trades(ctx: _Ctx, p: _Predictions, n_trades: int) -> list[dict[str, Any]]:
    """Trades following a random subset of the predictions, in prediction order.

    Entry near the prediction's entry, ~$10,000 a trade, exit at the close of the day the
    prediction resolved on; ``pnl = (exit - entry) * shares * sign - fees``.
    """
    m, rng, iso = ctx.market, ctx.rng, ctx.iso
    pick = np.sort(rng.choice(len(p.ids), size=n_trades, replace=False))
    slip = np.where(rng.random(n_trades) < 0.8, rng.normal(0.0, 0.0008, n_trades), 0.0)
    entry = np.maximum(np.round(p.entry[pick] * (1.0 + slip), 2), 0.01)
    shares = np.maximum(np.round(10_000.0 / entry), 1).astype(np.int64)
    day, col, ex = p.day[pick], p.col[pick], np.maximum(p.exit_row[pick], 0)
    factor = m.split_factor()
    exit_px = np.round(m.close[ex, col] * factor[day, col] / factor[ex, col], 2)
    sign = np.where(p.is_long[pick], 1.0, -1.0)
    pnl = np.round((exit_px - entry) * shares * sign - FEES, 2)
    is_open = p.status[pick] == _OPEN
    cancelled = ~is_open & (rng.random(n_trades) < 0.0075)
    spans_split = ~is_open & (factor[day, col] != factor[ex, col])
    none = np.zeros(n_trades, dtype=bool)
    stale = manual = deleted = none
    stale_pnl = pnl
    if ctx.mess:
        closed = ~is_open & ~cancelled
        stale = _ensure(rng, (rng.random(n_trades) < 0.027) & closed, closed)
        u = rng.random(n_trades)
        manual = _ensure(rng, u < 0.022, ~none)
        deleted = _ensure(rng, (u >= 0.022) & (u < 0.042) & ~manual, ~manual)
        wrong = rng.uniform(1.05, 1.25, n_trades) * pnl
        stale_pnl = np.round(wrong + np.copysign(rng.uniform(1.0, 20.0, n_trades), pnl), 2)
    c = {
        k: v.tolist()
        for k, v in {
            "pick": pick, "entry": entry, "shares": shares, "ex": ex, "exit": exit_px,
            "pnl": np.where(stale, stale_pnl, pnl), "open": is_open, "cancelled": cancelled,
            "manual": manual, "deleted": deleted,
        }.items()
    }  # fmt: skip
    trades: list[dict[str, Any]] = []
    for k in range(n_trades):
        i, done = c["pick"][k], not (c["open"][k] or c["cancelled"][k])
        rec: dict[str, Any] = {
            "trade_id": 1001 + k,
            "prediction_id": None
            if c["manual"][k]
            else (f"deleted-{i}" if c["deleted"][k] else p.ids[i]),
            "ticker": m.tickers[int(p.col[i])],
            "side": "long" if p.is_long[i] else "short",
            "entry_date": iso[int(p.day[i])],
            "entry_price": c["entry"][k],
            "shares": c["shares"][k],
            "exit_date": iso[c["ex"][k]] if done else None,
            "exit_price": c["exit"][k] if done else None,
            "status": "OPEN" if c["open"][k] else ("CANCELLED" if c["cancelled"][k] else "CLOSED"),
            "pnl": None if c["open"][k] else (0 if c["cancelled"][k] else c["pnl"][k]),
        }
        if not c["open"][k]:
            rec["fees"] = FEES  # the old system wrote fees only once a trade was done
        trades.append(rec)

    def tids(mask: BoolArray) -> list[int]:
        return [1001 + k for k in np.flatnonzero(mask).tolist()]

    ctx.log["open_trades_without_fees"] = {"count": int(is_open.sum()), "trade_ids": tids(is_open)}
    ctx.log["trades_spanning_split"] = {
        "note": "exit_price in the entry day's share terms (the split undone)",
        "trade_ids": tids(spans_split),
    }
    if ctx.mess:
        ctx.log["stale_pnl"] = {"count": int(stale.sum()), "trade_ids": tids(stale)}
        ctx.log["manual_trades"] = {"count": int(manual.sum()), "trade_ids": tids(manual)}
        ctx.log["orphan_trades"] = {"count": int(deleted.sum()), "trade_ids": tids(deleted)}
    return trades


def _append_duplicates(
    ctx: _Ctx, preds: list[dict[str, Any]], ids: list[int | str], trades: list[dict[str, Any]]
) -> None:
    """Exact copies, appended at the end of each list (as in the sample)."""
    rng, n, n_t = ctx.rng, len(preds), len(trades)
    k = max(1, round(0.0005 * n))
    src = rng.choice(n, size=k, replace=False).tolist()
    ctx.log["duplicate_predictions"] = {
        "count": k,
        "ids": [ids[i] for i in src],
        "positions": list(range(n, n + k)),
        "copies_of_positions": src,
    }
    preds.extend(dict(preds[i]) for i in src)
    if n_t:
        k = max(1, round(0.001 * n_t))
        src = rng.choice(n_t, size=k, replace=False).tolist()
        ctx.log["duplicate_trades"] = {
            "count": k,
            "trade_ids": [trades[i]["trade_id"] for i in src],
            "positions": list(range(n_t, n_t + k)),
        }
        trades.extend(dict(trades[i]) for i in src)


def _append_damage(
    ctx: _Ctx,
    preds: list[dict[str, Any]],
    n_base: int,
    trades: list[dict[str, Any]],
    null_rows: dict[str, IntArray],
) -> list[tuple[str, int, str, float]]:
    """Records a correct migrator must quarantine; returns the price-file edits to make."""
    m, rng, iso = ctx.market, ctx.rng, ctx.iso
    year = iso[m.n_days // 2][:4]
    src = [preds[int(i)] for i in rng.choice(n_base, size=6, replace=False)]
    r0 = dict(src[0], id=f"dmg-missing-ticker-{n_base}")
    del r0["ticker"]
    conflict = dict(src[5], target=round(float(src[5]["entry_price"]) * 1.37 + 1.0, 2))
    conflict["status"] = "stopped" if src[5]["status"] == "hit_target" else "hit_target"
    bad = [
        ("missing ticker", r0),
        ("impossible date", dict(src[1], id=f"dmg-bad-date-{n_base}", date=f"{year}-02-30")),
        ("non-positive price", dict(src[2], id=f"dmg-zero-price-{n_base}", entry_price=0.0)),
        ("non-positive price", dict(src[3], id=f"dmg-negative-price-{n_base}", stop_loss=-4.5)),
        ("confidence out of range", dict(src[4], id=f"dmg-confidence-{n_base}", confidence=150.0)),
        ("conflicting duplicate id", conflict),
    ]
    for reason, rec in bad:
        ctx.damage["predictions"].append(
            {"position": len(preds), "id": rec["id"], "reason": reason}
        )
        preds.append(rec)
    closed = [i for i, t in enumerate(trades) if t["status"] == "CLOSED"]
    if closed:
        t0 = dict(trades[int(rng.choice(closed))])
        e_day = int(np.searchsorted(m.dates, np.datetime64(t0["entry_date"])))
        t0["trade_id"] = 1001 + len(trades) + 10_000
        t0["exit_date"] = iso[max(0, e_day - 3)]
        ctx.damage["trades"].append(
            {"position": len(trades), "trade_id": t0["trade_id"], "reason": "exit before entry"}
        )
        trades.append(t0)
    clean = [s for s in ctx.stocks.tolist() if m.tickers[s] not in null_rows]
    c = int(rng.choice(clean or ctx.stocks.tolist()))
    t = m.tickers[c]
    first = int(m.first_index[c])
    r_hl, r_vol = (
        first + int(x) for x in rng.choice(np.arange(1, m.n_days - first), 2, replace=False)
    )
    for row, reason in ((r_hl, "high < low"), (r_vol, "negative volume")):
        ctx.damage["price_rows"].append(
            {"ticker": t, "file": symbol_filename(t), "date": iso[row], "reason": reason}
        )
    return [
        (t, r_hl, "high", float(m.low[r_hl, c])),
        (t, r_hl, "low", float(m.high[r_hl, c]) + 0.5),
        (t, r_vol, "volume", -float(m.volume[r_vol, c])),
    ]


def _leaders(
    market: Market, groups: IntArray, top: int, *, rank_str: bool, key: str
) -> dict[str, list[dict[str, Any]]]:
    """Top ``top`` stocks by volume summed over each run of equal ``groups`` values.

    Keyed by the first trading day of the period; ``price`` is the last close in it.
    """
    is_stock = np.array([t != MARKET_TICKER for t in market.tickers])
    vol = np.nan_to_num(market.volume[:, is_stock])
    names = np.asarray(market.tickers, dtype=object)[is_stock]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], groups.shape[0]] - 1
    total = np.add.reduceat(vol, starts, axis=0)
    last_close = market.close[:, is_stock][ends]
    total[np.isnan(last_close) | (total <= 0)] = -1.0
    order = np.argsort(-total, axis=1, kind="stable")[:, : min(top, names.shape[0])]
    out: dict[str, list[dict[str, Any]]] = {}
    for i, d in enumerate(np.datetime_as_string(market.dates[starts], unit="D").tolist()):
        sel = order[i][total[i, order[i]] > 0]
        rows = zip(
            names[sel].tolist(), total[i, sel].tolist(), last_close[i, sel].tolist(), strict=True
        )
        out[d] = [
            {"rank": str(r) if rank_str else r, key: sym, "volume": int(v), "price": round(px, 2)}
            for r, (sym, v, px) in enumerate(rows, start=1)
        ]
    return out


#: The old system published weekly and monthly leaders as one day's ranking every 5th and 21st
#: trading day counted from the first (read off the real files: not sums over calendar periods).
LEGACY_STEPS = {"weekly": 5, "monthly": 21}


def _restyle(
    data: dict[str, list[dict[str, Any]]], *, rank_str: bool, key: str
) -> dict[str, list[dict[str, Any]]]:
    """The same entries with ranks as strings and/or the ticker under another key."""
    return {
        d: [
            {"rank": str(e["rank"]) if rank_str else e["rank"], key: e["symbol"],
             "volume": e["volume"], "price": e["price"]}
            for e in entries
        ]
        for d, entries in data.items()
    }


def _write_leaders(ctx: _Ctx, out: Path, top: int, daily_days: int | None) -> dict[str, int]:
    m, iso = ctx.market, ctx.iso
    day_num = m.dates.astype(np.int64)
    first_daily = iso[0 if daily_days is None else max(0, m.n_days - daily_days)]
    daily = _leaders(m, day_num, top, rank_str=False, key="symbol")
    every = {name: set(iso[::step]) for name, step in LEGACY_STEPS.items()}
    files = {
        "daily": {d: v for d, v in daily.items() if d >= first_daily},
        "weekly": _restyle({d: v for d, v in daily.items() if d in every["weekly"]},
                           rank_str=ctx.mess, key="symbol"),
        "monthly": _restyle({d: v for d, v in daily.items() if d in every["monthly"]},
                            rank_str=False, key="ticker" if ctx.mess else "symbol"),
    }  # fmt: skip
    counts = {}
    for name, data in files.items():
        doc = {"timeframe": name, "updated": iso[-1], "leaders": data}
        _write_json(out / f"volume_leaders_{name}.json", doc, indent=1)
        counts[name] = sum(len(v) for v in data.values())
    if ctx.mess:
        ctx.log["weekly_rank_strings"] = {"count": counts["weekly"]}
        ctx.log["monthly_ticker_key"] = {"count": counts["monthly"]}
    return counts


def write_legacy_folder(
    market: Market,
    out_dir: str | Path,
    *,
    seed: int = 7,
    n_predictions: int = 2000,
    n_trades: int = 1200,
    mess: bool = True,
    damage: bool = False,
    leaders_top: int = 20,
    daily_leader_days: int | None = 260,
    overwrite: bool = False,
) -> LegacyManifest:
    """Write the legacy files of docs/legacy-format.md for ``market`` into ``out_dir``.

    Parameters
    ----------
    market : Market
        Prices to derive everything from (statuses, trades, leaders, CSVs).
    out_dir : path
        Folder to create (or an empty one; ``overwrite=True`` replaces our files in it).
    seed : int
        Seed of every random choice here (the market has its own).
    n_predictions, n_trades : int
        Base records before duplicates and damage are added; ``n_trades <= n_predictions``
        (a trade follows a prediction).
    mess : bool
        Inject every kind of mess listed in docs/legacy-format.md (recorded under ``mess``). With False
        the files are clean: ISO dates, string ids, canonical values.
    damage : bool
        Also add records a correct migrator must quarantine (recorded under ``damage``).
    leaders_top : int
        Entries per date in each volume-leaders file.
    daily_leader_days : int or None
        The daily leaders cover the last this many trading days (the old system kept a
        year); None for every day. Weekly and monthly leaders are one day's ranking every 5th
        and 21st trading day from the first (the old system's rule, not calendar sums).
    overwrite : bool
        Allow a non-empty ``out_dir`` (its price CSVs are replaced).

    Returns
    -------
    LegacyManifest

    Raises
    ------
    ValueError
        If ``n_trades > n_predictions`` or a count is negative.
    QuantdbError
        If ``out_dir`` is not empty and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from quantdb.datasets import generate_market
    >>> man = write_legacy_folder(generate_market(12, 2), tempfile.mkdtemp(), n_predictions=50,
    ...                           n_trades=20)
    >>> man.predictions, man.trades, man.tickers
    (51, 21, 13)
    """
    if n_predictions < 1 or n_trades < 0 or n_trades > n_predictions:
        msg = (
            "need 1 <= n_predictions and 0 <= n_trades <= n_predictions, "
            f"got n_predictions={n_predictions}, n_trades={n_trades}"
        )
        raise ArgumentError(msg)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            msg = f"{out} is not empty; pass overwrite=True or choose an empty folder"
            raise QuantdbError(msg)
        for stale_csv in (out / "price_history").glob("*.csv"):
            stale_csv.unlink()
    out.mkdir(parents=True, exist_ok=True)
    stocks = np.array([i for i, t in enumerate(market.tickers) if t != MARKET_TICKER], np.int64)
    ctx = _Ctx(
        market=market,
        rng=np.random.default_rng(seed),
        mess=mess,
        stocks=stocks,
        iso=np.datetime_as_string(market.dates, unit="D").tolist(),
    )
    null_rows, missing = _null_rows(ctx)
    snake: frozenset[str] = frozenset()
    if mess:
        pick = _ensure(
            ctx.rng, ctx.rng.random(market.n_tickers) < 0.15, np.ones(market.n_tickers, bool)
        )
        snake = frozenset(market.tickers[i] for i in np.flatnonzero(pick))
        ctx.log["csv_snake_case_headers"] = sorted(snake)

    p = _make_predictions(ctx, missing, n_predictions)
    preds = p.records
    trades = _make_trades(ctx, p, n_trades)
    if mess:
        _append_duplicates(ctx, preds, p.ids, trades)
    edits = _append_damage(ctx, preds, n_predictions, trades, null_rows) if damage else []

    n_leaders = _write_leaders(ctx, out, leaders_top, daily_leader_days)
    last = ctx.iso[-1]
    _write_json(
        out / "predictions_data.json",
        {"predictions": preds, "last_updated": f"{last}T16:05:00"},
        indent=1,
    )
    _write_json(out / "trades_data.json", trades, indent=1)
    write_price_frames(
        market, out / "price_history", snake_case=snake, null_rows=null_rows, edits=edits
    )
    info = {t: dict(market.info[t]) for t in market.tickers}
    if mess:
        big = (
            "META"
            if "META" in info
            else max(
                (market.tickers[i] for i in stocks.tolist()),
                key=lambda t: market.info[t]["market_cap"] or 0.0,
            )
        )
        info[big]["market_cap"] = _MCAP_STRING
        ctx.log["market_cap_string"] = {big: _MCAP_STRING}
    _write_json(out / "tickers_info.json", info, indent=2)
    _write_json(out / "strategies_config.json", STRATEGY_CONFIG, indent=2)
    splits = {t: str(d) for t, d in market.splits.items()}
    ctx.log["split"] = dict(splits)

    manifest = LegacyManifest(
        path=out,
        seed=seed,
        tickers=market.n_tickers,
        days=market.n_days,
        first_day=ctx.iso[0],
        last_day=last,
        predictions=len(preds),
        trades=len(trades),
        splits=splits,
        split_ratios=dict(market.split_ratios),
        volume_leaders=n_leaders,
        price_rows=int((market.n_days - market.first_index).sum()),
        mess=ctx.log,
        damage=ctx.damage if damage else {},
    )
    _write_json(out / "MANIFEST.json", manifest.to_dict(), indent=2)
    return manifest
