"""The pandas-free Arrow conversions of sweep results equal pyarrow's own (issue 15).

Reference: ``pa.array`` / ``to_numpy``, pyarrow's conversions, which import pandas. Equal arrays
(same type, values, no nulls) and byte-identical Parquet files; and a fresh interpreter that
writes and reads a chunk the sweep's way has not imported pandas.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantdb.services.research.arrow_columns import arrow_array, numpy_column, string_take


def _columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    ret = rng.normal(0, 1, n)
    ret[::7] = np.nan
    ret[3::11] = np.inf
    return {
        "fast": rng.integers(1, 300, n).astype(np.int64),
        "window32": rng.integers(1, 300, n).astype(np.int32),
        "threshold": rng.uniform(0, 1, n),
        "total_return": ret,
        "n_trades": rng.integers(0, 500, n).astype(np.int64),
        "bankrupt": rng.random(n) < 0.1,
    }


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000])
def test_arrays_equal_pyarrows(rng: np.random.Generator, n: int) -> None:
    for name, values in _columns(rng, n).items():
        ours, theirs = arrow_array(values), pa.array(values)
        ours.validate(full=True)
        assert ours.type == theirs.type, name
        assert ours.null_count == theirs.null_count == 0, name
        # bit for bit (Array.equals calls NaN unequal to itself)
        mine, ref = ours.to_numpy(zero_copy_only=False), theirs.to_numpy(zero_copy_only=False)
        assert mine.dtype == ref.dtype and mine.tobytes() == ref.tobytes(), name
        back = numpy_column(pa.chunked_array([ours[: n // 2], ours[n // 2 :]], type=ours.type))
        assert back.dtype == theirs.to_numpy(zero_copy_only=False).dtype, name
        np.testing.assert_array_equal(back, values)  # NaN == NaN here: same values


def test_text_parameters_fall_back_to_pyarrow() -> None:
    values = np.array(["a", "bb", "a"])
    assert arrow_array(values).equals(pa.array(values))


def test_strings_equal_pyarrows(rng: np.random.Generator) -> None:
    names = ["AAPL", "BRK.B", "", "Ünïcode", "X" * 40]
    idx = rng.integers(0, len(names), 501).astype(np.int32)
    ours = string_take(names, idx)
    ours.validate(full=True)
    theirs = pa.array(np.asarray(names, dtype=object)[idx].tolist(), type=pa.string())
    assert ours.type == pa.string() and ours.equals(theirs)
    assert string_take(names, idx[:0]).equals(pa.array([], type=pa.string()))


def test_offset_slices_read_back(rng: np.random.Generator) -> None:
    flags = rng.random(100) < 0.5
    arr = arrow_array(flags).slice(13, 50)
    np.testing.assert_array_equal(numpy_column(arr), flags[13:63])
    nums = arrow_array(np.arange(100.0)).slice(5, 10)
    np.testing.assert_array_equal(numpy_column(nums), np.arange(5.0, 15.0))


def test_nulls_fall_back_to_to_numpy() -> None:
    col = pa.chunked_array([pa.array([1.0, None, 3.0])])
    np.testing.assert_array_equal(numpy_column(col), col.to_numpy())


def test_parquet_bytes_identical(rng: np.random.Generator) -> None:
    cols = _columns(rng, 2000)
    names = ["AAPL", "MSFT", "SPB"]
    idx = np.tile(np.arange(3, dtype=np.int32), 667)[:2000]

    def write(table: dict[str, pa.Array]) -> bytes:
        sink = io.BytesIO()
        pq.write_table(pa.table(table), sink)
        return sink.getvalue()

    ours = write({"ticker": string_take(names, idx), **{k: arrow_array(v) for k, v in cols.items()}})
    theirs = write({"ticker": pa.array(np.asarray(names, dtype=object)[idx].tolist(), type=pa.string()),
                    **{k: pa.array(v) for k, v in cols.items()}})
    assert ours == theirs


def test_no_pandas_import() -> None:
    code = (
        "import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq, io\n"
        "from quantdb.services.research.arrow_columns import arrow_array, numpy_column, string_take\n"
        "t = pa.table({'ticker': string_take(['A', 'B'], np.array([0, 1, 1])),\n"
        "              'x': arrow_array(np.array([1.0, 2.0, np.nan])), 'b': arrow_array(np.ones(3, bool))})\n"
        "sink = io.BytesIO(); pq.write_table(t, sink)\n"
        "back = pq.ParquetFile(io.BytesIO(sink.getvalue())).read()\n"
        "numpy_column(back.column('x')); numpy_column(back.column('b'))\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
