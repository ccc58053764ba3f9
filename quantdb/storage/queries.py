"""Named SQL queries from ``sql/queries/<area>.sql`` (aiosql form), parsed once.

A file holds blocks that start with ``-- name: <query_name>``; comment lines right after the
name are its documentation. ``Q["close_panel"]`` is the SQL text; values are always bound
(``:name`` parameters); no query interpolates an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from quantdb.errors import FileFormatError
from quantdb.storage.migrations import sql_dir

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


def parse_queries(text: str, source: str = "<string>") -> dict[str, str]:
    """Split an aiosql-style file into ``{name: sql}``; duplicate names are an error."""
    out: dict[str, str] = {}
    name: str | None = None
    body: list[str] = []

    def flush() -> None:
        if name is not None:
            sql = "\n".join(line for line in body if not line.lstrip().startswith("--")).strip()
            out[name] = sql.rstrip(";").strip()

    for line in text.splitlines():
        m = _NAME.match(line.strip())
        if m:
            flush()
            name = m.group(1)
            if name in out:
                raise FileFormatError(source, f"query {name!r}", "defined twice")
            body = []
        else:
            body.append(line)
    flush()
    return out


@cache
def load_queries(folder: Path | None = None) -> Mapping[str, str]:
    """Every named query of ``sql/queries/*.sql`` as a read-only mapping."""
    folder = folder or (sql_dir() / "queries")
    merged: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        for name, sql in parse_queries(path.read_text(encoding="utf-8"), str(path)).items():
            if name in merged:
                raise FileFormatError(path, f"query {name!r}", "already defined in another file")
            merged[name] = sql
    return MappingProxyType(merged)


class _Queries(Mapping[str, str]):
    """Lazy view of :func:`load_queries`, so importing this module reads no file."""

    def __getitem__(self, key: str) -> str:
        return load_queries()[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(load_queries())

    def __len__(self) -> int:
        return len(load_queries())


Q: Mapping[str, str] = _Queries()
