"""What a case shows: its status (queries, update answers, the API, the CLI) and its page in the Temporal UI.

Pure: read from the case's state at a time; nothing here changes the case.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from relance.domain.case import ZERO, CaseState, NextEvent
from relance.domain.case_legal import AgencyFile, ContactFlags, CourtProceeding, FormalNotice, Outcome
from relance.domain.case_records import HistoryEntry, PaymentRecord, StepRecord
from relance.domain.deliveries import MessageTrail
from relance.domain.direct_debit import Representation
from relance.domain.einvoicing import EInvoiceTrail
from relance.domain.lateness import LatenessCause
from relance.domain.settlement import OfferState, describe


class SeenAt(BaseModel):
    """The status query's one optional argument: the caller's time (real time, with its offset)."""

    at: AwareDatetime | None = None


class CaseStatus(BaseModel):
    invoice_id: str
    workflow_id: str
    state: Literal["open", "paused", "closed"]
    stage: str
    outcome: Outcome | None
    amount: Decimal
    balance: Decimal
    currency: str
    total_paid: Decimal
    credited: Decimal
    overpaid: Decimal
    due_date: date
    days_late: int
    as_of: datetime
    policy: str | None
    timezone: str
    pause_reason: str | None
    paused_until: date | None
    next_step: NextEvent | None
    customer_email: str
    steps: list[StepRecord]
    history: list[HistoryEntry]
    customer_kind: str = "business"
    payments: list[PaymentRecord] = Field(default_factory=list)
    limitation_date: date | None = None
    waiting_for: str | None = None  # what a due step waits for (a proof of delivery, an address)
    formal_notice: FormalNotice | None = None
    court: CourtProceeding | None = None
    agency: AgencyFile | None = None
    flags: ContactFlags = Field(default_factory=ContactFlags)
    imputation: str = "interest_first"
    penalty_rate: Decimal | None = None
    refused_signals: int = 0
    settlement: OfferState | None = None
    conceded: Decimal = ZERO
    lateness_cause: LatenessCause | None = None
    direct_debit: Representation | None = None  # a returned direct debit presented again, until it settles
    deliveries: dict[str, MessageTrail] = Field(default_factory=dict)  # what the provider saw of each message
    einvoice: EInvoiceTrail | None = None  # what the e-invoicing platform said (relance/domain/einvoicing.py)

    @property
    def chased(self) -> Decimal:
        """What the reminders ask for: the balance, less a part the buyer contested on the platform (206)."""
        return _chased(self.balance, self.einvoice)


SEEN_QUERY = "seen"  # the case's query that answers its `CaseSeen`


class CaseSeen(BaseModel):
    """What the last check before a message reads of its case: whether it still chases, and for how much.

    Asked of the case by a query, or (a step the case runs in its own workflow task, as a local activity, which
    cannot query the case it runs in) read by the case itself right before and carried in the request."""

    state: Literal["open", "paused", "closed"]
    stage: str
    balance: Decimal
    chased: Decimal
    pause_reason: str | None


def _chased(balance: Decimal, einvoice: EInvoiceTrail | None) -> Decimal:
    return max(ZERO, balance - (einvoice.contested if einvoice else ZERO))


def _standing(state: CaseState) -> tuple[Literal["open", "paused", "closed"], str | None]:
    """Whether the case chases, is paused (and why) or is closed."""
    hold = state.dispute or state.manual_pause or state.customer_hold
    if state.closed:
        kind: Literal["open", "paused", "closed"] = "closed"
    elif hold or state.promise or state.plan or state.offer or state.court or state.agency:
        kind = "paused"
    else:
        kind = "open"
    pause_reason = None
    if state.dispute is not None:
        pause_reason = f"dispute: {state.dispute.reason}"
    elif state.manual_pause is not None:
        pause_reason = state.manual_pause.reason
    elif state.customer_hold is not None:
        pause_reason = f"customer account: {state.customer_hold.reason}"
    elif state.plan is not None:
        pause_reason = "payment plan"
    elif state.promise is not None:
        pause_reason = f"promise to pay by {state.promise.promised_on}"
    elif state.offer is not None:
        pause_reason = describe(state.offer, state.case.currency)
    elif state.court is not None:
        pause_reason = f"in court ({state.court.court}): {state.court.status}"
    elif state.agency is not None:
        pause_reason = f"handed to {state.agency.agency}"
    return kind, pause_reason


def seen(state: CaseState, now: datetime) -> CaseSeen:
    """The case as the last check before a message reads it, at `now` (the fields `status` gives it)."""
    kind, pause_reason = _standing(state)
    balance = state.balance
    return CaseSeen(
        state=kind,
        stage=state.stage(now),
        balance=balance,
        chased=_chased(balance, state.einvoice),
        pause_reason=pause_reason,
    )


def status(state: CaseState, now: datetime, next_event: NextEvent | None, waiting_for: str | None = None) -> CaseStatus:
    """The case as its callers see it at `now`."""
    kind, pause_reason = _standing(state)
    return CaseStatus(
        invoice_id=state.case.invoice_id,
        workflow_id=state.case.workflow_id,
        state=kind,
        stage=state.stage(now),
        outcome=state.outcome,
        amount=state.case.amount,
        balance=state.balance,
        currency=state.case.currency,
        total_paid=state.total_paid,
        credited=state.credited,
        overpaid=state.overpaid,
        due_date=state.case.due_date,
        days_late=state.days_late(now),
        as_of=now,
        policy=state.policy.label if state.policy else None,
        timezone=state.policy.calendar.timezone if state.policy else "UTC",
        pause_reason=pause_reason,
        paused_until=held.until if (held := state.manual_pause or state.customer_hold) else None,
        next_step=None if state.closed else next_event,
        customer_email=state.case.customer.email,
        customer_kind=state.case.customer.kind.value,
        steps=state.steps,
        history=state.history,
        payments=state.payments,
        limitation_date=state.limitation(),
        waiting_for=waiting_for,
        formal_notice=state.formal_notice,
        court=state.court,
        agency=state.agency,
        flags=state.flags,
        imputation=state.policy.legal.imputation.value if state.policy else "interest_first",
        penalty_rate=state.case.penalty_rate,
        refused_signals=state.refusals,
        settlement=state.offer,
        conceded=state.conceded,
        lateness_cause=state.lateness_cause,
        direct_debit=state.representation,
        deliveries=state.deliveries,
        einvoice=state.einvoice,
    )


def details(state: CaseState, now: datetime, next_event: NextEvent | None, waiting_for: str | None) -> str:
    """What the Temporal UI shows on the case's page (Markdown)."""
    currency = state.case.currency
    lines = [
        f"**Stage:** {state.stage(now)}",
        f"**Balance:** {state.balance} {currency} of {state.case.amount} {currency}",
    ]
    if next_event is not None:
        lines.append(f"**Next:** {next_event.kind} {next_event.id} at {next_event.at.isoformat()}")
    if waiting_for:
        lines.append(f"**Waiting for:** {waiting_for}")
    if state.court is not None:
        lines.append(f"**Court:** {state.court.court}, {state.court.status}")
    if state.agency is not None:
        lines.append(f"**Agency:** {state.agency.agency}, collected {state.agency.collected} {currency}")
    return "\n\n".join(lines)
