"""The quarantine: list the records a migration could not read, and re-import them once fixed.

The workflow: ``quantdb quarantine list --json > q.json``, edit each entry's ``raw`` in q.json
(a JSON object for JSON files, the CSV line for a price file), then ``quantdb quarantine
reimport --from q.json``. Re-import runs the records through the same rules as a migration, in
a new batch (kind ``manual``, so rollback undoes it), and marks the old quarantine rows
resolved (their before-image is kept for rollback). A record that still breaks a rule is
quarantined again in the new batch with its new reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from quantdb.errors import FileFormatError, InputError, NotFound
from quantdb.ingest import reader as rd
from quantdb.ingest import records as rc
from quantdb.ingest.folder import ParsedFolder
from quantdb.ingest.normalize import now_utc
from quantdb.services.records.migrate import MigrationReport, import_parsed
from quantdb.storage.sqlite import Database


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined record: where it came from, why, and the raw original."""

    id: int
    batch_id: int
    file: str
    position: int
    record_key: str | None
    field: str
    rule: str
    reason: str
    resolved_at: str | None
    raw: Any


def list_quarantine(
    db: Database, *, include_resolved: bool = False, batch_id: int | None = None
) -> list[QuarantineEntry]:
    """Quarantined records (unresolved ones unless ``include_resolved``), oldest first."""
    sql = ("SELECT q.id, q.batch_id, q.file, q.position, r.record_key, q.field, q.rule, q.reason, q.resolved_at, r.raw "
           "FROM quarantine q JOIN raw_records r ON r.id = q.raw_record_id WHERE 1 = 1")  # fmt: skip
    params: list[Any] = []
    if not include_resolved:
        sql += " AND q.resolved_at IS NULL"
    if batch_id is not None:
        sql += " AND q.batch_id = ?"
        params.append(batch_id)
    out = []
    for row in db.query(sql + " ORDER BY q.id", params):
        raw = row[9] if row[2].startswith(rd.PRICE_DIR + "/") else json.loads(row[9])
        out.append(
            QuarantineEntry(
                row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], raw
            )
        )
    return out


def load_fixes(path: str | Path) -> dict[int, Any]:
    """Read an edited ``quarantine list --json`` document: quarantine id -> fixed raw record."""
    doc = rd.load_json(path)
    entries = doc.get("entries", doc) if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        msg = 'expected a list of {"id": ..., "raw": ...} (the output of `quantdb quarantine list --json`)'
        raise FileFormatError(path, "top level", msg)
    fixes: dict[int, Any] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("id"), int) or "raw" not in e:
            raise InputError(
                path, i, "id", 'expected {"id": <quarantine id>, "raw": <fixed record>}'
            )
        fixes[e["id"]] = e["raw"]
    return fixes


def reimport_quarantined(
    db: Database, *, ids: list[int] | None = None, fixes: dict[int, Any] | None = None
) -> MigrationReport:
    """Re-import quarantined records (all unresolved ones, or ``ids``, or those in ``fixes``).

    Raises
    ------
    NotFound
        A named quarantine id does not exist or is already resolved.
    """
    fixes = fixes or {}
    wanted = set(ids or []) | set(fixes)
    entries = [e for e in list_quarantine(db) if not wanted or e.id in wanted]
    missing = wanted - {e.id for e in entries}
    if missing:
        msg = f"quarantine id(s) {sorted(missing)} not found or already resolved; see `quantdb quarantine list`"
        raise NotFound(msg)
    if not entries:
        msg = "nothing to re-import: the quarantine is empty"
        raise NotFound(msg)
    headers: dict[str, str] = {}
    for (doc,) in db.query(
        "SELECT report_json FROM import_batches WHERE report_json IS NOT NULL ORDER BY id"
    ):
        for name, meta in orjson.loads(doc).get("file_meta", {}).items():
            if "header" in meta:
                headers[name] = meta["header"]
    by_file: dict[str, list[QuarantineEntry]] = {}
    for e in entries:
        by_file.setdefault(e.file, []).append(e)
    files = [_parse(name, group, fixes, headers) for name, group in by_file.items()]
    parsed = ParsedFolder(Path("quarantine"), files)
    qids = [e.id for e in entries]

    def resolve(conn: Any, batch_id: int) -> None:
        for qid in qids:
            before = conn.execute(
                "SELECT resolved_at FROM quarantine WHERE id = ?", (qid,)
            ).fetchone()
            conn.execute(
                "INSERT INTO batch_changes (batch_id, table_name, row_id, before_json) VALUES (?, 'quarantine', ?, ?)",
                (batch_id, qid, orjson.dumps({"resolved_at": before[0]}).decode()),
            )
        conn.executemany(
            "UPDATE quarantine SET resolved_at = ? WHERE id = ?", [(now_utc(), q) for q in qids]
        )

    return import_parsed(db, parsed, source="quarantine", kind="manual", on_batch=resolve)


def _parse(
    name: str, group: list[QuarantineEntry], fixes: dict[int, Any], headers: dict[str, str]
) -> rc.ParsedFile:
    recs = [fixes.get(e.id, e.raw) for e in group]
    if name.startswith(rd.PRICE_DIR + "/"):
        header = headers.get(name, "Date,Open,High,Low,Close,Adj Close,Volume")
        lines = [
            r
            if isinstance(r, str)
            else ",".join(str(r.get(h.strip(), "")) for h in header.split(","))
            for r in recs
        ]
        pf = rc.read_prices(rd.price_file_from_lines(Path(name), name, header, lines))
    elif name == rd.PREDICTIONS:
        pf = rc.read_predictions({"predictions": recs}, name, has_nan=True)
    elif name == rd.TRADES:
        pf = rc.read_trades(recs, name, has_nan=True)
    elif name in rd.LEADERS:
        pf = _merge(name, [rc.read_leaders({"leaders": {e.record_key: [r]}}, name, rd.LEADERS[name], has_nan=True)
                           for e, r in zip(group, recs, strict=True)])  # fmt: skip
    elif name == rd.TICKERS:
        pf = _merge(
            name,
            [
                rc.read_tickers({e.record_key: r}, name, has_nan=True)
                for e, r in zip(group, recs, strict=True)
            ],
        )
    elif name == rd.STRATEGIES:
        pf = _merge(
            name,
            [
                rc.read_strategies({e.record_key: r}, name, has_nan=True)
                for e, r in zip(group, recs, strict=True)
            ],
        )
    else:
        msg = f"{name}: unknown legacy file in the quarantine"
        raise NotFound(msg)
    pf.meta["positions"] = [e.position for e in group]
    return pf


def _merge(name: str, parts: list[rc.ParsedFile]) -> rc.ParsedFile:
    out = rc.ParsedFile(name, parts[0].kind, meta=parts[0].meta)
    for p in parts:
        for i in range(len(p)):
            out.add(p.raws[i], p.keys[i], p.rows[i], p.problems[i], p.flags[i])
    return out
