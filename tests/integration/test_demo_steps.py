"""The demo's two helper processes change nothing but the time: the PDF drawn in a child
interpreter is the PDF drawn in this one, byte for byte, and the kernel warm-up runs every step
of the demo (on a tiny market) to the end."""

from __future__ import annotations

from pathlib import Path

from quantdb.services.demo import TINY, _pdf_aside, _pdf_child, warm_kernels
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


def test_pdf_child_never_given_a_bundle_ends_with_the_block(tmp_path: Path) -> None:
    with _pdf_child() as child:
        assert child is not None and child.poll() is None
    assert child.returncode is not None
    assert not list(tmp_path.iterdir())  # it drew nothing


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
