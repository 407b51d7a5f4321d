"""Benchmarks: they print figures (ratios against a bare baseline run on the same server, RSS, counts);
the test suite runs them small to prove they work, and never asserts a time."""
