"""Trading calendars: the days an exchange trades, and where a ticker's bars disagree with them.

The sessions come from `exchange-calendars` (XNYS, XLON, XTKS, ... ; ``NYSE``-style aliases
are accepted and stored by their canonical name). A database has one calendar (XNYS unless
set with ``quantdb calendar set NAME``, stored in ``database_settings``); ``quantdb prices
import`` and ``quantdb check`` measure each ticker's bars against it:

* **off-calendar bars**: bars on a day the exchange did not trade (a vendor's file on
  ``pandas.bdate_range`` dates has bars on US holidays);
* **missing sessions**: sessions between a ticker's first and last bar without a bar (a halt,
  a hole in the file).

Neither is an error of the data's integrity, and neither changes another ticker's backtest
(signals and trades run on each ticker's own bars, see ``docs/backtesting.md``); the import
keeps off-calendar bars unless told to refuse them (``--off-calendar refuse``).

Examples
--------
>>> import numpy as np
>>> days = np.array(["2024-07-03", "2024-07-04", "2024-07-08"], dtype="datetime64[D]")
>>> gaps = calendar_gaps(days, "XNYS")
>>> gaps.off_calendar.astype(str).tolist(), gaps.missing.astype(str).tolist()
(['2024-07-04'], ['2024-07-05'])
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from quantdb.errors import ArgumentError

__all__ = [
    "DEFAULT_CALENDAR",
    "CalendarError",
    "CalendarGaps",
    "calendar_gaps",
    "calendar_name",
    "sessions",
]

DEFAULT_CALENDAR = "XNYS"
"""The calendar of a database nobody set one for: the New York Stock Exchange."""

FIRST_DATES = 5
"""How many dates of each kind of gap a report lists."""


class CalendarError(ArgumentError):
    """An unknown calendar name (exit code 2)."""


def calendar_name(name: str) -> str:
    """The canonical name of calendar ``name`` (``"nyse"`` -> ``"XNYS"``).

    Raises
    ------
    CalendarError
        no such calendar in `exchange-calendars`; the message lists a few.
    """
    import exchange_calendars as xcals

    text = str(name).strip().upper()
    try:
        return str(xcals.resolve_alias(text))
    except xcals.errors.InvalidCalendarName:
        known = xcals.get_calendar_names(include_aliases=False)
        msg = (f"calendar must be an exchange-calendars name such as XNYS, XLON or XTKS "
               f"({len(known)} known: {', '.join(sorted(known)[:12])}, ...), got {name!r}")
        raise CalendarError(msg) from None


@functools.lru_cache(maxsize=16)
def _sessions(name: str, first_year: int, last_year: int) -> np.ndarray:
    import exchange_calendars as xcals

    with warnings.catch_warnings():  # its own use of a pandas API that pandas 3.1 deprecates
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = xcals.get_calendar(name, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    out = np.asarray(cal.sessions.values.astype("datetime64[D]"))
    out.setflags(write=False)
    return out


def sessions(name: str, start: Any, end: Any) -> np.ndarray:
    """Trading days of calendar ``name`` from ``start`` to ``end`` (both included), as
    ``datetime64[D]``. The calendar is built once per span of years and kept."""
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    if hi < lo:
        return np.empty(0, dtype="datetime64[D]")
    years = (int(str(lo)[:4]), int(str(hi)[:4]))
    days = _sessions(calendar_name(name), *years)
    return days[np.searchsorted(days, lo, "left"):np.searchsorted(days, hi, "right")]


@dataclass(frozen=True)
class CalendarGaps:
    """One ticker's (or one file's) bars against a calendar: the bars on days it did not
    trade, and its sessions between the first and the last bar that have no bar."""

    calendar: str
    off_calendar: np.ndarray  # datetime64[D], ascending
    missing: np.ndarray  # datetime64[D], ascending

    @property
    def any(self) -> bool:
        return bool(len(self.off_calendar) or len(self.missing))

    def summary(self, first: int = FIRST_DATES) -> dict[str, Any]:
        """Counts and the first ``first`` dates of each kind, for a report."""
        return {
            "off_calendar": len(self.off_calendar),
            "off_calendar_first": self.off_calendar[:first].astype(str).tolist(),
            "missing_sessions": len(self.missing),
            "missing_sessions_first": self.missing[:first].astype(str).tolist(),
        }


def calendar_gaps(dates: Any, name: str = DEFAULT_CALENDAR) -> CalendarGaps:
    """Where the bar dates ``dates`` of one ticker disagree with calendar ``name``.

    ``dates`` may be unsorted and hold repeats (dates or ISO strings); an empty one has no
    gaps.
    """
    days = np.unique(np.asarray(dates, dtype="datetime64[D]"))
    canon = calendar_name(name)
    if len(days) == 0:
        empty = np.empty(0, dtype="datetime64[D]")
        return CalendarGaps(canon, empty, empty)
    sess = sessions(canon, days[0], days[-1])
    return CalendarGaps(canon, days[~np.isin(days, sess)], sess[~np.isin(sess, days)])
