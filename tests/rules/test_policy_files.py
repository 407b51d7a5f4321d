"""The policy files are parsed once, and again as soon as one changes (worker and API alike)."""

import os
import shutil
from pathlib import Path

import pytest

from relance.domain.policy import PolicyError
from relance.policy_files import PolicyFiles
from relance.settings import Settings
from tests.builders import ROOT


def test_the_policies_are_read_once_and_again_when_a_file_changes(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    files = PolicyFiles(folder, Settings().template_dir)
    first = files.policies()
    assert files.policies() is first  # nothing changed: not read again
    standard = folder / "b2b-standard.yaml"
    text = standard.read_text(encoding="utf-8")
    standard.write_text(text.replace("offset_days: 10,", "offset_days: 11,", 1), encoding="utf-8")
    os.utime(standard, ns=(1, 1))  # a distinct stamp even within the file system's clock tick
    edited = files.policies()
    assert edited is not first
    assert [s.offset_days for s in edited["b2b-standard"].steps if s.id == "reminder-2"] == [11]
    (folder / "broken.yaml").write_text("name: [", encoding="utf-8")
    with pytest.raises(PolicyError):
        files.policies()
    (folder / "broken.yaml").unlink()
    assert files.policies()["b2b-standard"] == edited["b2b-standard"]
