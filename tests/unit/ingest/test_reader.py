"""File loading: BOM, NaN, and a clear FileFormatError for each kind of unreadable file."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdb.errors import FileFormatError
from quantdb.ingest import reader as rd


def test_bom_and_nan_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_bytes(b'\xef\xbb\xbf{"x": NaN, "y": [1, 2]}')
    doc, used_fallback = rd.load_json_ex(p)
    assert used_fallback is True
    assert doc["y"] == [1, 2] and doc["x"] != doc["x"]


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        (b"", "byte 0", "empty"),
        (b"   \n", "byte 0", "empty"),
        (b'{"predictions": [{"id": 1,', "line 1", "truncated"),
        (b"hello, world", "line 1 column 1", "not valid JSON"),
        (b'{"a": 1}\n{"b": 2}', "line 2 column 1", "not valid JSON"),
    ],
)
def test_unreadable_json_names_where(
    tmp_path: Path, content: bytes, where: str, reason: str
) -> None:
    p = tmp_path / "predictions_data.json"
    p.write_bytes(content)
    with pytest.raises(FileFormatError) as exc:
        rd.load_json(p)
    assert where in exc.value.where
    assert reason in exc.value.reason
    assert str(p) in str(exc.value)


def test_price_csv_headers_and_symbol(tmp_path: Path) -> None:
    d = tmp_path / "price_history"
    d.mkdir()
    p = d / "BRK-B.csv"
    p.write_text("date,open,high,low,close,adj_close,volume\r\n2015-01-02,1,2,0.5,1.5,1.5,10\r\n")
    pf = rd.load_price_csv(p, "price_history/BRK-B.csv")
    assert pf.symbol == "BRK.B"
    assert pf.columns == ("date", "open", "high", "low", "close", "adj_close", "volume")
    assert pf.lines == ["2015-01-02,1,2,0.5,1.5,1.5,10"]
    assert rd.filename_from_symbol("BRK.B") == "BRK-B.csv"
    bad = d / "X.csv"
    bad.write_text("Date,Open,Shoe\n")
    with pytest.raises(FileFormatError, match="unknown column"):
        rd.load_price_csv(bad, "price_history/X.csv")


def test_scan_folder_ignores_strays(legacy_dir: Path) -> None:
    (legacy_dir / "notes.txt").write_text("hi")
    (legacy_dir / "price_history" / "README").write_text("hi")
    (legacy_dir / "volume_leaders_monthly.json").unlink()
    found = rd.scan_folder(legacy_dir)
    assert found.ignored == ["notes.txt", "price_history/README"]
    assert "volume_leaders_monthly.json" not in found.json_files
    assert len(found.price_files) == 41
