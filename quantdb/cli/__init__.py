"""The `quantdb` command line."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `quantdb` console script.

    As the process exits, the objects still alive are moved out of the garbage collector's
    reach (``gc.freeze``, registered with `atexit`): the interpreter's shutdown otherwise runs
    full collections over every object numba, SciPy and pydantic left (numba's typing tables
    alone are hundreds of thousands), 0.15-0.3 s of CPU after a command that ran a kernel
    (issue 15: the sweep command 1.81 -> 1.59 s of CPU). The shutdown itself still runs:
    other `atexit` handlers, non-daemon threads joined, modules cleared and their objects freed
    by reference counting; only garbage in reference cycles is left to the operating system.
    The commands write nothing that waits for a collection (files and connections are closed
    by the code that opened them).
    """
    import atexit
    import gc

    atexit.register(gc.freeze)
    from quantdb.cli.app import run

    run()
