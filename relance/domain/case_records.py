"""What a case keeps of its past: history entries, payments and steps (plain records, shared by the case's
rules in relance.domain.case and relance.domain.case_legal)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from relance.domain.settlement import OfferState


class HistoryEntry(BaseModel):
    at: datetime
    event: str
    detail: str
    by: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class PaymentRecord(BaseModel):
    amount: Decimal
    paid_on: date
    reference: str
    recorded_at: datetime
    # what had been done when the money came: for "recovered per stage and per channel"
    stage: str | None = None
    channel: str | None = None


class StepRecord(BaseModel):
    step_id: str
    at: datetime
    status: Literal["done", "skipped", "failed"]
    detail: str
    channel: str | None = None
    provider_id: str | None = None


class DebtorNotice(BaseModel):
    """A message that tells the debtor where the case stands (not a demand): a dispute's outcome, the terms
    of a settlement offer."""

    key: str  # the step id of the message: at most once per case and key
    template: str
    credited: Decimal = Decimal(0)
    any_stage: bool = False  # also when the case just closed (nothing is left to pay)
    offer: OfferState | None = None
    channel: Literal["email", "phone"] = "email"  # phone: a task for a person (a relationship follow-up)
    assignee: str | None = None
