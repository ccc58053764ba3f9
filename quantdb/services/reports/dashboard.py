"""The HTML dashboard: one self-contained file (plotly.js inlined) that opens offline.

It shows the live performance of every strategy (``performance_metrics`` and the trades),
the open positions with their unrealized P&L, the comparison view, the historical graphs,
each series' equity vs SPY, drawdowns, monthly returns and rolling Sharpe / beta, the latest
backtests and sweeps, and the volume leaders. Nothing in it loads from the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from quantdb._atomic import write_atomic
from quantdb.services.reports import charts
from quantdb.services.reports.analysis import SUMMARY_METRICS, TRADE_METRICS
from quantdb.services.reports.bundle import COLUMN_KINDS, ReportBundle, build_bundle, fmt
from quantdb.storage.sqlite import Database

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>quantdb dashboard</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0 2em 2em;color:#222}
h1{margin-bottom:0} .sub{color:#666;margin-top:.2em}
#toc{margin:1em 0;line-height:1.8} h2 a.anchor{color:#bbb;text-decoration:none;margin-left:.3em}
.notice{background:#fff3cd;border:1px solid #e0b400;padding:.5em 1em;font-weight:bold}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f3f3f3}
td.t,th.t{text-align:left} section{margin-top:2em} .grid{display:flex;flex-wrap:wrap;gap:1em}
.grid>div{flex:1 1 480px;min-width:420px}
</style>
<script>{{ plotly_js|safe }}</script>
</head><body>
<h1>quantdb dashboard</h1>
<p class="sub">Database {{ b.db_path }} · prices up to {{ b.as_of or "n/a" }} · benchmark {{ b.benchmark }}</p>
{% for n in b.notices %}<p class="notice" role="alert">{{ n }}</p>{% endfor %}
<nav id="toc"><b>Contents</b>: <a href="#live">Live performance</a> · <a href="#positions">Open positions</a> ·
<a href="#history">Historical performance</a>{% if comparison %} · <a href="#comparison">Strategy comparison</a>{% endif %}
{% for s in series %} · <a href="#series-{{ loop.index }}">{{ s.name }}</a>{% endfor %} ·
<a href="#backtests">Latest backtests</a> · <a href="#sweeps">Latest sweeps</a> · <a href="#leaders">Volume leaders</a> ·
<a href="#trades">Trade log</a></nav>
<section id="live"><h2>Live performance <a class="anchor" href="#live">#</a></h2>{{ tables.live|safe }}
<h3>All trades (closed)</h3>{{ tables.trade_stats|safe }}</section>
<section id="positions"><h2>Open positions <a class="anchor" href="#positions">#</a></h2>{{ tables.positions|safe }}</section>
<section id="history"><h2>Historical performance <a class="anchor" href="#history">#</a></h2><div class="grid">
{% for div in history %}<div>{{ div|safe }}</div>{% endfor %}</div></section>
{% if comparison %}<section id="comparison"><h2>Strategy comparison <a class="anchor" href="#comparison">#</a></h2>{{ tables.comparison|safe }}
<div class="grid"><div>{{ comparison.equity|safe }}</div><div>{{ comparison.correlation|safe }}</div></div>
</section>{% endif %}
{% for s in series %}<section class="series" id="series-{{ loop.index }}"><h2>{{ s.name }} <a class="anchor" href="#series-{{ loop.index }}">#</a></h2>
<div class="grid"><div>{{ s.summary|safe }}</div><div>{{ s.trades|safe }}</div></div>
<div class="grid"><div>{{ s.equity|safe }}</div><div>{{ s.underwater|safe }}</div></div>
<h3>Top drawdowns</h3>{{ s.drawdowns|safe }}
<div class="grid"><div>{{ s.monthly|safe }}</div><div>{{ s.rolling|safe }}</div></div>
<h3>Monthly returns</h3>{{ s.monthly_table|safe }}</section>{% endfor %}
<section id="backtests"><h2>Latest backtests <a class="anchor" href="#backtests">#</a></h2>{{ tables.backtests|safe }}</section>
<section id="sweeps"><h2>Latest sweeps <a class="anchor" href="#sweeps">#</a></h2>{{ tables.sweeps|safe }}</section>
<section id="leaders"><h2>Volume leaders <a class="anchor" href="#leaders">#</a></h2><div class="grid">
{% for tf, t in leaders %}<div><h3>{{ tf }}</h3>{{ t|safe }}</div>{% endfor %}</div></section>
<section id="trades"><h2>Trade log <a class="anchor" href="#trades">#</a></h2>{{ tables.trades|safe }}</section>
</body></html>
""")

_TABLE = _ENV.from_string("""<table{% if tid %} id="{{ tid }}"{% endif %} class="report">
<thead><tr>{% for c in cols %}<th class="{{ 't' if loop.first and text_first else '' }}">{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr>{% for v in row %}<td class="{{ 't' if loop.first and text_first else '' }}">{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody>
</table>""")


def html_table(
    frame: pd.DataFrame,
    *,
    kinds: dict[str, str] | None = None,
    table_id: str | None = None,
    index: bool = False,
    text_first: bool = True,
) -> str:
    """A DataFrame as an escaped HTML table, each column formatted by its kind (`bundle.fmt`)."""
    kinds = {**COLUMN_KINDS, **(kinds or {})}
    df = frame.reset_index() if index else frame
    rows = [
        [fmt(v, kinds.get(str(c), "auto")) for c, v in zip(df.columns, row, strict=True)]
        for row in df.itertuples(index=False, name=None)
    ]
    return _TABLE.render(tid=table_id, cols=[str(c) for c in df.columns], rows=rows, text_first=text_first)


def metric_table(values: dict[str, Any] | pd.DataFrame, spec: Sequence[tuple[str, str, str]], tid: str) -> str:
    """Metrics as rows (label, value per column), formatted by each metric's kind."""
    frame = values if isinstance(values, pd.DataFrame) else pd.DataFrame({"value": pd.Series(values, dtype=object)})
    cols = [str(c) for c in frame.columns]
    rows = [
        [label, *[fmt(frame.at[key, c] if key in frame.index else None, kind) for c in frame.columns]]
        for key, label, kind in spec
    ]
    return _TABLE.render(tid=tid, cols=["metric", *cols], rows=rows, text_first=True)


def _snapshot_days(history: pd.DataFrame) -> int:
    return 0 if history.empty else int(history.groupby("strategy")["date"].nunique().max())


def history_from_equity(b: ReportBundle) -> pd.DataFrame:
    """The historical graphs' frame from the live strategies' daily equity, when tracking has
    fewer than two ``performance_metrics`` snapshots: total return to date, the rolling Sharpe
    of the report and the drawdown to date (the same three quantities, every trading day)."""
    parts = []
    for s in b.series:
        if s.kind != "strategy":
            continue
        wealth = (1.0 + s.returns.fillna(0.0)).cumprod()
        parts.append(pd.DataFrame({
            "strategy": s.name,
            "date": s.returns.index,
            "total_return": wealth.to_numpy() - 1.0,
            "sharpe": s.rolling["rolling_sharpe"].to_numpy(),
            "max_drawdown": (wealth / wealth.cummax().clip(lower=1.0) - 1.0).cummin().to_numpy(),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def render_dashboard(b: ReportBundle) -> str:
    """The dashboard page of a bundle, as one HTML string."""
    series = []
    for i, s in enumerate(b.series, start=1):
        monthly_kinds = {c: "pct" for c in s.monthly.columns}
        dd_kinds = {"depth": "pct"}
        series.append({
            "name": s.name,
            "summary": metric_table(s.summary, SUMMARY_METRICS, f"summary-{i}"),
            "trades": metric_table(s.trade_stats, TRADE_METRICS, f"tradestats-{i}"),
            "equity": charts.to_div(charts.equity_figure(s.equity, f"{s.name}: equity vs {b.benchmark}", b.benchmark),
                                    f"equity-{i}"),
            "underwater": charts.to_div(charts.underwater_figure(s.drawdowns.underwater, "Underwater"), f"uw-{i}"),
            "drawdowns": html_table(s.drawdowns.table, kinds=dd_kinds, table_id=f"drawdowns-{i}"),
            "monthly": charts.to_div(charts.monthly_heatmap(s.monthly, "Monthly returns"), f"monthly-{i}"),
            "monthly_table": html_table(s.monthly, kinds=monthly_kinds, index=True, table_id=f"monthly-table-{i}"),
            "rolling": charts.to_div(
                charts.rolling_figure(s.rolling, f"Rolling Sharpe and beta ({s.rolling.attrs['window']} days)"),
                f"rolling-{i}",
            ),
        })
    comparison = None
    if b.comparison is not None and len(b.series) > 1:
        comparison = {
            "equity": charts.to_div(charts.comparison_figure(b.comparison.equity, "Equity curves"), "cmp-equity"),
            "correlation": charts.to_div(
                charts.correlation_figure(b.comparison.correlation, "Correlation of returns"), "cmp-corr"
            ),
        }
    history = []
    frame = b.history if _snapshot_days(b.history) >= 2 else history_from_equity(b)
    if not frame.empty:
        for col, title in (("total_return", "Total return"), ("sharpe", "Sharpe"), ("max_drawdown", "Max drawdown")):
            history.append(charts.to_div(charts.history_figure(frame, col, title), f"hist-{col}"))
    tables = {
        "live": html_table(b.live, table_id="live-table"),
        "trade_stats": metric_table(b.trade_stats, TRADE_METRICS, "all-tradestats"),
        "positions": html_table(b.open_positions, table_id="positions-table"),
        "comparison": metric_table(b.comparison.metrics, SUMMARY_METRICS, "comparison-table")
        if b.comparison is not None else "",
        "backtests": html_table(b.backtests, table_id="backtests-table"),
        "sweeps": html_table(b.sweeps, table_id="sweeps-table"),
        "trades": html_table(b.trades, table_id="trade-log"),
    }
    leaders = [(tf, html_table(t, table_id=f"leaders-{tf}")) for tf, t in b.leaders.items()]
    return PAGE.render(
        b=b, plotly_js=charts.plotly_js(), series=series, comparison=comparison, history=history,
        tables=tables, leaders=leaders,
    )


def write_dashboard(db: Database, out: str | Path, **bundle_options: Any) -> Path:
    """Build the bundle and write the dashboard to ``out`` (one self-contained HTML file)."""
    return write_atomic(out, render_dashboard(build_bundle(db, **bundle_options)), what="report")
