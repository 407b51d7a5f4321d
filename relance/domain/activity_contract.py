"""What the workflow asks an activity to do for one step, and what it gets back.

Kept free of I/O libraries so the workflow sandbox can import it cheaply.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from relance.domain.calendar import local_day, window_closes
from relance.domain.case import CaseState
from relance.domain.case_legal import FormalNotice
from relance.domain.case_records import HistoryEntry, PaymentRecord, StepRecord
from relance.domain.case_view import CaseSeen
from relance.domain.deliveries import MessageTrail
from relance.domain.direct_debit import DebitMandate, end_to_end_id
from relance.domain.invoice import CaseInput, Customer
from relance.domain.policy import Agency, Step

RESOLVE_POLICY = "resolve_policy"
SEND_EMAIL = "send_email"
SEND_EMAIL_ALONE = "send_email_alone"  # a case whose customer has no other open case: no round trip
CREATE_PHONE_TASK = "create_phone_task"
CREATE_PHONE_TASK_ALONE = "create_phone_task_alone"  # the same for a lone case's call (v19): no round trip
RECORD_CASE = "record_case"
SEND_FORMAL_NOTICE = "send_formal_notice"
SEND_LETTER = "send_letter"
SEND_SMS = "send_sms"
PREPARE_COURT_DOSSIER = "prepare_court_dossier"
HAND_OFF_TO_AGENCY = "hand_off_to_agency"
RECORD_REFUSED_START = "record_refused_start"
READ_CLOSED_CASE = "read_closed_case"
REPRESENT_DIRECT_DEBIT = "represent_direct_debit"
# A legal step's failure when the rate table lacks a period: the case waits and retries, the step does not fail.
MISSING_RATE = "MissingRate"
# A message step the customer's account holds back: the customer already had one that day (one voice).
CONTACTED_TODAY = "ContactedToday"
NOT_ALONE = "NotAlone"  # send_email_alone: the customer has other open cases; its account speaks for them
# What the policy activity refuses about a new case itself (the worker's settings decide, not the case).
REFUSED_AT_START = ("DemoClockRefused",)


class InstallmentDue(BaseModel):
    number: int
    of: int
    amount: Decimal
    due_on: date


class StepRequest(BaseModel):
    case_id: str
    invoice_id: str
    step_id: str
    idempotency_key: str
    template: str
    customer: Customer
    amount: Decimal
    currency: str
    issue_date: date
    due_date: date
    as_of: date
    # Real (server) time after which this attempt must not contact the debtor: the sending window closed.
    window_closes_at: datetime | None = None
    # A step runs only while the case is chasing; an installment reminder only while a plan runs; a notice
    # that informs the debtor (a dispute's outcome) while something is owed, paused or not, or at any stage.
    requires_stage: Literal["chasing", "payment_plan", "informs", "any"] = "chasing"
    installment: InstallmentDue | None = None
    assignee: str = "collections"
    limitation_date: date | None = None  # when the claim becomes time-barred (letters, dossiers, warnings)
    credited_now: Decimal | None = None  # a dispute's outcome: the credit note just granted
    einvoice_received_on: date | None = None  # the platform said the buyer received it (202, 203): a proof
    pay_by: date | None = None  # a dispute's outcome: the day the next step would come; an offer: its date
    offer_amount: Decimal | None = None  # a settlement offer: what the debtor pays to settle
    waived: list[str] | None = None  # a settlement offer: principal, interest, indemnity
    # A step the case runs in its own workflow task (a local activity, generation v20): the case as it read
    # itself right before, for the last check (such an activity cannot query the case it runs in). A step run
    # through the server leaves it empty and queries the case at each attempt.
    seen: CaseSeen | None = None


class LegalStepRequest(StepRequest):
    """A legal step needs the whole claim: the statement of account is computed where the document is made."""

    payments: list[PaymentRecord]
    credited: Decimal
    penalty_rate: Decimal | None
    imputation: str
    deadline_days: int
    small_claims: bool
    formal_notice: FormalNotice | None
    contacts: list[StepRecord]  # every step done, with its date and channel, for the dossier
    deliveries: dict[str, MessageTrail] = {}  # what the e-mail provider saw of each message (step id)
    agency: Agency | None


class DebitRequest(StepRequest):
    """A returned direct debit presented again: the pain.008 the bank receives, at most once per case."""

    mandate: DebitMandate
    debit_amount: Decimal  # what came back; the activity debits no more than the live balance
    collect_on: date  # the requested collection date
    end_to_end_id: str
    returned_reference: str


class StepResult(BaseModel):
    status: Literal["sent", "already_done", "in_doubt", "skipped_settled", "skipped_paused", "deferred", "failed"]
    detail: str
    channel: str | None = None
    provider_id: str | None = None
    balance: Decimal | None = None
    document: str | None = None  # where the letter, dossier or case file was written
    route: str | None = None  # court steps: injonction_de_payer or small_claims
    court: str | None = None
    error_type: str | None = None  # a failed step: the error's type (e.g. DeliveryRefused: the address is bad)


class ClosedRun(BaseModel):
    """Which closed run of a case a reopening reads (from Temporal, never from the caller)."""

    workflow_id: str
    run_id: str


class RefusedStart(BaseModel):
    """A start the case refused: kept in the ledger's rejected inputs (ids and payload already bounded)."""

    workflow_id: str
    invoice_id: str | None
    reason: str
    payload: str


class LedgerEntry(BaseModel):
    seq: int
    entry: HistoryEntry


class LedgerUpdate(BaseModel):
    """A case's state and the history entries the ledger has not seen yet (seq = index in the history)."""

    case_id: str
    case: CaseInput
    policy: str | None
    stage: str
    balance: Decimal
    outcome: str | None
    opened_at: datetime
    closed_at: datetime | None
    events: list[LedgerEntry]
    payments: list[PaymentRecord]
    conceded: Decimal = Decimal(0)
    lateness_cause: str | None = None


def step_request(state: CaseState, case_id: str, step_id: str, template: str, now: datetime) -> StepRequest:
    """What a step asks of its activity; the idempotency key is the case and the step."""
    assert state.policy is not None
    cal, case = state.policy.calendar, state.case
    closes = window_closes(local_day(now, cal), cal)
    return StepRequest(
        case_id=case_id,
        invoice_id=case.invoice_id,
        step_id=step_id,
        idempotency_key=f"{case_id}:{step_id}",
        template=template,
        customer=case.customer,
        amount=case.amount,
        currency=case.currency,
        issue_date=case.issue_date,
        due_date=case.due_date,
        as_of=local_day(now, cal),
        window_closes_at=state.clock.real_time(closes),
        limitation_date=state.limitation(),
        einvoice_received_on=state.einvoice_received_on,
    )


def debit_request(state: CaseState, case_id: str, step_id: str, now: datetime) -> DebitRequest:
    """The re-presentation of the case's returned direct debit (no sending window: a file for the bank)."""
    r = state.representation
    assert r is not None
    base = step_request(state, case_id, step_id, "direct_debit", now).model_dump()
    base["window_closes_at"] = None
    return DebitRequest(
        **base,
        mandate=r.mandate,
        debit_amount=r.amount,
        collect_on=r.on,
        end_to_end_id=end_to_end_id(state.case.invoice_id, r.reference),
        returned_reference=r.reference,
    )


def legal_request(state: CaseState, case_id: str, step: Step, now: datetime) -> LegalStepRequest:
    """A legal step carries the whole claim; a letter sent again (to a new address) is a new side effect,
    with a key of its own."""
    assert state.policy is not None
    legal = state.policy.legal
    earlier = sum(1 for s in state.steps if s.step_id == step.id and s.status == "done")
    base = step_request(state, case_id, step.id if not earlier else f"{step.id}-{earlier + 1}", step.template, now)
    return LegalStepRequest(
        **base.model_dump(),
        payments=state.payments,
        credited=state.credited,
        penalty_rate=state.case.penalty_rate,
        imputation=legal.imputation.value,
        deadline_days=legal.formal_notice_deadline_days,
        small_claims=legal.small_claims,
        formal_notice=state.formal_notice,
        contacts=[s for s in state.steps if s.status == "done"],
        deliveries=state.deliveries,
        agency=legal.agency,
    )


def ledger_update(state: CaseState, case_id: str, now: datetime, upto: int) -> LedgerUpdate:
    """The case's state and the history entries from the last one the ledger saw up to `upto`."""
    return LedgerUpdate(
        case_id=case_id,
        case=state.case,
        policy=state.policy.label if state.policy else None,
        stage=state.stage(now) if state.policy else "starting",
        balance=state.balance,
        outcome=state.outcome.value if state.outcome else None,
        opened_at=state.opened_at or state.history[0].at,
        closed_at=state.closed_at,
        events=[
            LedgerEntry(seq=i, entry=state.history[i - state.history_base]) for i in range(state.ledger_synced, upto)
        ],
        payments=state.payments,
        conceded=state.conceded,
        lateness_cause=state.lateness_cause.value if state.lateness_cause else None,
    )
