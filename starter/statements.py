"""The statement of account (décompte de créance) of a running case at a date: the case's own figures, read
by query, priced with the rates table. One function for `relance statement` and the HTTP API."""

from datetime import date
from pathlib import Path

from temporalio.client import Client

from relance.domain.case_legal import claim_of, paid_of
from relance.domain.case_view import CaseStatus
from relance.domain.deliveries import reminders_sent
from relance.domain.penalties import Statement, statement
from relance.rates.table_file import load_rates
from starter.ops import status as case_status


async def statement_at(client: Client, invoice_id: str, day: date, rates_file: Path) -> tuple[CaseStatus, Statement]:
    """Raises UnknownCase, MissingRate (no rate known for a period) or ValueError (a date before the invoice)."""
    status = await case_status(client, invoice_id)
    claim = claim_of(
        invoice_id=status.invoice_id,
        currency=status.currency,
        amount=status.amount,
        credited=status.credited,
        due_date=status.due_date,
        debtor_kind=status.customer_kind,
        penalty_rate=status.penalty_rate,
        imputation=status.imputation,
        formal_notice=status.formal_notice,
    )
    result = statement(claim, paid_of(status.payments), day, load_rates(rates_file))
    result.reminders = reminders_sent([s for s in status.steps if s.at.date() <= day], status.deliveries)
    return status, result
