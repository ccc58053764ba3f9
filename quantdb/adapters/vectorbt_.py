"""vectorbt, the only place quantdb imports it (inside the function: it is a dev extra, and it
loads numba, plotly and pandas extensions that ``import quantdb`` must not pay for).

`portfolio_from_orders` hands finished order matrices to ``vectorbt.Portfolio.from_orders``;
`quantdb.services.research.interop` builds them from a backtest's trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from quantdb._typing import FloatArray
from quantdb.errors import QuantdbError

__all__ = ["VectorbtMissing", "portfolio_from_orders"]


class VectorbtMissing(QuantdbError, ImportError):
    """vectorbt is not installed (it is a dev extra of quantdb)."""


def portfolio_from_orders(
    index: Any,
    columns: Sequence[str],
    close: FloatArray,
    size: FloatArray,
    price: FloatArray,
    fixed_fees: FloatArray,
    *,
    init_cash: float,
    group_by: Sequence[str],
) -> Any:
    """``vectorbt.Portfolio.from_orders`` with share amounts at given prices (NaN size: no
    order), fixed fees per order, cash shared within each group, sells first within a bar, and
    every order filled exactly or refused (no partial fills: a refusal raises).

    Raises
    ------
    VectorbtMissing
        vectorbt is not installed.
    """
    try:
        import vectorbt as vbt
    except ImportError:
        msg = "to_vectorbt needs vectorbt, a dev extra of quantdb: pip install vectorbt"
        raise VectorbtMissing(msg) from None
    import pandas as pd

    def frame(values: FloatArray) -> pd.DataFrame:
        return pd.DataFrame(np.asarray(values, dtype=np.float64), index=index, columns=list(columns))

    return vbt.Portfolio.from_orders(
        frame(close), size=frame(size), size_type="amount", direction="both", price=frame(price),
        fixed_fees=frame(fixed_fees), fees=0.0, slippage=0.0, init_cash=float(init_cash), cash_sharing=True,
        group_by=pd.Index(list(group_by), name="group"), call_seq="auto", allow_partial=False,
        raise_reject=True, freq="D",
    )
