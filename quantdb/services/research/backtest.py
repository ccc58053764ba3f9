"""One backtest: load the bars, compute a strategy's signals, simulate, measure, store.

A backtest reads its bars from the columnar mirror (or from a Yahoo-style CSV with
``prices_file``), adjusts OHLC for splits through ``adj_close``, restricts entries to a
universe (a list, a sector, or the top N by trailing dollar volume at each date, known the day
before: no look-ahead), runs the numba simulation (:mod:`quantdb.kernels.simulate`), computes
every metric of the analytics kernels on the equity curve and the trade statistics on the
trades, and stores all of it in ``backtest_results`` / ``backtest_trades`` /
``backtest_equity`` with the parameters, the settings, a fingerprint of the data and the
quantdb version, so that running a stored backtest again gives identical numbers.

Several tickers run as one portfolio with shared cash (``max_positions``, ``max_weight``); one
ticker is the classic single-asset backtest.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import quantdb
from quantdb._typing import BoolArray, FloatArray
from quantdb.errors import InputError, NotFound, QuantdbError
from quantdb.kernels.simulate import EXIT_REASONS, SimSettings, simulate
from quantdb.services.research.bars import load_bars
from quantdb.storage.sqlite import Database
from quantdb.strategies import Bars, get_strategy

if TYPE_CHECKING:
    import matplotlib.figure
    import polars as pl

DEFAULT_MAX_POSITIONS = 10


class BacktestError(QuantdbError, ValueError):
    """A backtest cannot run as asked (unknown parameter, empty universe, bad option)."""


@dataclass(frozen=True)
class BarData:
    """Adjusted bars of a backtest: ``(dates, tickers)`` matrices and their labels."""

    dates: np.ndarray  # datetime64[D]
    tickers: tuple[str, ...]
    bars: Bars
    source: str


def parse_sizing(text: str) -> tuple[str, float]:
    """``"equity:1"`` -> ``("equity", 1.0)``; kinds: shares, cash, equity, risk, kelly."""
    kind, _, value = text.partition(":")
    kind = kind.strip().lower()
    try:
        number = float(value) if value else 1.0
    except ValueError:
        msg = f"--sizing must look like KIND:VALUE (e.g. equity:1, cash:5000), got {text!r}"
        raise BacktestError(msg) from None
    return kind, number


def parse_params(items: Sequence[str]) -> dict[str, float]:
    """``["fast=10", "slow=20"]`` -> ``{"fast": 10.0, "slow": 20.0}``."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            msg = f"--param must look like name=value, got {item!r}"
            raise BacktestError(msg)
        try:
            out[key.strip()] = float(value)
        except ValueError:
            msg = f"--param {key.strip()} must be a number, got {value!r}"
            raise BacktestError(msg) from None
    return out


def bars_from_file(path: str | Path) -> BarData:
    """Bars of one ticker from a Yahoo-style CSV (Date, Open, High, Low, Close[, Adj Close], Volume)."""
    from quantdb.services.records.prices import read_price_file

    frame = read_price_file(path).sort("date")
    if frame.height < 2:
        raise InputError(path, 1, "Date", f"expected at least 2 rows of prices, got {frame.height}")
    dates = np.array(frame["date"].to_list(), dtype="datetime64[D]")
    col = {c: frame[c].to_numpy().astype(np.float64)[:, None] for c in ("open", "high", "low", "close", "adj_close", "volume")}
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(np.isnan(col["close"]), 1.0, col["adj_close"] / col["close"])
    bars = Bars(
        open=np.ascontiguousarray(col["open"] * factor),
        high=np.ascontiguousarray(col["high"] * factor),
        low=np.ascontiguousarray(col["low"] * factor),
        close=np.ascontiguousarray(col["adj_close"]),
        volume=np.ascontiguousarray(col["volume"]),
    )
    return BarData(dates, (str(frame["ticker"][0]),), bars, str(path))


def bars_from_db(
    db: Database, tickers: Sequence[str] | None, start: str | None, end: str | None
) -> BarData:
    """Adjusted bars from the columnar mirror (see `quantdb.services.research.bars.load_bars`)."""
    dates, names, bars = load_bars(db, tickers, start, end)
    return BarData(dates, names, bars, str(db.path))


def resolve_universe(db: Database, universe: str | None, tickers: Sequence[str] | None) -> list[str] | None:
    """Tickers of a universe spec: None/"all", "sector:NAME", "leaders:N" (gated later), a list."""
    if tickers:
        return [t.strip().upper() for t in tickers]
    if universe is None or universe in ("all", "") or universe.startswith("leaders:"):
        return None
    kind, _, value = universe.partition(":")
    if kind == "sector":
        rows = db.query("SELECT symbol FROM tickers WHERE lower(sector) = lower(?) ORDER BY symbol", (value,))
        if not rows:
            msg = f"no tickers in sector {value!r}"
            raise NotFound(msg)
        return [r[0] for r in rows]
    if kind == "list":
        return [t.strip().upper() for t in value.split(",") if t.strip()]
    msg = f"--universe must be all, sector:NAME, leaders:N or list:A,B,C, got {universe!r}"
    raise BacktestError(msg)


def leaders_mask(close: FloatArray, volume: FloatArray, top: int, *, window: int = 20) -> BoolArray:
    """True where a ticker is among the ``top`` by trailing dollar volume known the day before.

    The rank on day ``t`` uses days ``t - window .. t - 1`` only, so no entry ever depends on
    that day's or a later day's volume.
    """
    dollar = np.nan_to_num(close * volume, nan=0.0)
    csum = np.cumsum(dollar, axis=0)
    trailing = np.empty_like(csum)
    trailing[:window] = csum[:window]
    trailing[window:] = csum[window:] - csum[:-window]
    known = np.vstack([np.full((1, close.shape[1]), -np.inf), trailing[:-1]])  # yesterday's value
    if top >= close.shape[1]:
        return np.ones_like(close, dtype=bool)
    kth: FloatArray = -np.partition(-known, top - 1, axis=1)[:, top - 1 : top]
    mask: BoolArray = (known >= kth) & np.isfinite(known) & (known > 0)
    return mask


def default_settings(n_tickers: int, **overrides: Any) -> SimSettings:
    """Settings for a backtest of ``n_tickers``: several tickers share cash, 10 slots."""
    base: dict[str, Any] = {}
    if n_tickers > 1:
        base["max_positions"] = overrides.get("max_positions") or DEFAULT_MAX_POSITIONS
        if "sizing" not in overrides:
            base["sizing"] = "equity"
            base["sizing_value"] = 1.0 / min(n_tickers, base["max_positions"])
    base.update({k: v for k, v in overrides.items() if v is not None})
    return SimSettings(**base)


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest: ``.stats()``, ``.trades()``, ``.equity()``, ``.plot()``, ``.tearsheet()``."""

    strategy: str
    params: dict[str, float]
    settings: SimSettings
    dates: np.ndarray
    tickers: tuple[str, ...]
    trade_records: np.ndarray
    equity_curve: FloatArray
    exposure: FloatArray
    statistics: dict[str, Any]
    fingerprint: str
    backtest_id: int | None = None

    def stats(self) -> dict[str, Any]:
        """Every metric: equity-curve metrics, trade statistics, ambiguous exits, final equity."""
        return dict(self.statistics)

    def trades(self) -> pl.DataFrame:
        """One row per trade: ticker, dates, prices, size, P&L, return, fees, exit reason, bars held."""
        import polars as pl

        t = self.trade_records
        k = len(self.tickers)
        return pl.DataFrame(
            {
                "ticker": [self.tickers[c % k] for c in t["column"]],
                "entry_date": self.dates[t["entry_index"]].astype("datetime64[D]"),
                "exit_date": self.dates[t["exit_index"]].astype("datetime64[D]"),
                "entry_price": t["entry_price"],
                "exit_price": t["exit_price"],
                "size": t["size"],
                "pnl": t["pnl"],
                "return": t["return"],
                "fees": t["fees"],
                "exit_reason": [EXIT_REASONS[r] for r in t["exit_reason"]],
                "bars_held": t["bars_held"],
            }
        )

    def equity(self) -> pl.DataFrame:
        """The equity curve and exposure per date."""
        import polars as pl

        return pl.DataFrame({"date": self.dates, "equity": self.equity_curve, "exposure": self.exposure})

    def returns(self) -> FloatArray:
        """Daily simple returns of the equity curve (the first day against the starting cash)."""
        eq = self.equity_curve
        prev: FloatArray = np.concatenate([[self.settings.cash], eq[:-1]])
        return eq / prev - 1.0

    def plot(self) -> matplotlib.figure.Figure:
        """Equity curve and drawdown (a matplotlib Figure; nothing is shown or saved)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 6))
        ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        x = self.dates.astype("datetime64[D]").astype(object)
        ax1.plot(x, self.equity_curve, lw=1.2)
        ax1.set_title(f"{self.strategy} {self.params}")
        ax1.set_ylabel("equity")
        peak = np.maximum.accumulate(np.maximum(self.equity_curve, self.settings.cash))
        ax2.fill_between(x, self.equity_curve / peak - 1.0, 0.0, color="tab:red", alpha=0.4)
        ax2.set_ylabel("drawdown")
        return fig

    def tearsheet(self, out: str | Path, *, benchmark: Any = None) -> Path:
        """A QuantStats HTML tearsheet of this backtest (benchmark: a pandas Series of returns)."""
        import pandas as pd

        from quantdb.adapters.quantstats_ import html_tearsheet
        from quantdb.services.reports.tearsheet import trade_stat_rows

        returns = pd.Series(self.returns(), index=pd.DatetimeIndex(self.dates), name=self.strategy)
        trade_keys = ("n_trades", "win_rate", "profit_factor", "payoff_ratio", "expectancy", "sqn")
        return html_tearsheet(
            returns,
            out,
            benchmark=benchmark,
            title=f"{self.strategy} backtest",
            trade_stats=trade_stat_rows({k: self.statistics[k] for k in trade_keys if k in self.statistics}),
            parameters=self.params,
        )


def _data_fingerprint(data: BarData) -> str:
    import hashlib

    h = hashlib.sha256()
    h.update(np.ascontiguousarray(data.dates).view(np.int64).tobytes())
    h.update("\x00".join(data.tickers).encode())
    for m in (data.bars.open, data.bars.high, data.bars.low, data.bars.close):
        h.update(np.ascontiguousarray(m).tobytes())
    return h.hexdigest()[:32]


def compute_statistics(
    equity: FloatArray, cash: float, trades: np.ndarray, ambiguous: int, benchmark: FloatArray | None = None
) -> dict[str, Any]:
    """Every analytics metric of an equity curve plus the trade statistics of its trades."""
    from quantdb.kernels.summary import summary_metrics
    from quantdb.kernels.tradestats import trade_stats

    prev = np.concatenate([[cash], equity[:-1]])
    returns = equity / prev - 1.0
    metrics = summary_metrics(returns, benchmark=benchmark, confidences=(0.95, 0.99))
    stats: dict[str, Any] = {
        "final_equity": float(equity[-1]) if len(equity) else cash,
        "total_return": float(equity[-1] / cash - 1.0) if len(equity) else 0.0,
        "n_trades": len(trades),
        "ambiguous_exits": int(ambiguous),
    }
    for k, v in metrics.items():
        if k != "total_return":
            stats[k] = float(np.asarray(v).reshape(-1)[0])
    if len(trades):
        ts = trade_stats(trades["pnl"], returns=trades["return"], holding_days=trades["bars_held"])
        stats.update({k: float(v) for k, v in ts.items() if k != "n_trades"})
        stats["fees"] = float(trades["fees"].sum())
        stats["exit_reasons"] = {
            EXIT_REASONS[r]: int(c) for r, c in zip(*np.unique(trades["exit_reason"], return_counts=True), strict=True)
        }
    return stats


def run_backtest(
    name: str,
    *,
    db: Database | None = None,
    prices_file: str | Path | None = None,
    tickers: Sequence[str] | None = None,
    universe: str | None = None,
    start: str | None = None,
    end: str | None = None,
    params: Mapping[str, float] | None = None,
    settings: SimSettings | None = None,
    store: bool = True,
    benchmark: str | None = "SPY",
) -> BacktestResult:
    """Run the strategy ``name`` and (with ``store`` and a ``db``) record it.

    Parameters
    ----------
    name : a registered strategy (`quantdb.strategies.STRATEGIES`).
    db : the database to read bars from and store into; optional with ``prices_file``.
    prices_file : a Yahoo-style CSV instead of the database's bars.
    tickers, universe : which tickers (default: every ticker; ``universe`` may be
        ``sector:NAME``, ``leaders:N`` or ``list:A,B``).
    params : strategy parameters (defaults fill the rest).
    settings : simulation settings (`SimSettings`); default depends on the number of tickers.

    Returns
    -------
    BacktestResult
    """
    strat = get_strategy(name)
    params = dict(params or {})
    unknown = set(params) - set(strat.params)
    if unknown:
        msg = f"strategy {name!r} takes parameters {sorted(strat.params)}, got unknown {sorted(unknown)}"
        raise BacktestError(msg)
    full_params = {k: float(params.get(k, v)) for k, v in strat.params.items()}
    if prices_file is not None:
        data = bars_from_file(prices_file)
    else:
        if db is None:
            msg = "a backtest needs a database (--db) or a price file (--prices)"
            raise BacktestError(msg)
        data = bars_from_db(db, resolve_universe(db, universe, tickers), start, end)
    bars = data.bars
    n_tickers = len(data.tickers)
    st = settings or default_settings(n_tickers)
    sig = strat.signals(bars, **full_params)
    entries, exits = sig[0], sig[1]
    short = (sig[2], sig[3]) if len(sig) == 4 else (None, None)
    if universe and universe.startswith("leaders:"):
        top = int(universe.split(":", 1)[1])
        gate = leaders_mask(bars.close, bars.volume if bars.volume is not None else np.ones_like(bars.close), top)
        entries = entries & gate
        if short[0] is not None:
            short = (short[0] & gate, short[1])
    result = simulate(
        bars.open, bars.high, bars.low, bars.close, entries, exits, short[0], short[1],
        settings=st, portfolio=True,
    )
    bench = None
    if benchmark and db is not None and prices_file is None:
        bench = _benchmark_returns(db, benchmark, data.dates)
    stats = compute_statistics(result.equity, st.cash, result.trades, int(result.ambiguous_exits.sum()), bench)
    res = BacktestResult(
        strategy=name,
        params=full_params,
        settings=st,
        dates=data.dates,
        tickers=data.tickers,
        trade_records=result.trades,
        equity_curve=np.asarray(result.equity, dtype=np.float64),
        exposure=np.asarray(result.exposure, dtype=np.float64),
        statistics=stats,
        fingerprint=_data_fingerprint(data),
    )
    if store and db is not None:
        res = dataclasses.replace(res, backtest_id=store_backtest(db, res, universe=universe, source=data.source))
    return res


def _benchmark_returns(db: Database, ticker: str, dates: np.ndarray) -> FloatArray | None:
    """Daily returns of ``ticker`` on ``dates`` (None when it is not in the database)."""
    from quantdb.storage.mirror import current_mirror

    mirror = current_mirror(db)
    if ticker not in mirror.tickers:
        return None
    col = np.asarray(mirror.matrix("adj_close"))[:, mirror.tickers.index(ticker)]
    pos = np.searchsorted(mirror.dates, dates)
    pos = np.clip(pos, 0, len(mirror.dates) - 1)
    px = np.where(mirror.dates[pos] == dates, col[pos], np.nan)
    out = np.full(len(px), np.nan)
    out[1:] = px[1:] / px[:-1] - 1.0
    return out


def _settings_json(settings: SimSettings) -> str:
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def store_backtest(db: Database, res: BacktestResult, *, universe: str | None = None, source: str = "") -> int:
    """Write a result to backtest_results, backtest_trades and backtest_equity; return its id."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    day = res.dates.astype("datetime64[D]").astype(str)
    stats_doc = json.dumps(_finite(res.statistics), sort_keys=True)
    settings_doc = json.loads(_settings_json(res.settings))
    settings_doc["tickers"] = list(res.tickers)
    settings_doc["universe"] = universe
    settings_doc["source"] = source
    with db.atomic() as conn:
        conn.execute("INSERT INTO strategies (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (res.strategy,))
        strategy_id = conn.execute("SELECT id FROM strategies WHERE name = ?", (res.strategy,)).fetchone()[0]
        mdd = res.statistics.get("max_drawdown")
        cur = conn.execute(
            """INSERT INTO backtest_results (strategy_id, start_date, end_date, total_return, sharpe, max_dd,
                   trades, final_equity, params_json, settings_json, stats_json, data_fingerprint,
                   quantdb_version, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                strategy_id, str(day[0]), str(day[-1]), _num(res.statistics.get("total_return")),
                _num(res.statistics.get("sharpe")), _num(mdd), int(res.statistics["n_trades"]),
                _num(res.statistics.get("final_equity")), json.dumps(res.params, sort_keys=True),
                json.dumps(settings_doc, sort_keys=True), stats_doc, res.fingerprint, quantdb.__version__, now,
            ),
        )
        backtest_id = int(cur.lastrowid or 0)
        t = res.trade_records
        k = len(res.tickers)
        conn.executemany(
            """INSERT INTO backtest_trades (backtest_id, ticker, entry_date, exit_date, entry_price, exit_price,
                   size, pnl, return_pct, fees, exit_reason, bars_held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    backtest_id, res.tickers[int(r["column"]) % k], str(day[r["entry_index"]]), str(day[r["exit_index"]]),
                    float(r["entry_price"]), float(r["exit_price"]), float(r["size"]), float(r["pnl"]),
                    float(r["return"]), float(r["fees"]), EXIT_REASONS[int(r["exit_reason"])], int(r["bars_held"]),
                )
                for r in t
            ],
        )
        conn.executemany(
            "INSERT INTO backtest_equity (backtest_id, date, equity, exposure) VALUES (?, ?, ?, ?)",
            zip([backtest_id] * len(day), day.tolist(), res.equity_curve.tolist(), res.exposure.tolist(), strict=True),
        )
    return backtest_id


def _num(v: Any) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def load_backtest_spec(db: Database, backtest_id: int) -> dict[str, Any]:
    """The stored strategy, parameters, settings and fingerprint of a backtest."""
    rows = db.query(
        """SELECT s.name, b.params_json, b.settings_json, b.data_fingerprint, b.start_date, b.end_date, b.stats_json
           FROM backtest_results b JOIN strategies s ON s.id = b.strategy_id WHERE b.id = ?""",
        (backtest_id,),
    )
    if not rows:
        msg = f"no backtest with id {backtest_id}"
        raise NotFound(msg)
    r = rows[0]
    return {
        "strategy": r[0], "params": json.loads(r[1]), "settings": json.loads(r[2]), "fingerprint": r[3],
        "start": r[4], "end": r[5], "stats": json.loads(r[6]) if r[6] else {},
    }


def rerun_backtest(db: Database, backtest_id: int, *, store: bool = False) -> BacktestResult:
    """Run a stored backtest again from its recorded inputs (same data gives identical numbers)."""
    spec = load_backtest_spec(db, backtest_id)
    s = dict(spec["settings"])
    tickers = s.pop("tickers")
    universe = s.pop("universe")
    source = s.pop("source", "")
    settings = SimSettings(**s)
    prices_file = source if source and source.endswith((".csv", ".parquet")) else None
    return run_backtest(
        spec["strategy"], db=db, prices_file=prices_file, tickers=None if prices_file else tickers,
        universe=universe,
        start=spec["start"], end=spec["end"], params=spec["params"], settings=settings, store=store,
    )
