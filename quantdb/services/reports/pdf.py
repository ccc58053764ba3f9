"""The PDF report: the bundle paginated with matplotlib's ``PdfPages`` (charts and tables).

Only matplotlib's own PDF backend is used (no browser, nothing downloaded); fonts are
matplotlib's bundled DejaVu Sans, so no font lookup fails. Figures are built with
``matplotlib.figure.Figure`` (no pyplot state), so the report does not touch the caller's
figures or backend. Text is embedded as TrueType (``pdf.fonttype = 42``) so it can be searched
and extracted.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantdb._atomic import atomic_output
from quantdb.services.reports.analysis import SUMMARY_METRICS, TRADE_METRICS
from quantdb.services.reports.bundle import COLUMN_KINDS, ReportBundle, build_bundle, fmt
from quantdb.storage.sqlite import Database

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

PAGE_SIZE = (11.69, 8.27)  # A4 landscape, inches
ROWS_PER_PAGE = 28
#: rcParams that are not drawing style: the backend in use and the interactive mode stay as they are
_NOT_STYLE = frozenset({"backend", "backend_fallback", "interactive"})
RC: dict[RcKeyType, Any] = {"font.family": "DejaVu Sans", "pdf.fonttype": 42, "font.size": 8, "axes.titlesize": 10}


def _figure() -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=PAGE_SIZE)


def _table_page(
    pdf: Any, title: str, header: Sequence[str], rows: Sequence[Sequence[str]],
    *, heat: Sequence[Sequence[float | None]] | None = None,
) -> None:
    """One page with a title and a ruled table: header row shaded and ruled off, rows striped,
    text left-aligned in the first column and right-aligned in the others (a proportional font).

    Cells are plain text objects over shaded rectangles (matplotlib's ``Axes.table`` lays out
    every cell as an artist of its own and takes seconds a page). ``heat`` colours each cell by the sign and size
    of its value (green gains, red losses), for the monthly returns.
    """
    from matplotlib.patches import Rectangle

    fig = _figure()
    fig.text(0.02, 0.95, title, fontsize=12, fontweight="bold", ha="left", va="top")
    cells = [list(header), *[list(r) for r in rows]]
    if not rows:
        cells.append(["(none)", *[""] * (len(header) - 1)])
    chars = [max(len(row[j]) for row in cells) + 2 for j in range(len(header))]
    left, right, top = 0.02, 0.98, 0.89
    size = max(5.5, min(8.5, 8.5 * 150 / max(sum(chars), 1)))
    per_char = size / 72.0 * 0.62 / PAGE_SIZE[0]  # DejaVu Sans: about 0.6 em a character
    fit = min(1.0, (right - left) / (per_char * sum(chars)))
    width = [c * per_char * fit for c in chars]
    step = 0.85 / (ROWS_PER_PAGE + 3)
    edges = [left]
    for w in width:
        edges.append(edges[-1] + w)
    for i in range(len(cells)):  # header shade and row stripes, under the text
        y = top - (i + 1) * step
        if i == 0 or i % 2 == 0:
            fig.patches.append(Rectangle((left, y), edges[-1] - left, step,
                                         transform=fig.transFigure, color="#dddddd" if i == 0 else "#f4f4f4",
                                         zorder=0, linewidth=0))
    if heat is not None:
        for i, heat_row in enumerate(heat, start=1):
            for j, v in enumerate(heat_row):
                if v is None or not np.isfinite(v) or j == 0:
                    continue
                alpha = min(1.0, abs(v) / 0.10) * 0.55 + 0.1
                fig.patches.append(Rectangle((edges[j], top - (i + 1) * step), width[j], step,
                                             transform=fig.transFigure, zorder=0, linewidth=0,
                                             color=(0.2, 0.65, 0.3, alpha) if v >= 0 else (0.85, 0.25, 0.2, alpha)))
    rule_y = top - 1.0 * step
    fig.add_artist(_hline(fig, left, edges[-1], rule_y))
    for i, cell_row in enumerate(cells):  # one text a cell, on the row's own baseline
        y = top - (i + 0.5) * step
        for j, value in enumerate(cell_row):
            if not value:
                continue
            x, ha = (edges[j] + 0.004, "left") if j == 0 else (edges[j + 1] - 0.004, "right")
            fig.text(x, y, value, fontsize=size, ha=ha, va="center", family="DejaVu Sans")
    pdf.savefig(fig)


def _hline(fig: Any, x0: float, x1: float, y: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], transform=fig.transFigure, color="#444444", linewidth=0.8)


def _paged_table(
    pdf: Any, title: str, frame: pd.DataFrame, kinds: dict[str, str] | None = None, *, heat: bool = False
) -> None:
    kinds = {**COLUMN_KINDS, **(kinds or {})}
    header = [str(c) for c in frame.columns]
    records = list(frame.itertuples(index=False, name=None))
    rows = [[fmt(v, kinds.get(c, "auto"))[:24] for c, v in zip(header, r, strict=True)] for r in records]
    values = [[_number(v) for v in r] for r in records] if heat else None
    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    for p in range(pages):
        part = slice(p * ROWS_PER_PAGE, (p + 1) * ROWS_PER_PAGE)
        suffix = f" (page {p + 1} of {pages})" if pages > 1 else ""
        _table_page(pdf, title + suffix, header, rows[part], heat=values[part] if values is not None else None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float | np.floating) and not isinstance(value, bool) else None


def _metric_rows(values: dict[str, dict[str, Any]], spec: Sequence[tuple[str, str, str]]) -> list[list[str]]:
    return [[label, *[fmt(v.get(key), kind) for v in values.values()]] for key, label, kind in spec]


def _dates(index: pd.Index) -> np.ndarray:
    dates: np.ndarray = pd.DatetimeIndex(index).to_numpy()
    return dates


def _series_page(pdf: Any, s: Any, benchmark: str) -> None:
    fig = _figure()
    fig.suptitle(s.name, fontsize=12, fontweight="bold", x=0.02, ha="left")
    ax1 = fig.add_subplot(2, 2, 1)
    ax1.plot(_dates(s.equity.index), s.equity["strategy"], label="strategy")
    ax1.plot(_dates(s.equity.index), s.equity["benchmark"], label=benchmark)
    ax1.set_title(f"Equity vs {benchmark} (growth of 1)")
    ax1.legend(loc="upper left")
    ax2 = fig.add_subplot(2, 2, 2)
    ax2.fill_between(_dates(s.drawdowns.underwater.index), s.drawdowns.underwater.to_numpy(), 0.0, color="tab:red",
                     alpha=0.4)
    ax2.set_title("Underwater (drawdown)")
    ax3 = fig.add_subplot(2, 2, 3)
    months = [c for c in s.monthly.columns if c != "Year"]
    z = s.monthly[months].to_numpy(dtype=np.float64)
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    ax3.imshow(np.ma.masked_invalid(z), cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    ax3.set_xticks(range(len(months)), months)
    ax3.set_yticks(range(len(s.monthly.index)), [str(y) for y in s.monthly.index])
    for (i, j), v in np.ndenumerate(z):
        if np.isfinite(v):
            ax3.text(j, i, f"{v:.1%}", ha="center", va="center", fontsize=6)
    ax3.set_title("Monthly returns")
    ax4 = fig.add_subplot(2, 2, 4)
    ax4.plot(_dates(s.rolling.index), s.rolling["rolling_sharpe"], label="rolling Sharpe")
    ax4b = ax4.twinx()
    ax4b.plot(_dates(s.rolling.index), s.rolling["rolling_beta"], color="tab:orange", label="rolling beta")
    ax4.set_title(f"Rolling Sharpe and beta ({s.rolling.attrs['window']} days)")
    fig.autofmt_xdate()
    fig.subplots_adjust(left=0.06, right=0.94, top=0.9, bottom=0.1, hspace=0.35, wspace=0.25)
    pdf.savefig(fig)


def _comparison_page(pdf: Any, b: ReportBundle) -> None:
    assert b.comparison is not None
    fig = _figure()
    fig.suptitle("Strategy comparison", fontsize=12, fontweight="bold", x=0.02, ha="left")
    ax1 = fig.add_subplot(1, 2, 1)
    for col in b.comparison.equity.columns:
        ax1.plot(_dates(b.comparison.equity.index), b.comparison.equity[col], label=str(col))
    ax1.legend(loc="upper left", fontsize=6)
    ax1.set_title("Equity curves")
    ax2 = fig.add_subplot(1, 2, 2)
    c = b.comparison.correlation
    ax2.imshow(c.to_numpy(dtype=np.float64), cmap="RdBu", vmin=-1, vmax=1)
    ax2.set_xticks(range(len(c)), [str(x)[:18] for x in c.columns], rotation=30, ha="right")
    ax2.set_yticks(range(len(c)), [str(x)[:18] for x in c.index])
    for (i, j), v in np.ndenumerate(c.to_numpy(dtype=np.float64)):
        ax2.text(j, i, fmt(v, "ratio"), ha="center", va="center")
    ax2.set_title("Correlation of returns")
    fig.autofmt_xdate()
    fig.subplots_adjust(left=0.06, right=0.94, top=0.9, bottom=0.1, hspace=0.35, wspace=0.25)
    pdf.savefig(fig)


#: The PDF prints the newest trades only: every page costs matplotlib about half a second, and
#: the Excel workbook (same bundle, same numbers) holds the whole log.
MAX_TRADE_ROWS = 400


def render_pdf(b: ReportBundle, out: str | Path, *, max_trade_rows: int = MAX_TRADE_ROWS) -> Path:
    """Write the PDF report of a bundle to ``out`` (the trade log: the newest ``max_trade_rows``)."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    buf = io.BytesIO()  # rendered in memory: a failing write is then only ours, an OSError
    # from matplotlib's defaults plus ours, not from whatever this process set before (QuantStats'
    # tearsheets change the global style): the same bundle gives the same bytes in any process
    defaults = {k: v for k, v in matplotlib.rcParamsDefault.items() if k not in _NOT_STYLE}
    with matplotlib.rc_context({**defaults, **RC}), PdfPages(
        buf, metadata={"Title": "quantdb report", "Creator": "quantdb", "CreationDate": None}
    ) as pdf:
        summary = {s.name: s.summary for s in b.series}
        if b.notices:
            _table_page(pdf, "quantdb report: read this first", ["notice"], [[n] for n in b.notices])
        _table_page(pdf, f"quantdb report: summary (prices up to {b.as_of or 'n/a'})",
                    ["metric", *summary], _metric_rows(summary, SUMMARY_METRICS))
        stats = {s.name: s.trade_stats for s in b.series} | {"all live trades": b.trade_stats}
        _table_page(pdf, "Trade statistics", ["metric", *stats], _metric_rows(stats, TRADE_METRICS))
        _paged_table(pdf, "Live performance by strategy", b.live)
        _paged_table(pdf, "Open positions", b.open_positions)
        if b.comparison is not None and len(b.series) > 1:
            _comparison_page(pdf, b)
        for s in b.series:
            _series_page(pdf, s, b.benchmark)
            _paged_table(pdf, f"{s.name}: top drawdowns", s.drawdowns.table)
            _paged_table(pdf, f"{s.name}: monthly returns", s.monthly.reset_index(),
                         {c: "pct" for c in s.monthly.columns} | {"year": "label"}, heat=True)
        _paged_table(pdf, "Latest backtests", b.backtests.drop(columns=["params"]))
        trades = b.trades.drop(columns=["legacy_id", "exit_reason"])
        title = "Trade log"
        if len(trades) > max_trade_rows:
            title = f"Trade log: newest {max_trade_rows} of {len(trades)} (all of them in the Excel report)"
            order = trades.sort_values("entry_date", kind="stable") if "entry_date" in trades else trades
            trades = order.tail(max_trade_rows)
        _paged_table(pdf, title, trades)
    with atomic_output(out, what="report") as tmp:  # complete, or nothing
        tmp.write_bytes(buf.getvalue())
    return out


def write_pdf(db: Database, out: str | Path, **bundle_options: Any) -> Path:
    """Build the bundle and write the PDF report to ``out``."""
    return render_pdf(build_bundle(db, **bundle_options), out)
