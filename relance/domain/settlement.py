"""Settlement offers ("remises conditionnelles"): the creditor gives up part of the claim if the debtor pays
an agreed amount by a date. Before the due date the same offer is an early-payment discount.

The case tracks the principal only (interest and the €40 indemnity are computed on the statement of
account), so an offer that waives only interest or the indemnity asks for the whole balance, and one that
waives part of the principal asks for less than the balance; the part given up is recorded as a concession.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel


class Waivable(StrEnum):
    principal = "principal"
    interest = "interest"
    indemnity = "indemnity"


class OfferState(BaseModel):
    number: int
    amount: Decimal  # what the debtor pays to settle
    pay_by: date
    waive: list[Waivable]
    reason: str
    made_at: datetime
    paid_before: Decimal  # total paid when the offer was made: what is paid after it counts


def offer_refusal(amount: Decimal, pay_by: date, waive: list[Waivable], balance: Decimal, today: date) -> str | None:
    """Why these terms cannot be offered on a case with this balance today (None: they can)."""
    if pay_by < today:
        return f"pay_by {pay_by} is in the past (today is {today})"
    if Waivable.principal in waive:
        if amount >= balance:
            return f"amount {amount} waives no principal (the balance is {balance}): remove principal from waive"
    elif amount != balance:
        return (
            f"amount {amount} differs from the balance {balance}: without principal in waive, the debtor pays the "
            "whole balance and only interest or the indemnity is given up"
        )
    return None


def kept(offer: OfferState, total_paid: Decimal) -> bool:
    return total_paid - offer.paid_before >= offer.amount


def describe(offer: OfferState, currency: str) -> str:
    waived = ", ".join(w.value for w in offer.waive)
    return f"settlement offer {offer.number}: {offer.amount} {currency} by {offer.pay_by}, waiving {waived}"
