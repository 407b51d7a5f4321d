"""Ops actions on a case: the public contract shared by updates, signals and the CLI.

Shape checks live here (they need no case); what each action checks against the case and does to it is
declared in relance/domain/rules.py, whose table lists every action (`OPS_ACTIONS`).
"""

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, EmailStr, Field, model_validator

from relance.domain.access import Role
from relance.domain.direct_debit import DebitMandate
from relance.domain.invoice import Address, Phone, Strict
from relance.domain.lateness import LatenessCause
from relance.domain.limits import Amount, AmountOrZero, Day, MessageText, Name, Reason, ShortText
from relance.domain.settlement import Waivable


class Action(Strict):
    """An ops action: its name (the update and signal), its payload (the fields), and the least role that may
    send it through the API (`least_role`, declared on each action; an action without one is refused)."""

    name: ClassVar[str]
    least_role: ClassVar[Role | None] = None
    by: Name | None = Field(default=None, description="who did it (person or system)")


class PaymentReceived(Action):
    name: ClassVar[str] = "payment_received"
    least_role: ClassVar[Role] = Role.collector
    amount: Amount
    paid_on: Day
    reference: Name


class PaymentReversed(Action):
    """A payment came back: a returned direct debit, a reversed transfer, a bounced cheque."""

    name: ClassVar[str] = "payment_reversed"
    least_role: ClassVar[Role] = Role.collector
    reference: Name = Field(description="the reference of the payment that came back")
    amount: Amount
    reason: Reason = Field(description="the bank's reason, e.g. AM04 insufficient funds")
    reversed_on: Day
    fee: AmountOrZero = Field(default=Decimal("0"), description="the bank's fee for the return, recorded apart")
    mandate: DebitMandate | None = Field(
        default=None, description="a returned direct debit: the mandate it was drawn on (to present it again)"
    )


class DisputeOpened(Action):
    name: ClassVar[str] = "dispute_opened"
    least_role: ClassVar[Role] = Role.collector
    reason: Reason
    cause: LatenessCause = Field(default=LatenessCause.dispute, description="why the invoice is unpaid")


class DisputeOutcome(StrEnum):
    rejected = "rejected"
    accepted = "accepted"
    partially_accepted = "partially_accepted"


class DisputeResolved(Action):
    name: ClassVar[str] = "dispute_resolved"
    least_role: ClassVar[Role] = Role.collector
    outcome: DisputeOutcome
    credited_amount: Amount | None = None

    @model_validator(mode="after")
    def _credit_fits_outcome(self) -> "DisputeResolved":
        if self.outcome is DisputeOutcome.partially_accepted and self.credited_amount is None:
            raise ValueError("credited_amount is required when the outcome is partially_accepted")
        if self.outcome is DisputeOutcome.rejected and self.credited_amount is not None:
            raise ValueError("credited_amount makes no sense when the dispute is rejected")
        return self


class PromiseToPay(Action):
    name: ClassVar[str] = "promise_to_pay"
    least_role: ClassVar[Role] = Role.collector
    promised_on: Day
    amount: Amount | None = Field(default=None, description="defaults to the balance")
    cause: LatenessCause | None = Field(default=None, description="why the invoice is paid late")


class Installment(Strict):
    due_on: Day
    amount: Amount


class PaymentPlanAgreed(Action):
    name: ClassVar[str] = "payment_plan_agreed"
    least_role: ClassVar[Role] = Role.collector
    installments: list[Installment] = Field(min_length=1, max_length=120)
    cause: LatenessCause | None = Field(default=None, description="why the invoice is paid late")


class Pause(Action):
    name: ClassVar[str] = "pause"
    least_role: ClassVar[Role] = Role.collector
    until: Day | None = None
    reason: Reason


class Resume(Action):
    name: ClassVar[str] = "resume"
    least_role: ClassVar[Role] = Role.collector


class SettlementOffered(Action):
    """The creditor offers to settle for `amount` if paid by `pay_by`, giving up what `waive` names."""

    name: ClassVar[str] = "settlement_offered"
    least_role: ClassVar[Role] = Role.collector
    amount: Amount
    pay_by: Day
    waive: list[Waivable] = Field(min_length=1, max_length=3)
    reason: Reason

    @model_validator(mode="after")
    def _waive_once(self) -> "SettlementOffered":
        if len(set(self.waive)) != len(self.waive):
            raise ValueError("waive names a part twice")
        return self


class WriteOff(Action):
    name: ClassVar[str] = "write_off"
    least_role: ClassVar[Role] = Role.admin
    reason: Reason
    cause: LatenessCause | None = Field(default=None, description="why the invoice is paid late")


class ContactUpdated(Action):
    name: ClassVar[str] = "contact_updated"
    least_role: ClassVar[Role] = Role.collector
    email: EmailStr | None = None
    address: Address | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _something(self) -> "ContactUpdated":
        if self.email is None and self.address is None and self.phone is None:
            raise ValueError("give at least one of email, address, phone")
        return self


class RegisteredLetterDelivered(Action):
    """Proof of delivery of the formal notice (the signed acknowledgement): its deadline runs from here."""

    name: ClassVar[str] = "registered_letter_delivered"
    least_role: ClassVar[Role] = Role.legal
    tracking_number: Name
    delivered_on: Day


class MailReturned(Action):
    """A letter came back (NPAI: n'habite pas à l'adresse indiquée, refused, unclaimed)."""

    name: ClassVar[str] = "mail_returned"
    least_role: ClassVar[Role] = Role.legal
    reason: Reason
    returned_on: Day


class EmailBounced(Action):
    name: ClassVar[str] = "email_bounced"
    least_role: ClassVar[Role] = Role.collector
    reason: Reason


class EmailEvent(Action):
    """What the e-mail provider saw of a message the case sent (SendGrid's Event Webhook): delivered, opened,
    clicked, bounced, dropped, reported as spam, unsubscribed. Recorded once per message and kind."""

    name: ClassVar[str] = "email_event"
    least_role: ClassVar[Role] = Role.collector
    kind: Literal["delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe"]
    step_id: Name = Field(description="the step whose message it is (the message's relance_key)")
    at: AwareDatetime = Field(description="when the provider saw it")
    event_id: Name = Field(description="the provider's id of the event (sg_event_id)")
    reason: Reason | None = Field(default=None, description="a bounce's or a drop's reason, as the provider says")


class SmsEvent(Action):
    """What the SMS provider said of an SMS the case sent (delivered, undelivered, failed), or that the number
    answered STOP (Twilio's status callback and inbound webhook). Recorded once per message and kind."""

    name: ClassVar[str] = "sms_event"
    least_role: ClassVar[Role] = Role.collector
    kind: Literal["delivered", "undelivered", "failed", "stop"]
    step_id: Name = Field(description="the step whose SMS it is")
    at: AwareDatetime
    event_id: Name = Field(description="the provider's message id and status, or the inbound message's id")
    reason: Reason | None = None


class ReplyReceived(Action):
    """The debtor (or someone at their address) answered a message the case sent: SendGrid's Inbound Parse
    posts it, found by the message's Reply-To. Recorded once (`reply_id`); unless it is an automatic reply it
    stops the chase for the policy's `replies.pause_days`, and a person gets a task with the text."""

    name: ClassVar[str] = "reply_received"
    least_role: ClassVar[Role] = Role.collector
    reply_id: Name = Field(description="the reply's own Message-ID (or a digest of it): recorded once")
    sender: Name = Field(description="the From address of the reply")
    subject: ShortText = ""
    received_at: AwareDatetime
    text: MessageText = Field(default="", description="the new text, without the quoted history")
    automatic: bool = Field(default=False, description="an out-of-office or other automatic reply")
    attachments: list[Name] = Field(default_factory=list, max_length=20, description="kept in the documents store")


class CourtOrderIssued(Action):
    """The judge granted the injonction de payer (ordonnance portant injonction de payer)."""

    name: ClassVar[str] = "court_order_issued"
    least_role: ClassVar[Role] = Role.legal
    issued_on: Day
    reference: Name


class OrderServed(Action):
    """A commissaire de justice served the order on the debtor (CPC 1411: within 6 months of issue)."""

    name: ClassVar[str] = "order_served"
    least_role: ClassVar[Role] = Role.legal
    served_on: Day


class OppositionFiled(Action):
    """The debtor opposed the order (CPC 1416: within one month of service); the claim goes to trial."""

    name: ClassVar[str] = "opposition_filed"
    least_role: ClassVar[Role] = Role.legal
    filed_on: Day


class JudgmentPaid(Action):
    """The debtor paid under the order or judgment."""

    name: ClassVar[str] = "judgment_paid"
    least_role: ClassVar[Role] = Role.legal
    amount: Amount
    paid_on: Day
    reference: Name


class AgencyUpdate(Action):
    """A report from the collection agency: what it collected since its last report, and whether it is done."""

    name: ClassVar[str] = "agency_update"
    least_role: ClassVar[Role] = Role.legal
    status: Reason
    collected_amount: AmountOrZero = Field(default=Decimal("0"))
    reported_on: Day
    final: bool = False


class ReapplyPolicy(Action):
    """An operator's explicit choice to move a running case to another policy (or the latest version)."""

    name: ClassVar[str] = "reapply_policy"
    least_role: ClassVar[Role] = Role.admin
    policy: Name | None = Field(default=None, description="policy name; default: select again by rules")


class CreditNoteApplied(Action):
    """A credit note (avoir) that corrects the invoice: what it credits is no longer owed."""

    name: ClassVar[str] = "credit_note_applied"
    least_role: ClassVar[Role] = Role.collector
    credit_note: Name = Field(description="the credit note's number: applied once")
    amount: Amount = Field(description="what it credits, tax included")
    issued_on: Day | None = None


EInvoiceCode = Literal["200", "201", "202", "203", "204", "205", "206", "207", "208", "209", "210", "211", "212", "213"]


class EInvoiceStatus(Action):
    """A lifecycle status of the invoice from the French e-invoicing platform (a CDAR message, relance/einvoicing):
    what it does to the case is relance/domain/einvoicing.py's."""

    name: ClassVar[str] = "einvoice_status"
    least_role: ClassVar[Role] = Role.collector
    status_id: Name = Field(description="the platform message's id and the status's place in it: recorded once")
    code: EInvoiceCode
    at: AwareDatetime = Field(description="when the platform dated the status")
    reason_code: ShortText | None = Field(default=None, description="e.g. TX_TVA_ERR, DOUBLON")
    note: MessageText | None = None
    amount: Amount | None = Field(default=None, description="206: the approved part; 211, 212: the amount paid")
