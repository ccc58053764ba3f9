"""Mirror versions are never removed under a reader (issue 16, item 4).

One process imports a day of prices again and again while four processes load panels as fast
as they can. Every rebuild makes a new version and removes old ones; a reader must always get
one complete version (no FileNotFoundError on ``v-*/adj_close.npy``, no half-built matrix).
Real processes; the run is bounded by the number of imports, not by a clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

REPO = Path(__file__).resolve().parents[3]
N_TICKERS = 30
N_IMPORTS = 80
N_READERS = 4

IMPORTER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from quantdb.storage.sqlite import Database
    db = Database(sys.argv[1]); n = int(sys.argv[2]); done = sys.argv[3]; go = sys.argv[4]
    import os
    while not os.path.exists(go):
        time.sleep(0.005)
    days = np.busday_offset("2020-01-01", np.arange(n), roll="forward").astype(str)
    for i, day in enumerate(days, start=1):
        with db.atomic() as conn:   # day i: adj_close = i + 1 for every ticker
            conn.execute(
                "INSERT INTO price_history (ticker_id, date, open, high, low, close, adj_close, volume) "
                "SELECT id, ?, ?, ?, ?, ?, ?, 100 FROM tickers", (day, *[i + 1] * 5))
        time.sleep(0.01)
    open(done, "w").close()
    """
)

READER = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    from quantdb.client import QuantDB
    path, done, ready, go = sys.argv[1:5]
    q = QuantDB(path, create=False)
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    loads, errors, torn = 0, [], 0
    while True:
        finished = os.path.exists(done)
        try:
            for field in ("adj_close", "close"):
                p = q.close_panel(field=field)
                loads += 1
                want = np.arange(1, len(p.dates) + 1, dtype=np.float64)[:, None]
                if p.values.shape[1] != int(sys.argv[5]) or not np.array_equal(p.values, np.broadcast_to(want, p.values.shape)):
                    torn += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if finished:
            break
    print(json.dumps({"loads": loads, "errors": errors[:5], "n_errors": len(errors), "torn": torn}))
    """
)


def test_readers_always_see_one_complete_version(tmp_path: Path) -> None:
    path = tmp_path / "prices.db"
    db = Database(path)
    apply_migrations(db)
    with db.atomic() as conn:
        conn.executemany("INSERT INTO tickers (symbol) VALUES (?)", [(f"T{i:03d}",) for i in range(N_TICKERS)])
        conn.execute(
            "INSERT INTO price_history (ticker_id, date, open, high, low, close, adj_close, volume) "
            "SELECT id, '2019-12-31', 1, 1, 1, 1, 1, 100 FROM tickers"
        )
    db.close()
    done, go = tmp_path / "done", tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    readies = [tmp_path / f"ready{i}" for i in range(N_READERS)]

    def spawn(script: str, *args: object) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip

    readers = [spawn(READER, path, done, r, go, N_TICKERS) for r in readies]
    importer = spawn(IMPORTER, path, N_IMPORTS, done, go)
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in readies) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.write_text("go")
        _, err = importer.communicate(timeout=300)
        assert importer.returncode == 0, err
        results = []
        for r in readers:
            out, err = r.communicate(timeout=300)
            assert r.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for p in (*readers, importer):
            if p.poll() is None:
                p.kill()
    errors = [e for r in results for e in r["errors"]]
    assert sum(r["n_errors"] for r in results) == 0, errors
    assert sum(r["torn"] for r in results) == 0
    assert all(r["loads"] > 0 for r in results)
    # Only the current version is left once everyone is done.
    root = path.with_name(path.name + ".mirror")
    assert len([p for p in root.iterdir() if p.is_dir()]) == 1
