"""Live tracking: record predictions and fills, then mark everything open to market.

A predictor calls :func:`record_prediction` when it predicts, :func:`record_fill` when an
order fills (with the price it saw when it decided, so slippage is measured) and, for a
manual exit, :func:`close_trade`. Once a day, :func:`track_update` checks every open
prediction and open trade against ``price_history`` in one SQL query (window functions over
the bars after each position's start; ``track_exits`` in ``sql/queries/tracking.sql``),
closes what hit its target, its stop or its time limit, and writes one snapshot per strategy
into ``performance_metrics``.

Exit rules (``bars="intrabar"``, the default), for the bars strictly after the start day:

* long: target hit when ``high >= target``, stop hit when ``low <= stop``; short mirrored;
* a bar that opens through a level fills at the open (a gap through the stop loses more
  than the stop, a gap through the target gains more);
* a bar that touches both levels counts the stop first (the conservative reading);
* expiry: after ``timeframe_days`` bars, at that bar's close.

``bars="close"`` judges targets and stops on the close alone and exits at that close: the
convention of the legacy system (found from its files: see
``tests/integration/test_tracking_sample.py``).

A trade linked to a prediction uses the prediction's target, stop and time limit from its own
entry day; its exit fill is the level moved against it by ``slippage_bps``, and ``exit_fee``
is added to its fees. P&L is ``side x shares x (exit - entry) - fees``, realized for closed
trades, marked at the as-of close for open ones.

Running :func:`track_update` twice for the same day changes nothing: only open positions are
examined, exits depend only on the bars up to the as-of day, and the snapshot is an upsert
that writes only when a value differs.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date as date_cls
from datetime import timedelta
from typing import Any, Literal

import numpy as np

from quantdb.dates import parse_date
from quantdb.errors import ArgumentError, NotFound
from quantdb.services.live.performance import asof_day
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database
from quantdb.universe import check_symbol

BarRule = Literal["intrabar", "close"]
_STATUS_TO_REASON = {"hit_target": "hit_target", "stopped": "stopped", "expired": "expired"}


class TrackingError(ArgumentError):
    """A tracking call got an impossible value (wrong side, non-positive price, closed trade)."""


@dataclass(frozen=True)
class TrackReport:
    """What `track update` did for one as-of day.

    ``checked``: open predictions and trades examined; ``closed``: how many of each closed,
    by outcome; ``realized_pnl`` / ``unrealized_pnl``: totals over all strategies at the
    as-of day; ``snapshots``: the performance_metrics rows (one per strategy) as written.
    """

    asof: str
    bars: str
    checked: dict[str, int]
    closed: dict[str, dict[str, int]]
    realized_pnl: float
    unrealized_pnl: float
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    rows_changed: int = 0


def _day(value: str | date_cls | None, name: str = "date") -> str:
    """A recorded day (`quantdb.dates.parse_date`); today when None."""
    day = parse_date(value, name=name)
    return (day or date_cls.today()).isoformat()


def _positive(name: str, value: float | None, *, allow_none: bool = True) -> float | None:
    if value is None:
        if allow_none:
            return None
        msg = f"{name} is required"
        raise TrackingError(msg)
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        msg = f"{name} must be a positive number, got {value!r}"
        raise TrackingError(msg)
    return v


def _id_of(conn: sqlite3.Connection, table: str, column: str, value: str) -> int:
    """Id of a strategy or ticker, created when it is new."""
    conn.execute(
        f"INSERT INTO {table} ({column}) VALUES (?) ON CONFLICT ({column}) DO NOTHING", (value,)
    )
    return int(conn.execute(f"SELECT id FROM {table} WHERE {column} = ?", (value,)).fetchone()[0])


def record_prediction(
    db: Database,
    *,
    strategy: str,
    ticker: str,
    position: Literal["LONG", "SHORT", "long", "short"],
    date: str | date_cls | None = None,
    entry_price: float | None = None,
    target: float | None = None,
    stop_loss: float | None = None,
    timeframe_days: int | None = None,
    confidence: float | None = None,
    timestamp: str | None = None,
    legacy_id: str | None = None,
) -> int:
    """Record a new open prediction and return its id.

    The strategy and the ticker are created if new. Levels are checked for sense: for a long
    the target must be above and the stop below the entry price (mirrored for a short).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from quantdb.storage.migrations import apply_migrations
    >>> db = Database(pathlib.Path(tempfile.mkdtemp()) / "t.db"); _ = apply_migrations(db)
    >>> record_prediction(db, strategy="demo", ticker="AAPL", position="LONG", date="2024-01-02",
    ...                   entry_price=100.0, target=110.0, stop_loss=95.0, timeframe_days=5)
    1
    """
    pos = str(position).strip().upper()
    if pos not in ("LONG", "SHORT"):
        msg = f"position must be LONG or SHORT, got {position!r}"
        raise TrackingError(msg)
    symbol = check_symbol(ticker, where="ticker")
    if not isinstance(strategy, str) or not strategy.strip():
        msg = f"strategy must name a strategy, got {strategy!r}"
        raise TrackingError(msg)
    day = _day(date)
    latest = date_cls.today() + timedelta(days=1)  # a day of slack for a clock ahead of this one
    if day > latest.isoformat():
        msg = (f"date {day} is in the future (today is {date_cls.today().isoformat()}); "
               "a prediction is recorded on or before the day it is made")
        raise TrackingError(msg)
    entry = _positive("entry_price", entry_price)
    tgt = _positive("target", target)
    stop = _positive("stop_loss", stop_loss)
    sign = 1.0 if pos == "LONG" else -1.0
    if entry is not None and tgt is not None and sign * (tgt - entry) <= 0:
        msg = f"target {tgt} must be {'above' if sign > 0 else 'below'} the entry price {entry} for a {pos}"
        raise TrackingError(msg)
    if entry is not None and stop is not None and sign * (entry - stop) <= 0:
        msg = f"stop_loss {stop} must be {'below' if sign > 0 else 'above'} the entry price {entry} for a {pos}"
        raise TrackingError(msg)
    if timeframe_days is not None and int(timeframe_days) < 1:
        msg = f"timeframe_days must be >= 1, got {timeframe_days}"
        raise TrackingError(msg)
    if confidence is not None and not 0.0 <= float(confidence) <= 1.0:
        msg = f"confidence must be a fraction in [0, 1], got {confidence}"
        raise TrackingError(msg)
    with db.atomic() as conn:
        sid = _id_of(conn, "strategies", "name", strategy.strip().lower())
        tid = _id_of(conn, "tickers", "symbol", symbol)
        cur = conn.execute(
            "INSERT INTO predictions (legacy_id, date, timestamp, strategy_id, ticker_id, position, confidence, "
            "target, stop_loss, timeframe, timeframe_days, entry_price, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
            (
                legacy_id,
                day,
                timestamp,
                sid,
                tid,
                pos,
                confidence,
                tgt,
                stop,
                None if timeframe_days is None else str(int(timeframe_days)),
                None if timeframe_days is None else int(timeframe_days),
                entry,
            ),
        )
        return int(cur.lastrowid or 0)


def slippage_bps(side: str, price: float, signal_price: float) -> float:
    """Cost of a fill against the price seen at the signal, in basis points (positive = worse).

    Buying (a long entry, a short exit) above the signal price is a cost, selling below it too.

    Examples
    --------
    >>> round(slippage_bps("long", 100.10, 100.0), 6)
    10.0
    >>> round(slippage_bps("short", 99.9, 100.0), 6)
    10.0
    """
    sign = 1.0 if side.lower() in ("long", "buy") else -1.0
    return sign * (price - signal_price) / signal_price * 1e4


@dataclass(frozen=True)
class Fill:
    """A recorded fill: the trade id and the slippage measured against the signal price."""

    trade_id: int
    slippage_bps: float | None
    slippage_cost: float | None


def record_fill(
    db: Database,
    prediction_id: int,
    price: float,
    shares: float,
    signal_price: float | None = None,
    fees: float = 0.0,
    *,
    date: str | date_cls | None = None,
) -> Fill:
    """Record the fill of a prediction as an OPEN trade (side and ticker from the prediction).

    ``signal_price`` is the price the predictor saw when it decided; the slippage is
    ``price`` against it (:func:`slippage_bps`), and its cost in currency is
    ``slippage_bps / 1e4 x signal_price x shares``. ``date`` defaults to the prediction's day.
    """
    px = _positive("price", price, allow_none=False)
    qty = _positive("shares", shares, allow_none=False)
    sig = _positive("signal_price", signal_price)
    if fees is None or not math.isfinite(float(fees)) or float(fees) < 0:
        msg = f"fees must be >= 0, got {fees!r}"
        raise TrackingError(msg)
    with db.atomic() as conn:
        row = conn.execute(
            "SELECT ticker_id, position, date, legacy_id FROM predictions WHERE id = ?",
            (int(prediction_id),),
        ).fetchone()
        if row is None:
            msg = f"no prediction with id {prediction_id}"
            raise NotFound(msg)
        side = "long" if row[1] == "LONG" else "short"
        day = _day(date) if date is not None else row[2]
        if day < row[2]:
            msg = f"fill date {day} is before the prediction's date {row[2]}"
            raise TrackingError(msg)
        cur = conn.execute(
            "INSERT INTO trades (prediction_id, prediction_legacy_id, ticker_id, side, entry_date, entry_price, "
            "signal_price, shares, status, fees) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?)",
            (int(prediction_id), row[3], row[0], side, day, px, sig, qty, float(fees)),
        )
        trade_id = int(cur.lastrowid or 0)
    if sig is None:
        return Fill(trade_id, None, None)
    bps = slippage_bps(side, px, sig)  # type: ignore[arg-type]
    return Fill(trade_id, bps, bps / 1e4 * sig * qty)  # type: ignore[operator]


def close_trade(
    db: Database,
    trade_id: int,
    price: float,
    *,
    date: str | date_cls | None = None,
    fees: float = 0.0,
    reason: str = "manual",
) -> float:
    """Close an OPEN trade at ``price`` (adding exit ``fees``); returns its realized P&L."""
    px = _positive("price", price, allow_none=False)
    if fees is None or float(fees) < 0:
        msg = f"fees must be >= 0, got {fees!r}"
        raise TrackingError(msg)
    with db.atomic() as conn:
        row = conn.execute(
            "SELECT side, entry_price, shares, fees, status, entry_date FROM trades WHERE id = ?",
            (int(trade_id),),
        ).fetchone()
        if row is None:
            msg = f"no trade with id {trade_id}"
            raise NotFound(msg)
        if row[4] != "OPEN":
            msg = f"trade {trade_id} is {row[4]}, not OPEN"
            raise TrackingError(msg)
        day = _day(date)
        if day < row[5]:
            msg = f"exit date {day} is before the entry date {row[5]}"
            raise TrackingError(msg)
        sign = 1.0 if row[0] == "long" else -1.0
        total_fees = float(row[3]) + float(fees)
        pnl = sign * (px - float(row[1])) * float(row[2]) - total_fees  # type: ignore[operator]
        conn.execute(
            Q["close_trade"],
            {
                "id": int(trade_id),
                "exit_date": day,
                "exit_price": px,
                "fees": total_fees,
                "pnl": pnl,
                "exit_reason": reason,
            },
        )
    return pnl


def _none_if_nan(x: Any) -> Any:
    if x is None:
        return None
    v = float(x)
    return None if math.isnan(v) else v


def _snapshots(conn: sqlite3.Connection, db: Database, asof: str, capital: float) -> list[dict[str, Any]]:
    """One performance_metrics row per strategy (as dicts), computed on `conn` (sees this
    transaction; the closes come from `db`'s columnar mirror, see `equity_arrays`)."""
    from quantdb.kernels.drawdown import max_drawdown
    from quantdb.kernels.metrics import sharpe_ratio, sortino_ratio, total_return
    from quantdb.kernels.tradestats import profit_factor, win_rate
    from quantdb.services.live.performance import equity_arrays

    names = {int(r[0]): str(r[1]) for r in conn.execute(Q["strategy_names"])}
    counts = {int(r[0]): r[1:] for r in conn.execute(Q["prediction_counts"], {"asof": asof})}
    pnl_by: dict[int, list[float]] = {}
    for sid, pnl in conn.execute(Q["closed_trade_pnl"], {"asof": asof}):
        pnl_by.setdefault(int(sid), []).append(np.nan if pnl is None else float(pnl))
    arr = equity_arrays(conn, asof=asof, capital=capital, db=db)
    col = {} if arr is None else {n: j for j, n in enumerate(arr.strategies)}
    returns = None if arr is None else arr.returns
    cum = None if arr is None else np.cumsum(arr.pnl, axis=0)
    out = []
    for sid in sorted(set(counts) | {s for s in pnl_by if s >= 0}):
        name = names[sid]
        n_open, hit, stopped, expired = (int(x or 0) for x in counts.get(sid, (0, 0, 0, 0)))
        n_closed = hit + stopped + expired
        pnl = np.array(pnl_by.get(sid, []), dtype=np.float64)
        row: dict[str, Any] = {
            "strategy_id": sid,
            "strategy": name,
            "date": asof,
            "accuracy": hit / n_closed if n_closed else None,
            "win_rate": _none_if_nan(win_rate(pnl)),
            "profit_factor": _none_if_nan(profit_factor(pnl)),
            "sharpe": None,
            "sortino": None,
            "max_drawdown": None,
            "total_return": None,
            "realized_pnl": float(np.nansum(pnl)),
            "unrealized_pnl": 0.0,
            "n_open": n_open,
            "n_closed": n_closed,
        }
        if arr is not None and name in col and returns is not None and cum is not None:
            j = col[name]
            r = returns[arr.first[j] :, j]
            row["sharpe"] = _none_if_nan(sharpe_ratio(r))
            row["sortino"] = _none_if_nan(sortino_ratio(r))
            row["max_drawdown"] = _none_if_nan(max_drawdown(r))
            row["total_return"] = _none_if_nan(total_return(r))
            row["unrealized_pnl"] = round(float(cum[-1, j] - arr.realized[-1, j]), 6)
        row["extra"] = json.dumps(
            {
                "hit_target": hit,
                "stopped": stopped,
                "expired": expired,
                "closed_trades": int(pnl.size),
                "capital": capital,
            },
            sort_keys=True,
        )
        out.append(row)
    return out


def track_update(
    db: Database,
    *,
    asof: str | date_cls | None = None,
    exit_fee: float = 0.0,
    slippage_bps: float = 0.0,
    bars: BarRule = "intrabar",
    capital: float = 100_000.0,
) -> TrackReport:
    """Close what hit target, stop or expiry up to `asof`, then snapshot every strategy.

    Parameters
    ----------
    db
        The database.
    asof
        The day to mark to (default: the newest bar in price_history). Bars after it are
        never looked at.
    exit_fee
        Fee charged on each trade closed here (currency), added to its ``fees``.
    slippage_bps
        Exit fill moved against the trade by this many basis points of the exit level.
    bars
        ``"intrabar"`` (high/low with gap fills, stop first) or ``"close"`` (the legacy rule).
    capital
        Capital of each strategy, for the returns behind Sharpe, drawdown and total return.

    Returns
    -------
    TrackReport
        Counts of what was examined and closed, P&L totals and the snapshots written.
    """
    if bars not in ("intrabar", "close"):
        msg = f"bars must be 'intrabar' or 'close', got {bars!r}"
        raise TrackingError(msg)
    if (
        not math.isfinite(exit_fee)
        or exit_fee < 0
        or not math.isfinite(slippage_bps)
        or slippage_bps < 0
    ):
        msg = f"exit_fee and slippage_bps must be >= 0, got {exit_fee} and {slippage_bps}"
        raise TrackingError(msg)
    with db.atomic() as conn:
        day = asof_day(conn, asof)
        before = conn.total_changes
        rows = conn.execute(
            Q["track_exits"], {"asof": day, "close_only": int(bars == "close")}
        ).fetchall()
        checked = {"predictions": 0, "trades": 0}
        closed: dict[str, dict[str, int]] = {
            "predictions": {"hit_target": 0, "stopped": 0, "expired": 0},
            "trades": {"hit_target": 0, "stopped": 0, "expired": 0},
        }
        pred_updates = []
        trade_keys = []
        for kind, pid, outcome, exit_date, exit_price, _bars_held in rows:
            checked[f"{kind}s"] += 1
            if outcome is None:
                continue
            closed[f"{kind}s"][outcome] += 1
            if kind == "prediction":
                pred_updates.append(
                    {"id": pid, "status": outcome, "exit_date": exit_date, "exit_price": exit_price}
                )
            else:
                trade_keys.append((pid, outcome, exit_date, exit_price))
        conn.executemany(Q["close_prediction"], pred_updates)
        if trade_keys:
            ids = [k[0] for k in trade_keys]
            info = {
                int(r[0]): r[1:]
                for r in conn.execute(
                    f"SELECT id, side, entry_price, shares, fees FROM trades WHERE id IN ({','.join('?' * len(ids))})",
                    ids,
                )
            }
            tid = np.array(ids, dtype=np.int64)
            sign = np.array([1.0 if info[i][0] == "long" else -1.0 for i in ids])
            entry = np.array([info[i][1] for i in ids], dtype=np.float64)
            shares = np.array([info[i][2] for i in ids], dtype=np.float64)
            fees = np.array([info[i][3] for i in ids], dtype=np.float64) + exit_fee
            level = np.array([k[3] for k in trade_keys], dtype=np.float64)
            fill = level * (1.0 - sign * slippage_bps / 1e4)
            pnl = sign * (fill - entry) * shares - fees
            conn.executemany(
                Q["close_trade"],
                [
                    {
                        "id": int(t),
                        "exit_date": k[2],
                        "exit_price": float(f),
                        "fees": float(fe),
                        "pnl": float(p),
                        "exit_reason": _STATUS_TO_REASON[k[1]],
                    }
                    for t, k, f, fe, p in zip(tid, trade_keys, fill, fees, pnl, strict=True)
                ],
            )
        snaps = _snapshots(conn, db, day, capital)
        conn.executemany(
            Q["upsert_performance"],
            [{k: v for k, v in s.items() if k != "strategy"} for s in snaps],
        )
        changed = conn.total_changes - before
    realized = float(sum(s["realized_pnl"] for s in snaps))
    unrealized = float(sum(s["unrealized_pnl"] for s in snaps))
    return TrackReport(
        asof=day,
        bars=bars,
        checked=checked,
        closed=closed,
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        snapshots=snaps,
        rows_changed=changed,
    )
