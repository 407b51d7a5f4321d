"""One voice per customer: what the CustomerAccount workflow keeps, and its pure rules.

The invoice cases keep their own timelines; when a message step comes due, a case hands it to its
customer's account, which gathers what comes due together and sends one message (or one call task) for
all of them, at the harshest tone among them. Holds and unallocated payments are decided here too.
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from hashlib import sha256
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from relance.domain.actions import Action
from relance.domain.activity_contract import CONTACTED_TODAY, LedgerUpdate, StepRequest, StepResult
from relance.domain.case import CaseState
from relance.domain.case_records import HistoryEntry
from relance.domain.errors import Rejected, explain
from relance.domain.invoice import Strict
from relance.domain.limits import Amount, Currency, Day, Identifier, Name, Reason, ShortText
from relance.domain.policy import Policy

GATHER = timedelta(seconds=5)  # case time: the steps of one customer due at the same slot meet within it
# Real time, for demo clocks that run a day in seconds: their sending window lasts about a second, so
# they gather only what reached the account together (best effort: the window matters more).
GATHER_FLOOR = timedelta(milliseconds=20)
# Case time: how long an account waits, past GATHER, for the rest of the invoices one import brought of its
# customer (an import of thousands starts them minutes apart), before it sends what it has.
GATHER_IMPORT = timedelta(minutes=10)

# Case time: a case opened so recently may be one of an import's several invoices of its customer, which only
# the account's gathering groups (they open seconds or minutes apart).
FRESH = timedelta(hours=1)


def speaks_alone(
    others_open_at_start: int | None, opened_at: datetime, now: datetime, in_batch: int | None, *, batch_known: bool
) -> bool:
    """Whether a case's message step may leave from the case itself (the ledger's last-second check still
    decides): not when its customer had other open cases when it opened, nor while it is fresh, unless its
    import said it is the customer's only invoice (`batch_known`: the generation that reads that, v19)."""
    if others_open_at_start:
        return False
    if now - opened_at >= FRESH:
        return True
    return batch_known and in_batch == 1


REPORT_TO_CUSTOMER = "report_to_customer"
OPEN_CASE = "open_case"
OPEN_CASE_COUNTED = "open_case_counted"  # the same, answering how many other open cases the customer has
# Since quiet-open-v1 (v18): the ledger write alone, answering the other open cases and the customer's hold;
# the account is not told of the case (it reads the customer's open cases from the ledger when it acts).
OPEN_CASE_QUIET = "open_case_quiet"
# Since open-with-policy-v1 (v19): a new case's policy chosen, then open_case_quiet's write and reads, in one.
OPEN_NEW_CASE = "open_new_case"
SET_CUSTOMER_HOLD = "set_customer_hold"  # the account records its hold (or its end), then lists the open cases
READ_OPEN_CASES = "read_open_cases"  # the customer's open cases from the ledger, each asked its balance
SEND_CUSTOMER_MESSAGES = "send_customer_messages"
READ_CASES = "read_cases"
TELL_CASES = "tell_cases"  # since account-tells-v1: the outcomes of a batch, signalled from a local activity


def account_id(customer_id: str) -> str:
    return f"customer-{customer_id}"


class CustomerReport(BaseModel):
    """What a case tells its customer's account (sent with signal-with-start, so the account starts on demand)."""

    customer_id: str
    signal: str
    payload: dict[str, Any]


class CaseOpening(BaseModel):
    """A new case's first ledger write and its first report to its customer's account, done by one local
    activity: each is idempotent, so the activity may run again whole."""

    ledger: LedgerUpdate
    report: CustomerReport


# From the gentlest to the harshest: the tone of a grouped message is the harshest of its invoices'.
TONES = ("pre_due", "account_followup", "installment_reminder", "reminder_1", "reminder_2", "final_reminder")


def tone_of(template: str) -> int:
    return TONES.index(template) if template in TONES else len(TONES) - 1


class MessageDue(BaseModel):
    """A case's message step, handed to its customer's account instead of sent by the case."""

    case_id: str
    channel: Literal["email", "phone"]
    request: StepRequest
    speed: float = 1.0  # the case clock's speed (demo cases run days in seconds)
    # The case waits for the next contact day when the account says the customer already had an e-mail that
    # day (since contact-day-v1; older cases cannot, and are sent as before).
    waits_a_day: bool = False
    # the case's customer_invoices_in_batch: how many its import brought (v19); bounded as the case's field is
    in_batch: int | None = Field(default=None, ge=1, le=1_000_000)
    # How many open cases the customer had with this one when it opened (the ledger's count, plus one; v20):
    # with `in_batch`, whether the account has every step that can come due with this one (`every_case_in`).
    customer_cases: int | None = Field(default=None, ge=1, le=1_000_000)


class CaseOpened(BaseModel):
    case_id: Name
    invoice_id: Identifier
    due_date: Day
    currency: Currency


class CustomerHoldNotice(Strict):
    """The account tells each open case that the customer is held or excluded (signal `customer_hold`)."""

    kind: Literal["hold", "exclude"] = "hold"
    reason: Reason
    until: Day | None = None
    by: Name | None = None  # who held the customer (absent from notices sent before it was passed on)


class CustomerReleaseNotice(Strict):
    """The account tells each open case that chasing resumes (signal `customer_release`)."""

    by: Name | None = None


class OpeningResult(BaseModel):
    """What `open_case_counted` and `open_case_quiet` answer: the entries written, and the customer's other open
    cases then (a case with none tries to speak for itself; one with some leaves its messages to the account)."""

    written: int
    others_open: int
    hold: CustomerHoldNotice | None = None  # the customer's hold as the ledger has it (open_case_quiet)


class CaseToOpen(BaseModel):
    """A new case as the workflow has it (its first entries, no policy yet), and the instant it opens at."""

    state: CaseState
    case_id: str
    at: datetime


class OpenedCase(OpeningResult):
    """What `open_new_case` answers: the policy it chose (the workflow takes it as the activity did), and
    `open_case_quiet`'s answer."""

    policy: Policy


class HoldChange(BaseModel):
    """What `set_customer_hold` records for a customer: its account's hold, or None when it ends."""

    customer_id: str
    hold: CustomerHoldNotice | None = None


class CaseClosed(BaseModel):
    case_id: Name
    outcome: ShortText


class MessageOutcome(BaseModel):
    step_id: str
    result: StepResult


class OutcomeToTell(BaseModel):
    case_id: str
    outcome: MessageOutcome


class CaseUnreachable(BaseModel):
    """A case that did not take its outcome: it has closed meanwhile (no longer listens, no longer needs to)."""

    case_id: str
    detail: str


class CustomerBatch(BaseModel):
    customer_id: str
    number: int
    items: list[MessageDue]

    @property
    def key(self) -> str:
        """The batch's idempotency key: the same items always make the same key, so a retry never sends twice."""
        digest = sha256("|".join(sorted(i.request.idempotency_key for i in self.items)).encode()).hexdigest()[:16]
        return f"customer-{self.customer_id}:batch-{digest}"


class CaseView(BaseModel):
    """A case as the account reads it, right before deciding on money."""

    case_id: str
    invoice_id: str
    due_date: date
    balance: Decimal
    stage: str
    closed: bool


# ---- customer-level ops actions ---------------------------------------------------------------------


class HoldCustomer(Action):
    name: ClassVar[str] = "hold"
    reason: Reason
    until: Day | None = None


class ReleaseCustomer(Action):
    name: ClassVar[str] = "release"


class ExcludeCustomer(Action):
    name: ClassVar[str] = "exclude"
    reason: Reason


class IncludeCustomer(Action):
    name: ClassVar[str] = "include"


class UnallocatedPayment(Action):
    name: ClassVar[str] = "unallocated_payment_received"
    amount: Amount
    paid_on: Day
    # each invoice it pays gets the reference "<reference>/<invoice id>", which must fit a case's reference
    reference: Identifier

    @model_validator(mode="after")
    def _cents(self) -> "UnallocatedPayment":
        if self.amount != self.amount.quantize(Decimal("0.01")):
            raise ValueError(f"amount {self.amount} has more than 2 decimals")
        return self


ACCOUNT_ACTIONS: tuple[type[Action], ...] = (
    HoldCustomer,
    ReleaseCustomer,
    ExcludeCustomer,
    IncludeCustomer,
    UnallocatedPayment,
)


class AccountHold(BaseModel):
    kind: Literal["hold", "exclude"]
    reason: str
    since: datetime
    until: date | None = None
    by: str | None = None  # who held or excluded the customer; each case records it too

    def notice(self) -> CustomerHoldNotice:
        """The hold as its cases take it: signalled to each, and kept in the ledger for those that open."""
        return CustomerHoldNotice(kind=self.kind, reason=self.reason, until=self.until, by=self.by)


class Allocation(BaseModel):
    case_id: str
    invoice_id: str
    amount: Decimal


class AccountState(BaseModel):
    customer_id: str
    cases: dict[str, CaseOpened] = Field(default_factory=dict)  # open cases only
    pending: list[MessageDue] = Field(default_factory=list)
    answered: dict[str, StepResult] = Field(default_factory=dict)  # by step key, for cases that ask again
    hold: AccountHold | None = None
    batches: int = 0
    payments: list[str] = Field(default_factory=list)  # unallocated payment references
    credit: Decimal = Decimal("0")  # money received beyond every open balance
    emailed_on: date | None = None  # the customer's (policy calendar's) last day an e-mail left for them
    continue_as_new_after: int = 10_000  # history events; tests set it low
    history: list[HistoryEntry] = Field(default_factory=list)

    def record(self, now: datetime, event: str, detail: str, by: str | None = None, **data: Any) -> None:
        self.history.append(HistoryEntry(at=now, event=event, detail=detail, by=by, data=data))
        del self.history[:-200]  # the account is long-lived: keep its recent history only


def read_account_start(args: Sequence[Any], *, workflow_id: str, continued: bool) -> AccountState:
    """An account starts from `[customer_id]` (or `[customer_id, None]`); carried state only on a continued run."""
    if not args or len(args) > 2:
        raise Rejected(f"start CustomerAccount with one argument, the customer id; got {len(args)} arguments")
    customer_id, carried = args[0], args[1] if len(args) == 2 else None
    try:
        customer_id = TypeAdapter(Identifier).validate_python(customer_id)
    except ValidationError as err:
        raise Rejected(f"customer id: {explain(err)}") from None
    if workflow_id != account_id(customer_id):
        raise Rejected(f"workflow id must be {account_id(customer_id)!r}")
    if carried is None:
        return AccountState(customer_id=customer_id)
    if not continued:
        raise Rejected("a new account cannot start from carried state")
    try:
        return AccountState.model_validate(carried)
    except ValidationError as err:
        raise Rejected(f"carried state: {explain(err)}") from None


def check_account_action(state: AccountState, action: Action, today: date) -> None:
    """Raise Rejected with a clear reason when a customer-level action does not fit the account now."""
    hold = state.hold
    match action:
        case HoldCustomer():
            if hold is not None and hold.kind == "exclude":
                raise Rejected(f"the customer is excluded from chasing ({hold.reason}); include it first")
            if action.until is not None and action.until <= today:
                raise Rejected(f"until {action.until} must be after today ({today})")
        case ExcludeCustomer():
            if hold is not None and hold.kind == "exclude":
                raise Rejected(f"the customer is already excluded ({hold.reason})")
        case ReleaseCustomer():
            if hold is None or hold.kind != "hold":
                raise Rejected("the customer is not on hold")
        case IncludeCustomer():
            if hold is None or hold.kind != "exclude":
                raise Rejected("the customer is not excluded")
        case UnallocatedPayment():
            if action.reference in state.payments:
                raise Rejected(f"payment reference {action.reference!r} is already recorded for this customer")
            if action.paid_on > today:
                raise Rejected(f"paid_on {action.paid_on} is in the future (today is {today})")
            # whether the customer has an open case is read from the ledger when the payment is spread


def every_case_in(pending: Sequence[MessageDue]) -> bool:
    """Whether the account already has a step from every case of the customer that can come due with these (since
    account-tells-v1): each case says how many its import brought (`in_batch`) and how many open cases the customer
    had with it when it opened (`customer_cases`); with a step from as many cases as the largest of those, no other
    case is open to join, and the message need not wait the gathering. A case that says neither may have
    siblings it does not know of (an older case, a case opened first): the account gathers as before."""
    if not pending or any(item.in_batch is None or item.customer_cases is None for item in pending):
        return False
    wanted = max(max(item.in_batch or 1, item.customer_cases or 1) for item in pending)
    return len({item.case_id for item in pending}) >= wanted


def import_gathered(pending: Sequence[MessageDue]) -> bool:
    """Whether the account has a step from as many cases as the largest import among them brought of the
    customer (unknown counts as one): then one message can cover them all, else it waits (GATHER_IMPORT)."""
    wanted = max((item.in_batch or 1 for item in pending), default=1)
    return len({item.case_id for item in pending}) >= wanted


def held_for_next_day(state: AccountState, items: list[MessageDue]) -> tuple[list[MessageDue], list[MessageDue]]:
    """The items to send now, and those that wait for the customer's next contact day: e-mails that reached
    the account after that day's e-mail left (a case started late, a worker restarted during the morning's
    starts). A second call task the same day joins the day's task instead (`send_customer_messages`)."""
    send: list[MessageDue] = []
    wait: list[MessageDue] = []
    for item in items:
        late = item.channel == "email" and item.waits_a_day and item.request.as_of == state.emailed_on
        (wait if late else send).append(item)
    return send, wait


def contacted_today(customer_id: str, day: date | None) -> StepResult:
    """The answer to a message step held for the next contact day (the account's, a lone case's, a claim's)."""
    detail = f"customer {customer_id} already had an e-mail on {day}"
    return StepResult(status="deferred", detail=detail, error_type=CONTACTED_TODAY)


def note_sent(state: AccountState, items: list[MessageDue], results: list[StepResult]) -> None:
    """Remember the last day an e-mail left for the customer, from a batch's results."""
    for item, result in zip(items, results, strict=True):
        if item.channel == "email" and result.status in ("sent", "already_done", "in_doubt"):
            state.emailed_on = max(state.emailed_on or item.request.as_of, item.request.as_of)


def allocate_oldest_first(amount: Decimal, cases: list[CaseView]) -> tuple[list[Allocation], Decimal]:
    """Spread a payment over open balances, oldest due date first; what is left over is a credit."""
    left = amount
    allocations = []
    for case in sorted(cases, key=lambda c: (c.due_date, c.invoice_id)):
        if left <= 0:
            break
        if case.closed or case.balance <= 0:
            continue
        share = min(left, case.balance)
        allocations.append(Allocation(case_id=case.case_id, invoice_id=case.invoice_id, amount=share))
        left -= share
    return allocations, left
