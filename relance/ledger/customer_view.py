"""One customer seen from the ledger: open cases, balance, and how they have paid so far.

These figures are what a sales person checks before a visit and what a later risk score reads; they
come from the ledger (exact money) rather than visibility (which only knows doubles).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, Engine, func, select, type_coerce
from sqlalchemy.orm import Session

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


# From the gravest: what a sales person must know before a visit.
STANDINGS = (
    ("agency", "at a collection agency"),
    ("court", "in court"),
    ("formal_notice", "in formal notice"),
    ("disputed", "in dispute"),
    ("customer_hold", "on hold"),
    ("paused", "on hold"),
)


def standing_of(open_cases: list[OpenCase]) -> str:
    stages = {c.stage for c in open_cases}
    for stage, words in STANDINGS:
        if stage in stages:
            return words
    return "overdue" if any(c.days_late > 0 for c in open_cases) else "good standing"


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
                CaseRow.customer_id == customer_id, CaseRow.outcome.is_(None), CaseRow.due_date < as_of
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


def _mean(values: list[int]) -> Decimal | None:
    return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"), ROUND_HALF_UP) if values else None


def customer_view(engine: Engine, customer_id: str, as_of: date) -> CustomerView:
    """Average days late: per payment (paid on minus due date, 0 when on time), and per open overdue invoice."""
    with Session(engine) as session:
        cases = session.scalars(
            select(CaseRow).where(CaseRow.customer_id == customer_id).order_by(CaseRow.due_date, CaseRow.invoice_id)
        ).all()
        if not cases:
            raise UnknownCustomer(f"no case for customer {customer_id} in the ledger")
        case_ids = [c.case_id for c in cases]
        balances = session.execute(
            select(CaseRow.currency, func.sum(type_coerce(CaseRow.balance, BigInteger)))
            .where(CaseRow.customer_id == customer_id, CaseRow.outcome.is_(None))
            .group_by(CaseRow.currency)
            .order_by(CaseRow.currency)
        ).all()
        counted = dict(
            session.execute(
                select(CaseEvent.event, func.count()).where(CaseEvent.case_id.in_(case_ids)).group_by(CaseEvent.event)
            ).all()
        )
    behaviour = payment_behaviour(engine, customer_id, as_of)
    open_cases = [
        OpenCase(c.invoice_id, c.currency, c.amount, c.balance, c.due_date, max(0, (as_of - c.due_date).days), c.stage)
        for c in cases
        if c.outcome is None
    ]
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
