"""How research results show themselves: a one-line ``repr`` and a compact HTML table.

The result classes (`BacktestResult`, `SweepReport`, `WalkForwardReport`, `MonteCarloReport`)
call these from ``__repr__`` and ``_repr_html_`` (Jupyter's rich display). A repr names what a
result is (strategy, parameters, period, the headline figures, its stored id) in one line, so
a notebook cell or a log line shows it at a glance instead of kilobytes of arrays; the HTML
is a small summary table. Every text that reaches HTML goes through `html.escape`: strategy
names, parameters and tickers come from users and files.

Examples
--------
>>> pct(0.1234), num(1.5), num(None), pct(float("nan"))
('12.34%', '1.5', '-', '-')
>>> html_table("a <b>", [("x", "1 & 2")])
'<div class="quantdb-result"><table><caption>a &lt;b&gt;</caption><tbody><tr><th>x</th><td>1 &amp; 2</td></tr></tbody></table></div>'
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["html_grid", "html_table", "num", "params_text", "pct", "value_text"]


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def pct(x: Any, digits: int = 2) -> str:
    """A fraction as a percentage (``0.1234`` -> ``12.34%``); ``-`` for None or NaN."""
    v = _finite(x)
    return "-" if v is None else f"{v * 100:.{digits}f}%"


def num(x: Any, digits: int = 3) -> str:
    """A number with up to ``digits`` significant decimals (``g``); ``-`` for None or NaN."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    v = _finite(x)
    if v is None:
        return "-"
    if abs(v) < 1:
        return f"{v:.{digits + 1}g}"
    return f"{v:,.{digits}f}".rstrip("0").rstrip(".")


def value_text(value: Any) -> str:
    """A parameter's value: an integral float without its ``.0`` (``10.0`` -> ``10``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def params_text(params: Mapping[str, Any]) -> str:
    """``fast=10 slow=40``."""
    return " ".join(f"{k}={value_text(v)}" for k, v in params.items())


def _pairs(title: str, rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table><caption>{_e(title)}</caption><tbody>{body}</tbody></table>"


def html_table(title: str, rows: Sequence[tuple[str, Any]]) -> str:
    """A two-column table (name, value) under a caption; every text escaped."""
    return f'<div class="quantdb-result">{_pairs(title, rows)}</div>'


def html_grid(
    title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
    summary: tuple[str, Sequence[tuple[str, Any]]] | None = None,
) -> str:
    """A table with a header row, below ``summary`` (a caption and its name-value rows)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows)
    grid = f"<table><caption>{_e(title)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    top = "" if summary is None else _pairs(*summary)
    return f'<div class="quantdb-result">{top}{grid}</div>'


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def count(n: Any, noun: str) -> str:
    """``1 trade``, ``2 trades``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def day(value: Any) -> str:
    """A date (``datetime64``, `datetime.date` or ISO text) as ``YYYY-MM-DD``."""
    return str(value)[:10]


def tickers_text(tickers: Sequence[str], *, most: int = 3) -> str:
    """``AAPL, MSFT, NVDA (+497)``: the first ``most`` tickers and how many more."""
    shown = ", ".join(tickers[:most])
    return shown + (f" (+{len(tickers) - most})" if len(tickers) > most else "")


# ----------------------------------------------------------------------------- backtests
def _period(dates: Sequence[Any]) -> str:
    return f"{day(dates[0])}..{day(dates[-1])}" if len(dates) else "-"


def backtest_repr(res: Any) -> str:
    """One line: class, strategy, parameters, period, tickers, total return, Sharpe, trades, id."""
    s = res.statistics
    ident = "not stored" if res.backtest_id is None else f"id {res.backtest_id}"
    params = params_text(res.params)
    return (f"<{type(res).__name__} {res.strategy}{' ' + params if params else ''} | {_period(res.dates)} | "
            f"{tickers_text(res.tickers)} | total return {pct(s.get('total_return'))}, Sharpe "
            f"{num(s.get('sharpe'))}, {count(s.get('n_trades', 0), 'trade')} | {ident}>")


def backtest_html(res: Any) -> str:
    """The summary table of a backtest (Jupyter's view of a `BacktestResult`)."""
    s = res.statistics
    rows: list[tuple[str, Any]] = [
        ("strategy", res.strategy), ("parameters", params_text(res.params) or "-"),
        ("period", _period(res.dates)), ("tickers", tickers_text(res.tickers, most=8)),
        ("total return", pct(s.get("total_return"))), ("CAGR", pct(s.get("cagr"))),
        ("Sharpe", num(s.get("sharpe"))), ("Sortino", num(s.get("sortino"))),
        ("max drawdown", pct(s.get("max_drawdown"))), ("trades", s.get("n_trades", 0)),
        ("win rate", pct(s.get("win_rate"))), ("profit factor", num(s.get("profit_factor"))),
        ("fees", num(s.get("fees"), 2)), ("final equity", num(s.get("final_equity"), 2)),
    ]
    if s.get("bankrupt"):
        rows.append(("bankrupt on", s.get("bankrupt_date")))
    rows.append(("backtest id", "not stored" if res.backtest_id is None else res.backtest_id))
    return html_table(f"{type(res).__name__}: {res.strategy}", rows)


# ----------------------------------------------------------------------------- sweeps
_METRICS = ("total_return", "sharpe", "max_drawdown", "n_trades", "bankrupt")


def _set_params(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _METRICS and k != "backtest_id"}


def sweep_repr(rep: Any) -> str:
    """One line: run, strategy, grid size, status, the best set and its objective, the file."""
    best = ""
    if rep.best:
        b = rep.best[0]
        best = (f" | best by {rep.objective}: {params_text(_set_params(b))} ({rep.objective} "
                f"{pct(b.get(rep.objective)) if rep.objective != 'sharpe' else num(b.get('sharpe'))})")
    return (f"<SweepReport run {rep.run_id} {rep.strategy}: {rep.combos} parameter sets x {rep.tickers} "
            f"tickers, {rep.status}{best} | {rep.results}>")


def sweep_html(rep: Any) -> str:
    """The run's summary and its best parameter sets (means over tickers)."""
    summary = (
        f"SweepReport: run {rep.run_id}, {rep.strategy}",
        [("parameter sets", rep.combos), ("tickers", rep.tickers), ("status", rep.status),
         ("objective", f"mean {rep.objective} over tickers"),
         ("sets with a bankrupt ticker", rep.bankrupt_sets), ("results", rep.results)],
    )
    names = list(_set_params(rep.best[0])) if rep.best else []
    rows = [
        [i, *(value_text(b.get(n)) for n in names), pct(b.get("total_return")),
         num(b.get("sharpe")), pct(b.get("max_drawdown")), b.get("n_trades"), b.get("bankrupt"),
         b.get("backtest_id", "-")]
        for i, b in enumerate(rep.best, 1)
    ]
    header = ["rank", *names, "total return", "Sharpe", "max drawdown", "trades", "bankrupt tickers", "backtest id"]
    return html_grid("best parameter sets", header, rows, summary=summary)


# ----------------------------------------------------------------------------- walk-forward
def walkforward_repr(rep: Any) -> str:
    """One line: strategy, windows, grid, out-of-sample period and figures, efficiency, PBO."""
    o = rep.oos
    period = f"{rep.oos_dates[0]}..{rep.oos_dates[-1]}" if rep.oos_dates else "-"
    return (f"<WalkForwardReport {rep.strategy}: {len(rep.windows)} windows, {rep.combos} parameter sets x "
            f"{rep.tickers} tickers | out of sample {period}: total return {pct(o.get('total_return'))}, "
            f"Sharpe {num(o.get('sharpe'))} | efficiency {num(rep.efficiency)}, PBO {num(rep.pbo.get('pbo'))}>")


def walkforward_html(rep: Any) -> str:
    """The out-of-sample summary and one row a window (chosen set, in- and out-of-sample)."""
    o = rep.oos
    summary = (
        f"WalkForwardReport: {rep.strategy}",
        [("windows", len(rep.windows)), ("parameter sets", rep.combos), ("tickers", rep.tickers),
         ("objective", rep.objective),
         ("out of sample", f"{rep.oos_dates[0]}..{rep.oos_dates[-1]}" if rep.oos_dates else "-"),
         ("OOS total return", pct(o.get("total_return"))), ("OOS CAGR", pct(o.get("cagr"))),
         ("OOS Sharpe", num(o.get("sharpe"))), ("OOS max drawdown", pct(o.get("max_drawdown"))),
         ("walk-forward efficiency", num(rep.efficiency)),
         ("robustness score", num(rep.robustness.get("score"))),
         ("deflated Sharpe", num(rep.deflated_sharpe.get("dsr"))), ("PBO", num(rep.pbo.get("pbo")))],
    )
    rows = [
        [w["window"], f"{w['train'][0]}..{w['train'][1]}", f"{w['test'][0]}..{w['test'][1]}",
         params_text(w["params"]), num(w["is_objective"]), num(w["oos_objective"]),
         pct(w["is_annual_return"]), pct(w["oos_annual_return"])]
        for w in rep.windows
    ]
    header = ["window", "train", "test", "chosen", f"IS {rep.objective}", f"OOS {rep.objective}",
              "IS annual return", "OOS annual return"]
    return html_grid("windows", header, rows, summary=summary)


# ----------------------------------------------------------------------------- Monte Carlo
def montecarlo_repr(rep: Any) -> str:
    """One line: source, paths, method, seed, final-return quantiles, median drawdown, ruin."""
    f = rep.distributions.get("final_return", {})
    d = rep.distributions.get("max_drawdown", {})
    return (f"<MonteCarloReport {rep.source}: {rep.paths} paths, {rep.method}, seed {rep.seed} | final return "
            f"p05 {pct(f.get('p05'))} p50 {pct(f.get('p50'))} p95 {pct(f.get('p95'))} | max drawdown p50 "
            f"{pct(d.get('p50'))} | ruin at {pct(rep.ruin_threshold, 0)}: {pct(rep.probability_of_ruin)}>")


def montecarlo_html(rep: Any) -> str:
    """The run's summary and each metric's observed value and distribution."""
    summary = (
        f"MonteCarloReport: {rep.source}",
        [("paths", rep.paths), ("method", rep.method), ("seed", rep.seed), ("horizon", rep.horizon),
         ("block", "-" if rep.block is None else num(rep.block)),
         (f"probability of a {pct(-rep.ruin_threshold, 0)} drawdown", pct(rep.probability_of_ruin))],
    )
    as_pct = {"final_return", "cagr", "max_drawdown"}
    rows = []
    for m, d in rep.distributions.items():
        fmt = pct if m in as_pct else num
        rows.append([m, fmt(rep.observed.get(m)), fmt(d.get("mean")), fmt(d.get("p05")), fmt(d.get("p50")),
                     fmt(d.get("p95"))])
    return html_grid("distributions over paths", ["metric", "observed", "mean", "p05", "p50", "p95"], rows,
                     summary=summary)
