"""drawdown.py against plain-loop references, and the fused one-pass kernel against the pieces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantdb.kernels.drawdown import (
    drawdown_series,
    drawdown_stats,
    drawdown_table,
    max_drawdown,
    time_under_water,
    ulcer_index,
)


def ref_drawdowns(col: np.ndarray) -> list[float]:
    w, peak, out = 1.0, 1.0, []
    for v in col:
        if not math.isnan(v):
            w *= 1.0 + v
        peak = max(peak, w)
        out.append(w / peak - 1.0)
    return out


def ref_longest(col: np.ndarray) -> float:
    run = best = 0
    for dd in ref_drawdowns(col):
        run = run + 1 if dd < 0 else 0
        best = max(best, run)
    return float(best)


def ref_ulcer(col: np.ndarray) -> float:
    dds = [dd for dd, v in zip(ref_drawdowns(col), col, strict=True) if not math.isnan(v)]
    return math.sqrt(sum(d * d for d in dds) / len(dds))


@pytest.fixture
def panel() -> np.ndarray:
    rng = np.random.default_rng(1337)
    r = rng.normal(0.0002, 0.015, (400, 6))
    r[rng.random((400, 6)) < 0.05] = np.nan
    r[:, 1] = 0.0  # constant
    r[:, 2] = np.abs(r[:, 2])  # all positive
    r[:, 3] = np.nan  # all NaN
    r[50, 4] = -1.0  # wiped out
    return r


def test_fused_kernel_equals_references(panel: np.ndarray) -> None:
    mdd, longest, ulcer = drawdown_stats(panel)
    for j in range(panel.shape[1]):
        col = panel[:, j]
        if np.isnan(col).all():
            assert np.isnan(mdd[j]) and np.isnan(longest[j]) and np.isnan(ulcer[j])
            continue
        assert mdd[j] == pytest.approx(min(ref_drawdowns(col)), rel=1e-12, abs=0)
        assert longest[j] == ref_longest(col)
        assert ulcer[j] == pytest.approx(ref_ulcer(col), rel=1e-12)
        # 1-D gives floats equal to the column of the 2-D result
        assert float(max_drawdown(col)) == mdd[j]
        assert float(time_under_water(col)) == longest[j]
        assert float(ulcer_index(col)) == ulcer[j]
    assert mdd[1] == 0.0 and mdd[2] == 0.0 and longest[2] == 0.0
    assert mdd[4] == -1.0
    assert np.all((mdd[~np.isnan(mdd)] >= -1.0) & (mdd[~np.isnan(mdd)] <= 0.0))


def test_first_day_loss_counts() -> None:
    # The peak starts at 1.0 before the first return (QuantStats, empyrical-reloaded).
    assert float(max_drawdown([-0.1, 0.05])) == pytest.approx(-0.1)
    assert float(time_under_water([-0.1, 0.05, 0.1])) == 2.0


def test_drawdown_series(panel: np.ndarray) -> None:
    dd = drawdown_series(panel)
    assert dd.shape == panel.shape
    for j in (0, 2, 4):
        np.testing.assert_allclose(dd[:, j], ref_drawdowns(panel[:, j]), rtol=1e-12, atol=1e-15)
    assert np.isnan(dd[:, 3]).all()
    np.testing.assert_allclose(drawdown_series(panel[:, 0]), dd[:, 0])
    np.testing.assert_allclose(np.nanmin(dd[:, [0, 2, 4]], axis=0), max_drawdown(panel)[[0, 2, 4]])


def test_drawdown_table_episodes() -> None:
    r = np.array([0.1, -0.2, 0.05, 0.2, 0.1, -0.05, -0.05, 0.02, np.nan, -0.3])
    t = drawdown_table(r, top=0)
    # episode 1: peak at 0, under water 1..2, recovers at 3; episode 2 from 5, never recovers
    assert t["depth"][0] == pytest.approx(min(ref_drawdowns(r)))
    first = int(np.argmax(t["start"] == 1))
    assert t["peak"][first] == 0 and t["valley"][first] == 1 and t["recovery"][first] == 3
    assert t["duration"][first] == 2 and t["recovery_periods"][first] == 2
    last = int(np.argmax(t["start"] == 5))
    assert np.isnan(t["recovery"][last]) and np.isnan(t["recovery_periods"][last])
    assert t["valley"][last] == 9 and t["duration"][last] == 5
    assert np.all(np.diff(t["depth"]) >= 0)  # deepest first
    # the longest duration is time_under_water
    assert np.nanmax(t["duration"]) == float(time_under_water(r))
    # a first-day loss: the peak is the initial capital (no period) -> NaN / NaT
    t2 = drawdown_table(
        [-0.1, 0.2], dates=np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]")
    )
    assert np.isnat(t2["peak"][0]) and t2["start"][0] == np.datetime64("2024-01-02")
    assert t2["recovery"][0] == np.datetime64("2024-01-03")
    assert len(drawdown_table(r, top=1)["depth"]) == 1
    assert len(drawdown_table([0.01, 0.02])["depth"]) == 0
    with pytest.raises(ValueError, match="1-D"):
        drawdown_table(np.zeros((3, 2)))
