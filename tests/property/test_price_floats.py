"""The bulk reading of price columns (`records.plain_decimals`, Polars' cast) gives the floats
Python's ``float`` gives, bit for bit, and accepts no text ``float`` refuses; `records._floats`
is ``list(map(float, texts))`` whatever the texts (the same floats, the same `ValueError`)."""

from __future__ import annotations

import itertools
import math
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdb.errors import FileFormatError
from quantdb.ingest import reader as rd
from quantdb.ingest import records as rc


def _bits(x: float) -> str:
    return struct.pack(">d", x).hex()


def _python(text: str) -> str | None:
    """``float(text)`` by its bits, or None when it raises."""
    try:
        return _bits(float(text))
    except ValueError:
        return None


def _same_as_python(texts: list[str]) -> None:
    """Each text alone through the bulk reading: read as ``float`` reads it, or not at all when
    ``float`` refuses it (a text Polars refuses is left to ``float``, which is always right)."""
    import polars as pl

    got = pl.Series(texts, dtype=pl.String).cast(pl.Float64, strict=False).to_list()
    for text, value in zip(texts, got, strict=True):
        want = _python(text)
        if value is not None:
            assert want is not None, f"{text!r}: Polars reads {value!r}, float refuses it"
            assert _bits(value) == want, f"{text!r}: {value!r} vs {float(text)!r}"
    whole = rc.plain_decimals(texts)
    if whole is not None:
        assert [_bits(v) for v in whole] == [_python(t) for t in texts]


def test_every_short_text_of_digits_and_dots() -> None:
    """Every text of up to 7 characters from ``0``, ``1``, ``5``, ``9`` and ``.``: empty, lone
    dots, two dots, leading zeros, a dot at either end."""
    texts = ["".join(p) for n in range(8) for p in itertools.product("0159.", repeat=n)]
    assert len(texts) > 90_000
    _same_as_python(texts)


DIGITS = st.text("0123456789", min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    DIGITS,
    st.builds(lambda a, b: f"{a}.{b}", DIGITS, DIGITS),
    st.builds(lambda a: f"{a}.", DIGITS),
    st.builds(lambda b: f".{b}", DIGITS),
    st.builds(lambda z, b: "0." + "0" * z + b, st.integers(0, 330), DIGITS),  # down to subnormals
    st.builds(lambda a, z: a + "0" * z, DIGITS, st.integers(0, 320)),  # up to overflow
), min_size=1, max_size=80))  # fmt: skip
def test_long_tiny_and_huge_decimals(texts: list[str]) -> None:
    _same_as_python(texts)


def _plain(d: Decimal) -> str:
    """``d`` written out in full, no exponent (as a price file would)."""
    return format(d, "f")


def test_midpoints_between_neighbouring_doubles_round_as_python() -> None:
    """The hardest decimals: the exact values halfway between two neighbouring doubles (ties go
    to the even one) and the exact doubles themselves, written out digit by digit, from
    subnormals to 1e300, and the shortest texts (``repr``) of the same doubles."""
    rng = np.random.default_rng(1337)
    xs = np.concatenate([
        np.exp(rng.uniform(math.log(5e-324), math.log(1e300), 3000)),
        rng.uniform(0.01, 5000.0, 3000), [5e-324, 2.2250738585072014e-308, 2.0**53 + 2, 0.1, 1e22, 1e23],
    ])  # fmt: skip
    texts = []
    for x in map(float, xs):
        up = math.nextafter(x, math.inf)
        mid = (Decimal(x) + Decimal(up)) / 2
        texts += [
            _plain(mid),
            _plain(Decimal(x)),
            repr(x) if "e" not in repr(x) else _plain(Decimal(repr(x))),
        ]
    assert all(set(t) <= set("0123456789.") for t in texts)
    _same_as_python(texts)


@pytest.mark.parametrize(
    "texts",
    [
        ["12.5"] * 100,
        ["12.5"] * 99 + ["1e3"],  # not plain: float reads it
        ["12.5"] * 99 + [" 7"],  # float strips blanks
        ["12.5"] * 99 + ["1_0"],  # float reads underscores
        ["12.5"] * 99 + ["١٢"],  # and Arabic-Indic digits
        ["12.5"] * 99 + ["nan"],
        ["12.5"] * 99 + ["1.2.3"],  # float refuses: ValueError, as before
        ["12.5"] * 99 + [""],
        ["12.5"] * 99 + ["."],
        ["0.1"] * 10,  # too short for the bulk reading
    ],
)
def test_floats_is_map_float(texts: list[str]) -> None:
    try:
        want: list[str] | type[ValueError] = [_bits(float(t)) for t in texts]
    except ValueError:
        want = ValueError
    for bulk in (False, True):
        try:
            got: list[str] | type[ValueError] = [_bits(v) for v in rc._floats(texts, bulk)]
        except ValueError:
            got = ValueError
        assert got == want, (bulk, texts[-1])


def _parsed(pf: rc.ParsedFile) -> tuple[object, ...]:
    rows = [
        None if r is None else tuple(_bits(v) if isinstance(v, float) else v for v in r)
        for r in pf.rows
    ]
    cols = (
        None
        if pf.columns is None
        else [[_bits(v) if isinstance(v, float) else v for v in c] for c in pf.columns]
    )
    return (pf.raws, pf.keys, rows, pf.problems, pf.flags, pf.meta, cols)


def test_a_messy_damaged_folder_reads_the_same_in_bulk(tmp_path: Path) -> None:
    """Every price file of a generated legacy folder with all its mess and damage (null rows,
    NaN, text, bad dates, repeated days...): the same rows, bits, problems, flags and columns
    with and without the bulk reading."""
    from quantdb.datasets.legacy import write_legacy_folder
    from quantdb.datasets.market import generate_market

    market = generate_market(24, 2, seed=11)
    write_legacy_folder(market, tmp_path / "legacy", seed=12, n_predictions=200, n_trades=100,
                        mess=True, damage=True, daily_leader_days=None)  # fmt: skip
    found = rd.scan_folder(tmp_path / "legacy")
    assert len(found.price_files) >= 20
    bulk_read = 0
    for rel, path in found.price_files:
        try:
            pf = rd.load_price_csv(path, rel)
        except FileFormatError:
            continue
        plain, bulk = rc.read_prices(pf), rc.read_prices(pf, bulk=True)
        assert _parsed(bulk) == _parsed(plain), rel
        bulk_read += bulk.columns is not None
    assert bulk_read >= 10
