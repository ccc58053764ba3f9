"""Bars from a pandas or Polars DataFrame: the panel of a backtest without a database.

:func:`bars_from_frame` reads the shapes prices come in and turns each into the one panel the
backtest runs on (`BarData`: dates, tickers and ``(dates, tickers)`` OHLCV matrices), with
the same adjustment as the database's loader (`quantdb.services.research.bars.load_bars`):
with an ``adj_close`` column, ``open``, ``high`` and ``low`` are scaled by ``adj_close /
close`` and ``close`` is ``adj_close``. Accepted shapes (column names in any case, ``Adj
Close``/``adjclose`` for ``adj_close``, ``symbol`` for ``ticker``; the dates are a ``date``
column or, in pandas, the index):

* **long**: one row per ticker and date, columns ``ticker, date, open, high, low, close``
  and optionally ``adj_close``, ``volume`` (what ``db.ohlcv()`` returns); tickers in sorted
  order, as in the database;
* **one ticker's OHLC** (backtesting.py's ``Backtest(df)`` frame): the same without
  ``ticker``; the ticker is named by ``ticker=``;
* **close only**: ``close`` (and ``ticker`` for several) without ``open/high/low``: open,
  high and low are the close (`quantdb.strategies.Bars.from_close`);
* **wide closes**: a date index (or ``date`` column) and one numeric column per ticker, as
  `quantdb.panel.Panel.to_pandas` / ``to_polars`` return them;
* **wide OHLCV** (pandas): two-level columns, fields on one level and tickers on the other
  (``yfinance.download(...)``'s ``("Close", "AAPL")`` or ``group_by="ticker"``'s
  ``("AAPL", "Close")``).

A NaN close is a date without a bar (as in the database); tickers without any bar and dates
on which no ticker has one are dropped. Problems are one-line `FrameError`s that name the
column, the row (0-based, as ``iloc``) or the (ticker, date).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    from quantdb.services.research.backtest import BarData

__all__ = ["FrameError", "bars_from_frame", "select_bars"]

FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
_ALIASES = {
    "date": "date", "datetime": "date", "timestamp": "date", "time": "date",
    "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adj_close": "adj_close", "adjclose": "adj_close",
    "adjusted close": "adj_close", "volume": "volume", "ticker": "ticker", "symbol": "ticker",
}
SHAPES = ("long (ticker, date, open, high, low, close[, adj_close][, volume]), one ticker's "
          "OHLC, wide closes (a date index or column, one column per ticker), or pandas "
          "two-level (field, ticker) columns")


class FrameError(ArgumentError):
    """A DataFrame that cannot be read as bars (a missing column, a bad dtype, a duplicate
    (ticker, date), dates that do not increase)."""


@dataclass(frozen=True)
class _Col:
    """One column of the frame, whatever library it came from."""

    given: str  # the name in the frame
    dtype: str
    numeric: bool
    floats: Callable[[], FloatArray]
    dates: Callable[[], np.ndarray]
    texts: Callable[[], list[Any]]


def _key(name: object) -> str:
    text = re.sub(r"\s+", " ", str(name).strip().lower())
    return _ALIASES.get(text, text)


# --------------------------------------------------------------------------- pandas, polars
def _pandas_col(s: Any, given: str) -> _Col:
    import pandas as pd

    def floats() -> FloatArray:
        return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)

    def dates() -> np.ndarray:
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            return np.asarray(s.dt.tz_localize(None).to_numpy())
        return np.asarray(s.to_numpy())

    numeric = bool(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))
    return _Col(given, str(s.dtype), numeric, floats, dates, lambda: s.tolist())


def _from_pandas(frame: Any) -> dict[str, _Col]:
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else "close")
    index = frame.index
    cols: list[tuple[str, _Col]] = []
    if isinstance(index, pd.DatetimeIndex) or _key(index.name) == "date":
        cols.append(("date", _pandas_col(index.to_series(index=pd.RangeIndex(len(index))), str(index.name or "index"))))
    for name in frame.columns:
        cols.append((str(name), _pandas_col(frame[name].reset_index(drop=True), str(name))))
    return _unique(cols)


def _from_polars(frame: Any) -> dict[str, _Col]:
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    cols: list[tuple[str, _Col]] = []
    for name in frame.columns:
        s = frame.get_column(name)

        def floats(s: pl.Series = s) -> FloatArray:
            return np.asarray(s.cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)

        def dates(s: pl.Series = s) -> np.ndarray:
            if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
                s = s.dt.replace_time_zone(None)
            if s.dtype == pl.Date or isinstance(s.dtype, pl.Datetime):
                return np.asarray(s.to_numpy())
            return np.asarray(s.to_list(), dtype=object)

        cols.append((name, _Col(name, str(s.dtype), bool(s.dtype.is_numeric()), floats, dates,
                                s.to_list)))
    return _unique(cols)


def _unique(cols: list[tuple[str, _Col]]) -> dict[str, _Col]:
    out: dict[str, _Col] = {}
    for name, col in cols:
        key = _key(name)
        if key in out:
            msg = f"frame: columns {out[key].given!r} and {col.given!r} both mean {key!r}; keep one"
            raise FrameError(msg)
        out[key] = col
    return out


# --------------------------------------------------------------------------- columns
def _floats(col: _Col, field: str) -> FloatArray:
    if not col.numeric:
        msg = f"frame: column {col.given!r} ({field}) must be numeric, got dtype {col.dtype}"
        if _key(col.given) == field:
            msg = f"frame: column {col.given!r} must be numeric, got dtype {col.dtype}"
        raise FrameError(msg)
    return col.floats()


def _days(col: _Col) -> np.ndarray:
    """The column as ``datetime64[D]`` (dates, datetimes, ISO text); one line on failure."""
    raw = col.dates()
    try:
        if raw.dtype.kind == "M":
            days = raw.astype("datetime64[D]")
        else:
            days = np.array([np.datetime64(v) if v is not None else np.datetime64("NaT") for v in raw.tolist()],
                            dtype="datetime64[s]").astype("datetime64[D]")
    except (TypeError, ValueError):
        bad = next((i for i, v in enumerate(raw.tolist()) if not _is_date(v)), 0)
        msg = (f"frame: column {col.given!r} must hold dates (datetime64, datetime.date or "
               f"ISO text), got {raw.tolist()[bad]!r} at row {bad} (dtype {col.dtype})")
        raise FrameError(msg) from None
    missing = np.flatnonzero(np.isnat(days))
    if missing.size:
        msg = f"frame: column {col.given!r} has no date at row {int(missing[0])}"
        raise FrameError(msg)
    return days


def _is_date(value: object) -> bool:
    try:
        np.datetime64(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- shapes
def bars_from_frame(frame: Any, /, *, ticker: str = "ASSET") -> BarData:
    """The `BarData` panel of a pandas or Polars frame of prices (the shapes: module docstring).

    Parameters
    ----------
    frame : a pandas DataFrame or Series, or a Polars DataFrame or LazyFrame.
    ticker : the name of the ticker of a one-ticker frame without a ``ticker`` column.

    Raises
    ------
    FrameError
        naming the missing column, the column of a bad dtype, the duplicate (ticker, date) or
        the date that does not increase.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5],
    ...                    "Close": [1.5, 2.5]}, index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    >>> data = bars_from_frame(df, ticker="XYZ")
    >>> data.tickers, data.bars.close.ravel().tolist()
    (('XYZ',), [1.5, 2.5])
    """
    library = type(frame).__module__.split(".")[0]
    if library == "pandas":
        import pandas as pd

        if isinstance(frame, pd.DataFrame) and isinstance(frame.columns, pd.MultiIndex):
            return _from_two_level(frame)
        cols = _from_pandas(frame)
    elif library == "polars":
        cols = _from_polars(frame)
    else:
        msg = f"expected a pandas or Polars DataFrame of prices, got {type(frame).__name__}"
        raise FrameError(msg)
    if "date" not in cols:
        msg = (f"frame: no 'date' column and no date index (columns: "
               f"{', '.join(c.given for c in cols.values())}); expected {SHAPES}")
        raise FrameError(msg)
    days = _days(cols["date"])
    if "close" not in cols:
        names = [k for k in cols if k != "date"]
        if not names:
            msg = f"frame: only a date column; expected {SHAPES}"
            raise FrameError(msg)
        close = np.column_stack([_floats(cols[k], "a ticker's close") for k in names])
        _check_dates(days, None)
        return _panel(days, [cols[k].given for k in names], {"close": close})
    fields = _fields(cols)
    if "ticker" in cols:
        return _from_long(days, cols["ticker"], fields)
    _check_dates(days, None)
    return _panel(days, [ticker], {f: v[:, None] for f, v in fields.items()})


def _fields(cols: dict[str, _Col]) -> dict[str, FloatArray]:
    ohl = [f for f in ("open", "high", "low") if f in cols]
    if ohl and len(ohl) < 3:
        missing = next(f for f in ("open", "high", "low") if f not in cols)
        msg = (f"frame: no {missing!r} column (has {', '.join(c.given for c in cols.values())}); "
               "an OHLC frame needs open, high, low and close, a close-only frame none of the three")
        raise FrameError(msg)
    return {f: _floats(cols[f], f) for f in FIELDS if f in cols}


def _check_dates(days: np.ndarray, ticker_of_row: np.ndarray | None) -> None:
    """Dates strictly increasing (per ticker for a long frame): a duplicate first, then order."""
    n = len(days)
    codes = np.zeros(n, dtype=np.intp) if ticker_of_row is None else np.unique(ticker_of_row, return_inverse=True)[1]
    day = days.astype(np.int64)

    def name(row: int) -> str:
        return "" if ticker_of_row is None else str(ticker_of_row[row])

    by_date = np.lexsort((day, codes))  # stable: equal (ticker, date) rows keep their order
    dup = np.flatnonzero((codes[by_date][1:] == codes[by_date][:-1]) & (np.diff(day[by_date]) == 0))
    if dup.size:
        a, b = int(by_date[dup[0]]), int(by_date[dup[0] + 1])
        what = f"date {days[a]}" if ticker_of_row is None else f"(ticker, date) ({name(a)!r}, {days[a]})"
        msg = f"frame: duplicate {what} at rows {a} and {b}"
        raise FrameError(msg)
    in_rows = np.argsort(codes, kind="stable")  # each ticker's rows in the frame's order
    back = np.flatnonzero((codes[in_rows][1:] == codes[in_rows][:-1]) & (np.diff(day[in_rows]) < 0))
    if back.size:
        a, b = int(in_rows[back[0]]), int(in_rows[back[0] + 1])
        where = "" if ticker_of_row is None else f" of {name(a)!r}"
        msg = (f"frame: dates{where} must increase: {days[b]} at row {b} comes after "
               f"{days[a]} at row {a}; sort the frame by date")
        raise FrameError(msg)


def _from_long(days: np.ndarray, ticker_col: _Col, fields: dict[str, FloatArray]) -> BarData:
    raw = ticker_col.texts()
    empty = next((i for i, t in enumerate(raw) if t is None or (isinstance(t, float) and np.isnan(t))
                  or str(t).strip() == ""), None)
    if empty is not None:
        msg = f"frame: column {ticker_col.given!r} has no ticker at row {empty}"
        raise FrameError(msg)
    tick = np.array([str(t).strip() for t in raw], dtype=object)
    _check_dates(days, tick)
    names, t_idx = np.unique(tick.astype(str), return_inverse=True)
    dates, d_idx = np.unique(days, return_inverse=True)
    mats = {}
    for f, v in fields.items():
        m = np.full((len(dates), len(names)), np.nan)
        m[d_idx, t_idx] = v
        mats[f] = m
    return _panel(dates, [str(n) for n in names], mats)


def _from_two_level(frame: Any) -> BarData:
    """pandas columns ``(field, ticker)`` or ``(ticker, field)``."""
    if frame.columns.nlevels != 2:
        msg = f"frame: expected two column levels (field, ticker), got {frame.columns.nlevels}"
        raise FrameError(msg)
    level = next((lv for lv in (0, 1) if "close" in {_key(v) for v in frame.columns.get_level_values(lv)}), None)
    if level is None:
        msg = "frame: no 'close' on either column level; expected (field, ticker) columns such as ('Close', 'AAPL')"
        raise FrameError(msg)
    other = 1 - level
    tickers = list(dict.fromkeys(frame.columns.get_level_values(other)))
    by_field: dict[str, Any] = {}
    for label in dict.fromkeys(frame.columns.get_level_values(level)):
        key = _key(label)
        if key in FIELDS:
            if key in by_field:
                msg = f"frame: column labels {by_field[key][0]!r} and {label!r} both mean {key!r}; keep one"
                raise FrameError(msg)
            by_field[key] = (label, frame.xs(label, axis=1, level=level).reindex(columns=tickers))
    cols = {"date": _pandas_col(frame.index.to_series().reset_index(drop=True), str(frame.index.name or "index"))}
    days = _days(cols["date"])
    _check_dates(days, None)
    fields: dict[str, FloatArray] = {}
    for key, (label, sub) in by_field.items():
        for t in tickers:
            _floats(_pandas_col(sub[t], str((label, t))), key)
        fields[key] = np.asarray(sub.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    ohl = [f for f in ("open", "high", "low") if f in fields]
    if ohl and len(ohl) < 3:
        missing = next(f for f in ("open", "high", "low") if f not in fields)
        msg = f"frame: no {missing!r} on the field level of the columns; an OHLC frame needs open, high, low and close"
        raise FrameError(msg)
    return _panel(days, [str(t) for t in tickers], fields)


def _panel(days: np.ndarray, tickers: Sequence[str], mats: dict[str, FloatArray]) -> BarData:
    """The adjusted panel (the database loader's arithmetic), empty tickers and dates dropped."""
    from quantdb.services.research.backtest import BarData
    from quantdb.strategies import Bars

    close_raw = mats["close"]
    adj = mats.get("adj_close", close_raw)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(np.isnan(close_raw), 1.0, adj / close_raw)
    keep = ~np.all(np.isnan(adj), axis=0)
    if not keep.any():
        msg = "frame: no ticker has a close (every close is NaN or null)"
        raise FrameError(msg)
    rows = ~np.all(np.isnan(adj[:, keep]), axis=1)
    if int(rows.sum()) < 2:
        msg = f"frame: expected at least 2 dates with a close, got {int(rows.sum())}"
        raise FrameError(msg)
    sel = np.ix_(rows, keep)

    def adjusted(field: str) -> FloatArray:
        if field not in mats:  # close-only: open = high = low = close
            return np.ascontiguousarray(adj[sel])
        return np.ascontiguousarray((mats[field] * factor)[sel])

    bars = Bars(
        open=adjusted("open"),
        high=adjusted("high"),
        low=adjusted("low"),
        close=np.ascontiguousarray(adj[sel]),
        volume=np.ascontiguousarray(mats["volume"][sel]) if "volume" in mats else None,
    )
    names = tuple(t for t, k in zip(tickers, keep, strict=True) if k)
    return BarData(np.asarray(days, dtype="datetime64[D]")[rows].copy(), names, bars, "frame")


def select_bars(
    data: BarData, tickers: Sequence[str] | None, start: str | dt.date | None, end: str | dt.date | None
) -> BarData:
    """``data`` restricted to ``tickers`` (in that order; None: all) and the period ``start`` ..
    ``end`` (both included), with the database loader's rules: a period outside the data is a
    `quantdb.dates.DateError` naming its range, tickers without a bar in the period are
    dropped (all of them: `NotFound`), and so are dates on which none of them has a bar."""
    from quantdb.services.research.backtest import BarData
    from quantdb.services.research.bars import panel_window, traded
    from quantdb.strategies import Bars

    dates = data.dates
    lo, hi, cols = panel_window(dates, data.tickers, tickers, start, end, what="the frame's prices",
                                source="the frame", hint=f" (it has {', '.join(data.tickers[:10])})")
    keep, rows = traded(data.bars.close[lo:hi][:, cols], start, end, where=" in the frame")
    picked = cols[keep]

    def take(m: FloatArray) -> FloatArray:
        return np.ascontiguousarray(m[lo:hi][:, picked][rows])

    b = data.bars
    bars = Bars(take(b.open), take(b.high), take(b.low), take(b.close),
                None if b.volume is None else take(b.volume))
    names = tuple(data.tickers[i] for i in picked)
    return BarData(dates[lo:hi][rows].copy(), names, bars, data.source)
