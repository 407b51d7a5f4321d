"""`relance worker` under cProfile, for `python -m bench.burst --profile FILE`.

The statistics are written to FILE when the process gets SIGUSR1 (the benchmark sends it before it stops the
worker, whose shutdown may outlast the benchmark's patience) and again at exit. cProfile sees the main thread
only: the event loop, with activities, payload encoding and the SDK's visits of each payload; workflow code
runs in the SDK's worker threads and the Temporal core in its own Rust threads, which it does not see.
Read the file with `python -m pstats FILE` (then `sort tottime`, `stats 30`).
"""

import cProfile
import signal
import sys
from types import FrameType

from relance.cli.main import main


def run(path: str) -> None:
    profile = cProfile.Profile()

    def dump(_signum: int, _frame: FrameType | None) -> None:
        profile.disable()
        profile.dump_stats(path)
        profile.enable()

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["relance", "worker"]
    profile.enable()
    try:
        main()
    finally:
        profile.disable()
        profile.dump_stats(path)


if __name__ == "__main__":
    run(sys.argv[1])
