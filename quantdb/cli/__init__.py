"""The `quantdb` command line."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `quantdb` console script."""
    from quantdb.cli.app import run

    run()
