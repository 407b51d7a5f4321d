"""The map for newcomers stays true: every patch in the workflows is in ARCHITECTURE.md's retirement table."""

import re

from tests.builders import ROOT
from workflows.patches import EVER_IMPLIED, GENERATIONS


def test_every_patch_in_the_code_has_a_retirement_line():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "workflows").glob("*.py"))
    # a patch is asked through workflows/patches.py's `patched` (or Temporal's own calls, when retiring one)
    markers = {marker for marker, _implied in GENERATIONS}
    in_code = set(re.findall(r'(?:workflow\.)?(?:patched|deprecate_patch)\("([^"]+)"\)', code)) | markers
    table = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z-]+-v[0-9]+)` \|", table, flags=re.MULTILINE))
    assert in_code - markers, "no patch found: the pattern above no longer matches the code"
    assert in_code == listed
    assert in_code >= EVER_IMPLIED, "a generation implies a patch no longer in the code"


def test_every_file_the_map_names_exists():
    table = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(
        re.findall(r"`((?:relance|activities|workflows|starter|tests|policies)/[\w/*.]+\.(?:py|yaml|md))", table)
    )
    missing = sorted(path for path in named if "*" not in path and not (ROOT / path).exists())
    assert named and missing == []
