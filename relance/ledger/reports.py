"""Receivables reports, computed by SQL in the ledger database (never by loading every row into Python)."""

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, Engine, and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from relance.domain.lateness import DISPUTE_REASONS
from relance.ledger.bank_ledger import TEACHING as AUTOMATIC
from relance.ledger.db import BankEntryRow, CaseEvent, CaseRow, PaymentRow, from_minor

AGING_BUCKETS = ("not yet due", "1-30", "31-60", "61-90", "over 90")


@dataclass(frozen=True)
class Amount:
    label: str
    currency: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Report:
    as_of: date
    aging: list[Amount]
    dso_days: dict[str, Decimal | None]
    recovered_by_stage: list[Amount]
    recovered_by_channel: list[Amount]
    promises_made: int
    promises_kept: int
    promises_broken: int
    promise_kept_rate: Decimal | None
    cases: int
    disputed_cases: int
    dispute_rate: Decimal | None
    dispute_causes: list[tuple[str, int]]
    concessions: list[Amount]  # principal given up by kept settlement offers, per currency
    lateness_causes: list[Amount]  # invoices and their amounts per cause of lateness and currency
    bank_credits: int = 0  # credits imported from bank statements
    bank_matched: int = 0  # of those, applied without a person (paid, split, or to the customer's account)
    bank_match_rate: Decimal | None = None
    # what debtors did on their own page, without a person: promises, plans, disputes, "paid", details
    solved_on_page: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _minor(column: Any) -> Any:
    """A Money column as its stored integer, so that SQL sums stay exact and are scaled back once."""
    return type_coerce(column, BigInteger)


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), ROUND_HALF_UP) if whole else None


def aging(session: Session, as_of: date) -> list[Amount]:
    """Open balances by days past due at `as_of` (buckets by due date, so the SQL is the same everywhere)."""
    bucket = case(
        (CaseRow.due_date >= as_of, AGING_BUCKETS[0]),
        (CaseRow.due_date >= as_of - timedelta(days=30), AGING_BUCKETS[1]),
        (CaseRow.due_date >= as_of - timedelta(days=60), AGING_BUCKETS[2]),
        (CaseRow.due_date >= as_of - timedelta(days=90), AGING_BUCKETS[3]),
        else_=AGING_BUCKETS[4],
    ).label("bucket")
    rows = session.execute(
        select(bucket, CaseRow.currency, func.count(), func.sum(_minor(CaseRow.balance)))
        .where(CaseRow.outcome.is_(None), CaseRow.balance > 0, CaseRow.issue_date <= as_of)
        .group_by(bucket, CaseRow.currency)
    ).all()
    found = {(r[0], r[1]): Amount(r[0], r[1], r[2], from_minor(r[3])) for r in rows}
    currencies = sorted({r[1] for r in rows})
    return [found.get((b, c), Amount(b, c, 0, Decimal("0.00"))) for c in currencies for b in AGING_BUCKETS]


def dso(session: Session, as_of: date, period_days: int = 90) -> dict[str, Decimal | None]:
    """Days sales outstanding per currency: open receivables / sales of the period x days in the period."""
    start = as_of - timedelta(days=period_days)
    open_balance = func.sum(case((CaseRow.outcome.is_(None), _minor(CaseRow.balance)), else_=0))
    sales = func.sum(
        case((and_(CaseRow.issue_date > start, CaseRow.issue_date <= as_of), _minor(CaseRow.amount)), else_=0)
    )
    result: dict[str, Decimal | None] = {}
    for currency, receivable, sold in session.execute(
        select(CaseRow.currency, open_balance, sales).group_by(CaseRow.currency).order_by(CaseRow.currency)
    ):
        result[currency] = (
            (Decimal(receivable) / Decimal(sold) * period_days).quantize(Decimal("0.1"), ROUND_HALF_UP)
            if sold
            else None
        )
    return result


def recovered(session: Session, column: Any, until: date) -> list[Amount]:
    label = func.coalesce(column, "none")
    rows = session.execute(
        select(label, PaymentRow.currency, func.count(), func.sum(_minor(PaymentRow.amount)))
        .where(PaymentRow.paid_on <= until)
        .group_by(label, PaymentRow.currency)
        .order_by(label, PaymentRow.currency)
    ).all()
    return [Amount(r[0], r[1], r[2], from_minor(r[3])) for r in rows]


def open_cases_by_stage(engine: Engine) -> dict[str, int]:
    """How many open cases stand at each stage the ledger knows (the dashboard's gauge): 0 where none stands,
    so that a stage shows even when its cases came and went between two readings."""
    with Session(engine) as session:
        rows = session.execute(
            select(CaseRow.stage, func.count(case((CaseRow.outcome.is_(None), 1)))).group_by(CaseRow.stage)
        )
        return {stage: count for stage, count in rows}


def event_counts(session: Session, names: tuple[str, ...]) -> dict[str, int]:
    rows = session.execute(
        select(CaseEvent.event, func.count()).where(CaseEvent.event.in_(names)).group_by(CaseEvent.event)
    ).all()
    return {name: dict(rows).get(name, 0) for name in names}


def build_report(engine: Engine, as_of: date) -> Report:
    with Session(engine) as session:
        promises = event_counts(session, ("promise_to_pay", "promise_kept", "promise_broken"))
        cases = session.scalar(select(func.count()).select_from(CaseRow)) or 0
        disputed = (
            session.scalar(
                select(func.count(func.distinct(CaseEvent.case_id))).where(CaseEvent.event == "dispute_opened")
            )
            or 0
        )
        causes = session.execute(
            select(CaseEvent.detail, func.count())
            .where(CaseEvent.event == "dispute_opened")
            .group_by(CaseEvent.detail)
            .order_by(func.count().desc(), CaseEvent.detail)
        ).all()
        settled = promises["promise_kept"] + promises["promise_broken"]
        return Report(
            as_of=as_of,
            aging=aging(session, as_of),
            dso_days=dso(session, as_of),
            recovered_by_stage=recovered(session, PaymentRow.stage, as_of),
            recovered_by_channel=recovered(session, PaymentRow.channel, as_of),
            promises_made=promises["promise_to_pay"],
            promises_kept=promises["promise_kept"],
            promises_broken=promises["promise_broken"],
            promise_kept_rate=_rate(promises["promise_kept"], settled),
            cases=cases,
            disputed_cases=disputed,
            dispute_rate=_rate(disputed, cases),
            dispute_causes=[(_cause(detail), count) for detail, count in causes],
            concessions=concessions(session),
            lateness_causes=lateness_causes(session),
            solved_on_page=solved_on_page(session),
            **bank_matching(session),
        )


PAGE_EVENTS = {
    "promise_to_pay": "promises",
    "payment_plan_agreed": "plans",
    "dispute_opened": "disputes",
    "paused": "said paid",
    "contact_updated": "details",
}


def solved_on_page(session: Session) -> dict[str, int]:
    """What debtors recorded themselves on their page (the action's `by` is "debtor (<address>)"), by kind."""
    rows = session.execute(
        select(CaseEvent.event, func.count())
        .where(CaseEvent.by.like("debtor (%"), CaseEvent.event.in_(list(PAGE_EVENTS)))
        .group_by(CaseEvent.event)
    ).all()
    counted = dict(rows)
    return {label: counted.get(event, 0) for event, label in PAGE_EVENTS.items()}


def concessions(session: Session) -> list[Amount]:
    """What settlements kept gave up, per currency (cases closed as settled)."""
    rows = session.execute(
        select(CaseRow.currency, func.count(), func.sum(_minor(CaseRow.conceded)))
        .where(CaseRow.outcome == "settled")
        .group_by(CaseRow.currency)
        .order_by(CaseRow.currency)
    ).all()
    return [Amount("settled", currency, count, from_minor(total or 0)) for currency, count, total in rows]


def bank_matching(session: Session) -> dict[str, Any]:
    """How many customers' bank credits were applied without a person (the rest went to a task); our own money
    coming back (`ours_back`) is no customer's credit."""
    counted = dict(
        session.execute(
            select(BankEntryRow.decision, func.count())
            .where(BankEntryRow.credit.is_(True), BankEntryRow.decision != "ours_back")
            .group_by(BankEntryRow.decision)
        ).all()
    )
    credits = sum(counted.values())
    matched = sum(counted.get(d, 0) for d in AUTOMATIC)
    return {"bank_credits": credits, "bank_matched": matched, "bank_match_rate": _rate(matched, credits)}


def lateness_causes(session: Session) -> list[Amount]:
    """Why invoices are paid late, as people recorded it: invoices and their amounts per cause."""
    rows = session.execute(
        select(CaseRow.lateness_cause, CaseRow.currency, func.count(), func.sum(_minor(CaseRow.amount)))
        .where(CaseRow.lateness_cause.is_not(None))
        .group_by(CaseRow.lateness_cause, CaseRow.currency)
        .order_by(func.count().desc(), CaseRow.lateness_cause, CaseRow.currency)
    ).all()
    return [Amount(cause, currency, count, from_minor(total or 0)) for cause, currency, count, total in rows]


def _cause(detail: str) -> str:
    """The dispute's reason: a debtor's page reason alone (their words after it vary), else the whole text."""
    reason = detail.removeprefix("dispute opened: ").removesuffix("; chasing paused")
    listed, colon, _ = reason.partition(": ")
    return listed if colon and listed in DISPUTE_REASONS["fr"].values() else reason


def aging_chart(rows: list[Amount], path: str) -> None:
    """The aging balance as a bar chart (PNG), one bar group per currency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    currencies = sorted({r.currency for r in rows})
    width = 0.8 / max(1, len(currencies))
    for n, currency in enumerate(currencies):
        values = [float(r.amount) for r in rows if r.currency == currency]  # drawing only, never arithmetic
        positions = [i + n * width for i in range(len(AGING_BUCKETS))]
        axis.bar(positions, values, width=width, label=currency, color="#2f6690")
    axis.set_xticks([i + width * (len(currencies) - 1) / 2 for i in range(len(AGING_BUCKETS))], AGING_BUCKETS)
    axis.set_ylabel("open balance")
    axis.set_xlabel("days past due")
    axis.set_title("Aging balance")
    if len(currencies) > 1:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
