"""The web interface in headless Chromium (Debian's ``chromium``, driven by Playwright).

`quantdb serve`'s app runs under uvicorn on a free 127.0.0.1 port in a background thread; the
test loads the dashboard and the trade log, clicks a sort, applies a filter, checks that the
table changed accordingly, and takes screenshots. A backtest's plot saved as one HTML file is
opened from disk and must draw its trades without any request. Skipped when /usr/bin/chromium is missing,
unless QUANTDB_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from report_fixtures import PRICE_DIR, build_report_db, table_checksum

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists():
    if os.environ.get("QUANTDB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and QUANTDB_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    import uvicorn

    from quantdb.web.app import create_app

    root = tmp_path_factory.mktemp("browser")
    build_report_db(root / "quant.db").close()
    port = _free_port()
    app = create_app(root / "quant.db")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", root
    srv.should_exit = True
    thread.join(timeout=10)
    app.state.db.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.requests = requests  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _column(page, name: str) -> list[str]:
    headers = page.locator("#trade-log thead th").all_inner_texts()
    idx = next(i for i, h in enumerate(headers) if h.split(" ")[0].strip() == name)
    return page.locator(f"#trade-log tbody tr td:nth-child({idx + 1})").all_inner_texts()


def test_dashboard_loads_offline_and_refreshes(server, page):
    base, root = server
    before = table_checksum(root / "quant.db")
    page.goto(base + "/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("#live-table tbody tr").count() == 2
    assert page.locator("#positions-table tbody tr").count() == 4
    # the live poll rebuilds the tables from /api/live.json with the same rows
    page.evaluate("refreshLive()")
    page.wait_for_function("document.querySelectorAll('#positions-table tbody tr').length === 4")
    page.screenshot(path=str(root / "dashboard.png"), full_page=False)
    assert (root / "dashboard.png").stat().st_size > 10_000
    assert all(u.startswith(base) for u in page.requests), "the page loaded something from elsewhere"
    assert table_checksum(root / "quant.db") == before


def test_trade_log_sort_and_filter(server, page):
    base, root = server
    page.goto(base + "/trades?limit=500")
    n_all = page.locator("#trade-log tbody tr").count()
    assert n_all == 49
    page.locator('#trade-log a.sort[data-col="pnl"]').click()
    page.wait_for_url("**sort=pnl**")
    pnl = [float(v.replace(",", "")) for v in _column(page, "pnl") if v]
    assert pnl == sorted(pnl) and len(pnl) == 44  # 43 closed + the manual one
    page.locator('#trade-log a.sort[data-col="pnl"]').click()  # again: descending
    page.wait_for_url("**dir=desc**")
    pnl_desc = [float(v.replace(",", "")) for v in _column(page, "pnl") if v]
    assert pnl_desc == sorted(pnl, reverse=True)
    page.select_option('select[name="status"]', "OPEN")
    page.select_option('select[name="strategy"]', "momentum")
    page.locator("#apply").click()
    page.wait_for_url("**status=OPEN**")
    assert set(_column(page, "status")) == {"OPEN"}
    assert set(_column(page, "strategy")) == {"momentum"}
    assert page.locator("#trade-log tbody tr").count() == 2
    page.screenshot(path=str(root / "trades.png"), full_page=True)
    assert (root / "trades.png").stat().st_size > 10_000
    if os.environ.get("QUANTDB_SCREENSHOT_DIR"):
        dest = Path(os.environ["QUANTDB_SCREENSHOT_DIR"])
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("dashboard.png", "trades.png"):
            (dest / name).write_bytes((root / name).read_bytes())


def test_home_labels_live_and_backtested_strategies_and_their_tearsheets_open(server, page):
    base, _ = server
    page.goto(base + "/")
    live = page.locator("#live-strategies").inner_text()
    assert "momentum (live)" in live
    backtested = page.locator("#backtested-strategies")
    for link in page.locator("#live-strategies a, #backtested-strategies a").all():
        href = link.get_attribute("href")
        if href and href.startswith("/tearsheet/"):
            assert page.request.get(base + href).status == 200, href  # no 404 for any listed tearsheet
    assert "(backtest)" in backtested.inner_text() or "none stored" in backtested.inner_text()


def test_trade_log_pages_keep_sort_and_filter(server, page):
    base, _ = server
    page.goto(base + "/trades?limit=25&sort=pnl&dir=desc&status=CLOSED")
    first = _column(page, "id")
    assert len(first) == 25 and "page 1 of" in page.locator("#count").inner_text()
    page.locator("#next").click()
    page.wait_for_url("**offset=25**")
    assert "sort=pnl" in page.url and "dir=desc" in page.url and "status=CLOSED" in page.url
    second = _column(page, "id")
    assert second and not set(first) & set(second)
    assert set(_column(page, "status")) == {"CLOSED"}
    page.locator("#prev").click()
    page.wait_for_url("**offset=0**")
    assert _column(page, "id") == first
    page.select_option("#page-size", "50")
    page.locator("#apply").click()
    page.wait_for_url("**limit=50**")
    assert page.locator("#trade-log tbody tr").count() <= 50


def test_strategy_page_draws_its_charts(server, page):
    base, _ = server
    page.goto(base + "/strategy/momentum")
    page.wait_for_selector("#eq .main-svg", timeout=20_000)  # plotly drew from /static/plotly.min.js
    assert page.locator("#tradestats tbody tr").count() > 5


def test_a_saved_backtest_plot_renders_offline(tmp_path_factory: pytest.TempPathFactory, page) -> None:
    """`qdb.save_html(result.plot(), path)` opened from disk: plotly draws it with no request
    (plotly.js is inline) and the entry/exit marker traces hold every trade of the ticker.
    (A page of its own in the module's browser: a second `sync_playwright` cannot start
    while the fixture's is running.)"""
    from quantdb.services.research.backtest import run_backtest
    from quantdb.services.research.plots import DIV_ID, save_html

    res = run_backtest("sma-cross", prices_file=PRICE_DIR / "AAPL.csv", store=False)
    out = save_html(res.plot(volume=True), tmp_path_factory.mktemp("plot") / "backtest.html")
    pg = page.context.new_page()
    try:
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(out.as_uri())
        pg.wait_for_selector(f"#{DIV_ID} .main-svg", timeout=20_000)
        counts = pg.evaluate(
            f"Object.fromEntries(document.getElementById('{DIV_ID}').data"
            ".map(t => [t.name, (t.x || []).length]))"
        )
        points = pg.locator(f"#{DIV_ID} .scatterlayer .trace .points path").count()
        pg.screenshot(path=str(out.with_suffix(".png")))
    finally:
        pg.close()
    assert counts["entries"] == counts["exits"] == len(res.trade_records) > 0
    assert counts["AAPL"] > 500 and counts["volume"] == counts["AAPL"]
    assert points >= 2 * len(res.trade_records)  # the markers were drawn, not only listed
    assert requests == [out.as_uri()], "the saved plot loaded something besides itself"
    assert out.with_suffix(".png").stat().st_size > 10_000
