"""The case input: one unpaid invoice and its debtor, as other systems send it to us."""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, model_validator

from relance.domain.limits import (
    MAX_ID,
    Amount,
    Country,
    Currency,
    Day,
    Identifier,
    Instant,
    Metadata,
    Name,
    ShortText,
    check_text,
    decimal_text,
)
from relance.domain.money import check_amount
from relance.domain.risk import RiskLevel


class Strict(BaseModel):
    """Unknown fields are typos until proven otherwise: reject them with their name."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerKind(StrEnum):
    business = "business"
    consumer = "consumer"


class Language(StrEnum):
    fr = "fr"
    en = "en"


PostalCode = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(check_text)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ().-]{3,30}$", description="digits, spaces, + ( ) . -")]


class Address(Strict):
    line1: Name
    line2: Name | None = None
    postal_code: PostalCode
    city: Name
    country: Country = Field(description="ISO 3166 alpha-2")


class Customer(Strict):
    id: Identifier
    name: Name
    kind: CustomerKind
    email: EmailStr
    language: Language = Language.fr
    address: Address
    segment: ShortText | None = None
    phone: Phone | None = None
    risk: RiskLevel | None = Field(default=None, description="from a scoring system; else computed at policy choice")


class DemoClock(Strict):
    """A case-local clock: how many real seconds one case day lasts, and optionally where case time starts.

    Recorded in the case at start, so changing it never affects running cases. Production cases have none.
    """

    seconds_per_day: float = Field(default=86400.0, ge=0.01, le=86400.0)
    starts_at: Instant | None = None


InvoiceId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID, pattern=r"^[^\s/]+$", description="no spaces or '/'"),
    AfterValidator(check_text),
]
PenaltyRate = Annotated[Decimal, BeforeValidator(decimal_text), Field(ge=0, le=100)]


class CaseInput(Strict):
    invoice_id: InvoiceId
    customer: Customer
    amount: Amount = Field(description="amount due, tax included, as a decimal string")
    currency: Currency = "EUR"
    issue_date: Day
    due_date: Day
    policy: ShortText | None = None
    metadata: Metadata = Field(default_factory=dict)
    clock: DemoClock | None = Field(default=None, description="demo workers only: a compressed case clock")
    # the late-payment rate of the terms of sale, annual %; none: the legal default (L441-10)
    penalty_rate: PenaltyRate | None = None
    customer_invoices_in_batch: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="how many invoices of this customer the same import or request brought, this one included;"
        " 1 tells a case just opened that it is its customer's only one, so its first message need not wait an"
        " hour for others to group with (set by `relance import` and `POST /cases`)",
    )

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
