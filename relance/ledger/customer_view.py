"""One customer seen from the ledger: open cases, balance, and how they have paid so far.

These figures are what a sales person checks before a visit and what a later risk score reads; they
come from the ledger (exact money) rather than visibility (which only knows doubles).
"""

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, Engine, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from relance.domain.conversation import CONVERSATION, Exchange, exchange_of
from relance.domain.risk import PaymentBehaviour, RiskAssessment, assess
from relance.ledger.db import CaseEvent, CaseRow, PaymentRow, from_minor


class UnknownCustomer(Exception):
    pass


@dataclass(frozen=True)
class OpenCase:
    invoice_id: str
    currency: str
    amount: Decimal
    balance: Decimal
    due_date: date
    days_late: int
    stage: str
    issue_date: date | None = None


@dataclass(frozen=True)
class CustomerView:
    customer_id: str
    name: str
    as_of: date
    open_cases: list[OpenCase]
    balance: dict[str, Decimal]
    cases: int
    payments: int
    average_days_late_paid: Decimal | None
    average_days_late_open: Decimal | None
    promises_made: int
    promises_kept: int
    promises_broken: int
    disputes_opened: int
    disputes_open: int
    standing: str
    risk: RiskAssessment
    lateness_causes: dict[str, int]  # cases per cause of lateness (relance.domain.lateness)
    good_standing_since: date | None  # in good standing: since the last of its cases closed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# From the gravest: what a sales person must know before a visit (case stage -> standing).
STANDINGS = (
    ("agency", "agency"),
    ("court", "court"),
    ("formal_notice", "formal_notice"),
    ("disputed", "disputed"),
    ("customer_hold", "on_hold"),
    ("paused", "on_hold"),
)
STANDING_WORDS = {
    "agency": "at a collection agency",
    "court": "in court",
    "formal_notice": "in formal notice",
    "disputed": "in dispute",
    "on_hold": "on hold",
    "overdue": "overdue",
    "good": "good standing",
}


def standing_code(open_cases: list[OpenCase]) -> str:
    """One of STANDING_WORDS: the gravest stage among the open cases, else overdue or good."""
    stages = {c.stage for c in open_cases}
    for stage, code in STANDINGS:
        if stage in stages:
            return code
    return "overdue" if any(c.days_late > 0 for c in open_cases) else "good"


def standing_of(open_cases: list[OpenCase]) -> str:
    return STANDING_WORDS[standing_code(open_cases)]


def payment_behaviour(engine: Engine, customer_id: str, as_of: date) -> PaymentBehaviour:
    """What the risk score reads: every payment's days late (oldest first), promises, disputes, overdue money."""
    with Session(engine) as session:
        paid = session.execute(
            select(PaymentRow.paid_on, CaseRow.due_date)
            .join(CaseRow, CaseRow.case_id == PaymentRow.case_id)
            .where(CaseRow.customer_id == customer_id, PaymentRow.paid_on <= as_of)
            .order_by(PaymentRow.paid_on, PaymentRow.id)
        ).all()
        first = session.scalar(select(func.min(CaseRow.issue_date)).where(CaseRow.customer_id == customer_id))
        overdue = session.scalar(
            select(func.coalesce(func.sum(type_coerce(CaseRow.balance, BigInteger)), 0)).where(
                *CaseRow.open_of(customer_id), CaseRow.due_date < as_of
            )
        )
        causes = session.scalars(
            select(CaseRow.lateness_cause)
            .where(CaseRow.customer_id == customer_id, CaseRow.lateness_cause.is_not(None))
            .order_by(CaseRow.due_date, CaseRow.case_id)
        ).all()
        counted = dict(
            session.execute(
                select(CaseEvent.event, func.count())
                .join(CaseRow, CaseRow.case_id == CaseEvent.case_id)
                .where(CaseRow.customer_id == customer_id, CaseEvent.event.in_(("promise_broken", "dispute_opened")))
                .group_by(CaseEvent.event)
            ).all()
        )
    return PaymentBehaviour(
        as_of=as_of,
        first_invoice_on=first,
        days_late_per_payment=[max(0, (paid_on - due).days) for paid_on, due in paid],
        broken_promises=counted.get("promise_broken", 0),
        disputes=counted.get("dispute_opened", 0),
        overdue_balance=from_minor(overdue or 0),
        lateness_causes=[c for c in causes if c is not None],
    )


def _good_since(open_cases: list[OpenCase], cases: Sequence[CaseRow]) -> date | None:
    """The day a customer in good standing got there: when its last closed case closed (None: never late)."""
    if standing_of(open_cases) != "good standing":
        return None
    closed = [c.closed_at for c in cases if c.closed_at is not None]
    return max(closed).date() if closed else None


def _cases_of(session: Session, customer_id: str) -> Sequence[CaseRow]:
    """Every case of the customer in the ledger, by due date; UnknownCustomer when there is none."""
    cases = session.scalars(
        select(CaseRow).where(CaseRow.customer_id == customer_id).order_by(CaseRow.due_date, CaseRow.invoice_id)
    ).all()
    if not cases:
        raise UnknownCustomer(f"no case for customer {customer_id} in the ledger")
    return cases


def _open_cases(cases: Sequence[CaseRow], as_of: date) -> list[OpenCase]:
    return [
        OpenCase(
            c.invoice_id,
            c.currency,
            c.amount,
            c.balance,
            c.due_date,
            max(0, (as_of - c.due_date).days),
            c.stage,
            c.issue_date,
        )
        for c in cases
        if c.outcome is None
    ]


def _mean(values: list[int]) -> Decimal | None:
    return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"), ROUND_HALF_UP) if values else None


def customer_view(engine: Engine, customer_id: str, as_of: date) -> CustomerView:
    """Average days late: per payment (paid on minus due date, 0 when on time), and per open overdue invoice."""
    with Session(engine) as session:
        cases = _cases_of(session, customer_id)
        case_ids = [c.case_id for c in cases]
        balances = session.execute(
            select(CaseRow.currency, func.sum(type_coerce(CaseRow.balance, BigInteger)))
            .where(*CaseRow.open_of(customer_id))
            .group_by(CaseRow.currency)
            .order_by(CaseRow.currency)
        ).all()
        counted = dict(
            session.execute(
                select(CaseEvent.event, func.count()).where(CaseEvent.case_id.in_(case_ids)).group_by(CaseEvent.event)
            ).all()
        )
    behaviour = payment_behaviour(engine, customer_id, as_of)
    open_cases = _open_cases(cases, as_of)
    return CustomerView(
        customer_id=customer_id,
        name=cases[-1].customer_name,
        as_of=as_of,
        open_cases=open_cases,
        balance={currency: from_minor(total) for currency, total in balances},
        cases=len(cases),
        payments=len(behaviour.days_late_per_payment),
        average_days_late_paid=_mean(behaviour.days_late_per_payment),
        average_days_late_open=_mean([c.days_late for c in open_cases if c.days_late > 0]),
        promises_made=counted.get("promise_to_pay", 0),
        promises_kept=counted.get("promise_kept", 0),
        promises_broken=counted.get("promise_broken", 0),
        disputes_opened=counted.get("dispute_opened", 0),
        disputes_open=sum(1 for c in open_cases if c.stage == "disputed"),
        standing=standing_of(open_cases),
        good_standing_since=_good_since(open_cases, cases),
        risk=assess(behaviour),
        lateness_causes={
            cause: behaviour.lateness_causes.count(cause) for cause in sorted(set(behaviour.lateness_causes))
        },
    )


# ---- what sales see: a customer found by name or id, and its standing at a glance --------------------------


@dataclass(frozen=True)
class CustomerMatch:
    customer_id: str
    name: str
    open_cases: int


def search_customers(engine: Engine, text: str, limit: int = 20) -> list[CustomerMatch]:
    """Customers whose id or name contains `text` (any case), those with open cases first."""
    needle = text.strip().lower()
    if not needle:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    open_count = func.sum(case((CaseRow.outcome.is_(None), 1), else_=0))
    with Session(engine) as session:
        rows = session.execute(
            select(CaseRow.customer_id, func.max(CaseRow.customer_name), open_count)
            .where(
                or_(
                    func.lower(CaseRow.customer_id).like(pattern, escape="\\"),
                    func.lower(CaseRow.customer_name).like(pattern, escape="\\"),
                )
            )
            .group_by(CaseRow.customer_id)
            .order_by(open_count.desc(), func.max(CaseRow.customer_name), CaseRow.customer_id)
            .limit(limit)
        ).all()
    return [CustomerMatch(customer_id, name, int(count or 0)) for customer_id, name, count in rows]


@dataclass(frozen=True)
class Due:
    due_on: date
    amount: Decimal


@dataclass(frozen=True)
class Arrangement:
    """An open promise to pay or payment plan, as the case recorded it when it was agreed."""

    invoice_id: str
    kind: str  # promise | plan
    agreed_at: datetime
    currency: str
    dues: list[Due]  # the promised payment, or each installment


PLAN_LINE = re.compile(r"(\d+(?:\.\d+)?) on (\d{4}-\d{2}-\d{2})")


def _dues(event: str, detail: str, data: dict[str, Any]) -> list[Due]:
    """What was promised: a promise keeps its date and amount as data; a plan's installments are read back from
    the line the case recorded ("payment plan of 2: 600.00 on 2026-12-09, 650.00 on 2026-12-24")."""
    if event == "promise_to_pay" and "promised_on" in data and "amount" in data:
        return [Due(date.fromisoformat(data["promised_on"]), Decimal(data["amount"]))]
    return [Due(date.fromisoformat(day), Decimal(amount)) for amount, day in PLAN_LINE.findall(detail)]


@dataclass(frozen=True)
class StandingCard:
    """What a sales person may know before a visit: no contact details, no history, no amounts per person."""

    customer_id: str
    name: str
    as_of: date
    standing: str  # a key of STANDING_WORDS
    balance: dict[str, Decimal]  # open, per currency
    overdue: dict[str, Decimal]  # open and past its due date, per currency
    oldest_days_late: int
    open_cases: list[OpenCase]
    arrangements: list[Arrangement]
    last_contact_at: datetime | None  # the last message, letter or call task that went to the customer
    good_standing_since: date | None
    # the latest exchanges with the customer on their open invoices (sent, delivered, opened, replied...), oldest
    # first: kinds and steps, a reply's subject, never an address or a text
    conversation: list[Exchange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ARRANGEMENTS = {"promise_to_pay": ("promise_to_pay", "promise"), "payment_plan": ("payment_plan_agreed", "plan")}
# A message, letter or call task that went out, or a promise or plan obtained from the customer.
CONVERSATION_SHOWN = 30
CONTACT_EVENTS = ("step_done", "debtor_informed", "installment_reminder", "promise_to_pay", "payment_plan_agreed")


def standing_card(engine: Engine, customer_id: str, as_of: date) -> StandingCard:
    with Session(engine) as session:
        cases = _cases_of(session, customer_id)
        open_rows = [c for c in cases if c.outcome is None]
        arranged = [c for c in open_rows if c.stage in ARRANGEMENTS]
        arrangements = []
        for row in arranged:
            event, kind = ARRANGEMENTS[row.stage]
            agreed = session.execute(
                select(CaseEvent.at, CaseEvent.detail, CaseEvent.data)
                .where(CaseEvent.case_id == row.case_id, CaseEvent.event == event)
                .order_by(CaseEvent.seq.desc())
                .limit(1)
            ).first()
            if agreed is not None:
                dues = _dues(event, agreed.detail, agreed.data or {})
                arrangements.append(Arrangement(row.invoice_id, kind, agreed.at, row.currency, dues))
        talked = session.execute(
            select(CaseEvent.at, CaseEvent.event, CaseEvent.detail, CaseEvent.data, CaseRow.invoice_id)
            .join(CaseRow, CaseRow.case_id == CaseEvent.case_id)
            .where(*CaseRow.open_of(customer_id))
            .where(CaseEvent.event.in_(list(CONVERSATION)))
            .order_by(CaseEvent.at.desc(), CaseEvent.seq.desc())
            .limit(CONVERSATION_SHOWN)
        ).all()
        conversation = [
            e for r in reversed(talked) if (e := exchange_of(r.invoice_id, r.event, r.detail, r.data or {}, r.at))
        ]
        last_contact = session.scalar(
            select(func.max(CaseEvent.at))
            .join(CaseRow, CaseRow.case_id == CaseEvent.case_id)
            .where(CaseRow.customer_id == customer_id, CaseEvent.event.in_(CONTACT_EVENTS))
        )
    open_cases = _open_cases(open_rows, as_of)
    balance: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for c in sorted(open_cases, key=lambda c: c.currency):
        balance[c.currency] = balance.get(c.currency, Decimal("0.00")) + c.balance
        if c.days_late > 0:
            overdue[c.currency] = overdue.get(c.currency, Decimal("0.00")) + c.balance
    return StandingCard(
        customer_id=customer_id,
        name=cases[-1].customer_name,
        as_of=as_of,
        standing=standing_code(open_cases),
        balance=balance,
        overdue=overdue,
        oldest_days_late=max((c.days_late for c in open_cases), default=0),
        open_cases=open_cases,
        arrangements=arrangements,
        last_contact_at=last_contact,  # max() keeps the column type: an aware UTC datetime on every database
        good_standing_since=_good_since(open_cases, cases),
        conversation=conversation,
    )


def sibling_open_invoices(engine: Engine, invoice_id: str) -> list[str]:
    """The other open invoices of the customer of `invoice_id` (what a customer-wide decision reaches)."""
    with Session(engine) as session:
        customer = session.scalar(select(CaseRow.customer_id).where(CaseRow.invoice_id == invoice_id).limit(1))
        if customer is None:
            return []
        return [
            row.invoice_id
            for row in _cases_of(session, customer)
            if row.outcome is None and row.invoice_id != invoice_id
        ]


def open_cases_of(engine: Engine, customer_id: str, as_of: date) -> tuple[str, list[OpenCase]]:
    """The customer's name and open invoices, by due date (no name and none when the ledger knows no case of
    theirs): what the debtor's own page shows."""
    with Session(engine) as session:
        try:
            cases = _cases_of(session, customer_id)
        except UnknownCustomer:
            return "", []
        return cases[-1].customer_name, _open_cases(cases, as_of)
