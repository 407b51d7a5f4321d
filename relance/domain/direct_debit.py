"""SEPA direct debits: a mandate as a case carries it, and what a returned direct debit leads to.

French practice re-presents a direct debit returned for want of funds once, "dans le mois en cours": the
policy's `direct_debit` rules say after how many days, and for which return reasons. A reason that says the
debit can never succeed (account closed, no mandate, the debtor asked for a refund…) resumes the ordinary
chase and asks the debtor for another means of payment. Pure: the case applies these, an activity writes the
pain.008 file, the bank import supplies the mandate.
"""

import hashlib
from datetime import date, timedelta
from decimal import Decimal

from pydantic import Field

from relance.domain.invoice import Strict
from relance.domain.limits import Name

# ISO 20022 / EPC return reasons that leave the mandate and the account good: worth one more try.
REPRESENTABLE = ("AM04", "MS02", "MS03", "SL01")
# Reasons that say a re-presentation would fail or is forbidden (for the record and the README).
FINAL = {
    "AC01": "account identifier incorrect",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AG01": "direct debit forbidden on this account",
    "AG02": "invalid operation code",
    "BE05": "creditor identifier unknown",
    "MD01": "no mandate",
    "MD02": "mandate data missing or wrong",
    "MD06": "refund requested by the debtor",
    "MD07": "debtor deceased",
    "RR04": "regulatory reason",
}
UMR = r"^[A-Za-z0-9+?/:().,' -]{1,35}$"  # the SEPA character set, 35 at most


class DebitMandate(Strict):
    """The mandate a direct debit was drawn on, as the ledger keeps it for the customer."""

    umr: str = Field(pattern=UMR, description="unique mandate reference (RUM)")
    signed_on: date
    iban: Name
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
    debtor_name: Name


class DirectDebitRules(Strict):
    represent_after_days: int | None = Field(
        default=5, ge=1, le=20, description="days after the return to present the debit again; None: never"
    )
    represent_reasons: list[str] = Field(default_factory=lambda: list(REPRESENTABLE))
    settle_days: int = Field(default=5, ge=1, le=30, description="days the chase waits for the new debit")
    charge_return_fee: bool = Field(default=False, description="the contract lets us charge the bank's return fee")
    other_means_template: str = Field(default="direct_debit_other_means", pattern=r"^[a-z0-9][a-z0-9_-]*$")


class Representation(Strict):
    """A returned direct debit presented again: when, for what, on which mandate, and where it stands."""

    reference: str  # the payment that came back
    amount: Decimal
    reason: str
    mandate: DebitMandate
    on: date  # the day the new debit is to be collected
    sent_on: date | None = None
    end_to_end_id: str | None = None


LEAD_DAYS = 2  # a direct debit file reaches the bank this many days before its collection date


def represent_on(
    rules: DirectDebitRules | None, reason: str, returned_on: date, today: date
) -> tuple[date | None, str]:
    """The day to present a returned debit again, or None with why not (the chase resumes then). A return
    learned late is presented no earlier than the bank can still collect it."""
    if rules is None or rules.represent_after_days is None:
        return None, "the policy does not present returned direct debits again"
    if reason not in rules.represent_reasons:
        meaning = FINAL.get(reason, "a reason the policy does not present again")
        return None, f"{reason}: {meaning}"
    day = max(returned_on + timedelta(days=rules.represent_after_days), today + timedelta(days=LEAD_DAYS))
    if (day.year, day.month) != (returned_on.year, returned_on.month):
        return None, f"{day} would be past the month of the return ({returned_on:%m/%Y})"
    return day, f"{reason}: presented again on {day}"


def end_to_end_id(invoice_id: str, reference: str) -> str:
    """The id the new debit carries (35 characters at most), by which its credit or return is known."""
    digest = hashlib.sha256(f"{invoice_id}\x1f{reference}".encode()).hexdigest()[:10].upper()
    return f"RP-{invoice_id[:20]}-{digest}"
