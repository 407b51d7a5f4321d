"""The rates file (rates/france.yaml): read it whole or not at all, write it whole or not at all.

Writing regenerates the file from the table (one row per line, the explanation as a header), goes through a
temporary file in the same folder and replaces the old file in one rename, after reading the new text back:
a crash or a bug leaves the old table, never half of a new one.
"""

import json
import os
import tempfile
from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError

from relance.domain.penalties import RateTable
from relance.domain.rate_updates import coverage

HEADER = """\
# Interest rates for French late-payment computations (relance/domain/penalties.py). Kept current by
# `relance rates update` (ECB series) and `relance rates set-legal` (arrêtés); `relance rates show` prints the
# table and the first day it does not cover. A period that is not covered is an explicit error, never a zero.
#
# ECB main refinancing operations (MRO) rate: the B2B default penalty rate is the rate in force on
# 1 January (first half-year) or 1 July (second half-year) + 10 points (Code de commerce L441-10 II).
# known_through: the table knows the rate in force up to and including this day.
"""
LEGAL_HEADER = """\
# Taux d'intérêt légal per half-year (Code monétaire et financier L313-2; arrêté published each semester).
# private_creditor: the creditor is a natural person not acting for business; other: every other case
# (a business chasing anyone uses "other").
"""


class RatesFileError(ValueError):
    """The rates file cannot be read or written; the message names the file and the problem."""


def load_rates(path: Path) -> RateTable:
    try:
        return RateTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise RatesFileError(f"rate table {path} unusable: {exc}") from exc


def render(table: RateTable) -> str:
    q = json.dumps  # a JSON string is a YAML double-quoted scalar: accents and quotes survive as they are
    ecb = table.ecb_main_refinancing
    lines = [HEADER, "ecb_main_refinancing:", f"  known_through: {ecb.known_through}"]
    if ecb.fetched_on is not None:
        lines.append(f"  fetched_on: {ecb.fetched_on}")
    if ecb.fetched_from is not None:
        lines.append(f"  fetched_from: {q(ecb.fetched_from, ensure_ascii=False)}")
    lines.append("  changes:")
    for c in ecb.changes:
        lines.append(f'    - {{from: {c.from_}, rate: "{c.rate}", source: {q(c.source, ensure_ascii=False)}}}')
    lines += ["", LEGAL_HEADER + "legal_interest:"]
    for r in table.legal_interest:
        lines.append(
            f'  - {{period: {r.period}, private_creditor: "{r.private_creditor}", other: "{r.other}", '
            f"source: {q(r.source, ensure_ascii=False)}}}"
        )
    return "\n".join(lines) + "\n"


def save_rates(path: Path, table: RateTable) -> None:
    text = render(table)
    if RateTable.model_validate(yaml.safe_load(text)) != table:
        raise RatesFileError(f"the new text of {path} does not read back as the table; nothing was written")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise RatesFileError(f"{path} cannot be written: {exc.strerror}") from exc


def coverage_warning(path: Path, today: date) -> str | None:
    """What a person must add when the table does not cover today's half-year (None when it does)."""
    try:
        table = load_rates(path)
    except RatesFileError as exc:
        return f"{exc}: statements of account and formal notices cannot be computed"
    gap = coverage(table)
    if today < gap.first_uncovered:
        return None
    return (
        f"the rates file {path} does not cover {gap.first_uncovered} onwards: add {' and '.join(gap.missing)}; "
        "until then statements of account and formal notices after that day wait"
    )
