"""Issue 12, part 4: `quantdb metrics FILE` takes the rows in date order (the first column)
and refuses a repeated date. On backtesting.py's GOOG daily returns (Close.pct_change()), a
file written newest first gave longest_drawdown_days 882 instead of 1,229, and five repeated
dates inflated the total return (7.51 instead of 7.03); both exited 0."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app
from quantdb.errors import FileFormatError
from quantdb.services.research.metrics_file import metrics_for_file, read_returns_file

runner = CliRunner()


@pytest.fixture(scope="module")
def goog_returns() -> pd.DataFrame:
    from backtesting.test import GOOG

    r = GOOG.Close.pct_change().rename("GOOG").to_frame()
    r.index.name = "Date"
    return r


def _metrics(path: Path) -> dict[str, float]:
    res = runner.invoke(app, ["metrics", str(path), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["GOOG"]


def test_newest_first_gives_the_oldest_first_figures(goog_returns: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    goog_returns.to_csv(tmp_path / "oldest.csv")
    goog_returns.iloc[::-1].to_csv(tmp_path / "newest.csv")
    goog_returns.iloc[::-1].reset_index().to_parquet(tmp_path / "newest.parquet")  # Date first
    base = _metrics(tmp_path / "oldest.csv")
    assert base["longest_drawdown_days"] == 1229
    assert base["total_return"] == pytest.approx(7.0346, abs=1e-4)
    for name in ("newest.csv", "newest.parquet"):
        got = _metrics(tmp_path / name)
        assert got["longest_drawdown_days"] == 1229  # 882 when read in file order
        assert got == pytest.approx(base, rel=1e-12, nan_ok=True)
    _, dates, _ = read_returns_file(tmp_path / "newest.csv")
    assert list(dates) == sorted(dates) and dates[0] == "2004-08-19"


def test_repeated_dates_are_refused_with_one_line(goog_returns: pd.DataFrame,
                                                  tmp_path: Path) -> None:
    again = goog_returns.iloc[[100, 200, 300, 400, 500]]
    pd.concat([goog_returns, again]).sort_index(kind="stable").to_csv(tmp_path / "rep.csv")
    res = runner.invoke(app, ["metrics", str(tmp_path / "rep.csv"), "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1
    assert res.stderr == (f"quantdb: error: {tmp_path / 'rep.csv'}: row 103, column 'Date': date "
                          "2005-01-11 appears twice (first at row 102); keep one row a date\n")
    # newest first: the first repeat in file order is the latest repeated date
    pd.concat([goog_returns, again]).sort_index(kind="stable").iloc[::-1].to_csv(tmp_path / "r.csv")
    with pytest.raises(FileFormatError, match="date 2006-08-14 appears twice"):
        metrics_for_file(tmp_path / "r.csv")


def test_an_empty_date_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gap.csv").write_text("Date,A\n2016-01-04,0.01\n,0.02\n2016-01-06,0.03\n")
    with pytest.raises(FileFormatError, match=r"row 3, column 'Date': .*got an empty cell"):
        read_returns_file(tmp_path / "gap.csv")
