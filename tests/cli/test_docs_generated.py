"""docs/schema.md and docs/cli.md are generated (python -m quantdb.docgen) and must not drift."""

from __future__ import annotations

from pathlib import Path

from quantdb.docgen import cli_markdown, real_schema, schema_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_schema_doc_is_current() -> None:
    assert (DOCS / "schema.md").read_text(encoding="utf-8") == schema_markdown(), (
        "docs/schema.md is stale: run `python -m quantdb.docgen`"
    )


def test_every_table_and_column_is_explained() -> None:
    text = (DOCS / "schema.md").read_text(encoding="utf-8")
    sections = {part.split("`", 1)[0]: part for part in text.split("\n## `")[1:]}
    for table, columns in real_schema().items():
        assert table in sections, f"table {table} is missing from docs/schema.md"
        rows = sections[table].splitlines()
        for name, *_ in columns:
            line = next(row for row in rows if row.startswith(f"| `{name}` |"))
            assert line.rstrip().split("|")[-2].strip(), f"{table}.{name} has no explanation in sql/"


def test_cli_doc_is_current() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == cli_markdown(), (
        "docs/cli.md is stale: run `python -m quantdb.docgen`"
    )
