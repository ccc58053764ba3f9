"""Walk-forward windows never see the future: every train row comes before every test row of
its window, the purge gap is kept, and changing prices after a window's training rows cannot
change the parameters chosen in that window. The stitched out-of-sample series has unique,
increasing dates whatever the train/test/step/purge/anchored sizes (overlapping test windows:
the newest window's day wins)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdb.services.research.grid import build_grid
from quantdb.services.research.walkforward import (
    WalkForwardError,
    oos_segments,
    walkforward_bars,
    walkforward_windows,
)
from quantdb.settings import SimSettings
from quantdb.strategies import Bars


@given(
    n_obs=st.integers(2, 600),
    train=st.integers(2, 200),
    test=st.integers(1, 100),
    step=st.one_of(st.none(), st.integers(1, 100)),
    anchored=st.booleans(),
    purge=st.integers(0, 30),
)
@settings(max_examples=300, deadline=None)
def test_windows_never_see_the_future(n_obs: int, train: int, test: int, step: int | None,
                                      anchored: bool, purge: int) -> None:
    try:
        wins = walkforward_windows(n_obs, train=train, test=test, step=step, anchored=anchored,
                                   purge=purge)
    except WalkForwardError:
        assert train + purge + test > n_obs  # only when not one window fits
        return
    stride = test if step is None else step
    for k, w in enumerate(wins):
        train_rows = np.arange(w.train_start, w.train_end)
        test_rows = np.arange(w.test_start, w.test_end)
        assert train_rows.max() < test_rows.min()  # every train index < every test index
        assert test_rows.min() - train_rows.max() - 1 == purge  # exactly `purge` rows between
        assert 0 <= w.train_start and w.test_end <= n_obs
        assert test_rows.size == test
        assert w.train_start == 0 if anchored else train_rows.size == train
        assert w.train_end == train + k * stride
    # the next window would not fit: every whole test window is used
    assert train + len(wins) * stride + purge + test > n_obs


def _bars(rng: np.random.Generator, n: int, k: int) -> Bars:
    close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (n, k)), axis=0))
    return Bars.from_close(close)


@given(seed=st.integers(0, 2**16), purge=st.integers(0, 5))
@settings(max_examples=6, deadline=None)
def test_future_prices_cannot_change_the_in_sample_choice(seed: int, purge: int) -> None:
    rng = np.random.default_rng(seed)
    n, train, test = 260, 120, 40
    bars = _bars(rng, n, 3)
    dates = np.arange(n).astype("datetime64[D]")
    grid = build_grid({"fast": [3, 5, 8], "slow": [10, 20, 30]}, constraints=["fast<slow"])
    opts = {"settings": SimSettings(fill="close", fractional=True), "train": train, "test": test,
            "purge": purge, "n_splits": 4}
    base = walkforward_bars(dates, bars, "sma-cross", grid, **opts)
    # scramble everything after the first window's training rows
    w0_end = train
    future = bars.close.copy()
    future[w0_end:] = future[w0_end:][::-1] * rng.uniform(0.5, 2.0, size=(1, 3))
    moved = walkforward_bars(dates, Bars.from_close(future), "sma-cross", grid, **opts)
    assert moved.windows[0]["params"] == base.windows[0]["params"]
    assert moved.windows[0]["is_objective"] == pytest.approx(base.windows[0]["is_objective"],
                                                             nan_ok=True)
    # each window's OOS rows are its test rows: the stitched series is their concatenation
    assert len(base.oos_returns) == sum(1 for w in base.windows for _ in range(test))


@given(
    n_obs=st.integers(2, 600),
    train=st.integers(2, 200),
    test=st.integers(1, 100),
    step=st.one_of(st.none(), st.integers(1, 100)),
    anchored=st.booleans(),
    purge=st.integers(0, 30),
)
@settings(max_examples=300, deadline=None)
def test_stitched_rows_are_unique_and_increasing(n_obs: int, train: int, test: int,
                                                 step: int | None, anchored: bool,
                                                 purge: int) -> None:
    try:
        wins = walkforward_windows(n_obs, train=train, test=test, step=step, anchored=anchored,
                                   purge=purge)
    except WalkForwardError:
        return
    segs = oos_segments(wins)
    rows = np.concatenate([np.arange(lo, hi) for lo, hi in segs])
    assert np.all(np.diff(rows) > 0)  # unique and increasing
    # every row of some test window is stitched, from the newest window that tests it
    tested = {r for w in wins for r in range(w.test_start, w.test_end)}
    assert set(rows.tolist()) == tested
    for k, (lo, hi) in enumerate(segs):
        for r in (lo, hi - 1):
            newest = max(j for j, w in enumerate(wins) if w.test_start <= r < w.test_end)
            assert newest == k


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(40, 160),
    train=st.integers(10, 60),
    test=st.integers(1, 40),
    step=st.one_of(st.none(), st.integers(1, 40)),
    anchored=st.booleans(),
    purge=st.integers(0, 5),
)
@settings(max_examples=25, deadline=None)
def test_stitched_oos_dates_are_unique_and_increasing(seed: int, n: int, train: int, test: int,
                                                      step: int | None, anchored: bool,
                                                      purge: int) -> None:
    bars = _bars(np.random.default_rng(seed), n, 2)
    dates = np.datetime64("2016-01-04") + np.arange(n)
    grid = build_grid({"fast": [3, 5], "slow": [8]})
    try:
        rep = walkforward_bars(dates, bars, "sma-cross", grid,
                               settings=SimSettings(fill="close", fractional=True),
                               train=train, test=test, step=step, anchored=anchored,
                               purge=purge, n_splits=2)
    except WalkForwardError:
        assert train + purge + test > n
        return
    got = np.array(rep.oos_dates, dtype="datetime64[D]")
    assert np.all(np.diff(got) > np.timedelta64(0, "D"))
    assert got.size == len(rep.oos_returns) == rep.oos["days"]
    for w in rep.windows:  # each window's stitched days lie inside its test days
        assert w["test"][0] == w["stitched"][0] <= w["stitched"][1] <= w["test"][1]
