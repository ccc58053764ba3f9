"""Read a whole legacy folder into `ParsedFile` objects, or fail before anything is written.

Every file is parsed first; a file that cannot be parsed at all raises
:class:`~quantdb.errors.FileFormatError` (the migrate service then writes nothing).
"""

from __future__ import annotations

import pickle
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdb._laps import Laps
from quantdb._spawn import spawn_python
from quantdb.errors import FileFormatError
from quantdb.ingest import reader as rd
from quantdb.ingest import records as rc


@dataclass
class ParsedFolder:
    """The parsed files of a folder, in import order, and what was ignored (with a notice)."""

    root: Path
    files: list[rc.ParsedFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def notices(self) -> list[str]:
        out = [f"{name}: not a legacy file, ignored" for name in self.ignored]
        out += [f"{name}: not in the folder (optional), skipped" for name in self.missing]
        return out

    @property
    def n_records(self) -> int:
        return sum(len(f) for f in self.files)


#: JSON files whose records each cost tens of microseconds to normalize: when they are big and
#: there are price files to read meanwhile, a second interpreter reads them (`_Aside`). The
#: leader files are read here, after them: with the price columns read in bulk, this
#: interpreter finished 0.34-0.50 s before the second one at scale 1.0 with them aside.
ASIDE_FILES = (rd.PREDICTIONS, rd.TRADES)
#: Below this many bytes of those files, starting a second interpreter costs more than it saves.
ASIDE_MIN_BYTES = 8_000_000
#: From this many bytes of price files on (about 300,000 lines), their long columns of plain
#: decimals are read by Polars (`records.read_prices`' ``bulk``): it saves more than its import.
BULK_PRICE_BYTES = 16_000_000


def parse_folder(
    root: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
    aside: bool = True,
) -> ParsedFolder:
    """Parse every legacy file of ``root`` (tickers and strategies first, prices last).

    ``timings`` (optional) gets the seconds spent reading and parsing the files (``parse``)
    and turning their records into rows or problems (``normalize``); see `quantdb._laps`.
    With ``aside`` (the default), big prediction and trade files are read by a second
    interpreter while this one reads the leader and price files (both cores); the result is the same
    `ParsedFolder`, and if that interpreter cannot be started or fails, the files are read
    here. The first file that cannot be parsed, in folder order, raises `FileFormatError`.
    """
    laps = Laps(timings)
    found = rd.scan_folder(root)
    out = ParsedFolder(Path(root), ignored=list(found.ignored))
    done = 0

    def tick(pf: rc.ParsedFile) -> None:
        nonlocal done
        done += len(pf)
        if progress is not None:
            progress(done)

    given = [(name, found.json_files[name]) for name in ASIDE_FILES if name in found.json_files]
    size = sum(_size(path) for _, path in given)
    child = _Aside.start(given) if aside and found.price_files and size >= ASIDE_MIN_BYTES else None
    parsed: dict[str, rc.ParsedFile] = {}
    try:
        for name in rd.KNOWN_JSON:
            path = found.json_files.get(name)
            if path is None:
                out.missing.append(name)
            elif child is None or name not in child.names:
                try:
                    parsed[name] = parse_json_file(path, name, laps)
                except FileFormatError:
                    if child is not None and _after_aside(name, child.names):
                        child.collect(laps)  # an error of a file read aside comes first, in folder order
                    raise
                tick(parsed[name])
        prices: list[rc.ParsedFile] = []
        bulk = sum(_size(path) for _, path in found.price_files) >= BULK_PRICE_BYTES
        try:
            for rel, path in found.price_files:
                price_file = rd.load_price_csv(path, rel)
                laps.lap("parse")
                prices.append(rc.read_prices(price_file, bulk=bulk))
                tick(prices[-1])
                laps.lap("normalize")
        except FileFormatError:
            if child is not None:  # a JSON file's error comes first, in folder order
                child.collect(laps)
            raise
        if child is not None:
            for pf in child.collect(laps):
                parsed[pf.name] = pf
                tick(pf)
    finally:
        if child is not None:
            child.stop()
    out.files = [parsed[name] for name in rd.KNOWN_JSON if name in parsed] + prices
    return out


def _after_aside(name: str, aside: set[str]) -> bool:
    """Whether the JSON file ``name`` comes after a file read aside, in folder order."""
    order = rd.KNOWN_JSON.index
    return any(order(a) < order(name) for a in aside)


def _size(path: Path) -> int:
    """The file's size in bytes; 0 when it cannot be read (its reader then says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def parse_json_file(path: Path, name: str, laps: Laps | None = None) -> rc.ParsedFile:
    """One legacy JSON file (``name`` one of `reader.KNOWN_JSON`) read into a `ParsedFile`;
    `FileFormatError` names the file's full path."""
    laps = laps or Laps(None)
    loaded = rd.load_json_checked(path)
    laps.lap("parse")
    doc, flags = loaded.value, {"has_nan": loaded.tolerant, "extremes": loaded.extremes}
    try:
        if name == rd.TICKERS:
            pf = rc.read_tickers(doc, name, **flags)
        elif name == rd.STRATEGIES:
            pf = rc.read_strategies(doc, name, **flags)
        elif name == rd.PREDICTIONS:
            pf = rc.read_predictions(doc, name, **flags)
        elif name == rd.TRADES:
            pf = rc.read_trades(doc, name, **flags)
        else:
            pf = rc.read_leaders(doc, name, rd.LEADERS[name], **flags)
    except FileFormatError as exc:  # re-raise with the full path
        raise FileFormatError(path, exc.where, exc.reason) from exc
    laps.lap("normalize")
    return pf


def parse_aside(args: list[str]) -> list[tuple[Any, ...]]:
    """The second interpreter's work: ``args`` is name, path, name, path, ...; each file read
    by `parse_json_file`, in order, as ``("ok", ParsedFile)``, up to the first that cannot be
    parsed, as ``("error", path, where, reason)``."""
    out: list[tuple[Any, ...]] = []
    for name, path in zip(args[::2], args[1::2], strict=True):
        try:
            out.append(("ok", parse_json_file(Path(path), name)))
        except FileFormatError as exc:
            out.append(("error", str(exc.path), exc.where, exc.reason))
            break
    return out


#: The second interpreter's program: argv[1] is the folder that holds this very ``quantdb``
#: package (so the child runs the parent's code, whatever else is installed), then the files.
_ASIDE_CODE = (
    "import pickle, sys; sys.path.insert(0, sys.argv[1]); from quantdb.ingest.folder import parse_aside; "
    "sys.stdout.buffer.write(pickle.dumps(parse_aside(sys.argv[2:]), protocol=pickle.HIGHEST_PROTOCOL))"
)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class _Aside:
    """JSON files read by a second interpreter (``python -c``, the same ``quantdb``), whose
    `ParsedFile` objects come back pickled on its standard output. Not a fork (the parent may
    hold threads and open databases) and not `multiprocessing` (it would re-run ``python -m
    quantdb``'s main module in the child)."""

    def __init__(self, given: list[tuple[str, Path]], proc: subprocess.Popen[bytes]) -> None:
        self.given = given
        self.names = {name for name, _ in given}
        self.proc = proc

    @classmethod
    def start(cls, given: list[tuple[str, Path]]) -> _Aside | None:
        """Start reading ``given`` (name, path) aside; None when no process can be made."""
        args = [str(x) for name, path in given for x in (name, path)]
        proc = spawn_python(_ASIDE_CODE, _PACKAGE_ROOT, *args, stdout=subprocess.PIPE)
        return None if proc is None else cls(given, proc)

    def collect(self, laps: Laps) -> list[rc.ParsedFile]:
        """The files read aside, in the order given; the first `FileFormatError` raised here.
        If the second interpreter failed in any other way, the files are read here instead."""
        assert self.proc.stdout is not None
        try:
            data = self.proc.stdout.read()
            results = pickle.loads(data) if self.proc.wait() == 0 else None
        except Exception:  # noqa: BLE001 - a broken child only costs the time to read them here
            results = None
        laps.lap("aside")
        complete = results is not None and (
            len(results) == len(self.given) or (bool(results) and results[-1][0] == "error")
        )
        if not complete:
            return [parse_json_file(path, name, laps) for name, path in self.given]
        assert results is not None
        files = []
        for result in results:
            if result[0] == "error":
                raise FileFormatError(result[1], result[2], result[3])
            files.append(result[1])
        return files

    def stop(self) -> None:
        """End the second interpreter if it still runs (the parent failed or is done)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
