"""What a case's new history entries add to the collection dashboard (pure: the workflow emits them).

Counted from the entries as the case writes them to its ledger, each entry exactly once (the ledger's own
watermark), so a case continued as new or replayed counts nothing twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from relance.domain.case_records import HistoryEntry

CASES_OPENED = "relance_cases_opened"
CASES_CLOSED = "relance_cases_closed"
STEPS_FAILED = "relance_steps_failed"
AMOUNT_COLLECTED = "relance_amount_collected_cents"  # hundredths of the currency: counters take integers


@dataclass(frozen=True)
class Measure:
    name: str
    value: int
    attributes: dict[str, str] = field(default_factory=dict)


def measures(entries: Sequence[HistoryEntry], currency: str) -> list[Measure]:
    found: list[Measure] = []
    for entry in entries:
        if entry.event == "policy_resolved":
            found.append(Measure(CASES_OPENED, 1))
        elif entry.event == "case_closed":
            found.append(Measure(CASES_CLOSED, 1, {"outcome": str(entry.data.get("outcome", "closed"))}))
        elif entry.event == "step_failed":
            found.append(Measure(STEPS_FAILED, 1, {"step": str(entry.data.get("step_id", "?"))}))
        elif entry.event == "payment_received":
            try:
                cents = int(Decimal(str(entry.data["amount"])) * 100)
            except (KeyError, InvalidOperation):
                continue
            if cents > 0:
                found.append(Measure(AMOUNT_COLLECTED, cents, {"currency": currency}))
    return found
