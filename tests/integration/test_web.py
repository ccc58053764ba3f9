"""The web interface through Starlette's TestClient: pages, sorting and filtering, the legacy
JSON endpoints (read back by the migrator to the same records), and security: injection and
traversal payloads and a foreign Host header get 4xx and leave the database unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pypdf
import pytest
from report_fixtures import FORMULA_NOTES, build_report_db, table_checksum
from starlette.testclient import TestClient

from quantdb.web.app import MAX_LIMIT, TRADE_SORT, create_app

LEGACY_SAMPLE = Path(__file__).parents[1] / "fixtures" / "legacy_sample"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("web")
    db = build_report_db(root / "quant.db")
    db.close()
    app = create_app(root / "quant.db")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, root / "quant.db"
    app.state.db.close()


def _cells(html: str, table_id: str) -> list[list[str]]:
    import re

    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.DOTALL)
    return [re.findall(r"<td[^>]*>(.*?)</td>", r, re.DOTALL) for r in rows]


def test_pages_render(site):
    client, _ = site
    for url in ("/", "/trades", "/backtests", "/strategy/momentum", "/api/live.json"):
        res = client.get(url)
        assert res.status_code == 200, url
    home = client.get("/").text
    assert 'id="live-table"' in home and 'id="positions-table"' in home and "setInterval(refreshLive" in home
    live = client.get("/api/live.json").json()
    assert len(live["open_positions"]) == 4 and {r[0] for r in live["live"]} == {"momentum", "mean_reversion"}
    page = client.get("/strategy/momentum").text
    assert 'id="tradestats"' in page and 'src="/static/plotly.min.js"' in page
    assert client.get("/static/plotly.min.js").status_code == 200


def test_trade_log_sort_and_filter(site):
    client, _ = site
    res = client.get("/trades", params={"sort": "pnl", "dir": "desc", "status": "CLOSED", "limit": 500})
    assert res.status_code == 200
    rows = _cells(res.text, "trade-log")
    pnl_i = list(TRADE_SORT).index("pnl")
    pnl = [float(r[pnl_i].replace(",", "")) for r in rows]
    assert pnl == sorted(pnl, reverse=True) and len(pnl) == 44
    assert {r[list(TRADE_SORT).index("status")] for r in rows} == {"CLOSED"}
    res = client.get("/trades", params={"ticker": "aapl", "side": "long"})
    rows = _cells(res.text, "trade-log")
    assert rows and {(r[2], r[3]) for r in rows} == {("AAPL", "long")}
    res = client.get("/trades", params={"limit": 10**6})
    assert f'<option value="{MAX_LIMIT}" selected>' in res.text  # capped


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "pnl; DROP TABLE trades"},
        {"sort": "1"},
        {"sort": "(SELECT 1)"},
        {"dir": "desc; DELETE FROM trades"},
        {"status": "CLOSED' OR '1'='1"},
        {"ticker": "AAPL' OR 1=1 --"},
        {"strategy": "x'); DELETE FROM trades; --"},
        {"side": "long' UNION SELECT * FROM sqlite_master --"},
        {"limit": "-1"},
        {"limit": "10 OR 1=1"},
        {"offset": "0; DROP TABLE trades"},
    ],
)
def test_injection_payloads_are_refused(site, params):
    client, path = site
    before = table_checksum(path)
    res = client.get("/trades", params=params)
    assert 400 <= res.status_code < 500
    assert table_checksum(path) == before


@pytest.mark.parametrize(
    "url",
    [
        "/download/..%2F..%2Fetc%2Fpasswd",
        "/download/../../quant.db",
        "/download/quant.db",
        "/download/%2Fetc%2Fpasswd",
        "/download/quantdb-report.xlsx%00.pdf",
        "/tearsheet/backtest/1%20OR%201=1",
        "/tearsheet/strategy/..%2F..%2Fetc",
        "/tearsheet/file/1",
        "/strategy/momentum'%20OR%20'1'='1",
        "/api/volume_leaders_..%2F..%2Fquant.json",
        "/api/volume_leaders_hourly.json",
    ],
)
def test_traversal_payloads_are_refused(site, url):
    client, path = site
    before = table_checksum(path)
    res = client.get(url)
    assert 400 <= res.status_code < 500, (url, res.status_code)
    assert "root:" not in res.text
    assert table_checksum(path) == before


def test_foreign_host_and_writes_are_refused(site):
    client, path = site
    before = table_checksum(path)
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/trades_data.json", headers={"Host": "attacker.test:8765"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/trades").status_code == 405
        assert getattr(client, method)("/api/trades_data.json").status_code == 405
    assert table_checksum(path) == before


def test_downloads_are_named_by_the_server(site, tmp_path):
    client, _ = site
    res = client.get("/download/quantdb-report.xlsx")
    assert res.status_code == 200
    assert res.headers["content-disposition"] == 'attachment; filename="quantdb-report.xlsx"'
    (tmp_path / "r.xlsx").write_bytes(res.content)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    trades = wb["Trades"]
    notes = {row[-1].value for row in trades.iter_rows(min_row=2) if row[-1].value is not None}
    assert set(FORMULA_NOTES) <= notes
    res = client.get("/download/quantdb-report.pdf")
    assert res.status_code == 200 and res.content.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(res.content)
    assert len(pypdf.PdfReader(tmp_path / "r.pdf").pages) > 5


def test_legacy_endpoint_shapes(site):
    client, _ = site
    preds = client.get("/api/predictions_data.json").json()
    assert set(preds) == {"predictions", "last_updated"} and len(preds["predictions"]) == 48
    p = preds["predictions"][0]
    assert {"id", "date", "strategy", "ticker", "position", "confidence", "target", "stop_loss", "timeframe",
            "entry_price", "status"} <= set(p)
    assert isinstance(p["id"], int)  # integer legacy ids stay integers
    assert preds["predictions"][0]["model_version"] == "v1"  # undocumented field kept
    trades = client.get("/api/trades_data.json").json()
    assert isinstance(trades, list) and len(trades) == 49
    assert {"trade_id", "prediction_id", "ticker", "side", "entry_date", "entry_price", "shares", "exit_date",
            "exit_price", "status", "pnl", "fees"} <= set(trades[0])
    assert {t.get("notes") for t in trades} >= set(FORMULA_NOTES)
    for tf, key in (("daily", "symbol"), ("weekly", "symbol"), ("monthly", "ticker")):
        doc = client.get(f"/api/volume_leaders_{tf}.json").json()
        assert set(doc) == {"timeframe", "updated", "leaders"} and doc["timeframe"] == tf
        first = next(iter(doc["leaders"].values()))
        assert [e["rank"] for e in first] == [1, 2, 3, 4, 5] and key in first[0]


PRED_SQL = (
    "SELECT p.legacy_id, p.date, p.timestamp, s.name, k.symbol, p.position, p.confidence, p.target, p.stop_loss, "
    "p.timeframe, p.timeframe_days, p.entry_price, p.status, p.extra FROM predictions p "
    "JOIN strategies s ON s.id = p.strategy_id JOIN tickers k ON k.id = p.ticker_id ORDER BY p.legacy_id"
)
TRADE_SQL = (
    "SELECT t.legacy_id, COALESCE(p.legacy_id, t.prediction_legacy_id), k.symbol, t.side, t.entry_date, "
    "t.entry_price, t.shares, t.exit_date, t.exit_price, t.status, t.pnl, t.fees, t.extra FROM trades t "
    "JOIN tickers k ON k.id = t.ticker_id LEFT JOIN predictions p ON p.id = t.prediction_id ORDER BY t.legacy_id"
)
LEADER_SQL = (
    "SELECT v.timeframe, v.date, v.rank, k.symbol, v.volume, v.price, v.extra FROM volume_leaders v "
    "JOIN tickers k ON k.id = v.ticker_id ORDER BY v.timeframe, v.date, v.rank"
)


def _records(db, sql):
    return [tuple(json.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in r) for r in db.query(sql)]


def test_legacy_endpoints_migrate_back_to_the_same_records(tmp_path):
    from quantdb.services.records.migrate import migrate_folder
    from quantdb.storage.sqlite import Database

    src = Database(tmp_path / "a.db")
    migrate_folder(src, LEGACY_SAMPLE, backup_dir=tmp_path)
    app = create_app(src.path)
    out = tmp_path / "served"
    out.mkdir()
    with TestClient(app, base_url="http://localhost") as client:
        for name in ("predictions_data.json", "trades_data.json", "volume_leaders_daily.json",
                     "volume_leaders_weekly.json", "volume_leaders_monthly.json"):
            res = client.get(f"/api/{name}")
            assert res.status_code == 200
            (out / name).write_bytes(res.content)
    app.state.db.close()
    dst = Database(tmp_path / "b.db")
    report = migrate_folder(dst, out, backup_dir=tmp_path)
    assert report.totals.quarantined == 0
    for sql in (PRED_SQL, TRADE_SQL, LEADER_SQL):
        a, b = _records(src, sql), _records(dst, sql)
        assert len(a) > 100 and a == b
    src.close()
    dst.close()
