"""French e-invoicing as our clients use it: e-invoices in (a case each, or a credit note on the invoice it
corrects), the platforms' lifecycle statuses in (each once, on its invoice's case, or kept for a person), and
the CDAR we owe them out (written to the outbox folder, posted to the platform's API with retries).

One implementation for `relance import`, `relance einvoicing import|send`, `POST /cases` and
`POST /einvoicing/statuses`."""

import asyncio
import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from activities.delivery import file_stem, write_whole
from relance.domain.actions import CreditNoteApplied, EInvoiceStatus
from relance.domain.einvoicing import label
from relance.domain.errors import explain
from relance.domain.limits import bounded, printable
from relance.domain.policy import NoPolicy, Policy, select_policy
from relance.einvoicing.cdar import CdarRefused, PlatformStatus, read_cdar
from relance.einvoicing.invoices import EInvoice, EInvoiceRefused, read_einvoice
from relance.einvoicing.platform import post_cdar
from relance.ledger.einvoices import (
    due_for_sending,
    keep_einvoice,
    known_einvoice,
    outgoing,
    record_status,
    settle,
    status_seen,
    written,
)
from relance.ledger.work_queue import create_review_task
from relance.settings import Settings
from starter.importer import RowProblem, case_from_fields, start_or_find
from starter.ops import ActionRejected, AlreadyRecorded, UnknownCase, act_or_keep_refusal

EINVOICE_SUFFIXES = (".pdf", ".xml")


@dataclass(frozen=True)
class Outcome:
    """What became of one file, or one status: said to the person who imported it, and kept."""

    source: str
    invoice: str | None
    outcome: str  # started | existing | credited | applied | already | kept | refused
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def files_in(path: Path) -> list[Path]:
    """The file, or a folder's e-invoice files (PDF, XML) in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in EINVOICE_SUFFIXES)
    return [path]


async def import_einvoices(
    client: Client, engine: Engine, settings: Settings, sources: list[tuple[str, bytes]],
    policies: dict[str, Policy], by: str,
) -> list[Outcome]:  # fmt: skip
    """Each e-invoice as a case (the same invoice again is the case it opened), each credit note on the invoice
    it corrects; a file that cannot be read is refused whole, with the element named."""
    return [await _one_einvoice(client, engine, settings, name, data, policies, by) for name, data in sources]


async def _one_einvoice(
    client: Client, engine: Engine, settings: Settings, name: str, data: bytes, policies: dict[str, Policy], by: str
) -> Outcome:
    try:
        invoice, pdf = read_einvoice(data)
    except EInvoiceRefused as err:
        return Outcome(name, None, "refused", str(err))
    checks = "; ".join(invoice.buyer.checks)
    if invoice.credit_note:
        return await _credit_note(client, engine, name, invoice, data, by)
    try:
        case = case_from_fields(invoice.case_fields())
        select_policy(policies, case)
    except (EInvoiceRefused, RowProblem, NoPolicy) as err:
        return Outcome(name, invoice.number, "refused", str(err))
    sha = hashlib.sha256(data).hexdigest()
    document = await asyncio.to_thread(_keep_pdf, settings.documents_dir, invoice.number, pdf) if pdf else None
    await asyncio.to_thread(keep_einvoice, engine, invoice, document, sha)
    try:
        started = await start_or_find(client, case, settings.task_queue, by=by)
    except RPCError as err:
        return Outcome(name, invoice.number, "refused", f"not started: {bounded(err.message)}")
    said = f"{invoice.format}, {invoice.amount_due} {invoice.currency} due {invoice.due_date}, {case.customer.id}"
    return Outcome(
        name, invoice.number, "started" if started else "existing", said + (f" ({checks})" if checks else "")
    )


def _keep_pdf(store: Path, number: str, pdf: bytes) -> str:
    """The invoice's PDF in the documents store, named by its number (the same invoice again: the same file)."""
    target = store / "einvoices" / f"{file_stem(number)[:100]}.pdf"
    if not target.exists():
        write_whole(target, pdf)
    return str(target)  # as every document's row names its file: under the documents store


async def _credit_note(client: Client, engine: Engine, name: str, note: EInvoice, data: bytes, by: str) -> Outcome:
    """A credit note reduces the invoice it names (BG-3); one naming none, or an invoice we do not chase, is
    kept for a person."""
    if not note.preceding:
        why = f"credit note {note.number} names no invoice it corrects (BG-3, BT-25)"
        return Outcome(name, note.number, "refused", why)
    target, amount = note.preceding[0], abs(note.amount_due if note.amount_due else note.total)
    await asyncio.to_thread(keep_einvoice, engine, note, None, hashlib.sha256(data).hexdigest())
    action = CreditNoteApplied(credit_note=note.number, amount=amount, issued_on=note.issue_date, by=by)
    try:
        await act_or_keep_refusal(client, engine, target, action)
    except AlreadyRecorded:
        return Outcome(name, note.number, "existing", f"credit note already applied to {target}")
    except ActionRejected as err:
        await _task(engine, target, note.buyer.customer_id, f"credit note {note.number} not applied: {err}")
        return Outcome(name, note.number, "kept", f"{target} refused it: {err}; a task for a person")
    except UnknownCase:
        await _task(engine, target, note.buyer.customer_id, f"credit note {note.number} for {target}, not a case")
        return Outcome(name, note.number, "kept", f"no case for {target}; a task for a person")
    return Outcome(name, note.number, "credited", f"{amount} {note.currency} credited to {target}")


async def _task(engine: Engine, invoice: str, customer: str, script: str, due: date | None = None) -> None:
    key = "einvoicing-" + hashlib.sha256(f"{invoice}|{script}".encode()).hexdigest()[:24]
    await asyncio.to_thread(
        create_review_task, engine, key, script, invoice_id=invoice, customer_id=customer,
        due_on=due or date.today(), kind="einvoicing", step_id="einvoicing",
    )  # fmt: skip


# What a person is asked to do when a status arrives (the case itself does the rest).
TASKS = {
    "206": "the buyer approved {amount} only: settle the contested rest (a credit note, or the proof it is owed)",
    "208": "the platform suspended the invoice: supply what is missing ({said}), then the buyer completes it (209)",
    "210": "the buyer refused the invoice ({said}): issue the credit note, or the corrected invoice",
    "211": "the buyer's platform says the payment was sent: check the bank by {until}",
    "213": "the platform rejected the invoice as non-compliant ({said}): it was never legally issued; issue it again",
}


def read_statuses(sources: list[tuple[str, bytes]]) -> tuple[list[tuple[str, PlatformStatus]], list[Outcome]]:
    """Every status of every message; a message that is not a CDAR is refused whole."""
    found: list[tuple[str, PlatformStatus]] = []
    refused: list[Outcome] = []
    for name, data in sources:
        try:
            found.extend((name, status) for status in read_cdar(data))
        except CdarRefused as err:
            refused.append(Outcome(name, None, "refused", str(err)))
    return found, refused


async def apply_statuses(
    client: Client, engine: Engine, statuses: list[tuple[str, PlatformStatus]], by: str
) -> list[Outcome]:
    """Each status once on its invoice's case; an unknown code, or a status for an invoice we do not chase, is
    kept for a person (a task), never raised."""
    return [await _one_status(client, engine, source, status, by) for source, status in statuses]


async def _one_status(client: Client, engine: Engine, source: str, status: PlatformStatus, by: str) -> Outcome:
    if await asyncio.to_thread(status_seen, engine, status.status_id):
        return Outcome(source, status.invoice, "already", f"status {status.status_id} was recorded before")
    said = "; ".join(p for p in (status.reason_code, status.note) if p) or "no reason given"
    einvoice = await asyncio.to_thread(known_einvoice, engine, status.invoice)
    customer = einvoice.customer_id if einvoice else ""
    outcome, detail = "applied", f"{label(status.code)} ({said})"
    action: EInvoiceStatus | None = None
    if not status.known:
        outcome, detail = "kept", f"status code {status.code!r} is not one of 200-213: for a person"
        await _task(engine, status.invoice, customer, f"e-invoicing platform: {detail} ({said})")
    else:
        try:
            action = EInvoiceStatus.model_validate(
                {
                    "status_id": status.status_id[:200], "code": status.code, "at": status.sent_at,
                    "reason_code": printable(status.reason_code, 200) if status.reason_code else None,
                    "note": status.note[:5000] if status.note else None,
                    "amount": status.amount if status.code == "206" else None, "by": by,
                }
            )  # fmt: skip
        except ValidationError as err:  # a field the platform filled beyond what a case takes: for a person
            outcome, detail = "kept", f"{label(status.code)} not applied: {explain(err)}"
            await _task(engine, status.invoice, customer, f"e-invoicing platform: {detail}")
    if action is not None:
        try:
            case = await act_or_keep_refusal(client, engine, status.invoice, action)
        except UnknownCase:
            outcome, detail = "kept", f"{label(status.code)} for {status.invoice}, which is no case here"
            await _task(engine, status.invoice, customer, f"e-invoicing platform: {detail} ({said})")
        except AlreadyRecorded:
            outcome, detail = "already", f"status {status.status_id} was recorded before"
        except ActionRejected as err:
            outcome, detail = "kept", f"{label(status.code)} refused by the case: {err}"
            await _task(engine, status.invoice, customer, f"e-invoicing platform: {detail} ({said})")
        else:
            todo = TASKS.get(status.code)
            if todo is not None:
                until = case.paused_until or date.today()
                text = todo.format(said=said, amount=status.amount, until=until)
                await _task(engine, status.invoice, customer, f"{label(status.code)}: {text}", until)
    await asyncio.to_thread(
        record_status, engine, status_id=status.status_id, invoice_id=status.invoice, code=status.code,
        reason_code=status.reason_code, note=status.note, amount=status.amount, at=status.sent_at, outcome=outcome,
        detail=detail,
    )  # fmt: skip
    return Outcome(source, status.invoice, outcome, detail)


MAX_ATTEMPTS = 8


async def send_outbox(engine: Engine, settings: Settings) -> int:
    """Write each queued CDAR to the outbox folder (once) and post it to the platform when one is set, with its
    key as the idempotency key; a refusal or an outage is retried later (backing off), up to MAX_ATTEMPTS.
    Returns how many were settled this round."""
    done = 0
    for row_id in await asyncio.to_thread(due_for_sending, engine, datetime.now(UTC)):
        item = await asyncio.to_thread(outgoing, engine, row_id)
        if item is None:
            continue
        if item.path is None:
            path = await asyncio.to_thread(_write, settings.einvoicing_outbox_dir, item.key, item.xml)
            await asyncio.to_thread(written, engine, row_id, path)
        url, token = settings.einvoicing_platform_url, settings.einvoicing_platform_token
        if not url:
            await asyncio.to_thread(
                settle, engine, row_id, sent=True, answer="written to the outbox folder", retry_in=None
            )
            done += 1
            continue
        answer = await post_cdar(url, token.get_secret_value() if token else None, item.key, item.xml)
        retry = None if answer.final or item.attempts + 1 >= MAX_ATTEMPTS else timedelta(minutes=2**item.attempts)
        await asyncio.to_thread(settle, engine, row_id, sent=answer.accepted, answer=answer.said, retry_in=retry)
        done += 1
    return done


def _write(folder: Path, key: str, xml: bytes) -> str:
    target = folder / (file_stem(key)[:180] + ".xml")
    write_whole(target, xml)
    return str(target)
