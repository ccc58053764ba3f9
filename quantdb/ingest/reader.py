"""Load the legacy files: JSON (orjson first, stdlib for ``NaN``) and the Yahoo-style price CSVs.

A file that cannot be parsed at all raises :class:`~quantdb.errors.FileFormatError` naming the
file and where it broke (line, column, byte), before anything is written anywhere. A UTF-8
byte-order mark is accepted; so is Python's non-standard ``NaN`` literal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from quantdb.errors import FileFormatError
from quantdb.universe import symbol_problem

BOM = b"\xef\xbb\xbf"

PREDICTIONS = "predictions_data.json"
TRADES = "trades_data.json"
TICKERS = "tickers_info.json"
STRATEGIES = "strategies_config.json"
LEADERS = {
    "volume_leaders_daily.json": "daily",
    "volume_leaders_weekly.json": "weekly",
    "volume_leaders_monthly.json": "monthly",
}
PRICE_DIR = "price_history"
MANIFEST = "MANIFEST.json"

#: Price CSV header -> canonical column (Yahoo "Adj Close" and snake_case "adj_close" both occur).
PRICE_COLUMNS = {
    "date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "adjclose": "adj_close",
    "volume": "volume",
}
REQUIRED_PRICE_COLUMNS = ("date", "open", "high", "low", "close", "volume")


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 20


def _where(data: bytes, pos: int) -> str:
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return f"line {line} column {col} (byte {pos})"


def load_json(path: str | Path) -> Any:
    """Parse one JSON file; raise `FileFormatError` with the place it broke (see `load_json_ex`)."""
    return load_json_ex(path)[0]


def load_json_ex(path: str | Path) -> tuple[Any, bool]:
    """Parse one JSON file and say whether it needed the ``NaN``-tolerant parser.

    orjson parses standard JSON; a file holding Python's ``NaN`` / ``Infinity`` literals
    (which orjson refuses) is parsed again with the standard library, which accepts them.

    Raises
    ------
    FileFormatError
        The file is empty, truncated, not JSON, or not UTF-8.
    """
    doc = load_json_checked(path)
    return doc.value, doc.tolerant


@dataclass(frozen=True)
class JsonDocument:
    """A parsed legacy JSON file: the value, whether the standard library's tolerant parser
    read it (``NaN`` literals, or something orjson refuses), and whether its text may hold a
    value the database cannot keep (an integer beyond 64 bits, ``1e400``, a lone surrogate,
    nesting clipped by `clip_deep`): only then are its records walked for them."""

    value: Any
    tolerant: bool
    extremes: bool


#: Bytes whose presence (digits read as 0) may mean an extreme value: a 3-digit exponent,
#: an infinity, a surrogate escape. A false alarm only costs a walk over the records.
_EXTREME_MARKS = (b"e000", b"e+000", b"E000", b"E+000", b"Infinity", b"\\ud", b"\\uD")


def load_json_checked(path: str | Path) -> JsonDocument:
    """`load_json_ex`, with the `JsonDocument.extremes` flag (one C pass over the bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:  # missing, a folder, unreadable: one line, not a traceback
        raise FileFormatError(path, "path", f"cannot read it: {exc.strerror or exc}") from None
    data = data.removeprefix(BOM)
    if not data.strip():
        raise FileFormatError(path, "byte 0", "the file is empty; expected a JSON document")
    # orjson reads an integer beyond 64 bits as a float, silently dropping digits: a run of 20
    # digits anywhere (one C pass, no regex) sends the file to the exact parser instead.
    zeroed = data.translate(_DIGITS_AS_ZERO)
    long_digits = _LONG_DIGITS in zeroed
    if not long_digits:
        try:
            return JsonDocument(orjson.loads(data), tolerant=False, extremes=False)
        except orjson.JSONDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, _where(data, exc.start), "not UTF-8 text") from exc
    extremes = long_digits or any(mark in zeroed for mark in _EXTREME_MARKS)
    try:
        try:
            return JsonDocument(json.loads(text), tolerant=True, extremes=extremes)
        except RecursionError:  # legal JSON nested deeper than Python's parser recurses
            return JsonDocument(json.loads(clip_deep(text)), tolerant=True, extremes=True)
    except json.JSONDecodeError as exc:
        raw = text.encode("utf-8")
        where = _where(raw, len(text[: exc.pos].encode("utf-8")))
        reason = f"not valid JSON ({exc.msg})"
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            where = _where(raw, len(raw.rstrip()))
            reason = f"the file ends in the middle of the document, it looks truncated ({exc.msg})"
        raise FileFormatError(path, where, reason) from exc


#: Containers nested deeper than this (the legacy records are 3 or 4 levels deep) are kept as
#: text: `clip_deep` turns each into a string that starts with `TOO_DEEP`, and the record that
#: holds it is quarantined (rule ``too_deep``) with its raw original, never a crash.
MAX_DEPTH = 64
TOO_DEEP = "\x00quantdb:nested deeper than 64 levels:"
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def clip_deep(text: str, max_depth: int = MAX_DEPTH) -> str:
    """``text`` with every container opened below ``max_depth`` levels replaced by a JSON
    string holding its text (prefixed with `TOO_DEEP`), so the standard parser can read the
    rest; strings are skipped whole, so brackets inside them do not count."""
    out: list[str] = []
    depth = 0
    start = -1  # where the clipped container began, or -1
    last = 0
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            continue
        if tok in "[{":
            depth += 1
            if depth == max_depth + 1 and start < 0:
                start = m.start()
        else:
            depth -= 1
            if depth == max_depth and start >= 0:
                out += [text[last:start], json.dumps(TOO_DEEP + text[start : m.end()])]
                last, start = m.end(), -1
    out.append(text[last:])
    return "".join(out)


@dataclass(frozen=True)
class PriceFile:
    """One price CSV: the symbol (``BRK-B.csv`` -> ``BRK.B``), header, and raw data lines."""

    path: Path
    name: str
    symbol: str
    header: str
    columns: tuple[str, ...]
    lines: list[str]


def symbol_from_filename(stem: str) -> str:
    """``brk-b`` -> ``BRK.B``: the legacy system writes ``.`` in a symbol as ``-`` on disk."""
    return stem.strip().upper().replace("-", ".")


def filename_from_symbol(symbol: str) -> str:
    """``BRK.B`` -> ``BRK-B.csv``."""
    return symbol.replace(".", "-") + ".csv"


_SPLIT = re.compile(r"\r\n|\r|\n")
#: The line breaks ``str.splitlines`` knows besides ``\n``, ``\r`` and ``\r\n`` (in ASCII text).
_OTHER_BREAKS = ("\v", "\f", "\x1c", "\x1d", "\x1e")


def _split_lines(text: str) -> list[str]:
    """``text`` cut at ``\r\n``, ``\r`` and ``\n`` only (as `_SPLIT` cuts it).

    ``str.splitlines`` does the same in C when the text holds no other break it knows (ASCII
    text without ``\v``, ``\f``, ``\x1c``-``\x1e``), except that it leaves out the empty
    piece after a final break, which `load_price_csv` drops anyway with the other trailing
    blank lines.
    """
    if text.isascii() and not any(b in text for b in _OTHER_BREAKS):
        return text.splitlines()
    return _SPLIT.split(text)


def load_price_csv(path: str | Path, name: str) -> PriceFile:
    """Read one price CSV: canonical column names and the data lines as written.

    Raises
    ------
    FileFormatError
        Empty file, no usable header, or a column missing.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:  # missing, a folder, unreadable: one line, not a traceback
        raise FileFormatError(path, "path", f"cannot read it: {exc.strerror or exc}") from None
    data = data.removeprefix(BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, _where(data, exc.start), "not UTF-8 text") from exc
    lines = _split_lines(text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise FileFormatError(path, "line 1", "the file is empty; expected a CSV header")
    return price_file_from_lines(path, name, lines[0], lines[1:])


def price_file_from_lines(path: Path, name: str, header: str, lines: list[str]) -> PriceFile:
    """A `PriceFile` from a header line and data lines (checks the header)."""
    cols = []
    for h in header.split(","):
        key = h.strip().strip('"').lower()
        if key not in PRICE_COLUMNS:
            msg = (
                f"unknown column {h.strip()!r}; expected Date,Open,High,Low,Close,Adj Close,Volume"
            )
            raise FileFormatError(path, "line 1", msg)
        cols.append(PRICE_COLUMNS[key])
    missing = [c for c in REQUIRED_PRICE_COLUMNS if c not in cols]
    if missing:
        raise FileFormatError(path, "line 1", f"missing column(s) {missing}")
    symbol = symbol_from_filename(path.stem)
    problem = symbol_problem(symbol)
    if problem is not None:  # one rule for a ticker, whichever door it comes through
        raise FileFormatError(path, "name", f"the ticker taken from the file name: {problem}")
    return PriceFile(path, name, symbol, header, tuple(cols), lines)


@dataclass
class LegacyFolder:
    """What is in a legacy folder: the files quantdb reads, and the ones it ignores."""

    root: Path
    json_files: dict[str, Path] = field(default_factory=dict)  # known name -> path
    price_files: list[tuple[str, Path]] = field(default_factory=list)  # (relative name, path)
    ignored: list[str] = field(default_factory=list)


KNOWN_JSON = (TICKERS, STRATEGIES, PREDICTIONS, TRADES, *LEADERS)


def scan_folder(root: str | Path) -> LegacyFolder:
    """List a legacy folder. Missing optional files are fine; stray files are listed as ignored."""
    root = Path(root)
    if not root.is_dir():
        raise FileFormatError(root, "folder", "no such folder; expected a legacy data folder")
    found = LegacyFolder(root)
    for entry in sorted(root.iterdir()):
        if entry.name in KNOWN_JSON and entry.is_file():
            found.json_files[entry.name] = entry
        elif entry.name == PRICE_DIR and entry.is_dir():
            for csv in sorted(entry.iterdir()):
                rel = f"{PRICE_DIR}/{csv.name}"
                if csv.is_file() and csv.suffix.lower() == ".csv":
                    found.price_files.append((rel, csv))
                else:
                    found.ignored.append(rel)
        elif entry.name != MANIFEST:
            found.ignored.append(entry.name)
    return found
