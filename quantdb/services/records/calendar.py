"""The database's trading calendar: which one it is, setting it, and every ticker's gaps.

One calendar per database, stored in ``database_settings`` (migration 0003; XNYS until
:func:`set_calendar`). :func:`ticker_gaps` measures each ticker's bars against it for
``quantdb check``: off-calendar bars and missing sessions are reported, never an integrity
failure (see :mod:`quantdb.calendars`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quantdb.calendars import DEFAULT_CALENDAR, calendar_gaps, calendar_name
from quantdb.errors import DatabaseError
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database

__all__ = ["CalendarReport", "database_calendar", "set_calendar", "ticker_gaps"]


def database_calendar(db: Database) -> str:
    """The calendar of ``db`` (XNYS when none was set, or the schema predates 0003)."""
    try:
        value = db.scalar(Q["get_database_setting"], {"key": "calendar"})
    except sqlite3.OperationalError:  # no database_settings table yet: a reader of an old file
        return DEFAULT_CALENDAR
    except sqlite3.DatabaseError as exc:
        msg = f"{db.path}: cannot read the database ({exc}); is it a quantdb database?"
        raise DatabaseError(msg) from None
    return str(value) if value else DEFAULT_CALENDAR


def set_calendar(db: Database, name: str) -> str:
    """Make ``name`` (checked, canonical: ``nyse`` -> ``XNYS``) the calendar of ``db``;
    returns the stored name.

    Raises
    ------
    quantdb.calendars.CalendarError
        a name `exchange-calendars` does not know.
    """
    canon = calendar_name(name)
    with db.atomic() as conn:
        conn.execute(Q["set_database_setting"], {"key": "calendar", "value": canon})
    return canon


@dataclass(frozen=True)
class CalendarReport:
    """Calendar gaps of every ticker of a database: only the tickers that have some, each
    with its counts and first dates (:meth:`quantdb.calendars.CalendarGaps.summary`)."""

    calendar: str
    tickers_checked: int
    tickers_with_gaps: int
    off_calendar: int
    missing_sessions: int
    gaps: dict[str, dict[str, Any]] = field(default_factory=dict)


def ticker_gaps(db: Database) -> CalendarReport:
    """Every ticker's bars against the database's calendar."""
    name = database_calendar(db)
    try:
        rows = db.query(Q["ticker_days"])
    except sqlite3.OperationalError:  # not a quantdb database: check reports that elsewhere
        rows = []
    gaps: dict[str, dict[str, Any]] = {}
    off = missing = 0
    symbols = np.array([r[0] for r in rows], dtype=object)
    days = np.array([r[1] for r in rows], dtype=np.int64).astype("datetime64[D]")
    starts: list[int] = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]]).tolist() if len(rows) else []
    ends = [*starts[1:], len(symbols)] if starts else []
    for a, b in zip(starts, ends, strict=True):  # one pass a ticker
        g = calendar_gaps(days[a:b], name)
        if g.any:
            gaps[str(symbols[a])] = g.summary()
            off += len(g.off_calendar)
            missing += len(g.missing)
    return CalendarReport(calendar=name, tickers_checked=len(starts), tickers_with_gaps=len(gaps),
                          off_calendar=off, missing_sessions=missing, gaps=gaps)
