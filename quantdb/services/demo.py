"""`quantdb demo`: the whole product on its embedded synthetic market, in one command.

Steps: generate the market (12 years x 500 tickers + SPY by default) and a legacy folder with
all of docs/legacy-format.md's mess; migrate it (backup, one batch, quarantine, counts that balance) and
verify it; compute volume leaders; run live tracking; backtest every built-in strategy; sweep
the SMA cross; walk forward; Monte Carlo the best backtest; the risk report; then the
tearsheet, the dashboard, the Excel and PDF files, and an index page that links them all. It
runs offline and can be re-run: the migration is idempotent and results accumulate.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import pickle
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdb._atomic import write_atomic
from quantdb._laps import Laps
from quantdb._paths import make_folder
from quantdb._spawn import spawn_python
from quantdb.errors import ArgumentError
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

Step = Callable[[str], None]


@dataclass(frozen=True)
class DemoSize:
    """How big the generated demo is."""

    tickers: int
    years: int
    predictions: int
    trades: int
    sweep_tickers: int
    wf_tickers: int
    mc_paths: int


FULL = DemoSize(tickers=500, years=12, predictions=5000, trades=3000, sweep_tickers=100, wf_tickers=20, mc_paths=10_000)
SMALL = DemoSize(tickers=60, years=4, predictions=1500, trades=900, sweep_tickers=20, wf_tickers=8, mc_paths=2000)
#: The demo's steps, in the order `DemoReport.seconds` lists their wall seconds.
STEPS = ("generate", "migrate", "track", "backtest", "sweep", "walkforward", "risk", "reports")
#: The demo the kernel warm-up runs (`warm_kernels`): every step, on data too small to matter.
TINY = DemoSize(tickers=12, years=3, predictions=200, trades=120, sweep_tickers=6, wf_tickers=4, mc_paths=200)


@dataclass
class DemoReport:
    """What the demo did and where its outputs are."""

    db: str
    out: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def run_demo(
    db_path: str | Path,
    out_dir: str | Path,
    *,
    small: bool = False,
    seed: int = 42,
    step: Step | None = None,
) -> DemoReport:
    """Build the demo database and every report into ``out_dir``; ``step(name)`` is told each step.

    While the first steps (generating and migrating: one core, no numba) run, a second
    process runs the same steps on a tiny market (`warm_kernels`), so the numba kernels the
    later steps use are compiled on the other core and loaded from numba's on-disk cache when
    this process reaches them: the same compiled code either way, so no result depends on it.
    The verification of the migration runs in a third process, on a read snapshot of the
    migrated database, while the later steps run (`_verify_aside`); the PDF is drawn in another
    while the other reports are written (`_pdf_aside`).
    """
    if seed < 0:  # checked before anything is written (numpy refuses it deep inside)
        msg = f"seed must be a whole number >= 0, got {seed}"
        raise ArgumentError(msg)
    out, db = _open(db_path, out_dir)  # a bad --db or --out is refused before anything starts
    with _kernel_warmup(seed):
        return _run(db, out, SMALL if small else FULL, seed=seed, step=step, render=True)


def _open(db_path: str | Path, out_dir: str | Path) -> tuple[Path, Database]:
    """The output folder (made) and the database (checked, migrated)."""
    out = Path(out_dir).absolute()
    make_folder(out, what="--out")
    db = Database(db_path)
    try:
        db.require_healthy()
        apply_migrations(db)
    except BaseException:
        db.close()
        raise
    return out, db


@contextlib.contextmanager
def _verify_aside(db: Database, legacy: Path) -> Iterator[list[bool | None]]:
    """`verify_folder` of ``legacy`` against ``db`` as it is now, in a child interpreter, while
    the block goes on writing to ``db``; the list holds ``ok`` at the end.

    The child takes a read snapshot (`Database.snapshot`) and says so before the block starts,
    so it proves what an in-process run at this point would prove (tracking later closes
    trades and predictions: a proof after that would compare other rows). Where the child
    cannot start or take its snapshot, the folder is verified here, before the block; should it
    fail after that, ``ok`` is None (not proven) rather than a proof of a later state.
    """
    from quantdb.services.records.verify import verify_folder

    code = ("import sys; from quantdb.services.records.verify import verify_folder; "
            "from quantdb.storage.sqlite import Database; db = Database(sys.argv[1])\n"
            "with db.snapshot():\n    print('snapshot', flush=True); ok = verify_folder(db, sys.argv[2]).ok\n"
            "print('true' if ok else 'false', flush=True)")  # fmt: skip
    done: list[bool | None] = []
    child = spawn_python(code, str(db.path), str(legacy), stdout=subprocess.PIPE)
    if child is not None and (child.stdout is None or child.stdout.readline() != b"snapshot\n"):
        child.kill()
        child.wait()
        child = None
    if child is None:
        done.append(bool(verify_folder(db, legacy).ok))
        yield done
        return
    try:
        yield done
    except BaseException:
        child.kill()
        child.wait()
        raise
    answer = child.communicate()[0].strip()
    done.append(answer == b"true" if child.returncode == 0 and answer in (b"true", b"false") else None)


@contextlib.contextmanager
def _kernel_warmup(seed: int) -> Iterator[None]:
    """`warm_kernels` in a child process for the length of the block (stopped at its end).

    Only a speed-up: where no temporary folder or process can be made, the block runs alone.
    """
    code = "import sys; from quantdb.services.demo import warm_kernels; warm_kernels(sys.argv[1], int(sys.argv[2]))"
    try:
        tmp = Path(tempfile.mkdtemp(prefix="quantdb-demo-warmup-"))
    except OSError:
        yield
        return
    child = spawn_python(code, str(tmp), str(seed))
    if child is None:
        shutil.rmtree(tmp, ignore_errors=True)
        yield
        return
    try:
        yield
    finally:
        if child.poll() is None:  # numba writes each cache file whole (temp + rename): safe to stop
            child.terminate()
        child.wait()
        shutil.rmtree(tmp, ignore_errors=True)


#: The PDF child: it imports the renderer and matplotlib's PDF backend at once (while the
#: parent computes the bundle), then reads one line ``[bundle pickle, output path]`` from
#: stdin and draws; an empty stdin (the parent gave up) ends it without drawing.
_PDF_CHILD = (
    "import json, pickle, sys\n"
    "from quantdb.services.reports.pdf import render_pdf\n"
    "import matplotlib.backends.backend_pdf, matplotlib.figure\n"
    "line = sys.stdin.readline()\n"
    "if line:\n"
    "    src, out = json.loads(line)\n"
    "    with open(src, 'rb') as f:\n"
    "        render_pdf(pickle.loads(f.read()), out)\n"
)


@contextlib.contextmanager
def _pdf_child() -> Iterator[subprocess.Popen[bytes] | None]:
    """A child interpreter for `_pdf_aside`, started now so that its imports (about 1.5 s)
    overlap the caller's work; None where no process can be made. Ended with the block if
    it was never given a bundle."""
    child = spawn_python(_PDF_CHILD, stdin=subprocess.PIPE)
    if child is None:
        yield None
        return
    try:
        yield child
    finally:
        if child.stdin is not None and not child.stdin.closed:  # never given a bundle
            with contextlib.suppress(OSError):  # a child that died first: a broken pipe
                child.stdin.close()
            child.kill()
        child.wait()


@contextlib.contextmanager
def _pdf_aside(
    bundle: Any, path: Path, child: subprocess.Popen[bytes] | None = None
) -> Iterator[list[Path]]:
    """`render_pdf` of ``bundle`` in a child interpreter while the block runs; the list holds
    the written path at the end. ``child`` is one started early by `_pdf_child` (else one is
    started here). Should the child fail, the PDF is drawn here instead, so any error is
    raised as `render_pdf` raises it."""
    from quantdb.services.reports.pdf import render_pdf

    done: list[Path] = []
    tmp: Path | None = None
    with contextlib.ExitStack() as stack:
        try:
            if child is None:
                child = stack.enter_context(_pdf_child())
            if child is None or child.stdin is None:
                msg = "no child process"
                raise OSError(msg)  # drawn here instead, just below
            tmp = Path(tempfile.mkdtemp(prefix="quantdb-demo-pdf-"))
            src = tmp / "bundle.pickle"
            src.write_bytes(pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL))
            child.stdin.write((json.dumps([str(src), str(path)]) + "\n").encode())
            child.stdin.close()
        except OSError:  # no temporary folder or process to be had: drawn here, after the block
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            if child is not None:
                child.kill()
                child.wait()
            yield done
            done.append(render_pdf(bundle, path))
            return
        try:
            try:
                yield done
            except BaseException:
                child.kill()  # the PDF is written whole or not at all (`atomic_output`)
                child.wait()
                raise
            if child.wait() != 0:
                render_pdf(bundle, path)
            done.append(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def warm_kernels(folder: str | Path, seed: int = 42) -> None:
    """Run every step of the demo, reports' numbers but no rendering, on `TINY` in ``folder``.

    Its only lasting effect is numba's on-disk cache of the kernels those steps call.
    """
    folder = Path(folder)
    out, db = _open(folder / "warm.db", folder / "out")
    _run(db, out, TINY, seed=seed, step=None, render=False)


def _run(db: Database, out: Path, size: DemoSize, *, seed: int, step: Step | None, render: bool) -> DemoReport:
    """The demo's steps at ``size`` into ``db`` and ``out`` (closes ``db``); ``render`` False
    stops after computing the report bundle."""
    from quantdb.datasets import generate_market, write_legacy_folder

    report = DemoReport(db=str(db.path), out=str(out))
    announce = step or (lambda _name: None)
    seconds: dict[str, float] = {}
    lap = Laps(seconds).lap  # a step met twice (reports: the bundle, then the files) adds up

    announce(f"generating {size.tickers} tickers x {size.years} years + SPY and the legacy files")
    market = generate_market(size.tickers, size.years, seed=seed)
    legacy = out / "legacy"
    manifest = write_legacy_folder(
        market, legacy, seed=7, n_predictions=size.predictions, n_trades=size.trades, mess=True,
        damage=True, overwrite=True,
    )
    report.outputs["legacy folder"] = str(legacy)
    report.summary["legacy_records"] = manifest.records
    lap("generate")

    announce("migrating the legacy folder (backup, one batch, quarantine)")
    from quantdb.services.records.migrate import migrate_folder
    from quantdb.services.reports.bundle import build_bundle

    migration = migrate_folder(db, legacy, backup_dir=out / "backups")
    write_atomic(out / "migration.json", json.dumps(_plain(migration), indent=2), what="demo output")
    report.outputs["migration report"] = str(out / "migration.json")
    report.summary["migration_totals"] = _plain(migration.totals)
    pdf: list[Path] = []
    # The verification runs on the other core, on a snapshot of the migrated database, while
    # the steps below run (`_verify_aside`); it is joined when the block ends.
    with _verify_aside(db, legacy) as verified, contextlib.ExitStack() as aside:
        lap("migrate")
        best_id, tickers = _writing_steps(db, out, size, market.tickers, report=report, announce=announce, lap=lap)
        if render:
            # Nothing below writes to the database (walk-forward, Monte Carlo and the risk report
            # only read), so the report bundle is computed now, once (every format shows the
            # same numbers), and the PDF (matplotlib, the longest report) is drawn from it in a
            # second process, on the other core, while this one runs the last steps and writes
            # the other three reports. That process is started first, so that it imports
            # matplotlib while this one computes the bundle; the bundle's time counts as reports'.
            child = aside.enter_context(_pdf_child())
            bundle = build_bundle(db)
            lap("reports")
            pdf = aside.enter_context(_pdf_aside(bundle, out / "report.pdf", child))
        _reading_steps(db, out, size, tickers, best_id, seed=seed, report=report, announce=announce, lap=lap)

        announce("reports: tearsheet, dashboard, Excel, PDF")
        if render:
            from quantdb.services.reports.dashboard import render_dashboard
            from quantdb.services.reports.excel import render_workbook
            from quantdb.services.reports.tearsheet import write_tearsheet

            if best_id is not None:
                report.outputs["tearsheet"] = str(write_tearsheet(db, out / "tearsheet.html", backtest_id=best_id))
            write_atomic(out / "dashboard.html", render_dashboard(bundle), what="report")
            report.outputs["dashboard"] = str(out / "dashboard.html")
            report.outputs["excel"] = str(render_workbook(bundle, out / "report.xlsx"))
        else:
            build_bundle(db)  # the warm-up: its kernels compiled, nothing drawn
    report.summary["verify_ok"] = verified[0]
    if not render:
        db.close()
        return report
    report.outputs["pdf"] = str(pdf[0])  # drawn: the block waited for the second process
    lap("reports")
    report.seconds = {name: round(seconds[name], 2) for name in STEPS}

    index = out / "index.html"
    write_atomic(index, _index_html(report), what="demo output")
    report.outputs = {"index": str(index), **report.outputs}
    db.close()
    return report


def _writing_steps(
    db: Database, out: Path, size: DemoSize, market_tickers: Iterable[str], *, report: DemoReport,
    announce: Step, lap: Step,
) -> tuple[int | None, list[str]]:
    """The steps that write to the database after the migration: leaders and tracking, a
    backtest of every built-in strategy, the sweep. Returns the best backtest's id and the
    sweep's tickers."""
    announce("volume leaders and live tracking")
    from quantdb.services.live.leaders import compute_leaders
    from quantdb.services.live.tracking import track_update

    compute_leaders(db, top=20)
    track = track_update(db)
    report.summary["tracking"] = {k: v for k, v in _plain(track).items() if not isinstance(v, list | dict)}
    lap("track")

    announce("backtesting every built-in strategy")
    from quantdb.services.research.backtest import run_backtests
    from quantdb.strategies import STRATEGIES

    backtests: dict[str, dict[str, Any]] = {}
    best_id, best_sharpe = None, float("-inf")
    names = sorted(STRATEGIES)
    for name, res in zip(names, run_backtests(names, db=db), strict=True):  # the bars loaded once
        s = res.stats()
        backtests[name] = {k: s.get(k) for k in ("backtest_id", "total_return", "sharpe", "max_drawdown", "n_trades")}
        backtests[name]["backtest_id"] = res.backtest_id
        sharpe = s.get("sharpe")
        if sharpe is not None and not math.isnan(sharpe) and sharpe > best_sharpe:
            best_id, best_sharpe = res.backtest_id, sharpe
    report.summary["backtests"] = backtests
    lap("backtest")

    announce("parameter sweep of sma-cross")
    from quantdb.services.research.sweep import heatmap, run_sweep

    tickers = [t for t in sorted(market_tickers) if t != "SPY"][: size.sweep_tickers]
    sweep = run_sweep(
        db, "sma-cross", grid_specs=["fast=5:50:5", "slow=20:200:20"], constraints=["fast<slow"],
        tickers=tickers, out_dir=out / "sweeps",
    )
    report.outputs["sweep results"] = str(sweep.results)
    png = out / "sweep_heatmap.png"
    heatmap(sweep.results, "fast", "slow", out=png)
    report.outputs["sweep heatmap"] = str(png)
    report.summary["sweep"] = {"run_id": sweep.run_id, "combos": sweep.combos}
    lap("sweep")
    return best_id, tickers


def _reading_steps(
    db: Database, out: Path, size: DemoSize, tickers: list[str], best_id: int | None, *, seed: int,
    report: DemoReport, announce: Step, lap: Step,
) -> None:
    """The steps that only read the database: walk-forward, Monte Carlo of the best backtest,
    the risk report (each written to a JSON file in ``out``)."""
    announce("walk-forward analysis")
    from quantdb.services.research.walkforward import run_walkforward

    wf = run_walkforward(
        db, "sma-cross", grid_specs=["fast=5:40:5", "slow=20:120:20"], constraints=["fast<slow"],
        tickers=tickers[: size.wf_tickers], train=504, test=126,
    )
    write_atomic(out / "walkforward.json", json.dumps(_plain(wf), indent=2, default=str), what="demo output")
    report.outputs["walk-forward"] = str(out / "walkforward.json")
    lap("walkforward")

    announce("Monte Carlo and the risk report")
    from quantdb.services.live.risk import risk_report
    from quantdb.services.research.montecarlo import load_source, run_montecarlo

    if best_id is not None:
        mc = run_montecarlo(load_source(db, backtest=best_id), paths=size.mc_paths, method="block", seed=seed)
        write_atomic(out / "montecarlo.json", json.dumps(_plain(mc), indent=2, default=str), what="demo output")
        report.outputs["monte carlo"] = str(out / "montecarlo.json")
    risk = risk_report(db)
    write_atomic(out / "risk.json", json.dumps(_plain(risk), indent=2, default=str), what="demo output")
    report.outputs["risk report"] = str(out / "risk.json")
    lap("risk")


def _plain(value: Any) -> Any:
    """Dataclasses and NumPy values to JSON-ready Python (NaN -> None)."""
    from quantdb._json import to_jsonable

    return to_jsonable(value)


def _index_html(report: DemoReport) -> str:
    rows = "".join(
        f"<li><a href='{html.escape(Path(p).name if Path(p).parent == Path(report.out) else str(Path(p).relative_to(report.out)) if str(p).startswith(report.out) else p)}'>"
        f"{html.escape(name)}</a></li>"
        for name, p in report.outputs.items()
        if name != "index"
    )
    summary = html.escape(json.dumps(report.summary, indent=2, default=str))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>quantdb demo</title></head><body>"
        f"<h1>quantdb demo</h1><p>database: {html.escape(report.db)}</p><ul>{rows}</ul>"
        f"<h2>summary</h2><pre>{summary}</pre></body></html>"
    )
