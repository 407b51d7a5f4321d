"""What the ledger knows for bank reconciliation: entries already applied, what earlier payments taught
about payers, the invoices a credit may pay, and the entry a returned payment undoes."""

from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.domain.remittance import Learned, OpenItem, normalize_iban, normalize_name
from relance.ledger.db import BankEntryRow, CaseRow, Task

TEACHING = ("paid", "split", "unallocated")  # decisions whose payer is known for sure


def seen(engine: Engine, account: str, reference: str) -> bool:
    with Session(engine) as session:
        found = session.scalar(
            select(BankEntryRow.id).where(BankEntryRow.account == account, BankEntryRow.reference == reference)
        )
        return found is not None


def record_entry(engine: Engine, **fields: Any) -> bool:
    """Keep the entry and its decision; False when another import recorded it first."""
    try:
        with Session(engine) as session, session.begin():
            session.add(BankEntryRow(**fields))
        return True
    except IntegrityError:
        return False


def learned(engine: Engine) -> Learned:
    """Which customer pays from which account and under which name, from entries already matched."""
    with Session(engine) as session:
        rows = session.execute(
            select(BankEntryRow.debtor_iban, BankEntryRow.debtor_name, BankEntryRow.customer_id).where(
                BankEntryRow.decision.in_(TEACHING), BankEntryRow.customer_id.is_not(None)
            )
        ).all()
    ibans = {normalize_iban(i): c for i, _, c in rows if i and c}
    names = {normalize_name(n): c for _, n, c in rows if n and c}
    return Learned(ibans=ibans, names=names)


def ledger_items(engine: Engine) -> list[OpenItem]:
    """Every invoice the ledger knows (closed ones too: their money is a credit, never lost)."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                CaseRow.invoice_id, CaseRow.customer_id, CaseRow.currency, CaseRow.balance, CaseRow.due_date,
                CaseRow.outcome,
            )
        ).all()  # fmt: skip
    return [OpenItem(i, c, cur, bal, due, closed=out is not None) for i, c, cur, bal, due, out in rows]


def original_credit(engine: Engine, account: str, end_to_end_id: str | None) -> BankEntryRow | None:
    """The credit a returned payment undoes, known by its end-to-end id."""
    if not end_to_end_id:
        return None
    with Session(engine) as session:
        return session.scalar(
            select(BankEntryRow)
            .where(
                BankEntryRow.account == account,
                BankEntryRow.end_to_end_id == end_to_end_id,
                BankEntryRow.credit.is_(True),
            )
            .order_by(BankEntryRow.id)
        )


def create_review_task(
    engine: Engine, key: str, script: str, *, invoice_id: str, customer_id: str, due_on: date, kind: str = "bank"
) -> int:
    """A task for a person to settle an entry the matching could not (keyed, so a second import finds it)."""
    with Session(engine) as session, session.begin():
        existing = session.scalar(select(Task.id).where(Task.key == key))
        if existing is not None:
            return existing
        task = Task(
            key=key,
            kind=kind,
            case_id=f"invoice-{invoice_id}" if invoice_id else "",
            invoice_id=invoice_id,
            step_id="bank",
            customer_id=customer_id,
            customer_name=customer_id,
            phone=None,
            script=script,
            due_on=due_on,
            assignee="collections",
        )
        session.add(task)
        session.flush()
        return task.id
