"""The Excel report stores dates as dates in every sheet (not ISO text a spreadsheet cannot
sort or filter by date)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook

from quantdb.services.reports.excel import _is_date_column, write_workbook
from quantdb.storage.sqlite import Database


def test_every_date_column_of_every_sheet_holds_dates(sample_db: Path, tmp_path: Path) -> None:
    out = write_workbook(Database(sample_db), tmp_path / "r.xlsx")
    wb = load_workbook(out)
    checked = 0
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        for j, name in enumerate(header):
            if not isinstance(name, str) or not _is_date_column(name):
                continue
            for row in ws.iter_rows(min_row=2, min_col=j + 1, max_col=j + 1):
                value = row[0].value
                if value is None:
                    continue
                assert isinstance(value, date | datetime), (ws.title, name, value)
                checked += 1
    assert checked > 100  # the trade log's entry/exit dates at least


def test_pdf_tables_are_ruled_tables_with_a_coloured_monthly_grid(sample_db: Path, tmp_path: Path) -> None:
    """The PDF's tables are drawn as tables (shaded header, striped rows, one text a cell in a
    proportional font), and the monthly returns are coloured by sign: not monospaced lines."""
    from pypdf import PdfReader

    from quantdb.services.reports.pdf import write_pdf

    reader = PdfReader(write_pdf(Database(sample_db), tmp_path / "r.pdf"))
    monthly = next(p for p in reader.pages if "monthly returns" in (p.extract_text() or "").splitlines()[0])
    content = monthly.get_contents().get_data().decode("latin-1")
    assert content.count("\nf\n") >= 12  # a filled rectangle per shaded row and per coloured month
    fonts = {str(f.get_object()["/BaseFont"]) for f in monthly["/Resources"]["/Font"].values()}
    assert not any("Mono" in f for f in fonts), fonts
    assert "Jan" in monthly.extract_text() and "%" in monthly.extract_text()


def test_dashboard_has_a_table_of_contents_whose_anchors_exist(sample_db: Path, tmp_path: Path) -> None:
    import re

    from quantdb.services.reports.dashboard import write_dashboard

    html = write_dashboard(Database(sample_db), tmp_path / "d.html").read_text()
    toc = html[html.index('<nav id="toc">'):html.index("</nav>")]
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert {"live", "positions", "history", "backtests", "trades"} <= set(targets)
    ids = set(re.findall(r'<section[^>]* id="([^"]+)"', html))
    assert set(targets) <= ids


def test_underwater_ticks_are_not_rounded_into_duplicates() -> None:
    import pandas as pd

    from quantdb.services.reports.charts import underwater_figure

    shallow = pd.Series([0.0, -0.004, -0.011, -0.007, 0.0], index=pd.date_range("2020-01-01", periods=5))
    fig = underwater_figure(shallow, "Underwater")
    assert fig.layout.yaxis.tickformat == ".2~%"  # ".0%" printed -1%, -1%, -0%, -0%
