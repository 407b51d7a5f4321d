"""What the ledger knows for bank reconciliation: entries already applied, what earlier payments taught
about payers, the invoices a credit may pay, and the entry a returned payment undoes."""

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.domain.remittance import KnownPayment, Learned, OpenItem, normalize_iban, normalize_name
from relance.ledger.db import BankEntryRow, CaseRow, PaymentRow

TEACHING = ("paid", "split", "unallocated")  # decisions whose payer is known for sure


def kept_entries(engine: Engine, account: str, keys: list[str], bank_reference: str | None) -> list[BankEntryRow]:
    """The entries already kept that may be a new one: under one of its keys (or a part of it: `key/n`), or
    with the same bank reference."""
    under: list[ColumnElement[bool]] = [BankEntryRow.reference.in_(keys)]
    under += [BankEntryRow.reference.startswith(f"{key}/", autoescape=True) for key in keys]
    if bank_reference:
        under.append(BankEntryRow.bank_reference == bank_reference)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(BankEntryRow).where(BankEntryRow.account == account, or_(*under))).all())


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


def known_payments(engine: Engine) -> list[KnownPayment]:
    """Every payment a case holds and has not given back, with the end-to-end id of the credit that brought
    it when the bank did: what a returned payment may undo. A bank credit's payments count from its import
    on, before their cases have written them to the ledger."""
    with Session(engine) as session:
        rows = session.execute(
            select(CaseRow.invoice_id, CaseRow.customer_id, PaymentRow.reference, PaymentRow.amount,
                   PaymentRow.currency, PaymentRow.case_id)
            .join(CaseRow, CaseRow.case_id == PaymentRow.case_id)
        ).all()  # fmt: skip
        credits = session.execute(
            select(BankEntryRow.allocations, BankEntryRow.end_to_end_id, BankEntryRow.customer_id,
                   BankEntryRow.currency)
            .where(BankEntryRow.credit.is_(True), BankEntryRow.decision.in_(("paid", "split")))
        ).all()  # fmt: skip
        returned = session.scalars(select(BankEntryRow.allocations).where(BankEntryRow.decision == "return")).all()
    gone = {(i, ref.removesuffix(" (reversed)")) for i, _, ref, amount, *_ in rows if amount < 0}
    gone |= {(invoice, reference) for allocations in returned for invoice, _, reference in allocations or []}
    found: dict[tuple[str, str], KnownPayment] = {}
    for allocations, end_to_end, customer, currency in credits:
        for invoice, amount, reference in allocations or []:
            found[(invoice, reference)] = KnownPayment(
                invoice, customer or "", reference, Decimal(amount), currency, end_to_end
            )
    for invoice, customer, reference, amount, currency, _ in rows:
        if amount > 0 and (invoice, reference) not in found:
            found[(invoice, reference)] = KnownPayment(invoice, customer, reference, Decimal(amount), currency)
    return [p for key, p in found.items() if key not in gone]


def payment_recorded(engine: Engine, invoice_id: str, reference: str) -> bool:
    """Whether the ledger already has this payment on the invoice's case (a provider that posts again)."""
    with Session(engine) as session:
        found = session.scalar(
            select(PaymentRow.id).where(
                PaymentRow.case_id == f"invoice-{invoice_id}", PaymentRow.reference == reference
            )
        )
    return found is not None
