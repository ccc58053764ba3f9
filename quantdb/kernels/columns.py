"""The column convention every kernel shares: 1-D input is one series, 2-D is (periods x series).

A kernel turns its input into a (periods x series) float64 array with :func:`as_2d`, computes
per column, and hands back a float for 1-D input or the per-column array with :func:`finish`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError

__all__ = ["as_2d", "finish"]


def as_2d(returns: npt.ArrayLike) -> tuple[FloatArray, bool]:
    """`returns` as a float64 (periods x series) array, and whether it was 1-D."""
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2:
        msg = f"returns must be 1-D or 2-D (periods x series), got {arr.ndim}-D"
        raise ArgumentError(msg)
    return arr, False


def finish(values: FloatArray, one_d: bool) -> Any:
    """A float for 1-D input, the per-column array otherwise."""
    return np.float64(values[0]) if one_d else values
