"""strategy_equity (position matrix, vectorized) equals a slow day-by-day mark-to-market loop."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from quantdb.services.benchmark import benchmark_returns
from quantdb.services.live.performance import performance_report, strategy_equity

CAPITAL = 50_000.0


def _build(db, rng: np.random.Generator):
    """4 tickers x 60 days (one with a 2:1 split), 2 strategies, 40 random trades (some open)."""
    days = np.arange(np.datetime64("2023-01-02"), np.datetime64("2023-04-30"))
    days = days[np.is_busday(days)][:60]
    n = days.shape[0]
    symbols = ["AAA", "BBB", "SPLT", "SPY"]
    adj = 50.0 * np.cumprod(1.0 + rng.normal(0.0005, 0.02, (n, 4)), axis=0)
    raw = adj.copy()
    raw[:30, 2] *= 2.0  # before the split the raw close is twice the adjusted one
    with db.atomic() as conn:
        for s in symbols:
            conn.execute("INSERT INTO tickers (symbol) VALUES (?)", (s,))
        ids = {r[0]: r[1] for r in conn.execute("SELECT symbol, id FROM tickers")}
        conn.executemany(
            "INSERT INTO price_history (ticker_id, date, open, high, low, close, volume, adj_close) "
            "VALUES (?, ?, ?, ?, ?, ?, 100, ?)",
            [
                (ids[s], str(days[t]), raw[t, j], raw[t, j], raw[t, j], raw[t, j], adj[t, j])
                for t in range(n)
                for j, s in enumerate(symbols)
            ],
        )
        for name in ("alpha", "beta"):
            conn.execute("INSERT INTO strategies (name) VALUES (?)", (name,))
        sids = {r[0]: r[1] for r in conn.execute("SELECT name, id FROM strategies")}
        trades = []
        for k in range(40):
            j = int(rng.integers(0, 3))
            i0 = int(rng.integers(0, n - 1))
            i1 = int(rng.integers(i0, n))
            is_open = rng.random() < 0.2
            side = "long" if rng.random() < 0.6 else "short"
            units = raw if (j == 2 and rng.random() < 0.5) else adj  # quoted raw or adjusted
            entry = units[i0, j] * (1 + rng.normal(0, 0.002))
            exit_ = None if is_open else units[i1, j] * (1 + rng.normal(0, 0.002))
            strat = "alpha" if k % 3 else "beta"
            cur = conn.execute(
                "INSERT INTO predictions (date, strategy_id, ticker_id, position, status) VALUES (?, ?, ?, ?, ?)",
                (str(days[i0]), sids[strat], ids[symbols[j]], side.upper(), "open"),
            )
            trades.append(
                (
                    cur.lastrowid,
                    ids[symbols[j]],
                    side,
                    str(days[i0]),
                    entry,
                    float(rng.integers(1, 50)),
                    None if is_open else str(days[i1]),
                    exit_,
                    "OPEN" if is_open else "CLOSED",
                    float(rng.uniform(0, 3)),
                )
            )
        conn.executemany(
            "INSERT INTO trades (prediction_id, ticker_id, side, entry_date, entry_price, shares, exit_date, "
            "exit_price, status, fees) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            trades,
        )
    return days, symbols, raw, adj


def _slow_equity(db, days, raw, adj, symbols) -> dict[str, np.ndarray]:
    """Day by day, trade by trade: realized P&L of closed trades + open trades marked at the close."""
    sym_col = {s: j for j, s in enumerate(symbols)}
    rows = db.query(
        "SELECT s.name, tk.symbol, t.side, t.entry_date, t.entry_price, t.shares, t.exit_date, t.exit_price, t.fees "
        "FROM trades t JOIN predictions p ON p.id = t.prediction_id JOIN strategies s ON s.id = p.strategy_id "
        "JOIN tickers tk ON tk.id = t.ticker_id"
    )
    out: dict[str, np.ndarray] = {}
    day_s = [str(d) for d in days]
    for name in sorted({r[0] for r in rows}):
        eq = np.zeros(len(days))
        for t, day in enumerate(day_s):
            total = 0.0
            for r in rows:
                if r[0] != name or r[3] > day:
                    continue
                j = sym_col[r[1]]
                i0 = day_s.index(r[3])
                sign = 1.0 if r[2] == "long" else -1.0
                # the trade's own units: raw when its entry is nearer the raw close of its entry day
                in_raw = abs(r[4] - raw[i0, j]) <= abs(r[4] - adj[i0, j])
                scale = raw[i0, j] / adj[i0, j] if in_raw else 1.0
                if r[6] is not None and r[6] <= day:
                    total += sign * (r[7] - r[4]) * r[5] - r[8]
                else:
                    total += sign * (adj[t, j] * scale - r[4]) * r[5] - r[8]
            eq[t] = CAPITAL + total
        out[name] = eq
    return out


def test_equity_equals_slow_loop(empty_db, rng) -> None:
    days, symbols, raw, adj = _build(empty_db, rng)
    frame = strategy_equity(empty_db, capital=CAPITAL)
    slow = _slow_equity(empty_db, days, raw, adj, symbols)
    assert sorted(set(frame["strategy"])) == sorted(slow)
    for name, eq in slow.items():
        part = frame.filter(frame["strategy"] == name)
        first = int(np.searchsorted(days, part["date"].to_numpy()[0].astype("datetime64[D]")))
        got = part["equity"].to_numpy()
        np.testing.assert_allclose(got, eq[first:], rtol=1e-12, atol=1e-7)
        prev = np.concatenate([[CAPITAL], eq[first:-1]])
        np.testing.assert_allclose(
            part["returns"].to_numpy(), (eq[first:] - prev) / prev, rtol=1e-9, atol=1e-15
        )
        np.testing.assert_allclose(
            part["realized_pnl"].to_numpy() + part["unrealized_pnl"].to_numpy(),
            eq[first:] - CAPITAL,
            atol=1e-7,
        )


def test_report_uses_the_kernels_on_the_equity(empty_db, rng) -> None:
    from quantdb.kernels.drawdown import max_drawdown
    from quantdb.kernels.metrics import beta, sharpe_ratio

    _build(empty_db, rng)
    report = performance_report(empty_db, period="daily", capital=CAPITAL)
    frame = strategy_equity(empty_db, capital=CAPITAL)
    spy = benchmark_returns(empty_db, "SPY")
    bench = pl.DataFrame(
        {"date": spy.index.to_numpy().astype("datetime64[D]"), "b": spy.to_numpy()},
        schema={"date": pl.Date, "b": pl.Float64},
    )
    assert report.benchmark == "SPY"
    for name, m in report.strategies.items():
        part = frame.filter(frame["strategy"] == name).join(bench, on="date", how="left")
        r = part["returns"].to_numpy()
        b = part["b"].fill_null(np.nan).to_numpy()
        assert m["sharpe"] == pytest.approx(float(sharpe_ratio(r)), rel=1e-12)
        assert m["max_drawdown"] == pytest.approx(float(max_drawdown(r)), rel=1e-12)
        assert m["beta"] == pytest.approx(float(beta(r, b)), rel=1e-12)
        assert m["total_return"] == pytest.approx(
            frame.filter(frame["strategy"] == name)["equity"][-1] / CAPITAL - 1, rel=1e-9
        )
        assert m["excess_return"] == pytest.approx(m["total_return"] - m["benchmark_return"])
    weekly = performance_report(empty_db, period="weekly", capital=CAPITAL)
    for name in report.strategies:  # compounding into weeks keeps the total return
        assert weekly.strategies[name]["total_return"] == pytest.approx(
            report.strategies[name]["total_return"], rel=1e-9
        )
        assert weekly.strategies[name]["periods"] < report.strategies[name]["periods"]


def test_closes_from_the_mirror_equal_the_sql_ones_bit_for_bit(empty_db, rng) -> None:
    # equity_arrays reads the daily closes from the columnar mirror when given the database
    # (tracking, perf, risk, reports) and from SQL on the connection otherwise (a read-only
    # folder): the same stored doubles, so the same equity to the last bit.
    from quantdb.services.live.performance import equity_arrays
    from quantdb.storage.mirror import mirror_root

    days, _symbols, _raw, _adj = _build(empty_db, rng)
    with empty_db.atomic() as conn:
        ids = {r[0]: r[1] for r in conn.execute("SELECT symbol, id FROM tickers")}
        conn.execute(  # no adjusted close: coalesce falls back to the close
            "UPDATE price_history SET adj_close = NULL WHERE ticker_id = ? AND date >= ?",
            (ids["AAA"], str(days[20])),
        )
        conn.execute(  # no close: the bar is not a price (carried forward)
            "UPDATE price_history SET close = NULL WHERE ticker_id = ? AND date BETWEEN ? AND ?",
            (ids["BBB"], str(days[10]), str(days[14])),
        )
        conn.execute("INSERT INTO tickers (symbol) VALUES ('NOBAR')")
        nobar = conn.execute("SELECT id FROM tickers WHERE symbol = 'NOBAR'").fetchone()[0]
        sid = conn.execute("SELECT id FROM strategies WHERE name = 'alpha'").fetchone()[0]
        pid = conn.execute(
            "INSERT INTO predictions (date, strategy_id, ticker_id, position, status) "
            "VALUES (?, ?, ?, 'LONG', 'open')",
            (str(days[5]), sid, nobar),
        ).lastrowid
        conn.execute(
            "INSERT INTO trades (prediction_id, ticker_id, side, entry_date, entry_price, shares, status, fees) "
            "VALUES (?, ?, 'long', ?, 12.5, 3, 'OPEN', 0)",
            (pid, nobar, str(days[5])),
        )
    for asof in (str(days[-1]), str(days[33])):
        with empty_db.reader() as conn:
            sql = equity_arrays(conn, asof=asof, capital=CAPITAL)
            mirrored = equity_arrays(conn, asof=asof, capital=CAPITAL, db=empty_db)
        assert sql is not None and mirrored is not None
        assert mirrored.strategies == sql.strategies
        for key in ("dates", "pnl", "realized", "first"):
            assert getattr(mirrored, key).tobytes() == getattr(sql, key).tobytes(), (asof, key)
    assert mirror_root(empty_db).is_dir()  # the mirror path was the one taken
