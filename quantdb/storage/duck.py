"""DuckDB over the SQLite file: the pinned ``sqlite_scanner`` extension, attached read-only.

The extension comes from the ``duckdb-extension-sqlite-scanner`` wheel, whose version must
equal DuckDB's (both pinned in pyproject.toml). It is loaded from the wheel's own file with
autoinstall and autoload off and unsigned extensions never allowed, so nothing is ever
downloaded. The attach is read-only, and a process must not use it while it writes the same
file: two SQLite copies in one process can drop each other's POSIX locks (DESIGN.md).
"""

from __future__ import annotations

from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantdb.errors import ExtensionMissing

if TYPE_CHECKING:
    import duckdb
    import polars as pl

EXTENSION_PACKAGE = "duckdb-extension-sqlite-scanner"


def sqlite_scanner_path() -> Path:
    """The ``sqlite_scanner.duckdb_extension`` file inside the pinned wheel."""
    import duckdb

    spec = importlib_util.find_spec("duckdb_extension_sqlite_scanner")
    if spec is None or spec.origin is None:
        msg = (
            f"DuckDB's sqlite_scanner extension is not installed; "
            f"install it with: pip install {EXTENSION_PACKAGE}=={duckdb.__version__}"
        )
        raise ExtensionMissing(msg)
    base = Path(spec.origin).parent / "extensions"
    wanted = base / f"v{duckdb.__version__}" / "sqlite_scanner.duckdb_extension"
    if wanted.exists():
        return wanted
    found = sorted(base.glob("*/sqlite_scanner.duckdb_extension"))
    have = ", ".join(p.parent.name for p in found) or "none"
    msg = (
        f"{EXTENSION_PACKAGE} has no build for DuckDB {duckdb.__version__} (it has: {have}); "
        f"install {EXTENSION_PACKAGE}=={duckdb.__version__}"
    )
    raise ExtensionMissing(msg)


def open_duckdb(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can never download or autoload an extension."""
    import duckdb

    return duckdb.connect(
        database,
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_community_extensions": False,
        },
    )


def attach_sqlite(con: duckdb.DuckDBPyConnection, path: Path, *, alias: str = "db") -> None:
    """Load the pinned scanner and attach the SQLite file read-only as ``alias`` (then USE it)."""
    ext = sqlite_scanner_path()
    con.execute(f"LOAD '{ext.as_posix()}'")
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {alias} (TYPE sqlite, READ_ONLY)")
    con.execute(f"USE {alias}")


class DuckEngine:
    """DuckDB SQL over a quantdb SQLite file, results as Polars frames or NumPy arrays."""

    def __init__(self, sqlite_path: Path) -> None:
        self.sqlite_path = Path(sqlite_path)
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, attached on first use."""
        if self._con is None:
            con = open_duckdb()
            attach_sqlite(con, self.sqlite_path)
            self._con = con
        return self._con

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run DuckDB SQL (tables reachable by their plain names) and return a Polars frame."""
        rel = self.con.execute(query, params) if params is not None else self.con.execute(query)
        return rel.pl()

    def numpy(self, query: str, params: list[Any] | None = None) -> dict[str, Any]:
        """Run DuckDB SQL and return ``{column: ndarray}``."""
        rel = self.con.execute(query, params) if params is not None else self.con.execute(query)
        return rel.fetchnumpy()

    def close(self) -> None:
        """Detach and close DuckDB (releases its SQLite file handles)."""
        if self._con is not None:
            self._con.close()
            self._con = None
