"""Prediction replay: a strategy's recorded predictions as entries, with their own or other exits.

``replay_predictions(db, "momentum")`` answers "what did these predictions earn, traded as
a portfolio?" and, with ``exits="settings"``, "what if my exits had been different?":

``exits="own"``
    each prediction exits on its own target, stop and ``timeframe_days`` (the rules of the
    tracking service: levels against each bar's high/low, a gap fills at the open, a bar that
    touches both is counted and read stop-first, expiry at the close of bar
    ``timeframe_days`` after the prediction day; ``bars="close"`` judges on closes only, the
    legacy system's rule). Simulated by :func:`quantdb.kernels.replay.replay_trades`:
    independent trades, one shared cash balance.
``exits="settings"``
    the predictions' levels are ignored; the global ``stop_loss`` / ``take_profit`` /
    ``trailing_stop`` / ``max_hold_bars`` of the given settings apply, run through
    :func:`quantdb.kernels.simulate.simulate` in portfolio mode; with ``exit_strategy`` a
    strategy's exit signals (any reference `quantdb.strategy_loader.resolve_strategy` takes:
    a name, your own function, ``file.py:func``) close the trades too: a long prediction on
    its ``exits``, a short one on its ``short_exits`` (none when it returns two matrices),
    computed on the replay's bars (from a little before the first prediction: a long
    indicator signals nothing until it has its history). Predictions that may overlap
    on one ticker go to separate columns ("lanes": column ``lane * tickers + ticker``), so that
    each is its own trade as in ``"own"``; a prediction goes to the first lane whose previous
    trade has surely ended (known from ``max_hold_bars``; without it every prediction of a
    ticker gets its own lane).

Entries: a LONG prediction is a long entry, a SHORT one a short entry, on the prediction's
day (the ticker's last bar on or before it), filled at the next open or at that close
(``settings.fill``); ``direction`` is ignored. Prices are the split-adjusted bars of the
columnar mirror (as every backtest); a prediction's levels are taken in adjusted units when
its ``entry_price`` is nearer the day's adjusted close than the raw close (the legacy files),
otherwise converted from raw units by that day's adjustment factor (the tracking service's
rule). Trade prices in the result are adjusted prices.

The result is a :class:`ReplayResult` (a `BacktestResult` named ``replay:<strategy>``, with the
prediction id of every trade and the status of every prediction), stored with
`quantdb.services.research.results.store_backtest` (``params = {"exits": ..., "bars": ...}``,
and the replay's strategy, period, exits and bar rule in its settings, so that
`quantdb.services.research.results.rerun_backtest` replays it again).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date as date_cls
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantdb._typing import BoolArray, FloatArray, IntArray
from quantdb.dates import parse_date
from quantdb.errors import ArgumentError, NotFound
from quantdb.kernels.replay import REPLAY_STATUS, replay_trades
from quantdb.kernels.simulate import EXIT_REASONS, simulate
from quantdb.services.research.backtest import (
    BacktestResult,
    BarData,
    bankrupt_date,
    compute_statistics,
)
from quantdb.services.research.bars import fingerprint, load_bars
from quantdb.services.research.origin import Origin
from quantdb.services.research.results import store_backtest
from quantdb.settings import SimSettings, build_settings, merge_settings
from quantdb.storage.mirror import current_mirror
from quantdb.storage.sqlite import Database
from quantdb.strategies import Bars
from quantdb.universe import Universe

if TYPE_CHECKING:
    import polars as pl

    from quantdb.strategy_loader import StrategyRef

__all__ = ["OUTCOME_OF_REASON", "REPLAY_DEFAULTS", "ReplayResult", "exit_outcomes", "replay_predictions"]

Exits = Literal["own", "settings"]
BarRule = Literal["intrabar", "close"]

#: a trade's exit reason as the tracking service's prediction status ("end": still open)
OUTCOME_OF_REASON = {"target": "hit_target", "stop": "stopped", "time": "expired", "end": "open",
                     "trailing": "stopped", "signal": "open", "liquidation": "stopped"}
_LOOKBACK_DAYS = 14  # calendar days of bars loaded before the first prediction (its start bar)
_MAX_SIGNAL_CELLS = 200_000_000  # dates x lanes x tickers of exits="settings" (4 bools each)


@dataclass(frozen=True, repr=False)  # BacktestResult's one-line repr
class ReplayResult(BacktestResult):
    """A `BacktestResult` of a replay, plus the link between trades and predictions.

    ``prediction_ids[r]`` is the prediction of trade record ``r``; ``prediction_status`` maps
    every replayed prediction id to ``"traded"`` or the reason it was not (``no_prices``: no
    bar of its ticker on or before its day; ``no_bar_after``: no bar after it; ``no_cash``,
    ``max_positions``, ``zero_size``: the sizing rules left nothing to buy; ``not_filled``:
    ``exits="settings"`` did not fill it, for cash or ``max_positions``).
    """

    prediction_ids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    prediction_status: dict[int, str] = field(default_factory=dict)

    def trades(self) -> pl.DataFrame:
        """One row per trade (see `BacktestResult.trades`), with its ``prediction_id`` first."""
        import polars as pl

        frame = super().trades()
        return frame.insert_column(0, pl.Series("prediction_id", self.prediction_ids, dtype=pl.Int64))


REPLAY_DEFAULTS: dict[str, Any] = {"sizing": "equity", "sizing_value": 0.1, "fractional": True}
"""A replay's own defaults under the user's settings: 10% of equity per prediction, fractional
shares (an expensive ticker still gets its trade), fill at the next open."""


@dataclass(frozen=True)
class _Predictions:
    ids: IntArray
    day: np.ndarray  # datetime64[D]
    symbol: np.ndarray  # object
    side: FloatArray
    target: FloatArray
    stop: FloatArray
    horizon: IntArray
    entry: FloatArray


def _load_predictions(db: Database, strategy: str, start: str | None, end: str | None) -> _Predictions:
    rows = db.query(
        """SELECT p.id, p.date, t.symbol, p.position, p.target, p.stop_loss, p.timeframe_days, p.entry_price
           FROM predictions AS p
           JOIN strategies AS s ON s.id = p.strategy_id
           JOIN tickers AS t ON t.id = p.ticker_id
           WHERE lower(s.name) = lower(?) AND (? IS NULL OR p.date >= ?) AND (? IS NULL OR p.date <= ?)
           ORDER BY p.date, p.id""",
        (strategy.strip(), start, start, end, end),
    )
    if not rows:
        known = [r[0] for r in db.query(
            "SELECT DISTINCT s.name FROM predictions p JOIN strategies s ON s.id = p.strategy_id ORDER BY 1")]
        span = f" between {start or 'the start'} and {end or 'the end'}" if (start or end) else ""
        msg = f"no predictions of strategy {strategy!r}{span}; strategies with predictions: {', '.join(known) or 'none'}"
        raise NotFound(msg)

    def col(j: int, fill: float) -> FloatArray:
        return np.array([fill if r[j] is None else float(r[j]) for r in rows], dtype=np.float64)

    return _Predictions(
        ids=np.array([int(r[0]) for r in rows], dtype=np.int64),
        day=np.array([r[1] for r in rows], dtype="datetime64[D]"),
        symbol=np.array([str(r[2]) for r in rows], dtype=object),
        side=np.array([1.0 if r[3] == "LONG" else -1.0 for r in rows]),
        target=col(4, np.nan),
        stop=col(5, np.nan),
        horizon=np.array([-1 if r[6] is None else int(r[6]) for r in rows], dtype=np.int64),
        entry=col(7, np.nan),
    )


def _bars(db: Database, symbols: list[str], first_day: np.datetime64, end: str | None) -> tuple[BarData, FloatArray]:
    """Adjusted bars of ``symbols`` from a little before ``first_day``, and the raw closes."""
    start = str((first_day - np.timedelta64(_LOOKBACK_DAYS, "D")).astype("datetime64[D]"))
    dates, names, bars = load_bars(db, symbols, start, end)
    mirror = current_mirror(db)
    rows = np.searchsorted(mirror.dates, dates)
    cols = np.array([mirror.tickers.index(t) for t in names], dtype=np.intp)
    raw = np.ascontiguousarray(np.asarray(mirror.matrix("close"))[rows][:, cols], dtype=np.float64)
    data = BarData(dates, tuple(names), bars, str(db.path))
    return data, raw


def _signal_bars(close: FloatArray, dates: np.ndarray, day: np.ndarray, col: IntArray) -> IntArray:
    """Per prediction: the last bar of its ticker on or before its day (-1: none)."""
    n = len(dates)
    idx = np.where(~np.isnan(close), np.arange(n)[:, None], -1)
    last_valid = np.maximum.accumulate(idx, axis=0)
    row = np.searchsorted(dates, day, side="right") - 1
    out = np.full(len(day), -1, dtype=np.int64)
    ok = (row >= 0) & (col >= 0)
    out[ok] = last_valid[row[ok], col[ok]]
    return out


def _next_valid(close: FloatArray) -> IntArray:
    """``(dates + 1, tickers)``: the first row >= i where the ticker has a close (n: none)."""
    n = close.shape[0]
    nxt = np.where(~np.isnan(close), np.arange(n)[:, None], n)
    nxt = np.minimum.accumulate(nxt[::-1], axis=0)[::-1]
    return np.vstack([nxt, np.full((1, close.shape[1]), n)]).astype(np.int64)


def _lanes(sig: IntArray, col: IntArray, close: FloatArray, settings: SimSettings) -> IntArray:
    """Lane of every prediction for ``exits="settings"``: the first whose trade surely ended.

    A trade signalled on ``s`` enters on ``s`` (close) or the ticker's next valid bar, and ends
    at the latest on the ticker's ``max_hold_bars``-th bar after its entry (simulate counts
    the ticker's own bars); without ``max_hold_bars`` it may last to the end.
    """
    n = close.shape[0]
    nxt = _next_valid(close)
    has_bar = ~np.isnan(close)
    own = np.cumsum(has_bar, axis=0) - 1  # the ticker's bar count - 1 on each row
    bar_rows: dict[int, IntArray] = {}
    lanes = np.zeros(len(sig), dtype=np.int64)
    busy: dict[int, list[int]] = {}
    for j in np.argsort(sig, kind="stable"):
        s, t = int(sig[j]), int(col[j])
        entry = s if settings.fill == "close" else int(nxt[min(s + 1, n), t])
        if settings.max_hold_bars is None or entry >= n:
            until = n
        else:
            rows = bar_rows.setdefault(t, np.flatnonzero(has_bar[:, t]))
            last = int(own[entry, t]) + settings.max_hold_bars  # its bar count at the latest exit
            until = int(rows[last]) if last < len(rows) else n
        ends = busy.setdefault(t, [])
        for lane, e in enumerate(ends):
            if e < s:
                ends[lane] = until
                lanes[j] = lane
                break
        else:
            lanes[j] = len(ends)
            ends.append(until)
    return lanes


def _run_settings(
    data: BarData, sig: IntArray, col: IntArray, side: FloatArray, st: SimSettings,
    signal_exits: tuple[BoolArray, BoolArray | None] | None = None,
) -> tuple[np.ndarray, IntArray, FloatArray, FloatArray, int, BoolArray, int]:
    """exits="settings" through `simulate`; returns trades, their prediction index, equity,
    exposure, ambiguous exits, the per-prediction filled flag and the bankruptcy bar (-1).
    ``signal_exits``: a strategy's ``(exits, short_exits)``, ``(dates, tickers)``, as well."""
    levels = ("stop_loss", "take_profit", "trailing_stop", "max_hold_bars")
    if signal_exits is None and all(getattr(st, k) is None for k in levels):
        msg = ("exits='settings' needs at least one of stop_loss, take_profit, trailing_stop, max_hold_bars "
               "or an exit_strategy (otherwise every trade is held to the last day); use exits='own' for "
               "the predictions' own exits")
        raise ArgumentError(msg)
    b = data.bars
    n, k = b.close.shape
    use = np.flatnonzero(sig < n)  # sig == n: no bar to enter on
    full = len(sig)
    sig, col, side = sig[use], col[use], side[use]
    lanes = _lanes(sig, col, b.close, st)
    n_lanes = int(lanes.max()) + 1 if len(lanes) else 1
    if n * n_lanes * k > _MAX_SIGNAL_CELLS:
        msg = (f"exits='settings' would need {n_lanes} columns per ticker ({n} dates x {n_lanes * k} columns): "
               "set max_hold_bars (--max-hold) so that overlapping predictions can share columns")
        raise ArgumentError(msg)
    column = lanes * k + col
    shape = (n, n_lanes * k)
    le, se = np.zeros(shape, dtype=np.bool_), np.zeros(shape, dtype=np.bool_)
    le[sig[side > 0], column[side > 0]] = True
    se[sig[side < 0], column[side < 0]] = True
    none = np.zeros(shape, dtype=np.bool_)
    lx, sx = none, none
    if signal_exits is not None:  # column lane * k + ticker: the ticker's signals in every lane
        lx = np.ascontiguousarray(np.tile(signal_exits[0], (1, n_lanes)))
        if signal_exits[1] is not None:
            sx = np.ascontiguousarray(np.tile(signal_exits[1], (1, n_lanes)))
    run = dataclasses.replace(st, direction="both")
    res = simulate(b.open, b.high, b.low, b.close, le, lx, se, sx, settings=run, portfolio=True)
    t = res.trades
    # the prediction of each trade: in its column, the last signal before (next-open) or at
    # (close) its entry bar; predictions of one column never overlap, so it is unique
    pred = np.full(len(t), -1, dtype=np.int64)
    by_col: dict[int, tuple[IntArray, IntArray]] = {}
    order = np.lexsort((sig, column))
    cs, ss = column[order], sig[order]
    cols, first = np.unique(cs, return_index=True)
    for c, lo, hi in zip(cols, first, [*first[1:], len(cs)], strict=True):
        by_col[int(c)] = (ss[lo:hi], order[lo:hi])
    for r in range(len(t)):
        sigs, who = by_col[int(t["column"][r])]
        e = int(t["entry_index"][r])
        pos = np.searchsorted(sigs, e, side="right" if st.fill == "close" else "left") - 1
        pred[r] = who[pos]
    t = t.copy()
    t["column"] = t["column"] % k
    filled = np.zeros(full, dtype=np.bool_)
    filled[use[pred]] = True
    return (t, use[pred], np.asarray(res.equity), np.asarray(res.exposure), int(res.ambiguous_exits.sum()), filled,
            int(res.stats.bankrupt_bar[0]))


def replay_predictions(
    db: Database,
    strategy: str,
    *,
    start: str | date_cls | None = None,
    end: str | date_cls | None = None,
    exits: Exits = "own",
    settings: Mapping[str, Any] | SimSettings | None = None,
    bars: BarRule = "intrabar",
    store: bool = True,
    exit_strategy: StrategyRef | None = None,
    exit_params: Mapping[str, float] | None = None,
    **options: Any,
) -> ReplayResult:
    """Replay the recorded predictions of ``strategy`` as a portfolio backtest.

    Parameters
    ----------
    db : the database (predictions, and the price mirror).
    strategy : the strategy name (case-insensitive).
    start, end : predictions made on these days or between them; bars run to ``end`` (default:
        the last bar), and a trade still open there closes at that close (reason ``end``).
    exits : ``"own"`` (each prediction's target, stop, timeframe) or ``"settings"`` (the
        global levels of ``settings`` instead).
    settings, **options : costs, fill, sizing by name, as every research door takes them
        (`quantdb.settings.build_settings`, over :data:`REPLAY_DEFAULTS`), or a finished
        `SimSettings`. With ``"own"`` its global levels must be unset.
    bars : with ``"own"``: ``"intrabar"`` or ``"close"`` (levels judged on closes, the legacy
        rule). ``"settings"`` always works intrabar (as every backtest).
    store : write the result to backtest_results (strategy ``replay:<strategy>``).
    exit_strategy, exit_params : with ``"settings"``, a strategy whose exit signals close the
        trades as well (its parameters: ``exit_params`` over its defaults); the stored result
        records its source, and a rerun finds it again.

    Returns
    -------
    ReplayResult

    Raises
    ------
    NotFound
        no prediction of that strategy in the period, or none of its tickers has prices.
    ArgumentError
        an unknown ``exits`` or ``bars``, levels set with ``"own"``, none with ``"settings"``.
    """
    if exits not in ("own", "settings"):
        msg = f"exits must be 'own' or 'settings', got {exits!r}"
        raise ArgumentError(msg)
    if bars not in ("intrabar", "close"):
        msg = f"bars must be 'intrabar' or 'close', got {bars!r}"
        raise ArgumentError(msg)
    if exits == "settings" and bars != "intrabar":
        msg = "bars='close' applies to exits='own' only (exits='settings' runs the intrabar backtest rules)"
        raise ArgumentError(msg)
    exit_strat = None
    if exit_strategy is not None:
        from quantdb.strategy_loader import resolve_strategy

        if exits != "settings":
            msg = "an exit_strategy closes trades with exits='settings' (--exits settings), not with the predictions' own exits"
            raise ArgumentError(msg)
        exit_strat = resolve_strategy(exit_strategy)
        exit_values = exit_strat.full_params(exit_params)
    elif exit_params:
        msg = "exit_params needs an exit_strategy"
        raise ArgumentError(msg)
    st = build_settings(merge_settings(settings, options), n_tickers=1, base=REPLAY_DEFAULTS)
    if exits == "own":
        set_levels = [k for k in ("stop_loss", "take_profit", "trailing_stop", "max_hold_bars") if getattr(st, k) is not None]
        if set_levels:
            msg = f"exits='own' uses each prediction's own levels, but settings set {', '.join(set_levels)}: use exits='settings'"
            raise ArgumentError(msg)
    first_day, last_day = parse_date(start, name="--start"), parse_date(end, name="--end")
    first = None if first_day is None else first_day.isoformat()
    last = None if last_day is None else last_day.isoformat()
    preds = _load_predictions(db, strategy, first, last)
    known = set(current_mirror(db).tickers)
    symbols = sorted({s for s in preds.symbol if s in known})
    if not symbols:
        msg = f"none of the tickers of strategy {strategy!r} has prices: import prices first"
        raise NotFound(msg)
    data, raw = _bars(db, symbols, preds.day.min(), last)
    index = {t: i for i, t in enumerate(data.tickers)}
    col = np.array([index.get(s, -1) for s in preds.symbol], dtype=np.int64)
    adj = data.bars.close
    sig = _signal_bars(adj, data.dates, preds.day, col)
    status = np.where(sig >= 0, "traded", "no_prices").astype(object)
    ok = np.flatnonzero(sig >= 0)
    if not len(ok):
        msg = f"no prediction of strategy {strategy!r} has a bar of its ticker on or before its day"
        raise NotFound(msg)
    # trim the leading bars before the first signal (a flat start would dilute the returns)
    lo = int(sig[ok].min())
    signal_exits: tuple[BoolArray, BoolArray | None] | None = None
    if exit_strat is not None:  # on every bar loaded: the lookback serves as warm-up
        out = exit_strat.signals(data.bars, **exit_values)
        signal_exits = (out[1][lo:], out[3][lo:] if len(out) == 4 else None)
    data = BarData(
        data.dates[lo:], data.tickers,
        Bars(open=np.ascontiguousarray(data.bars.open[lo:]), high=np.ascontiguousarray(data.bars.high[lo:]),
             low=np.ascontiguousarray(data.bars.low[lo:]), close=np.ascontiguousarray(data.bars.close[lo:]),
             volume=None if data.bars.volume is None else np.ascontiguousarray(data.bars.volume[lo:])),
        data.source,
    )
    raw, adj = raw[lo:], data.bars.close
    s_ok, c_ok = sig[ok] - lo, col[ok]
    # levels into adjusted units (the tracking rule: legacy levels already are)
    close0, adj0 = raw[s_ok, c_ok], adj[s_ok, c_ok]
    ref = preds.entry[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        in_adj = ~np.isnan(ref) & (np.abs(ref - adj0) < np.abs(ref - close0))
        factor = np.where(in_adj | np.isnan(close0), 1.0, adj0 / close0)
    target, stop = preds.target[ok] * factor, preds.stop[ok] * factor
    side = preds.side[ok]
    # decided on a day without a bar of its ticker (a holiday, a halt): the signal bar's close
    # is older than the decision, so even with fill="close" it enters at the next bar
    late = data.dates[s_ok] < preds.day[ok]
    if exits == "own":
        sim = replay_trades(
            data.bars.open, data.bars.high, data.bars.low, adj, c_ok, s_ok, side, target, stop,
            preds.horizon[ok], settings=st, bars=bars, next_open=late,
        )
        trades, who, equity, exposure = sim.trades, sim.trade_index, sim.equity, sim.exposure
        ambiguous = sim.ambiguous_exits
        bank_bar = sim.bankrupt_bar
        status[ok] = np.array(REPLAY_STATUS, dtype=object)[sim.status]
    else:
        s_sim = s_ok.copy()
        if st.fill == "close":  # the first close after the day (simulate has one fill rule)
            s_sim[late] = _next_valid(adj)[s_ok[late] + 1, c_ok[late]]
        trades, who, equity, exposure, ambiguous, filled, bank_bar = _run_settings(data, s_sim, c_ok, side, st,
                                                                                   signal_exits)
        status[ok] = np.where(filled, "traded", "not_filled")
        status[ok[~filled & (s_sim >= len(data.dates) - 1)]] = "no_bar_after"
    stats = compute_statistics(equity, st.cash, trades, ambiguous,
                               bankrupt_on=bankrupt_date(data.dates, np.array([bank_bar])))
    stats["predictions"] = len(preds.ids)
    stats["prediction_status"] = dict(Counter(status.tolist()))
    res = ReplayResult(
        strategy=f"replay:{strategy.strip().lower()}",
        params={"exits": exits, "bars": bars},  # type: ignore[dict-item]
        settings=st,
        dates=data.dates,
        tickers=data.tickers,
        trade_records=trades,
        equity_curve=np.asarray(equity, dtype=np.float64),
        exposure=np.asarray(exposure, dtype=np.float64),
        statistics=stats,
        fingerprint=_fingerprint(data, preds),
        origin=Origin("db", str(db.path), str(data.dates[0])[:10], str(data.dates[-1])[:10], benchmark="SPY"),
        prediction_ids=preds.ids[ok][who],
        prediction_status={int(i): str(s) for i, s in zip(preds.ids, status, strict=True)},
    )
    if store:
        replay: dict[str, Any] = {"strategy": strategy.strip(), "start": first, "end": last, "exits": exits,
                                  "bars": bars}
        if exit_strat is not None:
            replay |= {"exit_strategy": exit_strat.source(), "exit_params": exit_values}
        res = dataclasses.replace(res, backtest_id=store_backtest(
            db, res, universe=str(Universe("list", data.tickers)), source="db", replay=replay))
    return res


def _fingerprint(data: BarData, preds: _Predictions) -> str:
    """The bars' fingerprint extended by the predictions replayed (ids, days, sides, levels)."""
    import hashlib

    h = hashlib.sha256(fingerprint(data.dates, data.tickers, data.bars).encode())
    for a in (preds.ids, preds.day.view(np.int64), preds.side, preds.target, preds.stop, preds.horizon, preds.entry):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:32]


def exit_outcomes(result: ReplayResult) -> dict[int, str]:
    """Per traded prediction id, its exit as a tracking status (``open``: still open at the end)."""
    reasons = result.trade_records["exit_reason"]
    return {int(p): OUTCOME_OF_REASON[EXIT_REASONS[int(r)]] for p, r in zip(result.prediction_ids, reasons, strict=True)}

