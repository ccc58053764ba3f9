"""Interactive (Plotly) charts of research results, offline; the one module that draws them.

* :func:`backtest_figure`: the traded ticker's price with every entry and exit marked (hover: the
  trade's side, size, prices, P&L, fees, exit reason), the equity against the benchmark, the
  drawdown and, optionally, the volume (``BacktestResult.plot``);
* :func:`heatmap_figure`: a sweep's mean metric over two parameters (``SweepReport.heatmap``);
* :func:`walkforward_figure`: the stitched out-of-sample equity, each window's in-sample and
  out-of-sample rows, and their annualised returns (``WalkForwardReport.plot``);
* :func:`montecarlo_figure`: the wealth cone and the distributions of the final return and of
  the maximum drawdown over the paths (``MonteCarloReport.plot``);
* :func:`save_html`: one self-contained HTML file (plotly.js inline, no request when opened),
  written atomically.

plotly is imported inside the functions: ``import quantdb`` stays light. Every figure renders in
Jupyter as it is (a notebook displays a ``go.Figure``). The static matplotlib figure of a
backtest (for PDF) stays ``BacktestResult.plot_static``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError, NotFound
from quantdb.services.research.display import num, params_text, pct, value_text

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from quantdb.services.research.backtest import BacktestResult
    from quantdb.services.research.montecarlo import MonteCarloReport
    from quantdb.services.research.walkforward import WalkForwardReport

__all__ = [
    "backtest_figure",
    "default_ticker",
    "drawdown_of",
    "heatmap_figure",
    "montecarlo_figure",
    "save_html",
    "walkforward_figure",
]

_TEMPLATE = "plotly_white"
_MARGIN = {"l": 60, "r": 20, "t": 60, "b": 40}
#: the element id of a saved figure (plotly draws a random one: the same figure, the same bytes)
DIV_ID = "quantdb-plot"


def _days(dates: np.ndarray | Sequence[Any]) -> list[str]:
    return [str(d) for d in np.asarray(dates, dtype="datetime64[D]")]


def _values(values: Any) -> list[float | None]:
    arr = np.asarray(values, dtype=np.float64)
    return [float(v) if np.isfinite(v) else None for v in arr]


# ----------------------------------------------------------------------------- backtests
def default_ticker(res: BacktestResult) -> str:
    """The ticker with the most trades (the first of the result's tickers on a tie or none)."""
    k = len(res.tickers)
    if not k:
        return ""
    counts = np.bincount(np.asarray(res.trade_records["column"], dtype=np.int64) % k, minlength=k)
    return res.tickers[int(np.argmax(counts))]


def drawdown_of(equity: FloatArray, cash: float) -> FloatArray:
    """Equity below its running peak (the starting cash counts as the first peak): fractions <= 0."""
    peak = np.maximum.accumulate(np.maximum(np.asarray(equity, dtype=np.float64), cash))
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(peak > 0, equity / peak - 1.0, 0.0)
    return out


def _trade_text(ticker: str, t: np.void, entry: str, exit_: str, reason: str) -> str:
    side = "long" if t["size"] > 0 else "short"
    return (f"{ticker} {side} {abs(float(t['size'])):g} shares<br>entry {entry} at {float(t['entry_price']):.4g}"
            f"<br>exit {exit_} at {float(t['exit_price']):.4g} ({reason}, {int(t['bars_held'])} bars)"
            f"<br>P&L {float(t['pnl']):,.2f} ({pct(t['return'])}), fees {float(t['fees']):,.2f}")


def backtest_figure(res: BacktestResult, *, ticker: str | None = None, volume: bool = False) -> go.Figure:
    """The chart of a backtest (see the module); ``ticker`` defaults to the most traded one.

    The price line is the ticker's adjusted close as the backtest saw it, read again through
    the result's `quantdb.services.research.origin.Origin`; without one (or when its database
    or file is gone) the markers are drawn alone. The benchmark (the result's, SPY by default
    for a database backtest) is its growth from the starting cash on the result's dates;
    absent when the result has none or the database has no prices for it.

    Raises
    ------
    ArgumentError
        ``ticker`` is not one of the result's tickers.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from quantdb.kernels.simulate import EXIT_REASONS

    if ticker is None:
        ticker = default_ticker(res)
    elif ticker not in res.tickers:
        shown = ", ".join(res.tickers[:10]) + (" ..." if len(res.tickers) > 10 else "")
        msg = f"ticker must be one of the result's tickers ({shown}), got {ticker!r}"
        raise ArgumentError(msg)
    k = len(res.tickers)
    col = res.tickers.index(ticker) if ticker in res.tickers else -1
    trades = res.trade_records[np.asarray(res.trade_records["column"], dtype=np.int64) % max(k, 1) == col]
    days = _days(res.dates)

    prices: tuple[list[str], FloatArray, FloatArray | None] | None = None
    origin = getattr(res, "origin", None)
    if origin is not None and ticker:
        try:
            pdates, _, bars = origin.bars([ticker])
            prices = (_days(pdates), bars.close[:, 0], None if bars.volume is None else bars.volume[:, 0])
        except NotFound:
            prices = None
    show_volume = volume and prices is not None and prices[2] is not None
    rows = 4 if show_volume else 3
    heights = [0.45, 0.12, 0.28, 0.15] if show_volume else [0.5, 0.32, 0.18]
    titles = [f"{ticker} (adjusted) and trades", *(["volume"] if show_volume else []), "equity", "drawdown"]
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=heights,
                        subplot_titles=titles)
    if prices is not None:
        fig.add_trace(go.Scatter(x=prices[0], y=_values(prices[1]), mode="lines", name=ticker,
                                 line={"width": 1.2, "color": "#4c72b0"}), row=1, col=1)
        if show_volume:
            fig.add_trace(go.Bar(x=prices[0], y=_values(prices[2]), name="volume", marker_color="#999999"),
                          row=2, col=1)
    entry_days = [days[i] for i in trades["entry_index"]]
    exit_days = [days[i] for i in trades["exit_index"]]
    text = [_trade_text(ticker, t, a, b, EXIT_REASONS[int(t["exit_reason"])])
            for t, a, b in zip(trades, entry_days, exit_days, strict=True)]
    longs = trades["size"] > 0
    fig.add_trace(go.Scatter(
        x=entry_days, y=_values(trades["entry_price"]), mode="markers", name="entries", text=text,
        hovertemplate="%{text}<extra>entry</extra>",
        marker={"symbol": np.where(longs, "triangle-up", "triangle-down").tolist(), "size": 10,
                "color": np.where(longs, "#2ca02c", "#9467bd").tolist(), "line": {"width": 0.5, "color": "black"}},
    ), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=exit_days, y=_values(trades["exit_price"]), mode="markers", name="exits", text=text,
        hovertemplate="%{text}<extra>exit</extra>",
        marker={"symbol": "x", "size": 9, "color": np.where(trades["pnl"] >= 0, "#2ca02c", "#d62728").tolist(),
                "line": {"width": 0.5, "color": "black"}},
    ), row=1, col=1)
    eq_row = 3 if show_volume else 2
    fig.add_trace(go.Scatter(x=days, y=_values(res.equity_curve), mode="lines", name="equity",
                             line={"width": 1.4, "color": "#1f77b4"}), row=eq_row, col=1)
    bench = None if origin is None else _benchmark_growth(origin, res.dates, res.settings.cash)
    if origin is not None and bench is not None:
        fig.add_trace(go.Scatter(x=days, y=_values(bench), mode="lines", name=str(origin.benchmark),
                                 line={"width": 1.1, "color": "#555555", "dash": "dot"}), row=eq_row, col=1)
    fig.add_trace(go.Scatter(x=days, y=_values(drawdown_of(res.equity_curve, res.settings.cash)), mode="lines",
                             name="drawdown", fill="tozeroy", line={"width": 0.8, "color": "#d62728"}),
                  row=eq_row + 1, col=1)
    fig.update_yaxes(tickformat=".0%", row=eq_row + 1, col=1)
    title = f"{res.strategy} {params_text(res.params)}".strip()
    s = res.statistics
    fig.update_layout(
        template=_TEMPLATE, height=850 if show_volume else 760, margin=_MARGIN, hovermode="closest",
        title=f"{title}: total return {pct(s.get('total_return'))}, Sharpe {num(s.get('sharpe'))}, "
              f"{s.get('n_trades', 0)} trades",
        legend={"orientation": "h", "y": -0.05},
    )
    return fig


def _benchmark_growth(origin: Any, dates: np.ndarray, cash: float) -> FloatArray | None:
    """``cash`` invested in the benchmark at the first date's close (missing days flat)."""
    try:
        r = origin.benchmark_returns(dates)
    except NotFound:
        return None
    if r is None or not np.isfinite(r).any():
        return None
    step: FloatArray = np.nan_to_num(np.asarray(r, dtype=np.float64))
    if step.size:
        step[0] = 0.0
    growth = np.cumprod(1.0 + step) * float(cash)
    return np.asarray(growth, dtype=np.float64)


# ----------------------------------------------------------------------------- sweeps
def heatmap_figure(
    xs: np.ndarray, ys: np.ndarray, grid: FloatArray, *, x: str, y: str, metric: str, title: str | None = None
) -> go.Figure:
    """``grid[y, x]`` (from `quantdb.services.research.sweep.heatmap`) as a Plotly heatmap; blank
    where a constraint removed the pair."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Heatmap(
        z=[_values(row) for row in np.asarray(grid, dtype=np.float64)],
        x=[value_text(v.item() if hasattr(v, "item") else v) for v in xs],
        y=[value_text(v.item() if hasattr(v, "item") else v) for v in ys],
        colorscale="Viridis", colorbar={"title": {"text": metric}}, name=metric,
        hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric} %{{z:.4g}}<extra></extra>",
    ))
    fig.update_xaxes(title_text=x, type="category")
    fig.update_yaxes(title_text=y, type="category")
    fig.update_layout(template=_TEMPLATE, margin=_MARGIN, height=520,
                      title=title or f"mean {metric} over tickers")
    return fig


# ----------------------------------------------------------------------------- walk-forward
def walkforward_figure(rep: WalkForwardReport) -> go.Figure:
    """Stitched out-of-sample growth of 1; each window's train (in-sample) and test
    (out-of-sample) rows on a timeline; each window's annualised in- and out-of-sample return."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, vertical_spacing=0.09, row_heights=[0.45, 0.25, 0.30],
                        subplot_titles=["stitched out-of-sample equity (growth of 1)", "windows",
                                        "annualised return of the chosen set"])
    growth = np.cumprod(1.0 + np.nan_to_num(np.asarray(rep.oos_returns, dtype=np.float64)))
    fig.add_trace(go.Scatter(x=list(rep.oos_dates), y=_values(growth), mode="lines",
                             name="stitched out-of-sample equity", line={"color": "#ff7f0e"}), row=1, col=1)
    is_x: list[str | None] = []
    is_y: list[int | None] = []
    oos_x: list[str | None] = []
    oos_y: list[int | None] = []
    hover: list[str] = []
    for w in rep.windows:
        k = int(w["window"])
        is_x += [w["train"][0], w["train"][1], None]
        is_y += [k, k, None]
        oos_x += [w["test"][0], w["test"][1], None]
        oos_y += [k, k, None]
        hover.append(f"window {k}: {params_text(w['params'])}")
    fig.add_trace(go.Scatter(x=is_x, y=is_y, mode="lines", name="in sample (train)",
                             line={"width": 8, "color": "#1f77b4"}), row=2, col=1)
    fig.add_trace(go.Scatter(x=oos_x, y=oos_y, mode="lines", name="out of sample (test)",
                             line={"width": 8, "color": "#ff7f0e"}), row=2, col=1)
    labels = [f"w{w['window']}" for w in rep.windows]
    fig.add_trace(go.Bar(x=labels, y=_values([w["is_annual_return"] for w in rep.windows]), name="in sample",
                         marker_color="#1f77b4", hovertext=hover), row=3, col=1)
    fig.add_trace(go.Bar(x=labels, y=_values([w["oos_annual_return"] for w in rep.windows]), name="out of sample",
                         marker_color="#ff7f0e", hovertext=hover), row=3, col=1)
    fig.update_yaxes(title_text="window", autorange="reversed", row=2, col=1)
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    fig.update_layout(
        template=_TEMPLATE, margin=_MARGIN, height=820, barmode="group",
        title=(f"walk-forward {rep.strategy}: {len(rep.windows)} windows, OOS total return "
               f"{pct(rep.oos.get('total_return'))}, efficiency {num(rep.efficiency)}"),
    )
    return fig


# ----------------------------------------------------------------------------- Monte Carlo
def montecarlo_figure(rep: MonteCarloReport) -> go.Figure:
    """The wealth cone (5-95% and 25-75% bands, the median) and the histograms of the final
    return and of the maximum drawdown over the paths, the observed value marked on each."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, specs=[[{"colspan": 2}, None], [{}, {}]], vertical_spacing=0.12,
                        subplot_titles=["wealth cone (growth of 1)", "final return", "max drawdown"])
    steps = list(rep.cone.get("steps", []))
    q = list(rep.cone.get("quantiles", []))
    wealth = np.asarray(rep.cone.get("wealth", []), dtype=np.float64).reshape(len(steps), len(q))

    def band(lo: float, hi: float, name: str, color: str) -> None:
        if lo in q and hi in q:
            fig.add_trace(go.Scatter(x=steps, y=_values(wealth[:, q.index(hi)]), mode="lines",
                                     line={"width": 0}, showlegend=False, hoverinfo="skip"), row=1, col=1)
            fig.add_trace(go.Scatter(x=steps, y=_values(wealth[:, q.index(lo)]), mode="lines", fill="tonexty",
                                     fillcolor=color, line={"width": 0}, name=name), row=1, col=1)

    band(0.05, 0.95, "5-95% of paths", "rgba(31,119,180,0.18)")
    band(0.25, 0.75, "25-75% of paths", "rgba(31,119,180,0.35)")
    if 0.5 in q:
        fig.add_trace(go.Scatter(x=steps, y=_values(wealth[:, q.index(0.5)]), mode="lines", name="median",
                                 line={"color": "#1f77b4", "width": 2}), row=1, col=1)
    for c, metric in ((1, "final_return"), (2, "max_drawdown")):
        h = rep.histograms.get(metric) if rep.histograms else None
        if not h:
            continue
        edges = np.asarray(h["edges"], dtype=np.float64)
        fig.add_trace(go.Bar(x=_values((edges[:-1] + edges[1:]) / 2), y=list(h["counts"]),
                             width=_values(np.diff(edges)), name=metric.replace("_", " "),
                             marker_color="#1f77b4" if c == 1 else "#d62728", showlegend=False), row=2, col=c)
        seen = rep.observed.get(metric)
        if seen is not None and np.isfinite(seen):
            fig.add_vline(x=float(seen), line_dash="dash", line_color="black", row=2, col=c,
                          annotation_text="observed")
        fig.update_xaxes(tickformat=".0%", row=2, col=c)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_layout(
        template=_TEMPLATE, margin=_MARGIN, height=760, bargap=0.02,
        title=(f"Monte Carlo of {rep.source}: {rep.paths} paths ({rep.method}, seed {rep.seed}); "
               f"probability of a {pct(-rep.ruin_threshold, 0)} drawdown {pct(rep.probability_of_ruin)}"),
    )
    return fig


# ----------------------------------------------------------------------------- files
def save_html(fig: go.Figure, path: str | Path) -> Path:
    """Write ``fig`` as one self-contained HTML file (plotly.js inline: opens offline), atomically
    (`quantdb._atomic.atomic_output`: the complete file or none); returns the path.

    Examples
    --------
    >>> import tempfile, plotly.graph_objects as go
    >>> out = save_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), Path(tempfile.mkdtemp()) / "f.html")
    >>> text = out.read_text(encoding="utf-8")
    >>> "<script src=" in text, 'id="quantdb-plot"' in text
    (False, True)
    """
    from quantdb._atomic import atomic_output

    target = Path(path)
    with atomic_output(target, what="plot") as tmp:
        fig.write_html(str(tmp), include_plotlyjs=True, full_html=True, div_id=DIV_ID,
                       config={"displaylogo": False, "responsive": True})
    return target
