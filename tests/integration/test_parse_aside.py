"""`parse_folder` reads big prediction and trade files in a second interpreter while it reads
the leader and price files: the `ParsedFolder` must be the one read in one process (every row,
problem, flag and message), the first unparseable file in folder order must be the one named,
and a second interpreter that dies must only cost time."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdb.errors import FileFormatError
from quantdb.ingest import folder as fo
from quantdb.ingest import reader as rd


def _contents(parsed: fo.ParsedFolder) -> list[str]:
    """Every field of every file (repr: NaN equals NaN, floats exactly), in order."""
    return [repr(pf) for pf in parsed.files] + [repr(parsed.missing), repr(parsed.ignored)]


@pytest.fixture
def aside_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the aside files in a second interpreter whatever their size."""
    monkeypatch.setattr(fo, "ASIDE_MIN_BYTES", 0)


@pytest.mark.usefixtures("aside_always")
def test_read_aside_equals_read_here(generated_dirs: dict[int, tuple[Path, object]], legacy_dir: Path) -> None:
    for folder in [legacy_dir, *(d for d, _ in generated_dirs.values())]:
        ticks: list[int] = []
        timings: dict[str, float] = {}
        aside = fo.parse_folder(folder, progress=ticks.append, timings=timings)
        assert "aside" in timings  # the second interpreter did read them
        here = fo.parse_folder(folder, aside=False)
        assert _contents(aside) == _contents(here)
        assert ticks[-1] == here.n_records
        assert any(pf.problems.count(None) < len(pf) for pf in here.files if pf.name in fo.ASIDE_FILES) or (
            folder == legacy_dir
        )  # the generated folders' mess is in those files


def _same_error_both_ways(folder: Path) -> str:
    """The message of the error `parse_folder` raises, the same with and without the aside read."""
    with pytest.raises(FileFormatError) as aside:
        fo.parse_folder(folder)
    with pytest.raises(FileFormatError) as here:
        fo.parse_folder(folder, aside=False)
    assert str(aside.value) == str(here.value)
    return str(aside.value)


def _break(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.mark.usefixtures("aside_always")
def test_the_first_bad_file_in_folder_order_is_named(legacy_dir: Path) -> None:
    prices = sorted((legacy_dir / rd.PRICE_DIR).glob("*.csv"))
    _break(prices[-1], "")  # an empty price file (read here, after the aside files)
    _break(legacy_dir / rd.PREDICTIONS, '{"predictions": [{"id": 1}')  # truncated (read aside)
    assert str(legacy_dir / rd.PREDICTIONS) in _same_error_both_ways(legacy_dir)

    leaders = legacy_dir / next(iter(rd.LEADERS))
    kept = leaders.read_text(encoding="utf-8")
    _break(leaders, "{")  # a leader file, read here but after the aside files: the aside one first
    assert str(legacy_dir / rd.PREDICTIONS) in _same_error_both_ways(legacy_dir)
    _break(leaders, kept)

    _break(legacy_dir / rd.TICKERS, "[")  # before the aside files: named first
    with pytest.raises(FileFormatError, match="tickers_info.json"):
        fo.parse_folder(legacy_dir)

    (legacy_dir / rd.TICKERS).unlink()
    _break(legacy_dir / rd.PREDICTIONS, '{"predictions": []}')  # now only the price file is bad
    with pytest.raises(FileFormatError) as aside:
        fo.parse_folder(legacy_dir)
    assert prices[-1].name in str(aside.value)


def test_a_second_interpreter_that_dies_only_costs_time(
    legacy_dir: Path, aside_always: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = fo.parse_folder(legacy_dir, aside=False)
    monkeypatch.setattr(fo, "_ASIDE_CODE", "import sys; sys.exit(3)")  # fault injection: the child dies
    assert _contents(fo.parse_folder(legacy_dir)) == _contents(here)
    monkeypatch.setattr(fo, "_ASIDE_CODE", "import sys; sys.stdout.write('not a pickle')")
    assert _contents(fo.parse_folder(legacy_dir)) == _contents(here)
