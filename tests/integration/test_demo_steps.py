"""The demo's helper processes change nothing but the time: the PDF drawn in a child
interpreter is the PDF drawn in this one, byte for byte; the verification run in a child while
the later steps write gives the answer `verify_folder` gives here; and the kernel warm-up runs
every step of the demo (on a tiny market) to the end."""

from __future__ import annotations

from pathlib import Path

from quantdb.services.demo import (
    TINY,
    DemoReport,
    _pdf_aside,
    _pdf_child,
    _reading_steps,
    _verify_aside,
    warm_kernels,
)
from quantdb.services.live.leaders import compute_leaders
from quantdb.services.live.tracking import track_update
from quantdb.services.records.migrate import migrate_folder
from quantdb.services.records.verify import verify_folder
from quantdb.services.reports.bundle import build_bundle
from quantdb.services.reports.pdf import render_pdf
from quantdb.storage.sqlite import Database


def test_pdf_drawn_aside_is_the_pdf_drawn_here(sample_db: Path, tmp_path: Path) -> None:
    db = Database(sample_db)
    bundle = build_bundle(db)
    db.close()
    import matplotlib

    # whatever this process set before (QuantStats' tearsheets restyle matplotlib globally)
    # does not reach the PDF: it failed byte equality whenever a tearsheet ran first
    with matplotlib.rc_context({"axes.grid": True, "font.size": 7, "lines.linewidth": 3.0}):
        here = render_pdf(bundle, tmp_path / "here.pdf")
    with _pdf_aside(bundle, tmp_path / "aside.pdf") as done:
        assert done == []  # still being drawn
    assert done == [tmp_path / "aside.pdf"]
    assert (tmp_path / "aside.pdf").read_bytes() == here.read_bytes()
    # the demo starts the child before it computes the bundle (the imports overlap it)
    with _pdf_child() as child, _pdf_aside(bundle, tmp_path / "early.pdf", child) as early:
        assert early == []
    assert early == [tmp_path / "early.pdf"]
    assert (tmp_path / "early.pdf").read_bytes() == here.read_bytes()


def test_pdf_child_that_died_first_means_the_pdf_is_drawn_here(sample_db: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    db = Database(sample_db)
    bundle = build_bundle(db)
    db.close()
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], stdin=subprocess.PIPE)
    dead.wait()
    with _pdf_aside(bundle, tmp_path / "here.pdf", dead) as done:
        assert done == []
    assert done == [tmp_path / "here.pdf"]
    assert (tmp_path / "here.pdf").read_bytes() == render_pdf(bundle, tmp_path / "again.pdf").read_bytes()


def test_pdf_child_never_given_a_bundle_ends_with_the_block(tmp_path: Path) -> None:
    with _pdf_child() as child:
        assert child is not None and child.poll() is None
    assert child.returncode is not None
    assert not list(tmp_path.iterdir())  # it drew nothing


def test_verify_aside_proves_the_state_it_started_on(legacy_dir: Path, tmp_path: Path) -> None:
    """The child verifies the migrated state while this process tracks (which closes trades and
    predictions): its answer is the in-process answer before tracking, not after it."""
    db = Database(tmp_path / "quant.db")
    try:
        migrate_folder(db, legacy_dir)
        assert verify_folder(db, legacy_dir).ok
        with _verify_aside(db, legacy_dir) as ok:  # the child reads while this process writes
            compute_leaders(db, top=20)
            track_update(db)
            assert ok == []
        assert ok == [True]
        assert not verify_folder(db, legacy_dir).ok  # tracking changed rows the proof compares
        with db.atomic() as conn:  # a migrated price that no longer matches its file
            conn.execute("UPDATE price_history SET close = close + 1 WHERE id = (SELECT min(id) FROM price_history)")
        with _verify_aside(db, legacy_dir) as ok:
            pass
        assert ok == [False]
    finally:
        db.close()


def test_warm_kernels_runs_every_demo_step(tmp_path: Path) -> None:
    warm_kernels(tmp_path, seed=3)
    db = Database(tmp_path / "warm.db")
    try:
        strategies = db.scalar("SELECT count(DISTINCT strategy_id) FROM backtest_results WHERE sweep_run_id IS NULL")
        tickers = db.scalar("SELECT count(*) FROM tickers WHERE symbol <> 'SPY'")
        sweeps = db.scalar("SELECT count(*) FROM sweep_runs WHERE status = 'done'")
    finally:
        db.close()
    assert tickers >= TINY.tickers and sweeps == 1 and strategies >= 6


def test_steps_after_the_bundle_only_read(tmp_path: Path) -> None:
    # The demo computes the report bundle right after the sweep and draws the PDF from it while
    # walk-forward, Monte Carlo and the risk report run: they must never write to the database
    # (another connection's `PRAGMA data_version` moves on any commit).
    import sqlite3

    warm_kernels(tmp_path, seed=5)
    watch = sqlite3.connect(tmp_path / "warm.db")
    db = Database(tmp_path / "warm.db")
    try:
        before = watch.execute("PRAGMA data_version").fetchone()[0]
        tickers = [r[0] for r in db.query("SELECT symbol FROM tickers WHERE symbol <> 'SPY' ORDER BY symbol")]
        best = db.scalar("SELECT min(id) FROM backtest_results WHERE sweep_run_id IS NULL")
        report = DemoReport(db=str(db.path), out=str(tmp_path / "out"))
        _reading_steps(db, tmp_path / "out", TINY, tickers, best, seed=5, report=report,
                       announce=lambda _step: None, lap=lambda _step: None)  # fmt: skip
        assert {"walk-forward", "monte carlo", "risk report"} <= set(report.outputs)
        assert watch.execute("PRAGMA data_version").fetchone()[0] == before
    finally:
        db.close()
        watch.close()


def _stored_backtests(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every stored backtest row, without the clock (``created_at``)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        out = {}
        for table in ("backtest_results", "backtest_equity", "backtest_trades", "strategies"):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[1] != "created_at"]
            out[table] = list(con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1, 2, 3"))
        return out
    finally:
        con.close()


def test_run_backtests_stores_what_run_backtest_stores(sample_db: Path, tmp_path: Path) -> None:
    """The demo's backtest step loads the bars once for every strategy (`run_backtests`):
    the rows it stores are those of one `run_backtest` per strategy, ids and order included."""
    import shutil

    from quantdb.services.research.backtest import run_backtest, run_backtests
    from quantdb.strategies import STRATEGIES

    names = sorted(STRATEGIES)
    for tag in ("one", "each"):
        shutil.copy(sample_db, tmp_path / f"{tag}.db")
    db = Database(tmp_path / "one.db")
    try:
        together = run_backtests(names, db=db)
    finally:
        db.close()
    db = Database(tmp_path / "each.db")
    try:
        alone = [run_backtest(name, db=db) for name in names]
    finally:
        db.close()
    assert [r.backtest_id for r in together] == [r.backtest_id for r in alone] == list(range(1, len(names) + 1))
    assert [r.strategy for r in together] == [r.strategy for r in alone]
    stored = _stored_backtests(tmp_path / "one.db")
    assert stored["backtest_equity"] and stored["backtest_trades"]
    assert stored == _stored_backtests(tmp_path / "each.db")
