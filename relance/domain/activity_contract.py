"""What the workflow asks an activity to do for one step, and what it gets back.

Kept free of I/O libraries so the workflow sandbox can import it cheaply.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from relance.domain.case import HistoryEntry, PaymentRecord, StepRecord
from relance.domain.case_legal import FormalNotice
from relance.domain.invoice import CaseInput, Customer
from relance.domain.policy import Agency

RESOLVE_POLICY = "resolve_policy"
SEND_EMAIL = "send_email"
CREATE_PHONE_TASK = "create_phone_task"
RECORD_CASE = "record_case"
SEND_FORMAL_NOTICE = "send_formal_notice"
PREPARE_COURT_DOSSIER = "prepare_court_dossier"
HAND_OFF_TO_AGENCY = "hand_off_to_agency"
RECORD_REFUSED_START = "record_refused_start"
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
    # A step runs only while the case is chasing; an installment reminder only while a plan runs.
    requires_stage: Literal["chasing", "payment_plan"] = "chasing"
    installment: InstallmentDue | None = None
    assignee: str = "collections"
    limitation_date: date | None = None  # when the claim becomes time-barred (letters, dossiers, warnings)


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
    agency: Agency | None


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
