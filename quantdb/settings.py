"""The one model of a simulation's settings: fields, validation, defaults, slots, stored shape.

Every door builds its settings here. The command line's option group
(:mod:`quantdb.cli.options`) is generated from :data:`SETTINGS_FIELDS`; the notebook API takes
the same names as keywords; both hand a mapping of *what the user said* to
:func:`build_settings`, which fills the defaults that depend on the data (the number of
tickers) after the data is loaded. The numba kernels (backtest, portfolio, replay, the fused
sweep) read one packed layout made by :func:`pack_settings`; a stored backtest keeps
:func:`settings_to_json`'s versioned shape and reads it back with :func:`settings_from_json`.

Adding a setting: add the field to :class:`SimSettings` with its ``help`` (and ``flag`` when
the command-line name differs from the field's), check its range in ``__post_init__``, give it
a slot in :func:`pack_settings` if a kernel reads it, and document it in
``docs/backtesting.md``. The option, the keyword and the stored shape follow from the field.

Examples
--------
>>> build_settings({"sizing": "equity:0.5", "commission": 0.001}, n_tickers=4).sizing_value
0.5
>>> build_settings({}, n_tickers=4).sizing_value  # one quarter each: four tickers share cash
0.25
>>> build_settings({}, n_tickers=1).sizing_value
1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from numbers import Integral
from typing import TYPE_CHECKING, Any, Literal

from quantdb.errors import ArgumentError

if TYPE_CHECKING:
    from quantdb._typing import FloatArray, IntArray

# NumPy is imported inside the packer: the command line builds its option group from this
# module, and `quantdb --help` stays free of NumPy.

__all__ = [
    "DEFAULT_MAX_POSITIONS",
    "SETTINGS_FIELDS",
    "SETTINGS_VERSION",
    "SettingsError",
    "SimSettings",
    "build_settings",
    "merge_settings",
    "pack_settings",
    "parse_sizing",
    "settings_from_json",
    "settings_to_json",
]

SETTINGS_VERSION = 2
"""Version of the stored settings shape (1: the flat dicts of quantdb 0.1, read as well)."""

DEFAULT_MAX_POSITIONS = 10
"""Open positions of a portfolio of several tickers unless told otherwise."""

Sizing = Literal["shares", "cash", "equity", "risk", "kelly"]
SHARES, CASH, EQUITY, RISK, KELLY = 0, 1, 2, 3, 4
SIZING_CODES: dict[str, int] = {"shares": SHARES, "cash": CASH, "equity": EQUITY, "risk": RISK, "kelly": KELLY}
"""Sizing kinds and their codes in the packed settings (`quantdb.kernels.sizing` reads them)."""
OrderType = Literal["market", "limit", "stop"]
Ambiguous = Literal["stop-first", "target-first"]


class SettingsError(ArgumentError):
    """A simulation setting is out of range, of the wrong kind, or unknown."""


def _opt(help_: str, default: Any, flag: str | None = None) -> Any:
    return field(default=default, metadata={"help": help_, "flag": flag})


@dataclass(frozen=True)
class SimSettings:
    """Everything that decides how signals become trades. Values are fractions, not percents.

    Each field's ``help`` (see :data:`SETTINGS_FIELDS`) is its documentation, shown by
    ``quantdb backtest --help`` too. ``commission`` and friends are charged per order as
    ``max(commission_min, commission * value + commission_per_share * shares +
    commission_fixed)``, on entry and on exit. ``sizing="equity"`` with 1.0 buys
    ``floor(equity / (price * (1 + commission)))`` shares (backtesting.py's ``buy()``).
    """

    cash: float = _opt("Starting cash (per ticker in a sweep, shared in a portfolio).", 10_000.0)
    commission: float = _opt("Commission as a fraction of each fill's value (entry and exit).", 0.0)
    commission_per_share: float = _opt("Commission per share.", 0.0)
    commission_fixed: float = _opt("Fixed commission per order.", 0.0)
    commission_min: float = _opt("Minimum commission per order.", 0.0)
    slippage_bps: float = _opt("Slippage of market fills, in basis points of the price.", 0.0, "--slippage-bps")
    slippage_range_frac: float = _opt("Extra slippage as a fraction of the fill bar's high-low range.", 0.0,
                                      "--slippage-range")
    fill: Literal["next-open", "close"] = _opt(
        "next-open: fill at the next bar's open; close: at the signal bar's close.", "next-open")
    sizing: Sizing = _opt("KIND:VALUE: shares:N, cash:X, equity:F, risk:F, kelly:F (default: equity, "
                          "1/min(tickers, max positions) of equity for a portfolio, else 1).", "equity")
    sizing_value: float = _opt("The VALUE of --sizing.", 1.0)
    fractional: bool = _opt("Allow fractional shares.", False)
    direction: Literal["long", "short", "both"] = _opt("long, short or both.", "long")
    order_type: OrderType = _opt("Entry order type: market, limit or stop.", "market", "--order")
    entry_offset: float = _opt("Limit/stop entry distance from the signal close (fraction).", 0.0, "--offset")
    order_tif_bars: int = _opt("Time in force of limit/stop entries, in bars.", 1, "--tif")
    stop_loss: float | None = _opt("Stop loss, fraction of the entry price.", None)
    take_profit: float | None = _opt("Take profit, fraction of the entry price.", None)
    trailing_stop: float | None = _opt("Trailing stop, fraction of the best price since entry.", None)
    max_hold_bars: int | None = _opt("Maximum holding time in bars.", None, "--max-hold")
    ambiguous: Ambiguous = _opt("Which exit wins when stop and target both lie inside one bar: "
                                "stop-first or target-first.", "stop-first")
    borrow_rate: float = _opt("Annual short borrow rate (charged each bar at rate / 252).", 0.0)
    maintenance_margin: float = _opt(
        "Maintenance margin of shorts (fraction of their value): equity at a bar's worst prices "
        "at or below it, or at zero, liquidates the account, which stops trading (bankrupt). "
        "0.3: FINRA Rule 4210's minimum for shorts.", 0.3)
    max_positions: int | None = _opt("Maximum open positions of a portfolio (default 10 for several "
                                     "tickers).", None)
    max_weight: float | None = _opt("Maximum weight of one position (fraction of equity).", None)
    atr_window: int = _opt("ATR window of risk sizing without a stop.", 14)
    atr_mult: float = _opt("Risk per share = atr_mult x ATR for risk sizing without a stop.", 2.0)
    kelly_cap: float = _opt("Cap of Kelly sizing (fraction of equity).", 0.25)
    kelly_min_trades: int = _opt("Closed trades before the Kelly estimate replaces the cap.", 10)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", "float | None") and v is not None:
                _check(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
                       f"{f.name} must be a finite number", v)
            if f.type in ("int", "int | None") and v is not None:
                _check(isinstance(v, Integral) and not isinstance(v, bool),
                       f"{f.name} must be a whole number", v)
        _check(self.cash > 0, "cash must be > 0", self.cash)
        _check(0 <= self.commission < 0.1, "commission must be in [0, 0.1)", self.commission)
        for name in ("commission_per_share", "commission_fixed", "commission_min",
                     "slippage_bps", "slippage_range_frac", "borrow_rate", "entry_offset"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0", getattr(self, name))
        _check(0 <= self.maintenance_margin < 1, "maintenance_margin must be in [0, 1)",
               self.maintenance_margin)
        _check(self.slippage_bps < 1000, "slippage_bps must be < 1000 (10%)", self.slippage_bps)
        _check(self.slippage_range_frac <= 1, "slippage_range_frac must be in [0, 1]",
               self.slippage_range_frac)
        _check(self.fill in ("next-open", "close"), "fill must be 'next-open' or 'close'", self.fill)
        _check(self.sizing in SIZING_CODES, f"sizing must be one of {sorted(SIZING_CODES)}", self.sizing)
        _check(self.sizing_value > 0, "sizing_value must be > 0", self.sizing_value)
        _check(self.fractional in (True, False), "fractional must be True or False", self.fractional)
        _check(self.direction in ("long", "short", "both"),
               "direction must be 'long', 'short' or 'both'", self.direction)
        _check(self.order_type in ("market", "limit", "stop"),
               "order_type must be 'market', 'limit' or 'stop'", self.order_type)
        _check(self.order_tif_bars >= 1, "order_tif_bars must be >= 1", self.order_tif_bars)
        _frac("stop_loss", self.stop_loss)
        _frac("trailing_stop", self.trailing_stop)
        _frac("take_profit", self.take_profit, 0.0, 100.0)
        _frac("max_weight", self.max_weight, 0.0, 1.0 + 1e-12)
        _check(self.max_hold_bars is None or self.max_hold_bars >= 1,
               "max_hold_bars must be >= 1 or None", self.max_hold_bars)
        _check(self.max_positions is None or self.max_positions >= 1,
               "max_positions must be >= 1 or None", self.max_positions)
        _check(self.ambiguous in ("stop-first", "target-first"),
               "ambiguous must be 'stop-first' or 'target-first'", self.ambiguous)
        _check(self.atr_window >= 1, "atr_window must be >= 1", self.atr_window)
        _check(self.atr_mult > 0, "atr_mult must be > 0", self.atr_mult)
        _check(0 < self.kelly_cap <= 1, "kelly_cap must be in (0, 1]", self.kelly_cap)
        _check(self.kelly_min_trades >= 0, "kelly_min_trades must be >= 0", self.kelly_min_trades)


def _check(ok: bool, what: str, got: object) -> None:
    if not ok:
        msg = f"{what}, got {got!r}"
        raise SettingsError(msg)


def _frac(name: str, v: float | None, lo: float = 0.0, hi: float = 1.0) -> None:
    if v is not None:
        _check(lo < v < hi, f"{name} must be in ({lo:g}, {hi:g}) or None", v)


@dataclass(frozen=True)
class SettingField:
    """One setting as the doors see it: its name, command-line flag, type, default and help."""

    name: str
    flag: str
    type: str
    default: Any
    help: str


SETTINGS_FIELDS: tuple[SettingField, ...] = tuple(
    SettingField(
        name=f.name,
        flag=f.metadata.get("flag") or "--" + f.name.replace("_", "-"),
        type=str(f.type),
        default=None if f.default is MISSING else f.default,
        help=f.metadata["help"],
    )
    for f in fields(SimSettings)
)
"""Every setting in declaration order (the command line's option group is made from these)."""

_NAMES = frozenset(f.name for f in SETTINGS_FIELDS)


def parse_sizing(text: str) -> tuple[str, float]:
    """``"equity:0.5"`` -> ``("equity", 0.5)``; a bare kind means 1.0.

    Raises
    ------
    SettingsError
        an unknown kind or a value that is not a number.

    Examples
    --------
    >>> parse_sizing("cash:5000")
    ('cash', 5000.0)
    """
    kind, _, value = str(text).partition(":")
    kind = kind.strip().lower()
    if kind not in SIZING_CODES:
        msg = f"sizing must be KIND:VALUE with KIND one of {', '.join(SIZING_CODES)}, got {text!r}"
        raise SettingsError(msg)
    try:
        number = float(value) if value.strip() else 1.0
    except ValueError:
        msg = f"sizing must be KIND:VALUE (e.g. equity:1, cash:5000), got {text!r}"
        raise SettingsError(msg) from None
    return kind, number


def _given(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings a user gave (None means "not given"), ``sizing`` text split in two."""
    out: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if value is None:
            continue
        if key not in _NAMES:
            msg = f"unknown setting {key!r}; settings are: {', '.join(sorted(_NAMES))}"
            raise SettingsError(msg)
        if key == "sizing" and isinstance(value, str) and ":" in value:
            out["sizing"], out["sizing_value"] = parse_sizing(value)
        else:
            out[key] = value
    return out


def merge_settings(
    settings: Mapping[str, Any] | SimSettings | None, options: Mapping[str, Any] | None
) -> Mapping[str, Any] | SimSettings:
    """``settings=`` (a mapping or a finished `SimSettings`) with setting keywords over it.

    The notebook API takes both ``settings=SimSettings(...)`` and ``commission=0.001``; the
    keywords win. A finished `SimSettings` stays finished (no data-dependent default is
    filled into it).
    """
    given = _given(options)
    if isinstance(settings, SimSettings):
        if not given:
            return settings
        try:
            return replace(settings, **given)
        except TypeError as exc:
            raise SettingsError(str(exc)) from None
    return {**_given(settings), **given}


def build_settings(
    options: Mapping[str, Any] | SimSettings | None = None,
    *,
    n_tickers: int,
    portfolio: bool = True,
    base: Mapping[str, Any] | None = None,
) -> SimSettings:
    """The settings of one run, after its data is loaded: the user's options over the defaults.

    Parameters
    ----------
    options : what the user said (the command-line options or the API keywords; ``None``
        values are "not given"), or a finished `SimSettings`, returned as it is.
    n_tickers : how many tickers the run trades (known only once the data is loaded).
    portfolio : several tickers share one cash balance (a backtest). Then, unless given,
        ``max_positions`` is 10 and each position is ``1 / min(n_tickers, max_positions)`` of
        equity. Independent columns (a sweep, a walk-forward) each get all of their cash.
    base : the door's own defaults under the user's options (a replay sizes 10% of equity).

    Raises
    ------
    SettingsError
        an unknown name or a value out of range.
    """
    if isinstance(options, SimSettings):
        return options
    given = {**_given(base), **_given(options)}
    if portfolio and n_tickers > 1:
        given.setdefault("max_positions", DEFAULT_MAX_POSITIONS)
        if "sizing" not in given and "sizing_value" not in given:
            given["sizing"] = "equity"
            given["sizing_value"] = 1.0 / min(n_tickers, int(given["max_positions"]))
    for name in ("order_tif_bars", "max_hold_bars", "max_positions", "atr_window", "kelly_min_trades"):
        v = given.get(name)
        if isinstance(v, float) and v.is_integer():
            given[name] = int(v)
    try:
        return SimSettings(**given)
    except TypeError as exc:  # a wrong type that the dataclass itself rejects
        raise SettingsError(str(exc)) from None


# ---- stored shape ----------------------------------------------------------------------

def settings_to_json(settings: SimSettings) -> dict[str, Any]:
    """Every field by name: the ``simulation`` part of a stored backtest's settings."""
    return asdict(settings)


_V1_RENAMES = {"initial_capital": "cash", "capital": "cash"}


def settings_from_json(doc: Mapping[str, Any]) -> SimSettings:
    """`SimSettings` from a stored shape (version 2, or version 1's flat dict).

    Raises
    ------
    SettingsError
        a stored setting quantdb does not know (written by a newer version).
    """
    values = {_V1_RENAMES.get(k, k): v for k, v in doc.items()}
    unknown = set(values) - _NAMES
    if unknown:
        msg = f"stored settings name unknown fields {sorted(unknown)}: written by a newer quantdb?"
        raise SettingsError(msg)
    return SimSettings(**values)


# ---- the packed layout every simulating kernel reads ---------------------------------
# One float vector and one int vector: one numba specialization, one layout for the
# backtest, the portfolio, the prediction replay and the fused sweep.
(P_CASH, P_CFRAC, P_CPS, P_CFIX, P_CMIN, P_SLIP, P_SLIPR, P_SIZEV, P_SL, P_TP, P_TS, P_BORROW,
 P_MAXW, P_OFFSET, P_KCAP, P_KMIN, P_ATRM, P_MMARGIN, NP_) = range(19)
(Q_FILL, Q_SIZING, Q_FRAC, Q_DIR, Q_MAXHOLD, Q_AMBIG, Q_ORDER, Q_TIF, Q_MAXPOS, Q_SHARED,
 Q_RECORD, Q_NTICK, Q_CLOSE_BARS, NQ_) = range(14)


def pack_settings(
    settings: SimSettings, *, n_tickers: int = 1, shared: bool = False, record: bool = False,
    close_bars: bool = False,
) -> tuple[FloatArray, IntArray]:
    """The float and int slot vectors of ``settings`` (the ``P_*`` and ``Q_*`` indices).

    ``shared`` (one cash balance), ``record`` (keep trades and curves), ``n_tickers`` and
    ``close_bars`` (the replay's close-only rule) describe the run, not the settings.
    """
    import numpy as np

    st = settings
    p = np.zeros(NP_)
    p[P_CASH] = st.cash
    p[P_CFRAC] = st.commission
    p[P_CPS] = st.commission_per_share
    p[P_CFIX] = st.commission_fixed
    p[P_CMIN] = st.commission_min
    p[P_SLIP] = st.slippage_bps / 1e4
    p[P_SLIPR] = st.slippage_range_frac
    p[P_SIZEV] = st.sizing_value
    p[P_SL] = np.nan if st.stop_loss is None else st.stop_loss
    p[P_TP] = np.nan if st.take_profit is None else st.take_profit
    p[P_TS] = np.nan if st.trailing_stop is None else st.trailing_stop
    p[P_BORROW] = st.borrow_rate / 252.0
    p[P_MAXW] = np.inf if st.max_weight is None else st.max_weight
    p[P_OFFSET] = st.entry_offset
    p[P_KCAP] = st.kelly_cap
    p[P_KMIN] = st.kelly_min_trades
    p[P_ATRM] = st.atr_mult
    p[P_MMARGIN] = st.maintenance_margin
    q = np.zeros(NQ_, dtype=np.int64)
    q[Q_FILL] = 1 if st.fill == "close" else 0
    q[Q_SIZING] = SIZING_CODES[st.sizing]
    q[Q_FRAC] = int(st.fractional)
    q[Q_DIR] = {"long": 0, "short": 1, "both": 2}[st.direction]
    q[Q_MAXHOLD] = -1 if st.max_hold_bars is None else st.max_hold_bars
    q[Q_AMBIG] = 0 if st.ambiguous == "stop-first" else 1
    q[Q_ORDER] = {"market": 0, "limit": 1, "stop": 2}[st.order_type]
    q[Q_TIF] = st.order_tif_bars
    q[Q_MAXPOS] = -1 if (st.max_positions is None or not shared) else st.max_positions
    q[Q_SHARED] = int(shared)
    q[Q_RECORD] = int(record)
    q[Q_NTICK] = n_tickers
    q[Q_CLOSE_BARS] = int(close_bars)
    return p, q
