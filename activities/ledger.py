"""Writing a case's state and history to the SQL ledger, idempotently (a retry never writes twice)."""

import asyncio
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from temporalio import activity

from relance.domain.activity_contract import RECORD_CASE, RECORD_REFUSED_START, LedgerUpdate, RefusedStart
from relance.ledger.db import CaseEvent, CaseRow, Document, PaymentRow, RejectedInput, utcnow
from relance.ledger.einvoices import Seller, queue_encaissee

# Every column of a case's row, all written each time (an upsert that left one out would set its default).
CASE_COLUMNS = (
    "case_id", "invoice_id", "customer_id", "customer_name", "customer_kind", "segment", "currency", "amount",
    "balance", "conceded", "lateness_cause", "issue_date", "due_date", "policy", "stage", "outcome", "opened_at",
    "closed_at", "updated_at",
)  # fmt: skip


class LedgerWriter:
    def __init__(self, engine: Engine, seller: Seller | None = None):
        self.engine = engine
        self.seller = seller  # set: a payment on an e-invoice queues its "212 Encaissée" with the payment's row
        # Built once: building them per write cost as much CPU as the ORM they replace.
        insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
        upsert = insert(CaseRow)
        changed = {key: upsert.excluded[key] for key in CASE_COLUMNS if key != "case_id"}
        self._upsert_case = upsert.on_conflict_do_update(index_elements=["case_id"], set_=changed)
        self._add_entries = (
            insert(CaseEvent).on_conflict_do_nothing(index_elements=["case_id", "seq"]).returning(CaseEvent.seq)
        )

    @activity.defn(name=RECORD_CASE)
    async def record_case(self, update: LedgerUpdate) -> int:
        """Returns how many new history entries were written."""
        return await asyncio.to_thread(self.write, update)

    @activity.defn(name=RECORD_REFUSED_START)
    async def record_refused_start(self, refused: RefusedStart) -> None:
        """A workflow start the case refused joins the other refused inputs (import rows, ops actions)."""
        row = RejectedInput(
            source="workflow_start",
            invoice_id=refused.invoice_id,
            action=f"start {refused.workflow_id}"[:60],
            payload={"excerpt": refused.payload},
            reason=refused.reason,
            by="temporal",
        )
        await asyncio.to_thread(self._add, row)

    def _add(self, row: RejectedInput) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(row)

    def write(self, update: LedgerUpdate) -> int:
        """The case's row upserted and the history entries it lacks inserted, by key (case, seq): in statements,
        not ORM objects, since this runs twice per case step (a third of the ledger's cost was the ORM's)."""
        case = update.case
        row = case_row(update)
        with Session(self.engine) as session, session.begin():
            connection = session.connection()
            connection.execute(self._upsert_case, row)
            entries = [
                {
                    "case_id": update.case_id,
                    "seq": item.seq,
                    "at": item.entry.at,
                    "event": item.entry.event,
                    "detail": item.entry.detail,
                    "by": item.entry.by,
                    "data": item.entry.data,
                }
                for item in update.events
            ]
            # a retried write finds its entries there: only the new ones are inserted, and returned
            added = set(connection.scalars(self._add_entries, entries)) if entries else set()
            new = [e for e in update.events if e.seq in added]
            documents = [item for item in new if item.entry.event == "document"]
            known_paths = _stored(session, Document.path, Document.case_id, update.case_id) if documents else set()
            for item in documents:
                data = item.entry.data
                if data.get("path") not in known_paths:
                    session.add(
                        Document(
                            case_id=update.case_id,
                            step_id=data["step_id"],
                            kind=data["kind"],
                            path=data["path"],
                            created_at=item.entry.at,
                        )
                    )
            known_refs = (
                _stored(session, PaymentRow.reference, PaymentRow.case_id, update.case_id) if update.payments else set()
            )
            for payment in update.payments:
                if payment.reference in known_refs:
                    continue
                session.add(
                    PaymentRow(
                        case_id=update.case_id,
                        reference=payment.reference,
                        amount=payment.amount,
                        currency=case.currency,
                        paid_on=payment.paid_on,
                        recorded_at=payment.recorded_at,
                        stage=payment.stage,
                        channel=payment.channel,
                    )
                )
                if self.seller is not None:
                    queue_encaissee(
                        session, self.seller, case_id=update.case_id, invoice_id=case.invoice_id,
                        reference=payment.reference, amount=payment.amount, at=payment.recorded_at,
                    )  # fmt: skip
            return len(new)


def _stored(session: Session, key: Any, case_column: Any, case_id: str) -> set[Any]:
    """The natural keys already in the ledger for a case: what a retried write must skip."""
    return set(session.scalars(select(key).where(case_column == case_id)).all())


def case_row(update: LedgerUpdate) -> dict[str, Any]:
    """The case's row, every column of CASE_COLUMNS."""
    case = update.case
    return {
        "case_id": update.case_id,
        "invoice_id": case.invoice_id,
        "customer_id": case.customer.id,
        "customer_name": case.customer.name,
        "customer_kind": case.customer.kind.value,
        "segment": case.customer.segment,
        "currency": case.currency,
        "amount": case.amount,
        "balance": update.balance,
        "conceded": update.conceded,
        "lateness_cause": update.lateness_cause,
        "issue_date": case.issue_date,
        "due_date": case.due_date,
        "policy": update.policy,
        "stage": update.stage,
        "outcome": update.outcome,
        "opened_at": update.opened_at,
        "closed_at": update.closed_at,
        "updated_at": utcnow(),
    }
