"""A software prefetch for numba kernels: ``prefetch(a, i, j)`` asks the CPU to start
loading the cache line of ``a[i, j]`` (a 2-D array) into the caches, and returns at once.

Why: a kernel that walks a C-ordered (periods x series) panel a block of columns at a time
reads a few cache lines per row, rows a whole panel row apart; the hardware prefetchers do
not follow such a stride across pages, so each row would wait for memory. Prefetching a few
rows ahead overlaps that wait with the arithmetic. A prefetch never faults and changes no
value (only when data arrive), so results are the same to the last bit with or without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from quantdb._typing import FloatArray

__all__ = ["prefetch"]


@intrinsic
def _prefetch(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """``llvm.prefetch`` (read, keep in all cache levels) of the address of ``arr[i, j]``;
    `i` and `j` must lie inside the array (no wraparound, no bounds check)."""
    if not isinstance(arr, types.Array) or arr.ndim != 2:
        return None
    sig = types.void(arr, i, j)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, args[1], signature.args[1], types.intp),
               context.cast(builder, args[2], signature.args[2], types.intp)]  # fmt: skip
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx)  # type: ignore[no-untyped-call]
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        # the name is mangled by the pointer type llvmlite writes ("p0i8" typed, "p0" opaque)
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty)
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


#: ``prefetch(a, i, j)`` inside a numba kernel (typed for the callers' type checking).
prefetch = cast(Callable[[FloatArray, int, int], None], _prefetch)
