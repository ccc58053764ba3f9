"""`track`, `perf`, `metrics`, `risk`, `leaders`: --json is one document, exit codes 0 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdb.cli.app import app

runner = CliRunner()


def run_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_track_update_json_and_idempotent(sample_db: Path) -> None:
    first = run_json(
        "track", "update", "--db", str(sample_db), "--asof", "2017-11-30", "--bars", "close"
    )
    assert first["asof"] == "2017-11-30"
    assert first["checked"] == {"predictions": 15, "trades": 12}
    assert first["closed"]["predictions"]["expired"] == 2
    assert {s["strategy"] for s in first["snapshots"]} == {
        "momentum",
        "mean_reversion",
        "volume_breakout",
        "ml_ensemble",
        "earnings_drift",
    }
    again = run_json(
        "track", "update", "--db", str(sample_db), "--asof", "2017-11-30", "--bars", "close"
    )
    assert again["rows_changed"] == 0
    assert again["snapshots"] == first["snapshots"]


def test_track_update_asof_after_the_newest_price_says_so(sample_db: Path) -> None:
    # Issue 12: a day past the last bar would mark nothing and say nothing; it is refused
    before = sample_db.read_bytes()
    for extra in ([], ["--json"]):
        res = runner.invoke(app, ["track", "update", "--db", str(sample_db), "--asof", "2099-01-02",
                                  *extra])
        assert res.exit_code == 2 and res.stdout == ""
        assert res.stderr == (
            "quantdb: error: --asof 2099-01-02 is after the newest price (2017-11-30); "
            "import newer prices or give an earlier day\n"
        )
    assert sample_db.read_bytes() == before  # nothing written


def test_perf_json(sample_db: Path) -> None:
    out = run_json("perf", "--db", str(sample_db), "--period", "weekly")
    assert out["period"] == "weekly" and out["benchmark"] == "SPY"
    m = out["strategies"]["mean_reversion"]
    for key in (
        "win_rate",
        "average_win",
        "average_loss",
        "profit_factor",
        "sharpe",
        "sortino",
        "max_drawdown",
        "recovery_periods",
        "total_return",
        "excess_return",
        "beta",
        "alpha",
        "information_ratio",
    ):
        assert key in m
    assert -1.0 <= m["max_drawdown"] <= 0.0 and 0.0 <= m["win_rate"] <= 1.0
    one = run_json("perf", "--db", str(sample_db), "--strategy", "Momentum ")
    assert list(one["strategies"]) == ["momentum"]


def test_metrics_json(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "returns.csv"
    pl.DataFrame(
        {
            "date": [f"2020-01-{d:02d}" for d in range(1, 31)],
            "strat": rng.normal(0.001, 0.01, 30),
            "SPY": rng.normal(0.0, 0.01, 30),
        }
    ).write_csv(path)
    out = run_json("metrics", str(path), "--benchmark", "SPY")
    assert set(out) == {"strat", "SPY"}
    for key in (
        "sharpe",
        "sortino",
        "cagr",
        "volatility",
        "max_drawdown",
        "calmar",
        "omega",
        "var_95_historical",
        "var_95_parametric",
        "var_95_cornish_fisher",
        "cvar_95_historical",
        "beta",
        "alpha",
    ):
        assert key in out["strat"]
    assert out["SPY"]["beta"] == pytest.approx(1.0)
    assert out["strat"]["max_drawdown"] <= 0.0
    bad = runner.invoke(app, ["metrics", str(path), "--benchmark", "nope", "--json"])
    assert bad.exit_code == 2 and bad.stdout == "" and "nope" in bad.stderr


def test_metrics_json_cornish_fisher_out_of_order_is_null(tmp_path: Path) -> None:
    # a t(2.5) sample whose 95 % Cornish-Fisher expansion read +0.0007 (a gain): null, key kept
    path = tmp_path / "t25.csv"
    x = np.random.default_rng(62).standard_t(2.5, 2520) * 0.01
    pl.DataFrame({"date": [str(np.datetime64("2010-01-01") + i) for i in range(x.size)],
                  "t25": x}).write_csv(path)
    out = run_json("metrics", str(path))["t25"]
    assert out["var_95_cornish_fisher"] is None
    assert out["var_95_historical"] < 0 and out["var_95_parametric"] < 0


def test_risk_json(sample_db: Path) -> None:
    out = run_json("risk", "--db", str(sample_db), "--confidence", "0.95", "0.99")
    assert out["confidences"] == [0.95, 0.99]
    s = out["strategies"]["momentum"]
    for key in (
        "var_95_historical",
        "var_99_parametric",
        "var_99_cornish_fisher",
        "cvar_95_historical",
        "beta",
    ):
        assert key in s
    assert s["var_99_historical"] <= s["var_95_historical"] <= 0.0
    names = out["correlation"]["names"]
    assert len(out["correlation"]["matrix"]) == len(names)
    assert out["stress"]["historical"] and out["stress"]["historical"][0]["benchmark_return"] < 0
    assert [h["name"] for h in out["stress"]["hypothetical"]] == [
        "SPY -10%",
        "SPY -20%",
        "volatility x2",
    ]
    bad = runner.invoke(app, ["risk", "--db", str(sample_db), "--confidence", "95"])
    assert bad.exit_code == 2 and "confidence" in bad.stderr


def test_leaders_compute_json(sample_db: Path) -> None:
    out = run_json(
        "leaders", "compute", "--db", str(sample_db), "--timeframe", "weekly", "--top", "20"
    )
    # Every weekly period of the migrated sample holds imported leaders: they are the record and
    # are kept as they are (test_leaders.py shows the computed ranking equals them).
    assert out["timeframes"] == {
        "weekly": {"dates": 0, "rows": 0, "written": 0, "imported_dates_kept": 152}
    }


def test_bad_usage_exits_2(sample_db: Path, tmp_path: Path) -> None:
    for args in (
        ["perf", "--db", str(sample_db), "--period", "yearly"],
        ["perf", "--db", str(sample_db), "--strategy", "no_such"],
        ["perf", "--db", str(tmp_path / "missing.db")],
        ["track", "update", "--db", str(sample_db), "--asof", "2017-02-30"],
        ["metrics", str(tmp_path / "missing.csv")],
        ["leaders", "compute", "--db", str(sample_db), "--timeframe", "hourly"],
    ):
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 2, args
        assert result.stdout == "" and result.stderr.startswith("quantdb: error:"), args
