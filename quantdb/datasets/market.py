"""A seeded synthetic stock market: the data behind ``quantdb demo``, the benchmarks and tests.

Nothing can be downloaded where quantdb runs, so this module makes a market that looks and
behaves like a real one where it matters for research code:

* one market factor (it *is* ``SPY``) plus eleven sector factors and a per-ticker
  idiosyncratic part, with per-ticker beta in 0.5..1.8;
* fat tails (Student-t innovations, 5 degrees of freedom, scaled to unit variance, clipped
  at 6 sd) and volatility clustering (GARCH(1,1) variance for the market and for every
  ticker, capped at 16x its long-run level);
* one crash episode: the market falls 30..40 % over a few weeks, its variance rising
  through it; over the whole span the market grows 5..10 % a year;
* volume tied to a per-ticker base volume and to the size of the day's move;
* consistent OHLC (``low <= open, close <= high``, all > 0), prices rounded to 4 decimals
  as a quote feed would give them;
* at least one stock split: raw ``close`` jumps, ``adj_close`` is continuous (Yahoo
  convention: ``adj_close == close`` after the split, ``close / ratio`` before it);
* a few tickers that list later (NaN before their first day).

Everything is vectorized: the GARCH recursion loops over dates on whole vectors of tickers,
never over tickers. 500 tickers x 12 years take well under a second; the same seed gives
the same market, bit for bit.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from quantdb._typing import FloatArray, IntArray
from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "FIXED_TICKERS",
    "MARKET_TICKER",
    "SECTORS",
    "Market",
    "TickerInfo",
    "generate_market",
    "symbol_filename",
]

MARKET_TICKER = "SPY"
"""The market factor's ticker; always the last column of a :class:`Market`."""

FIXED_TICKERS: tuple[str, ...] = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "BRK.B", "JPM", "XOM",
)  # fmt: skip
"""Tickers every market holds first (when ``n_tickers`` allows), so tests can name them."""

SECTORS: tuple[str, ...] = (
    "Technology", "Healthcare", "Financials", "Energy", "Industrials",
    "Consumer Discretionary", "Consumer Staples", "Utilities", "Materials", "Real Estate",
    "Communication Services",
)  # fmt: skip
"""The 11 GICS sectors, spelled as the legacy ``tickers_info.json`` spells them."""

_FIXED_INFO: dict[str, tuple[str, str]] = {
    "AAPL": ("Apple Inc.", "Technology"),
    "MSFT": ("Microsoft Corporation", "Technology"),
    "NVDA": ("NVIDIA Corporation", "Technology"),
    "AMZN": ("Amazon.com, Inc.", "Consumer Discretionary"),
    "GOOGL": ("Alphabet Inc. Class A", "Communication Services"),
    "META": ("Meta Platforms, Inc.", "Communication Services"),
    "TSLA": ("Tesla, Inc.", "Consumer Discretionary"),
    "BRK.B": ("Berkshire Hathaway Inc. Class B", "Financials"),
    "JPM": ("JPMorgan Chase & Co.", "Financials"),
    "XOM": ("Exxon Mobil Corporation", "Energy"),
}
_NAME_SUFFIXES = (
    "Holdings", "Corp.", "Inc.", "Group", "Technologies", "Industries", "Partners",
    "Systems", "Therapeutics", "Resources", "Bancorp", "Brands",
)  # fmt: skip

_T_DF = 5.0  # Student-t degrees of freedom of every innovation
_TRADING_DAYS = 252.0


class TickerInfo(TypedDict):
    """One ticker's reference data, the record of the legacy ``tickers_info.json``."""

    name: str
    sector: str
    market_cap: float | None


@dataclass(frozen=True, eq=False)
class Market:
    """A synthetic market: dates x tickers matrices of daily prices and volumes.

    Attributes
    ----------
    dates : numpy.ndarray
        ``datetime64[D]`` trading days (the XNYS sessions of ``exchange-calendars``).
    tickers : list of str
        Upper-case unique symbols; ``SPY`` (the market factor) is the last one.
    open, high, low, close : numpy.ndarray
        Raw (unadjusted) prices, float64, shape ``(len(dates), len(tickers))``, NaN before
        a ticker's first trading day.
    adj_close : numpy.ndarray
        Split-adjusted close (Yahoo convention): equal to ``close`` on and after the last
        split, ``close / ratio`` before it.
    volume : numpy.ndarray
        Raw shares traded, float64 holding integers (NaN before listing).
    info : dict
        Ticker -> :class:`TickerInfo` (name, sector, market_cap; ``SPY`` has sector ``ETF``).
    splits : dict
        Ticker -> ``datetime64[D]`` first trading day at the new share count.
    split_ratios : dict
        Ticker -> split ratio (2.0 for 2:1, 3.0 for 3:1).
    first_index : numpy.ndarray
        Per ticker, the row of its first trading day (0 for tickers listed from the start).
    betas : numpy.ndarray
        Per ticker, the beta used to generate it (1.0 for ``SPY``).
    crash : tuple of numpy.datetime64
        First and last day of the crash episode.
    seed : int
        The seed it was generated from.
    """

    dates: np.ndarray
    tickers: list[str]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    adj_close: FloatArray
    volume: FloatArray
    info: dict[str, TickerInfo]
    splits: dict[str, np.datetime64]
    split_ratios: dict[str, float]
    first_index: IntArray
    betas: FloatArray
    crash: tuple[np.datetime64, np.datetime64]
    seed: int
    _column: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._column.update({t: i for i, t in enumerate(self.tickers)})

    @property
    def n_days(self) -> int:
        """Number of trading days."""
        return int(self.dates.shape[0])

    @property
    def n_tickers(self) -> int:
        """Number of tickers, ``SPY`` included."""
        return len(self.tickers)

    def column(self, ticker: str) -> int:
        """Column index of ``ticker`` in the matrices (raises ``KeyError`` if absent)."""
        return self._column[ticker]

    def split_factor(self) -> FloatArray:
        """Exact ``close / adj_close`` per date and ticker, from the splits.

        Today's shares per share of the last split regime: the product of the ratios of the
        splits after the date (1.0 where none follows). Built from ``splits`` rather than
        divided out of the rounded prices, so it is exactly 1, 2, 3, ... .
        """
        factor = np.ones((self.n_days, self.n_tickers))
        for t, day in self.splits.items():
            row = int(np.searchsorted(self.dates, day))
            factor[:row, self.column(t)] *= self.split_ratios[t]
        return factor

    def to_long(self) -> pl.DataFrame:
        """Long table ``ticker, date, open, high, low, close, adj_close, volume``.

        One row per ticker and trading day, ordered by ticker then date; the NaN rows before
        a ticker's first trading day are dropped. ``volume`` is ``Int64``.
        """
        import polars as pl

        listed = ~np.isnan(self.close.T)  # tickers x dates
        n_rows = listed.sum(axis=1)
        tickers = np.repeat(np.asarray(self.tickers, dtype=object), n_rows)
        dates = np.broadcast_to(self.dates, listed.shape)[listed]
        cols = {
            name: getattr(self, name).T[listed]
            for name in ("open", "high", "low", "close", "adj_close")
        }
        return pl.DataFrame(
            {
                "ticker": pl.Series(tickers.tolist(), dtype=pl.String),
                "date": pl.Series(dates, dtype=pl.Date),
                **{k: pl.Series(v, dtype=pl.Float64) for k, v in cols.items()},
                "volume": pl.Series(self.volume.T[listed].astype(np.int64), dtype=pl.Int64),
            }
        )

    def write_price_csvs(self, directory: str | Path) -> list[Path]:
        """Write one Yahoo-layout CSV a ticker (``Date,Open,High,Low,Close,Adj Close,Volume``).

        A ``.`` in a symbol is written as ``-`` in the file name (``BRK-B.csv``). Rows start
        at the ticker's first trading day. Returns the paths written, in ticker order.
        """
        return write_price_frames(self, Path(directory))


def symbol_filename(ticker: str) -> str:
    """The legacy price file name of ``ticker``: ``BRK.B`` -> ``BRK-B.csv``."""
    return ticker.replace(".", "-") + ".csv"


def _trading_days(start: np.datetime64, years: int, *, holidays: bool) -> np.ndarray:
    """Trading days in ``[start, start + years)``: the sessions of the New York Stock Exchange
    (``exchange-calendars``' XNYS, the database's default calendar: its regular holidays and
    its special closures), or every business day with ``holidays=False``."""
    end = np.datetime64(f"{int(str(start)[:4]) + years}{str(start)[4:]}", "D")
    if holidays:
        from quantdb.calendars import DEFAULT_CALENDAR, sessions

        return np.array(sessions(DEFAULT_CALENDAR, start, end - 1), dtype="datetime64[D]")
    days = np.arange(start, end, dtype="datetime64[D]")
    return days[np.is_busday(days)]


def _symbols(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` stock tickers: the fixed names first, then unique random 2..4-letter symbols."""
    out = list(FIXED_TICKERS[:n])
    seen = {*out, MARKET_TICKER, *FIXED_TICKERS}
    letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype="S1")
    while len(out) < n:
        k = 2 * (n - len(out)) + 16
        lengths = rng.choice([2, 3, 4], size=k, p=[0.15, 0.45, 0.40])
        chars = letters[rng.integers(0, 26, size=(k, 4))]
        for row, length in zip(chars, lengths, strict=True):
            sym = b"".join(row[:length]).decode()
            if sym not in seen:
                seen.add(sym)
                out.append(sym)
                if len(out) == n:
                    break
    return out


def _round(x: FloatArray, decimals: int) -> FloatArray:
    """``np.round(x, decimals)`` (same values: scale, round half to even, unscale), in place."""
    scale = 10.0**decimals
    x *= scale
    np.rint(x, out=x)
    x /= scale
    return x


def _student_t(rng: np.random.Generator, shape: tuple[int, int]) -> FloatArray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(_T_DF, size=shape) * math.sqrt((_T_DF - 2.0) / _T_DF)


def generate_market(
    n_tickers: int = 500,
    years: int = 12,
    *,
    seed: int = 42,
    start: str = "2013-01-02",
    holidays: bool = True,
) -> Market:
    """Generate a realistic synthetic market of ``n_tickers`` stocks plus ``SPY``.

    Parameters
    ----------
    n_tickers : int
        Number of stocks, ``SPY`` not counted (the market has ``n_tickers + 1`` columns).
        The first ones are ``AAPL, MSFT, NVDA, AMZN, GOOGL, META, TSLA, BRK.B, JPM, XOM``.
    years : int
        Calendar years of daily data from ``start``.
    seed : int
        Seed of the generator: the same seed gives the same market, bit for bit.
    start : str
        First calendar day (ISO); the first trading day is the first business day from it.
    holidays : bool
        Trade on the NYSE's sessions (XNYS: its holidays and special closures skipped, about
        252 days a year); False: every business day.

    Returns
    -------
    Market

    Raises
    ------
    ValueError
        If ``n_tickers < 1`` or ``years < 1``.

    Examples
    --------
    >>> m = generate_market(20, 3, seed=1)
    >>> m.tickers[0], m.tickers[-1], m.close.shape[1]
    ('AAPL', 'SPY', 21)
    """
    if n_tickers < 1 or years < 1:
        msg = f"n_tickers and years must be >= 1, got n_tickers={n_tickers}, years={years}"
        raise ArgumentError(msg)
    rng = np.random.default_rng(seed)
    dates = _trading_days(np.datetime64(start, "D"), years, holidays=holidays)
    n_d, n_s = dates.shape[0], n_tickers
    stocks = _symbols(rng, n_s)
    tickers = [*stocks, MARKET_TICKER]
    n = n_s + 1  # column n_s is the market

    # --- parameters per column (stocks, then the market) ------------------------------------
    ann_vol = np.append(rng.uniform(0.12, 0.40, n_s), 0.15)  # idiosyncratic / market vol
    garch_a = np.append(rng.uniform(0.04, 0.10, n_s), 0.09)
    garch_b = np.append(rng.uniform(0.84, 0.93, n_s), 0.89)
    garch_b = np.minimum(garch_b, 0.985 - garch_a)
    long_var = (ann_vol / math.sqrt(_TRADING_DAYS)) ** 2
    omega = long_var * (1.0 - garch_a - garch_b)
    betas = np.append(rng.uniform(0.5, 1.8, n_s), 1.0)
    alpha = np.append(rng.normal(0.02, 0.04, n_s), 0.075) / _TRADING_DAYS  # log drift a day
    sector_idx = rng.integers(0, len(SECTORS), n_s)
    for i, t in enumerate(stocks):
        if t in _FIXED_INFO:
            sector_idx[i] = SECTORS.index(_FIXED_INFO[t][1])
    sector_load = rng.uniform(0.5, 1.2, n_s)

    # --- crash episode: market falls 30..40 % over 15..30 trading days ----------------------
    crash_len = int(min(rng.integers(15, 31), max(2, n_d // 10)))
    crash_start = int(
        rng.integers(int(0.35 * n_d), max(int(0.65 * n_d) - crash_len, int(0.35 * n_d) + 1))
    )
    crash_start = min(crash_start, n_d - crash_len)
    crash_drop = float(rng.uniform(0.30, 0.40))

    # Memory matters at 2,000 x 20 years (10M cells a matrix): every big array below is
    # reused in place, so a handful of matrices live at once.
    # --- innovations and the GARCH(1,1) recursion, vectorized over tickers -------------------
    ret = _student_t(rng, (n_d, n))  # innovations, turned into returns in place below
    crash_rows = slice(crash_start, crash_start + crash_len)
    np.clip(ret, -6.0, 6.0, out=ret)  # t(5) beyond 6 sd: ~1e-4 of the cells
    # The crash enters the recursion as a run of large negative market shocks, so the
    # market's variance rises through it and decays after it, as it does in real panics.
    crash_shock = np.zeros(n_d)
    crash_shock[crash_rows] = math.log(1.0 - crash_drop) / crash_len
    # Variance capped at 16x its long-run level (4x the volatility, about the 2008 and 2020
    # peaks): a GARCH fed fat-tailed panic shocks can otherwise run away for weeks.
    var_cap = 16.0 * long_var
    sd = np.empty((n_d, n))
    var = long_var.copy()
    for row in range(n_d):
        s = np.sqrt(var)
        sd[row] = s
        e = ret[row]
        e *= s  # the shock of the day
        e[n_s] += crash_shock[row]
        var = np.minimum(omega + garch_a * e * e + garch_b * var, var_cap)

    mkt = alpha[n_s] + ret[:, n_s]
    mkt[crash_rows] += (math.log(1.0 - crash_drop) - mkt[crash_rows].sum()) / crash_len
    # A market that grew 5..10 % a year over the whole span, crash included: the tiny shift
    # of the other days' mean keeps every other property of the path.
    calm = np.ones(n_d, dtype=bool)
    calm[crash_rows] = False
    if calm.any():
        target = float(rng.uniform(0.05, 0.10)) * n_d / _TRADING_DAYS
        mkt[calm] += (target - mkt.sum()) / calm.sum()
    regime = sd[:, n_s] / math.sqrt(long_var[n_s])  # market vol regime, 1.0 on average
    sector_ret = (0.006 * regime)[:, None] * _student_t(rng, (n_d, len(SECTORS)))
    stock_ret = ret[:, :n_s]  # a view: the stocks' log returns are built in place
    stock_ret += alpha[None, :n_s]
    stock_ret += betas[None, :n_s] * mkt[:, None]
    stock_ret += sector_load[None, :] * sector_ret[:, sector_idx]
    ret[:, n_s] = mkt
    sd_m = sd[:, n_s].copy()
    sd *= sd
    sd[:, :n_s] += (betas[None, :n_s] * sd_m[:, None]) ** 2
    np.sqrt(sd, out=sd)  # now the total daily sd of each ticker

    # --- late listings ------------------------------------------------------------------------
    first_index = np.zeros(n, dtype=np.int64)
    free = np.arange(min(len(FIXED_TICKERS), n_s), n_s)  # random names only
    n_late = min(len(free) // 2, max(1, round(0.02 * n_s))) if free.size >= 2 else 0
    late = rng.choice(free, size=n_late, replace=False) if n_late else np.empty(0, np.int64)
    first_index[late] = rng.integers(
        int(0.1 * n_d), max(int(0.6 * n_d), int(0.1 * n_d) + 1), n_late
    )

    # --- volume: base x noise x size of the move --------------------------------------------------
    base_vol = np.append(np.exp(rng.uniform(math.log(2e5), math.log(2e7), n_s)), 6e7)
    volume = np.abs(ret)
    volume /= sd
    volume *= 0.45
    volume += 0.55
    noise = rng.standard_normal((n_d, n))
    noise *= 0.35
    volume *= np.exp(noise, out=noise)
    volume *= base_vol

    # --- economic (split-adjusted) close paths --------------------------------------------------
    p0 = np.append(np.exp(rng.uniform(math.log(8.0), math.log(400.0), n_s)), 200.0)
    close = np.cumsum(ret, axis=0)
    base = np.where(first_index > 0, close[np.maximum(first_index - 1, 0), np.arange(n)], 0.0)
    close -= base
    np.exp(close, out=close)
    close *= p0
    np.maximum(close, 0.5, out=close)

    # --- OHLC around the close: gap open, then high and low beyond both -------------------------
    open_ = rng.standard_normal((n_d, n))
    open_ *= 0.25 * sd
    first_ret = ret[0].copy()
    ret *= 0.35
    open_ += ret
    del ret
    np.exp(open_, out=open_)
    open_[1:] *= close[:-1]
    open_[0] *= close[0] * np.exp(-first_ret)  # day 0: the previous close is implied
    high = rng.standard_normal((n_d, n))
    np.abs(high, out=high)
    high *= 0.5 * sd
    np.exp(high, out=high)
    high *= np.maximum(open_, close)
    low = rng.standard_normal((n_d, n))
    np.abs(low, out=low)
    low *= -0.5 * sd
    del sd
    np.exp(low, out=low)
    low *= np.minimum(open_, close)

    # --- splits: raw = economic x ratio before the split day ------------------------------------
    splits: dict[str, np.datetime64] = {}
    ratios: dict[str, float] = {}
    candidates: list[tuple[int, float, float]] = []
    if "NVDA" in stocks:
        candidates.append((stocks.index("NVDA"), 2.0, 0.45))
    listed_from_start = np.setdiff1d(free, late)
    if listed_from_start.size:
        candidates.append((int(rng.choice(listed_from_start)), 3.0, 0.7))
    elif not candidates:
        candidates.append((0, 2.0, 0.45))
    for col, ratio, where in candidates:
        day = max(1, min(n_d - 1, int(where * n_d)))
        for arr in (open_, high, low, close):
            arr[:day, col] *= ratio
        volume[:day, col] /= ratio  # fewer shares before the split
        splits[tickers[col]] = dates[day]
        ratios[tickers[col]] = ratio

    for arr in (open_, high, low, close):
        _round(arr, 4)
    np.maximum(high, np.maximum(open_, close), out=high)  # rounding never breaks the order,
    np.minimum(low, np.minimum(open_, close), out=low)  # this only makes it explicit
    adj_close = close.copy()
    for t, ratio in ratios.items():
        col, day = tickers.index(t), int(np.searchsorted(dates, splits[t]))
        adj_close[:day, col] = _round(close[:day, col] / ratio, 6)
    np.rint(volume, out=volume)
    np.maximum(volume, 1.0, out=volume)
    for col in late.tolist():
        for arr in (open_, high, low, close, adj_close, volume):
            arr[: first_index[col], col] = np.nan

    # --- reference data ------------------------------------------------------------------------
    caps = np.round(np.exp(rng.uniform(math.log(1e9), math.log(2.5e12), n_s)), -6)
    suffix = rng.integers(0, len(_NAME_SUFFIXES), n_s)
    info: dict[str, TickerInfo] = {}
    for i, t in enumerate(stocks):
        name = _FIXED_INFO[t][0] if t in _FIXED_INFO else f"{t.title()} {_NAME_SUFFIXES[suffix[i]]}"
        info[t] = TickerInfo(name=name, sector=SECTORS[sector_idx[i]], market_cap=float(caps[i]))
    info[MARKET_TICKER] = TickerInfo(name="SPDR S&P 500 ETF Trust", sector="ETF", market_cap=None)

    return Market(
        dates=dates,
        tickers=tickers,
        open=open_,
        high=high,
        low=low,
        close=close,
        adj_close=adj_close,
        volume=volume,
        info=info,
        splits=splits,
        split_ratios=ratios,
        first_index=first_index,
        betas=betas,
        crash=(dates[crash_start], dates[crash_start + crash_len - 1]),
        seed=seed,
    )


# --- price CSV writing (shared with the legacy writer) ----------------------------------------

YAHOO_HEADER = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
SNAKE_HEADER = ("date", "open", "high", "low", "close", "adj_close", "volume")


def write_price_frames(
    market: Market,
    directory: Path,
    *,
    snake_case: frozenset[str] = frozenset(),
    null_rows: dict[str, IntArray] | None = None,
    edits: list[tuple[str, int, str, float]] | None = None,
    tickers: list[str] | None = None,
) -> list[Path]:
    """Write price CSVs in the legacy layout, with the mess the legacy writer asks for.

    ``snake_case`` names the tickers whose header is ``date,open,...,adj_close,volume``;
    ``null_rows`` maps a ticker to row indices (into ``market.dates``) written as
    ``DATE,null,null,...``; ``edits`` are ``(ticker, row, column, value)`` overrides
    (column one of ``open, high, low, close, adj_close, volume``). Prices are written as
    the shortest decimal that reads back the same float64, Volume as an integer.
    """
    import polars as pl

    directory.mkdir(parents=True, exist_ok=True)
    names = tickers if tickers is not None else market.tickers
    if not names:
        return []
    cols = np.array([market.column(t) for t in names], dtype=np.int64)
    first = market.first_index[cols]
    n_rows = market.n_days - first
    offsets = np.concatenate([[0], np.cumsum(n_rows)])
    # ticker-major row selection: for each ticker, rows first..n_days-1
    row_idx = np.concatenate([np.arange(f, market.n_days) for f in first.tolist()])
    col_idx = np.repeat(cols, n_rows)
    data = {
        k: getattr(market, k)[row_idx, col_idx]
        for k in ("open", "high", "low", "close", "adj_close", "volume")
    }
    where = {t: i for i, t in enumerate(names)}
    null_mask = np.zeros(row_idx.shape[0], dtype=bool)
    for t, rows in (null_rows or {}).items():
        if t in where:
            i = where[t]
            null_mask[offsets[i] + np.asarray(rows, dtype=np.int64) - first[i]] = True
    for t, row, col, val in edits or []:
        if t in where:
            i = where[t]
            data[col][offsets[i] + row - first[i]] = val
    for arr in data.values():
        arr[null_mask] = np.nan
    df = pl.DataFrame(
        [pl.Series(YAHOO_HEADER[0], market.dates[row_idx], dtype=pl.Date)]
        + [
            pl.Series(name, data[k], nan_to_null=True)
            for name, k in zip(
                YAHOO_HEADER[1:],
                ("open", "high", "low", "close", "adj_close", "volume"),
                strict=True,
            )
        ]
    ).with_columns(pl.col("Volume").cast(pl.Int64))
    # floats as the shortest text that reads back the same float64 (prices carry 4 decimals,
    # adjusted closes 6): exact round trip, and 8x faster than polars' float_precision path
    sink = io.BytesIO()
    df.write_csv(sink, include_header=False, null_value="null", line_terminator="\n")
    body = sink.getvalue()
    # every line ends with "\n" and no field holds one: cut the text at line boundaries
    buf = np.frombuffer(body, dtype=np.uint8)
    line_end = np.flatnonzero(buf == 10)
    cut = np.concatenate([[0], line_end[offsets[1:] - 1] + 1])
    paths: list[Path] = []
    yahoo = (",".join(YAHOO_HEADER) + "\n").encode()
    snake = (",".join(SNAKE_HEADER) + "\n").encode()
    for i, t in enumerate(names):
        path = directory / symbol_filename(t)
        path.write_bytes((snake if t in snake_case else yahoo) + body[cut[i] : cut[i + 1]])
        paths.append(path)
    return paths
