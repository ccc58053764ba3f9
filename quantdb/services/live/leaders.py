"""Volume leaders from price_history, computed with DuckDB and written to ``volume_leaders``.

Two conventions:

``"legacy"`` (default): what the old system's files hold, found from the sample (every
ranking of ``volume_leaders_{daily,weekly,monthly}.json`` reproduced exactly): the ranking
of one day's volume, taken on every trading day (daily), on every 5th trading day (weekly)
or every 21st trading day (monthly), counted from the first trading day in price_history;
the price is that day's close rounded to cents with Python's ``round`` (which rounds the
binary double exactly, as the legacy writer did; DuckDB's ``round`` differs by a cent on
36 of the sample's 8,960 leader prices, the half-cent cases); the benchmark (SPY) is left
out; bars without a volume or a close are left out; ties go to the symbol first in
alphabetical order.

``"calendar"``: the sum of each ticker's volume over the ISO week or the calendar month,
keyed by the first trading day of the period, with the period's last close as the price.
(For daily, both conventions are the same.)

The legacy rankings (and daily, which is the same in both) are read from the columnar mirror
(`quantdb.storage.mirror`: the dates x tickers volume and close matrices every later step
loads anyway), not from SQLite: its dates are every date in price_history, its tickers are in
symbol order, so a stable sort of each ranked day by volume, largest first, is the SQL
``ORDER BY volume DESC, symbol``. The calendar sums need each bar's row (the mirror does not
keep a bar whose fields are all empty), so DuckDB reads the SQLite file for them, through the
read-only attach (once: the bars are copied into a DuckDB temporary table that every
timeframe's ranking reads), is closed, and only then does this process write (two SQLite
copies in one process must never overlap a write). The write
is an upsert on ``(timeframe, date, ticker_id)`` that changes a row only when a value differs,
so re-running changes nothing and legacy rows that agree stay untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from quantdb.errors import ArgumentError
from quantdb.storage.duck import DuckEngine
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

Timeframe = Literal["daily", "weekly", "monthly"]
Convention = Literal["legacy", "calendar"]
TIMEFRAMES: tuple[str, ...] = ("daily", "weekly", "monthly")
LEGACY_STEP = {"daily": 1, "weekly": 5, "monthly": 21}


class LeadersError(ArgumentError):
    """Bad arguments to compute_leaders."""


@dataclass(frozen=True)
class LeadersReport:
    """Per timeframe: dates ranked, rows computed, rows written (inserted or changed)."""

    convention: str
    top: int
    timeframes: dict[str, dict[str, int]] = field(default_factory=dict)


#: Every bar's date, ticker, symbol, volume and close, read from SQLite once into DuckDB's own
#: memory: the three timeframes' rankings then run on it (each had scanned the SQLite file).
_BARS_TABLE = "_leader_bars"
_LOAD_BARS = f"""
    CREATE OR REPLACE TEMP TABLE {_BARS_TABLE} AS
    SELECT p.date, p.ticker_id, t.symbol, p.volume, p.close
    FROM price_history AS p JOIN tickers AS t ON t.id = p.ticker_id
"""


def _legacy_rankings(db: Database, frames: Sequence[str], top: int, exclude: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Per timeframe, the legacy rule's leaders as ``(date, ticker_id, symbol, volume, price,
    rank)`` rows, by date then rank: one day's volume ranked on every `LEGACY_STEP`-th trading
    day counted from the first date in price_history, bars without a volume or a close and the
    ``exclude`` symbols left out, ties to the symbol first in alphabetical order."""
    import numpy as np

    from quantdb.storage.mirror import current_mirror

    mirror = current_mirror(db)
    symbols = mirror.tickers  # sorted: column order is symbol order
    ids = {str(sym): int(tid) for tid, sym in db.query(Q["ticker_symbols"])}
    volume = np.asarray(mirror.matrix("volume"))
    close = np.asarray(mirror.matrix("close"))
    ranked = np.isfinite(volume) & np.isfinite(close)  # NaN: no bar, or no volume / close
    left_out = set(exclude)
    ranked[:, [j for j, sym in enumerate(symbols) if sym in left_out]] = False
    days = [str(d) for d in mirror.dates]  # ISO dates, as price_history stores them
    out: dict[str, list[tuple[Any, ...]]] = {}
    for tf in frames:
        at = np.arange(0, len(days), LEGACY_STEP[tf])
        key = np.where(ranked[at], -volume[at], np.inf)  # largest volume first, the rest last
        order = np.argsort(key, axis=1, kind="stable")[:, :top]  # stable: ties in symbol order
        rows = []
        for i, cols in zip(at.tolist(), order.tolist(), strict=True):
            for rank, j in enumerate(cols, start=1):
                if not ranked[i, j]:
                    break
                rows.append((days[i], ids[symbols[j]], symbols[j], int(volume[i, j]), float(close[i, j]), rank))
        out[tf] = rows
    return out


def _calendar_sql(unit: str, top: int) -> str:
    return f"""
        WITH bars AS (
            SELECT p.date, CAST(p.date AS DATE) AS d, p.ticker_id, p.symbol, p.volume, p.close,
                   date_trunc('{unit}', CAST(p.date AS DATE)) AS period
            FROM {_BARS_TABLE} AS p
            WHERE NOT list_contains(CAST(? AS VARCHAR[]), p.symbol)
        ),
        keys AS (SELECT period, min(date) AS date FROM bars GROUP BY period),
        sums AS (
            SELECT period, ticker_id, symbol, sum(volume) AS volume,
                   arg_max(close, d) FILTER (WHERE close IS NOT NULL) AS close
            FROM bars GROUP BY period, ticker_id, symbol
            HAVING count(volume) > 0
        ),
        ranked AS (
            SELECT k.date, s.ticker_id, s.symbol, CAST(s.volume AS BIGINT) AS volume,
                   s.close AS price,
                   row_number() OVER (PARTITION BY s.period ORDER BY s.volume DESC, s.symbol) AS rank
            FROM sums AS s JOIN keys AS k USING (period)
        )
        SELECT date, ticker_id, symbol, volume, price, rank FROM ranked WHERE rank <= {int(top)}
        ORDER BY date, rank
    """


def compute_leaders(
    db: Database,
    *,
    timeframe: Timeframe | None = None,
    top: int = 10,
    convention: Convention = "legacy",
    exclude: Sequence[str] = ("SPY",),
    progress: Callable[[int], None] | None = None,
) -> LeadersReport:
    """Rank tickers by volume per day / week / month and upsert the top `top` into volume_leaders.

    Parameters
    ----------
    db
        The database (price_history and tickers are read).
    timeframe
        ``"daily"``, ``"weekly"``, ``"monthly"``, or None for all three.
    top
        How many leaders per date (the legacy files hold 20).
    convention
        ``"legacy"`` or ``"calendar"`` (module docstring).
    exclude
        Symbols never ranked (the benchmark).

    Returns
    -------
    LeadersReport
        For each timeframe: ``dates``, ``rows`` (computed) and ``written`` (inserted or changed).
    """
    if timeframe is not None and timeframe not in TIMEFRAMES:
        msg = f"timeframe must be daily, weekly or monthly, got {timeframe!r}"
        raise LeadersError(msg)
    if convention not in ("legacy", "calendar"):
        msg = f"convention must be 'legacy' or 'calendar', got {convention!r}"
        raise LeadersError(msg)
    if int(top) < 1:
        msg = f"top must be >= 1, got {top}"
        raise LeadersError(msg)
    frames = [timeframe] if timeframe else list(TIMEFRAMES)
    excl = [s.strip().upper() for s in exclude]
    by_legacy = [tf for tf in frames if convention == "legacy" or tf == "daily"]
    results = _legacy_rankings(db, by_legacy, int(top), excl) if by_legacy else {}
    calendar = [tf for tf in frames if tf not in by_legacy]
    if calendar:
        engine = DuckEngine(db.path)
        try:
            engine.con.execute(_LOAD_BARS)
            for tf in calendar:
                sql = _calendar_sql("week" if tf == "weekly" else "month", int(top))
                results[tf] = engine.con.execute(sql, [excl]).fetchall()
        finally:
            engine.close()  # never overlap DuckDB's SQLite with this process's write
    results = {tf: results[tf] for tf in frames}  # written in the order asked
    report: dict[str, dict[str, int]] = {}
    with db.atomic() as conn:
        for tf, all_rows in results.items():
            # A period that holds imported (legacy) leaders is the record of what the old system
            # published: computed leaders never overwrite it (rollback could not restore it).
            imported = {
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT date FROM volume_leaders WHERE timeframe = ? AND batch_id IS NOT NULL", (tf,)
                )
            }
            rows = [r for r in all_rows if str(r[0])[:10] not in imported]
            before = conn.total_changes
            conn.executemany(
                Q["upsert_volume_leader"],
                (
                    {
                        "date": str(d)[:10],
                        "timeframe": tf,
                        "rank": int(rk),
                        "ticker_id": int(tid),
                        "volume": None if vol is None else int(vol),
                        "price": None if price is None else round(float(price), 2),
                    }
                    for d, tid, _sym, vol, price, rk in rows
                ),
            )
            report[tf] = {
                "dates": len({r[0] for r in rows}),
                "rows": len(rows),
                "written": conn.total_changes - before,
                "imported_dates_kept": len({str(r[0])[:10] for r in all_rows} & imported),
            }
            if progress is not None:
                progress(len(rows))
    return LeadersReport(convention=convention, top=int(top), timeframes=report)
