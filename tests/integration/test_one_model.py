"""Issue 11's findings, each a repro: one settings model, one universe parser, one date parser,
built once at the edge, so the command line and the notebook API give the same answer.

Every test here failed before the change (the CLI guessed the ticker count before loading the
data; three universe parsers; a bad date was a traceback) and passes after it.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import quantdb as qdb
from quantdb.cli.app import app
from quantdb.settings import SETTINGS_FIELDS, SimSettings, build_settings
from quantdb.universe import UniverseError, parse_universe

PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample" / "price_history"



def _cli(args: list[str], db: Path) -> dict:
    res = CliRunner().invoke(app, [*args, "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _stored(db: Path, backtest_id: int) -> tuple:
    with qdb.connect(db) as q:
        row = q.db.query(
            "SELECT total_return, sharpe, max_dd, trades, final_equity, params_json, settings_json, "
            "data_fingerprint FROM backtest_results WHERE id = ?", (backtest_id,))[0]
        trades = q.db.query(
            "SELECT ticker, entry_date, exit_date, entry_price, exit_price, size, pnl FROM backtest_trades "
            "WHERE backtest_id = ? ORDER BY id", (backtest_id,))
        equity = q.db.query("SELECT date, equity FROM backtest_equity WHERE backtest_id = ? ORDER BY date",
                            (backtest_id,))
    settings = json.loads(row[6])
    return (*tuple(row[:6]), settings.get("simulation", settings), row[7],
            [tuple(t) for t in trades], [tuple(e) for e in equity])


def test_cli_and_api_build_the_same_settings_for_every_ticker(dbfile: Path) -> None:
    """`quantdb backtest sma-cross` (no --tickers) sized 0.5 of equity, `db.backtest` 0.1."""
    cli = _cli(["backtest", "sma-cross", "--start", "2016-01-04"], dbfile)
    with qdb.connect(dbfile) as q:
        api = q.backtest("sma-cross", start="2016-01-04")
        n = len(api.tickers)
    assert n > 10
    assert api.settings.sizing_value == pytest.approx(1.0 / 10)
    assert api.settings.max_positions == 10
    assert _stored(dbfile, cli["backtest_id"]) == _stored(dbfile, api.backtest_id)


def test_the_same_request_through_both_doors_stores_identical_results(dbfile: Path) -> None:
    args = ["backtest", "sma-cross", "--tickers", "AAPL,AMZN", "--param", "fast=5", "--param", "slow=30",
            "--commission", "0.001", "--stop-loss", "0.05", "--sizing", "equity:0.5", "--fill", "close"]
    cli = _cli(args, dbfile)
    with qdb.connect(dbfile) as q:
        api = q.backtest("sma-cross", tickers=["AAPL", "AMZN"], params={"fast": 5, "slow": 30},
                         commission=0.001, stop_loss=0.05, sizing="equity:0.5", fill="close")
    assert api.settings.sizing_value == 0.5 and api.settings.stop_loss == 0.05
    assert _stored(dbfile, cli["backtest_id"]) == _stored(dbfile, api.backtest_id)


def test_one_universe_parser_for_every_door(dbfile: Path) -> None:
    with qdb.connect(dbfile) as q:
        one = q.backtest("sma-cross", tickers="AAPL", store=False)  # was read letter by letter
        assert one.tickers == ("AAPL",)
        both = q.backtest("sma-cross", universe="AAPL,AMZN", store=False)
        assert both.tickers == ("AAPL", "AMZN")
    cli = _cli(["backtest", "sma-cross", "--universe", "AAPL,AMZN"], dbfile)  # was refused
    assert {t["ticker"] for t in cli["trades"]} <= {"AAPL", "AMZN"}
    doc = _cli(["sweep", "sma-cross", "--grid", "fast=5,10", "--grid", "slow=30", "--universe", "all",
                "--top", "1"], dbfile)  # was "tickers not in the database: ALL"
    assert doc["tickers"] > 10
    assert parse_universe("all").kind == parse_universe(None).kind == "all"
    with pytest.raises(UniverseError, match="leaders:N needs a whole number"):
        parse_universe("leaders:x")
    res = CliRunner().invoke(app, ["walkforward", "sma-cross", "--universe", "leaders:5", "--db", str(dbfile)])
    assert res.exit_code == 2 and "gates entries date by date" in res.output


@pytest.mark.parametrize("args", [
    ["backtest", "sma-cross", "--tickers", "AAPL", "--start", "2016-13-01"],
    ["sweep", "sma-cross", "--grid", "fast=5,10", "--start", "2016-13-01"],
    ["walkforward", "sma-cross", "--start", "2016-02-30"],
    ["backtest", "sma-cross", "--tickers", "AAPL", "--end", "yesterday"],
    ["backtest", "sma-cross", "--tickers", "AAPL", "--start", "2040-01-01"],
])
def test_a_bad_or_outside_date_is_one_line_and_exit_2(dbfile: Path, args: list[str]) -> None:
    res = CliRunner().invoke(app, [*args, "--db", str(dbfile)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("quantdb: error:")
    assert re.search(r"2016-13-01|2016-02-30|yesterday|2040-01-01", line)


def test_every_setting_is_an_option_of_every_research_command() -> None:
    """One option group: the same settings, the same names, on backtest, sweep, walkforward, replay."""
    import typer.main

    click_app = typer.main.get_command(app)
    flags = {f.flag for f in SETTINGS_FIELDS if f.name not in ("sizing_value", "fractional")} | {"--fractional"}
    for name in ("backtest", "sweep", "walkforward", "replay"):
        command = click_app.commands[name]  # type: ignore[attr-defined]
        opts = {o for p in command.params for o in p.opts}
        assert flags <= opts, (name, sorted(flags - opts))


def test_settings_are_packed_once() -> None:
    """Three packers with three slot layouts became one (`quantdb.settings.pack_settings`)."""
    from quantdb.kernels import fastsweep, replay, simulate

    for module in (simulate, replay, fastsweep):
        source = inspect.getsource(module)
        assert not re.search(r"^\(?P_CASH\b", source, re.MULTILINE), module.__name__  # no own layout
        assert not re.search(r"^def _pack\(", source, re.MULTILINE), module.__name__  # no own packer
        assert "pack_settings(" in source
    assert build_settings({"sizing": "cash:500"}, n_tickers=3).sizing == "cash"


def test_settings_keywords_are_checked_by_name() -> None:
    from quantdb.settings import SettingsError

    with pytest.raises(SettingsError, match="unknown setting 'stoploss'"):
        build_settings({"stoploss": 0.05}, n_tickers=1)
    assert build_settings(SimSettings(cash=5.0), n_tickers=7).cash == 5.0
