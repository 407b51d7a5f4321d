"""The code base stays ruff-clean, formatted, mypy-clean and within its layers (import-linter contracts in
pyproject.toml): checked with the suite, so CI enforces it."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import ROOT


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy", "."],
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
    ],
    ids=["ruff-check", "ruff-format", "mypy", "import-layers"],
)
def test_static_checks_pass(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
