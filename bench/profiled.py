"""`relance worker` under cProfile, for `python -m bench.burst --profile FILE`.

The statistics are written to FILE when the process gets SIGUSR1 (the benchmark sends it before it stops the
worker, whose shutdown may outlast the benchmark's patience) and again at exit. Every Python thread is profiled:
the main thread (the event loop, with async activities, payload encoding and the SDK's visits of each payload),
the SDK's workflow threads (workflow code, in the sandbox) and the activity threads (ledger writes); each
thread gets a profiler of its own when it starts, and FILE holds their sum. Each counts its thread's CPU time,
not the wall clock: a thread waiting on a lock, a socket or a queue costs nothing, which is what the worker's CPU
per case is made of. The Temporal core's Rust threads are not seen. Read the file with `python -m pstats FILE`
(then `sort tottime`, `stats 30`).
"""

import cProfile
import marshal
import pstats
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from relance.cli.main import main

PROFILES: list[cProfile.Profile] = []  # one per thread, the main thread's first
GUARD = threading.Lock()


def _profile_this_thread(_frame: FrameType, _event: str, _arg: Any) -> None:
    """Installed by threading.setprofile: the first event of a new thread gives it its own profiler."""
    profile = cProfile.Profile(time.thread_time)
    with GUARD:
        PROFILES.append(profile)
    profile.enable()  # replaces this hook for the thread


def dump(path: str) -> None:
    """Every thread's statistics so far, summed into `path` (a profiler is read without stopping its thread)."""
    with GUARD:
        profiles = list(PROFILES)
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for n, profile in enumerate(profiles):
            profile.snapshot_stats()  # what create_stats does, without disable()
            stats = profile.stats
            if not stats:
                continue
            file = Path(scratch) / f"{n}.prof"
            file.write_bytes(marshal.dumps(stats))
            files.append(str(file))
        if files:
            pstats.Stats(*files).dump_stats(path)


def run(path: str) -> None:
    main_profile = cProfile.Profile(time.thread_time)
    PROFILES.append(main_profile)
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: dump(path))
    threading.setprofile(_profile_this_thread)
    sys.argv = ["relance", "worker"]
    main_profile.enable()
    try:
        main()
    finally:
        main_profile.disable()
        dump(path)


if __name__ == "__main__":
    run(sys.argv[1])
