"""Undo one import batch: delete exactly the rows it added, restore the rows it changed.

Rows a batch created carry its ``batch_id`` (tickers and strategies only it introduced
included); rows it changed have a before-image in ``batch_changes``. Its ``raw_records`` and
``quarantine`` rows go too, and the batch is marked ``rolled_back`` (the row stays, as history).
A batch that later data depends on (a later batch's trade linking to its prediction, say, or a
re-run that found its records already present and kept no second copy of their raw originals)
is refused, naming what depends on it: roll back the later batch first.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import orjson

from quantdb.errors import DatabaseError, NotFound
from quantdb.ingest.normalize import now_utc
from quantdb.storage.sqlite import Database

#: Children before parents, so foreign keys hold at every step.
DELETE_ORDER = ("trades", "predictions", "volume_leaders", "price_history", "tickers", "strategies")


@dataclass(frozen=True)
class RollbackReport:
    """What `rollback_batch` removed and restored."""

    batch_id: int
    deleted: dict[str, int] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "deleted": dict(self.deleted),
            "restored": dict(self.restored),
        }


def last_batch_id(db: Database) -> int:
    """The newest committed batch; `NotFound` when there is none."""
    bid = db.scalar("SELECT max(id) FROM import_batches WHERE status = 'committed'")
    if bid is None:
        msg = f"{db.path}: no committed import batch to roll back"
        raise NotFound(msg)
    return int(bid)


def rollback_batch(
    db: Database, batch_id: int | None = None, *, last: bool = False
) -> RollbackReport:
    """Roll back batch ``batch_id`` (or the newest with ``last=True``), all or nothing.

    Raises
    ------
    NotFound
        No such batch, or it was already rolled back.
    DatabaseError
        Rows of another batch (or made by hand) depend on rows of this batch.
    """
    if batch_id is None:
        if not last:
            msg = "say which batch to roll back: --batch N or --last"
            raise NotFound(msg)
        batch_id = last_batch_id(db)
    deleted: dict[str, int] = {}
    restored: dict[str, int] = {}
    with db.atomic() as conn:
        row = conn.execute("SELECT status FROM import_batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            msg = (
                f"{db.path}: no import batch {batch_id}; `quantdb migrate --json` reports batch ids"
            )
            raise NotFound(msg)
        if row[0] != "committed":
            msg = f"{db.path}: batch {batch_id} is already {row[0]}"
            raise NotFound(msg)
        _refuse_dependents(conn, batch_id)
        changes = conn.execute(
            "SELECT id, table_name, row_id, before_json FROM batch_changes WHERE batch_id = ? ORDER BY id DESC",
            (batch_id,),
        ).fetchall()
        try:
            for table in DELETE_ORDER[:4]:
                deleted[table] = conn.execute(
                    f"DELETE FROM {table} WHERE batch_id = ?", (batch_id,)
                ).rowcount
            for _cid, table, row_id, before in changes:  # newest change first
                values = orjson.loads(before)
                sets = ", ".join(f"{col} = ?" for col in values)
                conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))
                restored[table] = restored.get(table, 0) + 1
            for table in DELETE_ORDER[4:]:
                deleted[table] = conn.execute(
                    f"DELETE FROM {table} WHERE batch_id = ?", (batch_id,)
                ).rowcount
        except sqlite3.IntegrityError as exc:
            msg = f"{db.path}: cannot roll back batch {batch_id}: {_what_depends(conn, batch_id) or exc}"
            raise DatabaseError(msg) from exc
        deleted["quarantine"] = conn.execute(
            "DELETE FROM quarantine WHERE batch_id = ?", (batch_id,)
        ).rowcount
        deleted["raw_records"] = conn.execute(
            "DELETE FROM raw_records WHERE batch_id = ?", (batch_id,)
        ).rowcount
        conn.execute("DELETE FROM batch_changes WHERE batch_id = ?", (batch_id,))
        conn.execute(
            "UPDATE import_batches SET status = 'rolled_back', finished_at = coalesce(finished_at, ?) WHERE id = ?",
            (now_utc(), batch_id),
        )
    return RollbackReport(batch_id, deleted, restored)


def _refuse_dependents(conn: sqlite3.Connection, batch_id: int) -> None:
    """Raise when a later committed batch recorded one of this batch's rows as its target."""
    later = conn.execute(
        "SELECT r.batch_id, r.target_table, count(*) FROM raw_records r "
        "JOIN import_batches b ON b.id = r.batch_id AND b.status = 'committed' "
        "WHERE r.batch_id > ? AND r.outcome IN ('already_present', 'duplicate') AND r.target_table IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM raw_records o WHERE o.batch_id = ? AND o.outcome = 'imported' "
        "            AND o.target_table = r.target_table AND o.target_id = r.target_id) "
        "GROUP BY r.batch_id, r.target_table LIMIT 3",
        (batch_id, batch_id),
    ).fetchall()
    if later:
        b, table, n = later[0]
        msg = (f"cannot roll back batch {batch_id}: batch {b} counted {n} of its {table} rows as "
               f"already present; roll back batch {b} first")  # fmt: skip
        raise DatabaseError(msg)
    # A re-run stores no second copy of a raw original this batch keeps (migrate.RAW_REUSED).
    reuse = conn.execute(
        "SELECT id, json_extract(report_json, ?) FROM import_batches WHERE status = 'committed' "
        "AND id > ? AND json_extract(report_json, ?) IS NOT NULL ORDER BY id DESC LIMIT 1",
        (f'$.raw_reused_from."{batch_id}"', batch_id, f'$.raw_reused_from."{batch_id}"'),
    ).fetchone()
    if reuse:
        b, n = reuse
        msg = (f"cannot roll back batch {batch_id}: batch {b} read {n} of its records again, already "
               f"present (their raw originals are kept once, in batch {batch_id}); roll back batch {b} first")  # fmt: skip
        raise DatabaseError(msg)


#: What a row of a dependent table is, for the message (tables found through their foreign keys).
_DEPENDENT_NAMES = {
    "backtest_results": "stored backtests (quantdb backtests)",
    "performance_metrics": "performance snapshots (quantdb track update)",
    "price_history": "price bars of later imports",
    "predictions": "predictions of later imports",
    "trades": "trades of later imports",
    "volume_leaders": "volume leader rows of later imports",
}


def _what_depends(conn: sqlite3.Connection, batch_id: int) -> str:
    """Which rows outside the batch use its strategies or tickers, and what to do about it.

    Found through the schema's foreign keys (backtests and `track update` snapshots name the
    strategies a legacy batch created; price bars of later imports name its tickers): deleting
    the batch would orphan them.
    """
    used: list[str] = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        for fk in conn.execute(f'PRAGMA foreign_key_list("{table}")').fetchall():
            parent, column = fk[2], fk[3]
            if parent not in ("strategies", "tickers"):
                continue
            outside = " AND batch_id IS NOT ?" if "batch_id" in columns else ""
            n = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{column}" IN '
                f'(SELECT id FROM "{parent}" WHERE batch_id = ?){outside}',
                (batch_id, batch_id) if outside else (batch_id,),
            ).fetchone()[0]
            if n:
                used.append(f"{n:,} {_DEPENDENT_NAMES.get(table, table + ' rows')}")
    if not used:
        return ""
    backup = conn.execute("SELECT backup_path FROM import_batches WHERE id = ?", (batch_id,)).fetchone()
    undo = (f"; or restore the backup taken before the batch: quantdb restore {backup[0]}"
            if backup and backup[0] else "")
    return (f"{', '.join(used)} use its strategies or tickers; delete those first (they are derived: "
            f"rerun them after the import){undo}")
