"""Zero-loss migration of a legacy folder: one import batch inside one transaction.

Every record read ends in exactly one of four outcomes, per file and in total::

    read == imported + duplicates + quarantined + already_present

* ``imported``: a new row (or, for tickers and strategies, values filling a row's NULLs; the
  row's before-image goes to ``batch_changes`` so rollback restores it);
* ``duplicates``: the same record (same key, same normalized values) appeared earlier in the batch;
* ``already_present``: the same record is already in the database (a re-run imports nothing);
* ``quarantined``: it cannot be made valid without guessing, or its key is used by a different
  record (a conflicting duplicate); the reason names the file, position, field and rule.

The raw original of every record goes to ``raw_records`` with its outcome, target row and flags,
once: a re-run that finds a record already present, exactly as an earlier legacy batch kept it
at the same file and position (same raw text, key, flags and target row), stores no second copy
and notes in its report which batch keeps the original (``raw_reused_from``); verify reads
each position's newest kept row, and rollback refuses to undo that earlier batch first.
A file that cannot be parsed stops everything before the database is touched. When the
database already holds data, an online backup is taken first and its path reported.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

import orjson

from quantdb._laps import Laps
from quantdb._version import __version__
from quantdb.ingest import records as rc
from quantdb.ingest.folder import ParsedFolder, parse_folder
from quantdb.ingest.normalize import now_utc
from quantdb.services.records.raw_rows import MIN_RUN, insert_raw, insert_raw_run
from quantdb.storage.backup import backup_database
from quantdb.storage.bulk import indexes_deferred, insert_rows
from quantdb.storage.migrations import apply_migrations
from quantdb.storage.sqlite import Database

OUTCOMES = ("imported", "duplicate", "already_present", "quarantined")
TABLE_OF = {
    "predictions": "predictions", "trades": "trades", "leaders": "volume_leaders",
    "prices": "price_history", "tickers": "tickers", "strategies": "strategies",
}  # fmt: skip


@dataclass(frozen=True)
class FileCounts:
    """What became of the records of one file (or of all files)."""

    read: int = 0
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_present: int = 0

    @property
    def balanced(self) -> bool:
        return (
            self.read == self.imported + self.duplicates + self.quarantined + self.already_present
        )

    def __add__(self, other: FileCounts) -> FileCounts:
        return FileCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def astuple(c: FileCounts) -> tuple[int, int, int, int, int]:
    return (c.read, c.imported, c.duplicates, c.quarantined, c.already_present)


@dataclass(frozen=True)
class MigrationReport:
    """The outcome of `migrate_folder`; ``to_dict()`` is the ``--json`` document."""

    batch_id: int | None
    source: str
    dry_run: bool
    backup_path: str | None
    files: dict[str, FileCounts]
    totals: FileCounts
    flags: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "dry_run": self.dry_run,
            "backup_path": self.backup_path,
            "files": {k: asdict(v) for k, v in self.files.items()},
            "totals": asdict(self.totals),
            "flags": dict(self.flags),
            "created": dict(self.created),
            "notices": list(self.notices),
            "elapsed_s": round(self.elapsed_s, 3),
        }


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def has_data(db: Database) -> bool:
    """Whether the database file holds any quantdb rows worth a backup."""
    if not db.exists:
        return False
    conn = db.writer()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    for name in ("import_batches", "predictions", "trades", "price_history", "tickers"):
        if name in tables and conn.execute(f"SELECT 1 FROM {name} LIMIT 1").fetchone():
            return True
    return False


def default_backup_path(db: Database) -> Path:
    """``<db folder>/backups/<db stem>-<UTC time>.db``: where the pre-migration backup goes."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    base = db.path.parent / "backups" / f"{db.path.stem}-before-migrate-{stamp}"
    path, n = base.with_suffix(".db"), 1
    while path.exists():
        path, n = Path(f"{base}-{n}.db"), n + 1
    return path


def migrate_folder(
    db: Database,
    folder: str | Path,
    *,
    dry_run: bool = False,
    backup_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> MigrationReport:
    """Import the legacy folder ``folder`` into ``db`` as one batch, all or nothing.

    Parameters
    ----------
    db
        The database (created or upgraded here).
    folder
        A legacy folder (see docs/legacy-format.md). Its files are never modified.
    dry_run
        Compute the full report inside a transaction that is then rolled back; no backup.
    backup_dir
        Where the pre-migration backup goes (default: ``backups/`` beside the database).
    progress
        Called with the number of records handled so far.
    timings
        If given, gets the wall seconds of each phase (``parse``, ``normalize``, ``aside``:
        waiting for the JSON files a second interpreter reads, see `parse_folder`;
        ``backup_schema``, ``load_existing``, ``decide``, ``insert_typed``, ``insert_raw``,
        ``indexes``, ``quarantine_report``, ``commit``): where the time goes, for benchmarks.

    Returns
    -------
    MigrationReport
        Counts per file and in total, the batch id and the backup path.

    Raises
    ------
    FileFormatError
        A file cannot be parsed at all; nothing was written.
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    with gc_paused():
        parsed = parse_folder(folder, progress=progress, timings=timings)
    laps = Laps(timings)
    backup_path = None
    if not dry_run:
        db.require_healthy()
        if has_data(db):
            dest = (
                default_backup_path(db)
                if backup_dir is None
                else Path(backup_dir) / default_backup_path(db).name
            )
            backup_path = str(backup_database(db, dest))
    apply_migrations(db)
    laps.lap("backup_schema")
    with gc_paused():
        report = import_parsed(db, parsed, source=str(folder.resolve()), dry_run=dry_run,
                               backup_path=backup_path, progress=progress, timings=timings)  # fmt: skip
    return replace(report, elapsed_s=time.perf_counter() - t0)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while millions of small tuples are built.

    The records hold no reference cycles, so nothing is lost; without this, full collections
    triggered by allocation counts make parsing a million records about 2.5x slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_parsed(
    db: Database,
    parsed: ParsedFolder,
    *,
    source: str,
    kind: str = "legacy",
    dry_run: bool = False,
    backup_path: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[Any, int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> MigrationReport:
    """Write already-parsed files as one batch (the engine of migrate and quarantine reimport).

    ``on_batch(conn, batch_id)`` runs inside the same transaction after the rows are written;
    ``timings`` gets the seconds of each phase (see `migrate_folder`).
    """
    result: list[MigrationReport] = []
    laps = Laps(timings)
    try:
        with db.atomic() as conn:
            conn.execute("PRAGMA cache_size = -1048576")  # 1 GiB while the batch is written
            imp = _Importer(conn, parsed, source, kind, backup_path, progress, laps)
            report = imp.run(dry_run)
            if on_batch is not None:
                on_batch(conn, imp.batch_id)
            result.append(report)
            if dry_run:
                raise _DryRun
            laps.skip()
        laps.lap("commit")
    except _DryRun:
        pass
    finally:
        db.writer().execute("PRAGMA cache_size = -2000")  # back to SQLite's default
    return result[0]


#: Key of ``import_batches.report_json``: {earlier batch id: records of this batch whose raw
#: original that batch already keeps}. Rollback refuses to undo such an earlier batch first.
RAW_REUSED = "raw_reused_from"


def _same_original(got: tuple[Any, ...], key: Any, raw: str, flags: str | None,
                   outcome: tuple[str, int | None, Any], table: str) -> bool:  # fmt: skip
    """Whether a record read again is the very original an earlier batch keeps, to the same row.

    Only a record found already present (or a duplicate of one) qualifies, and only when the
    kept row holds the same raw text, key and flags and points at the same target row; a
    record quarantined again is stored again (its new quarantine entry supersedes the old).
    """
    _, kraw, kkey, koutcome, ktable, ktarget, kflags = got
    return (
        outcome[0] in ("already_present", "duplicate")
        and koutcome in ("imported", "already_present", "duplicate")
        and kraw == raw and kkey == key and kflags == flags
        and ktable == table and ktarget == outcome[1]
    )  # fmt: skip


class _Table:
    """Keys already claimed in this batch and present in the database, for one target table."""

    def __init__(self, name: str, next_id: int) -> None:
        self.name = name
        self.next_id = next_id
        self.existing: dict[Any, tuple[tuple[Any, ...], int]] = {}
        self.claimed: dict[Any, tuple[tuple[Any, ...], int, str, int]] = {}
        self.new: list[tuple[int, tuple[Any, ...]]] = []
        #: Whole clean files of new rows (price files): (len(new) when added, first id, file);
        #: their rows take the ids first id, first id + 1, ... after the ``new`` rows before them.
        self.blocks: list[tuple[int, int, rc.ParsedFile]] = []
        self.block_first: dict[str, int] = {}  # file -> first id of its block

    @property
    def n_new(self) -> int:
        """How many rows this batch adds to the table."""
        return len(self.new) + sum(len(pf) for _, _, pf in self.blocks)

    def decide(
        self, key: Any, row: tuple[Any, ...], file: str, pos: int
    ) -> tuple[str, int | None, str]:
        """(outcome, target id, conflict reason) of a valid row with ``key``."""
        got = self.claimed.get(key)
        if got is not None:
            if got[0] == row:
                return "duplicate", got[1], ""
            return (
                "quarantined",
                None,
                f"{key!r} is already used by a different record ({got[2]} position {got[3]})",
            )
        old = self.existing.get(key)
        if old is not None:
            if old[0] == row:
                self.claimed[key] = (row, old[1], "the database", -1)
                return "already_present", old[1], ""
            return (
                "quarantined",
                None,
                f"{key!r} is already in the database as a different record (row {old[1]})",
            )
        rid = self.next_id
        self.next_id += 1
        self.claimed[key] = (row, rid, file, pos)
        self.new.append((rid, row))
        return "imported", rid, ""


def _next_id(conn: Any, table: str) -> int:
    top = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
    if table == "price_history":
        seq = conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'price_history'"
        ).fetchone()
        top = max(top, seq[0] if seq else 0)
    return int(top) + 1


KEY_FIELD = {"predictions": "id", "trades": "trade_id", "leaders": "symbol", "prices": "date",
             "tickers": "symbol", "strategies": "name"}  # fmt: skip


class _Importer:
    def __init__(self, conn: Any, parsed: ParsedFolder, source: str, kind: str,
                 backup_path: str | None, progress: Callable[[int], None] | None,
                 laps: Laps | None = None) -> None:  # fmt: skip
        self.conn = conn
        self.laps = laps or Laps(None)
        self.parsed = parsed
        self.source = source
        self.kind = kind
        self.backup_path = backup_path
        self.progress = progress
        self.tables = {k: _Table(t, _next_id(conn, t)) for k, t in TABLE_OF.items()}
        self.batch_id = 0
        self.changes: list[tuple[str, int, str]] = []
        self.flag_counts: dict[str, int] = {}
        self._updates: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
        self._price_symbols: set[str] = set()
        self._existing_price_symbols: set[str] = set()
        self._earlier: list[int] = []
        self.reused: dict[int, int] = {}  # earlier batch -> records whose raw original it keeps

    # -- loading what is already there ----------------------------------------------------------

    def _load_existing(self) -> None:
        c = self.conn
        t = self.tables
        for row in c.execute(
            "SELECT id, symbol, name, sector, market_cap, market_cap_raw, extra FROM tickers"
        ):
            t["tickers"].existing[row[1]] = (tuple(row[1:]), row[0])
        for row in c.execute(
            "SELECT id, name, description, min_hold_days, max_hold_days, extra FROM strategies"
        ):
            t["strategies"].existing[row[1]] = (tuple(row[1:]), row[0])
        kinds = {pf.kind for pf in self.parsed.files}
        if "predictions" in kinds or "trades" in kinds:
            q = ("SELECT p.id, p.legacy_id, p.date, p.timestamp, p.timestamp_utc, p.timestamp_kind, s.name, "
                 "k.symbol, p.position, p.confidence, p.target, p.stop_loss, p.timeframe, p.timeframe_days, "
                 "p.entry_price, p.status, p.extra FROM predictions p JOIN strategies s ON s.id = p.strategy_id "
                 "JOIN tickers k ON k.id = p.ticker_id WHERE p.legacy_id IS NOT NULL")  # fmt: skip
            for row in c.execute(q):
                t["predictions"].existing[row[1]] = (tuple(row[1:]), row[0])
        if "trades" in kinds:
            q = ("SELECT r.id, r.legacy_id, r.prediction_legacy_id, k.symbol, r.side, r.entry_date, r.entry_price, "
                 "r.shares, r.exit_date, r.exit_price, r.status, r.pnl, r.pnl_computed, r.pnl_mismatch, r.fees, "
                 "r.extra FROM trades r JOIN tickers k ON k.id = r.ticker_id WHERE r.legacy_id IS NOT NULL")  # fmt: skip
            for row in c.execute(q):
                t["trades"].existing[row[1]] = (tuple(row[1:]), row[0])
        if "leaders" in kinds:
            q = (
                "SELECT v.id, v.timeframe, v.date, v.rank, k.symbol, v.volume, v.price, v.extra "
                "FROM volume_leaders v JOIN tickers k ON k.id = v.ticker_id"
            )
            for row in c.execute(q):
                t["leaders"].existing[(row[1], row[2], row[4])] = (tuple(row[1:]), row[0])
        symbols = {pf.meta["symbol"] for pf in self.parsed.files if pf.kind == "prices"}
        ids = [t["tickers"].existing[s][1] for s in symbols if s in t["tickers"].existing]
        if ids:
            q = (
                "SELECT p.id, k.symbol, p.date, p.open, p.high, p.low, p.close, p.volume, p.adj_close "
                "FROM price_history p JOIN tickers k ON k.id = p.ticker_id WHERE p.ticker_id = ?"
            )
            for tid in ids:
                for row in c.execute(q, (tid,)):
                    t["prices"].existing[(row[1], row[2])] = (tuple(row[1:]), row[0])
                    self._existing_price_symbols.add(row[1])

    # -- the run --------------------------------------------------------------------------------

    def run(self, dry_run: bool) -> MigrationReport:
        c = self.conn
        started = now_utc()
        cur = c.execute(
            "INSERT INTO import_batches (kind, source, started_at, status, backup_path, quantdb_version) "
            "VALUES (?, ?, ?, 'committed', ?, ?)",
            (self.kind, self.source, started, self.backup_path, __version__),
        )
        self.batch_id = int(cur.lastrowid)
        self.laps.skip()
        self._load_existing()
        self.laps.lap("load_existing")
        # Earlier committed legacy batches, newest first: a record whose raw original one of
        # them already keeps (same file and position), with the same outcome, is not stored again.
        if self.kind == "legacy":
            self._earlier = [r[0] for r in c.execute(
                "SELECT id FROM import_batches WHERE status = 'committed' AND kind = 'legacy' "
                "AND id <> ? ORDER BY id DESC", (self.batch_id,))]  # fmt: skip
        raw_rows: list[tuple[int, str, str, list[list[Any]] | rc.ParsedFile]] = []
        quarantine: list[tuple[Any, ...]] = []
        counts: dict[str, FileCounts] = {}
        raw_id = _next_id(c, "raw_records")
        done = 0
        order = {
            "tickers": 0,
            "strategies": 1,
            "predictions": 2,
            "trades": 3,
            "leaders": 4,
            "prices": 5,
        }
        files = sorted(self.parsed.files, key=lambda pf: order[pf.kind])
        self._decide_tickers_strategies(files)
        for pf in files:
            tally = dict.fromkeys(OUTCOMES, 0)
            table = self.tables[pf.kind]
            tname = table.name
            outcomes = self._outcomes(pf, table)
            if outcomes is None:  # a clean block: every line a new row, no flag, one run of originals
                raw_rows.append((raw_id, pf.name, tname, pf))
                raw_id += len(pf)
                counts[pf.name] = FileCounts(len(pf), len(pf), 0, 0, 0)
                done += len(pf)
                if self.progress is not None:
                    self.progress(done)
                continue
            positions = pf.meta.get("positions") or range(len(pf))
            flag_json: list[str | None] = [None] * len(pf)
            for i, flags in enumerate(pf.flags):
                if flags:
                    flag_json[i] = orjson.dumps(flags).decode()
                    for fl in flags:
                        self.flag_counts[fl] = self.flag_counts.get(fl, 0) + 1
            for o in outcomes:
                tally[o[0]] += 1
            b, name, keys, raws = self.batch_id, pf.name, pf.keys, pf.raws
            kept = self._stored_originals(name, len(pf)) if self._earlier else {}
            recs: list[list[Any]]
            ids: dict[int, int] | range
            if kept:
                recs, ids = [], {}
                for i, (pos, o) in enumerate(zip(positions, outcomes, strict=True)):
                    got = kept.get(pos)
                    if got is not None and _same_original(got, keys[i], raws[i], flag_json[i], o, tname):
                        self.reused[got[0]] = self.reused.get(got[0], 0) + 1  # kept once, in that batch
                        continue
                    ids[i] = raw_id + len(recs)
                    recs.append([pos, keys[i], raws[i], o[0], o[1], flag_json[i]])
            else:  # nothing kept earlier (a first migration): every record is stored, in order
                recs = [[pos, key, raw, o[0], o[1], fj]
                        for pos, key, raw, o, fj in zip(positions, keys, raws, outcomes, flag_json, strict=True)]  # fmt: skip
                ids = range(raw_id, raw_id + len(recs))
            raw_rows.append((raw_id, name, tname, recs))
            quarantine.extend([
                (b, ids[i], name, pos, o[2].field, o[2].rule, o[2].reason)
                for i, (pos, o) in enumerate(zip(positions, outcomes, strict=True)) if o[2] is not None
            ])  # fmt: skip
            raw_id += len(recs)
            counts[pf.name] = FileCounts(len(pf), tally["imported"], tally["duplicate"],
                                         tally["quarantined"], tally["already_present"])  # fmt: skip
            done += len(pf)
            if self.progress is not None:
                self.progress(done)
        self.laps.lap("decide")
        with indexes_deferred(c, self._bulk_tables(sum(len(r[3]) for r in raw_rows))):
            self.laps.lap("indexes")
            created = self._write()
            self.laps.lap("insert_typed")
            for first_id, name, tname, stored in raw_rows:
                if isinstance(stored, rc.ParsedFile):  # a block: positions 0.., targets from its first id
                    first = self.tables["prices"].block_first[stored.name]
                    insert_raw_run(c, self.batch_id, first_id, name, tname, stored.meta["symbol"], "imported",
                                   first, stored.raws)  # fmt: skip
                else:
                    insert_raw(c, self.batch_id, first_id, name, tname, stored)
            self.laps.lap("insert_raw")
        self.laps.lap("indexes")
        c.executemany(
            "INSERT INTO quarantine (batch_id, raw_record_id, file, position, field, rule, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            quarantine,
        )
        if quarantine:
            self._supersede_quarantine()
        c.executemany(
            "INSERT INTO batch_changes (batch_id, table_name, row_id, before_json) VALUES (?, ?, ?, ?)",
            [(self.batch_id, t, rid, before) for t, rid, before in self.changes],
        )
        totals = sum(counts.values(), FileCounts())
        report = MigrationReport(
            None if dry_run else self.batch_id, self.source, dry_run, self.backup_path, counts, totals,
            dict(sorted(self.flag_counts.items())), created, tuple(self.parsed.notices),
        )  # fmt: skip
        meta = {
            pf.name: {k: v for k, v in pf.meta.items() if k != "positions"}
            for pf in self.parsed.files
            if pf.meta and pf.kind != "prices"
        }
        meta.update(
            {
                pf.name: {"header": pf.meta["header"]}
                for pf in self.parsed.files
                if pf.kind == "prices"
            }
        )
        doc = report.to_dict() | {"file_meta": meta, RAW_REUSED: {str(k): v for k, v in sorted(self.reused.items())}}
        c.execute(
            "UPDATE import_batches SET finished_at = ?, report_json = ? WHERE id = ?",
            (now_utc(), orjson.dumps(doc).decode(), self.batch_id),
        )
        self.laps.lap("quarantine_report")
        return report

    def _bulk_tables(self, n_raw: int) -> list[str]:
        """The tables about to get at least as many new rows as they hold: their secondary
        indexes are built after the load (`indexes_deferred`), once, rather than row by row."""
        adding = {"raw_records": n_raw, "price_history": self.tables["prices"].n_new,
                  "predictions": self.tables["predictions"].n_new, "trades": self.tables["trades"].n_new}  # fmt: skip
        return [
            name for name, n in adding.items()
            if n > 0 and n >= self.conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        ]  # fmt: skip

    def _stored_originals(self, file: str, n: int) -> dict[int, tuple[Any, ...]]:
        """position -> (batch, raw, key, outcome, target table, target id, flags): the newest row
        kept for each of the first ``n`` positions of ``file`` by the earlier legacy batches
        (the same rows `verify_folder` reads for them)."""
        found: dict[int, tuple[Any, ...]] = {}
        for batch in self._earlier:
            for row in self.conn.execute(
                "SELECT position, raw, record_key, outcome, target_table, target_id, flags "
                "FROM raw_records WHERE batch_id = ? AND file = ? AND position < ?", (batch, file, n)):  # fmt: skip
                if row[0] not in found:
                    found[row[0]] = (batch, *row[1:])
            if len(found) == n:
                break
        return found

    def _supersede_quarantine(self) -> None:
        """An unresolved entry of an earlier batch for the same raw record is superseded by this one.

        So a re-run does not list the same unreadable record twice; the old entry is marked
        resolved, with its before-image kept for rollback.
        """
        old = self.conn.execute(
            "SELECT q.id, q.resolved_at FROM quarantine q JOIN raw_records r ON r.id = q.raw_record_id "
            "JOIN raw_records n ON n.batch_id = ? AND n.outcome = 'quarantined' AND n.file = r.file "
            "AND n.position = r.position AND n.raw = r.raw "
            "WHERE q.resolved_at IS NULL AND q.batch_id <> ?",
            (self.batch_id, self.batch_id),
        ).fetchall()
        for qid, before in old:
            self.changes.append(("quarantine", qid, orjson.dumps({"resolved_at": before}).decode()))
        self.conn.executemany(
            "UPDATE quarantine SET resolved_at = ? WHERE id = ?",
            [(now_utc(), qid) for qid, _ in old],
        )

    # -- decisions ------------------------------------------------------------------------------

    def _decide_tickers_strategies(self, files: list[rc.ParsedFile]) -> None:
        """Referenced tickers and strategies that do not exist yet are created (batch-owned)."""
        self._merged: dict[tuple[str, int], tuple[str, int | None, rc.Problem | None]] = {}
        for pf in files:
            if pf.kind in ("tickers", "strategies"):
                table = self.tables[pf.kind]
                for i, row in enumerate(pf.rows):
                    if row is not None:
                        self._merged[(pf.name, i)] = self._merge(table, row, pf.name, i)
        need_t: set[str] = set()
        need_s: set[str] = set()
        col_t = {"predictions": 6, "trades": 2, "leaders": 3, "prices": 0}
        for pf in files:
            if pf.columns is not None and len(pf):  # every row valid, all of one symbol
                need_t.add(pf.meta["symbol"])
            elif pf.kind in col_t:
                j = col_t[pf.kind]
                need_t.update(r[j] for r in pf.rows if r is not None)
            if pf.kind == "predictions":
                need_s.update(r[5] for r in pf.rows if r is not None)
        for kind, need, width in (("tickers", need_t, 6), ("strategies", need_s, 5)):
            table = self.tables[kind]
            for key in sorted(need):
                if key not in table.claimed and key not in table.existing:
                    row = (key,) + (None,) * (width - 1)
                    table.claimed[key] = (row, table.next_id, "(referenced)", -1)
                    table.new.append((table.next_id, row))
                    table.next_id += 1

    def _merge(
        self, table: _Table, row: tuple[Any, ...], file: str, pos: int
    ) -> tuple[str, int | None, rc.Problem | None]:
        key = row[0]
        got = table.claimed.get(key)
        old = table.existing.get(key)
        if got is None and old is not None and old[0] != row:
            fills = all(o is None or o == n for o, n in zip(old[0], row, strict=True))
            if fills:  # the database row has NULLs this record fills: update, keep the before-image
                cols = TICKER_COLS if table.name == "tickers" else STRATEGY_COLS
                before = {
                    c: o for c, o, n in zip(cols[1:], old[0][1:], row[1:], strict=True) if o != n
                }
                self.changes.append((table.name, old[1], orjson.dumps(before).decode()))
                self._updates.setdefault(table.name, []).append((old[1], row))
                table.claimed[key] = (row, old[1], file, pos)
                return "imported", old[1], None
        outcome, rid, why = table.decide(key, row, file, pos)
        problem = rc.Problem(KEY_FIELD["tickers" if table.name == "tickers" else "strategies"],
                             "conflicting_duplicate", why) if why else None  # fmt: skip
        return outcome, rid, problem

    def _outcomes(
        self, pf: rc.ParsedFile, table: _Table
    ) -> list[tuple[str, int | None, rc.Problem | None]] | None:
        """Each record's (outcome, target id, problem); None for a price file taken whole as a
        block of new rows (see `_price_outcomes`)."""
        out: list[tuple[str, int | None, rc.Problem | None]] = []
        if pf.kind in ("tickers", "strategies"):
            for i, prob in enumerate(pf.problems):
                out.append(
                    ("quarantined", None, prob) if prob is not None else self._merged[(pf.name, i)]
                )
            return out
        if pf.kind == "prices" and self._fresh_prices(pf, table):
            return self._price_outcomes(pf, table)
        decide = table.decide
        kind = pf.kind
        kfield = KEY_FIELD[kind]
        preds = self.tables["predictions"]
        for i, row in enumerate(pf.rows):
            prob = pf.problems[i]
            if prob is not None:
                out.append(("quarantined", None, prob))
                continue
            assert row is not None
            if kind == "prices":
                key: Any = (row[0], row[1])
            elif kind == "leaders":
                key = (row[0], row[1], row[3])
            else:
                key = row[0]
            outcome, rid, why = decide(key, row, pf.name, i)
            if why:
                out.append(("quarantined", None, rc.Problem(kfield, "conflicting_duplicate", why)))
                continue
            if (
                kind == "trades"
                and row[1] is not None
                and row[1] not in preds.claimed
                and row[1] not in preds.existing
            ):
                flags = pf.flags[i] or []
                if "missing_prediction" not in flags:
                    flags.append("missing_prediction")
                pf.flags[i] = flags
            out.append((outcome, rid, None))
        return out

    def _fresh_prices(self, pf: rc.ParsedFile, table: _Table) -> bool:
        """True when no other source holds prices for this file's symbol (the common case)."""
        symbol = pf.meta["symbol"]
        if symbol in self._price_symbols or symbol in self._existing_price_symbols:
            return False
        self._price_symbols.add(symbol)
        return True

    def _price_outcomes(
        self, pf: rc.ParsedFile, table: _Table
    ) -> list[tuple[str, int | None, rc.Problem | None]] | None:
        """`_outcomes` for a price file whose symbol has no rows elsewhere: dedupe by date only.

        None when the file is a block (`_Table.blocks`): read column-wise with no flag, no date
        repeated, its records at positions 0, 1, ... (a whole file, not quarantined lines taken
        again), with no earlier batch keeping originals to compare with, at least `MIN_RUN`
        lines (its raw originals one run): each line is a new row, ids in line order, and the
        rows are bound from its columns, with no per-line work here."""
        rid = table.next_id
        new = table.new
        m = len(pf.rows)
        whole = pf.columns is not None and m >= MIN_RUN and not self._earlier and "positions" not in pf.meta
        if whole and len(set(cast("tuple[list[Any], ...]", pf.columns)[0])) == m:
            table.blocks.append((len(new), rid, pf))
            table.block_first[pf.name] = rid
            table.next_id = rid + m
            return None
        if pf.problems.count(None) == m:  # every line read: when no date repeats, all are new
            rows = cast("list[tuple[Any, ...]]", pf.rows)
            if len(set(map(itemgetter(1), rows))) == m:
                new.extend(zip(range(rid, rid + m), rows, strict=True))
                table.next_id = rid + m
                return [("imported", i, None) for i in range(rid, rid + m)]
        out: list[tuple[str, int | None, rc.Problem | None]] = []
        seen: dict[str, tuple[tuple[Any, ...], int, int]] = {}
        for i, row in enumerate(pf.rows):
            prob = pf.problems[i]
            if prob is not None:
                out.append(("quarantined", None, prob))
                continue
            assert row is not None
            got = seen.get(row[1])
            if got is None:
                seen[row[1]] = (row, rid, i)
                new.append((rid, row))
                out.append(("imported", rid, None))
                rid += 1
            elif got[0] == row:
                out.append(("duplicate", got[1], None))
            else:
                why = f"{(row[0], row[1])!r} is already used by a different record ({pf.name} position {got[2]})"
                out.append(("quarantined", None, rc.Problem("date", "conflicting_duplicate", why)))
        table.next_id = rid
        return out

    # -- writing --------------------------------------------------------------------------------

    def _write(self) -> dict[str, int]:
        c = self.conn
        b = self.batch_id
        t = self.tables
        for name, rows in self._updates.items():
            cols = TICKER_COLS if name == "tickers" else STRATEGY_COLS
            sets = ", ".join(f"{col} = ?" for col in cols[1:])
            c.executemany(
                f"UPDATE {name} SET {sets} WHERE id = ?", [(*r[1:], rid) for rid, r in rows]
            )
        insert_rows(c, "strategies", ("id", *STRATEGY_COLS, "batch_id"),
                    [(rid, *row, b) for rid, row in t["strategies"].new])  # fmt: skip
        insert_rows(c, "tickers", ("id", *TICKER_COLS, "batch_id"),
                    [(rid, *row, b) for rid, row in t["tickers"].new])  # fmt: skip
        tid = {k: v[1] for k, v in t["tickers"].existing.items()} | {
            k: v[1] for k, v in t["tickers"].claimed.items()
        }
        sid = {k: v[1] for k, v in t["strategies"].existing.items()} | {
            k: v[1] for k, v in t["strategies"].claimed.items()
        }
        insert_rows(c, "predictions", PREDICTION_INSERT,
                    [(rid, *r[:5], sid[r[5]], tid[r[6]], *r[7:], b) for rid, r in t["predictions"].new])  # fmt: skip
        pid = {k: v[1] for k, v in t["predictions"].existing.items()} | {
            k: v[1] for k, v in t["predictions"].claimed.items()
        }
        insert_rows(c, "trades", TRADE_INSERT,
                    [(rid, r[0], pid.get(r[1]), r[1], tid[r[2]], *r[3:], b) for rid, r in t["trades"].new])  # fmt: skip
        insert_rows(c, "volume_leaders", LEADER_INSERT,
                    [(rid, r[0], r[1], r[2], tid[r[3]], r[4], r[5], r[6], b) for rid, r in t["leaders"].new])  # fmt: skip
        prices = t["prices"]
        pieces: list[Iterable[tuple[Any, ...]]] = []
        start = 0
        for at, first, pf in prices.blocks:  # in id order, as the rows were decided
            pieces.append([(rid, tid[r[0]], *r[1:], b) for rid, r in prices.new[start:at]])
            pieces.append(zip(range(first, first + len(pf)), repeat(tid[pf.meta["symbol"]]),
                              *cast("tuple[list[Any], ...]", pf.columns), repeat(b)))  # fmt: skip
            start = at
        pieces.append([(rid, tid[r[0]], *r[1:], b) for rid, r in prices.new[start:]])
        insert_rows(c, "price_history", PRICE_INSERT, chain.from_iterable(pieces))
        return {tb.name: tb.n_new for tb in t.values()}


TICKER_COLS = ("symbol", "name", "sector", "market_cap", "market_cap_raw", "extra")
STRATEGY_COLS = ("name", "description", "min_hold_days", "max_hold_days", "extra")
#: The columns `_Importer._write` inserts, in the order of its rows.
PREDICTION_INSERT = ("id", "legacy_id", "date", "timestamp", "timestamp_utc", "timestamp_kind", "strategy_id",
                     "ticker_id", "position", "confidence", "target", "stop_loss", "timeframe", "timeframe_days",
                     "entry_price", "status", "extra", "batch_id")  # fmt: skip
TRADE_INSERT = ("id", "legacy_id", "prediction_id", "prediction_legacy_id", "ticker_id", "side", "entry_date",
                "entry_price", "shares", "exit_date", "exit_price", "status", "pnl", "pnl_computed", "pnl_mismatch",
                "fees", "extra", "batch_id")  # fmt: skip
LEADER_INSERT = ("id", "timeframe", "date", "rank", "ticker_id", "volume", "price", "extra", "batch_id")  # fmt: skip
PRICE_INSERT = ("id", "ticker_id", "date", "open", "high", "low", "close", "volume", "adj_close", "batch_id")  # fmt: skip
