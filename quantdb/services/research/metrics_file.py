"""Every metric for each column of a returns file (CSV or Parquet, first column the date).

The **first column is the date**, whatever its name: text such as ``2016-01-04``, a date or
datetime column, or numbers (read as they sort). Rows are **sorted by it** before any metric
(a file written newest first gives the same figures as one written oldest first), and a date
that appears twice is refused with the file, the row and the date (as ``backtest --prices``
refuses a repeated bar), since a repeated day would be compounded twice.

Values are simple returns as fractions (0.01 = 1 %); empty cells are "no observation". The
metrics are :func:`quantdb.kernels.summary.summary_metrics` over all columns at once, with
the names of the glossary (``docs/metrics.md``). With ``benchmark_column`` the
benchmark-relative metrics (``beta``, ``alpha``, ...) are added for every column, the
benchmark's own included.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quantdb.errors import FileFormatError

if TYPE_CHECKING:
    import polars as pl


def _date_keys(path: Path, dates: pl.Series) -> pl.Series:
    """The date column as values that sort in time order; refuse a cell that is not a date
    (text must read as a day, e.g. 2016-01-04) and an empty one."""
    import polars as pl

    def where(i: int) -> str:
        return f"row {i + 2}, column {dates.name!r}"  # row 1 is the header

    if dates.dtype.is_temporal() or dates.dtype.is_numeric():
        keys = dates
    else:
        text = dates.cast(pl.String)
        try:
            keys = text.str.to_datetime(strict=False)
        except pl.exceptions.PolarsError:  # no value looks like a date at all
            keys = pl.Series([None] * text.len(), dtype=pl.Datetime)
        bad = keys.is_null() & text.is_not_null()
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            raise FileFormatError(path, where(i), f"expected a date such as 2016-01-04, got {text[i]!r}")
    if keys.is_null().any():
        i = int(keys.is_null().arg_max())  # type: ignore[arg-type]
        raise FileFormatError(path, where(i), "expected a date such as 2016-01-04, got an empty cell")
    repeat = ~keys.is_first_distinct()
    if repeat.any():
        i = int(repeat.arg_max())  # type: ignore[arg-type]
        first = int((keys == keys[i]).arg_max())
        raise FileFormatError(
            path, where(i),
            f"date {dates[i]} appears twice (first at row {first + 2}); keep one row a date",
        )
    return keys


def read_returns_file(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(columns, dates, values)`` of a returns CSV / Parquet: dates x columns float64, the
    rows sorted by the first column (the date); a repeated or unreadable date is refused.

    Raises
    ------
    FileFormatError
        Unreadable file, no returns column, a date that cannot be read, is empty or appears
        twice, or a value that cannot be read.
    """
    import polars as pl

    path = Path(path)
    if not path.exists():
        raise FileFormatError(path, "path", "no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            frame = pl.read_csv(
                path, infer_schema_length=None, null_values=["", "NaN", "nan", "null", "NA"]
            )
        else:
            raise FileFormatError(path, "name", "expected a .csv or .parquet returns file")
    except pl.exceptions.PolarsError as exc:
        raise FileFormatError(path, "content", str(exc).splitlines()[0]) from exc
    if frame.width < 2:
        raise FileFormatError(
            path,
            "header",
            f"expected a date column and at least one returns column, got {frame.columns}",
        )
    if frame.height == 0:
        raise FileFormatError(path, "rows", "no data rows")
    date_col, *cols = frame.columns
    order = _date_keys(path, frame[date_col]).arg_sort().to_numpy()
    values = []
    for c in cols:
        s = frame[c]
        if not s.dtype.is_numeric():
            cast = s.cast(pl.Float64, strict=False)
            bad = cast.is_null() & s.is_not_null()
            if bad.any():
                i = int(bad.arg_max())  # type: ignore[arg-type]
                raise FileFormatError(
                    path, f"row {i + 2}, column {c!r}", f"expected a number, got {s[i]!r}"
                )
            s = cast
        values.append(s.cast(pl.Float64).fill_null(np.nan).to_numpy())
    return (  # in time order, whatever the file's order (rows are named as in the file above)
        cols,
        frame[date_col].cast(pl.String).to_numpy()[order],
        np.column_stack(values).astype(np.float64)[order],
    )


def metrics_for_file(
    path: str | Path,
    *,
    benchmark_column: str | None = None,
    periods_per_year: float = 252.0,
    risk_free: float = 0.0,
    confidences: Sequence[float] = (0.95,),
) -> dict[str, dict[str, float]]:
    """``{column: {metric: value}}`` for every returns column of the file.

    Parameters
    ----------
    path
        CSV or Parquet; the first column is the date (rows are sorted by it; a date may
        appear once), every other column a return series.
    benchmark_column
        Name of the column used as benchmark (adds ``beta``, ``alpha``, ``correlation``,
        ``r_squared``, ``tracking_error``, ``information_ratio``, ``up_capture``,
        ``down_capture``).
    periods_per_year, risk_free, confidences
        As :func:`quantdb.kernels.summary.summary_metrics`; ``confidences`` are read by
        `quantdb.services.live.risk.parse_confidences`.

    Raises
    ------
    FileFormatError
        Unreadable file, no returns column, a date or value that cannot be read, a repeated
        date, or an unknown benchmark column.
    ArgumentError
        A confidence level outside (0, 1).
    """
    from quantdb.kernels.summary import summary_metrics
    from quantdb.services.live.risk import parse_confidences

    levels = parse_confidences(confidences)
    cols, _dates, values = read_returns_file(path)
    bench = None
    if benchmark_column is not None:
        if benchmark_column not in cols:
            raise FileFormatError(
                Path(path), "header", f"no column {benchmark_column!r}; columns are {cols}"
            )
        bench = values[:, cols.index(benchmark_column)].copy()
    res = summary_metrics(
        values,
        benchmark=bench,
        periods_per_year=periods_per_year,
        risk_free=risk_free,
        confidences=levels,
    )
    out: dict[str, dict[str, float]] = {}
    for j, c in enumerate(cols):
        out[c] = {name: float(arr[j]) for name, arr in res.items()}
    return out
