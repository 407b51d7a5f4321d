"""The case input: one unpaid invoice and its debtor, as other systems send it to us."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from relance.money import check_amount, check_currency
from relance.risk import RiskLevel


class Strict(BaseModel):
    """Unknown fields are typos until proven otherwise: reject them with their name."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerKind(StrEnum):
    business = "business"
    consumer = "consumer"


class Language(StrEnum):
    fr = "fr"
    en = "en"


class Address(Strict):
    line1: str = Field(min_length=1)
    line2: str | None = None
    postal_code: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2")


class Customer(Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: CustomerKind
    email: EmailStr
    language: Language = Language.fr
    address: Address
    segment: str | None = None
    phone: str | None = None
    risk: RiskLevel | None = Field(default=None, description="from a scoring system; else computed at policy choice")


class DemoClock(Strict):
    """A case-local clock: how many real seconds one case day lasts, and optionally where case time starts.

    Recorded in the case at start, so changing it never affects running cases. Production cases have none.
    """

    seconds_per_day: float = Field(default=86400.0, gt=0)
    starts_at: datetime | None = None

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("starts_at must include a time zone offset")
        return value


class CaseInput(Strict):
    invoice_id: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/]+$")
    customer: Customer
    amount: Decimal = Field(description="amount due, tax included")
    currency: str = "EUR"
    issue_date: date
    due_date: date
    policy: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    clock: DemoClock | None = None
    # the late-payment rate of the terms of sale, annual %; none: the legal default (L441-10)
    penalty_rate: Decimal | None = Field(default=None, ge=0, le=100)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @model_validator(mode="after")
    def _consistent(self) -> "CaseInput":
        check_amount(self.amount, self.currency)
        if self.due_date < self.issue_date:
            raise ValueError(f"due_date {self.due_date} is before issue_date {self.issue_date}")
        return self

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.invoice_id)


def workflow_id_for(invoice_id: str) -> str:
    return f"invoice-{invoice_id}"


__all__ = [
    "Address",
    "CaseInput",
    "Customer",
    "CustomerKind",
    "DemoClock",
    "Language",
    "Strict",
    "workflow_id_for",
]
