"""`python -m quantdb`: the same application as the `quantdb` command."""

from quantdb.cli import main

main()
