"""Stored backtests: the one module that writes and reads ``backtest_results``,
``backtest_trades`` and ``backtest_equity``.

Every door stores through :func:`store_backtest` (a backtest, each of a sweep's best parameter
sets, a prediction replay) and reads through :func:`load_backtest`, :func:`load_equity`,
:func:`load_trades` and :func:`list_backtests` (reports, the web, Monte Carlo, the
``quantdb backtests`` listing), so a stored backtest has one shape, whichever door made it,
and can be rerun (:func:`rerun_backtest`), bootstrapped and reported from any door.

The stored shape (``settings_json``, version 2)::

    {"version": 2, "strategy": "sma-cross", "params": {"fast": 10.0, "slow": 40.0},
     "simulation": {...every SimSettings field...}, "universe": "list:AAPL,MSFT",
     "tickers": ["AAPL", "MSFT"], "start": "2016-01-04", "end": "2018-12-31",
     "source": "db", "mode": "portfolio", "benchmark": "SPY", "replay": null,
     "strategy_source": {"name": "sma-cross", "origin": "builtin", "spec": "sma-cross",
                         "module": "quantdb.strategies", "function": "_sma_cross",
                         "sha256": "..."}}

``source`` is ``"db"``, the absolute path of the price file, or ``"frame"`` (a DataFrame:
`quantdb.frames.backtest`, which cannot be rerun from the database); ``mode`` is ``"portfolio"``
(shared cash) or ``"independent"`` (each ticker its own cash, the equity the mean of the
tickers' curves: a sweep's rows); ``replay`` names a prediction replay's strategy, period,
exits and bar rule; ``strategy_source`` (`quantdb.strategies.Strategy.source`: origin
``builtin``, ``entry point DIST``, ``file PATH``, ``module NAME`` or ``__main__``; the spec
that finds it again; the sha256 of its source) is absent from rows stored before quantdb
recorded it. :func:`rerun_backtest` finds the strategy by that spec (else by name) and warns
with `StrategyChangedWarning` when its code changed. Version 1 rows (quantdb 0.1: a backtest's flat dict of settings plus
``tickers``/``universe``/``source``; a sweep's ``{"simulation", "tickers": N, "aggregate"}``;
hand-written ``{"capital": ...}``) are read too, their setting names mapped by
`quantdb.settings.settings_from_json`.

``created_at`` is ISO-8601 UTC with microseconds (:func:`utc_timestamp`,
``2026-12-06T12:00:00.123456Z``), which sorts as text; ``data_fingerprint`` is
`quantdb.services.research.bars.fingerprint` of the bars (a replay adds its predictions).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantdb._typing import BacktestMode, FloatArray
from quantdb._version import __version__
from quantdb.errors import NotFound, QuantdbError, QuantdbWarning
from quantdb.settings import (
    SETTINGS_FIELDS,
    SETTINGS_VERSION,
    SimSettings,
    settings_from_json,
    settings_to_json,
)
from quantdb.storage.sqlite import Database
from quantdb.universe import Universe, UniverseError, parse_universe

if TYPE_CHECKING:
    from quantdb.services.research.backtest import BacktestResult
    from quantdb.strategies import Strategy
    from quantdb.strategy_loader import StrategyRef

__all__ = [
    "RESULTS_VERSION",
    "TIMESTAMP_FORMAT",
    "DataChangedWarning",
    "ResultsError",
    "StoredBacktest",
    "StoredEquity",
    "StrategyChangedWarning",
    "delete_sweep_backtests",
    "list_backtests",
    "load_backtest",
    "load_equity",
    "load_trades",
    "rerun_backtest",
    "store_backtest",
    "sweep_backtest_ids",
    "utc_timestamp",
]

RESULTS_VERSION = SETTINGS_VERSION
"""Version of the stored ``settings_json`` shape (1: quantdb 0.1's flat dicts, read as well)."""

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""``created_at`` / ``finished_at`` of backtest_results and sweep_runs: ISO-8601 UTC, sortable."""

TRADE_FIELDS = ("id", "ticker", "entry_date", "exit_date", "entry_price", "exit_price", "size", "pnl",
                "return_pct", "fees", "exit_reason", "bars_held")
"""The columns of a stored trade, as :func:`load_trades` returns them."""

# v1 setting names: SimSettings' fields and the old names settings_from_json maps to them
_V1_SETTING_NAMES = frozenset(f.name for f in SETTINGS_FIELDS) | {"capital", "initial_capital"}
_V1_META = frozenset({"tickers", "universe", "source", "simulation", "aggregate"})
_PRICE_FILES = (".csv", ".parquet", ".pq")


class ResultsError(QuantdbError, ValueError):
    """A stored backtest cannot be used as asked (rerun without its inputs, a newer shape)."""


class DataChangedWarning(QuantdbWarning):
    """A rerun saw other data than the stored backtest (its fingerprint differs)."""


class StrategyChangedWarning(QuantdbWarning):
    """A rerun runs strategy code other than the stored backtest's (its source's sha256 differs)."""


def utc_timestamp(when: datetime | None = None) -> str:
    """``when`` (default now) as the stored timestamp format, e.g. ``2026-12-06T12:00:00.123456Z``.

    Examples
    --------
    >>> utc_timestamp(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    '2026-12-06T12:00:00.000000Z'
    """
    moment = datetime.now(UTC) if when is None else when.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


# ----------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class StoredBacktest:
    """One row of ``backtest_results``, read back into the models it was made from.

    ``total_return``, ``sharpe``, ``max_drawdown``, ``trades`` and ``final_equity`` are the
    row's headline columns (for a sweep's row, ``sharpe`` and ``max_drawdown`` are the sweep's
    ranking figures: means over tickers, also in ``statistics["sweep"]``). ``cash`` is the
    starting cash when the row records it (every version 2 row; a version 1 row only when it
    named ``cash``, ``capital`` or ``initial_capital``). ``unknown_settings`` lists stored
    settings this quantdb does not know (version 1 rows only): such a row is read, but cannot
    be rerun.
    """

    backtest_id: int
    strategy: str
    params: dict[str, Any]
    settings: SimSettings
    mode: BacktestMode
    universe: str | None
    tickers: tuple[str, ...]
    start: str
    end: str
    source: str
    benchmark: str | None
    statistics: dict[str, Any]
    fingerprint: str
    quantdb_version: str
    created_at: str
    sweep_run_id: int | None
    version: int
    total_return: float | None
    sharpe: float | None
    max_drawdown: float | None
    trades: int
    final_equity: float | None
    cash: float | None
    replay: dict[str, Any] | None = None
    unknown_settings: tuple[str, ...] = ()
    settings_doc: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class StoredEquity:
    """A stored backtest's daily equity and exposure."""

    dates: np.ndarray  # datetime64[D]
    equity: FloatArray
    exposure: FloatArray


# ----------------------------------------------------------------------------- writing
def _num(v: Any) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def settings_document(
    res: BacktestResult,
    *,
    universe: str | None,
    source: str,
    mode: BacktestMode = "portfolio",
    benchmark: str | None = None,
    replay: Mapping[str, Any] | None = None,
    strategy_source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The version 2 ``settings_json`` of a result: everything a rerun needs."""
    day = res.dates.astype("datetime64[D]").astype(str)
    return {
        "version": RESULTS_VERSION,
        "strategy": res.strategy,
        "params": dict(res.params),
        "simulation": settings_to_json(res.settings),
        "universe": universe,
        "tickers": list(res.tickers),
        "start": str(day[0]),
        "end": str(day[-1]),
        "source": source,
        "mode": mode,
        "benchmark": benchmark,
        "replay": None if replay is None else dict(replay),
        "strategy_source": None if strategy_source is None else dict(strategy_source),
    }


def store_backtest(
    db: Database,
    res: BacktestResult,
    *,
    universe: str | None,
    source: str,
    mode: BacktestMode = "portfolio",
    benchmark: str | None = None,
    replay: Mapping[str, Any] | None = None,
    sweep_run_id: int | None = None,
    sweep: Mapping[str, Any] | None = None,
    strategy_source: Mapping[str, Any] | None = None,
) -> int:
    """Write a result to backtest_results, backtest_trades and backtest_equity; return its id.

    Parameters
    ----------
    res : the result (its settings, tickers, dates, trades, equity and statistics).
    universe : the universe as `str(Universe)` (what the user asked for; ``tickers`` are
        the result's resolved symbols).
    source : ``"db"`` or the price file's path.
    mode : ``"portfolio"`` or ``"independent"`` (how `run_backtest` ran it).
    benchmark : the benchmark ticker of the statistics (None: none).
    replay : a prediction replay's inputs (strategy, start, end, exits, bars).
    sweep_run_id, sweep : a sweep's row: its run, and its ranking figures (``rank``,
        ``objective`` and the means over tickers), kept in ``stats_json["sweep"]`` and in the
        ``sharpe`` and ``max_dd`` columns.
    strategy_source : `quantdb.strategies.Strategy.source` of the strategy that ran (origin,
        spec, module, function, sha256 of its code), kept in ``settings_json``.
    """
    from quantdb.kernels.simulate import EXIT_REASONS

    day = res.dates.astype("datetime64[D]").astype(str)
    stats = dict(res.statistics)
    sharpe, mdd = stats.get("sharpe"), stats.get("max_drawdown")
    if sweep is not None:
        stats["sweep"] = dict(sweep)
        sharpe, mdd = sweep.get("sharpe"), sweep.get("max_drawdown")
    mdd = _num(mdd)
    doc = settings_document(res, universe=universe, source=source, mode=mode, benchmark=benchmark,
                            replay=replay, strategy_source=strategy_source)
    with db.atomic() as conn:
        conn.execute("INSERT INTO strategies (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (res.strategy,))
        strategy_id = conn.execute("SELECT id FROM strategies WHERE name = ?", (res.strategy,)).fetchone()[0]
        cur = conn.execute(
            """INSERT INTO backtest_results (strategy_id, start_date, end_date, total_return, sharpe, max_dd,
                   trades, final_equity, params_json, settings_json, stats_json, data_fingerprint,
                   quantdb_version, sweep_run_id, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                strategy_id, str(day[0]), str(day[-1]), _num(stats.get("total_return")), _num(sharpe),
                None if mdd is None else max(-1.0, min(0.0, mdd)), int(stats["n_trades"]),
                _num(stats.get("final_equity")), json.dumps(res.params, sort_keys=True),
                json.dumps(_finite(doc), sort_keys=True), json.dumps(_finite(stats), sort_keys=True),
                res.fingerprint, __version__, sweep_run_id, utc_timestamp(),
            ),
        )
        backtest_id = int(cur.lastrowid or 0)
        conn.executemany(
            """INSERT INTO backtest_trades (backtest_id, ticker, entry_date, exit_date, entry_price, exit_price,
                   size, pnl, return_pct, fees, exit_reason, bars_held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            _trade_rows(backtest_id, res.trade_records, res.tickers, day, EXIT_REASONS),
        )
        conn.executemany(
            "INSERT INTO backtest_equity (backtest_id, date, equity, exposure) VALUES (?, ?, ?, ?)",
            zip([backtest_id] * len(day), day.tolist(), res.equity_curve.tolist(),
                np.nan_to_num(res.exposure).tolist(), strict=True),
        )
    return backtest_id


def _trade_rows(
    backtest_id: int, trades: np.ndarray, tickers: Sequence[str], day: np.ndarray, reasons: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The ``backtest_trades`` rows of a structured array of trades, one column at a time
    (``tolist`` gives the Python ints and floats that ``int(r[f])`` / ``float(r[f])`` give row by
    row, at a fraction of the cost)."""
    k = len(tickers)
    days = day.tolist()
    col = {f: trades[f].tolist() for f in ("column", "entry_index", "exit_index", "exit_reason", "bars_held")}
    num = {f: trades[f].astype(np.float64).tolist() for f in ("entry_price", "exit_price", "size", "pnl", "return", "fees")}
    return [
        (
            backtest_id, tickers[int(c) % k], str(days[e]), str(days[x]), ep, xp, sz, pnl, ret, fee,
            reasons[int(why)], int(held),
        )
        for c, e, x, ep, xp, sz, pnl, ret, fee, why, held in zip(
            col["column"], col["entry_index"], col["exit_index"], num["entry_price"], num["exit_price"],
            num["size"], num["pnl"], num["return"], num["fees"], col["exit_reason"], col["bars_held"], strict=True,
        )
    ]


def delete_sweep_backtests(db: Database, sweep_run_id: int) -> int:
    """Delete the stored rows of a sweep run (with their trades and equity); how many."""
    with db.atomic() as conn:
        cur = conn.execute("DELETE FROM backtest_results WHERE sweep_run_id = ?", (sweep_run_id,))
    return int(cur.rowcount)


# ----------------------------------------------------------------------------- reading
def sweep_backtest_ids(db: Database, sweep_run_id: int) -> list[int]:
    """The ids of a sweep run's stored rows, best first (the order they were stored in)."""
    rows = db.query("SELECT id FROM backtest_results WHERE sweep_run_id = ? ORDER BY id", (sweep_run_id,))
    return [int(r[0]) for r in rows]


def _source_of(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if text.lower().endswith(_PRICE_FILES) else "db"


def _v1_settings(flat: Mapping[str, Any]) -> tuple[SimSettings, tuple[str, ...], float | None]:
    known = {k: v for k, v in flat.items() if k in _V1_SETTING_NAMES}
    unknown = tuple(sorted(k for k in flat if k not in _V1_SETTING_NAMES and k not in _V1_META))
    cash = next((float(known[k]) for k in ("cash", "capital", "initial_capital")
                 if isinstance(known.get(k), int | float)), None)
    return settings_from_json(known), unknown, cash


def _sweep_tickers(db: Database, sweep_run_id: int | None) -> tuple[str, ...]:
    if sweep_run_id is None:
        return ()
    text = db.scalar("SELECT settings_json FROM sweep_runs WHERE id = ?", (sweep_run_id,))
    saved = json.loads(text) if text else {}
    tickers = saved.get("tickers") if isinstance(saved, dict) else None
    return tuple(str(t) for t in tickers) if isinstance(tickers, list) else ()


def _read_row(db: Database, r: Any) -> StoredBacktest:
    """A `StoredBacktest` of a ``backtest_results`` row joined with its strategy's name."""
    doc = json.loads(r["settings_json"] or "{}")
    if not isinstance(doc, dict):
        doc = {}
    version = int(doc.get("version", 1)) if isinstance(doc.get("version", 1), int) else 1
    if version > RESULTS_VERSION:
        msg = (f"backtest {r['id']} was stored in settings version {version}, newer than this quantdb "
               f"reads ({RESULTS_VERSION}): upgrade quantdb")
        raise ResultsError(msg)
    strategy = str(r["strategy"])
    params = json.loads(r["params_json"] or "{}")
    replay: dict[str, Any] | None = None
    benchmark: str | None
    if version == RESULTS_VERSION:
        settings = settings_from_json(doc["simulation"])
        unknown: tuple[str, ...] = ()
        cash: float | None = settings.cash
        mode = doc.get("mode", "portfolio")
        universe = doc.get("universe")
        tickers = tuple(str(t) for t in doc.get("tickers") or ())
        source = str(doc.get("source") or "db")
        benchmark = doc.get("benchmark")
        replay = doc.get("replay")
    else:
        sweep_shape = "simulation" in doc or "aggregate" in doc
        flat = doc["simulation"] if sweep_shape and isinstance(doc.get("simulation"), dict) else doc
        settings, unknown, cash = _v1_settings(flat)
        mode = "independent" if sweep_shape else "portfolio"
        universe = doc.get("universe") if isinstance(doc.get("universe"), str) else None
        listed = doc.get("tickers")
        tickers = (tuple(str(t) for t in listed) if isinstance(listed, list)
                   else _sweep_tickers(db, r["sweep_run_id"]))
        source = _source_of(doc.get("source"))
        benchmark = "SPY" if source == "db" else None  # run_backtest's default then
        if strategy.startswith("replay:") and universe and universe.startswith("predictions:"):
            first, _, last = universe.removeprefix("predictions:").partition("..")
            replay = {"strategy": strategy.removeprefix("replay:"), "start": first or None,
                      "end": last or None, "exits": params.get("exits", "own"),
                      "bars": params.get("bars", "intrabar")}
    return StoredBacktest(
        backtest_id=int(r["id"]),
        strategy=strategy,
        params=params,
        settings=settings,
        mode=mode,
        universe=universe,
        tickers=tickers,
        start=str(r["start_date"]),
        end=str(r["end_date"]),
        source=source,
        benchmark=benchmark,
        statistics=json.loads(r["stats_json"]) if r["stats_json"] else {},
        fingerprint=str(r["data_fingerprint"]),
        quantdb_version=str(r["quantdb_version"]),
        created_at=str(r["created_at"]),
        sweep_run_id=None if r["sweep_run_id"] is None else int(r["sweep_run_id"]),
        version=version,
        total_return=r["total_return"],
        sharpe=r["sharpe"],
        max_drawdown=r["max_dd"],
        trades=int(r["trades"]),
        final_equity=r["final_equity"],
        cash=cash,
        replay=replay,
        unknown_settings=unknown,
        settings_doc=doc,
    )


_SELECT = """SELECT b.id, s.name AS strategy, b.start_date, b.end_date, b.total_return, b.sharpe, b.max_dd,
       b.trades, b.final_equity, b.params_json, b.settings_json, b.stats_json, b.data_fingerprint,
       b.quantdb_version, b.sweep_run_id, b.created_at
FROM backtest_results b JOIN strategies s ON s.id = b.strategy_id"""


def load_backtest(db: Database, backtest_id: int) -> StoredBacktest:
    """The stored backtest ``backtest_id`` (either settings version).

    Raises
    ------
    NotFound
        no backtest with that id.
    ResultsError
        a row written by a newer quantdb.
    """
    rows = db.query(f"{_SELECT} WHERE b.id = ?", (int(backtest_id),))
    if not rows:
        msg = f"no backtest with id {backtest_id}; list them with `quantdb backtests`"
        raise NotFound(msg)
    return _read_row(db, rows[0])


def list_backtests(db: Database, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest stored backtests, newest first (``created_at``, then id): their headline columns.

    Each row: ``id, strategy, start_date, end_date, total_return, sharpe, max_drawdown,
    trades, final_equity, params`` (a dict), ``sweep_run_id, created_at``.
    """
    rows = db.query(f"{_SELECT} ORDER BY b.created_at DESC, b.id DESC LIMIT ?", (max(0, int(limit)),))
    return [
        {
            "id": int(r["id"]), "strategy": r["strategy"], "start_date": r["start_date"],
            "end_date": r["end_date"], "total_return": r["total_return"], "sharpe": r["sharpe"],
            "max_drawdown": r["max_dd"], "trades": r["trades"], "final_equity": r["final_equity"],
            "params": json.loads(r["params_json"] or "{}"), "sweep_run_id": r["sweep_run_id"],
            "created_at": r["created_at"],
        }
        for r in rows
    ]


def _exists(db: Database, backtest_id: int) -> None:
    if db.scalar("SELECT count(*) FROM backtest_results WHERE id = ?", (int(backtest_id),)) == 0:
        msg = f"no backtest with id {backtest_id}; list them with `quantdb backtests`"
        raise NotFound(msg)


def load_equity(db: Database, backtest_id: int) -> StoredEquity:
    """The daily equity and exposure of a stored backtest, by date.

    Raises
    ------
    NotFound
        no such backtest, or it stored no equity (a sweep's summary row of quantdb 0.1: rerun
        it with ``rerun_backtest(db, ID, store=True)``).
    """
    _exists(db, backtest_id)
    rows = db.query("SELECT date, equity, exposure FROM backtest_equity WHERE backtest_id = ? ORDER BY date",
                    (int(backtest_id),))
    if not rows:
        msg = (f"backtest {backtest_id} stored no equity curve (a sweep's summary row written by "
               "quantdb 0.1?); store it again with rerun_backtest(db, ID, store=True)")
        raise NotFound(msg)
    return StoredEquity(
        dates=np.array([r[0] for r in rows], dtype="datetime64[D]"),
        equity=np.array([r[1] for r in rows], dtype=np.float64),
        exposure=np.array([r[2] for r in rows], dtype=np.float64),
    )


def load_trades(
    db: Database, backtest_id: int, *, order: Literal["entry", "exit"] = "entry"
) -> list[dict[str, Any]]:
    """The trades of a stored backtest (the keys of :data:`TRADE_FIELDS`), by entry date or by
    exit date (then entry date), then id.

    Raises
    ------
    NotFound
        no such backtest.
    """
    _exists(db, backtest_id)
    by = "entry_date, id" if order == "entry" else "exit_date, entry_date, id"
    rows = db.query(f"SELECT {', '.join(TRADE_FIELDS)} FROM backtest_trades WHERE backtest_id = ? ORDER BY {by}",
                    (int(backtest_id),))
    return [dict(zip(TRADE_FIELDS, tuple(r), strict=True)) for r in rows]


# ----------------------------------------------------------------------------- rerun
def rerun_backtest(
    db: Database, backtest_id: int, *, store: bool = False, strategy: StrategyRef | None = None,
) -> BacktestResult:
    """Run a stored backtest again from its recorded inputs: the same data gives identical
    trades and equity.

    Works for every stored row: a backtest (portfolio or independent), a sweep's row (its
    tickers, period and settings, independent), a prediction replay, a price-file backtest.
    When the data's fingerprint differs from the stored one, a `DataChangedWarning` says so.

    The strategy is found from its recorded source (a file, a module, an entry point; then by
    name in the registry), or is ``strategy`` when given (a notebook's function). When its
    code's sha256 differs from the recorded one, a `StrategyChangedWarning` says so (the
    rerun still runs: the numbers may differ).

    Raises
    ------
    NotFound
        no such backtest.
    ResultsError
        a version 1 row that recorded settings this quantdb does not know, or no tickers.
    quantdb.strategy_loader.StrategySpecError
        the recorded strategy cannot be found any more.
    """
    from quantdb.services.research.backtest import run_backtest
    from quantdb.strategy_loader import resolve_recorded, resolve_strategy

    sb = load_backtest(db, backtest_id)
    if sb.unknown_settings:
        msg = (f"backtest {backtest_id} was stored with settings this quantdb does not know "
               f"({', '.join(sb.unknown_settings)}): it cannot be rerun identically")
        raise ResultsError(msg)
    res: BacktestResult
    recorded = sb.settings_doc.get("strategy_source") if sb.replay is None else None
    strat: Strategy | None = None
    if sb.replay is None:
        if strategy is not None:
            strat = resolve_strategy(strategy)
            changed = bool(recorded and recorded.get("sha256") and strat.source()["sha256"] != recorded["sha256"])
        else:
            strat, changed = resolve_recorded(sb.strategy, recorded)
        if changed:
            msg = (f"backtest {backtest_id}: the code of strategy {strat.name!r} changed since it was stored "
                   f"({recorded.get('origin') if recorded else '?'}): the numbers may differ")
            warnings.warn(msg, StrategyChangedWarning, stacklevel=2)
    if sb.replay is not None:
        from quantdb.services.research.replay import replay_predictions

        r = sb.replay
        exit_strat = None
        if r.get("exit_strategy"):
            source = r["exit_strategy"]
            exit_strat, changed = (resolve_strategy(strategy), False) if strategy is not None else \
                resolve_recorded(str(source.get("name")), source)
            if changed:
                msg = (f"backtest {backtest_id}: the code of exit strategy {exit_strat.name!r} changed since it "
                       f"was stored ({source.get('origin')}): the numbers may differ")
                warnings.warn(msg, StrategyChangedWarning, stacklevel=2)
        res = replay_predictions(db, str(r["strategy"]), start=r.get("start"), end=r.get("end"),
                                 exits=r.get("exits", "own"), bars=r.get("bars", "intrabar"),
                                 settings=sb.settings, store=store, exit_strategy=exit_strat,
                                 exit_params=r.get("exit_params") if exit_strat is not None else None)
    elif sb.source == "frame":
        msg = (f"backtest {backtest_id} ran on a DataFrame, which the database does not hold: "
               "run qdb.backtest(frame, ...) on the frame again")
        raise ResultsError(msg)
    elif sb.source != "db":
        assert strat is not None
        res = run_backtest(strat, db=db, prices_file=sb.source, params=sb.params, settings=sb.settings,
                           mode=sb.mode, store=store, benchmark=sb.benchmark)
    else:
        if not sb.tickers:
            msg = f"backtest {backtest_id} recorded no tickers: it cannot be rerun"
            raise ResultsError(msg)
        try:
            asked = parse_universe(sb.universe) if sb.universe else None
        except UniverseError:
            asked = None
        where = (Universe("leaders", tickers=sb.tickers, top=asked.top) if asked is not None and asked.kind == "leaders"
                 else Universe("list", sb.tickers))
        assert strat is not None
        res = run_backtest(strat, db=db, universe=where, start=sb.start, end=sb.end, params=sb.params,
                           settings=sb.settings, mode=sb.mode, store=store, benchmark=sb.benchmark)
    if res.fingerprint != sb.fingerprint:
        msg = (f"backtest {backtest_id}: the data changed since it was stored (fingerprint "
               f"{sb.fingerprint[:12]} then, {res.fingerprint[:12]} now): the numbers may differ")
        warnings.warn(msg, DataChangedWarning, stacklevel=2)
    return res

