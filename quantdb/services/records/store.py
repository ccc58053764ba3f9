"""Where the predictors keep predictions and trades: SQLite or the legacy JSON files.

`open_store()` picks the backend from ``QUANTDB_BACKEND`` (``sqlite``, the default, or
``json``), so the old predictors and web page keep working on either while users switch.
Both backends validate a record with the migrator's rules before writing (a record that
would be quarantined raises `InputError` instead) and return legacy-shaped dicts.

* `SqliteStore` writes each addition as a small import batch (kind ``manual``), so it has a
  raw original and can be rolled back like a migration.
* `JsonStore` appends to ``predictions_data.json`` / ``trades_data.json`` under an exclusive
  lock file, writing a temporary file, fsync, then an atomic rename: a reader sees the old
  file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from quantdb.errors import FileFormatError, InputError, QuantdbError
from quantdb.ingest import reader as rd
from quantdb.ingest import records as rc
from quantdb.ingest.folder import ParsedFolder
from quantdb.ingest.normalize import now_utc
from quantdb.services.records.export import (
    PREDICTION_SQL,
    TRADE_SQL,
    atomic_write_json,
    prediction_record,
    trade_record,
)
from quantdb.services.records.migrate import import_parsed
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

BACKENDS = ("sqlite", "json")


class Store(Protocol):
    """What predictors need: add and list predictions and trades (legacy-shaped dicts)."""

    def add_prediction(self, record: dict[str, Any]) -> str: ...
    def list_predictions(
        self, *, strategy: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]: ...
    def add_trade(self, record: dict[str, Any]) -> str: ...
    def list_trades(self, *, status: str | None = None) -> list[dict[str, Any]]: ...


def _check(parsed: rc.ParsedFile, where: str) -> tuple[Any, ...]:
    """The normalized row of a one-record file, or `InputError` with the migrator's reason."""
    problem = parsed.problems[0]
    if problem is not None:
        raise InputError(where, 0, problem.field, f"{problem.reason} (rule {problem.rule})")
    row = parsed.rows[0]
    assert row is not None
    return row


def _matches(rec: dict[str, Any], *, strategy: str | None, status: str | None) -> bool:
    if (
        strategy is not None
        and str(rec.get("strategy", "")).strip().lower() != strategy.strip().lower()
    ):
        return False
    return status is None or str(rec.get("status", "")).strip().lower() == status.strip().lower()


class SqliteStore:
    """The SQLite backend: every addition is a one-record import batch (kind ``manual``)."""

    def __init__(self, db: Database | str | os.PathLike[str]) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        apply_migrations(self.db)

    def _add(self, parsed: rc.ParsedFile) -> str:
        row = _check(parsed, f"{self.db.path} ({parsed.name})")
        folder = ParsedFolder(Path("store"), [parsed])

        def refuse_conflicts(conn: Any, batch_id: int) -> None:
            bad = conn.execute(
                "SELECT q.reason FROM quarantine q WHERE q.batch_id = ?", (batch_id,)
            ).fetchone()
            if bad is not None:  # raising here rolls the whole batch back
                raise InputError(self.db.path, row[0], "id", bad[0])

        import_parsed(self.db, folder, source="store", kind="manual", on_batch=refuse_conflicts)
        return str(row[0])

    def add_prediction(self, record: dict[str, Any]) -> str:
        """Validate and insert one prediction; re-adding the same record is a no-op."""
        return self._add(
            rc.read_predictions({"predictions": [record]}, rd.PREDICTIONS, has_nan=True)
        )

    def add_trade(self, record: dict[str, Any]) -> str:
        """Validate and insert one trade (linked to its prediction when that exists)."""
        return self._add(rc.read_trades([record], rd.TRADES, has_nan=True))

    def list_predictions(
        self, *, strategy: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        recs = [prediction_record(r) for r in self.db.query(PREDICTION_SQL)]
        return [r for r in recs if _matches(r, strategy=strategy, status=status)]

    def list_trades(self, *, status: str | None = None) -> list[dict[str, Any]]:
        recs = [trade_record(r) for r in self.db.query(TRADE_SQL)]
        return [r for r in recs if status is None or r["status"] == status.strip().upper()]


class JsonStore:
    """The JSON backend: the legacy files themselves, appended atomically under a lock."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.folder / ".quantdb-store.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _predictions_doc(self) -> dict[str, Any]:
        path = self.folder / rd.PREDICTIONS
        if not path.exists():
            return {"predictions": [], "last_updated": now_utc()}
        doc = rd.load_json(path)
        rc.read_predictions(doc, rd.PREDICTIONS)  # raises on a wrong top-level shape
        return dict(doc)

    def _trades_doc(self) -> list[Any]:
        path = self.folder / rd.TRADES
        if not path.exists():
            return []
        doc = rd.load_json(path)
        if not isinstance(doc, list):
            raise FileFormatError(
                path, "top level", "wrong top-level shape: expected a list of trades"
            )
        return doc

    @staticmethod
    def _append(
        records: list[Any],
        new: dict[str, Any],
        row: tuple[Any, ...],
        parse: Any,
        path: Path,
        id_field: str,
    ) -> bool:
        """Append ``new`` unless an equal record has its id; refuse a different one."""
        for i, rec in enumerate(records):
            if not isinstance(rec, dict) or str(rec.get(id_field)).strip() != row[0]:
                continue
            other = parse([rec])
            if other.rows[0] is not None and other.rows[0][0] == row[0]:
                if other.rows[0] == row:
                    return False
                msg = f"id {row[0]!r} is already used by a different record (position {i})"
                raise InputError(path, len(records), "id", msg)
        records.append(new)
        return True

    def add_prediction(self, record: dict[str, Any]) -> str:
        """Validate and append one prediction to predictions_data.json (atomic write)."""
        path = self.folder / rd.PREDICTIONS
        row = _check(
            rc.read_predictions({"predictions": [record]}, rd.PREDICTIONS, has_nan=True), str(path)
        )
        with self._locked():
            doc = self._predictions_doc()
            parse = lambda recs: rc.read_predictions(
                {"predictions": recs}, rd.PREDICTIONS, has_nan=True
            )
            if self._append(doc["predictions"], record, row, parse, path, "id"):
                doc["last_updated"] = now_utc()
                atomic_write_json(path, doc)
        return str(row[0])

    def add_trade(self, record: dict[str, Any]) -> str:
        """Validate and append one trade to trades_data.json (atomic write)."""
        path = self.folder / rd.TRADES
        row = _check(rc.read_trades([record], rd.TRADES, has_nan=True), str(path))
        with self._locked():
            trades = self._trades_doc()
            if self._append(
                trades,
                record,
                row,
                lambda recs: rc.read_trades(recs, rd.TRADES, has_nan=True),
                path,
                "trade_id",
            ):
                atomic_write_json(path, trades)
        return str(row[0])

    def list_predictions(
        self, *, strategy: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        with self._locked():
            preds = self._predictions_doc()["predictions"]
        return [
            r
            for r in preds
            if isinstance(r, dict) and _matches(r, strategy=strategy, status=status)
        ]

    def list_trades(self, *, status: str | None = None) -> list[dict[str, Any]]:
        with self._locked():
            trades = self._trades_doc()
        return [
            r
            for r in trades
            if isinstance(r, dict)
            and (status is None or str(r.get("status", "")).upper() == status.upper())
        ]


def open_store(
    *,
    backend: str | None = None,
    db: str | os.PathLike[str] | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> Store:
    """The store chosen by ``backend`` or ``QUANTDB_BACKEND`` (``sqlite`` default, or ``json``).

    ``db`` (or ``QUANTDB_DB``, default ``quant.db``) is the SQLite file; ``folder`` (or
    ``QUANTDB_JSON_DIR``, default ``.``) the legacy JSON folder.
    """
    choice = (backend or os.environ.get("QUANTDB_BACKEND") or "sqlite").strip().lower()
    if choice == "sqlite":
        return SqliteStore(db or os.environ.get("QUANTDB_DB", "quant.db"))
    if choice == "json":
        return JsonStore(folder or os.environ.get("QUANTDB_JSON_DIR", "."))
    msg = f"QUANTDB_BACKEND must be one of {', '.join(BACKENDS)}, got {choice!r}"
    raise QuantdbError(msg)
