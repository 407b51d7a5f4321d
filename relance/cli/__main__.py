"""`python -m relance.cli` runs the command line, like the `relance` script."""

from relance.cli.main import main

main()
