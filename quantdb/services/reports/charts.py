"""Interactive charts (plotly) for the HTML dashboard and the web pages.

Each function takes a report piece (see `analysis`) and returns a ``plotly.graph_objects.Figure``;
`to_div` renders one as an HTML fragment with a fixed element id (so the same data gives the
same bytes) and without plotly.js, which the page includes once (inline, for offline use).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

_LAYOUT = {"template": "plotly_white", "height": 340, "margin": {"l": 50, "r": 20, "t": 40, "b": 40}}


def plotly_js() -> str:
    """The plotly.js library source, to inline in a page that must open offline."""
    from plotly.offline import get_plotlyjs

    source: str = get_plotlyjs()
    return source


def to_div(fig: go.Figure, div_id: str) -> str:
    """One figure as an HTML fragment (a div and its script), plotly.js not included."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", div_id)
    html: str = pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=safe, config={"displaylogo": False, "responsive": True}
    )
    return html


def _x(index: pd.Index) -> list[str]:
    return [pd.Timestamp(d).date().isoformat() for d in index]


def _y(values: pd.Series | np.ndarray) -> list[float | None]:
    arr = np.asarray(values, dtype=np.float64)
    return [None if not np.isfinite(v) else float(v) for v in arr]


def equity_figure(equity: pd.DataFrame, title: str, benchmark: str = "SPY") -> go.Figure:
    """Equity curve against the benchmark (wealth from 1.0)."""
    fig = go.Figure(layout={**_LAYOUT, "title": title, "yaxis": {"title": "growth of 1"}})
    fig.add_scatter(x=_x(equity.index), y=_y(equity["strategy"]), name="strategy", mode="lines")
    fig.add_scatter(x=_x(equity.index), y=_y(equity["benchmark"]), name=benchmark, mode="lines")
    return fig


def underwater_figure(underwater: pd.Series, title: str) -> go.Figure:
    """Drawdown below the running peak, as a filled area (negative fractions)."""
    # ".2~%": as many decimals as the ticks need (".0%" printed -1%, -1%, -0% for shallow drawdowns)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "yaxis": {"tickformat": ".2~%", "title": "drawdown"}})
    fig.add_scatter(x=_x(underwater.index), y=_y(underwater), fill="tozeroy", mode="lines", name="drawdown")
    return fig


def monthly_heatmap(table: pd.DataFrame, title: str) -> go.Figure:
    """Years x months heatmap of monthly returns (the ``Year`` column left out of the colours)."""
    months = [c for c in table.columns if c != "Year"]
    z = table[months].to_numpy(dtype=np.float64)
    text = [["" if not np.isfinite(v) else f"{v:.1%}" for v in row] for row in z]
    fig = go.Figure(layout={**_LAYOUT, "title": title, "height": 120 + 40 * len(table)})
    fig.add_heatmap(
        z=[[None if not np.isfinite(v) else float(v) for v in row] for row in z],
        x=months, y=[str(y) for y in table.index], text=text, texttemplate="%{text}",
        colorscale="RdYlGn", zmid=0.0, showscale=False,
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def rolling_figure(rolling: pd.DataFrame, title: str) -> go.Figure:
    """Rolling Sharpe ratio (left axis) and rolling beta (right axis)."""
    fig = go.Figure(layout={**_LAYOUT, "title": title, "yaxis2": {"overlaying": "y", "side": "right"}})
    fig.add_scatter(x=_x(rolling.index), y=_y(rolling["rolling_sharpe"]), name="rolling Sharpe", mode="lines")
    fig.add_scatter(x=_x(rolling.index), y=_y(rolling["rolling_beta"]), name="rolling beta", mode="lines",
                    yaxis="y2")
    return fig


def comparison_figure(equity: pd.DataFrame, title: str) -> go.Figure:
    """Several equity curves on one date axis."""
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    for col in equity.columns:
        fig.add_scatter(x=_x(equity.index), y=_y(equity[col]), name=str(col), mode="lines")
    return fig


def correlation_figure(corr: pd.DataFrame, title: str) -> go.Figure:
    """Correlation matrix of strategy returns."""
    z = corr.to_numpy(dtype=np.float64)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "height": 160 + 40 * len(corr)})
    fig.add_heatmap(
        z=[[None if not np.isfinite(v) else float(v) for v in row] for row in z],
        x=[str(c) for c in corr.columns], y=[str(c) for c in corr.index],
        text=[["" if not np.isfinite(v) else f"{v:.2f}" for v in row] for row in z], texttemplate="%{text}",
        colorscale="RdBu", zmin=-1, zmax=1, showscale=False,
    )
    return fig


def history_figure(history: pd.DataFrame, column: str, title: str) -> go.Figure:
    """One ``performance_metrics`` column over time, a line per strategy."""
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    for name, part in history.groupby("strategy", sort=True):
        fig.add_scatter(x=list(part["date"]), y=_y(part[column]), name=str(name), mode="lines")
    return fig
