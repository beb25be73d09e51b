"""`python -m jamsos` runs the CLI."""

from jamsos.cli import main

main()
