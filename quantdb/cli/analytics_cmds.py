"""Analytics commands: `track update/record/fill`, `perf`, `metrics`, `risk`, `leaders compute`.

A thin shell over ``quantdb.services.{tracking,performance,metrics_file,risk,leaders}``:
every heavy import happens inside the command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer

from quantdb.cli.common import (
    DEFAULT_DB,
    DbPath,
    JsonFlag,
    UnusedDbPath,
    database_session,
    emit_json,
    handle_errors,
    print_table,
    progress,
)

if TYPE_CHECKING:
    from quantdb._typing import Timeframe
    from quantdb.services.live.leaders import Convention
    from quantdb.services.live.performance import Period
    from quantdb.services.live.tracking import BarRule
    from quantdb.storage.sqlite import Database

_Choice = TypeVar("_Choice", bound=str)

BAR_RULES: tuple[BarRule, ...] = ("intrabar", "close")
SIDES: tuple[Literal["LONG", "SHORT"], ...] = ("LONG", "SHORT")
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly")
TIMEFRAMES: tuple[Timeframe, ...] = ("daily", "weekly", "monthly")
CONVENTIONS: tuple[Convention, ...] = ("legacy", "calendar")

track_app = typer.Typer(
    help="Live tracking: record predictions and fills, mark them to market.", no_args_is_help=True
)
leaders_app = typer.Typer(help="Volume leaders per day, week and month.", no_args_is_help=True)


@contextlib.contextmanager
def _session(db: Path, *, write: bool) -> Iterator[Database]:
    """The database at ``db`` (it must exist to be read), closed when the block ends."""
    with database_session(db, write=write) as database:
        yield database


def _choice(value: str, choices: tuple[_Choice, ...]) -> _Choice | None:
    """``value`` as the one of ``choices`` it equals (typed as that literal), else None."""
    return next((c for c in choices if c == value), None)


def _bad(message: str) -> typer.Exit:
    typer.echo(f"quantdb: error: {message}", err=True)
    return typer.Exit(2)


@track_app.command("update")
@handle_errors
def track_update_cmd(
    asof: Annotated[
        str | None,
        typer.Option(
            "--asof",
            help="Day to mark to (YYYY-MM-DD); default: newest bar. A day after the newest bar is refused.",
        ),
    ] = None,
    exit_fee: Annotated[
        float, typer.Option("--exit-fee", help="Fee per trade closed (currency).")
    ] = 0.0,
    slippage_bps: Annotated[
        float, typer.Option("--slippage-bps", help="Exit slippage in basis points.")
    ] = 0.0,
    bars: Annotated[
        str, typer.Option("--bars", help="intrabar (high/low, gaps at the open) or close (legacy).")
    ] = "intrabar",
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Close open predictions and trades that hit target, stop or expiry; snapshot each strategy.

    Example: quantdb track update --asof 2017-11-30 --json
    """
    from quantdb.services.live.tracking import track_update

    rule = _choice(bars, BAR_RULES)
    if rule is None:
        raise _bad(f"--bars must be intrabar or close, got {bars!r}")
    with _session(db, write=True) as database, progress("track update", quiet=json_out):
        report = track_update(
            database, asof=asof, exit_fee=exit_fee, slippage_bps=slippage_bps, bars=rule
        )
    if json_out:
        emit_json(report)
        return
    cp, ct = report.closed["predictions"], report.closed["trades"]
    typer.echo(
        f"as of {report.asof}: checked {report.checked['predictions']} predictions, {report.checked['trades']} trades; "
        f"closed predictions {cp}, trades {ct}; realized {report.realized_pnl:.2f}, unrealized {report.unrealized_pnl:.2f}"
    )
    cols = [
        "strategy",
        "accuracy",
        "win_rate",
        "profit_factor",
        "sharpe",
        "max_drawdown",
        "total_return",
        "realized_pnl",
        "unrealized_pnl",
        "n_open",
        "n_closed",
    ]
    print_table(
        f"performance snapshot {report.asof}",
        cols,
        [[s[c] for c in cols] for s in report.snapshots],
    )


@track_app.command("record")
@handle_errors
def track_record_cmd(
    strategy: Annotated[str, typer.Option("--strategy", help="Strategy name.")],
    ticker: Annotated[str, typer.Option("--ticker", help="Ticker symbol.")],
    position: Annotated[str, typer.Option("--position", help="LONG or SHORT.")],
    date: Annotated[
        str | None, typer.Option("--date", help="Prediction day (default today).")
    ] = None,
    entry_price: Annotated[float | None, typer.Option("--entry-price")] = None,
    target: Annotated[float | None, typer.Option("--target")] = None,
    stop_loss: Annotated[float | None, typer.Option("--stop")] = None,
    timeframe_days: Annotated[
        int | None, typer.Option("--timeframe-days", help="Trading days to expiry.")
    ] = None,
    confidence: Annotated[
        float | None, typer.Option("--confidence", help="Fraction in [0, 1].")
    ] = None,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Record a prediction.  Example: quantdb track record --strategy momentum --ticker AAPL --position LONG --entry-price 100 --target 110 --stop 95 --timeframe-days 5"""
    from quantdb.services.live.tracking import record_prediction

    side = _choice(position.strip().upper(), SIDES)
    if side is None:
        raise _bad(f"position must be LONG or SHORT, got {position!r}")
    with _session(db, write=True) as database:
        pid = record_prediction(
            database,
            strategy=strategy,
            ticker=ticker,
            position=side,
            date=date,
            entry_price=entry_price,
            target=target,
            stop_loss=stop_loss,
            timeframe_days=timeframe_days,
            confidence=confidence,
        )
    if json_out:
        emit_json({"prediction_id": pid})
    else:
        typer.echo(f"prediction {pid} recorded")


@track_app.command("fill")
@handle_errors
def track_fill_cmd(
    prediction_id: Annotated[int, typer.Argument(help="Id of the prediction that filled.")],
    price: Annotated[float, typer.Option("--price", help="Fill price.")],
    shares: Annotated[float, typer.Option("--shares")],
    signal_price: Annotated[
        float | None, typer.Option("--signal-price", help="Price seen at the signal.")
    ] = None,
    fees: Annotated[float, typer.Option("--fees")] = 0.0,
    date: Annotated[
        str | None, typer.Option("--date", help="Fill day (default: the prediction's).")
    ] = None,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Record the fill of a prediction as an open trade; prints the slippage against the signal price."""
    from quantdb.services.live.tracking import record_fill

    with _session(db, write=True) as database:
        fill = record_fill(database, prediction_id, price, shares, signal_price, fees, date=date)
    if json_out:
        emit_json(fill)
    else:
        slip = "n/a" if fill.slippage_bps is None else f"{fill.slippage_bps:.2f} bps"
        typer.echo(f"trade {fill.trade_id} opened; slippage {slip}")


def perf_cmd(
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="One strategy (default: all).")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="daily, weekly or monthly.")] = "daily",
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Benchmark ticker (default: SPY, when it has prices).")
    ] = None,
    capital: Annotated[
        float, typer.Option("--capital", help="Capital of each strategy.")
    ] = 100_000.0,
    asof: Annotated[str | None, typer.Option("--asof")] = None,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Per-strategy performance: win rate, average win/loss, profit factor, Sharpe, Sortino, drawdown, vs SPY.

    Example: quantdb perf --period weekly --json
    """
    from quantdb.services.live.performance import performance_report

    span = _choice(period, PERIODS)
    if span is None:
        raise _bad(f"--period must be daily, weekly or monthly, got {period!r}")
    with _session(db, write=False) as database:
        report = performance_report(
            database,
            strategy=strategy,
            period=span,
            benchmark=benchmark,
            capital=capital,
            asof=asof,
        )
    if json_out:
        emit_json(report)
        return
    cols = [
        "trades",
        "win_rate",
        "average_win",
        "average_loss",
        "profit_factor",
        "total_return",
        "sharpe",
        "sortino",
        "max_drawdown",
        "recovery_periods",
        "excess_return",
        "beta",
        "alpha",
        "information_ratio",
    ]
    rows = [[name, *[m[c] for c in cols]] for name, m in report.strategies.items()]
    print_table(
        f"performance ({report.period}, vs {report.benchmark}, as of {report.asof})",
        ["strategy", *cols],
        rows,
    )


def metrics_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="Returns CSV or Parquet: the first column is the date (any name; rows are sorted "
            "by it and a repeated date is refused), then one column a series."
        ),
    ],
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Column to use as benchmark.")
    ] = None,
    db: UnusedDbPath = None,
    json_out: JsonFlag = False,
) -> None:
    """Every metric for each column of a returns file (fractions, glossary names).

    The first column is the date, whatever its name (2016-01-04, a date, or a number); the
    rows are taken in date order, and a date that appears twice is an error.

    Example: quantdb metrics returns.csv --benchmark SPY --json
    """
    from quantdb.services.research.metrics_file import metrics_for_file

    result = metrics_for_file(file, benchmark_column=benchmark)
    if json_out:
        emit_json(result)
        return
    names = list(result)
    metrics = list(next(iter(result.values())).keys()) if result else []
    print_table(
        f"metrics of {file}",
        ["name", *names],
        [[m, *[result[n][m] for n in names]] for m in metrics],
    )


def risk_cmd(
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="One strategy (default: all).")
    ] = None,
    confidence: Annotated[
        list[float] | None,
        typer.Option("--confidence", help="VaR level(s): --confidence 0.95 0.99."),
    ] = None,
    more: Annotated[list[float] | None, typer.Argument(hidden=True)] = None,
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Benchmark ticker (default: SPY, when it has prices).")
    ] = None,
    tickers: Annotated[
        str | None,
        typer.Option("--tickers", help="Comma-separated universe for a ticker correlation matrix."),
    ] = None,
    asof: Annotated[str | None, typer.Option("--asof")] = None,
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """VaR and CVaR (historical, parametric, Cornish-Fisher), beta, correlations and stress tests.

    Example: quantdb risk --confidence 0.95 0.99 --json
    """
    from quantdb.services.live.risk import risk_report

    confs = [*(confidence or []), *(more or [])] or [0.95, 0.99]
    if more and not confidence:
        raise _bad(f"unexpected argument(s) {more}; confidence levels go after --confidence")
    universe = [t for t in (tickers or "").split(",") if t.strip()] or None
    with _session(db, write=False) as database:
        report = risk_report(
            database,
            strategy=strategy,
            confidences=confs,
            benchmark=benchmark,
            asof=asof,
            tickers=universe,
        )
    if json_out:
        emit_json(report)
        return
    from quantdb.services.live.risk import _label

    cols = ["volatility", "beta"]
    for c in confs:
        lab = _label(c)
        cols += [
            f"var_{lab}_historical",
            f"var_{lab}_parametric",
            f"var_{lab}_cornish_fisher",
            f"cvar_{lab}_historical",
        ]
    print_table(
        f"risk as of {report.asof}",
        ["strategy", *cols],
        [[n, *[m.get(c) for c in cols]] for n, m in report.strategies.items()],
    )
    for h in report.stress["historical"]:
        rows = [[n, v] for n, v in h["strategies"].items()]
        print_table(
            f"{h['name']}: {h['start']} -> {h['end']} ({h['benchmark_return']:.2%})",
            ["strategy", "return"],
            rows,
        )
    for h in report.stress["hypothetical"][:-1]:
        print_table(
            h["name"],
            ["strategy", "return", "amount"],
            [[n, v["return"], v["amount"]] for n, v in h["strategies"].items()],
        )


@leaders_app.command("compute")
@handle_errors
def leaders_compute_cmd(
    timeframe: Annotated[
        str | None, typer.Option("--timeframe", help="daily, weekly or monthly (default: all).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Leaders per date.", min=1)] = 10,
    convention: Annotated[
        str, typer.Option("--convention", help="legacy (the old files' rule) or calendar.")
    ] = "legacy",
    db: DbPath = DEFAULT_DB,
    json_out: JsonFlag = False,
) -> None:
    """Volume leaders from price_history (DuckDB), upserted into volume_leaders.

    Example: quantdb leaders compute --timeframe weekly --top 20 --json
    """
    from quantdb.services.live.leaders import compute_leaders

    frame = None if timeframe is None else _choice(timeframe, TIMEFRAMES)
    if timeframe is not None and frame is None:
        raise _bad(f"--timeframe must be daily, weekly or monthly, got {timeframe!r}")
    rule = _choice(convention, CONVENTIONS)
    if rule is None:
        raise _bad(f"--convention must be legacy or calendar, got {convention!r}")
    # leaders are computed from the prices already in the database: never create an empty one
    with database_session(db, write=True) as database:
        report = compute_leaders(database, timeframe=frame, top=top, convention=rule)
    if json_out:
        emit_json(report)
        return
    print_table(
        f"volume leaders (top {report.top}, {report.convention})",
        ["timeframe", "dates", "rows", "written"],
        [[tf, v["dates"], v["rows"], v["written"]] for tf, v in report.timeframes.items()],
    )


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the `quantdb` application."""
    app.add_typer(track_app, name="track")
    app.add_typer(leaders_app, name="leaders")
    app.command("perf")(handle_errors(perf_cmd))
    app.command("metrics")(handle_errors(metrics_cmd))
    app.command("risk")(handle_errors(risk_cmd))
