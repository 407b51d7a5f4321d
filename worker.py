"""Run the Relance worker (same as `relance worker`)."""

import sys

if __name__ == "__main__":
    from relance.cli.main import main

    sys.argv[1:1] = ["worker"]
    main()
