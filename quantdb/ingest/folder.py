"""Read a whole legacy folder into `ParsedFile` objects, or fail before anything is written.

Every file is parsed first; a file that cannot be parsed at all raises
:class:`~quantdb.errors.FileFormatError` (the migrate service then writes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from quantdb._laps import Laps
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


def parse_folder(
    root: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> ParsedFolder:
    """Parse every legacy file of ``root`` (tickers and strategies first, prices last).

    ``timings`` (optional) gets the seconds spent reading and parsing the files (``parse``)
    and turning their records into rows or problems (``normalize``); see `quantdb._laps`.
    """
    laps = Laps(timings)
    found = rd.scan_folder(root)
    out = ParsedFolder(Path(root), ignored=list(found.ignored))
    done = 0

    def tick(pf: rc.ParsedFile) -> None:
        nonlocal done
        out.files.append(pf)
        done += len(pf)
        if progress is not None:
            progress(done)

    for name in rd.KNOWN_JSON:
        path = found.json_files.get(name)
        if path is None:
            out.missing.append(name)
            continue
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
        tick(pf)
        laps.lap("normalize")
    for rel, path in found.price_files:
        price_file = rd.load_price_csv(path, rel)
        laps.lap("parse")
        tick(rc.read_prices(price_file))
        laps.lap("normalize")
    return out
