"""Type aliases shared by every layer (polars keeps its aliases the same way)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

VarMethod = Literal["historical", "parametric", "cornish-fisher"]
Timeframe = Literal["daily", "weekly", "monthly"]
Fill = Literal["next-open", "close"]
Direction = Literal["long", "short", "both"]
PriceField = Literal["open", "high", "low", "close", "adj_close", "volume"]
BacktestMode = Literal["portfolio", "independent"]
OffCalendarPolicy = Literal["keep", "refuse"]
