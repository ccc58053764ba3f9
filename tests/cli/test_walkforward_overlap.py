"""Issue 12, part 3: overlapping walk-forward test windows (``--step < --test``) stitch each
date once, from the newest window. On backtesting.py's GOOG (2,148 rows) the issue's command
reported 2,772 out-of-sample days, 903 of them twice and out of order; each date once gives
the 1,869 days from the first test row (252) to the end of the last test window (2,121)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app


@pytest.fixture(scope="module")
def goog_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from backtesting.test import GOOG

    folder = tmp_path_factory.mktemp("goog")
    GOOG.rename_axis("Date").to_csv(folder / "GOOG.csv")
    path = folder / "quant.db"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", str(path)]).exit_code == 0
    res = runner.invoke(app, ["prices", "import", str(folder / "GOOG.csv"), "--db", str(path)])
    assert res.exit_code == 0, res.output
    yield path


def test_overlapping_windows_stitch_each_date_once(goog_db: Path) -> None:
    res = CliRunner().invoke(app, [
        "walkforward", "sma-cross", "--grid", "fast=5:30:5", "--grid", "slow=20:100:20",
        "--constraint", "fast<slow", "--train", "252", "--test", "63", "--step", "42",
        "--json", "--returns", "--db", str(goog_db)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    dates = doc["oos_dates"]
    assert len(doc["windows"]) == 44
    assert dates == sorted(set(dates))  # unique and increasing
    assert doc["oos"]["days"] == len(dates) == len(doc["oos_returns"]) == 2121 - 252
    # the newest window wins: window k gives the days up to window k+1's first test day
    wins = doc["windows"]
    for a, b in itertools.pairwise(wins):
        assert a["stitched"][0] == a["test"][0] and a["stitched"][1] < b["test"][0]
        assert dates[dates.index(a["stitched"][1]) + 1] == b["test"][0]
    assert wins[-1]["stitched"] == wins[-1]["test"] and dates[-1] == wins[-1]["test"][1]
