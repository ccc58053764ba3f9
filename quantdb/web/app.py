"""`quantdb serve`: a small read-only Starlette application on 127.0.0.1.

Security, by construction:

* every query runs on a ``mode=ro`` connection with ``PRAGMA query_only`` (``Database.reader``),
  and every value is bound; the app never opens the writer;
* sort and filter columns come from allow-lists; filter values are checked (a bad one is a
  400) and bound; limits are capped (`MAX_LIMIT`);
* a Host-header allow-list (``TrustedHostMiddleware``: 127.0.0.1, localhost) refuses DNS
  rebinding (a foreign host name gets 400);
* downloads are named by the server: only the two fixed names exist, the file is generated in
  a private temporary folder and no part of the request reaches the file system;
* only GET (and HEAD) routes exist: anything else is 405.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from quantdb.errors import ArgumentError, NotFound, QuantdbError
from quantdb.services.reports import analysis, charts, data
from quantdb.services.reports.analysis import SUMMARY_METRICS, TRADE_METRICS
from quantdb.services.reports.bundle import COLUMN_KINDS, fmt
from quantdb.services.reports.dashboard import html_table, metric_table
from quantdb.storage.migrations import require_known_schema
from quantdb.storage.sqlite import Database
from quantdb.web import legacy, templates

ALLOWED_HOSTS = ("127.0.0.1", "localhost")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
REFRESH_MS = 15_000

#: Trade-log columns shown, and the SQL expression each sorts by (the only sortable names).
TRADE_SORT = {
    "id": "t.id", "strategy": "s.name", "ticker": "k.symbol", "side": "t.side", "status": "t.status",
    "entry_date": "t.entry_date", "entry_price": "t.entry_price", "shares": "t.shares",
    "exit_date": "t.exit_date", "exit_price": "t.exit_price", "pnl": "COALESCE(t.pnl, t.pnl_computed)",
    "fees": "t.fees",
}
STATUSES = ("OPEN", "CLOSED", "CANCELLED")
SIDES = ("long", "short")
_TICKER = re.compile(r"^[A-Za-z0-9.\-]{1,12}$")
_STRATEGY = re.compile(r"^[a-z0-9_.\- ]{1,64}$")
DOWNLOADS = {
    "quantdb-report.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "quantdb-report.pdf": "application/pdf",
}


def _bad(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


_WHOLE = re.compile(r"[0-9]{1,12}")


def whole_number(text: str) -> int | None:
    """``text`` as a whole number when it is 1 to 12 ASCII digits, else None: the one reading
    of every number in a URL (``str.isdigit`` also accepts ``"²"``, which ``int`` refuses)."""
    return int(text) if _WHOLE.fullmatch(text) else None


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = whole_number(raw)
    if value is None:
        raise _bad(f"{name} must be a whole number in {lo}..{hi}")
    return max(lo, min(hi, value))


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _strategy_or_404(db: Database, name: str) -> str:
    if not _STRATEGY.match(name) or name not in data.strategy_names(db):
        raise HTTPException(status_code=404, detail="no such strategy")
    return name


# ------------------------------------------------------------------------------- pages
def dashboard(request: Request) -> HTMLResponse:
    db = _db(request)
    leaders = [(tf, html_table(data.volume_leaders(db, tf), table_id=f"leaders-{tf}")) for tf in legacy.TIMEFRAMES]
    page = templates.render(
        "dashboard", title="Dashboard", refresh_ms=REFRESH_MS, as_of=db.scalar("SELECT max(date) FROM price_history"),
        live=html_table(data.live_performance(db), table_id="live-table"),
        positions=html_table(data.open_positions(db), table_id="positions-table"),
        backtests=html_table(data.latest_backtests(db, limit=10).drop(columns=["params"]), table_id="backtests-table"),
        sweeps=html_table(data.latest_sweeps(db, limit=10), table_id="sweeps-table"),
        leaders=leaders, strategies=data.live_strategy_names(db), backtested=_backtested(db),
    )
    return HTMLResponse(page)


def _backtested(db: Database) -> list[tuple[str, int]]:
    """Each backtested strategy with its newest stored backtest (whose tearsheet exists)."""
    frame = data.latest_backtests(db, limit=MAX_LIMIT)
    newest: dict[str, int] = {}
    for name, bid in zip(frame["strategy"], frame["id"], strict=True):
        newest.setdefault(str(name), int(bid))
    return sorted(newest.items())


def _rows(frame: Any) -> list[list[str]]:
    return [
        [fmt(v, COLUMN_KINDS.get(str(c), "auto")) for c, v in zip(frame.columns, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]


def live_json(request: Request) -> JSONResponse:
    db = _db(request)
    return JSONResponse({
        "as_of": db.scalar("SELECT max(date) FROM price_history"),
        "live": _rows(data.live_performance(db)),
        "open_positions": _rows(data.open_positions(db)),
    })


def strategy_page(request: Request) -> HTMLResponse:
    db = _db(request)
    name = _strategy_or_404(db, request.path_params["name"])
    trades = data.trade_log(db, strategy=name)
    hist = data.performance_history(db)
    hist = hist[hist["strategy"] == name]
    context: dict[str, Any] = {"summary": "", "drawdowns": "", "monthly": "", "charts": []}
    try:
        returns = data.strategy_returns(db, name).dropna()
    except NotFound:
        returns = None
    if returns is not None and len(returns) >= 2:
        try:
            bench = data.benchmark_returns(db)
        except NotFound:
            bench = None
        dd = analysis.drawdown_analysis(returns)
        monthly = analysis.monthly_returns(returns)
        context = {
            "summary": metric_table(analysis.summary_table(returns, bench), SUMMARY_METRICS, "summary"),
            "drawdowns": html_table(dd.table, table_id="drawdowns"),
            "monthly": html_table(monthly, kinds={c: "pct" for c in monthly.columns}, index=True, table_id="monthly"),
            "charts": [
                charts.to_div(charts.equity_figure(analysis.equity_vs_benchmark(returns, bench), "Equity vs SPY"), "eq"),
                charts.to_div(charts.underwater_figure(dd.underwater, "Underwater"), "uw"),
                charts.to_div(charts.rolling_figure(analysis.rolling_stats(returns, bench), "Rolling Sharpe and beta"),
                              "roll"),
            ],
        }
    page = templates.render(
        "strategy", title=f"Strategy {name}", name=name,
        tradestats=metric_table(analysis.trade_statistics(trades), TRADE_METRICS, "tradestats"),
        history=html_table(hist, table_id="history"), **context,
    )
    return HTMLResponse(page)


def trades_page(request: Request) -> HTMLResponse:
    db = _db(request)
    q = request.query_params
    sort = q.get("sort") or "entry_date"
    if sort not in TRADE_SORT:
        raise _bad(f"sort must be one of {sorted(TRADE_SORT)}")
    direction = q.get("dir") or "asc"
    if direction not in ("asc", "desc"):
        raise _bad("dir must be asc or desc")
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    f = {k: (q.get(k) or None) for k in ("strategy", "ticker", "status", "side")}
    where, params = [], []
    if f["strategy"] is not None:
        if not _STRATEGY.match(f["strategy"]):
            raise _bad("strategy: expected a strategy name")
        where.append("s.name = ?")
        params.append(f["strategy"])
    if f["ticker"] is not None:
        if not _TICKER.match(f["ticker"]):
            raise _bad("ticker: expected a ticker symbol such as AAPL or BRK.B")
        f["ticker"] = f["ticker"].upper()
        where.append("k.symbol = ?")
        params.append(f["ticker"])
    if f["status"] is not None:
        if f["status"] not in STATUSES:
            raise _bad(f"status must be one of {STATUSES}")
        where.append("t.status = ?")
        params.append(f["status"])
    if f["side"] is not None:
        if f["side"] not in SIDES:
            raise _bad(f"side must be one of {SIDES}")
        where.append("t.side = ?")
        params.append(f["side"])
    base = (
        " FROM trades t JOIN tickers k ON k.id = t.ticker_id LEFT JOIN predictions p ON p.id = t.prediction_id "
        "LEFT JOIN strategies s ON s.id = p.strategy_id" + (" WHERE " + " AND ".join(where) if where else "")
    )
    total = db.scalar("SELECT count(*)" + base, params)
    order = f"{TRADE_SORT[sort]} {direction.upper()} NULLS LAST, t.id {direction.upper()}"
    select = ", ".join(TRADE_SORT.values())
    rows = db.query(f"SELECT {select}{base} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])
    columns = list(TRADE_SORT)
    kept = {k: v for k, v in f.items() if v}
    sort_links = {}
    for c in columns:
        new_dir = "desc" if (c == sort and direction == "asc") else "asc"
        sort_links[c] = "/trades?" + urlencode({**kept, "sort": c, "dir": new_dir, "limit": limit})
    here = {**kept, "sort": sort, "dir": direction, "limit": limit}
    prev_link = "/trades?" + urlencode({**here, "offset": max(0, offset - limit)}) if offset > 0 else None
    next_link = "/trades?" + urlencode({**here, "offset": offset + limit}) if offset + limit < total else None
    text_rows = [[fmt(v, COLUMN_KINDS.get(c, "auto")) for c, v in zip(columns, r, strict=True)] for r in rows]
    page = templates.render(
        "trades", title="Trade log", columns=columns, rows=text_rows, sort=sort, dir=direction, limit=limit,
        offset=offset, total=total, f=f, strategies=data.live_strategy_names(db), statuses=STATUSES, sides=SIDES,
        sort_links=sort_links, prev_link=prev_link, next_link=next_link, page=offset // limit + 1,
        pages=max(1, -(-total // limit)), page_sizes=sorted({25, 50, DEFAULT_LIMIT, MAX_LIMIT, limit}),
    )
    return HTMLResponse(page)


def backtests_page(request: Request) -> HTMLResponse:
    db = _db(request)
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    frame = data.latest_backtests(db, limit=limit).drop(columns=["params"])
    rows = [{"id": int(r[0]), "cells": cells} for r, cells in zip(frame.itertuples(index=False), _rows(frame),
                                                                    strict=True)]
    page = templates.render(
        "backtests", title="Backtests", columns=list(frame.columns), rows=rows,
        sweeps=html_table(data.latest_sweeps(db, limit=limit), table_id="sweeps"),
    )
    return HTMLResponse(page)


def tearsheet_page(request: Request) -> HTMLResponse:
    from quantdb.services.reports.tearsheet import write_tearsheet

    db = _db(request)
    kind = request.path_params["kind"]
    key = request.path_params["key"]
    with tempfile.TemporaryDirectory(prefix="quantdb-web-") as tmp:
        out = Path(tmp) / "tearsheet.html"
        backtest_id = whole_number(key)
        try:
            if kind == "strategy":
                write_tearsheet(db, out, strategy=_strategy_or_404(db, key))
            elif kind == "backtest" and backtest_id is not None:
                write_tearsheet(db, out, backtest_id=backtest_id)
            else:
                raise HTTPException(status_code=404, detail="no such tearsheet")
        except NotFound as exc:  # no such strategy or backtest, or nothing to show (no trades)
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except QuantdbError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return HTMLResponse(out.read_text(encoding="utf-8"))


def download(request: Request) -> Response:
    from quantdb.services.reports.bundle import build_bundle
    from quantdb.services.reports.excel import render_workbook
    from quantdb.services.reports.pdf import render_pdf

    name = request.path_params["name"]
    if name not in DOWNLOADS:
        raise HTTPException(status_code=404, detail="no such download")
    bundle = build_bundle(_db(request))
    with tempfile.TemporaryDirectory(prefix="quantdb-web-") as tmp:
        out = Path(tmp) / name  # name is one of the two keys of DOWNLOADS
        (render_workbook if name.endswith(".xlsx") else render_pdf)(bundle, out)
        body = out.read_bytes()
    return Response(body, media_type=DOWNLOADS[name],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def predictions_json(request: Request) -> JSONResponse:
    return JSONResponse(legacy.predictions_document(_db(request)))


def trades_json(request: Request) -> JSONResponse:
    return JSONResponse(legacy.trades_document(_db(request)))


def leaders_json(request: Request) -> JSONResponse:
    tf = request.path_params["tf"]
    if tf not in legacy.TIMEFRAMES:
        raise HTTPException(status_code=404, detail="no such timeframe")
    return JSONResponse(legacy.leaders_document(_db(request), tf))


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    return charts.plotly_js().encode()


def plotly_js(request: Request) -> Response:
    return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    page = templates.render("error", title=f"Error {exc.status_code}", message=exc.detail)
    return HTMLResponse(page, status_code=exc.status_code)


def create_app(db_path: str | Path, *, allowed_hosts: tuple[str, ...] = ALLOWED_HOSTS) -> Starlette:
    """The read-only web application over the database at ``db_path``.

    Raises
    ------
    NotFound
        The database file does not exist (the app never creates one).
    DatabaseError
        The path is a folder or not SQLite, or its schema is newer than this quantdb.
    """
    path = Path(db_path)
    if not path.is_file():
        msg = f"{path}: no such database; create it with `quantdb init`"
        raise NotFound(msg)
    routes = [
        Route("/", dashboard),
        Route("/strategy/{name}", strategy_page),
        Route("/trades", trades_page),
        Route("/backtests", backtests_page),
        Route("/tearsheet/{kind}/{key}", tearsheet_page),
        Route("/download/{name}", download),
        Route("/static/plotly.min.js", plotly_js),
        Route("/api/live.json", live_json),
        Route("/api/predictions_data.json", predictions_json),
        Route("/api/trades_data.json", trades_json),
        Route("/api/volume_leaders_{tf}.json", leaders_json),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))],
        exception_handlers={HTTPException: http_error},
    )
    database = Database(path)
    try:
        require_known_schema(database)  # refuse now rather than answer 500 to every page
    except BaseException:
        database.close()
        raise
    app.state.db = database
    return app


def serve(
    db_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    on_start: Callable[[], None] | None = None,
) -> None:
    """Run the app with uvicorn until interrupted (loopback only).

    The host and the database are checked first; ``on_start()`` is called once both are good,
    just before serving (the CLI prints its "serving ..." line there).
    """
    import uvicorn

    if host not in ("127.0.0.1", "localhost"):
        msg = f"--host must be 127.0.0.1 or localhost (the web interface binds the loopback interface only), got {host!r}"
        raise ArgumentError(msg)
    app = create_app(db_path)
    _require_free_port(host, port)
    if on_start is not None:
        on_start()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _require_free_port(host: str, port: int) -> None:
    """Refuse a port another process listens on, in one line (uvicorn would log it and exit 1)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what holds it or choose another --port"
            raise ArgumentError(msg) from None
