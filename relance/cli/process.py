"""Ending a process that used a Temporal client."""

import os
import sys


def end_process(code: int) -> None:
    """Exit without interpreter teardown once output is flushed.

    The Temporal client's Rust threads can abort CPython's finalization (temporalio/sdk-python#300),
    turning a successful command into a crash report; nothing of ours needs teardown at that point
    (database transactions are committed, files closed).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
