"""`Panel`: a dates x tickers matrix with its labels, the shape prices move in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl


@dataclass(frozen=True)
class Panel:
    """A float64 matrix ``values[date, ticker]`` (NaN where a ticker has no bar that day)."""

    dates: np.ndarray  # datetime64[D], ascending
    tickers: tuple[str, ...]
    values: FloatArray
    field: str = "adj_close"

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.dates), len(self.tickers)):
            msg = (
                f"values must be dates x tickers = {(len(self.dates), len(self.tickers))}, "
                f"got {self.values.shape}"
            )
            raise ArgumentError(msg)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def column(self, ticker: str) -> FloatArray:
        """The series of one ticker."""
        return self.values[:, self.tickers.index(ticker)]

    def to_polars(self) -> pl.DataFrame:
        """Wide frame: a ``date`` column then one column per ticker."""
        import polars as pl

        data: dict[str, object] = {"date": self.dates}
        data.update({t: self.values[:, i] for i, t in enumerate(self.tickers)})
        return pl.DataFrame(data, nan_to_null=False)

    def to_pandas(self) -> pd.DataFrame:
        """Wide pandas frame indexed by date (for QuantStats and vectorbt)."""
        import pandas as pd

        return pd.DataFrame(
            self.values, index=pd.DatetimeIndex(self.dates, name="date"), columns=list(self.tickers)
        )
