"""What a research command loads (issue 15): `quantdb sweep` runs, writes its Parquet results and
stores its best sets without importing pandas (pyarrow's own conversions and pyarrow.dataset
would import it: 0.4 s of start-up), and a second write command on the same file finds the
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
    db = Database(tmp_path / "quant.db")
    apply_migrations(db)
    import_price_files(db, [LEGACY_PRICES])
    db.close()
    first = _sweep(tmp_path / "quant.db", tmp_path / "out")
    assert first == {"code": 0, "pandas": False, "quick_check": True}
    second = _sweep(tmp_path / "quant.db", tmp_path / "out")
    assert second == {"code": 0, "pandas": False, "quick_check": False}
