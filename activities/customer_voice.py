"""The customer account's side effects: reaching it from a case, one message for many invoices, fresh balances.

A grouped message is decided right before it leaves: each invoice is asked again (a payment that arrived
a second ago leaves it out), then one e-mail or one call task covers those still due, at most once per
batch (the batch key is made of its items' keys).
"""

import asyncio
import re
from datetime import date
from decimal import Decimal

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.case_guard import still_wanted_balance
from activities.debtor_contact import DebtorContact
from relance.domain.account import (
    READ_CASES,
    READ_OPEN_CASES,
    REPORT_TO_CUSTOMER,
    SEND_CUSTOMER_MESSAGES,
    SET_CUSTOMER_HOLD,
    TELL_CASES,
    CaseOpened,
    CaseUnreachable,
    CaseView,
    CustomerBatch,
    CustomerReport,
    HoldChange,
    OutcomeToTell,
    account_id,
    contacted_today,
    tone_of,
)
from relance.domain.activity_contract import StepRequest, StepResult
from relance.domain.case_view import CaseStatus
from relance.ledger.customer_days import claim_day, open_cases_of_customer, set_customer_hold
from relance.ledger.work_queue import append_to_task, create_task
from relance.rendering.messages import render_grouped


def natural_order(number: str) -> list[str | int]:
    """An invoice number's sort key with its digit runs as numbers: G-2 before G-10, as a reader counts. The
    split alternates text and digits, so two keys always compare text with text and number with number."""
    return [int(part) if n % 2 else part for n, part in enumerate(re.split(r"(\d+)", number))]


async def start_account(
    client: Client, customer_id: str, task_queue: str, report: CustomerReport | None = None
) -> None:
    """The customer's account, started when first needed (a case's message, an operator's action), with the
    report that needs it as its start signal; an account already running just takes the signal."""
    await client.start_workflow(
        "CustomerAccount",
        args=[customer_id, None],
        id=account_id(customer_id),
        task_queue=task_queue,
        start_signal=report.signal if report else None,
        start_signal_args=[report.payload] if report else [],
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Customer {customer_id}",
    )


class CustomerVoice:
    def __init__(self, client: Client, contact: DebtorContact, task_queue: str):
        self.client = client
        self.contact = contact
        self.task_queue = task_queue

    @activity.defn(name=REPORT_TO_CUSTOMER)
    async def report_to_customer(self, report: CustomerReport) -> None:
        """Signal the customer's account, starting it on the first report (signal-with-start)."""
        await start_account(self.client, report.customer_id, self.task_queue, report)

    @activity.defn(name=SET_CUSTOMER_HOLD)
    async def set_customer_hold(self, change: HoldChange) -> list[CaseOpened]:
        """The account's hold recorded in the ledger (or removed), then the open cases it must tell."""
        return await asyncio.to_thread(set_customer_hold, self.contact.engine, change.customer_id, change.hold)

    @activity.defn(name=READ_OPEN_CASES)
    async def read_open_cases(self, customer_id: str) -> list[CaseView]:
        """The customer's open cases as the ledger lists them, each asked its balance right now."""
        cases = await asyncio.to_thread(open_cases_of_customer, self.contact.engine, customer_id)
        return await self.read_cases([c.case_id for c in cases])

    @activity.defn(name=READ_CASES)
    async def read_cases(self, case_ids: list[str]) -> list[CaseView]:
        async def one(case_id: str) -> CaseView:
            status = await self.client.get_workflow_handle(case_id).query("status", result_type=CaseStatus)
            return CaseView(
                case_id=case_id,
                invoice_id=status.invoice_id,
                due_date=status.due_date,
                balance=status.chased,
                stage=status.stage,
                closed=status.state == "closed",
            )

        return list(await asyncio.gather(*(one(c) for c in case_ids)))

    @activity.defn(name=TELL_CASES)
    async def tell_cases(self, tells: list[OutcomeToTell]) -> list[CaseUnreachable]:
        """Each case the outcome of its step (signal `message_outcome`), all at once; a case that has closed is
        named, not retried. A case takes the same outcome twice as once (an attempt that ran again)."""

        async def tell(item: OutcomeToTell) -> CaseUnreachable | None:
            try:
                await self.client.get_workflow_handle(item.case_id).signal("message_outcome", item.outcome)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                return CaseUnreachable(case_id=item.case_id, detail=err.message)
            return None

        return [found for found in await asyncio.gather(*(tell(t) for t in tells)) if found is not None]

    @activity.defn(name=SEND_CUSTOMER_MESSAGES)
    async def send_customer_messages(self, batch: CustomerBatch) -> list[StepResult]:
        """One result per item, in order: sent (alone or grouped), or why it was left out."""
        results: list[StepResult | None] = []
        live: dict[str, list[tuple[int, StepRequest, Decimal]]] = {"email": [], "phone": []}
        checks = await asyncio.gather(*(still_wanted_balance(self.client, item.request) for item in batch.items))
        for n, (item, (stop, balance)) in enumerate(zip(batch.items, checks, strict=True)):
            results.append(stop)
            if stop is None:
                live[item.channel].append((n, item.request, balance))
        for channel, due in live.items():
            if not due:
                continue
            if channel == "email":
                due = await self._claim_day(batch, due, results)
                if not due:
                    continue
            if len(due) == 1:
                n, request, balance = due[0]
                message = self.contact.render(channel, request, balance)  # channels are template folders
                send_alone = self.contact.deliver_email if channel == "email" else self.contact.record_phone_task
                results[n] = await send_alone(request, message, balance)
                continue
            # oldest due first, then by number: the debtor and each case's history read the same order on every
            # run (a batch's items come in the order its cases signalled, which varies)
            due.sort(key=lambda d: (d[1].due_date, natural_order(d[1].invoice_id)))
            for n, result in zip([d[0] for d in due], await self._send_grouped(batch, channel, due), strict=True):
                results[n] = result
        return [r or StepResult(status="deferred", detail="not decided") for r in results]

    async def _claim_day(
        self, batch: CustomerBatch, due: list[tuple[int, StepRequest, Decimal]], results: list[StepResult | None]
    ) -> list[tuple[int, StepRequest, Decimal]]:
        """The e-mails that may leave: the customer's day claimed for this message (a lone case of the customer
        may have written today); cases that wait a day are told so, older ones send as they always did."""
        first = due[0][1]
        key = batch.key if len(due) > 1 else first.idempotency_key
        holder = await asyncio.to_thread(claim_day, self.contact.engine, batch.customer_id, first.as_of, key)
        if holder is None:
            return due
        kept = []
        for n, request, balance in due:
            if batch.items[n].waits_a_day:
                results[n] = contacted_today(batch.customer_id, request.as_of)
            else:
                kept.append((n, request, balance))
        return kept

    async def _send_grouped(
        self, batch: CustomerBatch, channel: str, due: list[tuple[int, StepRequest, Decimal]]
    ) -> list[StepResult]:
        items = [(request, balance) for _, request, balance in due]
        tone = max(tone_of(request.template) for request, _ in items)
        latest = max((request for request, _ in items), key=lambda r: r.due_date)  # freshest contact details
        settings = self.contact.settings
        message = render_grouped("grouped_email" if channel == "email" else "grouped_call", items, tone, settings)
        invoices = ", ".join(request.invoice_id for request, _ in items)
        if channel == "email":
            head = latest.model_copy(update={"step_id": f"batch-{batch.number}", "template": "grouped_email"})
            covers = tuple(request.idempotency_key for request, _ in items)
            total = sum((b for _, b in items), Decimal(0))
            sent = await self.contact.deliver_email(head, message, total, batch.key, covers)
            detail = f"grouped e-mail for {len(items)} invoices ({invoices}): {sent.detail}"
            return [sent.model_copy(update={"detail": detail, "balance": balance}) for _, balance in items]
        # one call task per customer per day: a second batch the same day adds its invoices to it
        day_key = f"customer-{batch.customer_id}:calls-{date.isoformat(latest.as_of)}"
        head = latest.model_copy(update={"idempotency_key": day_key, "step_id": f"calls-{latest.as_of}"})
        script = f"{message.subject}\n\n{message.body}"
        task_id, created = await asyncio.to_thread(create_task, self.contact.engine, head, "phone", script)
        if not created:
            await asyncio.to_thread(append_to_task, self.contact.engine, task_id, batch.key, message.body)
        detail = f"grouped call task #{task_id} for {len(items)} invoices ({invoices})"
        return [
            StepResult(status="sent", channel="phone", provider_id=str(task_id), balance=balance, detail=detail)
            for _, balance in items
        ]
