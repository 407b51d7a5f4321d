"""Ops actions on a case: the public contract shared by updates, signals and the CLI.

Shape checks live here (they need no case); checks against the case's state live in relance.case.
"""

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from pydantic import EmailStr, Field, model_validator

from relance.invoice import Address, Strict


class Action(Strict):
    name: ClassVar[str]
    by: str | None = Field(default=None, description="who did it (person or system)")


class PaymentReceived(Action):
    name: ClassVar[str] = "payment_received"
    amount: Decimal
    paid_on: date
    reference: str = Field(min_length=1)


class DisputeOpened(Action):
    name: ClassVar[str] = "dispute_opened"
    reason: str = Field(min_length=1)


class DisputeOutcome(StrEnum):
    rejected = "rejected"
    accepted = "accepted"
    partially_accepted = "partially_accepted"


class DisputeResolved(Action):
    name: ClassVar[str] = "dispute_resolved"
    outcome: DisputeOutcome
    credited_amount: Decimal | None = None

    @model_validator(mode="after")
    def _credit_fits_outcome(self) -> "DisputeResolved":
        if self.outcome is DisputeOutcome.partially_accepted and self.credited_amount is None:
            raise ValueError("credited_amount is required when the outcome is partially_accepted")
        if self.outcome is DisputeOutcome.rejected and self.credited_amount is not None:
            raise ValueError("credited_amount makes no sense when the dispute is rejected")
        return self


class PromiseToPay(Action):
    name: ClassVar[str] = "promise_to_pay"
    promised_on: date
    amount: Decimal | None = Field(default=None, description="defaults to the balance")


class Installment(Strict):
    due_on: date
    amount: Decimal


class PaymentPlanAgreed(Action):
    name: ClassVar[str] = "payment_plan_agreed"
    installments: list[Installment] = Field(min_length=1)


class Pause(Action):
    name: ClassVar[str] = "pause"
    until: date | None = None
    reason: str = Field(min_length=1)


class Resume(Action):
    name: ClassVar[str] = "resume"


class WriteOff(Action):
    name: ClassVar[str] = "write_off"
    reason: str = Field(min_length=1)


class ContactUpdated(Action):
    name: ClassVar[str] = "contact_updated"
    email: EmailStr | None = None
    address: Address | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _something(self) -> "ContactUpdated":
        if self.email is None and self.address is None and self.phone is None:
            raise ValueError("give at least one of email, address, phone")
        return self


class RegisteredLetterDelivered(Action):
    """Proof of delivery of the formal notice (the signed acknowledgement): its deadline runs from here."""

    name: ClassVar[str] = "registered_letter_delivered"
    tracking_number: str = Field(min_length=1)
    delivered_on: date


class MailReturned(Action):
    """A letter came back (NPAI: n'habite pas à l'adresse indiquée, refused, unclaimed)."""

    name: ClassVar[str] = "mail_returned"
    reason: str = Field(min_length=1)
    returned_on: date


class EmailBounced(Action):
    name: ClassVar[str] = "email_bounced"
    reason: str = Field(min_length=1)


class CourtOrderIssued(Action):
    """The judge granted the injonction de payer (ordonnance portant injonction de payer)."""

    name: ClassVar[str] = "court_order_issued"
    issued_on: date
    reference: str = Field(min_length=1)


class OrderServed(Action):
    """A commissaire de justice served the order on the debtor (CPC 1411: within 6 months of issue)."""

    name: ClassVar[str] = "order_served"
    served_on: date


class OppositionFiled(Action):
    """The debtor opposed the order (CPC 1416: within one month of service); the claim goes to trial."""

    name: ClassVar[str] = "opposition_filed"
    filed_on: date


class JudgmentPaid(Action):
    """The debtor paid under the order or judgment."""

    name: ClassVar[str] = "judgment_paid"
    amount: Decimal
    paid_on: date
    reference: str = Field(min_length=1)


class AgencyUpdate(Action):
    """A report from the collection agency: what it collected since its last report, and whether it is done."""

    name: ClassVar[str] = "agency_update"
    status: str = Field(min_length=1)
    collected_amount: Decimal = Field(default=Decimal("0"), ge=0)
    reported_on: date
    final: bool = False


class ReapplyPolicy(Action):
    """An operator's explicit choice to move a running case to another policy (or the latest version)."""

    name: ClassVar[str] = "reapply_policy"
    policy: str | None = Field(default=None, description="policy name; default: select again by rules")


# The legal ones are checked and applied by relance.case_legal.
LEGAL_OPS: tuple[type[Action], ...] = (
    RegisteredLetterDelivered,
    MailReturned,
    EmailBounced,
    CourtOrderIssued,
    OrderServed,
    OppositionFiled,
    JudgmentPaid,
    AgencyUpdate,
)
OPS_ACTIONS: tuple[type[Action], ...] = (
    PaymentReceived,
    DisputeOpened,
    DisputeResolved,
    PromiseToPay,
    PaymentPlanAgreed,
    Pause,
    Resume,
    WriteOff,
    ContactUpdated,
    *LEGAL_OPS,
)
