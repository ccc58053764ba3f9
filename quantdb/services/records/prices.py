"""Load daily bars into ``price_history``: Yahoo-style CSV, Parquet, or a long Polars frame.

Everything is checked column-wise before anything is written, and a whole import is one
batch in one transaction: a bad value stops it with an `InputError` naming the file, the row
and the field, and the database is left as it was. Re-importing the same bars changes nothing
(upsert that writes only when a value differs).

Each file's bars are measured against the database's trading calendar
(:mod:`quantdb.services.records.calendar`): the report gives, per file, the bars on days the
exchange did not trade (``off_calendar``) and the sessions between a ticker's first and last
bar without a bar (``missing_sessions``), with their first dates. Off-calendar bars are kept
(``off_calendar="keep"``, the default: they change no other ticker's backtest) or the whole
import is refused (``"refuse"``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantdb._typing import OffCalendarPolicy
from quantdb._version import __version__
from quantdb.calendars import FIRST_DATES, calendar_gaps
from quantdb.errors import ArgumentError, FileFormatError, InputError
from quantdb.services.records.calendar import database_calendar
from quantdb.storage.queries import Q
from quantdb.storage.sqlite import Database
from quantdb.universe import symbol_problem

LONG_COLUMNS = ("ticker", "date", "open", "high", "low", "close", "adj_close", "volume")
_HEADER_ALIASES = {
    "date": "date", "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adj_close": "adj_close", "adjclose": "adj_close",
    "volume": "volume", "ticker": "ticker", "symbol": "ticker",
}


@dataclass(frozen=True)
class PriceImportReport:
    """What a price import did: rows read, inserted, updated, unchanged; per file the rows read
    and the calendar gaps (``calendar``, ``off_calendar``, ``off_calendar_first``,
    ``missing_sessions``, ``missing_sessions_first``)."""

    batch_id: int | None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)


def file_calendar_gaps(frame: pl.DataFrame, calendar: str) -> dict[str, Any]:
    """Calendar gaps of one file's bars (every ticker in it): counts and first dates."""
    off: list[Any] = []
    missing: list[Any] = []
    for part in frame.select("ticker", "date").partition_by("ticker", maintain_order=True):
        g = calendar_gaps(part["date"].to_numpy().astype("datetime64[D]"), calendar)
        off.extend(g.off_calendar.tolist())
        missing.extend(g.missing.tolist())
    return {
        "calendar": calendar,
        "off_calendar": len(off),
        "off_calendar_first": [str(d) for d in sorted(off)[:FIRST_DATES]],
        "missing_sessions": len(missing),
        "missing_sessions_first": [str(d) for d in sorted(missing)[:FIRST_DATES]],
    }


def symbol_from_filename(path: Path) -> str:
    """``BRK-B.csv`` -> ``BRK.B``: files write the class dot as a dash.

    Raises
    ------
    FileFormatError
        the name does not make a ticker (``..csv``, ``A B.csv``, 21+ characters): the rule
        of `quantdb.universe.check_symbol`.
    """
    symbol = path.stem.replace("-", ".")
    problem = symbol_problem(symbol)
    if problem is not None:
        raise FileFormatError(path, "name", f"the ticker taken from the file name: {problem}")
    return symbol.strip().upper()


#: The widest whole number SQLite stores: a volume at or above it cannot be kept.
_VOLUME_LIMIT = 2.0**63


def _same_comma_counts(data: bytes) -> bool:
    """Whether every non-empty line of ``data`` holds as many commas as the first one."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.append(np.flatnonzero(buf == 10), buf.size)  # each line's end ("\n" or EOF)
    per_line = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == 44)), minlength=ends.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts
    if buf.size:  # a "\r" before the "\n" is not content
        length -= (length > 0) & (buf[np.maximum(ends - 1, 0)] == 13)
    counts = per_line[length > 0]
    return bool(counts.size == 0 or (counts == counts[0]).all())


def _check_field_counts(path: Path, data: bytes) -> None:
    """Refuse a CSV row with more or fewer fields than the header (Polars pads a short row
    with nulls without a word, and refuses a long one without saying which row). Rows are
    numbered as lines of the file, the header being line 1; blank lines are skipped."""
    if b'"' not in data and _same_comma_counts(data):  # the usual file: one vectorized pass
        return
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    if '"' in text:  # quoted fields may hold commas: split them the careful way
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    else:
        rows = [[c.strip() for c in line.split(",")] for line in text.splitlines()]
    filled = [(i, r) for i, r in enumerate(rows, start=1) if any(r)]
    if not filled:
        return
    header = filled[0][1]
    n = len(header)
    for i, row in filled[1:]:
        if len(row) != n:
            got = len(row)
            fld = _HEADER_ALIASES.get(header[got].lower(), header[got]) if got < n else "*"
            missing = f": {', '.join(header[got:])} missing" if got < n else ""
            raise InputError(path, i, fld, f"expected {n} comma-separated values, got {got}{missing}")


def _normalize_headers(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    renames = {}
    for col in frame.columns:
        key = re.sub(r"\s+", " ", col.strip().lower())
        if key in _HEADER_ALIASES:
            renames[col] = _HEADER_ALIASES[key]
    frame = frame.rename(renames)
    missing = [c for c in ("date", "open", "high", "low", "close", "volume") if c not in frame.columns]
    if missing:
        where = "header"
        reason = f"expected columns Date, Open, High, Low, Close[, Adj Close], Volume; missing {missing}"
        raise FileFormatError(path, where, reason)
    return frame


def read_price_file(path: str | Path) -> pl.DataFrame:
    """Read one Yahoo-style CSV or a Parquet file into the long layout of ``LONG_COLUMNS``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise FileFormatError(path, "name", "expected a .csv or .parquet file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(path, "path", f"cannot read it: {exc.strerror or exc}") from None
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(data)
        else:
            _check_field_counts(path, data)
            frame = pl.read_csv(
                data, infer_schema=False, null_values=["null", "NaN", "nan", ""], encoding="utf8-lossy"
            )
    except pl.exceptions.PolarsError as exc:
        raise FileFormatError(path, suffix[1:].upper(), str(exc).splitlines()[0]) from exc
    frame = _normalize_headers(frame, path)
    if "ticker" not in frame.columns:
        frame = frame.with_columns(pl.lit(symbol_from_filename(path)).alias("ticker"))
    if "adj_close" not in frame.columns:
        frame = frame.with_columns(pl.col("close").alias("adj_close"))
    frame = frame.with_row_index("_row", offset=2 if path.suffix.lower() == ".csv" else 1)
    out = frame.select(
        "_row",
        pl.col("ticker").cast(pl.String).str.strip_chars().str.to_uppercase(),
        pl.col("date").cast(pl.String).str.slice(0, 10),
        *[pl.col(c).cast(pl.Float64, strict=False).alias(c) for c in ("open", "high", "low", "close", "adj_close")],
        pl.col("volume").cast(pl.Float64, strict=False).alias("volume"),
        *[pl.col(c).cast(pl.String).alias(f"_{c}_raw") for c in ("open", "high", "low", "close", "adj_close", "volume")],
    )
    validate_prices(out, path)
    _check_tickers(out, path)
    return out.select(*LONG_COLUMNS).with_columns(pl.col("volume").round(0).cast(pl.Int64))


def _check_tickers(frame: pl.DataFrame, path: Path) -> None:
    """Every symbol of a ``ticker`` column follows the one rule (`quantdb.universe.check_symbol`)."""
    for sym in frame["ticker"].unique(maintain_order=True).to_list():
        problem = symbol_problem(sym)
        if problem is not None:
            i = int(frame["ticker"].eq_missing(sym).arg_max())
            raise InputError(path, int(frame["_row"][i]), "ticker", problem)


def validate_prices(frame: pl.DataFrame, path: Path) -> None:
    """Raise `InputError` at the first bad row: unparseable or infinite number, bad date,
    price <= 0, a volume that is not a whole number below 2**63, high < low."""
    row_col = frame["_row"] if "_row" in frame.columns else pl.Series(range(1, frame.height + 1))
    parsed = frame["date"].str.to_date("%Y-%m-%d", strict=False)
    bad = parsed.is_null() & frame["date"].is_not_null()
    if frame["date"].null_count():
        bad = bad | frame["date"].is_null()
    if bad.any():
        i = int(bad.arg_max())  # type: ignore[arg-type]
        raise InputError(path, int(row_col[i]), "date", f"expected YYYY-MM-DD, got {frame['date'][i]!r}")
    for col in ("open", "high", "low", "close", "adj_close", "volume"):
        raw = f"_{col}_raw"
        if raw in frame.columns:
            unparsed = frame[col].is_null() & frame[raw].is_not_null()
            if unparsed.any():
                i = int(unparsed.arg_max())  # type: ignore[arg-type]
                raise InputError(path, int(row_col[i]), col, f"expected a number, got {frame[raw][i]!r}")
        infinite = ~frame[col].is_finite().fill_null(True)
        if infinite.any():
            i = int(infinite.arg_max())  # type: ignore[arg-type]
            got = frame[raw][i] if raw in frame.columns else frame[col][i]
            raise InputError(path, int(row_col[i]), col, f"expected a finite number, got {got!r}")
        if col == "volume":
            wide = (frame[col] >= _VOLUME_LIMIT).fill_null(False)
            part = ((frame[col] % 1) != 0).fill_null(False)
            for bad, rule in ((wide, "must be below 2**63"), (part, "must be a whole number of shares")):
                if bad.any():
                    i = int(bad.arg_max())  # type: ignore[arg-type]
                    got = frame[raw][i] if raw in frame.columns else frame[col][i]
                    raise InputError(path, int(row_col[i]), col, f"{rule}, got {got!r}")
        limit_ok = frame[col] >= 0 if col == "volume" else frame[col] > 0
        bad = ~limit_ok.fill_null(True)
        if bad.any():
            i = int(bad.arg_max())  # type: ignore[arg-type]
            rule = "must be >= 0" if col == "volume" else "must be > 0"
            raise InputError(path, int(row_col[i]), col, f"{rule}, got {frame[col][i]}")
    bad = (frame["high"] < frame["low"]).fill_null(False)
    if bad.any():
        i = int(bad.arg_max())  # type: ignore[arg-type]
        raise InputError(path, int(row_col[i]), "high", f"high {frame['high'][i]} is below low {frame['low'][i]}")
    dup = ~frame.select(pl.struct("ticker", "date").is_first_distinct()).to_series()  # the repeat
    if dup.any():
        i = int(dup.arg_max())  # type: ignore[arg-type]
        raise InputError(path, int(row_col[i]), "date", f"date {frame['date'][i]} appears twice")


def insert_prices(
    db: Database,
    frame: pl.DataFrame,
    *,
    source: str,
    ticker_info: dict[str, dict[str, object]] | None = None,
    per_file: dict[str, str] | None = None,
    file_reports: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> PriceImportReport:
    """Write a long frame of bars (``LONG_COLUMNS``) in one batch, one transaction.

    New tickers are created (with ``ticker_info`` name/sector/market_cap when given); existing
    bars are updated only where a value differs.
    """
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        msg = f"price frame must have columns {LONG_COLUMNS}, missing {missing}"
        raise ArgumentError(msg)
    info = ticker_info or {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with db.atomic() as conn:
        before = conn.execute("SELECT count(*) FROM price_history").fetchone()[0]
        cur = conn.execute(
            "INSERT INTO import_batches (kind, source, started_at, quantdb_version) VALUES ('prices', ?, ?, ?)",
            (source, now, __version__),
        )
        batch_id = int(cur.lastrowid or 0)
        symbols = frame["ticker"].unique().sort().to_list()
        conn.executemany(
            Q["insert_ticker"],
            (
                {
                    "symbol": s,
                    "name": info.get(s, {}).get("name"),
                    "sector": info.get(s, {}).get("sector"),
                    "market_cap": info.get(s, {}).get("market_cap"),
                    "batch_id": batch_id,
                }
                for s in symbols
            ),
        )
        ids = pl.DataFrame(
            conn.execute(Q["ticker_ids"]).fetchall(), schema={"ticker": pl.String, "ticker_id": pl.Int64}, orient="row"
        )
        rows = (
            frame.join(ids, on="ticker", how="left")
            .select(
                "ticker_id", pl.col("date").cast(pl.String), "open", "high", "low", "close",
                pl.col("volume").cast(pl.Int64), "adj_close", pl.lit(batch_id).alias("batch_id"),
            )
            .sort("ticker_id", "date")
        )
        statement = Q["upsert_price"] if before else Q["insert_price"]
        # rowcount sums the rows each execution changed itself; total_changes would also count
        # the trigger's table_versions bump on every update, reporting each update twice.
        written = conn.executemany(statement, rows.iter_rows()).rowcount
        after = conn.execute("SELECT count(*) FROM price_history").fetchone()[0]
        inserted = after - before
        totals = {
            "read": frame.height,
            "inserted": inserted,
            "updated": written - inserted,
            "unchanged": frame.height - written,
        }
        conn.execute(
            "UPDATE import_batches SET finished_at = ?, report_json = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(timespec="seconds"), json.dumps(totals), batch_id),
        )
    if progress is not None:
        progress(frame.height)
    files: dict[str, dict[str, Any]] = {}
    if per_file:
        for name in per_file:
            files[name] = {"read": int(frame.filter(pl.col("ticker") == per_file[name]).height)}
    for name, extra in (file_reports or {}).items():
        files[name] = {**files.get(name, {}), **extra}
    return PriceImportReport(batch_id=batch_id, files=files, totals=totals)


def import_price_files(
    db: Database,
    paths: Sequence[str | Path] | Iterable[Path],
    *,
    off_calendar: OffCalendarPolicy = "keep",
    progress: Callable[[int], None] | None = None,
) -> PriceImportReport:
    """Read every file (a folder means its *.csv and *.parquet), check all, then write once.

    Each file's bars are measured against the database's calendar; with
    ``off_calendar="refuse"`` a file with a bar on a day the exchange did not trade stops the
    whole import (`InputError` naming the file and the first such day), nothing written.
    """
    if off_calendar not in ("keep", "refuse"):
        msg = f"off_calendar must be 'keep' or 'refuse', got {off_calendar!r}"
        raise ArgumentError(msg)
    paths = [Path(p) for p in paths]
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted([*p.glob("*.csv"), *p.glob("*.parquet")]))
        elif p.exists():
            files.append(p)
        else:
            raise FileFormatError(p, "path", "no such file or folder")
    if not files:
        raise FileFormatError(", ".join(map(str, paths)), "path", "no .csv or .parquet price files found")
    frames = [read_price_file(f) for f in files]
    calendar = database_calendar(db)
    reports: dict[str, dict[str, Any]] = {}
    for f, fr in zip(files, frames, strict=True):
        rep = {"read": fr.height, **file_calendar_gaps(fr, calendar)}
        if off_calendar == "refuse" and rep["off_calendar"]:
            reason = (f"{rep['off_calendar']} bar(s) on days {calendar} does not trade (first: "
                      f"{', '.join(rep['off_calendar_first'])}); remove them, or import with "
                      "--off-calendar keep")
            raise InputError(f, rep["off_calendar_first"][0], "date", reason)
        reports[f.name] = rep
    frame = pl.concat(frames, how="vertical_relaxed")
    per_file = {f.name: symbol_from_filename(f) for f in files if f.suffix.lower() == ".csv"}
    return insert_prices(db, frame, source=",".join(str(f) for f in files), per_file=per_file,
                         file_reports=reports, progress=progress)
