"""The one parser of dates the user types: ISO ``YYYY-MM-DD`` at every door.

The command line (``--start``, ``--end``, ``--asof``), the notebook API (``start=``, ``end=``,
``asof=``, which also take `datetime.date`, `datetime.datetime`, `numpy.datetime64` and
pandas ``Timestamp``) and the web all call :func:`parse_date`; a bad value is one line that
names the option and the value (`DateError`, exit code 2). :func:`check_in_range` says when a
date lies outside the data.

Examples
--------
>>> parse_date("2016-03-01", name="--start")
datetime.date(2016, 3, 1)
>>> parse_date("2016-13-01", name="--start")
Traceback (most recent call last):
...
quantdb.dates.DateError: --start must be a date as YYYY-MM-DD, got '2016-13-01' (month must be in 1..12)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from quantdb.errors import ArgumentError

__all__ = ["DATE_HELP", "DateError", "check_in_range", "parse_date"]

DATE_HELP = "YYYY-MM-DD"
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class DateError(ArgumentError):
    """A date that cannot be read, or one outside the data (exit code 2)."""


def parse_date(value: Any, *, name: str) -> dt.date | None:
    """``value`` as a `datetime.date` (None stays None); ``name`` is the option in errors.

    Text must be ``YYYY-MM-DD`` (a real calendar day). Dates, datetimes (their day),
    ``numpy.datetime64`` and pandas ``Timestamp`` are taken as they are.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if type(value).__name__ == "datetime64":
        text = str(value.astype("datetime64[D]"))
    elif hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()  # type: ignore[no-any-return]
    elif isinstance(value, str):
        text = value.strip()
    else:
        msg = f"{name} must be a date as {DATE_HELP}, got {value!r}"
        raise DateError(msg)
    m = _ISO.match(text)
    if not m:
        msg = f"{name} must be a date as {DATE_HELP}, got {value!r}"
        raise DateError(msg)
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        msg = f"{name} must be a date as {DATE_HELP}, got {value!r} ({exc})"
        raise DateError(msg) from None


def check_in_range(
    start: dt.date | None, end: dt.date | None, first: dt.date, last: dt.date, *, what: str = "the data"
) -> None:
    """Refuse a period that selects nothing: ``start`` after ``last``, ``end`` before ``first``,
    or ``start`` after ``end``.

    Raises
    ------
    DateError
        naming the date and the range of ``what``.
    """
    if start is not None and end is not None and start > end:
        msg = f"--start {start} is after --end {end}"
        raise DateError(msg)
    if start is not None and start > last:
        msg = f"--start {start} is after the last bar of {what} ({last}); {what} runs {first} to {last}"
        raise DateError(msg)
    if end is not None and end < first:
        msg = f"--end {end} is before the first bar of {what} ({first}); {what} runs {first} to {last}"
        raise DateError(msg)
