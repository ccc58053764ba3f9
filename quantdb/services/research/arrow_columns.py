"""NumPy columns to Arrow arrays and back, without importing pandas.

pyarrow's own conversions (``pa.array`` on an ndarray or a list, ``Array.to_numpy``) import
pandas the first time they run, to look for pandas types: about 0.4 s of a command's start-up
(issue 15) for columns that are plain numbers, flags and ticker names. These functions build
the same arrays from the columns' buffers (``pa.Array.from_buffers``, no copy for numbers) and
read them back the same way (DLPack; bit-unpacking for flags). The arrays are equal to
pyarrow's, with no nulls (a float NaN stays a value, as ``pa.array`` keeps it), so a Parquet
file written from them has the same bytes; ``tests/unit/test_arrow_columns.py`` checks both.
Other types (text parameters, columns with nulls) go through pyarrow's own conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["arrow_array", "numpy_column", "string_take"]

_INT32_MAX = 2**31 - 1


def arrow_array(values: np.ndarray) -> pa.Array:
    """``values`` (1-D) as an Arrow array equal to ``pa.array(values)``.

    Numbers share the ndarray's memory; booleans are packed into Arrow's bitmap; any other
    dtype is handed to ``pa.array``.
    """
    import pyarrow as pa

    v = np.ascontiguousarray(values)
    if v.ndim == 1 and v.dtype.kind in "iuf" and v.dtype.isnative:
        return pa.Array.from_buffers(pa.from_numpy_dtype(v.dtype), len(v), [None, pa.py_buffer(v)])
    if v.ndim == 1 and v.dtype.kind == "b":
        bits = np.packbits(v, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(v), [None, pa.py_buffer(bits)])
    return pa.array(v)


def string_take(names: Sequence[str], index: np.ndarray) -> pa.Array:
    """``pa.array([names[i] for i in index], type=pa.string())``, built from its buffers.

    Each name is encoded once (UTF-8); the rows' offsets are the running sum of their names'
    lengths.
    """
    import pyarrow as pa

    encoded = [n.encode("utf-8") for n in names]
    idx = np.asarray(index, dtype=np.intp)
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    ends = np.cumsum(lengths[idx], dtype=np.int64)
    if ends.size and ends[-1] > _INT32_MAX:  # beyond `string`'s 32-bit offsets: pyarrow decides
        return pa.array([names[i] for i in idx.tolist()], type=pa.string())
    offsets = np.zeros(len(idx) + 1, dtype=np.int32)
    offsets[1:] = ends
    data = b"".join([encoded[i] for i in idx.tolist()])
    return pa.Array.from_buffers(pa.string(), len(idx), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def numpy_column(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow column as a new ndarray with the dtype and values of ``column.to_numpy()``.

    Numbers and booleans without nulls are read from their buffers; anything else (nulls,
    text, dates) through ``to_numpy`` (which imports pandas).
    """
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    t = arr.type
    if len(arr) and arr.null_count == 0:
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            return np.array(np.from_dlpack(arr))  # a copy: writeable, owns its memory
        if pa.types.is_boolean(t):
            bits = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
            flags = np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")[arr.offset :]
            return flags.astype(np.bool_)
    return np.asarray(column.to_numpy())
