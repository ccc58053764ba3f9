"""The data loader: adjusted OHLCV panels from the columnar mirror, and their fingerprint.

Backtests, sweeps, walk-forward runs and prediction replays all read prices through
:func:`load_bars`, so each sees the same adjusted bars (``open``, ``high`` and ``low`` scaled by
``adj_close / close``, ``close = adj_close``) for the same tickers and days, and
:func:`fingerprint` names exactly the prices a stored result was computed from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from quantdb._typing import FloatArray
from quantdb.dates import check_in_range, parse_date
from quantdb.errors import NotFound
from quantdb.storage.sqlite import Database
from quantdb.universe import Universe, UniverseError

if TYPE_CHECKING:
    from quantdb.strategies import Bars

__all__ = ["fingerprint", "load_bars", "panel_window", "traded", "universe_tickers"]


def universe_tickers(db: Database, universe: Universe, *, gate_ok: bool = True) -> list[str] | None:
    """The tickers a universe names in ``db`` (None: every ticker).

    ``leaders:N`` selects every ticker here (its gate is applied date by date to the entries,
    by the backtest); a door that cannot gate (``gate_ok=False``: sweep, walk-forward) refuses
    it with the reason.

    Raises
    ------
    NotFound
        a sector with no tickers.
    UniverseError
        ``leaders:N`` where it cannot apply.
    """
    if universe.kind == "list":
        return list(universe.tickers)
    if universe.kind == "sector":
        rows = db.query("SELECT symbol FROM tickers WHERE lower(sector) = lower(?) ORDER BY symbol",
                        (universe.sector,))
        if not rows:
            known = [r[0] for r in db.query("SELECT DISTINCT sector FROM tickers WHERE sector IS NOT NULL ORDER BY 1")]
            msg = f"no tickers in sector {universe.sector!r}; sectors: {', '.join(known[:20]) or 'none recorded'}"
            raise NotFound(msg)
        return [r[0] for r in rows]
    if universe.kind == "leaders" and not gate_ok:
        msg = (f"--universe {universe} gates entries date by date, which only `quantdb backtest` does; "
               "here give all, sector:NAME or a list of tickers")
        raise UniverseError(msg)
    if universe.kind == "leaders" and universe.tickers:  # a stored backtest's own tickers, rerun
        return list(universe.tickers)
    return None


def panel_window(
    dates: np.ndarray, names: Sequence[str], tickers: Sequence[str] | None,
    start: str | dt.date | None, end: str | dt.date | None, *, what: str, source: str, hint: str = "",
) -> tuple[int, int, np.ndarray]:
    """Rows ``lo:hi`` of ``dates`` from ``start`` to ``end`` (both included) and the columns of
    ``tickers`` (in that order; None: all) among ``names``: the one reading of a panel's period
    and tickers, for the database's bars (`load_bars`) and a frame's
    (`quantdb.services.research.frame_bars.select_bars`).

    Raises
    ------
    DateError
        a bad date, or a period outside ``dates`` (the message names ``what`` and its range).
    NotFound
        a ticker not among ``names`` ("tickers not in ``source``: ...", then ``hint``).
    """
    first_day, last_day = parse_date(start, name="start"), parse_date(end, name="end")
    check_in_range(first_day, last_day, dates[0].astype(dt.date), dates[-1].astype(dt.date), what=what)
    lo = 0 if first_day is None else int(np.searchsorted(dates, np.datetime64(first_day, "D"), "left"))
    hi = len(dates) if last_day is None else int(np.searchsorted(dates, np.datetime64(last_day, "D"), "right"))
    if tickers is None:
        return lo, hi, np.arange(len(names))
    index = {t.upper(): i for i, t in enumerate(names)}
    wanted = [t.strip().upper() for t in tickers]
    missing = [t for t in wanted if t not in index]
    if missing:
        msg = f"tickers not in {source}: {', '.join(missing[:10])}{hint}"
        raise NotFound(msg)
    return lo, hi, np.array([index[t] for t in wanted], dtype=np.intp)


def traded(close: FloatArray, start: str | dt.date | None, end: str | dt.date | None,
           *, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Which columns of a ``(dates, tickers)`` close window have a bar (``keep``), and the
    dates on which one of those has a bar (``rows``): a panel drops the rest, so its dates
    are its tickers' own trading days. ``where`` (" in the frame") goes into the message.

    Raises
    ------
    NotFound
        no column has a bar in the period.
    """
    keep = ~np.all(np.isnan(close), axis=0)
    if not keep.any():
        msg = f"no prices{where} between {start or 'the first day'} and {end or 'the last day'}"
        raise NotFound(msg)
    return keep, ~np.all(np.isnan(close[:, keep]), axis=1)


def load_bars(
    db: Database,
    tickers: Sequence[str] | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
) -> tuple[np.ndarray, tuple[str, ...], Bars]:
    """Adjusted OHLCV panels from the columnar mirror: ``(dates, tickers, Bars)``.

    ``open``, ``high`` and ``low`` are scaled by ``adj_close / close`` so that the whole bar is
    in adjusted units; ``close`` is ``adj_close``. Tickers without any bar in the period are
    dropped (all of them missing raises `NotFound`), and so are the dates on which none of
    the chosen tickers has a bar: the panel's dates are its tickers' own trading days, so
    importing another ticker (another exchange's calendar, bars on holidays) changes nothing
    here. A period outside the data raises `quantdb.dates.DateError` naming the data's range.
    """
    from quantdb.storage.mirror import current_mirror
    from quantdb.strategies import Bars

    mirror = current_mirror(db)
    if len(mirror.dates) == 0:
        msg = f"{db.path}: no prices yet; import them with `quantdb prices import`"
        raise NotFound(msg)
    lo, hi, cols = panel_window(mirror.dates, mirror.tickers, tickers, start, end,
                                what="the prices", source="the database")
    dates = mirror.dates

    def take(name: str) -> FloatArray:
        return np.ascontiguousarray(np.asarray(mirror.matrix(name))[lo:hi][:, cols], dtype=np.float64)

    close_raw, adj = take("close"), take("adj_close")
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(np.isnan(close_raw), 1.0, adj / close_raw)
    keep, rows = traded(adj, start, end)
    names = tuple(np.asarray(mirror.tickers, dtype=object)[cols][keep].tolist())
    sel = np.ix_(rows, keep) if not rows.all() else (slice(None), keep)
    bars = Bars(
        open=np.ascontiguousarray((take("open") * factor)[sel]),
        high=np.ascontiguousarray((take("high") * factor)[sel]),
        low=np.ascontiguousarray((take("low") * factor)[sel]),
        close=np.ascontiguousarray(adj[sel]),
        volume=np.ascontiguousarray(take("volume")[sel]),
    )
    return dates[lo:hi][rows].copy(), names, bars


def fingerprint(dates: np.ndarray, tickers: Sequence[str], bars: Bars) -> str:
    """A short hash of the exact bars a result was computed from: dates, tickers and the
    adjusted open, high, low and close.

    The one fingerprint of the data: a backtest, a sweep's run and its stored rows, and a
    prediction replay (which adds its predictions) record it as ``data_fingerprint``, and
    `quantdb.services.research.results.rerun_backtest` compares it to say when the data
    changed since a result was stored.
    """
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.asarray(dates, dtype="datetime64[D]")).view(np.int64).tobytes())
    h.update("\x00".join(tickers).encode())
    for m in (bars.open, bars.high, bars.low, bars.close):
        h.update(np.ascontiguousarray(m, dtype=np.float64).tobytes())
    return h.hexdigest()[:32]
