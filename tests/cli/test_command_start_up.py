"""What a research command loads (issue 15): `quantdb sweep` runs, writes its Parquet results and
stores its best sets without importing pandas (pyarrow's own conversions and pyarrow.dataset
would import it: 0.4 s of start-up) nor, with one worker, the process pool, and a second write command on the same file finds the
health seal and skips quick_check. Both read in a fresh interpreter, no timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from quantdb.services.records.prices import import_price_files
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

LEGACY_PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_sample" / "price_history"

RUN = textwrap.dedent(
    """
    import json, sys
    import sqlite3
    checks = []
    real_connect = sqlite3.connect

    def traced(*args, **kwargs):  # record every statement of every connection (no mock: a trace)
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(checks.append)
        return conn

    sqlite3.connect = traced
    from quantdb.cli import main
    sys.argv = ["quantdb", *sys.argv[1:]]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({"code": code, "pandas": "pandas" in sys.modules,
                      "process_pool": "concurrent.futures.process" in sys.modules,
                      "quick_check": any("quick_check" in s for s in checks)}))
    """
)


def _sweep(db: Path, out: Path) -> dict[str, object]:
    args = ["sweep", "sma-cross", "--grid", "fast=5:20:5", "--grid", "slow=10:40:10", "--constraint", "fast<slow",
            "--fill", "close", "--sizing", "equity:1", "--fractional", "--json", "--db", str(db), "--out", str(out)]
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert json.loads("\n".join(lines[:-1]))["combos"] == 12  # the command's own JSON document
    return report


def test_sweep_command_imports_no_pandas_and_checks_once(tmp_path: Path) -> None:
    """The file is built through the services (as bench_sweep builds its own): the session that
    created it sealed it, so not even the first command reads it whole (issue 15: that first
    run was the slowest); a change made outside quantdb is checked."""
    db = Database(tmp_path / "quant.db")
    apply_migrations(db)
    import_price_files(db, [LEGACY_PRICES])
    db.close()
    first = _sweep(tmp_path / "quant.db", tmp_path / "out")
    # one worker: the chunks run in this process, so the process pool module is not imported
    assert first == {"code": 0, "pandas": False, "process_pool": False, "quick_check": False}
    second = _sweep(tmp_path / "quant.db", tmp_path / "out")
    assert second == {"code": 0, "pandas": False, "process_pool": False, "quick_check": False}
    with open(tmp_path / "quant.db", "r+b") as fh:  # a change made outside quantdb: checked again
        fh.seek(0, 2)
        fh.write(b"\0" * 4096)
    third = _sweep(tmp_path / "quant.db", tmp_path / "out")
    assert third == {"code": 0, "pandas": False, "process_pool": False, "quick_check": True}


def _command(*args: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_every_command_closes_its_database_so_the_next_skips_the_check(tmp_path: Path) -> None:
    """`prices import` and `calendar set` never closed the database they opened: no seal was
    written and the next write command read every page again. The first check of the file is
    skipped too: `init` created it, and sealed it as it closed."""
    db = str(tmp_path / "quant.db")
    assert _command("init", "--db", db)["code"] == 0
    first = _command("prices", "import", str(LEGACY_PRICES), "--db", db)
    assert first["code"] == 0 and first["quick_check"] is False  # init sealed the file it created
    again = _command("prices", "import", str(LEGACY_PRICES), "--db", db)
    assert again["code"] == 0 and again["quick_check"] is False
    calendar = _command("calendar", "set", "XNYS", "--db", db)
    assert calendar["code"] == 0 and calendar["quick_check"] is False
    with open(db, "r+b") as fh:  # a change made outside quantdb: checked again
        fh.seek(0, 2)
        fh.write(b"\0" * 4096)
    after = _command("prices", "import", str(LEGACY_PRICES), "--db", db)
    assert after["quick_check"] is True


def test_the_console_script_leaves_its_objects_to_the_os_at_exit() -> None:
    """`quantdb.cli.main` freezes the garbage collector as the process exits (a handler
    registered before it runs after it): no full collection over numba's objects at shutdown."""
    code = textwrap.dedent(
        """
        import atexit, gc, sys
        atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))
        sys.argv = ["quantdb", "--version"]
        from quantdb.cli import main
        try:
            main()
        except SystemExit:
            pass
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "frozen True"
