"""A user's own strategy in every door, with no change to the package.

The strategies live in a file of their own (tests/fixtures/user_strategies/my_strategies.py,
written as the convention of quantdb/strategies.py says), a script, or an installed package's
entry point. From the command line (`backtest`, `sweep` with process workers and with Dask,
`walkforward`, `replay --exit-strategy`) they give the same numbers as the same function run in this process through
the notebook API; `quantdb strategies` lists them with their origin; a bad spec or a wrong
return is one line and exit 2; a stored result records the strategy's source, and a rerun
after the code changed warns; a script without a main guard runs a parallel sweep once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import quantdb as qdb
from quantdb.cli.app import app
from quantdb.errors import ArgumentError
from quantdb.services.research.results import StrategyChangedWarning
from quantdb.strategies import STRATEGIES, StrategyOutputError
from quantdb.strategy_loader import StrategySpecError, load_strategy_file, resolve_strategy

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "tests" / "fixtures" / "legacy_sample" / "price_history"
USER_FILE = ROOT / "tests" / "fixtures" / "user_strategies" / "my_strategies.py"
TICKERS = "AAPL,MSFT,JPM"
SETTINGS = ["--fill", "close", "--fractional"]



def _cli(args: list[str], db: Path) -> dict:
    res = CliRunner().invoke(app, [*args, "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _table(path: str) -> dict[str, np.ndarray]:
    t = pq.read_table(path)
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}


def _same_tables(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k, v in a.items():
        np.testing.assert_array_equal(v, b[k], err_msg=k)


def _user_module():  # the file's module, as the resolver loads it (once per content)
    return load_strategy_file(USER_FILE)


# ----------------------------------------------------------------------------- the doors
def test_backtest_from_a_file_equals_the_notebook_api(dbfile: Path) -> None:
    doc = _cli(["backtest", f"{USER_FILE}:breakout", "--tickers", TICKERS, *SETTINGS], dbfile)
    assert doc["strategy"] == "channel-breakout"
    with qdb.connect(dbfile) as db:
        res = db.backtest(_user_module().breakout, tickers=TICKERS, fill="close", fractional=True,
                          store=False)
        stored = db.db.query("SELECT settings_json FROM backtest_results WHERE id = ?", (doc["backtest_id"],))
    assert res.stats()["n_trades"] == doc["stats"]["n_trades"] > 0
    assert res.stats()["final_equity"] == doc["stats"]["final_equity"]
    assert [t["pnl"] for t in doc["trades"]] == res.trades()["pnl"].to_list()
    source = json.loads(stored[0][0])["strategy_source"]
    assert source["origin"] == f"file {USER_FILE}"
    assert source["spec"] == f"{USER_FILE}:breakout"
    assert source["function"] == "breakout" and len(source["sha256"]) == 64


def test_plain_function_params_come_from_its_defaults(dbfile: Path) -> None:
    strat = resolve_strategy(_user_module().plain_breakout)
    assert (strat.name, dict(strat.params), dict(strat.grid)) == (
        "plain_breakout", {"window": 30.0, "exit_window": 15.0}, {})
    doc = _cli(["backtest", f"{USER_FILE}:plain_breakout", "--tickers", TICKERS, "--param", "window=25",
                *SETTINGS], dbfile)
    assert doc["params"] == {"window": 25.0, "exit_window": 15.0}


@pytest.mark.parametrize("executor", [["--workers", "2"], ["--executor", "dask", "--workers", "2"]],
                         ids=["process-pool", "dask"])
def test_sweep_from_a_file_equals_the_notebook_api(dbfile: Path, tmp_path: Path, executor: list[str]) -> None:
    doc = _cli(["sweep", f"{USER_FILE}:breakout", "--tickers", TICKERS, "--chunk", "2",
                "--out", str(tmp_path / "cli"), *executor, *SETTINGS], dbfile)
    with qdb.connect(dbfile) as db:
        rep = db.sweep(_user_module().breakout, tickers=TICKERS, chunk=2, workers=1,
                       out_dir=tmp_path / "api", fill="close", fractional=True)
    assert doc["combos"] == rep.combos == 6  # the file's declared grid: 3 windows x 2 exits
    _same_tables(_table(doc["results"]), _table(rep.results))
    assert [b["sharpe"] for b in doc["best"]] == [b["sharpe"] for b in rep.best]


def test_walkforward_from_a_file_equals_the_notebook_api(dbfile: Path) -> None:
    args = ["--tickers", TICKERS, "--train", "252", "--test", "126"]
    doc = _cli(["walkforward", f"{USER_FILE}:breakout", *args, *SETTINGS], dbfile)
    with qdb.connect(dbfile) as db:
        rep = db.walkforward(_user_module().breakout, tickers=TICKERS, train=252, test=126,
                             fill="close", fractional=True)
    assert doc["strategy"] == rep.strategy == "channel-breakout"
    assert [w["params"] for w in doc["windows"]] == [w["params"] for w in rep.windows]
    assert doc["oos"]["total_return"] == rep.oos["total_return"]


def test_strategies_lists_a_file_with_its_origin(dbfile: Path) -> None:
    doc = _cli(["strategies", str(USER_FILE), f"{USER_FILE}:plain_breakout"], dbfile)
    assert doc["channel-breakout"]["origin"] == f"file {USER_FILE}"
    assert doc["channel-breakout"]["grid"] == {"window": [10, 40, 3], "exit_window": [5, 10, 2]}
    assert doc["plain_breakout"]["params"] == {"window": 30.0, "exit_window": 15.0}
    assert doc["sma-cross"]["origin"] == "builtin"


# ----------------------------------------------------------------------------- entry points
def _tiny_distribution(where: Path) -> Path:
    """A package `ep_strats` registering entry point `ep-breakout` (group quantdb.strategies)."""
    (where / "ep_strats.py").write_text(textwrap.dedent("""
        import numpy as np

        def ep_breakout(bars, window=20):
            out = []
            for w in window:
                hi = np.full_like(bars.close, np.nan)
                for i in range(int(w), bars.close.shape[0]):
                    hi[i] = np.max(bars.close[i - int(w):i], axis=0)
                with np.errstate(invalid="ignore"):
                    out.append(bars.close > hi)
            e = np.hstack(out)
            return e, np.roll(e, 10, axis=0)
    """))
    info = where / "ep_strats-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-strats\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[quantdb.strategies]\nep-breakout = ep_strats:ep_breakout\n")
    return where


def _run(args: list[str], *, cwd: Path, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (path, ROOT) if p is not None)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600, check=False)


def test_an_entry_point_of_an_installed_package_is_found(dbfile: Path, tmp_path: Path) -> None:
    dist = _tiny_distribution(tmp_path)
    listed = _run(["-m", "quantdb", "strategies", "--json"], cwd=tmp_path, path=dist)
    assert listed.returncode == 0, listed.stderr
    ep = json.loads(listed.stdout)["ep-breakout"]
    assert ep["origin"] == "entry point ep-strats" and ep["params"] == {"window": 20.0}
    done = _run(["-m", "quantdb", "backtest", "ep-breakout", "--tickers", "AAPL", "--db", str(dbfile), "--json"],
                cwd=tmp_path, path=dist)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["strategy"] == "ep-breakout"


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("func", "says"), [
    ("wrong_shape", "its entries is an array of dtype bool and shape"),
    ("wrong_type", "got a str"),
])
def test_a_wrong_return_is_one_line(dbfile: Path, func: str, says: str) -> None:
    res = CliRunner().invoke(app, ["backtest", f"{USER_FILE}:{func}", "--tickers", "AAPL,MSFT", "--db", str(dbfile)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "must return (entries, exits)" in lines[0] and says in lines[0], res.stderr
    with qdb.connect(dbfile) as db, pytest.raises(StrategyOutputError, match="shape") as info:
        db.backtest(getattr(_user_module(), func), tickers="AAPL,MSFT", store=False)
    assert isinstance(info.value, ArgumentError)


def test_a_wrong_return_in_a_worker_process_is_one_line(dbfile: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["sweep", f"{USER_FILE}:wrong_shape", "--grid", "window=1,2,3,4", "--workers", "2",
                                   "--tickers", "AAPL,MSFT", "--out", str(tmp_path), "--db", str(dbfile)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "its entries is an array of dtype bool and shape (756, 1)" in lines[0], res.stderr


def test_bad_specs_are_one_line(dbfile: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(bars, window=3):\n    return (\n")
    raising = tmp_path / "raising.py"
    raising.write_text("raise RuntimeError('no data here')\n")
    cases = {
        f"{tmp_path / 'missing.py'}:f": "no such strategy file",
        f"{USER_FILE}:nope": "no function 'nope'; it defines breakout",
        f"{broken}:f": f"{broken}:2: syntax error: '(' was never closed",
        f"{raising}:f": "running it raised RuntimeError: no data here",
        f"{USER_FILE}:NOT_A_FUNCTION": "NOT_A_FUNCTION is int, not a strategy function",
        "no_such_module_xyz:f": "no module named 'no_such_module_xyz'",
        "no-such-strategy": "no strategy named 'no-such-strategy'",
    }
    for spec, says in cases.items():
        res = CliRunner().invoke(app, ["backtest", spec, "--tickers", "AAPL", "--db", str(dbfile)])
        assert res.exit_code == 2, (spec, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], (spec, res.stderr)
    with pytest.raises(StrategySpecError, match="numeric default"):
        resolve_strategy(lambda bars, window: (bars, bars))


def test_a_registered_name_cannot_be_taken_twice() -> None:
    with pytest.raises(ArgumentError, match="already registered"):
        qdb.strategy("sma-cross", params={"fast": 1})(lambda bars, fast: (bars, bars))
    assert STRATEGIES["sma-cross"].origin == "builtin"


# ----------------------------------------------------------------------------- stored source
def test_rerun_warns_when_the_strategy_code_changed(dbfile: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.py"
    shutil.copy(USER_FILE, mine)
    mine.write_text(mine.read_text().replace('"channel-breakout"', '"mine-breakout"'))
    with qdb.connect(dbfile) as db:
        first = db.backtest(f"{mine}:breakout", tickers=TICKERS)
        again = db.rerun_backtest(first.backtest_id)  # unchanged: no warning (warnings are errors)
        np.testing.assert_array_equal(again.equity_curve, first.equity_curve)
        mine.write_text(mine.read_text().replace("close > prev_hi", "close >= prev_hi"))
        with pytest.warns(StrategyChangedWarning, match="code of strategy 'mine-breakout' changed"):
            db.rerun_backtest(first.backtest_id)


def test_resuming_a_sweep_whose_strategy_changed_is_refused(dbfile: Path, tmp_path: Path) -> None:
    mine = tmp_path / "resume.py"
    shutil.copy(USER_FILE, mine)
    mine.write_text(mine.read_text().replace('"channel-breakout"', '"resume-breakout"'))
    with qdb.connect(dbfile) as db:
        part = db.sweep(f"{mine}:breakout", tickers=TICKERS, chunk=2, max_chunks=1, out_dir=tmp_path)
        assert part.status == "running"
        mine.write_text(mine.read_text() + "\n# a comment outside its code changes nothing\n")
        resumed = db.sweep(resume=part.run_id, max_chunks=1)
        assert resumed.chunks_skipped == 1
        mine.write_text(mine.read_text().replace("close < prev_lo", "close <= prev_lo"))  # a helper it calls
        with pytest.raises(qdb.QuantdbError, match="changed since it started"):
            db.sweep(resume=part.run_id)


# ----------------------------------------------------------------------------- scripts
SCRIPT = '''
import json, sys
import numpy as np
import quantdb as qdb

with open(sys.argv[2], "a") as f:  # counts the runs of this script's body
    f.write("ran\\n")


@qdb.strategy("script-cross", params={"window": 20}, grid={"window": [10, 20, 30, 40]})
def script_cross(bars, window):
    entries, exits = [], []
    for w in window:
        m = qdb.signals.rolling_mean(bars.close, int(w))
        entries.append(qdb.signals.crossed_above(bars.close, m))
        exits.append(qdb.signals.crossed_below(bars.close, m))
    return np.hstack(entries), np.hstack(exits)


db = qdb.connect(sys.argv[1])
one = db.sweep(script_cross, tickers="AAPL,MSFT", chunk=1, workers=1, out_dir=sys.argv[3] + "/one")
two = db.sweep(script_cross, tickers="AAPL,MSFT", chunk=1, workers=2, out_dir=sys.argv[3] + "/two")
print(json.dumps([one.results, two.results]))
'''


def test_a_script_without_main_guard_sweeps_in_parallel_once(dbfile: Path, tmp_path: Path) -> None:
    script = tmp_path / "no_guard.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs.txt"
    done = _run([str(script), str(dbfile), str(runs), str(tmp_path)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert runs.read_text() == "ran\n"  # the workers never ran the script again
    one, two = json.loads(done.stdout)
    _same_tables(_table(one), _table(two))
    with qdb.connect(dbfile) as db:  # each sweep wrote its run once
        rows = db.query("SELECT count(*) FROM sweep_runs WHERE strategy = 'script-cross'")
    assert rows[0][0] == 2


# ----------------------------------------------------------------------------- replay
@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The legacy sample migrated: predictions of five strategies, and their prices."""
    path = tmp_path_factory.mktemp("userstrat_replay") / "quant.db"
    res = CliRunner().invoke(app, ["migrate", str(ROOT / "tests" / "fixtures" / "legacy_sample"), "--db", str(path)])
    assert res.exit_code == 0, res.output
    return path


def test_replay_closes_on_your_strategy_exits(sample_db: Path) -> None:
    args = ["replay", "momentum", "--exits", "settings", "--exit-strategy", f"{USER_FILE}:breakout",
            "--exit-param", "exit_window=5", "--max-hold", "60"]
    doc = _cli(args, sample_db)
    with qdb.connect(sample_db) as db:
        res = db.replay("momentum", exits="settings", exit_strategy=_user_module().breakout,
                        exit_params={"exit_window": 5}, max_hold_bars=60, store=False)
        plain = db.replay("momentum", exits="settings", max_hold_bars=60, store=False)
        again = db.rerun_backtest(doc["backtest_id"])  # the exit strategy found by its recorded spec
    assert doc["stats"]["final_equity"] == res.stats()["final_equity"] == again.stats()["final_equity"]
    reasons = res.stats()["exit_reasons"]
    assert reasons.get("signal", 0) > 0 and "signal" not in plain.stats()["exit_reasons"]
    assert res.stats()["predictions"] == plain.stats()["predictions"]  # the same entries, other exits
    with pytest.raises(ArgumentError, match="exits='settings'"), qdb.connect(sample_db) as db:
        db.replay("momentum", exit_strategy="sma-cross", store=False)


def test_a_file_imported_as_a_module_and_loaded_by_its_path_is_one_strategy(tmp_path: Path) -> None:
    """`import my_strategies` in a notebook, then `"my_strategies.py:breakout"` (or the other
    way round): the same function of the same file registers its name again instead of being
    refused as someone else's (it was, whenever both happened in one process)."""
    import importlib
    import shutil
    import sys

    folder = tmp_path / "pkgdir"
    folder.mkdir()
    copy = folder / "my_strategies_twice.py"
    shutil.copy(USER_FILE, copy)
    before = STRATEGIES.pop("channel-breakout", None)  # this module's other tests load USER_FILE
    sys.path.insert(0, str(folder))
    try:
        importlib.import_module("my_strategies_twice")
        by_module = resolve_strategy("channel-breakout")
        by_path = resolve_strategy(f"{copy}:breakout")
        assert by_path.name == by_module.name == "channel-breakout"
        assert by_path.source()["sha256"] == by_module.source()["sha256"]
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("my_strategies_twice", None)
        STRATEGIES.pop("channel-breakout", None)
        if before is not None:
            STRATEGIES["channel-breakout"] = before
