"""The Excel workbook (openpyxl): summary, strategies compared, trade log, monthly returns,
drawdowns and open positions, with number formats, frozen headers and filters.

No formula injection: every text cell is written with the string data type, so a legacy note
beginning with ``=``, ``+``, ``-`` or ``@`` stays text in Excel and LibreOffice (openpyxl
would otherwise store a string starting with ``=`` as a formula).
"""

from __future__ import annotations

import gc
import io
import math
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantdb._atomic import atomic_output
from quantdb.errors import OutputError
from quantdb.services.reports.analysis import SUMMARY_METRICS, TRADE_METRICS
from quantdb.services.reports.bundle import COLUMN_KINDS, ReportBundle, build_bundle
from quantdb.storage.sqlite import Database

NUMBER_FORMATS = {
    "pct": "0.00%",
    "money": "#,##0.00",
    "int": "#,##0",
    "label": "0",
    "ratio": "0.00",
    "price": "#,##0.00",
    "date": "yyyy-mm-dd",
}


_DATE_COLUMNS = frozenset({"date", "start", "end", "as_of", "test_start", "test_end", "train_start", "train_end"})


def _is_date_column(name: str) -> bool:
    """Columns that hold days or times (their ISO text is stored as a real Excel date)."""
    key = name.strip().lower()
    return key in _DATE_COLUMNS or key.endswith(("_date", "_at", "_day"))


def _as_date(value: str) -> date | datetime | str:
    """ISO ``YYYY-MM-DD`` -> date, ISO date-time (UTC ``Z`` or an offset) -> naive UTC datetime
    (Excel has no time zones); anything else stays text."""
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def _cell_value(value: Any) -> Any:
    """A Python value openpyxl can store: NaN / NaT -> empty, NumPy scalars -> Python."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime().date()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA:
        return None
    return value


def write_sheet(
    wb: Any,
    title: str,
    frame: pd.DataFrame,
    *,
    kinds: dict[str, str] | None = None,
    index: bool = False,
) -> Any:
    """Add one sheet: bold header row frozen, an autofilter over the data, per-column formats.

    Text cells are forced to the string type (``cell.data_type = "s"``), whatever their first
    character, so nothing in the data can become a formula.
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title=title[:31])
    df = frame.reset_index() if index else frame
    kinds = {**COLUMN_KINDS, **(kinds or {})}
    columns = [str(c) for c in df.columns]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=name)
        cell.data_type = "s"
        cell.font = Font(bold=True)
    for i, row in enumerate(df.itertuples(index=False, name=None), start=2):
        for j, (name, raw) in enumerate(zip(columns, row, strict=True), start=1):
            value = _cell_value(raw)
            if isinstance(value, str) and _is_date_column(name):
                value = _as_date(value)
            cell = ws.cell(row=i, column=j)
            if isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # never a formula, even for "=..."
            else:
                cell.value = value
                kind = kinds.get(name)
                if isinstance(value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                elif isinstance(value, date):
                    cell.number_format = NUMBER_FORMATS["date"]
                elif kind in NUMBER_FORMATS and isinstance(value, int | float):
                    cell.number_format = NUMBER_FORMATS[kind]
    ws.freeze_panes = "A2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(df) + 1)}"
        for j, name in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(j)].width = max(10, min(40, len(name) + 4))
    return ws


def _metric_frame(values: dict[str, dict[str, Any]], spec: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """metric label rows x series columns, values as numbers (formats set per row kind)."""
    rows = []
    for key, label, _ in spec:
        rows.append([label, *[values[name].get(key) for name in values]])
    return pd.DataFrame(rows, columns=["metric", *values.keys()])


def _format_metric_rows(ws: Any, spec: Sequence[tuple[str, str, str]]) -> None:
    for i, (_, _, kind) in enumerate(spec, start=2):
        for cell in ws[i][1:]:
            if isinstance(cell.value, int | float) and kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[kind]


def _release_quietly(exc: BaseException) -> None:
    """Free the frames of a failed ``wb.save`` now, without a second report of the same error.

    openpyxl's sheet writer is a generator left open by the failure; when it is collected, lxml
    raises the same write error again, which Python prints as "Exception ignored in ...".
    """
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _: None
    try:
        traceback.clear_frames(exc.__traceback__)
        gc.collect()
    finally:
        sys.unraisablehook = hook


def render_workbook(b: ReportBundle, out: str | Path) -> Path:
    """Write the workbook of a bundle to ``out`` (``.xlsx``)."""
    from openpyxl import Workbook

    out = Path(out)
    wb = Workbook()
    wb.remove(wb.active)
    summary = {s.name: s.summary for s in b.series}
    ws = write_sheet(wb, "Summary", _metric_frame(summary, SUMMARY_METRICS))
    _format_metric_rows(ws, SUMMARY_METRICS)
    stats = {s.name: s.trade_stats for s in b.series} | {"all live trades": b.trade_stats}
    ws = write_sheet(wb, "Trade stats", _metric_frame(stats, TRADE_METRICS))
    _format_metric_rows(ws, TRADE_METRICS)
    write_sheet(wb, "Strategies", b.live)
    if b.comparison is not None:
        write_sheet(wb, "Correlation", b.comparison.correlation, index=True,
                    kinds={c: "ratio" for c in b.comparison.correlation.columns})
    write_sheet(wb, "Trades", b.trades)
    monthly = [s.monthly.reset_index().assign(series=s.name) for s in b.series]
    mframe = (
        pd.concat(monthly, ignore_index=True)[["series", "year", *monthly[0].columns[1:-1]]]
        if monthly else pd.DataFrame(columns=["series", "year"])
    )
    write_sheet(wb, "Monthly returns", mframe, kinds={c: "pct" for c in mframe.columns[2:]} | {"year": "label"})
    dd = [s.drawdowns.table.assign(series=s.name) for s in b.series]
    dframe = (
        pd.concat(dd, ignore_index=True)[["series", *dd[0].columns[:-1]]] if dd else pd.DataFrame(columns=["series"])
    )
    write_sheet(wb, "Drawdowns", dframe)
    write_sheet(wb, "Open positions", b.open_positions)
    write_sheet(wb, "Backtests", b.backtests)
    buf = io.BytesIO()  # rendered in memory: a failing write is then only ours, an OSError
    try:
        wb.save(buf)
    except Exception as exc:
        # openpyxl spools each sheet through a temporary file; lxml reports a failed write of
        # it as SerialisationError("IO_ENOSPC"), not as an OSError.
        if type(exc).__name__ == "SerialisationError" and str(exc).startswith("IO_"):
            msg = (f"report {out}: cannot write it: openpyxl's temporary file failed ({exc}: the disk "
                   "holding the temporary folder is full?); nothing was written")  # fmt: skip
            _release_quietly(exc)
            raise OutputError(msg) from None
        raise
    with atomic_output(out, what="report") as tmp:  # complete, or nothing
        tmp.write_bytes(buf.getvalue())
    return out


def write_workbook(db: Database, out: str | Path, **bundle_options: Any) -> Path:
    """Build the bundle and write the Excel report to ``out``."""
    return render_workbook(build_bundle(db, **bundle_options), out)
