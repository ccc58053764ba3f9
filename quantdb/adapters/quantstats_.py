"""QuantStats, the only place quantdb imports it (inside functions: it pulls in seaborn,
matplotlib's pyplot and yfinance, which ``quantdb --help`` must not pay for).

`html_tearsheet` writes QuantStats' HTML tearsheet offline:

* the benchmark is always a pandas Series of returns (a ticker string makes QuantStats
  download prices from Yahoo);
* QuantStats asks matplotlib for "Arial" (its module sets ``rcParams["font.family"]`` at import
  and passes ``fontname="Arial"`` to every title), which most Linux machines lack: every text
  draw then logs ``findfont: Font family 'Arial' not found`` (over a hundred lines a report).
  While the report is drawn, "Arial" is answered by matplotlib's bundled DejaVu Sans (the
  font that exists wherever matplotlib does), and the alias is removed afterwards; no warning
  filter is involved;
* the template's network references (a favicon from qtpylib.io, a link to quantstats.io) are
  removed, so the file opens without any request;
* quantdb's trade statistics (win rate, profit factor, expectancy, SQN... from closed trades)
  are added as a table, since QuantStats computes only period statistics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pandas as pd

from quantdb._atomic import atomic_output
from quantdb.errors import ArgumentError, NotFound

#: Font families QuantStats names explicitly.
QUANTSTATS_FONTS = ("Arial",)
#: The family that answers them: shipped inside matplotlib itself, so it always exists.
SUBSTITUTE_FONT = "DejaVu Sans"
TRADE_STATS_MARK = "<!-- quantdb:trade-stats -->"  # QuantStats deletes unknown {{...}}


@contextlib.contextmanager
def fonts_that_exist(names: Sequence[str] = QUANTSTATS_FONTS) -> Iterator[None]:
    """While inside, font families in ``names`` that matplotlib cannot find resolve to
    DejaVu Sans, and the default family is DejaVu Sans; everything is restored on exit."""
    import matplotlib
    from matplotlib import font_manager

    fm = font_manager.fontManager
    available = {f.name for f in fm.ttflist}
    base = [f for f in fm.ttflist if f.name == SUBSTITUTE_FONT]
    added = [
        dataclasses.replace(f, name=name) for name in names if name not in available for f in base
    ]
    # cast: matplotlib's stubs leave out FontManager._findfont_cached (an lru_cache on the method)
    clear_cache: Callable[[], None] = cast(Any, fm)._findfont_cached.cache_clear
    fm.ttflist.extend(added)
    clear_cache()  # a cached miss would survive the new entries
    try:
        with matplotlib.rc_context({"font.family": [SUBSTITUTE_FONT]}):
            yield
    finally:
        for entry in added:
            fm.ttflist.remove(entry)
        clear_cache()


_NETWORK_LINK = re.compile(r"<link[^>]*href=[\"']https?://[^>]*>\s*", re.IGNORECASE)
_NETWORK_ANCHOR = re.compile(r"<a [^>]*href=[\"']https?://[^\"']*[\"'][^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)


def offline_template() -> str:
    """QuantStats' report template without network references, with a trade-statistics slot."""
    import quantstats

    tpl = (Path(quantstats.__file__).parent / "report.html").read_text(encoding="utf-8")
    tpl = _NETWORK_LINK.sub("", tpl)
    tpl = _NETWORK_ANCHOR.sub(r"\1", tpl)
    marker = "{{dd_info}}"
    if marker in tpl:
        tpl = tpl.replace(marker, marker + "\n" + TRADE_STATS_MARK, 1)
    else:  # a template without the drawdown table: put the slot at the end of the body
        tpl = tpl.replace("</body>", TRADE_STATS_MARK + "\n</body>", 1)
    return tpl


def trade_stats_html(rows: Sequence[tuple[str, str]], title: str = "Trade statistics (quantdb)") -> str:
    """A two-column table in QuantStats' table style: label, formatted value."""
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>" for label, value in rows
    )
    return (
        f'<div id="quantdb_trade_stats"><h3>{html.escape(title)}</h3>'
        f"<table><thead><tr><th>Metric</th><th>Value</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def html_tearsheet(
    returns: pd.Series,
    out: str | Path,
    *,
    benchmark: pd.Series | None,
    title: str = "quantdb tearsheet",
    benchmark_title: str = "SPY",
    trade_stats: Sequence[tuple[str, str]] = (),
    parameters: Mapping[str, Any] | None = None,
    periods_per_year: int = 252,
) -> Path:
    """Write QuantStats' HTML tearsheet of daily ``returns`` to ``out``, offline.

    Parameters
    ----------
    returns : pandas.Series
        Daily simple returns with a ``DatetimeIndex``.
    out : path
        The HTML file to write.
    benchmark : pandas.Series or None
        Benchmark returns (from the database); never a ticker string, which would download.
    trade_stats : sequence of (label, text)
        quantdb's trade statistics, shown in their own table beside QuantStats' metrics.

    Raises
    ------
    NotFound
        every return is zero (no trades): there is nothing to draw.
    """
    if benchmark is not None and not isinstance(benchmark, pd.Series):
        msg = f"benchmark must be a pandas Series of returns (a ticker would download), got {type(benchmark).__name__}"
        raise ArgumentError(msg)
    if len(returns) and not returns.fillna(0.0).astype("float64").any():
        # a flat line: QuantStats' regressions fail on it, and it would say nothing anyway
        msg = f"{title}: no trades (every daily return is zero), so there is no tearsheet to draw"
        raise NotFound(msg)
    import quantstats as qs

    out = Path(out)
    r = returns.astype("float64").rename("Strategy")
    r.index = pd.DatetimeIndex(r.index).tz_localize(None)
    bench = None
    if benchmark is not None:
        bench = benchmark.astype("float64").rename(benchmark_title)
        bench.index = pd.DatetimeIndex(bench.index).tz_localize(None)
        bench = bench.reindex(r.index)
    with (
        tempfile.TemporaryDirectory(prefix="quantdb-tearsheet-") as tmp,
        atomic_output(out, what="tearsheet") as partial,  # complete, or nothing
    ):
        template = Path(tmp) / "report.html"
        template.write_text(offline_template(), encoding="utf-8")
        with fonts_that_exist(), warnings.catch_warnings():
            # QuantStats' own chart code calls set_xticklabels without fixed ticks: matplotlib
            # warns about QuantStats' code, not the user's data. Hidden only while it draws.
            warnings.filterwarnings("ignore", message="set_ticklabels", category=UserWarning)
            html_report = cast(Callable[..., None], qs.reports.html)  # cast: quantstats is unannotated
            # QuantStats pastes the title and the parameters into its HTML as they are: a
            # strategy named "<script>..." would run in the reader's browser. Escaped here.
            html_report(
                r, benchmark=bench, output=str(partial), title=html.escape(title), template_path=str(template),
                periods_per_year=periods_per_year, benchmark_title=benchmark_title,
                parameters={html.escape(str(k)): html.escape(str(v)) for k, v in (parameters or {}).items()},
            )
        text = partial.read_text(encoding="utf-8")
        text = text.replace(TRADE_STATS_MARK, trade_stats_html(trade_stats) if trade_stats else "")
        partial.write_text(text, encoding="utf-8")
    return out
