"""The legal part of a case: formal notice, court, agency, and contacts found to be wrong.

Pure: the models a case carries, the checks that refuse an ops action that does not fit, and what an
accepted action changes (it reads the `CaseState` it changes for its type only, as every rule module does).
The table of relance/domain/rules.py sends the legal actions here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from relance.domain.actions import (
    Action,
    AgencyUpdate,
    CourtOrderIssued,
    EmailBounced,
    JudgmentPaid,
    MailReturned,
    OppositionFiled,
    OrderServed,
    PaymentReceived,
    RegisteredLetterDelivered,
)
from relance.domain.case_records import PaymentRecord
from relance.domain.errors import LetterNeverSent, Rejected
from relance.domain.invoice import CustomerKind
from relance.domain.penalties import Claim, Imputation, Paid
from relance.domain.policy import AFTER_FORMAL_NOTICE, Step, StepAction

if TYPE_CHECKING:  # the rules read and change a case's state; the state does not import its rules back
    from relance.domain.case import CaseState

ORDER_LAPSES_AFTER_DAYS = 183  # CPC 1411: an order not served within six months is void
SMALL_CLAIMS_LIMIT = Decimal("5000")


class Outcome(StrEnum):
    """How a case ended (defined here, where the legal outcomes close a case too)."""

    paid = "paid"
    written_off = "written_off"
    cancelled = "cancelled"
    policy_completed = "policy_completed"
    agency_closed = "agency_closed"
    settled = "settled"  # paid as a settlement offer asked; the rest given up as a concession


class FormalNotice(BaseModel):
    step_id: str
    sent_on: date
    letter_id: str | None
    document: str | None
    deadline_days: int
    tracking_number: str | None = None
    delivered_on: date | None = None
    returned: str | None = None  # why the letter came back, while it has not been delivered

    @property
    def deadline(self) -> date | None:
        """Last day the debtor has to pay, counted from delivery (None until delivery is proven)."""
        return self.delivered_on + timedelta(days=self.deadline_days) if self.delivered_on else None


class CourtProceeding(BaseModel):
    route: Literal["injonction_de_payer", "small_claims"]
    court: str
    dossier: str | None
    opened_on: date
    status: Literal["dossier_ready", "order_issued", "order_served", "opposition"] = "dossier_ready"
    order_reference: str | None = None
    issued_on: date | None = None
    served_on: date | None = None
    opposition_on: date | None = None


class AgencyFile(BaseModel):
    agency: str
    mandate_reference: str
    commission_rate: Decimal
    handed_on: date
    delivery_id: str | None
    reports: int = 0
    collected: Decimal = Decimal("0.00")
    commission: Decimal = Decimal("0.00")
    last_status: str | None = None


class ContactFlags(BaseModel):
    email_invalid: str | None = None
    address_invalid: str | None = None


def court_for(debtor_kind: str, claim_total: Decimal, small_claims: bool) -> tuple[str, str]:
    """Route and court: a commercial debt between businesses goes to the tribunal de commerce, anything
    else (any consumer debtor) to the tribunal judiciaire; claims up to 5000 EUR may take the small-claims
    route through a commissaire de justice when the policy says so (CPCE L125-1)."""
    if small_claims and claim_total <= SMALL_CLAIMS_LIMIT:
        return "small_claims", "commissaire de justice (procédure simplifiée de recouvrement des petites créances)"
    court = "tribunal de commerce" if debtor_kind == "business" else "tribunal judiciaire"
    return "injonction_de_payer", court


def waiting_reason(state: CaseState, step: Step) -> str | None:
    """Why a due step cannot run yet: it waits for a person, the debtor's deadline, or the platform's word that
    the buyer has the invoice (a policy's `einvoicing.require_receipt`)."""
    policy = state.policy
    if policy is not None and policy.einvoicing.require_receipt and state.einvoice_received_on is None:
        return "the e-invoicing platform's word that the buyer received the invoice (status 202 or 203)"
    if step.action in (StepAction.formal_notice, StepAction.letter) and state.flags.address_invalid:
        return f"a valid postal address (the last letter came back: {state.flags.address_invalid})"
    notice = state.formal_notice
    if step.action not in AFTER_FORMAL_NOTICE:
        return None
    if notice is not None and notice.delivered_on is None:
        if notice.returned:
            return f"a new address: the formal notice came back ({notice.returned})"
        return "proof of delivery of the formal notice (registered_letter_delivered)"
    if notice is None and state.policy is not None:
        notices = {s.id for s in state.policy.steps if s.action is StepAction.formal_notice}
        tried = [s for s in state.steps if s.step_id in notices]
        if tried and tried[-1].status == "failed":
            return f"a formal notice, which failed ({tried[-1].detail}); fix the cause, then re-apply the policy"
    return None


def check(state: CaseState, action: Action, now: datetime) -> None:
    notice, court, agency, today = state.formal_notice, state.court, state.agency, state.today(now)
    match action:
        case RegisteredLetterDelivered():
            if notice is None:
                raise Rejected("no formal notice has been sent on this case")
            if notice.delivered_on is not None:
                raise Rejected(f"delivery already recorded on {notice.delivered_on} ({notice.tracking_number})")
            if not notice.sent_on <= action.delivered_on <= today:
                raise Rejected(
                    f"delivered_on {action.delivered_on} must fall between the sending ({notice.sent_on}) and today"
                )
        case MailReturned():
            if action.returned_on > today:
                raise Rejected(f"returned_on {action.returned_on} is in the future (today is {today})")
            letters = [state.today(s.at) for s in state.steps if s.status == "done" and s.channel == "letter"]
            letters += [notice.sent_on] if notice is not None else []
            if not letters:
                raise LetterNeverSent("no letter has been sent on this case")
            if action.returned_on < min(letters):
                raise LetterNeverSent(
                    f"returned_on {action.returned_on} is before the first letter left ({min(letters)})"
                )
        case CourtOrderIssued():
            if court is None or court.status != "dossier_ready":
                raise Rejected("no court dossier is waiting for an order on this case")
            if not court.opened_on <= action.issued_on <= today:
                raise Rejected(
                    f"issued_on {action.issued_on} must fall between the dossier ({court.opened_on}) and today"
                )
        case OrderServed():
            if court is None or court.status != "order_issued" or court.issued_on is None:
                raise Rejected("no court order waiting to be served on this case")
            if not court.issued_on <= action.served_on <= today:
                raise Rejected(
                    f"served_on {action.served_on} must fall between the order ({court.issued_on}) and today"
                )
            if (action.served_on - court.issued_on).days > ORDER_LAPSES_AFTER_DAYS:
                raise Rejected(f"the order of {court.issued_on} lapsed: not served within six months (CPC 1411)")
        case OppositionFiled():
            if court is None or court.status != "order_served" or court.served_on is None:
                raise Rejected("an opposition needs a served order")
            if not court.served_on <= action.filed_on <= today:
                raise Rejected(f"filed_on {action.filed_on} must fall between service ({court.served_on}) and today")
        case JudgmentPaid():
            if court is None:
                raise Rejected("the case is not in court: record the payment with payment_received")
            state.check(PaymentReceived(amount=action.amount, paid_on=action.paid_on, reference=action.reference), now)
        case AgencyUpdate():
            if agency is None:
                raise Rejected("the case has not been handed to an agency")
            if action.reported_on > today:
                raise Rejected(f"reported_on {action.reported_on} is in the future (today is {today})")


def apply(state: CaseState, action: Action, now: datetime) -> None:
    by = action.by
    match action:
        case RegisteredLetterDelivered():
            assert state.formal_notice is not None
            notice = state.formal_notice
            notice.tracking_number, notice.delivered_on, notice.returned = (
                action.tracking_number,
                action.delivered_on,
                None,
            )
            state.record(
                now,
                "formal_notice_delivered",
                f"formal notice delivered on {action.delivered_on} ({action.tracking_number}); "
                f"deadline {notice.deadline}",
                by=by,
            )
        case MailReturned():
            state.flags.address_invalid = action.reason
            if state.formal_notice is not None and state.formal_notice.delivered_on is None:
                state.formal_notice.returned = action.reason
            state.record(
                now,
                "mail_returned",
                f"letter returned on {action.returned_on}: {action.reason}; address flagged",
                by=by,
            )
        case EmailBounced():
            state.flags.email_invalid = action.reason
            state.record(now, "email_bounced", f"e-mail {state.case.customer.email} bounced: {action.reason}", by=by)
        case CourtOrderIssued():
            assert state.court is not None
            state.court.status, state.court.issued_on = "order_issued", action.issued_on
            state.court.order_reference = action.reference
            state.record(now, "court_order_issued", f"order {action.reference} issued on {action.issued_on}", by=by)
        case OrderServed():
            assert state.court is not None
            state.court.status, state.court.served_on = "order_served", action.served_on
            opposition_until = action.served_on + timedelta(days=31)
            state.record(
                now,
                "order_served",
                f"order served on {action.served_on}; opposition possible until about {opposition_until}",
                by=by,
            )
        case OppositionFiled():
            assert state.court is not None
            state.court.status, state.court.opposition_on = "opposition", action.filed_on
            state.record(
                now, "opposition_filed", f"debtor opposed on {action.filed_on}: the claim goes to trial", by=by
            )
        case JudgmentPaid():
            state.apply(
                PaymentReceived(amount=action.amount, paid_on=action.paid_on, reference=action.reference, by=by), now
            )
        case AgencyUpdate():
            _agency_report(state, action, now)


def _agency_report(state: CaseState, action: AgencyUpdate, now: datetime) -> None:
    agency = state.agency
    assert agency is not None
    agency.reports += 1
    agency.last_status = action.status
    commission = (action.collected_amount * agency.commission_rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    agency.collected += action.collected_amount
    agency.commission += commission
    currency = state.case.currency
    state.record(
        now,
        "agency_update",
        f"{agency.agency}: {action.status}; collected {action.collected_amount} {currency}, commission {commission}",
        by=action.by,
        collected=str(action.collected_amount),
        commission=str(commission),
    )
    if action.collected_amount > 0:
        payment = PaymentReceived(
            amount=action.collected_amount,
            paid_on=action.reported_on,
            reference=f"{agency.agency}-report-{agency.reports}",
            by=action.by,
        )
        state.apply(payment, now)
    if action.final and not state.closed:
        state.close(
            now,
            Outcome.agency_closed,
            f"{agency.agency} closed the file ({action.status}): collected {agency.collected} {currency}, "
            f"commission {agency.commission} {currency}, {state.balance} {currency} unrecovered",
            by=action.by,
        )


def claim_of(
    *,
    invoice_id: str,
    currency: str,
    amount: Decimal,
    credited: Decimal,
    due_date: date,
    debtor_kind: str,
    penalty_rate: Decimal | None,
    imputation: str,
    formal_notice: FormalNotice | None,
) -> Claim:
    """The claim a case holds, for its statement of account; consumer interest runs from the notice's
    delivery when it is proven, else from its sending."""
    notice_on = (formal_notice.delivered_on or formal_notice.sent_on) if formal_notice else None
    return Claim(
        invoice_id=invoice_id,
        currency=currency,
        principal=amount - credited,
        due_date=due_date,
        debtor=CustomerKind(debtor_kind),
        contract_rate=penalty_rate,
        formal_notice_on=notice_on,
        imputation=Imputation(imputation),
    )


def paid_of(payments: list[PaymentRecord]) -> list[Paid]:
    return [Paid(paid_on=p.paid_on, amount=p.amount, reference=p.reference) for p in payments]


def enter_legal_stage(
    state: CaseState,
    step: Step,
    now: datetime,
    document: str | None,
    provider_id: str | None,
    route: str | None,
    court: str | None,
) -> None:
    """A legal step was done: the case keeps its document and enters formal notice, court or agency."""
    assert state.policy is not None
    today, legal = state.today(now), state.policy.legal
    if document:
        kind = step.action.value
        state.record(now, "document", f"{kind}: {document}", kind=kind, path=document, step_id=step.id)
    match step.action:
        case StepAction.formal_notice:
            state.formal_notice = FormalNotice(
                step_id=step.id,
                sent_on=today,
                letter_id=provider_id,
                document=document,
                deadline_days=legal.formal_notice_deadline_days,
            )
        case StepAction.injonction_dossier:
            default_route, default_court = court_for(state.case.customer.kind.value, state.balance, legal.small_claims)
            state.court = CourtProceeding(
                route=route or default_route,
                court=court or default_court,
                dossier=document,
                opened_on=today,
            )
        case StepAction.agency_handoff:
            assert legal.agency is not None and legal.agency.mandate_reference is not None
            state.agency = AgencyFile(
                agency=legal.agency.name,
                mandate_reference=legal.agency.mandate_reference,
                commission_rate=legal.agency.commission_rate,
                handed_on=today,
                delivery_id=provider_id,
            )
