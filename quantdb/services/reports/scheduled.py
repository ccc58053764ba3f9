"""`quantdb report run`: every report of a period into one dated folder, for a scheduler.

For the period ending at the newest price (``daily``: that day; ``weekly``: its ISO week to
date, Monday on; ``monthly``: its month to date) it optionally marks the live book to market
first (``track=True``), then writes the dashboard, the Excel and PDF reports (from one
`ReportBundle`, read once), a QuantStats tearsheet per live strategy and ``summary.json`` into
``OUT/<period>/<end date>/``, and rewrites ``OUT/index.html``, which lists every run.

Guarantees:

* **Complete or absent.** The folder is written aside (``OUT/<period>/.tmp-...``) and renamed
  into place only when every file is written; a rerun for the same period swaps the new folder
  in (the old one is moved aside, the new one renamed in, the old one removed), so a reader
  sees the old run or the new one. ``index.html`` is written aside and renamed too.
* **One at a time.** A run holds an exclusive lock on ``OUT/.quantdb-report.lock``; a second
  run started meanwhile waits for it, then replaces its folder.
* **Checks that fail loudly.** Prices older than ``max_stale_days`` trading days (business
  days from the newest price to ``today``), a failed integrity check, or a live strategy with
  no data in the period are *problems*: they are printed at the top of the dashboard and the
  PDF, recorded in ``summary.json`` and the index, and make the command exit 1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import html
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from quantdb._atomic import atomic_folder, write_atomic
from quantdb._json import to_jsonable
from quantdb._paths import make_folder
from quantdb._version import __version__
from quantdb.dates import parse_date
from quantdb.errors import ArgumentError, NotFound
from quantdb.storage.sqlite import Database

__all__ = ["PERIODS", "ScheduledReport", "period_bounds", "run_report"]

Period = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[str, ...] = ("daily", "weekly", "monthly")
LOCK_NAME = ".quantdb-report.lock"


@dataclass(frozen=True)
class ScheduledReport:
    """One run: where it went, what it covers, and what is wrong (empty ``problems``: ok)."""

    period: str
    start: str
    end: str
    folder: str
    generated_at: str
    problems: list[str]
    files: list[str]
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracked: dict[str, Any] | None = None
    quantdb_version: str = __version__

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` document (and the command's ``--json``)."""
        return {**to_jsonable(asdict(self)), "ok": self.ok}


def period_bounds(period: str, end: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the ``period`` that ends on ``end`` (to date).

    Examples
    --------
    >>> period_bounds("weekly", dt.date(2016, 12, 30))
    (datetime.date(2016, 12, 26), datetime.date(2016, 12, 30))
    >>> period_bounds("monthly", dt.date(2016, 12, 30))[0]
    datetime.date(2016, 12, 1)
    """
    if period == "daily":
        return end, end
    if period == "weekly":
        return end - dt.timedelta(days=end.weekday()), end
    if period == "monthly":
        return end.replace(day=1), end
    msg = f"--period must be one of {', '.join(PERIODS)}, got {period!r}"
    raise ArgumentError(msg)


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold ``OUT/.quantdb-report.lock`` (a second run waits here)."""
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _period_figures(returns: Any, start: dt.date, end: dt.date) -> dict[str, Any] | None:
    """Total return, Sharpe and max drawdown of a return series over the period (None: no data)."""
    from quantdb.kernels.drawdown import max_drawdown
    from quantdb.kernels.metrics import sharpe_ratio

    r = returns[(returns.index >= str(start)) & (returns.index <= f"{end} 23:59:59")].dropna()
    if r.empty:
        return None
    a = r.to_numpy(dtype=np.float64)
    return {
        "days": len(a),
        "total_return": float(np.prod(1.0 + a) - 1.0),
        "sharpe": float(np.asarray(sharpe_ratio(a)).reshape(-1)[0]) if len(a) > 1 else None,
        "max_drawdown": float(np.asarray(max_drawdown(a)).reshape(-1)[0]),
    }


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip().lower())
    return keep.strip(".") or "strategy"


def write_index(out: Path) -> Path:
    """``OUT/index.html``: every run under ``out``, newest first, with its status and files."""
    rows = []
    for period in PERIODS:
        for folder in (out / period).glob("*/summary.json"):
            try:
                doc = json.loads(folder.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            rows.append(doc)
    rows.sort(key=lambda d: (d.get("end", ""), d.get("period", "")), reverse=True)
    body = []
    for d in rows:
        rel = f"{d['period']}/{d['end']}"
        links = " ".join(
            f'<a href="{html.escape(rel)}/{html.escape(f)}">{html.escape(f)}</a>' for f in d.get("files", [])
        )
        status = "ok" if d.get("ok") else "PROBLEMS: " + "; ".join(d.get("problems", []))
        body.append(
            f"<tr><td>{html.escape(d['period'])}</td><td>{html.escape(d['start'])}</td>"
            f"<td>{html.escape(d['end'])}</td><td class=\"{'ok' if d.get('ok') else 'bad'}\">"
            f"{html.escape(status)}</td><td>{html.escape(d.get('generated_at', ''))}</td><td>{links}</td></tr>"
        )
    page = (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>quantdb reports</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:3px 8px}.bad{background:#fff3cd;font-weight:bold}</style>"
        "</head><body><h1>quantdb reports</h1><table><tr><th>period</th><th>from</th><th>to</th>"
        "<th>status</th><th>generated (UTC)</th><th>files</th></tr>" + "".join(body) + "</table></body></html>\n"
    )
    path = out / "index.html"
    write_atomic(path, page, what="report")
    return path


def run_report(
    db: Database,
    out: str | Path,
    *,
    period: str,
    track: bool = False,
    max_stale_days: int = 3,
    today: object | None = None,
) -> ScheduledReport:
    """Write every report of ``period`` into ``out/<period>/<end>/`` and refresh the index.

    Parameters
    ----------
    db : the database (written only with ``track``).
    out : the reports folder (created if missing).
    period : ``"daily"``, ``"weekly"`` or ``"monthly"``, ending at the newest price.
    track : run `quantdb.services.live.tracking.track_update` first.
    max_stale_days : the newest price may be this many trading days older than ``today``.
    today : the day the report is made for (`quantdb.dates.parse_date`; default the machine's).

    Returns
    -------
    ScheduledReport
        ``problems`` lists every failed check; the folder is written either way.
    """
    from quantdb.services.live.performance import latest_date
    from quantdb.services.reports import data
    from quantdb.services.reports.bundle import build_bundle
    from quantdb.services.reports.dashboard import render_dashboard
    from quantdb.services.reports.excel import render_workbook
    from quantdb.services.reports.pdf import render_pdf
    from quantdb.services.reports.tearsheet import write_tearsheet

    period_bounds(period, dt.date(2000, 1, 3))  # refuses an unknown period before any work
    if max_stale_days < 0:
        msg = f"--max-stale-days must be >= 0, got {max_stale_days}"
        raise ArgumentError(msg)
    day = parse_date(today, name="--today") or dt.date.today()
    out = Path(out)
    make_folder(out, what="reports folder")
    with _exclusive(out):
        tracked = None
        if track:
            from quantdb.services.live.tracking import track_update

            tracked = to_jsonable(asdict(track_update(db)))
        with db.reader() as conn:
            newest = latest_date(conn)
        end = dt.date.fromisoformat(newest)
        start, _ = period_bounds(period, end)
        problems: list[str] = []
        age = int(np.busday_count(end + dt.timedelta(days=1), day + dt.timedelta(days=1))) if day > end else 0
        if age > max_stale_days:
            problems.append(f"stale prices: the newest price is {newest}, {age} trading days before {day} "
                            f"(allowed {max_stale_days}); import new prices")
        health = db.check()
        problems.extend(f"integrity: {p}" for p in health.problems)
        strategies: dict[str, dict[str, Any]] = {}
        returns = data.all_strategy_returns(db)
        for name in data.live_strategy_names(db):
            figures = _period_figures(returns[name], start, end) if name in returns else None
            if figures is None:
                problems.append(f"strategy {name!r} has no data between {start} and {end}")
            else:
                strategies[name] = figures

        final = out / period / end.isoformat()
        with atomic_folder(final, what="report folder", replace=True) as tmp:  # a re-run replaces it whole
            bundle = replace(build_bundle(db), notices=tuple(problems))
            files = ["dashboard.html", "report.xlsx", "report.pdf"]
            write_atomic(tmp / "dashboard.html", render_dashboard(bundle), what="report")
            render_workbook(bundle, tmp / "report.xlsx")
            render_pdf(bundle, tmp / "report.pdf")
            for name in strategies:
                fname = f"tearsheet-{_safe_name(name)}.html"
                with contextlib.suppress(NotFound):  # fewer than two days of returns in all
                    write_tearsheet(db, tmp / fname, strategy=name)
                    files.append(fname)
            report = ScheduledReport(
                period=period, start=start.isoformat(), end=end.isoformat(), folder=str(final.absolute()),
                generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                problems=problems, files=[*files, "summary.json"], strategies=strategies, tracked=tracked,
            )
            write_atomic(tmp / "summary.json", json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n", what="report")
        write_index(out)
    return report
