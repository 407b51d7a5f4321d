"""E-invoices in the ledger: the invoices and credit notes that came as e-invoices, the statuses the platforms
sent, and the CDAR we owe them (the "212 Encaissée" queued with each payment, in the same transaction as the
payment's row, then written out and posted by relance/einvoicing/outbox.py)."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relance.domain.einvoicing import split_by_vat
from relance.einvoicing.cdar import Party, cdar_212, check_cdar
from relance.einvoicing.invoices import EInvoice
from relance.ledger.db import Document, EInvoiceOutboxRow, EInvoiceRow, EInvoiceStatusRow


def keep_einvoice(engine: Engine, invoice: EInvoice, document: str | None, sha256: str) -> bool:
    """The e-invoice's row (False: the same invoice number was kept before, which is left as it was), and its PDF
    as the case's document."""
    b = invoice.buyer
    row = EInvoiceRow(
        invoice_id=invoice.number, kind="credit_note" if invoice.credit_note else "invoice", format=invoice.format,
        type_code=invoice.type_code[:3], customer_id=b.customer_id, buyer_name=b.name[:300], siren=b.siren,
        electronic_address=b.electronic_address, currency=invoice.currency, total=invoice.total,
        issue_date=invoice.issue_date,
        vat=[{"rate": str(v.rate), "base": str(v.base), "tax": str(v.tax), "category": v.category}
             for v in invoice.vat],
        corrects=invoice.preceding[0] if invoice.credit_note and invoice.preceding else None, document=document,
        sha256=sha256,
    )  # fmt: skip
    try:
        with Session(engine) as session, session.begin():
            session.add(row)
            if document is not None and not invoice.credit_note:
                session.add(
                    Document(
                        case_id=f"invoice-{invoice.number}",
                        step_id="import",
                        kind="invoice",
                        path=document,
                        created_at=datetime.now(UTC),
                    )
                )
    except IntegrityError:
        return False
    return True


def known_einvoice(engine: Engine, invoice_id: str) -> EInvoiceRow | None:
    with Session(engine) as session:
        return session.get(EInvoiceRow, invoice_id)


def invoice_document(engine: Engine, invoice_id: str) -> str | None:
    """The imported invoice's PDF (its path in the documents store), when one came with it."""
    with Session(engine) as session:
        return session.scalar(
            select(Document.path)
            .where(Document.case_id == f"invoice-{invoice_id}", Document.kind == "invoice")
            .order_by(Document.id)
            .limit(1)
        )


def with_documents(engine: Engine, invoice_ids: list[str]) -> set[str]:
    """Which of these invoices came with their PDF (one query for a page's whole list)."""
    if not invoice_ids:
        return set()
    cases = {f"invoice-{invoice_id}": invoice_id for invoice_id in invoice_ids}
    with Session(engine) as session:
        found = session.scalars(select(Document.case_id).where(Document.case_id.in_(cases), Document.kind == "invoice"))
        return {cases[case_id] for case_id in found}


def record_status(
    engine: Engine, *, status_id: str, invoice_id: str, code: str, reason_code: str | None, note: str | None,
    amount: Decimal | None, at: datetime, outcome: str, detail: str,
) -> bool:  # fmt: skip
    """The status, once (False: it was recorded before)."""
    try:
        with Session(engine) as session, session.begin():
            session.add(
                EInvoiceStatusRow(
                    status_id=status_id,
                    invoice_id=invoice_id,
                    code=code,
                    reason_code=reason_code,
                    note=note,
                    amount=amount,
                    at=at,
                    outcome=outcome,
                    detail=detail,
                )
            )
    except IntegrityError:
        return False
    return True


def status_seen(engine: Engine, status_id: str) -> bool:
    with Session(engine) as session:
        return session.scalar(select(EInvoiceStatusRow.id).where(EInvoiceStatusRow.status_id == status_id)) is not None


@dataclass(frozen=True)
class Seller:
    """Who we are to the platforms: the 212's issuer."""

    siren: str
    name: str
    electronic_address: str | None


def queue_encaissee(
    session: Session, seller: Seller, *, case_id: str, invoice_id: str, reference: str, amount: Decimal,
    at: datetime,
) -> EInvoiceOutboxRow | None:  # fmt: skip
    """A "212 Encaissée" for a payment applied to an invoice that came as an e-invoice (negative: a payment that
    came back), queued in the caller's transaction, once per case and payment; None when the invoice did not
    come through the platforms or its buyer has no SIREN (no CDAR is owed)."""
    einvoice = session.get(EInvoiceRow, invoice_id)
    if einvoice is None or einvoice.kind != "invoice" or einvoice.siren is None:
        return None
    key = f"212:{case_id}:{reference}"
    if session.scalar(select(EInvoiceOutboxRow.id).where(EInvoiceOutboxRow.key == key)) is not None:
        return None
    shares: dict[Decimal, Decimal] = {}
    for line in einvoice.vat:
        rate = Decimal(line["rate"])
        shares[rate] = shares.get(rate, Decimal(0)) + Decimal(line["base"]) + Decimal(line["tax"])
    parts = split_by_vat(amount, sorted(shares.items(), reverse=True))
    message_id = "RELANCE-212-" + hashlib.sha256(key.encode()).hexdigest()[:20].upper()
    xml = cdar_212(
        message_id=message_id, seller=Party(seller.siren, seller.name, seller.electronic_address),
        buyer=Party(einvoice.siren, einvoice.buyer_name, einvoice.electronic_address), invoice=invoice_id,
        invoice_date=einvoice.issue_date, type_code=einvoice.type_code, currency=einvoice.currency, parts=parts,
        at=at,
    )  # fmt: skip
    problems = check_cdar(xml)
    row = EInvoiceOutboxRow(
        key=key, invoice_id=invoice_id, code="212", amount=amount, currency=einvoice.currency, xml=xml.decode(),
        state="failed" if problems else "pending", attempts=0, answer="; ".join(problems) or None,
    )  # fmt: skip
    session.add(row)
    return row


def due_for_sending(engine: Engine, now: datetime, limit: int = 100) -> list[int]:
    """The queued CDAR whose turn has come (pending, not waiting for a retry), oldest first."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(EInvoiceOutboxRow.id)
                .where(EInvoiceOutboxRow.state == "pending")
                .where((EInvoiceOutboxRow.next_try_at.is_(None)) | (EInvoiceOutboxRow.next_try_at <= now))
                .order_by(EInvoiceOutboxRow.id)
                .limit(limit)
            )
        )


@dataclass(frozen=True)
class Outgoing:
    id: int
    key: str
    invoice_id: str
    xml: bytes
    path: str | None
    attempts: int


def outgoing(engine: Engine, row_id: int) -> Outgoing | None:
    with Session(engine) as session:
        row = session.get(EInvoiceOutboxRow, row_id)
        if row is None or row.state != "pending":
            return None
        return Outgoing(row.id, row.key, row.invoice_id, row.xml.encode(), row.path, row.attempts)


def written(engine: Engine, row_id: int, path: str) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(EInvoiceOutboxRow, row_id)
        if row is not None:
            row.path = path


def settle(engine: Engine, row_id: int, *, sent: bool, answer: str, retry_in: timedelta | None) -> None:
    """What became of one attempt: sent (with the platform's answer), to retry later, or failed for good."""
    with Session(engine) as session, session.begin():
        row = session.get(EInvoiceOutboxRow, row_id, with_for_update=True)
        if row is None or row.state != "pending":
            return
        row.attempts += 1
        row.answer = answer[:2000]
        if sent:
            row.state, row.sent_at, row.next_try_at = "sent", datetime.now(UTC), None
        elif retry_in is None:
            row.state, row.next_try_at = "failed", None
        else:
            row.next_try_at = datetime.now(UTC) + retry_in


def outbox_rows(engine: Engine, invoice_id: str | None = None) -> list[EInvoiceOutboxRow]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(EInvoiceOutboxRow).order_by(EInvoiceOutboxRow.id)
        if invoice_id is not None:
            query = query.where(EInvoiceOutboxRow.invoice_id == invoice_id)
        return list(session.scalars(query))
