"""`python -m ruche ...` is the `ruche` command."""

from ruche.cli import main

main()
