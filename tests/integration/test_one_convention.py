"""One convention per figure, end to end on the legacy sample's prices: one benchmark loader
(reports, performance, risk and backtests read the same returns on the same dates, so a
backtest's stored beta/alpha are the report's), drawdowns negative from the kernels to the
stored rows with no flip in the services, and a sweep ranked by ``max_drawdown`` still puts
the shallowest drawdown first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from quantdb.services import benchmark
from quantdb.services.records.prices import import_price_files
from quantdb.services.reports import data
from quantdb.services.reports.bundle import build_bundle
from quantdb.services.research.backtest import run_backtest
from quantdb.services.research.sweep import run_sweep
from quantdb.settings import SimSettings
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "quantdb"
PRICES = ROOT / "tests" / "fixtures" / "legacy_sample" / "price_history"
TICKERS = ("SPY", "AAPL", "AMZN", "JPM")
BENCH_FIGURES = ("beta", "alpha", "correlation", "r_squared", "information_ratio")


@pytest.fixture(scope="module")
def price_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(tmp_path_factory.mktemp("convention") / "quant.db")
    apply_migrations(db)
    import_price_files(db, [PRICES / f"{t}.csv" for t in TICKERS])
    yield db
    db.close()


def _defs(pattern: str) -> list[str]:
    rx = re.compile(pattern, re.MULTILINE)
    return sorted(
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if rx.search(p.read_text(encoding="utf-8"))
    )


def test_one_benchmark_loader() -> None:
    # one function reads the benchmark's prices; a method of that name (QuantDB's, a result's
    # Origin) only calls it (or benchmark_on_dates, which calls it)
    assert _defs(r"^def _?benchmark_returns\(") == ["quantdb/services/benchmark.py"]
    for path in _defs(r"^[ \t]+def _?benchmark_returns\("):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(r"from quantdb\.services\.benchmark import benchmark_(returns|on_dates)\b", text), path
        assert "ticker_closes" not in text and "price_history" not in text, path
    assert data.benchmark_returns is benchmark.benchmark_returns
    source = (PACKAGE / "services" / "reports" / "data.py").read_text(encoding="utf-8")
    assert "importlib" not in source and "_optional" not in source


def test_the_loader_reads_adjusted_closes(price_db: Database) -> None:
    spy = benchmark.benchmark_returns(price_db, " spy ")
    rows = price_db.query(
        "SELECT p.date, p.adj_close FROM price_history p JOIN tickers t ON t.id = p.ticker_id "
        "WHERE t.symbol = 'SPY' ORDER BY p.date"
    )
    px = np.array([r[1] for r in rows])
    np.testing.assert_allclose(spy.to_numpy(), px[1:] / px[:-1] - 1.0, rtol=1e-15)
    assert spy.index[0].date().isoformat() == rows[1][0] and spy.name == "SPY"
    with pytest.raises(data.NotFound, match="NOPE"):
        benchmark.benchmark_returns(price_db, "nope")


def test_backtest_benchmark_figures_equal_the_reports(price_db: Database) -> None:
    res = run_backtest(
        "sma-cross", db=price_db, tickers=["AAPL", "AMZN", "JPM"], start="2015-06-01",
        params={"fast": 10, "slow": 40}, benchmark="SPY",
    )
    assert res.backtest_id is not None
    stats = res.statistics
    assert all(np.isfinite(stats[k]) for k in BENCH_FIGURES)
    # the backtest's benchmark is the loader's returns on the backtest's dates (the first
    # date included: SPY has a bar the day before)
    spy = data.benchmark_returns(price_db)
    aligned = benchmark.benchmark_on_dates(price_db, "SPY", res.dates)
    assert aligned is not None and not np.isnan(aligned[0])
    np.testing.assert_array_equal(aligned, benchmark.on_dates(spy, res.dates))

    bundle = build_bundle(price_db, backtests=1)
    [section] = [s for s in bundle.series if s.kind == "backtest"]
    assert section.key == str(res.backtest_id)
    report = section.summary
    for key in ("beta", "alpha", "correlation", "sharpe", "max_drawdown"):
        assert report[key] == pytest.approx(stats[key], rel=1e-12, abs=1e-15), key
    assert report["annual_volatility"] == pytest.approx(stats["volatility"], rel=1e-12)
    assert -1.0 <= report["max_drawdown"] < 0.0
    stored = price_db.scalar("SELECT max_dd FROM backtest_results WHERE id = ?", (res.backtest_id,))
    assert stored == stats["max_drawdown"] == report["max_drawdown"]


def test_sweep_drawdowns_are_the_kernels_and_rank_higher_is_better(
    price_db: Database, tmp_path: Path
) -> None:
    from quantdb.kernels.simulate import simulate
    from quantdb.services.research.bars import load_bars
    from quantdb.strategies import get_strategy

    st = SimSettings(fill="close", sizing="equity", sizing_value=1.0, fractional=True)
    rep = run_sweep(
        price_db, "sma-cross", grid_specs=["fast=5:20:5", "slow=20:60:20"],
        constraints=["fast<slow"], tickers=["AAPL", "AMZN"], settings=st,
        objective="max_drawdown", out_dir=tmp_path, top=4,
    )
    table = pq.read_table(rep.results)
    f = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    assert np.all(f["max_drawdown"] <= 0.0) and np.any(f["max_drawdown"] < 0.0)
    # one row against the kernels: the drawdown of that backtest's equity, no sign flip
    _, names, bars = load_bars(price_db, ["AAPL", "AMZN"], None, None)
    sig = get_strategy("sma-cross").signals(bars, fast=float(f["fast"][0]), slow=float(f["slow"][0]))
    sim = simulate(bars.open, bars.high, bars.low, bars.close, sig[0], sig[1], settings=st)
    for i in np.flatnonzero((f["fast"] == f["fast"][0]) & (f["slow"] == f["slow"][0])):
        t = names.index(str(f["ticker"][i]))
        assert f["max_drawdown"][i] == pytest.approx(float(sim.stats.max_drawdown[t]), rel=1e-12)
    best = [b["max_drawdown"] for b in rep.best]
    assert best == sorted(best, reverse=True) and all(b <= 0.0 for b in best)
    means = {}
    for fast, slow, mdd in zip(f["fast"], f["slow"], f["max_drawdown"], strict=True):
        means.setdefault((fast, slow), []).append(mdd)
    assert best[0] == pytest.approx(max(float(np.mean(v)) for v in means.values()), rel=1e-12)
    stored = [r[0] for r in price_db.query(
        "SELECT max_dd FROM backtest_results WHERE sweep_run_id = ? ORDER BY id", (rep.run_id,))]
    assert stored == pytest.approx(best, rel=1e-12)
