"""Reports: every file is opened and its content checked (xlsx with openpyxl, PDF with pypdf,
HTML parsed for tables, figures and network references); the same database gives the same
numbers in every format; the pieces agree with independent pandas / NumPy computations."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pypdf
import pytest
from report_fixtures import FORMULA_NOTES, build_report_db, table_checksum
from typer.testing import CliRunner

from quantdb.services.reports import analysis, data
from quantdb.services.reports.bundle import build_bundle, fmt
from quantdb.services.reports.dashboard import render_dashboard
from quantdb.services.reports.excel import render_workbook
from quantdb.services.reports.pdf import render_pdf
from quantdb.services.reports.tearsheet import write_tearsheet

NETWORK_REF = re.compile(
    r"<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One database and every report written from it once (QuantStats is slow)."""
    root = tmp_path_factory.mktemp("reports")
    db = build_report_db(root / "quant.db")
    before = table_checksum(db.path)
    bundle = build_bundle(db)
    html_path = root / "dashboard.html"
    html_path.write_text(render_dashboard(bundle), encoding="utf-8")
    xlsx = render_workbook(bundle, root / "report.xlsx")
    pdf = render_pdf(bundle, root / "report.pdf")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    fm_log = logging.getLogger("matplotlib.font_manager")
    old_level = fm_log.level
    fm_log.addHandler(handler)
    fm_log.setLevel(logging.WARNING)
    try:
        tear = write_tearsheet(db, root / "tearsheet.html", backtest_id=1)
    finally:
        fm_log.removeHandler(handler)
        fm_log.setLevel(old_level)
    yield {
        "db": db,
        "bundle": bundle,
        "html": html_path,
        "xlsx": xlsx,
        "pdf": pdf,
        "tear": tear,
        "font_logs": records,
        "before": before,
        "root": root,
    }
    db.close()


def test_reports_do_not_write_the_database(built):
    assert table_checksum(built["db"].path) == built["before"]


# ------------------------------------------------------------------------------- pieces
def test_monthly_returns_match_pandas_resample(rng):
    idx = pd.bdate_range("2021-01-15", "2022-03-10")
    r = pd.Series(rng.normal(0.0004, 0.01, len(idx)), index=idx)
    r.iloc[30:40] = np.nan  # a gap inside February 2021: flat
    table = analysis.monthly_returns(r)
    ref = (1 + r.fillna(0)).resample("ME").prod() - 1
    for ts, v in ref.items():
        assert table.loc[ts.year, analysis.MONTHS[ts.month - 1]] == pytest.approx(
            v, rel=1e-12, abs=1e-15
        )
    ref_year = (1 + r.fillna(0)).groupby(r.index.year).prod() - 1
    np.testing.assert_allclose(table["Year"].to_numpy(), ref_year.to_numpy(), rtol=1e-12)
    assert np.isnan(table.loc[2021, "Jan"]) is np.False_  # from the 15th: observed
    assert np.isnan(table.loc[2022, "Dec"])  # never observed: NaN, not 0


def test_drawdown_table_recovery_times_against_a_loop():
    idx = pd.bdate_range("2023-01-02", periods=9)
    r = pd.Series([0.10, -0.20, 0.05, 0.25, -0.05, -0.05, 0.02, 0.2, -0.01], index=idx)
    a = analysis.drawdown_analysis(r, top=3)
    # by hand: wealth 1.1, .88, .924, 1.155 (recovered day 3), 1.097, 1.042, 1.063, 1.276 (recovered), 1.263
    first = a.table.iloc[0]
    assert first["depth"] == pytest.approx(0.88 / 1.1 - 1)
    assert pd.Timestamp(first["valley"]) == idx[1] and pd.Timestamp(first["recovery"]) == idx[3]
    assert first["recovery_days"] == (idx[3] - idx[1]).days
    wealth = np.cumprod(1 + r.to_numpy())
    np.testing.assert_allclose(
        a.underwater.to_numpy(), wealth / np.maximum.accumulate(wealth) - 1, atol=1e-15
    )
    assert np.isnan(a.table.iloc[-1]["recovery_days"])  # the last one never recovered


def test_comparison_correlation_and_equity(rng):
    idx = pd.bdate_range("2022-01-03", periods=120)
    a = pd.Series(rng.normal(0, 0.01, 120), index=idx)
    b = pd.Series(0.5 * a.to_numpy() + rng.normal(0, 0.01, 120), index=idx)
    c = b.iloc[20:]  # starts later: correlation on the common dates
    cmp = analysis.compare_strategies({"a": a, "b": b, "c": c})
    assert cmp.correlation.loc["a", "b"] == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-12)
    assert cmp.correlation.loc["a", "c"] == pytest.approx(
        np.corrcoef(a.iloc[20:], c)[0, 1], rel=1e-12
    )
    assert cmp.equity["a"].iloc[-1] == pytest.approx(np.prod(1 + a.to_numpy()), rel=1e-12)
    assert cmp.metrics.loc["total_return", "c"] == pytest.approx(
        np.prod(1 + c.to_numpy()) - 1, rel=1e-12
    )


def test_equity_vs_benchmark_and_rolling(built):
    db = built["db"]
    r = data.backtest_returns(db, 1)
    spy = data.benchmark_returns(db)
    eq = analysis.equity_vs_benchmark(r, spy)
    assert eq["benchmark"].iloc[-1] == pytest.approx(
        np.prod(1 + spy.reindex(r.index).fillna(0).to_numpy()), rel=1e-12
    )
    roll = analysis.rolling_stats(r, spy, window=60)
    tail = r.iloc[-60:]
    assert roll["rolling_sharpe"].iloc[-1] == pytest.approx(
        tail.mean() / tail.std(ddof=1) * np.sqrt(252), rel=1e-9
    )
    bench = spy.reindex(r.index).iloc[-60:]
    beta = np.cov(tail, bench, ddof=1)[0, 1] / np.var(bench, ddof=1)
    assert roll["rolling_beta"].iloc[-1] == pytest.approx(beta, rel=1e-9)


def test_trade_log_and_open_positions(built):
    db = built["db"]
    log = data.trade_log(db)
    assert len(log) == db.scalar("SELECT count(*) FROM trades")
    assert set(FORMULA_NOTES) <= set(log["notes"].dropna())
    closed = log[log["status"] == "CLOSED"]
    np.testing.assert_allclose(
        closed["return_pct"], closed["pnl"] / (closed["entry_price"] * closed["shares"])
    )
    pos = data.open_positions(db)
    assert len(pos) == db.scalar("SELECT count(*) FROM trades WHERE status = 'OPEN'") == 4
    for row in pos.itertuples():
        last = db.scalar(
            "SELECT p.close FROM price_history p JOIN tickers k ON k.id = p.ticker_id WHERE k.symbol = ? "
            "ORDER BY p.date DESC LIMIT 1",
            (row.ticker,),
        )
        sign = 1 if row.side == "long" else -1
        assert row.unrealized_pnl == pytest.approx(
            sign * (last - row.entry_price) * row.shares - 2.0
        )


# ------------------------------------------------------------------------------- files
def test_excel_workbook_content(built):
    wb = openpyxl.load_workbook(built["xlsx"])
    assert {
        "Summary",
        "Strategies",
        "Trades",
        "Monthly returns",
        "Drawdowns",
        "Open positions",
    } <= set(wb.sheetnames)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
    trades = wb["Trades"]
    header = [c.value for c in trades[1]]
    notes_col = header.index("notes") + 1
    notes = [trades.cell(row=i, column=notes_col) for i in range(2, trades.max_row + 1)]
    kept = {c.value: c.data_type for c in notes if c.value is not None}
    assert set(FORMULA_NOTES) <= set(kept)
    assert all(t == "s" for t in kept.values())  # text, not formula ("f")
    assert trades.max_row - 1 == built["db"].scalar("SELECT count(*) FROM trades")
    pnl_col = header.index("pnl") + 1
    assert trades.cell(row=2, column=pnl_col).number_format == "#,##0.00"
    assert trades.cell(row=2, column=header.index("return_pct") + 1).number_format == "0.00%"
    positions = wb["Open positions"]
    assert positions.max_row - 1 == 4
    monthly = wb["Monthly returns"]
    assert [c.value for c in monthly[1]][:3] == ["series", "year", "Jan"]


def test_pdf_pages_and_text(built):
    reader = pypdf.PdfReader(built["pdf"])
    bundle = built["bundle"]
    text = "\n".join(p.extract_text() for p in reader.pages)
    n_trade_pages = -(-len(bundle.trades) // 28)
    assert len(reader.pages) >= 4 + 3 * len(bundle.series) + n_trade_pages
    assert f"Trade log (page {n_trade_pages} of {n_trade_pages})" in text
    for s in bundle.series:
        assert f"{s.name}: top drawdowns" in text
    assert "Open positions" in text and "Strategy comparison" in text


def test_dashboard_html_is_self_contained(built):
    html = built["html"].read_text(encoding="utf-8")
    assert NETWORK_REF.search(html) is None
    assert not re.search(r"<script[^>]+src=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]+href=", html, re.IGNORECASE)
    assert "Plotly.newPlot" in html and len(html) > 3_000_000  # plotly.js is inline
    bundle = built["bundle"]
    for tid in (
        "live-table",
        "positions-table",
        "comparison-table",
        "backtests-table",
        "sweeps-table",
        "leaders-daily",
        "leaders-weekly",
        "leaders-monthly",
        "trade-log",
    ):
        assert f'id="{tid}"' in html, tid
    assert html.count('class="series"') == len(bundle.series) >= 3
    for i in range(1, len(bundle.series) + 1):
        for div in (f"equity-{i}", f"uw-{i}", f"monthly-{i}", f"rolling-{i}"):
            assert f'id="{div}"' in html
    assert "hist-total_return" in html and "cmp-corr" in html


def test_monthly_tables_print_years_without_a_thousands_separator(built):
    # Issue 12: the dashboard's and the PDF's monthly tables printed the year as "2,015"
    html = built["html"].read_text(encoding="utf-8")
    pdf_text = "\n".join(p.extract_text() for p in pypdf.PdfReader(built["pdf"]).pages)
    years = sorted({int(y) for s in built["bundle"].series for y in s.monthly.index})
    assert years and years[0] >= 2000
    for i, s in enumerate(built["bundle"].series, start=1):
        table = html.split(f'id="monthly-table-{i}"', 1)[1].split("</table>", 1)[0]
        for y in s.monthly.index:
            assert f">{int(y)}</td>" in table
    for y in years:
        assert f"{y:,}" not in html
        assert re.search(rf"(?<![\d,]){y}(?![\d])", pdf_text)
        assert not re.search(rf"(?<![\d,]){y:,}(?![\d.])", pdf_text), y
    ws = openpyxl.load_workbook(built["xlsx"])["Monthly returns"]
    assert {c.value for c in ws["B"][1:]} == set(years)
    assert {c.number_format for c in ws["B"][1:]} == {"0"}
    assert (fmt(2013, "label"), fmt(2013, "int")) == ("2013", "2,013")


def test_same_numbers_in_every_format(built):
    bundle = built["bundle"]
    html = built["html"].read_text(encoding="utf-8")
    pdf_text = "\n".join(p.extract_text() for p in pypdf.PdfReader(built["pdf"]).pages)
    ws = openpyxl.load_workbook(built["xlsx"])["Summary"]
    header = [c.value for c in ws[1]]
    labels = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    for s in bundle.series:
        col = header.index(s.name)
        for key, label in (
            ("sharpe", "Sharpe"),
            ("total_return", "Total return"),
            ("max_drawdown", "Max drawdown"),
        ):
            value = s.summary[key]
            assert labels[label][col].value == pytest.approx(value, rel=1e-12)
            kind = "ratio" if key == "sharpe" else "pct"
            assert f'<td class="">{fmt(value, kind)}</td>' in html
            assert fmt(value, kind) in pdf_text
    # Rebuilt from the same database: the same bytes.
    again = render_dashboard(build_bundle(built["db"]))
    assert again == html


def test_tearsheet_offline_with_trade_stats_and_no_font_warnings(built):
    html = built["tear"].read_text(encoding="utf-8")
    assert NETWORK_REF.search(html) is None
    assert not re.search(r"<(?:a|link)\b[^>]*href=[\"']https?://", html, re.IGNORECASE)
    assert "Trade statistics (quantdb)" in html and "<svg" in html
    pnl = np.array(
        [r[0] for r in built["db"].query("SELECT pnl FROM backtest_trades WHERE backtest_id = 1")]
    )
    assert f"<td>Win rate</td><td>{fmt(float(np.mean(pnl > 0)), 'pct')}</td>" in html
    assert f"<td>Closed trades</td><td>{len(pnl)}</td>" in html
    assert "SPY" in html  # the benchmark came from the database
    found = [r.getMessage() for r in built["font_logs"] if "findfont" in r.getMessage()]
    assert found == []


def test_cli_report_commands(built, tmp_path):
    import json

    from quantdb.cli.app import app

    runner = CliRunner()
    db = str(built["db"].path)
    out = tmp_path / "r.xlsx"
    res = runner.invoke(app, ["report", "excel", str(out), "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"path": str(out.resolve())}
    assert (
        openpyxl.load_workbook(out).sheetnames == openpyxl.load_workbook(built["xlsx"]).sheetnames
    )
    res = runner.invoke(app, ["report", "tearsheet", str(tmp_path / "t.html"), "--db", db])
    assert res.exit_code == 2  # neither --strategy nor --backtest
    res = runner.invoke(
        app, ["report", "tearsheet", str(tmp_path / "t.html"), "--backtest", "999", "--db", db]
    )
    assert res.exit_code == 2 and "no backtest with id 999" in res.stderr


def test_all_strategy_returns_equal_one_call_per_strategy(tmp_path: Path) -> None:
    """The bundle's one-pass equity of every strategy equals each strategy computed alone."""
    db = build_report_db(tmp_path / "one-pass.db")
    together = data.all_strategy_returns(db)
    assert together, "the fixture has live strategies"
    for name, series in together.items():
        pd.testing.assert_series_equal(series, data.strategy_returns(db, name))


def test_history_from_equity_matches_the_strategy_returns(tmp_path: Path) -> None:
    """With fewer than two tracking snapshots the dashboard's history comes from daily equity:
    its total return is compounded returns to date, its drawdown the running worst."""
    from quantdb.services.reports.bundle import build_bundle
    from quantdb.services.reports.dashboard import history_from_equity

    bundle = build_bundle(build_report_db(tmp_path / "history.db"))
    frame = history_from_equity(bundle)
    live = [s for s in bundle.series if s.kind == "strategy"]
    assert live and set(frame["strategy"]) == {s.name for s in live}
    for s in live:
        part = frame[frame["strategy"] == s.name]
        wealth = np.cumprod(1.0 + np.nan_to_num(s.returns.to_numpy()))
        np.testing.assert_allclose(part["total_return"].to_numpy(), wealth - 1.0, rtol=1e-12)
        dd = part["max_drawdown"].to_numpy()
        assert np.all(np.diff(dd) <= 0) and dd.min() >= -1.0
